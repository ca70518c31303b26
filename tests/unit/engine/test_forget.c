/*
 * Unit tests of forgetting a subject (mes_engine_forget_subject): one engine
 * call asks every owner that keeps something of the person in memory to let
 * it go, so that no cache answers for them afterwards. Shown with caches made
 * stale on purpose: the person's key is deleted from the keystore behind the
 * registry's back, so that whatever still answers after that comes from
 * memory. Before the call the key cache, the history cache and the row hints
 * answer for ann; after it each goes to the store (and finds the key gone),
 * her dashboard token is unknown, and bob, who was not forgotten, is still
 * answered from memory.
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
#include "store/store.h"
#include "subject/subjmap.h"

#include "../engine_dir.h"

struct fixture {
  char dir[64];
  struct mes_engine *e;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char data[96];
  mes_test_dir_make(f->dir, data, "forget");
  mes_test_engine_open(data, &f->e);
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

/* subject grants personalization and views two items, through the verbs. */
static void shopper(struct fixture *f, const char *subject) {
  struct mes_call call = {0};
  struct mes_err err;
  mes_err_clear(&err);
  const char grant[] = "{\"status\": \"granted\"}";
  struct mes_body body = {.text = grant, .len = strlen(grant)};
  json_t *out = NULL;
  if (mes_engine_consent_put(f->e, &call, subject, strlen(subject), "personalization", 15, &body, &out, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(out);
  char events[256];
  snprintf(events, sizeof events,
           "{\"events\": [{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"tent\"},"
           "{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"stove\"}]}",
           subject, subject);
  body = (struct mes_body){.text = events, .len = strlen(events)};
  struct mes_ingest_outcome oc;
  if (mes_engine_events_ingest(f->e, &call, &body, true, &out, &oc, &err))
    fail_msg("ingest: %s", mes_err_text(&err));
  json_decref(out);
  assert_int_equal(oc.stored, 2);
}

static int count_cb(void *ud, const struct mes_evrec *ev) {
  (void)ev;
  (*(int *)ud)++;
  return 0;
}

/* subject's history as serving reads it: the code, *n the events. */
static int history(struct fixture *f, int64_t sid, int *n) {
  struct mes_req req;
  mes_engine_req(f->e, &req, "test", false);
  struct mes_err err;
  mes_err_clear(&err);
  *n = 0;
  int rc = mes_ingest_history(mes_engine_ingester(f->e), &req, sid, count_cb, n, &err);
  mes_engine_req_done(f->e, &req);
  return rc;
}

static struct mes_histcache_stats cache_stats(struct fixture *f) {
  struct mes_histcache_stats st;
  mes_ingester_cache_stats(mes_engine_ingester(f->e), &st);
  return st;
}

/* Resolves subject through the registry's hints: *cached says whether the
 * row came from memory. */
static struct mes_subject hinted(struct fixture *f, const char *subject, bool *cached) {
  struct mes_subject s;
  assert_int_equal(
      mes_subject_resolve_hint(mes_engine_subjects(f->e), MES_NS_SUBJECT, subject, strlen(subject), &s, cached),
      MES_OK);
  return s;
}

static void test_forget_subject(void **state) {
  struct fixture *f = *state;
  struct mes_subjects *sj = mes_engine_subjects(f->e);
  shopper(f, "ann");
  shopper(f, "bob");
  bool cached = false;
  struct mes_subject ann = hinted(f, "ann", &cached);
  assert_true(cached); /* ingestion kept her row */
  struct mes_subject bob = hinted(f, "bob", &cached);
  assert_true(cached);

  /* Both histories read once (kept), then answered from memory. */
  int n = 0;
  assert_int_equal(history(f, ann.row.id, &n), MES_OK);
  assert_int_equal(n, 2);
  assert_int_equal(history(f, bob.row.id, &n), MES_OK);
  struct mes_histcache_stats st0 = cache_stats(f);
  assert_int_equal(history(f, ann.row.id, &n), MES_OK);
  assert_int_equal(n, 2);
  struct mes_histcache_stats st1 = cache_stats(f);
  assert_int_equal(st1.hits, st0.hits + 1);

  /* Her dashboard token works; her key and bob's are in the key cache. */
  char token[64];
  int64_t expires_ms;
  assert_int_equal(mes_engine_subject_token(f->e, ann.row.id, MES_TOKEN_DASHBOARD, 60, token, &expires_ms, NULL), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, token, strlen(token), &who), MES_OK);
  uint8_t key[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(sj, ann.row.id, key), MES_OK);
  assert_int_equal(mes_subject_key(sj, bob.row.id, key), MES_OK);

  /* Both keys leave the keystore behind the registry's back: what still
   * answers now answers from memory. */
  struct mes_store *st = mes_engine_store(f->e);
  assert_int_equal(mes_store_key_delete(st, ann.row.id), MES_OK);
  assert_int_equal(mes_store_key_delete(st, bob.row.id), MES_OK);
  int64_t n_revoked = 0; /* and her token, which the auth cache still knows as valid */
  assert_int_equal(mes_store_token_revoke_subject(st, ann.row.id, mes_now_ms(), &n_revoked), MES_OK);
  assert_int_equal(n_revoked, 1);
  assert_int_equal(mes_subject_key(sj, ann.row.id, key), MES_OK); /* the key cache */
  assert_int_equal(history(f, ann.row.id, &n), MES_OK);           /* the history cache */
  assert_int_equal(n, 2);

  mes_engine_forget_subject(f->e, &ann);

  /* Nothing answers for her from memory any more: each owner goes to the
   * store, and finds her key gone. */
  assert_int_equal(mes_subject_key(sj, ann.row.id, key), MES_ENOT_FOUND);
  st0 = cache_stats(f);
  assert_int_equal(history(f, ann.row.id, &n), MES_ENOT_FOUND);
  assert_int_equal(n, 0);
  st1 = cache_stats(f);
  assert_int_equal(st1.hits, st0.hits);
  assert_int_equal(st1.misses, st0.misses + 1); /* no entry of hers left to check */
  struct mes_subject again = hinted(f, "ann", &cached);
  assert_false(cached); /* her row was read from the store */
  assert_int_equal(again.row.id, ann.row.id);
  assert_int_equal(mes_engine_authenticate(f->e, token, strlen(token), &who), MES_EUNAUTHORIZED);

  /* bob was not forgotten: still answered from memory. */
  assert_int_equal(mes_subject_key(sj, bob.row.id, key), MES_OK);
  st0 = cache_stats(f);
  assert_int_equal(history(f, bob.row.id, &n), MES_OK);
  assert_int_equal(n, 2);
  st1 = cache_stats(f);
  assert_int_equal(st1.hits, st0.hits + 1);
  hinted(f, "bob", &cached);
  assert_true(cached);
  mes_wipe(key, sizeof key);
}

/* A subject with nothing kept (never stored: row id 0), or forgotten twice:
 * nothing to do, no harm. */
static void test_forget_unknown_subject(void **state) {
  struct fixture *f = *state;
  struct mes_subject nobody;
  mes_subject_pseudonymize(mes_engine_subjects(f->e), MES_NS_SUBJECT, "nobody", 6, &nobody);
  mes_engine_forget_subject(f->e, &nobody);
  shopper(f, "cleo");
  bool cached = false;
  struct mes_subject cleo = hinted(f, "cleo", &cached);
  mes_engine_forget_subject(f->e, &cleo);
  mes_engine_forget_subject(f->e, &cleo);
  int n = 0;
  assert_int_equal(history(f, cleo.row.id, &n), MES_OK); /* her data is still stored: only memory forgot */
  assert_int_equal(n, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_forget_subject, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forget_unknown_subject, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
