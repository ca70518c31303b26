/*
 * Torture of serving: POST /v1/recommendations as its handler runs it (the
 * body parsed and checked against mes_recommend_fields, then
 * mes_recommend_text with the trained model), for a shopper who grants
 * personalization (history, preferences, dismissals, a sensitive item,
 * impressions, buy again, every guardrail) with empty caches and with warm ones, for
 * one whose history holds sensitive items she never declared (by email),
 * and for one who said no, on an item page. Between runs the recommender's
 * queue is written and the impressions it wrote are purged, so that every
 * run meets the same frequency cap.
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

#include "base/alloc.h"
#include "base/json.h"
#include "recommend/recommend.h"
#include "store/store.h"

struct fixture {
  struct mes_torture_shop shop;
  const char *body;
  const char *subject; /* whose impressions are purged after each run */
  bool cold;           /* empty caches before each run */
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_torture_shop_open(&f->shop, "torture-rec");
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
  if (f->cold)
    mes_torture_shop_fresh_caches(&f->shop);
}

static int run(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  json_t *body = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = mes_json_parse_object(f->body, strlen(f->body), &body, err);
  if (!rc)
    rc = mes_json_check(body, mes_recommend_fields, mes_recommend_n_fields, "", err);
  if (!rc)
    rc = mes_recommend_text(f->shop.rec, f->shop.req, f->shop.model, body, MES_LANG_ES, &text, &len, NULL, err);
  json_decref(body);
  mes_alloc_disarm(); /* the reply is sent as it is; it is read back here only to compare it */
  if (rc)
    return rc;
  *out = json_loadb(text, len, 0, NULL);
  if (!*out) /* differs from every reply: reported with the allocation refused */
    *out = json_pack("{s:s%}", "reply_that_is_not_json", text, len);
  free(text);
  return MES_OK;
}

static const char *after(void *ud, int rc) {
  struct fixture *f = ud;
  mes_recommender_flush(f->shop.rec);
  int64_t n = 0;
  if (f->subject)
    assert_int_equal(mes_store_impression_purge(f->shop.store, mes_torture_shop_sid(&f->shop, f->subject), &n), MES_OK);
  return NULL;
}

static const char *const VOLATILE[] = {"request_id", NULL};

static void torture(struct fixture *f, const char *name) {
  const struct mes_torture_op op = {
      .name = name, .ud = f, .run = run, .before = before, .after = after, .volatile_keys = VOLATILE};
  mes_torture_run(&op);
}

static void test_personal_cold(void **state) {
  struct fixture *f = *state;
  f->body = "{\"subject\": \"alice\", \"count\": 6, \"channel\": \"web\", \"placement\": \"home\"}";
  f->subject = "alice";
  f->cold = true;
  torture(f, "recommend personal, cold caches");
  /* The run went through buy again: her coffee beans come back as such. */
  json_t *out = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(run(f, &out, &err), MES_OK);
  size_t i;
  json_t *it;
  bool again = false;
  json_array_foreach(json_object_get(out, "items"), i, it) {
    again |= strcmp(mes_json_str(it, "item", ""), "coffee-beans") == 0 &&
             strcmp(mes_json_str(json_object_get(it, "reason"), "code", ""), "buy_again") == 0;
  }
  assert_true(again);
  json_decref(out);
  after(f, MES_OK);
}

static void test_personal_warm(void **state) {
  struct fixture *f = *state;
  f->body = "{\"subject\": \"alice\", \"count\": 6, \"channel\": \"app\", \"exclude\": [\"lantern\"],"
            " \"categories\": [\"camping\", \"kitchen\"]}";
  f->subject = "alice";
  f->cold = false;
  torture(f, "recommend personal, warm caches");
}

static void test_sensitive_evidence(void **state) {
  struct fixture *f = *state;
  f->body = "{\"subject\": \"dana\", \"count\": 5, \"channel\": \"email\"}";
  f->subject = "dana";
  f->cold = true;
  torture(f, "recommend from sensitive evidence");
}

static void test_not_personal(void **state) {
  struct fixture *f = *state;
  f->body = "{\"subject\": \"bob\", \"count\": 4, \"context\": {\"item\": \"tent-2p\"}}";
  f->subject = NULL;
  f->cold = true;
  torture(f, "recommend without consent");
}

int main(void) {
  mes_torture_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_personal_cold, setup, teardown),
      cmocka_unit_test_setup_teardown(test_personal_warm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sensitive_evidence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_personal, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
