/*
 * Torture of the console's reads as their handlers run them, through the
 * engine: GET /v1/admin/overview (consents per purpose and day from the
 * ledger, the live model, the policy's text), GET /v1/audits (the latest
 * audits with what they flagged) and GET /v1/admin/keys. The engine holds
 * consents granted and withdrawn today, two stored audits (one with a
 * flagged proxy) and three keys, one revoked. Each reads only, so every
 * run must give the same document.
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

#include "torture.h"

#include "base/mtime.h"
#include "engine/engine_int.h"
#include "store/store.h"

#include "../unit/engine_dir.h"

struct fixture {
  char dir[64];
  struct mes_engine *e;
  struct mes_principal who;
  struct mes_call call;
};

static void consent(struct mes_engine *e, const char *subject, const char *purpose, const char *status) {
  char body[64];
  struct mes_err err;
  mes_err_clear(&err);
  json_t *receipt = NULL;
  int n = snprintf(body, sizeof body, "{\"status\": \"%s\"}", status);
  struct mes_body b = {.text = body, .len = (size_t)n};
  if (mes_engine_consent_put(e, NULL, subject, strlen(subject), purpose, strlen(purpose), &b, &receipt, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(receipt);
}

static void audit(struct mes_engine *e, const char *doc) {
  int64_t id;
  assert_int_equal(mes_store_audit_put(e->store, mes_now_ms(), doc, &id), MES_OK);
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char data[96];
  mes_test_dir_make(f->dir, data, "console");
  mes_test_engine_open(data, &f->e);
  struct mes_err err;
  mes_err_clear(&err);
  consent(f->e, "ana", "personalization", "granted");
  consent(f->e, "bo", "personalization", "granted");
  consent(f->e, "bo", "personalization", "denied");
  char secret[64];
  const char *names[] = {"console", "shop", "old"};
  for (int i = 0; i < 3; i++)
    if (mes_engine_key_create(f->e, names[i], i ? MES_SCOPE_INGEST | MES_SCOPE_CONSENT : MES_SCOPE_ADMIN, secret,
                              &err))
      fail_msg("key: %s", mes_err_text(&err));
  if (mes_engine_key_revoke(f->e, "old", &err))
    fail_msg("revoke: %s", mes_err_text(&err));
  audit(f->e, "{\"status\": \"done\", \"attributes\": [\"ethnicity\"], \"placement\": \"home\","
              " \"population\": {\"audited\": 12}, \"flags\": {\"disparities\": 1, \"proxies\": 1},"
              " \"disparities\": [{\"attribute\": \"ethnicity\", \"measure\": \"exposure:camping\", \"ratio\": 0.5,"
              " \"flagged\": true}, {\"attribute\": \"ethnicity\", \"measure\": \"sensitive_items\", \"ratio\": 0.9,"
              " \"flagged\": false}],"
              " \"proxies\": [{\"attribute\": \"postal_code\", \"protected\": \"ethnicity\", \"cramers_v\": 1.0,"
              " \"flagged\": true}]}");
  audit(f->e, "{\"status\": \"running\", \"attributes\": [\"gender\"], \"population\": {\"audited\": 3000}}");
  snprintf(f->who.name, sizeof f->who.name, "console");
  f->who.scopes = MES_SCOPE_ADMIN;
  f->call.who = &f->who;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_engine_close(f->e);
  mes_test_dir_remove(f->dir);
  free(f);
  return 0;
}

static int overview(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  return mes_engine_admin_overview(f->e, &f->call, "7", out, err);
}

static int audits(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  return mes_engine_audit_list(f->e, &f->call, NULL, out, err);
}

static int keys(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  return mes_engine_admin_keys(f->e, &f->call, out, err);
}

static void test_overview(void **state) {
  static const char *const volatile_keys[] = {"generated_at", NULL};
  const struct mes_torture_op op = {.name = "overview", .ud = *state, .run = overview, .volatile_keys = volatile_keys};
  mes_torture_run(&op);
  /* And what it says: today's grants and the withdrawal, under their purpose. */
  struct fixture *f = *state;
  json_t *out = NULL;
  assert_int_equal(overview(f, &out, NULL), MES_OK);
  const json_t *p = NULL, *row;
  size_t i;
  json_array_foreach(json_object_get(json_object_get(out, "consents"), "purposes"), i, row) {
    if (strcmp(json_string_value(json_object_get(row, "purpose")), "personalization") == 0)
      p = row;
  }
  assert_non_null(p);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(p, "granted"), 6)), 2);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(p, "withdrawn"), 6)), 1);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(p, "granted"), 5)), 0);
  json_decref(out);
}

static void test_audits(void **state) {
  const struct mes_torture_op op = {.name = "audits", .ud = *state, .run = audits};
  mes_torture_run(&op);
  struct fixture *f = *state;
  json_t *out = NULL;
  assert_int_equal(audits(f, &out, NULL), MES_OK);
  const json_t *list = json_object_get(out, "audits");
  assert_int_equal(json_array_size(list), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "status")), "running");
  const json_t *flagged = json_object_get(json_array_get(list, 1), "flagged");
  assert_int_equal(json_array_size(flagged), 2); /* the flagged disparity and the proxy, not the other */
  assert_string_equal(json_string_value(json_object_get(json_array_get(flagged, 1), "kind")), "proxy");
  json_decref(out);
}

static void test_keys(void **state) {
  const struct mes_torture_op op = {.name = "keys", .ud = *state, .run = keys};
  mes_torture_run(&op);
  struct fixture *f = *state;
  json_t *out = NULL;
  assert_int_equal(keys(f, &out, NULL), MES_OK);
  assert_int_equal(json_array_size(json_object_get(out, "keys")), 3);
  json_decref(out);
}

int main(void) {
  mes_torture_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_overview, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
