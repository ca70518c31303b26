/*
 * http/h_consent — the consent and preference endpoints (contract §5, scope
 * consent, also open to the subject's own token): thin adapters from a
 * request to the consent module (and, for PATCH preferences, which can
 * also dismiss items, the rights module) and back.
 */
#include "consent/consent.h"
#include "http/endpoints.h"
#include "http/handler.h"
#include "rights/rights.h"

/*
 * Keeps a subject token to its own subject and puts the pseudonym in the
 * access log. An unknown subject is fine for an API key: the consent module
 * creates it on a write and reads it as "nothing granted". *s gets the row
 * (row.id 0 when unknown).
 */
static int subject_gate(struct mes_http_req *req, struct mes_subject *s, struct mes_err *err) {
  int rc = mes_http_req_subject(req, "s", false, s, err);
  if (rc == MES_ENOT_FOUND) {
    mes_err_clear(err);
    s->row.id = 0;
    return MES_OK;
  }
  return rc;
}

/* PUT /v1/subjects/{s}/consents/{purpose} -> 200 the signed receipt. */
void mes__h_consent_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *body = NULL, *receipt = NULL;
  size_t id_len = 0, purpose_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  const char *purpose = mes_http_req_param(req, "purpose", &purpose_len);
  if (subject_gate(req, &s, &err) ||
      mes_http_req_json(req, mes_consent_fields, mes_consent_n_fields, &body, &err) ||
      mes_consent_record(mes_http_req_ctx(req), id, id_len, purpose, purpose_len, body, &receipt, &err)) {
    json_decref(body);
    mes_http_reply_error(resp, &err);
    return;
  }
  json_decref(body);
  mes_http_reply_json(resp, 200, receipt);
}

/* GET /v1/subjects/{s}/consents -> {"purposes", "history"}. */
void mes__h_consent_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  if (subject_gate(req, &s, &err) || mes_consent_get(mes_http_req_ctx(req), id, id_len, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* PUT /v1/subjects/{s}/preferences -> 200 the stored preferences. */
void mes__h_preferences_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *body = NULL, *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  if (subject_gate(req, &s, &err) ||
      mes_http_req_json(req, mes_consent_pref_fields, mes_consent_pref_n_fields, &body, &err) ||
      mes_consent_set_preferences(mes_http_req_ctx(req), id, id_len, body, &out, &err)) {
    json_decref(body);
    mes_http_reply_error(resp, &err);
    return;
  }
  json_decref(body);
  mes_http_reply_json(resp, 200, out);
}

/* PATCH /v1/subjects/{s}/preferences -> 200 the stored preferences, after
 * adding and removing what the body names and dismissing its items. */
void mes__h_preferences_patch(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *body = NULL, *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  if (subject_gate(req, &s, &err) ||
      mes_http_req_json(req, mes_rights_pref_patch_fields, mes_rights_pref_patch_n_fields, &body, &err) ||
      mes_rights_patch_preferences(mes_http_req_ctx(req), id, id_len, body, &out, &err)) {
    json_decref(body);
    mes_http_reply_error(resp, &err);
    return;
  }
  json_decref(body);
  mes_http_reply_json(resp, 200, out);
}

/* GET /v1/subjects/{s}/preferences -> the stored preferences (the empty
 * document for an unknown subject, as for consents). */
void mes__h_preferences_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_subject s;
  json_t *out = NULL;
  if (subject_gate(req, &s, &err) ||
      mes_consent_get_preferences(mes_http_req_ctx(req), s.row.id, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
