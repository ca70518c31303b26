/*
 * http/metrics — an insert-only table of counters and fixed per-route
 * histograms, rendered in the Prometheus text format for GET /metrics.
 *
 * Lock-free counting: a slot of the open-addressing table goes from NULL to a
 * series exactly once (under the insert mutex) and never back, so readers can
 * probe with acquire loads and bump values with relaxed atomic adds. The
 * table never shrinks; label values must come from small fixed sets.
 *
 * The table is this file's own rather than base/htab's: every request
 * thread reads it without a lock while another may insert, and a base/htab
 * table has one owner at a time (or a lock around every use).
 */
#include "http/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

#define SLOTS 1024u /* a power of two */
#define NAME_CAP 96
#define LABELS_CAP 320

struct series {
  uint64_t hash;
  _Atomic uint64_t value;
  char name[NAME_CAP];
  char labels[LABELS_CAP];
};

/* Upper bounds of the duration buckets, in seconds and in nanoseconds. */
static const char *const bucket_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                                        "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10"};
static const uint64_t bucket_ns[] = {500000,    1000000,   2500000,    5000000,    10000000,
                                     25000000,  50000000,  100000000,  250000000,  500000000,
                                     1000000000, 2500000000u, 5000000000u, 10000000000u};
#define N_BUCKETS (sizeof bucket_ns / sizeof bucket_ns[0])

struct hist {
  const char *route;                    /* borrowed pattern, or "unmatched" */
  _Atomic uint64_t count[N_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
  _Atomic uint64_t sum_ns;
};

struct mes_metrics {
  _Atomic(struct series *) slots[SLOTS];
  pthread_mutex_t insert_mu;
  _Atomic uint64_t dropped;
  struct hist *hists; /* n_hists; the last one is "unmatched" */
  size_t n_hists;
  size_t *route_hist; /* route index -> hists index */
  size_t n_routes;
};

/* The HELP text of each counter the server counts here: every name given to
 * mes_metrics_add needs a row, since a family without one is a fault to
 * promtool's lint (tests/e2e/test_metrics_promtool.py). */
static const struct {
  const char *name;
  const char *help;
} helps[] = {
    {"mesura_http_requests_total", "HTTP requests answered, by route pattern, method and status."},
    {"mesura_http_deadline_closed_total",
     "Connections closed without a reply for being too slow, by phase: head (serving.header_timeout_s), body"
     " (serving.body_timeout_s), next_head (60 s between a reply and the next request)."},
    {"mesura_events_total",
     "Events received, by outcome: stored; not stored for no_consent, third_party, restricted, expired or"
     " invalid; forgotten (deleted afterwards at the person's request)."},
    {"mesura_event_properties_dropped_total",
     "Event properties dropped on arrival because the policy does not list them for the event's type."},
    {"mesura_recommendations_total", "Recommendation requests answered, by whether they were personalized."},
    {"mesura_suppressions_total", "Candidates a guardrail kept out of recommendations, by rule."},
    {"mesura_metrics_dropped_total", "Counts dropped because of an invalid metric name or a full table."},
};

/* ------------------------------------------------------------------- names */

static bool valid_name(const char *s, bool colon_ok) {
  if (!s || !*s)
    return false;
  for (size_t i = 0; s[i]; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok || i + 1 >= NAME_CAP)
      return false;
  }
  return true;
}

/* Appends `value` escaped for a label (\\, \", \n) at out[*o]; false when it
 * does not fit. */
static bool put_escaped(char *out, size_t cap, size_t *o, const char *value) {
  for (const char *p = value; *p; p++) {
    const char *rep = NULL;
    if (*p == '\\')
      rep = "\\\\";
    else if (*p == '"')
      rep = "\\\"";
    else if (*p == '\n')
      rep = "\\n";
    size_t n = rep ? 2 : 1;
    if (*o + n >= cap)
      return false;
    if (rep) {
      memcpy(out + *o, rep, 2);
    } else {
      out[*o] = *p;
    }
    *o += n;
  }
  out[*o] = '\0';
  return true;
}

/* Appends `name="value"` (with a leading comma unless first). */
static bool put_label(char *out, size_t cap, size_t *o, const char *name, const char *value) {
  int n = snprintf(out + *o, cap - *o, "%s%s=\"", *o ? "," : "", name);
  if (n < 0 || (size_t)n >= cap - *o)
    return false;
  *o += (size_t)n;
  if (!put_escaped(out, cap, o, value) || *o + 1 >= cap)
    return false;
  out[(*o)++] = '"';
  out[*o] = '\0';
  return true;
}

