/*
 * recommend — serving (contract §6): POST /v1/recommendations, the decision
 * records behind GET /v1/recommendations/{id}, and GET /v1/subjects/{s}/why.
 *
 * One request, in order (serve.c):
 *   1. the request shape (request.c, one field table per level);
 *   2. the consent decision and the facts (facts.c): the answer is
 *      personalized iff the subject is known, not restricted and grants
 *      every purpose the channel needs (mes_policy_channel_purposes), after
 *      Global Privacy Control. The subject's live history is held through
 *      mes_ingest_history_open for the whole request (an event ingested a
 *      second ago counts, no retraining; an active shopper's records are
 *      the history cache's own, after one indexed check against the store),
 *      the preferences through mes_consent_read_preferences (decoded once);
 *      why reads the history through mes_ingest_list, for the event ids it
 *      shows. Without consent only the
 *      suppression facts are read
 *      (purchases, dismissals, excluded categories): suppression holds on
 *      every path;
 *   3. candidates and scores (score.c): a sum of contributions, each from an
 *      identifiable history item through one of the model's relations, so
 *      that based_on names exactly the data that produced the score; only
 *      the best few hundred go on (mes__rec_prune), the rest wait in a
 *      reserve for the fill;
 *   4. the caller's filters, then the guardrails (mes_guard_run), the
 *      `count` best, reasons in the request's language (explain);
 *   5. the decision record and the impressions, queued for a background
 *      writer (record.c): a request never waits for a disk write.
 *
 * Ownership: the engine owns one struct mes_recommender, made with the
 * handles it serves from (the subject registry, the consent ledger, the
 * ingester and the catalog, borrowed). Every function takes it, the request
 * (struct mes_req, policy/policy.h) and, where it ranks, a model (borrowed
 * for the call; NULL before the first training: then the catalog's own
 * order fills, with reason `editorial`).
 * Thread-safe: any number of requests at once.
 */
#ifndef MES_RECOMMEND_H
#define MES_RECOMMEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "subject/subject.h"

#define MES_REC_COUNT_DEFAULT 10
#define MES_REC_COUNT_MAX 100
#define MES_REC_EXCLUDE_MAX 1000 /* entries of "exclude" */
#define MES_REC_CATEGORIES_MAX 64
#define MES_REC_ID_LEN 34        /* "r_" + 16 hex digits (the record) + 16 (a random tag) */

/* ---------------------------------------------------------------- request */

/* The body of POST /v1/recommendations (every member optional) and its
 * "context" object. */
extern const struct mes_jfield mes_recommend_fields[];
extern const size_t mes_recommend_n_fields;
extern const struct mes_jfield mes_recommend_context_fields[];
extern const size_t mes_recommend_n_context_fields;

/* A parsed request. Strings and arrays are borrowed from the body. */
struct mes_rec_request {
  const char *subject; /* NULL when absent */
  size_t subject_len;
  const char *anonymous_id; /* used only without subject */
  size_t anonymous_len;
  const char *placement; /* "default" when absent */
  enum mes_channel channel; /* web when absent */
  int count;                /* 1..MES_REC_COUNT_MAX, default 10 */
  const char *context_item; /* NULL when absent */
  size_t context_item_len;
  bool authenticated; /* default true */
  bool device_shared; /* default false */
  const json_t *categories; /* array of declared category names, or NULL */
  const json_t *exclude;    /* array of item ids, or NULL */
};

/* Checks `body` (borrowed) and fills req. Errors carry the contract's code
 * and the JSON pointer: unknown_field, wrong_type, out_of_range (count 0 or
 * 101), invalid_id, invalid_value (a channel this server does not know).
 * Categories need no declaring: undeclared ones are ordinary. Pure: no
 * store access. */
int mes_recommend_parse(const json_t *body, struct mes_rec_request *req, struct mes_err *err);

/* ---------------------------------------------------------------- recommender */

struct mes_recommender;

/* *out is new, with its background writer thread running over st. It
 * serves from subjects, ledger, ingester and catalog. All are borrowed and
 * must outlive the recommender. log (borrowed, may be NULL) hears about
 * records that could not be written. MES_ENOMEM, MES_EUNAVAILABLE when the
 * thread cannot start. */
int mes_recommender_new(struct mes_store *st, const struct mes_log *log, struct mes_subjects *subjects,
                        struct mes_ledger *ledger, struct mes_ingester *ingester, struct mes_catalog *catalog,
                        struct mes_recommender **out);
