/*
 * http/h_subjects — data-subject rights endpoints (contract §7, scope
 * subjects; the read endpoints are also open to the subject's own token):
 * the profile summary, the export, and the person's own tokens.
 */
#include "base/mtime.h"
#include "http/endpoints.h"
#include "http/handler.h"

/* GET /v1/subjects/{s} -> the profile summary; 404 for an unknown subject. */
void mes__h_subject_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "s", mes_engine_subject_get);
}

/* GET /v1/subjects/{s}/export -> everything held about s; 404 when unknown. */
void mes__h_subject_export(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "s", mes_engine_export);
}

/* GET /v1/subjects/{s}/access-log -> {"entries": [...]}: every read of s's
 * data; 404 when unknown. */
void mes__h_subject_access_log(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "s", mes_engine_access_log);
}

/* POST /v1/subjects/{s}/tokens {"use": "dashboard"|"browser"} -> {"token",
 * "expires_at"}: a token for the person alone, for the policy's
 * rights.token_minutes. */
void mes__h_subject_token(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  struct mes_body body = mes_http_req_doc(req);
  char token[64], ts[32];
  int64_t expires_ms = 0;
  if (mes_engine_token_create(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &body, 0, token,
                              &expires_ms, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_time_format(expires_ms, ts);
  mes_http_reply_json(resp, 200, json_pack("{s:s, s:s}", "token", token, "expires_at", ts));
  mes_wipe(token, sizeof token);
}

/* DELETE /v1/subjects/{s}/tokens -> {"revoked": n}: every token of the
 * person stops working, on every server sharing the store. */
void mes__h_subject_tokens_revoke(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  int64_t n = 0;
  if (mes_engine_tokens_revoke(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &n, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, json_pack("{s:I}", "revoked", (json_int_t)n));
}

/* PUT /v1/subjects/{s}/restriction {"restricted": bool} -> {"restricted",
 * "changed"}: data kept, nothing processed while restricted. */
void mes__h_subject_restriction(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_body_verb(req, resp, "s", mes_engine_restriction_set);
}

/* DELETE /v1/subjects/{s} -> {"erased": true, "receipt": {...}}. */
void mes__h_subject_erase(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  json_t *receipt = NULL;
  if (mes_engine_subject_erase(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &receipt, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, json_pack("{s:b, s:o}", "erased", 1, "receipt", receipt));
}
