/*
 * store/sqlite — the SQLite backend: the only file of mesura that includes
 * <sqlite3.h> or holds SQL.
 *
 * Two databases in the data directory, each with its own connection:
 *   mesura.db  the data (WAL, synchronous=FULL), written through one writer
 *              connection under a mutex, with group commit (below);
 *   keys.db    the wrapped subject keys; every write is its own durable
 *              transaction, so a key is on disk before data sealed under it
 *              and a deleted key stays deleted after a crash.
 * Schemas are versioned with PRAGMA user_version and migrated at open by the
 * step tables data_steps[] and keys_steps[] (append a step; never edit one).
 *
 * Group commit. The writer connection keeps one long-running "outer"
 * transaction (BEGIN IMMEDIATE) open while there is unsynced work. Each
 * mes_store_tx_begin locks the writer mutex and opens a SAVEPOINT inside it;
 * tx_commit RELEASEs the savepoint, hands out a ticket (the number of the
 * outer transaction) and unlocks. A flusher thread COMMITs the outer
 * transaction - one fsync of the WAL for every request in it - as soon as
 * somebody waits on a ticket (under load a little later, to gather more: see
 * GATHER_BUSY), or ~2 ms after the first unsynced write, then
 * wakes the waiters (mes_store_wait_durable) and calls back the parked ones
 * (mes_store_on_durable). The fsync is an fdatasync of the WAL done after the
 * writer mutex is released (see flush()), so writers fill the next batch
 * while the disk syncs the previous one. When idle no write transaction is open, so another
 * process (the CLI creating an API key) can write; it waits through
 * busy_timeout at worst for one flush.
 *
 * Reads outside a transaction run on a small pool of read-only connections
 * (rd_begin), beside the writer: WAL gives each a snapshot of what was
 * committed when its statement began. So they never wait for ingestion, and
 * they see every acknowledged write (acknowledged = durable = committed);
 * they may miss other threads' writes that are released but not yet flushed
 * - the rule that store.h states; a thread with its own unflushed writes
 * reads on the writer. Reads inside a transaction use the writer connection, to
 * see the transaction's own writes; when every reader is busy a read falls
 * back to the writer too. The long read, event_scan, opens a connection of
 * its own. The writer mutex is recursive so that a thread holding a
 * transaction can read, and list callbacks can call back into the store.
 *
 * Locks, always taken in this order: mu (writer) -> kmu (keystore) and
 * mu -> sync_mu (group-commit counters). wait_durable takes only sync_mu;
 * rmu (the reader pool) is never held while taking another lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"

#define BUSY_TIMEOUT_MS 5000
#define FLUSH_DELAY_NS 2000000ull /* longest a write waits for its fsync without a waiter */
/* Gathering (flusher_main): under load, each group commit's fdatasync and
 * the wake-ups around it cost CPU per group, not per request, so the
 * flusher waits a little for more requests before it commits - but only
 * when the previous group carried at least GATHER_BUSY of them. A lone
 * request, or a handful of keep-alive clients that cannot fill a group of 8
 * writes, never waits for it: its write is synced at once, and the next
 * group fills while the disk syncs this one (waiting there would idle the
 * disk while every client is parked, and cost throughput). A gathering flusher commits at the first of: GATHER_MAX_NS
 * after the group's first write; GATHER_GAP_NS without a new write (the
 * clients have nothing more in flight); as many writes as the largest recent
 * group (peak_batch: every client seen at once is back) or GATHER_FULL.
 * Measured (bench/README.md, "Third pass", wrk -c32 on 2 cores): one
 * fdatasync costs this thread ~200 us of CPU; without gathering a group
 * carried 5-11 requests at 600-1,800 fsyncs/s, with it 11-15. The gap is
 * about 1.5 requests' server CPU (90-125 us each), so gathering stops as
 * soon as arrivals pause; 1 ms rather than 2 ms (which gave no more req/s
 * and a worse p99) bounds the added latency at half the 2 ms a write waits
 * with no waiter. Gathering from 4 writes engaged more often at 32
 * connections but also at 4 and 8, where waiting idles the disk while
 * every client is parked. */
#define GATHER_BUSY 8u
#define GATHER_FULL 256u
#define GATHER_MAX_NS 1000000ull
#define GATHER_GAP_NS 150000ull
#define N_READERS 4 /* reader connections for reads outside a transaction */
/* The writer's page cache holds the hot index pages that inserts touch:
 * events_subject takes each subject's new row at the end of that subject's
 * run, so a batch dirties about one leaf page per distinct subject. A larger
 * autocheckpoint (16,384 pages, a WAL of up to 64 MiB) lets those pages be
 * rewritten in the WAL by many commits but copied into mesura.db once per
 * checkpoint: +40% bare inserts at 400k rows (bench/README.md). */
#define WRITER_CACHE_PRAGMA "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=16384;" /* KiB; pages */
/* Statement journals and sort spills stay in memory: on disk, SQLite opened,
 * wrote and unlinked a temporary file in /var/tmp for every statement of a
 * write transaction (a fifth of a bare insert loop's time, and pages of the
 * store outside its directory). */
#define TEMP_PRAGMA "PRAGMA temp_store=MEMORY;"
#define READER_PRAGMAS "PRAGMA cache_size=-8192;" TEMP_PRAGMA

/* ------------------------------------------------------------------------ */
/* Schema                                                                   */
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
};

/* Ids per event_spans row (1 << SPAN_SHIFT; step 4 above spells 12 out). A
 * span's min_ts may be lower than its events' (erasures do not update it):
 * that costs the sweep one needless read of the run, never a missed event. */
#define SPAN_SHIFT 12
#define SPAN_IDS ((int64_t)1 << SPAN_SHIFT)
#define SPAN_CACHE 8 /* event types whose last span row the writer remembers */

static const char *const keys_steps[] = {
    /* 1 */
    "CREATE TABLE subject_keys(sid INTEGER PRIMARY KEY, wrapped BLOB NOT NULL);",
    /* 2: small settings of the keystore itself (the master key check) */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
};

#define N_STEPS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------------ */
/* Cached statements                                                        */
/* ------------------------------------------------------------------------ */

enum stmt_id {
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_SAVEPOINT,
  S_RELEASE,
  S_ROLLBACK_TO,
  S_META_GET,
  S_META_SET,
  S_SUBJ_FIND,
  S_SUBJ_INSERT,
  S_SUBJ_SET_GRANTED,
  S_SUBJ_SET_RESTRICTED,
  S_SUBJ_DELETE,
  S_SUBJ_DEL_EVENTS,
  S_SUBJ_DEL_CONSENTS,
  S_SUBJ_DEL_PREFS,
  S_SUBJ_DEL_IMPRESSIONS,
  S_SUBJ_COUNT,
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
  S_CO_APPEND,
  S_CO_LIST,
  S_PREF_PUT,
  S_PREF_GET,
  S_ITEM_PUT,
  S_ITEM_GET,
  S_ITEM_DELETE,
  S_ITEM_VERSION_BUMP,
  S_ITEM_LIST,
  S_ITEM_COUNT,
  S_IMP_ADD,
  S_IMP_LIST,
  S_IMP_SWEEP,
  S_IMP_STAMP,
  S_IMP_HW,
  S_IMP_AFTER,
  S_AK_PUT,
  S_AK_FIND,
  S_AK_LIST,
  S_AK_REVOKE,
  S_MODEL_PUT, /* models */
  S_MODEL_TRIM,
  S_MODEL_LATEST,
  S_MODEL_GET,
  S_SUBJ_SCAN,
  S_DEC_PUT, /* decision records */
  S_DEC_GET,
  S_DEC_LIST,
  S_DEC_SWEEP,
  S_SUBJ_DEL_DECISIONS,
  K_PUT, /* K_*: on keys.db */
  K_GET,
  K_DELETE,
  K_META_GET,
  K_META_SET,
  S_N
};

#define EVENT_COLS "id, subject, type, ts_ms, purposes, source, eid, sealed"
/* event_insert_many: INSERT_ROWS rows per statement. Per row, a statement
 * costs more than the b-tree inserts it makes (step, halt, the statement
 * journal, AUTOINCREMENT's read and write of sqlite_sequence): in a bare
 * SQLite loop, 3.5-4.4 us of CPU per row one by one, 2.5-3.0 with 16 rows
 * per statement, 2.1-2.4 with 64 (bench/README.md, fourth pass). */
#define INSERT_ROWS 32
#define INSERT_COLS 7
#define EV_VALUES1 "(?,?,?,?,?,?,?)"
#define EV_VALUES4 EV_VALUES1 "," EV_VALUES1 "," EV_VALUES1 "," EV_VALUES1
#define EV_VALUES16 EV_VALUES4 "," EV_VALUES4 "," EV_VALUES4 "," EV_VALUES4
#define EV_INSERT_OR_IGNORE "INSERT OR IGNORE INTO events(subject, type, ts_ms, purposes, source, eid, sealed) VALUES "
#define CONSENT_COLS "id, subject, purpose, status, ts_ms, sealed"
#define APIKEY_COLS "name, hash, scopes, created_ms, revoked_ms"

