/*
 * consent_int — shared by the files of src/lib/consent/ only: the ledger
 * (consent.c) and the preferences (prefs.c), and the handle both use.
 */
#ifndef MES_CONSENT_INT_H
#define MES_CONSENT_INT_H

#include <stddef.h>

#include "base/err.h"
#include "base/log.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* The ledger: what it writes to and signs with, all borrowed. */
struct mes_ledger {
  struct mes_store *store;
  const struct mes_master *master; /* signs receipts */
  struct mes_subjects *subjects;   /* resolves, seals and unseals; told when a subject row changes */
  const struct mes_log *log;       /* may be NULL */
};

/* Checks a subject id by the id rule; the error names no field (the id comes
 * from the URL path) and never repeats the id. */
int mes__consent_check_subject(const char *id, size_t len, struct mes_err *err);

/* Commits the open transaction and waits until it is on disk. On failure the
 * transaction is over (the store rolled it back) and err is set. */
int mes__consent_commit(struct mes_store *st, struct mes_err *err);

#endif
