/*
 * Unit tests of import: the line readers (tables of JSON Lines and CSV lines,
 * each with its outcome) and the stream importer over a real store (counts,
 * bad line numbers, the consent gate, file order).
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
#include "base/mtime.h"
#include "import/import.h"
#include "store/store.h"

struct fixture {
  struct mes_world w;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "import", NULL, mes_now_ms(), "import");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_world_close(&f->w);
  free(f);
  return 0;
}

/* ---------------------------------------------------------------- line readers */

static void test_parse_jsonl(void **state) {
  (void)state;
  static const struct {
    const char *line;
    int rc;
    int kind;
    const char *field;
  } rows[] = {
      {"{\"kind\":\"item\",\"id\":\"a\",\"title\":\"A\"}", MES_OK, MES_IMPORT_ITEM, ""},
      {"{\"kind\":\"event\",\"subject\":\"u\",\"type\":\"view\"}", MES_OK, MES_IMPORT_EVENT, ""},
      {"{\"kind\":\"consent\",\"subject\":\"u\",\"purpose\":\"p\",\"status\":\"granted\",\"ts\":5}", MES_OK,
       MES_IMPORT_CONSENT, ""},
      {"{\"kind\":\"item\",\"title\":\"A\"}", MES_EMISSING_FIELD, 0, "/id"},
      {"{\"kind\":\"item\",\"id\":7}", MES_EWRONG_TYPE, 0, "/id"},
      {"{\"kind\":\"consent\",\"subject\":\"u\",\"status\":\"granted\"}", MES_EMISSING_FIELD, 0, "/purpose"},
      {"{\"kind\":\"consent\",\"subject\":\"u\",\"purpose\":\"p\",\"status\":\"granted\",\"x\":1}",
       MES_EUNKNOWN_FIELD, 0, "/x"},
      {"{\"kind\":\"consent\",\"subject\":\"u\",\"purpose\":\"p\",\"status\":\"granted\",\"ts\":true}",
       MES_EWRONG_TYPE, 0, "/ts"},
      {"{\"subject\":\"u\"}", MES_EMISSING_FIELD, 0, "/kind"},
      {"{\"kind\":\"film\"}", MES_EINVALID_VALUE, 0, "/kind"},
      {"{\"kind\":3}", MES_EINVALID_VALUE, 0, "/kind"},
      {"[1,2]", MES_EWRONG_TYPE, 0, ""},
      {"{\"kind\":\"item\"", MES_EBAD_JSON, 0, ""},
      {"{\"kind\":\"item\",\"kind\":\"event\"}", MES_EBAD_JSON, 0, ""},
      {"{\"kind\":\"\xff\"}", MES_EBAD_UTF8, 0, ""},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    struct mes_err err;
    mes_err_clear(&err);
    enum mes_import_kind kind = MES_IMPORT_EVENT;
    json_t *out = NULL;
    int rc = mes_import_parse_jsonl(rows[i].line, strlen(rows[i].line), &kind, &out, &err);
    if (rc != rows[i].rc || strcmp(err.field, rows[i].field) != 0)
      fail_msg("row %zu: got %s at '%s', want %s at '%s'", i, mes_rc_code(rc), err.field, mes_rc_code(rows[i].rc),
               rows[i].field);
    if (rc == MES_OK) {
      assert_int_equal(kind, rows[i].kind);
      assert_null(json_object_get(out, "kind"));
    } else {
      assert_null(out);
    }
    json_decref(out);
  }
}

static void test_parse_csv(void **state) {
  (void)state;
  struct mes_import_csv h;
  struct mes_err err;
  mes_err_clear(&err);
  static const char *const bad_headers[] = {"who,type", "subject,item", "subject,type,type", "type,item",
                                            "subject,type,\"item"};
  for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++)
    if (mes_import_parse_csv_header(bad_headers[i], strlen(bad_headers[i]), &h, &err) == MES_OK)
      fail_msg("header '%s' was accepted", bad_headers[i]);
  const char *hdr = "subject, type ,item,ts,channel,source,event_id";
  assert_int_equal(mes_import_parse_csv_header(hdr, strlen(hdr), &h, &err), MES_OK);
  assert_int_equal(h.n_cols, 7);

  static const struct {
    const char *line;
    int rc;
    const char *want; /* canonical JSON of the event */
  } rows[] = {
      {"u1,view,tent,1714557600000,web,first_party,e1", MES_OK,
       "{\"channel\":\"web\",\"event_id\":\"e1\",\"item\":\"tent\",\"source\":\"first_party\",\"subject\":\"u1\","
       "\"ts\":1714557600000,\"type\":\"view\"}"},
      {"u1,search,,2024-05-01T10:00:00Z,,,", MES_OK,
       "{\"subject\":\"u1\",\"ts\":\"2024-05-01T10:00:00Z\",\"type\":\"search\"}"},
      {"\"u,1\",view,\"a \"\"big\"\" tent\",,,,", MES_OK,
       "{\"item\":\"a \\\"big\\\" tent\",\"subject\":\"u,1\",\"type\":\"view\"}"},
      {"u1,view,tent", MES_EINVALID_VALUE, NULL},
      {"u1,view,tent,,,,,extra", MES_EINVALID_VALUE, NULL},
      {"u1,view,\"tent,,,,", MES_EINVALID_VALUE, NULL},
      {"u1,view,\"tent\"x,,,,", MES_EINVALID_VALUE, NULL},
      {"u1,view,te\"nt,,,,", MES_EINVALID_VALUE, NULL},
      {"u1,view,\xff,,,,", MES_EBAD_UTF8, NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    json_t *out = NULL;
    mes_err_clear(&err);
    int rc = mes_import_parse_csv(&h, rows[i].line, strlen(rows[i].line), &out, &err);
    if (rc != rows[i].rc)
      fail_msg("row %zu: got %s, want %s", i, mes_rc_code(rc), mes_rc_code(rows[i].rc));
    if (rc == MES_OK) {
      char *got = mes_json_canonical(out);
      if (strcmp(got, rows[i].want) != 0)
        fail_msg("row %zu: got %s, want %s", i, got, rows[i].want);
      free(got);
    }
    json_decref(out);
  }
}

