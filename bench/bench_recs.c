/*
 * bench_recs — what one recommendation costs in-process, and what the
 * guardrails add to it (bench/README.md, "Recommendations").
 *
 * DIR is a store built by bench_train (bench/bench_train.c: N_SUBJECTS
 * shoppers "shopper-K" who granted personalization, items "item-I" in
 * groups of CAT_SIZE, sealed events). Two steps:
 *
 *   bench_recs DIR --setup [N_ITEMS]
 *     gives the store what serving needs beyond events, once (a later run
 *     finds it done): categories in DIR/mesura.yaml (twenty ordinary
 *     departments beside the example's baby and health, sensitive,
 *     wedding-dress, lifecycle once, and camping) and a catalog of N_ITEMS
 *     items, item-I in department (I / CAT_SIZE + 4) mod 24, one in fifty
 *     unavailable. Then train: `mesura train --data DIR`.
 *
 *   bench_recs DIR [N_SUBJECTS [N_ITEMS]] [--requests N] [--block B] [--only KIND]
 *                  [--active N | --heaviest N] [--cache on|off|both]
 *     times mes_recommend-style calls (count 10, web) on the engine opened on
 *     DIR with its live model, in blocks of B requests that alternate between
 *     three kinds, each block over fresh random subjects (so no kind gets a
 *     subject whose pages the previous call warmed):
 *       rules     a subject with history, the guardrails on (what serving does);
 *       no_rules  the same kind of request, guardrails off (mes__rec_serve:
 *                 no mes_guard_run, no impressions read): the baseline;
 *       context   no subject, an item on screen: the non-personal path.
 *     --only runs one kind (for a profiler). Prints one JSON line: per kind
 *     mean / p50 / p99 µs and suppressions per rule, the ratio rules /
 *     no_rules, the rules requests' times by the length of the asker's
 *     history (by_history), the model's resident bytes, the peak RSS, the
 *     history cache's hits, misses and stale reads. The random subjects are the same from run
 *     to run (fixed seed); each run adds decision records and impressions to
 *     DIR, as serving does.
 *
 *     --active N draws every subject from N fixed random shoppers instead of
 *     all of them, so that a shopper asks several times, as in a browsing
 *     session (the case the history cache is for). --cache off reads every
 *     history without the cache (as serving.history_cache_mb: 0); --cache
 *     both adds a fourth kind, rules_uncached (rules without the cache), to
 *     the alternation, for a comparison within one run.
 *
 *     --log both adds rules_no_log: rules requests that note no access log
 *     entry (recommend/rec_int.h: access_off), in the same alternation, for
 *     what the access log costs a personal request within one run.
 *
 *     --heaviest N draws every subject from the N shoppers with the longest
 *     stored histories (found by reading every shopper's stamp first): the
 *     tail of random shoppers' latencies, on its own. With --cache off every
 *     request reads its history cold.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mtime.h"
#include "catalog/catalog.h"
#include "crypto/crypto.h"
#include "engine/engine.h"
#include "ingest/histcache.h"
#include "model/model.h"
#include "recommend/rec_int.h"
#include "store/store.h"
#include "subject/subject.h"
#include "bench_util.h"

#define CAT_SIZE 40 /* bench_train.c's items per group */
#define N_DEPTS 24
#define MARK "  dept-04:" /* the policy already has the bench's categories */



/* The first four are the example policy's own categories. */
static void dept_name(size_t d, char *out, size_t cap) {
  static const char *const known[] = {"baby", "health", "wedding-dress", "camping"};
  if (d < 4)
    snprintf(out, cap, "%s", known[d]);
  else
    snprintf(out, cap, "dept-%02zu", d);
}

/* ------------------------------------------------------------ setup */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0, got;
  do {
    if (n + 4096 > cap) {
      char *nb = realloc(buf, cap = cap * 2 + 8192);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
  } while (got > 0);
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

/* Adds dept-04..dept-23 under "categories:" in DIR/mesura.yaml. */
static int patch_policy(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/mesura.yaml", dir);
  size_t len;
  char *y = slurp(path, &len);
  if (!y) {
    fprintf(stderr, "bench_recs: cannot read %s\n", path);
    return -1;
  }
  if (strstr(y, MARK)) {
    free(y);
    return 0;
  }
  char *at = strstr(y, "\ncategories:\n");
  if (!at) {
    fprintf(stderr, "bench_recs: %s has no categories section\n", path);
    free(y);
    return -1;
  }
  at += strlen("\ncategories:\n");
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(y);
    return -1;
  }
  fwrite(y, 1, (size_t)(at - y), f);
  for (size_t d = 4; d < N_DEPTS; d++)
    fprintf(f, "  dept-%02zu:\n    label: {en: \"Department %zu\"}\n", d, d);
  fwrite(at, 1, len - (size_t)(at - y), f);
  int rc = fclose(f) ? -1 : 0;
  free(y);
  return rc;
}