/* Writes what is queued, stops the thread, frees. NULL-safe. */
void mes_recommender_free(struct mes_recommender *r);
/* Returns once everything queued before the call is written (not synced). */
void mes_recommender_flush(struct mes_recommender *r);
/* Erasure: drops the queued records and impressions of sid and waits for a
 * batch being written, so that nothing of sid reaches the store afterwards
 * (call before deleting the subject's rows). */
void mes_recommender_forget(struct mes_recommender *r, int64_t sid);
/* Calls cb for each item shown to sid at or after since_ms and stored,
 * oldest answer first (item borrowed for the call; cb returns nonzero to
 * stop): the impressions the recommender wrote (shown.c), for the
 * person's export (mes_recommender_flush first to include those still
 * queued). Rows that cannot be opened are skipped and logged; a shredded
 * key reads as nothing shown. MES_OK, or a store or memory error in *err. */
typedef int (*mes_shown_cb)(void *ud, const char *item, int channel, int64_t ts_ms);
int mes_recommender_shown_list(struct mes_recommender *r, int64_t sid, int64_t since_ms, mes_shown_cb cb, void *ud,
                               struct mes_err *err);
/* The writer's backlog, for /metrics: entries waiting, the bytes they and
 * the batch being written hold (bounded: past 64 MiB or 100,000 entries,
 * records are dropped), and how many records were dropped so far. */
struct mes_recommender_stats {
  size_t queued;
  size_t bytes;
  size_t dropped;
};
void mes_recommender_stats(struct mes_recommender *r, struct mes_recommender_stats *out); /* r NULL-safe */

/* ---------------------------------------------------------------- access log */

/* What a read of a person's data was (contract §7), the codes an access log
 * entry shows. Stored as these numbers: append, never renumber. */
enum mes_access_action {
  MES_ACCESS_RECOMMEND = 1, /* a personal recommendation read the history */
  MES_ACCESS_EXPORT,
  MES_ACCESS_WHY,
  MES_ACCESS_RECORD,  /* a decision record about the person */
  MES_ACCESS_PROFILE, /* the profile summary */
  MES_ACCESS_AUDIT,
  MES_ACCESS_N
};
/* Logs that the request's actor (c->actor; "subject-token" is the person)
 * read sid's data for `action`: sealed under the subject's key, queued with
 * the decision records and chained onto the subject's log by the writer
 * thread (access.c). subject (may be NULL; borrowed) is the id the caller
 * named, kept sealed so that an operator holding the master key can tell the
 * person after an incident. Never fails the request: an entry that cannot
 * be made is logged (without personal data) and dropped. */
void mes_recommender_access_note(struct mes_recommender *r, const struct mes_req *c, int64_t sid, const char *subject,
                                 size_t subject_len, enum mes_access_action action);
/* sid's log as stored, oldest first, worded in lang: *out is new, a JSON
 * array of {at, reader, purpose, action, text}, with "altered": true on an
 * entry whose chain MAC does not match what is shown. *intact (may be NULL)
 * says whether the whole chain verifies against its head: false when an
 * entry was altered, removed or cut off the end. Entries still queued are
 * not in it: mes_recommender_flush first to include the reads noted so far. */
int mes_recommend_access_log(struct mes_recommender *r, int64_t sid, enum mes_lang lang, json_t **out, bool *intact,
                             struct mes_err *err);
/* The verdict of mes_recommend_access_verify: intact, or the first broken
 * entry (subject row id, 1-based position; `problem` a static English
 * sentence naming no one). */
struct mes_access_check {
  bool intact;
  int64_t subjects, entries; /* chains and entries checked */
  int64_t bad_sid, bad_seq;
  const char *problem;
};
/* Checks every subject's chain against its head: an altered, removed,
 * reordered or truncated entry, or an altered head, breaks it. Subjects
 * whose key was shredded (an erasure finishing) are skipped. */
int mes_recommend_access_verify(struct mes_recommender *r, struct mes_access_check *out, struct mes_err *err);
/* The retention sweep of the access log: deletes, in each subject's chain,
 * the oldest entries made before c->now_ms minus the policy's
 * rights.access_log_retention_days (a prefix of the chain: the first kept entry
 * keeps every later one), and moves the head's start past them under the
 * subject's key, so that verification still holds and still finds a kept
 * entry removed. A chain that does not verify is left whole (logged).
 * *n_deleted (may be NULL) gets the entries deleted. Slow: the background
 * thread's. */
int mes_recommend_access_sweep(struct mes_recommender *r, const struct mes_req *c, int64_t *n_deleted,
                               struct mes_err *err);
