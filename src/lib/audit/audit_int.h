/*
 * audit/audit_int — what the audit module's own files share.
 */
#ifndef MES_AUDIT_INT_H
#define MES_AUDIT_INT_H

#include "audit/audit.h"

struct mes_audit {
  struct mes_store *store;       /* the vault and the audit history */
  struct mes_subjects *subjects; /* seals and unseals the vault */
  struct mes_catalog *catalog;   /* categories of the items served */
  struct mes_ingester *ingester; /* inferred interests, from histories */
};

/* Unseals sid's vault document (sealed[0..len), borrowed): *doc new,
 * {"subject", "attributes"}. MES_ECRYPTO when it does not open (a key
 * shredded meanwhile) or is not the vault's. */
int mes__audit_vault_read(struct mes_audit *a, int64_t sid, const uint8_t *sealed, size_t len, json_t **doc);

#endif