static int setup(const char *dir, long n_items) {
  if (patch_policy(dir))
    return -1;
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = dir};
  struct mes_engine *e;
  if (mes_engine_open(&o, &e, &err)) {
    fprintf(stderr, "bench_recs: %s\n", mes_err_text(&err));
    return -1;
  }
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  json_t *page = NULL;
  int rc = mes_catalog_list(mes_engine_catalog(e), &c, 1, NULL, &page, &err);
  bool have = !rc && json_array_size(json_object_get(page, "items")) > 0;
  json_decref(page);
  uint64_t t0 = mes_mono_ns();
  size_t written = 0;
  for (long base = 0; !rc && !have && base < n_items; base += MES_CATALOG_BATCH_MAX) {
    json_t *items = json_array(), *errors = json_array();
    for (long i = base; items && i < n_items && i < base + MES_CATALOG_BATCH_MAX; i++) {
      char id[32], title[48], dept[16];
      snprintf(id, sizeof id, "item-%ld", i);
      snprintf(title, sizeof title, "Product %ld", i);
      dept_name((size_t)(i / CAT_SIZE + 4) % N_DEPTS, dept, sizeof dept);
      if (json_array_append_new(items, json_pack("{s:s, s:s, s:[s], s:b}", "id", id, "title", title, "categories",
                                                 dept, "available", i % 50 != 49)))
        rc = MES_ENOMEM;
    }
    size_t n = 0;
    if (!items || !errors)
      rc = MES_ENOMEM;
    if (!rc)
      rc = mes_catalog_upsert(mes_engine_catalog(e), &c, items, "/items", (size_t)base, errors, &n, &err);
    if (!rc && json_array_size(errors)) {
      char *dump = json_dumps(json_array_get(errors, 0), JSON_COMPACT);
      fprintf(stderr, "bench_recs: item refused: %s\n", dump ? dump : "?");
      free(dump);
      rc = MES_EINVALID_VALUE;
    }
    written += n;
    json_decref(items);
    json_decref(errors);
  }
  if (rc)
    fprintf(stderr, "bench_recs: catalog: %s\n", mes_err_text(&err));
  else
    printf("{\"setup\":{\"items_written\":%zu,\"seconds\":%.1f}}\n", written, (double)(mes_mono_ns() - t0) / 1e9);
  mes_engine_req_done(e, &c);
  mes_engine_close(e);
  return rc ? -1 : 0;
}

/* ------------------------------------------------------------ timing */

enum kind { K_RULES, K_NO_RULES, K_CONTEXT, K_RULES_UNCACHED, K_RULES_NO_LOG, K_N };
static const char *const kind_name[K_N] = {"rules", "no_rules", "context", "rules_uncached", "rules_no_log"};

/* Who asks: shopper-K for K uniform below n_subj, or drawn from pool[0..n_pool)
 * (--active). Without the cache (cached false), requests read every history
 * from the store. */
struct draw {
  long n_subj, n_items;
  const long *pool;
  long n_pool;
  bool cached;
  struct mes_ingester *uncached; /* the engine's ingester's twin without the history cache */
};

static long draw_subject(const struct draw *d) {
  return d->n_pool ? d->pool[bench_rnd() % (uint64_t)d->n_pool] : (long)(bench_rnd() % (uint64_t)d->n_subj);
}

struct series {
  uint64_t *ns;
  long *who; /* the K of the shopper-K who asked, by sample (-1: nobody) */
  size_t n, cap;
  size_t personalized, items, suppressed;
  struct {
    const char *rule; /* static, from the outcome */
    size_t n;
  } by_rule[MES_REC_RULES_MAX];
  size_t n_rules;
};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_us(struct series *s, double q) {
  size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
  return (double)s->ns[i] / 1e3;
}

static double mean_us(const struct series *s) {
  double t = 0;
  for (size_t i = 0; i < s->n; i++)
    t += (double)s->ns[i];
  return s->n ? t / (double)s->n / 1e3 : 0;
}

