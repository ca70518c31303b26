/*
 * bench_train — training figures for bench/README.md ("Training"):
 *
 *   1. builds (once) a store of synthetic shoppers in DIR: S subjects who
 *      granted personalization, I items with power-law popularity, and N
 *      sealed events in sessions (views within a category, then sometimes a
 *      cart, a purchase, and a purchase of a complement in the next
 *      category); a later run on the same DIR reuses it;
 *   2. times the scan alone (read + unseal + pick the item: mes_ingest_scan)
 *      and a whole co-occurrence training (mes_model_train, kind cooc), so
 *      that counting = training - scan; reports the model's resident bytes
 *      and the process's peak RSS;
 *   3. with --ease N[,N...]: for each size, the EASE solve (mes__ease_solve:
 *      spotrf + spotri + mirror + B) against a bare OpenBLAS spotrf + spotri
 *      of the same matrix, measured in the same run (best of 2 each, run
 *      alternately), and their ratio.
 *
 * usage: bench_train DIR [N_EVENTS [N_SUBJECTS [N_ITEMS]]] [--ease 5000,10000] [--threads T] [--scan-only]
 * Prints one JSON line per measurement. Put DIR on /dev/shm to build it fast:
 * every subject key is an fsync'ed write otherwise.
 */
#include <lapacke.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mtime.h"
#include "crypto/crypto.h"
#include "engine/engine.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "model/model_int.h"
#include "store/store.h"
#include "bench_util.h"
#include "subject/subject.h"


static double secs(uint64_t t0) { return (double)(mes_mono_ns() - t0) / 1e9; }


/* ------------------------------------------------------------ the synthetic shop */

#define CAT_SIZE 40 /* items per category: what a shopper compares in a session */

struct gen {
  size_t n_items, n_cats;
  double *cdf; /* Zipf(1.0) over categories */
};

