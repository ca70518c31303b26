/*
 * Unit tests of the access log's retention through the engine, as a server
 * runs it: reads made a year and more ago (calls with their own clock) are
 * gone from the person's log and from their export after the retention
 * sweep (mes_engine_sweep, which the background thread runs every minute),
 * the recent ones stay, and the chains still verify (what `mesura
 * verify-log` reports), after a restart too.
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

#include "base/mtime.h"
#include "engine/engine.h"

#include "../engine_dir.h"

#define DAY_MS 86400000LL

struct fixture {
  char dir[64];
  struct mes_engine *e;
};

static void open_engine(struct fixture *f) {
  char data[96];
  snprintf(data, sizeof data, "%s/data", f->dir);
  mes_test_engine_open(data, &f->e);
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char data[96];
  mes_test_dir_make(f->dir, data, "accret"); /* the example policy: rights.access_log_retention_days 365 */
  open_engine(f);
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

static void grant(struct fixture *f, const char *subject, int64_t at_ms) {
  struct mes_call call = {.actor = "shop", .now_ms = at_ms};
  struct mes_body b = {.text = "{\"status\": \"granted\"}", .len = 21};
  json_t *receipt = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_consent_put(f->e, &call, subject, strlen(subject), "personalization", 15, &b, &receipt, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(receipt);
}

/* A read of the profile, or of the export (its document dropped), at at_ms by `actor`. */
static void read_profile(struct fixture *f, const char *subject, const char *actor, int64_t at_ms) {
  struct mes_call call = {.actor = actor, .now_ms = at_ms};
  json_t *out = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_subject_get(f->e, &call, subject, strlen(subject), &out, &err))
    fail_msg("profile: %s", mes_err_text(&err));
  json_decref(out);
}

static json_t *export_at(struct fixture *f, const char *subject, int64_t at_ms) {
  struct mes_call call = {.actor = "support", .now_ms = at_ms};
  json_t *out = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_export(f->e, &call, subject, strlen(subject), &out, &err))
    fail_msg("export: %s", mes_err_text(&err));
  return out;
}

/* "reader:action,..." of an array of log entries. */
static void describe(const json_t *entries, char *out, size_t cap) {
  out[0] = '\0';
  for (size_t i = 0; i < json_array_size(entries); i++) {
    const json_t *e = json_array_get(entries, i);
    snprintf(out + strlen(out), cap - strlen(out), "%s%s:%s", i ? "," : "",
             json_string_value(json_object_get(e, "reader")), json_string_value(json_object_get(e, "action")));
  }
}

static void log_of(struct fixture *f, const char *subject, char *out, size_t cap) {
  struct mes_call call = {.actor = "support"};
  json_t *doc = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_access_log(f->e, &call, subject, strlen(subject), &doc, &err))
    fail_msg("access log: %s", mes_err_text(&err));
  describe(json_object_get(doc, "entries"), out, cap);
  json_decref(doc);
}

static void assert_verifies(struct fixture *f, int64_t entries) {
  struct mes_access_verdict v;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_engine_access_verify(f->e, &v, &err), MES_OK);
  if (!v.intact)
    fail_msg("broken at #%lld/%lld: %s", (long long)v.subject, (long long)v.entry, v.problem);
  assert_int_equal(v.n_entries, entries);
}

static void test_sweep_drops_old_reads_and_keeps_the_chain(void **state) {
  struct fixture *f = *state;
  int64_t now = mes_now_ms();
  int64_t old = now - 400 * DAY_MS, recent = now - 10 * DAY_MS;
  grant(f, "ana", old - DAY_MS);
  grant(f, "ben", old - DAY_MS);
  read_profile(f, "ana", "shop", old);
  json_decref(export_at(f, "ana", old + 1000));
  read_profile(f, "ana", "crm", recent);
  read_profile(f, "ben", "shop", old);
  char got[256];
  log_of(f, "ana", got, sizeof got);
  assert_string_equal(got, "shop:profile,support:export,crm:profile");
  assert_verifies(f, 4);

  mes_engine_sweep(f->e, 0); /* the wall clock, as the background thread runs it */
  log_of(f, "ana", got, sizeof got);
  assert_string_equal(got, "crm:profile");
  log_of(f, "ben", got, sizeof got);
  assert_string_equal(got, "");
  assert_verifies(f, 1);

  /* The export holds the log as kept, its own read included. */
  json_t *doc = export_at(f, "ana", now);
  describe(json_object_get(doc, "access_log"), got, sizeof got);
  json_decref(doc);
  assert_string_equal(got, "crm:profile,support:export");

  /* After a restart the heads still vouch for the kept chains, and ben's grows from where it was. */
  mes_engine_close(f->e);
  open_engine(f);
  assert_verifies(f, 2);
  read_profile(f, "ben", "shop", now);
  log_of(f, "ben", got, sizeof got);
  assert_string_equal(got, "shop:profile");
  assert_verifies(f, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sweep_drops_old_reads_and_keeps_the_chain, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
