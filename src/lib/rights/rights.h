/*
 * rights — what a data subject may ask for (contract §7): the profile
 * summary, the export of everything held about them (derived data included),
 * the restriction of processing, and a change to their preferences that can
 * also dismiss items (contract §5).
 *
 * The module sits above catalog, consent, ingest and recommend and calls each through
 * its face only: the export reads events with mes_ingest_list, the ledger
 * with mes_consent_get, preferences with mes_consent_get_preferences, item
 * categories with mes_catalog_item_categories, and what was shown to the
 * person from the recommender that wrote it (mes_recommender_shown_list).
 *
 * The module's handle, struct mes_rights, is made once (by the engine) over
 * the handles it reads and writes through (all borrowed); every function
 * takes it and the request (struct mes_req, policy/policy.h).
 * Thread-safe as the store is.
 */
#ifndef MES_RIGHTS_H
#define MES_RIGHTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/json.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "recommend/recommend.h"
#include "store/store.h"
#include "subject/subject.h"

struct mes_rights;

/* *out is new: free with mes_rights_free. Every handle is borrowed and must
 * outlive it. MES_ENOMEM. */
int mes_rights_new(struct mes_store *st, struct mes_subjects *subjects, struct mes_ledger *ledger,
                   struct mes_ingester *ingester, struct mes_catalog *catalog, struct mes_recommender *rec,
                   struct mes_rights **out);
void mes_rights_free(struct mes_rights *rt); /* NULL-safe */

/* ================================================================ subjects */

/*
 * GET /v1/subjects/{s}: *out is new:
 *   {"subject": ID, "first_seen": RFC 3339, "last_seen": RFC 3339 | null,
 *    "events": {"total": N, "by_type": {type: N}},
 *    "purposes_granted": [purpose...], "restricted": bool}
 * `s` is the resolved subject (row stored; borrowed), `subject_id` its
 * brand id (id_len bytes, echoed back). Counts read only the store's clear
 * columns: nothing is unsealed.
 */
int mes_rights_summary(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                       const struct mes_subject *s, json_t **out, struct mes_err *err);

/*
 * PUT /v1/subjects/{s}/restriction: sets (or lifts) the restriction of
 * processing of subject s (resolved, row stored; borrowed, its row updated).
 * While restricted, the data is kept and exportable, and nothing processes
 * it: no event is stored, answers are non-personal, training and audits
 * leave the person out. Durable before returning; *changed says whether the
 * flag was different before. Store errors.
 */
int mes_rights_restrict(struct mes_rights *rt, const struct mes_req *c, struct mes_subject *s, bool restricted,
                        bool *changed, struct mes_err *err);

/*
 * DELETE /v1/subjects/{s}: erases subject s (resolved, row stored;
 * borrowed) from this node: journals the erasure (so that no restored
 * backup brings the person back), destroys the subject's key (durably: every
 * sealed row of theirs, here and in every copy of the data file, becomes
 * unreadable), then deletes every row keyed by them (events, consents,
 * tokens, preferences, impressions, decision records, the subject row) in
 * one durable transaction, and drops the key cache's, the history cache's
 * and ingestion's copies. *removed gets the counts. The caller first stops
 * the recommender's queue for s (mes_recommender_forget). journaled (may be
 * NULL) is called once, on this thread, as soon as the journal record is
 * durable and before the key and rows go: what follows the journal (the live
 * model) may take the person out from then on, alongside the store's work;
 * it is not called when the journal cannot be written. Store errors (the key
 * may be gone already: the same call again finishes the work).
 */
struct mes_rights_erase_hook {
  void (*journaled)(void *ud);
  void *ud;
};
int mes_rights_erase(struct mes_rights *rt, const struct mes_req *c, const struct mes_subject *s,
                     const struct mes_rights_erase_hook *journaled, struct mes_store_erased *removed,
                     struct mes_err *err);
/* The signed receipt of an erasure (contract §7), new, NULL when out of
 * memory: {"receipt_id", "action": "erasure", "pseudonym" (the short keyed
 * pseudonym, no personal data), "ts", "recorded_by", "removed": {counts per
 * class, "key": true}, "model": `model` (borrowed: what became of the
 * person's contribution to the model), "signature"}, signed like consent
 * receipts (mes_receipt_sign). */
json_t *mes_rights_erasure_receipt(struct mes_rights *rt, const struct mes_req *c, const struct mes_subject *s,
                                   const struct mes_store_erased *removed, const json_t *model);

/*
 * GET /v1/subjects/{s}/export: everything held about s as one document,
 * *out new:
 *   {"subject": ID, "summary": (the summary above),
 *    "events": [event with its event_id...],
 *    "consents": {"purposes", "history"}, "preferences": {...},
 *    "impressions": [...], "decisions": [], "interests": {...},
 *    "protected_attributes": {}, "access_log": [],
 *    "exported_at": RFC 3339,
 *    "items": {ID: {"title": T or null}}}
 * "items" gives the title in `lang` of every item the rest names (events,
 * impressions, decisions and the events their reasons cite); null for an
 * item no longer in the catalog.
 * "protected_attributes" and "access_log" are placeholders here: the
 * engine fills them from the audit vault and the recommender's access log,
 * which sit above this module.
 * "interests" is derived data and says how it was derived:
 *   {"derived": true, "method": SENTENCE, "from_event_types": [...],
 *    "categories": [{"category", "label", "sensitive", "count",
 *                    "by_type": {type: N}}...] (most counted first)}
 * Category labels and the "method" sentence are in `lang`.
 * MES_ENOT_FOUND when s's key is gone (erased).
 */
int mes_rights_export(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                      const struct mes_subject *s, enum mes_lang lang, json_t **out, struct mes_err *err);

/* ================================================================ preferences */

#define MES_RIGHTS_DISMISS_MAX 100 /* items dismissed in one PATCH */

/* The body shape of PATCH /v1/subjects/{s}/preferences, for the engine's
 * verb that parses the body against it (mes_rights_patch_preferences checks
 * it again). */
extern const struct mes_jfield mes_rights_pref_patch_fields[];
extern const size_t mes_rights_pref_patch_n_fields;

/*
 * PATCH /v1/subjects/{s}/preferences: `body` (borrowed)
 *   {"add": {...}, "remove": {...}, "dismiss": [item...]} (each optional)
 * changes the subject's preferences as mes_consent_patch_preferences says
 * (what the patch does not name stays as it was) and stores one `dismiss`
 * event per item, through the consent gate of POST /v1/events. Everything
 * is checked before anything is written. A dismissal the gate keeps out
 * (no granted purpose that `dismiss` serves: MES_ECONFLICT; a restricted
 * subject: MES_ERESTRICTED) refuses the whole request, with nothing
 * written; a policy without a `dismiss` event type is
 * MES_EUNKNOWN_EVENT_TYPE at "/dismiss". The subject is created when "add"
 * or "remove" is given. Durable before returning; *out is new: the
 * preferences as stored (the empty document for an unknown subject).
 */
int mes_rights_patch_preferences(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                                 const json_t *body, json_t **out, struct mes_err *err);

#endif
