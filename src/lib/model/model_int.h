/*
 * model_int — private to src/lib/model/: the training data in memory, the
 * pieces a training run produces, and the blob format that carries them.
 *
 * A training run goes collect.c (stored events -> compact arrays) ->
 * pop.c (popularity, trending) -> cooc.c (bought / viewed together) ->
 * ease.c (EASE, when chosen) -> blob.c (one versioned byte string) ->
 * model.c (a model is a parsed blob: the arrays point into it, so a model
 * loaded from the store and one just trained are the same thing; only a
 * model just trained also holds what unlearn.c needs, never saved).
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
  /* Store subject id of each dense subject index (n_subj of them; NULL for
   * data built without a store, where the index is the id). */
  int64_t *sid;
  size_t cap_sid;
};

/* collect.c */
int mes__collect(struct mes_ingester *ing, const struct mes_req *c, const struct mes_log *log, struct mes__data *d,
                 struct mes_err *err);
/* Adds one event (used by collect and by the benchmarks/tests that build
 * data without a store). item of len bytes. MES_ENOMEM, MES_EOUT_OF_RANGE. */
int mes__data_add(struct mes__data *d, uint32_t subj, const char *item, size_t len, enum mes_kind k, int64_t ts_ms);
/* Numbers items by id (bytes, then length) and subjects by store id, so that
 * two training runs over data that differ by one person number everyone
 * else alike, in the same order: ties (broken by the smaller index) then
 * break alike too, which exact unlearning relies on. Call before
 * mes__by_subject. MES_ENOMEM. */
int mes__canonical(struct mes__data *d);
/* Groups events by subject, each subject's by time (fills subj_off). */
int mes__by_subject(struct mes__data *d);
void mes__data_release(struct mes__data *d);

/* kind.c: the default weights of event kinds in a personal score. */
void mes__kind_weights_default(float w[MES_KIND_N]);
/* The weights a training uses: p->kind_weights, with the kinds that never
 * count at 0 and anything outside [0, 1e6) (NaN included) at its default. */
void mes__kind_weights_from(const struct mes_model_params *p, float w[MES_KIND_N]);

/* Time decay 2^(-age / half_life); ages below 0 count as 0. */
static inline double mes__decay(double now_s, double ts_s, double half_life_s) {
  double age = now_s - ts_s;
  return age <= 0 || half_life_s <= 0 ? 1.0 : __builtin_exp2(-age / half_life_s);
}

/* pop.c: pop/trend (n_items each, in [0, 1]) and the two orders. */
/* An item's decayed interaction mass, summed in fixed point (2^-40 units,
 * each event's share truncated; a share is below 2^60, its kind's weight
 * being below 1e6): exact whatever the order, so that unlearning takes an
 * event's share off and gets the bits of a sum without it. */
__extension__ typedef __int128 mes__mass;
static inline double mes__mass_value(mes__mass m) { return (double)m * (1.0 / (double)(1ull << 40)); }
/* The two decayed masses of one event, added to (sign 1) or taken from
 * (sign -1) its item's lo and sh. */
void mes__pop_add(const struct mes__ev *e, const struct mes_model_params *p, const float kw[MES_KIND_N],
                  int64_t now_ms, mes__mass *lo, mes__mass *sh, int sign);
/* From the masses of n items to pop/trend and the orders (see pop.c). */
int mes__pop_finish(size_t n, const struct mes_model_params *p, const double *lo, const double *sh, float *pop,
                    float *trend, uint32_t *top_pop, uint32_t *top_trend);
/* The same, given the orders as they were for most items (hint_pop,
 * hint_trend: n_hint items each, leaving out those whose masses moved): the
 * orders are then merged rather than sorted, the same result. */
int mes__pop_finish_hinted(size_t n, const struct mes_model_params *p, const double *lo, const double *sh,
                           float *pop, float *trend, uint32_t *top_pop, uint32_t *top_trend, const uint32_t *hint_pop,
                           const uint32_t *hint_trend, size_t n_hint);
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
/* One event of a relation. s == 0 marks an event forgotten since training:
 * it counts for nothing, not even for the span of its neighbours. */
struct mes__rev {
  uint32_t item;
  uint32_t ts;
  float s;   /* strength of the kind */
  float dec; /* time decay of the event */
};
/* A relation's events indexed for counting rows: kept by a model that can
 * unlearn, so that a row is recounted exactly as training counted it. */
struct mes__cooc_index {
  size_t n_items, n, n_subj;
  struct mes__rev *r; /* n events of the relation, by subject then time */
  uint32_t *r_subj;   /* subject of each */
  uint32_t *s_off;    /* n_subj + 1 offsets into r */
  uint32_t *inv_off;  /* n_items + 1 offsets into inv */
  uint32_t *inv;      /* positions in r, grouped by item, in order */
  int64_t *norm;      /* N(item), fixed point (mes__fix) */
  double window_s;
};
/* Evidence in [0, 1] as an integer count of 2^-MES__FIX_SHIFT units
 * (truncated): sums of them are exact and do not depend on their order.
 * With 2^27 people at most 1 each, a sum stays below 2^63. */
