"""The pages under web/ as the server serves them (/me, /admin, their files, /shared/*): every file of the
directory comes back byte for byte with the Content-Type of its extension, a strong ETag that a
browser revalidates with If-None-Match (304), the strict Content-Security-Policy, no Referer and
nosniff; no key is needed and none is read; unknown files and other methods are refused. The files
themselves load nothing from another origin and hold no inline script or style (the CSP would
block them).
"""

import os
import re
import unittest

from harness import ServerTestCase

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEB = os.path.join(ROOT, "web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
         "css": "text/css; charset=utf-8", "json": "application/json; charset=utf-8",
         "svg": "image/svg+xml", "png": "image/png", "txt": "text/plain; charset=utf-8"}


def web_files():
    """[(url, path on disk)] for every file under web/: me/index.html is also /me."""
    out = []
    for d, _, names in os.walk(WEB):
        for n in sorted(names):
            if n.startswith(".") or n.endswith("~"):
                continue
            path = os.path.join(d, n)
            rel = os.path.relpath(path, WEB).replace(os.sep, "/")
            out.append(("/" + rel, path))
            if rel.endswith("/index.html"):
                out.append(("/" + rel[: -len("/index.html")], path))
    return out


class WebStaticTest(ServerTestCase):
    def get_raw(self, path, headers=None, method="GET"):
        conn = self.server.connection()
        try:
            conn.request(method, path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def test_every_file_is_served_as_written_with_its_type_and_headers(self):
        files = web_files()
        self.assertIn("/me", [u for u, _ in files])
        for url, path in files:
            with self.subTest(url=url):
                with open(path, "rb") as f:
                    want = f.read()
                status, h, body = self.get_raw(url)
                self.assertEqual(status, 200, body[:200])
                self.assertEqual(body, want)
                self.assertEqual(h.get("content-type"), TYPES[path.rsplit(".", 1)[1]])
                self.assertEqual(h.get("content-security-policy"), CSP)
                self.assertEqual(h.get("referrer-policy"), "no-referrer")
                self.assertEqual(h.get("x-content-type-options"), "nosniff")
                self.assertEqual(h.get("cache-control"), "no-cache")
                self.assertNotIn("set-cookie", h)
                self.assertRegex(h.get("etag", ""), r'^"[0-9a-f]{32}"$')

    def test_etag_revalidation_answers_304_until_the_file_differs(self):
        for url, _ in web_files():
            with self.subTest(url=url):
                _, h, _ = self.get_raw(url)
                etag = h["etag"]
                for inm in (etag, 'W/' + etag, '"other", ' + etag, "*"):
                    status, h2, body = self.get_raw(url, {"If-None-Match": inm})
                    self.assertEqual(status, 304, inm)
                    self.assertEqual(body, b"")
                    self.assertEqual(h2.get("etag"), etag)
                    self.assertEqual(h2.get("content-security-policy"), CSP)
                status, _, body = self.get_raw(url, {"If-None-Match": '"0000"'})
                self.assertEqual(status, 200)
                self.assertTrue(body)

    def test_files_that_differ_have_different_etags(self):
        tags = {}
        for url, path in web_files():
            _, h, body = self.get_raw(url)
            tags.setdefault(h["etag"], set()).add(body)
        for tag, bodies in tags.items():
            self.assertEqual(len(bodies), 1, tag)

    def test_head_gives_the_headers_without_the_body(self):
        status, h, body = self.get_raw("/me", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertEqual(h.get("content-type"), TYPES["html"])
        self.assertEqual(h.get("content-security-policy"), CSP)

    def test_no_key_is_needed_and_a_bad_one_is_not_read(self):
        for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic eDp5"}):
            status, _, _ = self.get_raw("/me", headers)
            self.assertEqual(status, 200, headers)

    def test_unknown_files_are_404_in_the_error_shape(self):
        for path in ("/me/nope.js", "/me/index.htm", "/me/%2e%2e/CMakeLists.txt", "/me/../README.md",
                     "/shared/nope.js", "/shared", "/me/me.js/x", "/mee", "/web/me/index.html"):
            with self.subTest(path=path):
                self.assertError(self.request("GET", path), 404, "not_found")
        # Spanish for a Spanish browser, as every error.
        status, _, body = self.request("GET", "/me/nope.js", headers={"Accept-Language": "es"})
        self.assertEqual(status, 404)
        self.assertNotEqual(body["error"]["message"], self.request("GET", "/me/nope.js")[2]["error"]["message"])

    def test_other_methods_are_405_with_allow(self):
        for method in ("POST", "PUT", "DELETE"):
            status, h, _ = self.request(method, "/me")
            self.assertEqual(status, 405, method)
            self.assertEqual(h.get("allow"), "GET, HEAD")

    def test_pages_load_nothing_from_another_origin_and_inline_nothing(self):
        for url, path in web_files():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with self.subTest(url=url):
                self.assertNotRegex(text, r"(?i)(src|href|action)\s*=\s*[\"']?(https?:)?//")
                self.assertNotRegex(text, r"(?i)\b(fetch|import)\s*\(\s*[\"'`](https?:)?//")
                self.assertNotRegex(text, r"(?i)document\.cookie|localStorage|sessionStorage")
                if path.endswith(".html"):
                    self.assertNotRegex(text, r"(?i)<script(?![^>]*\bsrc=)[^>]*>")
                    self.assertNotRegex(text, r"(?i)<style\b|\sstyle\s*=|\son[a-z]+\s*=")


if __name__ == "__main__":
    unittest.main()
