/*
 * model/unlearn — exact unlearning: a person's contribution (or one event's)
 * leaves a trained model, which becomes the model training would have built
 * without it, at once and without a retrain.
 *
 * What a model keeps for it (struct mes__unlearn, built at training):
 *   - the training data itself (12 bytes an event, grouped by person, items
 *     and people numbered canonically: see mes__canonical), with an index
 *     from each item to its events: a forgotten event is marked (its kind
 *     set to one that counts for nothing), never moved;
 *   - each co-occurrence relation's event index (cooc.c), so that a row is
 *     recounted by the very code and in the very order training used, and
 *     each row's kept neighbours: the served k and a margin beyond them,
 *     with their pair counts, and a bound on every other weight (cooc.c,
 *     struct mes__cooc_kept);
 *   - popularity's two masses per item, in fixed point (pop.c).
 *   - for EASE, the inverse P = (XᵀX + λI)⁻¹ in double precision, n² x 8
 *     bytes, when it fits model.max_memory_mb (mes_model_train decides).
 *
 * Removing a person p (or one of their events) then goes:
 *   1. popularity: each forgotten event's share is taken off its item's
 *      masses (fixed point: the bits of a sum without it); the scores are
 *      rescaled and the orders merged (pop.c);
 *   2. co-occurrence, per relation: p's own evidence of each pair and item,
 *      from p's timeline alone, is taken off the kept counts and norms; each
 *      row's new top k is then decided from its kept neighbours where the
 *      bound allows, and the few rows where it does not are counted again
 *      (see "co-occurrence" below);
 *   3. EASE: removing p's row x of X is a rank-1 downdate of the Gram
 *      matrix, G' = G − x xᵀ, and Sherman–Morrison gives its inverse,
 *      P' = P + (P x)(P x)ᵀ / (1 − xᵀ P x), in O(n²); forgetting one event
 *      changes x to x', a downdate by x then an update by x'. Every row of B
 *      is then sparsified again from P' (O(n²) as well). Without a kept P
 *      the EASE relation is dropped instead (the person's contribution is
 *      neutralised, every other list stays exact) and the caller retrains;
 *   4. items that nobody else touched leave the model, and a new model is
 *      built from the parts (a new blob: the old model is never changed;
 *      when no item left, the unchanged rows are copied in runs).
 *
 * Numbering: the kept data stays in training's item numbering ("state
 * items"); each model built from it numbers only the items still present,
 * in the same order (to_model / from_model map the two), so that ties,
 * broken by the smaller index, break as in a retrain.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

void mes__unlearn_free(struct mes__unlearn *u) {
  if (!u)
    return;
  mes__data_release(&u->d);
  free(u->dead);
  free(u->ev_off);
  free(u->ev_inv);
  free(u->lo);
  free(u->sh);
  for (int r = 0; r < 2; r++) {
    mes__cooc_index_release(&u->rel[r]);
    mes__cooc_kept_release(&u->kept[r]);
  }
  for (int t = 0; t < u->n_sc; t++) {
    mes__cooc_scratch_free(u->sc[t]);
  }
  free(u->P);
  free(u->ease_items);
  free(u->eidx);
  free(u->to_model);
  free(u->from_model);
  free(u);
}

size_t mes__unlearn_bytes(const struct mes__unlearn *u) {
  if (!u)
    return 0;
  size_t n = u->d.n_items, b = sizeof *u;
  b += u->d.n_ev * (sizeof *u->d.ev + sizeof *u->ev_inv) + u->d.n_ev / 8 + 1 + (u->d.n_subj + 1) * (sizeof *u->d.subj_off + 8);
  b += u->d.ids_len + (n + 1) * 4 + mes_htab_n_slots(&u->d.ihash) * sizeof(struct mes_htab_slot);
  b += (n + 1) * sizeof *u->ev_off + n * (2 * sizeof(double) + 2 * sizeof(uint32_t) + sizeof(int32_t));
  for (int r = 0; r < 2; r++) {
    const struct mes__cooc_index *c = &u->rel[r];
    if (c->r)
      b += c->n * (sizeof *c->r + 2 * sizeof(uint32_t)) + (c->n_subj + 1) * 4 + (n + 1) * 4 + n * 8;
    b += u->kept[r].n_items * (u->kept[r].cap * 12 + 8);
  }
  b += (size_t)u->n_sc * (n * (4 + 4 + 8 + 4 + 4 + 4 + 8 + 4 + 8) + 4); /* cooc.c's scratch */
  b += u->n_ease * u->n_ease * sizeof(double) * (u->P != NULL) + u->n_ease * 4;
  return b;
}

/* ---------------------------------------------------------------- building */

static int kind_of(const struct mes__ev *e) { return (int)(e->ik >> MES__KIND_SHIFT); }
static uint32_t item_of(const struct mes__ev *e) { return e->ik & MES__ITEM_MASK; }
/* Event e still counts (training kept only kinds that count). */
static bool live(const struct mes__unlearn *u, size_t e) { return !(u->dead[e / 8] >> (e % 8) & 1u); }
static bool in_rel(enum mes_rel rel, int k) {
  return rel == MES_REL_BOUGHT ? k == MES_KIND_PURCHASE || k == MES_KIND_CART
                               : k == MES_KIND_VIEW || k == MES_KIND_CLICK;
}

int mes__unlearn_new(struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
                     int64_t now_ms, int kind, double *P, const uint32_t *ease_items, size_t n_ease,
                     struct mes__cooc_index rel_index[2], struct mes__cooc_kept kept[2], struct mes__unlearn **out) {
  *out = NULL;
  struct mes__unlearn *u = calloc(1, sizeof *u);
  if (!u) {
    free(P);
    for (int r = 0; r < 2; r++) {
      mes__cooc_index_release(&rel_index[r]);
      mes__cooc_kept_release(&kept[r]);
    }
    return MES_ENOMEM;
  }
  for (int r = 0; r < 2; r++) {
    u->rel[r] = rel_index[r];
    u->kept[r] = kept[r];
    memset(&rel_index[r], 0, sizeof rel_index[r]);
    memset(&kept[r], 0, sizeof kept[r]);
  }
  u->p = *p;
  u->now_ms = now_ms;
  memcpy(u->kw, kw, sizeof u->kw);
  mes__ease_kw(kw, u->kw_rel);
  u->kind = kind;
  u->d = *d;
  memset(d, 0, sizeof *d);
  u->P = P;
  u->n_ease = P ? n_ease : 0;
  size_t n = u->d.n_items, m = n ? n : 1;
  u->n_model = n;
  u->n_live_subj = u->d.n_subj;
  u->n_live_ev = u->d.n_ev;
  u->ev_off = calloc(n + 1, sizeof *u->ev_off);
  u->ev_inv = malloc((u->d.n_ev ? u->d.n_ev : 1) * sizeof *u->ev_inv);
  u->dead = calloc(u->d.n_ev / 8 + 1, 1);
  u->lo = calloc(m, sizeof *u->lo);
  u->sh = calloc(m, sizeof *u->sh);
  u->to_model = malloc(m * sizeof *u->to_model);
  u->from_model = malloc(m * sizeof *u->from_model);
  u->eidx = malloc(m * sizeof *u->eidx);
  u->ease_items = malloc((u->n_ease ? u->n_ease : 1) * sizeof *u->ease_items);
  uint32_t *pos = malloc(m * sizeof *pos);
  int rc = MES_ENOMEM;
  if (!u->ev_off || !u->ev_inv || !u->dead || !u->lo || !u->sh || !u->to_model || !u->from_model || !u->eidx ||
      !u->ease_items || !pos)
    goto fail;
  for (size_t e = 0; e < u->d.n_ev; e++) {
    u->ev_off[item_of(&u->d.ev[e]) + 1]++;
    mes__pop_add(&u->d.ev[e], p, kw, now_ms, u->lo, u->sh, 1);
  }
  for (size_t i = 0; i < n; i++)
    u->ev_off[i + 1] += u->ev_off[i];
  memcpy(pos, u->ev_off, n * sizeof *pos);
  for (size_t e = 0; e < u->d.n_ev; e++)
    u->ev_inv[pos[item_of(&u->d.ev[e])]++] = (uint32_t)e;
  for (size_t i = 0; i < n; i++) {
    u->to_model[i] = u->from_model[i] = (uint32_t)i;
    u->eidx[i] = -1;
  }
  for (size_t e = 0; e < u->n_ease; e++) {
    u->ease_items[e] = ease_items[e];
    u->eidx[ease_items[e]] = (int32_t)e;
  }
  u->ease_partial = kind == MES__BUILT_EASE && n_ease < n;
  if (kind != MES__BUILT_POPULAR) {
    if (!u->rel[0].norm || !u->rel[1].norm || !u->kept[0].len || !u->kept[1].len) {
      rc = MES_EINTERNAL; /* training hands both over for a co-occurrence model */
      goto fail;
    }
    int threads = p->threads < 1 ? 1 : p->threads > MAX_THREADS ? MAX_THREADS : p->threads;
    for (; u->n_sc < threads; u->n_sc++)
      if (!(u->sc[u->n_sc] = mes__cooc_scratch_new(n)))
        goto fail;
  }
  free(pos);
  *out = u;
  return MES_OK;
fail:
  free(pos);
  mes__unlearn_free(u);
  return rc;
}

