"""`mesura import` (contract §1): counts, bad line numbers, the consent gate, CSV files,
and an import while the server runs on the same data directory."""

import json
import os
import re
import time
import unittest

from harness import ServerTestCase, run_cli

POLICY = """\
site: Import Test
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 3650, properties: [duration_s]}
  purchase: {purposes: [personalization], retention_days: 3650, properties: [price]}
categories:
  camping: {}
  baby: {sensitive: true}
"""


def counts(stdout):
    out = {}
    for line in stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = int(v)
    return out


def bad_lines(stderr):
    return sorted(int(m.group(1)) for m in re.finditer(r"line (\d+):", stderr))


class ImportTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin"}

    def write(self, name, lines):
        path = os.path.join(self.server.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            for line in lines:
                f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        return path

    def export(self, subject):
        return self.request("GET", "/v1/subjects/%s/export" % subject, key=self.key("admin"))

    def test_jsonl(self):
        lines = [
            {"kind": "item", "id": "j-tent", "title": "Tent", "categories": ["camping"]},
            {"kind": "item", "id": "j-crib", "title": {"en": "Crib"}, "categories": ["baby"]},
            {"kind": "item", "id": "j-bad", "title": "X", "categories": ["no\u0007pe"]},     # 3: bad category
            {"kind": "consent", "subject": "j-u1", "purpose": "personalization", "status": "granted",
             "ts": "2024-05-01T10:00:00Z", "source": "crm", "policy_version": "2024-05"},
            {"kind": "event", "subject": "j-u1", "type": "view", "item": "j-tent", "event_id": "v1",
             "ts": "2024-05-02T10:00:00Z", "properties": {"duration_s": 3, "email": "x@y"}},
            {"kind": "event", "subject": "j-u1", "type": "purchase", "item": "j-crib"},
            {"kind": "event", "subject": "j-u2", "type": "view", "item": "j-tent"},           # 7: no consent
            "this is not json",                                                                # 8
            {"kind": "event", "subject": "j-u1", "type": "teleport", "item": "j-tent"},       # 9
            "",
            {"kind": "recipe", "id": "x"},                                                     # 11
            {"kind": "consent", "subject": "j-u1", "purpose": "nope", "status": "granted"},   # 12
            {"kind": "consent", "subject": "j-u1", "purpose": "personalization"},             # 13: no status
            {"kind": "item", "title": "no id"},                                                # 14
        ]
        p = run_cli("import", "--data", self.server.data, self.write("a.jsonl", lines))
        self.assertEqual(p.returncode, 0, p.stderr)
        n = counts(p.stdout)
        self.assertEqual(n["lines"], 14)
        self.assertEqual(n["items"], 2)
        self.assertEqual(n["events stored"], 2)
        self.assertEqual(n["events not stored"], 1)
        self.assertEqual(n["events not stored for lack of consent"], 1)
        self.assertEqual(n["consents"], 1)
        self.assertEqual(n["bad lines"], 7)
        self.assertEqual(bad_lines(p.stderr), [3, 8, 9, 11, 12, 13, 14])
        self.assertIn("line 3: ", p.stderr)
        self.assertRegex(p.stderr, r"line 3: .*invalid_id at /categories/0")
        self.assertRegex(p.stderr, r"line 9: .*unknown_event_type at /type")

        status, _, doc = self.export("j-u1")
        self.assertEqual(status, 200, doc)
        self.assertEqual(len(doc["events"]), 2)
        view = next(e for e in doc["events"] if e["type"] == "view")
        self.assertEqual(view["event_id"], "v1")
        self.assertEqual(view["properties"], {"duration_s": 3})  # minimisation applies
        receipt = doc["consents"]["history"][0]
        self.assertEqual(receipt["recorded_by"], "import")
        self.assertEqual(receipt["source"], "crm")
        self.assertEqual(receipt["policy_version"], "2024-05")
        self.assertTrue(receipt["ts"].startswith("2024-05-01T10:00:00"))
        # The consent gate: nothing identifying was kept for j-u2.
        self.assertError(self.export("j-u2"), 404, "not_found")
        self.assertEqual(self.request("GET", "/v1/items/j-crib", key=self.key("admin"))[0], 200)

    def test_order_consent_gates_later_events_only(self):
        lines = [
            {"kind": "event", "subject": "o-u", "type": "view", "item": "x"},     # before any consent
            {"kind": "consent", "subject": "o-u", "purpose": "personalization", "status": "granted"},
            {"kind": "event", "subject": "o-u", "type": "view", "item": "y"},
            {"kind": "consent", "subject": "o-u", "purpose": "personalization", "status": "denied"},
            {"kind": "event", "subject": "o-u", "type": "view", "item": "z"},
        ]
        p = run_cli("import", "--data", self.server.data, self.write("o.jsonl", lines))
        n = counts(p.stdout)
        self.assertEqual(n["consents"], 2)
        self.assertEqual(n["events stored"], 1)
        self.assertEqual(n["events not stored"], 2)
        status, _, doc = self.export("o-u")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["events"], [])  # the withdrawal purged what was stored for it
        self.assertEqual([r["status"] for r in doc["consents"]["history"]], ["granted", "denied"])

    def test_csv(self):
        run_cli("import", "--data", self.server.data, self.write("c.jsonl", [
            {"kind": "consent", "subject": "c-u1", "purpose": "personalization", "status": "granted"}]))
        path = self.write("events.csv", [
            "\ufeffsubject,type,item,ts,channel,source,event_id",
            "c-u1,view,tent,1714557600000,web,first_party,c-e1",
            '"c-u1",purchase,"crib, large",2024-05-01T10:00:00Z,app,,',
            "c-u2,view,tent,,,,",                           # no consent
            "c-u1,view,tent",                               # 5: too few columns
            'c-u1,view,"unterminated,,,,',                  # 6
            "c-u1,fly,tent,,,,",                            # 7: unknown type
            "c-u1,view,tent,2999-01-01T00:00:00Z,,,",       # 8: in the future
        ])
        p = run_cli("import", "--data", self.server.data, path)
        self.assertEqual(p.returncode, 0, p.stderr)
        n = counts(p.stdout)
        self.assertEqual(n["events stored"], 2)
        self.assertEqual(n["events not stored"], 1)
        self.assertEqual(n["bad lines"], 4)
        self.assertEqual(bad_lines(p.stderr), [5, 6, 7, 8])
        self.assertRegex(p.stderr, r"line 8: .*ts_in_future")
        status, _, doc = self.export("c-u1")
        items = sorted(e["item"] for e in doc["events"])
        self.assertEqual(items, ["crib, large", "tent"])
        self.assertIn("c-e1", [e["event_id"] for e in doc["events"]])
        purchase = next(e for e in doc["events"] if e["type"] == "purchase")
        self.assertEqual(purchase["channel"], "app")

    def test_csv_bad_header(self):
        path = self.write("bad.csv", ["who,what", "a,b"])
        p = run_cli("import", "--data", self.server.data, path, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)  # a malformed file, not a usage error
        self.assertIn("line 1", p.stderr)

    def test_batches_while_serving(self):
        lines = [{"kind": "consent", "subject": "b-%d" % i, "purpose": "personalization", "status": "granted"}
                 for i in range(20)]
        lines += [{"kind": "event", "subject": "b-%d" % (i % 20), "type": "view", "item": "it-%d" % (i % 50)}
                  for i in range(12000)]
        lines += [{"kind": "item", "id": "bi-%05d" % i, "title": "T"} for i in range(6000)]
        p = run_cli("import", "--data", self.server.data, self.write("big.jsonl", lines))
        n = counts(p.stdout)
        self.assertEqual((n["events stored"], n["items"], n["bad lines"]), (12000, 6000, 0))
        status, _, body = self.request("GET", "/v1/subjects/b-3", key=self.key("admin"))
        self.assertEqual(body["events"]["total"], 600)
        self.assertEqual(self.request("GET", "/v1/items/bi-05999", key=self.key("admin"))[0], 200)

    def test_catalog_import_reaches_the_running_server(self):
        """Items imported by another process are served within seconds, and an item the import marks
        unavailable stops being served (contract §6: unavailable items are never served)."""
        admin = self.key("admin")
        status, _, _ = self.request("PUT", "/v1/items/live-1", body={"title": "Crib", "categories": ["baby"]},
                                    key=admin)
        self.assertEqual(status, 200)

        def served():
            status, _, body = self.request("POST", "/v1/recommendations",
                                           body={"count": 100, "categories": ["baby"]}, key=admin)
            self.assertEqual(status, 200, body)
            return {i["item"] for i in body["items"]}

        def eventually(cond, what):
            deadline = time.monotonic() + 10
            while not cond():
                if time.monotonic() > deadline:
                    self.fail("not within 10 s: " + what)
                time.sleep(0.1)

        self.assertIn("live-1", served())
        run_cli("import", "--data", self.server.data, self.write("live.jsonl", [
            {"kind": "item", "id": "live-2", "title": "Stroller", "categories": ["baby"]}]))
        eventually(lambda: "live-2" in served(), "an imported item is served")
        run_cli("import", "--data", self.server.data, self.write("gone.jsonl", [
            {"kind": "item", "id": "live-1", "title": "Crib", "categories": ["baby"], "available": False}]))
        eventually(lambda: "live-1" not in served(), "an item imported as unavailable stops being served")
        self.assertIn("live-2", served())

    def test_usage(self):
        self.assertEqual(run_cli("import", "--data", self.server.data, check=False).returncode, 2)
        self.assertEqual(run_cli("import", "x.jsonl", check=False).returncode, 2)
        p = run_cli("import", "--data", self.server.data, os.path.join(self.server.tmp, "missing.jsonl"),
                    check=False)
        self.assertEqual(p.returncode, 1)
        p = run_cli("import", "--data", self.server.data, self.write("allbad.jsonl", ["nope"]), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 1:", p.stderr)


if __name__ == "__main__":
    unittest.main()
