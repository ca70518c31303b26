/*
 * subject/keycheck — the master key check of a data directory (keycheck.h).
 *
 * Both files carry the check: mesura.db (whose pseudonyms the key made) and
 * keys.db (whose subject keys it wrapped). Comparing the two tells which file
 * is out of place, so that the message can name it:
 *
 *   mesura.db   keys.db    verdict
 *   matches     matches    fine
 *   differs     matches    mesura.db belongs to another store
 *   matches     differs    keys.db belongs to another store
 *   differs     differs    master.key is not this store's key
 *   differs     none       master.key (nothing else says otherwise)
 *   none        differs    master.key (likewise)
 *
 * A file without a check value (just created by `mesura init`, or written
 * without one) gets it written now. For keys.db that is done only once one
 * stored subject key, if there is any, unwraps with this master key: that
 * is proof enough. A store with neither a check value nor any subject key
 * leaves nothing to verify (its pseudonyms cannot be checked without the
 * ids they came from), so the first key it is opened with is taken as its
 * own: that open is the one moment a wrong key would go unnoticed.
 *
 * Then the wrapping key, which only keys.db can vouch for (keycheck.h): a
 * master.key with the right root and another wrapping key is one that a
 * rotation retired, or the new key of a rotation this keys.db never saw.
 */
#include "subject/keycheck.h"

#include <stdbool.h>
#include <string.h>

#define META_KEY "master_key_check"
#define TRIAL_SUBJECTS 64 /* subject rows looked at for a stored key to unwrap */

/* What a file says about the key. */
enum verdict { NONE, MATCHES, DIFFERS };

static enum verdict judge(const struct mes_master *m, int rc, const char *stored) {
  if (rc == MES_ENOT_FOUND)
    return NONE;
  /* MES_EINTERNAL (a value too long for the buffer) is no check of ours. */
  return rc == MES_OK && mes_master_check_matches(m, stored, strlen(stored)) ? MATCHES : DIFFERS;
}

struct trial {
  struct mes_store *st;
  const struct mes_master *m;
  int looked;
  enum verdict v; /* NONE until a stored key was tried */
};

static int try_subject(void *ud, const struct mes_subject_row *row) {
  struct trial *t = ud;
  uint8_t wrapped[MES_WRAPPED_KEY_BYTES + 1], key[MES_KEY_BYTES];
  size_t len = 0;
  int rc = mes_store_key_get(t->st, row->id, wrapped, sizeof wrapped, &len);
  if (rc == MES_OK || rc == MES_EINTERNAL) {
    t->v = rc == MES_OK && mes_subject_key_unwrap(t->m, row->id, wrapped, len, key) == MES_OK ? MATCHES : DIFFERS;
    mes_wipe(key, sizeof key);
    return 1;
  }
  return ++t->looked >= TRIAL_SUBJECTS;
}

static int refuse_master(const char *dir, struct mes_err *err) {
  return mes_err_set(err, MES_ECRYPTO, NULL,
                     "master.key does not open this store (%s/master.key): it is not the key this store was made "
                     "with; put this directory's own master.key back.",
                     dir);
}

static int refuse_file(const char *dir, const char *file, struct mes_err *err) {
  return mes_err_set(err, MES_ECRYPTO, NULL,
                     "%s does not belong to this store (%s/%s): it was made with another master key; put this "
                     "directory's own %s back.",
                     file, dir, file, file);
}

/* Whether keys.db lists m's wrapping key among those rotations retired. */
static bool retired(struct mes_store *st, const struct mes_master *m) {
  char list[MES_KEYCHECK_RETIRED_MAX * MES_KEY_CHECK_HEX + 1];
  if (mes_store_key_meta_get(st, MES_KEYCHECK_RETIRED, list, sizeof list) != MES_OK)
    return false;
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, " ");
    if (mes_master_wrap_check_matches(m, p, n))
      return true;
    p += n;
    p += strspn(p, " ");
  }
  return false;
}

