/*
 * http/h_events — the event endpoints: POST /v1/events (contract §4, scope
 * ingest) and DELETE /v1/subjects/{s}/events/{event_id} (§7 rectification,
 * scope subjects or the subject's own token). Thin adapters over the event
 * verbs of mesura.h; they also count outcomes in
 * mesura_events_total{outcome=...} (stored, no_consent, third_party,
 * restricted, expired, invalid, forgotten) and minimised properties in
 * mesura_event_properties_dropped_total, from the verb's typed outcome.
 */
#include "http/endpoints.h"
#include "http/handler.h"
#include "http/metrics.h"

#define EVENTS_METRIC "mesura_events_total"

static void count(struct mes_http_req *req, size_t n, const char *outcome) {
  if (n > 0)
    mes_http_metric_add(req, EVENTS_METRIC, "outcome", outcome, (uint64_t)n);
}

void mes__h_events_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  struct mes_ingest_outcome oc;
  struct mes_body body = mes_http_req_doc(req);
  /* No wait here: the reply is held (below) until the commit is durable,
   * without keeping this worker thread. */
  if (mes_engine_events_ingest(mes_http_req_engine(req), mes_http_req_call(req), &body, false, &out, &oc, &err)) {
    count(req, oc.invalid, "invalid"); /* a lone event refused for its content */
    mes_http_reply_error(resp, &err);
    return;
  }
  count(req, oc.stored, "stored");
  count(req, oc.no_consent, "no_consent");
  count(req, oc.third_party, "third_party");
  count(req, oc.restricted, "restricted");
  count(req, oc.expired, "expired");
  count(req, oc.invalid, "invalid");
  if (oc.dropped_properties > 0)
    mes_http_metric_add(req, "mesura_event_properties_dropped_total", NULL, NULL, (uint64_t)oc.dropped_properties);
  mes_http_localize_errors(req, json_object_get(out, "errors"));
  mes_http_reply_json(resp, 200, out);
  mes_http_resp_hold(resp, oc.ticket);
}

void mes__h_subject_event_delete(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0, eid_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  const char *eid = mes_http_req_param(req, "event_id", &eid_len);
  json_t *model = NULL;
  if (mes_engine_event_forget(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, eid, eid_len, &model,
                              &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_metric_add(req, EVENTS_METRIC, "outcome", "forgotten", 1);
  mes_http_reply_json(resp, 200, json_pack("{s:s%, s:b, s:o}", "event_id", eid, eid_len, "deleted", 1, "model", model));
}
