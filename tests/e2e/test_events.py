"""End-to-end tests of POST /v1/events and DELETE /v1/subjects/{s}/events/{event_id} (contract §4, §7).

One server for the file, over the example policy that `mesura init` writes. Covers the reply's
shape, every kind of bad input (each a 4xx with its specific code and pointer, and nothing
half-written), the consent gate, idempotent retries, forgetting one event, and the crash test:
acknowledged events survive `kill -9`, and no file of the data directory (WAL and SHM included)
holds a subject id, a property value or a search query in plain text.
"""

import json
import os
import re
import socket
import sqlite3
import time
import unittest

import harness
from harness import ServerTestCase

STORED = re.compile(r'^mesura_events_total\{outcome="([a-z_]+)"\} (\d+)$', re.M)


def now_ms():
    return int(time.time() * 1000)


def rfc3339(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


class EventsTest(ServerTestCase):
    keys = {"admin": "admin", "shop": "ingest,consent", "dsr": "subjects", "reader": "catalog"}

    # ------------------------------------------------------------ helpers

    def grant(self, subject, purpose="personalization"):
        status, _, body = self.request("PUT", "/v1/subjects/%s/consents/%s" % (subject, purpose),
                                       {"status": "granted", "source": "banner"}, key=self.key("shop"))
        self.assertEqual(status, 200, body)

    def post(self, body, **kw):
        return self.request("POST", "/v1/events", body, key=self.key("shop"), **kw)

    def ok(self, body):
        status, _, reply = self.post(body)
        self.assertEqual(status, 200, reply)
        return reply

    def outcomes(self):
        status, _, text = self.request("GET", "/metrics", key=self.key("admin"))
        self.assertEqual(status, 200, text)
        return {k: int(v) for k, v in STORED.findall(text)}

    def db_event_count(self):
        """Rows of the events table, read from the database file itself (ground truth)."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.server.data, "mesura.db"), uri=True, timeout=30)
        try:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            db.close()

    def stored_of(self, subject):
        """The subject's events as the API exports them, or None when there is no export endpoint yet."""
        status, _, body = self.request("GET", "/v1/subjects/%s/export" % subject, key=self.key("dsr"))
        if status != 200:
            return None
        return body["events"]

    def assertNothingWritten(self, before_rows, before_stored):
        self.assertEqual(self.db_event_count(), before_rows)
        self.assertEqual(self.outcomes().get("stored", 0), before_stored)

    # ------------------------------------------------------------ the reply

    def test_reply_shape(self):
        self.grant("shape-1")
        reply = self.ok({"events": [
            {"subject": "shape-1", "type": "view", "item": "tent-2p", "channel": "web",
             "ts": rfc3339(now_ms() - 86400000), "source": "first_party",
             "context": {"authenticated": True, "device_shared": False, "request_id": "r_1", "placement": "home"},
             "properties": {"duration_s": 35, "email": "someone@example.com"}},
            {"subject": "shape-1", "type": "view", "item": "tent-2p", "ts": "not a time"},
            {"subject": "shape-1", "type": "purchase", "item": "tent-2p", "ts": now_ms() - 1000,
             "properties": {"price": 199.5, "quantity": 1, "currency": "EUR"}},
            {"subject": "nobody-consented", "type": "view", "item": "tent-2p"},
            {"subject": "shape-1", "type": "view", "item": "x", "source": "third_party"},
        ]})
        self.assertEqual(set(reply), {"accepted", "stored", "not_stored", "dropped_properties", "errors"})
        self.assertEqual(reply["not_stored"], {"no_consent": 1, "third_party": 1, "restricted": 0, "expired": 0})
        self.assertEqual((reply["accepted"], reply["stored"], reply["dropped_properties"]), (4, 2, 1))
        self.assertEqual(len(reply["errors"]), 1)
        entry = reply["errors"][0]
        self.assertEqual(entry["index"], 1)
        self.assertEqual(entry["error"]["code"], "invalid_timestamp")
        self.assertEqual(entry["error"]["field"], "/events/1/ts")
        self.assertTrue(entry["error"]["message"])

    def test_single_event(self):
        self.grant("single-1")
        reply = self.ok({"subject": "single-1", "type": "view", "item": "tent-2p"})
        self.assertEqual((reply["accepted"], reply["stored"], reply["errors"]), (1, 1, []))

    def test_expired(self):
        self.grant("old-1")
        reply = self.ok({"subject": "old-1", "type": "view", "item": "a", "ts": now_ms() - 200 * 86400000})
        self.assertEqual((reply["stored"], reply["not_stored"]["expired"]), (0, 1))

    def test_epoch_seconds_are_refused_not_expired(self):
        """An integer ts in seconds would read as January 1970 in milliseconds and vanish as
        `expired`: it is refused as a unit mistake, while any real millisecond ts is kept."""
        self.grant("secs-1")
        seconds = now_ms() // 1000 - 3600
        rows, stored = self.db_event_count(), self.outcomes().get("stored", 0)
        reply = self.post({"subject": "secs-1", "type": "view", "item": "a", "ts": seconds})
        self.assertError(reply, 400, "invalid_timestamp", "/ts")
        message = reply[2]["error"]["message"]
        self.assertIn("seconds", message)
        self.assertIn("milliseconds", message)
        self.assertNothingWritten(rows, stored)
        # In a batch, the same event is an entry in errors and the others are kept.
        reply = self.ok({"events": [{"subject": "secs-1", "type": "view", "item": "a", "ts": 1764000000},
                                    {"subject": "secs-1", "type": "view", "item": "b", "ts": seconds * 1000}]})
        self.assertEqual((reply["accepted"], reply["stored"], reply["not_stored"]["expired"]), (1, 1, 0), reply)
        self.assertEqual([(e["index"], e["error"]["code"], e["error"]["field"]) for e in reply["errors"]],
                         [(0, "invalid_timestamp", "/events/0/ts")], reply)
        self.assertIn("seconds", reply["errors"][0]["error"]["message"])

    def test_scope(self):
        status, _, body = self.request("POST", "/v1/events", {"subject": "s", "type": "view", "item": "a"},
                                       key=self.key("reader"))
        self.assertEqual(status, 403, body)
        status, _, body = self.request("POST", "/v1/events", {"subject": "s", "type": "view", "item": "a"})
        self.assertEqual(status, 401, body)

    # ------------------------------------------------------------ bad input

    def test_bad_inputs(self):
        self.grant("bad-1")
        good = {"subject": "bad-1", "type": "view", "item": "tent-2p"}

        def with_(**kw):
            e = dict(good)
            e.update(kw)
            return json.dumps(e)

        future = now_ms() + 10 * 60 * 1000
        cases = [
            ("malformed json", '{"subject": "bad-1", "type": }', 400, "malformed_json", None),
            ("truncated body", json.dumps(good)[:-7], 400, "malformed_json", None),
            ("empty body", "", 400, "empty_body", None),
            ("not an object", "[1, 2]", 400, "wrong_type", None),
            ("wrong type subject", with_(subject=42), 400, "wrong_type", "/subject"),
            ("wrong type properties", with_(properties=[1]), 400, "wrong_type", "/properties"),
            ("wrong type context flag", with_(context={"authenticated": "yes"}), 400, "wrong_type",
             "/context/authenticated"),
            ("oversize subject", with_(subject="s" * 129), 400, "invalid_id", "/subject"),
            ("oversize item", with_(item="i" * 129), 400, "invalid_id", "/item"),
            ("oversize event_id", with_(event_id="e" * 129), 400, "invalid_id", "/event_id"),
            ("control character", with_(subject="bad\u00071"), 400, "invalid_id", "/subject"),
            ("control character in item", with_(item="a\nb"), 400, "invalid_id", "/item"),
            ("invalid utf-8", b'{"subject": "bad-\xff", "type": "view", "item": "a"}', 400, "invalid_utf8", None),
            ("unknown field", with_(category="camping"), 400, "unknown_field", "/category"),
            ("unknown context field", with_(context={"ip": "10.0.0.1"}), 400, "unknown_field", "/context/ip"),
            ("bad timestamp", with_(ts="2026-13-01T00:00:00Z"), 400, "invalid_timestamp", "/ts"),
            ("bad timestamp words", with_(ts="yesterday"), 400, "invalid_timestamp", "/ts"),
            ("negative timestamp", with_(ts=-1), 400, "invalid_timestamp", "/ts"),
            ("ts in future", with_(ts=future), 400, "ts_in_future", "/ts"),
            ("unknown event type", with_(type="teleport"), 400, "unknown_event_type", "/type"),
            ("missing item", json.dumps({"subject": "bad-1", "type": "view"}), 400, "missing_field", "/item"),
            ("missing who", json.dumps({"type": "view", "item": "a"}), 400, "missing_field", "/subject"),
            ("both who", with_(anonymous_id="c-1"), 400, "invalid_value", "/anonymous_id"),
            ("bad channel", with_(channel="fax"), 400, "invalid_value", "/channel"),
            ("bad source", with_(source="bought"), 400, "invalid_value", "/source"),
            ("empty batch", '{"events": []}', 400, "out_of_range", "/events"),
            ("batch not array", '{"events": {}}', 400, "wrong_type", "/events"),
            ("batch and event", json.dumps({"events": [good], "subject": "bad-1"}), 400, "unknown_field", "/subject"),
        ]
        rows, stored = self.db_event_count(), self.outcomes().get("stored", 0)
        for name, body, status, code, field in cases:
            with self.subTest(name):
                reply = self.post(body, headers={"Content-Type": "application/json"})
                self.assertError(reply, status, code, field)
        self.assertNothingWritten(rows, stored)

    def test_long_unknown_member_name(self):
        """A long member name in accented letters is cut to fit the error's
        field, never inside a letter: the reply stays a 400 (a cut letter
        once made it invalid UTF-8, and the server answered 503)."""
        self.grant("long-name-1")
        for pad in range(150, 158):
            name = "x" * pad + "\u00e9\u20ac\U0001F600" * 4
            event = {"subject": "long-name-1", "type": "view", "item": "tent-2p", name: 1}
            with self.subTest(pad=pad):
                status, _, body = self.post(event)
                self.assertEqual(status, 400, body)
                self.assertEqual(body["error"]["code"], "unknown_field", body)
                self.assertTrue(len(body["error"]["field"]) > 100, body)
                self.assertTrue(("/" + name).startswith(body["error"]["field"]), body)
                reply = self.ok({"events": [event, {"subject": "long-name-1", "type": "view", "item": "tent-2p"}]})
                self.assertEqual((reply["accepted"], reply["stored"]), (1, 1))
                self.assertEqual(reply["errors"][0]["index"], 0)
                self.assertEqual(reply["errors"][0]["error"]["code"], "unknown_field")
                self.assertTrue(("/events/0/" + name).startswith(reply["errors"][0]["error"]["field"]), reply)

    def test_subject_rows_in_memory_follow_consent(self):
        """A known subject is looked up in memory from its second event on
        (the counters in /metrics move), and a withdrawal or a new grant is
        obeyed by the very next event all the same."""
        def reads():
            status, _, text = self.request("GET", "/metrics", key=self.key("admin"))
            self.assertEqual(status, 200, text)
            return {k: int(v) for k, v in
                    re.findall(r'(?m)^mesura_subject_map_reads_total\{outcome="(\w+)"\} (\d+)$', text)}
        view = {"subject": "map-1", "type": "view", "item": "tent-2p"}
        self.grant("map-1")
        before = reads()
        self.assertEqual(self.ok(view)["stored"], 1)
        self.assertEqual(self.ok(view)["stored"], 1)
        after = reads()
        self.assertGreaterEqual(after["hit"] - before.get("hit", 0), 1, after)
        status, _, body = self.request("PUT", "/v1/subjects/map-1/consents/personalization",
                                       {"status": "denied", "source": "banner"}, key=self.key("shop"))
        self.assertEqual(status, 200, body)
        self.assertEqual(self.ok(view)["not_stored"]["no_consent"], 1)
        self.grant("map-1")
        self.assertEqual(self.ok(view)["stored"], 1)

    def test_batch_too_large(self):
        self.grant("big-1")
        rows, stored = self.db_event_count(), self.outcomes().get("stored", 0)
        events = [{"subject": "big-1", "type": "view", "item": "i%d" % i} for i in range(10001)]
        self.assertError(self.post({"events": events}), 413, "batch_too_large", "/events")
        self.assertNothingWritten(rows, stored)
        reply = self.ok({"events": events[:10000]})
        self.assertEqual(reply["stored"], 10000)

    # ------------------------------------------------------------ consent gate, idempotency, forgetting

    def test_no_consent_keeps_nothing(self):
        rows = self.db_event_count()
        before = self.outcomes().get("no_consent", 0)
        reply = self.ok({"events": [{"subject": "gate-stranger", "type": "purchase", "item": "a",
                                     "properties": {"currency": "EUR"}},
                                    {"anonymous_id": "cookie-gate", "type": "search", "query": "tents"}]})
        self.assertEqual((reply["stored"], reply["not_stored"]["no_consent"]), (0, 2))
        self.assertEqual(self.db_event_count(), rows)
        self.assertEqual(self.outcomes().get("no_consent", 0), before + 2)
        status, _, body = self.request("GET", "/v1/subjects/gate-stranger/export", key=self.key("dsr"))
        self.assertEqual(status, 404, body)  # the subject was not created (or there is no export yet)

    def test_gpc_overrides_grant(self):
        self.grant("gpc-1", "ads_retargeting")
        reply = self.ok({"subject": "gpc-1", "type": "view", "item": "a"})  # no GPC: stored
        self.assertEqual(reply["stored"], 1)
        status, _, reply = self.post({"subject": "gpc-1", "type": "view", "item": "a"}, headers={"Sec-GPC": "1"})
        self.assertEqual(status, 200, reply)
        self.assertEqual((reply["stored"], reply["not_stored"]["no_consent"]), (0, 1))
        status, _, consents = self.request("GET", "/v1/subjects/gpc-1/consents", key=self.key("shop"))
        self.assertEqual(status, 200, consents)
        self.assertEqual(consents["purposes"]["ads_retargeting"]["status"], "denied")
        self.assertEqual([r["source"] for r in consents["history"]], ["banner", "gpc"])

    def test_idempotent_retry(self):
        self.grant("retry-1")
        event = {"subject": "retry-1", "type": "purchase", "item": "a", "event_id": "order-77"}
        rows = self.db_event_count()
        for _ in range(3):
            reply = self.ok(event)
            self.assertEqual((reply["accepted"], reply["stored"]), (1, 1))
        self.assertEqual(self.db_event_count(), rows + 1)
        events = self.stored_of("retry-1")
        if events is not None:
            self.assertEqual([e["event_id"] for e in events], ["order-77"])

    def test_forget_one_event(self):
        self.grant("forget-1")
        self.ok({"events": [{"subject": "forget-1", "type": "view", "item": "a", "event_id": "keep"},
                            {"subject": "forget-1", "type": "view", "item": "b", "event_id": "drop"}]})
        rows = self.db_event_count()
        status, _, body = self.request("DELETE", "/v1/subjects/forget-1/events/drop", key=self.key("dsr"))
        self.assertEqual(status, 200, body)
        model = body.pop("model")
        self.assertEqual(body, {"event_id": "drop", "deleted": True})
        # No model has learnt from it yet (none is trained here): nothing carries it.
        self.assertEqual((model["contribution"], model["events"], model["exact"]), ("none", 0, True), model)
        self.assertEqual(self.db_event_count(), rows - 1)
        self.assertError(self.request("DELETE", "/v1/subjects/forget-1/events/drop", key=self.key("dsr")),
                         404, "not_found")
        self.assertError(self.request("DELETE", "/v1/subjects/nobody-here/events/drop", key=self.key("dsr")),
                         404, "not_found")
        status, _, _ = self.request("DELETE", "/v1/subjects/forget-1/events/keep", key=self.key("shop"))
        self.assertEqual(status, 403)
        events = self.stored_of("forget-1")
        if events is not None:
            self.assertEqual([e["event_id"] for e in events], ["keep"])

    # ------------------------------------------------------------ crash and data at rest

    def test_stops_after_clients_hang_up_on_parked_requests(self):
        """Clients that hang up while their events wait for the group commit must not keep the server
        from stopping: 64 connections each send four events and close at once (a reset), then SIGTERM.
        MHD may close such a request once it is resumed without calling the handler again; the
        server must still uncount it as parked, or it waits for it forever. Three servers in a row
        must each exit with status 0 within 10 s."""
        for _ in range(3):
            server = harness.MesuraServer(keys={"shop": "ingest,consent"}, serve_args=["--rate-limit", "-1"])
            try:
                server.init()
                server.start()
                key = server.keys["shop"]
                status, _, _ = server.request("PUT", "/v1/subjects/hang-1/consents/personalization",
                                              body={"status": "granted", "source": "test"}, key=key)
                self.assertEqual(status, 200)
                body = b'{"subject":"hang-1","type":"view","item":"item-1"}'
                req = (b"POST /v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + key.encode() +
                       b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
                       b"\r\n\r\n" + body)
                socks = []
                for _ in range(64):
                    so = socket.create_connection((server.host, server.port))
                    so.sendall(req * 4)
                    socks.append(so)
                for so in socks:  # linger 0: close with a reset, replies unread
                    so.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    so.close()
                saved, harness.STOP_TIMEOUT_S = harness.STOP_TIMEOUT_S, 15
                try:
                    t0 = time.monotonic()
                    rc = server.stop()
                finally:
                    harness.STOP_TIMEOUT_S = saved
                self.assertEqual(rc, 0, "the server did not stop within 15 s (killed)")
                self.assertLess(time.monotonic() - t0, 10)
            finally:
                server.stop()
                server.cleanup()

    def test_zz_crash_and_plaintext(self):
        subject = "crash-subj-5c1e7a"
        secret_value = "prop-value-9d2b44"
        query = "search-words-71f0c3"
        self.grant(subject)
        rows = self.db_event_count()
        acked = 0
        for batch in range(20):
            events = [{"subject": subject, "type": "purchase", "item": "item-%d" % (batch * 50 + i),
                       "event_id": "ord-%d" % (batch * 50 + i),
                       "properties": {"currency": secret_value, "undeclared": secret_value}}
                      for i in range(49)]
            events.append({"subject": subject, "type": "search", "query": query, "event_id": "q-%d" % batch})
            reply = self.ok({"events": events})
            self.assertEqual(reply["stored"], 50)
            acked += reply["stored"]
        self.server.kill9()
        # As the crash left them (the WAL not yet checkpointed), then as the restarted server keeps them.
        seen = self.assertNoPlaintext([subject, secret_value, query])
        self.assertIn("mesura.db-wal", seen)
        self.server.start()
        self.assertEqual(self.db_event_count(), rows + acked)
        events = self.stored_of(subject)
        if events is not None:
            self.assertEqual(len(events), acked)
            self.assertEqual(sum(1 for e in events if e.get("query") == query), 20)
        self.assertNoPlaintext([subject, secret_value, query])

    def assertNoPlaintext(self, texts):
        """No file under the data directory holds any of texts; returns the file names read."""
        seen = []
        for root, _, files in os.walk(self.server.data):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                seen.append(name)
                for text in texts:
                    self.assertNotIn(text.encode(), data, "%r found in %s" % (text, name))
        return seen


if __name__ == "__main__":
    unittest.main()