/* ---------------------------------------------------------------- helpers */

/* A growable array of neighbours. */
struct nbuf {
  struct mes_nbr *v;
  size_t n, cap;
};

static int nbuf_room(struct nbuf *b, size_t more) {
  if (b->n + more <= b->cap)
    return MES_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + more)
    cap *= 2;
  struct mes_nbr *v = realloc(b->v, cap * sizeof *v);
  if (!v)
    return MES_ENOMEM;
  b->v = v;
  b->cap = cap;
  return MES_OK;
}

/* A relation's rows that change, in state numbering: slot[item] is the row's
 * index in rows (NONE: the old row stands), rows[r] = nb[at[r] .. at[r+1]). */
struct changed {
  uint32_t *slot;
  struct nbuf nb;
  size_t *at, n_rows, cap_rows;
};

static int changed_add(struct changed *c, uint32_t item, const struct mes_nbr *v, size_t n) {
  if (c->n_rows + 2 > c->cap_rows) {
    size_t cap = c->cap_rows ? c->cap_rows * 2 : 64;
    size_t *at = realloc(c->at, cap * sizeof *at);
    if (!at)
      return MES_ENOMEM;
    c->at = at;
    c->cap_rows = cap;
  }
  if (nbuf_room(&c->nb, n))
    return MES_ENOMEM;
  if (c->n_rows == 0)
    c->at[0] = 0;
  if (n)
    memcpy(c->nb.v + c->nb.n, v, n * sizeof *v);
  c->nb.n += n;
  c->slot[item] = (uint32_t)c->n_rows++;
  c->at[c->n_rows] = c->nb.n;
  return MES_OK;
}

static void changed_release(struct changed *c) {
  free(c->slot);
  free(c->nb.v);
  free(c->at);
  memset(c, 0, sizeof *c);
}

/* The neighbours of state item s in the current model m, in state numbering,
 * into b (appended). */
