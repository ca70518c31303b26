/*
 * http/h_recs — recommendations (contract §6): POST /v1/recommendations and
 * the decision record GET /v1/recommendations/{id} (scope recommend; audit
 * too, for the record), and GET /v1/subjects/{s}/why (scope subjects, or the
 * subject's own token: it explains a person's data to that person).
 *
 * Each request takes one reference to the live model and keeps it to the
 * end, so a retrain swapping the model never changes an answer half-way.
 */
#include <string.h>

#include "base/id.h"
#include "http/endpoints.h"
#include "http/handler.h"
#include "http/metrics.h"
#include "recommend/recommend.h"

/* POST /v1/recommendations -> {"request_id", "personalized", "items": [...]}. */
void mes__h_recs_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = NULL;
  size_t body_len = 0;
  mes_http_req_body(req, &body_len);
  /* Every member is optional, so no body at all asks for the defaults. */
  int rc = body_len ? mes_http_req_json(req, mes_recommend_fields, mes_recommend_n_fields, &body, &err)
                    : ((body = json_object()) ? MES_OK : mes_err_set(&err, MES_ENOMEM, NULL, NULL));
  if (rc) {
    mes_http_reply_error(resp, &err);
    return;
  }
  struct mes_engine *e = mes_http_req_engine(req);
  struct mes_model *m = mes_engine_model(e);
  struct mes_rec_outcome oc;
  char *out = NULL;
  size_t out_len = 0;
  rc = mes_recommend_text(mes_engine_recommender(e), mes_http_req_ctx(req), m, body, mes_http_req_lang(req), &out,
                          &out_len, &oc, &err);
  mes_model_unref(m);
  json_decref(body);
  if (rc) {
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
  struct mes_err err;
  mes_err_clear(&err);
  size_t len = 0;
  const char *id = mes_http_req_param(req, "request_id", &len);
  const struct mes_principal *who = mes_http_req_principal(req);
  bool privileged = who && !who->subject_token && (who->scopes & (MES_SCOPE_ADMIN | MES_SCOPE_AUDIT));
  json_t *out = NULL;
  struct mes_engine *e = mes_http_req_engine(req);
  if (mes_recommend_record(mes_engine_recommender(e), mes_http_req_ctx(req), id, len, privileged, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* GET /v1/subjects/{s}/why?item=X[&channel=C] -> why X is (or would be)
 * recommended to s, the data used, and what s can do about it. */
void mes__h_subject_why(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  const char *item = mes_http_req_query(req, "item");
  if (!item) {
    mes_err_set(&err, MES_EMISSING_FIELD, "/query/item", "Name the item to explain: ?item=ID.");
    mes_http_reply_error(resp, &err);
    return;
  }
  size_t item_len = strlen(item);
  int rc = mes_id_check(item, item_len);
  if (rc) {
    mes_err_set(&err, rc, "/query/item", "An item id must be 1 to 128 bytes of UTF-8 without control characters.");
    mes_http_reply_error(resp, &err);
    return;
  }
  enum mes_channel ch = MES_CH_WEB;
  const char *chs = mes_http_req_query(req, "channel");
  if (chs) {
    int c = mes_channel_parse(chs, strlen(chs));
    if (c < 0) {
      mes_err_set(&err, MES_EINVALID_VALUE, "/query/channel", "channel must be one of web, app, email, ads, store.");
      mes_http_reply_error(resp, &err);
      return;
    }
    ch = (enum mes_channel)c;
  }
  struct mes_subject s;
  size_t id_len = 0;
  const char *sid = mes_http_req_param(req, "s", &id_len);
  if (mes_http_req_subject(req, "s", false, &s, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  struct mes_engine *e = mes_http_req_engine(req);
  struct mes_model *m = mes_engine_model(e);
  json_t *out = NULL;
  rc = mes_recommend_why(mes_engine_recommender(e), mes_http_req_ctx(req), m, sid, id_len, &s, item, item_len, ch,
                         mes_http_req_lang(req), &out, &err);
  mes_model_unref(m);
  if (rc) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
