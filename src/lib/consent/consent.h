/*
 * consent — the consent ledger and the person's stated preferences
 * (contract §5).
 *
 * The ledger is append-only. Every recorded decision becomes a receipt
 *
 *   {"receipt_id", "subject", "purpose", "status", "ts", "policy_version",
 *    "source", "recorded_by"[, "over_gpc": true], "signature"}
 *
 * signed by the instance (Ed25519 over the RFC 8785 canonical JSON of the
 * receipt without "signature"), sealed with the subject's key and appended
 * through the store's consent_* ops. Only the purpose index, the status and
 * the time stay in the clear. The subject row's `granted` bitmask is the
 * current state that ingestion and serving read without unsealing anything;
 * it changes only together with a receipt, in the same transaction.
 *
 * Opt-in: a purpose is denied until a receipt grants it. Withdrawing a grant
 * purges, in the same transaction, the subject's events that no purpose still
 * granted needs.
 *
 * Global Privacy Control (Sec-GPC: 1, the request's gpc): such a request counts as a
 * denial of every purpose marked `gpc: honored`. Ingestion and serving apply
 * it with mes_consent_effective, and record with mes_consent_note_gpc the
 * first time it overrides an earlier grant. A grant given over GPC
 * ("confirm_over_gpc": true, the person confirmed on the brand's page) is an
 * explicit choice: later GPC requests do not withdraw it in the ledger, though
 * each of them is still not used for that purpose.
 *
 * Preferences (zero-party data) are one sealed document per subject:
 *   {"interests": [category...], "exclude_categories": [category...],
 *    "do_not_use_items": [item...], "declared": {name: bool|string|number}}
 * "do_not_use_items" (items whose events must not drive the person's
 * recommendations, read by recommend) is there only when not empty.
 *
 * The ledger is a handle, struct mes_ledger, made once (by the engine) over
 * the store, the master key that signs receipts and the subject registry
 * (all borrowed). The functions take it, and those that depend on the
 * request the request too (struct mes_req, policy/policy.h), whose policy
 * snapshot names the purposes. Errors fill err with the
 * contract's code, sentence and JSON pointer; on error nothing was written.
 * Thread-safe as the store is. Subject ids are id_len bytes, not necessarily
 * NUL-terminated, checked here by the id rule (base/id.h).
 */
#ifndef MES_CONSENT_H
#define MES_CONSENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/json.h"
#include "consent/prefrec.h"
#include "subject/subject.h"

struct mes_ledger;

/* *out is new: free with mes_ledger_free. st, master, subjects and log (may
 * be NULL) are borrowed and must outlive it. MES_ENOMEM. */
int mes_ledger_new(struct mes_store *st, const struct mes_master *master, struct mes_subjects *subjects,
                   const struct mes_log *log, struct mes_ledger **out);
void mes_ledger_free(struct mes_ledger *lg); /* NULL-safe */

#define MES_CONSENT_PREF_MAX_IDS 256     /* entries of each list: "interests", "exclude_categories", "do_not_use_items" */
#define MES_CONSENT_PREF_MAX_DECLARED 32 /* keys of "declared" */
#define MES_CONSENT_PREF_MAX_TEXT 256    /* bytes of one declared string value */

/* The request shapes, for the engine's verbs that parse a body against
 * them (the functions below check them again, so callers such as `mesura
 * import` need not). */
extern const struct mes_jfield mes_consent_fields[];
extern const size_t mes_consent_n_fields;
extern const struct mes_jfield mes_consent_pref_fields[];
extern const size_t mes_consent_pref_n_fields;

/*
 * PUT /v1/subjects/{s}/consents/{purpose}: records one decision.
 * `body` (borrowed) is {"status": "granted"|"denied" (required),
 * "source": id (default "api"), "policy_version": id (default the policy's
 * version), "confirm_over_gpc": bool}. The subject is created when unknown.
 * Durable before returning. *receipt is new (json_decref it): the signed
 * receipt. recorded_by is c->actor.
 * Errors: MES_EINVALID_ID (subject), MES_EUNKNOWN_PURPOSE, the body's field
 * errors, MES_EGPC_CONFLICT (a grant of a gpc-honored purpose in a GPC request
 * without confirm_over_gpc), store and crypto failures.
 */
int mes_consent_record(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                       const char *purpose, size_t purpose_len, const json_t *body, json_t **receipt,
                       struct mes_err *err);

/*
 * GET /v1/subjects/{s}/consents: *out is new:
 * {"purposes": {name: {"status": "granted"|"denied", "since": RFC 3339|null}},
 *  "history": [receipt, ... oldest first]} with every purpose of the policy.
 * An unknown subject is not an error: every purpose denied, empty history.
 */
int mes_consent_get(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                    json_t **out, struct mes_err *err);

/* The same two for an id of namespace ns: MES_NS_ANON records and reads an
 * anonymous visitor's own choices (a cookie or device id, contract §4
 * `anonymous_id`), whose receipts carry "anonymous": true beside "subject".
 * An anonymous visitor's events are stored only under such a grant, and
 * move to a subject at login only under the subject's own (ingest.h,
 * mes_ingest_link). */
