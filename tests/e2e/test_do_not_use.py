""""Don't use this for recommendations" (preferences.do_not_use_items): once a shopper names an item,
its events stop driving their recommendations on every channel their consent serves: no suggestion
cites it, `why` lists none of its events among the data used, while the events stay held (export)
and the preference reads back; taken off the list, the item counts again. Set by PATCH (add, remove)
and PUT alike, by the shop's key or the person's own dashboard token; checked like every id."""

import time
import unittest

from harness import ServerTestCase, run_cli

POLICY = """\
site: Do Not Use
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored, channels: [web, app, email]}
event_types:
  view: {purposes: [personalization], retention_days: 365}
  purchase: {purposes: [personalization], retention_days: 730}
guardrails:
  frequency_cap: {max_impressions: 100000, window_hours: 1}
model: {kind: ease, retrain_every_minutes: 525600, retrain_after_events_pct: 0}
"""

ITEMS = ["a1", "a2", "a3", "b1", "b2", "b3"]
DAY = 86400
CHANNELS = ("web", "app", "email")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class DoNotUse(ServerTestCase):
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog,subjects", "rec": "recommend"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        shop = s.keys["shop"]
        st, _, body = s.request("POST", "/v1/items", {"items": [{"id": i, "title": i.upper()} for i in ITEMS]},
                                key=shop)
        assert st == 200, body
        now = int(time.time())
        events = []
        for p in range(20):  # a1 goes with a2, b1 with b2
            who = "p%02d" % p
            st, _, body = s.request("PUT", "/v1/subjects/%s/consents/personalization" % who, {"status": "granted"},
                                    key=shop)
            assert st == 200, body
            pair = ("a1", "a2") if p % 2 else ("b1", "b2")
            events += [{"subject": who, "type": "view", "item": it, "ts": iso(now - 3 * DAY + p * 60 + k)}
                       for k, it in enumerate(pair)]
        s.request("PUT", "/v1/subjects/zoe/consents/personalization", {"status": "granted"}, key=shop)
        events += [{"subject": "zoe", "type": "view", "item": "a1", "ts": iso(now - DAY), "event_id": "z-a1"},
                   {"subject": "zoe", "type": "view", "item": "b1", "ts": iso(now - DAY + 60), "event_id": "z-b1"}]
        st, _, body = s.request("POST", "/v1/events", {"events": events}, key=shop)
        assert st == 200 and body["stored"] == len(events), body
        run_cli("train", "--data", s.data)
        s.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=60)

    def recs(self, channel):
        st, _, body = self.request("POST", "/v1/recommendations", {"subject": "zoe", "count": 4, "channel": channel},
                                   key=self.key("rec"))
        self.assertEqual(st, 200, body)
        return body

    def cited(self, channel):
        """Items the reasons of zoe's recommendations cite."""
        return {b["item"] for it in self.recs(channel)["items"] for b in it["reason"].get("based_on", [])}

    def used_by_why(self, item):
        st, _, body = self.request("GET", "/v1/subjects/zoe/why?item=%s" % item, key=self.key("shop"))
        self.assertEqual(st, 200, body)
        return {d["item"] for d in body["data_used"]}

    def set_unused(self, add=None, remove=None, key=None):
        patch = {}
        if add:
            patch["add"] = {"do_not_use_items": add}
        if remove:
            patch["remove"] = {"do_not_use_items": remove}
        st, _, body = self.request("PATCH", "/v1/subjects/zoe/preferences", patch, key=key or self.key("shop"))
        self.assertEqual(st, 200, body)
        return body

    def test_an_unused_item_drives_nothing_on_any_channel_until_taken_back(self):
        for ch in CHANNELS:
            self.assertIn("a1", self.cited(ch), ch)
        self.assertIn("a1", self.used_by_why("a2"))
        # Her own dashboard token may say it.
        st, _, tok = self.request("POST", "/v1/subjects/zoe/tokens", key=self.key("shop"))
        self.assertEqual(st, 200, tok)
        prefs = self.set_unused(add=["a1"], key=tok["token"])
        self.assertEqual(prefs["do_not_use_items"], ["a1"])
        for ch in CHANNELS:
            self.assertNotIn("a1", self.cited(ch), ch)
            self.assertIn("b1", self.cited(ch), ch)  # the rest of her history still counts
        self.assertNotIn("a1", self.used_by_why("a2"))
        self.assertIn("b1", self.used_by_why("b2"))
        # Still held: the export shows the event and the preference.
        st, _, exp = self.request("GET", "/v1/subjects/zoe/export", key=self.key("shop"))
        self.assertEqual(st, 200, exp)
        self.assertIn("z-a1", [e["event_id"] for e in exp["events"]])
        self.assertEqual(exp["preferences"]["do_not_use_items"], ["a1"])
        # Taken back, it counts again; the list, empty, is left out.
        prefs = self.set_unused(remove=["a1"])
        self.assertNotIn("do_not_use_items", prefs)
        for ch in CHANNELS:
            self.assertIn("a1", self.cited(ch), ch)
        # A PUT sets it too, and replaces it.
        st, _, body = self.request("PUT", "/v1/subjects/zoe/preferences", {"do_not_use_items": ["a1", "a1"]},
                                   key=self.key("shop"))
        self.assertEqual((st, body.get("do_not_use_items")), (200, ["a1"]), body)
        self.assertNotIn("a1", self.cited("web"))
        st, _, body = self.request("PUT", "/v1/subjects/zoe/preferences", {}, key=self.key("shop"))
        self.assertEqual(st, 200, body)
        self.assertIn("a1", self.cited("web"))

    def test_bad_items_are_refused_with_their_pointer(self):
        shop = self.key("shop")
        path = "/v1/subjects/zoe/preferences"
        st, _, body = self.request("PUT", "/v1/subjects/zoe/preferences", {"do_not_use_items": ["b3"]}, key=shop)
        self.assertEqual(st, 200, body)
        self.assertError(self.request("PATCH", path, {"add": {"do_not_use_items": "a1"}}, key=shop), 400,
                         "wrong_type", "/add/do_not_use_items")
        self.assertError(self.request("PATCH", path, {"remove": {"do_not_use_items": [""]}}, key=shop), 400,
                         "invalid_id", "/remove/do_not_use_items/0")
        self.assertError(self.request("PUT", path, {"do_not_use_items": ["x"] * 257}, key=shop), 400,
                         "out_of_range", "/do_not_use_items")
        st, _, body = self.request("GET", path, key=shop)
        self.assertEqual((st, body.get("do_not_use_items")), (200, ["b3"]), body)  # unchanged by the refusals
        self.request("PUT", path, {}, key=shop)


if __name__ == "__main__":
    unittest.main()