#define MES__FIX_SHIFT 36
static inline int64_t mes__fix(float v) { return v > 0 ? (int64_t)((double)v * (double)(1ull << MES__FIX_SHIFT)) : 0; }
/* What a model that can unlearn keeps of each row of a co-occurrence
 * relation, so that removing a person rarely needs the row counted again
 * (unlearn_cooc.c): the row's `cap` heaviest neighbours (max_neighbors and the
 * margin beyond them), best first, with their pair counts C(a, b), and a
 * bound that no neighbour left out weighs more than (0: none was left out).
 * 12 bytes a kept neighbour. */
struct mes__cooc_kept {
  size_t n_items, cap;
  uint32_t *item; /* n_items x cap: row a's at a * cap, len[a] of them */
  int64_t *c;     /* their C(a, b), fixed point */
  uint32_t *len;
  float *bound;
};
int mes__cooc_kept_init(struct mes__cooc_kept *k, size_t n_items, size_t cap);
void mes__cooc_kept_release(struct mes__cooc_kept *k);
int mes__cooc_index_build(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel,
                          int64_t now_ms, struct mes__cooc_index *c);
void mes__cooc_index_release(struct mes__cooc_index *c);
/* N(x), counted again from the index (as training counted it). */
int64_t mes__cooc_norm(const struct mes__cooc_index *c, uint32_t x);
/* Dense per-row scratch for mes__cooc_counts (one per thread). */
struct mes__cooc_scratch;
struct mes__cooc_scratch *mes__cooc_scratch_new(size_t n_items);
void mes__cooc_scratch_free(struct mes__cooc_scratch *sc);
/* Row a's pair counts: *items and *cab (borrowed from sc, valid until its
 * next use) receive the n returned items that co-occur with a and C(a, b). */
size_t mes__cooc_counts(const struct mes__cooc_index *c, struct mes__cooc_scratch *sc, uint32_t a,
                        const uint32_t **items, const int64_t **cab);
/* The weight of b in row a, from C(a, b) and the norms (see cooc.c); 0 when
 * either is 0. Symmetric in a and b. */
float mes__cooc_weight(const struct mes__cooc_index *c, uint32_t a, uint32_t b, int64_t cab);
/* Row a counted in full: its k heaviest neighbours into out (returned:
 * how many), and, kept non-NULL, its kept neighbours and bound (kept->cap of
 * them, kept->cap >= k) into kept's row a. */
size_t mes__cooc_kept_row(const struct mes__cooc_index *c, struct mes__cooc_scratch *sc, uint32_t a, size_t k,
                          struct mes__cooc_kept *kept, struct mes_nbr *out);
/* The relation's rows into out. keep_index non-NULL: the index counted is
 * handed over (new) rather than released; kept non-NULL: every row's kept
 * neighbours too (max_neighbors + p->unlearn_margin of them, new). */
int mes__cooc(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel, int64_t now_ms,
              struct mes__csr *out, struct mes__cooc_index *keep_index, struct mes__cooc_kept *kept,
              struct mes_err *err);
/* How many of a person's events on either side of an event it pairs with
 * (see cooc.c). */
#define MES__COOC_SPAN 32
/* The window of bought-together, in seconds (see cooc.c for why). */
#define MES__BOUGHT_WINDOW_S (30.0 * 86400.0)

/* ease.c */
/* Bytes EASE needs for n items (the Gram matrix dominates). */
size_t mes__ease_bytes(size_t n);
/* Bytes EASE needs for n items when the model keeps its inverse for
 * unlearning (in double precision: see ease.c). */
size_t mes__ease_keep_bytes(size_t n);
/* EASE over the items `items` (n of them, indexes into d; the most popular),
 * sparsified to max_neighbors per row, as a relation over all of d's items.
 * keep_p NULL: solved in single precision. Else solved in double precision
 * and *keep_p receives the inverse P = (XᵀX + λI)⁻¹ (new, n x n). */
int mes__ease(const struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
              int64_t now_ms, const uint32_t *items, size_t n, struct mes__csr *out, double **keep_p,
              struct mes_err *err);
/* A person's EASE value of one event: the kind's weight relative to a
 * purchase (kw_rel, see mes__ease_kw), times the relation's time decay. The
 * person's x for an item is the largest value of its events. */
static inline float mes__ease_value(const float kw_rel[MES_KIND_N], double now_s, double hl_s,
                                    const struct mes__ev *e) {
  return kw_rel[e->ik >> MES__KIND_SHIFT] * (float)mes__decay(now_s, e->ts, hl_s);
}
void mes__ease_kw(const float kw[MES_KIND_N], float kw_rel[MES_KIND_N]);
/* The rows of B = -P(i,j) / P(j,j) (diagonal 0) over the n EASE items, their
 * k heaviest positive weights each, on `threads` threads. skip (may be NULL)
 * marks EASE indexes that must appear in no row. Rows over EASE indexes;
 * neighbour items are items[j]. */