static size_t pick_cdf(const double *cdf, size_t n) {
  double u = bench_unif() * cdf[n - 1];
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cdf[mid] < u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* An item of category c, the head of the category more likely (Zipf inside). */
static size_t item_in(const struct gen *g, size_t c) {
  size_t r = (size_t)(pow(bench_unif(), 2.0) * CAT_SIZE);
  size_t i = c * CAT_SIZE + (r < CAT_SIZE ? r : CAT_SIZE - 1);
  return i < g->n_items ? i : g->n_items - 1;
}

struct build {
  struct mes_engine *e;
  struct mes_store *st;
  struct mes_subjects *sj;
  struct mes_req c;
  int t_view, t_cart, t_buy;
  int64_t n;
  uint64_t ticket;
  int in_tx;
  struct mes_buf doc; /* the event's document, reused */
};

static int put_event(struct build *b, int64_t sid, int type, size_t item, int64_t ts_ms) {
  /* The document the ingester writes for such an event (evrec.h). */
  char id[32];
  int len = snprintf(id, sizeof id, "item-%zu", item);
  struct mes_evrec rec = {.channel = MES_CH_WEB, .item = id, .item_len = (size_t)len};
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  if (mes_evrec_encode(&b->doc, &rec) || mes_subject_seal(b->sj, sid, "event", b->doc.data, b->doc.len, &sealed, &sealed_len))
    return -1;
  struct mes_event_row row = {.sid = sid,
                              .type = type,
                              .ts_ms = ts_ms,
                              .purposes = b->c.policy->event_types[type].purposes,
                              .source = 0,
                              .sealed = sealed,
                              .sealed_len = sealed_len};
  if (!b->in_tx) {
    if (mes_store_tx_begin(b->st))
      return -1;
    b->in_tx = 1;
  }
  int rc = mes_store_event_insert(b->st, &row);
  free(sealed);
  if (rc)
    return -1;
  if (++b->n % 20000 == 0) {
    b->in_tx = 0;
    if (mes_store_tx_commit(b->st, &b->ticket) || mes_store_wait_durable(b->st, b->ticket))
      return -1;
  }
  return 0;
}

static int build_store(const char *dir, long n_events, long n_subj, long n_items) {
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_init_dir(dir, &err)) {
    fprintf(stderr, "bench_train: %s\n", mes_err_text(&err));
    return -1;
  }
  struct mes_engine_opts o = {.dir = dir};
  struct build b = {0};
  mes_buf_init(&b.doc, 4096);
  if (mes_engine_open(&o, &b.e, &err)) {
    fprintf(stderr, "bench_train: %s\n", mes_err_text(&err));
    return -1;
  }
  mes_engine_req(b.e, &b.c, "bench", false);
  b.st = mes_engine_store(b.e);
  b.sj = mes_engine_subjects(b.e);
  const struct mes_policy *p = b.c.policy;
  b.t_view = mes_policy_event_type(p, "view", 4);
  b.t_cart = mes_policy_event_type(p, "add_to_cart", 11);
  b.t_buy = mes_policy_event_type(p, "purchase", 8);
  int pers = mes_policy_purpose(p, "personalization", 15);
  if (b.t_view < 0 || b.t_cart < 0 || b.t_buy < 0 || pers < 0)
    return -1;
  struct gen g = {.n_items = (size_t)n_items, .n_cats = ((size_t)n_items + CAT_SIZE - 1) / CAT_SIZE};
  g.cdf = malloc(g.n_cats * sizeof *g.cdf);
  double acc = 0;
  for (size_t c = 0; c < g.n_cats; c++)
    g.cdf[c] = acc += 1.0 / (double)(c + 1);
  /* Activity: Pareto(α = 2) weights, so a few shoppers do much more. */
  double *w = malloc((size_t)n_subj * sizeof *w), wsum = 0;
  for (long s = 0; s < n_subj; s++)
    wsum += w[s] = 1.0 / sqrt(1.0 - bench_unif() * 0.999);
  uint64_t t0 = mes_mono_ns();
  int64_t now = b.c.now_ms, span = 180LL * 86400000LL;
  for (long s = 0; s < n_subj; s++) {
    char id[32];
    snprintf(id, sizeof id, "shopper-%ld", s);
    struct mes_subject subj;
    if (mes_subject_resolve(b.sj, &b.c, MES_NS_SUBJECT, id, strlen(id), true, &subj) ||
        mes_store_subject_set_granted(b.st, subj.row.id, 1u << pers))
      return -1;
    long budget = lround((double)n_events * w[s] / wsum);
    int64_t t = now - (int64_t)(bench_unif() * (double)span);
    while (budget > 0) {
      size_t cat = pick_cdf(g.cdf, g.n_cats);
      int views = 1 + (int)(-log(1.0 - bench_unif()) * 4.0); /* geometric-ish, mean ~5 */
      size_t last = 0;
      for (int v = 0; v < views && budget > 0; v++, budget--) {
        last = item_in(&g, cat);
        if (put_event(&b, subj.row.id, b.t_view, last, t))
          return -1;
        t += 30000 + (int64_t)(bench_unif() * 120000);
      }
      if (budget > 0 && bench_unif() < 0.3) {
        if (put_event(&b, subj.row.id, b.t_cart, last, t))
          return -1;
        budget--;
        if (budget > 0 && bench_unif() < 0.5) {
          if (put_event(&b, subj.row.id, b.t_buy, last, t += 60000))
            return -1;
          budget--;
          if (budget > 0 && bench_unif() < 0.4) { /* the complement, days later */
            if (put_event(&b, subj.row.id, b.t_buy, item_in(&g, (cat + 1) % g.n_cats),
                          t + (int64_t)(bench_unif() * 10 * 86400000.0)))
              return -1;
            budget--;
          }
        }
      }
      t += (int64_t)(bench_unif() * 5 * 86400000.0); /* next session */
      if (t > now)
        t = now - (int64_t)(bench_unif() * (double)span);
    }
  }
  if (b.in_tx && (mes_store_tx_commit(b.st, &b.ticket) || mes_store_wait_durable(b.st, b.ticket)))
    return -1;
  printf("{\"build\":{\"events\":%lld,\"subjects\":%ld,\"items\":%ld,\"seconds\":%.1f}}\n", (long long)b.n, n_subj,
         n_items, secs(t0));
  fflush(stdout);
  free(g.cdf);
  free(w);
  mes_buf_release(&b.doc);
  mes_engine_req_done(b.e, &b.c);
  mes_engine_close(b.e);
  return 0;
}

/* ------------------------------------------------------------ measurements */

static int count_cb(void *ud, const struct mes_evrec *ev) {
  (*(int64_t *)ud) += ev->item_len > 0;
  return 0;
}

