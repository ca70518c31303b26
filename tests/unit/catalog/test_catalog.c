/*
 * Unit tests of the catalog over a real store and the example policy in a
 * temporary data directory (one per test): the item shape (a table of bad
 * items, each with its code and pointer), upserts, batches with partial
 * errors, reads with the computed "sensitive", deletes, cursor pages and the
 * cursor encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../world.h"

#include "base/json.h"
#include "catalog/catalog.h"
#include "policy/policy.h"
#include "store/store.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */

struct fixture {
  struct mes_world w;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "catalog", NULL, T0_MS, "test-key");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_world_close(&f->w);
  free(f);
  return 0;
}

static json_t *parse(const char *text) {
  json_t *v = json_loads(text, JSON_ALLOW_NUL, NULL);
  assert_non_null(v);
  return v;
}

static int put(struct fixture *f, const char *id, const char *body, struct mes_err *err) {
  json_t *b = parse(body);
  mes_err_clear(err);
  int rc = mes_catalog_put(mes_world_catalog(&f->w), &f->w.req, id, strlen(id), b, err);
  json_decref(b);
  return rc;
}

static void test_bad_items(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *body;
    int rc;
    const char *field;
  } rows[] = {
      {"{\"title\": \"T\", \"colour\": 1}", MES_EUNKNOWN_FIELD, "/colour"},
      {"{}", MES_EMISSING_FIELD, "/title"},
      {"{\"title\": null}", MES_EMISSING_FIELD, "/title"},
      {"{\"title\": 3}", MES_EWRONG_TYPE, "/title"},
      {"{\"title\": \"\"}", MES_EOUT_OF_RANGE, "/title"},
      {"{\"title\": {}}", MES_EWRONG_TYPE, "/title"},
      {"{\"title\": {\"en\": 1}}", MES_EWRONG_TYPE, "/title/en"},
      {"{\"title\": {\"e n\": \"x\"}}", MES_EINVALID_VALUE, "/title/e n"},
      {"{\"title\": \"a\\u0000b\"}", MES_EINVALID_VALUE, "/title"},
      {"{\"title\": \"T\", \"categories\": [\"camping\", \"\"]}", MES_EINVALID_ID, "/categories/1"},
      {"{\"title\": \"T\", \"categories\": [\"a\\u0001b\"]}", MES_EINVALID_ID, "/categories/0"},
      {"{\"title\": \"T\", \"categories\": [1]}", MES_EWRONG_TYPE, "/categories/0"},
      {"{\"title\": \"T\", \"categories\": {}}", MES_EWRONG_TYPE, "/categories"},
      {"{\"title\": \"T\", \"attributes\": []}", MES_EWRONG_TYPE, "/attributes"},
      {"{\"title\": \"T\", \"available\": 1}", MES_EWRONG_TYPE, "/available"},
  };
  struct mes_err err;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int rc = put(f, "it", rows[i].body, &err);
    if (rc != rows[i].rc || strcmp(err.field, rows[i].field) != 0)
      fail_msg("row %zu (%s): got %s at '%s', want %s at '%s'", i, rows[i].body, mes_rc_code(rc), err.field,
               mes_rc_code(rows[i].rc), rows[i].field);
  }
  /* 65 attributes are one too many; 64 fit. */
  json_t *b = parse("{\"title\": \"T\", \"attributes\": {}}");
  json_t *attrs = json_object_get(b, "attributes");
  for (int k = 0; k < 65; k++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", k);
    json_object_set_new(attrs, key, json_integer(k));
  }
  mes_err_clear(&err);
  assert_int_equal(mes_catalog_put(mes_world_catalog(&f->w), &f->w.req, "it", 2, b, &err), MES_EOUT_OF_RANGE);
  assert_string_equal(err.field, "/attributes");
  json_object_del(attrs, "k0");
  assert_int_equal(mes_catalog_put(mes_world_catalog(&f->w), &f->w.req, "it", 2, b, &err), MES_OK);
  json_decref(b);
  /* Ids obey the id rule. */
  char big[130];
  memset(big, 'a', 129);
  big[129] = '\0';
  assert_int_equal(put(f, big, "{\"title\": \"T\"}", &err), MES_EINVALID_ID);
  big[128] = '\0';
  assert_int_equal(put(f, big, "{\"title\": \"T\"}", &err), MES_OK);
  assert_int_equal(put(f, "", "{\"title\": \"T\"}", &err), MES_EINVALID_ID);
}

