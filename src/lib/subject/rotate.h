/*
 * subject/rotate — rotating a data directory's master key (`mesura keys
 * rotate-master`): every subject key in keys.db is re-wrapped under a new
 * wrapping key, and master.key is replaced by a file with the same root and
 * that new key (crypto.h). What the root gives stays: pseudonyms, event-id
 * hashes, the receipt-signing key and the key check, so no row of mesura.db
 * changes and issued receipts still verify. What an old master.key still
 * opens afterwards is told in the README ("Rotating the master key").
 *
 * The rotation needs the directory to itself: a running server holds the
 * old key in memory and would go on wrapping new people's keys under it. It
 * holds the directory's "in use" lock exclusive (store's
 * mes_store_open_alone) from start to end, and refuses while any process
 * has the store open.
 *
 * Crash safety. The steps, each durable before the next:
 *   1. master.key.new: the new key, written and synced;
 *   2. keys.db, in one transaction: every subject key re-wrapped, the new
 *      wrapping key's check set and the old one's added to the retired
 *      (keycheck.h) — the commit point;
 *   3. master.key.new renamed over master.key, the directory synced.
 * Killed before 2 commits, the directory opens with the old master.key and
 * master.key.new is deleted at the next open; killed after, keys.db says
 * which key it is under, and the next open moves master.key.new into place
 * (mes_rotate_load). Every open of a data directory's master key goes
 * through mes_rotate_load, so no state in between fails to open.
 */
#ifndef MES_SUBJECT_ROTATE_H
#define MES_SUBJECT_ROTATE_H

#include <stdint.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define MES_MASTER_KEY_FILE "master.key"
#define MES_MASTER_NEXT_FILE "master.key.new"

/* Loads the master key of data directory dir, whose store st (borrowed) is
 * open: master.key, after finishing or undoing a rotation that was
 * interrupted (see above). *out is new: mes_master_free. The key is not yet
 * checked against the store: mes_keycheck_verify does that. */
int mes_rotate_load(struct mes_store *st, const char *dir, struct mes_master **out, struct mes_err *err);

/* The points a rotation passes, for tests that stop it there. */
enum mes_rotate_step {
  MES_ROTATE_VERIFIED,  /* the directory is ours and the current key opens it */
  MES_ROTATE_KEY_NEW,   /* step 1 done */
  MES_ROTATE_KEY_ONE,   /* one more key re-wrapped, keys.db not yet committed */
  MES_ROTATE_COMMITTED, /* step 2 done */
  MES_ROTATE_INSTALLED  /* step 3 done */
};
typedef void (*mes_rotate_hook)(void *ud, enum mes_rotate_step step);

/* Rotates the master key of data directory dir (borrowed): MES_OK with
 * *n_keys (may be NULL) the number of subject keys re-wrapped.
 * MES_ECONFLICT when a process has the directory's store open; MES_ECRYPTO
 * when master.key does not open the store, or a stored key does not unwrap
 * (nothing changed then); a store or I/O error otherwise. hook (may be
 * NULL) is called at each step with ud. */
int mes_rotate_master(const char *dir, mes_rotate_hook hook, void *ud, int64_t *n_keys, struct mes_err *err);

#endif
