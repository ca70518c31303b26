/*
 * audit/audit_int — what the audit module's own files share.
 */
#ifndef MES_AUDIT_INT_H
#define MES_AUDIT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "audit/audit.h"

struct mes_audit {
  struct mes_store *store;       /* the vault and the audit history */
  struct mes_subjects *subjects; /* seals and unseals the vault */
  struct mes_catalog *catalog;   /* categories of the items served */
  struct mes_ingester *ingester; /* inferred interests, from histories */

  /* The worker that computes submitted audits (worker.c), started with the
   * first one. mu guards the queue and `started`; `stop` is also read
   * without it by a running audit, between two people. */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a job was queued, or stop was set */
  struct mes_audit_job *queue, *queue_tail;
  size_t n_queued;
  pthread_t thread;
  bool started;
  _Atomic bool stop;
};

/* What the worker keeps of a job in its queue (worker.c); each job (run.c)
 * holds one, reached through mes__audit_job_link. */
struct mes__audit_qlink {
  struct mes_audit_job *next;
  int64_t id; /* its stored record, once submitted */
};
struct mes__audit_qlink *mes__audit_job_link(struct mes_audit_job *j);
/* The record a submitted job is stored as until it finishes: *out new,
 * {"status": "running", "created_at", "attributes", "placement", "channel",
 * "count", "population": {"audited"}}. */
int mes__audit_running_doc(const struct mes_audit_job *j, int64_t now_ms, json_t **out);

/* What the worker writes for an audit that a shutdown stopped (JSON). */
#define MES__AUDIT_INTERRUPTED                                                                                         \
  "{\"code\": \"interrupted\", \"message\": \"The server stopped before this audit finished; run it again.\"}"

/* Unseals sid's vault document (sealed[0..len), borrowed): *doc new,
 * {"subject", "attributes"}. MES_ECRYPTO when it does not open (a key
 * shredded meanwhile) or is not the vault's. */
int mes__audit_vault_read(struct mes_audit *a, int64_t sid, const uint8_t *sealed, size_t len, json_t **doc);

#endif