/* One request of kind k, timed from the request to the reply's last byte
 * (what the HTTP handler does minus the HTTP layer). */
static int one(struct mes_engine *e, enum kind k, const struct draw *d, struct series *out, bool keep) {
  char body_s[128];
  long who = -1;
  if (k == K_CONTEXT)
    snprintf(body_s, sizeof body_s, "{\"context\":{\"item\":\"item-%ld\"},\"count\":10}",
             (long)(bench_rnd() % (uint64_t)d->n_items));
  else
    snprintf(body_s, sizeof body_s, "{\"subject\":\"shopper-%ld\",\"count\":10}", who = draw_subject(d));
  uint64_t t0 = mes_mono_ns();
  json_t *body = json_loads(body_s, 0, NULL);
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  /* Without the cache: the recommender reads through the uncached twin for
   * this request (the bench alone, one request at a time; the recommender's
   * writer never reads histories). */
  struct mes_recommender *r = mes_engine_recommender(e);
  struct mes_ingester *ing = r->ingester;
  if (!d->cached || k == K_RULES_UNCACHED)
    r->ingester = d->uncached;
  r->access_off = k == K_RULES_NO_LOG;
  struct mes_model *m = mes_engine_model(e);
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_rec_outcome oc;
  char *text = NULL; /* the reply as the server sends it */
  size_t text_len = 0;
  int rc = body ? mes__rec_serve(r, &c, m, body, MES_LANG_EN, k != K_NO_RULES, NULL, &text, &text_len, &oc, &err)
                : MES_ENOMEM;
  r->ingester = ing;
  r->access_off = false;
  mes_model_unref(m);
  mes_engine_req_done(e, &c);
  uint64_t dt = mes_mono_ns() - t0;
  json_decref(body);
  free(text);
  if (rc) {
    fprintf(stderr, "bench_recs: %s: %s\n", body_s, mes_err_text(&err));
    return -1;
  }
  if (!keep)
    return 0;
  if (out->n == out->cap) {
    size_t cap = out->cap ? out->cap * 2 : 4096;
    uint64_t *nn = realloc(out->ns, cap * sizeof *nn);
    if (nn)
      out->ns = nn;
    long *nw = nn ? realloc(out->who, cap * sizeof *nw) : NULL;
    if (!nw)
      return -1;
    out->who = nw;
    out->cap = cap;
  }
  out->who[out->n] = who;
  out->ns[out->n++] = dt;
  out->personalized += oc.personalized;
  out->items += oc.n_items;
  for (size_t i = 0; i < oc.n_rules; i++) {
    out->suppressed += oc.by_rule[i].n;
    size_t j = 0;
    while (j < out->n_rules && strcmp(out->by_rule[j].rule, oc.by_rule[i].rule) != 0)
      j++;
    if (j == out->n_rules && j < MES_REC_RULES_MAX)
      out->by_rule[out->n_rules++].rule = oc.by_rule[i].rule;
    if (j < out->n_rules)
      out->by_rule[j].n += oc.by_rule[i].n;
  }
  return 0;
}

/* The rules requests' time by the length of the asker's history (events
 * stored): the requests sorted by it and cut at its 50th, 90th and 99th
 * percentiles, "by_history":[{"share":"0-50%","events":"MIN-MAX",
 * "mean_us":..,"p99_us":..}, ...]. The longest histories (the last 1 %) are
 * what the p99 of random shoppers is made of (bench/README.md). */
struct by_len {
  int64_t events;
  uint64_t ns;
};

static int cmp_len(const void *a, const void *b) {
  const struct by_len *x = a, *y = b;
  return x->events != y->events ? (x->events < y->events ? -1 : 1) : (x->ns > y->ns) - (x->ns < y->ns);
}

/* Pairs each sample of s with its asker's history length; call before s's
 * times are sorted. *out is new (NULL when there is nothing to pair). */
static size_t history_lengths(struct mes_engine *e, const struct series *s, struct by_len **out) {
  struct by_len *v = *out = s->n ? malloc(s->n * sizeof *v) : NULL;
  if (!v)
    return 0;
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++) {
    char id[32];
    int len = snprintf(id, sizeof id, "shopper-%ld", s->who[i]);
    struct mes_subject subj;
    int64_t max_id = 0, events = 0;
    if (s->who[i] < 0 ||
        mes_subject_resolve(mes_engine_subjects(e), &c, MES_NS_SUBJECT, id, (size_t)len, false, &subj) ||
        mes_store_event_stamp(mes_engine_store(e), subj.row.id, &max_id, &events))
      continue;
    v[n++] = (struct by_len){events, s->ns[i]};
  }
  mes_engine_req_done(e, &c);
  return n;
}

