/*
 * Unit tests of the master key rotation (subject/rotate.h, the verb of
 * `mesura keys rotate-master`) over a real data directory: after it every
 * person's data still decrypts (their export shows their consent) while
 * pseudonyms and the receipt key stay; the old master.key and a keys.db
 * copy from before it are refused, each by name; a rotation is refused
 * while an engine has the directory open; and a rotation killed at each of
 * its steps (a child process that _exits there, like kill -9: no cleanup,
 * no rollback) leaves a directory that opens, with the old key before the
 * keystore committed and with the new one after.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "engine/engine.h"
#include "subject/rotate.h"

#include "../engine_dir.h"

/* More than the keystore rewraps per chunk, so that chunks are crossed. */
#define N_PEOPLE 300

struct fixture {
  char dir[64];
  char data[96];
  struct mes_engine *e;
};

static void open_engine(struct fixture *f) {
  mes_test_engine_open(f->data, &f->e);
}

static int try_open(struct fixture *f, struct mes_err *err) {
  mes_err_clear(err);
  struct mes_engine_opts o = {.dir = f->data};
  struct mes_engine *e = NULL;
  int rc = mes_engine_open(&o, &e, err);
  mes_engine_close(e);
  return rc;
}

static void close_engine(struct fixture *f) {
  mes_engine_close(f->e);
  f->e = NULL;
}

static void person(char out[32], int i) { snprintf(out, 32, "person-%03d", i); }

static void grant(struct fixture *f, const char *subject) {
  static const char body[] = "{\"status\": \"granted\"}";
  struct mes_call call = {0};
  struct mes_body b = {.text = body, .len = sizeof body - 1};
  json_t *receipt = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_consent_put(f->e, &call, subject, strlen(subject), "personalization", 15, &b, &receipt, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(receipt);
}

/* The person's export decrypts and shows their consent, granted. */
static void readable(struct fixture *f, const char *subject) {
  struct mes_call call = {0};
  json_t *doc = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_export(f->e, &call, subject, strlen(subject), &doc, &err))
    fail_msg("export of %s: %s", subject, mes_err_text(&err));
  char *text = json_dumps(doc, JSON_COMPACT);
  assert_non_null(text);
  if (!strstr(text, "\"granted\""))
    fail_msg("the export of %s shows no granted consent: %s", subject, text);
  free(text);
  json_decref(doc);
}

static void all_readable(struct fixture *f, int n) {
  char s[32];
  for (int i = 0; i < n; i++) {
    person(s, i);
    readable(f, s);
  }
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_test_dir_make(f->dir, f->data, "rotate");
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

/* Reads dir/name into buf (cap bytes); returns its length. */
static size_t slurp(struct fixture *f, const char *name, uint8_t *buf, size_t cap) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", f->data, name);
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    fail_msg("cannot open %s", path);
  size_t got = 0;
  ssize_t r;
  while (got < cap && (r = read(fd, buf + got, cap - got)) > 0)
    got += (size_t)r;
  close(fd);
  assert_true(got < cap); /* the whole file */
  return got;
}

static void put_file(struct fixture *f, const char *name, const uint8_t *buf, size_t n) {
  char path[160];
  snprintf(path, sizeof path, "%s/%s", f->data, name);
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, buf, n), (ssize_t)n);
  close(fd);
}

static bool exists(struct fixture *f, const char *name) {
  char path[160];
  struct stat sb;
  snprintf(path, sizeof path, "%s/%s", f->data, name);
  return lstat(path, &sb) == 0;
}

static int rotate(struct fixture *f, int64_t *n, struct mes_err *err) {
  mes_err_clear(err);
  return mes_engine_rotate_master(f->data, n, err);
}

