/*
 * Torture of ingestion: POST /v1/events as its handler runs it (the body
 * parsed and checked against mes_ingest_body_fields, then
 * mes_ingest_batch), on a batch that takes every path of the gate: stored,
 * with and without event_id, properties dropped, a search with its query,
 * no consent (denied, unknown subject), third party, expired, and a
 * malformed event (after the first run the event with an event_id is a
 * retry: acknowledged, not stored again). Runs start with empty caches, as
 * after a restart, or with the caches (subject hints, keys) the earlier
 * runs left. A refused run must keep nothing: the event count is checked
 * after it.
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
#include "ingest/ingest.h"
#include "store/store.h"

#define DAY_MS 86400000LL

struct fixture {
  struct mes_torture_shop shop;
  char body[4096];
  bool cold;         /* empty caches before each run */
  int64_t n_events; /* the store's count before the run */
  char left[96];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_torture_shop_open(&f->shop, "torture-ingest");
  const long long t0 = MES_TORTURE_T0_MS;
  snprintf(f->body, sizeof f->body,
           "{\"events\": ["
           "{\"subject\": \"alice\", \"type\": \"view\", \"item\": \"lantern\", \"ts\": %lld,"
           " \"channel\": \"app\", \"context\": {\"authenticated\": true, \"placement\": \"home\"}},"
           "{\"subject\": \"alice\", \"type\": \"purchase\", \"item\": \"lantern\", \"ts\": %lld,"
           " \"event_id\": \"order-77\", \"properties\": {\"price\": 19.5, \"currency\": \"EUR\", \"colour\": \"red\"}},"
           "{\"subject\": \"shopper-3\", \"type\": \"search\", \"ts\": \"2026-11-20T20:00:00Z\","
           " \"query\": \"warm tent\"},"
           "{\"subject\": \"shopper-4\", \"type\": \"add_to_cart\", \"item\": \"mug\", \"source\": \"zero_party\"},"
           "{\"subject\": \"bob\", \"type\": \"view\", \"item\": \"tent-2p\"},"
           "{\"subject\": \"dave\", \"type\": \"view\", \"item\": \"tent-2p\"},"
           "{\"subject\": \"alice\", \"type\": \"view\", \"item\": \"tent-3p\", \"source\": \"third_party\"},"
           "{\"subject\": \"shopper-5\", \"type\": \"view\", \"item\": \"tent-3p\", \"ts\": %lld},"
           "{\"subject\": \"shopper-6\", \"type\": \"teleport\", \"item\": \"tent-3p\"},"
           "{\"subject\": \"carol\", \"type\": \"view\", \"item\": \"kettle\", \"channel\": \"ads\"}"
           "]}",
           t0 - 5 * 60000LL, t0 - 4 * 60000LL, t0 - 400 * DAY_MS);
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
  f->n_events = mes_store_event_count(f->shop.store);
}

static int run(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  json_t *body = NULL;
  int rc = mes_json_parse_object(f->body, strlen(f->body), &body, err);
  if (!rc)
    rc = mes_json_check(body, mes_ingest_body_fields, mes_ingest_n_body_fields, "", err);
  if (!rc)
    rc = mes_ingest_batch(f->shop.ingester, f->shop.req, body, out, err);
  json_decref(body);
  return rc;
}

static const char *after(void *ud, int rc) {
  struct fixture *f = ud;
  int64_t n = mes_store_event_count(f->shop.store);
  if (rc != MES_OK && n != f->n_events) {
    snprintf(f->left, sizeof f->left, "the refused ingestion kept %lld events", (long long)(n - f->n_events));
    return f->left;
  }
  return NULL;
}

static void test_ingest_cold(void **state) {
  struct fixture *f = *state;
  f->cold = true;
  const struct mes_torture_op op = {
      .name = "ingest, cold caches", .ud = f, .run = run, .before = before, .after = after};
  mes_torture_run(&op);
}

static void test_ingest_warm(void **state) {
  struct fixture *f = *state;
  f->cold = false;
  const struct mes_torture_op op = {
      .name = "ingest, warm caches", .ud = f, .run = run, .before = before, .after = after};
  mes_torture_run(&op);
}

int main(void) {
  mes_torture_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ingest_cold, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ingest_warm, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
