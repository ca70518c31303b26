/*
 * bench_unlearn — exact unlearning figures for bench/README.md ("Unlearning"):
 *
 *   1. builds synthetic training data in memory (no store: the scan is
 *      bench_train's business): S shoppers with sessions of views in one
 *      category of 40 items (Zipf over categories and inside them), then
 *      sometimes a cart and a purchase, over 180 days; plus one heavy
 *      shopper with P events (default 1,000) over many categories;
 *   2. trains the model of KIND twice from the same data, without and with
 *      what unlearning keeps (params.unlearn), and reports both times and
 *      both models' resident bytes (mes_model_memory);
 *   3. unlearns the heavy shopper (mes_model_unlearn), then forgets one event
 *      of a light one (mes_model_forget_event) on the model that returned;
 *      each is timed once (a second run needs a second training).
 *
 * usage: bench_unlearn N_EVENTS N_SUBJECTS N_ITEMS [--kind cooc|ease] [--person-events P] [--threads T]
 * Prints one JSON line per measurement.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mtime.h"
#include "model/model.h"
#include "model/model_int.h"
#include "policy/policy.h"
#include "bench_util.h"

#define CAT_SIZE 40
#define NOW_MS 1795208645000LL
#define DAY_S 86400LL

static double ms_since(uint64_t t0) { return (double)(mes_mono_ns() - t0) / 1e6; }

/* The process's CPU time: on a machine shared with other jobs, what the
 * work itself took, beside the wall-clock time that waits for the cores. */
static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

struct shop {
  size_t n_items, n_cats;
  double *cdf; /* Zipf(1.0) over categories */
};

