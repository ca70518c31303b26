/*
 * subject/rotate — the master key rotation and its recovery (rotate.h).
 */
#include "subject/rotate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "subject/keycheck.h"

static int sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int key_paths(const char *dir, char cur[PATH_MAX], char next[PATH_MAX], struct mes_err *err) {
  if (mes_path_join(cur, PATH_MAX, dir, MES_MASTER_KEY_FILE) || mes_path_join(next, PATH_MAX, dir, MES_MASTER_NEXT_FILE))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  return MES_OK;
}

/* Whether keys.db's subject keys are under m's wrapping key, by its word:
 * MES_OK and *yes. A store error when keys.db cannot say. */
static int keys_under(struct mes_store *st, const struct mes_master *m, bool *yes) {
  char val[MES_KEY_CHECK_HEX + 1];
  int rc = mes_store_key_meta_get(st, MES_KEYCHECK_WRAP, val, sizeof val);
  *yes = rc == MES_OK && mes_master_wrap_check_matches(m, val, strlen(val));
  return rc == MES_ENOT_FOUND || rc == MES_EINTERNAL ? MES_OK : rc;
}

int mes_rotate_load(struct mes_store *st, const char *dir, struct mes_master **out, struct mes_err *err) {
  *out = NULL;
  char cur[PATH_MAX], next[PATH_MAX];
  int rc = key_paths(dir, cur, next, err);
  if (rc != MES_OK)
    return rc;
  struct stat sb;
  if (lstat(next, &sb) != 0)
    return mes_master_load(cur, out, err);
  /* An interrupted rotation. What decides is keys.db's word, and nothing is
   * deleted unless keys.db positively never took the new key: deleting the
   * key it did take would lose every subject key. */
  struct mes_master *n = NULL;
  rc = mes_master_load(next, &n, err);
  bool committed = false;
  if (rc == MES_ECRYPTO) {
    /* Not a key: cut short by a crash while it was written, which was before
     * keys.db was touched (it is synced first). */
    mes_err_clear(err);
    rc = MES_OK;
  } else if (rc != MES_OK) {
    return rc; /* unreadable: keys.db may be under it */
  } else if ((rc = keys_under(st, n, &committed)) != MES_OK) {
    mes_master_free(n);
    return mes_err_set(err, rc, NULL, "Cannot read %s/keys.db to finish an interrupted rotation of the master key.",
                       dir);
  }
  if (committed) {
    /* ENOENT: another process opening the directory finished it first. */
    if (rename(next, cur) != 0 && errno != ENOENT) {
      int e = errno;
      mes_master_free(n);
      return mes_err_set(err, MES_EIO, NULL,
                         "Cannot finish the rotation of the master key: moving %s to %s failed: %s; move it by "
                         "hand (the subject keys are already under it).",
                         next, cur, strerror(e));
    }
    (void)sync_dir(dir);
    *out = n;
    return MES_OK;
  }
  mes_master_free(n);
  if (unlink(next) != 0 && errno != ENOENT)
    return mes_err_set(err, MES_EIO, NULL,
                       "Cannot remove %s, left by a rotation of the master key that did not finish: %s; remove it "
                       "by hand (nothing uses it).",
                       next, strerror(errno));
  return mes_master_load(cur, out, err);
}

/* ------------------------------------------------------------------------ */
/* The rotation                                                             */
/* ------------------------------------------------------------------------ */

struct rewrap {
  const struct mes_master *from, *to;
  mes_rotate_hook hook;
  void *ud;
  int64_t bad_sid; /* a key that did not unwrap, or 0 */
};

static int rewrap_one(void *ud, int64_t sid, const uint8_t *wrapped, size_t len, uint8_t *out, size_t cap,
                      size_t *out_len) {
  struct rewrap *r = ud;
  uint8_t key[MES_KEY_BYTES];
  if (cap < MES_WRAPPED_KEY_BYTES)
    return MES_EINTERNAL;
  int rc = mes_subject_key_unwrap(r->from, sid, wrapped, len, key);
  if (rc != MES_OK) {
    r->bad_sid = sid;
    return MES_ECRYPTO;
  }
  rc = mes_subject_key_wrap(r->to, sid, key, out);
  mes_wipe(key, sizeof key);
  *out_len = MES_WRAPPED_KEY_BYTES;
  if (rc == MES_OK && r->hook)
    r->hook(r->ud, MES_ROTATE_KEY_ONE);
  return rc;
}

/* The retired list after retiring `from`: the list in keys.db with from's
 * check appended, the oldest dropped beyond MES_KEYCHECK_RETIRED_MAX. */
