"""Data-subject export and profile summary (contract §7), and the dashboard token."""

import unittest

from harness import ServerTestCase

POLICY = """\
site: Export Test
languages: [en, es]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  add_to_cart: {purposes: [personalization], retention_days: 90}
  purchase: {purposes: [personalization], retention_days: 730, properties: [price]}
  search: {purposes: [personalization], retention_days: 30}
categories:
  camping: {label: {en: "Camping", es: "Acampada"}}
  baby: {sensitive: true, label: {en: "Baby & pregnancy"}}
"""

REQUIRED = {"subject", "events", "consents", "preferences", "impressions", "decisions", "interests",
            "protected_attributes", "access_log"}


class ExportTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "shop": "ingest,consent,catalog", "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shop = cls.server.keys["shop"]
        req = cls.server.request
        req("POST", "/v1/items", {"items": [
            {"id": "tent", "title": "Tent", "categories": ["camping"]},
            {"id": "crib", "title": "Crib", "categories": ["baby"]}]}, key=shop)
        for s in ("alice", "bob"):
            status, _, body = req("PUT", "/v1/subjects/%s/consents/personalization" % s, {"status": "granted"},
                                  key=shop)
            assert status == 200, body
        status, _, body = req("POST", "/v1/events", {"events": [
            {"subject": "alice", "type": "view", "item": "tent", "event_id": "e-1"},
            {"subject": "alice", "type": "view", "item": "tent"},
            {"subject": "alice", "type": "purchase", "item": "crib", "properties": {"price": 80, "secret": 1}},
            {"subject": "bob", "type": "view", "item": "crib"}]}, key=shop)
        assert status == 200 and body["stored"] == 4, body

    def test_export_has_every_key(self):
        status, _, doc = self.request("GET", "/v1/subjects/alice/export", key=self.key("dsr"))
        self.assertEqual(status, 200, doc)
        self.assertLessEqual(REQUIRED, set(doc))
        self.assertEqual(len(doc["events"]), 3)
        for ev in doc["events"]:
            self.assertIsInstance(ev.get("event_id"), str, ev)
            self.assertTrue(ev["event_id"])
        self.assertEqual(len({ev["event_id"] for ev in doc["events"]}), 3)
        self.assertIn("e-1", [ev["event_id"] for ev in doc["events"]])
        purchase = next(ev for ev in doc["events"] if ev["type"] == "purchase")
        self.assertEqual(purchase["properties"], {"price": 80})  # undeclared property never stored
        self.assertEqual(doc["consents"]["purposes"]["personalization"]["status"], "granted")
        self.assertEqual(len(doc["consents"]["history"]), 1)
        self.assertIsInstance(doc["preferences"], dict)
        self.assertEqual(doc["impressions"], [])
        self.assertEqual(doc["decisions"], [])
        self.assertEqual(doc["protected_attributes"], {})
        # The export is a read of her data like any other: the log it carries ends with it.
        self.assertEqual((doc["access_log"][-1]["reader"], doc["access_log"][-1]["action"]), ("dsr", "export"))
        self.assertEqual(doc["subject"], "alice")
        self.assertEqual(doc["summary"]["events"]["total"], 3)

    def test_interests_are_labelled_derived(self):
        status, _, doc = self.request("GET", "/v1/subjects/alice/export", key=self.key("dsr"))
        interests = doc["interests"]
        self.assertIs(interests["derived"], True)
        self.assertTrue(interests["method"])
        cats = {c["category"]: c for c in interests["categories"]}
        self.assertEqual(cats["camping"]["count"], 2)
        self.assertEqual(cats["camping"]["by_type"], {"view": 2})
        self.assertEqual(cats["baby"]["by_type"], {"purchase": 1})
        self.assertIs(cats["baby"]["sensitive"], True)
        self.assertEqual(interests["categories"][0]["category"], "camping")  # most counted first
        status, _, doc = self.request("GET", "/v1/subjects/alice/export", key=self.key("dsr"),
                                      headers={"Accept-Language": "es"})
        cats = {c["category"]: c for c in doc["interests"]["categories"]}
        self.assertEqual(cats["camping"]["label"], "Acampada")

    def test_summary(self):
        status, _, body = self.request("GET", "/v1/subjects/alice", key=self.key("dsr"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["events"]["total"], 3)
        self.assertEqual(body["events"]["by_type"], {"view": 2, "purchase": 1})
        self.assertEqual(body["purposes_granted"], ["personalization"])
        self.assertIs(body["restricted"], False)
        self.assertTrue(body["first_seen"])
        self.assertTrue(body["last_seen"])

    def test_unknown_subject(self):
        self.assertError(self.request("GET", "/v1/subjects/nobody/export", key=self.key("dsr")), 404, "not_found")
        self.assertError(self.request("GET", "/v1/subjects/nobody", key=self.key("dsr")), 404, "not_found")

    def test_scopes(self):
        self.assertError(self.request("GET", "/v1/subjects/alice/export"), 401, "unauthorized")
        self.assertError(self.request("GET", "/v1/subjects/alice/export", key=self.key("shop")), 403, "forbidden")
        self.assertEqual(self.request("GET", "/v1/subjects/alice/export", key=self.key("admin"))[0], 200)
        self.assertError(self.request("POST", "/v1/subjects/alice/tokens", key=self.key("shop")), 403, "forbidden")

    def test_subject_token_reads_only_its_own(self):
        status, _, body = self.request("POST", "/v1/subjects/alice/tokens", key=self.key("dsr"))
        self.assertEqual(status, 200, body)
        self.assertEqual(set(body), {"token", "expires_at"})
        tok = body["token"]
        status, _, doc = self.request("GET", "/v1/subjects/alice/export", key=tok)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["subject"], "alice")
        self.assertEqual(doc["summary"]["events"]["total"], 3)
        self.assertEqual(self.request("GET", "/v1/subjects/alice", key=tok)[0], 200)
        self.assertError(self.request("GET", "/v1/subjects/bob/export", key=tok), 403, "forbidden")
        self.assertError(self.request("GET", "/v1/subjects/nobody/export", key=tok), 403, "forbidden")
        self.assertError(self.request("GET", "/v1/subjects/bob", key=tok), 403, "forbidden")
        # A token cannot mint tokens, nor use other scopes.
        self.assertError(self.request("POST", "/v1/subjects/alice/tokens", key=tok), 403, "forbidden")
        self.assertError(self.request("GET", "/v1/items", key=tok), 403, "forbidden")

    def test_token_outlives_a_restart_until_revoked(self):
        """A dashboard token is stored (as a hash): a restarted server still opens it; revoking the
        person's tokens ends every one of them at once (the person may do it with their own token),
        and no one else's."""
        mint = lambda s: self.request("POST", "/v1/subjects/%s/tokens" % s, key=self.key("dsr"))[2]["token"]
        first, second, bobs = mint("alice"), mint("alice"), mint("bob")
        self.server.restart()
        for tok in (first, second):
            self.assertEqual(self.request("GET", "/v1/subjects/alice", key=tok)[0], 200)
        self.assertError(self.request("DELETE", "/v1/subjects/bob/tokens", key=first), 403, "forbidden")
        self.assertError(self.request("DELETE", "/v1/subjects/alice/tokens", key=self.key("shop")), 403, "forbidden")
        status, _, body = self.request("DELETE", "/v1/subjects/alice/tokens", key=first)
        self.assertEqual(status, 200, body)
        self.assertGreaterEqual(body["revoked"], 2)
        for tok in (first, second):
            self.assertError(self.request("GET", "/v1/subjects/alice", key=tok), 401, "unauthorized")
        self.assertEqual(self.request("GET", "/v1/subjects/bob", key=bobs)[0], 200)
        self.assertEqual(self.request("DELETE", "/v1/subjects/alice/tokens", key=self.key("dsr"))[2],
                         {"revoked": 0})
        self.assertError(self.request("DELETE", "/v1/subjects/nobody-here/tokens", key=self.key("dsr")), 404,
                         "not_found")
        self.server.restart()
        self.assertError(self.request("GET", "/v1/subjects/alice", key=second), 401, "unauthorized")

    def test_token_body_is_checked(self):
        self.assertError(self.request("POST", "/v1/subjects/alice/tokens", {"ttl": 5}, key=self.key("dsr")), 400,
                         "unknown_field", "/ttl")
        self.assertEqual(self.request("POST", "/v1/subjects/alice/tokens", {}, key=self.key("dsr"))[0], 200)


if __name__ == "__main__":
    unittest.main()
