"""Categories the policy does not declare are ordinary ones (docs/config.md, `categories`), through the
whole engine: the catalog takes them, preferences name them, the guardrails treat them as neither
sensitive nor `lifecycle: once`, and a person who excludes one never sees anything of it again.

One server for the file, over the policy `mesura init` writes, which declares baby, health,
wedding-dress and camping only: lingerie, garden and kitchen below are undeclared. A crowd of
earlier shoppers teaches the model what goes together; `mesura train` builds it before the tests.
"""

import re
import time
import unittest

from harness import ServerTestCase, run_cli

ITEMS = {
    "bra-lace": ["lingerie"],
    "robe-silk": ["lingerie"],
    "slip-satin": ["lingerie"],
    "hose": ["garden"],
    "rake": ["garden"],
    "shovel": ["garden"],
    "kettle": ["kitchen"],
    "pan": ["kitchen"],
}
LINGERIE = {i for i, c in ITEMS.items() if "lingerie" in c}
GARDEN = {i for i, c in ITEMS.items() if "garden" in c}
# (viewed together, bought together), each by CROWD_SIZE shoppers within the last ten days.
CROWD = [
    (["bra-lace", "robe-silk", "slip-satin"], ["bra-lace", "robe-silk"]),
    (["hose", "rake", "shovel"], ["hose", "rake"]),
    (["kettle", "pan"], ["kettle", "pan"]),
]
CROWD_SIZE = 12
PERSONAL = {"because_you_viewed", "bought_together", "you_told_us"}
HOUR_MS = 3600 * 1000


def now_ms():
    return int(time.time() * 1000)


