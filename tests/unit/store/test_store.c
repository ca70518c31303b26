/* Unit tests of src/lib/store (SQLite backend): schema migrations, every table's
 * operations, transactions, group commit and durability across a kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

/* --- fixture: a fresh data directory and an open store --- */

struct fx {
  char dir[64];
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
    struct stat sb;
    if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
      rm_tree(p);
    else
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
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-store-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  f->st = open_store(f->dir, true);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  mes_store_close(f->st);
  rm_tree(f->dir);
  free(f);
  return 0;
}

static void reopen(struct fx *f) {
  mes_store_close(f->st);
  f->st = open_store(f->dir, false);
}

static void pn_of(uint8_t pn[32], int n) {
  memset(pn, 0, 32);
  pn[0] = (uint8_t)n;
  pn[31] = 0xAB;
}

/* Creates a subject in its own durable transaction; returns its id. */
static int64_t new_subject(struct mes_store *st, int n) {
  uint8_t pn[32];
  struct mes_subject_row row;
  uint64_t ticket;
  pn_of(pn, n);
  assert_int_equal(mes_store_tx_begin(st), MES_OK);
  assert_int_equal(mes_store_subject_ensure(st, pn, 1000, &row), MES_OK);
  assert_int_equal(mes_store_tx_commit(st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(st, ticket), MES_OK);
  assert_true(row.id > 0);
  return row.id;
}

struct ev_spec {
  int type;
  int64_t ts_ms;
  uint32_t purposes;
  int64_t eid;
};

static int64_t add_event(struct mes_store *st, int64_t sid, struct ev_spec s) {
  static const uint8_t blob[] = "sealed-bytes";
  struct mes_event_row row = {.sid = sid, .type = s.type, .ts_ms = s.ts_ms, .purposes = s.purposes,
                              .eid = s.eid, .sealed = blob, .sealed_len = sizeof blob};
  assert_int_equal(mes_store_tx_begin(st), MES_OK);
  int rc = mes_store_event_insert(st, &row);
  if (rc != MES_OK) {
    mes_store_tx_rollback(st);
    return -rc;
  }
  uint64_t ticket;
  assert_int_equal(mes_store_tx_commit(st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(st, ticket), MES_OK);
  return row.id;
}

struct collect {
  int n;
  int64_t ids[64];
  int64_t ts[64];
  int stop_after;
};

static int collect_event(void *ud, const struct mes_event_row *r) {
  struct collect *c = ud;
  assert_int_equal(r->sealed_len, sizeof "sealed-bytes");
  assert_memory_equal(r->sealed, "sealed-bytes", r->sealed_len);
  c->ids[c->n] = r->id;
  c->ts[c->n] = r->ts_ms;
  c->n++;
  return c->stop_after && c->n >= c->stop_after;
}

static int count_events_of(struct mes_store *st, int64_t sid) {
  struct collect c = {0};
  assert_int_equal(mes_store_event_list(st, sid, collect_event, &c), MES_OK);
  return c.n;
}

/* --- schema --- */

static void test_open_without_create_needs_a_store(void **state) {
  struct fx *f = *state;
  char empty[80];
  snprintf(empty, sizeof empty, "%s/empty", f->dir);
  assert_int_equal(mkdir(empty, 0700), 0);
  struct mes_store *st = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(empty, MES_STORE_SQLITE, false, &st, &err), MES_ENOT_FOUND);
  assert_null(st);
}

static void test_migrations_idempotent_on_reopen(void **state) {
  struct fx *f = *state;
  int v = mes_store_schema_version(f->st);
  assert_true(v >= 1);
  assert_int_equal(mes_store_meta_set(f->st, "instance", "abc"), MES_OK);
  reopen(f);
  assert_int_equal(mes_store_schema_version(f->st), v);
  reopen(f);
  assert_int_equal(mes_store_schema_version(f->st), v);
  char out[16];
  assert_int_equal(mes_store_meta_get(f->st, "instance", out, sizeof out), MES_OK);
  assert_string_equal(out, "abc");

  /* The database files are private to their owner. */
  char p[128];
  struct stat sb;
  snprintf(p, sizeof p, "%s/mesura.db", f->dir);
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_mode & 077, 0);
  snprintf(p, sizeof p, "%s/keys.db", f->dir);
  assert_int_equal(stat(p, &sb), 0);
  assert_int_equal(sb.st_mode & 077, 0);
}

static void test_meta(void **state) {
  struct fx *f = *state;
  char out[8];
  assert_int_equal(mes_store_meta_get(f->st, "k", out, sizeof out), MES_ENOT_FOUND);
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_meta_set(f->st, "k", "v1"), MES_OK);
  assert_int_equal(mes_store_meta_set(f->st, "k", "v2"), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, NULL), MES_OK);
  assert_int_equal(mes_store_meta_get(f->st, "k", out, sizeof out), MES_OK);
  assert_string_equal(out, "v2");
  assert_int_equal(mes_store_meta_set(f->st, "k", "longer than 8"), MES_OK);
  assert_int_equal(mes_store_meta_get(f->st, "k", out, sizeof out), MES_EINTERNAL);
}

/* --- subjects --- */

static void test_subjects(void **state) {
  struct fx *f = *state;
  uint8_t pn[32];
  struct mes_subject_row row;
  pn_of(pn, 1);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  int64_t a = new_subject(f->st, 1);
  int64_t b = new_subject(f->st, 2);
  assert_int_not_equal(a, b);
  assert_int_equal(new_subject(f->st, 1), a); /* ensure finds the existing row */
  assert_int_equal(mes_store_subject_count(f->st), 2);

  assert_int_equal(mes_store_subject_set_granted(f->st, a, 0x5), MES_OK);
  assert_int_equal(mes_store_subject_set_restricted(f->st, a, true), MES_OK);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);
  assert_int_equal(row.id, a);
  assert_int_equal(row.granted, 0x5);
  assert_true(row.restricted);
  assert_int_equal(row.created_ms, 1000);
  assert_int_equal(mes_store_subject_set_granted(f->st, 999, 1), MES_ENOT_FOUND);

  /* Ids are never reused, even after the highest one is deleted. */
  assert_int_equal(mes_store_subject_delete(f->st, b), MES_OK);
  int64_t c = new_subject(f->st, 3);
  assert_true(c > b);
}