static void print_by_history(struct by_len *v, size_t n) {
  uint64_t *ns = n ? malloc(n * sizeof *ns) : NULL;
  if (!ns)
    return;
  qsort(v, n, sizeof *v, cmp_len);
  static const double cut[] = {0, 0.5, 0.9, 0.99, 1};
  static const char *const share[] = {"0-50%", "50-90%", "90-99%", "99-100%"};
  printf(",\"by_history\":[");
  for (size_t q = 0; q < 4 && n >= 100; q++) {
    size_t from = (size_t)(cut[q] * (double)n), to = (size_t)(cut[q + 1] * (double)n);
    double sum = 0;
    for (size_t i = from; i < to; i++)
      sum += (double)(ns[i - from] = v[i].ns);
    qsort(ns, to - from, sizeof *ns, cmp_u64);
    printf("%s{\"share\":\"%s\",\"events\":\"%lld-%lld\",\"mean_us\":%.1f,\"p99_us\":%.1f}", q ? "," : "",
           share[q], (long long)v[from].events,
           (long long)v[to - 1].events, sum / (double)(to - from) / 1e3,
           (double)ns[(size_t)(0.99 * (double)(to - from - 1) + 0.5)] / 1e3);
  }
  printf("]");
  free(ns);
}

struct heavy {
  long who;
  int64_t events;
};

static int by_events_desc(const void *a, const void *b) {
  const struct heavy *x = a, *y = b;
  return x->events < y->events ? 1 : x->events > y->events ? -1 : (x->who > y->who) - (x->who < y->who);
}

/* The n shoppers of the n_subj with the most stored events, into pool[0..n). */
static int heaviest(struct mes_engine *e, long n_subj, long n, long *pool) {
  struct heavy *all = malloc((size_t)n_subj * sizeof *all);
  if (!all)
    return -1;
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  long found = 0;
  for (long k = 0; k < n_subj; k++) {
    char id[32];
    int len = snprintf(id, sizeof id, "shopper-%ld", k);
    struct mes_subject subj;
    int64_t max_id = 0, events = 0;
    if (mes_subject_resolve(mes_engine_subjects(e), &c, MES_NS_SUBJECT, id, (size_t)len, false, &subj) == MES_OK &&
        mes_store_event_stamp(mes_engine_store(e), subj.row.id, &max_id, &events) == MES_OK)
      all[found++] = (struct heavy){k, events};
  }
  mes_engine_req_done(e, &c);
  qsort(all, (size_t)found, sizeof *all, by_events_desc);
  for (long i = 0; i < n; i++)
    pool[i] = i < found ? all[i].who : all[0].who;
  if (found)
    fprintf(stderr, "bench_recs: the %ld heaviest shoppers hold %lld to %lld events\n", n,
            (long long)all[(n < found ? n : found) - 1].events, (long long)all[0].events);
  free(all);
  return found ? 0 : -1;
}

/* cache: 1 on, 0 off, 2 both (rules_uncached runs too). n_active < 0: the
 * -n_active heaviest shoppers (--heaviest). log_both: rules_no_log runs too. */
