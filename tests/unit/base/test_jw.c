/* Unit tests of base/jw: the writer's text is mes_json_dump's for the same
 * value, byte for byte (escapes, invalid UTF-8, reals, integers), and calls
 * out of place fail. fuzz/fuzz_jw.c does the same over random values. */
#include <math.h> /* NAN, INFINITY */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/json.h"
#include "base/jw.h"

/* v (a new reference, taken) dumped as mes_json_dump does, wrapped in an
 * array (a dump's top level must be a container). */
static char *dump_in_array(json_t *v, size_t flags) {
  json_t *a = json_array();
  assert_non_null(a);
  assert_int_equal(json_array_append_new(a, v), 0);
  char *text = mes_json_dumps(a, flags);
  json_decref(a);
  return text;
}

static void test_strings(void **state) {
  (void)state;
  static const struct {
    const char *s;
    size_t len;
  } rows[] = {
      {"", 0},
      {"plain", 5},
      {"\"\\/", 3},
      {"\b\f\n\r\t", 5},
      {"\x01\x1f\x7f", 3},                 /* \u0001 \u001F, DEL as it is */
      {"a\0b", 3},                         /* an embedded NUL: \u0000 */
      {"\xc3\xa9t\xc3\xa9", 6},            /* été */
      {"\xe2\x82\xac", 3},                 /* € */
      {"\xf0\x9f\x98\x80", 4},             /* U+1F600, as it is (no ENSURE_ASCII) */
      {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7}, /* U+FFFF, U+10FFFF */
      {"\xc2\x85", 2},                     /* NEL: a C1 control, not escaped */
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    struct mes_buf b;
    mes_buf_init(&b, 1024);
    struct mes_jw w;
    mes_jw_init(&w, &b);
    mes_jw_array(&w);
    mes_jw_stringn(&w, rows[i].s, rows[i].len);
    mes_jw_array_end(&w);
    assert_int_equal(mes_jw_finish(&w), MES_OK);
    char *want = dump_in_array(json_stringn(rows[i].s, rows[i].len), JSON_COMPACT);
    assert_non_null(want);
    assert_string_equal(b.data, want);
    free(want);
    mes_buf_release(&b);
  }
  /* Every byte below 0x80 on its own. */
  for (int c = 0; c < 0x80; c++) {
    char s[1] = {(char)c};
    struct mes_buf b;
    mes_buf_init(&b, 64);
    struct mes_jw w;
    mes_jw_init(&w, &b);
    mes_jw_array(&w);
    mes_jw_stringn(&w, s, 1);
    mes_jw_array_end(&w);
    assert_int_equal(mes_jw_finish(&w), MES_OK);
    char *want = dump_in_array(json_stringn(s, 1), JSON_COMPACT);
    assert_string_equal(b.data, want);
    free(want);
    mes_buf_release(&b);
  }
}

/* What jansson refuses (json_stringn returns NULL, and a dump of the same
 * bytes fails), the writer refuses, as a value and as a key. */
static void test_invalid_utf8(void **state) {
  (void)state;
  static const char *const bad[] = {
      "\x80",             /* a continuation byte first */
      "a\xbf",            /* ... after ASCII */
      "\xc0\x80",         /* overlong NUL */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\x80",     /* overlong, 3 bytes */
      "\xed\xa0\x80",     /* a surrogate half */
      "\xf0\x80\x80\x80", /* overlong, 4 bytes */
      "\xf4\x90\x80\x80", /* beyond U+10FFFF */
      "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xff",
      "\xc3",             /* cut short */
      "a\xe2\x82",        "\xf0\x9f\x98", "\xc3\x28", /* a lead byte without its continuation */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t len = strlen(bad[i]);
    json_t *j = json_stringn(bad[i], len);
    assert_null(j);
    json_t *nocheck = json_stringn_nocheck(bad[i], len);
    char *dumped = dump_in_array(nocheck, JSON_COMPACT);
    assert_null(dumped);
    struct mes_buf b;
    mes_buf_init(&b, 64);
    struct mes_jw w;
    mes_jw_init(&w, &b);
    mes_jw_array(&w);
    assert_int_equal(mes_jw_stringn(&w, bad[i], len), MES_EBAD_UTF8);
    assert_int_equal(mes_jw_array_end(&w), MES_EBAD_UTF8); /* sticky */
    assert_int_equal(mes_jw_finish(&w), MES_EBAD_UTF8);
    mes_buf_reset(&b);
    mes_jw_init(&w, &b);
    mes_jw_object(&w);
    assert_int_equal(mes_jw_keyn(&w, bad[i], len), MES_EBAD_UTF8);
    mes_buf_release(&b);
  }
}

