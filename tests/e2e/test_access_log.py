"""The access log (contract §7): every read of a person's data is listed for them, in their language,
sealed under their key and chained so that `mesura verify-log` finds an altered, removed or cut-off
entry; `mesura incident` lists the people a key read."""

import os
import shutil
import sqlite3
import subprocess
import unittest

from harness import MESURA_BIN, ServerTestCase, run_cli

POLICY = """\
site: Access Log Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
  audit: {description: {en: "Take part in fairness audits"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
categories:
  camping: {label: {en: "Camping"}}
audit: {min_group_size: 2}
"""


class AccessLogTest(ServerTestCase):
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog,recommend", "dsr": "subjects", "support-2": "subjects",
            "auditor": "audit"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shop = cls.server.keys["shop"]
        req = cls.server.request
        st, _, body = req("POST", "/v1/items", {"items": [
            {"id": "tent", "title": "Tent", "categories": ["camping"]},
            {"id": "stove", "title": "Stove", "categories": ["camping"]}]}, key=shop)
        assert st == 200, body
        for s in ("ana", "ben", "cleo", "dora", "erin"):
            st, _, body = req("PUT", "/v1/subjects/%s/consents/personalization" % s, {"status": "granted"},
                              key=shop)
            assert st == 200, body
            st, _, body = req("POST", "/v1/events", {"events": [{"subject": s, "type": "view", "item": "tent"}]},
                              key=shop)
            assert st == 200 and body["stored"] == 1, body

    def log(self, subject, key, lang=None):
        headers = {"Accept-Language": lang} if lang else None
        st, _, body = self.request("GET", "/v1/subjects/%s/access-log" % subject, key=key, headers=headers)
        self.assertEqual(st, 200, body)
        self.assertEqual(set(body), {"entries", "intact"}, body)
        self.assertIs(body["intact"], True, body)  # nothing here edits the store
        for e in body["entries"]:
            self.assertEqual(set(e), {"at", "reader", "purpose", "action", "text"}, e)
        return body["entries"]

    def test_each_read_is_one_entry(self):
        shop, dsr = self.key("shop"), self.key("dsr")
        self.assertEqual(self.log("ana", dsr), [])
        st, _, rec = self.request("POST", "/v1/recommendations", {"subject": "ana"}, key=shop)
        self.assertEqual(st, 200, rec)
        self.assertTrue(rec["personalized"], rec)
        st, _, _ = self.request("GET", "/v1/recommendations/" + rec["request_id"], key=shop)
        self.assertEqual(st, 200)
        st, _, _ = self.request("GET", "/v1/subjects/ana/why?item=stove", key=dsr)
        self.assertEqual(st, 200)
        st, _, _ = self.request("GET", "/v1/subjects/ana", key=dsr)
        self.assertEqual(st, 200)
        st, _, _ = self.request("GET", "/v1/subjects/ana/export", key=dsr)
        self.assertEqual(st, 200)
        entries = self.log("ana", dsr)
        self.assertEqual([(e["reader"], e["action"]) for e in entries],
                         [("shop", "recommend"), ("shop", "record"), ("dsr", "why"), ("dsr", "profile"),
                          ("dsr", "export")])
        self.assertEqual([e["purpose"] for e in entries],
                         ["personalization", "personalization", "data_subject_request", "data_subject_request",
                          "data_subject_request"])
        self.assertEqual(entries[0]["text"],
                         "The key \u201cshop\u201d read your history to choose recommendations for you.")
        self.assertTrue(all(e["at"].endswith("Z") for e in entries), entries)
        es = self.log("ana", dsr, "es")
        self.assertEqual(es[4]["text"], "La clave \u201cdsr\u201d export\u00f3 todos los datos que se guardan sobre ti.")
        pl = self.log("ana", dsr, "pl")
        self.assertEqual(pl[3]["text"],
                         "Klucz \u201edsr\u201d przejrza\u0142 podsumowanie przechowywanych o Tobie danych.")
        # Reading the log is not a read of the person's data: it adds nothing.
        self.assertEqual(len(self.log("ana", dsr)), 5)

    def test_non_personal_answers_read_nothing(self):
        shop, dsr = self.key("shop"), self.key("dsr")
        st, _, body = self.request("PUT", "/v1/subjects/ben/consents/personalization", {"status": "denied"},
                                   key=shop)
        self.assertEqual(st, 200, body)
        st, _, rec = self.request("POST", "/v1/recommendations", {"subject": "ben"}, key=shop)
        self.assertEqual(st, 200, rec)
        self.assertFalse(rec["personalized"], rec)
        self.assertEqual(self.log("ben", dsr), [])

    def test_own_token_reads_as_you(self):
        st, _, body = self.request("POST", "/v1/subjects/cleo/tokens", key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        tok = body["token"]
        st, _, doc = self.request("GET", "/v1/subjects/cleo/export", key=tok, headers={"Accept-Language": "es"})
        self.assertEqual(st, 200, doc)
        # The export holds the log, itself included.
        self.assertEqual([(e["reader"], e["action"]) for e in doc["access_log"]], [("you", "export")])
        self.assertEqual(doc["access_log"][0]["text"], "Exportaste todos los datos que se guardan sobre ti.")
        entries = self.log("cleo", tok)
        self.assertEqual([e["reader"] for e in entries], ["you"])
        # Another person's log stays closed to this token.
        self.assertError(self.request("GET", "/v1/subjects/ana/access-log", key=tok), 403, "forbidden")

    def test_an_audit_is_a_read(self):
        shop, auditor, dsr = self.key("shop"), self.key("auditor"), self.key("dsr")
        for s, band in (("fay", "18-34"), ("gus", "18-34"), ("hal", "55+"), ("ivy", "55+")):
            for purpose in ("personalization", "audit"):
                st, _, body = self.request("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose),
                                           {"status": "granted"}, key=shop)
                self.assertEqual(st, 200, body)
            st, _, body = self.request("POST", "/v1/events",
                                       {"events": [{"subject": s, "type": "view", "item": "tent"}]}, key=shop)
            self.assertEqual(st, 200, body)
            st, _, body = self.request("PUT", "/v1/audit/subjects/%s/attributes" % s, {"age_band": band},
                                       key=auditor)
            self.assertEqual(st, 200, body)
        st, _, body = self.request("POST", "/v1/audits", {"attributes": ["age_band"], "placement": "home"},
                                   key=auditor)
        self.assertIn(st, (200, 201), body)
        entries = self.log("fay", dsr, "pl")
        self.assertEqual([(e["reader"], e["action"], e["purpose"]) for e in entries], [("auditor", "audit", "audit")])
        self.assertEqual(entries[0]["text"],
                         "Klucz „auditor” odtworzył Twoje rekomendacje w audycie równości.")
        # An audit key reading a decision record reads it for the audit.
        st, _, rec = self.request("POST", "/v1/recommendations", {"subject": "gus"}, key=shop)
        self.assertEqual(st, 200, rec)
        st, _, _ = self.request("GET", "/v1/recommendations/" + rec["request_id"], key=auditor)
        self.assertEqual(st, 200)
        self.assertEqual([(e["reader"], e["action"], e["purpose"]) for e in self.log("gus", dsr)],
                         [("auditor", "audit", "audit"), ("shop", "recommend", "personalization"),
                          ("auditor", "record", "audit")])

    def test_scope_and_unknown_subject(self):
        self.assertError(self.request("GET", "/v1/subjects/ana/access-log", key=self.key("shop")), 403, "forbidden")
        self.assertError(self.request("GET", "/v1/subjects/nobody/access-log", key=self.key("dsr")), 404,
                         "not_found")

    def test_erasure_removes_the_log(self):
        dsr = self.key("dsr")
        st, _, _ = self.request("GET", "/v1/subjects/dora", key=dsr)
        self.assertEqual(st, 200)
        self.assertEqual(len(self.log("dora", dsr)), 1)
        st, _, body = self.request("DELETE", "/v1/subjects/dora", key=dsr)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["receipt"]["removed"]["access_log"], 1, body)
        self.assertError(self.request("GET", "/v1/subjects/dora/access-log", key=dsr), 404, "not_found")
        p = run_cli("verify-log", "--data", self.server.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_incident_lists_the_people_a_key_read(self):
        other = self.key("support-2")
        for s in ("erin", "ana"):
            st, _, _ = self.request("GET", "/v1/subjects/%s" % s, key=other)
            self.assertEqual(st, 200)
        self.log("erin", self.key("dsr"))  # the server's writer has written what was queued
        p = run_cli("incident", "--data", self.server.data, "--key", "support-2", "--since", "2020-01-01T00:00:00Z")
        lines = p.stdout.split()
        self.assertEqual(len(lines), 2, p.stdout)
        self.assertTrue(all(len(l) == 16 and int(l, 16) >= 0 for l in lines), lines)
        self.assertNotIn("erin", p.stdout)
        self.assertNotIn("ana", p.stdout)
        # Since a time after the reads: nobody.
        p = run_cli("incident", "--data", self.server.data, "--key", "support-2", "--since", "2999-01-01T00:00:00Z")
        self.assertEqual(p.stdout, "")
        # Revealing the ids takes a confirmation.
        args = [MESURA_BIN, "incident", "--data", self.server.data, "--key", "support-2", "--since",
                "2020-01-01T00:00:00Z", "--reveal"]
        p = subprocess.run(args, input="no\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        p = subprocess.run(args, input="yes\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(l.split("\t")[1] for l in p.stdout.splitlines()), ["ana", "erin"])

    # ------------------------------------------------------------ verify-log

    def copy_store(self):
        """A consistent copy of the data directory, to tamper with."""
        dst = os.path.join(self.server.tmp, "copy-%d" % len(os.listdir(self.server.tmp)))
        os.mkdir(dst, 0o700)
        for name in ("mesura.db", "keys.db"):
            src = sqlite3.connect(os.path.join(self.server.data, name))
            out = sqlite3.connect(os.path.join(dst, name))
            src.backup(out)
            out.close()
            src.close()
        for name in ("master.key", "mesura.yaml", "erasures.journal"):
            if os.path.exists(os.path.join(self.server.data, name)):
                shutil.copy2(os.path.join(self.server.data, name), os.path.join(dst, name))
        os.chmod(os.path.join(dst, "master.key"), 0o600)
        return dst

    def tampered(self, sql):
        """verify-log's exit code and output after running sql on a copy."""
        dst = self.copy_store()
        db = sqlite3.connect(os.path.join(dst, "mesura.db"))
        with db:
            db.execute(sql, (self.erin_sid,))
        db.close()
        p = run_cli("verify-log", "--data", dst, check=False)
        return p.returncode, p.stdout

    def test_verify_log_finds_the_first_broken_entry(self):
        dsr = self.key("dsr")
        for _ in range(3):
            st, _, _ = self.request("GET", "/v1/subjects/erin", key=dsr)
            self.assertEqual(st, 200)
        self.log("erin", dsr)  # written
        p = run_cli("verify-log", "--data", self.server.data, check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith("intact:"), p.stdout)
        copy = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.copy_store(), "mesura.db"), uri=True)
        n_by_subject = copy.execute("SELECT subject, n FROM access_heads ORDER BY n DESC").fetchall()
        copy.close()
        self.erin_sid = n_by_subject[0][0]
        n = n_by_subject[0][1]
        self.assertGreaterEqual(n, 3)
        rc, out = self.tampered("UPDATE access_log SET reader = 'someone' WHERE subject = ? AND seq = 2")
        self.assertEqual((rc, out.strip()), (1, "broken: subject #%d, entry 2: This entry was altered." % self.erin_sid))
        rc, out = self.tampered("UPDATE access_log SET ts_ms = ts_ms + 1 WHERE subject = ? AND seq = 1")
        self.assertEqual(rc, 1, out)
        self.assertIn("entry 1: This entry was altered.", out)
        rc, out = self.tampered("DELETE FROM access_log WHERE subject = ? AND seq = 2")
        self.assertEqual((rc, out.strip()), (1, "broken: subject #%d, entry 2: This entry was removed." % self.erin_sid))
        rc, out = self.tampered("DELETE FROM access_log WHERE subject = ? AND seq = (SELECT max(seq) FROM access_log"
                                " WHERE subject = ?1)")
        self.assertEqual(rc, 1, out)
        self.assertIn("entry %d: Entries are missing at the end" % n, out)
        rc, out = self.tampered("DELETE FROM access_log WHERE subject = ?")
        self.assertEqual(rc, 1, out)
        self.assertIn("entry 1: Entries are missing at the end", out)
        rc, out = self.tampered("DELETE FROM access_heads WHERE subject = ?")
        self.assertEqual(rc, 1, out)
        self.assertIn("entries but no head", out)
        rc, out = self.tampered("UPDATE access_heads SET n = n - 1 WHERE subject = ?")
        self.assertEqual(rc, 1, out)
        self.assertIn("head of this log was altered", out)


if __name__ == "__main__":
    unittest.main()
