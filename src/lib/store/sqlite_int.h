/*
 * store/sqlite_int — what the files of the SQLite backend share, and only
 * they include: the backend state, the statement ids and their cache, where
 * a read runs, and the functions each file offers the others. The backend's
 * design (connections, locks, group commit) is described in sqlite.c.
 *
 *   sqlite.c           open and close, the group-commit hooks, backup, the method table
 *   sqlite_conn.c      connections and their pragmas, the statement cache, reads
 *   sqlite_schema.c    the tables, their migrations and every statement's SQL
 *   sqlite_events.c    events and the event_spans that the retention sweep reads
 *   sqlite_subjects.c  subjects, the keystore, consents and preferences
 *   sqlite_answers.c   impressions and decision records
 *   sqlite_catalog.c   items and models
 *   sqlite_meta.c      meta settings and API keys
 *   sqlite_restore.c   bringing a backup's files into a data directory
 *   sqlite_audit.c     the attribute vault and the audit history
 */
#ifndef MES_STORE_SQLITE_INT_H
#define MES_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store/commit_int.h"
#include "store/store_int.h"

#define N_READERS 4 /* reader connections for reads outside a transaction */

/* Ids per event_spans row (1 << SPAN_SHIFT; migration step 4 spells 12
 * out). A span's min_ts may be lower than its events' (erasures do not
 * update it): that costs the sweep one needless read of the run, never a
 * missed event. */
#define SPAN_SHIFT 12
#define SPAN_IDS ((int64_t)1 << SPAN_SHIFT)
#define SPAN_CACHE 8 /* event types whose last span row the writer remembers */

/* event_insert_many: INSERT_ROWS rows per statement (S_EV_INSERT_MANY). Per
 * row, a statement costs more than the b-tree inserts it makes (step, halt,
 * the statement journal, AUTOINCREMENT's read and write of
 * sqlite_sequence): in a bare SQLite loop, 3.5-4.4 us of CPU per row one by
 * one, 2.5-3.0 with 16 rows per statement, 2.1-2.4 with 64
 * (bench/README.md). */
#define INSERT_ROWS 32
#define INSERT_COLS 7

/* Every statement the backend caches, by the file that runs it; the SQL is
 * mes__sq_sql[id] (sqlite_schema.c). K_* run on keys.db, the rest on
 * mesura.db. */
enum stmt_id {
  /* the group commit (sqlite.c) */
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_SAVEPOINT,
  S_RELEASE,
  S_ROLLBACK_TO,
  /* sqlite_events.c */
  S_EV_INSERT,
  S_EV_INSERT_ONE, /* event_insert_many: the rows after the last full group */
  S_EV_INSERT_MANY,
  S_EV_LIST,
  S_EV_LIST_STORED,
  S_EV_DELETE,
  S_EV_PURGE,
  S_EV_SWEEP,
  S_EV_COUNT,
  S_EV_STAMP,
  S_SPAN_PUT,
  S_SPAN_NEXT,
  S_SPAN_MIN,
  S_SPAN_SET,
  S_SPAN_DEL,
  /* sqlite_subjects.c */
  S_SUBJ_FIND,
  S_SUBJ_INSERT,
  S_SUBJ_SET_GRANTED,
  S_SUBJ_SET_RESTRICTED,
  S_SUBJ_DELETE,
  S_SUBJ_DEL_EVENTS,
  S_SUBJ_DEL_CONSENTS,
  S_SUBJ_DEL_TOKENS,
  S_SUBJ_DEL_PREFS,
  S_SUBJ_DEL_IMPRESSIONS,
  S_SUBJ_DEL_DECISIONS,
  S_SUBJ_COUNT,
  S_SUBJ_SCAN,
  S_SUBJ_SEQ_RAISE,
  S_SUBJ_SEQ_INIT,
  S_CO_APPEND,
  S_CO_LIST,
  S_PREF_PUT,
  S_PREF_GET,
  /* sqlite_answers.c */
  S_IMP_ADD,
  S_IMP_LIST,
  S_IMP_SWEEP,
  S_IMP_STAMP,
  S_IMP_HW,
  S_IMP_AFTER,
  S_DEC_PUT,
  S_DEC_GET,
  S_DEC_LIST,
  S_DEC_SWEEP,
  /* sqlite_catalog.c */
  S_ITEM_PUT,
  S_ITEM_GET,
  S_ITEM_DELETE,
  S_ITEM_VERSION_BUMP,
  S_ITEM_LIST,
  S_ITEM_COUNT,
  S_MODEL_PUT,
  S_MODEL_TRIM,
  S_MODEL_LATEST,
  S_MODEL_GET,
  S_MODEL_META,
  /* sqlite_meta.c */
  S_META_GET,
  S_META_SET,
  S_AK_PUT,
  S_AK_FIND,
  S_AK_LIST,
  S_AK_REVOKE,
  /* sqlite_tokens.c */
  S_TOK_PUT,
  S_TOK_FIND,
  S_TOK_REVOKE,
  S_TOK_SWEEP,
  /* sqlite_audit.c */
  S_ATTR_PUT,
  S_ATTR_GET,
  S_ATTR_DELETE,
  S_ATTR_SCAN,
  S_AUDIT_PUT,
  S_AUDIT_GET,
  S_AUDIT_LATEST,
  S_AUDIT_UPDATE,
  S_AUDIT_INTERRUPT,
  S_AUDIT_LIST,
  S_CO_DAYS,
  S_COUNT_ADD,
  S_COUNT_DAYS,
  S_COUNT_SWEEP,
  S_SUBJ_DEL_ATTRS,
  /* sqlite_access.c */
  S_ACC_ADD,
  S_ACC_HEAD_PUT,
  S_ACC_HEAD_NEW,
  S_ACC_HEAD_GET,
  S_ACC_LIST,
  S_ACC_LIST_ALL,
  S_ACC_HEADS,
  S_ACC_READERS,
  S_ACC_EXPIRED,
  S_ACC_HEAD_MOVE,
  S_ACC_DEL_BEFORE,
  S_ACC_STEP,
  S_ACC_GET,
  S_ACC_DEL_ID,
  S_SUBJ_DEL_ACCESS_HEAD,
  /* keys.db (sqlite_subjects.c) */
  K_PUT,
  K_GET,
  K_DELETE,
  K_META_GET,
  K_META_SET,
  S_N
};

