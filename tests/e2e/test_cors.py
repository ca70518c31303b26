"""Browsers on other origins (policy `cors.allowed_origins`): a reply names the request's Origin in
Access-Control-Allow-Origin only when the policy lists it, exactly (scheme, host and port), on every
kind of reply (data, errors, the pages, a refusal for want of a key); a preflight (OPTIONS with
Origin and Access-Control-Request-Method) is answered 204 before any key is asked for, with the
methods and headers only for an allowed origin; every reply says Vary: Origin. A policy reload
changes the list at once. No cookie, no Allow-Credentials. (The origins a policy may list:
tests/unit/policy/test_cors.c.)"""

import signal
import time
import unittest

from harness import ServerTestCase

POLICY = """\
site: CORS
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 30}
cors:
  allowed_origins: ["https://shop.example", "http://localhost:3000"]
"""

ALLOWED = ("https://shop.example", "http://localhost:3000")
REFUSED = ("https://evil.example", "https://shop.example:443", "http://shop.example", "https://shop.example.evil",
           "https://SHOP.example", "null", "https://shop.example/")


class Cors(ServerTestCase):
    policy = POLICY
    keys = {"shop": "consent,subjects"}

    def get(self, path, origin, key=None, method="GET"):
        headers = {"Origin": origin} if origin else {}
        return self.request(method, path, key=key, headers=headers)

    def test_allowed_origins_are_named_back_on_every_kind_of_reply(self):
        shop = self.key("shop")
        for origin in ALLOWED:
            for path, key, status in (("/healthz", None, 200), ("/v1/subjects/nobody", shop, 404),
                                      ("/v1/subjects/nobody", None, 401), ("/me", None, 200),
                                      ("/v1/nowhere", None, 404)):
                st, h, _ = self.get(path, origin, key)
                self.assertEqual(st, status, (path, origin))
                self.assertEqual(h.get("access-control-allow-origin"), origin, (path, h))
                self.assertEqual(h.get("vary"), "Origin")
                self.assertNotIn("access-control-allow-credentials", h)
                self.assertNotIn("set-cookie", h)

    def test_other_origins_and_none_are_named_nowhere(self):
        for origin in REFUSED + (None,):
            st, h, _ = self.get("/healthz", origin)
            self.assertEqual(st, 200)
            self.assertNotIn("access-control-allow-origin", h, origin)
            self.assertEqual(h.get("vary"), "Origin")

    def preflight(self, origin, path="/v1/subjects/s1/consents/personalization", method="PUT"):
        conn = self.server.connection()
        try:
            conn.request("OPTIONS", path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                  "Access-Control-Request-Headers": "authorization,content-type"})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_preflight_is_204_without_a_key_and_allows_only_listed_origins(self):
        for origin in ALLOWED:
            st, h, body = self.preflight(origin)
            self.assertEqual((st, body), (204, b""))
            self.assertEqual(h.get("access-control-allow-origin"), origin)
            for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                self.assertIn(m, h.get("access-control-allow-methods", ""))
            for name in ("Authorization", "Content-Type", "Accept-Language"):
                self.assertIn(name, h.get("access-control-allow-headers", ""))
            self.assertEqual(h.get("access-control-max-age"), "600")
        for origin in REFUSED:
            st, h, body = self.preflight(origin)
            self.assertEqual(st, 204, origin)
            self.assertFalse([k for k in h if k.startswith("access-control-")], (origin, h))
        # The preflight changed nothing: no subject was made.
        self.assertEqual(self.request("GET", "/v1/subjects/s1", key=self.key("shop"))[0], 404)
        # OPTIONS that is not a preflight is still a method the path does not serve.
        st, h, _ = self.request("OPTIONS", "/healthz")
        self.assertEqual(st, 405)

    def test_reload_changes_the_list_at_once(self):
        self.server.write_policy(POLICY.replace('"http://localhost:3000"', '"https://other.example"'))
        try:
            self.server.signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.get("/healthz", "https://other.example")[1].get("access-control-allow-origin"):
                    break
                time.sleep(0.1)
            self.assertEqual(self.get("/healthz", "https://other.example")[1].get("access-control-allow-origin"),
                             "https://other.example")
            self.assertNotIn("access-control-allow-origin", self.get("/healthz", "http://localhost:3000")[1])
        finally:
            self.server.write_policy(POLICY)
            self.server.signal(signal.SIGHUP)


if __name__ == "__main__":
    unittest.main()
