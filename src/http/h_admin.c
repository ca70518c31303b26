/*
 * http/h_admin — what the brand's console (/admin) reads and changes beyond
 * the other endpoints (scope admin): API keys, and one overview of consents,
 * the live model and the policy in force. The latest audits are listed
 * here too (scope audit), beside h_audit's single audit.
 */
#include "http/endpoints.h"
#include "http/handler.h"

/* GET /v1/admin/keys -> {"keys": [...]}, never a secret. */
void mes__h_admin_keys_list(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  if (mes_engine_admin_keys(mes_http_req_engine(req), mes_http_req_call(req), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* POST /v1/admin/keys -> 201 with the secret, shown this once. */
void mes__h_admin_keys_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  struct mes_body body = mes_http_req_doc(req);
  if (mes_engine_admin_key_create(mes_http_req_engine(req), mes_http_req_call(req), &body, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  /* The secret must not linger in a cache between the server and the console. */
  mes_http_resp_header(resp, "Cache-Control", "no-store");
  mes_http_reply_json(resp, 201, out);
}

/* DELETE /v1/admin/keys/{name} -> 204; 409 for the caller's own key. */
void mes__h_admin_keys_delete(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t len = 0;
  const char *name = mes_http_req_param(req, "name", &len);
  if (mes_engine_admin_key_revoke(mes_http_req_engine(req), mes_http_req_call(req), name, len, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_text(resp, 204, MES_HTTP_JSON, "", 0);
}

/* GET /v1/admin/overview?days= -> consents per day, the model, the policy. */
void mes__h_admin_overview(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  if (mes_engine_admin_overview(mes_http_req_engine(req), mes_http_req_call(req), mes_http_req_query(req, "days"),
                                &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* GET /v1/audits?limit= -> the newest audits with what they flagged. */
void mes__h_audits_list(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  if (mes_engine_audit_list(mes_http_req_engine(req), mes_http_req_call(req), mes_http_req_query(req, "limit"), &out,
                            &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
