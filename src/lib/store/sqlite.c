/*
 * store/sqlite — the SQLite backend: opening and closing it, the hooks by
 * which the group commit (commit.c) drives its writer connection, the
 * online backup, and its method table. The backend's files (listed in
 * sqlite_int.h) are the only ones of mesura that include <sqlite3.h> or hold
 * SQL.
 *
 * Two databases in the data directory, each with its own connection:
 *   mesura.db  the data, in WAL mode with synchronous=NORMAL: COMMIT writes
 *              the WAL without syncing it, and the group commit's sync hook
 *              fdatasyncs the WAL before any write of the batch is declared
 *              durable. Written through one writer connection under the
 *              writer lock; read mostly on a pool of reader connections
 *              (sqlite_conn.c).
 *   keys.db    the wrapped subject keys, synchronous=FULL: every write is its
 *              own durable transaction, so a key is on disk before data
 *              sealed under it and a deleted key stays deleted after a crash.
 *
 * Group commit on SQLite: the outer transaction is a BEGIN IMMEDIATE on the
 * writer, each store transaction a SAVEPOINT in it; the flusher's COMMIT
 * writes the batch's WAL frames to the page cache and its sync is one
 * fdatasync of mesura.db-wal, done after the writer lock is released.
 * (SQLite with synchronous=FULL would do exactly this fsync, inside COMMIT,
 * holding the lock. Checkpoints keep their own syncs: WAL before copying,
 * database after, so restarting the WAL never loses a synced commit.) When
 * idle no write transaction is open, so another process (the CLI creating
 * an API key) can write; it waits through busy_timeout at worst for one
 * flush.
 *
 * Locks, always taken in this order: the writer lock (commit_int.h) ->
 * kmu (keystore), and the writer lock -> the group commit's sync_mu. rmu
 * (the reader pool) is never held while taking another lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/path.h"
#include "store/sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* The group commit's hooks, on the writer connection (mes_commit_be)        */
/* ------------------------------------------------------------------------ */

static int gc_begin(void *be) { return run(be, S_BEGIN); }

static int gc_savepoint(void *be) { return run(be, S_SAVEPOINT); }

static int gc_release(void *be) { return run(be, S_RELEASE); }

static void gc_undo(void *be) {
  run(be, S_ROLLBACK_TO);
  run(be, S_RELEASE);
}

static int gc_commit(void *be) {
  struct sq *b = be;
  int rc = run(b, S_COMMIT);
  if (rc != MES_OK && !sqlite3_get_autocommit(b->db))
    run(b, S_ROLLBACK);
  return rc;
}

static void gc_rollback(void *be) { run(be, S_ROLLBACK); }

/* SQLite rolls the whole transaction back on some errors (I/O, disk full,
 * out of memory); the connection is then in autocommit again. */
static int gc_check(void *be) {
  struct sq *b = be;
  if (!sqlite3_get_autocommit(b->db))
    return MES_OK;
  return (sqlite3_errcode(b->db) & 0xff) == SQLITE_FULL ? MES_ESTORAGE_FULL : MES_ESTORE;
}

static int gc_sync(void *be) {
  struct sq *b = be;
  int src;
  do
    src = fdatasync(b->wal_fd);
  while (src != 0 && errno == EINTR);
  if (src == 0)
    return MES_OK;
  return errno == ENOSPC || errno == EDQUOT ? MES_ESTORAGE_FULL : MES_ESTORE;
}

/* What the writer remembers of recent writes is the event_spans cache. */
static void gc_forget(void *be) { spans_forget(be); }

static const struct mes_commit_be sq_commit_be = {
    .begin = gc_begin,
    .savepoint = gc_savepoint,
    .release = gc_release,
    .undo = gc_undo,
    .commit = gc_commit,
    .rollback = gc_rollback,
    .check = gc_check,
    .sync = gc_sync,
    .forget = gc_forget,
};

/* ------------------------------------------------------------------------ */
/* Open and close                                                           */
/* ------------------------------------------------------------------------ */

/* "dir/name" (mes_path_join) in a new buffer of its size: the store keeps
 * its paths for every connection it opens later. NULL when out of memory. */