/* --- events --- */

static void test_event_insert_list_delete(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  int64_t other = new_subject(f->st, 2);
  int64_t e1 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 300, .purposes = 1});
  int64_t e2 = add_event(f->st, sid, (struct ev_spec){.type = 1, .ts_ms = 100, .purposes = 1});
  int64_t e3 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 200, .purposes = 1});
  add_event(f->st, other, (struct ev_spec){.type = 0, .ts_ms = 50, .purposes = 1});
  assert_true(e1 > 0 && e2 > e1 && e3 > e2);

  struct collect c = {0};
  assert_int_equal(mes_store_event_list(f->st, sid, collect_event, &c), MES_OK);
  assert_int_equal(c.n, 3);
  /* Oldest first. */
  assert_int_equal(c.ids[0], e2);
  assert_int_equal(c.ids[1], e3);
  assert_int_equal(c.ids[2], e1);
  /* In the order stored, for callers that order what they keep. */
  struct collect stored = {0};
  assert_int_equal(mes_store_event_list_stored(f->st, sid, collect_event, &stored), MES_OK);
  assert_int_equal(stored.n, 3);
  assert_int_equal(stored.ids[0], e1);
  assert_int_equal(stored.ids[1], e2);
  assert_int_equal(stored.ids[2], e3);

  struct collect one = {.stop_after = 1};
  assert_int_equal(mes_store_event_list(f->st, sid, collect_event, &one), MES_OK);
  assert_int_equal(one.n, 1);

  struct collect all = {0};
  assert_int_equal(mes_store_event_scan(f->st, collect_event, &all), MES_OK);
  assert_int_equal(all.n, 4);
  assert_int_equal(mes_store_event_count(f->st), 4);

  assert_int_equal(mes_store_event_delete(f->st, other, e3), MES_ENOT_FOUND); /* not theirs */
  assert_int_equal(mes_store_event_delete(f->st, sid, e3), MES_OK);
  assert_int_equal(mes_store_event_delete(f->st, sid, e3), MES_ENOT_FOUND);
  assert_int_equal(count_events_of(f->st, sid), 2);
}

static void test_duplicate_eid(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  int64_t other = new_subject(f->st, 2);
  assert_true(add_event(f->st, sid, (struct ev_spec){.ts_ms = 1, .purposes = 1, .eid = 777}) > 0);
  assert_int_equal(add_event(f->st, sid, (struct ev_spec){.ts_ms = 2, .purposes = 1, .eid = 777}), -MES_EEXISTS);
  /* The same event_id of another subject, and events without one, are fine. */
  assert_true(add_event(f->st, other, (struct ev_spec){.ts_ms = 3, .purposes = 1, .eid = 777}) > 0);
  assert_true(add_event(f->st, sid, (struct ev_spec){.ts_ms = 4, .purposes = 1}) > 0);
  assert_true(add_event(f->st, sid, (struct ev_spec){.ts_ms = 5, .purposes = 1}) > 0);
  assert_int_equal(count_events_of(f->st, sid), 3);

  /* A duplicate inside a larger transaction fails alone; the rest commits. */
  static const uint8_t blob[] = "sealed-bytes";
  struct mes_event_row ok = {.sid = sid, .ts_ms = 6, .purposes = 1, .eid = 900, .sealed = blob,
                             .sealed_len = sizeof blob};
  struct mes_event_row dup = ok;
  dup.eid = 777;
  uint64_t t;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_event_insert(f->st, &dup), MES_EEXISTS);
  assert_int_equal(mes_store_event_insert(f->st, &ok), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, &t), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, t), MES_OK);
  assert_int_equal(count_events_of(f->st, sid), 4);
}

/* Many rows in few statements (mes_store_event_insert_many): the order of
 * the rows, retries by eid skipped and counted (stored before, or earlier in
 * the same call), a remainder after the full groups, the caller's rollback. */
static void test_event_insert_many(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  int64_t other = new_subject(f->st, 2);
  assert_true(add_event(f->st, sid, (struct ev_spec){.ts_ms = 5, .purposes = 1, .eid = 22}) > 0);
  static const uint8_t blob[] = "sealed-bytes";
  struct mes_event_row rows[70];
  for (int i = 0; i < 70; i++) { /* 40 of sid, then 30 of other: two groups of 32 and 6 single rows */
    rows[i] = (struct mes_event_row){.sid = i < 40 ? sid : other, .type = i % 2, .ts_ms = 100 + i, .purposes = 1,
                                     .sealed = blob, .sealed_len = sizeof blob};
  }
  rows[3].eid = 11;
  rows[10].eid = 11; /* the same event twice in one call */
  rows[20].eid = 22; /* stored before */
  rows[50].eid = 11; /* another subject's event_id 11: not a retry */
  rows[69].eid = 33;
  size_t dup = 99;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_event_insert_many(f->st, rows, 70, &dup), MES_OK);
  uint64_t ticket;
  assert_int_equal(mes_store_tx_commit(f->st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, ticket), MES_OK);
  assert_int_equal(dup, 2);

  struct collect c = {0};
  assert_int_equal(mes_store_event_list(f->st, sid, collect_event, &c), MES_OK);
  assert_int_equal(c.n, 1 + 40 - 2);
  assert_int_equal(c.ts[0], 5);
  int64_t want = 100;
  for (int k = 1; k < c.n; k++, want++) {
    if (want == 110 || want == 120) /* the two retries */
      want++;
    assert_int_equal(c.ts[k], want);
    assert_true(c.ids[k] > c.ids[k - 1]); /* ids follow the rows' order */
  }
  assert_int_equal(count_events_of(f->st, other), 30);
  assert_int_equal(mes_store_event_count(f->st), 1 + 68);

  /* The last row of the call was stored under its eid: a plain insert now clashes. */
  assert_int_equal(add_event(f->st, other, (struct ev_spec){.ts_ms = 1, .purposes = 1, .eid = 33}), -MES_EEXISTS);

  /* Nothing, then a call outside a transaction (durable on return), then one rolled back. */
  assert_int_equal(mes_store_event_insert_many(f->st, rows, 0, &dup), MES_OK);
  assert_int_equal(dup, 0);
  assert_int_equal(mes_store_event_insert_many(f->st, rows + 60, 5, NULL), MES_OK);
  assert_int_equal(count_events_of(f->st, other), 35);
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_event_insert_many(f->st, rows + 40, 20, &dup), MES_OK);
  mes_store_tx_rollback(f->st);
  assert_int_equal(count_events_of(f->st, other), 35);
  assert_int_equal(mes_store_event_insert_many(f->st, NULL, 1, NULL), MES_EINTERNAL);
}

