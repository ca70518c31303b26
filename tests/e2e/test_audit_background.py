"""Audits too large to answer at once run in the background (contract §8: `202 {"id", "status": "running"}`, to
poll), audits may name only the placements the policy lists, and the server runs the policy's scheduled audit.

The policy's audit.sync_max_subjects is set below the planted population, so POST /v1/audits answers 202; the
poll ends with the same audit that a synchronous run of the same request and seed gives (the threshold is then
raised by a policy reload). An audit left "running" by a process that stopped is marked failed at the next start.
"""

import json
import os
import re
import signal
import sqlite3
import time
import unittest

from harness import ServerTestCase, build_crowd

POLICY = """\
site: Audit Background Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
  audit: {description: {en: "Take part in fairness audits"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  purchase: {purposes: [personalization], retention_days: 730}
guardrails:
  frequency_cap: {max_impressions: 100000}
audit: {min_group_size: 5, sync_max_subjects: %d, placements: [home, product]}
"""

ITEMS = {}
ITEMS.update({"camp-%d" % i: ("Camp %d" % i, ["camping"]) for i in range(1, 6)})
ITEMS.update({"serum-%d" % i: ("Serum %d" % i, ["antiaging"]) for i in range(1, 6)})
CROWD = [(["camp-1", "camp-2"], ["camp-3"]), (["camp-3", "camp-4"], ["camp-5"]),
         (["serum-1", "serum-2"], ["serum-3"]), (["serum-3", "serum-4"], ["serum-5"])]

# Twelve younger people browse camping, twelve older ones serums.
PEOPLE = {("y%02d" % i): ({"age_band": "18-34", "gender": "fm"[i % 2]}, ["camp-1", "camp-2"]) for i in range(12)}
PEOPLE.update({("o%02d" % i): ({"age_band": "55+", "gender": "fm"[i % 2]}, ["serum-1", "serum-2"])
               for i in range(12)})
REQUEST = {"attributes": ["age_band", "gender"], "placement": "home", "count": 3, "seed": 11}
POLL_S = 60


def populate(server):
    """The crowd, the model, and the audited people with their consents, attributes and views."""
    shop = server.keys["shop"]
    req = server.request
    build_crowd(server, shop, ITEMS, CROWD, 4)
    events = []
    for s, (attrs, viewed) in PEOPLE.items():
        for purpose in ("personalization", "audit"):
            st, _, body = req("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": "granted"}, key=shop)
            assert st == 200, body
        events += [{"subject": s, "type": "view", "item": it} for it in viewed]
        st, _, body = req("PUT", "/v1/audit/subjects/%s/attributes" % s, attrs, key=server.keys["auditor"])
        assert st == 200, body
    st, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
    assert st == 200 and body["stored"] == len(events), body


