"""Erasure (contract §7, DELETE /v1/subjects/{s}): the person is gone from every API at once, their
tokens stop working, their data at rest is unreadable, the receipt is signed and says what went
(with no personal data), and nobody else is touched."""

import base64
import os
import threading
import time
import unittest

import json
import re
import tempfile

from harness import ServerTestCase, build_crowd, run_cli
from test_consent import openssl_verify

POLICY = """\
site: Erasure Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  purchase: {purposes: [personalization], retention_days: 730, properties: [price, note]}
  dismiss: {purposes: [personalization], retention_days: 365}
categories:
  camping: {label: {en: "Camping"}}
  kitchen: {label: {en: "Kitchen"}}
guardrails:
  frequency_cap: {max_impressions: 1000, window_hours: 72}
"""

ITEMS = {"tent": ("Tent", ["camping"]), "stove": ("Stove", ["camping", "kitchen"]),
         "lantern": ("Lantern", ["camping"]), "kettle": ("Kettle", ["kitchen"]), "pan": ("Pan", ["kitchen"])}
CROWD = [(["tent"], ["stove", "lantern"]), (["kettle"], ["pan"])]
RECEIPT_KEYS = {"receipt_id", "action", "pseudonym", "ts", "recorded_by", "removed", "model", "signature"}
# What only the erased person's data holds: searched for in every file of the data directory and in
# the server's log after the erasure, as text, base64 and hex.
ALICE = "alice-7f3c9e21"
SECRET_NOTE = "zanahoria-morada-8841"
SECRET_EVENT = "evt-" + ALICE  # the event_id person() gives her purchase


def forms(text):
    raw = text.encode("utf-8")
    return [raw, base64.b64encode(raw), raw.hex().encode(), raw.hex().upper().encode()]


