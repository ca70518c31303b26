"""Recommendations (contract §6): consent decides personalization, reasons are faithful to the subject's own
data (checked against their export), complements come before substitutes after a purchase, the non-personal
path, localized texts, decision records by scope, filters, "why", and bad input.

One server for the file. The model is trained by `mesura train` on the server's data directory while it
runs; the server picks it up by itself.
"""

import re
import time
import unittest

from harness import ServerTestCase, run_cli

POLICY = """\
site: Rec Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
  ads_retargeting: {description: {en: "Our ads elsewhere"}, gpc: honored, channels: [ads]}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  click: {purposes: [personalization], retention_days: 180}
  add_to_cart: {purposes: [personalization], retention_days: 90}
  purchase: {purposes: [personalization], retention_days: 730}
  dismiss: {purposes: [personalization], retention_days: 365}
categories:
  camping: {label: {en: "Camping", es: "Acampada", pl: "Biwakowanie"}}
  kitchen: {label: {en: "Kitchen"}}
  baby: {sensitive: true, label: {en: "Baby"}}
guardrails:
  frequency_cap: {max_impressions: 1000, window_hours: 72}  # these tests ask for alice many times
"""

TENTS = ["tent-2p", "tent-3p", "tent-4p"]
COMPLEMENTS = ["sleeping-bag", "camp-stove", "lantern"]
ITEMS = [
    {"id": "tent-2p", "title": {"en": "Tent 2p", "es": "Tienda 2p", "pl": "Namiot 2p"}, "categories": ["camping"]},
    {"id": "tent-3p", "title": {"en": "Tent 3p", "es": "Tienda 3p", "pl": "Namiot 3p"}, "categories": ["camping"]},
    {"id": "tent-4p", "title": {"en": "Tent 4p", "es": "Tienda 4p", "pl": "Namiot 4p"}, "categories": ["camping"]},
    {"id": "sleeping-bag", "title": {"en": "Sleeping bag", "es": "Saco de dormir"}, "categories": ["camping"]},
    {"id": "camp-stove", "title": "Camp stove", "categories": ["camping", "kitchen"]},
    {"id": "lantern", "title": "Lantern", "categories": ["camping"]},
    {"id": "kettle", "title": "Kettle", "categories": ["kitchen"]},
    {"id": "pan", "title": "Pan", "categories": ["kitchen"]},
    {"id": "crib", "title": "Crib", "categories": ["baby"]},
    {"id": "old-lamp", "title": "Old lamp", "categories": ["camping"], "available": False},
]
NON_PERSONAL = {"popular", "trending", "similar_to_current", "editorial"}
RID = re.compile(r"^r_[0-9a-f]{32}$")
MIN = 60 * 1000


class RecommendationsTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "shop": "ingest,consent,catalog", "rec": "recommend", "audit": "audit",
            "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        req, shop = cls.server.request, cls.server.keys["shop"]
        status, _, body = req("POST", "/v1/items", {"items": ITEMS}, key=shop)
        assert status == 200 and body["upserted"] == len(ITEMS), body
        now = int(time.time() * 1000)
        start = now - 3 * 24 * 60 * MIN
        events = []
        # Shoppers who compare tents (views close in time: substitutes) and buy one with its kit
        # (purchases close in time: complements). Kitchen shoppers make kettle and pan popular apart.
        for i in range(40):
            s = "shopper-%d" % i
            cls.grant(s)
            t = start + i * 10 * MIN
            for k, tent in enumerate(TENTS):
                events.append({"subject": s, "type": "view", "item": tent, "ts": t + k * MIN})
            bought = TENTS[i % 3]
            events.append({"subject": s, "type": "purchase", "item": bought, "ts": t + 5 * MIN})
            for k, extra in enumerate(COMPLEMENTS):
                if (i + k) % 3 != 2:
                    events.append({"subject": s, "type": "purchase", "item": extra, "ts": t + (6 + k) * MIN})
        for i in range(30):
            s = "cook-%d" % i
            cls.grant(s)
            t = start + i * 7 * MIN
            events += [{"subject": s, "type": "view", "item": "kettle", "ts": t},
                       {"subject": s, "type": "purchase", "item": "kettle", "ts": t + MIN},
                       {"subject": s, "type": "purchase", "item": "pan", "ts": t + 2 * MIN}]
        # alice compared tents and bought the 2-person one an hour ago.
        cls.grant("alice")
        events += [{"subject": "alice", "type": "view", "item": "tent-2p", "ts": now - 90 * MIN},
                   {"subject": "alice", "type": "view", "item": "tent-4p", "ts": now - 80 * MIN},
                   {"subject": "alice", "type": "purchase", "item": "tent-2p", "ts": now - 60 * MIN}]
        # erin grants personalization only and bought the sleeping bag.
        cls.grant("erin")
        events.append({"subject": "erin", "type": "purchase", "item": "sleeping-bag", "ts": now - 30 * MIN})
        status, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert status == 200 and not body["errors"], body
        run_cli("train", "--data", cls.server.data)
        cls.wait_for_model()

    @classmethod
    def grant(cls, s, purpose="personalization", status="granted"):
        code, _, body = cls.server.request("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": status},
                                           key=cls.server.keys["shop"])
        assert code == 200, body

    @classmethod
    def wait_for_model(cls):
        """The server polls the store for new models every second; wait until answers use one."""
        deadline = time.time() + 30
        while time.time() < deadline:  # "why" records no impression, so polling changes nothing
            status, _, body = cls.server.request("GET", "/v1/subjects/alice/why?item=sleeping-bag",
                                                 key=cls.server.keys["dsr"])
            if status == 200 and (body["reason"] or {}).get("code") == "bought_together":
                return
            time.sleep(0.2)
        raise AssertionError("the server never served from a trained model")

    def recommend(self, body=None, key="rec", headers=None):
        status, _, reply = self.request("POST", "/v1/recommendations", body if body is not None else {},
                                        key=self.server.keys[key], headers=headers)
        self.assertEqual(status, 200, reply)
        self.assertEqual(set(reply), {"request_id", "personalized", "items"}, reply)
        self.assertRegex(reply["request_id"], RID)
        seen = set()
        for it in reply["items"]:
            self.assertEqual(set(it), {"item", "score", "disclosure", "reason"}, it)
            self.assertNotIn(it["item"], seen, reply)
            seen.add(it["item"])
            self.assertIn(it["disclosure"], ("explicit", "implicit"))
            self.assertTrue(0 <= it["score"] <= 1, it)
            self.assertEqual(set(it["reason"]), {"code", "text", "based_on"}, it)
            self.assertTrue(it["reason"]["text"], it)
            if it["reason"]["code"] in NON_PERSONAL or it["disclosure"] == "implicit":
                self.assertEqual(it["reason"]["based_on"], [], it)
        return reply

    def export(self, s):
        status, _, body = self.request("GET", "/v1/subjects/%s/export" % s, key=self.server.keys["dsr"])
        self.assertEqual(status, 200, body)
        return body

    def assertNonPersonal(self, reply):
        self.assertFalse(reply["personalized"], reply)
        self.assertTrue(reply["items"], reply)
        for it in reply["items"]:
            self.assertIn(it["reason"]["code"], NON_PERSONAL, it)
            self.assertEqual(it["reason"]["based_on"], [], it)

    # ---------------------------------------------------------------- consent

    def test_personalized_only_with_consent(self):
        self.assertTrue(self.recommend({"subject": "alice"})["personalized"])
        self.assertNonPersonal(self.recommend({"subject": "nobody-we-know"}))
        self.assertNonPersonal(self.recommend({}))
        self.grant("bob", status="denied")
        self.assertNonPersonal(self.recommend({"subject": "bob"}))

    def test_withdrawn_consent_is_non_personal_at_once(self):
        self.grant("carol")
        now = int(time.time() * 1000)
        status, _, body = self.request("POST", "/v1/events", {"events": [
            {"subject": "carol", "type": "purchase", "item": "tent-3p", "ts": now - 5 * MIN}]},
            key=self.server.keys["shop"])
        self.assertEqual(body["stored"], 1, body)
        reply = self.recommend({"subject": "carol"})  # an event stored a moment ago counts, without retraining
        self.assertTrue(reply["personalized"])
        self.assertTrue(any(i["reason"]["code"] == "bought_together" for i in reply["items"]), reply)
        self.grant("carol", status="denied")
        self.assertNonPersonal(self.recommend({"subject": "carol"}))

    def test_restriction_keeps_data_and_stops_processing_until_lifted(self):
        """Restricted: the data stays (export, summary), nothing processes it — no event stored, no
        personal answer on any channel, `why` cites nothing — until the person lifts it with their own token."""
        shop, dsr = self.server.keys["shop"], self.server.keys["dsr"]
        self.grant("rita")
        now = int(time.time() * 1000)
        status, _, body = self.request("POST", "/v1/events", {"events": [
            {"subject": "rita", "type": "purchase", "item": "tent-3p", "ts": now - 5 * MIN}]}, key=shop)
        self.assertEqual(body["stored"], 1, body)
        self.assertTrue(any(i["reason"]["code"] == "bought_together"
                            for i in self.recommend({"subject": "rita"})["items"]))
        status, _, body = self.request("PUT", "/v1/subjects/rita/restriction", {"restricted": True}, key=dsr)
        self.assertEqual((status, body), (200, {"restricted": True, "changed": True}))
        status, _, body = self.request("PUT", "/v1/subjects/rita/restriction", {"restricted": True}, key=dsr)
        self.assertEqual((status, body), (200, {"restricted": True, "changed": False}))
        for channel in ("web", "app", "email", "ads", "store"):
            self.assertNonPersonal(self.recommend({"subject": "rita", "channel": channel}))
        status, _, why = self.request("GET", "/v1/subjects/rita/why?item=sleeping-bag", key=dsr)
        self.assertEqual(status, 200, why)
        self.assertFalse(why["personalized"], why)
        self.assertEqual(why["data_used"], [], why)
        status, _, body = self.request("POST", "/v1/events", {"events": [
            {"subject": "rita", "type": "view", "item": "kettle"},
            {"subject": "rita", "type": "purchase", "item": "pan"}]}, key=shop)
        self.assertEqual((status, body["stored"], body["not_stored"]["restricted"]), (200, 0, 2), body)
        doc = self.export("rita")  # kept, and readable
        self.assertEqual([(e["type"], e["item"]) for e in doc["events"]], [("purchase", "tent-3p")])
        self.assertIs(doc["summary"]["restricted"], True)
        # Lifted by the person, with their own token: personal answers from the data kept.
        token = self.request("POST", "/v1/subjects/rita/tokens", key=dsr)[2]["token"]
        self.assertError(self.request("PUT", "/v1/subjects/alice/restriction", {"restricted": True}, key=token),
                         403, "forbidden")
        status, _, body = self.request("PUT", "/v1/subjects/rita/restriction", {"restricted": False}, key=token)
        self.assertEqual((status, body), (200, {"restricted": False, "changed": True}))
        reply = self.recommend({"subject": "rita"})
        self.assertTrue(reply["personalized"])
        self.assertTrue(any(i["reason"]["code"] == "bought_together" for i in reply["items"]), reply)
        status, _, body = self.request("POST", "/v1/events", {"events": [
            {"subject": "rita", "type": "view", "item": "kettle"}]}, key=shop)
        self.assertEqual(body["stored"], 1, body)

    def test_restriction_bad_requests(self):
        dsr = self.server.keys["dsr"]
        path = "/v1/subjects/alice/restriction"
        self.assertError(self.request("PUT", path, {"restricted": True, "why": "x"}, key=dsr), 400,
                         "unknown_field", "/why")
        self.assertError(self.request("PUT", path, {}, key=dsr), 400, "missing_field", "/restricted")
        self.assertError(self.request("PUT", path, {"restricted": "yes"}, key=dsr), 400, "wrong_type", "/restricted")
        self.assertError(self.request("PUT", path, key=dsr), 400, "empty_body")
        self.assertError(self.request("PUT", "/v1/subjects/nobody-here/restriction", {"restricted": True}, key=dsr),
                         404, "not_found")
        self.assertError(self.request("PUT", path, {"restricted": True}, key=self.server.keys["rec"]), 403,
                         "forbidden")
        # None of it touched alice.
        self.assertTrue(self.recommend({"subject": "alice"})["personalized"])

    def test_channel_bound_purpose_and_suppression_without_consent(self):
        # erin did not grant ads_retargeting: on ads nothing personal is used, but what she bought stays out.
        everyone = self.recommend({"count": 20})
        self.assertIn("sleeping-bag", [i["item"] for i in everyone["items"]])
        reply = self.recommend({"subject": "erin", "channel": "ads", "count": 20})
        self.assertNonPersonal(reply)
        self.assertNotIn("sleeping-bag", [i["item"] for i in reply["items"]])

    # ---------------------------------------------------------------- faithful reasons

    def test_reasons_cite_only_own_data(self):
        reply = self.recommend({"subject": "alice", "count": 20})
        events = {(e["type"], e["item"], e["ts"]) for e in self.export("alice")["events"]}
        cited = 0
        for it in reply["items"]:
            for b in it["reason"]["based_on"]:
                self.assertIn((b["type"], b["item"], b["ts"]), events, it)
                cited += 1
        self.assertGreater(cited, 0, reply)

    def test_complements_above_substitutes_after_purchase(self):
        reply = self.recommend({"subject": "alice", "count": 20})
        items = [i["item"] for i in reply["items"]]
        self.assertNotIn("tent-2p", items)  # bought: never comes back
        rank = {it: n for n, it in enumerate(items)}
        comps = [rank[c] for c in COMPLEMENTS if c in rank]
        subs = [rank[t] for t in ("tent-3p", "tent-4p") if t in rank]
        self.assertTrue(comps, reply)
        if subs:
            self.assertLess(max(comps), min(subs), reply)
        first = reply["items"][0]
        self.assertEqual(first["reason"]["code"], "bought_together", reply)
        self.assertEqual(first["reason"]["text"], "Goes well with Tent 2p, which you bought")
        self.assertEqual(first["reason"]["based_on"][0]["type"], "purchase")
        self.assertEqual(first["reason"]["based_on"][0]["item"], "tent-2p")

    def test_spanish_and_polish(self):
        es = self.recommend({"subject": "alice"}, headers={"Accept-Language": "es-ES,es;q=0.9"})
        self.assertEqual(es["items"][0]["reason"]["text"], "Combina con Tienda 2p, que compraste")
        pl = self.recommend({"subject": "alice"}, headers={"Accept-Language": "pl"})
        self.assertEqual(pl["items"][0]["reason"]["text"], "Pasuje do produktu kupionego przez Ciebie: Namiot 2p")
        anon = self.recommend({}, headers={"Accept-Language": "pl"})
        self.assertIn(anon["items"][0]["reason"]["text"], ("Popularne w naszym sklepie",
                                                            "Zyskuje popularność w naszym sklepie"))

    # ---------------------------------------------------------------- filters

    def test_filters(self):
        reply = self.recommend({"context": {"item": "tent-3p"}, "exclude": ["tent-4p"], "count": 50})
        items = [i["item"] for i in reply["items"]]
        self.assertNotIn("tent-3p", items)  # the item on screen
        self.assertNotIn("tent-4p", items)  # excluded by the caller
        self.assertNotIn("old-lamp", items)  # unavailable
        self.assertIn("similar_to_current", [i["reason"]["code"] for i in reply["items"]], reply)
        only = self.recommend({"categories": ["kitchen"], "count": 50})
        self.assertTrue(only["items"])
        self.assertTrue(set(i["item"] for i in only["items"]) <= {"kettle", "pan", "camp-stove"}, only)
        self.assertEqual(len(self.recommend({"count": 1})["items"]), 1)
        # An item made unavailable is never served again.
        self.request("PUT", "/v1/items/lantern", {"title": "Lantern", "categories": ["camping"], "available": False},
                     key=self.server.keys["shop"])
        try:
            self.assertNotIn("lantern", [i["item"] for i in self.recommend({"count": 100})["items"]])
        finally:
            self.request("PUT", "/v1/items/lantern", {"title": "Lantern", "categories": ["camping"]},
                         key=self.server.keys["shop"])

    # ---------------------------------------------------------------- decision records

    def test_decision_record_by_scope(self):
        reply = self.recommend({"subject": "alice", "placement": "home"})
        path = "/v1/recommendations/" + reply["request_id"]
        status, _, rec = self.request("GET", path, key=self.server.keys["rec"])
        self.assertEqual(status, 200, rec)
        self.assertNotIn("suppressed", rec)
        self.assertNotIn("suppressed_by", rec)  # nor the grouped form it is stored in
        self.assertEqual(rec["items"], reply["items"])
        self.assertEqual((rec["placement"], rec["channel"], rec["personalized"]), ("home", "web", True))
        for key in ("admin", "audit"):
            status, _, rec = self.request("GET", path, key=self.server.keys[key])
            self.assertEqual(status, 200, rec)
            self.assertIn({"item": "tent-2p", "rule": "after_purchase"},
                          [{"item": s["item"], "rule": s["rule"]} for s in rec["suppressed"]], rec)
        self.assertError(self.request("GET", "/v1/recommendations/r_0000000000000001", key=self.server.keys["rec"]),
                         404, "not_found")
        self.assertError(self.request("GET", "/v1/recommendations/nonsense", key=self.server.keys["rec"]),
                         404, "not_found")
        self.assertEqual(self.request("GET", path, key=self.server.keys["shop"])[0], 403)

    def test_export_holds_decisions_and_impressions(self):
        reply = self.recommend({"subject": "alice"})
        # At once: records wait in the writer's queue, and the export flushes it.
        doc = self.export("alice")
        self.assertIn(reply["request_id"], [d["request_id"] for d in doc["decisions"]], doc["decisions"])
        self.assertTrue(doc["impressions"])
        record = next(d for d in doc["decisions"] if d["request_id"] == reply["request_id"])
        self.assertEqual(record["items"], reply["items"])  # the record holds the answer as sent
        for member in ("ts", "placement", "channel", "personalized", "model"):
            self.assertIn(member, record)
        served = {i["item"] for i in reply["items"]}
        self.assertTrue(served & {i["item"] for i in doc["impressions"]})
        # No impressions for someone who did not grant personalization.
        self.grant("dora", status="denied")
        self.recommend({"subject": "dora"})
        status, _, _ = self.request("GET", "/v1/subjects/dora/export", key=self.server.keys["dsr"])
        if status == 200:
            self.assertEqual(self.export("dora")["impressions"], [])

    # ---------------------------------------------------------------- why

    def test_why(self):
        status, _, why = self.request("GET", "/v1/subjects/alice/why?item=sleeping-bag", key=self.server.keys["dsr"])
        self.assertEqual(status, 200, why)
        self.assertTrue(why["recommended"], why)
        self.assertEqual(why["reason"]["code"], "bought_together")
        self.assertTrue(why["personalized"])
        events = {e["event_id"]: e for e in self.export("alice")["events"]}
        self.assertTrue(why["data_used"])
        for d in why["data_used"]:
            self.assertEqual((events[d["event_id"]]["type"], events[d["event_id"]]["item"]), (d["type"], d["item"]))
        actions = {a["action"] for a in why["actions"]}
        self.assertTrue({"dismiss", "withdraw_consent", "exclude_category", "delete_event"} <= actions, why)
        status, _, why = self.request("GET", "/v1/subjects/alice/why?item=tent-2p", key=self.server.keys["dsr"],
                                      headers={"Accept-Language": "es"})
        self.assertEqual(status, 200, why)
        self.assertFalse(why["recommended"])
        self.assertEqual(why["suppressed"]["rule"], "after_purchase")
        self.assertEqual(why["suppressed"]["text"], "Ya compraste este producto u otro parecido.")
        self.assertError(self.request("GET", "/v1/subjects/alice/why", key=self.server.keys["dsr"]), 400,
                         "missing_field", "/query/item")
        self.assertError(self.request("GET", "/v1/subjects/nobody-at-all/why?item=pan", key=self.server.keys["dsr"]),
                         404, "not_found")

    def test_why_actions_work_with_the_subjects_own_token(self):
        # Every action "why" suggests names one request (method, path, body) that the person's own token may
        # send, that does what it says, and that leaves the rest of what the person told us alone.
        shop = self.server.keys["shop"]
        self.grant("walt")
        told = {"interests": ["kitchen", "knitting"], "exclude_categories": ["lingerie"],
                "declared": {"expecting_baby": True}}  # knitting and lingerie: not declared in the policy
        status, _, body = self.request("PUT", "/v1/subjects/walt/preferences", told, key=shop)
        self.assertEqual((status, body), (200, told))
        status, _, body = self.request("POST", "/v1/events", {"subject": "walt", "type": "view", "item": "tent-3p",
                                                              "ts": int(time.time() * 1000) - 5 * MIN}, key=shop)
        self.assertEqual((status, body["stored"]), (200, 1), body)
        status, _, tok = self.request("POST", "/v1/subjects/walt/tokens", key=self.server.keys["dsr"])
        self.assertEqual(status, 200, tok)
        token = tok["token"]

        def why(item):
            status, _, w = self.request("GET", "/v1/subjects/walt/why?item=" + item, key=token)
            self.assertEqual(status, 200, w)
            return w

        def perform(action):
            self.assertIn(action["method"], ("PUT", "PATCH", "DELETE"), action)
            status, _, body = self.request(action["method"], action["path"], action.get("body"), key=token)
            self.assertEqual(status, 200, (action, body))

        def preferences():
            status, _, body = self.request("GET", "/v1/subjects/walt/preferences", key=token)
            self.assertEqual(status, 200, body)
            return body

        def shown():
            return {it["item"] for it in self.recommend({"subject": "walt", "count": 20})["items"]}

        kettle = why("kettle")
        self.assertEqual((kettle["recommended"], kettle["reason"]["code"]), (True, "you_told_us"), kettle)
        self.assertIn("kettle", shown())
        acts = {a["action"]: a for a in kettle["actions"]}
        self.assertEqual(set(acts), {"dismiss", "withdraw_consent", "exclude_category", "change_interests"}, kettle)
        self.assertEqual(acts["dismiss"]["body"], {"dismiss": ["kettle"]})
        self.assertEqual(acts["exclude_category"]["category"], "kitchen")
        tent = why("tent-2p")
        self.assertEqual(tent["reason"]["code"], "because_you_viewed", tent)
        deletes = [a for a in tent["actions"] if a["action"] == "delete_event"]
        self.assertEqual(len(deletes), 1, tent)
        self.assertTrue({"dismiss", "withdraw_consent", "exclude_category"} <= {a["action"] for a in tent["actions"]})

        perform(acts["dismiss"])
        self.assertEqual(preferences(), told)
        self.assertNotIn("kettle", shown())
        self.assertEqual(why("kettle")["suppressed"]["rule"], "own_word")
        self.assertNotIn("dismiss", {a["action"] for a in why("kettle")["actions"]})  # done already

        self.assertIn("pan", shown())
        perform(acts["exclude_category"])
        told["exclude_categories"].append("kitchen")
        self.assertEqual(preferences(), told)
        self.assertFalse(shown() & {"kettle", "pan", "camp-stove"})

        perform(acts["change_interests"])
        told["interests"].remove("kitchen")
        self.assertEqual(preferences(), told)

        perform(deletes[0])
        self.assertEqual(why("tent-2p")["data_used"], [])
        self.assertEqual(preferences(), told)

        perform(acts["withdraw_consent"])
        self.assertFalse(self.recommend({"subject": "walt"})["personalized"])
        self.assertEqual(preferences(), told)

    # ---------------------------------------------------------------- bad input and metrics

    def test_bad_input(self):
        rec = self.server.keys["rec"]
        cases = [
            ({"count": 0}, "out_of_range", "/count"),
            ({"count": 101}, "out_of_range", "/count"),
            ({"count": "3"}, "wrong_type", "/count"),
            ({"subject": 5}, "wrong_type", "/subject"),
            ({"subject": ""}, "invalid_id", "/subject"),
            ({"colour": "red"}, "unknown_field", "/colour"),
            ({"context": {"item": 3}}, "wrong_type", "/context/item"),
            ({"context": {"mood": "happy"}}, "unknown_field", "/context/mood"),
            ({"context": []}, "wrong_type", "/context"),
            ({"channel": "fax"}, "invalid_value", "/channel"),
            ({"categories": [""]}, "invalid_id", "/categories/0"),
            ({"exclude": "tent-2p"}, "wrong_type", "/exclude"),
            ({"exclude": [""]}, "invalid_id", "/exclude/0"),
        ]
        for body, code, field in cases:
            with self.subTest(body=body):
                self.assertError(self.request("POST", "/v1/recommendations", body, key=rec), 400, code, field)
        self.assertError(self.request("POST", "/v1/recommendations", "[1]", key=rec), 400, "wrong_type")
        self.assertEqual(self.request("POST", "/v1/recommendations", {}, key=self.server.keys["shop"])[0], 403)

    def test_metrics(self):
        self.recommend({"subject": "alice"})
        self.recommend({})
        status, _, text = self.request("GET", "/metrics", key=self.server.keys["admin"])
        self.assertEqual(status, 200)
        self.assertIn('mesura_recommendations_total{personalized="true"}', text)
        self.assertIn('mesura_recommendations_total{personalized="false"}', text)
        self.assertIn('mesura_suppressions_total{rule="after_purchase"}', text)


    def test_history_cache_serves_again_and_sees_new_events(self):
        def cache():
            status, _, text = self.request("GET", "/metrics", key=self.server.keys["admin"])
            self.assertEqual(status, 200)
            reads = {m.group(1): int(m.group(2)) for m in
                     re.finditer(r'(?m)^mesura_history_cache_reads_total\{outcome="(\w+)"\} (\d+)$', text)}
            gauge = lambda n: int(re.search(r"(?m)^%s (\d+)$" % n, text).group(1))
            return reads, gauge("mesura_history_cache_bytes"), gauge("mesura_history_cache_max_bytes")
        self.grant("gina")
        now = int(time.time() * 1000)
        post = lambda item, ts: self.request("POST", "/v1/events", {"events": [
            {"subject": "gina", "type": "purchase", "item": item, "ts": ts}]}, key=self.server.keys["shop"])
        self.assertEqual(post("tent-2p", now - 60 * MIN)[2]["stored"], 1)
        before, _, _ = cache()
        first = self.recommend({"subject": "gina"})
        again = self.recommend({"subject": "gina"})  # the next page: from memory, the same answer
        after, used, cap = cache()
        self.assertGreaterEqual(after["hit"], before["hit"] + 1, (before, after))
        self.assertEqual([i["item"] for i in first["items"]], [i["item"] for i in again["items"]])
        self.assertEqual(cap, 64 << 20)  # serving.history_cache_mb's default
        self.assertTrue(0 < used <= cap)
        # A purchase stored now is seen by the very next request (the cached history is stale, read again).
        self.assertIn("camp-stove", [i["item"] for i in again["items"]])
        self.assertEqual(post("camp-stove", now - MIN)[2]["stored"], 1)
        reply = self.recommend({"subject": "gina"})
        self.assertNotIn("camp-stove", [i["item"] for i in reply["items"]])
        self.assertGreaterEqual(cache()[0]["stale"], after["stale"] + 1)


if __name__ == "__main__":
    unittest.main()