extern const char *const mes__sq_sql[S_N];
/* event_scan's statement, prepared on a connection of its own. */
extern const char mes__sq_sql_event_scan[];

/* ------------------------------------------------------------------------ */
/* Backend state                                                            */
/* ------------------------------------------------------------------------ */

/* A read-only connection of mesura.db with its own statement cache, used by
 * one thread at a time (rd_busy). */
struct conn {
  sqlite3 *db;
  sqlite3_stmt *stmt[S_N];
};

struct sq {
  /* The writer lock and the group commit (commit_int.h); its backend is
   * this struct, through the hooks of sqlite.c. */
  struct mes_commit gc;

  char *data_path; /* owned */
  char *keys_path; /* owned */
  int schema_version;

  /* Guarded by gc's writer lock: */
  sqlite3 *db;             /* the writer connection of mesura.db */
  sqlite3_stmt *stmt[S_N]; /* all but K_*, which kmu guards */

  pthread_mutex_t kmu; /* guards kdb and stmt[K_*]; taken after the writer lock */
  sqlite3 *kdb;

  int wal_fd; /* mesura.db-wal, fdatasync'ed by the group commit after each COMMIT */

  pthread_mutex_t rmu; /* guards rd_busy and the opening of readers; held alone */
  struct conn rd[N_READERS];
  bool rd_busy[N_READERS];

  /* Guarded by the writer lock. The event_spans row each recent insert of a
   * type wrote (slot type % SPAN_CACHE): an insert into the same run at or
   * after min_ts needs no write to event_spans. Forgotten whenever a
   * rollback may have undone such a write (the group commit's forget hook)
   * and by the sweep, which rewrites spans. */
  struct {
    bool valid;
    int type;
    int64_t chunk, min_ts;
  } span_seen[SPAN_CACHE];
};

static inline struct sq *sq_of(struct mes_store *st) { return st->be; }

static inline void spans_forget(struct sq *b) { memset(b->span_seen, 0, sizeof b->span_seen); }

/* SQLite result -> mesura code. Unique violations are "already exists". */
static inline int map_rc(int rc) {
  switch (rc) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW:
    return MES_OK;
  case SQLITE_CONSTRAINT_UNIQUE:
  case SQLITE_CONSTRAINT_PRIMARYKEY:
    return MES_EEXISTS;
  }
  switch (rc & 0xff) {
  case SQLITE_NOMEM:
    return MES_ENOMEM;
  case SQLITE_FULL:
    return MES_ESTORAGE_FULL;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return MES_EUNAVAILABLE;
  default:
    return MES_ESTORE;
  }
}

/* ------------------------------------------------------------------------ */
/* Connections (sqlite_conn.c)                                              */
/* ------------------------------------------------------------------------ */

