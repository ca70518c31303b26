/*
 * subject/keycheck — does this master key open this store?
 *
 * Everything personal in a store is reachable only through the master key:
 * pseudonyms are keyed with it and subject keys are wrapped by it. Opened
 * with another key (a master.key copied from elsewhere, of the right size and
 * mode), a store would not fail: every subject would look unknown, every
 * consent denied, every new event dropped. So each of the two database files
 * carries the master key's check value (crypto's mes_master_check_hex, which
 * reveals nothing about the key) under the meta key "master_key_check", and
 * a store is used only when both agree with the key in hand.
 *
 * That check comes from the master key's root, which a rotation keeps
 * (subject/rotate.h). keys.db also says which wrapping key its subject keys
 * are under, once a rotation chose one: its check value under
 * MES_KEYCHECK_WRAP, and those of the wrapping keys rotations retired under
 * MES_KEYCHECK_RETIRED (space-separated, newest last), so that an old
 * master.key put back is named as such. Without MES_KEYCHECK_WRAP the
 * wrapping key is the root's own, and a rotated master key is refused.
 */
#ifndef MES_SUBJECT_KEYCHECK_H
#define MES_SUBJECT_KEYCHECK_H

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define MES_KEYCHECK_WRAP "wrap_key_check"
#define MES_KEYCHECK_RETIRED "retired_wrap_checks"
#define MES_KEYCHECK_RETIRED_MAX 32 /* retired checks kept, the newest */

/* Checks master key m against store st of data directory dir (dir serves
 * only the file names in messages; all borrowed). A file that holds no check
 * value yet (one just created, or one written without it)
 * gets it written, after what can be verified was verified: see keycheck.c.
 * MES_ECRYPTO when the key and the store do not belong together, with a
 * one-line message naming the file at fault (master.key, keys.db or
 * mesura.db) and its path, or saying that master.key is one a rotation
 * retired; a store error when a file cannot be read or
 * written. */
int mes_keycheck_verify(struct mes_store *st, const struct mes_master *m, const char *dir, struct mes_err *err);

#endif
