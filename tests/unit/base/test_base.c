/* Unit tests of base: timestamps, ids, the request validator, buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/mtime.h"

static void test_rfc3339(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int rc;
    int64_t ms;
  } rows[] = {
      {"1970-01-01T00:00:00Z", MES_OK, 0},
      {"2026-11-20T21:04:05Z", MES_OK, 1795208645000LL},
      {"2026-11-20T21:04:05.250Z", MES_OK, 1795208645250LL},
      {"2026-11-20T22:04:05+01:00", MES_OK, 1795208645000LL},
      {"2024-02-29T00:00:00Z", MES_OK, 1709164800000LL},
      {"2023-02-29T00:00:00Z", MES_EBAD_TS, 0},
      {"2026-13-01T00:00:00Z", MES_EBAD_TS, 0},
      {"2026-11-20 21:04:05", MES_EBAD_TS, 0},
      {"2026-11-20T21:04:05", MES_EBAD_TS, 0},
      {"2026-11-20T21:04:05Zjunk", MES_EBAD_TS, 0},
      {"yesterday", MES_EBAD_TS, 0},
      {"", MES_EBAD_TS, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t ms = -1;
    int rc = mes_time_parse_rfc3339(rows[i].s, strlen(rows[i].s), &ms);
    assert_int_equal(rc, rows[i].rc);
    if (rc == MES_OK)
      assert_int_equal(ms, rows[i].ms);
  }
  char out[32];
  mes_time_format(1795208645250LL, out);
  assert_string_equal(out, "2026-11-20T21:04:05.250Z");
}

static void test_ids(void **state) {
  (void)state;
  char big[130];
  memset(big, 'a', sizeof big);
  assert_int_equal(mes_id_check("u42", 3), MES_OK);
  assert_int_equal(mes_id_check("zażółć", strlen("zażółć")), MES_OK);
  assert_int_equal(mes_id_check("", 0), MES_EINVALID_ID);
  assert_int_equal(mes_id_check(big, 128), MES_OK);
  assert_int_equal(mes_id_check(big, 129), MES_EINVALID_ID);
  assert_int_equal(mes_id_check("a\nb", 3), MES_EINVALID_ID);
  assert_int_equal(mes_id_check("a\x7f", 2), MES_EINVALID_ID);
  assert_int_equal(mes_id_check("\xc2\x85", 2), MES_EINVALID_ID); /* NEL, a C1 control */
  assert_int_equal(mes_id_check("\xff", 1), MES_EBAD_UTF8);
  assert_int_equal(mes_id_check("\xc0\xaf", 2), MES_EBAD_UTF8);     /* overlong */
  assert_int_equal(mes_id_check("\xed\xa0\x80", 3), MES_EBAD_UTF8); /* surrogate */
  assert_int_equal(mes_id_check("\xe2\x82", 2), MES_EBAD_UTF8);     /* truncated */
  char out[16];
  assert_int_equal(mes_url_decode("a%20b", 5, out, sizeof out), 3);
  assert_string_equal(out, "a b");
  assert_int_equal(mes_url_decode("a%2", 3, out, sizeof out), -1);
  assert_int_equal(mes_url_decode("a%00", 4, out, sizeof out), -1);
}

static const struct mes_jfield shape[] = {
    {"subject", MES_J_ID, true, 0, 0},
    {"count", MES_J_INT, false, 1, 100},
    {"tags", MES_J_IDS, false, 0, 3},
    {"title", MES_J_TEXT, false, 0, 0},
};

static void check(const char *body, int want_rc, const char *want_field) {
  json_t *obj = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_json_parse_object(body, strlen(body), &obj, &err);
  if (!rc)
    rc = mes_json_check(obj, shape, sizeof shape / sizeof shape[0], "", &err);
  assert_int_equal(rc, want_rc);
  if (want_field)
    assert_string_equal(err.field, want_field);
  json_decref(obj);
}