static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p && mes_path_join(p, n, dir, name) != MES_OK) {
    free(p); /* n is the joined length: only a path that does not fit is refused */
    p = NULL;
  }
  return p;
}

/* Opens the descriptor gc_sync fdatasyncs: mesura.db-wal, which SQLite keeps
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

static void sq_close(struct mes_store *st);

static int sq_open(struct mes_store *st, const char *dir, bool create, struct mes_err *err) {
  struct sq *b = calloc(1, sizeof *b);
  if (!b)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  st->be = b;
  int rc = MES_OK;
  mes__commit_init(&b->gc, &sq_commit_be, b);
  pthread_mutex_init(&b->kmu, NULL);
  pthread_mutex_init(&b->rmu, NULL);
  b->wal_fd = -1;

  b->data_path = path_join(dir, "mesura.db");
  b->keys_path = path_join(dir, "keys.db");
  if (!b->data_path || !b->keys_path) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  int keys_version = 0;
  if ((rc = mes__sq_open_db(b->data_path, create, SQ_WRITER, &b->db, err)) != MES_OK ||
      (rc = mes__sq_migrate_data(b->db, b->data_path, &b->schema_version, err)) != MES_OK ||
      (rc = mes__sq_open_db(b->keys_path, create, SQ_KEYS, &b->kdb, err)) != MES_OK ||
      (rc = mes__sq_migrate_keys(b->kdb, b->keys_path, &keys_version, err)) != MES_OK ||
      (rc = open_wal_fd(b, dir, err)) != MES_OK)
    goto error;
  if (mes__commit_start(&b->gc) != MES_OK) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, "Cannot start the store's commit thread.");
    goto error;
  }
  return MES_OK;
error:
  sq_close(st);
  return rc;
}

static void sq_close(struct mes_store *st) {
  struct sq *b = sq_of(st);
  if (!b)
    return;
  mes__commit_release(&b->gc); /* commits and syncs what is pending */
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
  pthread_mutex_destroy(&b->kmu);
  free(b->data_path);
  free(b->keys_path);
  free(b);
  st->be = NULL;
}

static int sq_schema_version(struct mes_store *st) { return sq_of(st)->schema_version; }

/* ------------------------------------------------------------------------ */
/* Transactions (the group commit's) and backup                             */
/* ------------------------------------------------------------------------ */

static int sq_tx_begin(struct mes_store *st) { return mes__commit_tx_begin(&sq_of(st)->gc); }

static int sq_tx_commit(struct mes_store *st, uint64_t *ticket) {
  return mes__commit_tx_commit(&sq_of(st)->gc, ticket);
}

static void sq_tx_rollback(struct mes_store *st) { mes__commit_tx_rollback(&sq_of(st)->gc); }

static int sq_wait_durable(struct mes_store *st, uint64_t ticket) { return mes__commit_wait(&sq_of(st)->gc, ticket); }

static int sq_on_durable(struct mes_store *st, uint64_t ticket, struct mes_store_waiter *w) {
  return mes__commit_on_durable(&sq_of(st)->gc, ticket, w);
}

/* Copies the data database through a connection of its own: the copy is
 * one read transaction (a consistent snapshot) and does not stop writers. */
static int sq_backup(struct mes_store *st, const char *path, struct mes_err *err) {
  struct sq *b = sq_of(st);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return mes_err_set(err, MES_EEXISTS, NULL, "%s already exists; choose a new file for the backup.", path);
    return mes_err_set(err, MES_EIO, NULL, "Cannot create %s: %s.", path, strerror(errno));
  }
  close(fd);
  sqlite3 *src = NULL, *dst = NULL;
  int rc = mes__sq_open_db(b->data_path, false, SQ_SNAPSHOT, &src, err);
  if (rc == MES_OK)
    rc = mes__sq_open_db(path, false, SQ_COPY, &dst, err);
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
/* The method table                                                         */
/* ------------------------------------------------------------------------ */