class People:
    """Making shoppers with something of everything held about them."""

    def grant(self, s):
        st, _, body = self.request("PUT", "/v1/subjects/%s/consents/personalization" % s,
                                   {"status": "granted", "source": "banner"}, key=self.key("shop"))
        self.assertEqual(st, 200, body)

    def events(self, evs):
        st, _, body = self.request("POST", "/v1/events", {"events": evs}, key=self.key("shop"))
        self.assertEqual(st, 200, body)
        return body

    def person(self, s, note="ordinary"):
        """A shopper with consent, events (one with a property), preferences, answers and a token."""
        self.grant(s)
        body = self.events([{"subject": s, "type": "view", "item": "tent"},
                            {"subject": s, "type": "purchase", "item": "tent", "event_id": "evt-" + s,
                             "properties": {"price": 129.5, "note": note}}])
        self.assertEqual(body["stored"], 2, body)
        st, _, body = self.request("PATCH", "/v1/subjects/%s/preferences" % s, {"add": {"interests": ["kitchen"]}},
                                   key=self.key("shop"))
        self.assertEqual(st, 200, body)
        for channel in ("web", "email"):
            st, _, body = self.request("POST", "/v1/recommendations", {"subject": s, "channel": channel},
                                       key=self.key("rec"))
            self.assertEqual(st, 200, body)
        st, _, body = self.request("POST", "/v1/subjects/%s/tokens" % s, key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        return body["token"]

    def export(self, s, key=None):
        return self.request("GET", "/v1/subjects/%s/export" % s, key=key or self.key("dsr"))



class ErasureTest(People, ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "shop": "ingest,consent,catalog", "rec": "recommend", "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        build_crowd(cls.server, cls.server.keys["shop"], ITEMS, CROWD, 12)

    # ------------------------------------------------------------ tests

    def test_erasure_forgets_the_person_everywhere_and_no_one_else(self):
        token = self.person(ALICE, note=SECRET_NOTE)
        self.person("bob-erasure")
        bob_before = self.export("bob-erasure")[2]
        st, _, body = self.request("DELETE", "/v1/subjects/" + ALICE, key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        self.assertEqual(set(body), {"erased", "receipt"})
        self.assertIs(body["erased"], True)
        receipt = body["receipt"]
        self.assertEqual(set(receipt), RECEIPT_KEYS, receipt)
        self.assertEqual(receipt["action"], "erasure")
        self.assertEqual(receipt["recorded_by"], "dsr")
        removed = receipt["removed"]
        self.assertEqual(removed["events"], 2)  # and the dismiss-free preferences patch stored none
        self.assertEqual(removed["consents"], 1)
        self.assertEqual(removed["preferences"], 1)
        self.assertEqual(removed["tokens"], 1)
        self.assertGreaterEqual(removed["decisions"], 2)  # written: the export of bob above flushed them
        self.assertIs(removed["key"], True)
        # What the model did depends on which model is live (ModelForgetsTest and test_unlearning
        # pin each case down): a loaded one asks a retraining, the server's own unlearns, and one
        # trained before her events never carried her. The receipt must say which, consistently.
        model = receipt["model"]
        self.assertIn(model["contribution"], ("unlearned", "retraining", "none"), receipt)
        self.assertIs(model["exact"], model["contribution"] != "retraining", receipt)
        if model["contribution"] == "none":
            self.assertEqual(model["events"], 0, receipt)
        self.assertNotIn(ALICE, str(receipt))
        pk = self.request("GET", "/v1/receipts/public-key")[2]
        ok = openssl_verify(pk["public_key"], receipt)
        if ok is not None:
            self.assertTrue(ok, "openssl rejected the erasure receipt's signature")
            self.assertFalse(openssl_verify(pk["public_key"], dict(receipt, recorded_by="someone")))
        # Nothing answers for her any more, by key or by her own token.
        dsr = self.key("dsr")
        for path in ("", "/export", "/consents", "/preferences", "/why?item=stove"):
            consent_scope = path in ("/consents", "/preferences")
            st, _, body = self.request("GET", "/v1/subjects/" + ALICE + path,
                                       key=self.key("shop") if consent_scope else dsr)
            if consent_scope:  # an unknown subject reads as "nothing held"
                self.assertIn(st, (200, 404), body)
                if st == 200:
                    self.assertNotIn("granted", str(body))
                    self.assertNotIn("kitchen", str(body))
            else:
                self.assertError((st, _, body), 404, "not_found")
        self.assertError(self.request("GET", "/v1/subjects/" + ALICE, key=token), 401, "unauthorized")
        self.assertError(self.request("DELETE", "/v1/subjects/" + ALICE, key=dsr), 404, "not_found")
        st, _, reply = self.request("POST", "/v1/recommendations", {"subject": ALICE}, key=self.key("rec"))
        self.assertEqual(st, 200, reply)
        self.assertFalse(reply["personalized"], reply)
        # Bob is untouched.
        bob_after = self.export("bob-erasure")[2]
        self.assertEqual(bob_after["events"], bob_before["events"])
        self.assertEqual(bob_after["consents"], bob_before["consents"])
        self.assertEqual(bob_after["preferences"], bob_before["preferences"])
        # Nothing of hers at rest or in the log, in any form.
        self.server.wait_for_log(lambda lines: any("erased subject" in l for l in lines))
        for name in sorted(os.listdir(self.server.data)):
            with open(os.path.join(self.server.data, name), "rb") as f:
                blob = f.read()
            for needle in (ALICE, SECRET_NOTE, SECRET_EVENT):
                for form in forms(needle):
                    self.assertNotIn(form, blob, "%r found in %s" % (form, name))
        log = "\n".join(self.server.log_lines()).encode("utf-8")
        for needle in (ALICE, SECRET_NOTE):
            for form in forms(needle):
                self.assertNotIn(form, log)

    def test_the_person_may_erase_themselves_and_only_themselves(self):
        erin = self.person("erin-erasure")
        frank = self.person("frank-erasure")
        self.assertError(self.request("DELETE", "/v1/subjects/erin-erasure", key=frank), 403, "forbidden")
        self.assertError(self.request("DELETE", "/v1/subjects/erin-erasure", key=self.key("rec")), 403,
                         "forbidden")
        self.assertError(self.request("DELETE", "/v1/subjects/erin-erasure"), 401, "unauthorized")
        self.assertEqual(self.export("erin-erasure")[0], 200)  # none of that touched her
        st, _, body = self.request("DELETE", "/v1/subjects/erin-erasure", key=erin)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["receipt"]["recorded_by"], "subject-token")
        self.assertError(self.request("GET", "/v1/subjects/erin-erasure", key=erin), 401, "unauthorized")
        self.assertEqual(self.request("GET", "/v1/subjects/frank-erasure", key=frank)[0], 200)

    def test_coming_back_starts_afresh_and_a_burst_during_erasure_keeps_nothing_old(self):
        self.person("dave-erasure")
        stop = threading.Event()
        sent = []

        def burst():
            n = 0
            while not stop.is_set():
                n += 1
                self.server.request("POST", "/v1/events", {"events": [
                    {"subject": "dave-erasure", "type": "view", "item": "kettle", "event_id": "burst-%d" % n}]},
                    key=self.key("shop"))
                sent.append(n)

        t = threading.Thread(target=burst)
        t.start()
        try:
            deadline = time.time() + 30
            while len(sent) < 3 and time.time() < deadline:  # the burst is under way
                time.sleep(0.01)
            st, _, body = self.request("DELETE", "/v1/subjects/dave-erasure", key=self.key("dsr"))
            n = len(sent)
            while len(sent) < n + 3 and time.time() < deadline:  # and goes on after the erasure
                time.sleep(0.01)
        finally:
            stop.set()
            t.join()
        self.assertEqual(st, 200, body)
        self.assertGreater(len(sent), 1)
        # After the erasure he is a new, consentless subject: nothing of the burst was kept.
        st, _, doc = self.export("dave-erasure")
        if st == 200:
            self.assertEqual(doc["events"], [], doc)
            self.assertEqual(doc["consents"]["history"], [], doc)
        else:
            self.assertError((st, _, doc), 404, "not_found")
        # Coming back with consent starts afresh.
        self.grant("dave-erasure")
        self.assertEqual(self.events([{"subject": "dave-erasure", "type": "view", "item": "pan"}])["stored"], 1)
        doc = self.export("dave-erasure")[2]
        self.assertEqual([(e["type"], e["item"]) for e in doc["events"]], [("view", "pan")])
        self.assertEqual(len(doc["consents"]["history"]), 1)

    def test_bulk_erasure_from_the_command_line_while_the_server_runs(self):
        tokens = {s: self.person(s) for s in ("hal-erasure", "ivy-erasure", "jon-erasure")}
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("hal-erasure\n\nivy-erasure\r\nnobody-erasure\nbad\tid\n")
            path = f.name
        try:
            p = run_cli("erase", "--data", self.server.data, path, check=False)
        finally:
            os.unlink(path)
        self.assertEqual(p.returncode, 1, p.stderr)  # one line was refused
        receipts = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(len(receipts), 2, p.stdout)
        for r in receipts:
            self.assertEqual(set(r), RECEIPT_KEYS)
            self.assertEqual(r["removed"]["events"], 2)
            self.assertEqual(r["recorded_by"], "mesura-erase")
        self.assertIn("2 erased (4 events), 1 unknown, 1 refused", p.stderr)
        self.assertIn("line 5", p.stderr)
        self.assertNotIn("bad", p.stderr)  # a refused line is named by number, never by its text
        # The running server answers for neither any more; jon is untouched.
        time.sleep(1.1)  # another process's revocations reach the server's key cache within a second
        for s in ("hal-erasure", "ivy-erasure"):
            self.assertError(self.request("GET", "/v1/subjects/" + s, key=self.key("dsr")), 404, "not_found")
            self.assertError(self.request("GET", "/v1/subjects/" + s, key=tokens[s]), 401, "unauthorized")
        self.assertEqual(self.request("GET", "/v1/subjects/jon-erasure", key=tokens["jon-erasure"])[0], 200)
        p = run_cli("erase", "--data", self.server.data, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)  # nothing on standard input: nothing to do


class ModelForgetsTest(People, ServerTestCase):
    """On a server of its own, so that no retraining asked by another test is running."""
    policy = POLICY
    keys = ErasureTest.keys

    def test_the_model_forgets_the_person(self):
        """A model trained by `mesura train` is loaded from the store and cannot unlearn: erasing
        someone it learnt from asks a retraining; the server's own model then forgets people at once."""
        build_crowd(self.server, self.key("shop"), ITEMS, CROWD, 4)
        self.person("gina-erasure")
        self.person("hugo-erasure")
        model_id = re.search(r"Model (\d+) trained", run_cli("train", "--data", self.server.data).stdout).group(1)
        self.server.wait_for_log(lambda lines: any("model %s is live" % model_id in l for l in lines), timeout=60)
        lives = len([l for l in self.server.log_lines() if " is live" in l])
        st, _, body = self.request("DELETE", "/v1/subjects/gina-erasure", key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        self.assertEqual(body["receipt"]["model"]["contribution"], "retraining", body)
        self.assertIs(body["receipt"]["model"]["exact"], False)
        self.server.wait_for_log(lambda lines: len([l for l in lines if " is live" in l]) > lives, timeout=60)
        st, _, body = self.request("DELETE", "/v1/subjects/hugo-erasure", key=self.key("dsr"))
        self.assertEqual(st, 200, body)
        model = body["receipt"]["model"]
        self.assertEqual((model["contribution"], model["events"], model["exact"]), ("unlearned", 2, True), model)


class ErasureAndBackupsTest(ServerTestCase):
    """A backup made before an erasure holds nothing readable of the person, and restored, does not
    bring them back."""
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog", "dsr": "subjects"}

    def test_a_backup_from_before_the_erasure_never_brings_the_person_back(self):
        shop, dsr = self.key("shop"), self.key("dsr")
        st, _, body = self.request("POST", "/v1/items", {"items": [{"id": i, "title": t, "categories": c}
                                                                    for i, (t, c) in ITEMS.items()]}, key=shop)
        self.assertEqual(st, 200, body)
        for s in (ALICE, "lou-backup"):
            self.assertEqual(self.request("PUT", "/v1/subjects/%s/consents/personalization" % s,
                                          {"status": "granted"}, key=shop)[0], 200)
            st, _, body = self.request("POST", "/v1/events", {"events": [
                {"subject": s, "type": "purchase", "item": "tent", "event_id": "evt-" + s,
                 "properties": {"price": 12, "note": SECRET_NOTE if s == ALICE else "plain"}}]}, key=shop)
            self.assertEqual(body["stored"], 1, body)
        backup = os.path.join(self.server.tmp, "before-erasure.db")
        run_cli("backup", "--data", self.server.data, backup)
        st, _, body = self.request("DELETE", "/v1/subjects/" + ALICE, key=dsr)
        self.assertEqual(st, 200, body)
        with open(backup, "rb") as f:
            blob = f.read()
        for needle in (ALICE, SECRET_NOTE, SECRET_EVENT):
            for form in forms(needle):
                self.assertNotIn(form, blob, "%r in the backup" % form)
        self.server.stop()
        p = run_cli("restore", "--data", self.server.data, backup, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("the erasure journal removed 1 erased person again", p.stdout + p.stderr)
        self.server.start()
        self.assertError(self.request("GET", "/v1/subjects/" + ALICE, key=dsr), 404, "not_found")
        doc = self.request("GET", "/v1/subjects/lou-backup/export", key=dsr)[2]
        self.assertEqual([e["event_id"] for e in doc["events"]], ["evt-lou-backup"])


if __name__ == "__main__":
    unittest.main()