static void test_every_key_rewrapped_and_data_readable(void **state) {
  struct fixture *f = *state;
  char s[32];
  for (int i = 0; i < N_PEOPLE; i++) {
    person(s, i);
    grant(f, s);
  }
  uint8_t pk_before[32], pk_after[32], old_key[128], new_key[128];
  mes_engine_sign_public_key(f->e, pk_before);
  close_engine(f);
  size_t old_len = slurp(f, "master.key", old_key, sizeof old_key);
  assert_int_equal(old_len, 32);

  struct mes_err err;
  int64_t n = -1;
  if (rotate(f, &n, &err))
    fail_msg("rotate: %s", mes_err_text(&err));
  assert_int_equal(n, N_PEOPLE);
  size_t new_len = slurp(f, "master.key", new_key, sizeof new_key);
  assert_int_equal(new_len, 64);
  assert_memory_equal(new_key, old_key, 32); /* the root stays */
  assert_false(exists(f, "master.key.new"));
  char path[160];
  struct stat sb;
  snprintf(path, sizeof path, "%s/master.key", f->data);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);

  open_engine(f);
  all_readable(f, N_PEOPLE);
  /* Receipts issued before still verify; newcomers get keys under the new
   * key, readable after a restart. */
  mes_engine_sign_public_key(f->e, pk_after);
  assert_memory_equal(pk_before, pk_after, sizeof pk_before);
  grant(f, "newcomer");
  close_engine(f);
  open_engine(f);
  readable(f, "newcomer");
  all_readable(f, 5);
}

static void test_old_master_key_and_old_keys_db_refused(void **state) {
  struct fixture *f = *state;
  grant(f, "alice");
  close_engine(f);
  uint8_t old_key[128], new_key[128];
  static uint8_t old_keys_db[1 << 20];
  size_t old_len = slurp(f, "master.key", old_key, sizeof old_key);
  size_t db_len = slurp(f, "keys.db", old_keys_db, sizeof old_keys_db);
  assert_false(exists(f, "keys.db-wal")); /* keys.db is whole */

  struct mes_err err;
  assert_int_equal(rotate(f, NULL, &err), MES_OK);
  size_t new_len = slurp(f, "master.key", new_key, sizeof new_key);

  put_file(f, "master.key", old_key, old_len);
  assert_int_equal(try_open(f, &err), MES_ECRYPTO);
  assert_non_null(strstr(mes_err_text(&err), "retired key"));
  assert_int_equal(rotate(f, NULL, &err), MES_ECRYPTO); /* nor does it rotate */

  put_file(f, "master.key", new_key, new_len);
  static uint8_t new_keys_db[1 << 20];
  size_t new_db_len = slurp(f, "keys.db", new_keys_db, sizeof new_keys_db);
  put_file(f, "keys.db", old_keys_db, db_len);
  assert_int_equal(try_open(f, &err), MES_ECRYPTO);
  assert_non_null(strstr(mes_err_text(&err), "keys.db is older"));

  put_file(f, "keys.db", new_keys_db, new_db_len);
  open_engine(f);
  readable(f, "alice");
}

static void test_refused_while_an_engine_is_open(void **state) {
  struct fixture *f = *state;
  grant(f, "alice");
  uint8_t before[128], after[128];
  size_t n0 = slurp(f, "master.key", before, sizeof before);
  struct mes_err err;
  assert_int_equal(rotate(f, NULL, &err), MES_ECONFLICT);
  assert_non_null(strstr(mes_err_text(&err), "stop it, run `mesura keys rotate-master"));
  assert_int_equal(slurp(f, "master.key", after, sizeof after), n0);
  assert_memory_equal(before, after, n0);
  assert_false(exists(f, "master.key.new"));
  readable(f, "alice");
}

/* ------------------------------------------------------------------------ */
/* Killed at each step                                                      */
/* ------------------------------------------------------------------------ */

struct kill_at {
  enum mes_rotate_step step;
  int nth; /* for MES_ROTATE_KEY_ONE: the key after which to die */
  int seen;
};

static void die_there(void *ud, enum mes_rotate_step step) {
  struct kill_at *k = ud;
  if (step == k->step && ++k->seen >= k->nth)
    _exit(3); /* no cleanup at all, like kill -9 */
}

