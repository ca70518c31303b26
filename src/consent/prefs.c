/*
 * consent/prefs — what the person told us (zero-party data, contract §5):
 * interests, excluded categories and declared facts, kept as one document
 * sealed with the subject's key (kind "pref"). Categories are stored by name,
 * so that a reordered policy does not change their meaning; recommendations
 * resolve them against the policy snapshot of the request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "consent/consent.h"
#include "consent/consent_int.h"

const struct mes_jfield mes_consent_pref_fields[] = {
    {"interests", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"exclude_categories", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"declared", MES_J_OBJECT, false, 0, 0},
};
const size_t mes_consent_pref_n_fields = sizeof mes_consent_pref_fields / sizeof mes_consent_pref_fields[0];

/* Checks that every entry of body[name] is a declared category; *out is a new
 * array of them, duplicates dropped, first-seen order kept. */
static int categories(const struct mes_ctx *c, const json_t *body, const char *name, json_t **out,
                      struct mes_err *err) {
  *out = json_array();
  if (!*out)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  const json_t *list = json_object_get(body, name);
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    const char *cat = json_string_value(v);
    size_t len = json_string_length(v);
    if (mes_policy_category(c->policy, cat, len) < 0) {
      char base[64], ptr[96], idx[24];
      snprintf(base, sizeof base, "/%s", name);
      snprintf(idx, sizeof idx, "%zu", i);
      mes_json_ptr_join(ptr, sizeof ptr, base, idx);
      json_decref(*out);
      *out = NULL;
      return mes_err_set(err, MES_EUNKNOWN_CATEGORY, ptr, NULL);
    }
    bool seen = false;
    size_t k;
    json_t *w;
    json_array_foreach(*out, k, w) {
      if (json_equal(w, v)) {
        seen = true;
        break;
      }
    }
    if (!seen && json_array_append(*out, v)) {
      json_decref(*out);
      *out = NULL;
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    }
  }
  return MES_OK;
}

/* Checks "declared": at most MES_CONSENT_PREF_MAX_DECLARED keys, each an id,
 * each value true/false, a number or a short string. *out is a new copy. */
static int declared(const json_t *body, json_t **out, struct mes_err *err) {
  *out = NULL;
  const json_t *d = json_object_get(body, "declared");
  if (!d || json_is_null(d)) {
    *out = json_object();
    return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  if (json_object_size(d) > MES_CONSENT_PREF_MAX_DECLARED)
    return mes_err_set(err, MES_EOUT_OF_RANGE, "/declared", "Field declared holds at most %d entries.",
                       MES_CONSENT_PREF_MAX_DECLARED);
  const char *key;
  size_t key_len;
  json_t *v;
  json_object_keylen_foreach((json_t *)d, key, key_len, v) {
    char ptr[200];
    mes_json_ptr_join(ptr, sizeof ptr, "/declared", key);
    int rc = mes_id_check(key, key_len);
    if (rc)
      return mes_err_set(err, rc, ptr, "Each name in declared must be 1 to 128 bytes of UTF-8 without control "
                                       "characters.");
    if (json_is_string(v)) {
      size_t n = json_string_length(v);
      if (n > MES_CONSENT_PREF_MAX_TEXT || strlen(json_string_value(v)) != n)
        return mes_err_set(err, MES_EOUT_OF_RANGE, ptr,
                           "A declared text is at most %d bytes, without NUL characters.",
                           MES_CONSENT_PREF_MAX_TEXT);
    } else if (!json_is_boolean(v) && !json_is_number(v)) {
      return mes_err_set(err, MES_EWRONG_TYPE, ptr, "A declared value must be true or false, a number or a text.");
    }
  }
  *out = json_deep_copy(d);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

/* The stored document from a checked body: a new object. */
static int pref_doc(const struct mes_ctx *c, const json_t *body, json_t **out, struct mes_err *err) {
  json_t *interests = NULL, *excluded = NULL, *decl = NULL;
  *out = NULL;
  int rc = categories(c, body, "interests", &interests, err);
  if (!rc)
    rc = categories(c, body, "exclude_categories", &excluded, err);
  if (!rc)
    rc = declared(body, &decl, err);
  if (rc) {
    json_decref(interests);
    json_decref(excluded);
    return rc;
  }
  *out = json_pack("{s:o, s:o, s:o}", "interests", interests, "exclude_categories", excluded, "declared", decl);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

int mes_consent_set_preferences(const struct mes_ctx *c, const char *subject_id, size_t id_len, const json_t *body,
                                json_t **out, struct mes_err *err) {
  *out = NULL;
  int rc = mes__consent_check_subject(subject_id, id_len, err);
  if (rc)
    return rc;
  rc = mes_json_check(body, mes_consent_pref_fields, mes_consent_pref_n_fields, "", err);
  if (rc)
    return rc;
  json_t *doc = NULL;
  rc = pref_doc(c, body, &doc, err);
  if (rc)
    return rc;
  char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) {
    json_decref(doc);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }

  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  rc = mes_store_tx_begin(c->store);
  if (rc)
    goto error;
  struct mes_subject s;
  rc = mes_subject_resolve(c, MES_NS_SUBJECT, subject_id, id_len, true, &s);
  if (!rc)
    rc = mes_subject_seal(c, s.row.id, "pref", text, strlen(text), &sealed, &sealed_len);
  if (!rc)
    rc = mes_store_pref_put(c->store, s.row.id, sealed, sealed_len);
  if (rc) {
    mes_store_tx_rollback(c->store);
    goto error;
  }
  free(text);
  free(sealed);
  rc = mes__consent_commit(c->store, err);
  if (rc) {
    json_decref(doc);
    return rc;
  }
  *out = doc;
  return MES_OK;

error:
  free(text);
  free(sealed);
  json_decref(doc);
  return mes_err_set(err, rc, NULL, NULL);
}

int mes_consent_get_preferences(const struct mes_ctx *c, int64_t sid, json_t **out, struct mes_err *err) {
  *out = NULL;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  int rc = sid > 0 ? mes_store_pref_get(c->store, sid, &sealed, &sealed_len) : MES_ENOT_FOUND;
  if (rc == MES_ENOT_FOUND) {
    *out = json_pack("{s:[], s:[], s:{}}", "interests", "exclude_categories", "declared");
    return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  char *text = NULL;
  size_t len = 0;
  rc = mes_subject_unseal(c, sid, "pref", sealed, sealed_len, &text, &len);
  free(sealed);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  *out = json_loadb(text, len, 0, NULL);
  free(text);
  return *out ? MES_OK : mes_err_set(err, MES_EINTERNAL, NULL, NULL);
}
