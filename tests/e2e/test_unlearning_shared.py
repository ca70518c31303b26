"""Erasure reaches every model of a shared store (contract §7): a second server over the same data
directory stops carrying an erased person within a couple of seconds, unlearning them from its own
live model; and a stored model that may still carry someone erased (a server killed right after the
erasure's answer, before its model was saved; a database restored from a copy made before the
erasure) is never served again: the next model live answers as a store that never had the person."""

import time
import unittest

from harness import MesuraServer, run_cli, answers_differ, probe_answers
from test_unlearning import POLICY, ITEMS, DAY, ZED, PROBES, crowd, iso

FOLLOW_S = 5  # the other server's background thread reads the journal every second
WARMUPS = ("warmup", "warmup2")  # in every world, each erased through one server


def populate(server, now, with_zed):
    shop = server.keys["shop"]
    st, _, body = server.request("POST", "/v1/items", {"items": [{"id": i, "title": i} for i in ITEMS]}, key=shop)
    assert st == 200, body
    people = crowd(now)
    if with_zed:
        people.append(("zed", [{"type": e["type"], "item": e["item"], "ts": iso(now - 2 * DAY + e["ts_off"])}
                               for e in ZED]))
    people += [(w, [{"type": "view", "item": "i00", "ts": iso(now - DAY)}]) for w in WARMUPS]
    events = []
    for who, evs in people:
        st, _, body = server.request("PUT", "/v1/subjects/%s/consents/personalization" % who,
                                     {"status": "granted"}, key=shop)
        assert st == 200, body
        events += [dict(e, subject=who) for e in evs]
    st, _, body = server.request("POST", "/v1/events", {"events": events}, key=shop)
    assert (st, body["stored"]) == (200, len(events)), body


def lives(server):
    return [l for l in server.log_lines() if " is live" in l]


def own_model_live(server):
    """The last model that went live was built by this server (it can unlearn)."""
    return bool(lives(server)) and lives(server)[-1].endswith("can unlearn")


class SharedStore(unittest.TestCase):
    def server(self, data_of=None):
        keys = {"shop": "ingest,consent,catalog", "rec": "recommend", "dsr": "subjects"}
        s = MesuraServer(policy=POLICY % "cooc", keys=keys)
        if data_of is not None:  # a second server over the first one's data directory
            s.data, s.keys, s._initialized = data_of.data, data_of.keys, True
        else:
            self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        return s.start()

    def answers(self, server):
        return probe_answers(server, PROBES)

    def own_model(self, *servers):
        """A model loaded from the store cannot unlearn: erasing a warmup person through a server that
        serves one makes it retrain its own, which can. Each server erases one (the last server, all
        that are left), and waits for its own model."""
        for i, w in enumerate(WARMUPS):
            s = servers[min(i, len(servers) - 1)]
            if i < len(servers) and not own_model_live(s):
                n = len(lives(s))
                st, _, body = s.request("DELETE", "/v1/subjects/" + w, key=s.keys["dsr"])
                self.assertEqual(st, 200, body)
                s.wait_for_log(lambda lines: len([l for l in lines if " is live" in l]) > n and
                               [l for l in lines if " is live" in l][-1].endswith("can unlearn"), timeout=60)
            else:
                st, _, body = s.request("DELETE", "/v1/subjects/" + w, key=s.keys["dsr"])
                self.assertEqual(st, 200, body)

    def trained(self, now, with_zed):
        """A server over a new store holding the crowd (and zed), serving the model `mesura train` built."""
        s = self.server()
        populate(s, now, with_zed)
        run_cli("train", "--data", s.data)
        s.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=60)
        return s

    def reference(self, now):
        """A store that never had zed, its model trained by its server."""
        s = self.trained(now, False)
        self.own_model(s)
        return self.answers(s)

    def test_other_server_unlearns(self):
        now = int(time.time()) // DAY * DAY
        reference = self.reference(now)
        a = self.trained(now, True)
        b = self.server(data_of=a)
        b.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=60)
        self.own_model(a, b)
        before = self.answers(b)
        self.assertIsNotNone(answers_differ(before, reference), "zed changed nothing: the test would prove nothing")
        # Each server keeps its own model (the other's copy, trained from the same events, could not
        # unlearn): b's answers change only through its own unlearning.
        st, _, body = a.request("DELETE", "/v1/subjects/zed", key=a.keys["dsr"])
        self.assertEqual(st, 200, body)
        self.assertEqual((body["receipt"]["model"]["contribution"], body["receipt"]["model"]["events"],
                          body["receipt"]["model"]["exact"]), ("unlearned", len(ZED), True), body)
        self.assertIsNone(answers_differ(self.answers(a), reference))
        deadline = time.monotonic() + FOLLOW_S
        while answers_differ(self.answers(b), reference) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertIsNone(answers_differ(self.answers(b), reference))
        # Unlearned in place (its log, read by the harness as it comes), not dropped for a retraining.
        b.wait_for_log(lambda lines: any("erasures made elsewhere: %d events unlearned" % len(ZED) in l
                                         for l in lines), timeout=FOLLOW_S)
        self.assertTrue(own_model_live(b), lives(b)[-3:])

    def restarted_answers(self, server):
        """Starts server again and returns its answers once a model is live."""
        server.start()
        server.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=120)
        return self.answers(server)

    def test_killed_before_the_save(self):
        now = int(time.time()) // DAY * DAY
        reference = self.reference(now)
        a = self.trained(now, True)
        self.own_model(a)
        st, _, body = a.request("DELETE", "/v1/subjects/zed", key=a.keys["dsr"])
        self.assertEqual((st, body["receipt"]["model"]["contribution"]), (200, "unlearned"), a.log_lines())
        a.kill9()  # the save may or may not have happened: either way zed never serves again
        self.assertIsNone(answers_differ(self.restarted_answers(a), reference))

    def test_restored_copy_from_before_the_erasure(self):
        now = int(time.time()) // DAY * DAY
        reference = self.reference(now)
        a = self.trained(now, True)
        self.own_model(a)
        copy = a.tmp + "/before.db"
        run_cli("backup", "--data", a.data, copy)  # holds the model that learnt from zed
        st, _, body = a.request("DELETE", "/v1/subjects/zed", key=a.keys["dsr"])
        self.assertEqual(st, 200, body)
        a.stop()
        run_cli("restore", "--data", a.data, copy)
        self.assertIsNone(answers_differ(self.restarted_answers(a), reference))
        self.assertTrue(any("is not served" in l for l in a.log_lines()), a.log_lines()[-10:])


if __name__ == "__main__":
    unittest.main()