static void test_put_get_delete(void **state) {
  struct fixture *f = *state;
  struct mes_err err;
  assert_int_equal(put(f, "crib", "{\"title\": {\"en\": \"Crib\", \"es\": \"Cuna\"}, \"categories\": "
                                  "[\"baby\", \"camping\", \"baby\"], \"attributes\": {\"price\": 120}}",
                       &err),
                   MES_OK);
  json_t *out = NULL;
  assert_int_equal(mes_catalog_get(mes_world_catalog(&f->w), &f->w.req, "crib", 4, &out, &err), MES_OK);
  assert_string_equal(mes_json_str(out, "id", ""), "crib");
  assert_true(mes_json_bool(out, "sensitive", false));
  assert_true(mes_json_bool(out, "available", false));
  assert_int_equal(json_array_size(json_object_get(out, "categories")), 2); /* repeats dropped */
  assert_int_equal(mes_json_int(json_object_get(out, "attributes"), "price", 0), 120);
  json_decref(out);

  json_t *cats = NULL;
  assert_int_equal(mes_catalog_item_categories(mes_world_catalog(&f->w), "crib", &cats), MES_OK);
  assert_int_equal(json_array_size(cats), 2);
  assert_string_equal(json_string_value(json_array_get(cats, 0)), "baby");
  json_decref(cats);

  assert_int_equal(put(f, "crib", "{\"title\": \"Crib\", \"available\": false}", &err), MES_OK);
  assert_int_equal(mes_catalog_get(mes_world_catalog(&f->w), &f->w.req, "crib", 4, &out, &err), MES_OK);
  assert_false(mes_json_bool(out, "sensitive", true));
  assert_false(mes_json_bool(out, "available", true));
  json_decref(out);

  assert_int_equal(mes_catalog_delete(mes_world_catalog(&f->w), "crib", 4, &err), MES_OK);
  assert_int_equal(mes_catalog_get(mes_world_catalog(&f->w), &f->w.req, "crib", 4, &out, &err), MES_ENOT_FOUND);
  assert_null(out);
  assert_int_equal(mes_catalog_delete(mes_world_catalog(&f->w), "crib", 4, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_catalog_item_categories(mes_world_catalog(&f->w), "crib", &cats), MES_ENOT_FOUND);
  assert_null(cats);
}

/* mesura.yaml declares only the categories that need care: any other
 * category is an ordinary one, taken as it is (not sensitive) and handed
 * back by name, the id rule aside. */
static void test_undeclared_categories_are_ordinary(void **state) {
  struct fixture *f = *state;
  struct mes_err err;
  assert_int_equal(mes_policy_category(f->w.policy, "lingerie", 8), -1);
  assert_int_equal(put(f, "bra", "{\"title\": \"Bra\", \"categories\": [\"lingerie\", \"Unterwäsche\", \"lingerie\"]}",
                       &err),
                   MES_OK);
  json_t *out = NULL;
  assert_int_equal(mes_catalog_get(mes_world_catalog(&f->w), &f->w.req, "bra", 3, &out, &err), MES_OK);
  assert_false(mes_json_bool(out, "sensitive", true));
  json_t *cats = json_object_get(out, "categories");
  assert_int_equal(json_array_size(cats), 2);
  assert_string_equal(json_string_value(json_array_get(cats, 0)), "lingerie");
  assert_string_equal(json_string_value(json_array_get(cats, 1)), "Unterwäsche");
  json_decref(out);
  /* With a declared sensitive one, the item is sensitive all the same. */
  assert_int_equal(put(f, "bump", "{\"title\": \"B\", \"categories\": [\"maternity\", \"baby\"]}", &err), MES_OK);
  assert_int_equal(mes_catalog_get(mes_world_catalog(&f->w), &f->w.req, "bump", 4, &out, &err), MES_OK);
  assert_true(mes_json_bool(out, "sensitive", false));
  json_decref(out);
  assert_int_equal(mes_catalog_item_categories(mes_world_catalog(&f->w), "bump", &cats), MES_OK);
  assert_string_equal(json_string_value(json_array_get(cats, 0)), "maternity");
  assert_string_equal(json_string_value(json_array_get(cats, 1)), "baby");
  json_decref(cats);
  /* A batch takes them too. */
  json_t *body = parse("{\"items\": [{\"id\": \"a\", \"title\": \"A\", \"categories\": [\"garden\"]}]}");
  json_t *reply = NULL;
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, body, &reply, &err), MES_OK);
  assert_int_equal(mes_json_int(reply, "upserted", -1), 1);
  assert_int_equal(json_array_size(json_object_get(reply, "errors")), 0);
  json_decref(reply);
  json_decref(body);
}

