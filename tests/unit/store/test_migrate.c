/* Unit tests of src/store's schema migrations: a store as the first schema
 * version wrote it (the SQL below is that version's, frozen here as a
 * fixture) opens, moves forward to the current version, keeps its data and
 * serves every later table; a database newer than this mesura is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

/* mesura.db at user_version 1, with a subject, three events, a consent, an
 * impression in the first (unsealed) form, an item, an API key and a
 * setting. */
static const char data_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE subjects(id INTEGER PRIMARY KEY AUTOINCREMENT, pseudonym BLOB NOT NULL UNIQUE,"
    " granted INTEGER NOT NULL DEFAULT 0, restricted INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"
    "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, subject INTEGER NOT NULL, type INTEGER NOT NULL,"
    " ts_ms INTEGER NOT NULL, purposes INTEGER NOT NULL, source INTEGER NOT NULL, eid INTEGER NOT NULL DEFAULT 0,"
    " sealed BLOB NOT NULL);"
    "CREATE INDEX events_subject ON events(subject);"
    "CREATE UNIQUE INDEX events_eid ON events(subject, eid) WHERE eid != 0;"
    "CREATE INDEX events_type_ts ON events(type, ts_ms);"
    "CREATE TABLE consents(id INTEGER PRIMARY KEY AUTOINCREMENT, subject INTEGER NOT NULL,"
    " purpose INTEGER NOT NULL, status INTEGER NOT NULL, ts_ms INTEGER NOT NULL, sealed BLOB NOT NULL);"
    "CREATE INDEX consents_subject ON consents(subject);"
    "CREATE TRIGGER consents_append_only BEFORE UPDATE ON consents"
    " BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;"
    "CREATE TABLE preferences(subject INTEGER PRIMARY KEY, sealed BLOB NOT NULL);"
    "CREATE TABLE items(id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hash BLOB NOT NULL UNIQUE,"
    " scopes INTEGER NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE impressions(subject INTEGER NOT NULL, item TEXT NOT NULL, channel INTEGER NOT NULL,"
    " ts_ms INTEGER NOT NULL);"
    "CREATE INDEX impressions_subject ON impressions(subject, ts_ms);"
    "PRAGMA user_version = 1;"
    "INSERT INTO meta VALUES('instance', 'abc');"
    "INSERT INTO subjects(pseudonym, granted, created_ms) VALUES(zeroblob(32), 1, 500);"
    "INSERT INTO events(subject, type, ts_ms, purposes, source, eid, sealed) VALUES"
    " (1, 0, 1000, 1, 0, 0, X'0102'), (1, 1, 2000, 1, 0, 7, X'0304'), (1, 0, 5000, 1, 0, 0, X'0506');"
    "INSERT INTO consents(subject, purpose, status, ts_ms, sealed) VALUES(1, 0, 1, 400, X'AA');"
    "INSERT INTO impressions VALUES(1, 'tent-2p', 0, 900);"
    "INSERT INTO items VALUES('tent-2p', '{\"title\":\"Tent\"}', 100);"
    "INSERT INTO api_keys(name, hash, scopes, created_ms) VALUES('shop', zeroblob(32), 3, 100);";

/* keys.db at user_version 1. */
static const char keys_v1[] = "CREATE TABLE subject_keys(sid INTEGER PRIMARY KEY, wrapped BLOB NOT NULL);"
                              "PRAGMA user_version = 1;"
                              "INSERT INTO subject_keys VALUES(1, X'AABBCC');";

struct fx {
  char dir[64];
  char data[96];
  char keys[96];
};

static void make_db(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK)
    fail_msg("%s: %s", path, msg);
  sqlite3_close(db);
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-migrate-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->data, sizeof f->data, "%s/mesura.db", f->dir);
  snprintf(f->keys, sizeof f->keys, "%s/keys.db", f->dir);
  make_db(f->data, data_v1);
  make_db(f->keys, keys_v1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  static const char *const files[] = {"mesura.db", "mesura.db-wal", "mesura.db-shm",
                                      "keys.db",   "keys.db-wal",   "keys.db-shm"};
  char p[160];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", f->dir, files[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static struct mes_store *open_store(const char *dir) {
  struct mes_err err = {0};
  struct mes_store *st = NULL;
  int rc = mes_store_open(dir, MES_STORE_SQLITE, false, &st, &err);
  if (rc != MES_OK)
    fail_msg("mes_store_open: %s (%s)", mes_rc_code(rc), err.msg);
  return st;
}

struct seen {
  int n;
  int64_t ts[8];
};

static int see_event(void *ud, const struct mes_event_row *r) {
  struct seen *s = ud;
  assert_int_equal(r->sealed_len, 2);
  s->ts[s->n++] = r->ts_ms;
  return 0;
}

