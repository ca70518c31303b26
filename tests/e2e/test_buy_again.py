"""Buy again end to end: an item of a `lifecycle: repeat` category (the pantry) that a shopper bought
comes back to them as `buy_again`, citing the purchase, on the channels where they are personalized;
an item of an ordinary or a `lifecycle: once` category never does; a refill in a sensitive category
they did not declare is never an explicit "buy again" on email or ads; a shared screen, a restriction
or forgetting the purchase event takes it away with its reason.

One server for the file, the policy letting purchases be followed up on email and ads
(cross_channel_after_purchase: true), so that what keeps the sensitive refill off them is the
sensitive rule and nothing else. A crowd teaches the model the items first.
"""

import time
import unittest

import harness
from harness import ServerTestCase

POLICY = """\
site: Corner Shop
languages: [en, es, pl]
purposes:
  personalization: {description: "Suggest products from what you buy"}
event_types:
  view:     {purposes: [personalization], retention_days: 400}
  purchase: {purposes: [personalization], retention_days: 400}
categories:
  pantry:        {lifecycle: repeat, label: "Pantry"}
  pharmacy:      {lifecycle: repeat, sensitive: true}
  kitchen:       {lifecycle: ordinary}
  wedding-dress: {lifecycle: once}
  bridal:        {}
guardrails:
  cross_channel_after_purchase: true
  frequency_cap: {max_impressions: 1000, window_hours: 1}
"""

ITEMS = {
    "oat-milk": ("Oat milk", ["pantry"]),
    "coffee-beans": ("Coffee beans", ["pantry"]),
    "rice": ("Basmati rice", ["pantry"]),
    "cold-remedy": ("Cold remedy", ["pharmacy"]),
    "kettle": ("Kettle", ["kitchen"]),
    "mug": ("Mug", ["kitchen"]),
    "dress-ivory": ("Ivory wedding dress", ["wedding-dress"]),
    "dress-lace": ("Lace wedding dress", ["wedding-dress"]),
    "veil": ("Veil", ["bridal"]),
}
CROWD = [
    (["oat-milk", "coffee-beans"], ["oat-milk", "coffee-beans", "rice"]),
    (["kettle", "mug"], ["kettle", "mug"]),
    (["cold-remedy"], ["cold-remedy", "oat-milk"]),
    (["dress-ivory", "dress-lace"], ["dress-ivory", "veil"]),
]

DAY = 86400.0


def ago(days):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * DAY))