const struct mes_store_ops mes__store_sqlite_ops = {
    .version = MES_STORE_OPS_VERSION,
    .name = "sqlite",

    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .backup = sq_backup,
    .install = mes__sq_install,
    .install_end = mes__sq_install_end,

    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .wait_durable = sq_wait_durable,
    .on_durable = sq_on_durable,
    .read_begin = mes__sq_read_begin,
    .read_end = mes__sq_read_end,

    .meta_get = mes__sq_meta_get,
    .meta_set = mes__sq_meta_set,

    .subject_find = mes__sq_subject_find,
    .subject_ensure = mes__sq_subject_ensure,
    .subject_set_granted = mes__sq_subject_set_granted,
    .subject_set_restricted = mes__sq_subject_set_restricted,
    .subject_delete = mes__sq_subject_delete,
    .subject_count = mes__sq_subject_count,
    .subject_scan = mes__sq_subject_scan,
    .subject_id_floor = mes__sq_subject_id_floor,

    .key_put = mes__sq_key_put,
    .key_get = mes__sq_key_get,
    .key_delete = mes__sq_key_delete,
    .key_meta_get = mes__sq_key_meta_get,
    .key_meta_set = mes__sq_key_meta_set,
    .key_rewrap = mes__sq_key_rewrap,

    .event_insert = mes__sq_event_insert,
    .event_insert_many = mes__sq_event_insert_many,
    .event_list = mes__sq_event_list,
    .event_list_stored = mes__sq_event_list_stored,
    .event_scan = mes__sq_event_scan,
    .event_delete = mes__sq_event_delete,
    .event_purge_purposes = mes__sq_event_purge_purposes,
    .event_sweep = mes__sq_event_sweep,
    .event_count = mes__sq_event_count,
    .event_stamp = mes__sq_event_stamp,

    .consent_append = mes__sq_consent_append,
    .consent_list = mes__sq_consent_list,

    .pref_put = mes__sq_pref_put,
    .pref_get = mes__sq_pref_get,

    .item_put = mes__sq_item_put,
    .item_get = mes__sq_item_get,
    .item_delete = mes__sq_item_delete,
    .item_list = mes__sq_item_list,
    .item_count = mes__sq_item_count,

    .impression_add = mes__sq_impression_add,
    .impression_list = mes__sq_impression_list,
    .impression_list_after = mes__sq_impression_list_after,
    .impression_sweep = mes__sq_impression_sweep,
    .impression_purge = mes__sq_impression_purge,
    .impression_stamp = mes__sq_impression_stamp,

    .decision_put = mes__sq_decision_put,
    .decision_get = mes__sq_decision_get,
    .decision_list = mes__sq_decision_list,
    .decision_sweep = mes__sq_decision_sweep,

    .model_put = mes__sq_model_put,
    .model_latest = mes__sq_model_latest,
    .model_get = mes__sq_model_get,

    .apikey_put = mes__sq_apikey_put,
    .apikey_find = mes__sq_apikey_find,
    .apikey_list = mes__sq_apikey_list,
    .apikey_revoke = mes__sq_apikey_revoke,
    .token_put = mes__sq_token_put,
    .token_find = mes__sq_token_find,
    .token_revoke_subject = mes__sq_token_revoke_subject,
    .token_sweep = mes__sq_token_sweep,
    .attr_put = mes__sq_attr_put,
    .attr_get = mes__sq_attr_get,
    .attr_delete = mes__sq_attr_delete,
    .attr_scan = mes__sq_attr_scan,
    .audit_put = mes__sq_audit_put,
    .audit_get = mes__sq_audit_get,
    .audit_latest = mes__sq_audit_latest,
    .audit_update = mes__sq_audit_update,
    .audit_interrupt = mes__sq_audit_interrupt,
    .audit_list = mes__sq_audit_list,
    .consent_days = mes__sq_consent_days,
    .counts_add = mes__sq_counts_add,
    .counts_days = mes__sq_counts_days,
    .counts_sweep = mes__sq_counts_sweep,
    .access_append = mes__sq_access_append,
    .access_head_get = mes__sq_access_head_get,
    .access_list = mes__sq_access_list,
    .access_heads = mes__sq_access_heads,
    .access_readers = mes__sq_access_readers,
    .access_expired = mes__sq_access_expired,
    .access_trim = mes__sq_access_trim,
};