/* The retention sweep finds events stored by insert_many, including old
 * ones in a group of rows whose ids straddle two runs of 4,096 ids. */
static void test_event_insert_many_sweep(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  for (int i = 0; i < 5; i++) /* ids 1-5: the call's groups of 32 then start at id 6, one spans 4070-4101 */
    add_event(f->st, sid, (struct ev_spec){.type = 2, .ts_ms = 100000, .purposes = 1});
  static const uint8_t blob[] = "sealed-bytes";
  enum { N = 10000 };
  struct mes_event_row *rows = calloc(N, sizeof *rows);
  assert_non_null(rows);
  for (int i = 0; i < N; i++)
    rows[i] = (struct mes_event_row){.sid = sid, .type = i % 2, .ts_ms = 100000 + i, .purposes = 1,
                                     .sealed = blob, .sealed_len = sizeof blob};
  rows[4084].type = 0; /* id 4090, before the run boundary */
  rows[4084].ts_ms = 10;
  rows[4094].type = 1; /* id 4100, after it, in the same statement */
  rows[4094].ts_ms = 20;
  rows[9000].type = 0;
  rows[9000].ts_ms = 30;
  assert_int_equal(mes_store_event_insert_many(f->st, rows, N, NULL), MES_OK);
  free(rows);
  int64_t n = -1;
  assert_int_equal(mes_store_event_sweep(f->st, 0, 100000, &n), MES_OK);
  assert_int_equal(n, 2);
  assert_int_equal(mes_store_event_sweep(f->st, 1, 100000, &n), MES_OK);
  assert_int_equal(n, 1);
  assert_int_equal(mes_store_event_count(f->st), 5 + N - 3);
  int64_t n0 = -1, n1 = -1;
  assert_int_equal(mes_store_event_sweep(f->st, 0, 100000 + N, &n0), MES_OK);
  assert_int_equal(mes_store_event_sweep(f->st, 1, 100000 + N, &n1), MES_OK);
  assert_int_equal(n0 + n1, N - 3);
  assert_int_equal(mes_store_event_count(f->st), 5);
}

/* A read session reads one snapshot (taken at its first read) until it
 * ends, also when nested; inside the thread's own transaction reads see
 * that transaction, session or not. */
static void test_read_session(void **state) {
  struct fx *f = *state;
  struct mes_store *other = open_store(f->dir, false); /* another writer, as another process */
  new_subject(f->st, 1);
  uint8_t pn[32];
  struct mes_subject_row row;

  mes_store_read_begin(f->st);
  pn_of(pn, 1);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);
  new_subject(other, 2); /* durable, after the session's snapshot */
  pn_of(pn, 2);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  mes_store_read_begin(f->st); /* nested: same snapshot */
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  mes_store_read_end(f->st);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  mes_store_read_end(f->st);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);

  /* Inside our own transaction: its writes are seen. */
  uint64_t ticket;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  pn_of(pn, 3);
  assert_int_equal(mes_store_subject_ensure(f->st, pn, 1000, &row), MES_OK);
  mes_store_read_begin(f->st);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);
  mes_store_read_end(f->st);
  assert_int_equal(mes_store_tx_commit(f->st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, ticket), MES_OK);

  /* A thread holds a session on one store at a time: one begun on another
   * store meanwhile reads as without a session (fresh rows). */
  mes_store_read_begin(f->st);
  pn_of(pn, 1);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);
  mes_store_read_begin(other);
  new_subject(other, 4);
  pn_of(pn, 4);
  assert_int_equal(mes_store_subject_find(other, pn, &row), MES_OK);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  mes_store_read_end(other);
  mes_store_read_end(f->st);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);
  mes_store_close(other);
}

/* The stamp (largest event id, count) of one subject's events moves with
 * every insert and delete of theirs, by whichever path (delete, purge,
 * sweep, the subject's deletion), never with another subject's, and a read
 * session sees it as of its snapshot. A delete followed by an insert keeps
 * the count but not the stamp: ids are never reused. */
static void expect_stamp(struct mes_store *st, int64_t sid, int64_t max_id, int64_t n) {
  int64_t m = -1, k = -1;
  assert_int_equal(mes_store_event_stamp(st, sid, &m, &k), MES_OK);
  assert_int_equal(m, max_id);
  assert_int_equal(k, n);
}

