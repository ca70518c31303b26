"""Audits need a policy purpose named `audit` (contract §8): without one, the vault records nothing and no
audit runs, and both say why in the asker's language."""

import unittest

from harness import ServerTestCase

POLICY = """\
site: No Audits
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
"""


class AuditDisabledTest(ServerTestCase):
    policy = POLICY
    keys = {"auditor": "audit", "shop": "consent"}

    def test_nothing_is_recorded_without_an_audit_purpose(self):
        st, _, body = self.request("PUT", "/v1/subjects/ann/consents/personalization", {"status": "granted"},
                                   key=self.key("shop"))
        self.assertEqual(st, 200, body)
        err = self.assertError(self.request("PUT", "/v1/audit/subjects/ann/attributes", {"gender": "f"},
                                            key=self.key("auditor")), 409, "audit_not_enabled")
        self.assertIn("purpose named audit", err["message"])
        self.assertError(self.request("GET", "/v1/audit/subjects/ann/attributes", key=self.key("auditor")),
                         404, "not_found")

    def test_no_audit_runs_without_an_audit_purpose(self):
        reply = self.request("POST", "/v1/audits", {"attributes": ["gender"]}, key=self.key("auditor"),
                             headers={"Accept-Language": "pl"})
        err = self.assertError(reply, 409, "audit_not_enabled")
        self.assertIn("Audyty nie są włączone", err["message"])


if __name__ == "__main__":
    unittest.main()