static const char *const sql_text[S_N] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT tx",
    [S_RELEASE] = "RELEASE tx",
    [S_ROLLBACK_TO] = "ROLLBACK TO tx",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_SUBJ_FIND] = "SELECT id, granted, restricted, created_ms FROM subjects WHERE pseudonym = ?1",
    [S_SUBJ_INSERT] = "INSERT INTO subjects(pseudonym, created_ms) VALUES(?1, ?2)",
    [S_SUBJ_SET_GRANTED] = "UPDATE subjects SET granted = ?2 WHERE id = ?1",
    [S_SUBJ_SET_RESTRICTED] = "UPDATE subjects SET restricted = ?2 WHERE id = ?1",
    [S_SUBJ_DELETE] = "DELETE FROM subjects WHERE id = ?1",
    [S_SUBJ_DEL_EVENTS] = "DELETE FROM events WHERE subject = ?1",
    [S_SUBJ_DEL_CONSENTS] = "DELETE FROM consents WHERE subject = ?1",
    [S_SUBJ_DEL_PREFS] = "DELETE FROM preferences WHERE subject = ?1",
    [S_SUBJ_DEL_IMPRESSIONS] = "DELETE FROM impressions WHERE subject = ?1",
    [S_SUBJ_COUNT] = "SELECT count(*) FROM subjects",
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
    [S_CO_APPEND] = "INSERT INTO consents(subject, purpose, status, ts_ms, sealed) VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_CO_LIST] = "SELECT " CONSENT_COLS " FROM consents WHERE subject = ?1 ORDER BY id",
    [S_PREF_PUT] = "INSERT INTO preferences(subject, sealed) VALUES(?1, ?2)"
                   " ON CONFLICT(subject) DO UPDATE SET sealed = excluded.sealed",
    [S_PREF_GET] = "SELECT sealed FROM preferences WHERE subject = ?1",
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
    /* Through impressions_subject too: the rowid test runs on its entries. */
    [S_IMP_AFTER] = "SELECT rowid, ts_ms, channel, sealed FROM impressions WHERE subject = ?1 AND rowid > ?2"
                    " ORDER BY ts_ms",
    /* From the index impressions_subject alone (its entries hold the rowid). */
    [S_IMP_STAMP] = "SELECT coalesce(max(rowid), 0), count(*) FROM impressions WHERE subject = ?1",
    /* Raises the high-water mark to the largest id held (see S_IMP_ADD);
     * run before each statement that deletes impressions, in its tx. */
    [S_IMP_HW] = "INSERT OR REPLACE INTO meta(key, value) SELECT 'impressions_hw', m"
                 " FROM (SELECT max(rowid) AS m FROM impressions)"
                 " WHERE m > coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'impressions_hw'), 0)",
    [S_AK_PUT] = "INSERT INTO api_keys(" APIKEY_COLS ") VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_AK_FIND] = "SELECT " APIKEY_COLS " FROM api_keys WHERE hash = ?1",
    [S_AK_LIST] = "SELECT " APIKEY_COLS " FROM api_keys ORDER BY name",
    [S_AK_REVOKE] = "UPDATE api_keys SET revoked_ms = CASE WHEN revoked_ms = 0 THEN ?2 ELSE revoked_ms END"
                    " WHERE name = ?1",
    [S_MODEL_PUT] = "INSERT INTO models(created_ms, meta, blob) VALUES(?1, ?2, ?3)",
    [S_MODEL_TRIM] = "DELETE FROM models WHERE id NOT IN (SELECT id FROM models ORDER BY id DESC LIMIT ?1)",
    [S_MODEL_LATEST] = "SELECT coalesce(max(id), 0) FROM models",
    [S_MODEL_GET] = "SELECT meta, blob FROM models WHERE id = ?1",
    [S_SUBJ_SCAN] = "SELECT id, granted, restricted, created_ms FROM subjects ORDER BY id",
    /* A random 63-bit rid colliding is not worth failing a batch for. */
    [S_DEC_PUT] = "INSERT OR IGNORE INTO decisions(rid, subject, ts_ms, doc) VALUES(?1, ?2, ?3, ?4)",
    [S_DEC_GET] = "SELECT subject, ts_ms, doc FROM decisions WHERE rid = ?1",
    /* "subject != 0" lets the planner use the partial index decisions_subject. */
    [S_DEC_LIST] = "SELECT rid, subject, ts_ms, doc FROM decisions WHERE subject = ?1 AND subject != 0"
                   " ORDER BY ts_ms, rid",
    [S_DEC_SWEEP] = "DELETE FROM decisions WHERE ts_ms < ?1",
    [S_SUBJ_DEL_DECISIONS] = "DELETE FROM decisions WHERE subject = ?1 AND subject != 0",
    [K_PUT] = "INSERT INTO subject_keys(sid, wrapped) VALUES(?1, ?2)"
              " ON CONFLICT(sid) DO UPDATE SET wrapped = excluded.wrapped",
    [K_GET] = "SELECT wrapped FROM subject_keys WHERE sid = ?1",
    [K_DELETE] = "DELETE FROM subject_keys WHERE sid = ?1",
    [K_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [K_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
};

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
  char *data_path; /* owned */
  char *keys_path; /* owned */
  int schema_version;

  pthread_mutex_t mu; /* recursive; guards db, stmt[] but K_*, in_outer, depth */
  sqlite3 *db;        /* the writer connection of mesura.db */
  sqlite3_stmt *stmt[S_N];
  bool in_outer; /* the outer transaction is open */
  int depth;     /* savepoints open by the thread holding the tx */

  pthread_mutex_t kmu; /* guards kdb and stmt[K_*] */
  sqlite3 *kdb;

  pthread_mutex_t sync_mu; /* guards the group-commit state below */
  pthread_cond_t flush_cv;   /* wakes the flusher */
  pthread_cond_t durable_cv; /* wakes wait_durable */
  uint64_t batch;            /* number of the open (or next) outer transaction */
  uint64_t durable;          /* last outer transaction committed to disk */
  bool dirty;                /* released savepoints await the next COMMIT */
  uint64_t dirty_since_ns;   /* CLOCK_MONOTONIC when dirty became true */
  int waiters;
  struct mes_store_waiter *parked; /* mes_store_on_durable registrations, unordered */
  unsigned in_batch;   /* transactions released into the open batch */
  uint64_t last_release_ns; /* CLOCK_MONOTONIC of the latest of them */
  unsigned last_batch; /* transactions the previous group commit carried */
  unsigned peak_batch; /* the largest recent group, decaying by 1/8 per group */
  bool gathering;      /* the flusher waits for more of a busy batch (flusher_main) */
  bool stop;
  bool broken; /* a group commit failed: writes refused until reopened */
  int broken_rc; /* why, as the refused writes are told: MES_ESTORAGE_FULL or MES_ESTORE */
  int wal_fd;  /* mesura.db-wal, fdatasync'ed by the flusher after each COMMIT */

  pthread_t flusher;
  bool flusher_running;

  pthread_mutex_t rmu; /* guards rd_busy and the opening of readers */
  struct conn rd[N_READERS];
  bool rd_busy[N_READERS];

  /* Guarded by mu. The event_spans row each recent insert of a type wrote
   * (slot type % SPAN_CACHE): an insert into the same run at or after
   * min_ts needs no write to event_spans. Forgotten whenever a rollback may
   * have undone such a write, and by the sweep, which rewrites spans. */
  struct {
    bool valid;
    int type;
    int64_t chunk, min_ts;
  } span_seen[SPAN_CACHE];
};

static void spans_forget(struct sq *b) { memset(b->span_seen, 0, sizeof b->span_seen); }

