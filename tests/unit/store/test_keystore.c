/* Unit tests of the keystore's rewrap (mes_store_key_rewrap) and of a store
 * opened alone (mes_store_open_alone): every key rewritten with the meta in
 * one transaction, or none (a callback that fails midway, past the first
 * chunk); another open refused while a store is open alone, and the other
 * way round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

#define N_KEYS 300 /* more than one of the rewrap's chunks */

struct fx {
  char dir[64];
  struct mes_store *st;
};

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-keystore-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, true, &f->st, &err), MES_OK);
  for (int64_t sid = 1; sid <= N_KEYS; sid++) {
    uint8_t w[72];
    memset(w, (int)(sid & 0x7f), sizeof w);
    assert_int_equal(mes_store_key_put(f->st, sid, w, sizeof w), MES_OK);
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  mes_store_close(f->st);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* The new form of a key: each byte + 1, one byte longer; fails at sid
 * *fail_at (0: never). */
static int bump(void *ud, int64_t sid, const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *out_len) {
  const int64_t *fail_at = ud;
  if (*fail_at && sid == *fail_at)
    return MES_ECRYPTO;
  if (len + 1 > cap)
    return MES_EINTERNAL;
  for (size_t i = 0; i < len; i++)
    out[i] = (uint8_t)(in[i] + 1);
  out[len] = 0xee;
  *out_len = len + 1;
  return MES_OK;
}

static void expect_keys(struct mes_store *st, int delta, size_t len) {
  for (int64_t sid = 1; sid <= N_KEYS; sid++) {
    uint8_t w[128];
    size_t n = 0;
    assert_int_equal(mes_store_key_get(st, sid, w, sizeof w, &n), MES_OK);
    assert_int_equal(n, len);
    assert_int_equal(w[0], (uint8_t)((sid & 0x7f) + delta));
  }
}

static void test_rewrap_all(void **state) {
  struct fx *f = *state;
  int64_t never = 0, n = 0;
  const struct mes_store_kv meta[] = {{"a", "1"}, {"b", "2"}};
  assert_int_equal(mes_store_key_rewrap(f->st, bump, &never, meta, 2, &n), MES_OK);
  assert_int_equal(n, N_KEYS);
  char v[8];
  assert_int_equal(mes_store_key_meta_get(f->st, "b", v, sizeof v), MES_OK);
  assert_string_equal(v, "2");
  mes_store_close(f->st);
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &f->st, &err), MES_OK);
  expect_keys(f->st, 1, 73);
  assert_int_equal(mes_store_key_meta_get(f->st, "a", v, sizeof v), MES_OK);
  assert_string_equal(v, "1");
}

static void test_rewrap_none_when_one_fails(void **state) {
  struct fx *f = *state;
  int64_t fail_at = N_KEYS - 10, n = -1;
  const struct mes_store_kv meta[] = {{"a", "1"}};
  assert_int_equal(mes_store_key_rewrap(f->st, bump, &fail_at, meta, 1, &n), MES_ECRYPTO);
  assert_int_equal(n, 0);
  expect_keys(f->st, 0, 72);
  char v[8];
  assert_int_equal(mes_store_key_meta_get(f->st, "a", v, sizeof v), MES_ENOT_FOUND);
  /* The keystore is usable afterwards. */
  uint8_t w[72] = {0};
  assert_int_equal(mes_store_key_put(f->st, N_KEYS + 1, w, sizeof w), MES_OK);
}

static void test_open_alone(void **state) {
  struct fx *f = *state;
  struct mes_err err = {0};
  struct mes_store *alone = NULL, *other = NULL;
  assert_int_equal(mes_store_open_alone(f->dir, MES_STORE_SQLITE, &alone, &err), MES_ECONFLICT);
  assert_null(alone);
  mes_store_close(f->st);
  f->st = NULL;
  assert_int_equal(mes_store_open_alone(f->dir, MES_STORE_SQLITE, &alone, &err), MES_OK);
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &other, &err), MES_ECONFLICT);
  assert_null(other);
  expect_keys(alone, 0, 72);
  mes_store_close(alone);
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &f->st, &err), MES_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rewrap_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rewrap_none_when_one_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_alone, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
