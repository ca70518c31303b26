/*
 * http/h_recs — recommendations (contract §6): POST /v1/recommendations and
 * the decision record GET /v1/recommendations/{id} (scope recommend; audit
 * too, for the record), and GET /v1/subjects/{s}/why (scope subjects, or the
 * subject's own token: it explains a person's data to that person). Thin
 * adapters over the recommendation verbs of mesura.h; the answer's typed
 * outcome feeds mesura_recommendations_total and mesura_suppressions_total.
 */
#include "http/endpoints.h"
#include "http/handler.h"
#include "http/metrics.h"

/* POST /v1/recommendations -> {"request_id", "personalized", "items": [...]}. */
void mes__h_recs_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_body body = mes_http_req_doc(req);
  struct mes_recommend_outcome oc;
  char *out = NULL;
  size_t out_len = 0;
  if (mes_engine_recommend(mes_http_req_engine(req), mes_http_req_call(req), &body, &out, &out_len, &oc, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_metric_add(req, "mesura_recommendations_total", "personalized", oc.personalized ? "true" : "false", 1);
  for (size_t i = 0; i < oc.n_rules; i++)
    mes_http_metric_add(req, "mesura_suppressions_total", "rule", oc.by_rule[i].rule, oc.by_rule[i].n);
  mes_http_reply_take(resp, 200, MES_HTTP_JSON, out, out_len);
}

/* GET /v1/recommendations/{id} -> the decision record; "suppressed" only for
 * admin and audit principals (it names what the person bought or dismissed). */
void mes__h_recs_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "request_id", mes_engine_decision_get);
}

/* GET /v1/subjects/{s}/why?item=X[&channel=C] -> why X is (or would be)
 * recommended to s, the data used, and what s can do about it. */
void mes__h_subject_why(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  json_t *out = NULL;
  if (mes_engine_why(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, mes_http_req_query(req, "item"),
                     mes_http_req_query(req, "channel"), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
