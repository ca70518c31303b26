/*
 * store/sqlite_schema — the SQL of mesura.db and keys.db: the tables, the
 * steps that migrate a database from any older on-disk version to this one,
 * and the text of every statement the backend runs. They sit together so
 * that a change to a table is read beside every statement it affects (and
 * the index each one relies on); the files of operations bind parameters
 * and read columns by position, in the order written here.
 *
 * Schemas are versioned with PRAGMA user_version and migrated at open by the
 * step tables data_steps[] and keys_steps[]: a store written by any earlier
 * version opens and moves forward. Append a step; never edit one, since
 * stores out there went through it as written.
 */
#include "store/sqlite_int.h"
#include <stdio.h>

/* ------------------------------------------------------------------------ */
/* Tables and migrations                                                    */
/* ------------------------------------------------------------------------ */

/* Migration steps of mesura.db: step i brings user_version from i to i + 1.
 * Only small integers are indexed on the hot insert paths (events,
 * impressions): random 32-byte keys in an index slow batched inserts ~10x. */
static const char *const data_steps[] = {
    /* 1: the first schema */
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
    /* The ledger is append-only: rows leave only with their subject. */
    "CREATE TRIGGER consents_append_only BEFORE UPDATE ON consents"
    " BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;"
    "CREATE TABLE preferences(subject INTEGER PRIMARY KEY, sealed BLOB NOT NULL);"
    "CREATE TABLE items(id TEXT PRIMARY KEY, doc TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
    "CREATE TABLE api_keys(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hash BLOB NOT NULL UNIQUE,"
    " scopes INTEGER NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE impressions(subject INTEGER NOT NULL, item TEXT NOT NULL, channel INTEGER NOT NULL,"
    " ts_ms INTEGER NOT NULL);"
    "CREATE INDEX impressions_subject ON impressions(subject, ts_ms);",
    /* 2: decision records and models */
    "CREATE TABLE decisions(rid INTEGER PRIMARY KEY, subject INTEGER NOT NULL DEFAULT 0,"
    " ts_ms INTEGER NOT NULL, doc BLOB NOT NULL);"
    "CREATE INDEX decisions_subject ON decisions(subject) WHERE subject != 0;"
    "CREATE TABLE models(id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
    " meta TEXT NOT NULL, blob BLOB NOT NULL);",
    /* 3: the decision sweep finds old records without scanning the table */
    "CREATE INDEX decisions_ts ON decisions(ts_ms);",
    /* 4: the retention sweep finds old events through event_spans, the
     * oldest ts_ms of each type in each run of SPAN_IDS consecutive ids,
     * instead of an index entry per event (events_type_ts cost 10-20% of
     * batched inserts, bench/README.md); a run is read only when it holds
     * an event to erase. */
    "DROP INDEX events_type_ts;"
    "CREATE TABLE event_spans(chunk INTEGER NOT NULL, type INTEGER NOT NULL, min_ts INTEGER NOT NULL,"
    " PRIMARY KEY(chunk, type)) WITHOUT ROWID;"
    "INSERT INTO event_spans(chunk, type, min_ts) SELECT id >> 12, type, min(ts_ms) FROM events GROUP BY 1, 2;",
    /* 5: impressions are sealed with the subject's key, one row per answer
     * (the items it showed): what a person was shown is personal data like
     * what they did, so erasure must shred it in every copy, and one row
     * instead of one per item is a tenth of the writes. The old rows held
     * item ids in the clear and are dropped, not converted (the store has no
     * keys): the frequency cap forgets at most one window at the upgrade. */
    "DROP TABLE impressions;"
    "CREATE TABLE impressions(subject INTEGER NOT NULL, ts_ms INTEGER NOT NULL, channel INTEGER NOT NULL,"
    " sealed BLOB NOT NULL);"
    "CREATE INDEX impressions_subject ON impressions(subject, ts_ms);",
    /* 6: subjects' tokens, stored as hashes like API keys, so that a token
     * works on every server sharing the store and after a restart, and can
     * be revoked; they leave with their subject. */
    "CREATE TABLE subject_tokens(hash BLOB PRIMARY KEY, subject INTEGER NOT NULL, use INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID;"
    "CREATE INDEX subject_tokens_subject ON subject_tokens(subject);",
    /* 7: the attribute vault of fairness audits (one sealed document per
     * subject, under their key, leaving with them), and the audits' own
     * results, which are aggregates over groups and name nobody. */
    "CREATE TABLE audit_attributes(subject INTEGER PRIMARY KEY, sealed BLOB NOT NULL);"
    "CREATE TABLE audits(id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
    " doc TEXT NOT NULL);",
    /* 8: the access log: entries sealed under the subject's key and chained
     * by a MAC, and each chain's head in a table apart, so that removing
     * entries, even the last ones, leaves a head that no longer matches. The
     * reader's key name is in the clear (it is the brand's, not the
     * person's) for incident scans, which then need no subject key. */
    "CREATE TABLE access_log(subject INTEGER NOT NULL, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
    " action INTEGER NOT NULL, reader TEXT NOT NULL, sealed BLOB NOT NULL, mac BLOB NOT NULL,"
    " PRIMARY KEY(subject, seq)) WITHOUT ROWID;"
    "CREATE INDEX access_log_reader ON access_log(reader, ts_ms);"
    "CREATE TABLE access_heads(subject INTEGER PRIMARY KEY, n INTEGER NOT NULL, last BLOB NOT NULL,"
    " mac BLOB NOT NULL);",
    /* 9: the access log's retention: the sweep deletes a chain's oldest
     * entries, and the head then says where the kept chain starts (first,
     * the seq of its first entry, and base, the MAC that entry chains to);
     * the sweep finds old entries by time. */
    "ALTER TABLE access_heads ADD COLUMN first INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE access_heads ADD COLUMN base BLOB;"
    "CREATE INDEX access_log_ts ON access_log(ts_ms);",
    /* 10: what the servers did per day, summed over every server sharing
     * the store (events by outcome, suppressions by rule), for the brand's
     * console: counts only, never a person. */
    ("CREATE TABLE daily_counts(day INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL,"
     " n INTEGER NOT NULL, PRIMARY KEY(day, kind, label)) WITHOUT ROWID;"),
    /* 11: incident scans find a reader's entries through access_log_ts (the
     * entries since a time, the reader filtered from the row), as the
     * retention sweep does: every read of a person's data writes an entry,
     * and an index less is a B-tree write less on that path, while incident
     * scans are rare and bounded by their --since. */
    "DROP INDEX access_log_reader;",
    /* 12: entries in the order they are written (rowid), each pointing to
     * its chain's previous entry (prev), and each head to its chain's last
     * (last_id): a batch of entries for different people then fills the
     * table's last page or two, where keyed by subject each entry dirtied a
     * page of its own, written to the WAL and again at the checkpoint.
     * Reading a person's log walks back from the head. The pointers are
     * not under any MAC: a wrong one breaks the walk, which then reads the
     * subject's entries by a scan, and verification reads every entry by
     * subject and seq, never through the pointers. Existing entries are
     * numbered by subject and seq, so prev is the row before when it holds
     * the chain's previous seq. */
    "CREATE TABLE access_log_new(id INTEGER PRIMARY KEY, subject INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " prev INTEGER NOT NULL, ts_ms INTEGER NOT NULL, action INTEGER NOT NULL, reader TEXT NOT NULL,"
    " sealed BLOB NOT NULL, mac BLOB NOT NULL);"
    "INSERT INTO access_log_new(id, subject, seq, prev, ts_ms, action, reader, sealed, mac)"
    " SELECT row_number() OVER w, subject, seq,"
    " CASE WHEN lag(subject) OVER w = subject AND lag(seq) OVER w = seq - 1 THEN row_number() OVER w - 1 ELSE 0 END,"
    " ts_ms, action, reader, sealed, mac FROM access_log WINDOW w AS (ORDER BY subject, seq);"
    "ALTER TABLE access_heads ADD COLUMN last_id INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX access_log_new_by_seq ON access_log_new(subject, seq);"
    "UPDATE access_heads SET last_id = coalesce((SELECT e.id FROM access_log_new e"
    " WHERE e.subject = access_heads.subject AND e.seq = access_heads.n), 0);"
    "DROP INDEX access_log_new_by_seq;"
    "DROP TABLE access_log;"
    "ALTER TABLE access_log_new RENAME TO access_log;"
    "CREATE INDEX access_log_ts ON access_log(ts_ms);",
};

