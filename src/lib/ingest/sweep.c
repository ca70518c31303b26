/*
 * ingest/sweep — erases events once their type's retention_days have passed.
 * Reads only clear columns (type, timestamp), so it needs no subject key. The
 * engine's background thread calls it every minute.
 */
#include "ingest/ingest_int.h"

#define DAY_MS 86400000LL

int mes_ingest_sweep(struct mes_ingester *ing, const struct mes_req *c, int64_t *n_deleted, struct mes_err *err) {
  const struct mes_policy *p = c->policy;
  int64_t total = 0;
  int rc = MES_OK;
  for (size_t t = 0; t < p->n_event_types && !rc; t++) {
    int64_t before = c->now_ms - (int64_t)p->event_types[t].retention_days * DAY_MS;
    int64_t n = 0;
    /* Outside a transaction, each sweep runs in one of its own and is durable
     * when it returns; ingestion waits for the writer lock one type at a time. */
    rc = mes_store_event_sweep(ing->store, (int)t, before, &n);
    if (!rc)
      total += n;
  }
  if (n_deleted)
    *n_deleted = total;
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}