static int verify_wrap(struct mes_store *st, const struct mes_master *m, const char *dir, struct mes_err *err) {
  char val[MES_KEY_CHECK_HEX + 1];
  int rc = mes_store_key_meta_get(st, MES_KEYCHECK_WRAP, val, sizeof val);
  if (rc == MES_ENOT_FOUND) {
    if (!mes_master_rotated(m))
      return MES_OK; /* the root's own wrapping key, vouched for above */
    return mes_err_set(err, MES_ECRYPTO, NULL,
                       "keys.db is older than this store's master key (%s/keys.db): its subject keys are wrapped "
                       "by the key that `mesura keys rotate-master` retired; put back the keys.db the rotation "
                       "re-wrapped.",
                       dir);
  }
  if (rc != MES_OK && rc != MES_EINTERNAL)
    return mes_err_set(err, rc, NULL, "Cannot read the master key check of the store in %s.", dir);
  if (rc == MES_OK && mes_master_wrap_check_matches(m, val, strlen(val)))
    return MES_OK;
  if (retired(st, m))
    return mes_err_set(err, MES_ECRYPTO, NULL,
                       "master.key is a retired key of this store (%s/master.key): `mesura keys rotate-master` "
                       "replaced it, and it opens nothing here any more; put back the master.key the rotation "
                       "wrote.",
                       dir);
  return mes_err_set(err, MES_ECRYPTO, NULL,
                     "master.key does not open keys.db (%s/master.key): the subject keys were re-wrapped under "
                     "another master key by `mesura keys rotate-master`; put back the master.key that rotation "
                     "wrote.",
                     dir);
}

int mes_keycheck_verify(struct mes_store *st, const struct mes_master *m, const char *dir, struct mes_err *err) {
  char want[MES_KEY_CHECK_HEX], data_val[MES_KEY_CHECK_HEX + 1], keys_val[MES_KEY_CHECK_HEX + 1];
  int drc = mes_store_meta_get(st, META_KEY, data_val, sizeof data_val);
  int krc = mes_store_key_meta_get(st, META_KEY, keys_val, sizeof keys_val);
  if ((drc != MES_OK && drc != MES_ENOT_FOUND && drc != MES_EINTERNAL) ||
      (krc != MES_OK && krc != MES_ENOT_FOUND && krc != MES_EINTERNAL))
    return mes_err_set(err, drc != MES_OK && drc != MES_ENOT_FOUND && drc != MES_EINTERNAL ? drc : krc, NULL,
                       "Cannot read the master key check of the store in %s.", dir);
  enum verdict data = judge(m, drc, data_val), keys = judge(m, krc, keys_val);

  if (keys == NONE) {
    struct trial t = {.st = st, .m = m, .v = NONE};
    int rc = mes_store_subject_scan(st, try_subject, &t);
    if (rc != MES_OK)
      return mes_err_set(err, rc, NULL, "Cannot read the store in %s to check its master key.", dir);
    keys = t.v; /* still NONE when no key was found: nothing to go by */
  }
  if (data == DIFFERS && keys == MATCHES)
    return refuse_file(dir, "mesura.db", err);
  if (data == MATCHES && keys == DIFFERS)
    return refuse_file(dir, "keys.db", err);
  if (data == DIFFERS || keys == DIFFERS)
    return refuse_master(dir, err);
  int wrc = verify_wrap(st, m, dir, err);
  if (wrc != MES_OK)
    return wrc;

  mes_master_check_hex(m, want);
  /* keys.db first: a crash in between leaves mesura.db without its check,
   * which the next open writes after keys.db has vouched for the key. */
  if (krc != MES_OK) {
    int rc = mes_store_key_meta_set(st, META_KEY, want);
    if (rc != MES_OK)
      return mes_err_set(err, rc, NULL, "Cannot write the master key check into %s/keys.db.", dir);
  }
  if (drc != MES_OK) {
    uint64_t ticket = 0;
    int rc = mes_store_tx_begin(st);
    if (rc == MES_OK) {
      rc = mes_store_meta_set(st, META_KEY, want);
      if (rc == MES_OK)
        rc = mes_store_tx_commit(st, &ticket);
      else
        mes_store_tx_rollback(st);
    }
    if (rc == MES_OK)
      rc = mes_store_wait_durable(st, ticket);
    if (rc != MES_OK)
      return mes_err_set(err, rc, NULL, "Cannot write the master key check into %s/mesura.db.", dir);
  }
  return MES_OK;
}
