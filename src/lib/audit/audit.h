/*
 * audit — fairness audits (contract §8): the attribute vault, audit runs and
 * their readable report.
 *
 * The vault keeps, for each person who agreed to take part in audits (a
 * policy purpose named `audit`), the attributes an auditor records: the
 * protected ones of the policy's `audit.protected` (age band, gender, ...)
 * and any other (postal code, device, ...), each a candidate proxy. One
 * JSON document per person, sealed with their own key ("audit" bound as the
 * kind), so that erasure shreds it with the rest of their data.
 *
 * Nothing that serves, explains or filters recommendations may read the
 * vault: this module depends on recommend, never the other way, and
 * scripts/check-layers.sh refuses an include of audit/ from recommend,
 * guard, explain or model. An audit reads the vault, replays through the
 * real recommender what each person would be served now (a dry run: no
 * decision record, no impressions), and reports in aggregates over groups
 * of at least `audit.min_group_size` people.
 *
 * The engine makes one handle, struct mes_audit, over the store and the
 * domain handles it reads through (borrowed); every function takes it and
 * the request (borrowed) and is thread-safe. The handle owns the thread
 * that runs large audits in the background (mes_audit_submit);
 * mes_audit_free stops it, and an audit it interrupts is stored as failed.
 */
#ifndef MES_AUDIT_H
#define MES_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "catalog/catalog.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "recommend/recommend.h"
#include "subject/subject.h"

#define MES_AUDIT_ATTR_NAME_MAX 64   /* bytes of an attribute's name */
#define MES_AUDIT_ATTR_VALUE_MAX 128 /* bytes of its value */
#define MES_AUDIT_ATTRS_MAX 64       /* attributes of one person */
#define MES_AUDIT_PURPOSE "audit"    /* the purpose a person grants to take part */

struct mes_audit;

/* *out is new (free with mes_audit_free); every handle is borrowed and must
 * outlive it, as must the recommenders and the release functions of the
 * jobs it is given. MES_ENOMEM. */
int mes_audit_new(struct mes_store *st, struct mes_subjects *subjects, struct mes_catalog *catalog,
                  struct mes_ingester *ingester, struct mes_audit **out);
/* NULL-safe. Stops the worker: the audit it runs stops between two people,
 * and it and every queued one are stored as failed ("interrupted"). */
void mes_audit_free(struct mes_audit *a);

/* The protected attributes when the policy lists none (NULL-terminated). */
extern const char *const mes_audit_default_protected[];
/* Whether attribute `name` is protected under policy p. */
bool mes_audit_is_protected(const struct mes_policy *p, const char *name);

/* ---------------------------------------------------------------- vault */

/* Whether s (resolved; row.id 0 when unknown) may have attributes recorded:
 * MES_EAUDIT_NOT_ENABLED when the policy declares no purpose `audit`,
 * MES_ENO_CONSENT when s has not granted it (or is unknown). */
int mes_audit_may_record(struct mes_audit *a, const struct mes_req *c, const struct mes_subject *s, struct mes_err *err);

/* PUT /v1/audit/subjects/{s}/attributes: replaces s's attributes with the
 * body (borrowed): an object of at most MES_AUDIT_ATTRS_MAX members, names
 * of 1 to 64 bytes, values strings of 1 to 128 bytes, neither with control
 * characters. subject_id (the brand's id, id_len bytes) is kept with them,
 * sealed, so that an audit can replay what the person is served. Checks
 * mes_audit_may_record first. *out is new: as mes_audit_attrs_get. Errors:
 * the body's (wrong_type, out_of_range with the member's JSON pointer),
 * no_consent, audit_not_enabled, the store's. */
int mes_audit_attrs_put(struct mes_audit *a, const struct mes_req *c, const struct mes_subject *s, const char *subject_id, size_t id_len,
                        const json_t *body, json_t **out, struct mes_err *err);
/* GET: *out is new, {"attributes": {...}, "protected": [names among them
 * that the policy protects]}. MES_ENOT_FOUND when none are recorded. */
int mes_audit_attrs_get(struct mes_audit *a, const struct mes_req *c, int64_t sid, json_t **out, struct mes_err *err);
/* DELETE. MES_ENOT_FOUND when none are recorded. */
int mes_audit_attrs_delete(struct mes_audit *a, const struct mes_req *c, int64_t sid, struct mes_err *err);

/* ---------------------------------------------------------------- runs */

/* Thresholds, stated in every audit's JSON and report. */
#define MES_AUDIT_RATIO_FLAG 0.8   /* the four-fifths rule: lowest group's rate over the highest */
#define MES_AUDIT_PROXY_FLAG 0.5   /* Cramér's V at or above it: a strong association */
#define MES_AUDIT_BOOTSTRAP 200    /* resamples for the confidence intervals (default) */
#define MES_AUDIT_LEAN_FLAG 0.1    /* what a group is served is this much more popular than its history */

/* The body of POST /v1/audits. */
extern const struct mes_jfield mes_audit_run_fields[];
extern const size_t mes_audit_n_run_fields;

