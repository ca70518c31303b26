/*
 * store/sqlite_conn — the SQLite backend's connections: opening one with the
 * pragmas of its role, the cache of prepared statements, and where a read
 * runs (the pool of reader connections, read sessions, and the writer when a
 * read must see writes that readers cannot yet).
 *
 * Reads outside a transaction run on a small pool of read-only connections
 * (mes__sq_rd_begin), beside the writer: WAL gives each a snapshot of what
 * was committed when its statement began. So they never wait for ingestion,
 * and they see every acknowledged write (acknowledged = durable =
 * committed); they may miss other threads' writes that are released but not
 * yet durable - the rule that store.h states; a thread with its own unsynced
 * writes reads on the writer. Reads inside a transaction use the writer
 * connection, to see the transaction's own writes; when every reader is busy
 * a read falls back to the writer too. The writer lock is recursive so that
 * a thread holding a transaction can read, and list callbacks can call back
 * into the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/sqlite_int.h"

#define BUSY_TIMEOUT_MS 5000

/* ------------------------------------------------------------------------ */
/* Opening a connection                                                     */
/* ------------------------------------------------------------------------ */

/* The writer's page cache holds the hot index pages that inserts touch:
 * events_subject takes each subject's new row at the end of that subject's
 * run, so a batch dirties about one leaf page per distinct subject. A larger
 * autocheckpoint (16,384 pages, a WAL of up to 64 MiB) lets those pages be
 * rewritten in the WAL by many commits but copied into mesura.db once per
 * checkpoint: +40% bare inserts at 400k rows (bench/README.md). */
#define WRITER_CACHE_PRAGMA "PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=16384;" /* KiB; pages */
/* Statement journals and sort spills stay in memory: on disk, SQLite opens,
 * writes and unlinks a temporary file in /var/tmp for every statement of a
 * write transaction (a fifth of a bare insert loop's time, and pages of the
 * store outside its directory). */
#define TEMP_PRAGMA "PRAGMA temp_store=MEMORY;"

/* synchronous=NORMAL: COMMIT writes the WAL without syncing it; the group
 * commit's sync hook (sqlite.c) fdatasyncs it before any ticket of the
 * commit is declared durable. */
