"""End-to-end tests of browser tokens and of linking an anonymous visitor at login (contract §4
`anonymous_id`, §7 tokens) through HTTP.

One server for the file, over a policy whose `rights.token_minutes` is not the default. A browser
token (minted by the brand's backend with `{"use": "browser"}`) records its person's own consents,
sends their own events and asks for their own recommendations, and nothing else: another person's
events refuse the whole batch, another's recommendations and every rights page (export, erasure,
profile, why) answer 403. An anonymous visitor's events are kept only under the visitor's own
consent; at login (`POST /v1/subjects/{s}/link`) they move under the subject's key only when the
subject's own consent allows them, and otherwise nothing of the visitor is kept.
"""

import datetime
import os
import secrets

from harness import ServerTestCase

POLICY = """\
site: Browser Token Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  purchase: {purposes: [personalization], retention_days: 730}
rights: {token_minutes: 7}
"""


def unique(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(6))


def parse_ts(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class BrowserTokenTest(ServerTestCase):
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog", "rec": "recommend", "dsr": "subjects"}

    # ------------------------------------------------------------ helpers

    def mint(self, path, body=None):
        code, _, tok = self.request("POST", path, body, key=self.key("dsr"))
        self.assertEqual(code, 200, tok)
        return tok

    def grant(self, subject):
        code, _, body = self.request("PUT", "/v1/subjects/%s/consents/personalization" % subject,
                                     {"status": "granted"}, key=self.key("shop"))
        self.assertEqual(code, 200, body)

    def events_held(self, subject):
        code, _, body = self.request("GET", "/v1/subjects/%s/export" % subject, key=self.key("dsr"))
        if code == 404:
            return []
        self.assertEqual(code, 200, body)
        return body["events"]

    # ------------------------------------------------------------ lifetime from the policy

    def test_token_lifetime_comes_from_the_policy(self):
        for body in (None, {"use": "browser"}, {"use": "dashboard"}):
            before = datetime.datetime.now(datetime.timezone.utc)
            tok = self.mint("/v1/subjects/%s/tokens" % unique("life"), body)
            minutes = (parse_ts(tok["expires_at"]) - before).total_seconds() / 60
            self.assertTrue(6.5 < minutes <= 7.1, (body, tok))

    def test_token_body_is_checked(self):
        s = unique("body")
        self.assertError(self.request("POST", "/v1/subjects/%s/tokens" % s, {"use": "kiosk"},
                                      key=self.key("dsr")), 400, "invalid_value", "/use")
        self.assertError(self.request("POST", "/v1/subjects/%s/tokens" % s, {"use": "browser", "x": 1},
                                      key=self.key("dsr")), 400, "unknown_field", "/x")
        self.assertError(self.request("POST", "/v1/visitors/%s/tokens" % s, {"use": "dashboard"},
                                      key=self.key("dsr")), 400, "invalid_value", "/use")
        # Minting needs the backend's subjects key: a browser token cannot mint another.
        tok = self.mint("/v1/subjects/%s/tokens" % s, {"use": "browser"})["token"]
        self.assertError(self.request("POST", "/v1/subjects/%s/tokens" % s, {"use": "browser"}, key=tok),
                         403, "forbidden")

    # ------------------------------------------------------------ a subject's browser token

    def test_browser_token_acts_as_its_person_only(self):
        me, other = unique("me"), unique("other")
        self.grant(other)
        tok = self.mint("/v1/subjects/%s/tokens" % me, {"use": "browser"})["token"]

        # Its own consents, recorded and read by the token.
        code, _, r = self.request("PUT", "/v1/subjects/%s/consents/personalization" % me,
                                  {"status": "granted", "source": "banner"}, key=tok)
        self.assertEqual(code, 200, r)
        self.assertEqual(r["recorded_by"], "browser-token")
        code, _, state = self.request("GET", "/v1/subjects/%s/consents" % me, key=tok)
        self.assertEqual((code, state["purposes"]["personalization"]["status"]), (200, "granted"), state)
        self.assertError(self.request("PUT", "/v1/subjects/%s/consents/personalization" % other,
                                      {"status": "denied"}, key=tok), 403, "forbidden")

        # Its own events: stored; one other person's event refuses the whole batch.
        code, _, body = self.request("POST", "/v1/events", {"events": [
            {"subject": me, "type": "view", "item": "tent"},
            {"subject": me, "type": "purchase", "item": "stove"}]}, key=tok)
        self.assertEqual((code, body["stored"]), (200, 2), body)
        for bad in ({"subject": other, "type": "view", "item": "lamp"},
                    {"anonymous_id": me, "type": "view", "item": "lamp"},
                    {"type": "view", "item": "lamp"}):
            field = "/events/1/anonymous_id" if "subject" not in bad else "/events/1/subject"
            self.assertError(self.request("POST", "/v1/events", {"events": [
                {"subject": me, "type": "view", "item": "kettle"}, bad]}, key=tok), 403, "forbidden", field)
        self.assertError(self.request("POST", "/v1/events", {"subject": other, "type": "view", "item": "lamp"},
                                      key=tok), 403, "forbidden", "/subject")
        self.assertEqual(sorted(e["item"] for e in self.events_held(me)), ["stove", "tent"])
        self.assertEqual(self.events_held(other), [])

        # Its own recommendations only.
        code, _, recs = self.request("POST", "/v1/recommendations", {"subject": me, "count": 3}, key=tok)
        self.assertEqual(code, 200, recs)
        self.assertError(self.request("POST", "/v1/recommendations", {"subject": other}, key=tok),
                         403, "forbidden", "/subject")
        self.assertError(self.request("POST", "/v1/recommendations", {}, key=tok), 403, "forbidden",
                         "/anonymous_id")
        self.assertError(self.request("GET", "/v1/recommendations/" + recs["request_id"], key=tok),
                         403, "forbidden")

        # Never the rights pages, not even its own person's.
        for method, path in (("GET", "/v1/subjects/%s" % me), ("GET", "/v1/subjects/%s/export" % me),
                             ("DELETE", "/v1/subjects/%s" % me), ("GET", "/v1/subjects/%s/why?item=tent" % me),
                             ("PUT", "/v1/subjects/%s/restriction" % me), ("DELETE", "/v1/subjects/%s/tokens" % me),
                             ("POST", "/v1/subjects/%s/link" % me), ("GET", "/v1/subjects/%s/export" % other)):
            body = {"restricted": True} if path.endswith("restriction") else None
            if path.endswith("/link"):
                body = {"anonymous_id": unique("v")}
            self.assertError(self.request(method, path, body, key=tok), 403, "forbidden")
        self.assertEqual(len(self.events_held(me)), 2)  # the erasure above did not happen

    def test_dashboard_token_sends_no_events_and_asks_for_nothing(self):
        me = unique("dash")
        self.grant(me)
        tok = self.mint("/v1/subjects/%s/tokens" % me)["token"]
        self.assertError(self.request("POST", "/v1/events", {"subject": me, "type": "view", "item": "tent"},
                                      key=tok), 403, "forbidden")
        self.assertError(self.request("POST", "/v1/recommendations", {"subject": me}, key=tok), 403, "forbidden")
        code, _, body = self.request("GET", "/v1/subjects/%s/export" % me, key=tok)
        self.assertEqual(code, 200, body)

    def test_revoking_a_persons_tokens_revokes_the_browsers(self):
        me = unique("rev")
        tok = self.mint("/v1/subjects/%s/tokens" % me, {"use": "browser"})["token"]
        self.assertEqual(self.request("GET", "/v1/subjects/%s/consents" % me, key=tok)[0], 200)
        code, _, body = self.request("DELETE", "/v1/subjects/%s/tokens" % me, key=self.key("dsr"))
        self.assertEqual((code, body["revoked"]), (200, 1), body)
        self.assertError(self.request("GET", "/v1/subjects/%s/consents" % me, key=tok), 401, "unauthorized")

    # ------------------------------------------------------------ anonymous visitors and linking

    def visitor_with_history(self, items):
        """A visitor who granted personalization through their own browser token and browsed."""
        v = unique("cookie")
        tok = self.mint("/v1/visitors/%s/tokens" % v, {"use": "browser"})["token"]
        code, _, r = self.request("PUT", "/v1/visitors/%s/consents/personalization" % v,
                                  {"status": "granted", "source": "banner"}, key=tok)
        self.assertEqual(code, 200, r)
        self.assertEqual((r["subject"], r.get("anonymous")), (v, True), r)
        evs = [{"anonymous_id": v, "type": "view", "item": it, "event_id": "e-%s-%s" % (v, it)} for it in items]
        code, _, body = self.request("POST", "/v1/events", {"events": evs}, key=tok)
        self.assertEqual((code, body["stored"]), (200, len(items)), body)
        return v, tok

    def test_visitor_events_are_kept_only_under_their_consent(self):
        v = unique("cookie")
        code, _, body = self.request("POST", "/v1/events", {"anonymous_id": v, "type": "view", "item": "tent"},
                                     key=self.key("shop"))
        self.assertEqual((code, body["stored"], body["not_stored"]["no_consent"]), (200, 0, 1), body)
        tok = self.mint("/v1/visitors/%s/tokens" % v)["token"]
        # Consentless, the visitor's own token sends nothing that is kept either.
        code, _, body = self.request("POST", "/v1/events", {"anonymous_id": v, "type": "view", "item": "tent"},
                                     key=tok)
        self.assertEqual((code, body["stored"]), (200, 0), body)
        # A visitor's token is kept to the visitor: never a subject, never another visitor.
        self.assertError(self.request("POST", "/v1/events", {"subject": v, "type": "view", "item": "tent"},
                                      key=tok), 403, "forbidden", "/subject")
        self.assertError(self.request("POST", "/v1/events", {"anonymous_id": unique("c"), "type": "view",
                                                             "item": "tent"}, key=tok),
                         403, "forbidden", "/anonymous_id")
        self.assertError(self.request("GET", "/v1/subjects/%s/consents" % v, key=tok), 403, "forbidden")
        self.assertError(self.request("GET", "/v1/visitors/%s/consents" % unique("c"), key=tok), 403, "forbidden")
        code, _, recs = self.request("POST", "/v1/recommendations", {"anonymous_id": v}, key=tok)
        self.assertEqual(code, 200, recs)

    def test_link_with_the_subjects_consent_moves_the_history(self):
        v, vtok = self.visitor_with_history(["tent", "stove"])
        s = unique("alice")
        self.grant(s)
        code, _, body = self.request("POST", "/v1/events", {"subject": s, "type": "view", "item": "lamp"},
                                     key=self.key("shop"))
        self.assertEqual(body["stored"], 1, body)
        code, _, linked = self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": v},
                                       key=self.key("shop"))
        self.assertEqual(code, 200, linked)
        self.assertEqual((linked["moved"], linked["dropped"], linked["already_held"]), (2, 0, 0), linked)
        self.assertEqual((linked["removed"]["events"], linked["removed"]["consents"], linked["removed"]["tokens"]),
                         (2, 1, 1), linked)
        held = self.events_held(s)
        self.assertEqual(sorted(e["item"] for e in held), ["lamp", "stove", "tent"])
        self.assertIn("e-%s-tent" % v, [e["event_id"] for e in held])
        # The same event sent again after login, under the subject, is recognised: not stored twice.
        code, _, body = self.request("POST", "/v1/events", {"subject": s, "type": "view", "item": "tent",
                                                            "event_id": "e-%s-tent" % v}, key=self.key("shop"))
        self.assertEqual(code, 200, body)
        self.assertEqual(len(self.events_held(s)), 3)
        # Nothing of the visitor remains: their token, consents and history are gone.
        self.assertError(self.request("GET", "/v1/visitors/%s/consents" % v, key=vtok), 401, "unauthorized")
        code, _, state = self.request("GET", "/v1/visitors/%s/consents" % v, key=self.key("shop"))
        self.assertEqual((code, state["history"]), (200, []), state)
        # Linking again finds nothing to move.
        code, _, again = self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": v},
                                      key=self.key("shop"))
        self.assertEqual((code, again["moved"], again["removed"]["events"]), (200, 0, 0), again)

    def test_link_without_the_subjects_consent_keeps_nothing(self):
        v, _ = self.visitor_with_history(["tent", "stove", "lamp"])
        s = unique("bob")  # never granted anything
        code, _, linked = self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": v},
                                       key=self.key("shop"))
        self.assertEqual(code, 200, linked)
        self.assertEqual((linked["moved"], linked["dropped"], linked["removed"]["events"]), (0, 3, 3), linked)
        self.assertEqual(self.events_held(s), [])
        code, _, state = self.request("GET", "/v1/visitors/%s/consents" % v, key=self.key("shop"))
        self.assertEqual(state["purposes"]["personalization"]["status"], "denied", state)
        # A subject who denied: the same.
        v2, _ = self.visitor_with_history(["tent"])
        s2 = unique("carol")
        code, _, _ = self.request("PUT", "/v1/subjects/%s/consents/personalization" % s2, {"status": "denied"},
                                  key=self.key("shop"))
        code, _, linked = self.request("POST", "/v1/subjects/%s/link" % s2, {"anonymous_id": v2},
                                       key=self.key("shop"))
        self.assertEqual((code, linked["moved"], linked["dropped"]), (200, 0, 1), linked)
        self.assertEqual(self.events_held(s2), [])

    def test_link_needs_an_ingest_key_and_a_well_formed_body(self):
        s = unique("dave")
        self.assertError(self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": "x"},
                                      key=self.key("rec")), 403, "forbidden")
        self.assertError(self.request("POST", "/v1/subjects/%s/link" % s, {}, key=self.key("shop")),
                         400, "missing_field", "/anonymous_id")
        self.assertError(self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": "x", "y": 1},
                                      key=self.key("shop")), 400, "unknown_field", "/y")
        code, _, linked = self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": unique("never")},
                                       key=self.key("shop"))
        self.assertEqual((code, linked["moved"], linked["dropped"]), (200, 0, 0), linked)

    def test_no_file_holds_a_linked_visitors_id(self):
        v, _ = self.visitor_with_history(["tent"])
        s = unique("erin")
        self.grant(s)
        self.assertEqual(self.request("POST", "/v1/subjects/%s/link" % s, {"anonymous_id": v},
                                      key=self.key("shop"))[0], 200)
        needle = v.encode()
        for root, _, files in os.walk(self.server.data):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(needle, f.read(), name)
