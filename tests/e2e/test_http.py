"""The HTTP layer (contract §2, §5 GPC file and receipt key, §9 notice): routing, auth, errors,
body limits, rate limits, metrics, the access log, signals and TLS, against the real binary.

The endpoints that take a body belong to other modules; the body tests pick one from the
routing table (src/http/routes.c) and skip when there is none yet.
"""

import base64
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from harness import MESURA_BIN, MesuraServer, ServerTestCase, run_cli

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTES_C = os.path.join(HERE, "..", "..", "src", "http", "routes.c")

POLICY = """\
site: E2E Store
languages: [en, es, pl]
purposes:
  personalization:
    description:
      en: "Suggest products from what you browse and buy"
      es: "Sugerir productos a partir de lo que miras y compras"
      pl: "Proponowanie produktów na podstawie tego, co oglądasz i kupujesz"
    gpc: ignored
  ads_retargeting:
    description: {en: "Show you our ads on other sites"}
    gpc: honored
    channels: [ads]
event_types:
  view:     {purposes: [personalization], retention_days: 180, properties: [duration_s]}
  purchase: {purposes: [personalization], retention_days: 730, properties: [price, quantity]}
categories:
  camping: {label: {en: "Camping", es: "Camping"}}
"""

MIB = 1 << 20
SUBJECT_SECRET = "E2Esecret-subject-4711"

# Body-taking routes, preferred first; {name} parameters are filled from PARAM_VALUES.
BODY_ROUTES = [("PUT", "/v1/subjects/{s}/consents/{purpose}"), ("POST", "/v1/events"),
               ("PUT", "/v1/items/{item}"), ("POST", "/v1/recommendations")]
PARAM_VALUES = {"s": "e2e-subject", "purpose": "personalization", "item": "tent-2p"}