static struct sq *be(struct mes_store *st) { return st->be; }

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* SQLite result -> mesura code. Unique violations are "already exists". */
static int map_rc(int rc) {
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
/* Statement use: a cached statement, or a one-off copy when the cached one is
 * still stepping (a list callback calling the same list on this thread).    */
/* ------------------------------------------------------------------------ */

struct q {
  sqlite3_stmt *s;
  bool cached;
};

static int q_open_on(sqlite3 *db, sqlite3_stmt **slot, enum stmt_id id, struct q *q) {
  q->cached = true;
  if (*slot && !sqlite3_stmt_busy(*slot)) {
    q->s = *slot;
    return MES_OK;
  }
  if (*slot)
    q->cached = false;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v3(db, sql_text[id], -1, q->cached ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    q->s = NULL;
    return map_rc(rc);
  }
  if (q->cached)
    *slot = s;
  q->s = s;
  return MES_OK;
}

/* The caller holds mu (or kmu for K_*). */
static int q_open(struct sq *b, enum stmt_id id, struct q *q) {
  return q_open_on(id >= K_PUT ? b->kdb : b->db, &b->stmt[id], id, q);
}

static void q_close(struct q *q) {
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
static int q_done(struct q *q) {
  int rc = sqlite3_step(q->s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? MES_OK : map_rc(rc);
}

/* Runs a parameterless statement. */
static int run(struct sq *b, enum stmt_id id) {
  struct q q;
  int rc = q_open(b, id, &q);
  if (rc == MES_OK)
    rc = q_done(&q);
  q_close(&q);
  return rc;
}

/* Runs a statement with one integer parameter; *changes gets the row count. */
static int run_i64(struct sq *b, enum stmt_id id, int64_t v, int64_t *changes) {
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
/* Reads outside a transaction: on a reader connection                      */
/* ------------------------------------------------------------------------ */

static int open_db(const char *path, bool create, bool writer, const char *pragmas, sqlite3 **out,
                   struct mes_err *err);

/* Where one read runs: the calling thread's own transaction (the writer
 * connection, mu held), or a reader connection of the pool. */
struct rd {
  struct sq *b;
  struct conn *c; /* NULL: the writer */
  int slot;
};

/* The last batch this thread committed into, per thread: a read must see
 * the thread's own writes even before they are flushed (a subject created
 * and then looked up in the same request), and only the writer connection
 * sees an unflushed batch. Thread-local because it is a fact about the
 * calling thread, like the transaction that the recursive mutex tracks; one
 * entry, for the store the thread used last (a thread that interleaves
 * unflushed writes to two stores reads the other one on a reader). */
static _Thread_local struct {
  const struct sq *b;
  uint64_t ticket;
} own_unflushed;

/* The calling thread's read session (mes_store_read_begin), if any: the
 * reader connection it holds, in an open read transaction. */
static _Thread_local struct {
  const struct sq *b; /* NULL: none */
  int slot;
  int depth; /* nested read_begin calls */
} pinned;

/* True when the calling thread has released writes to b not yet durable. */
static bool own_writes_pending(struct sq *b) {
  if (own_unflushed.b != b || own_unflushed.ticket == 0)
    return false;
  pthread_mutex_lock(&b->sync_mu);
  bool pending = own_unflushed.ticket > b->durable && !b->broken;
  pthread_mutex_unlock(&b->sync_mu);
  if (!pending)
    own_unflushed.ticket = 0;
  return pending;
}

/* Picks the connection for a read. Inside the calling thread's transaction
 * the read must see that transaction's writes: the writer. Otherwise a free
 * reader (opened on first use); when all are busy, or one cannot be opened,
 * the writer as before - never a wait for a reader, so a list callback that
 * reads again cannot deadlock on the pool. After this thread released writes
 * that are not yet flushed, the writer too (own_unflushed). */
static void rd_begin(struct sq *b, struct rd *r) {
  r->b = b;
  r->c = NULL;
  r->slot = -1;
  /* The mutex is recursive: trylock succeeds when it is free or ours. */
  if (pthread_mutex_trylock(&b->mu) == 0) {
    if (b->depth > 0)
      return; /* our transaction: keep mu until rd_end */
    pthread_mutex_unlock(&b->mu);
  }
  if (own_writes_pending(b)) {
    pthread_mutex_lock(&b->mu);
    return;
  }
  if (pinned.b == b) { /* the session's reader: already ours */
    r->c = &b->rd[pinned.slot];
    r->slot = -2;
    return;
  }
  pthread_mutex_lock(&b->rmu);
  for (int i = 0; i < N_READERS; i++) {
    if (b->rd_busy[i])
      continue;
    if (!b->rd[i].db && open_db(b->data_path, false, false, READER_PRAGMAS, &b->rd[i].db, NULL) != MES_OK)
      break;
    b->rd_busy[i] = true;
    r->slot = i;
    r->c = &b->rd[i];
    break;
  }
  pthread_mutex_unlock(&b->rmu);
  if (!r->c)
    pthread_mutex_lock(&b->mu);
}

static void rd_end(struct rd *r) {
  if (!r->c) {
    pthread_mutex_unlock(&r->b->mu);
    return;
  }
  if (r->slot == -2) /* the session keeps its reader */
    return;
  pthread_mutex_lock(&r->b->rmu);
  r->b->rd_busy[r->slot] = false;
  pthread_mutex_unlock(&r->b->rmu);
}

/* Read sessions. A reader connection in autocommit opens and closes a read
 * transaction per statement, and every commit of the writer in between
 * makes SQLite drop that connection's whole page cache: each lookup of a
 * batch's 2,000 subjects read its b-tree pages again (7-9 % of a batch's
 * server CPU). In one read transaction the pages stay cached from lookup to
 * lookup. */
static void sq_read_begin(struct mes_store *st) {
  struct sq *b = be(st);
  if (pinned.b == b) {
    pinned.depth++;
    return;
  }
  if (pinned.b)
    return; /* a session on another store: this one reads as usual */
  if (pthread_mutex_trylock(&b->mu) == 0) {
    bool in_tx = b->depth > 0;
    pthread_mutex_unlock(&b->mu);
    if (in_tx)
      return; /* reads go to our transaction */
  }
  if (own_writes_pending(b))
    return; /* reads go to the writer */
  int slot = -1;
  pthread_mutex_lock(&b->rmu);
  for (int i = 0; i < N_READERS && slot < 0; i++) {
    if (b->rd_busy[i])
      continue;
    if (!b->rd[i].db && open_db(b->data_path, false, false, READER_PRAGMAS, &b->rd[i].db, NULL) != MES_OK)
      break;
    b->rd_busy[i] = true;
    slot = i;
  }
  pthread_mutex_unlock(&b->rmu);
  if (slot < 0)
    return; /* every reader busy: reads go one by one, as without a session */
  if (sqlite3_exec(b->rd[slot].db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    pthread_mutex_lock(&b->rmu);
    b->rd_busy[slot] = false;
    pthread_mutex_unlock(&b->rmu);
    return;
  }
  pinned.b = b;
  pinned.slot = slot;
  pinned.depth = 1;
}

static void sq_read_end(struct mes_store *st) {
  struct sq *b = be(st);
  if (pinned.b != b || --pinned.depth > 0)
    return;
  sqlite3 *db = b->rd[pinned.slot].db;
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  pthread_mutex_lock(&b->rmu);
  b->rd_busy[pinned.slot] = false;
  pthread_mutex_unlock(&b->rmu);
  pinned.b = NULL;
}

static int rq_open(struct rd *r, enum stmt_id id, struct q *q) {
  if (!r->c)
    return q_open(r->b, id, q);
  return q_open_on(r->c->db, &r->c->stmt[id], id, q);
}

static int64_t count_rows(struct mes_store *st, enum stmt_id id) {
  struct rd r;
  struct q q;
  int64_t n = -1;
  rd_begin(be(st), &r);
  if (rq_open(&r, id, &q) == MES_OK && sqlite3_step(q.s) == SQLITE_ROW)
    n = sqlite3_column_int64(q.s, 0);
  q_close(&q);
  rd_end(&r);
  return n;
}

/* ------------------------------------------------------------------------ */
/* Transactions and group commit                                            */
/* ------------------------------------------------------------------------ */

/* SQLite rolls back the whole transaction on some errors (I/O, disk full,
 * out of memory). If that happened to the outer transaction, writes already
 * promised tickets are gone: mark the store broken so that their waiters
 * hear it and no one is acknowledged on top of the loss. Holds mu. */
static void check_outer(struct sq *b) {
  if (!b->in_outer || !sqlite3_get_autocommit(b->db))
    return;
  b->in_outer = false;
  spans_forget(b);
  bool full = (sqlite3_errcode(b->db) & 0xff) == SQLITE_FULL;
  pthread_mutex_lock(&b->sync_mu);
  if (b->dirty) {
    b->broken = true;
    b->broken_rc = full ? MES_ESTORAGE_FULL : MES_ESTORE;
    b->dirty = false;
    b->in_batch = 0;
    pthread_cond_broadcast(&b->durable_cv);
  }
  pthread_mutex_unlock(&b->sync_mu);
}

/* After the last savepoint closed: an outer transaction holding nothing to
 * commit is rolled back at once, so that an idle store holds no write lock.
 * Holds mu. */
static void end_outermost(struct sq *b) {
  if (!b->in_outer)
    return;
  pthread_mutex_lock(&b->sync_mu);
  bool dirty = b->dirty;
  pthread_mutex_unlock(&b->sync_mu);
  if (!dirty) {
    run(b, S_ROLLBACK);
    b->in_outer = false;
  }
}

static int sq_tx_begin(struct mes_store *st) {
  struct sq *b = be(st);
  pthread_mutex_lock(&b->mu);
  pthread_mutex_lock(&b->sync_mu);
  int broken_rc = b->broken ? b->broken_rc : MES_OK;
  pthread_mutex_unlock(&b->sync_mu);
  if (broken_rc) {
    pthread_mutex_unlock(&b->mu);
    return broken_rc;
  }
  int rc = MES_OK;
  if (!b->in_outer) {
    rc = run(b, S_BEGIN); /* waits up to busy_timeout for another process */
    if (rc != MES_OK)
      goto error;
    b->in_outer = true;
    spans_forget(b); /* another process may have swept since: trust spans within one write lock only */
  }
  rc = run(b, S_SAVEPOINT);
  if (rc != MES_OK) {
    check_outer(b);
    if (b->depth == 0)
      end_outermost(b);
    goto error;
  }
  b->depth++;
  return MES_OK; /* mu stays locked until commit or rollback */
error:
  pthread_mutex_unlock(&b->mu);
  return rc;
}

static int sq_tx_commit(struct mes_store *st, uint64_t *ticket) {
  struct sq *b = be(st);
  *ticket = 0;
  /* The recursive mutex lets us check that this thread holds the tx. */
  pthread_mutex_lock(&b->mu);
  if (b->depth == 0) {
    pthread_mutex_unlock(&b->mu);
    return MES_EINTERNAL;
  }
  check_outer(b);
  int rc = b->in_outer ? run(b, S_RELEASE) : MES_ESTORE;
  if (rc != MES_OK)
    spans_forget(b);
  if (rc != MES_OK && b->in_outer) {
    run(b, S_ROLLBACK_TO);
    run(b, S_RELEASE);
    check_outer(b);
  }
  b->depth--;
  if (b->depth == 0) {
    if (rc == MES_OK) {
      pthread_mutex_lock(&b->sync_mu);
      *ticket = b->batch;
      own_unflushed.b = b;
      own_unflushed.ticket = b->batch;
      b->in_batch++;
      b->last_release_ns = mono_ns();
      if (!b->dirty) {
        b->dirty = true;
        b->dirty_since_ns = b->last_release_ns;
        pthread_cond_signal(&b->flush_cv);
      } else if (b->gathering && (b->in_batch >= GATHER_FULL || b->in_batch >= b->peak_batch)) {
        pthread_cond_signal(&b->flush_cv);
      }
      pthread_mutex_unlock(&b->sync_mu);
    } else {
      end_outermost(b);
    }
  }
  pthread_mutex_unlock(&b->mu); /* ours, above */
  pthread_mutex_unlock(&b->mu); /* tx_begin's */
  return rc;
}

static void sq_tx_rollback(struct mes_store *st) {
  struct sq *b = be(st);
  pthread_mutex_lock(&b->mu);
  if (b->depth == 0) {
    pthread_mutex_unlock(&b->mu);
    return;
  }
  check_outer(b);
  spans_forget(b); /* the span rows this savepoint wrote are undone */
  if (b->in_outer) {
    run(b, S_ROLLBACK_TO);
    run(b, S_RELEASE);
    check_outer(b);
  }
  b->depth--;
  if (b->depth == 0)
    end_outermost(b);
  pthread_mutex_unlock(&b->mu);
  pthread_mutex_unlock(&b->mu);
}

static int sq_wait_durable(struct mes_store *st, uint64_t ticket) {
  struct sq *b = be(st);
  if (ticket == 0)
    return MES_OK;
  /* Waiting while holding a tx would deadlock: the flusher needs mu. The
   * mutex is recursive, so trylock succeeds exactly when this thread holds it. */
  if (pthread_mutex_trylock(&b->mu) == 0) {
    bool holding = b->depth > 0;
    pthread_mutex_unlock(&b->mu);
    if (holding)
      return MES_EINTERNAL;
  }
  pthread_mutex_lock(&b->sync_mu);
  if (ticket > b->batch) {
    pthread_mutex_unlock(&b->sync_mu);
    return MES_EINTERNAL;
  }
  while (b->durable < ticket && !b->broken) {
    b->waiters++;
    if (!b->gathering) /* a gathering flusher wakes by itself */
      pthread_cond_signal(&b->flush_cv);
    pthread_cond_wait(&b->durable_cv, &b->sync_mu);
    b->waiters--;
  }
  int rc = b->durable >= ticket ? MES_OK : b->broken_rc;
  pthread_mutex_unlock(&b->sync_mu);
  return rc;
}

/* Commits the outer transaction and makes it durable, then wakes waiters.
 *
 * The writer connection runs with synchronous=NORMAL, so COMMIT only writes
 * the WAL frames (to the page cache); the fsync that makes them durable is
 * ours, an fdatasync of the WAL file after mu is released. Writers thus fill
 * the next outer transaction while this one is being synced, instead of
 * queueing behind the disk; tickets of the committed batch are declared
 * durable only after the fdatasync returned. (SQLite with synchronous=FULL
 * does exactly this fsync, inside COMMIT. Checkpoints keep their own syncs:
 * WAL before copying, database after, so restarting the WAL never loses a
 * synced commit.) Called by the flusher only. */
static void flush(struct sq *b) {
  pthread_mutex_lock(&b->mu); /* no tx is open once we hold it: depth == 0 */
  check_outer(b);
  int rc = b->in_outer ? run(b, S_COMMIT) : MES_OK;
  if (rc != MES_OK && !sqlite3_get_autocommit(b->db))
    run(b, S_ROLLBACK);
  bool committed = b->in_outer && rc == MES_OK;
  if (!committed)
    spans_forget(b);
  b->in_outer = false;
  uint64_t done = 0;
  pthread_mutex_lock(&b->sync_mu);
  if (committed) {
    done = b->batch;
    b->batch++; /* writes from now on belong to the next batch */
    b->last_batch = b->in_batch;
    b->peak_batch -= b->peak_batch / 8;
    if (b->peak_batch < b->in_batch)
      b->peak_batch = b->in_batch;
  } else if (b->dirty) {
    b->broken = true; /* a failed COMMIT: what it held is gone */
    b->broken_rc = rc == MES_ESTORAGE_FULL ? rc : MES_ESTORE;
    pthread_cond_broadcast(&b->durable_cv);
  }
  b->in_batch = 0;
  b->dirty = false;
  pthread_mutex_unlock(&b->sync_mu);
  pthread_mutex_unlock(&b->mu);
  if (!committed)
    return;
  int src;
  do
    src = fdatasync(b->wal_fd);
  while (src != 0 && errno == EINTR);
  bool full = src != 0 && (errno == ENOSPC || errno == EDQUOT);
  pthread_mutex_lock(&b->sync_mu);
  if (src == 0) {
    b->durable = done;
  } else {
    b->broken = true; /* after a failed fsync nothing written can be trusted */
    b->broken_rc = full ? MES_ESTORAGE_FULL : MES_ESTORE;
  }
  pthread_cond_broadcast(&b->durable_cv);
  pthread_mutex_unlock(&b->sync_mu);
}

/* Takes the registrations that are decided (durable, or lost to a broken
 * store) off the parked list. Holds sync_mu. */
static struct mes_store_waiter *take_decided(struct sq *b) {
  struct mes_store_waiter *ready = NULL, **pp = &b->parked;
  while (*pp) {
    struct mes_store_waiter *w = *pp;
    if (b->broken || w->ticket <= b->durable) {
      *pp = w->next;
      w->next = ready;
      ready = w;
    } else {
      pp = &w->next;
    }
  }
  return ready;
}

static bool any_decided(const struct sq *b) {
  for (const struct mes_store_waiter *w = b->parked; w; w = w->next)
    if (b->broken || w->ticket <= b->durable)
      return true;
  return false;
}

static void *flusher_main(void *arg) {
  struct sq *b = arg;
  pthread_mutex_lock(&b->sync_mu);
  for (;;) {
    if (any_decided(b)) {
      /* Callbacks run without sync_mu: they may take their own locks. w is
       * the caller's again once cb runs, so read next first. */
      struct mes_store_waiter *w = take_decided(b);
      int rc = b->broken ? b->broken_rc : MES_OK;
      pthread_mutex_unlock(&b->sync_mu);
      while (w) {
        struct mes_store_waiter *next = w->next;
        w->next = NULL;
        w->cb(w, rc);
        w = next;
      }
      pthread_mutex_lock(&b->sync_mu);
      continue;
    }
    if (!b->dirty) {
      if (b->stop && !b->parked)
        break;
      pthread_cond_wait(&b->flush_cv, &b->sync_mu);
      continue;
    }
    uint64_t due = 0;
    bool gather = false;
    if (b->stop)
      due = 0;
    else if (b->waiters == 0 && !b->parked)
      due = b->dirty_since_ns + FLUSH_DELAY_NS;
    else if ((gather = b->last_batch >= GATHER_BUSY && b->in_batch < GATHER_FULL && b->in_batch < b->peak_batch)) {
      due = b->dirty_since_ns + GATHER_MAX_NS; /* see GATHER_BUSY */
      if (b->last_release_ns + GATHER_GAP_NS < due)
        due = b->last_release_ns + GATHER_GAP_NS;
    }
    if (due && mono_ns() < due) {
      struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
      b->gathering = gather;
      pthread_cond_timedwait(&b->flush_cv, &b->sync_mu, &ts);
      b->gathering = false;
      continue;
    }
    pthread_mutex_unlock(&b->sync_mu); /* lock order: mu before sync_mu */
    flush(b);
    pthread_mutex_lock(&b->sync_mu);
  }
  pthread_mutex_unlock(&b->sync_mu);
  return NULL;
}

static int sq_on_durable(struct mes_store *st, uint64_t ticket, struct mes_store_waiter *w) {
  struct sq *b = be(st);
  pthread_mutex_lock(&b->sync_mu);
  if (ticket == 0 || ticket > b->batch || b->stop) {
    pthread_mutex_unlock(&b->sync_mu);
    return MES_EINTERNAL;
  }
  w->ticket = ticket;
  w->next = b->parked;
  b->parked = w;
  /* The writes are parked with their request: this thread goes on to serve
   * other requests, which need not see them before they are durable (nobody
   * was told of them). Without this, every later read of the thread went to
   * the writer while any parked commit was unsynced, queueing behind the
   * group commit (bench/README.md, fourth pass). */
  if (own_unflushed.b == b && own_unflushed.ticket <= ticket)
    own_unflushed.ticket = 0;
  /* Flush now, or call back now if already durable; a gathering flusher
   * flushes at its deadline without being woken per request. */
  if (!b->gathering || ticket <= b->durable)
    pthread_cond_signal(&b->flush_cv);
  pthread_mutex_unlock(&b->sync_mu);
  return MES_OK;
}

/* Enters a write: inside the calling thread's tx (mu taken once more), or in
 * a tx of its own (*own) that wr_end commits durably. */
static int wr_begin(struct mes_store *st, bool *own) {
  struct sq *b = be(st);
  pthread_mutex_lock(&b->mu);
  if (b->depth > 0) { /* we hold mu, so the open tx is ours */
    *own = false;
    return MES_OK;
  }
  pthread_mutex_unlock(&b->mu);
  *own = true;
  return sq_tx_begin(st);
}

static int wr_end(struct mes_store *st, bool own, int rc) {
  if (!own) {
    pthread_mutex_unlock(&be(st)->mu);
    return rc;
  }
  if (rc != MES_OK) {
    sq_tx_rollback(st);
    return rc;
  }
  uint64_t ticket;
  rc = sq_tx_commit(st, &ticket);
  return rc == MES_OK ? sq_wait_durable(st, ticket) : rc;
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                           */
/* ------------------------------------------------------------------------ */

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

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

/* The last part of a path, to name a file in a message. */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
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
                     "%s (%s) holds tables that are not mesura's; restore the directory's own %s.", base_name(path),
                     path, base_name(path));
    goto fail;
  }
  if (v > n_steps) {
    rc = mes_err_set(err, MES_ESTORE, NULL,
                     "%s has schema version %d, newer than this mesura knows (%d); upgrade mesura.", path, v,
                     n_steps);
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

/* Opens one database file with the pragmas every connection needs. */
static int open_db(const char *path, bool create, bool writer, const char *pragmas, sqlite3 **out,
                   struct mes_err *err) {
  *out = NULL;
  if (create) {
    /* Create the file ourselves, so that it (and the -wal and -shm files,
     * which SQLite gives the database's mode) is private to the owner. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      return mes_err_set(err, MES_EIO, NULL, "Cannot create %s: %s.", path, strerror(errno));
    close(fd);
  } else if (access(path, F_OK) != 0) {
    return mes_err_set(err, MES_ENOT_FOUND, NULL,
                       "%s is missing (%s): restore it, or run `mesura init` on an empty directory for a new store.",
                       base_name(path), path);
  }
  sqlite3 *db = NULL;
  int flags = (writer ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path, &db, flags, NULL);
  if (rc != SQLITE_OK) {
    int mrc = mes_err_set(err, map_rc(rc) == MES_ENOMEM ? MES_ENOMEM : MES_ESTORE, NULL, "Cannot open %s: %s.",
                          path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return mrc;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  /* The pragmas are the first statements to read the file (SQLite opens
   * lazily): a damaged file, or one that is no database at all, shows here,
   * and the message names it so that the person knows which copy to restore. */
  if (pragmas && (rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL)) != SQLITE_OK) {
    int mrc;
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
      mrc = mes_err_set(err, MES_ESTORE, NULL,
                        "%s is damaged or is not a mesura database (%s): %s; restore the directory's own %s.",
                        base_name(path), path, sqlite3_errmsg(db), base_name(path));
    else
      mrc = mes_err_set(err, map_rc(rc), NULL, "Cannot open %s: %s.", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return mrc;
  }
  *out = db;
  return MES_OK;
}

/* synchronous=NORMAL: COMMIT writes the WAL without syncing it; flush()
 * fdatasyncs it before any ticket of the commit is declared durable. */
static const char data_pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=FAST;"
                                   WRITER_CACHE_PRAGMA TEMP_PRAGMA;
/* secure_delete=ON: a deleted wrapped key is overwritten with zeros. */
static const char keys_pragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;" TEMP_PRAGMA;

static void sq_close(struct mes_store *st);

/* Opens the descriptor flush() fdatasyncs: mesura.db-wal, which SQLite keeps
 * (same inode) while our writer connection is open; fsync works on any
 * descriptor of the file. The directory is synced once so that the WAL's own
 * entry survives a power cut (SQLite would do it at its first WAL sync). */
static int open_wal_fd(struct sq *b, const char *dir, struct mes_err *err) {
  char *wal = path_join(dir, "mesura.db-wal");
  if (!wal)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  b->wal_fd = open(wal, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
  int e = errno;
  free(wal);
  if (b->wal_fd < 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot open the store's write-ahead log: %s.", strerror(e));
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool synced = dfd >= 0 && fsync(dfd) == 0;
  e = errno;
  if (dfd >= 0)
    close(dfd);
  if (!synced)
    return mes_err_set(err, MES_EIO, NULL, "Cannot sync the data directory: %s.", strerror(e));
  return MES_OK;
}

static int sq_open(struct mes_store *st, const char *dir, bool create, struct mes_err *err) {
  struct sq *b = calloc(1, sizeof *b);
  if (!b)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  st->be = b;
  int rc = MES_OK;
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&b->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  pthread_mutex_init(&b->kmu, NULL);
  pthread_mutex_init(&b->sync_mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* flusher deadlines */
  pthread_cond_init(&b->flush_cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&b->durable_cv, NULL);
  pthread_mutex_init(&b->rmu, NULL);
  b->batch = 1;
  b->wal_fd = -1;

  b->data_path = path_join(dir, "mesura.db");
  b->keys_path = path_join(dir, "keys.db");
  if (!b->data_path || !b->keys_path) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  int keys_version = 0;
  if ((rc = open_db(b->data_path, create, true, data_pragmas, &b->db, err)) != MES_OK ||
      (rc = migrate(b->db, data_steps, N_STEPS(data_steps), b->data_path, "subjects", &b->schema_version, err)) !=
          MES_OK ||
      (rc = open_db(b->keys_path, create, true, keys_pragmas, &b->kdb, err)) != MES_OK ||
      (rc = migrate(b->kdb, keys_steps, N_STEPS(keys_steps), b->keys_path, "subject_keys", &keys_version, err)) !=
          MES_OK ||
      (rc = open_wal_fd(b, dir, err)) != MES_OK)
    goto error;
  /* The commit thread must never receive the process's signals: SIGTERM has
   * to reach the thread that shuts down cleanly, not kill us mid-commit. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int prc = pthread_create(&b->flusher, NULL, flusher_main, b);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (prc != 0) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, "Cannot start the store's commit thread.");
    goto error;
  }
  b->flusher_running = true;
  return MES_OK;
error:
  sq_close(st);
  return rc;
}

static void sq_close(struct mes_store *st) {
  struct sq *b = be(st);
  if (!b)
    return;
  if (b->flusher_running) {
    pthread_mutex_lock(&b->sync_mu);
    b->stop = true; /* the flusher commits what is pending, then exits */
    pthread_cond_signal(&b->flush_cv);
    pthread_mutex_unlock(&b->sync_mu);
    pthread_join(b->flusher, NULL);
  }
  if (b->in_outer && b->db)
    sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
  /* Readers first: the writer, closing last, checkpoints and removes the WAL. */
  for (int r = 0; r < N_READERS; r++) {
    for (int i = 0; i < S_N; i++)
      sqlite3_finalize(b->rd[r].stmt[i]);
    sqlite3_close(b->rd[r].db);
  }
  for (int i = 0; i < S_N; i++)
    sqlite3_finalize(b->stmt[i]);
  sqlite3_close(b->db);
  sqlite3_close(b->kdb);
  if (b->wal_fd >= 0)
    close(b->wal_fd);
  pthread_mutex_destroy(&b->rmu);
  pthread_mutex_destroy(&b->mu);
  pthread_mutex_destroy(&b->kmu);
  pthread_mutex_destroy(&b->sync_mu);
  pthread_cond_destroy(&b->flush_cv);
  pthread_cond_destroy(&b->durable_cv);
  free(b->data_path);
  free(b->keys_path);
  free(b);
  st->be = NULL;
}

static int sq_schema_version(struct mes_store *st) { return be(st)->schema_version; }

/* Copies the data database through a connection of its own: the copy is
 * one read transaction (a consistent snapshot) and does not stop writers. */
static int sq_backup(struct mes_store *st, const char *path, struct mes_err *err) {
  struct sq *b = be(st);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return mes_err_set(err, MES_EEXISTS, NULL, "%s already exists; choose a new file for the backup.", path);
    return mes_err_set(err, MES_EIO, NULL, "Cannot create %s: %s.", path, strerror(errno));
  }
  close(fd);
  sqlite3 *src = NULL, *dst = NULL;
  int rc = open_db(b->data_path, false, false, NULL, &src, err);
  if (rc == MES_OK)
    rc = open_db(path, false, true, NULL, &dst, err);
  if (rc == MES_OK) {
    sqlite3_backup *bk = sqlite3_backup_init(dst, "main", src, "main");
    if (!bk) {
      rc = mes_err_set(err, map_rc(sqlite3_errcode(dst)), NULL, "Cannot start the backup: %s.", sqlite3_errmsg(dst));
    } else {
      int src_rc = sqlite3_backup_step(bk, -1);
      int fin_rc = sqlite3_backup_finish(bk);
      if (src_rc != SQLITE_DONE || fin_rc != SQLITE_OK)
        rc = mes_err_set(err, map_rc(src_rc != SQLITE_DONE ? src_rc : fin_rc), NULL, "The backup failed: %s.",
                         sqlite3_errmsg(dst));
    }
  }
  sqlite3_close(src);
  if (dst && sqlite3_close(dst) != SQLITE_OK && rc == MES_OK)
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot finish writing %s.", path);
  if (rc != MES_OK)
    unlink(path);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Meta                                                                     */
/* ------------------------------------------------------------------------ */

static int sq_meta_get(struct mes_store *st, const char *key, char *out, size_t cap) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, S_META_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const unsigned char *v = sqlite3_column_text(q.s, 0);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 0);
      if (!v)
        rc = MES_ENOMEM;
      else if (n + 1 > cap)
        rc = MES_EINTERNAL;
      else
        memcpy(out, v, n + 1);
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_meta_set(struct mes_store *st, const char *key, const char *value) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_META_SET, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 2, value, -1, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

/* ------------------------------------------------------------------------ */
/* Subjects                                                                 */
/* ------------------------------------------------------------------------ */

static int find_subject(struct rd *r, const uint8_t pn[32], struct mes_subject_row *out) {
  struct q q;
  int rc = rq_open(r, S_SUBJ_FIND, &q);
  if (rc == MES_OK) {
    sqlite3_bind_blob(q.s, 1, pn, 32, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      out->id = sqlite3_column_int64(q.s, 0);
      out->granted = (uint32_t)sqlite3_column_int64(q.s, 1);
      out->restricted = sqlite3_column_int(q.s, 2) != 0;
      out->created_ms = sqlite3_column_int64(q.s, 3);
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  return rc;
}

static int sq_subject_find(struct mes_store *st, const uint8_t pn[32], struct mes_subject_row *out) {
  struct rd r;
  rd_begin(be(st), &r);
  int rc = find_subject(&r, pn, out);
  rd_end(&r);
  return rc;
}

static int sq_subject_ensure(struct mes_store *st, const uint8_t pn[32], int64_t now_ms,
                             struct mes_subject_row *out) {
  struct sq *b = be(st);
  bool own;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  struct rd w = {.b = b, .c = NULL, .slot = -1}; /* inside the tx: the writer */
  rc = find_subject(&w, pn, out);
  if (rc == MES_ENOT_FOUND) {
    struct q q;
    if ((rc = q_open(b, S_SUBJ_INSERT, &q)) == MES_OK) {
      sqlite3_bind_blob(q.s, 1, pn, 32, SQLITE_STATIC);
      sqlite3_bind_int64(q.s, 2, now_ms);
      rc = q_done(&q);
    }
    q_close(&q);
    if (rc == MES_OK)
      *out = (struct mes_subject_row){.id = sqlite3_last_insert_rowid(b->db), .created_ms = now_ms};
  }
  return wr_end(st, own, rc);
}

static int update_subject(struct mes_store *st, enum stmt_id id, int64_t sid, int64_t v) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, id, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, v);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

static int sq_subject_set_granted(struct mes_store *st, int64_t sid, uint32_t granted) {
  return update_subject(st, S_SUBJ_SET_GRANTED, sid, granted);
}

static int sq_subject_set_restricted(struct mes_store *st, int64_t sid, bool restricted) {
  return update_subject(st, S_SUBJ_SET_RESTRICTED, sid, restricted ? 1 : 0);
}

static int sq_subject_delete(struct mes_store *st, int64_t sid) {
  static const enum stmt_id dels[] = {S_SUBJ_DEL_EVENTS, S_SUBJ_DEL_CONSENTS,    S_SUBJ_DEL_PREFS,
                                      S_SUBJ_DEL_IMPRESSIONS, S_SUBJ_DEL_DECISIONS, S_SUBJ_DELETE};
  struct sq *b = be(st);
  bool own;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  /* Inside the caller's tx, a savepoint of our own keeps the deletion whole. */
  if (!own && (rc = sq_tx_begin(st)) != MES_OK)
    return wr_end(st, own, rc);
  int64_t n = 0;
  rc = run(b, S_IMP_HW); /* before S_SUBJ_DEL_IMPRESSIONS: ids are never reused */
  for (size_t i = 0; i < sizeof dels / sizeof dels[0] && rc == MES_OK; i++)
    rc = run_i64(b, dels[i], sid, &n);
  if (rc == MES_OK && n == 0)
    rc = MES_ENOT_FOUND; /* the subject row itself was absent */
  if (!own) {
    uint64_t unused;
    if (rc == MES_OK)
      rc = sq_tx_commit(st, &unused);
    else
      sq_tx_rollback(st);
  }
  return wr_end(st, own, rc);
}

static int64_t sq_subject_count(struct mes_store *st) { return count_rows(st, S_SUBJ_COUNT); }

/* ------------------------------------------------------------------------ */
/* Keystore (keys.db): each write is its own durable transaction             */
/* ------------------------------------------------------------------------ */

static int sq_key_put(struct mes_store *st, int64_t sid, const uint8_t *wrapped, size_t len) {
  struct sq *b = be(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_PUT, &q);
  if (rc == MES_OK) {
    /* An upsert: a key left by a subject row whose transaction rolled back
     * (so its id is handed out again) is replaced, never reused. */
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_blob(q.s, 2, wrapped, (int)len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

static int sq_key_get(struct mes_store *st, int64_t sid, uint8_t *out, size_t cap, size_t *len) {
  struct sq *b = be(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const void *p = sqlite3_column_blob(q.s, 0);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 0);
      if (n > cap) {
        rc = MES_EINTERNAL;
      } else {
        if (n)
          memcpy(out, p, n);
        *len = n;
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

static int sq_key_delete(struct mes_store *st, int64_t sid) {
  struct sq *b = be(st);
  int64_t n = 0;
  pthread_mutex_lock(&b->kmu);
  int rc = run_i64(b, K_DELETE, sid, &n);
  if (rc == MES_OK && n > 0) {
    /* Best effort: move the zeroed page into keys.db and empty the WAL, so
     * the old wrapped key leaves the files now rather than at the next
     * checkpoint. A reader in another process may make this partial. */
    sqlite3_wal_checkpoint_v2(b->kdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  }
  pthread_mutex_unlock(&b->kmu);
  if (rc == MES_OK && n == 0)
    rc = MES_ENOT_FOUND;
  return rc;
}

static int sq_key_meta_get(struct mes_store *st, const char *key, char *out, size_t cap) {
  struct sq *b = be(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_META_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const unsigned char *v = sqlite3_column_text(q.s, 0);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 0);
      if (!v)
        rc = MES_ENOMEM;
      else if (n + 1 > cap)
        rc = MES_EINTERNAL;
      else
        memcpy(out, v, n + 1);
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

static int sq_key_meta_set(struct mes_store *st, const char *key, const char *value) {
  struct sq *b = be(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_META_SET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 2, value, -1, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Events                                                                   */
/* ------------------------------------------------------------------------ */

static void read_event(sqlite3_stmt *s, struct mes_event_row *r) {
  r->id = sqlite3_column_int64(s, 0);
  r->sid = sqlite3_column_int64(s, 1);
  r->type = sqlite3_column_int(s, 2);
  r->ts_ms = sqlite3_column_int64(s, 3);
  r->purposes = (uint32_t)sqlite3_column_int64(s, 4);
  r->source = sqlite3_column_int(s, 5);
  r->eid = sqlite3_column_int64(s, 6);
  r->sealed = sqlite3_column_blob(s, 7);
  r->sealed_len = (size_t)sqlite3_column_bytes(s, 7);
}

/* Records, in event_spans, that the run of `id` holds an event of `type` at
 * ts_ms. Holds mu, inside a transaction. */
static int span_note(struct sq *b, int64_t id, int type, int64_t ts_ms) {
  int64_t chunk = id >> SPAN_SHIFT;
  int slot = (int)((unsigned)type % SPAN_CACHE);
  if (b->span_seen[slot].valid && b->span_seen[slot].type == type && b->span_seen[slot].chunk == chunk &&
      b->span_seen[slot].min_ts <= ts_ms)
    return MES_OK;
  struct q q;
  int rc = q_open(b, S_SPAN_PUT, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, chunk);
    sqlite3_bind_int(q.s, 2, type);
    sqlite3_bind_int64(q.s, 3, ts_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  if (rc == MES_OK) {
    /* The row now holds at most ts_ms; remembering ts_ms (not the row's own
     * minimum, which a read would cost) only makes later skips rarer. */
    bool same = b->span_seen[slot].valid && b->span_seen[slot].type == type && b->span_seen[slot].chunk == chunk;
    int64_t lo = same && b->span_seen[slot].min_ts < ts_ms ? b->span_seen[slot].min_ts : ts_ms;
    b->span_seen[slot].valid = true;
    b->span_seen[slot].type = type;
    b->span_seen[slot].chunk = chunk;
    b->span_seen[slot].min_ts = lo;
  }
  return rc;
}

static int sq_event_insert(struct mes_store *st, struct mes_event_row *row) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_EV_INSERT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, row->sid);
    sqlite3_bind_int(q.s, 2, row->type);
    sqlite3_bind_int64(q.s, 3, row->ts_ms);
    sqlite3_bind_int64(q.s, 4, row->purposes);
    sqlite3_bind_int(q.s, 5, row->source);
    sqlite3_bind_int64(q.s, 6, row->eid);
    sqlite3_bind_blob(q.s, 7, row->sealed ? (const void *)row->sealed : "", (int)row->sealed_len, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      row->id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  if (rc == MES_OK)
    rc = span_note(b, row->id, row->type, row->ts_ms);
  return wr_end(st, own, rc);
}

/* One statement of event_insert_many: k rows (INSERT_ROWS, or 1). Holds mu,
 * inside a transaction. *n_dup grows by the rows skipped as retries. */
static int insert_group(struct sq *b, enum stmt_id id, const struct mes_event_row *rows, size_t k, size_t *n_dup) {
  struct q q;
  int rc = q_open(b, id, &q);
  if (rc == MES_OK) {
    for (size_t i = 0; i < k; i++) {
      const struct mes_event_row *r = &rows[i];
      int p = (int)i * INSERT_COLS;
      sqlite3_bind_int64(q.s, p + 1, r->sid);
      sqlite3_bind_int(q.s, p + 2, r->type);
      sqlite3_bind_int64(q.s, p + 3, r->ts_ms);
      sqlite3_bind_int64(q.s, p + 4, r->purposes);
      sqlite3_bind_int(q.s, p + 5, r->source);
      sqlite3_bind_int64(q.s, p + 6, r->eid);
      sqlite3_bind_blob(q.s, p + 7, r->sealed ? (const void *)r->sealed : "", (int)r->sealed_len, SQLITE_STATIC);
    }
    rc = q_done(&q);
  }
  int64_t stored = rc == MES_OK ? sqlite3_changes64(b->db) : 0;
  int64_t last = sqlite3_last_insert_rowid(b->db);
  q_close(&q);
  if (rc != MES_OK)
    return rc;
  *n_dup += k - (size_t)stored;
  if (stored == 0)
    return MES_OK;
  /* The statement drew k consecutive ids and stored its rows under some of
   * them, the highest being `last`: every stored id lies in [last - k + 1,
   * last], at most two runs of SPAN_IDS. Each row is noted in both (a span
   * may then be older than its events, or name a run without one: the sweep
   * reads that run once for nothing, and never misses an event). */
  int64_t lo = last - (int64_t)k + 1;
  if (lo < 1)
    lo = 1;
  bool two = (lo >> SPAN_SHIFT) != (last >> SPAN_SHIFT);
  for (size_t i = 0; i < k && rc == MES_OK; i++) {
    rc = span_note(b, lo, rows[i].type, rows[i].ts_ms);
    if (rc == MES_OK && two)
      rc = span_note(b, last, rows[i].type, rows[i].ts_ms);
  }
  return rc;
}

static int sq_event_insert_many(struct mes_store *st, const struct mes_event_row *rows, size_t n, size_t *n_dup) {
  struct sq *b = be(st);
  bool own;
  size_t dup = 0, i = 0;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  for (; i + INSERT_ROWS <= n && rc == MES_OK; i += INSERT_ROWS)
    rc = insert_group(b, S_EV_INSERT_MANY, rows + i, INSERT_ROWS, &dup);
  for (; i < n && rc == MES_OK; i++)
    rc = insert_group(b, S_EV_INSERT_ONE, rows + i, 1, &dup);
  rc = wr_end(st, own, rc);
  if (n_dup)
    *n_dup = rc == MES_OK ? dup : 0;
  return rc;
}

static int step_events(sqlite3_stmt *s, mes_store_event_cb cb, void *ud) {
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    struct mes_event_row row;
    read_event(s, &row);
    if (cb(ud, &row))
      return MES_OK;
  }
  return r == SQLITE_DONE ? MES_OK : map_rc(r);
}

static int list_events(struct mes_store *st, int stmt, int64_t sid, mes_store_event_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, stmt, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    rc = step_events(q.s, cb, ud);
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_event_list(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud) {
  return list_events(st, S_EV_LIST, sid, cb, ud);
}

static int sq_event_list_stored(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud) {
  return list_events(st, S_EV_LIST_STORED, sid, cb, ud);
}

static int sq_event_scan(struct mes_store *st, mes_store_event_cb cb, void *ud) {
  struct sq *b = be(st);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int rc = open_db(b->data_path, false, false, NULL, &db, NULL);
  if (rc != MES_OK)
    return rc;
  int r = sqlite3_prepare_v2(db, "SELECT " EVENT_COLS " FROM events ORDER BY id", -1, &s, NULL);
  rc = r == SQLITE_OK ? step_events(s, cb, ud) : map_rc(r);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rc;
}

static int sq_event_delete(struct mes_store *st, int64_t sid, int64_t event_id) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_EV_DELETE, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, event_id);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

/* A DELETE with two integer parameters; *n gets the rows deleted. */
static int delete_2(struct mes_store *st, enum stmt_id id, int64_t a, int64_t c, int64_t *n) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  *n = 0;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, id, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, a);
    sqlite3_bind_int64(q.s, 2, c);
    rc = q_done(&q);
    if (rc == MES_OK)
      *n = sqlite3_changes64(b->db);
  }
  q_close(&q);
  rc = wr_end(st, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

static int sq_event_purge_purposes(struct mes_store *st, int64_t sid, uint32_t still_granted, int64_t *n) {
  return delete_2(st, S_EV_PURGE, sid, still_granted, n);
}

/* One run of ids of the sweep, in its own write transaction (when the caller
 * holds none): erases the run's events of `type` older than before_ms and
 * stores the oldest ts_ms left, or drops the span. *chunk gets the run
 * swept, -1 when no span holds an event to erase. */
static int sweep_span(struct mes_store *st, int type, int64_t before_ms, int64_t *chunk, int64_t *n) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  *chunk = -1;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  spans_forget(b);
  if ((rc = q_open(b, S_SPAN_NEXT, &q)) == MES_OK) {
    sqlite3_bind_int(q.s, 1, type);
    sqlite3_bind_int64(q.s, 2, before_ms);
    int r = sqlite3_step(q.s);
    if (r == SQLITE_ROW)
      *chunk = sqlite3_column_int64(q.s, 0);
    else if (r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  int64_t lo = *chunk >= 0 ? *chunk * SPAN_IDS : 0, hi = lo + SPAN_IDS;
  if (rc == MES_OK && *chunk >= 0 && (rc = q_open(b, S_EV_SWEEP, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, lo);
    sqlite3_bind_int64(q.s, 2, hi);
    sqlite3_bind_int(q.s, 3, type);
    sqlite3_bind_int64(q.s, 4, before_ms);
    rc = q_done(&q);
    if (rc == MES_OK)
      *n += sqlite3_changes64(b->db);
    q_close(&q);
  }
  bool left = false;
  int64_t min_ts = 0;
  if (rc == MES_OK && *chunk >= 0 && (rc = q_open(b, S_SPAN_MIN, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, lo);
    sqlite3_bind_int64(q.s, 2, hi);
    sqlite3_bind_int(q.s, 3, type);
    int r = sqlite3_step(q.s);
    if (r == SQLITE_ROW) {
      left = sqlite3_column_type(q.s, 0) != SQLITE_NULL;
      min_ts = sqlite3_column_int64(q.s, 0);
    } else {
      rc = map_rc(r);
    }
    q_close(&q);
  }
  if (rc == MES_OK && *chunk >= 0 && (rc = q_open(b, left ? S_SPAN_SET : S_SPAN_DEL, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, *chunk);
    sqlite3_bind_int(q.s, 2, type);
    if (left)
      sqlite3_bind_int64(q.s, 3, min_ts);
    rc = q_done(&q);
    q_close(&q);
  }
  return wr_end(st, own, rc);
}

/* Run by run, each in its own short write transaction, so that ingestion
 * waits for the writer at most one run's delete (1 << SPAN_SHIFT ids) at a
 * time. A run left with min_ts >= before_ms is not found again: the loop ends. */
static int sq_event_sweep(struct mes_store *st, int type, int64_t before_ms, int64_t *n) {
  int64_t chunk, done = 0;
  int rc;
  do
    rc = sweep_span(st, type, before_ms, &chunk, &done);
  while (rc == MES_OK && chunk >= 0);
  *n = rc == MES_OK ? done : 0;
  return rc;
}

static int64_t sq_event_count(struct mes_store *st) { return count_rows(st, S_EV_COUNT); }

/* A stamp (S_EV_STAMP, S_IMP_STAMP): the largest id and the count of sid's rows. */
static int read_stamp(struct mes_store *st, enum stmt_id id, int64_t sid, int64_t *max_id, int64_t *n) {
  struct rd r;
  struct q q;
  rd_begin(be(st), &r);
  int rc = rq_open(&r, id, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      *max_id = sqlite3_column_int64(q.s, 0);
      *n = sqlite3_column_int64(q.s, 1);
    } else {
      rc = s == SQLITE_DONE ? MES_ESTORE : map_rc(s); /* an aggregate always yields its row */
    }
  }
  q_close(&q);
  rd_end(&r);
  return rc;
}

static int sq_event_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n) {
  return read_stamp(st, S_EV_STAMP, sid, max_id, n);
}

/* ------------------------------------------------------------------------ */
/* Consents and preferences                                                 */
/* ------------------------------------------------------------------------ */

static int sq_consent_append(struct mes_store *st, struct mes_consent_row *row) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_CO_APPEND, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, row->sid);
    sqlite3_bind_int(q.s, 2, row->purpose);
    sqlite3_bind_int(q.s, 3, row->status);
    sqlite3_bind_int64(q.s, 4, row->ts_ms);
    sqlite3_bind_blob(q.s, 5, row->sealed ? (const void *)row->sealed : "", (int)row->sealed_len, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      row->id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

static int sq_consent_list(struct mes_store *st, int64_t sid, mes_store_consent_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, S_CO_LIST, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_consent_row row = {
          .id = sqlite3_column_int64(q.s, 0),
          .sid = sqlite3_column_int64(q.s, 1),
          .purpose = sqlite3_column_int(q.s, 2),
          .status = sqlite3_column_int(q.s, 3),
          .ts_ms = sqlite3_column_int64(q.s, 4),
          .sealed = sqlite3_column_blob(q.s, 5),
      };
      row.sealed_len = (size_t)sqlite3_column_bytes(q.s, 5);
      if (cb(ud, &row))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_pref_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_PREF_PUT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_blob(q.s, 2, sealed ? (const void *)sealed : "", (int)len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

/* Copies column 0 of the row selected by an id (integer or text) into a new
 * buffer with a NUL after it. MES_ENOT_FOUND when no row. */
static int get_copy(struct sq *b, enum stmt_id id, int64_t iv, const char *sv, void **out, size_t *len) {
  struct q q;
  *out = NULL;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, id, &q);
  if (rc == MES_OK) {
    if (sv)
      sqlite3_bind_text(q.s, 1, sv, -1, SQLITE_STATIC);
    else
      sqlite3_bind_int64(q.s, 1, iv);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const void *p = sqlite3_column_blob(q.s, 0);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 0);
      char *c = malloc(n + 1);
      if (!c) {
        rc = MES_ENOMEM;
      } else {
        if (n)
          memcpy(c, p, n);
        c[n] = '\0';
        *out = c;
        if (len)
          *len = n;
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_pref_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len) {
  void *p;
  int rc = get_copy(be(st), S_PREF_GET, sid, NULL, &p, len);
  *out = p;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Catalog                                                                  */
/* ------------------------------------------------------------------------ */

static int sq_item_put(struct mes_store *st, const char *id, const char *doc, int64_t now_ms) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_ITEM_PUT, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 3, now_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  if (rc == MES_OK)
    rc = run(b, S_ITEM_VERSION_BUMP);
  return wr_end(st, own, rc);
}

static int sq_item_get(struct mes_store *st, const char *id, char **doc) {
  void *p;
  int rc = get_copy(be(st), S_ITEM_GET, 0, id, &p, NULL);
  *doc = p;
  return rc;
}

static int sq_item_delete(struct mes_store *st, const char *id) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_ITEM_DELETE, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, id, -1, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  if (rc == MES_OK)
    rc = run(b, S_ITEM_VERSION_BUMP);
  return wr_end(st, own, rc);
}

static int sq_item_list(struct mes_store *st, const char *after, int limit, mes_store_item_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, S_ITEM_LIST, &q);
  if (rc == MES_OK) {
    /* Every id is at least one byte, so "" sorts before all of them. */
    sqlite3_bind_text(q.s, 1, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q.s, 2, limit > 0 ? limit : -1);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(q.s, 0);
      const char *doc = (const char *)sqlite3_column_text(q.s, 1);
      if (!id || !doc) {
        r = SQLITE_NOMEM;
        break;
      }
      if (cb(ud, id, doc))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int64_t sq_item_count(struct mes_store *st) { return count_rows(st, S_ITEM_COUNT); }

/* ------------------------------------------------------------------------ */
/* Impressions                                                              */
/* ------------------------------------------------------------------------ */

static int sq_impression_add(struct mes_store *st, const struct mes_impression_row *row) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_IMP_ADD, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, row->sid);
    sqlite3_bind_int64(q.s, 2, row->ts_ms);
    sqlite3_bind_int(q.s, 3, row->channel);
    sqlite3_bind_blob(q.s, 4, row->sealed, (int)row->sealed_len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

/* S_IMP_LIST (bound from since_ms) or S_IMP_AFTER (from an id). */
static int list_impressions(struct mes_store *st, enum stmt_id id, int64_t sid, int64_t from,
                            mes_store_impression_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, id, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, from);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_impression_row row = {
          .id = sqlite3_column_int64(q.s, 0),
          .sid = sid,
          .ts_ms = sqlite3_column_int64(q.s, 1),
          .channel = sqlite3_column_int(q.s, 2),
          .sealed = sqlite3_column_blob(q.s, 3),
          .sealed_len = (size_t)sqlite3_column_bytes(q.s, 3),
      };
      if (!row.sealed && row.sealed_len) {
        r = SQLITE_NOMEM;
        break;
      }
      if (cb(ud, &row))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_impression_list(struct mes_store *st, int64_t sid, int64_t since_ms, mes_store_impression_cb cb,
                              void *ud) {
  return list_impressions(st, S_IMP_LIST, sid, since_ms, cb, ud);
}

static int sq_impression_list_after(struct mes_store *st, int64_t sid, int64_t after_id, mes_store_impression_cb cb,
                                    void *ud) {
  return list_impressions(st, S_IMP_AFTER, sid, after_id, cb, ud);
}

static int sq_impression_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  struct sq *b = be(st);
  bool own;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  rc = run(b, S_IMP_HW);
  if (rc == MES_OK)
    rc = run_i64(b, S_IMP_SWEEP, before_ms, n);
  rc = wr_end(st, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

static int sq_impression_purge(struct mes_store *st, int64_t sid, int64_t *n) {
  struct sq *b = be(st);
  bool own;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  rc = run(b, S_IMP_HW);
  if (rc == MES_OK)
    rc = run_i64(b, S_SUBJ_DEL_IMPRESSIONS, sid, n);
  rc = wr_end(st, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

static int sq_impression_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n) {
  return read_stamp(st, S_IMP_STAMP, sid, max_id, n);
}

/* ------------------------------------------------------------------------ */
/* API keys                                                                 */
/* ------------------------------------------------------------------------ */

static int read_apikey(sqlite3_stmt *s, struct mes_apikey_row *r) {
  const char *name = (const char *)sqlite3_column_text(s, 0);
  const void *hash = sqlite3_column_blob(s, 1);
  if (!name || !hash || sqlite3_column_bytes(s, 1) != 32)
    return MES_ESTORE;
  snprintf(r->name, sizeof r->name, "%s", name);
  memcpy(r->hash, hash, 32);
  r->scopes = (uint32_t)sqlite3_column_int64(s, 2);
  r->created_ms = sqlite3_column_int64(s, 3);
  r->revoked_ms = sqlite3_column_int64(s, 4);
  return MES_OK;
}

static int sq_apikey_put(struct mes_store *st, const struct mes_apikey_row *row) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AK_PUT, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, row->name, (int)strnlen(row->name, sizeof row->name), SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 2, row->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 3, row->scopes);
    sqlite3_bind_int64(q.s, 4, row->created_ms);
    sqlite3_bind_int64(q.s, 5, row->revoked_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

static int sq_apikey_find(struct mes_store *st, const uint8_t hash[32], struct mes_apikey_row *out) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, S_AK_FIND, &q);
  if (rc == MES_OK) {
    sqlite3_bind_blob(q.s, 1, hash, 32, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW)
      rc = read_apikey(q.s, out);
    else
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_apikey_list(struct mes_store *st, mes_store_apikey_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  struct rd rh;
  rd_begin(b, &rh);
  int rc = rq_open(&rh, S_AK_LIST, &q);
  if (rc == MES_OK) {
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_apikey_row row;
      if ((rc = read_apikey(q.s, &row)) != MES_OK || cb(ud, &row))
        break;
    }
    if (rc == MES_OK && r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  rd_end(&rh);
  return rc;
}

static int sq_apikey_revoke(struct mes_store *st, const char *name, int64_t now_ms) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AK_REVOKE, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 2, now_ms);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(st, own, rc);
}

/* ------------------------------------------------------------------------ */
/* Decision records (sealed by the caller when personal)                    */
/* ------------------------------------------------------------------------ */

/* The recommender's background writer calls this with a batch: one
 * transaction, committed without waiting for its fsync (a record lost in a
 * crash costs an audit trail entry, not an acknowledged write). Inside a
 * caller's transaction the rows simply join it. */
static int sq_decision_put(struct mes_store *st, const struct mes_decision_row *rows, size_t n) {
  struct sq *b = be(st);
  struct q q = {0};
  int rc = sq_tx_begin(st);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_DEC_PUT, &q)) == MES_OK) {
    for (size_t i = 0; i < n && rc == MES_OK; i++) {
      if (rows[i].len > (size_t)INT32_MAX) {
        rc = MES_EINTERNAL;
        break;
      }
      sqlite3_bind_int64(q.s, 1, rows[i].rid);
      sqlite3_bind_int64(q.s, 2, rows[i].sid);
      sqlite3_bind_int64(q.s, 3, rows[i].ts_ms);
      sqlite3_bind_blob(q.s, 4, rows[i].len ? (const void *)rows[i].doc : "", (int)rows[i].len, SQLITE_STATIC);
      rc = q_done(&q);
      sqlite3_reset(q.s);
    }
  }
  q_close(&q);
  if (rc != MES_OK) {
    sq_tx_rollback(st);
    return rc;
  }
  uint64_t unused;
  return sq_tx_commit(st, &unused);
}

static int sq_decision_get(struct mes_store *st, int64_t rid, struct mes_decision_row *out, uint8_t **doc) {
  struct sq *b = be(st);
  struct q q;
  *doc = NULL;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&b->mu);
  int rc = q_open(b, S_DEC_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, rid);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const void *p = sqlite3_column_blob(q.s, 2);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 2);
      uint8_t *c = malloc(n ? n : 1);
      if (!c || (n && !p)) {
        free(c);
        rc = MES_ENOMEM;
      } else {
        if (n)
          memcpy(c, p, n);
        out->rid = rid;
        out->sid = sqlite3_column_int64(q.s, 0);
        out->ts_ms = sqlite3_column_int64(q.s, 1);
        out->doc = c;
        out->len = n;
        *doc = c;
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  pthread_mutex_unlock(&b->mu);
  return rc;
}

static int sq_decision_list(struct mes_store *st, int64_t sid, mes_store_decision_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  pthread_mutex_lock(&b->mu);
  int rc = q_open(b, S_DEC_LIST, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_decision_row row = {
          .rid = sqlite3_column_int64(q.s, 0),
          .sid = sqlite3_column_int64(q.s, 1),
          .ts_ms = sqlite3_column_int64(q.s, 2),
          .doc = sqlite3_column_blob(q.s, 3),
          .len = (size_t)sqlite3_column_bytes(q.s, 3),
      };
      if (!row.doc && row.len) {
        r = SQLITE_NOMEM;
        break;
      }
      if (cb(ud, &row))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  pthread_mutex_unlock(&b->mu);
  return rc;
}

static int sq_decision_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  struct sq *b = be(st);
  bool own;
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  rc = run_i64(b, S_DEC_SWEEP, before_ms, n);
  rc = wr_end(st, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Models (item-item aggregates: not personal, stored in the clear)          */
/* ------------------------------------------------------------------------ */

/* The insert and the trim are one durable transaction: a crash leaves either
 * the old set of models or the new one, never fewer than `keep`. */
static int sq_model_put(struct mes_store *st, const char *meta, const uint8_t *blob, size_t len, int keep,
                        int64_t now_ms, int64_t *id) {
  struct sq *b = be(st);
  bool own;
  struct q q = {0};
  *id = 0;
  if (len > (size_t)INT32_MAX)
    return MES_EINTERNAL; /* SQLite's default blob limit is 1 GB anyway */
  int rc = wr_begin(st, &own);
  if (rc != MES_OK)
    return rc;
  /* Inside the caller's tx, a savepoint of our own keeps the put whole. */
  if (!own && (rc = sq_tx_begin(st)) != MES_OK)
    return wr_end(st, own, rc);
  if ((rc = q_open(b, S_MODEL_PUT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, now_ms);
    sqlite3_bind_text(q.s, 2, meta, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 3, blob ? (const void *)blob : "", (int)len, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      *id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  if (rc == MES_OK && keep > 0 && (rc = q_open(b, S_MODEL_TRIM, &q)) == MES_OK) {
    sqlite3_bind_int(q.s, 1, keep);
    rc = q_done(&q);
    q_close(&q);
  }
  if (!own) {
    uint64_t unused;
    if (rc == MES_OK)
      rc = sq_tx_commit(st, &unused);
    else
      sq_tx_rollback(st);
  }
  rc = wr_end(st, own, rc);
  if (rc != MES_OK)
    *id = 0;
  return rc;
}

static int64_t sq_model_latest(struct mes_store *st) { return count_rows(st, S_MODEL_LATEST); }

static int sq_model_get(struct mes_store *st, int64_t id, char **meta, uint8_t **blob, size_t *len) {
  struct sq *b = be(st);
  struct q q;
  *meta = NULL;
  *blob = NULL;
  *len = 0;
  pthread_mutex_lock(&b->mu);
  int rc = q_open(b, S_MODEL_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, id);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const unsigned char *m = sqlite3_column_text(q.s, 0);
      size_t mlen = (size_t)sqlite3_column_bytes(q.s, 0);
      const void *p = sqlite3_column_blob(q.s, 1);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 1);
      char *mc = m ? malloc(mlen + 1) : NULL;
      uint8_t *bc = malloc(n ? n : 1);
      if (!mc || !bc || (n && !p)) {
        free(mc);
        free(bc);
        rc = MES_ENOMEM;
      } else {
        memcpy(mc, m, mlen + 1);
        if (n)
          memcpy(bc, p, n);
        *meta = mc;
        *blob = bc;
        *len = n;
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  pthread_mutex_unlock(&b->mu);
  return rc;
}

/* Every subject row, by id (training reads who still grants what). */
static int sq_subject_scan(struct mes_store *st, mes_store_subject_cb cb, void *ud) {
  struct sq *b = be(st);
  struct q q;
  pthread_mutex_lock(&b->mu);
  int rc = q_open(b, S_SUBJ_SCAN, &q);
  if (rc == MES_OK) {
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_subject_row row = {
          .id = sqlite3_column_int64(q.s, 0),
          .granted = (uint32_t)sqlite3_column_int64(q.s, 1),
          .restricted = sqlite3_column_int(q.s, 2) != 0,
          .created_ms = sqlite3_column_int64(q.s, 3),
      };
      if (cb(ud, &row))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  pthread_mutex_unlock(&b->mu);
  return rc;
}

/* ------------------------------------------------------------------------ */

const struct mes_store_ops mes__store_sqlite_ops = {
    .version = MES_STORE_OPS_VERSION,
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .wait_durable = sq_wait_durable,
    .backup = sq_backup,
    .meta_get = sq_meta_get,
    .meta_set = sq_meta_set,
    .subject_find = sq_subject_find,
    .subject_ensure = sq_subject_ensure,
    .subject_set_granted = sq_subject_set_granted,
    .subject_set_restricted = sq_subject_set_restricted,
    .subject_delete = sq_subject_delete,
    .subject_count = sq_subject_count,
    .key_put = sq_key_put,
    .key_get = sq_key_get,
    .key_delete = sq_key_delete,
    .event_insert = sq_event_insert,
    .event_list = sq_event_list,
    .event_scan = sq_event_scan,
    .event_delete = sq_event_delete,
    .event_purge_purposes = sq_event_purge_purposes,
    .event_sweep = sq_event_sweep,
    .event_count = sq_event_count,
    .consent_append = sq_consent_append,
    .consent_list = sq_consent_list,
    .pref_put = sq_pref_put,
    .pref_get = sq_pref_get,
    .item_put = sq_item_put,
    .item_get = sq_item_get,
    .item_delete = sq_item_delete,
    .item_list = sq_item_list,
    .item_count = sq_item_count,
    .impression_add = sq_impression_add,
    .impression_list = sq_impression_list,
    .impression_sweep = sq_impression_sweep,
    .impression_purge = sq_impression_purge,
    .apikey_put = sq_apikey_put,
    .apikey_find = sq_apikey_find,
    .apikey_list = sq_apikey_list,
    .apikey_revoke = sq_apikey_revoke,
    .on_durable = sq_on_durable,
    .event_insert_many = sq_event_insert_many,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .event_stamp = sq_event_stamp,
    .impression_stamp = sq_impression_stamp,
    .impression_list_after = sq_impression_list_after,
    .event_list_stored = sq_event_list_stored,
    .decision_put = sq_decision_put,
    .decision_get = sq_decision_get,
    .decision_list = sq_decision_list,
    .decision_sweep = sq_decision_sweep,
    .model_put = sq_model_put,
    .model_latest = sq_model_latest,
    .model_get = sq_model_get,
    .subject_scan = sq_subject_scan,
    .key_meta_get = sq_key_meta_get,
    .key_meta_set = sq_key_meta_set,
};
