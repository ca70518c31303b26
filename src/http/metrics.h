/*
 * http/metrics — the counters and histograms that GET /metrics shows in the
 * Prometheus text format (version 0.0.4).
 *
 * Handlers count things with one call:
 *
 *   mes_http_metric_add(req, "mesura_events_total", "outcome", "stored", n);
 *
 * which shows as `mesura_events_total{outcome="stored"} N` (a counter: it only
 * goes up). Keep label values to a small fixed set (outcomes, codes, route
 * patterns), never ids or user text: every distinct value is a series held
 * until the process ends.
 *
 * The registry belongs to the server (no global state). Counting is lock-free
 * (a series is found in an insert-only hash table and bumped with an atomic
 * add); only the first sight of a new series takes a mutex.
 */
#ifndef MES_HTTP_METRICS_H
#define MES_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <mesura/mesura.h>

#include "base/buf.h"

struct mes_http_req;
struct mes_metrics;

/* Adds n to counter `name` with one label (label NULL: no label). Names must
 * match [a-zA-Z_:][a-zA-Z0-9_:]* (label names without ':'); an invalid name,
 * or a full table (1024 series), drops the count and bumps
 * mesura_metrics_dropped_total instead. Any thread. */
void mes_http_metric_add(struct mes_http_req *req, const char *name, const char *label, const char *value,
                         uint64_t n);

/* ------------------------------------------------- registry (server's side) */

/* A registry with one duration histogram per distinct pattern in
 * route_patterns[0..n) (borrowed; must outlive the registry) plus one for
 * requests that matched no route. *out is new. MES_ENOMEM. */
int mes_metrics_new(const char *const *route_patterns, size_t n, struct mes_metrics **out);
/* NULL-safe. */
void mes_metrics_free(struct mes_metrics *m);

/* Counter with a label string already formatted as Prometheus labels
 * (`a="x",b="y"`, escaped; "" for none). Any thread. */
void mes_metrics_add(struct mes_metrics *m, const char *name, const char *labels, uint64_t n);

/* Same as mes_http_metric_add, on a registry. Any thread. */
void mes_metrics_add1(struct mes_metrics *m, const char *name, const char *label, const char *value, uint64_t n);

/* Counts one finished request: mesura_http_requests_total{route,method,status}
 * and the duration histogram of route index `route` (as given to
 * mes_metrics_new; -1 or out of range: the unmatched bucket). Any thread. */
void mes_metrics_request(struct mes_metrics *m, int route, const char *method, int status, uint64_t duration_ns);

/* Appends the whole exposition to out. MES_ENOMEM / MES_EBODY_TOO_LARGE. */
int mes_metrics_render(struct mes_metrics *m, struct mes_buf *out);

/* Appends the history cache's figures (st->history_cache, from
 * mes_engine_stats):
 *   mesura_history_cache_reads_total{outcome="hit"|"miss"|"stale"} counter
 *   mesura_impression_cache_reads_total{outcome=...} counter
 *   mesura_history_cache_evictions_total counter
 *   mesura_history_cache_entries, mesura_history_cache_bytes,
 *   mesura_history_cache_max_bytes gauges
 * MES_ENOMEM / MES_EBODY_TOO_LARGE. Any thread. */
int mes_metrics_render_histcache(const struct mes_engine_stats *st, struct mes_buf *out);
/* Appends the subject map's counters (st->subject_map): ingestion's subject
 * look-ups answered from memory or read from the store. */
int mes_metrics_render_subjmap(const struct mes_engine_stats *st, struct mes_buf *out);
/* Appends the newest audit's lowest disparity ratio per attribute (ratios,
 * borrowed: {attribute: ratio}, from mes_engine_audit_ratios), so that
 * monitoring can alert when a ratio drifts under 0.8. */
int mes_metrics_render_audit(const json_t *ratios, struct mes_buf *out);

#endif