static const char *const keys_steps[] = {
    /* 1 */
    "CREATE TABLE subject_keys(sid INTEGER PRIMARY KEY, wrapped BLOB NOT NULL);",
    /* 2: small settings of the keystore itself (the master key check) */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
};

#define N_STEPS(a) ((int)(sizeof(a) / sizeof((a)[0])))

_Static_assert(SPAN_SHIFT == 12, "step 4 writes event_spans with id >> 12");

/* ------------------------------------------------------------------------ */
/* Statements                                                               */
/* ------------------------------------------------------------------------ */

#define EVENT_COLS "id, subject, type, ts_ms, purposes, source, eid, sealed"
#define EV_VALUES1 "(?,?,?,?,?,?,?)" /* INSERT_COLS parameters */
#define EV_VALUES4 EV_VALUES1 "," EV_VALUES1 "," EV_VALUES1 "," EV_VALUES1
#define EV_VALUES16 EV_VALUES4 "," EV_VALUES4 "," EV_VALUES4 "," EV_VALUES4
#define EV_INSERT_OR_IGNORE "INSERT OR IGNORE INTO events(subject, type, ts_ms, purposes, source, eid, sealed) VALUES "
#define CONSENT_COLS "id, subject, purpose, status, ts_ms, sealed"
#define APIKEY_COLS "name, hash, scopes, created_ms, revoked_ms"
#define TOKEN_COLS "hash, subject, use, created_ms, expires_ms, revoked_ms"

