"""The API behind the brand's console (/admin): keys managed over HTTP, the latest audits with their flags, and
the overview the console charts (consents per purpose and day, the live model, the policy in force).

Keys: a new key's secret comes back once and works at once; the list never shows a secret and marks the
caller's own key; a revoked key gets 401 on the next request; a console cannot revoke the key it calls
with (409), and every bad body or name is a 4xx with the contract's code, worded in en/es/pl. Only admin
keys reach these endpoints. The audit list shows the planted population's audit with what it flagged.
The overview counts each grant and withdrawal of today under its purpose, and returns the policy's text.
"""

import unittest

from harness import ServerTestCase, build_crowd
from test_audit import COUNT, CROWD, ITEMS, PEOPLE, POLICY


class AdminApiTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "admin2": "admin", "shop": "ingest,consent,catalog,recommend", "auditor": "audit"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        req, shop, auditor = cls.server.request, cls.server.keys["shop"], cls.server.keys["auditor"]
        build_crowd(cls.server, shop, ITEMS, CROWD, 4)
        events = []
        for s, (attrs, viewed) in PEOPLE.items():
            for purpose in ("personalization", "audit"):
                req("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": "granted"}, key=shop)
            events += [{"subject": s, "type": "view", "item": it} for it in viewed]
            st, _, body = req("PUT", "/v1/audit/subjects/%s/attributes" % s, attrs, key=auditor)
            assert st == 200, body
        st, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert st == 200, body
        st, _, cls.audit = req("POST", "/v1/audits", {"attributes": ["age_band", "ethnicity"], "placement": "home",
                                                      "count": COUNT}, key=auditor)
        assert st == 201, cls.audit

    # ------------------------------------------------------------------ keys

    def test_a_created_key_works_once_shown_and_a_revoked_one_stops_at_once(self):
        admin = self.key("admin")
        st, headers, made = self.request("POST", "/v1/admin/keys", {"name": "reporting", "scopes": ["catalog"]},
                                         key=admin)
        self.assertEqual(st, 201, made)
        self.assertEqual(made["name"], "reporting")
        self.assertEqual(made["scopes"], ["catalog"])
        self.assertEqual(headers.get("cache-control"), "no-store")
        secret = made["key"]
        st, _, _ = self.request("GET", "/v1/items", key=secret)
        self.assertEqual(st, 200)
        # Its scope is what it was given, nothing more.
        st, _, _ = self.request("GET", "/v1/admin/keys", key=secret)
        self.assertEqual(st, 403)

        st, _, listed = self.request("GET", "/v1/admin/keys", key=admin)
        self.assertEqual(st, 200, listed)
        rows = {k["name"]: k for k in listed["keys"]}
        self.assertTrue(rows["reporting"]["active"])
        self.assertIsNone(rows["reporting"]["revoked_at"])
        self.assertTrue(rows["admin"]["yours"])
        self.assertFalse(rows["admin2"]["yours"])
        self.assertEqual(rows["shop"]["scopes"], ["ingest", "consent", "catalog", "recommend"])
        self.assertNotIn(secret, str(listed))
        for k in listed["keys"]:
            self.assertEqual(set(k), {"name", "scopes", "created_at", "revoked_at", "active", "yours"})

        st, _, _ = self.request("DELETE", "/v1/admin/keys/reporting", key=admin)
        self.assertEqual(st, 204)
        self.assertError(self.request("GET", "/v1/items", key=secret), 401, "unauthorized")
        st, _, listed = self.request("GET", "/v1/admin/keys", key=admin)
        rows = {k["name"]: k for k in listed["keys"]}
        self.assertFalse(rows["reporting"]["active"])
        self.assertIsNotNone(rows["reporting"]["revoked_at"])
        # Again: idempotent, the first revocation's time stands.
        st, _, _ = self.request("DELETE", "/v1/admin/keys/reporting", key=admin)
        self.assertEqual(st, 204)
        st, _, again = self.request("GET", "/v1/admin/keys", key=admin)
        self.assertEqual({k["name"]: k for k in again["keys"]}["reporting"]["revoked_at"], rows["reporting"]["revoked_at"])
        self.assertError(self.request("GET", "/v1/items", key=secret), 401, "unauthorized")

    def test_the_calling_key_cannot_revoke_itself_but_another_admin_can_revoke_it(self):
        admin2 = self.key("admin2")
        st, _, made = self.request("POST", "/v1/admin/keys", {"name": "console-b", "scopes": ["admin"]}, key=admin2)
        self.assertEqual(st, 201, made)
        self.assertError(self.request("DELETE", "/v1/admin/keys/console-b", key=made["key"]), 409, "conflict",
                         "/path/name")
        # Still working after the refusal.
        st, _, _ = self.request("GET", "/v1/admin/keys", key=made["key"])
        self.assertEqual(st, 200)
        st, _, _ = self.request("DELETE", "/v1/admin/keys/console-b", key=admin2)
        self.assertEqual(st, 204)
        self.assertError(self.request("GET", "/v1/admin/keys", key=made["key"]), 401, "unauthorized")

    def test_bad_key_requests_are_refused_with_the_contract_codes_in_three_languages(self):
        admin = self.key("admin")
        cases = [
            ({"name": "x", "scopes": ["catalog"], "extra": 1}, "unknown_field", "/extra"),
            ({"scopes": ["catalog"]}, "missing_field", "/name"),
            ({"name": "x"}, "missing_field", "/scopes"),
            ({"name": 7, "scopes": ["catalog"]}, "wrong_type", "/name"),
            ({"name": "x", "scopes": "catalog"}, "wrong_type", "/scopes"),
            ({"name": "x", "scopes": ["catalog", "root"]}, "invalid_value", "/scopes/1"),
            ({"name": "x", "scopes": ["catalog,admin"]}, "invalid_value", "/scopes/0"),
            ({"name": "x", "scopes": [3]}, "invalid_value", "/scopes/0"),
            ({"name": "x", "scopes": []}, "invalid_value", "/scopes"),
            ({"name": "no spaces", "scopes": ["catalog"]}, "invalid_value", "/name"),
            ({"name": "admin", "scopes": ["catalog"]}, "already_exists", "/name"),
        ]
        for body, code, field in cases:
            with self.subTest(body=body):
                status = 409 if code == "already_exists" else 400
                self.assertError(self.request("POST", "/v1/admin/keys", body, key=admin), status, code, field)
        self.assertError(self.request("DELETE", "/v1/admin/keys/nobody", key=admin), 404, "not_found")
        messages = set()
        for lang in ("en", "es", "pl"):
            err = self.assertError(self.request("POST", "/v1/admin/keys", {"name": "x", "scopes": ["root"]},
                                                key=admin, headers={"Accept-Language": lang}),
                                   400, "invalid_value", "/scopes/0")
            messages.add(err["message"])
        self.assertEqual(len(messages), 3, messages)

    def test_only_admin_keys_reach_the_console_endpoints(self):
        for method, path, body in [("GET", "/v1/admin/keys", None), ("POST", "/v1/admin/keys", {"name": "z",
                                   "scopes": ["admin"]}), ("DELETE", "/v1/admin/keys/admin", None),
                                   ("GET", "/v1/admin/overview", None)]:
            with self.subTest(method=method, path=path):
                self.assertError(self.request(method, path, body, key=self.key("shop")), 403, "forbidden")
                self.assertError(self.request(method, path, body, key=self.key("auditor")), 403, "forbidden")
                self.assertError(self.request(method, path, body), 401, "unauthorized")
        st, _, _ = self.request("GET", "/v1/admin/keys", key=self.key("admin"))
        self.assertEqual(st, 200)

    # ---------------------------------------------------------------- audits

    def test_the_audit_list_shows_the_newest_audits_with_their_flags(self):
        for key in ("auditor", "admin"):
            st, _, out = self.request("GET", "/v1/audits", key=self.key(key))
            self.assertEqual(st, 200, out)
            first = out["audits"][0]
            self.assertEqual(first["id"], self.audit["id"])
            self.assertEqual(first["status"], "done")
            self.assertEqual(first["attributes"], ["age_band", "ethnicity"])
            self.assertEqual(first["audited"], len(PEOPLE))
            self.assertEqual(first["flags"], self.audit["flags"])
            kinds = {(f["kind"], f["attribute"]) for f in first["flagged"]}
            self.assertIn(("disparity", "age_band"), kinds)
            self.assertIn(("proxy", "postal_code"), kinds)
            for kind, count in (("disparity", "disparities"), ("proxy", "proxies")):
                self.assertEqual(sum(f["kind"] == kind for f in first["flagged"]), self.audit["flags"][count])
        st, _, again = self.request("POST", "/v1/audits", {"attributes": ["gender"], "placement": "home",
                                                           "count": COUNT}, key=self.key("auditor"))
        self.assertEqual(st, 201, again)
        st, _, out = self.request("GET", "/v1/audits?limit=1", key=self.key("auditor"))
        self.assertEqual([a["id"] for a in out["audits"]], [again["id"]])
        self.assertError(self.request("GET", "/v1/audits", key=self.key("shop")), 403, "forbidden")
        for q, code in [("0", "out_of_range"), ("101", "out_of_range"), ("x", "wrong_type"), ("", "wrong_type")]:
            self.assertError(self.request("GET", "/v1/audits?limit=" + q, key=self.key("auditor")), 400, code,
                             "/query/limit")

    # -------------------------------------------------------------- overview

    def test_the_overview_counts_todays_consents_per_purpose_and_shows_the_policy_and_model(self):
        admin, shop = self.key("admin"), self.key("shop")
        st, _, before = self.request("GET", "/v1/admin/overview?days=7", key=admin)
        self.assertEqual(st, 200, before)
        c = before["consents"]
        self.assertEqual(c["days"], 7)
        self.assertEqual(len(c["dates"]), 7)
        self.assertEqual(c["dates"], sorted(c["dates"]))
        self.assertEqual([p["purpose"] for p in c["purposes"]], ["personalization", "audit"])
        by = {p["purpose"]: p for p in c["purposes"]}
        # setUpClass granted both purposes to every planted person, today.
        self.assertGreaterEqual(by["audit"]["granted"][-1], len(PEOPLE))
        self.assertEqual(sum(by["audit"]["granted"][:-1]), 0)
        for p in c["purposes"]:
            self.assertEqual(len(p["granted"]), 7)
            self.assertEqual(len(p["withdrawn"]), 7)

        self.request("PUT", "/v1/subjects/ov-1/consents/audit", {"status": "granted"}, key=shop)
        self.request("PUT", "/v1/subjects/ov-1/consents/audit", {"status": "denied"}, key=shop)
        self.request("PUT", "/v1/subjects/ov-2/consents/personalization", {"status": "denied"}, key=shop)
        st, _, after = self.request("GET", "/v1/admin/overview?days=7", key=admin)
        by2 = {p["purpose"]: p for p in after["consents"]["purposes"]}
        self.assertEqual(by2["audit"]["granted"][-1] - by["audit"]["granted"][-1], 1)
        self.assertEqual(by2["audit"]["withdrawn"][-1] - by["audit"]["withdrawn"][-1], 1)
        self.assertEqual(by2["personalization"]["withdrawn"][-1] - by["personalization"]["withdrawn"][-1], 1)
        self.assertEqual(by2["personalization"]["granted"][-1], by["personalization"]["granted"][-1])

        self.assertEqual(after["policy"]["site"], "Audit Test")
        self.assertEqual(after["policy"]["yaml"], POLICY)
        self.assertIsInstance(after["policy"]["version"], str)
        model = after["model"]
        self.assertTrue(model["background"])
        self.assertEqual(model["retrain_every_minutes"], 60)
        live = model["live"]
        self.assertIsNotNone(live, "build_crowd trains a model")
        self.assertGreater(live["items"], 0)
        self.assertGreater(live["memory_bytes"], 0)
        self.assertIsInstance(model["next_retrain_at"], str)
        self.assertGreaterEqual(model["next_retrain_at"], live["trained_at"][:10])

        st, _, default = self.request("GET", "/v1/admin/overview", key=admin)
        self.assertEqual(default["consents"]["days"], 30)
        for q, code in [("0", "out_of_range"), ("366", "out_of_range"), ("7d", "wrong_type"), ("-1", "wrong_type")]:
            self.assertError(self.request("GET", "/v1/admin/overview?days=" + q, key=admin), 400, code, "/query/days")


if __name__ == "__main__":
    unittest.main()