static void test_validator(void **state) {
  (void)state;
  check("{\"subject\":\"u1\",\"count\":5,\"tags\":[\"a\"],\"title\":{\"en\":\"x\"}}", MES_OK, NULL);
  check("{\"subject\":\"u1\",\"extra\":1}", MES_EUNKNOWN_FIELD, "/extra");
  check("{\"subject\":\"u1\",\"a/b\":1}", MES_EUNKNOWN_FIELD, "/a~1b");
  check("{\"count\":5}", MES_EMISSING_FIELD, "/subject");
  check("{\"subject\":5}", MES_EWRONG_TYPE, "/subject");
  check("{\"subject\":\"u1\",\"count\":0}", MES_EOUT_OF_RANGE, "/count");
  check("{\"subject\":\"u1\",\"count\":\"5\"}", MES_EWRONG_TYPE, "/count");
  check("{\"subject\":\"u1\",\"tags\":[\"a\",\"\"]}", MES_EINVALID_ID, "/tags/1");
  check("{\"subject\":\"u1\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", MES_EOUT_OF_RANGE, "/tags");
  check("{\"subject\":\"u1\",\"title\":{\"en\":3}}", MES_EWRONG_TYPE, "/title/en");
  check("{\"subject\":\"u1\"", MES_EBAD_JSON, NULL);
  check("[1,2]", MES_EWRONG_TYPE, NULL);
  check("{\"subject\":\"u1\",\"subject\":\"u2\"}", MES_EBAD_JSON, NULL);
  check("{\"subject\":\"\xff\"}", MES_EBAD_UTF8, NULL);
  check("", MES_EEMPTY_BODY, NULL);
  /* When jansson refuses a body, the body's syntax is checked again (to tell
   * an allocation that failed from a mistake): mistakes stay malformed_json. */
  static const char *const malformed[] = {
      "{\"subject\":\"u1\",}", "{\"subject\" \"u1\"}", "{\"subject\":\"u\\x\"}", "{\"subject\":\"u\\u12\"}",
      "{\"count\":01}", "{\"count\":1.}", "{\"count\":-}", "{\"count\":1e}", "{\"on\":tru}", "{\"on\":nul}",
      "{\"subject\":\"u1\"} x", "{\"tags\":[1 2]}", "{\"tags\":[1,]}", "{\"tags\":[}", "{\"subject\":\"a\tb\"}",
      "{1:2}", "{\"a\":{\"b\":[{}]}]", "{\"subject\":\"u1", "{\"subject\":'u1'}", "{\"x\":+1}",
      "{\"subject\":\"\\udc00\"}", "{\"subject\":\"\\ud800\"}", "{\"subject\":\"\\ud800\\u0041\"}", "\"u1\"",
  };
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
    check(malformed[i], MES_EBAD_JSON, NULL);
    if (mes__json_syntax_ok(malformed[i], strlen(malformed[i])))
      fail_msg("syntax_ok takes malformed body %zu: %s", i, malformed[i]);
  }
  static const char *const well_formed[] = {
      "{}", "[]", " [ 1 , -0.5e+3 , 2E-7 , 0 , true , false , null ] ", "{\"a\":{\"b\":[{},[],\"\"]}}",
      "{\"t\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}", "{\"k\":\"caf\xc3\xa9\"}",
  };
  for (size_t i = 0; i < sizeof well_formed / sizeof well_formed[0]; i++) {
    json_t *v = json_loads(well_formed[i], 0, NULL);
    bool ok = mes__json_syntax_ok(well_formed[i], strlen(well_formed[i]));
    if (!v || !ok)
      fail_msg("body %zu (%s): jansson takes it: %d, syntax_ok: %d", i, well_formed[i], v != NULL, ok);
    json_decref(v);
  }
}

/* The pointer of every error path under a non-empty base (as a batch's
 * "/events/N"): mes_json_check joins it only when it reports an error, so
 * each path must still name the member, escaped, below the base. */
static const struct mes_jfield shape2[] = {
    {"type", MES_J_STRING, true, 1, 4},
    {"on", MES_J_BOOL, false, 0, 0},
    {"a/b", MES_J_OBJECT, false, 0, 0},
    {"n~m", MES_J_NUMBER, false, 0, 0},
    {"ids", MES_J_IDS, false, 0, 4},
    {"title", MES_J_TEXT, false, 0, 0},
    {"ts", MES_J_TS, false, 0, 0},
    {"item", MES_J_ID, false, 0, 0},
};

