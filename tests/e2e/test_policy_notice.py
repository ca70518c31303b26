"""The privacy notice (contract §9) promises the rights the running server serves, and no other.

For each data-subject right the contract names (§7) there is one request that exercises it for a
person, sent here with that person's own token. A right the notice lists must be one whose request
works (not 404 or 405); a right whose request answers 404 or 405 must not be listed, in any language,
in JSON or HTML. The notice names the request of each right it lists, and that is the one tried.

One server for the file, over the policy `mesura init` writes.
"""

import unittest
import urllib.parse

from harness import ServerTestCase

# right -> (method, path pattern, body): the request that exercises it (contract §7).
RIGHTS = {
    "see": ("GET", "/v1/subjects/{s}", None),
    "export": ("GET", "/v1/subjects/{s}/export", None),
    "correct": ("DELETE", "/v1/subjects/{s}/events/{event_id}", None),
    "restrict": ("PUT", "/v1/subjects/{s}/restriction", {"restricted": True}),
    "access_log": ("GET", "/v1/subjects/{s}/access-log", None),
    "withdraw_consent": ("PUT", "/v1/subjects/{s}/consents/{purpose}", {"status": "denied"}),
    "erase": ("DELETE", "/v1/subjects/{s}", None),  # last: it ends the subject
}
# The sentence of each right a server may not serve, per language: when it does not, the sentence
# must appear nowhere.
SENTENCES = {
    "restrict": {"en": "Restrict it", "es": "Limitarlo", "pl": "Ograniczyć"},
    "erase": {"en": "Erase it", "es": "Borrarlo", "pl": "Usunąć je"},
    "access_log": {"en": "every time your data was read", "es": "cada vez que se leyeron tus datos",
                   "pl": "każdy odczyt Twoich danych"},
}
LANGS = ("en", "es", "pl")


class PrivacyNoticeRights(ServerTestCase):
    keys = {"admin": "admin", "brand": "consent", "shop": "ingest", "dsr": "subjects"}

    def notice(self, lang, html=False):
        headers = {"Accept-Language": lang}
        if html:
            headers["Accept"] = "text/html"
        status, _, body = self.request("GET", "/v1/privacy-notice", headers=headers)
        self.assertEqual(status, 200, body)
        return body

    def person(self, subject):
        """A person with consent, one event and their own token: the event's id and the token."""
        status, _, body = self.request("PUT", "/v1/subjects/%s/consents/personalization" % subject,
                                       {"status": "granted"}, key=self.key("brand"))
        self.assertEqual(status, 200, body)
        status, _, body = self.request("POST", "/v1/events", {"subject": subject, "type": "view", "item": "tent",
                                                              "event_id": "e-1"}, key=self.key("shop"))
        self.assertEqual((status, body["stored"]), (200, 1), body)
        status, _, tok = self.request("POST", "/v1/subjects/%s/tokens" % subject, key=self.key("dsr"))
        self.assertEqual(status, 200, tok)
        return "e-1", tok["token"]

    def exercise(self, method, pattern, body, subject, event_id, token):
        path = (pattern.replace("{s}", urllib.parse.quote(subject, safe=""))
                .replace("{event_id}", event_id).replace("{purpose}", "personalization"))
        return self.request(method, path, body, key=token)

    def test_the_notice_promises_exactly_the_rights_served(self):
        subject = "notice-person"
        event_id, token = self.person(subject)
        listed = {r["right"]: r for r in self.notice("en")["rights"]}
        self.assertTrue(set(listed) <= set(RIGHTS), listed)
        served = set()
        for right, (method, pattern, body) in RIGHTS.items():
            status, _, reply = self.exercise(method, pattern, body, subject, event_id, token)
            if status not in (404, 405):
                self.assertLess(status, 300, (right, reply))
                served.add(right)
        self.assertEqual(set(listed), served, "the notice promises %s; the server serves %s" % (
            sorted(listed), sorted(served)))
        for right, r in listed.items():  # the notice names the request that serves the right
            self.assertEqual((r.get("method"), r.get("path")), RIGHTS[right][:2], r)
        # The rights this server always serves; the notice's promises follow whatever else it serves.
        self.assertTrue({"see", "export", "correct", "withdraw_consent"} <= served, served)

    def test_every_language_promises_the_same_and_nothing_more(self):
        en = [r["right"] for r in self.notice("en")["rights"]]
        self.assertTrue(en)
        for lang in LANGS:
            with self.subTest(lang=lang):
                notice = self.notice(lang)
                self.assertEqual([r["right"] for r in notice["rights"]], en)
                page = self.notice(lang, html=True)
                self.assertIn(notice["headings"]["rights"], page)
                for r in notice["rights"]:
                    self.assertIn(r["text"], str(notice))
                    self.assertIn(r["text"], page)
                for right, sentence in SENTENCES.items():
                    if right not in en:
                        self.assertNotIn(sentence[lang], str(notice))
                        self.assertNotIn(sentence[lang], page)


if __name__ == "__main__":
    unittest.main()