static void test_event_stamp(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  int64_t other = new_subject(f->st, 2);
  expect_stamp(f->st, sid, 0, 0);
  expect_stamp(f->st, 424242, 0, 0); /* no such subject */
  int64_t e1 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 300, .purposes = 1});
  int64_t e2 = add_event(f->st, sid, (struct ev_spec){.type = 1, .ts_ms = 100, .purposes = 2});
  int64_t e3 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 200, .purposes = 1});
  expect_stamp(f->st, sid, e3, 3);
  int64_t o1 = add_event(f->st, other, (struct ev_spec){.type = 0, .ts_ms = 50, .purposes = 1});
  expect_stamp(f->st, sid, e3, 3);
  expect_stamp(f->st, other, o1, 1);

  /* A delete of the newest lowers both; an older one, the count. */
  assert_int_equal(mes_store_event_delete(f->st, sid, e3), MES_OK);
  expect_stamp(f->st, sid, e2, 2);
  int64_t e4 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 10, .purposes = 1}); /* backdated */
  expect_stamp(f->st, sid, e4, 3);
  assert_int_equal(mes_store_event_delete(f->st, sid, e1), MES_OK);
  expect_stamp(f->st, sid, e4, 2);
  int64_t e5 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 400, .purposes = 1});
  assert_int_equal(mes_store_event_delete(f->st, sid, e5), MES_OK);
  int64_t e6 = add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 400, .purposes = 1});
  assert_true(e6 > e5); /* AUTOINCREMENT: the deleted newest id is not given out again */
  expect_stamp(f->st, sid, e6, 3);

  /* Batched inserts (a retry skipped), purges and sweeps move it too. */
  static const uint8_t blob[] = "sealed-bytes";
  struct mes_event_row rows[2] = {
      {.sid = sid, .type = 2, .ts_ms = 500, .purposes = 4, .eid = 77, .sealed = blob, .sealed_len = sizeof blob},
      {.sid = sid, .type = 2, .ts_ms = 501, .purposes = 4, .eid = 77, .sealed = blob, .sealed_len = sizeof blob}};
  uint64_t t;
  size_t dup = 0;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_event_insert_many(f->st, rows, 2, &dup), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, &t), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, t), MES_OK);
  assert_int_equal(dup, 1);
  int64_t max_id = 0, n = 0;
  assert_int_equal(mes_store_event_stamp(f->st, sid, &max_id, &n), MES_OK);
  assert_true(max_id > e6);
  assert_int_equal(n, 4);
  int64_t gone = -1;
  assert_int_equal(mes_store_event_purge_purposes(f->st, sid, 0x1, &gone), MES_OK);
  assert_int_equal(gone, 2); /* e2 (purpose 2) and the batched one (purpose 4) */
  expect_stamp(f->st, sid, e6, 2);
  assert_int_equal(mes_store_event_sweep(f->st, 0, 20, &gone), MES_OK);
  assert_int_equal(gone, 1); /* e4, backdated to 10 (the other's, at 50, stays) */
  expect_stamp(f->st, sid, e6, 1);

  /* A read session reads the stamp of its snapshot. */
  struct mes_store *b = open_store(f->dir, false); /* another writer, as another process */
  mes_store_read_begin(f->st);
  expect_stamp(f->st, sid, e6, 1);
  int64_t e7 = add_event(b, sid, (struct ev_spec){.type = 0, .ts_ms = 600, .purposes = 1});
  expect_stamp(f->st, sid, e6, 1);
  mes_store_read_end(f->st);
  expect_stamp(f->st, sid, e7, 2);
  mes_store_close(b);

  /* The subject's deletion takes the stamp back to nothing. */
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_subject_delete(f->st, sid), MES_OK);
  expect_stamp(f->st, sid, 0, 0); /* inside the transaction: its own writes */
  assert_int_equal(mes_store_tx_commit(f->st, &t), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, t), MES_OK);
  expect_stamp(f->st, sid, 0, 0);
  expect_stamp(f->st, other, o1, 1);
  int64_t m = 5, k = 5;
  assert_int_equal(mes_store_event_stamp(NULL, sid, &m, &k), MES_EINTERNAL);
  assert_true(m == 0 && k == 0);
}

static void test_purge_by_purposes(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  int64_t other = new_subject(f->st, 2);
  static const struct {
    uint32_t purposes;
    bool kept;
  } rows[] = {{0x1, true}, {0x2, false}, {0x3, true}, {0x4, false}, {0x6, false}};
  size_t n_rows = sizeof rows / sizeof rows[0];
  int64_t ids[8];
  for (size_t i = 0; i < n_rows; i++)
    ids[i] = add_event(f->st, sid, (struct ev_spec){.ts_ms = (int64_t)i, .purposes = rows[i].purposes});
  add_event(f->st, other, (struct ev_spec){.ts_ms = 9, .purposes = 0x2});

  int64_t n = -1;
  assert_int_equal(mes_store_event_purge_purposes(f->st, sid, 0x1, &n), MES_OK);
  assert_int_equal(n, 3);
  struct collect c = {0};
  assert_int_equal(mes_store_event_list(f->st, sid, collect_event, &c), MES_OK);
  size_t k = 0;
  for (size_t i = 0; i < n_rows; i++)
    if (rows[i].kept)
      assert_int_equal(c.ids[k++], ids[i]);
  assert_int_equal(c.n, (int)k);
  assert_int_equal(count_events_of(f->st, other), 1); /* another subject is untouched */
}

static void test_sweep_by_age(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 100, .purposes = 1});
  add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 149, .purposes = 1});
  add_event(f->st, sid, (struct ev_spec){.type = 0, .ts_ms = 150, .purposes = 1});
  add_event(f->st, sid, (struct ev_spec){.type = 1, .ts_ms = 100, .purposes = 1});
  int64_t n = -1;
  assert_int_equal(mes_store_event_sweep(f->st, 0, 150, &n), MES_OK);
  assert_int_equal(n, 2);
  assert_int_equal(mes_store_event_count(f->st), 2);
  assert_int_equal(mes_store_event_sweep(f->st, 0, 150, &n), MES_OK);
  assert_int_equal(n, 0);
}

/* The sweep finds old events through per-run spans (migration step 4): events
 * backdated anywhere among many runs, of several types, in one transaction,
 * and a span written by a rolled-back savepoint that a later insert into the
 * same run must write again. */
