/*
 * model/unlearn_int — private to the unlearning files: what a model keeps
 * for exact unlearning (struct mes__unlearn) and the pieces its steps share.
 *
 *   unlearn.c        the kept state (built at training), the entry points
 *                    and the steps of one forgetting, EASE's update included;
 *   unlearn_cooc.c   a co-occurrence relation without the forgotten events:
 *                    the person's share taken off the kept counts, and the
 *                    decision of each row's new top k (kept rows, recounts);
 *   unlearn_build.c  the new model built from the old one and the changed
 *                    rows (the blob, the item numbering, popularity's order).
 */
#ifndef MES_MODEL_UNLEARN_INT_H
#define MES_MODEL_UNLEARN_INT_H

#include "model/model_int.h"


#define NONE UINT32_MAX
#define MAX_THREADS 16

struct mes__unlearn {
  struct mes_model_params p;
  int64_t now_ms;
  float kw[MES_KIND_N], kw_rel[MES_KIND_N];
  int kind;                 /* enum mes__built_kind trained */
  struct mes__data d;       /* the training data, state numbering */
  uint8_t *dead;            /* a bit per event of d: forgotten */
  uint32_t *ev_off, *ev_inv; /* item -> its positions in d.ev, in order */
  mes__mass *lo, *sh;       /* popularity masses */
  struct mes__cooc_index rel[2]; /* MES_REL_BOUGHT, MES_REL_VIEWED (empty for popular) */
  struct mes__cooc_kept kept[2]; /* their kept rows (cooc.c) */
  struct mes__cooc_scratch *sc[MAX_THREADS]; /* n_sc of them: recounting rows */
  int n_sc;
  double *P;                /* EASE inverse, n_ease²; NULL when not kept */
  size_t n_ease;
  uint32_t *ease_items;     /* EASE index -> state item */
  int32_t *eidx;            /* state item -> EASE index, -1 */
  bool ease_partial;        /* EASE covers only the most popular items */
  uint32_t *to_model;       /* state item -> item of the current model, NONE when gone */
  uint32_t *from_model;     /* item of the current model -> state item */
  size_t n_model;
  size_t n_live_subj;       /* people with a counted event left */
  size_t n_live_ev;         /* events left */
};

static inline int kind_of(const struct mes__ev *e) { return (int)(e->ik >> MES__KIND_SHIFT); }
static inline uint32_t item_of(const struct mes__ev *e) { return e->ik & MES__ITEM_MASK; }
/* Event e still counts (training kept only kinds that count). */
static inline bool live(const struct mes__unlearn *u, size_t e) { return !(u->dead[e / 8] >> (e % 8) & 1u); }
static inline bool in_rel(enum mes_rel rel, int k) {
  return rel == MES_REL_BOUGHT ? k == MES_KIND_PURCHASE || k == MES_KIND_CART
                               : k == MES_KIND_VIEW || k == MES_KIND_CLICK;
}


/* A growable array of neighbours. */
struct nbuf {
  struct mes_nbr *v;
  size_t n, cap;
};
/* Room for `more` entries beyond b->n. MES_ENOMEM. */
int mes__nbuf_room(struct nbuf *b, size_t more);

/* A relation's rows that change, in state numbering: slot[item] is the row's
 * index in rows (NONE: the old row stands), rows[r] = nb[at[r] .. at[r+1]). */
struct changed {
  uint32_t *slot;
  struct nbuf nb;
  size_t *at, n_rows, cap_rows;
};
/* Row `item` becomes v (n neighbours, copied). MES_ENOMEM. */
int mes__changed_add(struct changed *c, uint32_t item, const struct mes_nbr *v, size_t n);
void mes__changed_release(struct changed *c);

/* The neighbours of state item s in the current model m, in state numbering,
 * into b (appended). MES_ENOMEM. */
int mes__old_row(const struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel, uint32_t s,
                 struct nbuf *b);

/* unlearn_cooc.c: relation c (rel, whose kept rows are `kept`) without the
 * events of subject s just marked forgotten (q_dead: their positions in c,
 * n_dead; still live in c when called): c's marks, norms and kept rows
 * updated, the rows whose top k changed into ch; *n_decided and
 * *n_recounted count the rows decided from kept counts and counted again. */
int mes__unlearn_cooc(struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel, struct mes__cooc_index *c,
                      struct mes__cooc_kept *kept, uint32_t s, const uint32_t *q_dead, size_t n_dead,
                      struct changed *ch, size_t *n_decided, size_t *n_recounted);

/* unlearn_build.c: the model without the forgotten events, from m and the
 * changed rows ch[2] (BOUGHT, VIEWED), EASE's new rows (ease_rows, may be
 * NULL: unchanged) or its relation dropped (ease_dropped); n_forgot events
 * went, items of `moved` changed their popularity masses. *out is new (it
 * may hold a reference to m or to m's base, struct mes_model); it takes
 * over u from m. */
int mes__unlearn_build(struct mes__unlearn *u, struct mes_model *m, struct changed ch[2],
                       const struct mes__csr *ease_rows, bool ease_dropped, size_t n_forgot, const uint8_t *moved,
                       struct mes_model **out, struct mes_err *err);

#endif