_Static_assert(INSERT_ROWS == 32 && INSERT_COLS == 7, "S_EV_INSERT_MANY spells out 2 x 16 rows of 7 columns");

const char *const mes__sq_sql[S_N] = {
    /* the group commit (sqlite.c) */
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT tx",
    [S_RELEASE] = "RELEASE tx",
    [S_ROLLBACK_TO] = "ROLLBACK TO tx",
    /* sqlite_events.c */
    [S_EV_INSERT] = "INSERT INTO events(subject, type, ts_ms, purposes, source, eid, sealed)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* OR IGNORE: a row whose (subject, eid) is stored already is a retry,
     * skipped; no other constraint can fail (every column is bound). */
    [S_EV_INSERT_ONE] = EV_INSERT_OR_IGNORE EV_VALUES1,
    [S_EV_INSERT_MANY] = EV_INSERT_OR_IGNORE EV_VALUES16 "," EV_VALUES16,
    [S_EV_LIST] = "SELECT " EVENT_COLS " FROM events WHERE subject = ?1 ORDER BY ts_ms, id",
    /* The index's own order: no sort of whole rows in a temporary b-tree. */
    [S_EV_LIST_STORED] = "SELECT " EVENT_COLS " FROM events WHERE subject = ?1 ORDER BY id",
    [S_EV_DELETE] = "DELETE FROM events WHERE id = ?2 AND subject = ?1",
    [S_EV_PURGE] = "DELETE FROM events WHERE subject = ?1 AND (purposes & ?2) = 0",
    [S_EV_SWEEP] = "DELETE FROM events WHERE id >= ?1 AND id < ?2 AND type = ?3 AND ts_ms < ?4",
    [S_EV_COUNT] = "SELECT count(*) FROM events",
    /* Read from the covering index events_subject alone (its entries hold
     * the rowid, which is id): a subject's run of entries, no table row. */
    [S_EV_STAMP] = "SELECT coalesce(max(id), 0), count(*) FROM events WHERE subject = ?1",
    [S_SPAN_PUT] = "INSERT INTO event_spans(chunk, type, min_ts) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(chunk, type) DO UPDATE SET min_ts = min(min_ts, excluded.min_ts)",
    [S_SPAN_NEXT] = "SELECT chunk FROM event_spans WHERE type = ?1 AND min_ts < ?2 ORDER BY chunk LIMIT 1",
    [S_SPAN_MIN] = "SELECT min(ts_ms) FROM events WHERE id >= ?1 AND id < ?2 AND type = ?3",
    [S_SPAN_SET] = "UPDATE event_spans SET min_ts = ?3 WHERE chunk = ?1 AND type = ?2",
    [S_SPAN_DEL] = "DELETE FROM event_spans WHERE chunk = ?1 AND type = ?2",
    /* sqlite_subjects.c */
    [S_SUBJ_FIND] = "SELECT id, granted, restricted, created_ms FROM subjects WHERE pseudonym = ?1",
    [S_SUBJ_INSERT] = "INSERT INTO subjects(pseudonym, created_ms) VALUES(?1, ?2)",
    [S_SUBJ_SET_GRANTED] = "UPDATE subjects SET granted = ?2 WHERE id = ?1",
    [S_SUBJ_SET_RESTRICTED] = "UPDATE subjects SET restricted = ?2 WHERE id = ?1",
    [S_SUBJ_DELETE] = "DELETE FROM subjects WHERE id = ?1",
    [S_SUBJ_DEL_EVENTS] = "DELETE FROM events WHERE subject = ?1",
    [S_SUBJ_DEL_CONSENTS] = "DELETE FROM consents WHERE subject = ?1",
    [S_SUBJ_DEL_TOKENS] = "DELETE FROM subject_tokens WHERE subject = ?1",
    [S_SUBJ_DEL_PREFS] = "DELETE FROM preferences WHERE subject = ?1",
    [S_SUBJ_DEL_IMPRESSIONS] = "DELETE FROM impressions WHERE subject = ?1",
    [S_SUBJ_DEL_DECISIONS] = "DELETE FROM decisions WHERE subject = ?1 AND subject != 0",
    [S_SUBJ_COUNT] = "SELECT count(*) FROM subjects",
    [S_SUBJ_SCAN] = "SELECT id, granted, restricted, created_ms FROM subjects ORDER BY id",
    /* AUTOINCREMENT's high-water mark, raised (never lowered) to ?1; the
     * row exists once a subject was ever inserted, S_SUBJ_SEQ_INIT makes it
     * otherwise. */
    [S_SUBJ_SEQ_RAISE] = "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'subjects' AND seq < ?1",
    [S_SUBJ_SEQ_INIT] = "INSERT INTO sqlite_sequence(name, seq) SELECT 'subjects', ?1"
                        " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'subjects')",
    [S_CO_APPEND] = "INSERT INTO consents(subject, purpose, status, ts_ms, sealed) VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_CO_LIST] = "SELECT " CONSENT_COLS " FROM consents WHERE subject = ?1 ORDER BY id",
    [S_PREF_PUT] = "INSERT INTO preferences(subject, sealed) VALUES(?1, ?2)"
                   " ON CONFLICT(subject) DO UPDATE SET sealed = excluded.sealed",
    [S_PREF_GET] = "SELECT sealed FROM preferences WHERE subject = ?1",
    /* sqlite_answers.c */
    /* Row ids are never reused, as AUTOINCREMENT would do without a rebuild
     * of the table (migration 5 made it without): a new row takes one past
     * both the largest id held and the high-water mark that S_IMP_HW leaves
     * in meta before every deletion, so deleting the largest row cannot
     * hand its id to the next one (mes_store_impression_stamp relies on it).
     * Both subqueries are one b-tree descent. */
    [S_IMP_ADD] = "INSERT INTO impressions(rowid, subject, ts_ms, channel, sealed)"
                  " VALUES(max(coalesce((SELECT max(rowid) FROM impressions), 0),"
                  " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'impressions_hw'), 0)) + 1,"
                  " ?1, ?2, ?3, ?4)",
    [S_IMP_LIST] = "SELECT rowid, ts_ms, channel, sealed FROM impressions WHERE subject = ?1 AND ts_ms >= ?2"
                   " ORDER BY ts_ms",
    [S_IMP_SWEEP] = "DELETE FROM impressions WHERE ts_ms < ?1",
    /* From the index impressions_subject alone (its entries hold the rowid). */
    [S_IMP_STAMP] = "SELECT coalesce(max(rowid), 0), count(*) FROM impressions WHERE subject = ?1",
    /* Raises the high-water mark to the largest id held (see S_IMP_ADD);
     * run before each statement that deletes impressions, in its tx. */
    [S_IMP_HW] = "INSERT OR REPLACE INTO meta(key, value) SELECT 'impressions_hw', m"
                 " FROM (SELECT max(rowid) AS m FROM impressions)"
                 " WHERE m > coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'impressions_hw'), 0)",
    /* Through impressions_subject too: the rowid test runs on its entries. */
    [S_IMP_AFTER] = "SELECT rowid, ts_ms, channel, sealed FROM impressions WHERE subject = ?1 AND rowid > ?2"
                    " ORDER BY ts_ms",
    /* A random 63-bit rid colliding is not worth failing a batch for. */
    [S_DEC_PUT] = "INSERT OR IGNORE INTO decisions(rid, subject, ts_ms, doc) VALUES(?1, ?2, ?3, ?4)",
    [S_DEC_GET] = "SELECT subject, ts_ms, doc FROM decisions WHERE rid = ?1",
    /* "subject != 0" lets the planner use the partial index decisions_subject. */
    [S_DEC_LIST] = "SELECT rid, subject, ts_ms, doc FROM decisions WHERE subject = ?1 AND subject != 0"
                   " ORDER BY ts_ms, rid",
    [S_DEC_SWEEP] = "DELETE FROM decisions WHERE ts_ms < ?1",
    /* sqlite_catalog.c */
    [S_ITEM_PUT] = "INSERT INTO items(id, doc, updated_ms) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(id) DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms",
    [S_ITEM_GET] = "SELECT doc FROM items WHERE id = ?1",
    [S_ITEM_DELETE] = "DELETE FROM items WHERE id = ?1",
    /* Every catalog write counts in meta "catalog_version", in its own
     * transaction: another process's in-memory catalog index (a server
     * while `mesura import` runs) sees it changed (store.h). */
    [S_ITEM_VERSION_BUMP] = "INSERT INTO meta(key, value) VALUES('catalog_version', '1') ON CONFLICT(key)"
                            " DO UPDATE SET value = CAST(value AS INTEGER) + 1",
    [S_ITEM_LIST] = "SELECT id, doc FROM items WHERE id > ?1 ORDER BY id LIMIT ?2",
    [S_ITEM_COUNT] = "SELECT count(*) FROM items",
    [S_MODEL_PUT] = "INSERT INTO models(created_ms, meta, blob) VALUES(?1, ?2, ?3)",
    [S_MODEL_TRIM] = "DELETE FROM models WHERE id NOT IN (SELECT id FROM models ORDER BY id DESC LIMIT ?1)",
    [S_MODEL_LATEST] = "SELECT coalesce(max(id), 0) FROM models",
    [S_MODEL_GET] = "SELECT meta, blob FROM models WHERE id = ?1",
    [S_MODEL_META] = "SELECT meta, NULL FROM models WHERE id = ?1",
    /* sqlite_meta.c */
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_AK_PUT] = "INSERT INTO api_keys(" APIKEY_COLS ") VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_AK_FIND] = "SELECT " APIKEY_COLS " FROM api_keys WHERE hash = ?1",
    [S_AK_LIST] = "SELECT " APIKEY_COLS " FROM api_keys ORDER BY name",
    [S_AK_REVOKE] = "UPDATE api_keys SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ?2 ELSE revoked_ms END"
                    " WHERE name = ?1",
    /* sqlite_tokens.c */
    [S_TOK_PUT] = "INSERT INTO subject_tokens(" TOKEN_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, 0)",
    [S_TOK_FIND] = "SELECT " TOKEN_COLS " FROM subject_tokens WHERE hash = ?1",
    [S_TOK_REVOKE] = "UPDATE subject_tokens SET revoked_ms = ?2 WHERE subject = ?1 AND revoked_ms = 0",
    /* The caller keeps expired tokens a while (auth.h), so that they
     * answer token_expired (ask for a new one) rather than unauthorized. */
    [S_TOK_SWEEP] = "DELETE FROM subject_tokens WHERE expires_ms < ?1",
    /* sqlite_audit.c */
    [S_ATTR_PUT] = "INSERT INTO audit_attributes(subject, sealed) VALUES(?1, ?2)"
                   " ON CONFLICT(subject) DO UPDATE SET sealed = excluded.sealed",
    [S_ATTR_GET] = "SELECT sealed FROM audit_attributes WHERE subject = ?1",
    [S_ATTR_DELETE] = "DELETE FROM audit_attributes WHERE subject = ?1",
    [S_ATTR_SCAN] = "SELECT subject, sealed FROM audit_attributes ORDER BY subject",
    [S_AUDIT_PUT] = "INSERT INTO audits(created_ms, doc) VALUES(?1, ?2)",
    [S_AUDIT_GET] = "SELECT doc FROM audits WHERE id = ?1",
    [S_AUDIT_LATEST] = "SELECT coalesce(max(id), 0) FROM audits WHERE json_extract(doc, '$.status') = 'done'",
    [S_AUDIT_UPDATE] = "UPDATE audits SET doc = ?2 WHERE id = ?1",
    [S_AUDIT_INTERRUPT] = "UPDATE audits SET doc = json_set(doc, '$.status', 'failed', '$.error', json(?1))"
                          " WHERE json_extract(doc, '$.status') = 'running'",
    [S_AUDIT_LIST] = "SELECT id, created_ms, doc FROM audits ORDER BY id DESC LIMIT ?1",
    [S_CO_DAYS] = "SELECT ts_ms / 86400000 AS day, purpose, status, count(*) FROM consents WHERE ts_ms >= ?1"
                  " GROUP BY day, purpose, status ORDER BY day, purpose, status",
    [S_SUBJ_DEL_ATTRS] = "DELETE FROM audit_attributes WHERE subject = ?1",
    [S_COUNT_ADD] = "INSERT INTO daily_counts(day, kind, label, n) VALUES(?1, ?2, ?3, ?4)"
                    " ON CONFLICT(day, kind, label) DO UPDATE SET n = n + excluded.n",
    [S_COUNT_DAYS] = "SELECT day, kind, label, n FROM daily_counts WHERE day >= ?1 ORDER BY day, kind, label",
    [S_COUNT_SWEEP] = "DELETE FROM daily_counts WHERE day < ?1",
    /* sqlite_access.c */
    [S_ACC_ADD] = "INSERT INTO access_log(subject, seq, prev, ts_ms, action, reader, sealed, mac)"
                  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* A head moves on only from the head its writer extended (its MAC
     * covers the count, the last MAC and the start): one changed meanwhile
     * (a sweep, another writer, an erasure, an edit of the file) makes the
     * append fail (no row changes); a new chain's head is only inserted. */
    [S_ACC_HEAD_PUT] = "UPDATE access_heads SET n = ?2, last = ?3, mac = ?4, last_id = ?10 WHERE subject = ?1"
                       " AND mac = ?5 AND n = ?6 AND last = ?7 AND first = ?8 AND (first = 1 OR base = ?9)",
    [S_ACC_HEAD_NEW] = "INSERT INTO access_heads(subject, n, last, mac, first, base, last_id)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_ACC_HEAD_GET] = "SELECT subject, n, last, mac, first, base, last_id FROM access_heads WHERE subject = ?1",
    /* A subject's entries by a scan of the whole log: only when the walk
     * from its head breaks (an altered or damaged log). */
    [S_ACC_LIST] = "SELECT subject, seq, ts_ms, action, reader, sealed, mac FROM access_log WHERE subject = ?1"
                   " ORDER BY seq",
    [S_ACC_LIST_ALL] = "SELECT subject, seq, ts_ms, action, reader, sealed, mac FROM access_log"
                       " ORDER BY subject, seq",
    /* One step of a walk back from a head, then an entry read whole. */
    [S_ACC_STEP] = "SELECT subject, seq, prev FROM access_log WHERE id = ?1",
    [S_ACC_GET] = "SELECT subject, seq, ts_ms, action, reader, sealed, mac FROM access_log WHERE id = ?1",
    [S_ACC_DEL_ID] = "DELETE FROM access_log WHERE id = ?1",
    [S_ACC_HEADS] = "SELECT subject, n, last, mac, first, base, last_id FROM access_heads ORDER BY subject",
    [S_ACC_EXPIRED] = "SELECT DISTINCT subject FROM access_log WHERE ts_ms < ?1 ORDER BY subject",
    /* The sweep moves the start only of the head it read (same count, same
     * start): a chain extended meanwhile is left for the next sweep. */
    [S_ACC_HEAD_MOVE] = "UPDATE access_heads SET first = ?3, base = ?4, mac = ?5"
                        " WHERE subject = ?1 AND n = ?2 AND first = ?6",
    /* By a scan: only when a walk from the head breaks. */
    [S_ACC_DEL_BEFORE] = "DELETE FROM access_log WHERE subject = ?1 AND seq < ?2",
    /* By time (step 11): left to itself, the planner reads the whole log in
     * subject order for the DISTINCT, whatever the --since. */
    [S_ACC_READERS] = "SELECT a.subject, s.pseudonym FROM (SELECT DISTINCT subject FROM access_log"
                      " INDEXED BY access_log_ts WHERE ts_ms >= ?2 AND reader = ?1) a"
                      " JOIN subjects s ON s.id = a.subject ORDER BY a.subject",
    [S_SUBJ_DEL_ACCESS_HEAD] = "DELETE FROM access_heads WHERE subject = ?1",
    /* keys.db (sqlite_subjects.c) */
    [K_PUT] = "INSERT INTO subject_keys(sid, wrapped) VALUES(?1, ?2)"
              " ON CONFLICT(sid) DO UPDATE SET wrapped = excluded.wrapped",
    [K_GET] = "SELECT wrapped FROM subject_keys WHERE sid = ?1",
    [K_DELETE] = "DELETE FROM subject_keys WHERE sid = ?1",
    [K_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [K_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
};

const char mes__sq_sql_event_scan[] = "SELECT " EVENT_COLS " FROM events ORDER BY id";

/* ------------------------------------------------------------------------ */
/* Migrating at open                                                        */
/* ------------------------------------------------------------------------ */

static int exec_sql(sqlite3 *db, const char *sql, struct mes_err *err, const char *what) {
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    return MES_OK;
  return mes_err_set(err, map_rc(rc), NULL, "Cannot %s: %s.", what, sqlite3_errmsg(db));
}

static int pragma_int(sqlite3 *db, const char *sql, int *out) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    *out = sqlite3_column_int(s, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(s);
  return rc;
}

/* How many tables db holds: all of them (name NULL), or those called name. */
static int table_count(sqlite3 *db, const char *name, int *out) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND (?1 IS NULL OR name = ?1)", -1, &s, NULL);
  if (rc == SQLITE_OK) {
    if (name)
      sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      *out = sqlite3_column_int(s, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  return rc;
}

/* Brings a database to the last schema version, all steps in one
 * transaction (BEGIN IMMEDIATE: two processes opening at once migrate once).
 * `sentinel` is a table that every version of this file has: a database
 * without it, or one without a version that already holds tables, is some
 * other file put in this one's place (another program's database, mesura.db
 * copied over keys.db), refused by name rather than "upgraded". */
static int migrate(sqlite3 *db, const char *const *steps, int n_steps, const char *path, const char *sentinel,
                   int *version, struct mes_err *err) {
  int v = 0, n_tables = 0;
  int rc = pragma_int(db, "PRAGMA user_version", &v);
  if (rc != SQLITE_OK)
    return mes_err_set(err, map_rc(rc), NULL, "Cannot read the schema version of %s: %s.", path, sqlite3_errmsg(db));
  if (v == n_steps) {
    *version = v;
    return MES_OK;
  }
  rc = exec_sql(db, "BEGIN IMMEDIATE", err, "lock the database for a schema upgrade");
  if (rc != MES_OK)
    return rc;
  if (pragma_int(db, "PRAGMA user_version", &v) != SQLITE_OK ||
      table_count(db, v == 0 ? NULL : sentinel, &n_tables) != SQLITE_OK) {
    rc = mes_err_set(err, MES_ESTORE, NULL, "Cannot read the schema version of %s.", path);
    goto fail;
  }
  if ((v == 0 && n_tables > 0) || (v > 0 && n_tables == 0)) {
    rc = mes_err_set(err, MES_ESTORE, NULL,
                     "%s (%s) holds tables that are not mesura's; restore the directory's own %s.",
                     mes__sq_base_name(path), path, mes__sq_base_name(path));
    goto fail;
  }
  if (v > n_steps) {
    rc = mes_err_set(err, MES_ESTORE, NULL,
                     "%s has schema version %d, newer than this mesura knows (%d); upgrade mesura.", path, v, n_steps);
    goto fail;
  }
  for (; v < n_steps; v++) {
    char bump[48];
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
    if ((rc = exec_sql(db, steps[v], err, "upgrade the schema")) != MES_OK ||
        (rc = exec_sql(db, bump, err, "upgrade the schema")) != MES_OK)
      goto fail;
  }
  rc = exec_sql(db, "COMMIT", err, "upgrade the schema");
  if (rc != MES_OK)
    goto fail;
  *version = v;
  return MES_OK;
fail:
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int mes__sq_migrate_data(sqlite3 *db, const char *path, int *version, struct mes_err *err) {
  return migrate(db, data_steps, N_STEPS(data_steps), path, "subjects", version, err);
}

int mes__sq_migrate_keys(sqlite3 *db, const char *path, int *version, struct mes_err *err) {
  return migrate(db, keys_steps, N_STEPS(keys_steps), path, "subject_keys", version, err);
}