static void test_reals(void **state) {
  (void)state;
  static const double vals[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.0882, 0.1 + 0.2, 1.0 / 3, 100.0, 1e14, 1e15, 1e16,
                                1e17, 1e20, 1e21, 1e-4, 1e-5, 1.234e-5, 1e100, 1e-100, 1e308, -1e-308,
                                5e-324, 1.7976931348623157e308, 123456789012345678.0, 1234.56789012345678,
                                0.9999, 0.00005, 4503599627370496.5, 9007199254740993.0};
  static const int precs[] = {MES_JW_REAL_PRECISION, 0, 1, 2, 6, 16, 17, 31};
  for (size_t p = 0; p < sizeof precs / sizeof *precs; p++) {
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
      struct mes_buf b;
      mes_buf_init(&b, 256);
      struct mes_jw w;
      mes_jw_init(&w, &b);
      mes_jw_array(&w);
      mes_jw_real(&w, vals[i], precs[p]);
      mes_jw_array_end(&w);
      assert_int_equal(mes_jw_finish(&w), MES_OK);
      char *want = dump_in_array(json_real(vals[i]), JSON_COMPACT | JSON_REAL_PRECISION(precs[p]));
      assert_string_equal(b.data, want);
      free(want);
      mes_buf_release(&b);
    }
  }
  /* The precision the replies use is mes_json_dump's. */
  json_t *a = json_pack("[f]", 0.0882 / 3);
  char *want = mes_json_dump(a);
  struct mes_buf b;
  mes_buf_init(&b, 256);
  struct mes_jw w;
  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  mes_jw_real(&w, 0.0882 / 3, MES_JW_REAL_PRECISION);
  mes_jw_array_end(&w);
  assert_string_equal(b.data, want);
  free(want);
  json_decref(a);
  mes_buf_release(&b);
}

/* Scores, k / 10^4 as the replies round them, written without printf at
 * mes_json_dump's precision: the same text as jansson's, for every k of a
 * score and for far larger and negative ones, and for values near them. */
static void test_scores(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 256);
  for (int64_t k = -30000; k <= 30000; k++) {
    int64_t big = k * 33333333331LL; /* up to about 10^15 */
    double v = (double)k / 10000.0, next;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits++; /* the next double away from zero: not a score */
    memcpy(&next, &bits, sizeof next);
    double vals[] = {v, (double)(k * 3) / 30000.0, next, (double)big / 10000.0};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
      mes_buf_reset(&b);
      struct mes_jw w;
      mes_jw_init(&w, &b);
      mes_jw_array(&w);
      mes_jw_real(&w, vals[i], MES_JW_REAL_PRECISION);
      mes_jw_array_end(&w);
      assert_int_equal(mes_jw_finish(&w), MES_OK);
      char *want = dump_in_array(json_real(vals[i]), JSON_COMPACT | JSON_REAL_PRECISION(MES_JW_REAL_PRECISION));
      assert_string_equal(b.data, want);
      free(want);
    }
  }
  mes_buf_release(&b);
}

static void test_integers(void **state) {
  (void)state;
  static const int64_t vals[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    struct mes_buf b;
    mes_buf_init(&b, 64);
    struct mes_jw w;
    mes_jw_init(&w, &b);
    mes_jw_array(&w);
    mes_jw_integer(&w, vals[i]);
    mes_jw_array_end(&w);
    char *want = dump_in_array(json_integer(vals[i]), JSON_COMPACT);
    assert_string_equal(b.data, want);
    free(want);
    mes_buf_release(&b);
  }
}

