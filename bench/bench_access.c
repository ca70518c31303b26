/*
 * bench_access — what the access log's writes cost, alone (bench/README.md,
 * "The access log's cost"): entries noted for random shoppers, written by
 * the recommender's writer in batches of a fixed size, as a personal
 * recommendation notes them under load.
 *
 *   bench_access DIR [N_SUBJECTS] [--entries N] [--batch B]
 *
 * DIR is a store built by bench_train (shoppers "shopper-K"). Notes N
 * entries (default 20,000) for shoppers drawn at random (fixed seed) among
 * the first N_SUBJECTS (default 10,000), and waits for the writer after
 * every B (default 64, about what the writer gathers in its 20 ms at a few
 * thousand requests a second), so that every run writes the same batches:
 * under `valgrind --tool=callgrind` the instructions per entry compare from
 * build to build. Prints one JSON line: per entry, the process's CPU time
 * (request side and writer together) and the wall time; how many entries
 * the store's log held before and after. Each run adds its entries to DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mtime.h"
#include "bench_util.h"
#include "engine/engine.h"
#include "recommend/recommend.h"
#include "store/store.h"
#include "subject/subject.h"

static double cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int count_entry(void *ud, const struct mes_access_row *row) {
  (void)row;
  ++*(long *)ud;
  return 0;
}

static long log_entries(struct mes_engine *e) {
  long n = 0;
  return mes_store_access_list(mes_engine_store(e), 0, count_entry, &n) == MES_OK ? n : -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_access DIR [N_SUBJECTS] [--entries N] [--batch B]\n");
    return 2;
  }
  const char *dir = argv[1];
  long n_subj = 10000, n_entries = 20000, batch = 64;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
      n_entries = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      batch = strtol(argv[++i], NULL, 10);
    else if (argv[i][0] != '-')
      n_subj = strtol(argv[i], NULL, 10);
    else {
      fprintf(stderr, "usage: bench_access DIR [N_SUBJECTS] [--entries N] [--batch B]\n");
      return 2;
    }
  }
  if (n_subj <= 0 || n_entries <= 0 || batch <= 0) {
    fprintf(stderr, "bench_access: N_SUBJECTS, --entries and --batch must be positive\n");
    return 2;
  }
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = dir};
  struct mes_engine *e;
  if (mes_engine_open(&o, &e, &err)) {
    fprintf(stderr, "bench_access: %s\n", mes_err_text(&err));
    return 1;
  }
  int64_t *sids = calloc((size_t)n_subj, sizeof *sids);
  if (!sids) {
    mes_engine_close(e);
    return 1;
  }
  struct mes_req c;
  mes_engine_req(e, &c, "bench", false);
  for (long k = 0; k < n_subj; k++) {
    char id[32];
    int len = snprintf(id, sizeof id, "shopper-%ld", k);
    struct mes_subject s;
    if (mes_subject_resolve(mes_engine_subjects(e), &c, MES_NS_SUBJECT, id, (size_t)len, false, &s) != MES_OK) {
      fprintf(stderr, "bench_access: %s is not in %s (a store from bench_train)\n", id, dir);
      mes_engine_req_done(e, &c);
      free(sids);
      mes_engine_close(e);
      return 1;
    }
    sids[k] = s.row.id;
  }
  struct mes_recommender *r = mes_engine_recommender(e);
  mes_recommender_flush(r);
  long before = log_entries(e);
  bench_seed(0xACCE55);
  double t0 = bench_now_ns(), c0 = cpu_ns();
  for (long i = 0; i < n_entries; i++) {
    long k = (long)(bench_rnd() % (uint64_t)n_subj);
    char id[32];
    int len = snprintf(id, sizeof id, "shopper-%ld", k);
    c.now_ms = mes_now_ms(); /* reads are noted at their own time, as requests note them */
    mes_recommender_access_note(r, &c, sids[k], id, (size_t)len, MES_ACCESS_RECOMMEND);
    if ((i + 1) % batch == 0 || i + 1 == n_entries)
      mes_recommender_flush(r);
  }
  double wall = bench_now_ns() - t0, cpu = cpu_ns() - c0;
  mes_engine_req_done(e, &c);
  long after = log_entries(e);
  printf("{\"entries\":%ld,\"batch\":%ld,\"subjects\":%ld,\"cpu_us_per_entry\":%.2f,\"wall_us_per_entry\":%.2f,"
         "\"log_before\":%ld,\"log_after\":%ld}\n",
         n_entries, batch, n_subj, cpu / 1e3 / (double)n_entries, wall / 1e3 / (double)n_entries, before, after);
  free(sids);
  mes_engine_close(e);
  return after - before == n_entries ? 0 : 1;
}