/* Runs a rotation in a child that dies at k; asserts that it died there. */
static void rotate_killed(struct fixture *f, struct kill_at k) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct mes_err err;
    mes_err_clear(&err);
    mes_rotate_master(f->data, die_there, &k, NULL, &err);
    _exit(0);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 3);
}

static void test_killed_at_every_step_opens(void **state) {
  struct fixture *f = *state;
  enum { N = 40 };
  char s[32];
  for (int i = 0; i < N; i++) {
    person(s, i);
    grant(f, s);
  }
  close_engine(f);
  uint8_t first_key[128];
  size_t first_len = slurp(f, "master.key", first_key, sizeof first_key);

  const struct {
    struct kill_at k;
    bool new_key; /* whether the directory is under the new key afterwards */
  } cases[] = {
      {{MES_ROTATE_VERIFIED, 1, 0}, false},  {{MES_ROTATE_KEY_NEW, 1, 0}, false},
      {{MES_ROTATE_KEY_ONE, 1, 0}, false},   {{MES_ROTATE_KEY_ONE, N / 2, 0}, false},
      {{MES_ROTATE_KEY_ONE, N, 0}, false},   {{MES_ROTATE_COMMITTED, 1, 0}, true},
      {{MES_ROTATE_INSTALLED, 1, 0}, true},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t before[128], after[128];
    size_t n_before = slurp(f, "master.key", before, sizeof before);
    rotate_killed(f, cases[c].k);
    open_engine(f); /* the open settles what the rotation left */
    assert_false(exists(f, "master.key.new"));
    all_readable(f, N);
    close_engine(f);
    size_t n_after = slurp(f, "master.key", after, sizeof after);
    bool same = n_after == n_before && memcmp(before, after, n_before) == 0;
    if (same == cases[c].new_key)
      fail_msg("case %zu (step %d, key %d): master.key %s", c, (int)cases[c].k.step, cases[c].k.nth,
               same ? "was not replaced" : "was replaced");
  }
  /* A rotation after all that completes, and the first key is retired. */
  struct mes_err err;
  int64_t n = 0;
  assert_int_equal(rotate(f, &n, &err), MES_OK);
  assert_int_equal(n, N);
  open_engine(f);
  all_readable(f, N);
  close_engine(f);
  uint8_t cur[128];
  size_t cur_len = slurp(f, "master.key", cur, sizeof cur);
  put_file(f, "master.key", first_key, first_len);
  assert_int_equal(try_open(f, &err), MES_ECRYPTO);
  assert_non_null(strstr(mes_err_text(&err), "retired key"));
  put_file(f, "master.key", cur, cur_len);
  open_engine(f);
}

/* A master.key.new that a crash cut short (it never reached keys.db) is
 * deleted at the next open, which uses master.key. */
static void test_torn_new_key_is_dropped(void **state) {
  struct fixture *f = *state;
  grant(f, "alice");
  close_engine(f);
  static const uint8_t torn[10] = {1, 2, 3};
  put_file(f, "master.key.new", torn, sizeof torn);
  open_engine(f);
  assert_false(exists(f, "master.key.new"));
  readable(f, "alice");
}

/* One that cannot be read is never deleted: keys.db may be under it. */
static void test_unreadable_new_key_is_kept(void **state) {
  struct fixture *f = *state;
  grant(f, "alice");
  close_engine(f);
  uint8_t key[64] = {7};
  put_file(f, "master.key.new", key, sizeof key);
  char path[160];
  snprintf(path, sizeof path, "%s/master.key.new", f->data);
  assert_int_equal(chmod(path, 0644), 0); /* refused by the loader */
  struct mes_err err;
  assert_int_equal(try_open(f, &err), MES_EIO);
  assert_non_null(strstr(mes_err_text(&err), "master.key.new"));
  assert_true(exists(f, "master.key.new"));
  assert_int_equal(unlink(path), 0);
  open_engine(f);
  readable(f, "alice");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_every_key_rewrapped_and_data_readable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_old_master_key_and_old_keys_db_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_while_an_engine_is_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_at_every_step_opens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_torn_new_key_is_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_new_key_is_kept, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
