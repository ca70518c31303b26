/*
 * audit/vault — the attribute vault: one document per person,
 * {"subject": brand id, "attributes": {name: value}}, sealed with their key
 * under the kind "audit". The brand id travels inside the seal because an
 * audit replays the person's recommendations, which are asked for by id;
 * pseudonyms cannot be turned back into ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "base/id.h"

#define SEAL_KIND "audit"

const char *const mes_audit_default_protected[] = {"age_band", "gender", "ethnicity", "religion", "nationality",
                                                   NULL};

bool mes_audit_is_protected(const struct mes_policy *p, const char *name) {
  if (p && p->audit.n_protected) {
    for (size_t i = 0; i < p->audit.n_protected; i++)
      if (strcmp(p->audit.protected_attrs[i], name) == 0)
        return true;
    return false;
  }
  for (size_t i = 0; mes_audit_default_protected[i]; i++)
    if (strcmp(mes_audit_default_protected[i], name) == 0)
      return true;
  return false;
}

int mes_audit_may_record(struct mes_audit *a, const struct mes_req *c, const struct mes_subject *s, struct mes_err *err) {
  int p = mes_policy_purpose(c->policy, MES_AUDIT_PURPOSE, strlen(MES_AUDIT_PURPOSE));
  if (p < 0)
    return mes_err_set(err, MES_EAUDIT_NOT_ENABLED, NULL, NULL);
  if (s->row.id <= 0 || !(s->row.granted & (1u << p)))
    return mes_err_set(err, MES_ENO_CONSENT, NULL,
                       "This person has not granted the purpose audit: their attributes cannot be recorded.");
  return MES_OK;
}

/* A name or value: 1 to max bytes, no control characters (the id rule,
 * which also refuses what is not UTF-8). */
static bool text_ok(const char *s, size_t len, size_t max) { return len <= max && mes_id_check(s, len) == MES_OK; }

static int check_body(const json_t *body, struct mes_err *err) {
  if (!json_is_object(body))
    return mes_err_set(err, MES_EWRONG_TYPE, "", "The attributes must be a JSON object of names and values.");
  if (json_object_size(body) > MES_AUDIT_ATTRS_MAX)
    return mes_err_set(err, MES_EOUT_OF_RANGE, "", "A person may have at most %d attributes.", MES_AUDIT_ATTRS_MAX);
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)body, name, v) {
    char ptr[80];
    snprintf(ptr, sizeof ptr, "/%.*s", MES_AUDIT_ATTR_NAME_MAX, name);
    if (!text_ok(name, strlen(name), MES_AUDIT_ATTR_NAME_MAX))
      return mes_err_set(err, MES_EOUT_OF_RANGE, "",
                         "An attribute's name must be 1 to 64 bytes of text without control characters.");
    if (!json_is_string(v))
      return mes_err_set(err, MES_EWRONG_TYPE, ptr, "An attribute's value must be a string.");
    if (!text_ok(json_string_value(v), json_string_length(v), MES_AUDIT_ATTR_VALUE_MAX))
      return mes_err_set(err, MES_EOUT_OF_RANGE, ptr,
                         "An attribute's value must be 1 to 128 bytes of text without control characters.");
  }
  return MES_OK;
}

/* The reply of PUT and GET: the attributes and which of them are protected. */
static json_t *view(const struct mes_req *c, json_t *attrs) {
  json_t *prot = json_array();
  json_t *out = prot ? json_pack("{s:O, s:o}", "attributes", attrs, "protected", prot) : NULL;
  if (!out)
    return NULL;
  const char *name;
  json_t *v;
  json_object_foreach(attrs, name, v) {
    if (mes_audit_is_protected(c->policy, name) && json_array_append_new(prot, json_string(name))) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}

int mes_audit_attrs_put(struct mes_audit *a, const struct mes_req *c, const struct mes_subject *s, const char *subject_id, size_t id_len,
                        const json_t *body, json_t **out, struct mes_err *err) {
  *out = NULL;
  int rc = check_body(body, err);
  if (rc || (rc = mes_audit_may_record(a, c, s, err)))
    return rc;
  json_t *doc = json_pack("{s:s%, s:O}", "subject", subject_id, id_len, "attributes", (json_t *)body);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  if (!text)
    rc = MES_ENOMEM;
  else if (!(rc = mes_subject_seal(a->subjects, s->row.id, SEAL_KIND, text, strlen(text), &sealed, &sealed_len)))
    rc = mes_store_attr_put(a->store, s->row.id, sealed, sealed_len);
  if (text) {
    mes_wipe(text, strlen(text));
    free(text);
  }
  free(sealed);
  if (!rc && !(*out = view(c, json_object_get(doc, "attributes"))))
    rc = MES_ENOMEM;
  json_decref(doc);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

int mes__audit_vault_read(struct mes_audit *a, int64_t sid, const uint8_t *sealed, size_t len, json_t **doc) {
  *doc = NULL;
  char *text = NULL;
  size_t text_len = 0;
  int rc = mes_subject_unseal(a->subjects, sid, SEAL_KIND, sealed, len, &text, &text_len);
  if (rc)
    return rc;
  *doc = json_loadb(text, text_len, 0, NULL);
  mes_wipe(text, text_len);
  free(text);
  if (!*doc) /* it opened with the person's key and this kind, so it is what was sealed: only memory fails */
    return MES_ENOMEM;
  if (!json_is_object(json_object_get(*doc, "attributes")) ||
      !json_is_string(json_object_get(*doc, "subject"))) {
    json_decref(*doc);
    *doc = NULL;
    return MES_ECRYPTO; /* it opened with the key, yet is not what this module seals */
  }
  return MES_OK;
}

int mes_audit_attrs_get(struct mes_audit *a, const struct mes_req *c, int64_t sid, json_t **out, struct mes_err *err) {
  *out = NULL;
  if (sid <= 0)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No attributes are recorded for this person.");
  uint8_t *sealed = NULL;
  size_t len = 0;
  int rc = mes_store_attr_get(a->store, sid, &sealed, &len);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No attributes are recorded for this person.");
  json_t *doc = NULL;
  if (!rc)
    rc = mes__audit_vault_read(a, sid, sealed, len, &doc);
  free(sealed);
  if (!rc && !(*out = view(c, json_object_get(doc, "attributes"))))
    rc = MES_ENOMEM;
  json_decref(doc);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

int mes_audit_attrs_delete(struct mes_audit *a, const struct mes_req *c, int64_t sid, struct mes_err *err) {
  int rc = sid > 0 ? mes_store_attr_delete(a->store, sid) : MES_ENOT_FOUND;
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No attributes are recorded for this person.");
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