class AuditBackgroundTest(ServerTestCase):
    policy = POLICY % 5
    keys = {"shop": "ingest,consent,catalog,recommend", "auditor": "audit", "admin": "admin"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        populate(cls.server)

    def poll(self, audit_id):
        """GET /v1/audits/{id} until it is no longer running."""
        deadline = time.monotonic() + POLL_S
        while True:
            status, _, body = self.request("GET", "/v1/audits/%s" % audit_id, key=self.key("auditor"))
            self.assertEqual(status, 200, body)
            if body["status"] != "running" or time.monotonic() > deadline:
                return body
            time.sleep(0.05)  # a client's polling interval, not a synchronisation

    def set_sync_max(self, n):
        self.server.write_policy(POLICY % n)
        before = sum("policy reloaded" in l for l in self.server.log_lines())
        self.server.signal(signal.SIGHUP)
        self.server.wait_for_log(lambda lines: sum("policy reloaded" in l for l in lines) > before)

    # ------------------------------------------------------------ background runs

    def test_a_large_audit_answers_202_and_polls_to_the_synchronous_result(self):
        auditor = self.key("auditor")
        status, headers, running = self.request("POST", "/v1/audits", REQUEST, key=auditor)
        self.assertEqual(status, 202, running)
        self.assertEqual(running["status"], "running")
        self.assertEqual(running["population"]["audited"], len(PEOPLE))
        self.assertEqual(headers["location"], "/v1/audits/%s" % running["id"])
        done = self.poll(running["id"])
        self.assertEqual(done["status"], "done", done)
        self.assertEqual(done["id"], running["id"])
        self.assertEqual(done["population"]["audited"], len(PEOPLE))
        camping = next(d for d in done["disparities"]
                       if d["attribute"] == "age_band" and d["measure"] == "exposure:camping")
        self.assertTrue(camping["flagged"], camping)  # the planted disparity, found in the background too
        status, _, html = self.request("GET", "/v1/audits/%s/report.html" % done["id"], key=auditor)
        self.assertEqual(status, 200)
        self.assertIn("<svg", html)
        # The same request and seed, answered at once when the threshold allows it, gives the same audit.
        self.set_sync_max(1000)
        try:
            status, _, sync = self.request("POST", "/v1/audits", REQUEST, key=auditor)
        finally:
            self.set_sync_max(5)
        self.assertEqual(status, 201, sync)
        self.assertEqual(int(sync["id"]), int(done["id"]) + 1)
        for key in ("disparities", "proxies", "groups", "population", "bootstrap", "flags", "attributes",
                    "placement", "channel", "count"):
            self.assertEqual(sync[key], done[key], key)

    def test_the_newest_finished_audit_feeds_the_metrics(self):
        status, _, running = self.request("POST", "/v1/audits", {"attributes": ["age_band"], "placement": "home",
                                                                 "count": 3}, key=self.key("auditor"))
        self.assertEqual(status, 202, running)
        done = self.poll(running["id"])
        self.assertEqual(done["status"], "done", done)
        lowest = min(d["ratio"] for d in done["disparities"] if d["ratio"] is not None)
        status, _, text = self.request("GET", "/metrics", key=self.key("admin"))
        line = next(l for l in text.splitlines() if l.startswith('mesura_audit_disparity_ratio{attribute="age_band"}'))
        self.assertAlmostEqual(float(line.split()[-1]), lowest, places=4)

    def test_a_stop_leaves_no_audit_running(self):
        # Audits queued or running when the server stops are stored as failed ("interrupted") by the stop
        # itself; those that finished first are done. Which of the two each is depends on timing; that
        # none is left running does not.
        ids = []
        for seed in range(4):
            status, _, body = self.request("POST", "/v1/audits", dict(REQUEST, seed=seed), key=self.key("auditor"))
            self.assertEqual(status, 202, body)
            ids.append(body["id"])
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        for audit_id in ids:
            status, _, body = self.request("GET", "/v1/audits/%s" % audit_id, key=self.key("auditor"))
            self.assertEqual(status, 200, body)
            self.assertIn(body["status"], ("done", "failed"), body)
            if body["status"] == "failed":
                self.assertEqual(body["error"]["code"], "interrupted", body)
                self.assertNotIn("disparities", body)

    # ------------------------------------------------------------ placements

    def test_a_placement_the_policy_lacks_is_refused_and_nothing_is_stored(self):
        auditor = self.key("auditor")
        status, _, first = self.request("POST", "/v1/audits", dict(REQUEST, placement="product"), key=auditor)
        self.assertEqual(status, 202, first)
        self.assertEqual(self.poll(first["id"])["placement"], "product")
        for placement in ("checkout", "Home"):
            err = self.assertError(self.request("POST", "/v1/audits", dict(REQUEST, placement=placement),
                                                key=auditor), 400, "invalid_value", "/placement")
            self.assertIn(placement, err["message"])
            self.assertIn("home, product", err["message"])
        # Without a placement the audit is of "default", which this policy does not list either.
        body = dict(REQUEST)
        del body["placement"]
        self.assertError(self.request("POST", "/v1/audits", body, key=auditor), 400, "invalid_value", "/placement")
        es = self.assertError(self.request("POST", "/v1/audits", dict(REQUEST, placement="checkout"), key=auditor,
                                           headers={"Accept-Language": "es"}), 400, "invalid_value", "/placement")
        self.assertNotEqual(es["message"], err["message"])
        # Nothing was stored by the refusals: the next audit takes the id after the last one.
        status, _, nxt = self.request("POST", "/v1/audits", REQUEST, key=auditor)
        self.assertEqual(status, 202, nxt)
        self.assertEqual(int(nxt["id"]), int(first["id"]) + 1)
        self.poll(nxt["id"])


class ScheduledAuditTest(ServerTestCase):
    """audit.schedule: the server runs the audit by itself, once every every_days, and keeps it."""
    policy = POLICY % 1000
    keys = {"shop": "ingest,consent,catalog,recommend", "auditor": "audit"}

    def test_the_server_runs_the_scheduled_audit_once_per_period(self):
        populate(self.server)
        self.server.stop()
        self.server.write_policy((POLICY % 1000).replace(
            "placements: [home, product]}",
            "placements: [home, product],\n        schedule: {every_days: 7, attributes: [age_band], "
            "placement: home, channel: app}}"))
        self.server.start()
        self.server.wait_for_log(lambda lines: any(re.search(r"audit \d+: %d people" % len(PEOPLE), l)
                                                   for l in lines))
        line = next(l for l in self.server.log_lines() if re.search(r"audit \d+: ", l))
        audit_id = re.search(r"audit (\d+): ", line).group(1)
        status, _, audit = self.request("GET", "/v1/audits/%s" % audit_id, key=self.key("auditor"))
        self.assertEqual(status, 200, audit)
        self.assertEqual(audit["status"], "done", audit)
        self.assertEqual(audit["requested_by"], "schedule")
        self.assertEqual((audit["attributes"], audit["placement"], audit["channel"]), (["age_band"], "home", "app"))
        self.assertTrue(audit["disparities"])
        # A restart within the period does not run it again: the server says when it will.
        self.server.stop()
        self.server.start()
        self.server.wait_for_log(lambda lines: any("the scheduled audit runs next at" in l for l in lines))
        self.assertFalse([l for l in self.server.log_lines() if re.search(r"audit \d+: ", l)])
        self.assertError(self.request("GET", "/v1/audits/%d" % (int(audit_id) + 1), key=self.key("auditor")),
                         404, "not_found")


class InterruptedAuditTest(ServerTestCase):
    """A record left "running" by a process that died (a crash, kill -9) is failed at the next start."""
    policy = POLICY % 5
    keys = {"auditor": "audit"}

    def test_an_audit_left_running_is_marked_interrupted_at_the_next_start(self):
        self.server.stop()
        db = sqlite3.connect(os.path.join(self.server.data, "mesura.db"))
        with db:
            db.execute("INSERT INTO audits(created_ms, doc) VALUES(?, ?)",
                       (int(time.time() * 1000), json.dumps({"status": "running", "attributes": ["age_band"]})))
        (audit_id,) = db.execute("SELECT max(id) FROM audits").fetchone()
        db.close()
        self.server.start()
        status, _, body = self.request("GET", "/v1/audits/%d" % audit_id, key=self.key("auditor"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "failed", body)
        self.assertEqual(body["error"]["code"], "interrupted", body)
        self.assertEqual(body["attributes"], ["age_band"])
        self.assertTrue(any("interrupted" in l for l in self.server.log_lines()))
        err = self.assertError(self.request("GET", "/v1/audits/%d/report.html" % audit_id, key=self.key("auditor")),
                               409, "conflict")
        self.assertIn("did not finish", err["message"])


if __name__ == "__main__":
    unittest.main()