static void test_sweep_spans(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  static const uint8_t blob[] = "sealed-bytes";
  const int64_t n_rows = 10000; /* about three runs of 4,096 ids */
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  for (int64_t i = 0; i < n_rows; i++) {
    int64_t ts = 100000 + i;
    if (i == 5000 || i == 9000)
      ts = 10 + i; /* backdated, in the middle of later runs */
    struct mes_event_row row = {.sid = sid, .type = (int)(i % 3 == 0), .ts_ms = ts, .purposes = 1,
                                .sealed = blob, .sealed_len = sizeof blob};
    assert_int_equal(mes_store_event_insert(f->st, &row), MES_OK);
  }
  uint64_t ticket;
  assert_int_equal(mes_store_tx_commit(f->st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, ticket), MES_OK);
  int64_t n = -1;
  /* 5000 is type 0 (5000 % 3 != 0), 9000 is type 1 */
  assert_int_equal(mes_store_event_sweep(f->st, 0, 100000, &n), MES_OK);
  assert_int_equal(n, 1);
  assert_int_equal(mes_store_event_sweep(f->st, 1, 100000, &n), MES_OK);
  assert_int_equal(n, 1);
  assert_int_equal(mes_store_event_count(f->st), n_rows - 2);
  assert_int_equal(mes_store_event_sweep(f->st, 0, 100000, &n), MES_OK);
  assert_int_equal(n, 0);

  /* A rolled-back insert, then one into the same run with a later ts_ms. */
  struct mes_event_row gone = {.sid = sid, .type = 2, .ts_ms = 500, .purposes = 1, .sealed = blob,
                               .sealed_len = sizeof blob};
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_event_insert(f->st, &gone), MES_OK);
  mes_store_tx_rollback(f->st);
  int64_t kept = add_event(f->st, sid, (struct ev_spec){.type = 2, .ts_ms = 600, .purposes = 1});
  assert_true(kept > 0);
  assert_int_equal(mes_store_event_sweep(f->st, 2, 700, &n), MES_OK);
  assert_int_equal(n, 1);

  /* Everything older than the newest: every run of both types is emptied. */
  int64_t before = 100000 + n_rows;
  int64_t n0 = -1, n1 = -1;
  assert_int_equal(mes_store_event_sweep(f->st, 0, before, &n0), MES_OK);
  assert_int_equal(mes_store_event_sweep(f->st, 1, before, &n1), MES_OK);
  assert_int_equal(n0 + n1, n_rows - 2);
  assert_int_equal(mes_store_event_count(f->st), 0);
}

/* --- consents, preferences, impressions --- */

struct co_collect {
  int n;
  int purposes[8];
};

static int collect_consent(void *ud, const struct mes_consent_row *r) {
  struct co_collect *c = ud;
  c->purposes[c->n++] = r->purpose;
  return 0;
}

/* Counts rows, and checks each comes back with the bytes it was stored with
 * (a sealed blob stands for the items: the store never reads it). */
static int count_impression(void *ud, const struct mes_impression_row *row) {
  assert_int_equal(row->sealed_len, 5);
  assert_memory_equal(row->sealed, "bytes", 5);
  (*(int *)ud)++;
  return 0;
}

static int add_impression(struct mes_store *st, int64_t sid, int channel, int64_t ts_ms) {
  return mes_store_impression_add(
      st, &(struct mes_impression_row){sid, ts_ms, channel, (const uint8_t *)"bytes", 5});
}

static void test_consents_prefs_impressions(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  static const uint8_t receipt[] = "sealed-receipt";
  for (int p = 0; p < 3; p++) {
    struct mes_consent_row row = {.sid = sid, .purpose = p, .status = 1, .ts_ms = 10 + p, .sealed = receipt,
                                  .sealed_len = sizeof receipt};
    assert_int_equal(mes_store_consent_append(f->st, &row), MES_OK);
    assert_true(row.id > 0);
  }
  struct co_collect c = {0};
  assert_int_equal(mes_store_consent_list(f->st, sid, collect_consent, &c), MES_OK);
  assert_int_equal(c.n, 3);
  assert_int_equal(c.purposes[0], 0);
  assert_int_equal(c.purposes[2], 2);

  uint8_t *pref = NULL;
  size_t len = 0;
  assert_int_equal(mes_store_pref_get(f->st, sid, &pref, &len), MES_ENOT_FOUND);
  assert_int_equal(mes_store_pref_put(f->st, sid, (const uint8_t *)"one", 3), MES_OK);
  assert_int_equal(mes_store_pref_put(f->st, sid, (const uint8_t *)"two!", 4), MES_OK);
  assert_int_equal(mes_store_pref_get(f->st, sid, &pref, &len), MES_OK);
  assert_int_equal(len, 4);
  assert_memory_equal(pref, "two!", 4);
  free(pref);

  assert_int_equal(add_impression(f->st, sid, 0, 100), MES_OK);
  assert_int_equal(add_impression(f->st, sid, 2, 200), MES_OK);
  assert_int_equal(add_impression(f->st, sid, 0, 300), MES_OK);
  int n = 0;
  assert_int_equal(mes_store_impression_list(f->st, sid, 150, count_impression, &n), MES_OK);
  assert_int_equal(n, 2);
  int64_t swept = 0;
  assert_int_equal(mes_store_impression_sweep(f->st, 250, &swept), MES_OK);
  assert_int_equal(swept, 2);
}

static void test_subject_delete_removes_everything(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  int64_t other = new_subject(f->st, 2);
  for (int i = 0; i < 3; i++) {
    add_event(f->st, sid, (struct ev_spec){.ts_ms = i, .purposes = 1, .eid = 10 + i});
    add_event(f->st, other, (struct ev_spec){.ts_ms = i, .purposes = 1});
  }
  static const uint8_t blob[] = "x";
  struct mes_consent_row co = {.sid = sid, .purpose = 0, .status = 1, .sealed = blob, .sealed_len = 1};
  assert_int_equal(mes_store_consent_append(f->st, &co), MES_OK);
  co.sid = other;
  assert_int_equal(mes_store_consent_append(f->st, &co), MES_OK);
  assert_int_equal(mes_store_pref_put(f->st, sid, blob, 1), MES_OK);
  assert_int_equal(add_impression(f->st, sid, 0, 1), MES_OK);

  uint64_t t;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_subject_delete(f->st, sid), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, &t), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, t), MES_OK);
  reopen(f);

  uint8_t pn[32];
  struct mes_subject_row row;
  pn_of(pn, 1);
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  assert_int_equal(count_events_of(f->st, sid), 0);
  struct co_collect c = {0};
  assert_int_equal(mes_store_consent_list(f->st, sid, collect_consent, &c), MES_OK);
  assert_int_equal(c.n, 0);
  uint8_t *pref = NULL;
  size_t len;
  assert_int_equal(mes_store_pref_get(f->st, sid, &pref, &len), MES_ENOT_FOUND);
  int n = 0;
  assert_int_equal(mes_store_impression_list(f->st, sid, 0, count_impression, &n), MES_OK);
  assert_int_equal(n, 0);

  /* The other subject keeps all its data. */
  assert_int_equal(count_events_of(f->st, other), 3);
  assert_int_equal(mes_store_consent_list(f->st, other, collect_consent, &c), MES_OK);
  assert_int_equal(c.n, 1);
  assert_int_equal(mes_store_subject_count(f->st), 1);
  assert_int_equal(mes_store_subject_delete(f->st, sid), MES_ENOT_FOUND);
}