def routes_table():
    """[(METHOD, pattern)] of the routing table, read from its source."""
    try:
        with open(ROUTES_C, encoding="utf-8") as f:
            src = f.read()
    except OSError:
        return []
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.findall(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"', src)


def fill(pattern, values=PARAM_VALUES):
    return re.sub(r"\{\*?([^{}/]+)\}", lambda m: values.get(m.group(1), "x1"), pattern)


def body_route():
    """(method, path) of a route that takes a JSON body, or None."""
    table = routes_table()
    for method, pattern in BODY_ROUTES + [r for r in table if r[0] in ("PUT", "POST")]:
        if (method, pattern) in table:
            return method, fill(pattern)
    return None


def subject_routes():
    """Concrete GET/PUT paths of routes with a {s} parameter, holding SUBJECT_SECRET."""
    vals = dict(PARAM_VALUES, s=SUBJECT_SECRET)
    return [(m, fill(p, vals)) for m, p in routes_table() if "{s}" in p and m in ("GET", "PUT", "POST")]


def chunks(total, size=MIB):
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield b"x" * n
        sent += n


class HttpBasics(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "auditor": "audit", "ingest": "ingest"}

    # ---------------------------------------------------------------- routing

    def test_healthz(self):
        status, headers, body = self.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body, {"status": "ok"})
        self.assertEqual(headers["content-type"], "application/json; charset=utf-8")

    def test_head_is_served_by_get(self):
        status, _, body = self.request("HEAD", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(body, "")

    def test_unknown_route_is_404_with_the_error_shape(self):
        self.assertError(self.request("GET", "/v1/no-such-thing"), 404, "not_found")
        self.assertError(self.request("GET", "/healthz/extra"), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        status, headers, _ = reply = self.request("POST", "/healthz", body={})
        self.assertError(reply, 405, "method_not_allowed")
        self.assertIn("GET", [m.strip() for m in headers["allow"].split(",")])

    # ------------------------------------------------------------------- auth

    def test_missing_or_unknown_key_is_401(self):
        self.assertError(self.request("GET", "/metrics"), 401, "unauthorized")
        self.assertError(self.request("GET", "/metrics", key="mes_not-a-real-key"), 401, "unauthorized")
        self.assertError(self.request("GET", "/metrics", headers={"Authorization": "Basic Zm9vOmJhcg=="}),
                         401, "unauthorized")
        _, headers, _ = self.request("GET", "/metrics")
        self.assertTrue(headers.get("www-authenticate", "").startswith("Bearer"), headers)

    def test_key_without_the_scope_is_403(self):
        self.assertError(self.request("GET", "/metrics", key=self.key("ingest")), 403, "forbidden")

    def test_public_routes_need_no_key(self):
        for path in ("/healthz", "/.well-known/gpc.json", "/v1/receipts/public-key", "/v1/privacy-notice"):
            status, _, body = self.request("GET", path)
            self.assertEqual(status, 200, (path, body))

    # ----------------------------------------------------------------- bodies

    def need_body_route(self):
        r = body_route()
        if not r:
            self.skipTest("no route takes a body yet")
        return r

    def test_malformed_json_is_400(self):
        method, path = self.need_body_route()
        err = self.assertError(self.request(method, path, body='{"status": ', key=self.key("admin")),
                               400, "malformed_json")
        self.assertIn("line", err["message"])

    def test_unknown_top_level_field_is_400(self):
        method, path = self.need_body_route()
        self.assertError(self.request(method, path, body={"no_such_field_e2e": 1}, key=self.key("admin")),
                         400, "unknown_field", field="/no_such_field_e2e")

    def test_body_over_16_mib_is_413_after_auth(self):
        method, path = self.need_body_route()
        big = b" " * (17 * MIB)
        json_type = {"Content-Type": "application/json"}
        # The key is checked before the size: no key is 401, a key without the scope 403.
        self.assertError(self.request(method, path, body=big, headers=json_type), 401, "unauthorized")
        self.assertError(self.request(method, path, body=big, key=self.key("auditor"), headers=json_type),
                         403, "forbidden")
        self.assertError(self.request(method, path, body=big, key=self.key("admin"), headers=json_type),
                         413, "body_too_large")
        # Without a declared length (chunked) the cap holds as the bytes arrive.
        self.assertError(self.request(method, path, body=chunks(17 * MIB), key=self.key("admin"), chunked=True,
                                      headers=json_type),
                         413, "body_too_large")
        self.assertEqual(self.request("GET", "/healthz")[0], 200)

    def test_oversized_body_is_refused_before_it_is_sent(self):
        method, path = self.need_body_route()

        def head(length, key=None, expect=False):
            lines = ["%s %s HTTP/1.1" % (method, path), "Host: e2e", "Content-Type: application/json",
                     "Content-Length: %d" % length]
            if key:
                lines.append("Authorization: Bearer " + key)
            if expect:
                lines.append("Expect: 100-continue")
            return ("\r\n".join(lines) + "\r\n\r\n").encode()

        # A client that waits for "100 Continue" hears the verdict instead, body unsent.
        self.assertError(self.server.raw(head(17 * MIB, expect=True)), 401, "unauthorized")
        self.assertError(self.server.raw(head(17 * MIB, key=self.key("admin"), expect=True)), 413, "body_too_large")
        # A body far too large to be worth reading and dropping: refused at once.
        self.assertError(self.server.raw(head(1 << 30, key=self.key("admin"))), 413, "body_too_large")

    def test_body_of_exactly_16_mib_is_read(self):
        method, path = self.need_body_route()
        status, _, body = self.request(method, path, body=b" " * (16 * MIB), key=self.key("admin"),
                                       headers={"Content-Type": "application/json"})
        # All blanks: an empty document, refused by the JSON parser, not by the size cap.
        self.assertNotEqual(status, 413, body)
        self.assertEqual(status, 400, body)

    def test_invalid_path_id_is_400_with_its_parameter(self):
        routes = [p for m, p in routes_table() if m == "GET" and "{s}" in p and "{*" not in p]
        if not routes:
            self.skipTest("no GET route with a {s} parameter yet")
        for bad in ("%01ctl", "%zz", "a" * 129):
            path = fill(routes[0], dict(PARAM_VALUES, s=bad))
            self.assertError(self.request("GET", path, key=self.key("admin")), 400, "invalid_id", field="/path/s")

    # ------------------------------------------------- GPC and subject tokens

    def need_route(self, method, pattern):
        if (method, pattern) not in routes_table():
            self.skipTest("%s %s is not routed yet" % (method, pattern))

    def test_sec_gpc_counts_only_when_exactly_1(self):
        self.need_route("PUT", "/v1/subjects/{s}/consents/{purpose}")
        grant = {"status": "granted", "source": "banner"}
        path = "/v1/subjects/gpc-e2e/consents/ads_retargeting"
        for value in ("true", "01", "?1", "yes"):
            status, _, body = self.request("PUT", path, body=grant, key=self.key("admin"), headers={"Sec-GPC": value})
            self.assertEqual(status, 200, (value, body))
        for value in ("1", " 1 "):
            self.assertError(self.request("PUT", path, body=grant, key=self.key("admin"), headers={"Sec-GPC": value}),
                             409, "gpc_conflict")

    def test_subject_token_acts_only_on_its_own_subject(self):
        self.need_route("POST", "/v1/subjects/{s}/tokens")
        self.need_route("GET", "/v1/subjects/{s}/consents")
        admin = self.key("admin")
        for s in ("tok-e2e-1", "tok-e2e-2"):
            self.request("PUT", "/v1/subjects/%s/consents/personalization" % s,
                         body={"status": "granted", "source": "banner"}, key=admin)
        status, _, body = self.request("POST", "/v1/subjects/tok-e2e-1/tokens", key=admin)
        self.assertIn(status, (200, 201), body)
        token = body["token"]
        self.assertEqual(self.request("GET", "/v1/subjects/tok-e2e-1/consents", key=token)[0], 200)
        self.assertError(self.request("GET", "/v1/subjects/tok-e2e-2/consents", key=token), 403, "forbidden")
        self.assertError(self.request("GET", "/v1/subjects/tok-e2e-unknown/consents", key=token), 403, "forbidden")
        self.assertError(self.request("GET", "/metrics", key=token), 403, "forbidden")
        self.assertError(self.request("POST", "/v1/subjects/tok-e2e-1/tokens", key=token), 403, "forbidden")

    # ------------------------------------------------------- public documents

    def test_gpc_well_known(self):
        status, headers, body = self.request("GET", "/.well-known/gpc.json")
        self.assertEqual(status, 200)
        self.assertEqual(set(body), {"gpc", "lastUpdate"})
        self.assertIs(body["gpc"], True)
        self.assertRegex(body["lastUpdate"], r"^\d{4}-\d{2}-\d{2}$")

    def test_receipt_public_key_is_32_bytes(self):
        status, _, body = self.request("GET", "/v1/receipts/public-key")
        self.assertEqual(status, 200)
        self.assertEqual(body["alg"], "Ed25519")
        self.assertEqual(len(base64.b64decode(body["public_key"], validate=True)), 32)
        self.assertEqual(self.request("GET", "/v1/receipts/public-key")[2], body)

    def test_privacy_notice_json_html_and_languages(self):
        status, headers, en = self.request("GET", "/v1/privacy-notice")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"))
        self.assertIsInstance(en, dict)
        self.assertEqual(headers.get("content-language"), "en")

        status, headers, html = self.request("GET", "/v1/privacy-notice",
                                             headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        self.assertIn("<", html)

        status, _, as_json = self.request("GET", "/v1/privacy-notice",
                                          headers={"Accept": "text/html;q=0.5, application/json"})
        self.assertIsInstance(as_json, dict)

        for lang in ("es", "pl"):
            status, headers, body = self.request("GET", "/v1/privacy-notice",
                                                 headers={"Accept-Language": lang + ";q=0.9, en;q=0.1"})
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("content-language"), lang)
            self.assertNotEqual(body, en, lang)
            status, headers, page = self.request("GET", "/v1/privacy-notice",
                                                 headers={"Accept-Language": lang, "Accept": "text/html"})
            self.assertEqual(headers.get("content-language"), lang)
            self.assertTrue(headers["content-type"].startswith("text/html"))

    # ---------------------------------------------------------------- metrics

    def test_metrics_count_requests(self):
        before = len(self.server.access_lines())
        self.assertEqual(self.request("GET", "/healthz")[0], 200)
        self.request("GET", "/v1/no-such-thing")
        # A request is counted once its reply is sent, just before its access line.
        self.server.wait_for_log(lambda lines: len([l for l in lines if re.search(r"\bhttp [A-Z]+ ", l)])
                                 >= before + 2)
        status, headers, text = self.request("GET", "/metrics", key=self.key("admin"))
        self.assertEqual(status, 200, text)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        self.assertIn("# TYPE mesura_http_requests_total counter", text)
        m = re.search(r'^mesura_http_requests_total\{route="/healthz",method="GET",status="200"\} (\d+)$', text,
                      re.M)
        self.assertTrue(m, text)
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertRegex(text, r'(?m)^mesura_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+$')
        self.assertIn("# TYPE mesura_http_request_duration_seconds histogram", text)
        self.assertRegex(text, r'(?m)^mesura_http_request_duration_seconds_bucket\{route="/healthz",le="\+Inf"\} \d+$')
        self.assertRegex(text, r'(?m)^mesura_http_request_duration_seconds_count\{route="/healthz"\} \d+$')
        self.assertNotIn("no-such-thing", text)
        # The server's memory, now and at its peak, and the decision-record backlog.
        gauge = lambda name: int(re.search(r"(?m)^%s (\d+)$" % name, text).group(1))
        rss, peak = gauge("mesura_process_resident_memory_bytes"), gauge("mesura_process_peak_resident_memory_bytes")
        self.assertGreater(rss, 1 << 20)
        self.assertGreaterEqual(peak, rss)
        self.assertLess(gauge("mesura_decision_queue_bytes"), 64 << 20)
        self.assertEqual(gauge("mesura_decision_records_dropped_total"), 0)
        self.assertIn("# TYPE mesura_decision_records_dropped_total counter", text)

    # ------------------------------------------------------------- access log

    def test_access_log_never_holds_subject_ids(self):
        before = len(self.server.access_lines())
        paths = [("GET", "/v1/subjects/%s/no-such-page" % SUBJECT_SECRET),
                 ("GET", "/v1/subjects/%s/consents?subject=%s" % (SUBJECT_SECRET, SUBJECT_SECRET)),
                 ("GET", "/v1/subjects/E2E%%2F%s" % SUBJECT_SECRET)]
        paths += subject_routes()
        for method, path in paths:
            body = {"status": "granted", "source": "banner"} if method in ("PUT", "POST") else None
            self.request(method, path, body=body, key=self.key("admin"))
        lines = self.server.wait_for_log(lambda ls: len([l for l in ls if re.search(r"\bhttp [A-Z]+ ", l)])
                                         >= before + len(paths))
        access = [l for l in lines if re.search(r"\bhttp [A-Z]+ ", l)][before:]
        self.assertGreaterEqual(len(access), len(paths))
        for line in lines:
            self.assertNotIn(SUBJECT_SECRET, line)
        for line in access:
            self.assertRegex(line, r"\bhttp [A-Z]+ (unmatched|/\S*) \d{3} \d+\.\d+ms key=\S+")
            # A path that matches no route is refused before the key is looked at.
            self.assertIn("key=-" if " unmatched " in line else "key=admin", line)


class RateLimit(unittest.TestCase):
    def test_per_key_limit_answers_429_with_retry_after(self):
        server = MesuraServer(keys={"a": "admin", "b": "admin"}, serve_args=["--rate-limit", "5"])
        try:
            server.start()
            replies = [server.request("GET", "/metrics", key=server.keys["a"]) for _ in range(40)]
            limited = [r for r in replies if r[0] == 429]
            self.assertTrue(limited, [r[0] for r in replies])
            status, headers, body = limited[0]
            self.assertEqual(body["error"]["code"], "rate_limited")
            self.assertRegex(headers.get("retry-after", ""), r"^[1-9]\d*$")
            # Another key has its own bucket.
            self.assertEqual(server.request("GET", "/metrics", key=server.keys["b"])[0], 200)
            # Public routes carry no key and are not limited per key.
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()


class Lifecycle(unittest.TestCase):
    def setUp(self):
        if not os.access(MESURA_BIN, os.X_OK):
            self.skipTest("no mesura binary at %s" % MESURA_BIN)

    def test_sigterm_and_sigint_exit_0(self):
        server = MesuraServer()
        try:
            server.start()
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
            self.assertEqual(server.stop(), 0)
            server.start()
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
            self.assertEqual(server.stop(signal.SIGINT), 0)
        finally:
            server.cleanup()

    def test_sigterm_loses_no_acknowledged_write(self):
        route = ("PUT", "/v1/subjects/{s}/consents/{purpose}")
        if route not in routes_table():
            self.skipTest("no consent route yet")
        server = MesuraServer(policy=POLICY)
        try:
            server.start()
            key = server.keys["admin"]
            acked, enough, done = [], threading.Event(), threading.Event()

            def writer():
                i = 0
                try:
                    while True:
                        s = "durable-%d" % i
                        status, _, _ = server.request("PUT", "/v1/subjects/%s/consents/personalization" % s,
                                                      body={"status": "granted", "source": "banner"}, key=key)
                        if status != 200:
                            break
                        acked.append(s)
                        if len(acked) >= 25:
                            enough.set()
                        i += 1
                except (OSError, http.client.HTTPException):
                    pass  # the server went away mid-request: not acknowledged
                finally:
                    enough.set()
                    done.set()

            t = threading.Thread(target=writer, daemon=True)
            t.start()
            self.assertTrue(enough.wait(120))
            self.assertEqual(server.stop(), 0)
            self.assertTrue(done.wait(120))
            self.assertGreaterEqual(len(acked), 25)
            server.start()
            for s in acked:
                status, _, body = server.request("GET", "/v1/subjects/%s/consents" % s, key=key)
                self.assertEqual(status, 200, (s, body))
                self.assertEqual(body["purposes"]["personalization"]["status"], "granted", (s, body))
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()

    def test_sighup_reloads_and_refuses_a_bad_policy(self):
        server = MesuraServer(policy=POLICY)
        try:
            server.start()
            _, _, before = server.request("GET", "/v1/privacy-notice")
            server.write_policy("site: [this is not\n  a valid: policy\n")
            server.signal(signal.SIGHUP)
            server.wait_for_log(lambda ls: any("reload refused" in l for l in ls))
            status, _, after = server.request("GET", "/v1/privacy-notice")
            self.assertEqual(status, 200)
            self.assertEqual(after, before)
            server.write_policy(POLICY.replace("E2E Store", "Renamed Store"))
            server.signal(signal.SIGHUP)
            server.wait_for_log(lambda ls: any("policy reloaded" in l for l in ls))
            self.assertEqual(server.request("GET", "/healthz")[0], 200)
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()

    def test_port_in_use_is_a_clear_error(self):
        server = MesuraServer()
        try:
            server.start()
            p = run_cli("serve", "--data", server.data, "--listen", "127.0.0.1:%d" % server.port, check=False,
                        timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("listen", p.stderr)
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()


@unittest.skipUnless(shutil.which("openssl"), "openssl is not installed")
class Tls(unittest.TestCase):
    def setUp(self):
        if not os.access(MESURA_BIN, os.X_OK):
            self.skipTest("no mesura binary at %s" % MESURA_BIN)
        self.tmp = tempfile.mkdtemp(prefix="mesura-tls-")
        self.cert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                        "-out", self.cert, "-days", "1", "-subj", "/CN=localhost"],
                       check=True, capture_output=True, timeout=120)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_https_serves(self):
        server = MesuraServer(serve_args=["--tls-cert", self.cert, "--tls-key", self.key])
        try:
            server.start()
            self.assertEqual(server.scheme, "https")
            status, _, body = server.request("GET", "/healthz")
            self.assertEqual((status, body), (200, {"status": "ok"}))
            self.assertEqual(server.request("GET", "/metrics")[0], 401)
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()

    def test_bad_certificate_file_is_a_clear_error(self):
        server = MesuraServer()
        try:
            server.init()
            missing = os.path.join(self.tmp, "missing.pem")
            p = run_cli("serve", "--data", server.data, "--listen", "127.0.0.1:0", "--tls-cert", missing,
                        "--tls-key", self.key, check=False, timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("TLS certificate", p.stderr)
            not_pem = os.path.join(self.tmp, "not.pem")
            with open(not_pem, "w") as f:
                f.write("hello\n")
            p = run_cli("serve", "--data", server.data, "--listen", "127.0.0.1:0", "--tls-cert", self.cert,
                        "--tls-key", not_pem, check=False, timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("not a PEM file", p.stderr)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
