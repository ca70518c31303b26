"""The HTTP layer at its edges, against the real binary: a body whose length is given two ways
(request smuggling), slow clients and their deadlines, bodies not declared as JSON (415),
error messages in the client's language without library wording or the body's text, and a full
disk (507, /healthz degraded, nothing acknowledged lost).

The full-disk test mounts a small tmpfs for the data directory and is skipped where the test may
not mount one (not root).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import MESURA_BIN, MesuraServer, ServerTestCase

POLICY = """\
site: Edge Store
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggest products from what you browse and buy"}}
event_types:
  view: {purposes: [personalization], retention_days: 180}
serving: {header_timeout_s: 1, body_timeout_s: 2}
"""

JSON = {"Content-Type": "application/json"}
GRANT = json.dumps({"status": "granted", "source": "banner"}).encode()

# A deadline of 1 or 2 s is met within the sweep's quarter second; the bound leaves room for a
# loaded machine and sanitizers while staying far below the 60 s idle timeout, so that a cut within
# it is the deadline's doing, not the idle timeout's.
CUT_WITHIN_S = 8


def exchange(server, data, timeout=30):
    """Sends data on a fresh connection, reads until the server closes it or goes quiet for
    `timeout`; returns (replies as [(status, headers, body)], closed_by_server)."""
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    buf, closed = b"", False
    try:
        sock.sendall(data)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        sock.close()
    return parse_replies(buf), closed


def parse_replies(buf):
    replies = []
    while b"\r\n\r\n" in buf:
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        body, buf = rest[:n], rest[n:]
        if "json" in hdrs.get("content-type", "") and body:
            body = json.loads(body.decode("utf-8"))
        replies.append((int(lines[0].split()[1]), hdrs, body))
    return replies


def dribble(server, head, rest, every_s=0.2, limit_s=30):
    """Sends head at once, then rest one byte every every_s; returns (seconds until the server
    closed the connection or answered, the bytes it answered)."""
    start = time.monotonic()
    sock = socket.create_connection((server.host, server.port), timeout=limit_s)
    got = b""
    try:
        sock.sendall(head)
        for i in range(len(rest)):
            time.sleep(every_s)  # the client's pace, not a wait for the server
            sock.sendall(rest[i:i + 1])
        got = sock.recv(65536)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return time.monotonic() - start, got


class Edges(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin"}

    def put_consent_head(self, extra, subject="edge-1"):
        lines = ["PUT /v1/subjects/%s/consents/personalization HTTP/1.1" % subject, "Host: edge",
                 "Authorization: Bearer " + self.key("admin"), "Content-Type: application/json"] + extra
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    # ------------------------------------------------------ request smuggling

    def test_body_length_given_two_ways_is_400_and_the_connection_closes(self):
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(GRANT), GRANT)
        smuggled = b"GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n"
        cases = {
            "two Content-Lengths": (["Content-Length: %d" % len(GRANT), "Content-Length: %d" % len(GRANT)], GRANT),
            "two different Content-Lengths": (["Content-Length: %d" % len(GRANT), "Content-Length: 0"], GRANT),
            "Content-Length and chunked": (["Content-Length: %d" % len(GRANT), "Transfer-Encoding: chunked"],
                                           chunked),
            "an encoding other than chunked": (["Transfer-Encoding: gzip, chunked"], chunked),
            "Transfer-Encoding twice": (["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], chunked),
            "a blank before the colon": (["Content-Length : %d" % len(GRANT)], GRANT),
        }
        for name, (extra, body) in cases.items():
            with self.subTest(name):
                replies, closed = exchange(self.server, self.put_consent_head(extra) + body + smuggled)
                self.assertTrue(replies, name)
                self.assertError(replies[0], 400, "bad_request")
                # Nothing after it on the connection is read as a request: one reply, then closed.
                self.assertEqual(len(replies), 1, replies)
                self.assertTrue(closed, name)
                self.assertEqual(replies[0][1].get("connection", "").lower(), "close")
        # Nothing was recorded for the subject either.
        status, _, body = self.request("GET", "/v1/subjects/edge-1/consents", key=self.key("admin"))
        self.assertNotEqual((body.get("purposes") or {}).get("personalization", {}).get("status"), "granted", body)

    def test_one_length_still_keeps_the_connection(self):
        head = self.put_consent_head(["Content-Length: %d" % len(GRANT)], subject="edge-ok")
        replies, _ = exchange(self.server, head + GRANT + b"GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n", timeout=3)
        self.assertEqual([r[0] for r in replies], [200, 200], replies)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(GRANT), GRANT)
        replies, _ = exchange(self.server, self.put_consent_head(["Transfer-Encoding: chunked"], "edge-ok2") + chunked,
                              timeout=3)
        self.assertEqual([r[0] for r in replies], [200], replies)

    # ------------------------------------------------------------ slow clients

    def test_a_head_sent_a_byte_at_a_time_is_cut_at_its_deadline(self):
        # Each byte comes well within the idle timeout; the head as a whole never comes in time.
        took, got = dribble(self.server, b"GET /healthz HTTP/1.1\r\n", b"Host: edge\r\nX-Slow: " + b"s" * 200 + b"\r\n\r\n")
        self.assertEqual(got, b"")
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, CUT_WITHIN_S)

    def test_a_body_sent_a_byte_at_a_time_is_cut_at_its_deadline(self):
        head = self.put_consent_head(["Content-Length: %d" % len(GRANT)], subject="edge-slow")
        took, got = dribble(self.server, head, GRANT * 3, every_s=0.3)
        self.assertEqual(got, b"")
        self.assertGreaterEqual(took, 1.9)
        self.assertLess(took, CUT_WITHIN_S)
        # Nothing half-received was kept.
        status, _, body = self.request("GET", "/v1/subjects/edge-slow/consents", key=self.key("admin"))
        self.assertNotEqual((body.get("purposes") or {}).get("personalization", {}).get("status"), "granted", body)

    def test_a_slow_client_within_its_deadlines_is_served(self):
        head = self.put_consent_head(["Content-Length: %d" % len(GRANT)], subject="edge-patient")
        # The body over about a second: slow, but within its 2 s.
        took, got = dribble(self.server, head, GRANT, every_s=1.0 / len(GRANT))
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got)

    def test_deadline_cuts_are_counted(self):
        dribble(self.server, b"GET /healthz HTTP/1.1\r\n", b"Host: edge\r\n" * 20)
        status, _, text = self.request("GET", "/metrics", key=self.key("admin"))
        self.assertEqual(status, 200)
        self.assertRegex(text, r'(?m)^mesura_http_deadline_closed_total\{phase="head"\} [1-9]\d*$')

    # ------------------------------------------------------------ media types

    def test_a_body_not_declared_as_json_is_415(self):
        path = "/v1/subjects/edge-type/consents/personalization"
        for ctype in ("text/plain", "application/xml", "application/x-www-form-urlencoded", "application/jsonx",
                      "application/merge-patch+json", None):
            with self.subTest(ctype=ctype):
                headers = {"Content-Type": ctype} if ctype else {}
                err = self.assertError(self.request("PUT", path, body=GRANT, key=self.key("admin"), headers=headers),
                                       415, "unsupported_media_type")
                self.assertIn("application/json", err["message"])
        status, _, body = self.request("GET", "/v1/subjects/edge-type/consents", key=self.key("admin"))
        self.assertNotEqual((body.get("purposes") or {}).get("personalization", {}).get("status"), "granted", body)
        # The key still comes first.
        self.assertError(self.request("PUT", path, body=GRANT, headers={"Content-Type": "text/plain"}),
                         401, "unauthorized")

    def test_json_with_parameters_or_in_capitals_is_accepted(self):
        for i, ctype in enumerate(("application/json; charset=utf-8", "Application/JSON", "application/json ;charset=UTF-8")):
            with self.subTest(ctype=ctype):
                status, _, body = self.request("PUT", "/v1/subjects/edge-json-%d/consents/personalization" % i,
                                               body=GRANT, key=self.key("admin"), headers={"Content-Type": ctype})
                self.assertEqual(status, 200, body)

    def test_a_request_without_a_body_needs_no_content_type(self):
        self.request("PUT", "/v1/subjects/edge-nobody/consents/personalization", body=GRANT, key=self.key("admin"),
                     headers=JSON)
        status, _, body = self.request("POST", "/v1/subjects/edge-nobody/tokens", key=self.key("admin"))
        self.assertIn(status, (200, 201), body)
        # An empty JSON body where one is needed is the parser's matter, not the media type's.
        self.assertError(self.request("PUT", "/v1/items/edge-item", body=b"", key=self.key("admin")),
                         400, "empty_body")

    # ------------------------------------------------------- error languages

    def test_errors_follow_accept_language(self):
        english = {}
        for lang in ("en", "es", "pl"):
            with self.subTest(lang=lang):
                hdrs = {"Accept-Language": lang}
                e401 = self.assertError(self.request("GET", "/metrics", headers=hdrs), 401, "unauthorized")
                e404 = self.assertError(self.request("GET", "/v1/nothing-here", headers=hdrs), 404, "not_found")
                e400 = self.assertError(self.request("PUT", "/v1/items/edge-item", body={"title": 3},
                                                     key=self.key("admin"), headers=hdrs),
                                        400, "wrong_type", field="/title")
                e415 = self.assertError(self.request("PUT", "/v1/items/edge-item", body=b"{}",
                                                     key=self.key("admin"),
                                                     headers=dict(hdrs, **{"Content-Type": "text/plain"})),
                                        415, "unsupported_media_type")
                messages = [e401["message"], e404["message"], e400["message"], e415["message"]]
                if lang == "en":
                    english = messages
                    self.assertIn("title", e400["message"])  # English keeps the specific sentence
                else:
                    for m, en in zip(messages, english):
                        self.assertNotEqual(m, en)
        es = self.assertError(self.request("GET", "/metrics", headers={"Accept-Language": "es-ES,es;q=0.9"}),
                              401, "unauthorized")
        self.assertIn("clave", es["message"])
        pl = self.assertError(self.request("GET", "/metrics", headers={"Accept-Language": "fr, pl;q=0.5"}),
                              401, "unauthorized")
        self.assertIn("klucz", pl["message"])

    def test_batch_errors_follow_accept_language(self):
        batch = {"events": [{"subject": "edge-b", "type": "no_such_type", "item": "a"}]}
        status, _, en = self.request("POST", "/v1/events", body=batch, key=self.key("admin"))
        status, _, es = self.request("POST", "/v1/events", body=batch, key=self.key("admin"),
                                     headers={"Accept-Language": "es"})
        self.assertEqual(status, 200, es)
        self.assertEqual(es["errors"][0]["error"]["code"], "unknown_event_type")
        self.assertEqual(es["errors"][0]["error"]["field"], "/events/0/type")
        self.assertNotEqual(es["errors"][0]["error"]["message"], en["errors"][0]["error"]["message"])
        self.assertIn("política", es["errors"][0]["error"]["message"])

    def test_malformed_json_is_told_without_library_words_or_the_body(self):
        secret = "bodysecret4711"
        for body in ('{"title": "\\u0000"}', '{"title": %s}' % secret, '{"title": "x"} %s' % secret,
                     '{"title": "x", ' + secret, '{"title": 1%s}' % ("0" * 400)):
            with self.subTest(body=body[:40]):
                reply = self.request("PUT", "/v1/items/edge-item", body=body, key=self.key("admin"))
                status, _, payload = reply
                self.assertEqual(status, 400, payload)
                message = payload["error"]["message"]
                for word in ("JSON_ALLOW_NUL", "near", secret, "jansson", "'"):
                    self.assertNotIn(word, message)
                self.assertIn("line 1", message)

    # ------------------------------------------------------------ request ids

    def test_a_request_id_does_not_give_away_the_next(self):
        ids = []
        for _ in range(20):
            status, _, body = self.request("POST", "/v1/recommendations", body={}, key=self.key("admin"))
            self.assertEqual(status, 200, body)
            ids.append(body["request_id"])
        self.assertTrue(all(re.fullmatch(r"r_[0-9a-f]{32}", i) for i in ids), ids)
        nums = [int(i[2:18], 16) for i in ids]  # the record's number; then 64 random bits
        low = [n & ((1 << 22) - 1) for n in nums]
        # The next id is not this one plus a little: 20 in a row would need luck of 1 in 4 M each.
        near = [b - a for a, b in zip(low, low[1:]) if 0 < b - a <= 64]
        self.assertLessEqual(len(near), 1, ids)
        # Still in time order by the millisecond (the store appends records by id), and about now.
        ms = [n >> 22 for n in nums]
        self.assertEqual(ms, sorted(ms), ids)
        epoch_2020_ms = 1577836800000
        self.assertLess(abs(ms[-1] + epoch_2020_ms - time.time() * 1000), 120000, ids)
        for i in (ids[0], ids[-1]):
            self.assertEqual(self.request("GET", "/v1/recommendations/" + i, key=self.key("admin"))[0], 200, i)
            # Knowing the number is not enough: another tag, or none, finds nothing.
            forged = i[:-1] + ("0" if i[-1] != "0" else "1")
            for other in (forged, i[:18]):
                self.assertEqual(self.request("GET", "/v1/recommendations/" + other, key=self.key("admin"))[0],
                                 404, other)
        self.assertEqual(len({i[18:] for i in ids}), len(ids), ids)


@unittest.skipUnless(os.access(MESURA_BIN, os.X_OK), "no mesura binary at %s" % MESURA_BIN)
class FullDisk(unittest.TestCase):
    """The data directory on a tmpfs of a few MiB, filled while the server writes."""

    POLICY = """\
