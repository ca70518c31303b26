"""Erasure and forgetting one event reach the model exactly (contract §7): two servers built from the
same data, one of them with an extra person (or event) who is then erased (or forgotten), answer every
other shopper alike — the same items in the same order, with the same reasons and the same scores to
the printed precision — for each kind of model the served path can use. The erasure receipt says the
model forgot the person at once."""

import time
import unittest

from harness import MesuraServer, run_cli, answers_differ, probe_answers

POLICY = """\
site: Unlearning Test
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 365}
  purchase: {purposes: [personalization], retention_days: 730}
guardrails:
  frequency_cap: {max_impressions: 100000, window_hours: 1}
model: {kind: %s, retrain_every_minutes: 525600, retrain_after_events_pct: 0}
"""

ITEMS = ["i%02d" % i for i in range(24)]
DAY = 86400


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def crowd(now):
    """Deterministic shoppers: each views a window of items and buys two of them."""
    people = []
    for p in range(36):
        start = now - (3 + p % 20) * DAY
        seen = [ITEMS[(p * 5 + k) % len(ITEMS)] for k in range(4)]
        evs = [{"type": "view", "item": it, "ts": iso(start + k * 300)} for k, it in enumerate(seen)]
        evs += [{"type": "purchase", "item": it, "ts": iso(start + 3600 + k * 60)} for k, it in enumerate(seen[1:3])]
        people.append(("p%02d" % p, evs))
    return people


# The person to erase: a heavy, unusual shopper whose pairs move the neighbour lists of many items.
ZED = [{"type": "view", "item": ITEMS[k % len(ITEMS)], "ts_off": k * 120} for k in range(0, 48, 5)] + \
      [{"type": "purchase", "item": it, "ts_off": 7200 + k * 60} for k, it in enumerate(["i03", "i17", "i22", "i09"])]
PROBES = ["p01", "p07", "p12", "p20", "p33"]


class Unlearning(unittest.TestCase):
    def world(self, kind, with_zed, now, extra=False):
        server = MesuraServer(policy=POLICY % kind, keys={"shop": "ingest,consent,catalog", "rec": "recommend",
                                                          "dsr": "subjects"})
        self.addCleanup(server.cleanup)
        server.start()
        self.addCleanup(server.stop)
        shop = server.keys["shop"]
        st, _, body = server.request("POST", "/v1/items", {"items": [{"id": i, "title": i} for i in ITEMS]}, key=shop)
        self.assertEqual(st, 200, body)
        people = crowd(now)
        if with_zed:
            people.append(("zed", [{"type": e["type"], "item": e["item"], "ts": iso(now - 2 * DAY + e["ts_off"])}
                                   for e in ZED]))
        if extra:  # one more purchase of a probe shopper, to be forgotten
            people = [(who, evs + [{"type": "purchase", "item": "i19", "ts": iso(now - 2 * DAY), "event_id": "extra-1"}]
                       if who == "p07" else evs) for who, evs in people]
        people.append(("warmup", [{"type": "view", "item": "i00", "ts": iso(now - DAY)}]))
        events = []
        for who, evs in people:
            st, _, body = server.request("PUT", "/v1/subjects/%s/consents/personalization" % who,
                                         {"status": "granted"}, key=shop)
            self.assertEqual(st, 200, body)
            events += [dict(e, subject=who) for e in evs]
        st, _, body = server.request("POST", "/v1/events", {"events": events}, key=shop)
        self.assertEqual((st, body["stored"]), (200, len(events)), body)
        # A model trained by another process (`mesura train`) is loaded from the store, and a
        # loaded model cannot unlearn: erasing someone then starts a training of the server's own,
        # which can. warmup is in both worlds, so both models are built from the same people.
        run_cli("train", "--data", server.data)
        server.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=60)
        st, _, body = server.request("DELETE", "/v1/subjects/warmup", key=server.keys["dsr"])
        self.assertEqual(st, 200, body)
        if kind != "popular":
            self.assertEqual(body["receipt"]["model"]["contribution"], "retraining", body)
        server.wait_for_log(lambda lines: len([l for l in lines if " is live" in l]) >= 2, timeout=120)
        return server

    def answers(self, server):
        return probe_answers(server, PROBES)

    def check_kind(self, kind):
        now = int(time.time()) // DAY * DAY  # one clock for both worlds
        with_zed = self.world(kind, True, now)
        without = self.world(kind, False, now)
        before = self.answers(with_zed)
        st, _, body = with_zed.request("DELETE", "/v1/subjects/zed", key=with_zed.keys["dsr"])
        self.assertEqual(st, 200, body)
        model = body["receipt"]["model"]
        if kind != "popular":
            self.assertEqual(model["contribution"], "unlearned", model)
            self.assertEqual(model["events"], len(ZED), model)
        self.assertIs(model["exact"], True, model)
        after, reference = self.answers(with_zed), self.answers(without)
        self.assertIsNone(answers_differ(after, reference))
        if kind != "popular":
            self.assertIsNotNone(answers_differ(before, reference),
                                 "zed changed nothing: the test would prove nothing")

    def check_event(self, kind):
        """Forgetting one event: the same answers as a world where it never was, for everyone but its
        owner too (whose history differs by the event itself, so they are left out of the comparison)."""
        now = int(time.time()) // DAY * DAY
        with_it = self.world(kind, False, now, extra=True)
        without = self.world(kind, False, now)
        before = self.answers(with_it)
        st, _, body = with_it.request("DELETE", "/v1/subjects/p07/events/extra-1", key=with_it.keys["dsr"])
        self.assertEqual(st, 200, body)
        self.assertEqual((body["model"]["contribution"], body["model"]["events"], body["model"]["exact"]),
                         ("unlearned", 1, True), body)
        after, reference = self.answers(with_it), self.answers(without)
        self.assertIsNone(answers_differ(after, reference))  # p07 included: the event is gone from their history too
        self.assertIsNotNone(answers_differ(before, reference),
                             "the extra event changed nothing: the test would prove nothing")

    def test_forget_one_event_then_killed(self):
        """Forgetting answers before the model's save: a server killed right after the answer (the
        save done or not) never serves a model that still learnt from the event; the next model live
        answers as a store that never had it."""
        now = int(time.time()) // DAY * DAY
        with_it = self.world("cooc", False, now, extra=True)
        reference = self.answers(self.world("cooc", False, now))
        st, _, body = with_it.request("DELETE", "/v1/subjects/p07/events/extra-1", key=with_it.keys["dsr"])
        self.assertEqual((st, body["model"]["contribution"]), (200, "unlearned"), body)
        with_it.kill9()
        with_it.start()
        with_it.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=120)
        self.assertIsNone(answers_differ(self.answers(with_it), reference))

    def test_forget_one_event_cooc(self):
        self.check_event("cooc")

    def test_forget_one_event_ease(self):
        self.check_event("ease")

    def test_cooc(self):
        self.check_kind("cooc")

    def test_ease(self):
        self.check_kind("ease")

    def test_popular(self):
        self.check_kind("popular")

    def test_auto(self):
        self.check_kind("auto")


if __name__ == "__main__":
    unittest.main()