/* What a connection is for; each role has its open flags and pragmas. */
enum sq_role {
  SQ_WRITER,   /* mesura.db's writer */
  SQ_KEYS,     /* keys.db's one connection */
  SQ_READER,   /* a pooled reader of mesura.db */
  SQ_SNAPSHOT, /* a one-off read-only connection (event_scan, the backup's source) */
  SQ_COPY,     /* a one-off writable connection without pragmas (the backup's target) */
};

/* Opens path (creating the file, private to its owner, when `create`) for
 * `role`. *out is new: sqlite3_close it. err may be NULL. */
int mes__sq_open_db(const char *path, bool create, enum sq_role role, sqlite3 **out, struct mes_err *err);

/* The last part of a path, to name a file in a message. */
const char *mes__sq_base_name(const char *path);

/* ------------------------------------------------------------------------ */
/* Statement use: a cached statement, or a one-off copy when the cached one is
 * still stepping (a list callback calling the same list on this thread).    */
/* ------------------------------------------------------------------------ */

struct q {
  sqlite3_stmt *s;
  bool cached;
};

/* Prepares statement id on db into q, caching it in *slot. */
int mes__sq_q_open_on(sqlite3 *db, sqlite3_stmt **slot, enum stmt_id id, struct q *q);

/* On the writer (or keys.db for K_*). The caller holds the writer lock (kmu
 * for K_*). */
static inline int q_open(struct sq *b, enum stmt_id id, struct q *q) {
  return mes__sq_q_open_on(id >= K_PUT ? b->kdb : b->db, &b->stmt[id], id, q);
}

static inline void q_close(struct q *q) {
  if (!q->s)
    return;
  if (q->cached) {
    sqlite3_reset(q->s);
    sqlite3_clear_bindings(q->s);
  } else {
    sqlite3_finalize(q->s);
  }
  q->s = NULL;
}

/* Runs a statement without results (after the caller's binds). */
static inline int q_done(struct q *q) {
  int rc = sqlite3_step(q->s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? MES_OK : map_rc(rc);
}

/* Runs a parameterless statement. */
static inline int run(struct sq *b, enum stmt_id id) {
  struct q q;
  int rc = q_open(b, id, &q);
  if (rc == MES_OK)
    rc = q_done(&q);
  q_close(&q);
  return rc;
}

/* Runs a statement with one integer parameter; *changes gets the row count. */
static inline int run_i64(struct sq *b, enum stmt_id id, int64_t v, int64_t *changes) {
  struct q q;
  int rc = q_open(b, id, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, v);
    rc = q_done(&q);
  }
  if (changes)
    *changes = rc == MES_OK ? sqlite3_changes64(id >= K_PUT ? b->kdb : b->db) : 0;
  q_close(&q);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Writes: inside the caller's transaction or in one of their own            */
/* ------------------------------------------------------------------------ */

static inline int wr_begin(struct sq *b, bool *own) { return mes__commit_write_begin(&b->gc, own); }
static inline int wr_end(struct sq *b, bool own, int rc) { return mes__commit_write_end(&b->gc, own, rc); }

/* ------------------------------------------------------------------------ */
/* Reads outside a transaction (sqlite_conn.c)                               */
/* ------------------------------------------------------------------------ */

/* Where one read runs: the calling thread's own transaction (the writer
 * connection, writer lock held), or a reader connection of the pool. */
struct rd {
  struct sq *b;
  struct conn *c; /* NULL: the writer */
  int slot;
};

/* Picks the connection for a read; rd_end gives it back. */
void mes__sq_rd_begin(struct sq *b, struct rd *r);
void mes__sq_rd_end(struct rd *r);

static inline int rq_open(struct rd *r, enum stmt_id id, struct q *q) {
  if (!r->c)
    return q_open(r->b, id, q);
  return mes__sq_q_open_on(r->c->db, &r->c->stmt[id], id, q);
}

/* Reads shared by several tables. count_rows: the one integer a
 * parameterless statement yields (-1 on failure). read_stamp: a stamp
 * (S_EV_STAMP, S_IMP_STAMP), the largest id and the count of sid's rows.
 * get_copy: column 0 of the row selected by an id (integer iv, or text sv
 * when not NULL) into *out, new (malloc), with a NUL after it; MES_ENOT_FOUND
 * when no row. */
int64_t mes__sq_count_rows(struct sq *b, enum stmt_id id);
int mes__sq_read_stamp(struct sq *b, enum stmt_id id, int64_t sid, int64_t *max_id, int64_t *n);
int mes__sq_get_copy(struct sq *b, enum stmt_id id, int64_t iv, const char *sv, void **out, size_t *len);

/* ------------------------------------------------------------------------ */
/* Schema (sqlite_schema.c)                                                 */
/* ------------------------------------------------------------------------ */

/* Bring mesura.db / keys.db (db, opened from path) to the schema this
 * version knows; *version gets it. */
int mes__sq_migrate_data(sqlite3 *db, const char *path, int *version, struct mes_err *err);
int mes__sq_migrate_keys(sqlite3 *db, const char *path, int *version, struct mes_err *err);

/* ------------------------------------------------------------------------ */
/* The methods, by file (filled into mes__store_sqlite_ops by sqlite.c)      */
/* ------------------------------------------------------------------------ */

/* sqlite_conn.c */
void mes__sq_read_begin(struct mes_store *st);
void mes__sq_read_end(struct mes_store *st);

/* sqlite_events.c */
int mes__sq_event_insert(struct mes_store *st, struct mes_event_row *row);
int mes__sq_event_insert_many(struct mes_store *st, const struct mes_event_row *rows, size_t n, size_t *n_dup);
int mes__sq_event_list(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud);
int mes__sq_event_list_stored(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud);
int mes__sq_event_scan(struct mes_store *st, mes_store_event_cb cb, void *ud);
int mes__sq_event_delete(struct mes_store *st, int64_t sid, int64_t event_id);
int mes__sq_event_purge_purposes(struct mes_store *st, int64_t sid, uint32_t still_granted, int64_t *n);
int mes__sq_event_sweep(struct mes_store *st, int type, int64_t before_ms, int64_t *n);
int64_t mes__sq_event_count(struct mes_store *st);
int mes__sq_event_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);

