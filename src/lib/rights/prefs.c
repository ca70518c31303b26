/*
 * rights/prefs — PATCH /v1/subjects/{s}/preferences: what a person says
 * about their suggestions, one change at a time, leaving everything else as
 * it was. The body
 *
 *   {"add": {"interests": [...], "exclude_categories": [...], "declared": {...}},
 *    "remove": {"interests": [...], "exclude_categories": [...], "declared": [name...]},
 *    "dismiss": [item...]}
 *
 * changes the stored preferences (the consent module's PATCH) and dismisses
 * items. A dismissal is a `dismiss` event like one the brand sends to
 * POST /v1/events, through the same consent gate, so that it is obeyed by
 * the same rule (guard's own_word), shows in the export and is taken back
 * the same way (DELETE /v1/subjects/{s}/events/{event_id}). It lives here,
 * above consent and ingest, because it writes through both.
 *
 * Order: everything is checked first; then the dismissals are stored (one
 * transaction; when the gate keeps them out, the request is refused and
 * nothing was written); then the preferences (one transaction). Only a store
 * failure between the two can leave the dismissals without the preference
 * change, and retrying the request then does no harm: a second dismissal of
 * an item changes nothing that is served.
 */
#include "rights/rights.h"

#include <string.h>

#include "base/id.h"
#include "base/json.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "rights/rights_int.h"

const struct mes_jfield mes_rights_pref_patch_fields[] = {
    {"add", MES_J_OBJECT, false, 0, 0},
    {"remove", MES_J_OBJECT, false, 0, 0},
    {"dismiss", MES_J_IDS, false, 0, MES_RIGHTS_DISMISS_MAX},
};
const size_t mes_rights_pref_patch_n_fields =
    sizeof mes_rights_pref_patch_fields / sizeof mes_rights_pref_patch_fields[0];

static const char DISMISS[] = "dismiss";

static const json_t *member(const json_t *body, const char *name) {
  const json_t *v = json_object_get(body, name);
  return json_is_null(v) ? NULL : v;
}

/* Stores one `dismiss` event of the subject per item (borrowed array of
 * checked ids), in one transaction. MES_ECONFLICT or MES_ERESTRICTED when the
 * consent gate keeps them out: then nothing was stored. */
static int dismiss_items(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                         const json_t *items, struct mes_err *err) {
  if (mes_policy_event_type(c->policy, DISMISS, sizeof DISMISS - 1) < 0)
    return mes_err_set(err, MES_EUNKNOWN_EVENT_TYPE, "/dismiss",
                       "The policy declares no dismiss event type (mesura.yaml, event_types), so a dismissal "
                       "cannot be recorded.");
  json_t *events = json_array();
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    /* zero_party: the person told us, on their own page */
    json_t *ev = json_pack("{s:s%, s:s, s:O, s:s}", "subject", subject_id, id_len, "type", DISMISS, "item", item,
                           "source", "zero_party");
    if (!events || !ev || json_array_append_new(events, ev)) {
      json_decref(events);
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    }
  }
  json_t *body = json_pack("{s:o}", "events", events), *reply = NULL;
  if (!body)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_ingest_batch(rt->ingester, c, body, &reply, err);
  json_decref(body);
  if (rc)
    return rc;
  int64_t stored = mes_json_int(reply, "stored", -1);
  int64_t restricted = mes_json_int(json_object_get(reply, "not_stored"), "restricted", 0);
  size_t n_errors = json_array_size(json_object_get(reply, "errors"));
  json_decref(reply);
  if (n_errors) /* the events are made here from checked ids: a bug, not the client's */
    return mes_err_set(err, MES_EINTERNAL, "/dismiss", NULL);
  if (stored == (int64_t)json_array_size(items))
    return MES_OK;
  if (restricted)
    return mes_err_set(err, MES_ERESTRICTED, "/dismiss",
                       "Processing of this person's data is restricted, so a dismissal cannot be recorded; "
                       "nothing was changed.");
  return mes_err_set(err, MES_ECONFLICT, "/dismiss",
                     "A dismissal is recorded only for a person who allows a purpose that dismissals serve "
                     "(mesura.yaml, event_types.dismiss); nothing was changed.");
}

int mes_rights_patch_preferences(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                                 const json_t *body, json_t **out, struct mes_err *err) {
  *out = NULL;
  int rc = mes_json_check(body, mes_rights_pref_patch_fields, mes_rights_pref_patch_n_fields, "", err);
  if (rc)
    return rc;
  if ((rc = mes_id_check(subject_id, id_len)) != MES_OK)
    return mes_err_set(err, rc, NULL, "A subject id must be 1 to 128 bytes of UTF-8 without control characters.");
  const json_t *add = member(body, "add"), *remove = member(body, "remove"), *dismiss = member(body, "dismiss");
  if ((rc = mes_consent_check_pref_patch(add, remove, err)))
    return rc;
  if (json_array_size(dismiss) && (rc = dismiss_items(rt, c, subject_id, id_len, dismiss, err)))
    return rc;
  if (add || remove)
    return mes_consent_patch_preferences(rt->ledger, c, subject_id, id_len, add, remove, out, err);
  /* Nothing to change in the preferences: the reply shows them as they are. */
  struct mes_subject s;
  rc = mes_subject_resolve(rt->subjects, c, MES_NS_SUBJECT, subject_id, id_len, false, &s);
  if (rc && rc != MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, NULL);
  return mes_consent_get_preferences(rt->ledger, rc ? 0 : s.row.id, out, err);
}
