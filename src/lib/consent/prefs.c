/*
 * consent/prefs — what the person told us (zero-party data, contract §5):
 * interests, excluded categories, items whose events must not drive their
 * recommendations (do_not_use_items) and declared facts, kept as one document
 * sealed with the subject's key (kind "pref"). Categories are stored by name
 * and need not be declared in the policy (mesura.yaml lists only the ones
 * that need special care; every other one is ordinary), so that a reordered
 * or extended policy does not change their meaning; recommendations resolve
 * them against the policy snapshot of the request.
 *
 * A PUT replaces the document; a PATCH changes it in place (add, remove),
 * reading and writing it in one transaction so that two changes at once both
 * hold.
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
    {"do_not_use_items", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"declared", MES_J_OBJECT, false, 0, 0},
};
const size_t mes_consent_pref_n_fields = sizeof mes_consent_pref_fields / sizeof mes_consent_pref_fields[0];

/* The two members of a PATCH body: what to add (the PUT shape) and what to
 * remove (the same lists, and the names of declared facts). */
static const struct mes_jfield patch_add_fields[] = {
    {"interests", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"exclude_categories", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"do_not_use_items", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"declared", MES_J_OBJECT, false, 0, 0},
};
static const struct mes_jfield patch_remove_fields[] = {
    {"interests", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"exclude_categories", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"do_not_use_items", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_IDS},
    {"declared", MES_J_IDS, false, 0, MES_CONSENT_PREF_MAX_DECLARED},
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The lists of the document, in the order PATCH applies them. */
static const char *const lists[] = {"interests", "exclude_categories", "do_not_use_items"};
/* The first N_CORE_LISTS are always in the document; the others only when
 * not empty, so that a document without one reads as that list empty. */
#define N_CORE_LISTS 2

/* ---------------------------------------------------------------- checks */

static bool has(const json_t *arr, const json_t *v) {
  size_t k;
  json_t *w;
  json_array_foreach(arr, k, w) {
    if (json_equal(w, v))
      return true;
  }
  return false;
}

/* Appends to arr (borrowed) every entry of list (borrowed, may be NULL) that
 * arr lacks, in list's order. */
static int append_missing(json_t *arr, const json_t *list) {
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (!has(arr, v) && json_array_append(arr, v))
      return MES_ENOMEM;
  }
  return MES_OK;
}

/* Checks the entries of a "declared" object (borrowed; at pointer ptr): each
 * name an id, each value true/false, a number or a short string. */
static int check_declared(const json_t *d, const char *ptr, struct mes_err *err) {
  const char *key;
  size_t key_len;
  json_t *v;
  json_object_keylen_foreach((json_t *)d, key, key_len, v) {
    char p[200];
    mes_json_ptr_join(p, sizeof p, ptr, key);
    int rc = mes_id_check(key, key_len);
    if (rc)
      return mes_err_set(err, rc, p, "Each name in declared must be 1 to 128 bytes of UTF-8 without control "
                                     "characters.");
    if (json_is_string(v)) {
      size_t n = json_string_length(v);
      if (n > MES_CONSENT_PREF_MAX_TEXT || strlen(json_string_value(v)) != n)
        return mes_err_set(err, MES_EOUT_OF_RANGE, p, "A declared text is at most %d bytes, without NUL characters.",
                           MES_CONSENT_PREF_MAX_TEXT);
    } else if (!json_is_boolean(v) && !json_is_number(v)) {
      return mes_err_set(err, MES_EWRONG_TYPE, p, "A declared value must be true or false, a number or a text.");
    }
  }
  return MES_OK;
}

static int declared_count(size_t n, const char *ptr, struct mes_err *err) {
  if (n > MES_CONSENT_PREF_MAX_DECLARED)
    return mes_err_set(err, MES_EOUT_OF_RANGE, ptr, "Field declared holds at most %d entries.",
                       MES_CONSENT_PREF_MAX_DECLARED);
  return MES_OK;
}

/* The stored document from a checked PUT body: a new object. The lists keep
 * their first-seen order, without repeats. */
