"""End-to-end tests of consents and preferences (contract §5) through HTTP.

One server for the file, over the example policy that `mesura init` writes (personalization with
`gpc: ignored`, ads_retargeting with `gpc: honored`). Covers opt-in, the receipt and its offline
verification (with `openssl pkeyutl`, as a shopper or a regulator would: skipped with a message when
openssl is absent), every kind of bad input, Global Privacy Control (the 409 conflict, the confirmed
grant over GPC, an override on ingestion recorded once), withdrawal (use stops, data kept only for the
purpose is purged), preferences, the subject's own token, and that no file of the data directory holds
a subject id, a consent source or a declared value in plain text.
"""

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import ServerTestCase

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RECEIPT_KEYS = {"receipt_id", "subject", "purpose", "status", "ts", "policy_version", "source", "recorded_by",
                "signature"}
# SubjectPublicKeyInfo of an Ed25519 key, before the raw 32 bytes (RFC 8410).
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def canonical(receipt):
    """RFC 8785 canonical JSON of a receipt without its signature (its keys are ASCII and its values
    strings and booleans, for which sorted keys and compact separators are the whole rule)."""
    body = {k: v for k, v in receipt.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def openssl_verify(public_key_b64, receipt):
    """True when openssl accepts the receipt's signature; None when openssl is not installed."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None
    der = ED25519_SPKI_PREFIX + base64.b64decode(public_key_b64)
    pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der) + b"\n-----END PUBLIC KEY-----\n"
    tmp = tempfile.mkdtemp(prefix="mesura-receipt-")
    try:
        files = {"key.pem": pem, "msg": canonical(receipt), "sig": base64.b64decode(receipt["signature"])}
        for name, data in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        p = subprocess.run([openssl, "pkeyutl", "-verify", "-pubin", "-inkey", os.path.join(tmp, "key.pem"),
                            "-rawin", "-in", os.path.join(tmp, "msg"), "-sigfile", os.path.join(tmp, "sig")],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0 and "Signature Verification Failure" not in p.stdout + p.stderr:
            raise AssertionError("openssl could not run the check: " + p.stderr.strip())
        return p.returncode == 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def subj(subject):
    """The path of a subject's resource: ids are percent-encoded in URLs."""
    return "/v1/subjects/" + urllib.parse.quote(subject, safe="")


def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(6))


