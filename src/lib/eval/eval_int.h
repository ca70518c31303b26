/*
 * eval internals — shared by the files of src/lib/eval only.
 *
 * The pipeline, one file per stage:
 *   data.c   CSV -> interned rows (struct mes_eval_data)
 *   split.c  rows -> unique pairs -> per-user temporal split -> catalogue and
 *            the training view a model sees (struct mes__train)
 *   rank.c   scores -> top 20 under the tie rule -> the section 4 metrics
 *   model_*.c the models behind one table of operations (struct mes__model)
 *   run.c    the protocol: choice on validation, final fit, test figures
 *   part.c   the training part as outside models (struct mes_eval_ranker) see it
 *   convert.c  the public datasets -> the eval CSV
 *
 * Index spaces: "global" user and item indices are those of the interned
 * strings in mes_eval_data; "catalogue" indices number the items of one
 * split's training part in the tie order (popularity descending, then item id
 * bytes ascending), so that the tie rule is simply "smaller index first".
 */
#ifndef MES_EVAL_EVAL_INT_H
#define MES_EVAL_EVAL_INT_H

#include <stdint.h>
#include <stdlib.h>

#include "base/htab.h"
#include "eval/eval.h"

/* malloc / calloc of n elements of `size` bytes: never asks for 0 bytes (so
 * NULL always means out of memory) and fails on overflow. */
static inline void *mes__alloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size)
    return NULL;
  return malloc(n ? n * size : 1);
}
static inline void *mes__zalloc(size_t n, size_t size) { return calloc(n ? n : 1, size); }

/* ---- Interned strings ---------------------------------------------------- */

/* Strings stored back to back in one pool, looked up through an open-addressing
 * base/htab. Indices are dense, in first-seen order. */
struct mes__strtab {
  char *pool; /* owned; every string NUL-terminated */
  size_t pool_len, pool_cap;
  size_t *off; /* owned; n entries, offset of string i in pool */
  uint32_t *len;
  size_t n, cap;
  struct mes_htab by_id; /* tag of the string -> index + 1 */
};

void mes__strtab_init(struct mes__strtab *t);
void mes__strtab_release(struct mes__strtab *t);
/* Index of s[0..len), adding it when new. MES_ENOMEM. */
int mes__strtab_intern(struct mes__strtab *t, const char *s, size_t len, uint32_t *idx);
/* Index of s[0..len), or -1 when absent. Never adds. */
int64_t mes__strtab_find(const struct mes__strtab *t, const char *s, size_t len);
static inline const char *mes__strtab_get(const struct mes__strtab *t, uint32_t i) { return t->pool + t->off[i]; }

/* A decimal number -?digits(.digits)? (no exponent, no spaces): unix seconds,
 * star ratings. 0, or -1 when s[0..len) is not one. */
int mes__parse_decimal(const char *s, size_t len, double *out);

/* ---- Rows read from the CSV --------------------------------------------- */

struct mes_eval_data {
  struct mes__strtab subjects, items;
  size_t n_rows, cap_rows;
  uint32_t *user, *item; /* owned; n_rows each, global indices */
  double *ts;            /* owned; unix seconds */
  uint8_t *purchase;     /* owned; 1 when the type is a purchase */
  uint32_t *item_rank;   /* owned; per item, its rank in byte order of the id */
  bool any_purchase, any_other;
  size_t n_no_subject; /* rows discarded for an empty subject */
};

/* ---- Split --------------------------------------------------------------- */

/* Per-user lists in CSR form: the items of user u are item[off[u] .. off[u+1]). */
struct mes__lists {
  size_t n_users;
  size_t *off;   /* owned; n_users + 1 */
  uint32_t *item; /* owned */
  double *ts;     /* owned; per pair its (earliest) unix seconds, for outside
                     models that replay the interactions (mes_eval_ranker) */
};

void mes__lists_release(struct mes__lists *l);

/*
 * Section 1: keeps the rows wanted (all, or purchases only), collapses
 * repeated (user, item) pairs to the earliest timestamp, applies the
 * large-catalogue item filter, and orders each user's pairs by (ts, item id
 * bytes). Fills *out (global indices) and the first split statistics.
 */
int mes__pairs_make(const struct mes_eval_data *d, bool purchases_only, struct mes__lists *out,
                    struct mes_eval_split_stats *st, struct mes_err *err);

/* Section 2 on ordered lists: the last max(1, round(0.2 n)) of each user with
 * n >= 5 go to test; test pairs with an unseen item, or also in training, are
 * dropped. `train` keeps the temporal order; `test` holds the kept pairs;
 * both carry the pairs' timestamps. */
int mes__split_make(const struct mes__lists *in, size_t n_items, struct mes__lists *train, struct mes__lists *test,
                    struct mes_eval_split_stats *st, struct mes_err *err);

