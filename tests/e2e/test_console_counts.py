"""The console's daily counts: events by outcome and suppressions by guardrail rule, per day, as
GET /v1/admin/overview returns them for the charts of /admin.

Every outcome an ingestion can have is counted under today's date (stored, no_consent, invalid, and an
event forgotten afterwards), suppressions under the rule that made them, in agreement with /metrics;
each series' total is the sum of its days, and the counts survive a restart of the server (they live in
the store, summed over every server that shares it, not in one process's memory). The overview names
nobody: counts only.
"""

import time
import unittest

from harness import ServerTestCase, build_crowd

ITEMS = {"tent": ("Tent", ["camping"]), "stove": ("Stove", ["camping"]), "lamp": ("Lamp", ["camping"]),
         "mat": ("Mat", ["camping"])}
CROWD = [(["tent", "stove"], ["lamp"]), (["stove", "lamp"], ["mat"])]
CROWD_SIZE = 3


class ConsoleCountsTest(ServerTestCase):
    keys = {"admin": "admin", "shop": "ingest,consent,catalog,recommend,subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        req, shop = cls.server.request, cls.server.keys["shop"]
        build_crowd(cls.server, shop, ITEMS, CROWD, CROWD_SIZE)
        cls.crowd_events = sum(len(v) + len(b) for v, b in CROWD) * CROWD_SIZE
        st, _, body = req("PUT", "/v1/subjects/alice/consents/personalization", {"status": "granted"}, key=shop)
        assert st == 200, body
        events = [{"subject": "alice", "type": "view", "item": "tent", "event_id": "a1"},
                  {"subject": "alice", "type": "purchase", "item": "lamp", "event_id": "a2"},
                  {"subject": "bob", "type": "view", "item": "tent"},   # no consent
                  {"subject": "alice", "type": "teleport", "item": "tent"}]  # invalid
        st, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert st == 200 and body["stored"] == 2, body
        st, _, body = req("DELETE", "/v1/subjects/alice/events/a1", key=shop)
        assert st in (200, 204), body
        for _ in range(3):
            st, _, body = req("POST", "/v1/recommendations", {"subject": "alice", "count": 4}, key=shop)
            assert st == 200, body

    def overview(self, days=7):
        st, _, body = self.request("GET", "/v1/admin/overview?days=%d" % days, key=self.key("admin"))
        self.assertEqual(st, 200, body)
        return body

    def totals(self, body):
        events = {s["outcome"]: s["total"] for s in body["events"]}
        supp = {s["rule"]: s["total"] for s in body["suppressions"]}
        return events, supp

    def check_series(self, body, days):
        for group, key in (("events", "outcome"), ("suppressions", "rule")):
            for s in body[group]:
                with self.subTest(group=group, label=s[key]):
                    self.assertEqual(len(s["per_day"]), days)
                    self.assertEqual(sum(s["per_day"]), s["total"])
                    # everything happened today: the last day of the span
                    self.assertEqual(s["per_day"][-1], s["total"])

    def suppressions_in_metrics(self):
        st, _, text = self.request("GET", "/metrics", key=self.key("admin"))
        self.assertEqual(st, 200)
        out = {}
        for line in text.splitlines():
            if line.startswith('mesura_suppressions_total{rule="'):
                rule = line.split('"')[1]
                out[rule] = int(float(line.rsplit(" ", 1)[1]))
        return out

    def test_counts_by_outcome_and_rule_per_day_and_after_a_restart(self):
        body = self.overview()
        self.check_series(body, 7)
        self.assertEqual(body["consents"]["dates"][-1], time.strftime("%Y-%m-%d", time.gmtime()))
        events, supp = self.totals(body)
        self.assertEqual([s["outcome"] for s in body["events"]],
                         ["stored", "no_consent", "third_party", "restricted", "expired", "invalid", "forgotten"])
        self.assertEqual(events["stored"], self.crowd_events + 2)
        self.assertEqual(events["no_consent"], 1)
        self.assertEqual(events["invalid"], 1)
        self.assertEqual(events["forgotten"], 1)
        self.assertEqual(events["third_party"] + events["restricted"] + events["expired"], 0)
        # alice bought the lamp: the guardrail kept it out of every answer, and the console says so as
        # /metrics does
        self.assertGreaterEqual(supp.get("after_purchase", 0), 1, supp)
        self.assertEqual(supp, self.suppressions_in_metrics())
        text = str(body["events"]) + str(body["suppressions"])
        self.assertNotIn("alice", text)
        self.assertNotIn("bob", text)

        self.server.restart()
        again = self.overview()
        self.check_series(again, 7)
        self.assertEqual(self.totals(again), (events, supp))
        # a one-day span holds today only, with the same totals
        self.assertEqual(self.totals(self.overview(1)), (events, supp))


if __name__ == "__main__":
    unittest.main()
