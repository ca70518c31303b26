/* Unit tests of src/lib/store/journal.c and the store's restore: the erasure
 * journal is durable and private, survives a torn append, and is replayed
 * onto databases brought back from copies made before an erasure (mesura.db,
 * keys.db or both), never removing a person who came back afterwards nor the
 * key of someone who got an id the journal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#define HDR 32
#define REC 56

struct fx {
  char dir[64];
  char copies[64]; /* where the test keeps its backups, outside the data directory */
  struct mes_store *st;
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

static struct mes_store *open_store(const char *dir, bool create) {
  struct mes_err err = {0};
  struct mes_store *st = NULL;
  int rc = mes_store_open(dir, MES_STORE_SQLITE, create, &st, &err);
  if (rc != MES_OK)
    fail_msg("mes_store_open: %s (%s)", mes_rc_code(rc), err.msg);
  return st;
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-journal-XXXXXX");
  snprintf(f->copies, sizeof f->copies, "/tmp/mes-copies-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  assert_non_null(mkdtemp(f->copies));
  f->st = open_store(f->dir, true);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  mes_store_close(f->st);
  rm_tree(f->dir);
  rm_tree(f->copies);
  free(f);
  return 0;
}

static void reopen(struct fx *f) {
  mes_store_close(f->st);
  f->st = open_store(f->dir, false);
}

static void path_in(char *out, size_t cap, const char *dir, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static void pn_of(uint8_t pn[32], int n) {
  memset(pn, 0, 32);
  pn[0] = (uint8_t)n;
  pn[31] = 0xE5;
}

static int64_t ensure(struct mes_store *st, int n, int64_t now_ms) {
  uint8_t pn[32];
  struct mes_subject_row row;
  uint64_t ticket;
  pn_of(pn, n);
  assert_int_equal(mes_store_tx_begin(st), MES_OK);
  assert_int_equal(mes_store_subject_ensure(st, pn, now_ms, &row), MES_OK);
  assert_int_equal(mes_store_tx_commit(st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(st, ticket), MES_OK);
  return row.id;
}

/* A person: a subject row, a wrapped key and one event. */
static int64_t person(struct mes_store *st, int n, int64_t now_ms) {
  int64_t sid = ensure(st, n, now_ms);
  uint8_t key[40];
  memset(key, n, sizeof key);
  assert_int_equal(mes_store_key_put(st, sid, key, sizeof key), MES_OK);
  static const uint8_t blob[] = "sealed";
  struct mes_event_row ev = {.sid = sid, .type = 0, .ts_ms = now_ms, .purposes = 1, .sealed = blob,
                             .sealed_len = sizeof blob};
  uint64_t ticket;
  assert_int_equal(mes_store_tx_begin(st), MES_OK);
  assert_int_equal(mes_store_event_insert(st, &ev), MES_OK);
  assert_int_equal(mes_store_tx_commit(st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(st, ticket), MES_OK);
  return sid;
}

/* What the erasure verb does to the store: rows, key, then the journal. */
static void erase(struct mes_store *st, int n, int64_t sid, int64_t at_ms) {
  uint8_t pn[32];
  pn_of(pn, n);
  assert_int_equal(mes_store_subject_delete(st, sid), MES_OK);
  assert_int_equal(mes_store_key_delete(st, sid), MES_OK);
  assert_int_equal(mes_store_erasure_add(st, pn, sid, at_ms), MES_OK);
}

/* The subject id of person n, or 0 when the store does not hold them. */
static int64_t sid_of(struct mes_store *st, int n) {
  uint8_t pn[32];
  struct mes_subject_row row;
  pn_of(pn, n);
  int rc = mes_store_subject_find(st, pn, &row);
  if (rc == MES_ENOT_FOUND)
    return 0;
  assert_int_equal(rc, MES_OK);
  return row.id;
}

static bool has_key(struct mes_store *st, int64_t sid) {
  uint8_t out[64];
  size_t len;
  int rc = mes_store_key_get(st, sid, out, sizeof out, &len);
  assert_true(rc == MES_OK || rc == MES_ENOT_FOUND);
  return rc == MES_OK;
}

static int64_t n_events(struct mes_store *st, int64_t sid) {
  int64_t max_id, n;
  assert_int_equal(mes_store_event_stamp(st, sid, &max_id, &n), MES_OK);
  return n;
}

static void backup(struct fx *f, const char *name, char *out, size_t cap) {
  struct mes_err err = {0};
  path_in(out, cap, f->copies, name);
  assert_int_equal(mes_store_backup(f->st, out, &err), MES_OK);
}

/* keys.db copied as an operator would, with the store closed. */
static void copy_keys(struct fx *f, const char *name, char *out, size_t cap) {
  char src[128], cmd[512];
  mes_store_close(f->st);
  f->st = NULL;
  path_in(src, sizeof src, f->dir, "keys.db");
  path_in(out, cap, f->copies, name);
  snprintf(cmd, sizeof cmd, "cp %s %s", src, out);
  assert_int_equal(system(cmd), 0);
  f->st = open_store(f->dir, false);
}

/* Closes the store, restores, reopens; returns what the restore's replay removed. */
static int64_t restore(struct fx *f, const char *data, const char *keys) {
  struct mes_err err = {0};
  int64_t n = -1;
  mes_store_close(f->st);
  f->st = NULL;
  int rc = mes_store_restore(f->dir, MES_STORE_SQLITE, data, keys, NULL, NULL, &n, &err);
  if (rc != MES_OK)
    fail_msg("mes_store_restore: %s (%s)", mes_rc_code(rc), err.msg);
  f->st = open_store(f->dir, false);
  return n;
}

static off_t journal_size(struct fx *f) {
  char p[128];
  struct stat sb;
  path_in(p, sizeof p, f->dir, "erasures.journal");
  assert_int_equal(stat(p, &sb), 0);
  return sb.st_size;
}

/* --- the file --- */

static void test_journal_is_private_and_appends_whole_records(void **state) {
  struct fx *f = *state;
  char p[128];
  struct stat sb;
  path_in(p, sizeof p, f->dir, "erasures.journal");
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(sb.st_size, HDR);
  for (int i = 1; i <= 3; i++)
    erase(f->st, i, person(f->st, i, 1000), 2000);
  assert_int_equal(journal_size(f), HDR + 3 * REC);
  reopen(f);
  assert_int_equal(journal_size(f), HDR + 3 * REC);
  assert_int_equal(mes_store_erasure_add(f->st, (const uint8_t[32]){1}, 0, 1), MES_EINTERNAL);
}

static void test_torn_append_is_cut_and_earlier_records_kept(void **state) {
  struct fx *f = *state;
  char b[128], p[128];
  int64_t a = person(f->st, 1, 1000), c = person(f->st, 2, 1000);
  backup(f, "before.db", b, sizeof b);
  erase(f->st, 1, a, 2000);
  erase(f->st, 2, c, 2000);
  mes_store_close(f->st);
  f->st = NULL;
  /* A crash in the middle of a third append: half a record, then (another
   * crash) a record's length of zeros, as a file system may leave. */
  path_in(p, sizeof p, f->dir, "erasures.journal");
  int fd = open(p, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  static const uint8_t zeros[REC] = {0};
  assert_int_equal(write(fd, zeros, REC), REC);
  assert_int_equal(write(fd, "\x07\x07\x07", 3), 3);
  close(fd);
  assert_int_equal(restore(f, b, NULL), 2); /* both erased people, still journaled */
  assert_int_equal(sid_of(f->st, 1), 0);
  assert_int_equal(sid_of(f->st, 2), 0);
  /* The partial bytes went; the zero record, whole but never written, too. */
  assert_int_equal(journal_size(f), HDR + 2 * REC);
  /* An append after the cut lands where the torn one began. */
  erase(f->st, 3, person(f->st, 3, 3000), 4000);
  assert_int_equal(journal_size(f), HDR + 3 * REC);
}

static void test_damaged_record_in_the_middle_is_skipped_not_cut(void **state) {
  struct fx *f = *state;
  char b[128], p[128];
  int64_t a = person(f->st, 1, 1000), c = person(f->st, 2, 1000);
  backup(f, "before.db", b, sizeof b);
  erase(f->st, 1, a, 2000);
  erase(f->st, 2, c, 2000);
  mes_store_close(f->st);
  f->st = NULL;
  path_in(p, sizeof p, f->dir, "erasures.journal");
  int fd = open(p, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "\xff", 1, HDR + 40), 1); /* record 0's time */
  close(fd);
  assert_int_equal(restore(f, b, NULL), 1);
  assert_int_not_equal(sid_of(f->st, 1), 0); /* its record no longer vouches for anything */
  assert_int_equal(sid_of(f->st, 2), 0);     /* the records after it still count */
  assert_int_equal(journal_size(f), HDR + 2 * REC);
}

/* --- replay --- */

static void test_restored_backup_does_not_bring_the_erased_back(void **state) {
  struct fx *f = *state;
  char b[128];
  int64_t a = person(f->st, 1, 1000), o = person(f->st, 2, 1000);
  backup(f, "before.db", b, sizeof b);
  erase(f->st, 1, a, 2000);
  person(f->st, 3, 2500); /* someone new after the backup: lost by the restore, as any data after it */

  assert_int_equal(restore(f, b, NULL), 1);
  assert_int_equal(sid_of(f->st, 1), 0);
  assert_int_equal(n_events(f->st, a), 0);
  assert_false(has_key(f->st, a));
  assert_int_equal(sid_of(f->st, 2), o); /* the others are back */
  assert_int_equal(n_events(f->st, o), 1);
  assert_true(has_key(f->st, o));
  /* Applied once: the next open finds nothing to do. */
  reopen(f);
  assert_int_equal(mes_store_erasures_replayed(f->st), 0);
}

static void test_person_who_came_back_keeps_new_data(void **state) {
  struct fx *f = *state;
  char b[128];
  int64_t a = person(f->st, 1, 1000);
  erase(f->st, 1, a, 2000);
  /* Back with the same id (same pseudonym), and new consent and events,
   * at the same millisecond as the erasure: the journal's rule is by id. */
  int64_t again = person(f->st, 1, 2000);
  assert_true(again > a);
  reopen(f); /* replays the record written since the last open */
  assert_int_equal(mes_store_erasures_replayed(f->st), 0);
  assert_int_equal(sid_of(f->st, 1), again);
  assert_int_equal(n_events(f->st, again), 1);
  assert_true(has_key(f->st, again));
  /* And in a backup made after they came back, restored. */
  backup(f, "after.db", b, sizeof b);
  assert_int_equal(restore(f, b, NULL), 0);
  assert_int_equal(sid_of(f->st, 1), again);
  assert_true(has_key(f->st, again));
}

static void test_keys_restored_too(void **state) {
  struct fx *f = *state;
  char b[128], k[128];
  int64_t a = person(f->st, 1, 1000), o = person(f->st, 2, 1000);
  backup(f, "before.db", b, sizeof b);
  copy_keys(f, "keys-before.db", k, sizeof k);
  erase(f->st, 1, a, 2000);

  assert_int_equal(restore(f, b, k), 1);
  assert_int_equal(sid_of(f->st, 1), 0);
  assert_false(has_key(f->st, a)); /* the old keys.db held it: the replay deleted it again */
  assert_true(has_key(f->st, o));
  assert_int_equal(sid_of(f->st, 2), o);
}

static void test_old_keys_with_current_data(void **state) {
  struct fx *f = *state;
  char b[128], k[128];
  int64_t a = person(f->st, 1, 1000), o = person(f->st, 2, 1000);
  copy_keys(f, "keys-before.db", k, sizeof k);
  erase(f->st, 1, a, 2000);
  backup(f, "after.db", b, sizeof b);

  assert_int_equal(restore(f, b, k), 0); /* nobody to remove from the data */
  assert_false(has_key(f->st, a));       /* but the key the old keystore held is gone */
  assert_true(has_key(f->st, o));
}

static void test_journaled_ids_are_never_handed_out_again(void **state) {
  struct fx *f = *state;
  char b[128];
  person(f->st, 1, 1000);
  person(f->st, 2, 1000);
  backup(f, "two.db", b, sizeof b);
  int64_t c = person(f->st, 3, 1500);
  erase(f->st, 3, c, 2000);

  /* The backup's sequence stops before c: without the floor, the next
   * person would get c's id, and the journal's record for c would name
   * their key. */
  assert_int_equal(restore(f, b, NULL), 0);
  int64_t d = person(f->st, 4, 3000);
  assert_true(d > c);
  /* The same backup restored again replays c's record once more: d's key,
   * kept with keys.db, is not touched. */
  assert_int_equal(restore(f, b, NULL), 0);
  assert_true(has_key(f->st, d));
  assert_false(has_key(f->st, c));
  assert_true(person(f->st, 5, 4000) > c);
}

static void test_files_of_two_stores_are_not_replayed_onto(void **state) {
  struct fx *f = *state;
  char b[128];
  int64_t a = person(f->st, 1, 1000);
  uint64_t ticket;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_meta_set(f->st, "master_key_check", "one"), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, ticket), MES_OK);
  backup(f, "before.db", b, sizeof b);
  erase(f->st, 1, a, 2000);
  assert_int_equal(mes_store_key_put(f->st, a, (const uint8_t *)"another store's key", 19), MES_OK);
  assert_int_equal(mes_store_key_meta_set(f->st, "master_key_check", "two"), MES_OK);
  /* keys.db now says it belongs to another key than mesura.db: the engine
   * will refuse the pair, and the replay leaves both alone. */
  assert_int_equal(restore(f, b, NULL), 0);
  assert_true(has_key(f->st, a));
}

/* --- restore --- */

static void test_restore_refused_while_the_store_is_open(void **state) {
  struct fx *f = *state;
  char b[128];
  person(f->st, 1, 1000);
  backup(f, "before.db", b, sizeof b);
  person(f->st, 2, 1000);
  struct mes_err err = {0};
  assert_int_equal(mes_store_restore(f->dir, MES_STORE_SQLITE, b, NULL, NULL, NULL, NULL, &err), MES_ECONFLICT);
  assert_non_null(strstr(err.msg, "in use"));
  assert_int_not_equal(sid_of(f->st, 2), 0); /* nothing changed */
  reopen(f);
  assert_int_not_equal(sid_of(f->st, 2), 0);
}

struct refusal {
  const char *dir;
  int open_rc;
};

/* Refuses the restored store, after trying to open the directory as a
 * server would while the restore runs. */
static int refuse(void *ud, struct mes_store *st, struct mes_err *err) {
  struct refusal *r = ud;
  struct mes_store *other = NULL;
  struct mes_err e2 = {0};
  r->open_rc = mes_store_open(r->dir, MES_STORE_SQLITE, false, &other, &e2);
  mes_store_close(other);
  (void)st;
  return mes_err_set(err, MES_ECRYPTO, NULL, "not ours");
}

static void test_refused_restore_leaves_the_directory_as_it_was(void **state) {
  struct fx *f = *state;
  char b[128], k[128], p[128];
  int64_t a = person(f->st, 1, 1000);
  backup(f, "before.db", b, sizeof b);
  copy_keys(f, "keys-before.db", k, sizeof k);
  int64_t c = person(f->st, 2, 1000);
  mes_store_close(f->st);
  f->st = NULL;
  struct refusal r = {.dir = f->dir};
  struct mes_err err = {0};
  assert_int_equal(mes_store_restore(f->dir, MES_STORE_SQLITE, b, k, refuse, &r, NULL, &err), MES_ECRYPTO);
  assert_int_equal(r.open_rc, MES_ECONFLICT); /* nobody opened it half restored */
  f->st = open_store(f->dir, false);
  assert_int_equal(sid_of(f->st, 1), a);
  assert_int_equal(sid_of(f->st, 2), c); /* the current data, not the backup */
  assert_true(has_key(f->st, c));
  const char *leftovers[] = {"mesura.db.pre-restore", "keys.db.pre-restore", "mesura.db.restoring",
                             "keys.db.restoring"};
  for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; i++) {
    path_in(p, sizeof p, f->dir, leftovers[i]);
    assert_int_not_equal(access(p, F_OK), 0);
  }
}

static void test_restore_refuses_what_is_not_a_backup(void **state) {
  struct fx *f = *state;
  char k[128], junk[128];
  person(f->st, 1, 1000);
  copy_keys(f, "keys.db", k, sizeof k);
  path_in(junk, sizeof junk, f->copies, "junk");
  FILE *fp = fopen(junk, "w");
  assert_non_null(fp);
  fputs("not a database at all, but long enough to look like one's first page", fp);
  fclose(fp);
  mes_store_close(f->st);
  f->st = NULL;
  struct mes_err err = {0};
  /* A keys.db given as the data, and a file that is no database. */
  assert_int_equal(mes_store_restore(f->dir, MES_STORE_SQLITE, k, NULL, NULL, NULL, NULL, &err), MES_EBAD_INPUT);
  assert_int_not_equal(mes_store_restore(f->dir, MES_STORE_SQLITE, junk, NULL, NULL, NULL, NULL, &err), MES_OK);
  f->st = open_store(f->dir, false);
  assert_int_not_equal(sid_of(f->st, 1), 0);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_journal_is_private_and_appends_whole_records),
      T(test_torn_append_is_cut_and_earlier_records_kept),
      T(test_damaged_record_in_the_middle_is_skipped_not_cut),
      T(test_restored_backup_does_not_bring_the_erased_back),
      T(test_person_who_came_back_keeps_new_data),
      T(test_keys_restored_too),
      T(test_old_keys_with_current_data),
      T(test_journaled_ids_are_never_handed_out_again),
      T(test_files_of_two_stores_are_not_replayed_onto),
      T(test_restore_refused_while_the_store_is_open),
      T(test_refused_restore_leaves_the_directory_as_it_was),
      T(test_restore_refuses_what_is_not_a_backup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