class BuyAgain(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "shop": "ingest,consent,catalog", "site": "recommend", "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            harness.build_crowd(cls.server, cls.server.keys["shop"], ITEMS, CROWD, 6)
        except BaseException:
            cls.tearDownClass()
            raise

    def shopper(self, who, *purchases):
        """Grants personalization and stores purchases (item, days_ago, event_id)."""
        st, _, body = self.request("PUT", "/v1/subjects/%s/consents/personalization" % who,
                                   {"status": "granted", "source": "banner"}, key=self.key("shop"))
        self.assertEqual(st, 200, body)
        evs = [{"subject": who, "type": "purchase", "item": item, "ts": ago(days), "event_id": eid}
               for item, days, eid in purchases]
        st, _, body = self.request("POST", "/v1/events", {"events": evs}, key=self.key("shop"))
        self.assertEqual(st, 200, body)
        self.assertEqual(body["stored"], len(evs), body)

    def recommend(self, who, **req):
        body = {"subject": who, "count": 20}
        body.update(req)
        st, _, reply = self.request("POST", "/v1/recommendations", body, key=self.key("site"))
        self.assertEqual(st, 200, reply)
        return reply

    @staticmethod
    def item(reply, item):
        return next((it for it in reply["items"] if it["item"] == item), None)

    def assertBuyAgain(self, reply, item):
        it = self.item(reply, item)
        self.assertIsNotNone(it, reply)
        self.assertEqual(it["disclosure"], "explicit", it)
        self.assertEqual(it["reason"]["code"], "buy_again", it)
        self.assertEqual([(b["type"], b["item"]) for b in it["reason"]["based_on"]][:1], [("purchase", item)], it)
        return it

    def test_1_pantry_item_comes_back_as_buy_again_on_every_personal_channel(self):
        self.shopper("pia", ("oat-milk", 15, "pia-1"), ("oat-milk", 8, "pia-2"), ("oat-milk", 1, "pia-3"),
                     ("coffee-beans", 12, "pia-4"))
        for channel in ("web", "app", "email", "ads", "store"):
            reply = self.recommend("pia", channel=channel)
            self.assertTrue(reply["personalized"], reply)
            milk = self.assertBuyAgain(reply, "oat-milk")
            self.assertBuyAgain(reply, "coffee-beans")
            if channel == "web":
                self.assertEqual(milk["reason"]["text"], "Buy again: you bought Oat milk before")
        # In her language too.
        st, _, reply = self.request("POST", "/v1/recommendations", {"subject": "pia"}, key=self.key("site"),
                                    headers={"Accept-Language": "pl"})
        self.assertEqual(st, 200, reply)
        self.assertEqual(self.item(reply, "oat-milk")["reason"]["text"],
                         "Kup ponownie produkt kupiony już przez Ciebie: Oat milk")
        # why says the same, citing the purchase.
        st, _, why = self.request("GET", "/v1/subjects/pia/why?item=oat-milk", key=self.key("dsr"))
        self.assertEqual(st, 200, why)
        self.assertEqual(why["reason"]["code"], "buy_again", why)

    def test_2_ordinary_and_once_categories_keep_what_was_bought_away(self):
        self.shopper("olek", ("kettle", 10, "olek-1"), ("dress-ivory", 30, "olek-2"), ("rice", 5, "olek-3"))
        for channel in ("web", "email"):
            reply = self.recommend("olek", channel=channel)
            served = [it["item"] for it in reply["items"]]
            self.assertNotIn("kettle", served, reply)  # ordinary: never offered back
            self.assertNotIn("dress-ivory", served, reply)  # once: nor anything of its category
            self.assertNotIn("dress-lace", served, reply)
            self.assertBuyAgain(reply, "rice")  # the pantry item does come back: the test has teeth
            self.assertFalse(any(it["reason"]["code"] == "buy_again" and it["item"] != "rice"
                                 for it in reply["items"]), reply)

    def test_3_undeclared_sensitive_refill_is_never_explicit_buy_again(self):
        self.shopper("rita", ("cold-remedy", 6, "rita-1"), ("cold-remedy", 2, "rita-2"), ("coffee-beans", 3, "rita-3"))
        for channel in ("email", "ads"):
            reply = self.recommend("rita", channel=channel)
            self.assertIsNone(self.item(reply, "cold-remedy"), reply)
            self.assertNotIn("cold-remedy", {b.get("item") for it in reply["items"]
                                             for b in it["reason"]["based_on"]}, reply)
            self.assertBuyAgain(reply, "coffee-beans")  # buy again itself works on this channel
        reply = self.recommend("rita", channel="web")
        it = self.item(reply, "cold-remedy")
        if it is not None:  # on the brand's own page it may rank, but says nothing personal
            self.assertEqual(it["disclosure"], "implicit", it)
            self.assertEqual(it["reason"]["based_on"], [], it)
            self.assertNotEqual(it["reason"]["code"], "buy_again", it)

    def assertNothingPersonal(self, reply):
        """The shop's non-personal answer: oat milk may be in it as popular or trending, like for
        anyone, but nothing says (or ranks by) what this person bought."""
        self.assertFalse(reply["personalized"], reply)
        for it in reply["items"]:
            self.assertIn(it["reason"]["code"], ("popular", "trending", "similar_to_current", "editorial"), it)
            self.assertEqual(it["reason"]["based_on"], [], it)

    def test_4_shared_screen_and_restriction_show_nothing_personal(self):
        self.shopper("sam", ("oat-milk", 4, "sam-1"), ("oat-milk", 11, "sam-2"))
        self.assertBuyAgain(self.recommend("sam"), "oat-milk")
        for context in ({"device_shared": True}, {"authenticated": False}):
            self.assertNothingPersonal(self.recommend("sam", context=context))
        st, _, body = self.request("PUT", "/v1/subjects/sam/restriction", {"restricted": True}, key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        self.assertNothingPersonal(self.recommend("sam"))

    def test_5_forgetting_the_purchase_takes_buy_again_and_its_reason_away(self):
        self.shopper("fay", ("coffee-beans", 9, "fay-1"), ("rice", 3, "fay-2"))
        reply = self.recommend("fay")
        self.assertBuyAgain(reply, "coffee-beans")
        st, _, body = self.request("DELETE", "/v1/subjects/fay/events/fay-1", key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        reply = self.recommend("fay")
        it = self.item(reply, "coffee-beans")
        if it is not None:  # now an item she never bought, for another reason
            self.assertNotEqual(it["reason"]["code"], "buy_again", it)
        self.assertNotIn("coffee-beans", {b.get("item") for x in reply["items"] for b in x["reason"]["based_on"]},
                         reply)
        self.assertBuyAgain(reply, "rice")  # the other purchase still counts


if __name__ == "__main__":
    unittest.main()
