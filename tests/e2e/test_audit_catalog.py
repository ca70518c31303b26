"""The catalog side of an audit, checked against a hand computation on a tiny planted shop.

Ten items can be served (one more is unavailable). Their prices cut the catalog into three bands at its
terciles; one item has no price. The crowd that trained the model planted an unambiguous popularity order
(each item seen by a number of earlier shoppers that differs from the next by half again or more, well beyond
what the time decay of their events can reorder). Eight younger people browse camping and eight older ones
serums; five aged "65+" browse only items no one else did, so what they are shown leans to the bestsellers;
two people aged "35-54" form a group under the minimum of 5, which is never reported.

The figures are computed here from what the server answers each person when asked again, from the prices, the
planted popularity order and each person's own history.
"""

import json
import math
import time
import unittest

from harness import ServerTestCase, build_crowd

POLICY = """\
site: Audit Catalog Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
  audit: {description: {en: "Take part in fairness audits"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  purchase: {purposes: [personalization], retention_days: 730}
guardrails:
  frequency_cap: {max_impressions: 100000}
audit: {min_group_size: 5}
"""

PRICES = {"camp-1": 10, "camp-2": 20, "camp-3": 30, "camp-4": 40, "mid-1": 50, "serum-1": 70, "serum-2": 80,
          "serum-3": 90, "serum-4": 100, "mid-2": None}
CATS = {i: ["camping"] if i.startswith("camp") else ["antiaging"] if i.startswith("serum") else ["misc"]
        for i in PRICES}
# Earlier shoppers' views: camp-1 16, camp-2 11, serum-1 7, serum-2 4, camp-3 2, serum-3 1, the rest none.
CROWD = [(["camp-1", "camp-2"], [])] * 11 + [(["camp-1", "camp-3"], [])] * 2 + [(["camp-1"], [])] * 3 + \
        [(["serum-1", "serum-2"], [])] * 4 + [(["serum-1", "serum-3"], [])] + [(["serum-1"], [])] * 2
POPULAR = ["camp-1", "camp-2", "serum-1", "serum-2", "camp-3", "serum-3"]
AVAILABLE = len(PRICES)
HEAD = set(POPULAR[:math.ceil(0.2 * AVAILABLE)])

PEOPLE = {("y%d" % i): ({"age_band": "18-34"}, ["camp-1", "camp-3"]) for i in range(8)}
PEOPLE.update({("o%d" % i): ({"age_band": "55+"}, ["serum-1", "serum-2"]) for i in range(8)})
PEOPLE.update({("m%d" % i): ({"age_band": "35-54"}, ["camp-2"]) for i in range(2)})
# Five more browse only items nobody else did: with nothing to go on, they are shown what sells.
PEOPLE.update({("s%d" % i): ({"age_band": "65+"}, ["camp-4", "mid-1"]) for i in range(5)})
COUNT = 4


def popularity(item):
    return 1 - POPULAR.index(item) / AVAILABLE if item in POPULAR else 0.0


def band(item):
    # Nearest-rank terciles of the nine priced items: 30 and 70.
    price = PRICES[item]
    return "unpriced" if price is None else "low" if price <= 30 else "mid" if price <= 70 else "high"


def gini(values, n):
    xs = sorted(values) + []
    xs = [0.0] * (n - len(xs)) + xs
    total = sum(xs)
    return sum((2 * (i + 1) - n - 1) * x for i, x in enumerate(xs)) / (n * total) if total else 0.0