static int see_impression(void *ud, const struct mes_impression_row *r) {
  struct seen *s = ud;
  s->ts[s->n++] = r->ts_ms;
  return 0;
}

static void test_first_version_moves_forward(void **state) {
  struct fx *f = *state;
  struct mes_store *st = open_store(f->dir);
  int v = mes_store_schema_version(st);
  assert_true(v > 1);

  /* What the first version stored is there. */
  char out[16];
  assert_int_equal(mes_store_meta_get(st, "instance", out, sizeof out), MES_OK);
  assert_string_equal(out, "abc");
  uint8_t pn[32] = {0};
  struct mes_subject_row subj;
  assert_int_equal(mes_store_subject_find(st, pn, &subj), MES_OK);
  assert_int_equal(subj.id, 1);
  assert_int_equal(subj.granted, 1);
  struct seen ev = {0};
  assert_int_equal(mes_store_event_list(st, 1, see_event, &ev), MES_OK);
  assert_int_equal(ev.n, 3);
  assert_int_equal(ev.ts[0], 1000);
  assert_int_equal(ev.ts[2], 5000);
  uint8_t key[8];
  size_t key_len = 0;
  assert_int_equal(mes_store_key_get(st, 1, key, sizeof key, &key_len), MES_OK);
  assert_int_equal(key_len, 3);
  char *doc = NULL;
  assert_int_equal(mes_store_item_get(st, "tent-2p", &doc), MES_OK);
  free(doc);
  uint8_t hash[32] = {0};
  struct mes_apikey_row ak;
  assert_int_equal(mes_store_apikey_find(st, hash, &ak), MES_OK);
  assert_string_equal(ak.name, "shop");

  /* The retention sweep finds the migrated events through the spans the
   * migration built. */
  int64_t n = 0;
  assert_int_equal(mes_store_event_sweep(st, 0, 3000, &n), MES_OK);
  assert_int_equal(n, 1);
  assert_int_equal(mes_store_event_count(st), 2);

  /* Impressions in the first form are dropped; the sealed form works. */
  struct seen imp = {0};
  assert_int_equal(mes_store_impression_list(st, 1, 0, see_impression, &imp), MES_OK);
  assert_int_equal(imp.n, 0);
  static const uint8_t sealed[] = {1, 2, 3};
  struct mes_impression_row row = {.sid = 1, .ts_ms = 6000, .channel = 0, .sealed = sealed, .sealed_len = 3};
  assert_int_equal(mes_store_impression_add(st, &row), MES_OK);
  int64_t max_id = 0;
  assert_int_equal(mes_store_impression_stamp(st, 1, &max_id, &n), MES_OK);
  assert_int_equal(n, 1);

  /* Tables of later versions: decision records, models, keystore settings. */
  struct mes_decision_row dec = {.rid = 42, .sid = 1, .ts_ms = 6000, .doc = sealed, .len = 3};
  assert_int_equal(mes_store_decision_put(st, &dec, 1), MES_OK);
  struct mes_decision_row got;
  uint8_t *got_doc = NULL;
  assert_int_equal(mes_store_decision_get(st, 42, &got, &got_doc), MES_OK);
  assert_int_equal(got.len, 3);
  free(got_doc);
  int64_t model_id = 0;
  assert_int_equal(mes_store_model_put(st, "{}", sealed, 3, 2, 6000, &model_id), MES_OK);
  assert_int_equal(mes_store_model_latest(st), model_id);
  assert_int_equal(mes_store_key_meta_get(st, "check", out, sizeof out), MES_ENOT_FOUND);
  assert_int_equal(mes_store_key_meta_set(st, "check", "k1"), MES_OK);
  mes_store_close(st);

  /* Reopening finds the current version: nothing runs again. */
  st = open_store(f->dir);
  assert_int_equal(mes_store_schema_version(st), v);
  assert_int_equal(mes_store_key_meta_get(st, "check", out, sizeof out), MES_OK);
  assert_string_equal(out, "k1");
  assert_int_equal(mes_store_event_count(st), 2);
  mes_store_close(st);
}

/* The access log as schema version 11 kept it (entries keyed by subject
 * and seq, heads without the last entry's id), frozen here: subject 1 with
 * three entries, subject 3 swept down to two (its first kept is seq 2),
 * subject 2 with one; the MACs are the backend's to keep, not to check. */