static void test_validator_base_ptr(void **state) {
  (void)state;
  static const struct {
    const char *body;
    int rc;
    const char *field;
  } cases[] = {
      {"{\"type\":\"view\",\"on\":true,\"a/b\":{},\"n~m\":1.5,\"ids\":[\"x\"],\"title\":\"t\",\"ts\":1,\"item\":\"i\"}",
       MES_OK, ""},
      {"{\"on\":true}", MES_EMISSING_FIELD, "/events/7/type"},
      {"{\"type\":null}", MES_EMISSING_FIELD, "/events/7/type"},
      {"{\"type\":3}", MES_EWRONG_TYPE, "/events/7/type"},
      {"{\"type\":\"\"}", MES_EOUT_OF_RANGE, "/events/7/type"},
      {"{\"type\":\"views\"}", MES_EOUT_OF_RANGE, "/events/7/type"},
      {"{\"type\":\"v\",\"on\":1}", MES_EWRONG_TYPE, "/events/7/on"},
      {"{\"type\":\"v\",\"a/b\":[]}", MES_EWRONG_TYPE, "/events/7/a~1b"},
      {"{\"type\":\"v\",\"n~m\":\"1\"}", MES_EWRONG_TYPE, "/events/7/n~0m"},
      {"{\"type\":\"v\",\"ids\":{}}", MES_EWRONG_TYPE, "/events/7/ids"},
      {"{\"type\":\"v\",\"ids\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", MES_EOUT_OF_RANGE, "/events/7/ids"},
      {"{\"type\":\"v\",\"ids\":[\"a\",2]}", MES_EWRONG_TYPE, "/events/7/ids/1"},
      {"{\"type\":\"v\",\"title\":{\"en\":\"x\",\"f/r\":1}}", MES_EWRONG_TYPE, "/events/7/title/f~1r"},
      {"{\"type\":\"v\",\"title\":{}}", MES_EWRONG_TYPE, "/events/7/title"},
      {"{\"type\":\"v\",\"ts\":true}", MES_EWRONG_TYPE, "/events/7/ts"},
      {"{\"type\":\"v\",\"item\":\"\"}", MES_EINVALID_ID, "/events/7/item"},
      {"{\"type\":\"v\",\"item\":7}", MES_EWRONG_TYPE, "/events/7/item"},
      {"{\"type\":\"v\",\"x~y\":7}", MES_EUNKNOWN_FIELD, "/events/7/x~0y"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *obj = NULL;
    struct mes_err err;
    mes_err_clear(&err);
    assert_int_equal(mes_json_parse_object(cases[i].body, strlen(cases[i].body), &obj, &err), MES_OK);
    int rc = mes_json_check(obj, shape2, sizeof shape2 / sizeof shape2[0], "/events/7", &err);
    if (rc != cases[i].rc || strcmp(err.field, cases[i].field) != 0)
      print_error("case %zu: %s\n", i, cases[i].body);
    assert_int_equal(rc, cases[i].rc);
    assert_string_equal(err.field, cases[i].field);
    json_decref(obj);
  }
  /* A NUL inside a string (the parser refuses it in a body; a caller's own
   * object can hold one). */
  json_t *obj = json_object();
  assert_non_null(obj);
  assert_int_equal(json_object_set_new(obj, "type", json_stringn("v\0w", 3)), 0);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_json_check(obj, shape2, sizeof shape2 / sizeof shape2[0], "/events/7", &err),
                   MES_EINVALID_VALUE);
  assert_string_equal(err.field, "/events/7/type");
  json_decref(obj);
}

static void test_ts_future(void **state) {
  (void)state;
  struct mes_err err;
  int64_t now = 1795208645000LL, out;
  json_t *v = json_integer(now + 4 * 60 * 1000);
  assert_int_equal(mes_json_ts(v, now, &out, "/ts", &err), MES_OK);
  json_decref(v);
  v = json_integer(now + 6 * 60 * 1000);
  assert_int_equal(mes_json_ts(v, now, &out, "/ts", &err), MES_ETS_IN_FUTURE);
  assert_string_equal(err.field, "/ts");
  json_decref(v);
  v = json_real(1.5);
  assert_int_equal(mes_json_ts(v, now, &out, "/ts", &err), MES_EBAD_TS);
  json_decref(v);
}

