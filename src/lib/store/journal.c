/*
 * store/journal — the erasure journal, and its replay at every open: what
 * keeps a store restored from an old copy from bringing an erased person
 * back. Backend-neutral, like commit.c: it works through the store's own
 * functions and one method of the table (subject_id_floor). The file and its
 * locks are described in journal_int.h.
 *
 * Why a file of its own: mesura.db comes back from `mesura backup` copies
 * and keys.db from the operator's own copies, so neither can remember an
 * erasure made after its copy was taken. The journal lives beside them, is
 * in no backup and is replaced by no restore. It holds no personal data:
 * keyed pseudonyms (unlinkable without the master key), row ids and times.
 *
 * The replay. Each database remembers in its meta, under "erasures_applied",
 * how many records of which journal it has applied ("<journal id>:<count>").
 * At open, the records after its own mark are applied to each (a restored
 * file brings back an older mark, or none):
 *   mesura.db  the subject row with the record's pseudonym is deleted, with
 *              everything keyed by it and its key, when its id is at most
 *              the record's sid: it is the row that was erased, or one
 *              older still;
 *   keys.db    key `sid` is deleted;
 * then each mark moves to the journal's end. Applying a record twice does
 * nothing more, so a crash anywhere in a replay is mended by the next one.
 *
 * Ids, and why the rule is by id rather than by time. Subject ids come from
 * an AUTOINCREMENT sequence that never hands an id out twice, so a person
 * who comes back after their erasure gets a larger id than the journaled
 * one and keeps their new data; the servers' clocks, which may disagree by
 * a little, decide nothing. But a restored mesura.db brings back its own
 * sequence, lower than ids handed out since; a new person could then get an
 * id that the journal names, and a later replay (of keys.db, or of the same
 * old copy restored again) would delete that person's key. So the data pass
 * raises the sequence to at least every sid it applied, in the transaction
 * that moves mesura.db's mark: a mark of n vouches that no subject created
 * afterwards gets an id named by the first n records, and a record's sid
 * always names the erased person's key and nobody else's.
 *
 * A replay runs only when mesura.db and keys.db carry the same master key
 * check (subject/keycheck.h), or one of them none: a keys.db put here from
 * another store would otherwise lose keys that are not ours before the
 * engine refuses the pair. The journal is not checked that way: never copy
 * one from another data directory (README, "Data at rest").
 */
#define _GNU_SOURCE /* F_OFD_SETLK: locks per open file description */

#include "store/journal_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "store/store_int.h"

#define HDR_BYTES 32
#define REC_BYTES 56
#define REC_BODY 48 /* what the check covers */
#define MAGIC "MESERAS1"
#define CHUNK_RECS 1024 /* records read per pread */
#define MARK_KEY "erasures_applied"
#define KEYCHECK_KEY "master_key_check" /* written by subject/keycheck.c */
#define LOCK_IN_USE 0
#define LOCK_WRITER 1

struct mes_journal {
  int fd;
  char path[4096];
  char id_hex[33];
  /* OFD locks do not exclude threads sharing one descriptor: mu does. */
  pthread_mutex_t mu;
};

/* ------------------------------------------------------------------------ */
/* Records                                                                  */
/* ------------------------------------------------------------------------ */

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325u;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3u;
  }
  return h;
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void encode(const struct mes_journal_rec *r, uint8_t out[REC_BYTES]) {
  memcpy(out, r->pn, 32);
  put_u64(out + 32, (uint64_t)r->sid);
  put_u64(out + 40, (uint64_t)r->at_ms);
  put_u64(out + 48, fnv1a(out, REC_BODY));
}

/* false for a record that a crash cut short or never wrote. */
static bool decode(const uint8_t in[REC_BYTES], struct mes_journal_rec *r) {
  if (get_u64(in + 48) != fnv1a(in, REC_BODY))
    return false;
  memcpy(r->pn, in, 32);
  r->sid = (int64_t)get_u64(in + 32);
  r->at_ms = (int64_t)get_u64(in + 40);
  return true;
}

/* ------------------------------------------------------------------------ */
/* The file and its locks                                                   */
/* ------------------------------------------------------------------------ */

static int ofd_lock(int fd, short type, off_t byte, bool wait) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
  int rc;
  do
    rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
  while (rc != 0 && errno == EINTR);
  return rc;
}

static int io_fail(const char *path, int e, struct mes_err *err) {
  int rc = e == ENOSPC || e == EDQUOT ? MES_ESTORAGE_FULL : MES_EIO;
  return mes_err_set(err, rc, NULL, "Cannot use the erasure journal %s: %s.", path, strerror(e));
}