/* --- transactions and durability --- */

static void test_rollback_leaves_nothing(void **state) {
  struct fx *f = *state;
  uint8_t pn[32];
  struct mes_subject_row row;
  pn_of(pn, 1);
  static const uint8_t blob[] = "sealed-bytes";
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_subject_ensure(f->st, pn, 5, &row), MES_OK);
  struct mes_event_row ev = {.sid = row.id, .ts_ms = 1, .purposes = 1, .sealed = blob, .sealed_len = sizeof blob};
  assert_int_equal(mes_store_event_insert(f->st, &ev), MES_OK);
  assert_int_equal(mes_store_item_put(f->st, "tent", "{}", 1), MES_OK);
  /* Reads inside the transaction see its writes. */
  assert_int_equal(mes_store_event_count(f->st), 1);
  mes_store_tx_rollback(f->st);

  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_ENOT_FOUND);
  assert_int_equal(mes_store_event_count(f->st), 0);
  assert_int_equal(mes_store_item_count(f->st), 0);

  /* An earlier committed transaction of the same batch survives a later
   * rollback. */
  uint64_t t1;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_item_put(f->st, "kept", "{}", 1), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, &t1), MES_OK);
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_item_put(f->st, "dropped", "{}", 1), MES_OK);
  mes_store_tx_rollback(f->st);
  assert_int_equal(mes_store_wait_durable(f->st, t1), MES_OK);
  reopen(f);
  char *doc = NULL;
  assert_int_equal(mes_store_item_get(f->st, "kept", &doc), MES_OK);
  free(doc);
  assert_int_equal(mes_store_item_get(f->st, "dropped", &doc), MES_ENOT_FOUND);

  /* Misuse is refused, not a crash. */
  assert_int_equal(mes_store_tx_commit(f->st, &t1), MES_EINTERNAL);
  mes_store_tx_rollback(f->st);
}

static void test_wait_durable_inside_tx_is_refused(void **state) {
  struct fx *f = *state;
  uint64_t t;
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_item_put(f->st, "a", "{}", 1), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->st, &t), MES_OK);
  assert_int_equal(mes_store_tx_begin(f->st), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->st, t), MES_EINTERNAL);
  mes_store_tx_rollback(f->st);
  assert_int_equal(mes_store_wait_durable(f->st, t), MES_OK);
}

/* The child acknowledges a write only after wait_durable, tells the parent,
 * and is killed with SIGKILL before it can close anything. */
static void test_acknowledged_write_survives_kill9(void **state) {
  struct fx *f = *state;
  mes_store_close(f->st);
  f->st = NULL;
  int ack[2], hold[2];
  assert_int_equal(pipe(ack), 0);
  assert_int_equal(pipe(hold), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(ack[0]);
    close(hold[1]);
    struct mes_err err = {0};
    struct mes_store *st = NULL;
    if (mes_store_open(f->dir, MES_STORE_SQLITE, false, &st, &err) != MES_OK)
      _exit(2);
    uint8_t pn[32];
    pn_of(pn, 9);
    struct mes_subject_row row;
    static const uint8_t blob[] = "sealed-bytes";
    uint64_t t;
    if (mes_store_tx_begin(st) != MES_OK || mes_store_subject_ensure(st, pn, 1, &row) != MES_OK)
      _exit(3);
    struct mes_event_row ev = {.sid = row.id, .ts_ms = 7, .purposes = 1, .eid = 5, .sealed = blob,
                               .sealed_len = sizeof blob};
    if (mes_store_event_insert(st, &ev) != MES_OK || mes_store_tx_commit(st, &t) != MES_OK ||
        mes_store_wait_durable(st, t) != MES_OK)
      _exit(4);
    /* An unacknowledged write that may or may not survive. */
    if (mes_store_tx_begin(st) == MES_OK) {
      mes_store_item_put(st, "maybe", "{}", 1);
      mes_store_tx_commit(st, &t);
    }
    char c = 'k';
    if (write(ack[1], &c, 1) != 1)
      _exit(5);
    ssize_t r = read(hold[0], &c, 1); /* blocks until killed */
    (void)r;
    _exit(0);
  }
  close(ack[1]);
  close(hold[0]);
  char c = 0;
  assert_int_equal(read(ack[0], &c, 1), 1);
  assert_int_equal(c, 'k');
  kill(pid, SIGKILL);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  close(ack[0]);
  close(hold[1]);

  f->st = open_store(f->dir, false);
  uint8_t pn[32];
  pn_of(pn, 9);
  struct mes_subject_row row;
  assert_int_equal(mes_store_subject_find(f->st, pn, &row), MES_OK);
  assert_int_equal(count_events_of(f->st, row.id), 1);
}

struct writer_arg {
  struct mes_store *st;
  int base;
  int n;
  int failures;
};

