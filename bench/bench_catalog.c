/*
 * bench_catalog — what one lookup in the in-memory catalog index costs
 * (src/lib/catalog/index.c; bench/README.md, "Catalog index"). Serving calls
 * mes_catalog_lookup a few hundred times per recommendation and
 * mes_catalog_title once per served item.
 *
 * Builds a catalog of N_ITEMS items ("item-I", titles in en and es, 1 to 3 of
 * 24 categories) in a temporary store through the real API (mes_catalog_upsert
 * in batches), builds the index by a first lookup, then times, over the same
 * pre-made random list of ids (so that the loop measures the index, not the
 * making of ids):
 *   hit, miss   single-threaded lookups of ids in / not in the catalog;
 *   mixed       half and half, in random order;
 *   title       single-threaded mes_catalog_title of present ids;
 *   mt          THREADS threads each doing N_LOOKUPS mixed lookups at once:
 *               wall-clock ns per lookup over all threads (throughput) and
 *               the mean per-thread ns per lookup (what one request sees).
 *
 * usage: bench_catalog [N_ITEMS [N_LOOKUPS [THREADS [ROUNDS]]]]
 *        (20000 2000000 4 3); each figure is the best of ROUNDS.
 * Prints one JSON line: {"items", "build_ms", "hit_ns", "miss_ns", "mixed_ns",
 * "title_ns", "threads", "mt_ns", "mt_thread_ns"}.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "policy/policy.h"
#include "store/store.h"
#include "bench_util.h"

#define N_CATS 24
#define BATCH 5000
#define N_KEYS 65536 /* a power of two: the random id list, reused round-robin */



struct key {
  char id[32];
  size_t len;
};

struct bench {
  struct mes_catalog *ix;
  const struct key *keys; /* N_KEYS */
  size_t n_lookups;
  size_t offset; /* where in keys a thread starts */
  size_t found;  /* hits seen: checked against what the keys hold */
  double ns;     /* per lookup */
};

static void *lookups(void *ud) {
  struct bench *b = ud;
  struct mes_catalog_entry e;
  size_t found = 0;
  double t0 = bench_now_ns();
  for (size_t i = 0; i < b->n_lookups; i++) {
    const struct key *k = &b->keys[(b->offset + i) & (N_KEYS - 1)];
    found += mes_catalog_lookup(b->ix, k->id, k->len, &e) == MES_OK;
  }
  b->ns = (bench_now_ns() - t0) / (double)b->n_lookups;
  b->found = found;
  return NULL;
}

static double titles(struct bench *b) {
  char out[64];
  size_t found = 0;
  double t0 = bench_now_ns();
  for (size_t i = 0; i < b->n_lookups; i++) {
    const struct key *k = &b->keys[i & (N_KEYS - 1)];
    found += mes_catalog_title(b->ix, k->id, k->len, MES_LANG_ES, out, sizeof out) == MES_OK;
  }
  double ns = (bench_now_ns() - t0) / (double)b->n_lookups;
  b->found = found;
  return ns;
}

/* Ids of the kind `hit` (in the catalog), `miss` (not), or both at random. */
static void make_keys(struct key *keys, size_t n_items, int kind) {
  for (size_t i = 0; i < N_KEYS; i++) {
    bool hit = kind == 2 ? (bench_rnd() & 1) : kind == 0;
    unsigned long n = (unsigned long)(bench_rnd() % n_items) + (hit ? 0 : n_items);
    keys[i].len = (size_t)snprintf(keys[i].id, sizeof keys[i].id, "item-%lu", n);
  }
}

static size_t hits_in(const struct key *keys, size_t n_items, size_t n_lookups, size_t offset) {
  size_t n = 0;
  for (size_t i = 0; i < n_lookups; i++)
    n += strtoul(keys[(offset + i) & (N_KEYS - 1)].id + 5, NULL, 10) < n_items;
  return n;
}

/* Through the catalog whose index is measured: not built yet, so the writes
 * leave it alone, and the first lookup builds it. */
static int fill_catalog(struct mes_catalog *cat, const struct mes_policy *pol, size_t n_items) {
  struct mes_req c = {.policy = pol, .now_ms = 1795208645000LL, .actor = "bench"};
  for (size_t base = 0; base < n_items; base += BATCH) {
    json_t *items = json_array();
    for (size_t i = base; i < n_items && i < base + BATCH; i++) {
      char id[32], en[48], es[48];
      snprintf(id, sizeof id, "item-%zu", i);
      snprintf(en, sizeof en, "Item number %zu", i);
      snprintf(es, sizeof es, "Artículo número %zu", i);
      json_t *cats = json_array();
      size_t nc = 1 + bench_rnd() % 3;
      for (size_t k = 0; k < nc; k++)
        json_array_append_new(cats, json_sprintf("c%02d", (int)((i + k * 7) % N_CATS)));
      json_array_append_new(items, json_pack("{s:s, s:{s:s, s:s}, s:o, s:b}", "id", id, "title", "en", en, "es", es,
                                             "categories", cats, "available", i % 50 != 0));
    }
    json_t *errors = json_array();
    size_t n = 0;
    struct mes_err err;
    mes_err_clear(&err);
    int rc = mes_catalog_upsert(cat, &c, items, "/items", base, errors, &n, &err);
    if (!rc && json_array_size(errors)) {
      char *s = json_dumps(errors, JSON_COMPACT);
      fprintf(stderr, "bench_catalog: items refused: %.300s\n", s ? s : "");
      free(s);
      rc = MES_EINVALID_VALUE;
    }
    json_decref(items);
    json_decref(errors);
    if (rc)
      return rc;
  }
  return MES_OK;
}