static int pref_doc(const json_t *body, json_t **out, struct mes_err *err) {
  *out = NULL;
  const json_t *d = json_object_get(body, "declared");
  int rc = MES_OK;
  if (json_is_object(d) && ((rc = declared_count(json_object_size(d), "/declared", err)) ||
                            (rc = check_declared(d, "/declared", err))))
    return rc;
  json_t *doc = json_pack("{s:[], s:[], s:o}", "interests", "exclude_categories", "declared",
                          json_is_object(d) ? json_deep_copy(d) : json_object());
  for (size_t i = 0; doc && i < N_OF(lists); i++) {
    const json_t *given = json_object_get(body, lists[i]);
    if (i >= N_CORE_LISTS && !json_array_size(given))
      continue;
    json_t *arr = json_object_get(doc, lists[i]);
    if ((!arr && json_object_set_new(doc, lists[i], arr = json_array())) || !arr || append_missing(arr, given)) {
      json_decref(doc);
      doc = NULL;
    }
  }
  if (!doc)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  *out = doc;
  return MES_OK;
}

/* ---------------------------------------------------------------- PATCH */

int mes_consent_check_pref_patch(const json_t *add, const json_t *remove, struct mes_err *err) {
  int rc = MES_OK;
  if (add && !json_is_null(add)) {
    const json_t *d = json_object_get(add, "declared");
    if ((rc = mes_json_check(add, patch_add_fields, N_OF(patch_add_fields), "/add", err)) ||
        (json_is_object(d) && ((rc = declared_count(json_object_size(d), "/add/declared", err)) ||
                               (rc = check_declared(d, "/add/declared", err)))))
      return rc;
  }
  if (remove && !json_is_null(remove))
    rc = mes_json_check(remove, patch_remove_fields, N_OF(patch_remove_fields), "/remove", err);
  return rc;
}

/* Changes doc (a stored document, borrowed) by a checked patch: removals
 * first, then additions, so that a value in both ends up present. */
static int apply_patch(json_t *doc, const json_t *add, const json_t *remove, struct mes_err *err) {
  for (size_t i = 0; i < N_OF(lists); i++) {
    json_t *arr = json_object_get(doc, lists[i]);
    if (!json_is_array(arr)) {
      if (json_object_set_new(doc, lists[i], arr = json_array()) || !arr)
        return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    }
    const json_t *gone = json_object_get(remove, lists[i]);
    for (size_t k = json_array_size(arr); gone && k-- > 0;)
      if (has(gone, json_array_get(arr, k)))
        json_array_remove(arr, k);
    if (append_missing(arr, json_object_get(add, lists[i])))
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    if (json_array_size(arr) > MES_CONSENT_PREF_MAX_IDS) {
      char ptr[64];
      snprintf(ptr, sizeof ptr, "/add/%s", lists[i]);
      return mes_err_set(err, MES_EOUT_OF_RANGE, ptr, "Field %s holds at most %d entries.", lists[i],
                         MES_CONSENT_PREF_MAX_IDS);
    }
    if (i >= N_CORE_LISTS && json_array_size(arr) == 0)
      json_object_del(doc, lists[i]);
  }
  json_t *decl = json_object_get(doc, "declared");
  if (!json_is_object(decl)) {
    if (json_object_set_new(doc, "declared", decl = json_object()) || !decl)
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(remove, "declared"), i, v)
    json_object_del(decl, json_string_value(v));
  const json_t *more = json_object_get(add, "declared");
  if (json_is_object(more) && json_object_update(decl, (json_t *)more))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  return declared_count(json_object_size(decl), "/add/declared", err);
}

/* ---------------------------------------------------------------- store */

/* The stored document of subject sid (> 0): *out new. MES_ENOT_FOUND when
 * none was stored. */
