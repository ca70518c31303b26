/* Unit tests of src/lib/subject/keycheck: a store opens only with its own master
 * key, the file out of place is named, and stores without a check value get
 * it after what can be verified was verified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "subject/keycheck.h"
#include "subject/subject.h"

#define META_KEY "master_key_check"

struct fx {
  char dir[64];
  struct mes_master *own, *other;
  struct mes_store *store;
};

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static struct mes_master *new_master(const char *dir, const char *name) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct mes_err err = {0};
  struct mes_master *m = NULL;
  assert_int_equal(mes_master_create(path, &err), MES_OK);
  assert_int_equal(mes_master_load(path, &m, &err), MES_OK);
  return m;
}

/* A store with no check value in either file. */
static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-keycheck-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  f->own = new_master(f->dir, "master.key");
  f->other = new_master(f->dir, "other.key");
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, true, &f->store, &err), MES_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  mes_store_close(f->store);
  mes_master_free(f->own);
  mes_master_free(f->other);
  rm_tree(f->dir);
  free(f);
  return 0;
}

/* Checks m against the store; on failure the message must hold `says`. */
static int verify(struct fx *f, const struct mes_master *m, const char *says) {
  struct mes_err err = {0};
  int rc = mes_keycheck_verify(f->store, m, f->dir, &err);
  if (says && !strstr(err.msg, says))
    fail_msg("\"%s\" does not say \"%s\"", err.msg, says);
  return rc;
}

/* What each file holds as its check: "" when none. */
static void stored_checks(struct fx *f, char data[80], char keys[80]) {
  if (mes_store_meta_get(f->store, META_KEY, data, 80) != MES_OK)
    data[0] = '\0';
  if (mes_store_key_meta_get(f->store, META_KEY, keys, 80) != MES_OK)
    keys[0] = '\0';
}

static void set_data_check(struct fx *f, const char *value) {
  uint64_t ticket;
  assert_int_equal(mes_store_tx_begin(f->store), MES_OK);
  assert_int_equal(mes_store_meta_set(f->store, META_KEY, value), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->store, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->store, ticket), MES_OK);
}

/* A subject with a key wrapped by m, as ingestion makes one. */
static void add_subject(struct fx *f, const struct mes_master *m, const char *id) {
  struct mes_req c = {.now_ms = 1700000000000, .actor = "test"};
  struct mes_subjects *sj = NULL;
  assert_int_equal(mes_subjects_new(f->store, m, NULL, 0, 0, &sj), MES_OK);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(sj, &c, MES_NS_SUBJECT, id, strlen(id), true, &s), MES_OK);
  mes_subjects_free(sj);
}

static void test_a_new_store_gets_the_check_of_its_key(void **state) {
  struct fx *f = *state;
  char want[MES_KEY_CHECK_HEX], data[80], keys[80];
  assert_int_equal(verify(f, f->own, NULL), MES_OK);
  mes_master_check_hex(f->own, want);
  stored_checks(f, data, keys);
  assert_string_equal(data, want);
  assert_string_equal(keys, want);
  assert_int_equal(verify(f, f->own, NULL), MES_OK);
  char path[128];
  snprintf(path, sizeof path, "master.key does not open this store (%s/master.key)", f->dir);
  assert_int_equal(verify(f, f->other, path), MES_ECRYPTO);
  stored_checks(f, data, keys); /* a refused key writes nothing */
  assert_string_equal(data, want);
  assert_string_equal(keys, want);
}

static void test_an_old_store_is_verified_by_a_subject_key(void **state) {
  struct fx *f = *state;
  add_subject(f, f->own, "u1");
  add_subject(f, f->own, "u2");
  char data[80], keys[80];
  assert_int_equal(verify(f, f->other, "master.key does not open this store"), MES_ECRYPTO);
  stored_checks(f, data, keys);
  assert_string_equal(data, "");
  assert_string_equal(keys, "");
  assert_int_equal(verify(f, f->own, NULL), MES_OK);
  stored_checks(f, data, keys);
  assert_int_equal(strlen(data), 64);
  assert_string_equal(keys, data);
}

static void test_an_old_store_without_keys_takes_the_first_key(void **state) {
  /* Nothing in it was sealed or wrapped: there is nothing to check the key
   * against, and nothing a wrong key could lose yet. From then on, the key
   * it was first opened with is its own. */
  struct fx *f = *state;
  assert_int_equal(verify(f, f->other, NULL), MES_OK);
  assert_int_equal(verify(f, f->own, "master.key does not open this store"), MES_ECRYPTO);
}

static void test_the_file_out_of_place_is_named(void **state) {
  struct fx *f = *state;
  add_subject(f, f->own, "u1");
  assert_int_equal(verify(f, f->own, NULL), MES_OK);
  char own_hex[MES_KEY_CHECK_HEX], other_hex[MES_KEY_CHECK_HEX], says[160];
  mes_master_check_hex(f->own, own_hex);
  mes_master_check_hex(f->other, other_hex);

  assert_int_equal(mes_store_key_meta_set(f->store, META_KEY, other_hex), MES_OK);
  snprintf(says, sizeof says, "keys.db does not belong to this store (%s/keys.db)", f->dir);
  assert_int_equal(verify(f, f->own, says), MES_ECRYPTO);

  assert_int_equal(mes_store_key_meta_set(f->store, META_KEY, own_hex), MES_OK);
  set_data_check(f, other_hex);
  snprintf(says, sizeof says, "mesura.db does not belong to this store (%s/mesura.db)", f->dir);
  assert_int_equal(verify(f, f->own, says), MES_ECRYPTO);

  /* A check value that is no check at all counts as another key's. */
  set_data_check(f, own_hex);
  assert_int_equal(mes_store_key_meta_set(f->store, META_KEY, "not a check"), MES_OK);
  assert_int_equal(verify(f, f->own, "keys.db does not belong"), MES_ECRYPTO);
  assert_int_equal(verify(f, f->other, "master.key does not open this store"), MES_ECRYPTO);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_a_new_store_gets_the_check_of_its_key),
      T(test_an_old_store_is_verified_by_a_subject_key),
      T(test_an_old_store_without_keys_takes_the_first_key),
      T(test_the_file_out_of_place_is_named),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