static int measure(const char *dir, long n_subj, long n_items, long n_req, long block, int only, long n_active,
                   int cache, bool log_both) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = dir};
  struct mes_engine *e;
  if (mes_engine_open(&o, &e, &err)) {
    fprintf(stderr, "bench_recs: %s\n", mes_err_text(&err));
    return -1;
  }
  struct mes_model *m = mes_engine_model(e);
  if (!m) {
    fprintf(stderr, "bench_recs: no model in %s: run `mesura train --data %s` first\n", dir, dir);
    mes_engine_close(e);
    return -1;
  }
  size_t model_bytes = mes_model_memory(m), model_items = mes_model_n_items(m);
  mes_model_unref(m);
  long *pool = NULL, n_pool = n_active < 0 ? -n_active : n_active;
  if (n_pool) {
    if (!(pool = malloc((size_t)n_pool * sizeof *pool)) || (n_active < 0 && heaviest(e, n_subj, n_pool, pool))) {
      free(pool);
      mes_engine_close(e);
      return -1;
    }
    for (long i = 0; n_active > 0 && i < n_active; i++)
      pool[i] = (long)(bench_rnd() % (uint64_t)n_subj);
  }
  struct draw d = {.n_subj = n_subj, .n_items = n_items, .pool = pool, .n_pool = n_pool,
                   .cached = cache != 0};
  if (mes_ingester_new_like(mes_engine_ingester(e), 0, &d.uncached)) {
    free(pool);
    mes_engine_close(e);
    return -1;
  }
  bool on[K_N] = {true, true, true, cache == 2 || only == K_RULES_UNCACHED, log_both || only == K_RULES_NO_LOG};
  struct series s[K_N] = {{0}};
  /* Warm-up: the catalog index is built on first lookup, the model's pages
   * and SQLite's caches fill. Not counted. */
  for (int i = 0; i < 300; i++)
    if (on[i % K_N] && one(e, (enum kind)(i % K_N), &d, NULL, false))
      return -1;
  struct mes_histcache_stats hc0;
  mes_ingester_cache_stats(mes_engine_ingester(e), &hc0);
  uint64_t t0 = mes_mono_ns();
  /* rules and rules_no_log trade places every other round: what runs right
   * after another kind's block (the writer busy with its records, caches
   * warmed by it) would otherwise favour one of the two. */
  for (long done = 0, round = 0; done < n_req; done += block, round++)
    for (int j = 0; j < K_N; j++)
      for (int k = round % 2 && j == K_RULES ? K_RULES_NO_LOG : round % 2 && j == K_RULES_NO_LOG ? K_RULES : j, i = 0;
           on[k] && i < block && (only < 0 || only == k); i++)
        if (one(e, (enum kind)k, &d, &s[k], true))
          return -1;
  double wall = (double)(mes_mono_ns() - t0) / 1e9;
  mes_recommender_flush(mes_engine_recommender(e));
  struct by_len *by_len = NULL;
  size_t n_by_len = history_lengths(e, &s[K_RULES], &by_len);
  printf("{\"subjects\":%ld,\"items\":%ld,\"model_items\":%zu,\"model_bytes\":%zu,\"seconds\":%.1f", n_subj, n_items,
         model_items, model_bytes, wall);
  for (int k = 0; k < K_N; k++) {
    if (!s[k].n)
      continue;
    qsort(s[k].ns, s[k].n, sizeof *s[k].ns, cmp_u64);
    printf(",\"%s\":{\"n\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"personalized\":%zu,"
           "\"items_per_reply\":%.2f,\"suppressed_per_request\":%.2f",
           kind_name[k], s[k].n, mean_us(&s[k]), pct_us(&s[k], 0.5), pct_us(&s[k], 0.99), s[k].personalized,
           (double)s[k].items / (double)s[k].n, (double)s[k].suppressed / (double)s[k].n);
    for (size_t j = 0; j < s[k].n_rules; j++)
      printf("%s\"%s\":%.2f", j ? "," : ",\"suppressed_by_rule\":{", s[k].by_rule[j].rule,
             (double)s[k].by_rule[j].n / (double)s[k].n);
    printf("%s}", s[k].n_rules ? "}" : "");
  }
  if (n_by_len)
    print_by_history(by_len, n_by_len);
  free(by_len);
  if (s[K_RULES].n && s[K_NO_RULES].n)
    printf(",\"rules_ratio_mean\":%.3f,\"rules_ratio_p50\":%.3f", mean_us(&s[K_RULES]) / mean_us(&s[K_NO_RULES]),
           pct_us(&s[K_RULES], 0.5) / pct_us(&s[K_NO_RULES], 0.5));
  if (s[K_RULES].n && s[K_RULES_NO_LOG].n)
    printf(",\"access_log_ratio_mean\":%.3f,\"access_log_ratio_p50\":%.3f,\"access_log_throughput_ratio\":%.3f",
           mean_us(&s[K_RULES]) / mean_us(&s[K_RULES_NO_LOG]),
           pct_us(&s[K_RULES], 0.5) / pct_us(&s[K_RULES_NO_LOG], 0.5),
           mean_us(&s[K_RULES_NO_LOG]) / mean_us(&s[K_RULES]));
  if (s[K_RULES].n && s[K_RULES_UNCACHED].n)
    printf(",\"cache_ratio_mean\":%.3f,\"cache_ratio_p50\":%.3f,\"cache_ratio_p99\":%.3f",
           mean_us(&s[K_RULES]) / mean_us(&s[K_RULES_UNCACHED]),
           pct_us(&s[K_RULES], 0.5) / pct_us(&s[K_RULES_UNCACHED], 0.5),
           pct_us(&s[K_RULES], 0.99) / pct_us(&s[K_RULES_UNCACHED], 0.99));
  struct mes_histcache_stats hc1;
  mes_ingester_cache_stats(mes_engine_ingester(e), &hc1);
  printf(",\"active\":%ld,\"heaviest\":%ld,\"cache\":\"%s\",\"history_cache\":{\"hits\":%llu,\"misses\":%llu,\"stale\":%llu,"
         "\"shown_hits\":%llu,\"shown_misses\":%llu,\"shown_stale\":%llu,\"shown_appended\":%llu,\"entries\":%llu,\"bytes\":%llu}",
         n_active > 0 ? n_active : 0, n_active < 0 ? -n_active : 0, cache == 2 ? "both" : cache ? "on" : "off", (unsigned long long)(hc1.hits - hc0.hits),
         (unsigned long long)(hc1.misses - hc0.misses), (unsigned long long)(hc1.stale - hc0.stale),
         (unsigned long long)(hc1.shown_hits - hc0.shown_hits),
         (unsigned long long)(hc1.shown_misses - hc0.shown_misses),
         (unsigned long long)(hc1.shown_stale - hc0.shown_stale),
         (unsigned long long)(hc1.shown_appended - hc0.shown_appended), (unsigned long long)hc1.entries,
         (unsigned long long)hc1.bytes);
  printf(",\"peak_rss_mb\":%.0f}\n", (double)bench_peak_rss_kb() / 1024.0);
  for (int k = 0; k < K_N; k++) {
    free(s[k].ns);
    free(s[k].who);
  }
  free(pool);
  mes_ingester_free(d.uncached);
  mes_engine_close(e);
  return 0;
}

