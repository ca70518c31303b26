/*
 * engine/call — the per-call state of the public verbs: a request taken
 * from the engine (policy snapshot, clock, actor, GPC), the language the
 * texts come in, the subject rule for subject tokens, and request bodies.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "engine/engine_int.h"

void mes__call_begin(struct mes__call *k, struct mes_engine *e, struct mes_call *call) {
  memset(&k->own, 0, sizeof k->own);
  k->e = e;
  k->call = call ? call : &k->own;
  call = k->call;
  call->pseudonym[0] = '\0';
  const char *actor = call->actor ? call->actor : call->who ? call->who->name : "public";
  mes_engine_req(e, &k->req, actor, call->gpc);
  if (call->now_ms)
    k->req.now_ms = call->now_ms;
  k->lang = mes_lang_negotiate(k->req.policy, call->accept_language);
}

void mes__call_end(struct mes__call *k) { mes_engine_req_done(k->e, &k->req); }

static bool is_token(const struct mes__call *k) { return k->call->who && k->call->who->subject_token; }

int mes__call_subject(struct mes__call *k, const char *id, size_t len, bool create, struct mes_subject *out,
                      struct mes_err *err) {
  bool token = is_token(k);
  memset(out, 0, sizeof *out);
  int rc = mes_subject_resolve(k->e->subjects, &k->req, MES_NS_SUBJECT, id, len, create && !token, out);
  if (rc == MES_OK || rc == MES_ENOT_FOUND)
    mes_pseudonym_hex(out->pn, k->call->pseudonym);
  if (token && (rc == MES_ENOT_FOUND || (rc == MES_OK && !(out->row.id > 0 && k->call->who->sid == out->row.id))))
    return mes_err_set(err, MES_EFORBIDDEN, NULL, "A subject's token acts only on that subject.");
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No data is held about this subject.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}

int mes__call_subject_gate(struct mes__call *k, const char *id, size_t len, struct mes_subject *out,
                           struct mes_err *err) {
  int rc = mes__call_subject(k, id, len, false, out, err);
  if (rc == MES_ENOT_FOUND) {
    mes_err_clear(err);
    out->row.id = 0;
    return MES_OK;
  }
  return rc;
}

bool mes__body_given(const struct mes_body *b) { return b && (b->json || b->len > 0); }

int mes__body_object(const struct mes_body *b, const struct mes_jfield *fields, size_t n_fields, json_t **out,
                     struct mes_err *err) {
  *out = NULL;
  json_t *obj;
  int rc;
  if (b && b->json) {
    if (!json_is_object(b->json))
      return mes_err_set(err, MES_EWRONG_TYPE, "", "The request body must be a JSON object.");
    obj = json_incref((json_t *)b->json);
  } else {
    rc = mes_json_parse_object(b ? b->text : NULL, b ? b->len : 0, &obj, err);
    if (rc)
      return rc;
  }
  rc = mes_json_check(obj, fields, n_fields, "", err);
  if (rc) {
    json_decref(obj);
    return rc;
  }
  *out = obj;
  return MES_OK;
}

const char *mes_engine_error_lang(const char *accept_language) {
  return mes_lang_name(mes_lang_negotiate(NULL, accept_language));
}
