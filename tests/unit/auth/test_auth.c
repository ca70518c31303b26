/*
 * Unit tests of auth over a real store: scope lists, API keys (created,
 * found, refused when revoked or never made, names checked) and subject
 * tokens (live, expired, a wrong prefix).
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

#include "auth/auth.h"
#include "base/mtime.h"
#include "crypto/crypto.h"
#include "store/store.h"

struct fixture {
  char dir[64];
  struct mes_store *store;
  struct mes_auth *auth;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mesura-auth-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_int_equal(mes_crypto_init(), MES_OK);
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_store_open(f->dir, MES_STORE_SQLITE, true, &f->store, &err))
    fail_msg("store: %s", mes_err_text(&err));
  assert_int_equal(mes_auth_new(f->store, &f->auth), MES_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_auth_free(f->auth);
  mes_store_close(f->store);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static void test_scopes(void **state) {
  (void)state;
  static const struct {
    const char *list;
    int rc;
    uint32_t mask;
    const char *back; /* formatted again */
  } rows[] = {
      {"ingest", MES_OK, MES_SCOPE_INGEST, "ingest"},
      {"recommend,catalog", MES_OK, MES_SCOPE_RECOMMEND | MES_SCOPE_CATALOG, "catalog,recommend"},
      {"ingest,consent,catalog,recommend,subjects,audit,admin", MES_OK, MES_SCOPE_ALL,
       "ingest,consent,catalog,recommend,subjects,audit,admin"},
      {"", MES_EINVALID_VALUE, 0, NULL},
      {"everything", MES_EINVALID_VALUE, 0, NULL},
      {"ingest,", MES_OK, MES_SCOPE_INGEST, "ingest"},
      {"ingest,,consent", MES_EINVALID_VALUE, 0, NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    struct mes_err err;
    mes_err_clear(&err);
    uint32_t mask = 0;
    int rc = mes_scope_parse(rows[i].list, &mask, &err);
    if (rc != rows[i].rc)
      fail_msg("row %zu '%s': got %s, want %s", i, rows[i].list, mes_rc_code(rc), mes_rc_code(rows[i].rc));
    if (rc)
      continue;
    assert_int_equal(mask, rows[i].mask);
    char text[128];
    mes_scope_format(mask, text, sizeof text);
    assert_string_equal(text, rows[i].back);
  }
  assert_true(mes_scope_allows(MES_SCOPE_ADMIN, MES_SCOPE_INGEST));
  assert_true(mes_scope_allows(MES_SCOPE_INGEST, 0));
  assert_false(mes_scope_allows(MES_SCOPE_INGEST, MES_SCOPE_CONSENT));
}

