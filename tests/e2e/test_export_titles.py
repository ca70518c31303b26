"""The export names items by their titles (contract §7: a person reads "Trail Tent", not an id): its
"items" gives, in the language asked for, the title of every item its events, impressions and
decisions name (the events a decision's reason cites included); an item since removed from the
catalog is there with a null title, and nothing else is."""

import unittest

from harness import ServerTestCase

POLICY = """\
site: Titles
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 365}
  purchase: {purposes: [personalization], retention_days: 730}
"""


class ExportTitles(ServerTestCase):
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog,subjects,recommend"}

    def test_every_named_item_has_its_title_in_the_asked_language(self):
        shop = self.key("shop")
        items = [{"id": "tent", "title": {"en": "Trail Tent", "es": "Tienda de travesía", "pl": "Namiot"}},
                 {"id": "stove", "title": "Camp Stove"}, {"id": "old", "title": "Old Lamp"},
                 {"id": "never", "title": "Never Seen"}]
        self.assertEqual(self.request("POST", "/v1/items", {"items": items}, key=shop)[0], 200)
        self.request("PUT", "/v1/subjects/eva/consents/personalization", {"status": "granted"}, key=shop)
        st, _, body = self.request("POST", "/v1/events", {"events": [
            {"subject": "eva", "type": "view", "item": "tent"}, {"subject": "eva", "type": "purchase", "item": "stove"},
            {"subject": "eva", "type": "view", "item": "old"}]}, key=shop)
        self.assertEqual((st, body["stored"]), (200, 3), body)
        st, _, recs = self.request("POST", "/v1/recommendations", {"subject": "eva", "count": 5}, key=shop)
        self.assertEqual(st, 200, recs)
        self.assertEqual(self.request("DELETE", "/v1/items/old", key=shop)[0], 200)
        for lang, tent in (("en", "Trail Tent"), ("es", "Tienda de travesía"), ("pl", "Namiot")):
            st, _, exp = self.request("GET", "/v1/subjects/eva/export", key=shop, headers={"Accept-Language": lang})
            self.assertEqual(st, 200, exp)
            named = {e["item"] for e in exp["events"]} | {i["item"] for i in exp["impressions"]}
            for d in exp["decisions"]:
                for it in d["items"]:
                    named.add(it["item"])
                    named |= {b["item"] for b in it["reason"].get("based_on", [])}
            self.assertEqual(set(exp["items"]), named, lang)
            self.assertEqual(exp["items"]["tent"], {"title": tent}, lang)
            self.assertEqual(exp["items"]["stove"], {"title": "Camp Stove"})
            self.assertEqual(exp["items"]["old"], {"title": None})


if __name__ == "__main__":
    unittest.main()
