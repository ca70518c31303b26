/*
 * Unit tests of the stored decision record's codec (recommend/decrec.c),
 * the one form the recommender writes and GET /v1/recommendations/{id},
 * the export and the audits of what was served read:
 *   - a personal record is sealed (no byte of the answer in clear) and opens
 *     as one object of its two parts, the record's part winning;
 *   - a non-personal record is stored as written and opens the same way;
 *   - once the subject's key is shredded the record reads as gone, a
 *     damaged one as damaged, a non-personal text that is not a record as
 *     a store error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../world.h"

#include "recommend/decrec.h"

#define T0_MS 1795208645000LL

/* A reply as sent, a newline, the record's part (decrec.h). */
static const char RECORD[] = "{\"request_id\":\"r_00000000000000aa\",\"items\":[{\"item\":\"tent-secret\"}],"
                             "\"placement\":\"home\"}\n{\"placement\":\"cart\",\"suppressed_by\":[]}";

static json_t *expected(void) {
  return json_pack("{s:s, s:[{s:s}], s:s, s:[]}", "request_id", "r_00000000000000aa", "items", "item", "tent-secret",
                   "placement", "cart", "suppressed_by");
}

static char *text_copy(void) {
  char *t = malloc(sizeof RECORD);
  assert_non_null(t);
  memcpy(t, RECORD, sizeof RECORD);
  return t;
}

static int64_t a_subject(struct mes_world *w) {
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(w), &w->req, MES_NS_SUBJECT, "alice", 5, true, &s), MES_OK);
  return s.row.id;
}

static void test_personal_sealed_and_opened(void **state) {
  (void)state;
  struct mes_world w;
  mes_world_open(&w, "decrec", NULL, T0_MS, "test");
  int64_t sid = a_subject(&w);
  uint8_t *stored = NULL;
  size_t len = 0;
  assert_int_equal(mes_decrec_seal(w.subjects, sid, text_copy(), sizeof RECORD - 1, &stored, &len), MES_OK);
  assert_true(len > sizeof RECORD - 1);
  for (size_t i = 0; i + 11 <= len; i++) /* nothing of the answer in clear */
    assert_false(memcmp(stored + i, "tent-secret", 11) == 0);
  struct mes_decision_row row = {.rid = 0xaa, .sid = sid, .ts_ms = T0_MS, .doc = stored, .len = len};
  json_t *rec = NULL, *want = expected();
  assert_int_equal(mes_decrec_open(w.subjects, &row, &rec), MES_OK);
  assert_true(json_equal(rec, want));
  json_decref(rec);
  /* damaged: one byte changed */
  stored[len / 2] ^= 1;
  assert_int_equal(mes_decrec_open(w.subjects, &row, &rec), MES_ECRYPTO);
  assert_null(rec);
  stored[len / 2] ^= 1;
  /* shredded: gone for good */
  assert_int_equal(mes_subject_shred(w.subjects, sid), MES_OK);
  assert_int_equal(mes_decrec_open(w.subjects, &row, &rec), MES_ENOT_FOUND);
  assert_null(rec);
  /* and a record cannot be sealed for them any more */
  uint8_t *again = NULL;
  assert_int_equal(mes_decrec_seal(w.subjects, sid, text_copy(), sizeof RECORD - 1, &again, &len), MES_ENOT_FOUND);
  assert_null(again);
  json_decref(want);
  free(stored);
  mes_world_close(&w);
}

static void test_non_personal_as_written(void **state) {
  (void)state;
  struct mes_world w;
  mes_world_open(&w, "decrec-np", NULL, T0_MS, "test");
  uint8_t *stored = NULL;
  size_t len = 0;
  assert_int_equal(mes_decrec_seal(mes_world_subjects(&w), 0, text_copy(), sizeof RECORD - 1, &stored, &len), MES_OK);
  assert_int_equal(len, sizeof RECORD - 1);
  assert_memory_equal(stored, RECORD, len);
  struct mes_decision_row row = {.rid = 0xaa, .sid = 0, .ts_ms = T0_MS, .doc = stored, .len = len};
  json_t *rec = NULL, *want = expected();
  assert_int_equal(mes_decrec_open(w.subjects, &row, &rec), MES_OK);
  assert_true(json_equal(rec, want));
  json_decref(rec);
  /* not a record */
  static const char *const bad[] = {"", "[1]", "{\"a\":1} x", "{\"a\":"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    row.doc = (const uint8_t *)bad[i];
    row.len = strlen(bad[i]);
    assert_int_equal(mes_decrec_open(w.subjects, &row, &rec), MES_ESTORE);
    assert_null(rec);
  }
  json_decref(want);
  free(stored);
  mes_world_close(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_personal_sealed_and_opened),
      cmocka_unit_test(test_non_personal_as_written),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
