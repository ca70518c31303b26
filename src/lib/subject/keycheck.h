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
 */
#ifndef MES_SUBJECT_KEYCHECK_H
#define MES_SUBJECT_KEYCHECK_H

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* Checks master key m against store st of data directory dir (dir serves
 * only the file names in messages; all borrowed). A file that holds no check
 * value yet (one just created, or one written without it)
 * gets it written, after what can be verified was verified: see keycheck.c.
 * MES_ECRYPTO when the key and the store do not belong together, with a
 * one-line message naming the file at fault (master.key, keys.db or
 * mesura.db) and its path; a store error when a file cannot be read or
 * written. */
int mes_keycheck_verify(struct mes_store *st, const struct mes_master *m, const char *dir, struct mes_err *err);

#endif