class AuditCatalogTest(ServerTestCase):
    policy = POLICY
    keys = {"shop": "ingest,consent,catalog,recommend", "auditor": "audit", "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shop = cls.server.keys["shop"]
        req = cls.server.request
        items = {i: (i.title(), CATS[i]) for i in PRICES}
        build_crowd(cls.server, shop, items, CROWD, 1)
        for i, price in PRICES.items():
            body = {"title": i.title(), "categories": CATS[i]}
            if price is not None:
                body["attributes"] = {"price": price, "currency": "EUR"}
            st, _, reply = req("PUT", "/v1/items/%s" % i, body, key=shop)
            assert st in (200, 201, 204), reply
        st, _, reply = req("PUT", "/v1/items/gone-1", {"title": "Gone", "categories": ["camping"], "available": False,
                                                      "attributes": {"price": 999}}, key=shop)
        assert st in (200, 201, 204), reply
        events = []
        for s, (attrs, viewed) in PEOPLE.items():
            for purpose in ("personalization", "audit"):
                st, _, body = req("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": "granted"},
                                  key=shop)
                assert st == 200, body
            events += [{"subject": s, "type": "view", "item": it} for it in viewed]
            st, _, body = req("PUT", "/v1/audit/subjects/%s/attributes" % s, attrs, key=cls.server.keys["auditor"])
            assert st == 200, body
        st, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert st == 200 and body["stored"] == len(events), body
        st, _, cls.audit = req("POST", "/v1/audits", {"attributes": ["age_band"], "placement": "home",
                                                      "count": COUNT}, key=cls.server.keys["auditor"])
        assert st == 201, cls.audit
        # What each person is served, asked again: (item, share of the answer's attention, disclosure).
        cls.served = {}
        for s in PEOPLE:
            st, _, body = req("POST", "/v1/recommendations", {"subject": s, "placement": "home", "count": COUNT},
                              key=shop)
            assert st == 200, body
            weights = [1 / math.log2(r + 2) for r in range(len(body["items"]))]
            cls.served[s] = [(it["item"], w / sum(weights), it["disclosure"]) for it, w in zip(body["items"], weights)]

    def people(self, band_value=None):
        return [s for s, (a, _) in PEOPLE.items() if band_value is None or a["age_band"] == band_value]

    def hand(self, people):
        exposure = {}
        for s in people:
            for item, w, _ in self.served[s]:
                exposure[item] = exposure.get(item, 0.0) + w
        total = sum(exposure.values())
        history = [sum(popularity(i) for i in PEOPLE[s][1]) / len(PEOPLE[s][1]) for s in people]
        served_pop = sum(e * popularity(i) for i, e in exposure.items()) / total
        return {"n": len(people), "items_served": len(exposure), "coverage": len(exposure) / AVAILABLE,
                "exposure_gini": gini(list(exposure.values()), AVAILABLE),
                "long_tail_share": sum(e for i, e in exposure.items() if i not in HEAD) / total,
                "served_popularity": served_pop, "history_popularity": sum(history) / len(history),
                "popularity_lean": served_pop - sum(history) / len(history)}

    def assertFigures(self, got, want):
        for key, value in want.items():
            if isinstance(value, int):
                self.assertEqual(got[key], value, key)
            else:
                self.assertAlmostEqual(got[key], value, places=3, msg=key)
        self.assertEqual(got["leans_to_bestsellers"], want["popularity_lean"] > 0.1)

    def test_the_catalog_side_matches_the_hand_computation(self):
        cat = self.audit["catalog"]
        self.assertEqual(cat["items"], AVAILABLE)
        self.assertEqual(cat["head_items"], len(HEAD))
        self.assertFigures(cat["overall"], self.hand(self.people()))
        groups = {g["value"]: g for g in cat["groups"]}
        self.assertEqual(set(groups), {"18-34", "55+", "65+"})
        self.assertTrue(groups["65+"]["leans_to_bestsellers"], groups["65+"])
        for value, g in groups.items():
            self.assertEqual(g["attribute"], "age_band")
            self.assertFigures(g, self.hand(self.people(value)))

    def test_a_group_under_the_minimum_is_never_reported_on_the_catalog_side(self):
        self.assertNotIn("35-54", json.dumps(self.audit))
        self.assertEqual(self.audit["catalog"]["overall"]["n"], len(PEOPLE))  # they count in the whole only

    def test_exposure_by_price_band_matches_the_hand_computation(self):
        bands = self.audit["catalog"]["price_bands"]
        self.assertEqual(bands["cuts"], [30, 70])
        self.assertEqual(bands["items_priced"], 9)  # the unavailable item's price does not count
        found = {d["of"]: d for d in self.audit["disparities"] if d["kind"] == "price_band"}
        served_bands = {band(i) for s in PEOPLE for i, _, _ in self.served[s]}
        self.assertEqual(set(found), {b for b in served_bands})
        for b, d in found.items():
            rates = {}
            for value in ("18-34", "55+", "65+"):
                xs = [sum(w for i, w, _ in self.served[s] if band(i) == b) for s in self.people(value)]
                rates[value] = sum(xs) / len(xs)
            got = {g["value"]: g["rate"] for g in d["groups"]}
            for value, rate in rates.items():
                self.assertAlmostEqual(got[value], rate, places=3, msg=b)
            self.assertAlmostEqual(d["ratio"], min(rates.values()) / max(rates.values()), places=3)

    def test_disclosures_are_shared_out_like_reason_codes(self):
        found = {d["of"]: d for d in self.audit["disparities"] if d["kind"] == "disclosure"}
        self.assertTrue(found)
        for kind, d in found.items():
            for g in d["groups"]:
                xs = [sum(1 for _, _, k in self.served[s] if k == kind) / len(self.served[s])
                      for s in self.people(g["value"])]
                self.assertAlmostEqual(g["rate"], sum(xs) / len(xs), places=3, msg=kind)

    def served_audit(self, body):
        """POST /v1/audits with source served, once the decision records of the answers asked in setUpClass
        are written (the recommender writes them in the background, in batches)."""
        deadline = time.monotonic() + 30
        while True:
            status, _, export = self.request("GET", "/v1/subjects/%s/export" % sorted(PEOPLE)[-1],
                                             key=self.key("dsr"))
            self.assertEqual(status, 200, export)
            if export["decisions"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling the API, as a client would
        return self.request("POST", "/v1/audits", dict(body, source="served"), key=self.key("auditor"))

    def test_an_audit_of_what_was_served_reads_the_decision_records(self):
        # Each person was served one answer on "home" (asked in setUpClass): the audit of what was served
        # must find exactly those answers' figures.
        status, _, audit = self.served_audit({"attributes": ["age_band"], "placement": "home", "window_days": 1})
        self.assertEqual(status, 201, audit)
        self.assertEqual((audit["source"], audit["window_days"], audit["placement"]), ("served", 1, "home"))
        self.assertEqual(audit["population"]["audited"], len(PEOPLE))
        self.assertEqual(audit["population"]["without_answers"], 0)
        self.assertFigures(audit["catalog"]["overall"], self.hand(self.people()))
        camping = next(d for d in audit["disparities"] if d["measure"] == "exposure:camping")
        for g in camping["groups"]:
            xs = [sum(w for i, w, _ in self.served[s] if "camping" in CATS[i]) for s in self.people(g["value"])]
            self.assertAlmostEqual(g["rate"], sum(xs) / len(xs), places=3)
        self.assertNotIn("35-54", json.dumps(audit))
        status, _, html = self.request("GET", "/v1/audits/%s/report.html" % audit["id"], key=self.key("auditor"))
        self.assertIn("shown over the last 1 days, from the records of the answers", html)
        self.assertIn("asked again without recording anything", self.report("en"))  # the replayed one
        # Nothing was served on another placement: nobody to audit there, and nothing stored.
        self.assertError(self.served_audit({"attributes": ["age_band"], "placement": "product"}), 422,
                               "groups_too_small", "/attributes")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["age_band"], "source": "guess"},
                                      key=self.key("auditor")), 400, "invalid_value", "/source")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["age_band"], "window_days": 3},
                                      key=self.key("auditor")), 400, "invalid_value", "/window_days")

    def report(self, lang):
        status, _, html = self.request("GET", "/v1/audits/%s/report.html" % self.audit["id"],
                                       key=self.key("auditor"), headers={"Accept-Language": lang})
        self.assertEqual(status, 200)
        return html

    def test_the_report_tells_the_catalog_side_with_each_languages_numbers(self):
        overall = self.audit["catalog"]["overall"]
        gini = "%.2f" % overall["exposure_gini"]
        camping = next(d for d in self.audit["disparities"] if d["measure"] == "exposure:camping")
        ratio = "%.2f" % camping["ratio"]
        shown, pct = overall["items_served"], round(100 * overall["items_served"] / AVAILABLE)
        words = {"en": ("The catalog side", "Of the catalog's 10 items, %d (%d%%) were shown" % (shown, pct),
                        "interval of the ratio", "price band", "leans to bestsellers"),
                 "es": ("El lado del catálogo",
                        "De los 10 artículos del catálogo, %d (%d %%) se mostraron" % (shown, pct),
                        "intervalo del 95 % de la razón", "franja de precio", "tiende más a los superventas"),
                 "pl": ("Strona katalogu", "Z 10 produktów katalogu %d (%d%%) pokazano" % (shown, pct),
                        "przedział 95% stosunku", "przedziału cenowego", "skłania się ku bestsellerom")}
        for lang, texts in words.items():
            html = self.report(lang)
            for text in texts:
                self.assertIn(text, html, lang)
            self.assertNotIn("35-54", html)
            # Numbers read with the language's decimal separator: a point in English, a comma in Spanish and
            # Polish (the charts' coordinates keep the point).
            sep = "." if lang == "en" else ","
            self.assertIn("exposure Gini is %s" % gini if lang == "en" else gini.replace(".", sep), html)
            self.assertIn("— %s" % ratio.replace(".", sep), html)
            if lang != "en":
                self.assertNotIn("— %s" % ratio, html)
            # A group shown more bestsellers than it browses is said so, in a sentence of its own.
            leaning = [g for g in self.audit["catalog"]["groups"] if g["leans_to_bestsellers"]]
            self.assertEqual(html.count('<p class="flag">'), len(leaning), lang)

    def test_the_ratio_has_its_own_interval(self):
        for d in self.audit["disparities"]:
            if d["ratio"] is None:
                continue
            lo, hi = d["ratio_ci"]
            self.assertLessEqual(lo, d["ratio"] + 1e-4, d)
            self.assertGreaterEqual(hi, d["ratio"] - 1e-4, d)
            self.assertGreaterEqual(lo, 0)
            self.assertLessEqual(hi, 1)
        # The planted disparity is clear: even the interval's top is under the four-fifths line.
        camping = next(d for d in self.audit["disparities"] if d["measure"] == "exposure:camping")
        self.assertLess(camping["ratio_ci"][1], 0.8, camping)
        # Without resampling the interval is the ratio itself.
        status, _, flat = self.request("POST", "/v1/audits", {"attributes": ["age_band"], "placement": "home",
                                                              "count": COUNT, "resamples": 0},
                                       key=self.key("auditor"))
        self.assertEqual(status, 201, flat)
        for d in flat["disparities"]:
            if d["ratio"] is not None:
                self.assertEqual(d["ratio_ci"], [d["ratio"], d["ratio"]], d)


if __name__ == "__main__":
    unittest.main()