static size_t pick_cat(const struct shop *g) {
  double u = bench_unif() * g->cdf[g->n_cats - 1];
  size_t lo = 0, hi = g->n_cats - 1;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (g->cdf[mid] < u)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static size_t item_in(const struct shop *g, size_t c) {
  size_t r = (size_t)(pow(bench_unif(), 2.0) * CAT_SIZE);
  size_t i = c * CAT_SIZE + (r < CAT_SIZE ? r : CAT_SIZE - 1);
  return i < g->n_items ? i : g->n_items - 1;
}

static void add(struct mes__data *d, uint32_t subj, size_t item, enum mes_kind k, int64_t ts_s) {
  char id[16];
  int len = snprintf(id, sizeof id, "item-%zu", item);
  if (mes__data_add(d, subj, id, (size_t)len, k, ts_s * 1000)) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
}

/* One session of subject subj: n views in one category, maybe a cart and a purchase. */
static size_t session(struct mes__data *d, const struct shop *g, uint32_t subj, size_t n) {
  size_t c = pick_cat(g), made = 0;
  int64_t t = NOW_MS / 1000 - (int64_t)(bench_unif() * 180.0 * DAY_S);
  size_t last = 0;
  for (size_t v = 0; v < n; v++, made++) {
    last = item_in(g, c);
    add(d, subj, last, bench_unif() < 0.8 ? MES_KIND_VIEW : MES_KIND_CLICK, t);
    t += 30 + (int64_t)(bench_unif() * 300);
  }
  if (bench_unif() < 0.3) {
    add(d, subj, last, MES_KIND_CART, t);
    made++;
    if (bench_unif() < 0.6) {
      add(d, subj, last, MES_KIND_PURCHASE, t + 120);
      made++;
    }
  }
  return made;
}

/* The data, the same for a seed. The heavy shopper is subject s_heavy. */
static void build(struct mes__data *d, const struct shop *g, size_t n_events, size_t n_subj, size_t person_events) {
  memset(d, 0, sizeof *d);
  mes_htab_init(&d->ihash, MES__MAX_ITEMS);
  bench_seed(42);
  for (size_t i = 0; i < g->n_items; i++) /* every item once, so that the catalogue is N_ITEMS */
    add(d, (uint32_t)(i % n_subj), i, MES_KIND_VIEW, NOW_MS / 1000 - 200 * DAY_S + (int64_t)i);
  while (d->n_ev < n_events)
    session(d, g, (uint32_t)(bench_rnd() % n_subj), 2 + bench_rnd() % 6);
  for (size_t made = 0; made < person_events;)
    made += session(d, g, (uint32_t)n_subj, 4 + bench_rnd() % 8);
}

static struct mes_model *train(const struct shop *g, size_t n_events, size_t n_subj, size_t person_events,
                               const struct mes_model_params *p, double *ms) {
  struct mes__data d;
  build(&d, g, n_events, n_subj, person_events);
  struct mes_model *m = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  uint64_t t0 = mes_mono_ns();
  if (mes__model_build(&d, p, NOW_MS, NULL, &m, &err)) {
    fprintf(stderr, "training failed: %s\n", mes_err_text(&err));
    exit(1);
  }
  *ms = ms_since(t0);
  return m;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_unlearn N_EVENTS N_SUBJECTS N_ITEMS [--kind cooc|ease] [--person-events P] "
                    "[--threads T]\n");
    return 2;
  }
  size_t n_events = strtoull(argv[1], NULL, 10), n_subj = strtoull(argv[2], NULL, 10);
  size_t n_items = strtoull(argv[3], NULL, 10), person_events = 1000;
  struct mes_model_params p;
  mes_model_params_default(&p);
  p.kind = MES_MODEL_COOC;
  p.max_memory_mb = 8192;
  for (int a = 4; a + 1 < argc; a += 2) {
    if (strcmp(argv[a], "--kind") == 0)
      p.kind = strcmp(argv[a + 1], "ease") == 0 ? MES_MODEL_EASE : MES_MODEL_COOC;
    else if (strcmp(argv[a], "--person-events") == 0)
      person_events = strtoull(argv[a + 1], NULL, 10);
    else if (strcmp(argv[a], "--threads") == 0)
      p.threads = atoi(argv[a + 1]);
  }
  if (p.kind == MES_MODEL_EASE)
    p.ease_max_items = (int)n_items;
  struct shop g = {.n_items = n_items, .n_cats = (n_items + CAT_SIZE - 1) / CAT_SIZE};
  g.cdf = malloc(g.n_cats * sizeof *g.cdf);
  for (size_t c = 0; c < g.n_cats; c++)
    g.cdf[c] = (c ? g.cdf[c - 1] : 0) + 1.0 / (double)(c + 1);
  const char *kind = p.kind == MES_MODEL_EASE ? "ease" : "cooc";

  double ms_bare, ms_keep;
  p.unlearn = false;
  struct mes_model *bare = train(&g, n_events, n_subj, person_events, &p, &ms_bare);
  size_t mem_bare = mes_model_memory(bare);
  mes_model_unref(bare);
  p.unlearn = true;
  struct mes_model *m = train(&g, n_events, n_subj, person_events, &p, &ms_keep);
  size_t mem_keep = mes_model_memory(m);
  json_t *meta = mes_model_meta(m);
  printf("{\"bench\": \"unlearn_train\", \"kind\": \"%s\", \"events\": %lld, \"items\": %zu, \"ease_items\": %lld, "
         "\"train_ms\": %.0f, \"train_keep_ms\": %.0f, \"memory_mb\": %.1f, \"memory_keep_mb\": %.1f}\n",
         json_string_value(json_object_get(meta, "kind")),
         (long long)json_integer_value(json_object_get(meta, "events")), mes_model_n_items(m),
         (long long)json_integer_value(json_object_get(meta, "ease_items")), ms_bare, ms_keep,
         (double)mem_bare / 1048576.0, (double)mem_keep / 1048576.0);
  json_decref(meta);

  struct mes_err err;
  mes_err_clear(&err);
  struct mes_model *next = NULL;
  struct mes_unlearn_info info;
  uint64_t t0 = mes_mono_ns();
  double c0 = cpu_ms();
  if (mes_model_unlearn(m, (int64_t)n_subj, &next, &info, &err)) {
    fprintf(stderr, "unlearn failed: %s\n", mes_err_text(&err));
    return 1;
  }
  double ms_person = ms_since(t0), cpu_person = cpu_ms() - c0;
  printf("{\"bench\": \"unlearn_person\", \"kind\": \"%s\", \"person_events\": %zu, \"unlearn_ms\": %.1f, "
         "\"unlearn_cpu_ms\": %.1f, \"exact\": %s, \"rows_decided\": %zu, \"rows_recounted\": %zu}\n",
         kind, info.events, ms_person, cpu_person, info.exact ? "true" : "false", info.rows_decided, info.rows_recounted);
  mes_model_unref(m);
  m = next;

  /* One event of a light shopper: the first of subject 1. */
  struct mes__data d0;
  build(&d0, &g, n_events, n_subj, person_events);
  const struct mes__ev *e = NULL;
  for (size_t i = 0; i < d0.n_ev && !e; i++)
    if (d0.ev[i].subj == 1)
      e = &d0.ev[i];
  uint32_t it = e->ik & MES__ITEM_MASK;
  t0 = mes_mono_ns();
  c0 = cpu_ms();
  if (mes_model_forget_event(m, 1, d0.ids + d0.id_off[it], d0.id_off[it + 1] - d0.id_off[it] - 1,
                             (enum mes_kind)(e->ik >> MES__KIND_SHIFT), (int64_t)e->ts * 1000, &next, &info, &err)) {
    fprintf(stderr, "forget failed: %s\n", mes_err_text(&err));
    return 1;
  }
  double ms_event = ms_since(t0), cpu_event = cpu_ms() - c0;
  printf("{\"bench\": \"unlearn_event\", \"kind\": \"%s\", \"events\": %zu, \"forget_ms\": %.1f, \"forget_cpu_ms\": %.1f, "
         "\"exact\": %s, \"rows_decided\": %zu, \"rows_recounted\": %zu, \"peak_rss_mb\": %.0f}\n",
         kind, info.events, ms_event, cpu_event, info.exact ? "true" : "false", info.rows_decided, info.rows_recounted,
         (double)bench_peak_rss_kb() / 1024.0);
  mes__data_release(&d0);
  mes_model_unref(next);
  mes_model_unref(m);
  free(g.cdf);
  return 0;
}