static void test_canonical(void **state) {
  (void)state;
  json_t *v = json_pack("{s:s, s:i, s:s}", "z", "ü", "a", 1, "m", "x");
  char *s = mes_json_canonical(v);
  assert_string_equal(s, "{\"a\":1,\"m\":\"x\",\"z\":\"ü\"}");
  free(s);
  json_decref(v);
}

/* A reply's score reads as people expect it (0.0882, not
 * 0.088200000000000001), and still parses back to the same number. */
static void test_dump_reals(void **state) {
  (void)state;
  json_t *v = json_pack("{s:f, s:f, s:i}", "score", 0.0882, "price", 19.99, "n", 3);
  char *s = mes_json_dump(v);
  assert_string_equal(s, "{\"score\":0.0882,\"price\":19.99,\"n\":3}");
  json_t *back = json_loads(s, 0, NULL);
  assert_true(json_real_value(json_object_get(back, "score")) == 0.0882);
  json_decref(back);
  free(s);
  json_decref(v);
}

/* A record stored as parts (the reply as sent, then the record's own
 * members) reads back as one object; a record of one part (as stored before)
 * reads as before; anything else is refused. */
static void test_load_parts(void **state) {
  (void)state;
  const char *two = "{\"request_id\":\"r_1\",\"items\":[1,2]}\n{\"ts\":\"t\",\"suppressed\":[]}";
  json_t *v = mes_json_load_parts(two, strlen(two));
  assert_non_null(v);
  assert_string_equal(mes_json_str(v, "request_id", ""), "r_1");
  assert_string_equal(mes_json_str(v, "ts", ""), "t");
  assert_int_equal(json_array_size(json_object_get(v, "items")), 2);
  assert_true(json_is_array(json_object_get(v, "suppressed")));
  json_decref(v);
  const char *one = " {\"a\":1} ";
  v = mes_json_load_parts(one, strlen(one));
  assert_int_equal(mes_json_int(v, "a", 0), 1);
  json_decref(v);
  const char *bad[] = {"", "   ", "{\"a\":1}\n[1]", "{\"a\":1} x", "{\"a\":1}{\"b\":", "[1]", "{\"a\":1}\n\"s\""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    v = mes_json_load_parts(bad[i], strlen(bad[i]));
    if (v)
      fail_msg("accepted %s", bad[i]);
  }
}

/* A list stored grouped by what its entries share reads back flat, groups
 * and values in order, each entry's own value first; a record stored flat
 * is left alone, and a damaged grouping changes nothing. */