/* What a model trains on: the binary user x catalogue matrix X, as lists. */
struct mes__train {
  size_t n_users; /* global user count; users without training rows have empty lists */
  size_t n_items; /* catalogue size */
  size_t nnz;
  size_t *off;       /* owned; n_users + 1 */
  uint32_t *item;    /* owned; catalogue indices, each user's in temporal order */
  double *pop;       /* owned; per catalogue item, training users who have it */
  uint32_t *global;  /* owned; catalogue index -> global item index */
  uint32_t *cat;     /* owned; global item index -> catalogue index, UINT32_MAX if absent */
  size_t n_global;   /* global item count */
  uint32_t *active;  /* owned; the users with at least one training item, ascending */
  size_t n_active;
};

/* Builds the catalogue (tie order) and X from training lists. */
int mes__train_make(const struct mes__lists *train, size_t n_items, const uint32_t *item_rank, struct mes__train *t,
                    struct mes_err *err);
void mes__train_release(struct mes__train *t);

/* Fills rows of a dense profile block Q (n x t->n_items, row-major): Q(r, i)
 * is 1 when item i is in the training history of users[r], else 0. */
void mes__profile(const struct mes__train *t, const uint32_t *users, size_t n, double *q);

/* ---- Ranking and metrics ------------------------------------------------- */

#define MES__TOP 20

/* Best MES__TOP catalogue indices of `scores` (n_items) by score descending,
 * then index ascending, skipping items with excluded[i] == stamp. Returns how
 * many were written to top (fewer when the catalogue is small). */
size_t mes__rank_top(const double *scores, size_t n_items, const uint32_t *excluded, uint32_t stamp, uint32_t *top);

/* Running sums of section 4 over evaluated users. */
struct mes__acc {
  size_t n_users;
  double recall10, recall20, ndcg10, mrr10;
  double pop_slots; /* sum of pop over top-10 slots */
  size_t n_slots;
  uint8_t *seen10; /* owned; per catalogue item: in some top 10 */
  size_t n_items;
};

int mes__acc_init(struct mes__acc *a, size_t n_items);
void mes__acc_release(struct mes__acc *a);
/* Adds one user: `top` (n_top items), the relevant items marked with
 * relevant[i] == stamp, n_relevant of them. */
void mes__acc_add(struct mes__acc *a, const uint32_t *top, size_t n_top, const uint32_t *relevant, uint32_t stamp,
                  size_t n_relevant, const double *pop);
void mes__acc_finish(const struct mes__acc *a, const double *pop, struct mes_eval_metrics *m);

/* ---- The validation part (run.c) ----------------------------------------- */

/* Section 5's split of the training part: sub-training and validation lists
 * (split by the same rule as train/test) and the sub-training view. */
struct mes__valid {
  struct mes__lists sub, valid;
  struct mes__train t;
  struct mes_eval_split_stats vs;
};
/* Makes *v from `train` and logs its sizes; on failure nothing is held. */
int mes__valid_make(const struct mes_eval_data *d, const struct mes__lists *train, const struct mes_eval_opts *o,
                    struct mes__valid *v, struct mes_err *err);
void mes__valid_release(struct mes__valid *v);

/* ---- Outside models (part.c) --------------------------------------------- */

/* Fits rk on `train`, ranks every user with test items in `test` through it
 * and averages section 4 over them into out->test; fills out->fit_s, the
 * settings and the candidate-rule counts. t is the training view (catalogue,
 * popularity) of `train`. */
int mes__run_ranker(const struct mes_eval_data *d, const struct mes_eval_ranker *rk, const struct mes__lists *train,
                    const struct mes__train *t, const struct mes__lists *test, const struct mes_eval_opts *o,
                    struct mes_eval_result *out, struct mes_err *err);

/* ---- Models -------------------------------------------------------------- */

/*
 * One row per model. Training depends on the first n_fit_hp hyperparameters;
 * the others only change scoring, so a grid walk refits only when those
 * change. Grids list points row by row (n_grid x n_hp values), training
 * hyperparameters major.
 */
struct mes__model {
  const char *name;
  size_t n_hp, n_fit_hp;
  const char *hp_name[MES_EVAL_MAX_HP];
  size_t n_grid;
  const double *grid;
  /* New state in *state for training view t (borrowed, outlives the state). */
  int (*fit)(const struct mes__train *t, const double *hp, enum mes_eval_solver solver, void **state,
             struct mes_err *err);
  /* Scores of users[0..n) for every catalogue item into out (n x n_items). */
  int (*score)(void *state, const struct mes__train *t, const double *hp, const uint32_t *users, size_t n,
               double *out, struct mes_err *err);
  void (*free)(void *state);
};

extern const struct mes__model mes__model_popular;
extern const struct mes__model mes__model_itemknn;
extern const struct mes__model mes__model_rp3beta;
extern const struct mes__model mes__model_ease;

/* EASE (model_ease.c). */
int mes__ease_fit(const struct mes__train *t, double lambda, enum mes_eval_solver solver, void **state,
                  struct mes_err *err);
int mes__ease_score(void *state, const struct mes__train *t, const double *q, size_t n, double *out,
                    struct mes_err *err);
void mes__ease_free(void *state);

/* XᵀX of the training view into g (n_items², row-major, both triangles
 * filled), through dsyrk over blocks of users (model_knn.c). */
int mes__gram_items(const struct mes__train *t, double *g, struct mes_err *err);

#endif