/* ---------------------------------------------------------------- the importer */

struct reported {
  int64_t lines[16];
  int codes[16];
  int n;
};

static void on_bad(void *ud, int64_t line_no, const struct mes_err *why) {
  struct reported *r = ud;
  if (r->n < 16) {
    r->lines[r->n] = line_no;
    r->codes[r->n] = why->rc;
    r->n++;
  }
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int import_text(struct fixture *f, const char *text, bool csv, struct mes_import_counts *n,
                       struct reported *r) {
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  assert_non_null(in);
  memset(r, 0, sizeof *r);
  struct mes_import_opts o = {.csv = csv, .bad_line = on_bad, .ud = r};
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_import_stream(mes_world_catalog(&f->w), mes_world_ledger(&f->w), mes_world_ingester(&f->w), &f->w.req,
                             in, &o, n, &err);
  fclose(in);
  qsort(r->lines, (size_t)r->n, sizeof r->lines[0], cmp_i64);
  return rc;
}

static const char *const JSONL =
    "{\"kind\":\"item\",\"id\":\"tent\",\"title\":\"Tent\",\"categories\":[\"camping\"]}\n"
    "{\"kind\":\"item\",\"id\":\"crib\",\"title\":\"Crib\",\"categories\":[\"baby\"]}\n"
    "{\"kind\":\"item\",\"id\":\"bad\",\"title\":\"X\",\"categories\":[\"no\\u0001pe\"]}\n"
    "{\"kind\":\"event\",\"subject\":\"u1\",\"type\":\"view\",\"item\":\"tent\"}\n"
    "{\"kind\":\"consent\",\"subject\":\"u1\",\"purpose\":\"personalization\",\"status\":\"granted\","
    "\"ts\":\"2025-01-01T00:00:00Z\"}\n"
    "{\"kind\":\"event\",\"subject\":\"u1\",\"type\":\"view\",\"item\":\"tent\",\"event_id\":\"e-1\"}\n"
    "{\"kind\":\"event\",\"subject\":\"u1\",\"type\":\"view\",\"item\":\"tent\"}\n"
    "{\"kind\":\"event\",\"subject\":\"u1\",\"type\":\"purchase\",\"item\":\"crib\"}\n"
    "\n"
    "{\"kind\":\"event\",\"subject\":\"u2\",\"type\":\"view\",\"item\":\"tent\"}\n"
    "garbage\r\n"
    "{\"kind\":\"event\",\"subject\":\"u1\",\"type\":\"nope\",\"item\":\"tent\"}\n"
    "{\"kind\":\"consent\",\"subject\":\"u1\",\"purpose\":\"nope\",\"status\":\"granted\"}";

static void test_import_jsonl(void **state) {
  struct fixture *f = *state;
  struct mes_import_counts n;
  struct reported r;
  assert_int_equal(import_text(f, JSONL, false, &n, &r), MES_OK);
  assert_int_equal(n.lines, 13);
  assert_int_equal(n.items, 2);
  assert_int_equal(n.consents, 1);
  assert_int_equal(n.events, 5); /* line 12 has an undeclared type: an error, not accepted */
  assert_int_equal(n.events_stored, 3);
  assert_int_equal(n.events_not_stored, 2);
  assert_int_equal(n.no_consent, 2);
  assert_int_equal(n.bad_lines, 4);
  assert_int_equal(r.n, 4);
  static const int64_t want[] = {3, 11, 12, 13};
  for (int i = 0; i < 4; i++)
    assert_int_equal(r.lines[i], want[i]);
  assert_int_equal(mes_store_item_count(f->w.store), 2);
  assert_int_equal(mes_store_event_count(f->w.store), 3);
}

static void test_import_csv(void **state) {
  struct fixture *f = *state;
  struct mes_import_counts n;
  struct reported r;
  assert_int_equal(import_text(f,
                               "{\"kind\":\"consent\",\"subject\":\"u1\",\"purpose\":\"personalization\","
                               "\"status\":\"granted\"}\n",
                               false, &n, &r),
                   MES_OK);
  assert_int_equal(import_text(f, "subject,type,item\nu1,view,tent\nu1,view\nu9,view,tent\nu1,purchase,crib\n", true,
                               &n, &r),
                   MES_OK);
  assert_int_equal(n.events_stored, 2);
  assert_int_equal(n.no_consent, 1);
  assert_int_equal(n.bad_lines, 1);
  assert_int_equal(r.lines[0], 3);
  assert_int_equal(import_text(f, "who,what\na,b\n", true, &n, &r), MES_EINVALID_VALUE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_jsonl),
      cmocka_unit_test(test_parse_csv),
      cmocka_unit_test_setup_teardown(test_import_jsonl, setup, teardown),
      cmocka_unit_test_setup_teardown(test_import_csv, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
