/*
 * engine/api_consent — the consent and preference verbs of mesura.h
 * (contract §5) over the consent module (and, for PATCH preferences, which
 * can also dismiss items, the rights module).
 */
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "engine/engine_int.h"
#include "rights/rights.h"

int mes_engine_consent_put(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                           const char *purpose, size_t purpose_len, const struct mes_body *body, json_t **receipt,
                           struct mes_err *err) {
  MES__CLEAR(receipt);
  struct mes__call k;
  struct mes_subject s;
  json_t *doc = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate(&k, subject, subject_len, &s, err);
  if (!rc)
    rc = mes__body_object(body, mes_consent_fields, mes_consent_n_fields, &doc, err);
  if (!rc)
    rc = mes_consent_record(e->ledger, &k.req, subject, subject_len, purpose, purpose_len, doc, receipt, err);
  json_decref(doc);
  mes__call_end(&k);
  return rc;
}

int mes_engine_consents_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate(&k, subject, subject_len, &s, err);
  if (!rc)
    rc = mes_consent_get(e->ledger, &k.req, subject, subject_len, out, err);
  mes__call_end(&k);
  return rc;
}

int mes_engine_receipt_key(struct mes_engine *e, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  uint8_t pk[MES_SIGN_PK_BYTES];
  char b64[64];
  mes_engine_sign_public_key(e, pk);
  if (!mes_base64(pk, sizeof pk, b64, sizeof b64))
    return mes_err_set(err, MES_EINTERNAL, NULL, NULL);
  *out = json_pack("{s:s,s:s}", "alg", "Ed25519", "public_key", b64);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

int mes_engine_prefs_put(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                         const struct mes_body *body, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  json_t *doc = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate(&k, subject, subject_len, &s, err);
  if (!rc)
    rc = mes__body_object(body, mes_consent_pref_fields, mes_consent_pref_n_fields, &doc, err);
  if (!rc)
    rc = mes_consent_set_preferences(e->ledger, &k.req, subject, subject_len, doc, out, err);
  json_decref(doc);
  mes__call_end(&k);
  return rc;
}

int mes_engine_prefs_patch(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                           const struct mes_body *body, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  json_t *doc = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate(&k, subject, subject_len, &s, err);
  if (!rc)
    rc = mes__body_object(body, mes_rights_pref_patch_fields, mes_rights_pref_patch_n_fields, &doc, err);
  if (!rc)
    rc = mes_rights_patch_preferences(e->rights, &k.req, subject, subject_len, doc, out, err);
  json_decref(doc);
  mes__call_end(&k);
  return rc;
}

int mes_engine_prefs_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                         json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject_gate(&k, subject, subject_len, &s, err);
  if (!rc)
    rc = mes_consent_get_preferences(e->ledger, s.row.id, out, err);
  mes__call_end(&k);
  return rc;
}
