"""The browser SDK as the server serves it (GET /sdk/mesura.js): the file of sdk/ byte for byte, as
JavaScript, with a strong ETag that If-None-Match revalidates (304), no-cache, nosniff and no
cookie; no key needed. A brand's page on an origin listed in `cors.allowed_origins` may load it
(named back in Access-Control-Allow-Origin, for `<script type=module>` and fetch); no other origin
is named. Only the script is served: the package's other files (tests, README, package.json) are
not part of the site.
"""

import os
import unittest

from harness import ServerTestCase

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SDK = os.path.join(ROOT, "sdk", "mesura.js")

POLICY = """\
site: SDK
languages: [en]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 30}
cors:
  allowed_origins: ["https://shop.example"]
"""


class SdkStaticTest(ServerTestCase):
    policy = POLICY

    def get_raw(self, path, headers=None, method="GET"):
        conn = self.server.connection()
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_the_script_is_served_as_written_and_revalidates(self):
        with open(SDK, "rb") as f:
            want = f.read()
        for headers in ({}, {"Authorization": "Bearer not-a-key"}):
            status, h, body = self.get_raw("/sdk/mesura.js", headers)
            self.assertEqual(status, 200)
            self.assertEqual(body, want)
            self.assertEqual(h.get("content-type"), "text/javascript; charset=utf-8")
            self.assertEqual(h.get("cache-control"), "no-cache")
            self.assertEqual(h.get("x-content-type-options"), "nosniff")
            self.assertNotIn("set-cookie", h)
            self.assertRegex(h.get("etag", ""), r'^"[0-9a-f]{32}"$')
        etag = h["etag"]
        for inm in (etag, "W/" + etag, '"other", ' + etag):
            status, h2, body = self.get_raw("/sdk/mesura.js", {"If-None-Match": inm})
            self.assertEqual((status, body), (304, b""), inm)
            self.assertEqual(h2.get("etag"), etag)
        status, _, body = self.get_raw("/sdk/mesura.js", {"If-None-Match": '"0000"'})
        self.assertEqual((status, body), (200, want))
        status, h, body = self.get_raw("/sdk/mesura.js", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(h.get("etag"), etag)

    def test_a_listed_shop_may_load_it_and_no_other_origin_is_named(self):
        status, h, _ = self.get_raw("/sdk/mesura.js", {"Origin": "https://shop.example"})
        self.assertEqual(status, 200)
        self.assertEqual(h.get("access-control-allow-origin"), "https://shop.example")
        for origin in ("https://evil.example", "null"):
            status, h, _ = self.get_raw("/sdk/mesura.js", {"Origin": origin})
            self.assertEqual(status, 200)
            self.assertNotIn("access-control-allow-origin", h)
            self.assertEqual(h.get("vary"), "Origin")

    def test_only_the_script_is_served(self):
        for path in ("/sdk/package.json", "/sdk/README.md", "/sdk/test/sdk.test.mjs", "/sdk/mesura.mjs",
                     "/sdk", "/sdk/", "/sdk/../web/me/index.html", "/sdk/mesura.js/x"):
            with self.subTest(path=path):
                self.assertError(self.request("GET", path), 404, "not_found")
        for method in ("POST", "PUT", "DELETE"):
            status, h, _ = self.request(method, "/sdk/mesura.js")
            self.assertEqual(status, 405, method)


if __name__ == "__main__":
    unittest.main()
