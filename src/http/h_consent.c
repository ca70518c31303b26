/*
 * http/h_consent — the consent and preference endpoints (contract §5, scope
 * consent, also open to the subject's own token): thin adapters from a
 * request to the consent verbs of mesura.h and back. An unknown subject is
 * fine for an API key: a write creates it, a read sees "nothing granted".
 */
#include "http/endpoints.h"
#include "http/handler.h"

/* PUT /v1/subjects/{s}/consents/{purpose} -> 200 the signed receipt. */
void mes__h_consent_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *receipt = NULL;
  size_t id_len = 0, purpose_len = 0;
  const char *id = mes_http_req_param(req, "s", &id_len);
  const char *purpose = mes_http_req_param(req, "purpose", &purpose_len);
  struct mes_body body = mes_http_req_doc(req);
  if (mes_engine_consent_put(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, purpose, purpose_len,
                             &body, &receipt, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, receipt);
}

/* GET /v1/subjects/{s}/consents -> {"purposes", "history"}. */
void mes__h_consent_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "s", mes_engine_consents_get);
}

/* PUT /v1/subjects/{s}/preferences -> 200 the stored preferences. */
void mes__h_preferences_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_body_verb(req, resp, "s", mes_engine_prefs_put);
}

/* PATCH /v1/subjects/{s}/preferences -> 200 the stored preferences, after
 * adding and removing what the body names and dismissing its items. */
void mes__h_preferences_patch(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_body_verb(req, resp, "s", mes_engine_prefs_patch);
}

/* GET /v1/subjects/{s}/preferences -> the stored preferences (the empty
 * document for an unknown subject, as for consents). */
void mes__h_preferences_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "s", mes_engine_prefs_get);
}