static bool write_all(int fd, const uint8_t *p, size_t n, off_t at) {
  while (n > 0) {
    ssize_t w = pwrite(fd, p, n, at);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= (size_t)w;
    at += w;
  }
  return true;
}

static bool read_all(int fd, uint8_t *p, size_t n, off_t at) {
  while (n > 0) {
    ssize_t r = pread(fd, p, n, at);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= (size_t)r;
    at += r;
  }
  return true;
}

static int sync_dir(const char *dir) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = dfd >= 0 && fsync(dfd) == 0 ? 0 : -1;
  int e = errno;
  if (dfd >= 0)
    close(dfd);
  errno = e;
  return rc;
}

/* Creates the journal whole or not at all: the header is written and synced
 * under a temporary name, then linked into place (link() refuses to replace
 * a journal another process created meanwhile, which is then the one used). */
static int create_file(const char *dir, const char *path, struct mes_err *err) {
  char tmp[4096];
  if (mes_path_join(tmp, sizeof tmp, dir, ".erasures.journal.XXXXXX"))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  int fd = mkstemp(tmp); /* mode 0600 */
  if (fd < 0)
    return io_fail(path, errno, err);
  uint8_t hdr[HDR_BYTES] = {0};
  memcpy(hdr, MAGIC, 8);
  bool ok = getrandom(hdr + 8, 16, 0) == 16 && write_all(fd, hdr, sizeof hdr, 0) && fsync(fd) == 0;
  int e = errno;
  close(fd);
  if (ok && link(tmp, path) != 0 && errno != EEXIST) {
    ok = false;
    e = errno;
  }
  unlink(tmp);
  if (ok && sync_dir(dir) != 0) {
    ok = false;
    e = errno;
  }
  return ok ? MES_OK : io_fail(path, e, err);
}

/* Opens dir's journal (creating it when absent) into *fd; id_hex (33 bytes,
 * may be NULL) gets its id. */
static int open_file(const char *dir, char path[4096], int *fd, char *id_hex, struct mes_err *err) {
  *fd = -1;
  if (mes_path_join(path, 4096, dir, MES_JOURNAL_NAME))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  int f = open(path, O_RDWR | O_CLOEXEC);
  if (f < 0 && errno == ENOENT) {
    int rc = create_file(dir, path, err);
    if (rc != MES_OK)
      return rc;
    f = open(path, O_RDWR | O_CLOEXEC);
  }
  if (f < 0)
    return io_fail(path, errno, err);
  uint8_t hdr[HDR_BYTES];
  if (!read_all(f, hdr, sizeof hdr, 0) || memcmp(hdr, MAGIC, 8) != 0) {
    close(f);
    return mes_err_set(err, MES_ESTORE, NULL,
                       "%s is not an erasure journal of mesura; put the directory's own journal back.", path);
  }
  if (id_hex)
    for (int i = 0; i < 16; i++)
      snprintf(id_hex + 2 * i, 3, "%02x", hdr[8 + i]);
  *fd = f;
  return MES_OK;
}

int mes__journal_lock_dir(const char *dir, int *fd, struct mes_err *err) {
  char path[4096];
  int rc = open_file(dir, path, fd, NULL, err);
  if (rc != MES_OK)
    return rc;
  if (ofd_lock(*fd, F_WRLCK, LOCK_IN_USE, false) != 0) {
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EAGAIN || e == EACCES)
      return mes_err_set(err, MES_ECONFLICT, NULL,
                         "%s is in use by a mesura server or command; stop it, then run the command again.", dir);
    return io_fail(path, e, err);
  }
  return MES_OK;
}