static void test_keys(void **state) {
  struct fixture *f = *state;
  struct mes_err err;
  mes_err_clear(&err);
  char key[64];
  assert_int_equal(mes_auth_key_create(f->auth, "shop-web", MES_SCOPE_INGEST | MES_SCOPE_RECOMMEND, key, &err),
                   MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_auth_authenticate(f->auth, key, strlen(key), &who), MES_OK);
  assert_string_equal(who.name, "shop-web");
  assert_int_equal(who.scopes, MES_SCOPE_INGEST | MES_SCOPE_RECOMMEND);
  assert_false(who.subject_token);

  char other[64];
  assert_int_equal(mes_auth_key_create(f->auth, "shop-web", MES_SCOPE_INGEST, other, &err), MES_EEXISTS);
  assert_int_equal(mes_auth_key_create(f->auth, "", MES_SCOPE_INGEST, other, &err), MES_EINVALID_VALUE);
  assert_int_equal(mes_auth_key_create(f->auth, "shop web", MES_SCOPE_INGEST, other, &err), MES_EINVALID_VALUE);

  char wrong[64];
  memcpy(wrong, key, sizeof wrong);
  wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
  assert_int_equal(mes_auth_authenticate(f->auth, wrong, strlen(wrong), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_auth_authenticate(f->auth, key, 0, &who), MES_EUNAUTHORIZED);

  /* Revoked: refused at once by the handle that revoked it, cache or not. */
  assert_int_equal(mes_auth_key_revoke(f->auth, "shop-web", &err), MES_OK);
  assert_int_equal(mes_auth_authenticate(f->auth, key, strlen(key), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_auth_key_revoke(f->auth, "shop-web", &err), MES_OK); /* again: keeps the first time */
  assert_int_equal(mes_auth_authenticate(f->auth, key, strlen(key), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_auth_key_revoke(f->auth, "never-made", &err), MES_ENOT_FOUND);
}

static void test_tokens(void **state) {
  struct fixture *f = *state;
  char live[64], spent[64];
  int64_t expires_ms;
  assert_int_equal(mes_auth_subject_token(f->auth, 7, MES_TOKEN_DASHBOARD, 60, live, &expires_ms, NULL), MES_OK);
  assert_int_equal(strncmp(live, "mst_", 4), 0);
  assert_int_equal(mes_auth_subject_token(f->auth, 8, MES_TOKEN_DASHBOARD, 0, spent, &expires_ms, NULL), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_auth_authenticate(f->auth, live, strlen(live), &who), MES_OK);
  assert_true(who.subject_token);
  assert_int_equal(who.sid, 7);
  assert_int_equal(who.use, MES_TOKEN_DASHBOARD);
  assert_int_equal(who.scopes, MES_SCOPE_SUBJECTS | MES_SCOPE_CONSENT);
  assert_string_equal(who.name, "subject-token");
  assert_int_equal(mes_auth_authenticate(f->auth, spent, strlen(spent), &who), MES_ETOKEN_EXPIRED);
  /* A token is looked up only as a token: without its prefix it is no key. */
  assert_int_equal(mes_auth_authenticate(f->auth, live + 4, strlen(live + 4), &who), MES_EUNAUTHORIZED);

  /* The sweep keeps an expired token through its grace (it still says
   * "expired"), then deletes it; a live one stays. A fresh handle reads the
   * store, not a cached answer. */
  int64_t n = -1;
  assert_int_equal(mes_auth_sweep(f->auth, mes_now_ms(), &n), MES_OK);
  assert_int_equal(n, 0);
  assert_int_equal(mes_auth_sweep(f->auth, mes_now_ms() + MES_AUTH_TOKEN_GRACE_MS + 1000, &n), MES_OK);
  assert_int_equal(n, 1);
  struct mes_auth *fresh = NULL;
  assert_int_equal(mes_auth_new(f->store, &fresh), MES_OK);
  assert_int_equal(mes_auth_authenticate(fresh, spent, strlen(spent), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_auth_authenticate(fresh, live, strlen(live), &who), MES_OK);
  mes_auth_free(fresh);
}

/* A browser token is stored with its use and comes back, across handles,
 * with the browser's scopes only: never subjects (export, erasure). */
static void test_browser_token(void **state) {
  struct fixture *f = *state;
  char tok[64];
  int64_t expires_ms;
  assert_int_equal(mes_auth_subject_token(f->auth, 9, MES_TOKEN_BROWSER, 60, tok, &expires_ms, NULL), MES_OK);
  struct mes_auth *fresh = NULL;
  assert_int_equal(mes_auth_new(f->store, &fresh), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_auth_authenticate(fresh, tok, strlen(tok), &who), MES_OK);
  assert_true(who.subject_token);
  assert_int_equal(who.use, MES_TOKEN_BROWSER);
  assert_int_equal(who.sid, 9);
  assert_int_equal(who.scopes, MES_SCOPE_CONSENT | MES_SCOPE_INGEST | MES_SCOPE_RECOMMEND);
  assert_false(mes_scope_allows(who.scopes, MES_SCOPE_SUBJECTS));
  assert_string_equal(who.name, "browser-token");
  mes_auth_free(fresh);
  /* Revoking the person's tokens revokes the browser's too. */
  int64_t n = 0;
  assert_int_equal(mes_auth_subject_revoke(f->auth, 9, &n, NULL), MES_OK);
  assert_int_equal(n, 1);
  assert_int_equal(mes_auth_authenticate(f->auth, tok, strlen(tok), &who), MES_EUNAUTHORIZED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scopes),
      cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_browser_token, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