static void test_post_batch(void **state) {
  struct fixture *f = *state;
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = parse("{\"items\": [{\"id\": \"a\", \"title\": \"A\"}, {\"title\": \"no id\"},"
                       "{\"id\": \"b\", \"title\": \"B\", \"categories\": [\"\"]}, {\"id\": \"c\", \"title\": \"C\"}]}");
  json_t *reply = NULL;
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, body, &reply, &err), MES_OK);
  assert_int_equal(mes_json_int(reply, "upserted", -1), 2);
  json_t *errors = json_object_get(reply, "errors");
  assert_int_equal(json_array_size(errors), 2);
  assert_int_equal(mes_json_int(json_array_get(errors, 0), "index", -1), 1);
  json_t *e1 = json_object_get(json_array_get(errors, 1), "error");
  assert_string_equal(mes_json_str(e1, "code", ""), "invalid_id");
  assert_string_equal(mes_json_str(e1, "field", ""), "/items/2/categories/0");
  json_decref(reply);
  json_decref(body);
  assert_int_equal(mes_store_item_count(f->w.store), 2);

  /* 10,001 items: refused whole. */
  body = parse("{\"items\": []}");
  json_t *items = json_object_get(body, "items");
  for (int i = 0; i <= MES_CATALOG_BATCH_MAX; i++)
    json_array_append_new(items, json_pack("{s:s, s:s}", "id", "x", "title", "X"));
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, body, &reply, &err), MES_EBATCH_TOO_LARGE);
  assert_null(reply);
  json_decref(body);

  body = parse("{\"items\": [], \"more\": 1}");
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, body, &reply, &err), MES_EUNKNOWN_FIELD);
  assert_string_equal(err.field, "/more");
  json_decref(body);
}

static void test_pages(void **state) {
  struct fixture *f = *state;
  struct mes_err err;
  json_t *body = parse("{\"items\": []}");
  for (int i = 0; i < 23; i++) {
    char id[16];
    snprintf(id, sizeof id, "p%02d", i);
    json_array_append_new(json_object_get(body, "items"), json_pack("{s:s, s:s}", "id", id, "title", id));
  }
  json_t *reply = NULL;
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, body, &reply, &err), MES_OK);
  json_decref(reply);
  json_decref(body);

  char cursor[256] = "";
  int seen = 0, pages = 0;
  for (;;) {
    json_t *page = NULL;
    assert_int_equal(mes_catalog_list(mes_world_catalog(&f->w), &f->w.req, 5, cursor[0] ? cursor : NULL, &page, &err),
                     MES_OK);
    json_t *items = json_object_get(page, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
      char want[16];
      snprintf(want, sizeof want, "p%02d", seen++);
      assert_string_equal(mes_json_str(json_array_get(items, i), "id", ""), want);
    }
    pages++;
    const char *next = mes_json_str(page, "next_cursor", NULL);
    if (!next) {
      json_decref(page);
      break;
    }
    snprintf(cursor, sizeof cursor, "%s", next);
    json_decref(page);
  }
  assert_int_equal(seen, 23);
  assert_int_equal(pages, 5);

  json_t *page = NULL;
  assert_int_equal(mes_catalog_list(mes_world_catalog(&f->w), &f->w.req, 0, NULL, &page, &err), MES_EOUT_OF_RANGE);
  assert_int_equal(mes_catalog_list(mes_world_catalog(&f->w), &f->w.req, 1001, NULL, &page, &err), MES_EOUT_OF_RANGE);
  assert_int_equal(mes_catalog_list(mes_world_catalog(&f->w), &f->w.req, 10, "!!", &page, &err), MES_EINVALID_VALUE);
  assert_string_equal(err.field, "/query/cursor");
  assert_int_equal(mes_catalog_list(mes_world_catalog(&f->w), &f->w.req, 10, "", &page, &err),
                   MES_EINVALID_VALUE); /* empty id */
  assert_null(page);
  /* Exactly one full page: no next cursor. */
  assert_int_equal(mes_catalog_list(mes_world_catalog(&f->w), &f->w.req, 23, NULL, &page, &err), MES_OK);
  assert_null(json_object_get(page, "next_cursor"));
  json_decref(page);
}

static void test_cursor_codec(void **state) {
  (void)state;
  static const char *const ids[] = {"a", "ab", "abc", "abcd", "zażółć/gęślą", "\xef\xbf\xbf", "tent-2p"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    char enc[256], dec[256];
    size_t n = mes_catalog_cursor_encode(ids[i], strlen(ids[i]), enc);
    assert_int_equal(n, strlen(enc));
    assert_null(strpbrk(enc, "+/="));
    long d = mes_catalog_cursor_decode(enc, n, dec, sizeof dec);
    if (d != (long)strlen(ids[i]) || memcmp(dec, ids[i], (size_t)d) != 0)
      fail_msg("round trip of '%s' via '%s' gave %ld bytes", ids[i], enc, d);
  }
  char out[8];
  assert_int_equal(mes_catalog_cursor_decode("YWJj", 4, out, sizeof out), 3);
  assert_int_equal(mes_catalog_cursor_decode("YWJjZ", 5, out, sizeof out), -1); /* a dangling sextet */
  assert_int_equal(mes_catalog_cursor_decode("YR", 2, out, sizeof out), -1);    /* non-canonical bits */
  assert_int_equal(mes_catalog_cursor_decode("YW=j", 4, out, sizeof out), -1);
  assert_int_equal(mes_catalog_cursor_decode("YWJjYWJjYWJj", 12, out, sizeof out), -1); /* too long for out */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_items, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_undeclared_categories_are_ordinary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_post_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pages, setup, teardown),
      cmocka_unit_test(test_cursor_codec),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