int mes__journal_open(const char *dir, int lock_fd, struct mes_journal **out, struct mes_err *err) {
  *out = NULL;
  struct mes_journal *j = calloc(1, sizeof *j);
  if (!j) {
    if (lock_fd >= 0)
      close(lock_fd);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  pthread_mutex_init(&j->mu, NULL);
  int rc = open_file(dir, j->path, &j->fd, j->id_hex, err);
  if (rc == MES_OK) {
    if (lock_fd >= 0) {
      /* The caller's descriptor holds the lock: keep it, drop ours. */
      close(j->fd);
      j->fd = lock_fd;
      lock_fd = -1;
    } else if (ofd_lock(j->fd, F_RDLCK, LOCK_IN_USE, false) != 0) {
      rc = errno == EAGAIN || errno == EACCES
               ? mes_err_set(err, MES_ECONFLICT, NULL,
                             "A restore or a master key rotation is running on %s; open the store again when it has finished.", dir)
               : io_fail(j->path, errno, err);
    }
  }
  if (lock_fd >= 0)
    close(lock_fd);
  if (rc != MES_OK) {
    mes__journal_close(j);
    return rc;
  }
  *out = j;
  return MES_OK;
}

void mes__journal_close(struct mes_journal *j) {
  if (!j)
    return;
  if (j->fd >= 0)
    close(j->fd);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

/* With mu and the writer lock held: cuts what a crash left of an append (a
 * partial record, or a last record that fails its check) and returns the
 * number of records in *n. Only the last record can be torn: each append
 * was synced before the next began, so a bad record further back is damage,
 * kept and skipped by the replay rather than cut with all after it. */
static int tidy(struct mes_journal *j, int64_t *n) {
  struct stat sb;
  if (fstat(j->fd, &sb) != 0)
    return io_fail(j->path, errno, NULL);
  off_t size = sb.st_size < HDR_BYTES ? HDR_BYTES : sb.st_size;
  int64_t count = (int64_t)(size - HDR_BYTES) / REC_BYTES;
  if (count > 0) {
    uint8_t last[REC_BYTES];
    struct mes_journal_rec r;
    if (!read_all(j->fd, last, sizeof last, HDR_BYTES + (off_t)(count - 1) * REC_BYTES))
      return io_fail(j->path, errno ? errno : EIO, NULL);
    if (!decode(last, &r))
      count--;
  }
  off_t want = HDR_BYTES + (off_t)count * REC_BYTES;
  if (want != sb.st_size && (ftruncate(j->fd, want) != 0 || fdatasync(j->fd) != 0))
    return io_fail(j->path, errno, NULL);
  *n = count;
  return MES_OK;
}

/* The record count, after tidying, under both locks. */
static int count_records(struct mes_journal *j, int64_t *n) {
  pthread_mutex_lock(&j->mu);
  int rc = ofd_lock(j->fd, F_WRLCK, LOCK_WRITER, true) == 0 ? tidy(j, n) : io_fail(j->path, errno, NULL);
  ofd_lock(j->fd, F_UNLCK, LOCK_WRITER, false);
  pthread_mutex_unlock(&j->mu);
  return rc;
}

int mes__journal_append(struct mes_journal *j, const struct mes_journal_rec *r) {
  uint8_t rec[REC_BYTES];
  encode(r, rec);
  pthread_mutex_lock(&j->mu);
  int64_t n = 0;
  int rc = ofd_lock(j->fd, F_WRLCK, LOCK_WRITER, true) == 0 ? tidy(j, &n) : io_fail(j->path, errno, NULL);
  if (rc == MES_OK) {
    off_t at = HDR_BYTES + (off_t)n * REC_BYTES;
    if (!write_all(j->fd, rec, sizeof rec, at) || fdatasync(j->fd) != 0) {
      rc = io_fail(j->path, errno ? errno : EIO, NULL);
      if (ftruncate(j->fd, at) == 0) /* best effort: the next append tidies too */
        (void)fdatasync(j->fd);
    }
  }
  ofd_lock(j->fd, F_UNLCK, LOCK_WRITER, false);
  pthread_mutex_unlock(&j->mu);
  return rc;
}

/* Calls cb for each sound record in [from, to), in order. Records before
 * the count read under the lock are never rewritten: no lock is needed. */
static int each_record(struct mes_journal *j, int64_t from, int64_t to,
                       int (*cb)(void *ud, const struct mes_journal_rec *r), void *ud) {
  uint8_t *buf = malloc((size_t)CHUNK_RECS * REC_BYTES);
  if (!buf)
    return MES_ENOMEM;
  int rc = MES_OK;
  for (int64_t i = from; i < to && rc == MES_OK;) {
    int64_t k = to - i < CHUNK_RECS ? to - i : CHUNK_RECS;
    if (!read_all(j->fd, buf, (size_t)k * REC_BYTES, HDR_BYTES + (off_t)i * REC_BYTES)) {
      rc = io_fail(j->path, errno ? errno : EIO, NULL);
      break;
    }
    for (int64_t x = 0; x < k && rc == MES_OK; x++) {
      struct mes_journal_rec r;
      if (decode(buf + x * REC_BYTES, &r))
        rc = cb(ud, &r);
    }
    i += k;
  }
  free(buf);
  return rc;
}

int mes__journal_read(struct mes_journal *j, int64_t from, int64_t *n,
                      int (*cb)(void *ud, const struct mes_journal_rec *r), void *ud) {
  int rc = count_records(j, n);
  if (rc == MES_OK && from < *n)
    rc = each_record(j, from < 0 ? 0 : from, *n, cb, ud);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Replay                                                                   */
/* ------------------------------------------------------------------------ */

/* How many records of this journal a database's mark says it applied: 0 for
 * no mark, another journal's, or more records than this one holds (a journal
 * cut short by damage: applying every record again is what is safe). */
static int64_t parse_mark(const struct mes_journal *j, int rc, const char *mark, int64_t n) {
  if (rc != MES_OK || strncmp(mark, j->id_hex, 32) != 0 || mark[32] != ':')
    return 0;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(mark + 33, &end, 10);
  if (errno || !end || *end || end == mark + 33 || v < 0 || v > n)
    return 0;
  return (int64_t)v;
}

struct data_pass {
  struct mes_store *st;
  int64_t removed;
  int64_t max_sid;
};

static int apply_data(void *ud, const struct mes_journal_rec *r) {
  struct data_pass *p = ud;
  if (r->sid > p->max_sid)
    p->max_sid = r->sid;
  struct mes_subject_row row;
  int rc = mes_store_subject_find(p->st, r->pn, &row);
  if (rc == MES_ENOT_FOUND || (rc == MES_OK && row.id > r->sid))
    return MES_OK; /* not here, or a person who came back after the erasure */
  if (rc == MES_OK && (rc = mes_store_subject_delete(p->st, row.id)) == MES_OK) {
    p->removed++;
    /* Its key too: the key pass deletes r->sid's, and the row may be an
     * older one of the same person, erased before any journal. */
    if (row.id != r->sid && (rc = mes_store_key_delete(p->st, row.id)) == MES_ENOT_FOUND)
      rc = MES_OK;
  }
  return rc;
}

static int apply_key(void *ud, const struct mes_journal_rec *r) {
  int rc = mes_store_key_delete(ud, r->sid);
  return rc == MES_ENOT_FOUND ? MES_OK : rc;
}

static int replay_data(struct mes_journal *j, struct mes_store *st, int64_t from, int64_t n, const char *mark,
                       int64_t *removed) {
  struct data_pass p = {.st = st};
  uint64_t ticket = 0;
  int rc = mes_store_tx_begin(st);
  if (rc != MES_OK)
    return rc;
  rc = each_record(j, from, n, apply_data, &p);
  if (rc == MES_OK && p.max_sid > 0)
    rc = st->ops->subject_id_floor(st, p.max_sid);
  if (rc == MES_OK)
    rc = mes_store_meta_set(st, MARK_KEY, mark);
  if (rc == MES_OK)
    rc = mes_store_tx_commit(st, &ticket);
  else
    mes_store_tx_rollback(st);
  if (rc == MES_OK)
    rc = mes_store_wait_durable(st, ticket);
  if (rc == MES_OK)
    *removed = p.removed;
  return rc;
}

int mes__journal_replay(struct mes_journal *j, struct mes_store *st, int64_t *n_removed, struct mes_err *err) {
  *n_removed = 0;
  int64_t n = 0;
  int rc = count_records(j, &n);
  if (rc != MES_OK)
    return mes_err_set(err, rc, NULL, "Cannot read the erasure journal %s.", j->path);

  char dmark[128], kmark[128], dcheck[160], kcheck[160];
  int64_t dfrom = parse_mark(j, mes_store_meta_get(st, MARK_KEY, dmark, sizeof dmark), dmark, n);
  int64_t kfrom = parse_mark(j, mes_store_key_meta_get(st, MARK_KEY, kmark, sizeof kmark), kmark, n);
  if (dfrom == n && kfrom == n)
    return MES_OK;
  int drc = mes_store_meta_get(st, KEYCHECK_KEY, dcheck, sizeof dcheck);
  int krc = mes_store_key_meta_get(st, KEYCHECK_KEY, kcheck, sizeof kcheck);
  if (drc == MES_OK && krc == MES_OK && strcmp(dcheck, kcheck) != 0)
    return MES_OK; /* the two files are not of one store: the engine refuses them */

  char mark[64];
  snprintf(mark, sizeof mark, "%s:%" PRId64, j->id_hex, n);
  if (dfrom < n && (rc = replay_data(j, st, dfrom, n, mark, n_removed)) != MES_OK)
    return mes_err_set(err, rc, NULL, "Cannot replay the erasure journal onto mesura.db.");
  if (kfrom < n) {
    rc = each_record(j, kfrom, n, apply_key, st);
    if (rc == MES_OK)
      rc = mes_store_key_meta_set(st, MARK_KEY, mark);
    if (rc != MES_OK)
      return mes_err_set(err, rc, NULL, "Cannot replay the erasure journal onto keys.db.");
  }
  return MES_OK;
}
