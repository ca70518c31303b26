"""The browser SDK as the server serves it (GET /sdk/mesura.js): the file of sdk/ byte for byte, as
JavaScript, with a strong ETag that If-None-Match revalidates (304), no-cache, nosniff and no
cookie; no key needed. Its versioned URL, /sdk/mesura.js?v=HASH (the ETag without quotes), is cached
for a year without revalidation (immutable); any other v gets the file in force, revalidated. A
brand's page on an origin listed in `cors.allowed_origins` may load it (named back in
Access-Control-Allow-Origin, for `<script type=module>` and fetch); no other origin is named. Only
the script and its example shop page are served: the package's other files (tests, README,
package.json) are not part of the site.
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

    def test_the_versioned_url_is_cached_for_a_year_and_only_for_this_very_file(self):
        with open(SDK, "rb") as f:
            want = f.read()
        _, h, _ = self.get_raw("/sdk/mesura.js")
        etag = h["etag"]
        for origin in ({}, {"Origin": "https://shop.example"}):
            status, h, body = self.get_raw("/sdk/mesura.js?v=" + etag.strip('"'), origin)
            self.assertEqual((status, body), (200, want))
            self.assertEqual(h.get("cache-control"), "public, max-age=31536000, immutable")
            self.assertEqual(h.get("etag"), etag)
            self.assertEqual(h.get("content-type"), "text/javascript; charset=utf-8")
        status, h, body = self.get_raw("/sdk/mesura.js?v=" + etag.strip('"'), {"If-None-Match": etag})
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(h.get("cache-control"), "public, max-age=31536000, immutable")
        # Another file's hash (a page pinned to an older SDK), or not a hash: the file in force, revalidated,
        # never cached for a year under a URL that names something else.
        for v in ("0" * 32, etag.strip('"')[:-1], etag, "", etag.strip('"') + "0"):
            with self.subTest(v=v):
                status, h, body = self.get_raw("/sdk/mesura.js?v=" + v.replace('"', "%22"))
                self.assertEqual((status, body), (200, want))
                self.assertEqual(h.get("cache-control"), "no-cache")

    def test_the_example_shop_page_is_served_under_the_strict_csp(self):
        for name, ctype in (("example.html", "text/html; charset=utf-8"), ("example.js", "text/javascript; charset=utf-8"),
                            ("example.css", "text/css; charset=utf-8")):
            with self.subTest(name=name):
                with open(os.path.join(ROOT, "sdk", name), "rb") as f:
                    want = f.read()
                status, h, body = self.get_raw("/sdk/" + name)
                self.assertEqual((status, body), (200, want))
                self.assertEqual(h.get("content-type"), ctype)
                self.assertIn("script-src 'self'", h.get("content-security-policy", ""))
                self.assertNotIn("unsafe-inline", h.get("content-security-policy", ""))
        _, _, page = self.get_raw("/sdk/example.html")
        self.assertNotRegex(page.decode(), r"<script(?![^>]*\bsrc=)", "an inline script would be refused by the CSP")
        self.assertNotIn(" style=", page.decode())

    def test_only_the_script_and_its_example_page_are_served(self):
        for path in ("/sdk/package.json", "/sdk/README.md", "/sdk/test/sdk.test.mjs", "/sdk/mesura.mjs",
                     "/sdk", "/sdk/", "/sdk/../web/me/index.html", "/sdk/mesura.js/x"):
            with self.subTest(path=path):
                self.assertError(self.request("GET", path), 404, "not_found")
        for method in ("POST", "PUT", "DELETE"):
            status, h, _ = self.request(method, "/sdk/mesura.js")
            self.assertEqual(status, 405, method)


if __name__ == "__main__":
    unittest.main()