static void *writer_main(void *p) {
  struct writer_arg *a = p;
  static const uint8_t blob[] = "sealed-bytes";
  for (int i = 0; i < a->n; i++) {
    uint8_t pn[32];
    struct mes_subject_row row;
    uint64_t t;
    pn_of(pn, a->base);
    pn[1] = (uint8_t)i;
    if (mes_store_tx_begin(a->st) != MES_OK) {
      a->failures++;
      continue;
    }
    struct mes_event_row ev = {.ts_ms = i, .purposes = 1, .sealed = blob, .sealed_len = sizeof blob};
    int rc = mes_store_subject_ensure(a->st, pn, 1, &row);
    ev.sid = row.id;
    if (rc == MES_OK)
      rc = mes_store_event_insert(a->st, &ev);
    if (rc != MES_OK) {
      mes_store_tx_rollback(a->st);
      a->failures++;
      continue;
    }
    if (mes_store_tx_commit(a->st, &t) != MES_OK || mes_store_wait_durable(a->st, t) != MES_OK)
      a->failures++;
  }
  return NULL;
}

static void test_group_commit_many_writers(void **state) {
  struct fx *f = *state;
  enum { N_THREADS = 4, N_EACH = 40 };
  pthread_t th[N_THREADS];
  struct writer_arg args[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    args[i] = (struct writer_arg){.st = f->st, .base = i + 1, .n = N_EACH};
    assert_int_equal(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
  }
  for (int i = 0; i < N_THREADS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failures, 0);
  }
  assert_int_equal(mes_store_event_count(f->st), N_THREADS * N_EACH);
  assert_int_equal(mes_store_subject_count(f->st), N_THREADS * N_EACH);
  reopen(f);
  assert_int_equal(mes_store_event_count(f->st), N_THREADS * N_EACH);
}

static void test_write_outside_tx_is_durable(void **state) {
  struct fx *f = *state;
  assert_int_equal(mes_store_item_put(f->st, "tent", "{\"title\":\"Tent\"}", 5), MES_OK);
  /* A second handle, as the CLI would open while the server runs. */
  struct mes_store *cli = open_store(f->dir, false);
  char *doc = NULL;
  assert_int_equal(mes_store_item_get(cli, "tent", &doc), MES_OK);
  assert_string_equal(doc, "{\"title\":\"Tent\"}");
  free(doc);
  struct mes_apikey_row k = {.name = "ops", .scopes = 3, .created_ms = 9};
  memset(k.hash, 0x11, 32);
  assert_int_equal(mes_store_apikey_put(cli, &k), MES_OK);
  mes_store_close(cli);
  struct mes_apikey_row got;
  assert_int_equal(mes_store_apikey_find(f->st, k.hash, &got), MES_OK);
  assert_string_equal(got.name, "ops");
}

/* --- keystore --- */

static void test_keystore(void **state) {
  struct fx *f = *state;
  uint8_t w[72], out[72];
  size_t len = 0;
  memset(w, 0x5A, sizeof w);
  assert_int_equal(mes_store_key_get(f->st, 1, out, sizeof out, &len), MES_ENOT_FOUND);
  assert_int_equal(mes_store_key_put(f->st, 1, w, sizeof w), MES_OK);
  reopen(f);
  assert_int_equal(mes_store_key_get(f->st, 1, out, sizeof out, &len), MES_OK);
  assert_int_equal(len, sizeof w);
  assert_memory_equal(out, w, sizeof w);
  assert_int_equal(mes_store_key_get(f->st, 1, out, 10, &len), MES_EINTERNAL);
  assert_int_equal(mes_store_key_delete(f->st, 1), MES_OK);
  assert_int_equal(mes_store_key_get(f->st, 1, out, sizeof out, &len), MES_ENOT_FOUND);
  assert_int_equal(mes_store_key_delete(f->st, 1), MES_ENOT_FOUND);
  reopen(f);
  assert_int_equal(mes_store_key_get(f->st, 1, out, sizeof out, &len), MES_ENOT_FOUND);
}

static void test_keystore_meta(void **state) {
  struct fx *f = *state;
  char out[16];
  assert_int_equal(mes_store_key_meta_get(f->st, "k", out, sizeof out), MES_ENOT_FOUND);
  assert_int_equal(mes_store_key_meta_set(f->st, "k", "v1"), MES_OK);
  assert_int_equal(mes_store_key_meta_set(f->st, "k", "v2"), MES_OK); /* outside any tx: durable at once */
  reopen(f);
  assert_int_equal(mes_store_key_meta_get(f->st, "k", out, sizeof out), MES_OK);
  assert_string_equal(out, "v2");
  /* It lives in keys.db, apart from the data's meta. */
  assert_int_equal(mes_store_meta_get(f->st, "k", out, sizeof out), MES_ENOT_FOUND);
  assert_int_equal(mes_store_key_meta_set(f->st, "k", "longer than sixteen"), MES_OK);
  assert_int_equal(mes_store_key_meta_get(f->st, "k", out, sizeof out), MES_EINTERNAL);
}

/* Copies file src over dst. */
static void copy_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
}

/* Opening fails with rc and a message that names the file and its path. */
static void assert_open_names(const char *dir, const char *path, int rc, const char *says) {
  struct mes_store *st = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(dir, MES_STORE_SQLITE, false, &st, &err), rc);
  assert_null(st);
  if (!strstr(err.msg, path) || !strstr(err.msg, says))
    fail_msg("\"%s\" does not name %s with \"%s\"", err.msg, path, says);
}

static void test_damaged_or_foreign_files_are_named(void **state) {
  struct fx *f = *state;
  mes_store_close(f->st);
  f->st = NULL;
  char keys[128], data[128], saved[128];
  snprintf(keys, sizeof keys, "%s/keys.db", f->dir);
  snprintf(data, sizeof data, "%s/mesura.db", f->dir);
  snprintf(saved, sizeof saved, "%s/saved", f->dir);
  copy_file(keys, saved);

  FILE *fp = fopen(keys, "wb"); /* not a database at all */
  assert_non_null(fp);
  for (int i = 0; i < 512; i++)
    fputs("garbage ", fp);
  fclose(fp);
  assert_open_names(f->dir, keys, MES_ESTORE, "keys.db is damaged or is not a mesura database");

  copy_file(data, keys); /* a database, but the other file of the store */
  assert_open_names(f->dir, keys, MES_ESTORE, "holds tables that are not mesura's");

  assert_int_equal(unlink(keys), 0);
  assert_open_names(f->dir, keys, MES_ENOT_FOUND, "keys.db is missing");

  copy_file(saved, keys);
  f->st = open_store(f->dir, false);
}

