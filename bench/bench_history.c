/*
 * bench_history — the read every cold personal recommendation starts with:
 * one shopper's whole history out of the encrypted store (mes_ingest_history
 * without the history cache: rows read, unsealed, the hot fields decoded
 * (evrec.h), handed over in time order), timed alone, for random shoppers of a
 * store made by bench_train (shopper-K). bench_recs times whole requests, in
 * which this read is about a quarter and its changes drown in the rest.
 *
 * usage: bench_history DIR N_SUBJECTS [--reads N]
 * prints one JSON line: {"reads":N,"events_per_read":E,"mean_us":M,
 *   "p50_us":P,"p99_us":Q,"ns_per_event":X} - X is the total time over the
 *   total events read. The shoppers are the same from run to run (fixed
 *   seed), so two builds can be compared on the same reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "engine/engine.h"
#include "ingest/ingest.h"
#include "subject/subject.h"
#include "bench_util.h"

static int count_cb(void *ud, const struct mes_evrec *ev) {
  (void)ev;
  (*(size_t *)ud)++;
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--reads") == 0)) {
    fprintf(stderr, "usage: bench_history DIR N_SUBJECTS [--reads N]\n");
    return 2;
  }
  long n_subj = strtol(argv[2], NULL, 10), n_reads = argc == 5 ? strtol(argv[4], NULL, 10) : 5000;
  if (n_subj <= 0 || n_reads <= 0) {
    fprintf(stderr, "bench_history: N_SUBJECTS and N must be positive\n");
    return 2;
  }
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = argv[1]};
  struct mes_engine *e;
  if (mes_engine_open(&o, &e, &err)) {
    fprintf(stderr, "bench_history: %s\n", mes_err_text(&err));
    return 1;
  }
  uint64_t *ns = malloc((size_t)n_reads * sizeof *ns);
  if (!ns) {
    mes_engine_close(e);
    return 1;
  }
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  struct mes_ingester *ing = mes_engine_ingester(e);
  mes_ingester_set_cache_cap(ing, 0); /* the read without the history cache */
  size_t events = 0, done = 0;
  uint64_t total = 0;
  for (long i = -300; i < n_reads; i++) { /* the first 300 warm SQLite's caches: not counted */
    char id[32];
    int len = snprintf(id, sizeof id, "shopper-%ld", (long)(bench_rnd() % (uint64_t)n_subj));
    struct mes_subject subj;
    if (mes_subject_resolve(mes_engine_subjects(e), &c, MES_NS_SUBJECT, id, (size_t)len, false, &subj))
      continue;
    size_t n = 0;
    uint64_t t0 = mes_mono_ns();
    int rc = mes_ingest_history(ing, &c, subj.row.id, count_cb, &n, &err);
    uint64_t dt = mes_mono_ns() - t0;
    if (rc) {
      fprintf(stderr, "bench_history: %s\n", mes_err_text(&err));
      break;
    }
    if (i < 0)
      continue;
    ns[done++] = dt;
    total += dt;
    events += n;
  }
  mes_engine_req_done(e, &c);
  mes_engine_close(e);
  if (!done) {
    fprintf(stderr, "bench_history: no shopper of DIR was found (a store made by bench_train?)\n");
    free(ns);
    return 1;
  }
  qsort(ns, done, sizeof *ns, cmp_u64);
  printf("{\"reads\":%zu,\"events_per_read\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
         "\"ns_per_event\":%.0f}\n",
         done, (double)events / (double)done, (double)total / (double)done / 1e3, (double)ns[done / 2] / 1e3,
         (double)ns[(size_t)(0.99 * (double)(done - 1) + 0.5)] / 1e3, events ? (double)total / (double)events : 0);
  free(ns);
  return 0;
}
