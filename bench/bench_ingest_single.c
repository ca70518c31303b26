/*
 * bench_ingest_single — single durable events through the ingest module,
 * in process (no HTTP): THREADS threads each post one event at a time and
 * wait until it is durable, as the server's workers do for POST /v1/events
 * with one event, so that group commit gathers them. It isolates the
 * ingestion path (subject look-up, gates, sealing, the request's
 * transaction, the group commit) from the HTTP stack, whose cost dominates
 * and whose noise hides it in bench/ingest.py.
 *
 * usage: bench_ingest_single DIR N_EVENTS THREADS N_SUBJECTS [map|nomap]
 *   (DIR must not exist). "map" gives the subject registry the pseudonym ->
 *   subject row hint map (subject/subjmap.h) of MES_SUBJMAP_ENTRIES rows, as
 *   the server does; "nomap" makes it of 0 rows. Every subject has granted
 *   personalization.
 * prints one JSON line: {"events":N,"seconds":S,"events_per_s":R,
 *   "cpu_us_per_event":C} - C is the process's user + system CPU (every
 *   thread, the group-commit flusher and its fdatasync included) per event -
 *   and with the map its counters: map_hits, map_misses, map_contended (the
 *   look-ups and puts that found their stripe's lock held by another thread).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "base/mtime.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "ingest/ingest.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"
#include "subject/subjmap.h"

struct worker {
  struct mes_ingester *ing;
  struct mes_req req;
  long n, first, n_subj;
  int rc;
};

static void *work(void *arg) {
  struct worker *w = arg;
  char text[256];
  for (long i = 0; i < w->n; i++) {
    snprintf(text, sizeof text,
             "{\"subject\":\"u%ld\",\"type\":\"view\",\"item\":\"item-00001\",\"properties\":{\"duration_s\":3}}",
             (w->first + i) % w->n_subj);
    json_t *body = json_loads(text, 0, NULL), *reply = NULL;
    struct mes_err err;
    mes_err_clear(&err);
    w->req.now_ms = mes_now_ms();
    int rc = body ? mes_ingest_batch(w->ing, &w->req, body, &reply, &err) : MES_ENOMEM;
    json_int_t stored = rc ? 0 : json_integer_value(json_object_get(reply, "stored"));
    json_decref(reply);
    json_decref(body);
    if (rc || stored != 1) {
      w->rc = rc ? rc : MES_EINTERNAL;
      return NULL;
    }
  }
  return NULL;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 6 || (strcmp(argv[5], "map") != 0 && strcmp(argv[5], "nomap") != 0)) {
    fprintf(stderr, "usage: bench_ingest_single DIR N_EVENTS THREADS N_SUBJECTS map|nomap\n");
    return 2;
  }
  long n_events = strtol(argv[2], NULL, 10), n_threads = strtol(argv[3], NULL, 10),
       n_subj = strtol(argv[4], NULL, 10);
  bool want_map = strcmp(argv[5], "map") == 0;
  if (n_events <= 0 || n_threads <= 0 || n_threads > 256 || n_subj <= 0)
    return 2;
  struct mes_err err;
  mes_err_clear(&err);
  char cmd[512], path[512];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", argv[1]);
  snprintf(path, sizeof path, "%s/master.key", argv[1]);
  struct mes_policy *pol = NULL;
  struct mes_master *master = NULL;
  struct mes_store *st = NULL;
  struct mes_subjects *sj = NULL;
  struct mes_ledger *lg = NULL;
  struct mes_ingester *ing = NULL;
  const char *yaml = mes_policy_example();
  if (system(cmd) != 0 || mes_crypto_init() || mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &pol, &err) ||
      mes_master_create(path, &err) || mes_master_load(path, &master, &err) ||
      mes_store_open(argv[1], MES_STORE_SQLITE, true, &st, &err) ||
      mes_subjects_new(st, master, NULL, 4096, want_map ? MES_SUBJMAP_ENTRIES : 0, &sj) ||
      mes_ledger_new(st, master, sj, NULL, &lg) || mes_ingester_new(st, master, sj, lg, 0, NULL, &ing)) {
    fprintf(stderr, "bench_ingest_single: setup failed: %s\n", mes_err_text(&err));
    return 1;
  }
  struct mes_req req = {.policy = pol, .actor = "bench"};
  json_t *grant = json_loads("{\"status\":\"granted\"}", 0, NULL);
  for (long i = 0; i < n_subj; i++) {
    char id[32];
    int len = snprintf(id, sizeof id, "u%ld", i);
    json_t *receipt = NULL;
    req.now_ms = mes_now_ms();
    if (mes_consent_record(lg, &req, id, (size_t)len, "personalization", 15, grant, &receipt, &err)) {
      fprintf(stderr, "bench_ingest_single: consent failed: %s\n", mes_err_text(&err));
      return 1;
    }
    json_decref(receipt);
  }
  json_decref(grant);

  struct worker *ws = calloc((size_t)n_threads, sizeof *ws);
  pthread_t *th = calloc((size_t)n_threads, sizeof *th);
  if (!ws || !th)
    return 1;
  double c0 = cpu_s();
  uint64_t t0 = mes_mono_ns();
  for (long t = 0; t < n_threads; t++) {
    ws[t] = (struct worker){.ing = ing, .req = req, .n = n_events / n_threads, .first = t, .n_subj = n_subj};
    if (pthread_create(&th[t], NULL, work, &ws[t]) != 0)
      return 1;
  }
  long done = 0;
  int rc = MES_OK;
  for (long t = 0; t < n_threads; t++) {
    pthread_join(th[t], NULL);
    done += ws[t].n;
    if (ws[t].rc)
      rc = ws[t].rc;
  }
  double secs = (double)(mes_mono_ns() - t0) / 1e9, cpu = cpu_s() - c0;
  if (rc) {
    fprintf(stderr, "bench_ingest_single: an event failed: %s\n", mes_rc_code(rc));
    return 1;
  }
  printf("{\"events\":%ld,\"seconds\":%.3f,\"events_per_s\":%.0f,\"cpu_us_per_event\":%.1f", done, secs,
         (double)done / secs, cpu / (double)done * 1e6);
  if (want_map) { /* how often a look-up found its stripe held by another thread */
    struct mes_subjmap_stats ms;
    mes_subjects_hint_stats(sj, &ms);
    printf(",\"map_hits\":%llu,\"map_misses\":%llu,\"map_contended\":%llu", (unsigned long long)ms.hits,
           (unsigned long long)ms.misses, (unsigned long long)ms.contended);
  }
  printf("}\n");
  free(ws);
  free(th);
  mes_ingester_free(ing);
  mes_ledger_free(lg);
  mes_subjects_free(sj);
  mes_store_close(st);
  mes_master_free(master);
  mes_policy_free(pol);
  return 0;
}
