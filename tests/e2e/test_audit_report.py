"""The audit report as a person sees it: rendered by headless Chromium (Debian's `chromium`, installed by
`scripts/install-deps.sh check`), with a screenshot saved beside the binary under `artifacts/`.

The page shows, at the top, the summary: one sentence per finding (here the planted ones of test_audit.py:
younger and older shoppers are shown different categories, and postal_code stands in for ethnicity),
then one bar chart per measure, flagged measures in orange and the others in blue, each bar with its
interval as a thin line, then the table of proxies and the method in plain words. The test checks the
rendered page's text and finds both colours among the screenshot's pixels. Skips, saying so, when
chromium is absent.
"""

import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib

from harness import MESURA_BIN, ServerTestCase, build_crowd
from test_audit import COUNT, CROWD, ITEMS, PEOPLE, POLICY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAG = (0xC2, 0x41, 0x0C)   # a flagged measure's bars
PLAIN = (0x25, 0x63, 0xEB)  # the other bars


def png_pixels(path):
    """(width, height, set of RGB colours) of an 8-bit RGB or RGBA PNG, with the stdlib only."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), width * bpp
    colours, prev, at = set(), bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[at], bytearray(raw[at + 1:at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(tuple(line[i:i + 3]) for i in range(0, stride, bpp))
        prev = line
    return width, height, colours


@unittest.skipIf(CHROMIUM is None, "chromium is not installed: run scripts/install-deps.sh check to render the "
                                   "audit report in a browser")
class AuditReportInBrowserTest(ServerTestCase):
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog,recommend", "auditor": "audit"}

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
        st, _, cls.audit = req("POST", "/v1/audits", {"attributes": ["age_band"], "placement": "home",
                                                      "count": COUNT}, key=auditor)
        assert st == 201, cls.audit
        cls.out = os.path.join(os.path.dirname(MESURA_BIN), "artifacts")
        os.makedirs(cls.out, exist_ok=True)

    def render(self, lang):
        st, _, html = self.request("GET", "/v1/audits/%s/report.html" % self.audit["id"], key=self.key("auditor"),
                                   headers={"Accept-Language": lang})
        self.assertEqual(st, 200)
        page = os.path.join(self.server.tmp, "report-%s.html" % lang)
        with open(page, "w", encoding="utf-8") as f:
            f.write(html)
        shot = os.path.join(self.out, "audit-report-%s.png" % lang)
        if os.path.exists(shot):
            os.remove(shot)
        profile = tempfile.mkdtemp(prefix="mesura-chromium-")
        try:
            flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                     "--user-data-dir=" + profile, "--host-resolver-rules=MAP * ~NOTFOUND"]
            subprocess.run(flags + ["--window-size=1000,1800", "--screenshot=" + shot, "file://" + page],
                           capture_output=True, timeout=120, check=True)
            dom = subprocess.run(flags + ["--dump-dom", "file://" + page], capture_output=True, text=True,
                                 timeout=120, check=True).stdout
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        return shot, dom

    def test_the_report_renders_with_its_findings_and_charts(self):
        shot, dom = self.render("en")
        self.assertIn("postal_code stands in for ethnicity", dom)
        self.assertIn("For age_band, the group", dom)
        self.assertIn("How this audit works", dom)
        self.assertNotIn("35-54", dom)
        width, height, colours = png_pixels(shot)
        self.assertEqual((width, height), (1000, 1800))
        self.assertIn(FLAG, colours, "no flagged (orange) bar was drawn")
        self.assertIn(PLAIN, colours, "no plain (blue) bar was drawn")
        print("\nscreenshot: %s" % shot)

    def test_the_report_renders_in_spanish(self):
        shot, dom = self.render("es")
        self.assertIn("postal_code sustituye a ethnicity", dom)
        self.assertIn("Cómo funciona esta auditoría", dom)
        self.assertTrue(os.path.getsize(shot) > 10000)


if __name__ == "__main__":
    unittest.main()
