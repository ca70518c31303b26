/*
 * rights/erase — the right to erasure (contract §7): everything held about
 * the person goes from this node at once, and what stays in old copies of
 * the database file is unreadable.
 *
 * Order matters for a crash at any point: the erasure is journaled first
 * (store.h: every later open of the store, and every restore of an older
 * backup, deletes the person again), then the subject's key is destroyed
 * (crypto-shredding: from then on every sealed row of the person, in this
 * file and in every backup, is noise), then the rows are deleted in one
 * transaction. A crash in between leaves rows nobody can read, which the
 * next open deletes, or the erasure asked again finishes. Whatever follows
 * the journal (the live model) may start on the person once the record is
 * durable (the hook), while the key and rows go. The in-memory copies
 * (the key cache, the decoded history, the ingestion hint) are dropped
 * whatever happens, so that nothing answers from them afterwards.
 */
#include "rights/rights_int.h"

#include <string.h>

#include "base/mtime.h"
#include "consent/consent.h"
#include "store/store.h"

int mes_rights_erase(struct mes_rights *rt, const struct mes_req *c, const struct mes_subject *s,
                     const struct mes_rights_erase_hook *journaled, struct mes_store_erased *removed,
                     struct mes_err *err) {
  memset(removed, 0, sizeof *removed);
  int rc = mes_store_erasure_add(rt->store, s->pn, s->row.id, c->now_ms);
  if (rc == MES_OK && journaled && journaled->journaled)
    journaled->journaled(journaled->ud);
  if (rc == MES_OK)
    rc = mes_subject_shred(rt->subjects, s->row.id);
  if (rc == MES_OK) {
    rc = mes_store_tx_begin(rt->store);
    if (rc == MES_OK) {
      rc = mes_store_subject_delete_counted(rt->store, s->row.id, removed);
      uint64_t ticket;
      if (rc != MES_OK)
        mes_store_tx_rollback(rt->store);
      else if ((rc = mes_store_tx_commit(rt->store, &ticket)) == MES_OK)
        rc = mes_store_wait_durable(rt->store, ticket);
    }
  }
  mes_subjects_forget(rt->subjects, s);
  mes_ingester_forget(rt->ingester, s->row.id);
  if (rc != MES_OK) {
    memset(removed, 0, sizeof *removed);
    return mes_err_set(err, rc, NULL, NULL);
  }
  return MES_OK;
}

json_t *mes_rights_erasure_receipt(struct mes_rights *rt, const struct mes_req *c, const struct mes_subject *s,
                                   const struct mes_store_erased *removed, const json_t *model) {
  char rid[MES_RECEIPT_ID_CAP], ts[32];
  mes_receipt_id(rid);
  mes_time_format(c->now_ms, ts);
  const char *actor = c->actor && c->actor[0] ? c->actor : "unknown";
  json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}, s:O}", "receipt_id", rid,
                        "action", "erasure", "pseudonym", s->pn_hex, "ts", ts, "recorded_by", actor, "removed",
                        "events", (json_int_t)removed->events, "consents", (json_int_t)removed->consents,
                        "preferences", (json_int_t)removed->preferences, "impressions",
                        (json_int_t)removed->impressions, "decisions", (json_int_t)removed->decisions, "tokens",
                        (json_int_t)removed->tokens, "protected_attributes", (json_int_t)removed->attributes,
                        "access_log", (json_int_t)removed->accesses,
                        "key", 1, "model", model);
  if (r && mes_receipt_sign(rt->ledger, r) != MES_OK) {
    json_decref(r);
    return NULL;
  }
  return r;
}
