"""The demo store a newcomer meets first (`mesura demo`), checked as an outside probe checks it:
for its shoppers, on every channel, no item is explicit when a sensitive event the shopper did not
declare stands behind it (in its reason, or anywhere among the data its score used, as `why`
lists it), and no item of a sensitive category they did not declare reaches email or ads.

Runnable alone against the demo for a figure: python3 test_demo.py -v
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness
from harness import MESURA_BIN

CHANNELS = ("web", "app", "store", "email", "ads")
PUSHING = ("email", "ads")
SHOPPERS = ["shopper-%04d" % i for i in range(1, 201)]
NON_PERSONAL = {"popular", "trending", "similar_to_current", "editorial"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """`mesura demo` on its own data directory and port, then (for the probe's thousands of
    requests, which the demo's per-key rate limit would slow down) `mesura serve` on the same
    store without a rate limit; stdout and stderr collected."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="mesura-demo-")
        self.data = os.path.join(self.tmp, "demo")
        self.port = free_port()
        self.launch([MESURA_BIN, "demo", "--data", self.data, "--listen", "127.0.0.1:%d" % self.port])

    def launch(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        self.cond = threading.Condition()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, sink), daemon=True).start()

    def _read(self, stream, sink):
        for line in stream:
            with self.cond:
                sink.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            sink.append(None)
            self.cond.notify_all()

    def wait(self, pred, timeout=300):
        end = time.time() + timeout
        with self.cond:
            while not pred():
                if None in self.out or None in self.err:
                    raise AssertionError("mesura demo stopped: %s" % "\n".join(l for l in self.err if l))
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("mesura demo did not start: %s" % "\n".join(self.err[-5:]))
                self.cond.wait(left)

    def start(self):
        self.wait(lambda: any("listening on" in l for l in self.err if l)
                  and any("Stop with Ctrl-C" in l for l in self.out if l))
        key = [l.split()[-1] for l in self.out if l and "admin key" in l]
        self.key = key[0]
        # The shopper's own token as the demo prints it, tried on the demo's own server.
        self.token_line = next((l for l in self.out if l and "their own token" in l), "")
        self.token_status = None
        # The shopper's dashboard URL: the page, and the token and subject its fragment hands it.
        self.dashboard_line = next((l for l in self.out if l and "their dashboard" in l), "")
        self.dashboard = None
        d = re.search(r"(http://\S+?)(/me)#token=([^&\s]+)&subject=(\S+)", self.dashboard_line)
        if d:
            probe = harness.MesuraServer()
            probe.host, probe.port = "127.0.0.1", self.port
            page = probe.request("GET", d.group(2))
            export = probe.request("GET", "/v1/subjects/%s/export" % d.group(4), key=urllib.parse.unquote(d.group(3)))
            self.dashboard = {"origin": d.group(1), "served_on": "http://127.0.0.1:%d" % self.port, "page": page, "export_status": export[0],
                              "subject": urllib.parse.unquote(d.group(4))}
        # The brand's console: the page, and the admin key its fragment hands it.
        self.console = None
        c = re.search(r"(http://\S+?)(/admin)#key=(\S+)", next((l for l in self.out if l and "console" in l), ""))
        if c:
            probe = harness.MesuraServer()
            probe.host, probe.port = "127.0.0.1", self.port
            self.console = {"origin": c.group(1), "served_on": "http://127.0.0.1:%d" % self.port,
                            "page": probe.request("GET", c.group(2)), "key": c.group(3),
                            "overview": probe.request("GET", "/v1/admin/overview?days=90", key=c.group(3))}
        # The example shop page running the SDK: the page, and what the tokens of its fragment may do.
        self.example = None
        x = re.search(r"(http://\S+?)(/sdk/example\.html)(\S*)#token=([^&\s]+)&subject=([^&\s]+)&dashboard=(\S+)",
                      next((l for l in self.out if l and "the SDK on a shop page" in l), ""))
        if x:
            probe = harness.MesuraServer()
            probe.host, probe.port = "127.0.0.1", self.port
            who = x.group(5)
            browser, dashboard = urllib.parse.unquote(x.group(4)), urllib.parse.unquote(x.group(6))
            self.example = {
                "origin": x.group(1), "served_on": "http://127.0.0.1:%d" % self.port, "query": x.group(3),
                "page": probe.request("GET", x.group(2)), "script": probe.request("GET", "/sdk/example.js"),
                "consents": probe.request("GET", "/v1/subjects/%s/consents" % who, key=browser),
                "browser_export": probe.request("GET", "/v1/subjects/%s/export" % who, key=browser)[0],
                "dashboard_export": probe.request("GET", "/v1/subjects/%s/export" % who, key=dashboard)[0],
                "featured": re.search(r"subject=(\S+)", self.dashboard_line or "").group(1) if self.dashboard_line else None,
                "subject": who}
        m = re.search(r"Bearer (\S+)' http://\S+(/v1/subjects/[^/]+/export)", self.token_line)
        if m:
            probe = harness.MesuraServer()
            probe.host, probe.port = "127.0.0.1", self.port
            self.token_status = probe.request("GET", m.group(2), key=m.group(1))[0]
        self.printed = [l for l in self.out if l]  # what the newcomer reads, kept past the relaunch
        self.halt()
        self.port = free_port()
        self.launch([MESURA_BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:%d" % self.port,
                     "--rate-limit", "-1"])
        self.wait(lambda: any("listening on" in l for l in self.err if l))
        self.server = harness.MesuraServer()
        self.server.host, self.server.port = "127.0.0.1", self.port

    def request(self, method, path, body=None):
        return self.server.request(method, path, body, key=self.key)

    def halt(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.halt()
        shutil.rmtree(self.tmp, ignore_errors=True)


def sensitive_categories(policy_text):
    """Names under `categories:` whose settings (flow or block style) say sensitive: true."""
    block = re.search(r"^categories:\n((?:[ #].*\n|\n)*)", policy_text, re.M)
    found = set()
    for name, body in re.findall(r"^  ([\w-]+):(.*(?:\n    .*)*)", block.group(1) if block else "", re.M):
        if re.search(r"sensitive:\s*true", body):
            found.add(name)
    return found


class DemoTellsNothing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.demo = Demo()
        try:
            cls.demo.start()
        except BaseException:
            cls.demo.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.demo.stop()

    def test_the_printed_shopper_token_works_for_its_printed_lifetime(self):
        self.assertRegex(self.demo.token_line, r"their own token \(\s*60 min\)", self.demo.out)
        self.assertEqual(self.demo.token_status, 200, self.demo.token_line)

    def test_the_printed_audit_runs_and_finds_what_was_planted(self):
        # The lines the demo printed, pointed at the server that now serves its store.
        out = "\n".join(self.demo.printed)
        run = re.search(r"-d '(\{\"attributes\".*?\})' http://\S+(/v1/audits)\n", out)
        report = re.search(r"-H 'Accept-Language: (\w+)' -o \S+ http://\S+(/v1/audits/1/report\.html)", out)
        self.assertIsNotNone(run, out)
        self.assertIsNotNone(report, out)
        st, _, audit = self.demo.request("POST", run.group(2), json.loads(run.group(1)))
        self.assertEqual(st, 201, audit)
        self.assertGreater(audit["population"]["audited"], 500)
        proxy = next(p for p in audit["proxies"] if p["attribute"] == "postal_code" and p["protected"] == "ethnicity")
        self.assertTrue(proxy["flagged"], proxy)
        others = [p for p in audit["proxies"] if p["attribute"] == "postal_code" and p["protected"] != "ethnicity"]
        self.assertTrue(others and not any(p["flagged"] for p in others), others)
        # Age goes with the favourite categories: the age groups are shown some everyday category unevenly.
        everyday = {"camping", "kitchen", "books", "garden", "sports"}
        self.assertTrue(any(d["flagged"] for d in audit["disparities"]
                            if d["attribute"] == "age_band" and d["kind"] == "exposure" and d["of"] in everyday))
        status, headers, html = self.demo.server.request("GET", report.group(2).replace("/1/", "/%s/" % audit["id"]),
                                                         key=self.demo.key,
                                                         headers={"Accept-Language": report.group(1)})
        self.assertEqual(status, 200)
        self.assertIn('lang="es"', html)
        self.assertIn("postal_code sustituye a ethnicity", html)

    def test_the_printed_dashboard_url_opens_the_shoppers_page(self):
        d = self.demo.dashboard
        self.assertIsNotNone(d, self.demo.out)
        self.assertEqual(d["origin"], d["served_on"])
        status, headers, body = d["page"]
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "text/html; charset=utf-8")
        self.assertIn('src="/me/me.js"', body)
        # The token in the fragment opens that shopper's own data.
        self.assertEqual(d["export_status"], 200, self.demo.dashboard_line)

    def test_the_printed_console_url_opens_the_brands_console_with_the_admin_key(self):
        c = self.demo.console
        self.assertIsNotNone(c, self.demo.printed)
        self.assertEqual(c["origin"], c["served_on"])
        self.assertEqual(c["key"], self.demo.key)
        status, headers, body = c["page"]
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "text/html; charset=utf-8")
        self.assertIn('src="/admin/admin.js"', body)
        # The key in the fragment opens the console's data: the demo's consents (about 70 days old) are
        # charted over the console's 90 days, grants and the GPC denials both.
        status, _, overview = c["overview"]
        self.assertEqual(status, 200, overview)
        for kind in ("granted", "withdrawn"):
            self.assertGreater(sum(sum(p[kind]) for p in overview["consents"]["purposes"]), 0, overview["consents"])

    def test_the_printed_example_shop_page_runs_the_sdk_for_a_first_time_shopper(self):
        # The page itself is checked in a browser by tests/browser/sdk.test.mjs; here, that the demo
        # prints a link to it on its own server, with tokens in the fragment only, that do what the page needs.
        x = self.demo.example
        self.assertIsNotNone(x, self.demo.printed)
        self.assertEqual(x["origin"], x["served_on"])
        self.assertEqual(x["query"], "", "nothing before the fragment: a token must never ride in a query")
        status, headers, body = x["page"]
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "text/html; charset=utf-8")
        self.assertIn('src="/sdk/mesura.js"', body)
        self.assertIn('src="/sdk/example.js"', body)
        self.assertNotIn("<script>", body, "no inline script: the page lives under the strict CSP")
        self.assertIn("script-src 'self'", headers.get("content-security-policy", ""))
        self.assertEqual(x["script"][0], 200)
        # A shopper seen for the first time (so the page opens on the prompt), not the featured one.
        self.assertNotEqual(x["subject"], x["featured"])
        status, _, consents = x["consents"]
        self.assertEqual(status, 200, consents)
        self.assertEqual(consents["history"], [])
        # The SDK's token is a browser token (no export); the link's "your data" token opens the dashboard.
        self.assertEqual(x["browser_export"], 403)
        self.assertEqual(x["dashboard_export"], 200)

    def catalog(self):
        cats, cursor = {}, None
        while True:
            path = "/v1/items?limit=500" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
            st, _, body = self.demo.request("GET", path)
            self.assertEqual(st, 200, body)
            for it in body["items"]:
                cats[it["id"]] = set(it.get("categories", []))
            cursor = body.get("next_cursor")
            if not cursor:
                return cats

    def test_no_explicit_item_with_undeclared_sensitive_evidence(self):
        with open(os.path.join(self.demo.data, "mesura.yaml")) as f:
            sensitive = sensitive_categories(f.read())
        self.assertTrue(sensitive, "the demo policy declares sensitive categories")
        cats = self.catalog()
        checked = explicit = with_inference = 0
        bad = []
        for who in SHOPPERS:
            st, _, export = self.demo.request("GET", "/v1/subjects/%s/export" % who)
            if st == 404:
                continue
            self.assertEqual(st, 200, export)
            declared = set((export.get("preferences") or {}).get("interests", []))
            for ev in export["events"]:
                if ev.get("source") == "zero_party":
                    declared |= cats.get(ev.get("item"), set())

            def undeclared(item):
                return (cats.get(item, set()) & sensitive) - declared

            if any(undeclared(ev.get("item")) for ev in export["events"]):
                with_inference += 1
            for channel in CHANNELS:
                st, _, reply = self.demo.request("POST", "/v1/recommendations",
                                                 {"subject": who, "channel": channel, "count": 10})
                self.assertEqual(st, 200, reply)
                for it in reply["items"]:
                    checked += 1
                    where = (who, channel, it["item"])
                    if channel in PUSHING and reply["personalized"] and undeclared(it["item"]):
                        bad.append(("sensitive item pushed", where))
                    if it["disclosure"] != "explicit" or it["reason"]["code"] in NON_PERSONAL:
                        continue
                    explicit += 1
                    st, _, why = self.demo.request(
                        "GET", "/v1/subjects/%s/why?item=%s&channel=%s" % (who, urllib.parse.quote(it["item"]),
                                                                          channel))
                    self.assertEqual(st, 200, why)
                    used = [b.get("item") for b in it["reason"]["based_on"]] + \
                           [d.get("item") for d in why["data_used"]]
                    for item in used:
                        if item and undeclared(item):
                            bad.append(("explicit with sensitive evidence", where, item))
        print("demo: %d items checked on %d channels, %d explicit, %d shoppers with undeclared sensitive "
              "events, %d violations" % (checked, len(CHANNELS), explicit, with_inference, len(bad)))
        self.assertGreater(with_inference, 0, "the check must meet shoppers with sensitive histories")
        self.assertGreater(explicit, 0, "the check must meet explicit items")
        self.assertEqual(bad, [])


if __name__ == "__main__":
    unittest.main()
