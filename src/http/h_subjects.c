/*
 * http/h_subjects — data-subject rights endpoints (contract §7, scope
 * subjects; the read endpoints are also open to the subject's own token):
 * the profile summary, the export, and the dashboard token.
 */
#include <stdio.h>

#include "base/mtime.h"
#include "crypto/crypto.h"
#include "http/endpoints.h"
#include "http/handler.h"
#include "recommend/recommend.h"
#include "rights/rights.h"

#define SUBJECT_TOKEN_TTL_S (15 * 60)

/* GET /v1/subjects/{s} -> the profile summary; 404 for an unknown subject. */
void mes__h_subject_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  if (mes_http_req_subject(req, "s", false, &s, &err) ||
      mes_rights_summary(mes_http_req_ctx(req), id, id_len, &s, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* GET /v1/subjects/{s}/export -> everything held about s; 404 when unknown. */
void mes__h_subject_export(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  /* Decision records and impressions wait a few ms in the recommender's
   * queue before they are written: the export shows the ones given out
   * before it was asked for. */
  mes_recommender_flush(mes_engine_recommender(mes_http_req_engine(req)));
  if (mes_http_req_subject(req, "s", false, &s, &err) ||
      mes_rights_export(mes_http_req_ctx(req), id, id_len, &s, mes_http_req_lang(req), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* POST /v1/subjects/{s}/tokens -> {"token", "expires_at"}: a 15-minute token
 * for the person's own dashboard. The subject is created when unknown, so
 * that someone never seen before can still open the dashboard and choose. */
void mes__h_subject_token(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  size_t body_len = 0;
  mes_http_req_body(req, &body_len);
  if (body_len) {
    json_t *body = NULL;
    int rc = mes_http_req_json(req, NULL, 0, &body, &err); /* {} or nothing: any member is unknown */
    json_decref(body);
    if (rc) {
      mes_http_reply_error(resp, &err);
      return;
    }
  }
  if (mes_http_req_subject(req, "s", true, &s, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  char token[64], ts[32];
  int64_t expires_ms = 0;
  int rc = mes_engine_subject_token(mes_http_req_engine(req), s.row.id, SUBJECT_TOKEN_TTL_S, token, &expires_ms);
  if (rc) {
    mes_err_set(&err, rc, NULL, NULL);
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_time_format(expires_ms, ts);
  mes_http_reply_json(resp, 200, json_pack("{s:s, s:s}", "token", token, "expires_at", ts));
  mes_wipe(token, sizeof token);
}