int mes_consent_record_ns(struct mes_ledger *lg, const struct mes_req *c, enum mes_subject_ns ns, const char *subject_id,
                          size_t id_len, const char *purpose, size_t purpose_len, const json_t *body, json_t **receipt,
                          struct mes_err *err);
int mes_consent_get_ns(struct mes_ledger *lg, const struct mes_req *c, enum mes_subject_ns ns, const char *subject_id,
                       size_t id_len, json_t **out, struct mes_err *err);

/* --- receipts: what the instance signs (consent decisions, erasures) --- */

#define MES_RECEIPT_ID_CAP 32
/* A new receipt id, "rcp_" and 128 random bits. */
void mes_receipt_id(char out[MES_RECEIPT_ID_CAP]);
/* Adds "signature" to receipt r: standard base64 of the Ed25519 signature
 * (the instance's key, GET /v1/receipts/public-key) over the RFC 8785
 * canonical form of r as it is. MES_ENOMEM. */
int mes_receipt_sign(struct mes_ledger *lg, json_t *r);

/* --- Global Privacy Control on ingestion and serving --- */

/* Bitmask of the policy's purposes marked `gpc: honored`. */
uint32_t mes_consent_gpc_mask(const struct mes_policy *p);

/* The purposes this request may use: `granted` (a subject row's mask) minus
 * every gpc-honored purpose when c->gpc. Pure; no I/O. */
uint32_t mes_consent_effective(const struct mes_req *c, uint32_t granted);

/* True when this request's GPC signal meets a grant it overrides, i.e. when
 * the caller should call mes_consent_note_gpc. Pure; no I/O. */
bool mes_consent_gpc_overrides(const struct mes_req *c, uint32_t granted);

/*
 * Records that this GPC request overrides s's earlier grants of gpc-honored
 * purposes: for each one (except grants given over GPC), appends a receipt
 * {"status": "denied", "source": "gpc", "recorded_by": c->actor}, clears its
 * bit and purges like a withdrawal. Call it INSIDE the caller's transaction
 * (mes_store_tx_begin); the caller commits and waits for durability before
 * acknowledging. `s` (from mes_subject_resolve, row stored) is updated: its
 * row is re-read in the transaction (so that concurrent requests record the
 * override once) and s->row.granted holds the new mask on return.
 * `subject_id` is the brand's id of s, written in the receipts.
 * A no-op returning MES_OK when nothing is overridden.
 */
int mes_consent_note_gpc(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                         struct mes_subject *s, struct mes_err *err);

/* --- preferences (zero-party data) --- */

/*
 * PUT /v1/subjects/{s}/preferences: replaces the subject's preferences with
 * `body` (borrowed) {"interests": [category], "exclude_categories": [category],
 * "do_not_use_items": [item], "declared": {name: bool|string|number}} (each
 * optional; absent means empty). Categories follow the id rule and need not
 * be declared in the policy: an undeclared category is an ordinary one. Repeats are kept once.
 * "declared" holds at most MES_CONSENT_PREF_MAX_DECLARED keys, each an id.
 * The subject is created when unknown. Durable before returning. *out is
 * new: the stored document.
 */
int mes_consent_set_preferences(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                                const json_t *body, json_t **out, struct mes_err *err);

/*
 * PATCH /v1/subjects/{s}/preferences, the preferences' part: changes the
 * stored document in place, leaving what the patch does not name as it was.
 * `remove` (borrowed, may be NULL) {"interests": [category],
 * "exclude_categories": [category], "do_not_use_items": [item], "declared":
 * [name]} is applied first,
 * then `add` (borrowed, may be NULL), shaped as a PUT body, whose lists
 * gain the entries they lack and whose declared facts are set. Removing
 * what is absent and adding what is present change nothing. Errors point
 * under "/add" and "/remove"; a list past MES_CONSENT_PREF_MAX_IDS entries or
 * "declared" past MES_CONSENT_PREF_MAX_DECLARED is MES_EOUT_OF_RANGE. Read,
 * change and write happen in one transaction; the subject is created when
 * unknown. Durable before returning. *out is new: the stored document.
 */
int mes_consent_patch_preferences(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id,
                                  size_t id_len, const json_t *add, const json_t *remove, json_t **out,
                                  struct mes_err *err);

/* Checks `add` and `remove` as mes_consent_patch_preferences does, without
 * touching the store (for a caller that must refuse a bad patch before it
 * writes anything else). */
int mes_consent_check_pref_patch(const json_t *add, const json_t *remove, struct mes_err *err);

/* The stored preferences of subject sid (0: unknown subject), decoded once
 * (consent/prefrec.h) for whoever reads them: *out new (mes_prefs_release);
 * a subject without preferences, or whose key is gone, gets the empty
 * struct. MES_OK, or a store, crypto or memory error. */
int mes_consent_read_preferences(struct mes_ledger *lg, int64_t sid, struct mes_prefs *out, struct mes_err *err);

/* The same as the API and the export show them (mes_prefs_json): *out new;
 * a subject without preferences gets the empty document (empty lists and
 * object). */
int mes_consent_get_preferences(struct mes_ledger *lg, int64_t sid, json_t **out, struct mes_err *err);

#endif