int mes__ease_rows(const double *P, size_t n, const uint32_t *items, const uint8_t *skip, size_t k, int threads,
                   struct mes__csr *out);
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
/* The blob's checksum of n bytes (see blob.c). */
uint64_t mes__blob_sum(const uint8_t *p, size_t n);
/* *out is new (malloc), *len its size. */
int mes__blob_write(const struct mes__parts *p, uint8_t **out, size_t *len, struct mes_err *err);

/* Rows that stand in for some of a relation's rows (a model made by
 * unlearning, see struct mes_model): slot[i] is row i's index in the
 * overlay, MES__NO_ROW where the base row stands; row r is
 * nb[off[r] .. off[r + 1]). All owned; slot NULL: no overlay. */
#define MES__NO_ROW UINT32_MAX
struct mes__overlay {
  uint32_t *slot; /* n_items */
  uint32_t *off;  /* n_rows + 1 */
  struct mes_nbr *nb;
  size_t n_rows;
};

struct mes_model {
  atomic_int refs;
  /* The store id: set again when the engine saves a model that is already
   * live (requests read it meanwhile). */
  _Atomic int64_t id;
  /* How many erasure journal records a stored model had seen when saved
   * (mes_model_erasures_seen); set at load, before the model is shared. */
  int64_t erasures_seen, forgets_seen;
  /* A model read from a blob owns it (blob) and every array below points
   * into it. A model made by unlearning, when no item left, has no blob of
   * its own (writing one is the save's business, mes__model_blob): it holds
   * a reference to the model whose blob it reads (base, which has no base
   * itself) for the item ids, their lookup and the rows it does not
   * replace, owns its popularity arrays (own_pop .. own_top_trend, what
   * pop .. top_trend point to) and, per relation, an overlay of the rows
   * that changed since base. */
  uint8_t *blob;
  size_t blob_len;
  struct mes_model *base;
  float *own_pop, *own_trend;
  uint32_t *own_top_pop, *own_top_trend;
  struct mes__overlay ov[MES_REL_N];
  json_t *meta;  /* owned: the blob's meta, or the one unlearning made */
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
  /* Owned: each relation's strongest weight of every item (0: no
   * neighbour), n_items a relation: what unit is the median of, kept so
   * that an unlearning updates the changed rows' only. */
  float *top_w;
  struct mes_htab ids_ht; /* an item id's tag -> index + 1 */
  /* What exact unlearning needs (unlearn.c), owned; NULL when the model
   * cannot unlearn (loaded from the store, or trained without it). Queries
   * never touch it; mes_model_unlearn moves it to the model it returns. */
  struct mes__unlearn *ul;
  atomic_size_t ul_bytes; /* what ul takes, for mes_model_memory (which never reads ul) */
};

/* unlearn.c */
struct mes__unlearn;
/* Takes over d (left empty), P (may be NULL: then EASE is not kept), and
 * for a co-occurrence model the two relations' indexes and kept rows
 * (rel_index[2], kept[2]: BOUGHT, VIEWED, as mes__cooc left them; left
 * empty), and builds the rest of what unlearning needs for a model of
 * `kind` trained at now_ms; ease_items are the n_ease items EASE covers
 * (copied). Whatever it took over is freed on failure too. */
int mes__unlearn_new(struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
                     int64_t now_ms, int kind, double *P, const uint32_t *ease_items, size_t n_ease,
                     struct mes__cooc_index rel_index[2], struct mes__cooc_kept kept[2], struct mes__unlearn **out);
void mes__unlearn_free(struct mes__unlearn *u);
size_t mes__unlearn_bytes(const struct mes__unlearn *u);

/* model.c: a model from collected data (everything of mes_model_train after
 * reading the store; d is consumed: taken over by the model or released).
 * log may be NULL. */
int mes__model_build(struct mes__data *d, const struct mes_model_params *p, int64_t now_ms, const struct mes_log *log,
                     struct mes_model **out, struct mes_err *err);

/* blob.c: the median strongest-neighbour weight of each relation into
 * m->unit (mes_model_relation_unit), from m->top_w, which it first fills
 * through mes_model_neighbors when NULL. MES_ENOMEM. */
int mes__model_units(struct mes_model *m);
/* The blob of a model that has none of its own (m->blob NULL), written from
 * its parts: *out is new (malloc), *len its size. */
int mes__model_blob(const struct mes_model *m, uint8_t **out, size_t *len, struct mes_err *err);
void mes__overlay_release(struct mes__overlay *o);

/* Takes blob over (freed on failure too) and makes a model of it, checking
 * everything. MES_ESTORE with a sentence when the blob is corrupt. */
int mes__model_from_blob(uint8_t *blob, size_t len, int64_t id, struct mes_model **out, struct mes_err *err);
/* The same for a blob mes__blob_write has just written in this process
 * (unlearning's new model): the O(size) checks, which guard what comes from
 * the store, are skipped. */
int mes__model_from_own_blob(uint8_t *blob, size_t len, struct mes_model **out, struct mes_err *err);

#endif