int main(int argc, char **argv) {
  const char *dir = NULL;
  long num[2] = {100000, 20000}, n_req = 6000, block = 250, n_active = 0;
  int n_num = 0, only = -1, cache = 1;
  bool do_setup = false, log_both = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--setup") == 0)
      do_setup = true;
    else if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
      n_req = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--block") == 0 && i + 1 < argc)
      block = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--active") == 0 && i + 1 < argc) {
      n_active = strtol(argv[++i], NULL, 10);
      if (n_active <= 0)
        num[0] = -1; /* usage */
    } else if (strcmp(argv[i], "--heaviest") == 0 && i + 1 < argc) {
      n_active = -strtol(argv[++i], NULL, 10);
      if (n_active >= 0)
        num[0] = -1; /* usage */
    } else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc) {
      const char *v = argv[++i];
      cache = strcmp(v, "on") == 0 ? 1 : strcmp(v, "off") == 0 ? 0 : strcmp(v, "both") == 0 ? 2 : -1;
      if (cache < 0)
        num[0] = -1; /* usage */
    }
    else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
      const char *v = argv[++i];
      log_both = strcmp(v, "both") == 0;
      if (!log_both && strcmp(v, "on") != 0)
        num[0] = -1; /* usage */
    }
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      const char *k = argv[++i];
      for (int j = 0; j < K_N; j++)
        if (strcmp(k, kind_name[j]) == 0)
          only = j;
      if (only < 0)
        num[0] = -1; /* usage */
    }
    else if (!dir)
      dir = argv[i];
    else if (n_num < 2)
      num[n_num++] = strtol(argv[i], NULL, 10);
  }
  if (do_setup && n_num == 1) /* --setup takes N_ITEMS alone */
    num[1] = num[0];
  if (!dir || num[0] <= 0 || num[1] <= 0 || n_req <= 0 || block <= 0) {
    fprintf(stderr, "usage: bench_recs DIR --setup [N_ITEMS]\n"
                    "       bench_recs DIR [N_SUBJECTS [N_ITEMS]] [--requests N] [--block B] "
                    "[--only rules|no_rules|context|rules_uncached|rules_no_log] [--active N | --heaviest N] "
                    "[--cache on|off|both] [--log on|both]\n");
    return 2;
  }
  mes_crypto_init();
  char db[4096];
  snprintf(db, sizeof db, "%s/mesura.db", dir);
  struct stat sb;
  if (stat(db, &sb) != 0) {
    fprintf(stderr, "bench_recs: %s holds no store: build it with bench_train first\n", dir);
    return 1;
  }
  if (do_setup)
    return setup(dir, num[1]) ? 1 : 0;
  return measure(dir, num[0], num[1], n_req, block, only, n_active, cache, log_both) ? 1 : 0;
}