purposes:
  personalization: {description: {en: "Suggest products"}}
event_types:
  view: {purposes: [personalization], retention_days: 180}
"""
    MOUNT_MIB = 8

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="mesura-full-")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0700" % self.MOUNT_MIB, "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if p.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot mount a %d MiB tmpfs for a full disk (needs root): %s"
                          % (self.MOUNT_MIB, (p.stderr or "mount failed").strip()))
        self.server = MesuraServer(policy=self.POLICY, keys={"admin": "admin"})
        self.server.data = os.path.join(self.mnt, "data")

    def tearDown(self):
        self.server.cleanup()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        shutil.rmtree(self.mnt, ignore_errors=True)

    def fill(self):
        """Fills the tmpfs but for a few KiB; returns the filler's path."""
        filler = os.path.join(self.mnt, "filler")
        # Unbuffered: a buffered file keeps what the last write could not
        # place and fails again when closed, unless the free space happened
        # to be a multiple of the chunk.
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        os.truncate(filler, max(0, os.path.getsize(filler) - 32 * 1024))
        return filler

    def batch(self, n, tag):
        return {"events": [{"subject": "full-1", "type": "view", "item": "item-%d" % (i % 40),
                            "event_id": "%s-%d" % (tag, i)} for i in range(n)]}

    def test_full_disk_is_507_degraded_and_loses_nothing_acknowledged(self):
        server = self.server
        server.start()
        key = server.keys["admin"]
        self.assertEqual(server.request("PUT", "/v1/subjects/full-1/consents/personalization",
                                        body={"status": "granted", "source": "banner"}, key=key)[0], 200)
        acked = []
        for i in range(3):
            status, _, body = server.request("POST", "/v1/events", body=self.batch(50, "before%d" % i), key=key)
            self.assertEqual(status, 200, body)
            acked += ["before%d-%d" % (i, j) for j in range(50)]
        filler = self.fill()

        refused = []
        for i in range(400):
            status, headers, body = server.request("POST", "/v1/events", body=self.batch(50, "full%d" % i), key=key)
            if status == 200:
                self.assertEqual(body["stored"], 50, body)
                acked += ["full%d-%d" % (i, j) for j in range(50)]
                continue
            self.assertEqual(status, 507, body)  # never a 500
            self.assertEqual(set(body), {"error"}, body)
            self.assertEqual(body["error"]["code"], "storage_full", body)
            refused.append(i)
            if len(refused) >= 5:
                break
        self.assertGreaterEqual(len(refused), 5, "the disk never filled up")

        status, _, health = server.request("GET", "/healthz")
        self.assertEqual(status, 503, health)
        self.assertEqual(health["status"], "degraded")
        self.assertEqual(health["reason"], "storage_full")
        status, _, health = server.request("GET", "/healthz", headers={"Accept-Language": "es"})
        self.assertIn("almacenamiento", health["message"])
        # Reads go on while writes are refused.
        self.assertEqual(server.request("GET", "/v1/subjects/full-1/consents", key=key)[0], 200)
        self.assertEqual(server.request("GET", "/healthz")[0], 503)
        # The cause is logged once, not once per refused request (the log is written by a flusher
        # every 100 ms: wait for it, then a little longer for any repeat).
        server.wait_for_log(lambda lines: any("disk is full" in l for l in lines), timeout=10)
        time.sleep(0.5)
        cause = [l for l in server.log_lines() if "disk is full" in l]
        self.assertEqual(len(cause), 1, cause)

        # Room again, and a restart: every acknowledged event is there.
        os.unlink(filler)
        self.assertEqual(server.stop(), 0)
        server.start()
        self.assertEqual(server.request("GET", "/healthz")[:3:2], (200, {"status": "ok"}))
        status, _, doc = server.request("GET", "/v1/subjects/full-1/export", key=key)
        self.assertEqual(status, 200, doc)
        stored = {e.get("event_id") for e in doc["events"]}
        missing = [a for a in acked if a not in stored]
        self.assertEqual(missing, [], "acknowledged events lost")
        status, _, body = server.request("POST", "/v1/events", body=self.batch(5, "after"), key=key)
        self.assertEqual((status, body.get("stored")), (200, 5), body)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