/* --- catalog and API keys --- */

struct id_collect {
  int n;
  char ids[8][16];
};

static int collect_item(void *ud, const char *id, const char *doc) {
  struct id_collect *c = ud;
  (void)doc;
  snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", id);
  return 0;
}

static void test_items(void **state) {
  struct fx *f = *state;
  static const char *const ids[] = {"d", "a", "c", "b", "e"};
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(mes_store_item_put(f->st, ids[i], "{\"v\":1}", 1), MES_OK);
  assert_int_equal(mes_store_item_put(f->st, "a", "{\"v\":2}", 2), MES_OK);
  assert_int_equal(mes_store_item_count(f->st), 5);
  char *doc = NULL;
  assert_int_equal(mes_store_item_get(f->st, "a", &doc), MES_OK);
  assert_string_equal(doc, "{\"v\":2}");
  free(doc);

  struct id_collect page = {0};
  assert_int_equal(mes_store_item_list(f->st, NULL, 2, collect_item, &page), MES_OK);
  assert_int_equal(page.n, 2);
  assert_string_equal(page.ids[0], "a");
  assert_string_equal(page.ids[1], "b");
  struct id_collect rest = {0};
  assert_int_equal(mes_store_item_list(f->st, "b", 0, collect_item, &rest), MES_OK);
  assert_int_equal(rest.n, 3);
  assert_string_equal(rest.ids[0], "c");

  assert_int_equal(mes_store_item_delete(f->st, "c"), MES_OK);
  assert_int_equal(mes_store_item_delete(f->st, "c"), MES_ENOT_FOUND);
  assert_int_equal(mes_store_item_get(f->st, "c", &doc), MES_ENOT_FOUND);
}

static int count_key(void *ud, const struct mes_apikey_row *r) {
  (void)r;
  (*(int *)ud)++;
  return 0;
}

static void test_apikeys(void **state) {
  struct fx *f = *state;
  struct mes_apikey_row a = {.name = "ingest-web", .scopes = 0x1, .created_ms = 10};
  struct mes_apikey_row b = {.name = "admin", .scopes = 0x40, .created_ms = 11};
  memset(a.hash, 1, 32);
  memset(b.hash, 2, 32);
  assert_int_equal(mes_store_apikey_put(f->st, &a), MES_OK);
  assert_int_equal(mes_store_apikey_put(f->st, &b), MES_OK);
  struct mes_apikey_row dup = a;
  memset(dup.hash, 3, 32);
  assert_int_equal(mes_store_apikey_put(f->st, &dup), MES_EEXISTS);

  struct mes_apikey_row got;
  assert_int_equal(mes_store_apikey_find(f->st, a.hash, &got), MES_OK);
  assert_string_equal(got.name, "ingest-web");
  assert_int_equal(got.scopes, 0x1);
  assert_int_equal(got.revoked_ms, 0);
  assert_int_equal(mes_store_apikey_find(f->st, dup.hash, &got), MES_ENOT_FOUND);

  assert_int_equal(mes_store_apikey_revoke(f->st, "ingest-web", 99), MES_OK);
  assert_int_equal(mes_store_apikey_revoke(f->st, "ingest-web", 120), MES_OK);
  assert_int_equal(mes_store_apikey_find(f->st, a.hash, &got), MES_OK);
  assert_int_equal(got.revoked_ms, 99); /* the first revocation stands */
  assert_int_equal(mes_store_apikey_revoke(f->st, "nobody", 99), MES_ENOT_FOUND);
  int n = 0;
  assert_int_equal(mes_store_apikey_list(f->st, count_key, &n), MES_OK);
  assert_int_equal(n, 2);
}

/* --- backup --- */

static void test_backup(void **state) {
  struct fx *f = *state;
  int64_t sid = new_subject(f->st, 1);
  add_event(f->st, sid, (struct ev_spec){.ts_ms = 1, .purposes = 1});
  add_event(f->st, sid, (struct ev_spec){.ts_ms = 2, .purposes = 1});
  assert_int_equal(mes_store_key_put(f->st, sid, (const uint8_t *)"wrapped", 7), MES_OK);

  char copy_dir[96], copy[128];
  snprintf(copy_dir, sizeof copy_dir, "%s/copy", f->dir);
  assert_int_equal(mkdir(copy_dir, 0700), 0);
  snprintf(copy, sizeof copy, "%s/mesura.db", copy_dir);
  struct mes_err err = {0};
  assert_int_equal(mes_store_backup(f->st, copy, &err), MES_OK);
  assert_int_equal(mes_store_backup(f->st, copy, &err), MES_EEXISTS);

  struct mes_store *b = open_store(copy_dir, true);
  assert_int_equal(mes_store_event_count(b), 2);
  assert_int_equal(mes_store_subject_count(b), 1);
  /* The keystore is not part of a backup. */
  uint8_t out[16];
  size_t len;
  assert_int_equal(mes_store_key_get(b, sid, out, sizeof out, &len), MES_ENOT_FOUND);
  mes_store_close(b);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_open_without_create_needs_a_store),
      T(test_migrations_idempotent_on_reopen),
      T(test_meta),
      T(test_subjects),
      T(test_event_insert_list_delete),
      T(test_duplicate_eid),
      T(test_event_insert_many),
      T(test_event_insert_many_sweep),
      T(test_read_session),
      T(test_event_stamp),
      T(test_purge_by_purposes),
      T(test_sweep_by_age),
      T(test_sweep_spans),
      T(test_consents_prefs_impressions),
      T(test_subject_delete_removes_everything),
      T(test_rollback_leaves_nothing),
      T(test_wait_durable_inside_tx_is_refused),
      T(test_acknowledged_write_survives_kill9),
      T(test_group_commit_many_writers),
      T(test_write_outside_tx_is_durable),
      T(test_keystore),
      T(test_keystore_meta),
      T(test_damaged_or_foreign_files_are_named),
      T(test_items),
      T(test_apikeys),
      T(test_backup),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