/*
 * An audit in two steps, so that a large one can run off the request's
 * thread. mes_audit_prepare checks the request (body checked against
 * mes_audit_run_fields by the caller, borrowed): {"attributes": [names],
 * "placement", "channel", "count", "resamples", "seed", "source",
 * "window_days"}, and reads who is
 * audited: every person with attributes recorded who grants `audit` and is
 * not restricted. Errors, with nothing stored: audit_not_enabled,
 * invalid_value (an attribute nobody audited has, a placement the policy's
 * audit.placements lacks, a placement or channel the recommender refuses,
 * a source other than replay or served: field set), the store's. With
 * "source": "served" the figures come from the decision records of the
 * last "window_days" days instead of a replay.
 *
 * On success *out is new and takes over *c (copied: its policy reference)
 * and the reference to m (may be NULL); `release` (may be NULL) gets them
 * back, with ud, when the job is freed, on whatever thread frees it. r is
 * borrowed and must outlive the job. On failure the caller keeps both.
 */
struct mes_audit_job;
typedef void (*mes_audit_release_fn)(void *ud, struct mes_req *c, const struct mes_model *m);
int mes_audit_prepare(struct mes_audit *a, const struct mes_req *c, struct mes_recommender *r, const struct mes_model *m,
                      const json_t *body, mes_audit_release_fn release, void *ud, struct mes_audit_job **out,
                      struct mes_err *err);
/* How many people the job audits. */
size_t mes_audit_job_people(const struct mes_audit_job *j);
/* Computes the audit on the calling thread: replays m through r for every
 * audited person and computes the disparities and proxies described at the
 * top of run.c. *out is new, the audit without its id (the caller stores
 * it). Errors: groups_too_small (every group of every attribute under the
 * minimum), unavailable (the handle is closing), the store's. */
int mes_audit_job_finish(struct mes_audit_job *j, json_t **out, struct mes_err *err);
void mes_audit_job_free(struct mes_audit_job *j); /* NULL-safe; calls release */

/* Hands j (taken over, even on failure) to the handle's worker thread: the
 * audit is stored at once as {"status": "running", ...} and *out (new) is
 * that record with its "id". The worker replaces it with the finished audit,
 * or with {"status": "failed", "error": {"code", "message"}}. At most
 * MES_AUDIT_QUEUE_MAX wait or run at a time: MES_ECONFLICT beyond. */
#define MES_AUDIT_QUEUE_MAX 4
int mes_audit_submit(struct mes_audit *a, struct mes_audit_job *j, int64_t now_ms, json_t **out, struct mes_err *err);

/* Marks the audits a stopped process left "running" as failed (error code
 * "interrupted"); *n gets how many. Call it when this process becomes the
 * one that runs audits (the server's start), never from a process that
 * opens the data beside a running server. */
int mes_audit_recover(struct mes_audit *a, int64_t *n, struct mes_err *err);

/* Stores a finished audit (borrowed): sets its "id" ("1", "2", ...) in it
 * and keeps it in the history. */
int mes_audit_save(struct mes_audit *a, const struct mes_req *c, json_t *audit, struct mes_err *err);
/* A stored audit by id (id_len bytes). *out new. MES_ENOT_FOUND. */
int mes_audit_load(struct mes_audit *a, const struct mes_req *c, const char *id, size_t id_len, json_t **out, struct mes_err *err);
/* The newest stored audit, *out new; MES_ENOT_FOUND when none. */
int mes_audit_latest(struct mes_audit *a, const struct mes_req *c, json_t **out, struct mes_err *err);

/* ---------------------------------------------------------------- statistics
 * Pure functions, exposed for their unit tests. */

/* Cramér's V of an r x k contingency table of counts (row-major), without
 * bias correction: sqrt(chi2 / (n * (min(r, k) - 1))) over the rows and
 * columns that are not empty. 0 when fewer than two rows or columns are;
 * NAN when out of memory. */
double mes_audit_cramers_v(const int64_t *table, size_t rows, size_t cols);

/* The mean of x[0..n) and its bootstrap percentile interval at 95%:
 * `resamples` resamples with replacement drawn from a generator seeded
 * with `seed` (same inputs, same interval). resamples 0: lo = hi = mean.
 * MES_ENOMEM (lo = hi = mean) when out of memory. */
int mes_audit_bootstrap(const double *x, size_t n, int resamples, uint64_t seed, double *mean, double *lo,
                        double *hi);

/* The disparity ratio's own 95% bootstrap interval: each of `groups` groups
 * (x[g][0..n[g]), every n[g] >= 1) resampled with replacement, the ratio of
 * the lowest group mean to the highest taken each time, seeded. *lo and *hi
 * are the ratio itself when resamples is 0 or there is one group, and
 * when out of memory (MES_ENOMEM). */
int mes_audit_bootstrap_ratio(const double *const *x, const size_t *n, size_t groups, int resamples, uint64_t seed,
                              double *lo, double *hi);

/* The Gini coefficient of x[0..n) (non-negative) and n_zero more zeros:
 * 0 when everything gets the same, towards 1 when one gets all. 0 when all
 * are zero; NAN when out of memory. */
double mes_audit_gini(const double *x, size_t n, size_t n_zero);

/* The p-quantile (0 < p <= 1) of sorted[0..n) by nearest rank: the smallest
 * value with at least p * n values at or below it. NAN when n is 0. */
double mes_audit_quantile(const double *sorted, size_t n, double p);

/* ---------------------------------------------------------------- report */

/* The audit (borrowed) as a self-contained HTML page in lang (inline SVG
 * charts, no external request): a summary first, each flag in plain words,
 * then the figures and the method. *html new (free), *len bytes. */
int mes_audit_report_html(const json_t *audit, enum mes_lang lang, char **html, size_t *len);

#endif