static const char access_v11[] =
    "DROP TABLE access_log;"
    "CREATE TABLE access_log(subject INTEGER NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
    " action INTEGER NOT NULL, reader TEXT NOT NULL, sealed BLOB NOT NULL, mac BLOB NOT NULL,"
    " PRIMARY KEY(subject, seq)) WITHOUT ROWID;"
    "CREATE INDEX access_log_ts ON access_log(ts_ms);"
    "ALTER TABLE access_heads DROP COLUMN last_id;"
    "INSERT INTO access_log VALUES(3, 2, 1500, 1, 'shop', X'31', zeroblob(32)), (1, 1, 1000, 1, 'shop', X'11',"
    " zeroblob(32)), (2, 1, 1100, 2, 'support', X'21', zeroblob(32)), (1, 2, 2000, 3, 'shop', X'12', zeroblob(32)),"
    " (3, 3, 2500, 1, 'shop', X'32', zeroblob(32)), (1, 3, 3000, 1, 'shop', X'13', zeroblob(32));"
    "INSERT INTO access_heads(subject, n, last, mac, first, base) VALUES(1, 3, zeroblob(32), zeroblob(32), 1, NULL),"
    " (2, 1, zeroblob(32), zeroblob(32), 1, NULL), (3, 3, zeroblob(32), zeroblob(32), 2, zeroblob(32));"
    "PRAGMA user_version = 11;";

struct acc_seen {
  int n;
  int64_t sid[8], seq[8];
  uint8_t first_byte[8];
};

static int see_access(void *ud, const struct mes_access_row *r) {
  struct acc_seen *s = ud;
  assert_true(s->n < 8);
  s->sid[s->n] = r->sid;
  s->seq[s->n] = r->seq;
  s->first_byte[s->n++] = r->sealed_len ? r->sealed[0] : 0;
  return 0;
}

static struct acc_seen access_of(struct mes_store *st, int64_t sid) {
  struct acc_seen s = {0};
  assert_int_equal(mes_store_access_list(st, sid, see_access, &s), MES_OK);
  return s;
}

static int64_t count_sql(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

/* A log kept by subject moves to write order: each chain reads back whole
 * and in order from its head, grows from its last entry, and erasure takes
 * all of it, even when a pointer is wrong (the backend then scans). */
static void test_access_log_moves_to_write_order(void **state) {
  struct fx *f = *state;
  mes_store_close(open_store(f->dir)); /* the current version, then the log put back as version 11 kept it */
  make_db(f->data, access_v11);
  struct mes_store *st = open_store(f->dir);
  struct acc_seen a = access_of(st, 1);
  assert_int_equal(a.n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(a.seq[i], i + 1);
    assert_int_equal(a.first_byte[i], 0x11 + i);
  }
  struct acc_seen c = access_of(st, 3);
  assert_int_equal(c.n, 2);
  assert_int_equal(c.seq[0], 2);
  assert_int_equal(c.first_byte[1], 0x32);
  struct mes_access_head h;
  assert_int_equal(mes_store_access_head_get(st, 1, &h), MES_OK);
  assert_true(h.last_id > 0);

  /* Subject 1's chain grows from its migrated head; the new entry points
   * back to the old last one. */
  struct mes_access_row row = {.sid = 1, .seq = 4, .ts_ms = 4000, .action = 1, .reader = "shop",
                               .sealed = (const uint8_t *)"\x14", .sealed_len = 1};
  struct mes_access_head_put put = {.head = h, .was = h};
  put.head.n = 4;
  assert_int_equal(mes_store_access_append(st, &row, 1, &put, 1), MES_OK);
  assert_true(put.head.last_id > h.last_id);
  a = access_of(st, 1);
  assert_int_equal(a.n, 4);
  assert_int_equal(a.seq[3], 4);
  assert_int_equal(a.first_byte[3], 0x14);
  mes_store_close(st);
  assert_int_equal(count_sql(f->data, "SELECT prev FROM access_log WHERE subject = 1 AND seq = 4"), h.last_id);

  /* A wrong pointer: the chain still reads whole, and erasure takes it all. */
  make_db(f->data, "UPDATE access_log SET prev = 0 WHERE subject = 1 AND seq = 3;");
  st = open_store(f->dir);
  a = access_of(st, 1);
  assert_int_equal(a.n, 4);
  assert_int_equal(a.seq[0], 1);
  assert_int_equal(a.seq[3], 4);
  struct mes_store_erased gone;
  assert_int_equal(mes_store_subject_delete_counted(st, 1, &gone), MES_OK);
  assert_int_equal(gone.accesses, 4);
  mes_store_close(st);
  assert_int_equal(count_sql(f->data, "SELECT count(*) FROM access_log WHERE subject = 1"), 0);
  assert_int_equal(count_sql(f->data, "SELECT count(*) FROM access_log"), 3);
}

static void test_newer_version_is_refused(void **state) {
  struct fx *f = *state;
  make_db(f->data, "PRAGMA user_version = 999;");
  struct mes_err err = {0};
  struct mes_store *st = NULL;
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &st, &err), MES_ESTORE);
  assert_null(st);
  assert_non_null(strstr(err.msg, "newer than this mesura knows"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_first_version_moves_forward),
      T(test_access_log_moves_to_write_order),
      T(test_newer_version_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