static int read_doc(struct mes_ledger *lg, int64_t sid, json_t **out) {
  *out = NULL;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  int rc = mes_store_pref_get(lg->store, sid, &sealed, &sealed_len);
  if (rc)
    return rc;
  char *text = NULL;
  size_t len = 0;
  rc = mes_subject_unseal(lg->subjects, sid, "pref", sealed, sealed_len, &text, &len);
  free(sealed);
  if (rc)
    return rc;
  json_t *doc = json_loadb(text, len, 0, NULL);
  free(text);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return doc ? MES_EINTERNAL : MES_ENOMEM; /* it opened, so it is what we wrote: only memory fails to load it */
  }
  *out = doc;
  return MES_OK;
}

static json_t *empty_doc(void) {
  return json_pack("{s:[], s:[], s:{}}", "interests", "exclude_categories", "declared");
}

/* Seals doc (borrowed) with sid's key and stores it, inside the caller's
 * transaction. */
static int write_doc(struct mes_ledger *lg, int64_t sid, const json_t *doc) {
  char *text = mes_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text)
    return MES_ENOMEM;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  int rc = mes_subject_seal(lg->subjects, sid, "pref", text, strlen(text), &sealed, &sealed_len);
  free(text);
  if (!rc)
    rc = mes_store_pref_put(lg->store, sid, sealed, sealed_len);
  free(sealed);
  return rc;
}

/*
 * Stores subject_id's preferences in one transaction: the subject is made
 * when unknown; with a patch (patching true), the stored document is read
 * and changed inside the same transaction, otherwise *doc (taken over) is
 * stored as it is. On MES_OK *doc is the document stored, durable.
 */
static int store_prefs(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                       bool patching, const json_t *add, const json_t *remove, json_t **doc, struct mes_err *err) {
  int rc = mes_store_tx_begin(lg->store);
  if (rc) {
    mes_err_set(err, rc, NULL, NULL);
    goto fail;
  }
  struct mes_subject s;
  rc = mes_subject_resolve(lg->subjects, c, MES_NS_SUBJECT, subject_id, id_len, true, &s);
  if (!rc && patching) {
    rc = read_doc(lg, s.row.id, doc);
    if (rc == MES_ENOT_FOUND)
      rc = (*doc = empty_doc()) ? MES_OK : MES_ENOMEM;
    if (!rc && (rc = apply_patch(*doc, add, remove, err)))
      goto rollback; /* err says which field */
  }
  if (!rc)
    rc = write_doc(lg, s.row.id, *doc);
  if (rc) {
    mes_err_set(err, rc, NULL, NULL);
    goto rollback;
  }
  rc = mes__consent_commit(lg->store, err);
  if (rc)
    goto fail;
  return MES_OK;

rollback:
  mes_store_tx_rollback(lg->store);
fail:
  json_decref(*doc);
  *doc = NULL;
  return rc;
}

int mes_consent_set_preferences(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                                const json_t *body, json_t **out, struct mes_err *err) {
  *out = NULL;
  int rc = mes__consent_check_subject(subject_id, id_len, err);
  if (rc)
    return rc;
  rc = mes_json_check(body, mes_consent_pref_fields, mes_consent_pref_n_fields, "", err);
  if (rc)
    return rc;
  json_t *doc = NULL;
  rc = pref_doc(body, &doc, err);
  if (!rc)
    rc = store_prefs(lg, c, subject_id, id_len, false, NULL, NULL, &doc, err);
  *out = doc;
  return rc;
}

int mes_consent_patch_preferences(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id,
                                  size_t id_len, const json_t *add, const json_t *remove, json_t **out,
                                  struct mes_err *err) {
  *out = NULL;
  int rc = mes__consent_check_subject(subject_id, id_len, err);
  if (rc)
    return rc;
  rc = mes_consent_check_pref_patch(add, remove, err);
  if (rc)
    return rc;
  json_t *doc = NULL;
  rc = store_prefs(lg, c, subject_id, id_len, true, add, remove, &doc, err);
  *out = doc;
  return rc;
}

int mes_consent_get_preferences(struct mes_ledger *lg, int64_t sid, json_t **out, struct mes_err *err) {
  int rc = sid > 0 ? read_doc(lg, sid, out) : MES_ENOT_FOUND;
  if (rc == MES_ENOT_FOUND) {
    *out = empty_doc();
    return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
