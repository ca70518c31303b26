/*
 * engine/api_visitors — the anonymous visitor's verbs of mesura.h (contract
 * §4 `anonymous_id`): their own consents and browser token before they log
 * in, and linking them to a subject when they do (ingest/link.c).
 */
#include <string.h>

#include "consent/consent.h"
#include "engine/engine_int.h"
#include "ingest/ingest.h"

int mes_engine_visitor_consent_put(struct mes_engine *e, struct mes_call *call, const char *anonymous_id,
                                   size_t id_len, const char *purpose, size_t purpose_len,
                                   const struct mes_body *body, json_t **receipt, struct mes_err *err) {
  MES__CLEAR(receipt);
  struct mes__call k;
  struct mes_subject s;
  json_t *doc = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate_ns(&k, MES_NS_ANON, anonymous_id, id_len, &s, err);
  if (!rc)
    rc = mes__body_object(body, mes_consent_fields, mes_consent_n_fields, &doc, err);
  if (!rc)
    rc = mes_consent_record_ns(e->ledger, &k.req, MES_NS_ANON, anonymous_id, id_len, purpose, purpose_len, doc,
                               receipt, err);
  json_decref(doc);
  mes__call_end(&k);
  return rc;
}

int mes_engine_visitor_consents_get(struct mes_engine *e, struct mes_call *call, const char *anonymous_id,
                                    size_t id_len, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate_ns(&k, MES_NS_ANON, anonymous_id, id_len, &s, err);
  if (!rc)
    rc = mes_consent_get_ns(e->ledger, &k.req, MES_NS_ANON, anonymous_id, id_len, out, err);
  mes__call_end(&k);
  return rc;
}

static const struct mes_jfield visitor_token_fields[] = {
    {"use", MES_J_STRING, false, 0, 16},
};

int mes_engine_visitor_token_create(struct mes_engine *e, struct mes_call *call, const char *anonymous_id,
                                    size_t id_len, const struct mes_body *body, int ttl_s, char token_out[64],
                                    int64_t *expires_ms, struct mes_err *err) {
  token_out[0] = '\0';
  *expires_ms = 0;
  if (mes__body_given(body)) {
    json_t *doc = NULL;
    int rc = mes__body_object(body, visitor_token_fields, 1, &doc, err);
    const char *u = rc ? NULL : json_string_value(json_object_get(doc, "use"));
    /* A visitor has no dashboard: nothing is held about them to look at
     * that their browser does not already have. */
    if (u && strcmp(u, "browser") != 0)
      rc = mes_err_set(err, MES_EINVALID_VALUE, "/use",
                       "An anonymous visitor's token is for the browser: use is browser.");
    json_decref(doc);
    if (rc)
      return rc;
  }
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_ns(&k, MES_NS_ANON, anonymous_id, id_len, true, &s, err);
  if (ttl_s <= 0)
    ttl_s = k.req.policy->rights.token_minutes * 60;
  mes__call_end(&k);
  if (rc)
    return rc;
  return mes_engine_subject_token(e, s.row.id, MES_TOKEN_BROWSER, ttl_s, token_out, expires_ms, err);
}

static const struct mes_jfield link_fields[] = {
    {"anonymous_id", MES_J_ID, true, 0, 0},
};

int mes_engine_visitor_link(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            const struct mes_body *body, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  json_t *doc = NULL;
  int rc = mes__body_object(body, link_fields, sizeof link_fields / sizeof link_fields[0], &doc, err);
  if (rc)
    return rc;
  const json_t *anon = json_object_get(doc, "anonymous_id");
  struct mes__call k;
  struct mes_subject to, visitor;
  mes__call_begin(&k, e, call);
  rc = mes__call_subject_gate(&k, subject, subject_len, &to, err);
  if (!rc)
    rc = mes__call_subject_gate_ns(&k, MES_NS_ANON, json_string_value(anon), json_string_length(anon), &visitor, err);
  struct mes_ingest_linked linked;
  memset(&linked, 0, sizeof linked);
  if (!rc && visitor.row.id > 0) {
    /* Before: nothing of the visitor still queued may reach the store.
     * After: nothing held in memory (keys, tokens, answers) answers for them. */
    mes_engine_forget_subject(e, &visitor);
    rc = mes_ingest_link(e->ingester, &k.req, &visitor, &to, &linked, err);
    mes_engine_forget_subject(e, &visitor);
  }
  mes__call_end(&k);
  json_decref(doc);
  if (rc)
    return rc;
  *out = json_pack("{s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}}", "moved",
                   (json_int_t)linked.moved, "already_held", (json_int_t)linked.already_held, "dropped",
                   (json_int_t)linked.dropped, "removed", "events", (json_int_t)linked.removed.events, "consents",
                   (json_int_t)linked.removed.consents, "tokens", (json_int_t)linked.removed.tokens, "preferences",
                   (json_int_t)linked.removed.preferences);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}
