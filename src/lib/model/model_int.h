/*
 * model_int — private to src/lib/model/: the training data in memory, the
 * pieces a training run produces, and the blob format that carries them.
 *
 * A training run goes collect.c (stored events -> compact arrays) ->
 * pop.c (popularity, trending) -> cooc.c (bought / viewed together) ->
 * ease.c (EASE, when chosen) -> blob.c (one versioned byte string) ->
 * model.c (a model is a parsed blob: the arrays point into it, so a model
 * loaded from the store and one just trained are the same thing).
 */
#ifndef MES_MODEL_INT_H
#define MES_MODEL_INT_H

#include <stdatomic.h>

#include "base/htab.h"
#include "ingest/ingest.h"
#include "model/model.h"

/* Items are at most 2^29 (an event packs its kind in the top 3 bits). */
#define MES__MAX_ITEMS (1u << 29)
#define MES__KIND_SHIFT 29
#define MES__ITEM_MASK ((1u << MES__KIND_SHIFT) - 1)

/* How the relations were learnt (the blob's and meta's "kind"). */
enum mes__built_kind { MES__BUILT_POPULAR = 0, MES__BUILT_COOC, MES__BUILT_EASE, MES__BUILT_N };
const char *mes__built_kind_name(int k);

/* One event, 12 bytes: dense subject index, item index | kind << 29, and
 * seconds since 1970 (unsigned 32 bits: until 2106). */
struct mes__ev {
  uint32_t subj;
  uint32_t ik;
  uint32_t ts;
};

/* Training data: the events that count, interned. */
struct mes__data {
  struct mes__ev *ev; /* n_ev, by subject then time once mes__by_subject ran */
  size_t n_ev, cap_ev;
  uint32_t *subj_off; /* n_subj + 1, after mes__by_subject */
  size_t n_subj;
  /* Item ids: NUL-terminated strings in one arena; id_off[i] is where id i
   * starts (n_items + 1 entries, the last the arena's length). */
  char *ids;
  size_t ids_len, ids_cap;
  uint32_t *id_off;
  size_t n_items, cap_items;
  struct mes_htab ihash; /* an item id's tag -> index + 1 */
  int64_t ts_min_ms, ts_max_ms;
  int64_t scan_ms; /* time spent reading and unsealing */
  struct mes_ingest_scan_stats scan;
};

/* collect.c */
int mes__collect(struct mes_ingester *ing, const struct mes_req *c, const struct mes_log *log, struct mes__data *d,
                 struct mes_err *err);
/* Adds one event (used by collect and by the benchmarks/tests that build
 * data without a store). item of len bytes. MES_ENOMEM, MES_EOUT_OF_RANGE. */
int mes__data_add(struct mes__data *d, uint32_t subj, const char *item, size_t len, enum mes_kind k, int64_t ts_ms);
/* Groups events by subject, each subject's by time (fills subj_off). */
int mes__by_subject(struct mes__data *d);
void mes__data_release(struct mes__data *d);

/* kind.c: the default weights of event kinds in a personal score. */
void mes__kind_weights_default(float w[MES_KIND_N]);

/* Time decay 2^(-age / half_life); ages below 0 count as 0. */
static inline double mes__decay(double now_s, double ts_s, double half_life_s) {
  double age = now_s - ts_s;
  return age <= 0 || half_life_s <= 0 ? 1.0 : __builtin_exp2(-age / half_life_s);
}

/* pop.c: pop/trend (n_items each, in [0, 1]) and the two orders. */
int mes__popularity(const struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
                    int64_t now_ms, float *pop, float *trend, uint32_t *top_pop, uint32_t *top_trend);

/* A sparse item x item relation: row i is nb[off[i] .. off[i+1]), sorted by
 * weight, largest first. */
struct mes__csr {
  uint32_t *off; /* n_items + 1 */
  struct mes_nbr *nb;
  size_t n_nb;
};
void mes__csr_release(struct mes__csr *r);

/* topk.c: keeps the k largest of n (item, weight) pairs with weight > 0,
 * sorted largest first (ties: smaller item first). Returns how many. */
size_t mes__topk(const uint32_t *items, const float *w, size_t n, size_t k, struct mes_nbr *out);
/* Rows built in parallel: fn(ctx, row, out) fills at most k neighbours of
 * row and returns how many, or -1 on failure. Runs on `threads` threads. */
typedef long (*mes__row_fn)(void *ctx, int worker, uint32_t row, struct mes_nbr *out);
int mes__rows_parallel(size_t n_rows, size_t k, int threads, mes__row_fn fn, void *ctx, struct mes__csr *out);

/* cooc.c: bought-together (rel MES_REL_BOUGHT) or viewed-together
 * (MES_REL_VIEWED) from d (grouped by subject). */
int mes__cooc(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel, int64_t now_ms,
              struct mes__csr *out, struct mes_err *err);
/* The window of bought-together, in seconds (see cooc.c for why). */
#define MES__BOUGHT_WINDOW_S (30.0 * 86400.0)

/* ease.c */
/* Bytes EASE needs for n items (the Gram matrix dominates). */
size_t mes__ease_bytes(size_t n);
/* EASE over the items `items` (n of them, indexes into d; the most popular),
 * sparsified to max_neighbors per row, as a relation over all of d's items. */
int mes__ease(const struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
              int64_t now_ms, const uint32_t *items, size_t n, struct mes__csr *out, struct mes_err *err);
/* The solve alone (for the benchmark): g is n x n symmetric positive
 * definite (g + lambda I already), replaced by EASE's B with the diagonal 0,
 * both triangles. MES_EINTERNAL when LAPACK fails. */
int mes__ease_solve(float *g, size_t n, struct mes_err *err);

/* blob.c: what a model is made of, before it is a blob. Borrowed. */
struct mes__parts {
  int kind; /* enum mes__built_kind */
  size_t n_items;
  const char *ids;        /* arena of NUL-terminated ids */
  const uint32_t *id_off; /* n_items + 1 */
  const float *pop, *trend;
  const uint32_t *top_pop, *top_trend;
  float kw[MES_KIND_N];
  struct mes__csr rel[MES_REL_N]; /* off may be NULL: an empty relation */
  const char *meta;               /* JSON text */
};
/* *out is new (malloc), *len its size. */
int mes__blob_write(const struct mes__parts *p, uint8_t **out, size_t *len, struct mes_err *err);

struct mes_model {
  atomic_int refs;
  int64_t id;
  uint8_t *blob; /* owned: the arrays below point into it */
  size_t blob_len;
  json_t *meta;  /* owned: what the blob's meta says */
  int kind;
  uint32_t n_items;
  const uint32_t *id_off;
  const char *ids;
  const float *pop, *trend;
  const uint32_t *top_pop, *top_trend;
  float kw[MES_KIND_N];
  const uint32_t *nb_off[MES_REL_N];
  const struct mes_nbr *nb[MES_REL_N];
  float unit[MES_REL_N]; /* mes_model_relation_unit, derived at load */
  struct mes_htab ids_ht; /* an item id's tag -> index + 1 */
};

/* Takes blob over (freed on failure too) and makes a model of it, checking
 * everything. MES_ESTORE with a sentence when the blob is corrupt. */
int mes__model_from_blob(uint8_t *blob, size_t len, int64_t id, struct mes_model **out, struct mes_err *err);

#endif
