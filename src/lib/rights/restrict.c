/*
 * rights/restrict — the right to restriction (contract §7): the person's
 * data is kept (exportable, erasable) but nothing processes it. The flag on
 * the subject row is what every processing path already reads: ingestion
 * stores no event (counted as not_stored.restricted), answers are
 * non-personal, training and the audits leave the person out. Here it is
 * set durably and every in-memory copy of the old row or of the decoded
 * history is dropped, so that the very next request sees it.
 */
#include "rights/rights.h"

#include "ingest/histcache.h"
#include "store/store.h"
#include "subject/subjmap.h"

int mes_rights_restrict(const struct mes_ctx *c, struct mes_subject *s, bool restricted, bool *changed,
                        struct mes_err *err) {
  *changed = false;
  if (s->row.restricted == restricted)
    return MES_OK;
  int rc = mes_store_tx_begin(c->store);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  rc = mes_store_subject_set_restricted(c->store, s->row.id, restricted);
  uint64_t ticket;
  if (rc) {
    mes_store_tx_rollback(c->store);
  } else if ((rc = mes_store_tx_commit(c->store, &ticket)) == MES_OK) {
    rc = mes_store_wait_durable(c->store, ticket);
  }
  /* Dropped whatever the outcome: a hint is only read again, never wrong. */
  mes_subjmap_forget(c->smap, s->pn);
  if (c->hcache)
    mes_histcache_forget(c->hcache, s->row.id);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  s->row.restricted = restricted;
  *changed = true;
  return MES_OK;
}
