/*
 * http/h_audit — fairness audits (contract §8, scope audit): the attribute
 * vault of each person, audit runs, their stored results and their report.
 */
#include <stdio.h>

#include "http/endpoints.h"
#include "http/handler.h"

#define HTML_TYPE "text/html; charset=utf-8"

/* PUT /v1/audit/subjects/{s}/attributes -> {"attributes", "protected"}. */
void mes__h_audit_attrs_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_body_verb(req, resp, "s", mes_engine_audit_attrs_put);
}

/* GET /v1/audit/subjects/{s}/attributes: audit keys only (not admin). */
void mes__h_audit_attrs_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "s", mes_engine_audit_attrs_get);
}

/* DELETE /v1/audit/subjects/{s}/attributes -> 204. */
void mes__h_audit_attrs_delete(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  if (mes_engine_audit_attrs_delete(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_text(resp, 204, MES_HTTP_JSON, "", 0);
}

/* POST /v1/audits -> 201 with the finished audit, or 202 with the record
 * of one running in the background (to poll at its Location). */
void mes__h_audits_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  bool running = false;
  struct mes_body body = mes_http_req_doc(req);
  if (mes_engine_audit_run(mes_http_req_engine(req), mes_http_req_call(req), &body, &out, &running, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  char location[64];
  snprintf(location, sizeof location, "/v1/audits/%s", json_string_value(json_object_get(out, "id")));
  mes_http_resp_header(resp, "Location", location);
  mes_http_reply_json(resp, running ? 202 : 201, out);
}

/* GET /v1/audits/{id} -> the stored audit. */
void mes__h_audits_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "id", mes_engine_audit_get);
}

/* GET /v1/audits/{id}/report.html -> the readable report. */
void mes__h_audits_report(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  char *html = NULL;
  size_t len = 0, id_len = 0;
  const char *id = mes_http_req_param(req, "id", &id_len);
  if (mes_engine_audit_report(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &html, &len, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_take(resp, 200, HTML_TYPE, html, len);
}