/* ------------------------------------------------------------------ table */

/* Its own table rather than base/htab: every request thread bumps counters
 * here concurrently, and base/htab needs the caller's lock for any add
 * (it moves slots when it grows), which would put one mutex on every count.
 * This table never grows or moves a slot, so lookups need no lock at all. */

static uint64_t hash2(const char *a, const char *b) {
  uint64_t h = 1469598103934665603u; /* FNV-1a */
  for (const char *p = a; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  h = (h ^ 0xFFu) * 1099511628211u;
  for (const char *p = b; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  return h;
}

/* Finds or inserts the series (name, labels); NULL when the table is full or
 * out of memory. */
static struct series *series_get(struct mes_metrics *m, const char *name, const char *labels) {
  uint64_t h = hash2(name, labels);
  size_t i = (size_t)h & (SLOTS - 1);
  for (size_t probe = 0; probe < SLOTS; probe++, i = (i + 1) & (SLOTS - 1)) {
    struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
    if (!s) {
      pthread_mutex_lock(&m->insert_mu);
      s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
      if (!s) {
        s = calloc(1, sizeof *s);
        if (s) {
          s->hash = h;
          snprintf(s->name, sizeof s->name, "%s", name);
          snprintf(s->labels, sizeof s->labels, "%s", labels);
          atomic_store_explicit(&m->slots[i], s, memory_order_release);
        }
        pthread_mutex_unlock(&m->insert_mu);
        return s;
      }
      pthread_mutex_unlock(&m->insert_mu);
    }
    if (s->hash == h && strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
      return s;
  }
  return NULL;
}

static void drop(struct mes_metrics *m) { atomic_fetch_add_explicit(&m->dropped, 1, memory_order_relaxed); }

void mes_metrics_add(struct mes_metrics *m, const char *name, const char *labels, uint64_t n) {
  if (!m)
    return;
  if (!valid_name(name, true) || strlen(labels) >= LABELS_CAP) {
    drop(m);
    return;
  }
  struct series *s = series_get(m, name, labels);
  if (!s) {
    drop(m);
    return;
  }
  atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void mes_metrics_add1(struct mes_metrics *m, const char *name, const char *label, const char *value, uint64_t n) {
  if (!m)
    return;
  char labels[LABELS_CAP];
  size_t o = 0;
  labels[0] = '\0';
  if (label && (!valid_name(label, false) || !value || !put_label(labels, sizeof labels, &o, label, value))) {
    drop(m);
    return;
  }
  mes_metrics_add(m, name, labels, n);
}

void mes_metrics_request(struct mes_metrics *m, int route, const char *method, int status, uint64_t duration_ns) {
  if (!m)
    return;
  size_t h = m->n_hists - 1;
  if (route >= 0 && (size_t)route < m->n_routes)
    h = m->route_hist[route];
  struct hist *hi = &m->hists[h];

  char labels[LABELS_CAP], st[16];
  size_t o = 0;
  snprintf(st, sizeof st, "%d", status);
  if (put_label(labels, sizeof labels, &o, "route", hi->route) &&
      put_label(labels, sizeof labels, &o, "method", method) && put_label(labels, sizeof labels, &o, "status", st))
    mes_metrics_add(m, "mesura_http_requests_total", labels, 1);
  else
    drop(m);

  size_t b = 0;
  while (b < N_BUCKETS && duration_ns > bucket_ns[b])
    b++;
  atomic_fetch_add_explicit(&hi->count[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&hi->sum_ns, duration_ns, memory_order_relaxed);
}

/* -------------------------------------------------------------- lifecycle */

int mes_metrics_new(const char *const *route_patterns, size_t n, struct mes_metrics **out) {
  *out = NULL;
  struct mes_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return MES_ENOMEM;
  m->hists = calloc(n + 1, sizeof *m->hists);
  m->route_hist = calloc(n ? n : 1, sizeof *m->route_hist);
  if (!m->hists || !m->route_hist) {
    free(m->hists);
    free(m->route_hist);
    free(m);
    return MES_ENOMEM;
  }
  pthread_mutex_init(&m->insert_mu, NULL);
  /* One histogram per distinct pattern: GET and PUT of one path share it. */
  for (size_t r = 0; r < n; r++) {
    size_t h = 0;
    while (h < m->n_hists && strcmp(m->hists[h].route, route_patterns[r]) != 0)
      h++;
    if (h == m->n_hists)
      m->hists[m->n_hists++].route = route_patterns[r];
    m->route_hist[r] = h;
  }
  m->hists[m->n_hists++].route = "unmatched";
  m->n_routes = n;
  *out = m;
  return MES_OK;
}

void mes_metrics_free(struct mes_metrics *m) {
  if (!m)
    return;
  for (size_t i = 0; i < SLOTS; i++)
    free(atomic_load_explicit(&m->slots[i], memory_order_relaxed));
  pthread_mutex_destroy(&m->insert_mu);
  free(m->hists);
  free(m->route_hist);
  free(m);
}

/* -------------------------------------------------------------- rendering */

static int cmp_series(const void *a, const void *b) {
  const struct series *x = *(const struct series *const *)a, *y = *(const struct series *const *)b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->labels, y->labels);
}

static const char *help_of(const char *name) {
  for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
    if (strcmp(helps[i].name, name) == 0)
      return helps[i].help;
  return NULL;
}

static int render_histograms(struct mes_metrics *m, struct mes_buf *out) {
  static const char *hname = "mesura_http_request_duration_seconds";
  int rc = mes_buf_printf(out,
                          "# HELP %s Time from the request line to the reply sent, by route pattern.\n"
                          "# TYPE %s histogram\n",
                          hname, hname);
  for (size_t h = 0; !rc && h < m->n_hists; h++) {
    struct hist *hi = &m->hists[h];
    char route[LABELS_CAP];
    size_t o = 0;
    if (!put_escaped(route, sizeof route, &o, hi->route))
      continue;
    uint64_t cum = 0;
    for (size_t b = 0; !rc && b <= N_BUCKETS; b++) {
      cum += atomic_load_explicit(&hi->count[b], memory_order_relaxed);
      rc = mes_buf_printf(out, "%s_bucket{route=\"%s\",le=\"%s\"} %llu\n", hname, route,
                          b < N_BUCKETS ? bucket_le[b] : "+Inf", (unsigned long long)cum);
    }
    uint64_t sum_ns = atomic_load_explicit(&hi->sum_ns, memory_order_relaxed);
    if (!rc)
      rc = mes_buf_printf(out, "%s_sum{route=\"%s\"} %llu.%09llu\n%s_count{route=\"%s\"} %llu\n", hname, route,
                          (unsigned long long)(sum_ns / 1000000000u), (unsigned long long)(sum_ns % 1000000000u),
                          hname, route, (unsigned long long)cum);
  }
  return rc;
}

int mes_metrics_render(struct mes_metrics *m, struct mes_buf *out) {
  struct series **all = malloc(SLOTS * sizeof *all);
  if (!all)
    return MES_ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < SLOTS; i++) {
    struct series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
    if (s)
      all[n++] = s;
  }
  qsort(all, n, sizeof *all, cmp_series);

  int rc = MES_OK;
  for (size_t i = 0; !rc && i < n; i++) {
    const struct series *s = all[i];
    if (i == 0 || strcmp(all[i - 1]->name, s->name) != 0) {
      const char *help = help_of(s->name);
      if (help)
        rc = mes_buf_printf(out, "# HELP %s %s\n", s->name, help);
      if (!rc)
        rc = mes_buf_printf(out, "# TYPE %s counter\n", s->name);
    }
    if (!rc)
      rc = mes_buf_printf(out, "%s%s%s%s %llu\n", s->name, s->labels[0] ? "{" : "", s->labels,
                          s->labels[0] ? "}" : "",
                          (unsigned long long)atomic_load_explicit(&s->value, memory_order_relaxed));
  }
  free(all);
  if (!rc)
    rc = render_histograms(m, out);
  if (!rc)
    rc = mes_buf_printf(out, "# HELP mesura_metrics_dropped_total %s\n# TYPE mesura_metrics_dropped_total counter\n"
                             "mesura_metrics_dropped_total %llu\n",
                        help_of("mesura_metrics_dropped_total"),
                        (unsigned long long)atomic_load_explicit(&m->dropped, memory_order_relaxed));
  return rc;
}

int mes_metrics_render_histcache(const struct mes_engine_stats *es, struct mes_buf *out) {
  const struct mes_history_cache_stats st = es->history_cache;
  static const char *reads = "mesura_history_cache_reads_total";
  return mes_buf_printf(
      out,
      "# HELP %s Reads of a person's history through the cache: hit (answered from memory), miss (not cached),"
      " stale (cached but changed since, read again).\n"
      "# TYPE %s counter\n%s{outcome=\"hit\"} %llu\n%s{outcome=\"miss\"} %llu\n%s{outcome=\"stale\"} %llu\n"
      "# HELP mesura_impression_cache_reads_total Reads of what a person was shown (frequency cap) through the"
      " history cache: hit, miss, stale (changed since, read again), appended (stale, but only the answers written"
      " since were read).\n"
      "# TYPE mesura_impression_cache_reads_total counter\n"
      "mesura_impression_cache_reads_total{outcome=\"hit\"} %llu\n"
      "mesura_impression_cache_reads_total{outcome=\"miss\"} %llu\n"
      "mesura_impression_cache_reads_total{outcome=\"stale\"} %llu\n"
      "mesura_impression_cache_reads_total{outcome=\"appended\"} %llu\n"
      "# HELP mesura_history_cache_evictions_total Histories dropped from the cache to stay under its cap.\n"
      "# TYPE mesura_history_cache_evictions_total counter\nmesura_history_cache_evictions_total %llu\n"
      "# HELP mesura_history_cache_entries Entries held in the cache now (a person's history, or what they were"
      " shown).\n"
      "# TYPE mesura_history_cache_entries gauge\nmesura_history_cache_entries %llu\n"
      "# HELP mesura_history_cache_bytes Bytes the cache's entries hold now.\n"
      "# TYPE mesura_history_cache_bytes gauge\nmesura_history_cache_bytes %llu\n"
      "# HELP mesura_history_cache_max_bytes The cache's cap (serving.history_cache_mb; 0: off).\n"
      "# TYPE mesura_history_cache_max_bytes gauge\nmesura_history_cache_max_bytes %llu\n",
      reads, reads, reads, (unsigned long long)st.hits, reads, (unsigned long long)st.misses, reads,
      (unsigned long long)st.stale, (unsigned long long)st.shown_hits, (unsigned long long)st.shown_misses,
      (unsigned long long)st.shown_stale, (unsigned long long)st.shown_appended, (unsigned long long)st.evictions,
      (unsigned long long)st.entries, (unsigned long long)st.bytes, (unsigned long long)st.max_bytes);
}

int mes_metrics_render_subjmap(const struct mes_engine_stats *es, struct mes_buf *out) {
  const struct mes_subject_map_stats st = es->subject_map;
  static const char *reads = "mesura_subject_map_reads_total";
  return mes_buf_printf(
      out,
      "# HELP %s Ingestion's look-ups of a subject: hit (its row was in memory, checked again under the write"
      " lock), miss (read from the store).\n"
      "# TYPE %s counter\n%s{outcome=\"hit\"} %llu\n%s{outcome=\"miss\"} %llu\n"
      "# HELP mesura_subject_map_entries Subject rows held in memory now (at most %zu).\n"
      "# TYPE mesura_subject_map_entries gauge\nmesura_subject_map_entries %zu\n",
      reads, reads, reads, (unsigned long long)st.hits, reads, (unsigned long long)st.misses, st.max_entries,
      st.entries);
}

int mes_metrics_render_audit(const json_t *ratios, struct mes_buf *out) {
  int rc = mes_buf_puts(out, "# HELP mesura_audit_disparity_ratio The newest fairness audit's lowest disparity ratio "
                             "per attribute (lowest group's rate over the highest; under 0.8 is flagged).\n"
                             "# TYPE mesura_audit_disparity_ratio gauge\n");
  const char *attr;
  json_t *v;
  json_object_foreach((json_t *)ratios, attr, v) {
    rc = rc ? rc : mes_buf_puts(out, "mesura_audit_disparity_ratio{attribute=\"");
    for (const char *p = attr; !rc && *p; p++) /* the label escapes of the text format */
      rc = *p == '\\' || *p == '"' ? mes_buf_printf(out, "\\%c", *p) : mes_buf_append(out, p, 1);
    rc = rc ? rc : mes_buf_printf(out, "\"} %.4f\n", json_number_value(v));
  }
  return rc;
}