static int retired_list(struct mes_store *st, const struct mes_master *from, char *out, size_t cap) {
  char list[MES_KEYCHECK_RETIRED_MAX * MES_KEY_CHECK_HEX + 1];
  int rc = mes_store_key_meta_get(st, MES_KEYCHECK_RETIRED, list, sizeof list);
  if (rc == MES_ENOT_FOUND || rc == MES_EINTERNAL) /* none, or not a list of ours */
    list[0] = '\0';
  else if (rc != MES_OK)
    return rc;
  const char *p = list;
  size_t n = 0;
  for (const char *q = list; *q; q++)
    n += *q == ' ';
  n += list[0] != '\0';
  while (n >= MES_KEYCHECK_RETIRED_MAX && *p) { /* keep room for one more */
    p += strcspn(p, " ");
    p += strspn(p, " ");
    n--;
  }
  char hex[MES_KEY_CHECK_HEX];
  mes_master_wrap_check_hex(from, hex);
  int w = snprintf(out, cap, "%s%s%s", p, *p ? " " : "", hex);
  return w < 0 || (size_t)w >= cap ? MES_EINTERNAL : MES_OK;
}

int mes_rotate_master(const char *dir, mes_rotate_hook hook, void *ud, int64_t *n_keys, struct mes_err *err) {
  int64_t dummy;
  if (!n_keys)
    n_keys = &dummy;
  *n_keys = 0;
  int rc = mes_crypto_init();
  if (rc)
    return mes_err_set(err, rc, NULL, "The cryptography library could not start.");
  char cur[PATH_MAX], next[PATH_MAX];
  rc = key_paths(dir, cur, next, err);
  if (rc != MES_OK)
    return rc;
  struct stat sb;
  if (stat(cur, &sb) != 0)
    return mes_err_set(err, MES_EIO, NULL, "%s is not a mesura data directory (no master.key).", dir);

  struct mes_store *st = NULL;
  struct mes_master *from = NULL, *to = NULL;
  bool written = false;
  char wrap_hex[MES_KEY_CHECK_HEX], retired[MES_KEYCHECK_RETIRED_MAX * MES_KEY_CHECK_HEX + 1];
  struct rewrap r = {.hook = hook, .ud = ud};
  rc = mes_store_open_alone(dir, MES_STORE_SQLITE, &st, err);
  if (rc == MES_ECONFLICT) {
    rc = mes_err_set(err, MES_ECONFLICT, NULL,
                     "%s is open in a mesura server or command, which would go on wrapping new people's keys under "
                     "the old master key: stop it, run `mesura keys rotate-master --data %s`, then start it again.",
                     dir, dir);
    goto done;
  }
  if (rc != MES_OK)
    goto done;
  if ((rc = mes_rotate_load(st, dir, &from, err)) != MES_OK || (rc = mes_keycheck_verify(st, from, dir, err)) != MES_OK)
    goto done;
  if (hook)
    hook(ud, MES_ROTATE_VERIFIED);

  if ((rc = mes_master_create_next(from, next, err)) != MES_OK)
    goto done;
  written = true;
  if ((rc = mes_master_load(next, &to, err)) != MES_OK)
    goto done;
  if (hook)
    hook(ud, MES_ROTATE_KEY_NEW);

  mes_master_wrap_check_hex(to, wrap_hex);
  if ((rc = retired_list(st, from, retired, sizeof retired)) != MES_OK) {
    mes_err_set(err, rc, NULL, "Cannot read the master key checks of %s/keys.db; nothing was changed.", dir);
    goto done;
  }
  struct mes_store_kv meta[] = {{MES_KEYCHECK_WRAP, wrap_hex}, {MES_KEYCHECK_RETIRED, retired}};
  r.from = from;
  r.to = to;
  rc = mes_store_key_rewrap(st, rewrap_one, &r, meta, sizeof meta / sizeof meta[0], n_keys);
  if (rc != MES_OK) {
    if (r.bad_sid)
      mes_err_set(err, rc, NULL,
                  "The key of subject row %lld in %s/keys.db does not unwrap with master.key; nothing was changed.",
                  (long long)r.bad_sid, dir);
    else
      mes_err_set(err, rc, NULL, "Cannot re-wrap the subject keys in %s/keys.db; nothing was changed.", dir);
    goto done;
  }
  written = false; /* from here on the new key is the directory's */
  if (hook)
    hook(ud, MES_ROTATE_COMMITTED);

  if (rename(next, cur) != 0 || sync_dir(dir) != 0) {
    rc = mes_err_set(err, MES_EIO, NULL,
                     "The subject keys are re-wrapped, but %s could not replace master.key (%s); the next open of "
                     "%s finishes the rotation.",
                     next, strerror(errno), dir);
    goto done;
  }
  if (hook)
    hook(ud, MES_ROTATE_INSTALLED);
done:
  if (written) /* keys.db never committed to it: the old key stays */
    unlink(next);
  mes_master_free(to);
  mes_master_free(from);
  mes_store_close(st);
  return rc;
}
