/*
 * Torture of the data-subject export: GET /v1/subjects/{s}/export as its
 * handler runs it (the subject resolved, then mes_rights_export), for a
 * shopper with events, two consents, preferences, a decision record and
 * its impressions. Each run starts with empty caches. The export reads
 * only, so every run must give the same document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "torture.h"

#include "recommend/recommend.h"
#include "rights/rights.h"

struct fixture {
  struct mes_torture_shop shop;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_torture_shop_open(&f->shop, "torture-export");
  /* A recommendation, so that the export holds a decision and impressions. */
  json_t *body = json_pack("{s:s, s:i}", "subject", "alice", "count", 3), *out = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_recommend(f->shop.rec, f->shop.req, f->shop.model, body, MES_LANG_EN, &out, NULL, &err), MES_OK);
  json_decref(body);
  json_decref(out);
  mes_recommender_flush(f->shop.rec);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_torture_shop_close(&f->shop);
  free(f);
  return 0;
}

static void before(void *ud) {
  struct fixture *f = ud;
  mes_torture_shop_fresh_caches(&f->shop);
}

static int run(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  struct mes_subject s;
  memset(&s, 0, sizeof s);
  int rc = mes_subject_resolve(f->shop.subjects, f->shop.req, MES_NS_SUBJECT, "alice", 5, false, &s);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return mes_rights_export(f->shop.rights, f->shop.req, "alice", 5, &s, MES_LANG_PL, out, err);
}

static void test_export(void **state) {
  struct fixture *f = *state;
  const struct mes_torture_op op = {.name = "export", .ud = f, .run = run, .before = before};
  mes_torture_run(&op);
}

int main(void) {
  mes_torture_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_export, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