/* Calls cb for each subject whose data the key named `reader` read at or
 * after since_ms, by subject: pn_hex their pseudonym and, with reveal, id
 * their subject id as the caller gave it (unsealed with their key; NULL
 * when no entry kept it). */
typedef int (*mes_access_incident_cb)(void *ud, const char *pn_hex, const char *id, size_t id_len);
int mes_recommend_access_incident(struct mes_recommender *r, const char *reader, int64_t since_ms, bool reveal,
                                  mes_access_incident_cb cb, void *ud, struct mes_err *err);

/* What one request did, for /metrics. Rule names are static strings. */
#define MES_REC_RULES_MAX 16
struct mes_rec_outcome {
  bool personalized;
  size_t n_items;
  size_t n_rules;
  struct {
    const char *rule;
    unsigned n;
  } by_rule[MES_REC_RULES_MAX];
};

/*
 * POST /v1/recommendations. `body` is borrowed; `lang` picks the texts.
 * *out is new:
 *   {"request_id": "r_<32 hex>", "personalized": bool,
 *    "items": [{"item", "score" (0..1), "disclosure": "explicit"|"implicit",
 *               "reason": {"code", "text",
 *                          "based_on": [{"type", "item", "ts"} |
 *                                       {"type": "interest", "category"}]}}]}
 * based_on is empty for non-personal reasons and implicit disclosure.
 * oc (may be NULL) receives the outcome. The decision record is queued.
 */
int mes_recommend(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m, const json_t *body,
                  enum mes_lang lang, json_t **out, struct mes_rec_outcome *oc, struct mes_err *err);

/* The same, the reply handed out as the JSON text sent to the client (*text
 * new, NUL-terminated, *len bytes): serialized once, for the reply and the
 * decision record alike. */
int mes_recommend_text(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m,
                       const json_t *body, enum mes_lang lang, char **text, size_t *len, struct mes_rec_outcome *oc,
                       struct mes_err *err);

/* The answer mes_recommend would give now, leaving no trace: no decision
 * record, no impressions, nothing written (fairness audits replay what each
 * person would be served). The reply's request_id names no record. Call it
 * with a context whose gpc is false: a GPC request may record a refusal. */
int mes_recommend_dry(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m,
                      const json_t *body, enum mes_lang lang, json_t **out, struct mes_err *err);

/*
 * GET /v1/recommendations/{id}: the decision record, *out new:
 *   {"request_id", "ts", "placement", "channel", "personalized", "model"
 *    (store id of the model used, or null), "items": [as in the reply],
 *    "suppressed": [{"item", "rule", "detail"}]}
 * "suppressed" only when with_suppressed (admin and audit callers). Found
 * while still queued too. MES_ENOT_FOUND for an id never given out, swept,
 * or whose subject was erased (its key is gone).
 */
int mes_recommend_record(struct mes_recommender *r, const struct mes_req *c, const char *request_id, size_t len,
                         bool with_suppressed, json_t **out, struct mes_err *err);

/*
 * GET /v1/subjects/{s}/why?item=X: why X is (or would be) recommended to s
 * (resolved, borrowed; subject_id its brand id), on channel ch. *out new:
 *   {"subject", "item", "title" (or null), "in_catalog", "available",
 *    "personalized", "recommended": bool, "text": sentence,
 *    "reason": {"code", "text", "based_on": [...]} | null,
 *    "data_used": [{"type", "item", "ts", "event_id"} | {"type": "interest", "category"}],
 *    "data_used_text": sentence,
 *    "suppressed": {"rule", "detail", "text"} | null,
 *    "actions": [{"action": "dismiss" | "withdraw_consent" | "exclude_category"
 *                 | "delete_event" | "change_interests", "text", "method", "path",
 *                 ("purpose" | "category" | "event_id"), "body" (when the request
 *                 has one)}]: each the exact request, for the subject's own token}
 * Every sentence in lang. item (item_len bytes) is id-checked by the caller.
 */
int mes_recommend_why(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m,
                      const char *subject_id, size_t id_len, const struct mes_subject *s, const char *item,
                      size_t item_len, enum mes_channel ch, enum mes_lang lang, json_t **out, struct mes_err *err);

/* The retention sweep (engine background): decision records older than the
 * policy's decision_retention_days, impressions older than the frequency
 * cap's window. Counts (may be NULL) get what went. */
int mes_recommender_sweep(struct mes_recommender *r, const struct mes_req *c, int64_t *n_decisions,
                          int64_t *n_impressions, struct mes_err *err);

#endif
