/*
 * Unit tests of the subject tokens as an engine hands them out
 * (mes_engine_subject_token, mes_engine_authenticate, over src/lib/auth): a
 * token that ran out is told apart from one never issued, so that the HTTP
 * layer can answer 401 token_expired ("ask for a new one") instead of
 * unauthorized; a token is stored, so it outlives the process that minted it
 * and opens on a second engine over the same store; a revocation ends every
 * token of that person at once, and no one else's.
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

#include "engine/engine.h"

#include "../engine_dir.h"

struct fixture {
  char dir[64];
  struct mes_engine *e;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  char data[96];
  mes_test_dir_make(f->dir, data, "tokens");
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

static void test_live_token_authenticates(void **state) {
  struct fixture *f = *state;
  char token[64];
  int64_t expires_ms;
  assert_int_equal(mes_engine_subject_token(f->e, 7, MES_TOKEN_DASHBOARD, 60, token, &expires_ms, NULL), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, token, strlen(token), &who), MES_OK);
  assert_true(who.subject_token);
  assert_int_equal(who.sid, 7);
}

static void test_expired_token_is_token_expired(void **state) {
  struct fixture *f = *state;
  char token[64];
  int64_t expires_ms;
  assert_int_equal(mes_engine_subject_token(f->e, 8, MES_TOKEN_DASHBOARD, 0, token, &expires_ms, NULL), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, token, strlen(token), &who), MES_ETOKEN_EXPIRED);
  /* What the client sees: 401 with its own code, not "unknown key". */
  assert_int_equal(mes_rc_status(MES_ETOKEN_EXPIRED), 401);
  assert_string_equal(mes_rc_code(MES_ETOKEN_EXPIRED), "token_expired");
}

static void test_expired_token_stays_recognised_among_new_ones(void **state) {
  struct fixture *f = *state;
  char old[64], fresh[64];
  int64_t expires_ms;
  assert_int_equal(mes_engine_subject_token(f->e, 9, MES_TOKEN_DASHBOARD, 0, old, &expires_ms, NULL), MES_OK);
  for (int i = 0; i < 100; i++)
    assert_int_equal(mes_engine_subject_token(f->e, 200 + i, MES_TOKEN_DASHBOARD, 60, fresh, &expires_ms, NULL), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, old, strlen(old), &who), MES_ETOKEN_EXPIRED);
  assert_int_equal(mes_engine_authenticate(f->e, fresh, strlen(fresh), &who), MES_OK);
}

/* Closes and reopens the engine on the same directory: a restart. */
static void reopen(struct fixture *f) {
  mes_engine_close(f->e);
  char data[96];
  snprintf(data, sizeof data, "%s/data", f->dir);
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = data};
  if (mes_engine_open(&o, &f->e, &err))
    fail_msg("reopen: %s", mes_err_text(&err));
}

static void test_token_survives_a_restart_and_works_on_a_second_engine(void **state) {
  struct fixture *f = *state;
  char token[64];
  int64_t expires_ms;
  assert_int_equal(mes_engine_subject_token(f->e, 11, MES_TOKEN_DASHBOARD, 600, token, &expires_ms, NULL), MES_OK);
  reopen(f);
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, token, strlen(token), &who), MES_OK);
  assert_int_equal(who.sid, 11);
  /* A second server sharing the store. */
  char data[96];
  snprintf(data, sizeof data, "%s/data", f->dir);
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = data};
  struct mes_engine *other = NULL;
  if (mes_engine_open(&o, &other, &err))
    fail_msg("second engine: %s", mes_err_text(&err));
  memset(&who, 0, sizeof who);
  assert_int_equal(mes_engine_authenticate(other, token, strlen(token), &who), MES_OK);
  assert_true(who.subject_token);
  assert_int_equal(who.sid, 11);
  mes_engine_close(other);
}

static void test_revocation_ends_every_token_of_one_person_only(void **state) {
  struct fixture *f = *state;
  char a1[64], a2[64], b[64];
  int64_t expires_ms, n = -1;
  assert_int_equal(mes_engine_subject_token(f->e, 21, MES_TOKEN_DASHBOARD, 600, a1, &expires_ms, NULL), MES_OK);
  assert_int_equal(mes_engine_subject_token(f->e, 21, MES_TOKEN_DASHBOARD, 600, a2, &expires_ms, NULL), MES_OK);
  assert_int_equal(mes_engine_subject_token(f->e, 22, MES_TOKEN_DASHBOARD, 600, b, &expires_ms, NULL), MES_OK);
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, a1, strlen(a1), &who), MES_OK); /* now cached */
  assert_int_equal(mes_engine_subject_tokens_revoke(f->e, 21, &n, NULL), MES_OK);
  assert_int_equal(n, 2);
  assert_int_equal(mes_engine_authenticate(f->e, a1, strlen(a1), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_engine_authenticate(f->e, a2, strlen(a2), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_engine_authenticate(f->e, b, strlen(b), &who), MES_OK);
  assert_int_equal(who.sid, 22);
  /* Revoked stays revoked after a restart; revoking again finds nothing. */
  reopen(f);
  assert_int_equal(mes_engine_authenticate(f->e, a2, strlen(a2), &who), MES_EUNAUTHORIZED);
  assert_int_equal(mes_engine_subject_tokens_revoke(f->e, 21, &n, NULL), MES_OK);
  assert_int_equal(n, 0);
}

static void test_unknown_token_is_unauthorized(void **state) {
  struct fixture *f = *state;
  const char *never = "mst_thisTokenWasNeverIssuedByThisServer0000000000";
  struct mes_principal who;
  assert_int_equal(mes_engine_authenticate(f->e, never, strlen(never), &who), MES_EUNAUTHORIZED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_live_token_authenticates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_token_is_token_expired, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_token_stays_recognised_among_new_ones, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_token_is_unauthorized, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_survives_a_restart_and_works_on_a_second_engine, setup, teardown),
      cmocka_unit_test_setup_teardown(test_revocation_ends_every_token_of_one_person_only, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
