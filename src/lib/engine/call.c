/*
 * engine/call — the per-call state of the public verbs: a request taken
 * from the engine (policy snapshot, clock, actor, GPC), the language the
 * texts come in, the subject rule for subject tokens (in a path, or in the
 * documents a browser token sends), and request bodies.
 */
#include <stdio.h>
#include <string.h>

#include "base/id.h"
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

int mes__call_subject_ns(struct mes__call *k, enum mes_subject_ns ns, const char *id, size_t len, bool create,
                         struct mes_subject *out, struct mes_err *err) {
  bool token = is_token(k);
  memset(out, 0, sizeof *out);
  int rc = mes_subject_resolve(k->e->subjects, &k->req, ns, id, len, create && !token, out);
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

int mes__call_subject(struct mes__call *k, const char *id, size_t len, bool create, struct mes_subject *out,
                      struct mes_err *err) {
  return mes__call_subject_ns(k, MES_NS_SUBJECT, id, len, create, out, err);
}

int mes__call_own_doc(struct mes__call *k, const json_t *doc, const char *field, struct mes_err *err) {
  if (!is_token(k))
    return MES_OK;
  const json_t *v = json_object_get(doc, "subject");
  enum mes_subject_ns ns = MES_NS_SUBJECT;
  if (!v) {
    v = json_object_get(doc, "anonymous_id");
    ns = MES_NS_ANON;
  }
  /* The two namespaces pseudonymize apart, so a token bound to a subject
   * never matches an anonymous id, nor one bound to a visitor a subject id. */
  bool own = false;
  if (json_is_string(v) && mes_id_check(json_string_value(v), json_string_length(v)) == MES_OK) {
    struct mes_subject s;
    int rc = mes_subject_resolve(k->e->subjects, &k->req, ns, json_string_value(v), json_string_length(v), false, &s);
    if (rc != MES_OK && rc != MES_ENOT_FOUND)
      return mes_err_set(err, rc, NULL, NULL);
    own = rc == MES_OK && s.row.id > 0 && s.row.id == k->call->who->sid;
  }
  char at[48];
  snprintf(at, sizeof at, "%s/%s", field, ns == MES_NS_SUBJECT ? "subject" : "anonymous_id");
  if (!own)
    return mes_err_set(err, MES_EFORBIDDEN, at,
                       "A token acts only on the person it was minted for.");
  return MES_OK;
}

/* Both objects lack member `key`, or have equal values for it. */
static bool same_member(const json_t *a, const json_t *b, const char *key) {
  const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
  return x == y || (x && y && json_equal(x, y));
}

int mes__call_own_events(struct mes__call *k, const json_t *body, struct mes_err *err) {
  if (!is_token(k))
    return MES_OK;
  const json_t *events = json_object_get(body, "events");
  if (!json_is_array(events))
    return mes__call_own_doc(k, body, "", err);
  char field[32];
  const json_t *checked = NULL; /* the last event found to be the token's own */
  for (size_t i = 0; i < json_array_size(events); i++) {
    const json_t *ev = json_array_get(events, i);
    /* A browser's batch names one person throughout: an event naming them
     * as the one before did (same member, same id) needs no second lookup. */
    if (checked && json_is_object(ev) && same_member(ev, checked, "subject") &&
        same_member(ev, checked, "anonymous_id"))
      continue;
    snprintf(field, sizeof field, "/events/%zu", i);
    int rc = mes__call_own_doc(k, ev, field, err);
    if (rc)
      return rc;
    checked = ev;
  }
  return MES_OK;
}

int mes__call_subject_gate_ns(struct mes__call *k, enum mes_subject_ns ns, const char *id, size_t len,
                              struct mes_subject *out, struct mes_err *err) {
  int rc = mes__call_subject_ns(k, ns, id, len, false, out, err);
  if (rc == MES_ENOT_FOUND) {
    mes_err_clear(err);
    out->row.id = 0;
    return MES_OK;
  }
  return rc;
}

int mes__call_subject_gate(struct mes__call *k, const char *id, size_t len, struct mes_subject *out,
                           struct mes_err *err) {
  return mes__call_subject_gate_ns(k, MES_NS_SUBJECT, id, len, out, err);
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
