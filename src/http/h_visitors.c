/*
 * http/h_visitors — an anonymous visitor's endpoints (contract §4
 * `anonymous_id`): their own consents and browser token before they log in
 * (scope consent, and subjects for the token, as a subject's), and linking
 * them to a subject at login (scope ingest). Thin adapters over the visitor
 * verbs of mesura.h.
 */
#include "base/mtime.h"
#include "http/endpoints.h"
#include "http/handler.h"

/* PUT /v1/visitors/{a}/consents/{purpose} -> 200 the signed receipt. */
void mes__h_visitor_consent_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *receipt = NULL;
  size_t id_len = 0, purpose_len = 0;
  const char *id = mes_http_req_param(req, "a", &id_len);
  const char *purpose = mes_http_req_param(req, "purpose", &purpose_len);
  struct mes_body body = mes_http_req_doc(req);
  if (mes_engine_visitor_consent_put(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, purpose,
                                     purpose_len, &body, &receipt, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, receipt);
}

/* GET /v1/visitors/{a}/consents -> {"purposes", "history"}. */
void mes__h_visitor_consent_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "a", mes_engine_visitor_consents_get);
}

/* POST /v1/visitors/{a}/tokens -> {"token", "expires_at"}: a browser token
 * for the visitor alone, for the policy's rights.token_minutes. */
void mes__h_visitor_token(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "a", &id_len);
  struct mes_body body = mes_http_req_doc(req);
  char token[64], ts[32];
  int64_t expires_ms = 0;
  if (mes_engine_visitor_token_create(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &body, 0, token,
                                      &expires_ms, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_time_format(expires_ms, ts);
  mes_http_reply_json(resp, 200, json_pack("{s:s, s:s}", "token", token, "expires_at", ts));
  mes_wipe(token, sizeof token);
}

/* POST /v1/subjects/{s}/link {"anonymous_id"} -> {"moved", "already_held",
 * "dropped", "removed"}. */
void mes__h_subject_link(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_body_verb(req, resp, "s", mes_engine_visitor_link);
}
