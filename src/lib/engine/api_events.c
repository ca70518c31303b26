/*
 * engine/api_events — the event verbs of mesura.h: ingestion (contract §4)
 * with its durability tickets, forgetting one event (§7), and the bulk
 * import of `mesura import`, which goes through the same rules.
 */
#include <stdlib.h>

#include "base/mtime.h"
#include "engine/engine_int.h"
#include "import/import.h"
#include "ingest/ingest.h"
#include "store/store.h"

static size_t count_of(const json_t *obj, const char *key) {
  json_int_t n = json_integer_value(json_object_get(obj, key));
  return n > 0 ? (size_t)n : 0;
}

/* The console's daily counts of an ingestion's outcome. */
static void tally_events(struct mes_engine *e, int64_t now_ms, const struct mes_ingest_outcome *oc) {
  const struct {
    const char *outcome;
    size_t n;
  } by[] = {{"stored", oc->stored},         {"no_consent", oc->no_consent}, {"third_party", oc->third_party},
            {"restricted", oc->restricted}, {"expired", oc->expired},       {"invalid", oc->invalid}};
  for (size_t i = 0; i < sizeof by / sizeof by[0]; i++)
    mes__tally_add(e, now_ms, "events", by[i].outcome, (int64_t)by[i].n);
}

int mes_engine_events_ingest(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, bool wait,
                             json_t **reply, struct mes_ingest_outcome *oc, struct mes_err *err) {
  MES__CLEAR(reply);
  struct mes_ingest_outcome local;
  if (!oc)
    oc = &local;
  *oc = (struct mes_ingest_outcome){0};
  struct mes__call k;
  json_t *doc = NULL, *out = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__body_object(body, mes_ingest_body_fields, mes_ingest_n_body_fields, &doc, err);
  if (!rc) /* a browser token sends its own person's events only: checked before anything is stored */
    rc = mes__call_own_events(&k, doc, err);
  if (!rc)
    rc = wait ? mes_ingest_batch(e->ingester, &k.req, doc, &out, err)
              : mes_ingest_batch_nowait(e->ingester, &k.req, doc, &out, &oc->ticket, err);
  int64_t now_ms = k.req.now_ms;
  mes__call_end(&k);
  if (rc) {
    /* A single event refused for its own content is one invalid event; a
     * refused batch or body is no event at all. */
    if (doc && !json_object_get(doc, "events") && mes_rc_status(rc) == 400)
      oc->invalid = 1;
    tally_events(e, now_ms, oc);
    json_decref(doc);
    return rc;
  }
  json_decref(doc);
  const json_t *not_stored = json_object_get(out, "not_stored");
  oc->stored = count_of(out, "stored");
  oc->no_consent = count_of(not_stored, "no_consent");
  oc->third_party = count_of(not_stored, "third_party");
  oc->restricted = count_of(not_stored, "restricted");
  oc->expired = count_of(not_stored, "expired");
  oc->invalid = json_array_size(json_object_get(out, "errors"));
  oc->dropped_properties = count_of(out, "dropped_properties");
  tally_events(e, now_ms, oc);
  if (reply)
    *reply = out;
  else
    json_decref(out);
  return MES_OK;
}

/* The store's waiter, carrying the caller's callback. */
struct durable_wait {
  struct mes_store_waiter w; /* first: the store hands it back */
  void (*cb)(void *ud, int rc);
  void *ud;
};

static void on_durable(struct mes_store_waiter *w, int rc) {
  struct durable_wait *d = (struct durable_wait *)w;
  void (*cb)(void *, int) = d->cb;
  void *ud = d->ud;
  free(d);
  cb(ud, rc);
}

int mes_engine_on_durable(struct mes_engine *e, uint64_t ticket, void (*cb)(void *ud, int rc), void *ud) {
  struct durable_wait *d = calloc(1, sizeof *d);
  if (!d)
    return MES_ENOMEM;
  d->w.cb = on_durable;
  d->cb = cb;
  d->ud = ud;
  int rc = mes_store_on_durable(mes_engine_store(e), ticket, &d->w);
  if (rc != MES_OK)
    free(d);
  return rc;
}

int mes_engine_wait_durable(struct mes_engine *e, uint64_t ticket) {
  return mes_store_wait_durable(mes_engine_store(e), ticket);
}

int mes_engine_event_forget(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            const char *event_id, size_t event_id_len, json_t **model, struct mes_err *err) {
  MES__CLEAR(model);
  struct mes__call k;
  struct mes_subject s;
  struct mes_ingest_forgotten ev;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  int64_t count = 0;
  if (!rc && (rc = mes_store_tx_begin(e->store)) != MES_OK)
    rc = mes_err_set(err, rc, NULL, NULL);
  else if (!rc) {
    /* The event goes and the count of forgotten events grows in one
     * transaction, durable before the model is touched: a stored model
     * that learnt the event is then never served again (live.c), whether
     * or not the unlearned one is saved before a crash. */
    uint64_t ticket = 0;
    rc = mes_ingest_forget_event(e->ingester, &s, event_id, event_id_len, &ev, err);
    if (!rc && (rc = mes__engine_forgets_add(e, &count)) != MES_OK)
      mes_err_set(err, rc, NULL, NULL);
    if (rc)
      mes_store_tx_rollback(e->store);
    else if ((rc = mes_store_tx_commit(e->store, &ticket)) != MES_OK ||
             (rc = mes_store_wait_durable(e->store, ticket)) != MES_OK)
      mes_err_set(err, rc, NULL, NULL);
  }
  const char *type = !rc && ev.type >= 0 && (size_t)ev.type < k.req.policy->n_event_types
                         ? k.req.policy->event_types[ev.type].name
                         : "";
  json_t *m =
      rc ? NULL : mes__engine_forget_event(e, s.row.id, ev.item, mes_kind_of(type), ev.ts_ms, count, mes_now_ms());
  mes_wipe(&ev, sizeof ev);
  if (!rc)
    mes__tally_add(e, k.req.now_ms, "events", "forgotten", 1);
  mes__call_end(&k);
  if (!rc && !m)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (model)
    *model = m;
  else
    json_decref(m);
  return rc;
}

int mes_engine_import(struct mes_engine *e, struct mes_call *call, FILE *in, const struct mes_import_opts *o,
                      struct mes_import_counts *counts, struct mes_err *err) {
  struct mes__call k;
  mes__call_begin(&k, e, call);
  int rc = mes_import_stream(e->catalog, e->ledger, e->ingester, &k.req, in, o, counts, err);
  mes__call_end(&k);
  return rc;
}