/* sqlite_subjects.c */
int mes__sq_subject_find(struct mes_store *st, const uint8_t pn[32], struct mes_subject_row *out);
int mes__sq_subject_ensure(struct mes_store *st, const uint8_t pn[32], int64_t now_ms, struct mes_subject_row *out);
int mes__sq_subject_set_granted(struct mes_store *st, int64_t sid, uint32_t granted);
int mes__sq_subject_set_restricted(struct mes_store *st, int64_t sid, bool restricted);
int mes__sq_subject_delete(struct mes_store *st, int64_t sid, struct mes_store_erased *counted);
int64_t mes__sq_subject_count(struct mes_store *st);
int mes__sq_subject_scan(struct mes_store *st, mes_store_subject_cb cb, void *ud);
int mes__sq_subject_id_floor(struct mes_store *st, int64_t min_id);
int mes__sq_key_put(struct mes_store *st, int64_t sid, const uint8_t *wrapped, size_t len);
int mes__sq_key_get(struct mes_store *st, int64_t sid, uint8_t *out, size_t cap, size_t *len);
int mes__sq_key_delete(struct mes_store *st, int64_t sid);
int mes__sq_key_meta_get(struct mes_store *st, const char *key, char *out, size_t cap);
int mes__sq_key_meta_set(struct mes_store *st, const char *key, const char *value);
int mes__sq_key_rewrap(struct mes_store *st, mes_store_key_rewrap_cb cb, void *ud, const struct mes_store_kv *meta,
                       size_t n_meta, int64_t *n_keys);
int mes__sq_consent_append(struct mes_store *st, struct mes_consent_row *row);
int mes__sq_consent_list(struct mes_store *st, int64_t sid, mes_store_consent_cb cb, void *ud);
int mes__sq_pref_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len);
int mes__sq_pref_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len);

/* sqlite_answers.c */
int mes__sq_impression_add(struct mes_store *st, const struct mes_impression_row *row);
int mes__sq_impression_list(struct mes_store *st, int64_t sid, int64_t since_ms, mes_store_impression_cb cb, void *ud);
int mes__sq_impression_list_after(struct mes_store *st, int64_t sid, int64_t after_id, mes_store_impression_cb cb,
                                  void *ud);
int mes__sq_impression_sweep(struct mes_store *st, int64_t before_ms, int64_t *n);
int mes__sq_impression_purge(struct mes_store *st, int64_t sid, int64_t *n);
int mes__sq_impression_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);
int mes__sq_decision_put(struct mes_store *st, const struct mes_decision_row *rows, size_t n);
int mes__sq_decision_get(struct mes_store *st, int64_t rid, struct mes_decision_row *out, uint8_t **doc);
int mes__sq_decision_list(struct mes_store *st, int64_t sid, mes_store_decision_cb cb, void *ud);
int mes__sq_decision_sweep(struct mes_store *st, int64_t before_ms, int64_t *n);
int mes__sq_access_append(struct mes_store *st, const struct mes_access_row *rows, size_t n,
                          struct mes_access_head_put *heads, size_t n_heads);