static int old_row(const struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel, uint32_t s,
                   struct nbuf *b) {
  uint32_t mi = u->to_model[s];
  if (mi == NONE || !m->nb_off[rel])
    return MES_OK;
  size_t n = m->nb_off[rel][mi + 1] - m->nb_off[rel][mi];
  if (nbuf_room(b, n))
    return MES_ENOMEM;
  for (size_t j = 0; j < n; j++) {
    struct mes_nbr e = m->nb[rel][m->nb_off[rel][mi] + j];
    b->v[b->n++] = (struct mes_nbr){u->from_model[e.item], e.w};
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- co-occurrence */

/*
 * A relation without person p (or without one of p's events), from what the
 * model keeps (struct mes__cooc_kept) rather than by counting rows again.
 * C(a, b) and N(x) are sums of integers (cooc.c), so p's part can be taken
 * off exactly: p's own timeline gives p's evidence of every pair and item
 * before and after (their events within the span of each other: at most 64
 * pairs an event). Then, with W(a, b) = g(C) / sqrt(N(a) N(b)), g increasing
 * and W symmetric:
 *   - a kept neighbour's new weight is computed exactly from its kept count;
 *   - a neighbour b not kept in row a weighed at most bound(a) and, as p's
 *     removal only lowers C and N, now weighs at most
 *     bound(a) f(a) f(b), f(x) = sqrt(N(x) / N'(x)), f = 1 where N did not
 *     move; and when a is not kept in row b either, at most
 *     min(bound(a), bound(b)) f(a) f(b). Rare items keep every neighbour
 *     (bound 0), so only items whose rows were cut (popular ones, where one
 *     person moves N by little) widen anyone's bound;
 *   - row b's kept count of a is also row a's count of b (C is symmetric):
 *     rows learn their raised entries from the kept rows of p's items.
 * Row a's new top k is decided when its k-th weight still exceeds its new
 * bound (every unknown neighbour ranks below it); the rows where it does
 * not, and those where forgetting one event made a pair appear whose count
 * nobody kept, are counted again in full (cooc.c, as training does), which
 * also renews their kept neighbours and bound. The bound only widens until
 * then: a row's margin wears down over many removals and is restored by its
 * next recount.
 */

#define BOUND_SLACK 1e-5 /* over float rounding of the weights (~1e-7 relative) */
#define MOVED 1          /* an item's N moved */
#define GONE 2           /* ... to 0: it left the relation */

/* p's evidence of each pair (a, b), a != b, and of each item x (key (x, x)),
 * before (vb) and after (va) the events are forgotten: the largest one, as
 * mes__cooc_counts and mes__cooc_norm take it. Open addressing on the key. */
struct ptab {
  uint64_t *key; /* EMPTY_KEY: free */
  float *vb, *va;
  size_t cap; /* a power of 2 */
};
#define EMPTY_KEY UINT64_MAX

static int ptab_init(struct ptab *t, size_t n_ev) {
  size_t want = 2 * (n_ev * (2 * MES__COOC_SPAN + 1)) + 16, cap = 16;
  while (cap < want)
    cap *= 2;
  t->cap = cap;
  t->key = malloc(cap * sizeof *t->key);
  t->vb = calloc(cap, sizeof *t->vb);
  t->va = calloc(cap, sizeof *t->va);
  if (!t->key || !t->vb || !t->va)
    return MES_ENOMEM;
  memset(t->key, 0xff, cap * sizeof *t->key);
  return MES_OK;
}

static void ptab_release(struct ptab *t) {
  free(t->key);
  free(t->vb);
  free(t->va);
  memset(t, 0, sizeof *t);
}

static size_t ptab_slot(const struct ptab *t, uint64_t key) {
  size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (t->cap - 1);
  while (t->key[i] != EMPTY_KEY && t->key[i] != key)
    i = (i + 1) & (t->cap - 1);
  return i;
}

static void ptab_max(struct ptab *t, uint32_t a, uint32_t b, bool after, float v) {
  uint64_t key = (uint64_t)a << 32 | b;
  size_t i = ptab_slot(t, key);
  t->key[i] = key;
  float *slot = after ? &t->va[i] : &t->vb[i];
  if (v > *slot)
    *slot = v;
}

/* p's timeline in relation c (subject s), with the marks as they stand. */
static void person_pairs(const struct mes__cooc_index *c, uint32_t s, struct ptab *t, bool after) {
  uint32_t lo = c->s_off[s], hi = c->s_off[s + 1];
  for (uint32_t p = lo; p < hi; p++) {
    const struct mes__rev *ea = &c->r[p];
    if (ea->s <= 0)
      continue;
    ptab_max(t, ea->item, ea->item, after, ea->s * ea->dec);
    int span = 0; /* the very walk of mes__cooc_counts */
    for (uint32_t q = p; q > lo && span < MES__COOC_SPAN;) {
      const struct mes__rev *eb = &c->r[--q];
      if (eb->s <= 0)
        continue;
      span++;
      if ((double)ea->ts - eb->ts > c->window_s)
        break;
      if (eb->item != ea->item)
        ptab_max(t, ea->item, eb->item, after, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
    }
    span = 0;
    for (uint32_t q = p + 1; q < hi && span < MES__COOC_SPAN; q++) {
      const struct mes__rev *eb = &c->r[q];
      if (eb->s <= 0)
        continue;
      span++;
      if ((double)eb->ts - ea->ts > c->window_s)
        break;
      if (eb->item != ea->item)
        ptab_max(t, ea->item, eb->item, after, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
    }
  }
}

/* One entry grouped by row: row a, item b, a count or a change of count. */
struct entry {
  uint32_t a, b;
  int64_t v;
};

/* Groups n entries by row (counting sort, stable): *at receives n_rows + 1
 * offsets. */
static int group(struct entry *e, size_t n, size_t n_rows, struct entry **out, uint32_t **at) {
  *out = malloc((n ? n : 1) * sizeof **out);
  *at = calloc(n_rows + 1, sizeof **at);
  if (!*out || !*at)
    return MES_ENOMEM;
  for (size_t i = 0; i < n; i++)
    (*at)[e[i].a + 1]++;
  for (size_t r = 0; r < n_rows; r++)
    (*at)[r + 1] += (*at)[r];
  for (size_t i = 0; i < n; i++)
    (*out)[(*at)[e[i].a]++] = e[i];
  for (size_t r = n_rows; r > 0; r--)
    (*at)[r] = (*at)[r - 1];
  (*at)[0] = 0;
  return MES_OK;
}

static int entries_push(struct entry **v, size_t *n, size_t *cap, struct entry e) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    struct entry *nv = realloc(*v, nc * sizeof *nv);
    if (!nv)
      return MES_ENOMEM;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = e;
  return MES_OK;
}

/* C(b, a) as row b keeps it, or -1 when row b does not keep a. */
static int64_t kept_count(const struct mes__cooc_kept *k, uint32_t b, uint32_t a) {
  const uint32_t *it = k->item + (size_t)b * k->cap;
  for (uint32_t j = 0; j < k->len[b]; j++)
    if (it[j] == a)
      return k->c[(size_t)b * k->cap + j];
  return -1;
}

/* A bound as a float no smaller than v. */
static float bound_up(double v) {
  float f = (float)v;
  return (double)f < v ? nextafterf(f, INFINITY) : f;
}

/* Rows counted again in full on the kept threads: worker w takes rows w,
 * w + T, ... */
struct recount {
  const struct mes__cooc_index *c;
  struct mes__cooc_kept *kept;
  const uint32_t *xs;
  size_t n_x, k;
  struct mes_nbr *rows; /* n_x * k */
  size_t *row_n;        /* n_x */
  int threads;
};

struct recount_worker {
  const struct recount *r;
  int index;
  struct mes__cooc_scratch *sc;
  pthread_t th;
};

static void *recount_work(void *arg) {
  struct recount_worker *wk = arg;
  const struct recount *r = wk->r;
  for (size_t t = (size_t)wk->index; t < r->n_x; t += (size_t)r->threads)
    r->row_n[t] = mes__cooc_kept_row(r->c, wk->sc, r->xs[t], r->k, r->kept, r->rows + t * r->k);
  return NULL;
}

/* An item whose N moved: its row's bound and f. */
struct bxe {
  float b;
  double f;
};

/* A row decided from what is kept, to be written back once every row has
 * read the kept rows as they were. */
struct newrow {
  uint32_t a, n; /* row, kept entries at (item, c)[off .. off + n) */
  size_t off;
  float bound;
};

static bool ranks_before(const struct mes_nbr *x, const struct mes_nbr *y) {
  return x->w > y->w || (x->w == y->w && x->item < y->item);
}

/* Row a (neither one of p's items nor paired by p) when the only change is
 * that some neighbours' N fell, which only raises their weights. The served
 * top k (the kept row's first k, in order; the rest of the kept row, in any
 * order, ranks after them) then changes only by those: each of its k
 * entries ranks at least as well as before, so its new k-th ranks at least
 * as well as the old k-th, and nothing that ranked after the old k-th and
 * did not rise can enter. The new top k: the old one with its raised
 * weights, and the raised entries that now rank before the old k-th, sorted
 * by insertion (nearly sorted already). srv: the served row (its weights are
 * read, not computed, where they did not move). sc: scratch of L + n_col
 * entries. 1: decided (the row into ch when its top k changed), 0: decide it
 * in full, -1: out of memory. */
struct quick_scratch {
  struct mes_nbr *buf;
  int64_t *bufc;
  uint32_t *tail;
  int64_t *tailc;
};

static int quick_row(const struct mes__cooc_index *c, struct mes__cooc_kept *kept, uint32_t a, size_t k,
                     const uint8_t *mv, const struct entry *col, size_t n_col, int32_t *cpos, float nb,
                     const struct mes_nbr *srv, size_t n_srv, struct quick_scratch *sc, struct changed *ch) {
  size_t L = kept->cap, len = kept->len[a];
  uint32_t *it = kept->item + (size_t)a * L;
  int64_t *ic = kept->c + (size_t)a * L;
  struct mes_nbr *buf = sc->buf;
  int64_t *bufc = sc->bufc;
  size_t kk = len < k ? len : k; /* a row may have fewer than k */
  if (k == 0 || n_srv != kk)
    return 0;
  /* With fewer than k, anything positive enters. */
  struct mes_nbr old_kth = kk == k ? (struct mes_nbr){it[k - 1], srv[k - 1].w} : (struct mes_nbr){UINT32_MAX, 0.0f};
  bool changed = false;
  size_t n = 0;
  for (size_t j = 0; j < kk; j++) {
    if (mv[it[j]] == GONE)
      return 0;
    bool up = mv[it[j]] != 0;
    changed |= up;
    buf[n] = (struct mes_nbr){it[j], up ? mes__cooc_weight(c, a, it[j], ic[j]) : srv[j].w};
    bufc[n++] = ic[j];
  }
  for (size_t j = kk; j < len; j++) {
    if (mv[it[j]] == 0)
      continue;
    if (mv[it[j]] == GONE)
      return 0;
    struct mes_nbr e = {it[j], mes__cooc_weight(c, a, it[j], ic[j])};
    if (ranks_before(&e, &old_kth)) {
      buf[n] = e;
      bufc[n++] = ic[j];
    }
  }
  for (size_t j = 0; j < len && n_col; j++)
    cpos[it[j]] = 2; /* in the kept row */
  bool lacks = false; /* raised entries the kept row lacks */
  for (size_t j = 0; j < n_col; j++) {
    if (cpos[col[j].b] == 2)
      continue;
    lacks = true;
    struct mes_nbr e = {col[j].b, mes__cooc_weight(c, a, col[j].b, col[j].v)};
    if (ranks_before(&e, &old_kth)) {
      buf[n] = e;
      bufc[n++] = col[j].v;
    }
  }
  for (size_t i = 1; i < n; i++) /* insertion: nearly sorted */
    for (size_t j = i; j > 0 && ranks_before(&buf[j], &buf[j - 1]); j--) {
      struct mes_nbr t = buf[j];
      buf[j] = buf[j - 1];
      buf[j - 1] = t;
      int64_t tc = bufc[j];
      bufc[j] = bufc[j - 1];
      bufc[j - 1] = tc;
    }
  size_t nk = n < k ? n : k;
  if (nb > 0 && !(nk == k && buf[k - 1].w > nb)) {
    for (size_t j = 0; j < len && n_col; j++)
      cpos[it[j]] = -1;
    return 0;
  }
  changed |= n > kk;
  if (changed && changed_add(ch, a, buf, nk)) {
    for (size_t j = 0; j < len && n_col; j++)
      cpos[it[j]] = -1;
    return -1;
  }
  /* The kept row: the new top k first, then the rest (the entries that left
   * the top k, then the raised ones it lacked while there is room; else the
   * bound takes them). */
  float bound = nb;
  if (n > kk || lacks) {
    if (!n_col) /* the kept row is marked for the tail below */
      for (size_t j = 0; j < len; j++)
        cpos[it[j]] = 2;
    for (size_t j = 0; j < nk; j++)
      cpos[buf[j].item] = 1; /* in the new top k */
    size_t t = 0;
    for (size_t j = 0; j < len; j++)
      if (cpos[it[j]] == 2) {
        sc->tail[t] = it[j];
        sc->tailc[t++] = ic[j];
      }
    for (size_t j = 0; j < n_col; j++) {
      if (cpos[col[j].b] != -1)
        continue;
      if (nk + t < L) {
        sc->tail[t] = col[j].b;
        sc->tailc[t++] = col[j].v;
      } else {
        float w = mes__cooc_weight(c, a, col[j].b, col[j].v);
        if (w > bound)
          bound = w;
      }
    }
    for (size_t j = 0; j < nk; j++)
      cpos[buf[j].item] = -1;
    for (size_t j = 0; j < len; j++)
      cpos[it[j]] = -1;
    memcpy(it + nk, sc->tail, t * sizeof *it);
    memcpy(ic + nk, sc->tailc, t * sizeof *ic);
    kept->len[a] = (uint32_t)(nk + t);
  } else {
    for (size_t j = 0; j < len && n_col; j++)
      cpos[it[j]] = -1;
  }
  for (size_t j = 0; j < nk; j++) {
    it[j] = buf[j].item;
    ic[j] = bufc[j];
  }
  kept->bound[a] = bound;
  return 1;
}

/*
 * Relation c without the events of subject s just marked forgotten (q_dead:
 * their positions in c, n_dead; still live in c when called): c's marks,
 * norms and kept rows updated, the rows whose top k changed into ch.
 */
static int cooc_update(struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel, struct mes__cooc_index *c,
                       struct mes__cooc_kept *kept, uint32_t s,
                       const uint32_t *q_dead, size_t n_dead, struct changed *ch, size_t *n_decided,
                       size_t *n_recounted) {
  size_t ns = c->n_items, k = u->p.max_neighbors > 0 ? (size_t)u->p.max_neighbors : 0, L = kept->cap;
  size_t n_p = c->s_off[s + 1] - c->s_off[s];
  struct ptab t = {0};
  double *f = NULL;        /* ns: f(x), 1 where N did not move, 0 where it fell to 0 */
  uint8_t *mv = NULL;      /* ns: whether N moved (MOVED, GONE: to 0), exactly, whatever f rounds to */
  uint8_t *row = NULL;     /* ns: 1 touched (entries change), 2 counted again */
  struct entry *raw = NULL, *col = NULL, *dif = NULL;
  uint32_t *col_at = NULL, *dif_at = NULL, *xs = NULL, *redo = NULL;
  size_t n_raw = 0, cap_raw = 0, n_xs = 0, n_redo = 0;
  struct bxe *bx = NULL; /* p's items whose N moved and whose rows were cut */
  double *pre = NULL, *suf = NULL;
  size_t n_bx = 0;
  int32_t *cpos = NULL;    /* ns: place of an item in the candidates of the row at hand, -1 */
  uint32_t *ci = NULL;
  int64_t *cc = NULL;
  float *cw = NULL;
  struct mes_nbr *top = NULL;
  struct newrow *nr = NULL;
  size_t n_nr = 0, n_quick = 0;
  uint32_t *nr_item = NULL;
  int64_t *nr_c = NULL;
  size_t nr_len = 0, nr_cap = 0;
  struct recount r = {0};
  struct quick_scratch qs = {0};
  int rc = MES_ENOMEM;

  if (ptab_init(&t, n_p) || !(f = malloc((ns ? ns : 1) * sizeof *f)) || !(row = calloc(ns ? ns : 1, 1)) ||
      !(mv = calloc(ns ? ns : 1, 1)) ||
      !(xs = malloc((n_p ? n_p : 1) * sizeof *xs)) || !(cpos = malloc((ns ? ns : 1) * sizeof *cpos)))
    goto done;
  /* p's evidence before and after. */
  person_pairs(c, s, &t, false);
  for (size_t i = 0; i < n_dead; i++)
    c->r[q_dead[i]].s = 0.0f;
  person_pairs(c, s, &t, true);
  for (size_t x = 0; x < ns; x++) {
    f[x] = 1.0;
    cpos[x] = -1;
  }

  /* Norms, and the pairs whose counts move (v: how much C falls). */
  for (size_t i = 0; i < t.cap; i++) {
    if (t.key[i] == EMPTY_KEY)
      continue;
    uint32_t a = (uint32_t)(t.key[i] >> 32), b = (uint32_t)t.key[i];
    int64_t d = mes__fix(t.vb[i]) - mes__fix(t.va[i]);
    if (d == 0)
      continue;
    if (a == b) {
      int64_t old = c->norm[a], now = old - d;
      f[a] = now > 0 ? sqrt((double)old / (double)now) : 0.0;
      mv[a] = now > 0 ? MOVED : GONE;
      c->norm[a] = now;
      xs[n_xs++] = a;
      row[a] = 1;
    } else {
      if (entries_push(&raw, &n_raw, &cap_raw, (struct entry){a, b, d}))
        goto done;
      row[a] = 1;
    }
  }
  if (group(raw, n_raw, ns, &dif, &dif_at))
    goto done;

  /* Raised entries: row a learns C(a, x) from row x's kept list, for each x
   * whose N moved (and is still there). Read before any row is written. */
  n_raw = 0;
  for (size_t i = 0; i < n_xs; i++) {
    uint32_t x = xs[i];
    if (mv[x] == GONE)
      continue;
    for (uint32_t j = 0; j < kept->len[x]; j++) {
      uint32_t a = kept->item[(size_t)x * L + j];
      if (entries_push(&raw, &n_raw, &cap_raw, (struct entry){a, x, kept->c[(size_t)x * L + j]}))
        goto done;
      row[a] |= 1;
    }
  }
  if (group(raw, n_raw, ns, &col, &col_at))
    goto done;
  /* Rows that keep one of those items change too. */
  for (size_t a = 0; a < ns; a++) {
    if (row[a])
      continue;
    const uint32_t *it = kept->item + a * L;
    for (uint32_t j = 0; j < kept->len[a] && !row[a]; j++)
      row[a] = mv[it[j]] != 0;
  }

  /* The bound's widening by the items whose N moved: for row a, the most of
   * min(bound(a), bound(x)) f(x) over them, from the items sorted by bound. */
  if (!(bx = malloc((n_xs ? n_xs : 1) * sizeof *bx)) || !(pre = malloc((n_xs ? n_xs : 1) * sizeof *pre)) ||
      !(suf = malloc((n_xs + 1) * sizeof *suf)))
    goto done;
  for (size_t i = 0; i < n_xs; i++)
    if (f[xs[i]] > 0 && kept->bound[xs[i]] > 0) {
      bx[n_bx].b = kept->bound[xs[i]];
      bx[n_bx++].f = f[xs[i]];
    }
  for (size_t i = 1; i < n_bx; i++) /* insertion sort by bound: a person's few hundred items */
    for (size_t j = i; j > 0 && bx[j - 1].b > bx[j].b; j--) {
      struct bxe tmp = bx[j];
      bx[j] = bx[j - 1];
      bx[j - 1] = tmp;
    }
  for (size_t i = 0; i < n_bx; i++)
    pre[i] = fmax(i ? pre[i - 1] : 0.0, (double)bx[i].b * bx[i].f);
  suf[n_bx] = 0;
  for (size_t i = n_bx; i-- > 0;)
    suf[i] = fmax(suf[i + 1], bx[i].f);

  if (!(ci = malloc((L + n_xs + n_p * 2 * MES__COOC_SPAN + 1) * sizeof *ci)) ||
      !(cc = malloc((L + n_xs + n_p * 2 * MES__COOC_SPAN + 1) * sizeof *cc)) ||
      !(cw = malloc((L + n_xs + n_p * 2 * MES__COOC_SPAN + 1) * sizeof *cw)) || !(top = malloc((L + 1) * sizeof *top)) ||
      !(redo = malloc((ns ? ns : 1) * sizeof *redo)) || !(nr = malloc((ns ? ns : 1) * sizeof *nr)) ||
      !(qs.buf = malloc((L + n_xs + 1) * sizeof *qs.buf)) || !(qs.bufc = malloc((L + n_xs + 1) * sizeof *qs.bufc)) ||
      !(qs.tail = malloc((L + n_xs + 1) * sizeof *qs.tail)) || !(qs.tailc = malloc((L + n_xs + 1) * sizeof *qs.tailc)))
    goto done;

  for (uint32_t a = 0; a < ns; a++) {
    float b_old = kept->bound[a];
    double bound = 0;
    if (b_old > 0 && mv[a] != GONE) {
      size_t lo = 0, hi = n_bx; /* the first x with bound(x) > bound(a) */
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (bx[mid].b <= b_old)
          lo = mid + 1;
        else
          hi = mid;
      }
      double widen = fmax(lo ? pre[lo - 1] : 0.0, (double)b_old * suf[lo]);
      bound = f[a] * fmax((double)b_old, widen);
      if (bound > (double)b_old)
        bound *= 1.0 + BOUND_SLACK;
    }
    float nb = b_old > 0 && mv[a] != GONE ? bound_up(bound) : 0.0f;
    if (!row[a]) {
      /* Nothing it keeps moved: its top k stands unless the bound now
       * reaches it. */
      if (nb > b_old) {
        size_t len = kept->len[a];
        float wk = len >= k && k ? mes__cooc_weight(c, a, kept->item[(size_t)a * L + k - 1],
                                                    kept->c[(size_t)a * L + k - 1])
                                 : 0.0f;
        if (k && !(wk > nb)) {
          row[a] = 2;
          redo[n_redo++] = a;
          continue;
        }
      }
      kept->bound[a] = nb;
      continue;
    }
    if (mv[a] == 0 && dif_at[a] == dif_at[a + 1] && u->to_model[a] != NONE && m->nb_off[rel]) {
      uint32_t mi = u->to_model[a];
      const struct mes_nbr *srv = m->nb[rel] + m->nb_off[rel][mi];
      int q = quick_row(c, kept, a, k, mv, col + col_at[a], col_at[a + 1] - col_at[a], cpos, nb, srv,
                        m->nb_off[rel][mi + 1] - m->nb_off[rel][mi], &qs, ch);
      if (q < 0)
        goto done;
      if (q > 0) {
        n_quick++;
        continue;
      }
    }
    if (mv[a] == GONE) { /* a left the relation: an empty row */
      nr[n_nr++] = (struct newrow){a, 0, nr_len, 0.0f};
      continue;
    }
    /* The candidates: the kept row, the raised entries, the pairs p changed. */
    size_t n_c = 0;
    const uint32_t *it = kept->item + (size_t)a * L;
    const int64_t *ic = kept->c + (size_t)a * L;
    for (uint32_t j = 0; j < kept->len[a]; j++) {
      cpos[it[j]] = (int32_t)n_c;
      ci[n_c] = it[j];
      cc[n_c++] = ic[j];
    }
    for (uint32_t j = col_at[a]; j < col_at[a + 1]; j++)
      if (cpos[col[j].b] < 0) {
        cpos[col[j].b] = (int32_t)n_c;
        ci[n_c] = col[j].b;
        cc[n_c++] = col[j].v;
      }
    bool unknown = false;
    for (uint32_t j = dif_at[a]; j < dif_at[a + 1]; j++) {
      uint32_t b = dif[j].b;
      if (cpos[b] >= 0) {
        cc[cpos[b]] -= dif[j].v;
        continue;
      }
      if (dif[j].v > 0)
        continue; /* a count that fell, of a neighbour not kept: the bound holds */
      /* A pair that rose (one event forgotten brought two within the
       * span): its count must be known to place it. */
      int64_t was = kept_count(kept, b, a);
      if (was < 0 && (b_old == 0 || kept->bound[b] == 0))
        was = 0; /* a row that keeps every neighbour does not have this one */
      if (was < 0) {
        unknown = true;
        break;
      }
      cpos[b] = (int32_t)n_c;
      ci[n_c] = b;
      cc[n_c++] = was - dif[j].v;
    }
    for (size_t j = 0; j < n_c; j++) {
      cpos[ci[j]] = -1;
      cw[j] = mes__cooc_weight(c, a, ci[j], cc[j]);
    }
    size_t got = unknown ? 0 : mes__topk(ci, cw, n_c, L + 1, top);
    if (unknown || (nb > 0 && !(k == 0 || (got >= k && top[k - 1].w > nb)))) {
      row[a] = 2;
      redo[n_redo++] = a;
      continue;
    }
    /* Decided: the kept row is its L best (their counts looked up again),
     * the bound widened by the first one left out. */
    size_t kl = got < L ? got : L;
    if (nr_len + kl > nr_cap) {
      size_t cap = nr_cap ? nr_cap * 2 : 4096;
      while (cap < nr_len + kl)
        cap *= 2;
      uint32_t *ni = realloc(nr_item, cap * sizeof *ni);
      if (!ni)
        goto done;
      nr_item = ni;
      int64_t *nc = realloc(nr_c, cap * sizeof *nc);
      if (!nc)
        goto done;
      nr_c = nc;
      nr_cap = cap;
    }
    for (size_t j = 0; j < n_c; j++)
      cpos[ci[j]] = (int32_t)j;
    for (size_t j = 0; j < kl; j++) {
      nr_item[nr_len + j] = top[j].item;
      nr_c[nr_len + j] = cc[cpos[top[j].item]];
    }
    for (size_t j = 0; j < n_c; j++)
      cpos[ci[j]] = -1;
    float nbw = got > L && top[L].w > nb ? top[L].w : nb;
    nr[n_nr++] = (struct newrow){a, (uint32_t)kl, nr_len, nbw};
    nr_len += kl;
    if (changed_add(ch, a, top, got < k ? got : k))
      goto done;
  }
  /* Every row has read the kept rows: write the decided ones back. */
  for (size_t i = 0; i < n_nr; i++) {
    uint32_t a = nr[i].a;
    if (nr[i].n) {
      memcpy(kept->item + (size_t)a * L, nr_item + nr[i].off, nr[i].n * sizeof *nr_item);
      memcpy(kept->c + (size_t)a * L, nr_c + nr[i].off, nr[i].n * sizeof *nr_c);
    }
    kept->len[a] = nr[i].n;
    kept->bound[a] = nr[i].bound;
    if (nr[i].n == 0 && mv[a] == GONE && changed_add(ch, a, NULL, 0))
      goto done;
  }
  *n_decided += n_nr + n_quick;

  /* The rows that could not be decided, counted again. */
  r = (struct recount){.c = c, .kept = kept, .xs = redo, .n_x = n_redo, .k = k, .threads = u->n_sc};
  r.rows = malloc((n_redo && k ? n_redo * k : 1) * sizeof *r.rows);
  r.row_n = malloc((n_redo ? n_redo : 1) * sizeof *r.row_n);
  if (!r.rows || !r.row_n)
    goto done;
  if (n_redo) {
    struct recount_worker wk[MAX_THREADS];
    for (int w = 0; w < r.threads; w++)
      wk[w] = (struct recount_worker){.r = &r, .index = w, .sc = u->sc[w]};
    int started = 1;
    while (started < r.threads && n_redo > 1 &&
           pthread_create(&wk[started].th, NULL, recount_work, &wk[started]) == 0)
      started++;
    recount_work(&wk[0]);
    for (int w = 1; w < started; w++)
      pthread_join(wk[w].th, NULL);
    for (int w = started; w < r.threads; w++) /* a thread that did not start: its rows here */
      recount_work(&wk[w]);
  }
  for (size_t i = 0; i < n_redo; i++)
    if (changed_add(ch, redo[i], r.rows + i * k, r.row_n[i]))
      goto done;
  *n_recounted += n_redo;
  rc = MES_OK;
done:
  ptab_release(&t);
  free(f);
  free(mv);
  free(row);
  free(raw);
  free(col);
  free(dif);
  free(col_at);
  free(dif_at);
  free(xs);
  free(redo);
  free(bx);
  free(pre);
  free(suf);
  free(cpos);
  free(ci);
  free(cc);
  free(cw);
  free(top);
  free(nr);
  free(nr_item);
  free(nr_c);
  free(r.rows);
  free(r.row_n);
  free(qs.buf);
  free(qs.bufc);
  free(qs.tail);
  free(qs.tailc);
  return rc;
}

/* ---------------------------------------------------------------- EASE */

/* G' = G + sign a aᵀ for a person's row a (n_a entries at EASE indexes ai):
 * P' = P − sign (P a)(P a)ᵀ / (1 + sign aᵀ P a). */
static int sherman_morrison(double *P, size_t n, const uint32_t *ai, const double *av, size_t n_a, double sign) {
  if (n_a == 0)
    return MES_OK;
  double *v = calloc(n, sizeof *v);
  if (!v)
    return MES_ENOMEM;
  for (size_t t = 0; t < n_a; t++) /* P symmetric: P a is a sum of P's rows */
    cblas_daxpy((int)n, av[t], P + (size_t)ai[t] * n, 1, v, 1);
  double q = 0;
  for (size_t t = 0; t < n_a; t++)
    q += av[t] * v[ai[t]];
  cblas_dger(CblasRowMajor, (int)n, (int)n, -sign / (1.0 + sign * q), v, 1, v, 1, P, (int)n);
  free(v);
  return MES_OK;
}

/* The person's EASE row from their counted events [lo, hi): EASE indexes and
 * values, as the Gram matrix took them (the largest value per item). */
static size_t ease_row(const struct mes__unlearn *u, uint32_t lo, uint32_t hi, uint32_t *ai, double *av) {
  double now_s = (double)u->now_ms / 1000.0, hl = u->p.relation_half_life_days * 86400.0;
  size_t n = 0;
  for (uint32_t e = lo; e < hi; e++) {
    const struct mes__ev *ev = &u->d.ev[e];
    int32_t i = u->eidx[item_of(ev)];
    if (i < 0 || !live(u, e))
      continue;
    float v = mes__ease_value(u->kw_rel, now_s, hl, ev);
    size_t t = 0;
    while (t < n && ai[t] != (uint32_t)i)
      t++;
    if (t == n) {
      ai[n] = (uint32_t)i;
      av[n++] = v;
    } else if (v > (float)av[t]) {
      av[t] = v;
    }
  }
  return n;
}

/* ---------------------------------------------------------------- the new model */

/* Relation rel of m with the rows of ch (may be NULL: none) in place, when
 * the new model numbers its n items as m did (to_model / from_model: the
 * new numbering). */
static int patch_rows(const struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel,
                      const struct changed *ch, const uint32_t *to_model, const uint32_t *from_model, size_t n,
                      struct mes__csr *out) {
  const uint32_t *off = m->nb_off[rel];
  if (!(out->off = malloc((n + 1) * sizeof *out->off)))
    return MES_ENOMEM;
  out->off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t s = from_model[i];
    size_t len = ch && ch->slot[s] != NONE ? ch->at[ch->slot[s] + 1] - ch->at[ch->slot[s]] : off[i + 1] - off[i];
    out->off[i + 1] = out->off[i] + (uint32_t)len;
  }
  out->n_nb = out->off[n];
  if (!(out->nb = malloc((out->n_nb ? out->n_nb : 1) * sizeof *out->nb)))
    return MES_ENOMEM;
  size_t run = 0; /* the first row of the run of unchanged rows being gathered */
  for (size_t i = 0; i <= n; i++) {
    bool changed = i < n && ch && ch->slot[from_model[i]] != NONE;
    if (i < n && !changed)
      continue;
    if (i > run)
      memcpy(out->nb + out->off[run], m->nb[rel] + off[run], (off[i] - off[run]) * sizeof *out->nb);
    run = i + 1;
    if (i == n)
      break;
    const struct mes_nbr *v = ch->nb.v + ch->at[ch->slot[from_model[i]]];
    for (uint32_t j = out->off[i]; j < out->off[i + 1]; j++, v++)
      out->nb[j] = (struct mes_nbr){to_model[v->item], v->w};
  }
  (void)u;
  return MES_OK;
}

static int build_model(struct mes__unlearn *u, const struct mes_model *m, struct changed ch[2],
                       const struct mes__csr *ease_rows, bool ease_dropped, size_t n_forgot, const uint8_t *moved,
                       struct mes_model **out, struct mes_err *err) {
  size_t ns = u->d.n_items, n = 0;
  uint32_t *to_model = malloc((ns ? ns : 1) * sizeof *to_model);
  uint32_t *from_model = malloc((ns ? ns : 1) * sizeof *from_model);
  size_t m1 = u->n_model ? u->n_model : 1;
  double *lo = malloc(m1 * sizeof *lo), *sh = malloc(m1 * sizeof *sh);
  float *pop = malloc(m1 * sizeof *pop), *trend = malloc(m1 * sizeof *trend);
  uint32_t *top_pop = malloc(m1 * sizeof *top_pop), *top_trend = malloc(m1 * sizeof *top_trend);
  char *ids = malloc(u->d.ids_len ? u->d.ids_len : 1);
  uint32_t *id_off = malloc((ns + 1) * sizeof *id_off);
  struct mes__csr rel[MES_REL_N];
  memset(rel, 0, sizeof rel);
  json_t *meta = NULL;
  char *meta_text = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  int rc = MES_ENOMEM;
  if (!to_model || !from_model || !lo || !sh || !pop || !trend || !top_pop || !top_trend || !ids || !id_off)
    goto done;
  /* The items still present: those with a counted event left. */
  id_off[0] = 0;
  for (uint32_t s = 0; s < ns; s++) {
    to_model[s] = NONE;
    if (u->to_model[s] == NONE)
      continue;
    bool left = false;
    for (uint32_t j = u->ev_off[s]; j < u->ev_off[s + 1] && !left; j++)
      left = live(u, u->ev_inv[j]);
    if (!left)
      continue;
    to_model[s] = (uint32_t)n;
    from_model[n] = s;
    lo[n] = mes__mass_value(u->lo[s]);
    sh[n] = mes__mass_value(u->sh[s]);
    uint32_t len = u->d.id_off[s + 1] - u->d.id_off[s];
    memcpy(ids + id_off[n], u->d.ids + u->d.id_off[s], len);
    id_off[n + 1] = id_off[n] + len;
    n++;
  }
  /* The orders: the old ones without the items whose masses moved (moved:
   * state items), merged with those. */
  {
    uint32_t *hp = malloc(m1 * sizeof *hp), *ht = malloc(m1 * sizeof *ht);
    size_t nh = 0, nt = 0;
    if (!hp || !ht) {
      free(hp);
      free(ht);
      goto done;
    }
    for (size_t i = 0; i < u->n_model; i++) {
      uint32_t sp = u->from_model[m->top_pop[i]], st = u->from_model[m->top_trend[i]];
      if (to_model[sp] != NONE && !moved[sp])
        hp[nh++] = to_model[sp];
      if (to_model[st] != NONE && !moved[st])
        ht[nt++] = to_model[st];
    }
    int prc = mes__pop_finish_hinted(n, &u->p, lo, sh, pop, trend, top_pop, top_trend, hp, ht, nh < nt ? nh : nt);
    free(hp);
    free(ht);
    if (prc)
      goto done;
  }
  /* The relations in the new numbering. */
  for (int r = 0; r < MES_REL_N; r++) {
    if (n == u->n_model && m->nb_off[r] && !(r == MES_REL_EASE && (ease_dropped || ease_rows))) {
      /* No item left: the numbering stands, the unchanged rows are copied in
       * runs, only the changed ones are put in place. */
      if ((rc = patch_rows(u, m, (enum mes_rel)r, r < 2 ? &ch[r] : NULL, to_model, from_model, n, &rel[r])))
        goto done;
      rc = MES_ENOMEM;
      continue;
    }
    if (!m->nb_off[r] || (r == MES_REL_EASE && ease_dropped)) {
      if (!(rel[r].off = calloc(n + 1, sizeof *rel[r].off)))
        goto done;
      continue;
    }
    struct nbuf b = {0};
    if (!(rel[r].off = calloc(n + 1, sizeof *rel[r].off)))
      goto done;
    for (size_t i = 0; i < n; i++) {
      uint32_t s = from_model[i];
      size_t start = b.n;
      if (r < 2 && ch[r].slot[s] != NONE) {
        size_t a = ch[r].at[ch[r].slot[s]], z = ch[r].at[ch[r].slot[s] + 1];
        if (nbuf_room(&b, z - a)) {
          free(b.v);
          goto done;
        }
        if (z > a)
          memcpy(b.v + b.n, ch[r].nb.v + a, (z - a) * sizeof *b.v);
        b.n += z - a;
      } else if (r == MES_REL_EASE && ease_rows) {
        int32_t e = u->eidx[s];
        if (e >= 0) {
          size_t a = ease_rows->off[e], z = ease_rows->off[e + 1];
          if (nbuf_room(&b, z - a)) {
            free(b.v);
            goto done;
          }
          if (z > a)
            memcpy(b.v + b.n, ease_rows->nb + a, (z - a) * sizeof *b.v);
          b.n += z - a;
        }
      } else if (old_row(u, m, (enum mes_rel)r, s, &b)) {
        free(b.v);
        goto done;
      }
      size_t keep = start; /* state numbering -> new numbering */
      for (size_t j = start; j < b.n; j++)
        if (to_model[b.v[j].item] != NONE)
          b.v[keep++] = (struct mes_nbr){to_model[b.v[j].item], b.v[j].w};
      b.n = keep;
      rel[r].off[i + 1] = (uint32_t)b.n;
    }
    rel[r].nb = b.v ? b.v : malloc(sizeof *rel[r].nb);
    rel[r].n_nb = b.n;
    if (!rel[r].nb)
      goto done;
  }
  /* Meta: the old one, counting what is left. */
  size_t n_ev = u->n_live_ev - n_forgot;
  json_t *old_unlearned = json_object_get(m->meta, "unlearned_events");
  int kind = ease_dropped && u->kind == MES__BUILT_EASE ? MES__BUILT_COOC : m->kind;
  if (!(meta = json_deep_copy(m->meta)) ||
      json_object_set_new(meta, "kind", json_string(mes__built_kind_name(kind))) ||
      json_object_set_new(meta, "items", json_integer((json_int_t)n)) ||
      json_object_set_new(meta, "events", json_integer((json_int_t)n_ev)) ||
      json_object_set_new(meta, "subjects", json_integer((json_int_t)u->n_live_subj)) ||
      json_object_set_new(meta, "ease_items",
                          json_integer(kind == MES__BUILT_EASE && ease_rows ? (json_int_t)n : 0)) ||
      json_object_set_new(meta, "unlearned_events",
                          json_integer(json_integer_value(old_unlearned) + (json_int_t)n_forgot)) ||
      !(meta_text = mes_json_dumps(meta, JSON_COMPACT)))
    goto done;
  struct mes__parts parts = {
      .kind = kind,
      .n_items = n,
      .ids = ids,
      .id_off = id_off,
      .pop = pop,
      .trend = trend,
      .top_pop = top_pop,
      .top_trend = top_trend,
      .meta = meta_text,
  };
  memcpy(parts.kw, m->kw, sizeof parts.kw);
  memcpy(parts.rel, rel, sizeof rel);
  if ((rc = mes__blob_write(&parts, &blob, &blob_len, err)))
    goto done;
  if ((rc = mes__model_from_own_blob(blob, blob_len, out, err))) /* takes blob */
    goto done;
  free(u->to_model);
  free(u->from_model);
  u->to_model = to_model;
  u->from_model = from_model;
  u->n_model = n;
  to_model = from_model = NULL;
done:
  if (rc == MES_ENOMEM)
    mes_err_set(err, rc, NULL, "Out of memory while unlearning.");
  free(to_model);
  free(from_model);
  free(lo);
  free(sh);
  free(pop);
  free(trend);
  free(top_pop);
  free(top_trend);
  free(ids);
  free(id_off);
  for (int r = 0; r < MES_REL_N; r++)
    mes__csr_release(&rel[r]);
  json_decref(meta);
  free(meta_text);
  return rc;
}

/* ---------------------------------------------------------------- forgetting */

/* Forgets the counted events `evs` (n of them, positions in u->d.ev) of
 * subject s, all live, and builds *out. On failure m keeps serving, but the
 * kept state may be half changed: it is dropped, m can no longer unlearn. */
static int forget(struct mes_model *m, uint32_t s, const uint32_t *evs, size_t n_evs, struct mes_model **out,
                  struct mes_unlearn_info *info, struct mes_err *err) {
  struct mes__unlearn *u = m->ul;
  size_t ns = u->d.n_items;
  uint32_t lo = u->d.subj_off[s], hi = u->d.subj_off[s + 1];
  size_t n_p = hi - lo;
  struct changed ch[2];
  memset(ch, 0, sizeof ch);
  struct mes__csr ease_rows = {0};
  /* EASE trained but its inverse not kept: dropped at the first unlearning. */
  bool ease_dropped = u->kind == MES__BUILT_EASE && !u->P;
  bool have_ease_rows = false;
  size_t n_decided = 0, n_recounted = 0;
  uint32_t *xs = malloc((n_p ? n_p : 1) * sizeof *xs), *xr = malloc((n_p ? n_p : 1) * sizeof *xr);
  uint32_t *ai = malloc((2 * n_p + 1) * sizeof *ai);
  double *av = malloc((2 * n_p + 1) * sizeof *av);
  uint8_t *mark = calloc(ns ? ns : 1, 1), *skip = NULL;
  int rc = MES_ENOMEM;
  if (!xs || !xr || !ai || !av || !mark)
    goto fail;
  for (int r = 0; r < 2; r++) {
    ch[r].slot = malloc((ns ? ns : 1) * sizeof *ch[r].slot);
    if (!ch[r].slot)
      goto fail;
    for (size_t i = 0; i < ns; i++)
      ch[r].slot[i] = NONE;
  }
  /* EASE: the person's row before. */
  size_t n_a = u->P ? ease_row(u, lo, hi, ai, av) : 0;

  /* Per relation, the entries of its index for the events forgotten (the
   * relation's entries of s are s's events of that relation's kinds, in
   * order), and the rows that change. */
  for (int r = 0; r < 2 && m->kind != MES__BUILT_POPULAR; r++) {
    struct mes__cooc_index *c = &u->rel[r];
    enum mes_rel rel = r == 0 ? MES_REL_BOUGHT : MES_REL_VIEWED;
    uint32_t q = c->s_off[s];
    size_t n_q = 0, t = 0;
    for (uint32_t e = lo; e < hi; e++) {
      if (!in_rel(rel, kind_of(&u->d.ev[e])))
        continue;
      while (t < n_evs && evs[t] < e)
        t++;
      if (t < n_evs && evs[t] == e)
        xs[n_q++] = q;
      q++;
    }
    if (n_q && (rc = cooc_update(u, m, rel, c, &u->kept[r], s, xs, n_q, &ch[r], &n_decided, &n_recounted)))
      goto fail;
  }
  size_t n_xall = 0;
  for (size_t t = 0; t < n_evs; t++) {
    uint32_t x = item_of(&u->d.ev[evs[t]]);
    u->dead[evs[t] / 8] |= (uint8_t)(1u << (evs[t] % 8));
    /* Popularity: the event's share off its item's masses (exact: fixed point). */
    mes__pop_add(&u->d.ev[evs[t]], &u->p, u->kw, u->now_ms, u->lo, u->sh, -1);
    if (!mark[x]) {
      mark[x] = 1;
      xr[n_xall++] = x;
    }
  }
  bool any_left = false;
  for (uint32_t e = lo; e < hi && !any_left; e++)
    any_left = live(u, e);
  if (!any_left)
    u->n_live_subj--;
  for (size_t t = 0; t < n_xall; t++)
    mark[xr[t]] = 0;
  /* EASE: x out, x' (what is left of the person) in. */
  if (u->P) {
    size_t n_b = ease_row(u, lo, hi, ai + n_a, av + n_a);
    bool same = n_b == n_a;
    for (size_t t = 0; t < n_a && same; t++) {
      size_t j = 0;
      while (j < n_b && ai[n_a + j] != ai[t])
        j++;
      same = j < n_b && av[n_a + j] == av[t];
    }
    if (!same) {
      if ((rc = sherman_morrison(u->P, u->n_ease, ai, av, n_a, -1.0)) ||
          (rc = sherman_morrison(u->P, u->n_ease, ai + n_a, av + n_a, n_b, 1.0)))
        goto fail;
      if (!(skip = calloc(u->n_ease ? u->n_ease : 1, 1))) {
        rc = MES_ENOMEM;
        goto fail;
      }
      for (size_t e = 0; e < u->n_ease; e++) {
        uint32_t x = u->ease_items[e];
        bool left = false;
        for (uint32_t j = u->ev_off[x]; j < u->ev_off[x + 1] && !left; j++)
          left = live(u, u->ev_inv[j]);
        skip[e] = !left;
      }
      size_t k = u->p.max_neighbors > 0 ? (size_t)u->p.max_neighbors : 0;
      if ((rc = mes__ease_rows(u->P, u->n_ease, u->ease_items, skip, k, u->p.threads, &ease_rows)))
        goto fail;
      have_ease_rows = true;
    }
  }
  for (size_t t = 0; t < n_xall; t++)
    mark[xr[t]] = 1; /* the items whose popularity moved */
  rc = build_model(u, m, ch, have_ease_rows ? &ease_rows : NULL, ease_dropped, n_evs, mark, out, err);
  if (rc)
    goto fail;
  u->n_live_ev -= n_evs;
  /* The kept state moves on to the new model. */
  (*out)->ul = u;
  atomic_store(&(*out)->ul_bytes, mes__unlearn_bytes(u));
  m->ul = NULL;
  atomic_store(&m->ul_bytes, 0);
  if (info) {
    info->events = n_evs;
    info->rows_decided = n_decided;
    info->rows_recounted = n_recounted;
    info->exact = !ease_dropped && !u->ease_partial;
    info->retrain = !info->exact;
  }
  goto done;
fail:
  if (rc == MES_ENOMEM)
    mes_err_set(err, rc, NULL, "Out of memory while unlearning; the model must be trained again.");
  atomic_store(&m->ul_bytes, 0);
  mes__unlearn_free(m->ul);
  m->ul = NULL;
done:
  for (int r = 0; r < 2; r++)
    changed_release(&ch[r]);
  mes__csr_release(&ease_rows);
  free(xs);
  free(xr);
  free(ai);
  free(av);
  free(mark);
  free(skip);
  return rc;
}

/* The dense index of store subject sid, or -1. */
static int64_t subject_of(const struct mes__unlearn *u, int64_t sid) {
  if (!u->d.sid)
    return sid >= 0 && (uint64_t)sid < u->d.n_subj ? sid : -1;
  size_t a = 0, z = u->d.n_subj;
  while (a < z) {
    size_t mid = a + (z - a) / 2;
    if (u->d.sid[mid] < sid)
      a = mid + 1;
    else
      z = mid;
  }
  return a < u->d.n_subj && u->d.sid[a] == sid ? (int64_t)a : -1;
}

/* No change to make: m itself, as exact as it is. */
static int unchanged(struct mes_model *m, bool can, struct mes_model **out, struct mes_unlearn_info *info) {
  *out = mes_model_ref(m);
  if (info)
    *info = (struct mes_unlearn_info){.events = 0, .exact = can, .retrain = !can};
  return MES_OK;
}

int mes_model_unlearn(struct mes_model *m, int64_t sid, struct mes_model **out, struct mes_unlearn_info *info,
                      struct mes_err *err) {
  *out = NULL;
  if (!m->ul)
    return unchanged(m, false, out, info);
  struct mes__unlearn *u = m->ul;
  int64_t s = subject_of(u, sid);
  if (s < 0)
    return unchanged(m, true, out, info);
  uint32_t lo = u->d.subj_off[s], hi = u->d.subj_off[s + 1];
  uint32_t *evs = malloc((hi - lo + 1) * sizeof *evs);
  if (!evs)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t n = 0;
  for (uint32_t e = lo; e < hi; e++)
    if (live(u, e))
      evs[n++] = e;
  int rc = n ? forget(m, (uint32_t)s, evs, n, out, info, err) : unchanged(m, true, out, info);
  free(evs);
  return rc;
}

int mes_model_forget_event(struct mes_model *m, int64_t sid, const char *item, size_t len, enum mes_kind kind,
                           int64_t ts_ms, struct mes_model **out, struct mes_unlearn_info *info,
                           struct mes_err *err) {
  *out = NULL;
  if (!m->ul)
    return unchanged(m, false, out, info);
  struct mes__unlearn *u = m->ul;
  int64_t s = subject_of(u, sid);
  if (s < 0 || !item || (kind != MES_KIND_VIEW && kind != MES_KIND_CLICK && kind != MES_KIND_CART &&
                         kind != MES_KIND_PURCHASE))
    return unchanged(m, true, out, info);
  /* The item's state index, from the kept id table. */
  uint32_t tag = mes_htab_tag(mes_hash_bytes(item, len));
  struct mes_htab_slot *slot;
  int64_t x = -1;
  for (size_t pos = 0; x < 0 && (slot = mes_htab_next(&u->d.ihash, tag, &pos));) {
    uint32_t i = slot->val - 1;
    if (u->d.id_off[i + 1] - u->d.id_off[i] - 1 == len && memcmp(u->d.ids + u->d.id_off[i], item, len) == 0)
      x = i;
  }
  if (x < 0)
    return unchanged(m, true, out, info);
  int64_t ts = ts_ms / 1000; /* as mes__data_add stored it */
  if (ts < 0)
    ts = 0;
  if (ts > (int64_t)UINT32_MAX)
    ts = UINT32_MAX;
  uint32_t want = (uint32_t)x | (uint32_t)kind << MES__KIND_SHIFT;
  for (uint32_t e = u->d.subj_off[s]; e < u->d.subj_off[s + 1]; e++)
    if (u->d.ev[e].ik == want && u->d.ev[e].ts == (uint32_t)ts && live(u, e))
      return forget(m, (uint32_t)s, &e, 1, out, info, err);
  return unchanged(m, true, out, info);
}
