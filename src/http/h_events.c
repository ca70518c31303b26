/*
 * http/h_events — the event endpoints: POST /v1/events (contract §4, scope
 * ingest) and DELETE /v1/subjects/{s}/events/{event_id} (§7 rectification,
 * scope subjects or the subject's own token). Thin adapters over the ingest
 * module; they also count outcomes in mesura_events_total{outcome=...}
 * (stored, no_consent, third_party, restricted, expired, invalid, forgotten)
 * and minimised properties in mesura_event_properties_dropped_total.
 */
#include "http/endpoints.h"
#include "http/handler.h"
#include "http/metrics.h"
#include "ingest/ingest.h"

#define EVENTS_METRIC "mesura_events_total"

/* Adds member `key` of obj (a count in the ingest reply) to the outcome's counter. */
static void count(struct mes_http_req *req, const json_t *obj, const char *key, const char *outcome) {
  json_int_t n = json_integer_value(json_object_get(obj, key));
  if (n > 0)
    mes_http_metric_add(req, EVENTS_METRIC, "outcome", outcome, (uint64_t)n);
}

void mes__h_events_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = NULL, *out = NULL;
  uint64_t ticket = 0;
  /* No wait here: the reply is held (below) until the commit is durable,
   * without keeping this worker thread. */
  if (mes_http_req_json(req, mes_ingest_body_fields, mes_ingest_n_body_fields, &body, &err) ||
      mes_ingest_batch_nowait(mes_http_req_ctx(req), body, &out, &ticket, &err)) {
    /* A single event refused for its own content is one invalid event; a
     * refused batch or body is counted by the request metrics alone. */
    if (body && !json_object_get(body, "events") && mes_rc_status(err.rc) == 400)
      mes_http_metric_add(req, EVENTS_METRIC, "outcome", "invalid", 1);
    json_decref(body);
    mes_http_reply_error(resp, &err);
    return;
  }
  json_decref(body);
  const json_t *not_stored = json_object_get(out, "not_stored");
  size_t n_errors = json_array_size(json_object_get(out, "errors"));
  count(req, out, "stored", "stored");
  count(req, not_stored, "no_consent", "no_consent");
  count(req, not_stored, "third_party", "third_party");
  count(req, not_stored, "restricted", "restricted");
  count(req, not_stored, "expired", "expired");
  if (n_errors)
    mes_http_metric_add(req, EVENTS_METRIC, "outcome", "invalid", n_errors);
  json_int_t dropped = json_integer_value(json_object_get(out, "dropped_properties"));
  if (dropped > 0)
    mes_http_metric_add(req, "mesura_event_properties_dropped_total", NULL, NULL, (uint64_t)dropped);
  mes_http_localize_errors(req, json_object_get(out, "errors"));
  mes_http_reply_json(resp, 200, out);
  mes_http_resp_hold(resp, ticket);
}

void mes__h_subject_event_delete(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  size_t eid_len = 0;
  const char *eid = mes_http_req_param(req, "event_id", &eid_len);
  if (mes_http_req_subject(req, "s", false, &s, &err) ||
      mes_ingest_forget(mes_http_req_ctx(req), &s, eid, eid_len, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_metric_add(req, EVENTS_METRIC, "outcome", "forgotten", 1);
  mes_http_reply_json(resp, 200, json_pack("{s:s%, s:b}", "event_id", eid, eid_len, "deleted", 1));
}
