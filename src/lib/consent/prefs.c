/*
 * consent/prefs — what the person told us (zero-party data, contract §5):
 * interests, excluded categories, items whose events must not drive their
 * recommendations (do_not_use_items) and declared facts, kept as one document
 * sealed with the subject's key (kind "pref"), read and written through its
 * one codec (prefrec.h) whatever the caller wants of it. Categories are stored by name
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
#include "consent/prefrec.h"

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

/* The preferences of a checked PUT body: *out new. The lists keep their
 * first-seen order, without repeats. */
static int pref_doc(const json_t *body, struct mes_prefs *out, struct mes_err *err) {
  mes_prefs_init(out);
  const json_t *d = json_object_get(body, "declared");
  int rc = MES_OK;
  if (json_is_object(d) && ((rc = declared_count(json_object_size(d), "/declared", err)) ||
                            (rc = check_declared(d, "/declared", err))))
    return rc;
  mes_prefs_release(out);
  if ((rc = mes_prefs_from_json(body, out)))
    return mes_err_set(err, rc, NULL, NULL);
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

/* Changes p (the stored preferences) by a checked patch. */
static int apply_patch(struct mes_prefs *p, const json_t *add, const json_t *remove, struct mes_err *err) {
  const char *full = NULL;
  int rc = mes_prefs_patch(p, add, remove, MES_CONSENT_PREF_MAX_IDS, &full);
  if (rc == MES_EOUT_OF_RANGE) {
    char ptr[64];
    snprintf(ptr, sizeof ptr, "/add/%s", full);
    return mes_err_set(err, MES_EOUT_OF_RANGE, ptr, "Field %s holds at most %d entries.", full,
                       MES_CONSENT_PREF_MAX_IDS);
  }
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return declared_count(p->n_declared, "/add/declared", err);
}

/* ---------------------------------------------------------------- store */

/* The stored preferences of subject sid (> 0): *out new. MES_ENOT_FOUND
 * when none were stored. */
static int read_doc(struct mes_ledger *lg, int64_t sid, struct mes_prefs *out) {
  mes_prefs_init(out);
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
  mes_prefs_release(out);
  rc = mes_prefs_decode(text, len, out);
  mes_wipe(text, len);
  free(text);
  return rc;
}

/* Seals p's document with sid's key and stores it, inside the caller's
 * transaction. */
static int write_doc(struct mes_ledger *lg, int64_t sid, const struct mes_prefs *p) {
  char *text = NULL;
  size_t len = 0;
  int rc = mes_prefs_encode(p, &text, &len);
  if (rc)
    return rc;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  rc = mes_subject_seal(lg->subjects, sid, "pref", text, len, &sealed, &sealed_len);
  mes_wipe(text, len);
  free(text);
  if (!rc)
    rc = mes_store_pref_put(lg->store, sid, sealed, sealed_len);
  free(sealed);
  return rc;
}

/*
 * Stores subject_id's preferences in one transaction: the subject is made
 * when unknown; with a patch (patching true), the stored preferences are read
 * and changed inside the same transaction, otherwise *p (taken over) is
 * stored as it is. On MES_OK *p holds the preferences stored, durable; on an
 * error it is released.
 */
static int store_prefs(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                       bool patching, const json_t *add, const json_t *remove, struct mes_prefs *p,
                       struct mes_err *err) {
  int rc = mes_store_tx_begin(lg->store);
  if (rc) {
    mes_err_set(err, rc, NULL, NULL);
    goto fail;
  }
  struct mes_subject s;
  rc = mes_subject_resolve(lg->subjects, c, MES_NS_SUBJECT, subject_id, id_len, true, &s);
  if (!rc && patching) {
    mes_prefs_release(p);
    rc = read_doc(lg, s.row.id, p);
    if (rc == MES_ENOT_FOUND) {
      mes_prefs_release(p);
      mes_prefs_init(p);
      rc = MES_OK;
    }
    if (!rc && (rc = apply_patch(p, add, remove, err)))
      goto rollback; /* err says which field */
  }
  if (!rc)
    rc = write_doc(lg, s.row.id, p);
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
  mes_prefs_release(p);
  return rc;
}

/* The reply of a PUT or PATCH: the preferences stored, as the API shows
 * them; p released. */
static int reply_of(struct mes_prefs *p, json_t **out, struct mes_err *err) {
  int rc = mes_prefs_json(p, out);
  mes_prefs_release(p);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
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
  struct mes_prefs p;
  rc = pref_doc(body, &p, err);
  if (!rc)
    rc = store_prefs(lg, c, subject_id, id_len, false, NULL, NULL, &p, err);
  if (rc) {
    mes_prefs_release(&p);
    return rc;
  }
  return reply_of(&p, out, err);
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
  struct mes_prefs p;
  mes_prefs_init(&p);
  rc = store_prefs(lg, c, subject_id, id_len, true, add, remove, &p, err);
  if (rc)
    return rc;
  return reply_of(&p, out, err);
}

int mes_consent_read_preferences(struct mes_ledger *lg, int64_t sid, struct mes_prefs *out, struct mes_err *err) {
  mes_prefs_init(out);
  int rc = sid > 0 ? read_doc(lg, sid, out) : MES_ENOT_FOUND;
  if (rc == MES_ENOT_FOUND) { /* none stored, or the key is gone: nothing held */
    mes_prefs_release(out);
    mes_prefs_init(out);
    return MES_OK;
  }
  if (rc) {
    mes_prefs_release(out);
    return mes_err_set(err, rc, NULL, NULL);
  }
  return MES_OK;
}

int mes_consent_get_preferences(struct mes_ledger *lg, int64_t sid, json_t **out, struct mes_err *err) {
  *out = NULL;
  struct mes_prefs p;
  int rc = mes_consent_read_preferences(lg, sid, &p, err);
  if (rc)
    return rc;
  return reply_of(&p, out, err);
}
