"""Catalog (contract §3): CRUD, pagination, categories the policy does not declare (ordinary ones),
and every bad input with its code."""

import base64
import unittest

from harness import ServerTestCase

POLICY = """\
site: Catalog Test
languages: [en, es]
purposes:
  personalization: {description: {en: "Suggestions"}, gpc: ignored}
event_types:
  view: {purposes: [personalization], retention_days: 180}
categories:
  camping: {label: {en: "Camping"}}
  kitchen: {}
  baby: {sensitive: true, label: {en: "Baby & pregnancy"}}
"""


class CatalogTest(ServerTestCase):
    policy = POLICY
    keys = {"admin": "admin", "cat": "catalog", "ing": "ingest"}

    def put(self, item, body, key="cat"):
        return self.request("PUT", "/v1/items/" + item, body, key=self.key(key))

    def get(self, path, key="cat"):
        return self.request("GET", path, key=self.key(key))

    # ------------------------------------------------------------ CRUD

    def test_put_get_delete(self):
        status, _, body = self.put("tent-2p", {"title": "Tent 2p", "categories": ["camping"],
                                               "attributes": {"price": 199, "brand": "Acme"}})
        self.assertEqual(status, 200, body)
        status, _, body = self.get("/v1/items/tent-2p")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], "tent-2p")
        self.assertEqual(body["title"], "Tent 2p")
        self.assertEqual(body["categories"], ["camping"])
        self.assertEqual(body["attributes"], {"price": 199, "brand": "Acme"})
        self.assertIs(body["available"], True)  # the default
        self.assertIs(body["sensitive"], False)
        # An upsert replaces the document.
        status, _, body = self.put("tent-2p", {"title": {"en": "Tent", "es": "Tienda"}, "available": False})
        self.assertEqual(status, 200, body)
        status, _, body = self.get("/v1/items/tent-2p")
        self.assertEqual(body["title"], {"en": "Tent", "es": "Tienda"})
        self.assertEqual(body["categories"], [])
        self.assertIs(body["available"], False)
        status, _, body = self.request("DELETE", "/v1/items/tent-2p", key=self.key("cat"))
        self.assertEqual(status, 200, body)
        self.assertError(self.get("/v1/items/tent-2p"), 404, "not_found")
        self.assertError(self.request("DELETE", "/v1/items/tent-2p", key=self.key("cat")), 404, "not_found")

    def test_sensitive_flag(self):
        self.assertEqual(self.put("crib", {"title": "Crib", "categories": ["kitchen", "baby"]})[0], 200)
        status, _, body = self.get("/v1/items/crib")
        self.assertEqual(status, 200, body)
        self.assertIs(body["sensitive"], True)

    def test_undeclared_categories_are_ordinary(self):
        # mesura.yaml declares only the categories that need care; any other id is an ordinary category.
        status, _, body = self.put("bra", {"title": "Bra", "categories": ["lingerie", "Unterwäsche", "lingerie"]})
        self.assertEqual(status, 200, body)
        status, _, body = self.get("/v1/items/bra")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["categories"], ["lingerie", "Unterwäsche"])
        self.assertIs(body["sensitive"], False)
        status, _, body = self.request("POST", "/v1/items", {"items": [
            {"id": "rake", "title": "Rake", "categories": ["garden"]},
            {"id": "bump", "title": "Bump band", "categories": ["maternity", "baby"]}]}, key=self.key("cat"))
        self.assertEqual((status, body), (200, {"upserted": 2, "errors": []}))
        self.assertIs(self.get("/v1/items/rake")[2]["sensitive"], False)
        self.assertIs(self.get("/v1/items/bump")[2]["sensitive"], True)  # "baby" is declared sensitive
        # They still follow the id rule.
        self.assertError(self.put("bra", {"title": "T", "categories": ["a" * 129]}), 400, "invalid_id",
                         "/categories/0")
        self.assertError(self.put("bra", {"title": "T", "categories": ["ok", "bad\u0001"]}), 400, "invalid_id",
                         "/categories/1")
        self.assertEqual(self.get("/v1/items/bra")[2]["categories"], ["lingerie", "Unterwäsche"])

    def test_utf8_and_escaped_ids(self):
        self.assertEqual(self.put("caf%C3%A9%2Fmug", {"title": "Café mug"})[0], 200)
        status, _, body = self.get("/v1/items/caf%C3%A9%2Fmug")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["id"], "café/mug")

    def test_scopes(self):
        self.assertError(self.request("GET", "/v1/items"), 401, "unauthorized")
        self.assertError(self.get("/v1/items", key="ing"), 403, "forbidden")
        self.assertEqual(self.get("/v1/items", key="admin")[0], 200)

    # ------------------------------------------------------------ bad input

    def test_bad_put_bodies(self):
        cases = [
            ({"title": "T", "colour": "red"}, 400, "unknown_field", "/colour"),
            ({"categories": ["camping"]}, 400, "missing_field", "/title"),
            ({"title": 5}, 400, "wrong_type", "/title"),
            ({"title": ""}, 400, "out_of_range", "/title"),
            ({"title": {"en": 3}}, 400, "wrong_type", "/title/en"),
            ({"title": "T", "categories": ["camping", "tab\there"]}, 400, "invalid_id", "/categories/1"),
            ({"title": "T", "categories": "camping"}, 400, "wrong_type", "/categories"),
            ({"title": "T", "categories": [""]}, 400, "invalid_id", "/categories/0"),
            ({"title": "T", "attributes": [1]}, 400, "wrong_type", "/attributes"),
            ({"title": "T", "attributes": {"k%d" % i: i for i in range(65)}}, 400, "out_of_range", "/attributes"),
            ({"title": "T", "available": "yes"}, 400, "wrong_type", "/available"),
        ]
        for body, status, code, field in cases:
            with self.subTest(body=body):
                self.assertError(self.put("x1", body), status, code, field)
        self.assertError(self.get("/v1/items/x1"), 404, "not_found")  # nothing half-written
        self.assertEqual(self.put("x1", {"title": "T", "attributes": {"k%d" % i: i for i in range(64)}})[0], 200)

    def test_bad_json_and_ids(self):
        self.assertError(self.put("x2", "{not json"), 400, "malformed_json")
        self.assertError(self.put("x2", "[1]"), 400, "wrong_type")
        self.assertError(self.put("a" * 129, {"title": "T"}), 400, "invalid_id", "/path/item")
        self.assertEqual(self.put("a" * 128, {"title": "T"})[0], 200)
        self.assertError(self.put("bad%01id", {"title": "T"}), 400, "invalid_id", "/path/item")

    # ------------------------------------------------------------ batches

    def test_batch(self):
        items = [{"id": "b-%03d" % i, "title": "Item %d" % i, "categories": ["kitchen"]} for i in range(5)]
        items.insert(2, {"id": "b-bad", "title": "T", "categories": [""]})
        items.append({"title": "no id"})
        items.append({"id": "b-x", "title": "T", "extra": 1})
        status, _, body = self.request("POST", "/v1/items", {"items": items}, key=self.key("cat"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["upserted"], 5)
        errs = {e["index"]: e["error"] for e in body["errors"]}
        self.assertEqual(set(errs), {2, 6, 7})
        self.assertEqual(errs[2]["code"], "invalid_id")
        self.assertEqual(errs[2]["field"], "/items/2/categories/0")
        self.assertEqual(errs[6]["code"], "missing_field")
        self.assertEqual(errs[6]["field"], "/items/6/id")
        self.assertEqual(errs[7]["code"], "unknown_field")
        self.assertEqual(errs[7]["field"], "/items/7/extra")
        self.assertEqual(self.get("/v1/items/b-004")[0], 200)
        self.assertError(self.get("/v1/items/b-bad"), 404, "not_found")

    def test_batch_limits(self):
        too_many = {"items": [{"id": "t%d" % i, "title": "T"} for i in range(10001)]}
        self.assertError(self.request("POST", "/v1/items", too_many, key=self.key("cat")), 413, "batch_too_large",
                         "/items")
        self.assertError(self.get("/v1/items/t0"), 404, "not_found")
        self.assertError(self.request("POST", "/v1/items", {"items": [], "x": 1}, key=self.key("cat")), 400,
                         "unknown_field", "/x")
        self.assertError(self.request("POST", "/v1/items", {}, key=self.key("cat")), 400, "missing_field", "/items")
        status, _, body = self.request("POST", "/v1/items", {"items": []}, key=self.key("cat"))
        self.assertEqual((status, body), (200, {"upserted": 0, "errors": []}))
        full = {"items": [{"id": "full-%05d" % i, "title": "T"} for i in range(10000)]}
        status, _, body = self.request("POST", "/v1/items", full, key=self.key("cat"))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["upserted"], 10000)

    # ------------------------------------------------------------ pages

    def test_pagination(self):
        ids = ["pg-%02d" % i for i in range(25)]
        status, _, body = self.request("POST", "/v1/items", {"items": [{"id": i, "title": i} for i in ids]},
                                       key=self.key("cat"))
        self.assertEqual(body["upserted"], 25)
        # Walk every page of the whole catalog with limit 7, and check the pg- items come in order.
        seen, cursor, pages = [], None, 0
        while True:
            path = "/v1/items?limit=7" + ("&cursor=" + cursor if cursor else "")
            status, _, body = self.get(path)
            self.assertEqual(status, 200, body)
            self.assertLessEqual(len(body["items"]), 7)
            seen += [it["id"] for it in body["items"]]
            pages += 1
            cursor = body.get("next_cursor")
            if not cursor:
                break
            # The cursor is base64url of the last id on the page.
            pad = "=" * (-len(cursor) % 4)
            self.assertEqual(base64.urlsafe_b64decode(cursor + pad).decode(), body["items"][-1]["id"])
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual([i for i in seen if i.startswith("pg-")], ids)
        self.assertGreater(pages, 3)
        status, _, body = self.get("/v1/items")
        self.assertEqual(status, 200)
        self.assertLessEqual(len(body["items"]), 100)

    def test_last_page_has_no_cursor(self):
        # A cursor past every id: an empty last page.
        cursor = base64.urlsafe_b64encode(b"\xef\xbf\xbf" * 3).decode().rstrip("=")
        status, _, body = self.get("/v1/items?cursor=" + cursor)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["items"], [])
        self.assertNotIn("next_cursor", body)

    def test_bad_page_parameters(self):
        for q, code, field in [("limit=0", "out_of_range", "/query/limit"),
                               ("limit=1001", "out_of_range", "/query/limit"),
                               ("limit=abc", "wrong_type", "/query/limit"),
                               ("limit=-1", "wrong_type", "/query/limit"),
                               ("cursor=***", "invalid_value", "/query/cursor"),
                               ("cursor=" + "A" * 300, "invalid_value", "/query/cursor")]:
            with self.subTest(q=q):
                self.assertError(self.get("/v1/items?" + q), 400, code, field)
        self.assertEqual(self.get("/v1/items?limit=1000")[0], 200)
        self.assertEqual(self.get("/v1/items?limit=1")[0], 200)


if __name__ == "__main__":
    unittest.main()
