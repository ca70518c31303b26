/*
 * rights/restrict — the right to restriction (contract §7): the person's
 * data is kept (exportable, erasable) but nothing processes it. The flag on
 * the subject row is what every processing path already reads: ingestion
 * stores no event (counted as not_stored.restricted), answers are
 * non-personal, training and the audits leave the person out. Here it is
 * set durably and every in-memory copy of the old row or of the decoded
 * history is dropped, so that the very next request sees it.
 */
#include "rights/rights_int.h"

#include "store/store.h"

int mes_rights_restrict(struct mes_rights *rt, const struct mes_req *c, struct mes_subject *s, bool restricted,
                        bool *changed, struct mes_err *err) {
  (void)c;
  *changed = false;
  if (s->row.restricted == restricted)
    return MES_OK;
  int rc = mes_store_tx_begin(rt->store);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  rc = mes_store_subject_set_restricted(rt->store, s->row.id, restricted);
  uint64_t ticket;
  if (rc) {
    mes_store_tx_rollback(rt->store);
  } else if ((rc = mes_store_tx_commit(rt->store, &ticket)) == MES_OK) {
    rc = mes_store_wait_durable(rt->store, ticket);
  }
  /* Dropped whatever the outcome: a hint is only read again, never wrong. */
  mes_subjects_forget(rt->subjects, s);
  mes_ingester_forget(rt->ingester, s->row.id);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  s->row.restricted = restricted;
  *changed = true;
  return MES_OK;
}
