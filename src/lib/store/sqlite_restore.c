/*
 * store/sqlite_restore — the SQLite backend's half of mes_store_restore:
 * bringing a backup's database files into a data directory, with no
 * connection to them open anywhere (the caller holds the directory's lock).
 *
 * For each file (mesura.db, and keys.db when one is given):
 *   1. the source is checked to be a database of that kind and copied with
 *      SQLite's backup API beside its destination ("<name>.restoring"), so
 *      that a source with a write-ahead log of its own comes whole, then
 *      synced;
 *   2. the file in place is settled: opened and closed, which checkpoints
 *      its write-ahead log into it and removes the log;
 *   3. it is kept aside as "<name>.pre-restore" (a hard link: the name keeps
 *      a database at every moment), with what is left of its log renamed
 *      "<name>.pre-restore-wal", the name SQLite gives that file's log;
 *   4. the copy is renamed over it, and the directory synced.
 * A stale "-wal" must never meet the new file: SQLite would replay another
 * database's pages into it. A crash at any point leaves each name holding
 * either the previous database or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "base/path.h"
#include "store/sqlite_int.h"

struct names {
  char live[PATH_MAX], tmp[PATH_MAX], wal[PATH_MAX], shm[PATH_MAX], pre[PATH_MAX], pre_wal[PATH_MAX];
};

static int names_of(const char *dir, const char *name, struct names *n) {
  char buf[64];
  int rc = mes_path_join(n->live, sizeof n->live, dir, name);
#define J(field, suffix)                                                                                            \
  snprintf(buf, sizeof buf, "%s%s", name, suffix);                                                                  \
  rc = rc ? rc : mes_path_join(n->field, sizeof n->field, dir, buf)
  J(tmp, ".restoring");
  J(wal, "-wal");
  J(shm, "-shm");
  J(pre, ".pre-restore");
  J(pre_wal, ".pre-restore-wal");
#undef J
  return rc;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

static int sync_path(const char *path, bool dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
  if (fd >= 0)
    close(fd);
  return rc;
}

/* Whether db is a mesura database holding table `sentinel`. */
static bool is_kind(sqlite3 *db, const char *sentinel) {
  sqlite3_stmt *s = NULL;
  bool ok = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &s,
                               NULL) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(s, 1, sentinel, -1, SQLITE_STATIC);
    ok = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1;
  }
  sqlite3_finalize(s);
  return ok;
}

/* Copies database src into n->tmp, after checking it is of the kind that
 * `sentinel` names; `what` names it in messages ("a backup of mesura.db"). */
static int copy_in(const char *src, const struct names *n, const char *sentinel, const char *what,
                   struct mes_err *err) {
  if (access(src, R_OK) != 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot read %s: %s.", src, strerror(errno));
  unlink(n->tmp); /* left by a restore that was interrupted */
  int fd = open(n->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot create %s: %s.", n->tmp, strerror(errno));
  close(fd);
  sqlite3 *s = NULL, *d = NULL;
  int rc = mes__sq_open_db(src, false, SQ_SNAPSHOT, &s, err);
  if (rc == MES_OK && !is_kind(s, sentinel))
    rc = mes_err_set(err, MES_EBAD_INPUT, NULL, "%s is not %s; nothing was changed.", src, what);
  if (rc == MES_OK)
    rc = mes__sq_open_db(n->tmp, false, SQ_COPY, &d, err);
  if (rc == MES_OK) {
    sqlite3_backup *bk = sqlite3_backup_init(d, "main", s, "main");
    int step = bk ? sqlite3_backup_step(bk, -1) : sqlite3_errcode(d);
    int fin = bk ? sqlite3_backup_finish(bk) : SQLITE_OK;
    if (step != SQLITE_DONE || fin != SQLITE_OK)
      rc = mes_err_set(err, map_rc(step != SQLITE_DONE ? step : fin), NULL, "Cannot copy %s: %s.", src,
                       sqlite3_errmsg(d));
  }
  sqlite3_close(s);
  if (d && sqlite3_close(d) != SQLITE_OK && rc == MES_OK)
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot finish writing %s.", n->tmp);
  if (rc == MES_OK && sync_path(n->tmp, false) != 0)
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot sync %s: %s.", n->tmp, strerror(errno));
  if (rc != MES_OK)
    unlink(n->tmp);
  return rc;
}

/* Checkpoints the database at path into its file and lets SQLite remove its
 * log, best effort: a database too damaged to open keeps its log, which
 * step 3 keeps with it. */
static void settle(const char *path) {
  if (!exists(path))
    return;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  sqlite3_close(db);
}

/* Steps 2-4 for one file. */
static int swap_in(const struct names *n, struct mes_err *err) {
  settle(n->live);
  unlink(n->pre);
  unlink(n->pre_wal);
  if (exists(n->live) && link(n->live, n->pre) != 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot keep %s aside: %s; nothing was changed.", n->live,
                       strerror(errno));
  if (exists(n->wal) && rename(n->wal, n->pre_wal) != 0) {
    int e = errno;
    unlink(n->pre);
    return mes_err_set(err, MES_EIO, NULL, "Cannot move %s aside: %s; nothing was changed.", n->wal, strerror(e));
  }
  unlink(n->shm);
  if (rename(n->tmp, n->live) != 0) {
    int e = errno;
    if (exists(n->pre_wal))
      rename(n->pre_wal, n->wal);
    unlink(n->pre);
    return mes_err_set(err, MES_EIO, NULL, "Cannot put %s in place: %s; nothing was changed.", n->live,
                       strerror(e));
  }
  return MES_OK;
}

/* Puts the previous database back (or removes the new one when there was
 * none before), with its log. */
static void swap_out(const struct names *n) {
  unlink(n->wal);
  unlink(n->shm);
  if (exists(n->pre)) {
    rename(n->pre, n->live);
    if (exists(n->pre_wal))
      rename(n->pre_wal, n->wal);
  } else {
    unlink(n->live);
  }
}

int mes__sq_install(const char *dir, const char *data_file, const char *keys_file, struct mes_err *err) {
  struct names data, keys;
  if (names_of(dir, "mesura.db", &data) || names_of(dir, "keys.db", &keys))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  int rc = copy_in(data_file, &data, "subjects", "a backup of mesura.db (made by `mesura backup`)", err);
  if (rc == MES_OK && keys_file)
    rc = copy_in(keys_file, &keys, "subject_keys", "a copy of keys.db", err);
  if (rc == MES_OK)
    rc = swap_in(&data, err);
  if (rc == MES_OK && keys_file && (rc = swap_in(&keys, err)) != MES_OK)
    swap_out(&data);
  if (rc != MES_OK) {
    unlink(data.tmp);
    unlink(keys.tmp);
  }
  sync_path(dir, true);
  return rc;
}

void mes__sq_install_end(const char *dir, bool keys, bool keep_new) {
  struct names n[2];
  if (names_of(dir, "mesura.db", &n[0]) || names_of(dir, "keys.db", &n[1]))
    return;
  for (int i = 0; i < (keys ? 2 : 1); i++) {
    if (keep_new) {
      unlink(n[i].pre);
      unlink(n[i].pre_wal);
    } else {
      swap_out(&n[i]);
    }
  }
  sync_path(dir, true);
}