class ConsentTest(ServerTestCase):
    keys = {"brand": "consent", "shop": "ingest", "dsr": "subjects", "reader": "catalog"}

    # ------------------------------------------------------------ helpers

    def put_consent(self, subject, purpose, body, key="brand", headers=None):
        return self.request("PUT", subj(subject) + "/consents/%s" % purpose, body,
                            key=self.key(key) if key else None, headers=headers)

    def decide(self, subject, purpose, status, headers=None, **extra):
        body = dict(status=status, **extra)
        code, _, receipt = self.put_consent(subject, purpose, body, headers=headers)
        self.assertEqual(code, 200, receipt)
        return receipt

    def consents(self, subject, key="brand"):
        code, _, body = self.request("GET", subj(subject) + "/consents", key=self.key(key))
        self.assertEqual(code, 200, body)
        return body

    def events(self, events, gpc=False):
        headers = {"Sec-GPC": "1"} if gpc else None
        code, _, body = self.request("POST", "/v1/events", {"events": events}, key=self.key("shop"),
                                     headers=headers)
        self.assertEqual(code, 200, body)
        self.assertEqual(body["errors"], [], body)
        return body

    def exported_events(self, subject):
        code, _, body = self.request("GET", subj(subject) + "/export", key=self.key("dsr"))
        self.assertEqual(code, 200, body)
        return body["events"]

    def assertReceipt(self, r, subject, purpose, status, source, recorded_by):
        self.assertTrue(RECEIPT_KEYS <= set(r), r)
        self.assertTrue(r["receipt_id"].startswith("rcp_"), r)
        self.assertEqual((r["subject"], r["purpose"], r["status"], r["source"], r["recorded_by"]),
                         (subject, purpose, status, source, recorded_by), r)
        self.assertRegex(r["ts"], RFC3339)
        self.assertEqual(len(base64.b64decode(r["signature"], validate=True)), 64, r)

    # ------------------------------------------------------------ opt-in and the receipt

    def test_opt_in_default(self):
        subject = unique("optin")
        state = self.consents(subject)  # never seen: not a 404
        self.assertEqual(set(state), {"purposes", "history"})
        self.assertEqual(state["history"], [])
        self.assertTrue({"personalization", "ads_retargeting"} <= set(state["purposes"]), state)
        for name, p in state["purposes"].items():
            self.assertEqual(p, {"status": "denied", "since": None}, name)
        # Preferences of an unknown subject: empty, not a 404.
        code, _, prefs = self.request("GET", subj(subject) + "/preferences", key=self.key("brand"))
        self.assertEqual((code, prefs), (200, {"interests": [], "exclude_categories": [], "declared": {}}))

    def test_receipt_and_history(self):
        subject = unique("rcpt")
        r1 = self.decide(subject, "personalization", "granted", source="banner", policy_version="2026-11")
        self.assertReceipt(r1, subject, "personalization", "granted", "banner", "brand")
        self.assertEqual(r1["policy_version"], "2026-11")
        self.assertNotIn("over_gpc", r1)
        r2 = self.decide(subject, "ads_retargeting", "denied")
        self.assertReceipt(r2, subject, "ads_retargeting", "denied", "api", "brand")  # source defaults to api
        self.assertTrue(r2["policy_version"])  # the policy's version by default
        r3 = self.decide(subject, "personalization", "denied", source="dashboard")
        self.assertEqual(len({r1["receipt_id"], r2["receipt_id"], r3["receipt_id"]}), 3)

        state = self.consents(subject)
        self.assertEqual(state["history"], [r1, r2, r3])  # oldest first, exactly as signed
        self.assertEqual(state["purposes"]["personalization"], {"status": "denied", "since": r3["ts"]})
        self.assertEqual(state["purposes"]["ads_retargeting"], {"status": "denied", "since": r2["ts"]})
        r4 = self.decide(subject, "personalization", "granted")
        state = self.consents(subject)
        self.assertEqual(state["history"][-1], r4)
        self.assertEqual(state["purposes"]["personalization"], {"status": "granted", "since": r4["ts"]})

    def test_signature_verifies_offline(self):
        code, _, pk = self.request("GET", "/v1/receipts/public-key")  # no key needed
        self.assertEqual(code, 200, pk)
        self.assertEqual(pk["alg"], "Ed25519")
        self.assertEqual(len(base64.b64decode(pk["public_key"], validate=True)), 32)
        subject = unique("sig-zażółć")
        receipt = self.decide(subject, "personalization", "granted", source="banner", policy_version="2026-11")
        stored = self.consents(subject)["history"][0]
        ok = openssl_verify(pk["public_key"], receipt)
        if ok is None:
            self.skipTest("openssl is not installed: the Ed25519 receipt signature was not checked offline")
        self.assertTrue(ok, "openssl rejected the receipt's signature: %r" % receipt)
        self.assertTrue(openssl_verify(pk["public_key"], stored))
        forged = dict(receipt, status="denied")
        self.assertFalse(openssl_verify(pk["public_key"], forged), "a forged receipt verified")

    # ------------------------------------------------------------ bad input

    def test_bad_requests_write_nothing(self):
        subject = unique("bad")
        path_pc = subj(subject) + "/consents/personalization"
        self.assertError(self.put_consent(subject, "no_such_purpose", {"status": "granted"}), 404, "unknown_purpose")
        self.assertError(self.put_consent(subject, "personalization", {"status": "maybe"}), 400, "invalid_value",
                         "/status")
        self.assertError(self.put_consent(subject, "personalization", {}), 400, "missing_field", "/status")
        self.assertError(self.put_consent(subject, "personalization", {"status": True}), 400, "wrong_type",
                         "/status")
        self.assertError(self.put_consent(subject, "personalization", {"status": "granted", "colour": "red"}), 400,
                         "unknown_field", "/colour")
        self.assertError(self.put_consent(subject, "personalization", {"status": "granted", "source": "a\nb"}),
                         400, "invalid_id", "/source")
        self.assertError(self.put_consent(subject, "personalization", '{"status": "granted",'), 400,
                         "malformed_json")
        self.assertError(self.put_consent(subject, "personalization", None), 400, "empty_body")
        self.assertError(self.put_consent("x" * 129, "personalization", {"status": "granted"}), 400, "invalid_id",
                         "/path/s")
        self.assertError(self.request("PUT", path_pc, {"status": "granted"}), 401, "unauthorized")
        self.assertError(self.put_consent(subject, "personalization", {"status": "granted"}, key="reader"), 403,
                         "forbidden")
        self.assertError(self.put_consent(subject, "personalization", {"status": "granted"}, key="shop"), 403,
                         "forbidden")
        self.assertError(self.request("GET", subj(subject) + "/consents", key=self.key("reader")), 403,
                         "forbidden")
        self.assertEqual(self.consents(subject)["history"], [])
        code, _, _ = self.request("GET", subj(subject), key=self.key("dsr"))
        self.assertEqual(code, 404, "a refused consent created the subject")

    # ------------------------------------------------------------ Global Privacy Control

    def test_gpc_conflict_and_confirmed_grant(self):
        subject = unique("gpc")
        gpc = {"Sec-GPC": "1"}
        err = self.assertError(self.put_consent(subject, "ads_retargeting", {"status": "granted"}, headers=gpc), 409,
                               "gpc_conflict")
        self.assertIn("Global Privacy Control", err["message"])
        self.assertError(self.put_consent(subject, "ads_retargeting",
                                          {"status": "granted", "confirm_over_gpc": False}, headers=gpc),
                         409, "gpc_conflict")
        self.assertEqual(self.consents(subject)["history"], [])

        # A purpose that ignores GPC, and a denial, are no conflict.
        self.decide(subject, "personalization", "granted", headers=gpc)
        self.decide(subject, "ads_retargeting", "denied", headers=gpc)
        # Only exactly "1" is the signal.
        other = unique("gpc-other")
        r = self.decide(other, "ads_retargeting", "granted", headers={"Sec-GPC": "true"})
        self.assertNotIn("over_gpc", r)

        # The person confirmed on the brand's page: an explicit grant, recorded as given over GPC.
        r = self.decide(subject, "ads_retargeting", "granted", headers=gpc, confirm_over_gpc=True, source="banner")
        self.assertReceipt(r, subject, "ads_retargeting", "granted", "banner", "brand")
        self.assertIs(r["over_gpc"], True)
        state = self.consents(subject)
        self.assertEqual(state["purposes"]["ads_retargeting"]["status"], "granted")
        self.assertEqual(state["history"][-1], r)

    def test_gpc_override_recorded_once(self):
        subject = unique("gpc-ovr")
        self.decide(subject, "personalization", "granted")
        self.decide(subject, "ads_retargeting", "granted")
        view = {"subject": subject, "type": "view", "item": "tent-2p"}
        self.events([view], gpc=True)
        state = self.consents(subject)
        self.assertEqual(len(state["history"]), 3, state["history"])
        last = state["history"][-1]
        self.assertReceipt(last, subject, "ads_retargeting", "denied", "gpc", "shop")
        self.assertEqual(state["purposes"]["ads_retargeting"]["status"], "denied")
        self.assertEqual(state["purposes"]["personalization"]["status"], "granted")
        # The next GPC request finds nothing left to override.
        self.events([view], gpc=True)
        self.assertEqual(len(self.consents(subject)["history"]), 3)

    # ------------------------------------------------------------ withdrawal

    def test_withdrawal_stops_use_and_purges(self):
        # Granted only for ads: its view events are kept only for that purpose.
        only_ads = unique("wd-ads")
        self.decide(only_ads, "ads_retargeting", "granted")
        reply = self.events([{"subject": only_ads, "type": "view", "item": "tent-2p"}])
        self.assertEqual(reply["stored"], 1, reply)
        self.assertEqual(len(self.exported_events(only_ads)), 1)
        self.decide(only_ads, "ads_retargeting", "denied", source="dashboard")
        self.assertEqual(self.exported_events(only_ads), [])
        reply = self.events([{"subject": only_ads, "type": "view", "item": "tent-2p"}])
        self.assertEqual((reply["stored"], reply["not_stored"]["no_consent"]), (0, 1), reply)

        # Granted for both: withdrawing ads keeps what personalization still needs.
        both = unique("wd-both")
        self.decide(both, "personalization", "granted")
        self.decide(both, "ads_retargeting", "granted")
        reply = self.events([{"subject": both, "type": "view", "item": "tent-2p"},
                             {"subject": both, "type": "click", "item": "tent-2p"}])
        self.assertEqual(reply["stored"], 2, reply)
        self.decide(both, "ads_retargeting", "denied")
        self.assertEqual(len(self.exported_events(both)), 2)
        self.decide(both, "personalization", "denied")
        self.assertEqual(self.exported_events(both), [])

    # ------------------------------------------------------------ preferences

    def test_preferences(self):
        subject = unique("prefs")
        path = subj(subject) + "/preferences"
        brand = self.key("brand")
        body = {"interests": ["camping", "camping", "baby"], "exclude_categories": ["wedding-dress"],
                "declared": {"expecting_baby": True, "size": "M", "children": 2}}
        want = {"interests": ["camping", "baby"], "exclude_categories": ["wedding-dress"],
                "declared": {"expecting_baby": True, "size": "M", "children": 2}}
        code, _, stored = self.request("PUT", path, body, key=brand)
        self.assertEqual((code, stored), (200, want))
        code, _, got = self.request("GET", path, key=brand)
        self.assertEqual((code, got), (200, want))
        # Preferences grant nothing.
        self.assertEqual(self.consents(subject)["purposes"]["personalization"]["status"], "denied")

        self.assertError(self.request("PUT", path, {"interests": ["camping", ""]}, key=brand), 400,
                         "invalid_id", "/interests/1")
        self.assertError(self.request("PUT", path, {"exclude_categories": ["x" * 129]}, key=brand), 400,
                         "invalid_id", "/exclude_categories/0")
        self.assertError(self.request("PUT", path, {"likes": []}, key=brand), 400, "unknown_field", "/likes")
        self.assertError(self.request("PUT", path, {"declared": {"pets": ["cat"]}}, key=brand), 400, "wrong_type",
                         "/declared/pets")
        many = {"declared": {"k%d" % i: True for i in range(33)}}
        self.assertError(self.request("PUT", path, many, key=brand), 400, "out_of_range", "/declared")
        self.assertError(self.request("PUT", path, {"interests": []}, key=self.key("reader")), 403, "forbidden")
        code, _, got = self.request("GET", path, key=brand)
        self.assertEqual((code, got), (200, want), "a refused PUT changed the preferences")

        # A PUT replaces the whole document.
        code, _, stored = self.request("PUT", path, {"exclude_categories": ["health"]}, key=brand)
        self.assertEqual((code, stored), (200, {"interests": [], "exclude_categories": ["health"], "declared": {}}))

    def test_contract_preferences_example(self):
        # Contract §5's own example, with the policy `mesura init` writes: "lingerie" is not declared there,
        # and a category the policy does not declare is an ordinary one (docs/config.md).
        subject = unique("contract-prefs")
        body = {"interests": ["camping"], "exclude_categories": ["lingerie"], "declared": {"expecting_baby": True}}
        code, _, stored = self.request("PUT", subj(subject) + "/preferences", body, key=self.key("brand"))
        self.assertEqual((code, stored), (200, body))
        code, _, got = self.request("GET", subj(subject) + "/preferences", key=self.key("brand"))
        self.assertEqual((code, got), (200, body))

    def test_preferences_patch(self):
        subject = unique("patch")
        path = subj(subject) + "/preferences"
        brand = self.key("brand")
        start = {"interests": ["camping", "knitting"], "exclude_categories": ["health"],
                 "declared": {"expecting_baby": True, "size": "M"}}
        self.assertEqual(self.request("PUT", path, start, key=brand)[0], 200)

        # One exclusion more, nothing else touched; adding what is there changes nothing.
        code, _, stored = self.request("PATCH", path, {"add": {"exclude_categories": ["lingerie", "health"]}},
                                       key=brand)
        want = dict(start, exclude_categories=["health", "lingerie"])
        self.assertEqual((code, stored), (200, want))
        # Removals run before additions; removing what is absent changes nothing.
        code, _, stored = self.request("PATCH", path, {"remove": {"interests": ["knitting", "golf"],
                                                                  "declared": ["size", "pets"]},
                                                       "add": {"declared": {"children": 2}}}, key=brand)
        want = {"interests": ["camping"], "exclude_categories": ["health", "lingerie"],
                "declared": {"expecting_baby": True, "children": 2}}
        self.assertEqual((code, stored), (200, want))
        self.assertEqual(self.request("GET", path, key=brand)[2], want)
        self.assertEqual(self.request("PATCH", path, {}, key=brand)[2], want)

        bad = [
            ({"interests": ["x"]}, "unknown_field", "/interests"),
            ({"add": {"likes": ["x"]}}, "unknown_field", "/add/likes"),
            ({"add": {"interests": "camping"}}, "wrong_type", "/add/interests"),
            ({"add": {"interests": [""]}}, "invalid_id", "/add/interests/0"),
            ({"add": {"declared": {"pets": ["cat"]}}}, "wrong_type", "/add/declared/pets"),
            ({"remove": {"declared": {"size": True}}}, "wrong_type", "/remove/declared"),
            ({"add": {"exclude_categories": ["c%d" % i for i in range(255)]}}, "out_of_range",
             "/add/exclude_categories"),
            ({"dismiss": "tent-2p"}, "wrong_type", "/dismiss"),
        ]
        for body, code, field in bad:
            with self.subTest(body=body):
                self.assertError(self.request("PATCH", path, body, key=brand), 400, code, field)
        # A dismissal is a `dismiss` event: it needs a purpose that dismissals serve, and without one
        # the whole request is refused, the preferences included.
        self.assertError(self.request("PATCH", path, {"dismiss": ["tent-2p"], "add": {"interests": ["golf"]}},
                                      key=brand), 409, "conflict", "/dismiss")
        self.assertError(self.request("PATCH", path, {}, key=self.key("reader")), 403, "forbidden")
        self.assertEqual(self.request("GET", path, key=brand)[2], want, "a refused PATCH changed the preferences")

        # With consent, the dismissal is stored as the person's own (zero-party) event.
        self.decide(subject, "personalization", "granted")
        code, _, stored = self.request("PATCH", path, {"dismiss": ["tent-2p", "tent-4p"]}, key=brand)
        self.assertEqual((code, stored), (200, want))
        dismissed = [(e["type"], e["item"], e["source"]) for e in self.exported_events(subject)]
        self.assertEqual(dismissed, [("dismiss", "tent-2p", "zero_party"), ("dismiss", "tent-4p", "zero_party")])

        # An unknown subject reads as the empty document and is not created by an empty PATCH.
        nobody = unique("patch-nobody")
        code, _, got = self.request("PATCH", subj(nobody) + "/preferences", {}, key=brand)
        self.assertEqual((code, got), (200, {"interests": [], "exclude_categories": [], "declared": {}}))
        self.assertError(self.request("GET", subj(nobody), key=self.key("dsr")), 404, "not_found")

    # ------------------------------------------------------------ the subject's own token

    def test_subject_token_acts_on_its_own_subject(self):
        subject, other = unique("tok"), unique("tok-other")
        self.decide(subject, "personalization", "granted")
        self.decide(other, "personalization", "granted")
        code, _, tok = self.request("POST", subj(subject) + "/tokens", key=self.key("dsr"))
        self.assertEqual(code, 200, tok)
        token = tok["token"]
        code, _, state = self.request("GET", subj(subject) + "/consents", key=token)
        self.assertEqual(code, 200, state)
        code, _, r = self.request("PUT", subj(subject) + "/consents/personalization",
                                  {"status": "denied", "source": "dashboard"}, key=token)
        self.assertEqual(code, 200, r)
        self.assertEqual((r["status"], r["recorded_by"]), ("denied", "subject-token"))
        self.assertError(self.request("GET", subj(other) + "/consents", key=token), 403, "forbidden")
        self.assertError(self.request("PUT", subj(other) + "/consents/personalization",
                                      {"status": "denied"}, key=token), 403, "forbidden")
        self.assertError(self.request("PUT", subj(other) + "/preferences", {}, key=token), 403,
                         "forbidden")
        self.assertError(self.request("PATCH", subj(other) + "/preferences",
                                      {"add": {"exclude_categories": ["x"]}}, key=token), 403, "forbidden")
        code, _, prefs = self.request("PATCH", subj(subject) + "/preferences",
                                      {"add": {"exclude_categories": ["lingerie"]}}, key=token)
        self.assertEqual((code, prefs["exclude_categories"]), (200, ["lingerie"]), prefs)
        self.assertEqual(self.consents(other)["purposes"]["personalization"]["status"], "granted")

    # ------------------------------------------------------------ at rest

    def test_nothing_personal_in_clear_at_rest(self):
        subject = unique("atrest-subject")
        source = unique("atrest-source")
        declared = unique("atrest-declared")
        self.decide(subject, "personalization", "granted", source=source)
        self.decide(subject, "ads_retargeting", "granted", source=source)
        code, _, _ = self.request("PUT", subj(subject) + "/preferences",
                                  {"interests": ["camping"], "declared": {"nickname": declared}},
                                  key=self.key("brand"))
        self.assertEqual(code, 200)
        self.events([{"subject": subject, "type": "view", "item": "tent-2p"}], gpc=True)
        self.assertEqual(self.consents(subject)["history"][-1]["source"], "gpc")
        needles = [s.encode("utf-8") for s in (subject, source, declared)]
        found = []
        for root, _, files in os.walk(self.server.data):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    data = f.read()
                found += ["%s holds %r" % (os.path.relpath(path, self.server.data), n) for n in needles if n in data]
        self.assertEqual(found, [])
        # Logs name subjects by pseudonym only.
        self.assertFalse([l for l in self.server.log_lines() if subject in l])


if __name__ == "__main__":
    unittest.main()