static double min2(double a, double b) { return a < b ? a : b; }

int main(int argc, char **argv) {
  size_t n_items = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
  size_t n_lookups = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000000;
  size_t n_threads = argc > 3 ? strtoul(argv[3], NULL, 10) : 4;
  int rounds = argc > 4 ? (int)strtol(argv[4], NULL, 10) : 3;
  if (!n_items || !n_lookups || !n_threads || n_threads > 64 || rounds < 1) {
    fprintf(stderr, "usage: bench_catalog [N_ITEMS [N_LOOKUPS [THREADS [ROUNDS]]]]\n");
    return 2;
  }

  char yaml[2048];
  size_t off = (size_t)snprintf(yaml, sizeof yaml, "purposes:\n  personalization: {}\n"
                                                   "event_types:\n  view: {purposes: [personalization], retention_days: 10}\n"
                                                   "categories:\n");
  for (int i = 0; i < N_CATS; i++)
    off += (size_t)snprintf(yaml + off, sizeof yaml - off, "  c%02d: {}\n", i);
  char dir[] = "/tmp/mes-bench-catalog-XXXXXX";
  struct mes_policy *pol = NULL;
  struct mes_store *st = NULL;
  struct mes_catalog *ix = NULL;
  struct key *keys[3] = {calloc(N_KEYS, sizeof(struct key)), calloc(N_KEYS, sizeof(struct key)),
                         calloc(N_KEYS, sizeof(struct key))};
  struct mes_err err;
  mes_err_clear(&err);
  int rc = MES_ENOMEM;
  bool made_dir = false;
  if (!keys[0] || !keys[1] || !keys[2] || !(made_dir = mkdtemp(dir) != NULL))
    goto out;
  if ((rc = mes_policy_load_buf("bench.yaml", yaml, off, &pol, &err)) ||
      (rc = mes_store_open(dir, MES_STORE_SQLITE, true, &st, &err)) || (rc = mes_catalog_new(st, &ix)) ||
      (rc = fill_catalog(ix, pol, n_items)))
    goto out;
  for (int k = 0; k < 3; k++)
    make_keys(keys[k], n_items, k);

  struct mes_catalog_entry e;
  double t0 = bench_now_ns();
  if (mes_catalog_size(ix) != 0) { /* the writes left it unbuilt */
    rc = MES_ESTORE;
    goto out;
  }
  if ((rc = mes_catalog_lookup(ix, "item-0", 6, &e)))
    goto out;
  double build_ms = (bench_now_ns() - t0) / 1e6;
  if (mes_catalog_size(ix) != n_items) {
    fprintf(stderr, "bench_catalog: index holds %zu items, not %zu\n", mes_catalog_size(ix), n_items);
    rc = MES_ESTORE;
    goto out;
  }

  double best[4] = {1e18, 1e18, 1e18, 1e18}, mt = 1e18, mt_thread = 1e18;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < 3; k++) {
      struct bench b = {.ix = ix, .keys = keys[k], .n_lookups = n_lookups};
      lookups(&b);
      if (b.found != hits_in(keys[k], n_items, n_lookups, 0)) {
        fprintf(stderr, "bench_catalog: %zu hits, expected %zu\n", b.found, hits_in(keys[k], n_items, n_lookups, 0));
        rc = MES_ESTORE;
        goto out;
      }
      best[k] = min2(best[k], b.ns);
    }
    struct bench tb = {.ix = ix, .keys = keys[0], .n_lookups = n_lookups};
    best[3] = min2(best[3], titles(&tb));

    struct bench tbs[64];
    pthread_t th[64];
    size_t started = 0;
    t0 = bench_now_ns();
    for (; started < n_threads; started++) {
      tbs[started] =
          (struct bench){.ix = ix, .keys = keys[2], .n_lookups = n_lookups, .offset = started * (N_KEYS / n_threads)};
      if (pthread_create(&th[started], NULL, lookups, &tbs[started]))
        break;
    }
    double sum = 0;
    for (size_t i = 0; i < started; i++) {
      pthread_join(th[i], NULL);
      sum += tbs[i].ns;
    }
    double wall = bench_now_ns() - t0;
    if (started < n_threads) {
      rc = MES_ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < started; i++) {
      if (tbs[i].found != hits_in(keys[2], n_items, n_lookups, tbs[i].offset)) {
        fprintf(stderr, "bench_catalog: thread %zu saw wrong hits\n", i);
        rc = MES_ESTORE;
        goto out;
      }
    }
    mt = min2(mt, wall / (double)(n_lookups * n_threads));
    mt_thread = min2(mt_thread, sum / (double)n_threads);
  }
  printf("{\"items\": %zu, \"build_ms\": %.1f, \"hit_ns\": %.1f, \"miss_ns\": %.1f, \"mixed_ns\": %.1f, "
         "\"title_ns\": %.1f, \"threads\": %zu, \"mt_ns\": %.1f, \"mt_thread_ns\": %.1f}\n",
         n_items, build_ms, best[0], best[1], best[2], best[3], n_threads, mt, mt_thread);
  rc = MES_OK;
out:
  if (rc)
    fprintf(stderr, "bench_catalog: failed (%d) %s\n", rc, err.msg[0] ? err.msg : "");
  mes_catalog_free(ix);
  mes_store_close(st);
  mes_policy_free(pol);
  if (made_dir)
    bench_remove_dir(dir); /* after the store closed its files */
  for (int k = 0; k < 3; k++)
    free(keys[k]);
  return rc ? 1 : 0;
}