static int bench_training(const char *dir, int threads, bool scan_only) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = dir};
  struct mes_engine *e;
  if (mes_engine_open(&o, &e, &err)) {
    fprintf(stderr, "bench_train: %s\n", mes_err_text(&err));
    return -1;
  }
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  struct mes_ingester *ing = mes_engine_ingester(e);
  int pers = mes_policy_purpose(c.policy, "personalization", 15);
  int64_t n = 0;
  struct mes_ingest_scan_stats st;
  uint64_t t0 = mes_mono_ns();
  if (mes_ingest_scan(ing, &c, 1u << pers, count_cb, &n, &st, &err))
    return -1;
  double scan_s = secs(t0);
  if (scan_only) {
    printf("{\"scan\":{\"events_read\":%lld,\"scan_alone_s\":%.2f}}\n", (long long)st.rows, scan_s);
    mes_engine_req_done(e, &c);
    mes_engine_close(e);
    return 0;
  }
  struct mes_model_params p;
  mes_model_params_default(&p);
  p.kind = MES_MODEL_COOC;
  p.threads = threads;
  struct mes_model *m = NULL;
  t0 = mes_mono_ns();
  if (mes_model_train(ing, &c, mes_engine_log(e), &p, &m, &err)) {
    fprintf(stderr, "bench_train: %s\n", mes_err_text(&err));
    return -1;
  }
  double train_s = secs(t0);
  json_t *meta = mes_model_meta(m);
  json_t *timing = json_object_get(meta, "timing");
  double in_scan = (double)json_integer_value(json_object_get(timing, "scan_ms")) / 1000.0;
  printf("{\"cooc\":{\"events_read\":%lld,\"events_used\":%lld,\"scan_alone_s\":%.2f,\"train_s\":%.2f,"
         "\"train_scan_s\":%.2f,\"counting_s\":%.2f,\"popularity_s\":%.2f,\"relations_s\":%.2f,\"threads\":%d,"
         "\"model_items\":%zu,\"model_bytes\":%zu,\"peak_rss_mb\":%.0f}}\n",
         (long long)st.rows, (long long)n, scan_s, train_s, in_scan, train_s - in_scan,
         (double)json_integer_value(json_object_get(timing, "popularity_ms")) / 1000.0,
         (double)json_integer_value(json_object_get(timing, "cooc_ms")) / 1000.0, threads, mes_model_n_items(m),
         mes_model_memory(m), (double)bench_peak_rss_kb() / 1024.0);
  fflush(stdout);
  json_decref(meta);
  mes_model_unref(m);
  mes_engine_req_done(e, &c);
  mes_engine_close(e);
  return 0;
}

/* A symmetric positive definite n x n matrix like a Gram matrix plus λI. */
static void spd(float *g, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j <= i; j++) {
      float v = i == j ? (float)n * 0.25f + 200.0f : (bench_unif() < 0.05 ? (float)(bench_unif() * 0.5) : 0.0f);
      g[i * n + j] = g[j * n + i] = v;
    }
}

static int bench_ease(size_t n) {
  float *a = malloc(n * n * sizeof *a), *g = malloc(n * n * sizeof *g);
  if (!a || !g)
    return -1;
  spd(a, n);
  double bare = 1e30, ours = 1e30;
  struct mes_err err;
  for (int rep = 0; rep < 2; rep++) {
    memcpy(g, a, n * n * sizeof *g);
    uint64_t t0 = mes_mono_ns();
    if (LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)n, g, (lapack_int)n) ||
        LAPACKE_spotri(LAPACK_COL_MAJOR, 'L', (lapack_int)n, g, (lapack_int)n))
      return -1;
    double s = secs(t0);
    bare = s < bare ? s : bare;
    memcpy(g, a, n * n * sizeof *g);
    t0 = mes_mono_ns();
    if (mes__ease_solve(g, n, &err))
      return -1;
    s = secs(t0);
    ours = s < ours ? s : ours;
  }
  printf("{\"ease\":{\"items\":%zu,\"bare_potrf_potri_s\":%.2f,\"ease_solve_s\":%.2f,\"ratio\":%.3f,"
         "\"matrix_mb\":%.0f}}\n",
         n, bare, ours, ours / bare, (double)(n * n * sizeof(float)) / (1024.0 * 1024.0));
  fflush(stdout);
  free(a);
  free(g);
  return 0;
}

int main(int argc, char **argv) {
  bench_seed(0x9E3779B97F4A7C15ull); /* the seed the stores in bench/README.md were built with */
  const char *dir = NULL, *ease = NULL;
  long num[3] = {10000000, 100000, 20000};
  int n_num = 0, threads = 2;
  bool scan_only = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--ease") == 0 && i + 1 < argc)
      ease = argv[++i];
    else if (strcmp(argv[i], "--scan-only") == 0)
      scan_only = true;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = (int)strtol(argv[++i], NULL, 10);
    else if (!dir)
      dir = argv[i];
    else if (n_num < 3)
      num[n_num++] = strtol(argv[i], NULL, 10);
  }
  if (!dir || num[0] <= 0 || num[1] <= 0 || num[2] <= 0 || threads < 1) {
    fprintf(stderr, "usage: bench_train DIR [N_EVENTS [N_SUBJECTS [N_ITEMS]]] [--ease 5000,10000] [--threads T]\n");
    return 2;
  }
  mes_crypto_init();
  char db[4096];
  snprintf(db, sizeof db, "%s/mesura.db", dir);
  struct stat sb;
  if (stat(db, &sb) != 0 && build_store(dir, num[0], num[1], num[2]))
    return 1;
  if (bench_training(dir, threads, scan_only))
    return 1;
  for (const char *p = ease; p && *p;) {
    char *end;
    long n = strtol(p, &end, 10);
    if (n > 1 && bench_ease((size_t)n))
      return 1;
    p = *end == ',' ? end + 1 : end + strlen(end);
  }
  return 0;
}
