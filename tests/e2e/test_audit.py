"""Fairness audits (contract §8): the attribute vault, an audit run over a planted population, and its report.

The population plants what the audit must find. Younger people ("18-34") browse only camping, older ones
("55+") only anti-ageing serums, so the engine shows the two groups different categories (a disparity).
Postal codes are planted to go with ethnicity (a proxy), and three people aged "35-54" form a group under
the policy's minimum of 10, which must never be reported with its figures. The expected numbers are
computed here by hand from what the server answers.
"""

import json
import math
import os
import re
import unittest

from harness import ServerTestCase, build_crowd, run_cli

POLICY = """\
site: Audit Test
languages: [en, es, pl]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
  audit: {description: {en: "Take part in fairness audits"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
  purchase: {purposes: [personalization], retention_days: 730}
categories:
  health: {sensitive: true}
guardrails:
  frequency_cap: {max_impressions: 100000}
audit: {min_group_size: 10}
"""

ITEMS = {}
ITEMS.update({"camp-%d" % i: ("Camp %d" % i, ["camping"]) for i in range(1, 7)})
ITEMS.update({"serum-%d" % i: ("Serum %d" % i, ["antiaging"]) for i in range(1, 7)})
ITEMS.update({"pill-%d" % i: ("Pill %d" % i, ["health"]) for i in range(1, 4)})

CROWD = [(["camp-1", "camp-2"], ["camp-3"]), (["camp-2", "camp-3"], ["camp-4"]), (["camp-1", "camp-4"], ["camp-5"]),
         (["camp-5", "camp-6"], ["camp-3"]), (["serum-1", "serum-2"], ["serum-3"]),
         (["serum-2", "serum-3"], ["serum-4"]), (["serum-1", "serum-4"], ["pill-1"]),
         (["serum-5", "serum-6"], ["serum-3"])]


def population():
    """{subject: (attributes, items viewed)}: the audited people."""
    people = {}
    for i in range(16):
        postal = "28001" if i < 12 else "28002"
        ethnicity = "a" if postal == "28001" and i not in (3, 7) else "b"
        people["y%02d" % i] = ({"age_band": "18-34", "gender": "fm"[i % 2], "ethnicity": ethnicity,
                                "postal_code": postal}, ["camp-1", "camp-2"])
    for i in range(16):
        postal = "28002" if i < 12 else "28001"
        ethnicity = "b" if postal == "28002" and i != 5 else "a"
        people["o%02d" % i] = ({"age_band": "55+", "gender": "fm"[i % 2], "ethnicity": ethnicity,
                                "postal_code": postal}, ["serum-1", "serum-2"])
    for i in range(3):
        people["m%d" % i] = ({"age_band": "35-54", "gender": "f", "ethnicity": "c", "postal_code": "28003",
                              "loyalty": "gold"}, ["camp-1", "serum-1"])
    # region: one large group and four small ones, which together are large enough to show as "other".
    for i, s in enumerate(sorted(people)):
        people[s][0]["region"] = "north" if s.startswith("y") else "south-%d" % (i % 4)
    return people


PEOPLE = population()
COUNT = 4


def cramers_v(pairs):
    """Cramér's V without bias correction, from (x, y) pairs."""
    xs, ys = sorted({x for x, _ in pairs}), sorted({y for _, y in pairs})
    n = len(pairs)
    table = {(x, y): 0 for x in xs for y in ys}
    for p in pairs:
        table[p] += 1
    row = {x: sum(table[x, y] for y in ys) for x in xs}
    col = {y: sum(table[x, y] for x in xs) for y in ys}
    chi2 = sum((table[x, y] - row[x] * col[y] / n) ** 2 / (row[x] * col[y] / n) for x in xs for y in ys)
    return math.sqrt(chi2 / (n * (min(len(xs), len(ys)) - 1)))


class AuditTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "shop": "ingest,consent,catalog,recommend", "auditor": "audit", "dsr": "subjects"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        shop = cls.server.keys["shop"]
        req = cls.server.request
        build_crowd(cls.server, shop, ITEMS, CROWD, 4)
        events = []
        for s, (_, viewed) in PEOPLE.items():
            for purpose in ("personalization", "audit"):
                st, _, body = req("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": "granted"},
                                  key=shop)
                assert st == 200, body
            events += [{"subject": s, "type": "view", "item": it} for it in viewed]
        for s in ("r0",):  # restricted below
            for purpose in ("personalization", "audit"):
                req("PUT", "/v1/subjects/%s/consents/%s" % (s, purpose), {"status": "granted"}, key=shop)
        req("PUT", "/v1/subjects/n0/consents/personalization", {"status": "granted"}, key=shop)
        st, _, body = req("POST", "/v1/events", {"events": events}, key=shop)
        assert st == 200 and body["stored"] == len(events), body
        # What two people are served before anything is recorded about them.
        cls.before = {s: cls.recommend(s) for s in ("y00", "o00")}
        auditor = cls.server.keys["auditor"]
        for s, (attrs, _) in PEOPLE.items():
            st, _, body = req("PUT", "/v1/audit/subjects/%s/attributes" % s, attrs, key=auditor)
            assert st == 200, body
        st, _, body = req("PUT", "/v1/audit/subjects/r0/attributes", {"age_band": "55+"}, key=auditor)
        assert st == 200, body
        st, _, body = req("PUT", "/v1/subjects/r0/restriction", {"restricted": True}, key=cls.server.keys["dsr"])
        assert st == 200, body
        st, _, cls.audit = req("POST", "/v1/audits", {"attributes": ["age_band", "gender"], "placement": "home",
                                                      "count": COUNT}, key=auditor)
        assert st == 201, cls.audit
        # o09 was audited and never asked for anything: the replay must have left nothing in their data.
        st, _, cls.o09_after_audit = req("GET", "/v1/subjects/o09/export", key=cls.server.keys["dsr"])
        assert st == 200, cls.o09_after_audit

    @classmethod
    def recommend(cls, subject):
        st, _, body = cls.server.request("POST", "/v1/recommendations",
                                         {"subject": subject, "placement": "home", "count": COUNT},
                                         key=cls.server.keys["shop"])
        assert st == 200, body
        return [(it["item"], it["score"]) for it in body["items"]]

    def disparity(self, attribute, measure):
        found = [d for d in self.audit["disparities"] if d["attribute"] == attribute and d["measure"] == measure]
        self.assertEqual(len(found), 1, [d["measure"] for d in self.audit["disparities"]])
        return found[0]

    # ------------------------------------------------------------ the vault

    def test_recommendations_are_the_same_before_and_after_attributes_are_recorded(self):
        # Scores fade with the age of each event (model.history_half_life_days), so the same answer
        # asked a few seconds later may differ by one in its printed last digit: items and order
        # must be identical, scores within that digit.
        for s, before in self.before.items():
            self.assertTrue(before, s)
            after = self.recommend(s)
            self.assertEqual([i for i, _ in after], [i for i, _ in before], s)
            for (_, a), (_, b) in zip(after, before):
                self.assertLessEqual(abs(a - b), 0.0001 + 1e-9, s)

    def test_the_vault_reads_back_for_audit_keys_only(self):
        status, _, body = self.request("GET", "/v1/audit/subjects/o03/attributes", key=self.key("auditor"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["attributes"], PEOPLE["o03"][0])
        self.assertEqual(sorted(body["protected"]), ["age_band", "ethnicity", "gender"])
        err = self.assertError(self.request("GET", "/v1/audit/subjects/o03/attributes", key=self.key("admin")),
                               403, "forbidden")
        self.assertIn("audit scope", err["message"])
        self.assertError(self.request("GET", "/v1/audit/subjects/o03/attributes", key=self.key("shop")),
                         403, "forbidden")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["age_band"]}, key=self.key("shop")),
                         403, "forbidden")

    def test_the_persons_export_shows_their_attributes(self):
        status, _, doc = self.request("GET", "/v1/subjects/y05/export", key=self.key("dsr"))
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["protected_attributes"], PEOPLE["y05"][0])

    def test_recording_needs_the_persons_consent(self):
        err = self.assertError(self.request("PUT", "/v1/audit/subjects/n0/attributes", {"age_band": "55+"},
                                            key=self.key("auditor")), 409, "no_consent")
        self.assertNotIn("n0", err["message"])
        self.assertError(self.request("PUT", "/v1/audit/subjects/nobody/attributes", {"age_band": "55+"},
                                      key=self.key("auditor")), 409, "no_consent")
        es = self.request("PUT", "/v1/audit/subjects/n0/attributes", {"age_band": "55+"}, key=self.key("auditor"),
                          headers={"Accept-Language": "es"})
        self.assertIn("persona", self.assertError(es, 409, "no_consent")["message"])

    def test_bad_attribute_documents_are_refused(self):
        auditor = self.key("auditor")
        self.assertError(self.request("PUT", "/v1/audit/subjects/y01/attributes", {"age_band": 55}, key=auditor),
                         400, "wrong_type", "/age_band")
        self.assertError(self.request("PUT", "/v1/audit/subjects/y01/attributes", {"x" * 65: "a"}, key=auditor),
                         400, "out_of_range")
        self.assertError(self.request("PUT", "/v1/audit/subjects/y01/attributes", [1], key=auditor),
                         400, "wrong_type")
        # Nothing was changed by the refusals.
        status, _, body = self.request("GET", "/v1/audit/subjects/y01/attributes", key=auditor)
        self.assertEqual(body["attributes"], PEOPLE["y01"][0])

    def test_erasure_takes_the_attributes_with_the_person(self):
        for purpose in ("personalization", "audit"):
            self.request("PUT", "/v1/subjects/e0/consents/%s" % purpose, {"status": "granted"}, key=self.key("shop"))
        self.assertEqual(self.request("PUT", "/v1/audit/subjects/e0/attributes", {"age_band": "55+"},
                                      key=self.key("auditor"))[0], 200)
        status, _, body = self.request("DELETE", "/v1/subjects/e0", key=self.key("dsr"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["receipt"]["removed"]["protected_attributes"], 1)
        self.assertError(self.request("GET", "/v1/audit/subjects/e0/attributes", key=self.key("auditor")),
                         404, "not_found")

    def test_delete_forgets_the_attributes(self):
        auditor = self.key("auditor")
        shop = self.key("shop")
        for purpose in ("personalization", "audit"):
            self.request("PUT", "/v1/subjects/d0/consents/%s" % purpose, {"status": "granted"}, key=shop)
        self.assertEqual(self.request("PUT", "/v1/audit/subjects/d0/attributes", {"device": "ios"}, key=auditor)[0],
                         200)
        self.assertEqual(self.request("DELETE", "/v1/audit/subjects/d0/attributes", key=auditor)[0], 204)
        self.assertError(self.request("GET", "/v1/audit/subjects/d0/attributes", key=auditor), 404, "not_found")
        self.assertError(self.request("DELETE", "/v1/audit/subjects/d0/attributes", key=auditor), 404, "not_found")

    # ------------------------------------------------------------ the audit

    def test_the_population_counts_consenting_unrestricted_people(self):
        pop = self.audit["population"]
        self.assertEqual(pop["audited"], len(PEOPLE))
        self.assertEqual(pop["excluded_restricted"], 1)
        status, _, again = self.request("GET", "/v1/audits/%s" % self.audit["id"], key=self.key("auditor"))
        self.assertEqual(status, 200, again)
        self.assertEqual(again, self.audit)

    def test_the_planted_disparity_is_found_with_the_hand_computed_rates(self):
        # What each audited person is served, asked again now, weighted by 1/log2(rank + 1).
        exposure = {}
        for s, (attrs, _) in PEOPLE.items():
            items = self.recommend(s)
            weights = [1 / math.log2(r + 2) for r in range(len(items))]
            for cat in ("camping", "antiaging"):
                got = sum(w for (it, _), w in zip(items, weights) if cat in ITEMS[it][1]) / sum(weights)
                exposure.setdefault((attrs["age_band"], cat), []).append(got)
        for cat in ("camping", "antiaging"):
            d = self.disparity("age_band", "exposure:" + cat)
            groups = {g["value"]: g for g in d["groups"]}
            self.assertEqual(set(groups), {"18-34", "55+"})
            for band in ("18-34", "55+"):
                xs = exposure[band, cat]
                self.assertEqual(groups[band]["n"], len(xs))
                self.assertAlmostEqual(groups[band]["rate"], sum(xs) / len(xs), places=3)
                self.assertLessEqual(groups[band]["ci"][0], groups[band]["rate"])
                self.assertGreaterEqual(groups[band]["ci"][1], groups[band]["rate"])
            rates = [g["rate"] for g in d["groups"]]
            self.assertAlmostEqual(d["ratio"], min(rates) / max(rates), places=3)
            self.assertLess(d["ratio"], 0.8)
            self.assertTrue(d["flagged"])

    def test_a_group_under_the_minimum_is_never_reported(self):
        text = json.dumps(self.audit)
        self.assertNotIn("35-54", text)
        note = next(n for n in self.audit["groups"] if n["attribute"] == "age_band")
        self.assertEqual(note["small_groups"], {"groups": 1, "handling": "withheld"})
        status, _, html = self.request("GET", "/v1/audits/%s/report.html" % self.audit["id"],
                                       key=self.key("auditor"))
        self.assertEqual(status, 200)
        self.assertNotIn("35-54", html)

    def test_small_groups_are_merged_into_other_when_that_is_large_enough(self):
        status, _, audit = self.request("POST", "/v1/audits", {"attributes": ["region"], "placement": "home",
                                                               "count": COUNT}, key=self.key("auditor"))
        self.assertEqual(status, 201, audit)
        note = audit["groups"][0]
        self.assertEqual(note["small_groups"], {"groups": 4, "handling": "merged"})
        d = next(d for d in audit["disparities"] if d["measure"] == "exposure:camping")
        groups = {g["value"]: g for g in d["groups"]}
        self.assertEqual(set(groups), {"north", "other"})
        self.assertEqual(groups["other"]["n"], 19)
        self.assertIs(groups["other"]["merged"], True)
        self.assertNotIn("south-", json.dumps(audit))

    def test_the_planted_proxy_is_found_with_the_hand_computed_v(self):
        audited = [a for a, _ in PEOPLE.values()]
        pairs = [(a["postal_code"], a["ethnicity"]) for a in audited if "postal_code" in a]
        hand = cramers_v(pairs)
        found = [p for p in self.audit["proxies"] if p["attribute"] == "postal_code" and p["protected"] == "ethnicity"]
        self.assertEqual(len(found), 1, self.audit["proxies"])
        self.assertEqual(found[0]["n"], len(pairs))
        self.assertAlmostEqual(found[0]["cramers_v"], hand, places=3)
        self.assertGreaterEqual(hand, 0.5)
        self.assertTrue(found[0]["flagged"])
        # The engine's own inferred interest stands in for age: it is what the serum campaign aims by.
        interest = next(p for p in self.audit["proxies"]
                        if p["attribute"] == "inferred_interest" and p["protected"] == "age_band")
        self.assertTrue(interest["flagged"], interest)
        # Gender was planted independent of postal code.
        gender = next(p for p in self.audit["proxies"]
                      if p["attribute"] == "postal_code" and p["protected"] == "gender")
        self.assertFalse(gender["flagged"], gender)

    def test_the_replay_leaves_no_trace(self):
        doc = self.o09_after_audit
        self.assertEqual(doc["decisions"], [])
        self.assertEqual(doc["impressions"], [])

    def test_bad_audit_requests_are_refused_and_nothing_is_stored(self):
        auditor = self.key("auditor")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["shoe_size"]}, key=auditor),
                         400, "invalid_value", "/attributes/0")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["loyalty"]}, key=auditor),
                         422, "groups_too_small", "/attributes")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["age_band"], "channel": "fax"},
                                      key=auditor), 400, "invalid_value", "/channel")
        self.assertError(self.request("POST", "/v1/audits", {"attributes": ["age_band"], "colour": 1},
                                      key=auditor), 400, "unknown_field", "/colour")
        self.assertError(self.request("POST", "/v1/audits", {}, key=auditor), 400, "missing_field", "/attributes")
        self.assertError(self.request("GET", "/v1/audits/999", key=auditor), 404, "not_found")
        # The refusals stored nothing: the next audit takes the id after the last one that ran.
        status, _, a = self.request("POST", "/v1/audits", {"attributes": ["gender"], "seed": 7}, key=auditor)
        self.assertEqual(status, 201, a)
        status, _, b = self.request("POST", "/v1/audits", {"attributes": ["gender"], "seed": 7}, key=auditor)
        self.assertEqual(int(b["id"]), int(a["id"]) + 1)
        # Seeded: the same audit gives the same intervals.
        self.assertEqual(a["disparities"], b["disparities"])

    def test_metrics_show_the_newest_audits_lowest_ratio_per_attribute(self):
        status, _, audit = self.request("POST", "/v1/audits", {"attributes": ["age_band"], "count": COUNT,
                                                               "placement": "home"}, key=self.key("auditor"))
        self.assertEqual(status, 201, audit)
        lowest = min(d["ratio"] for d in audit["disparities"] if d["ratio"] is not None)
        status, _, text = self.request("GET", "/metrics", key=self.key("admin"))
        self.assertEqual(status, 200)
        m = re.search(r'^mesura_audit_disparity_ratio\{attribute="age_band"\} ([0-9.]+)$', text, re.M)
        self.assertIsNotNone(m, text[-600:])
        self.assertAlmostEqual(float(m.group(1)), lowest, places=4)
        self.assertNotIn('attribute="gender"', text)  # only the newest audit's attributes

    def test_the_command_line_runs_the_same_audit(self):
        report = os.path.join(self.server.tmp, "report.html")
        p = run_cli("audit", "--data", self.server.data, "--attributes", "age_band", "--placement", "home",
                    "--count", str(COUNT), "--report", report)
        audit = json.loads(p.stdout)
        self.assertEqual(audit["population"]["audited"], len(PEOPLE))
        mine = self.disparity("age_band", "exposure:camping")
        theirs = next(d for d in audit["disparities"] if d["measure"] == "exposure:camping")
        self.assertEqual(theirs["groups"], mine["groups"])
        with open(report, encoding="utf-8") as f:
            html = f.read()
        self.assertIn("<svg", html)
        self.assertNotIn("35-54", html)
        bad = run_cli("audit", "--data", self.server.data, "--attributes", "shoe_size", check=False)
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("shoe_size", bad.stderr)

    # ------------------------------------------------------------ the report

    def test_the_report_reads_in_the_auditors_language_and_stands_alone(self):
        path = "/v1/audits/%s/report.html" % self.audit["id"]
        status, headers, html = self.request("GET", path, key=self.key("auditor"))
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"), headers)
        self.assertIn("<svg", html)
        self.assertLess(html.index("Summary"), html.index("<svg"))
        self.assertIn("postal_code stands in for ethnicity", html)
        self.assertNotRegex(html, r"(src|href)=|https?://|<script")
        status, _, es = self.request("GET", path, key=self.key("auditor"), headers={"Accept-Language": "es"})
        self.assertIn('lang="es"', es)
        self.assertIn("Resumen", es)
        self.assertIn("postal_code sustituye a ethnicity", es)
        status, _, pl = self.request("GET", path, key=self.key("auditor"), headers={"Accept-Language": "pl"})
        self.assertIn("Podsumowanie", pl)


if __name__ == "__main__":
    unittest.main()
