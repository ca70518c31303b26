"""End-to-end harness: runs the real `mesura` binary on an ephemeral loopback port.

Python stdlib only. The binary comes from $MESURA_BIN (CTest sets it), else ../../build/mesura.

    server = MesuraServer(policy=POLICY_TEXT, keys={"admin": "admin", "shop": "ingest,consent"})
    server.start()                      # init a fresh data dir, write the policy, create keys, serve
    status, headers, body = server.request("GET", "/metrics", key=server.keys["admin"])
    server.stop()                       # SIGTERM; returns the exit code
    server.cleanup()                    # removes the data dir

`body` is the parsed JSON when the reply says application/json, else text. `headers` is a dict
with lower-case names. The server's stderr is collected line by line (`server.log_lines()`,
`server.wait_for_log(pred)`), so tests can check the access log without sleeping.

ServerTestCase starts one server per test file (setUpClass) from the class attributes `policy`,
`keys` and `serve_args`.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MESURA_BIN = os.path.abspath(os.environ.get("MESURA_BIN") or os.path.join(HERE, "..", "..", "build", "mesura"))

START_TIMEOUT_S = 60  # sanitizer builds start slowly
STOP_TIMEOUT_S = 60
LISTENING = re.compile(r"listening on (https?)://(\S+):(\d+)\s*$")


class MesuraError(Exception):
    pass


def run_cli(*args, check=True, timeout=120):
    """Runs `mesura ARGS...`; returns the CompletedProcess (text mode)."""
    p = subprocess.run([MESURA_BIN, *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise MesuraError("mesura %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p


class MesuraServer:
    """One `mesura serve` process over its own temporary data directory."""

    def __init__(self, policy=None, keys=None, serve_args=(), env=None):
        self.policy = policy
        self.key_specs = dict(keys or {"admin": "admin"})
        self.serve_args = list(serve_args)
        self.env = env
        self.tmp = tempfile.mkdtemp(prefix="mesura-e2e-")
        self.data = os.path.join(self.tmp, "data")
        self.keys = {}
        self.proc = None
        self.scheme = "http"
        self.host = None
        self.port = None
        self._lines = []
        self._cond = threading.Condition()
        self._reader = None
        self._eof = True
        self._initialized = False

    # ------------------------------------------------------------ lifecycle

    def init(self):
        """`mesura init`, the policy, the keys. Done once; restart() keeps the data."""
        run_cli("init", "--data", self.data)
        if self.policy is not None:
            self.write_policy(self.policy)
        for name, scopes in self.key_specs.items():
            self.create_key(name, scopes)
        self._initialized = True

    def write_policy(self, text):
        with open(os.path.join(self.data, "mesura.yaml"), "w", encoding="utf-8") as f:
            f.write(text)

    def create_key(self, name, scopes):
        key = run_cli("keys", "create", "--data", self.data, "--scopes", scopes, "--name", name).stdout.strip()
        if not key or "\n" in key:
            raise MesuraError("keys create printed %r, not one key" % key)
        self.keys[name] = key
        return key

    def start(self):
        if not self._initialized:
            self.init()
        args = [MESURA_BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0", *self.serve_args]
        env = dict(os.environ)
        env.update(self.env or {})
        with self._cond:
            self._lines = []
            self._eof = False
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        m = None
        deadline = time.monotonic() + START_TIMEOUT_S
        with self._cond:
            while True:
                m = next((LISTENING.search(l) for l in self._lines if LISTENING.search(l)), None)
                if m or self._eof or time.monotonic() > deadline:
                    break
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
        if not m:
            self.kill9()
            raise MesuraError("mesura serve did not start:\n" + "\n".join(self.log_lines()))
        self.scheme, self.host, self.port = m.group(1), m.group(2), int(m.group(3))
        return self

    def _read_stderr(self, proc):
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stop(self, sig=signal.SIGTERM):
        """Sends SIGTERM (or sig) and waits; returns the exit code (None if not running)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._join_reader()
        self.proc = None
        return rc

    def kill9(self):
        """SIGKILL: the crash case."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            self._join_reader()
        self.proc = None

    def restart(self):
        """Stops (SIGTERM) and serves the same data dir again; the port changes."""
        self.stop()
        return self.start()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def cleanup(self):
        if self.proc:
            self.kill9()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _join_reader(self):
        if self._reader:
            self._reader.join(timeout=10)
            self._reader = None
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()

    # ----------------------------------------------------------------- logs

    def log_lines(self):
        with self._cond:
            return list(self._lines)

    def wait_for_log(self, pred, timeout=30):
        """Waits until pred(lines) is true; returns the lines. Raises on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self._lines):
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise MesuraError("log condition not met; stderr was:\n" + "\n".join(self._lines))
                self._cond.wait(timeout=left)
            return list(self._lines)

    def access_lines(self):
        """The access log lines ("... http METHOD ROUTE STATUS ...")."""
        return [l for l in self.log_lines() if re.search(r"\bhttp [A-Z]+ \S+ \d+ ", l)]

    # ------------------------------------------------------------- requests

    def connection(self, timeout=60):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=ssl._create_unverified_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, key=None, headers=None, chunked=False):
        """One request on a fresh connection; returns (status, headers, body).

        body: dict/list (sent as JSON), str or bytes (sent as is), an iterable of bytes with
        chunked=True (Transfer-Encoding: chunked), or None. key: the bearer key.
        """
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = "Bearer " + key
        data = body
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        conn = self.connection()
        try:
            if chunked:
                hdrs["Transfer-Encoding"] = "chunked"
                conn.request(method, path, body=data, headers=hdrs, encode_chunked=True)
            else:
                conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            rhdrs = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, rhdrs, decode_body(rhdrs, raw)
        finally:
            conn.close()

    def raw(self, data, timeout=60):
        """Sends raw bytes on a plain connection and reads one reply: (status, headers, body).

        For what http.client cannot do: a head announcing a body that never comes."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(data)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise MesuraError("connection closed before a reply: %r" % buf)
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            want = int(hdrs.get("content-length", "0"))
            while len(rest) < want:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            return status, hdrs, decode_body(hdrs, rest[:want])


def decode_body(headers, raw):
    ctype = headers.get("content-type", "")
    if "json" in ctype and raw:
        return json.loads(raw.decode("utf-8"))
    return raw.decode("utf-8", "replace")


def build_crowd(server, key, items, crowd, crowd_size, days=19):
    """Teaches a fresh server what goes together: declares `items` ({id: (title, categories)}),
    then, for each (viewed, bought) pattern of `crowd`, `crowd_size` earlier shoppers who granted
    personalization view those items in order and buy the others an hour later, spread over the
    last `days` days; then `mesura train`, and waits until the model is live."""
    body = {"items": [{"id": i, "title": t, "categories": c} for i, (t, c) in items.items()]}
    st, _, reply = server.request("POST", "/v1/items", body, key=key)
    assert st == 200 and reply["upserted"] == len(items), reply
    events, n = [], 0
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    for viewed, bought in crowd:
        for _ in range(crowd_size):
            n += 1
            who = "crowd-%03d" % n
            st, _, reply = server.request("PUT", "/v1/subjects/%s/consents/personalization" % who,
                                          {"status": "granted", "source": "banner"}, key=key)
            assert st == 200, reply
            start = time.time() - (2 + n % days) * 86400.0
            events += [{"subject": who, "type": "view", "item": it, "ts": iso(start + j * 300)}
                       for j, it in enumerate(viewed)]
            events += [{"subject": who, "type": "purchase", "item": it, "ts": iso(start + 3600 + j * 60)}
                       for j, it in enumerate(bought)]
    st, _, reply = server.request("POST", "/v1/events", {"events": events}, key=key)
    assert st == 200 and reply["stored"] == len(events), reply
    p = run_cli("train", "--data", server.data)
    assert p.returncode == 0, p.stderr
    server.wait_for_log(lambda lines: any(" is live" in l for l in lines), timeout=60)


def probe_answers(server, probes, key="rec"):
    """What the server recommends (10 items, web) to each of probes and to an anonymous visitor (None):
    {who: [(item, score, reason code), ...]}, for comparing two worlds with answers_differ."""
    out = {}
    for who in list(probes) + [None]:
        body = {"count": 10, "channel": "web"}
        if who:
            body["subject"] = who
        st, _, reply = server.request("POST", "/v1/recommendations", body, key=server.keys[key])
        assert st == 200, reply
        out[who] = [(it["item"], it["score"], it["reason"]["code"]) for it in reply["items"]]
    return out


def answers_differ(a, b, tolerance=1e-4):
    """Where two sets of answers ({who: [(item, score, reason code), ...]}) differ: items, their order and
    their reasons must be identical, scores within `tolerance` (one unit of the printed precision: two
    requests a moment apart count the history's recency from their own clocks, so a score on a rounding
    boundary may print one unit apart). Returns a sentence naming the first difference, or None."""
    if set(a) != set(b):
        return "asked for different people: %r / %r" % (sorted(map(str, a)), sorted(map(str, b)))
    for who in a:
        x, y = a[who], b[who]
        if [(i, r) for i, _, r in x] != [(i, r) for i, _, r in y]:
            return "%s: items or reasons differ: %r != %r" % (who, x, y)
        for (i, s, _), (_, t, _) in zip(x, y):
            if abs(s - t) > tolerance + 1e-12:
                return "%s: %s scored %r != %r" % (who, i, s, t)
    return None


class ServerTestCase(unittest.TestCase):
    """One server per test file: set `policy`, `keys`, `serve_args` on the subclass."""

    policy = None
    keys = {"admin": "admin"}
    serve_args = ()
    server = None

    @classmethod
    def setUpClass(cls):
        if not os.access(MESURA_BIN, os.X_OK):
            raise unittest.SkipTest("no mesura binary at %s (set MESURA_BIN)" % MESURA_BIN)
        cls.server = MesuraServer(policy=cls.policy, keys=cls.keys, serve_args=cls.serve_args)
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            rc = cls.server.stop()
            cls.server.cleanup()
            if rc not in (0, None):
                raise AssertionError("mesura serve exited %r on SIGTERM" % rc)

    def request(self, method, path, body=None, key=None, headers=None, **kw):
        return self.server.request(method, path, body=body, key=key, headers=headers, **kw)

    def key(self, name):
        return self.server.keys[name]

    def assertError(self, reply, status, code, field=None):
        """reply is (status, headers, body): the contract's error shape with this code."""
        got_status, headers, body = reply
        self.assertEqual(got_status, status, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body), {"error"}, body)
        err = body["error"]
        self.assertEqual(err.get("code"), code, body)
        self.assertIsInstance(err.get("message"), str, body)
        self.assertTrue(err["message"], body)
        if field is None:
            self.assertNotIn("field", err, body)
        else:
            self.assertEqual(err.get("field"), field, body)
        return err