class UndeclaredCategories(ServerTestCase):
    keys = {"admin": "admin", "shop": "ingest,consent,catalog", "rec": "recommend", "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.build_world()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def build_world(cls):
        req, shop = cls.server.request, cls.server.keys["shop"]
        items = [{"id": i, "title": i.replace("-", " ").title(), "categories": c} for i, c in ITEMS.items()]
        status, _, body = req("POST", "/v1/items", {"items": items}, key=shop)
        assert status == 200 and body == {"upserted": len(items), "errors": []}, body
        events, n, start = [], 0, now_ms() - 10 * 24 * HOUR_MS
        for viewed, bought in CROWD:
            for _ in range(CROWD_SIZE):
                n += 1
                who = "crowd-%03d" % n
                cls.grant(who)
                t = start + n * HOUR_MS
                events += [{"subject": who, "type": "view", "item": it, "ts": t + k * 60000}
                           for k, it in enumerate(viewed)]
                events += [{"subject": who, "type": "purchase", "item": it, "ts": t + (10 + k) * 60000}
                           for k, it in enumerate(bought)]
        status, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert status == 200 and not body["errors"] and body["stored"] == len(events), body
        run_cli("train", "--data", cls.server.data)
        # The server picks the new model up within a second and says so.
        cls.server.wait_for_log(lambda lines: any(re.search(r"\bmodel \d+ is live\b", l) for l in lines))

    @classmethod
    def grant(cls, subject):
        status, _, body = cls.server.request("PUT", "/v1/subjects/%s/consents/personalization" % subject,
                                             {"status": "granted"}, key=cls.server.keys["shop"])
        assert status == 200, body

    def send(self, *events):
        status, _, body = self.request("POST", "/v1/events", {"events": list(events)}, key=self.key("shop"))
        self.assertEqual((status, body["stored"]), (200, len(events)), body)

    def recommend(self, subject, **extra):
        body = dict(subject=subject, count=20, **extra)
        status, _, reply = self.request("POST", "/v1/recommendations", body, key=self.key("rec"))
        self.assertEqual(status, 200, reply)
        return reply

    def shown(self, reply):
        return {it["item"] for it in reply["items"]}

    # ------------------------------------------------------------ the catalog

    def test_an_undeclared_category_filters_recommendations(self):
        reply = self.recommend("una", categories=["lingerie"])
        self.assertTrue(self.shown(reply), reply)
        self.assertLessEqual(self.shown(reply), LINGERIE, reply)
        reply = self.recommend("una", categories=["nobody-sells-this"])
        self.assertEqual(reply["items"], [], reply)

    def test_items_keep_their_undeclared_categories(self):
        status, _, item = self.request("GET", "/v1/items/robe-silk", key=self.key("shop"))
        self.assertEqual(status, 200, item)
        self.assertEqual((item["categories"], item["sensitive"]), (["lingerie"], False))

    # ------------------------------------------------------------ guardrails

    def test_an_undeclared_category_is_not_sensitive(self):
        self.grant("una")
        self.send({"subject": "una", "type": "view", "item": "bra-lace", "ts": now_ms() - HOUR_MS})
        for channel in ("web", "email"):  # an inferred sensitive interest never reaches email
            reply = self.recommend("una", channel=channel)
            self.assertTrue(reply["personalized"], reply)
            lingerie = [it for it in reply["items"] if it["item"] in LINGERIE - {"bra-lace"}]
            self.assertTrue(lingerie, (channel, reply))
            for it in lingerie:  # explained with her own history, in her face
                self.assertEqual(it["disclosure"], "explicit", it)
                self.assertIn(it["reason"]["code"], PERSONAL, it)
                self.assertIn("bra-lace", [b.get("item") for b in it["reason"]["based_on"]], it)
        # A shared screen hides sensitive categories altogether; this one is not.
        shared = self.recommend("una", context={"device_shared": True})
        self.assertTrue(self.shown(shared) & LINGERIE, shared)
        # Her export shows the interest inferred from the view, as the ordinary category it is.
        status, _, doc = self.request("GET", "/v1/subjects/una/export", key=self.key("dsr"))
        self.assertEqual(status, 200, doc)
        rows = {r["category"]: r for r in doc["interests"]["categories"]}
        self.assertIn("lingerie", rows, doc["interests"])
        self.assertEqual((rows["lingerie"]["label"], rows["lingerie"]["sensitive"], rows["lingerie"]["count"]),
                         ("lingerie", False, 1))

    def test_an_undeclared_category_is_neither_once_nor_repeat(self):
        self.grant("gus")
        self.send({"subject": "gus", "type": "purchase", "item": "hose", "ts": now_ms() - 24 * HOUR_MS})
        reply = self.recommend("gus")
        self.assertTrue(reply["personalized"], reply)
        shown = self.shown(reply)
        # Not `repeat`: the bought item does not come back (no buy_again) ...
        self.assertNotIn("hose", shown, reply)
        self.assertNotIn("buy_again", {it["reason"]["code"] for it in reply["items"]}, reply)
        # ... and not `once`: the rest of the category is still offered after the purchase.
        self.assertTrue(shown & (GARDEN - {"hose"}), reply)

    # ------------------------------------------------------------ the person's own word

    def test_an_excluded_undeclared_category_is_never_recommended(self):
        self.grant("exa")
        self.send({"subject": "exa", "type": "view", "item": "bra-lace", "ts": now_ms() - HOUR_MS})
        self.assertTrue(self.shown(self.recommend("exa")) & LINGERIE)  # what the exclusion must remove
        # Contract §5's own example: "lingerie" is not declared in the policy.
        prefs = {"interests": ["camping"], "exclude_categories": ["lingerie"], "declared": {"expecting_baby": True}}
        status, _, body = self.request("PUT", "/v1/subjects/exa/preferences", prefs, key=self.key("shop"))
        self.assertEqual((status, body), (200, prefs))
        first = self.recommend("exa")
        self.assertTrue(first["items"], first)  # the page still fills, with other things
        self.assertFalse(self.shown(first) & LINGERIE, first)
        # Shared and signed-out devices (non-personal answers), the item on screen, other channels; the
        # frequency cap may empty the later personal answers, which proves nothing either way.
        asks = [{"context": {"device_shared": True}}, {"context": {"authenticated": False}},
                {"context": {"item": "robe-silk"}}, {"channel": "email"}, {"channel": "app"}]
        for extra in asks:
            with self.subTest(**extra):
                reply = self.recommend("exa", **extra)
                self.assertFalse(self.shown(reply) & LINGERIE, reply)
        status, _, why = self.request("GET", "/v1/subjects/exa/why?item=robe-silk", key=self.key("dsr"))
        self.assertEqual(status, 200, why)
        self.assertFalse(why["recommended"], why)
        self.assertEqual(why["suppressed"]["rule"], "own_word", why)


if __name__ == "__main__":
    unittest.main()