/* A document shaped like a reply, and the same through json_pack. */
static void test_document(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 4096);
  mes_buf_puts(&b, "kept:"); /* the writer appends */
  struct mes_jw w;
  mes_jw_init(&w, &b);
  mes_jw_object(&w);
  mes_jw_key(&w, "request_id");
  mes_jw_string(&w, "r_1");
  mes_jw_key(&w, "personalized");
  mes_jw_bool(&w, true);
  mes_jw_key(&w, "items");
  mes_jw_array(&w);
  for (int i = 0; i < 2; i++) {
    mes_jw_object(&w);
    mes_jw_key(&w, "item");
    mes_jw_string(&w, i ? "b\"2" : "a/1");
    mes_jw_key(&w, "score");
    mes_jw_real(&w, i ? 0.5 : 0.25, MES_JW_REAL_PRECISION);
    mes_jw_key(&w, "empty");
    mes_jw_array(&w);
    mes_jw_array_end(&w);
    mes_jw_key(&w, "none");
    mes_jw_object(&w);
    mes_jw_object_end(&w);
    mes_jw_object_end(&w);
  }
  mes_jw_array_end(&w);
  mes_jw_key(&w, "model");
  mes_jw_null(&w);
  mes_jw_keyn(&w, "n\0", 2);
  mes_jw_integer(&w, -7);
  mes_jw_key(&w, "f");
  mes_jw_bool(&w, false);
  mes_jw_object_end(&w);
  assert_int_equal(mes_jw_finish(&w), MES_OK);
  json_t *v = json_pack("{s:s, s:b, s:[{s:s, s:f, s:[], s:{}}, {s:s, s:f, s:[], s:{}}], s:n}", "request_id",
                        "r_1", "personalized", 1, "items", "item", "a/1", "score", 0.25, "empty", "none", "item",
                        "b\"2", "score", 0.5, "empty", "none", "model");
  assert_non_null(v);
  assert_int_equal(json_object_setn_new(v, "n\0", 2, json_integer(-7)), 0);
  assert_int_equal(json_object_set_new(v, "f", json_false()), 0);
  char *want = mes_json_dump(v);
  assert_string_equal(b.data + 5, want);
  free(want);
  json_decref(v);
  mes_buf_release(&b);
}

/* Calls out of place fail with MES_EINTERNAL, and the failure sticks. */
static void test_misuse(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 4096);
  struct mes_jw w;

  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_key(&w, "k"), MES_EINTERNAL); /* a key in an array */

  mes_jw_init(&w, &b);
  mes_jw_object(&w);
  assert_int_equal(mes_jw_integer(&w, 1), MES_EINTERNAL); /* a value without its key */

  mes_jw_init(&w, &b);
  mes_jw_object(&w);
  mes_jw_key(&w, "k");
  assert_int_equal(mes_jw_key(&w, "l"), MES_EINTERNAL); /* two keys */

  mes_jw_init(&w, &b);
  mes_jw_object(&w);
  mes_jw_key(&w, "k");
  assert_int_equal(mes_jw_object_end(&w), MES_EINTERNAL); /* a key without its value */

  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_object_end(&w), MES_EINTERNAL); /* the wrong close */

  mes_jw_init(&w, &b);
  assert_int_equal(mes_jw_array_end(&w), MES_EINTERNAL); /* nothing to close */

  mes_jw_init(&w, &b);
  mes_jw_null(&w);
  assert_int_equal(mes_jw_finish(&w), MES_OK);
  assert_int_equal(mes_jw_null(&w), MES_EINTERNAL); /* a second top-level value */

  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_finish(&w), MES_EINTERNAL); /* left open */
  assert_int_equal(mes_jw_string(&w, NULL), MES_EINTERNAL);

  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_real(&w, NAN, 15), MES_EINTERNAL);
  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_real(&w, INFINITY, 15), MES_EINTERNAL);
  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_real(&w, 1.0, 32), MES_EINTERNAL);

  mes_jw_init(&w, &b);
  for (int d = 0; d < MES_JW_DEPTH_MAX; d++)
    assert_int_equal(mes_jw_array(&w), MES_OK);
  assert_int_equal(mes_jw_array(&w), MES_EINTERNAL);
  assert_int_equal(mes_jw_array_end(&w), MES_EINTERNAL);
  mes_buf_release(&b);
}

/* The buffer's cap: the first append over it fails, and the rest with it. */
static void test_cap(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 16);
  struct mes_jw w;
  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  assert_int_equal(mes_jw_string(&w, "0123456789"), MES_OK);
  assert_int_equal(mes_jw_string(&w, "0123456789"), MES_EBODY_TOO_LARGE);
  assert_int_equal(mes_jw_array_end(&w), MES_EBODY_TOO_LARGE);
  assert_int_equal(mes_jw_finish(&w), MES_EBODY_TOO_LARGE);
  assert_true(b.len <= 16);
  /* A text of exactly the cap fits. */
  mes_buf_reset(&b);
  mes_jw_init(&w, &b);
  mes_jw_array(&w);
  mes_jw_string(&w, "0123456789\n");
  assert_int_equal(mes_jw_array_end(&w), MES_OK);
  assert_int_equal(b.len, 16);
  mes_buf_release(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strings),  cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_reals),
      cmocka_unit_test(test_scores),
      cmocka_unit_test(test_integers), cmocka_unit_test(test_document),     cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