static void test_ungroup(void **state) {
  (void)state;
  json_t *rec = json_loads("{\"ts\": \"t\", \"suppressed_by\": ["
                           "{\"rule\": \"frequency_cap\", \"detail\": \"Shown 4 times.\", \"items\": [\"a\", \"b\"]},"
                           "{\"rule\": \"after_purchase\", \"detail\": \"Bought.\", \"items\": [\"c\"]},"
                           "{\"rule\": \"retargeting\", \"detail\": \"Old.\", \"items\": []}]}",
                           0, NULL);
  assert_non_null(rec);
  assert_int_equal(mes_json_ungroup(rec, "suppressed_by", "suppressed", "items", "item"), MES_OK);
  assert_null(json_object_get(rec, "suppressed_by"));
  json_t *want = json_loads("[{\"item\": \"a\", \"rule\": \"frequency_cap\", \"detail\": \"Shown 4 times.\"},"
                            "{\"item\": \"b\", \"rule\": \"frequency_cap\", \"detail\": \"Shown 4 times.\"},"
                            "{\"item\": \"c\", \"rule\": \"after_purchase\", \"detail\": \"Bought.\"}]",
                            0, NULL);
  assert_true(json_equal(json_object_get(rec, "suppressed"), want));
  char *text = mes_json_dump(json_array_get(json_object_get(rec, "suppressed"), 0));
  assert_string_equal(text, "{\"item\":\"a\",\"rule\":\"frequency_cap\",\"detail\":\"Shown 4 times.\"}");
  free(text);
  /* Stored flat (records from before the grouping): as it was. */
  json_t *flat = json_pack("{s:s, s:O}", "ts", "t", "suppressed", want);
  json_t *copy = json_deep_copy(flat);
  assert_int_equal(mes_json_ungroup(flat, "suppressed_by", "suppressed", "items", "item"), MES_OK);
  assert_true(json_equal(flat, copy));
  json_decref(flat);
  json_decref(copy);
  json_decref(want);
  json_decref(rec);
  static const char *const bad[] = {"{\"suppressed_by\": {}}", "{\"suppressed_by\": [1]}",
                                    "{\"suppressed_by\": [{\"rule\": \"r\"}]}",
                                    "{\"suppressed_by\": [{\"rule\": \"r\", \"items\": \"a\"}]}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *b = json_loads(bad[i], 0, NULL), *before = json_deep_copy(b);
    assert_int_equal(mes_json_ungroup(b, "suppressed_by", "suppressed", "items", "item"), MES_EBAD_INPUT);
    assert_true(json_equal(b, before));
    json_decref(b);
    json_decref(before);
  }
}

static void test_buf_cap(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 8);
  assert_int_equal(mes_buf_puts(&b, "12345"), MES_OK);
  assert_int_equal(mes_buf_puts(&b, "6789"), MES_EBODY_TOO_LARGE);
  assert_string_equal(b.data, "12345"); /* unchanged on failure */
  assert_int_equal(mes_buf_printf(&b, "%d", 678), MES_OK);
  assert_string_equal(b.data, "12345678");
  mes_buf_release(&b);
}

static void test_error_table(void **state) {
  (void)state;
  assert_string_equal(mes_rc_code(MES_EUNKNOWN_FIELD), "unknown_field");
  assert_int_equal(mes_rc_status(MES_EGPC_CONFLICT), 409);
  assert_int_equal(mes_rc_status(MES_EBODY_TOO_LARGE), 413);
  assert_string_equal(mes_rc_code(MES_ETS_IN_FUTURE), "ts_in_future");
  assert_string_equal(mes_rc_code(9999), "internal_error");
}

/* A client's long member name, cut to the error's buffers, still gives
 * valid UTF-8 (a cut inside a character made the error reply fail: 503). */
static void test_error_cut_keeps_utf8(void **state) {
  (void)state;
  for (size_t pad = 150; pad < 170; pad++) {
    char text[300];
    memset(text, 'a', pad);
    memcpy(text + pad, "\xc3\xbb\xe2\x82\xac\xf0\x9f\x98\x80", 9); /* û € 😀: 2, 3 and 4 bytes */
    text[pad + 9] = '\0';
    struct mes_err err;
    mes_err_set(&err, MES_EUNKNOWN_FIELD, text, "Field %s%s is unknown.", text, text);
    assert_true(mes_utf8_valid(err.field, strlen(err.field)));
    assert_true(mes_utf8_valid(err.msg, strlen(err.msg)));
    assert_true(strlen(err.field) >= sizeof err.field - 4); /* cut at the character, not emptied */
    assert_int_equal(strncmp(err.field, text, strlen(err.field)), 0);
  }
  struct mes_err whole;
  mes_err_set(&whole, MES_EUNKNOWN_FIELD, "/events/0/\xc3\xbb", NULL);
  assert_string_equal(whole.field, "/events/0/\xc3\xbb");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc3339),   cmocka_unit_test(test_ids),    cmocka_unit_test(test_validator),
      cmocka_unit_test(test_validator_base_ptr),
      cmocka_unit_test(test_ts_future), cmocka_unit_test(test_canonical), cmocka_unit_test(test_buf_cap),
      cmocka_unit_test(test_error_table), cmocka_unit_test(test_error_cut_keeps_utf8), cmocka_unit_test(test_dump_reals), cmocka_unit_test(test_load_parts),
      cmocka_unit_test(test_ungroup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