int mes__sq_access_head_get(struct mes_store *st, int64_t sid, struct mes_access_head *out);
int mes__sq_access_list(struct mes_store *st, int64_t sid, mes_store_access_cb cb, void *ud);
/* Deletes sid's access log, entries and head, in the caller's transaction
 * (the writer lock held); *deleted gets the entries' count. */
int mes__sq_access_delete_subject(struct sq *b, int64_t sid, int64_t *deleted);
int mes__sq_access_heads(struct mes_store *st, mes_store_access_head_cb cb, void *ud);
int mes__sq_access_expired(struct mes_store *st, int64_t before_ms, mes_store_access_sid_cb cb, void *ud);
int mes__sq_access_trim(struct mes_store *st, const struct mes_access_trim *t, size_t n, int64_t *n_deleted);
int mes__sq_access_readers(struct mes_store *st, const char *reader, int64_t since_ms, mes_store_access_reader_cb cb,
                           void *ud);

/* sqlite_catalog.c */
int mes__sq_item_put(struct mes_store *st, const char *id, const char *doc, int64_t now_ms);
int mes__sq_item_get(struct mes_store *st, const char *id, char **doc);
int mes__sq_item_delete(struct mes_store *st, const char *id);
int mes__sq_item_list(struct mes_store *st, const char *after, int limit, mes_store_item_cb cb, void *ud);
int64_t mes__sq_item_count(struct mes_store *st);
int mes__sq_model_put(struct mes_store *st, const char *meta, const uint8_t *blob, size_t len, int keep, int64_t now_ms,
                      int64_t *id);
int64_t mes__sq_model_latest(struct mes_store *st);
int mes__sq_model_get(struct mes_store *st, int64_t id, char **meta, uint8_t **blob, size_t *len);

/* sqlite_meta.c */
int mes__sq_meta_get(struct mes_store *st, const char *key, char *out, size_t cap);
int mes__sq_meta_set(struct mes_store *st, const char *key, const char *value);
int mes__sq_apikey_put(struct mes_store *st, const struct mes_apikey_row *row);
int mes__sq_apikey_find(struct mes_store *st, const uint8_t hash[32], struct mes_apikey_row *out);
int mes__sq_apikey_list(struct mes_store *st, mes_store_apikey_cb cb, void *ud);
int mes__sq_apikey_revoke(struct mes_store *st, const char *name, int64_t now_ms);
int mes__sq_token_put(struct mes_store *st, const struct mes_token_row *row);
int mes__sq_token_find(struct mes_store *st, const uint8_t hash[32], struct mes_token_row *out);
int mes__sq_token_revoke_subject(struct mes_store *st, int64_t sid, int64_t now_ms, int64_t *n);
int mes__sq_token_sweep(struct mes_store *st, int64_t before_ms, int64_t *n);

/* sqlite_restore.c */
int mes__sq_install(const char *dir, const char *data_file, const char *keys_file, struct mes_err *err);
void mes__sq_install_end(const char *dir, bool keys, bool keep_new);
/* sqlite_audit.c */
int mes__sq_attr_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len);
int mes__sq_attr_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len);
int mes__sq_attr_delete(struct mes_store *st, int64_t sid);
int mes__sq_attr_scan(struct mes_store *st, mes_store_attr_cb cb, void *ud);
int mes__sq_audit_put(struct mes_store *st, int64_t now_ms, const char *doc, int64_t *id);
int mes__sq_audit_get(struct mes_store *st, int64_t id, char **doc);
int64_t mes__sq_audit_latest(struct mes_store *st);
int mes__sq_audit_update(struct mes_store *st, int64_t id, const char *doc);
int mes__sq_audit_interrupt(struct mes_store *st, const char *error, int64_t *n);
int mes__sq_audit_list(struct mes_store *st, int limit, mes_store_audit_cb cb, void *ud);
int mes__sq_consent_days(struct mes_store *st, int64_t since_ms, mes_store_consent_day_cb cb, void *ud);
int mes__sq_counts_add(struct mes_store *st, const struct mes_count_row *rows, size_t n);
int mes__sq_counts_days(struct mes_store *st, int64_t since_day, mes_store_count_cb cb, void *ud);
int mes__sq_counts_sweep(struct mes_store *st, int64_t before_day, int64_t *n);

#endif