static const char data_pragmas[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA secure_delete=FAST;" WRITER_CACHE_PRAGMA TEMP_PRAGMA;
/* synchronous=FULL: each keystore write is durable when it returns.
 * secure_delete=ON: a deleted wrapped key is overwritten with zeros. */
static const char keys_pragmas[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;" TEMP_PRAGMA;
static const char reader_pragmas[] = "PRAGMA cache_size=-8192;" TEMP_PRAGMA;

const char *mes__sq_base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int mes__sq_open_db(const char *path, bool create, enum sq_role role, sqlite3 **out, struct mes_err *err) {
  static const struct {
    bool writable;
    const char *pragmas;
  } roles[] = {
      [SQ_WRITER] = {true, data_pragmas}, [SQ_KEYS] = {true, keys_pragmas}, [SQ_READER] = {false, reader_pragmas},
      [SQ_SNAPSHOT] = {false, NULL},      [SQ_COPY] = {true, NULL},
  };
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
                       mes__sq_base_name(path), path);
  }
  sqlite3 *db = NULL;
  int flags = (roles[role].writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path, &db, flags, NULL);
  if (rc != SQLITE_OK) {
    int mrc = mes_err_set(err, map_rc(rc) == MES_ENOMEM ? MES_ENOMEM : MES_ESTORE, NULL, "Cannot open %s: %s.", path,
                          db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return mrc;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  /* The pragmas are the first statements to read the file (SQLite opens
   * lazily): a damaged file, or one that is no database at all, shows here,
   * and the message names it so that the person knows which copy to restore. */
  const char *pragmas = roles[role].pragmas;
  if (pragmas && (rc = sqlite3_exec(db, pragmas, NULL, NULL, NULL)) != SQLITE_OK) {
    int mrc;
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
      mrc = mes_err_set(err, MES_ESTORE, NULL,
                        "%s is damaged or is not a mesura database (%s): %s; restore the directory's own %s.",
                        mes__sq_base_name(path), path, sqlite3_errmsg(db), mes__sq_base_name(path));
    else
      mrc = mes_err_set(err, map_rc(rc), NULL, "Cannot open %s: %s.", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return mrc;
  }
  *out = db;
  return MES_OK;
}

/* ------------------------------------------------------------------------ */
/* The statement cache                                                      */
/* ------------------------------------------------------------------------ */

int mes__sq_q_open_on(sqlite3 *db, sqlite3_stmt **slot, enum stmt_id id, struct q *q) {
  q->cached = true;
  if (*slot && !sqlite3_stmt_busy(*slot)) {
    q->s = *slot;
    return MES_OK;
  }
  if (*slot)
    q->cached = false;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v3(db, mes__sq_sql[id], -1, q->cached ? SQLITE_PREPARE_PERSISTENT : 0, &s, NULL);
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

/* ------------------------------------------------------------------------ */
/* Where a read runs                                                        */
/* ------------------------------------------------------------------------ */

/* The calling thread's read session (mes_store_read_begin), if any: the
 * reader connection it holds, in an open read transaction. */
static _Thread_local struct {
  const struct sq *b; /* NULL: none */
  int slot;
  int depth; /* nested read_begin calls */
} pinned;

/* Takes a free reader (opening it on first use): its slot, or -1 when all
 * are busy or one cannot be opened. */
static int take_reader(struct sq *b) {
  int slot = -1;
  pthread_mutex_lock(&b->rmu);
  for (int i = 0; i < N_READERS; i++) {
    if (b->rd_busy[i])
      continue;
    if (!b->rd[i].db && mes__sq_open_db(b->data_path, false, SQ_READER, &b->rd[i].db, NULL) != MES_OK)
      break;
    b->rd_busy[i] = true;
    slot = i;
    break;
  }
  pthread_mutex_unlock(&b->rmu);
  return slot;
}

static void give_back_reader(struct sq *b, int slot) {
  pthread_mutex_lock(&b->rmu);
  b->rd_busy[slot] = false;
  pthread_mutex_unlock(&b->rmu);
}

/* Closes a reader (its statements too); take_reader opens it again. For a
 * reader stuck in a transaction: it would read an old snapshot for good (a
 * withdrawn consent still granted) and keep the WAL from checkpointing. */
static void drop_reader(struct sq *b, int slot) {
  struct conn *c = &b->rd[slot];
  for (int i = 0; i < S_N; i++) {
    sqlite3_finalize(c->stmt[i]);
    c->stmt[i] = NULL;
  }
  sqlite3_close(c->db);
  c->db = NULL;
}

/* Inside the calling thread's transaction the read must see that
 * transaction's writes: the writer. Otherwise a free reader; when all are
 * busy, or one cannot be opened, the writer - never a wait for a reader, so
 * a list callback that reads again cannot deadlock on the pool. After this
 * thread released writes that are not yet durable, the writer too. */
void mes__sq_rd_begin(struct sq *b, struct rd *r) {
  r->b = b;
  r->c = NULL;
  r->slot = -1;
  if (mes__commit_enter_held(&b->gc))
    return; /* our transaction: keep the writer lock until rd_end */
  if (mes__commit_own_pending(&b->gc)) {
    mes__commit_lock(&b->gc);
    return;
  }
  if (pinned.b == b) { /* the session's reader: already ours */
    r->c = &b->rd[pinned.slot];
    r->slot = -2;
    return;
  }
  r->slot = take_reader(b);
  if (r->slot >= 0)
    r->c = &b->rd[r->slot];
  else
    mes__commit_lock(&b->gc);
}

void mes__sq_rd_end(struct rd *r) {
  if (!r->c) {
    mes__commit_unlock(&r->b->gc);
    return;
  }
  if (r->slot == -2) /* the session keeps its reader */
    return;
  give_back_reader(r->b, r->slot);
}

/* Read sessions. A reader connection in autocommit opens and closes a read
 * transaction per statement, and every commit of the writer in between
 * makes SQLite drop that connection's whole page cache: each lookup of a
 * batch's 2,000 subjects read its b-tree pages again (7-9 % of a batch's
 * server CPU). In one read transaction the pages stay cached from lookup to
 * lookup. */
void mes__sq_read_begin(struct mes_store *st) {
  struct sq *b = sq_of(st);
  if (pinned.b == b) {
    pinned.depth++;
    return;
  }
  if (pinned.b)
    return; /* a session on another store: this one reads as usual */
  if (mes__commit_held(&b->gc))
    return; /* reads go to our transaction */
  if (mes__commit_own_pending(&b->gc))
    return; /* reads go to the writer */
  int slot = take_reader(b);
  if (slot < 0)
    return; /* every reader busy: reads go one by one, as without a session */
  if (sqlite3_exec(b->rd[slot].db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    give_back_reader(b, slot);
    return;
  }
  pinned.b = b;
  pinned.slot = slot;
  pinned.depth = 1;
}

void mes__sq_read_end(struct mes_store *st) {
  struct sq *b = sq_of(st);
  if (pinned.b != b || --pinned.depth > 0)
    return;
  sqlite3 *db = b->rd[pinned.slot].db;
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  if (!sqlite3_get_autocommit(db)) /* both failed (out of memory): still inside the read */
    drop_reader(b, pinned.slot);
  give_back_reader(b, pinned.slot);
  pinned.b = NULL;
}

/* ------------------------------------------------------------------------ */
/* Reads shared by several tables                                           */
/* ------------------------------------------------------------------------ */

int64_t mes__sq_count_rows(struct sq *b, enum stmt_id id) {
  struct rd r;
  struct q q;
  int64_t n = -1;
  mes__sq_rd_begin(b, &r);
  if (rq_open(&r, id, &q) == MES_OK && sqlite3_step(q.s) == SQLITE_ROW)
    n = sqlite3_column_int64(q.s, 0);
  q_close(&q);
  mes__sq_rd_end(&r);
  return n;
}

int mes__sq_read_stamp(struct sq *b, enum stmt_id id, int64_t sid, int64_t *max_id, int64_t *n) {
  struct rd r;
  struct q q;
  mes__sq_rd_begin(b, &r);
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
  mes__sq_rd_end(&r);
  return rc;
}

int mes__sq_get_copy(struct sq *b, enum stmt_id id, int64_t iv, const char *sv, void **out, size_t *len) {
  struct q q;
  *out = NULL;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
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
  mes__sq_rd_end(&rh);
  return rc;
}
