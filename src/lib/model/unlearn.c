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
 *     recounted by the very code and in the very order training used;
 *   - popularity's two masses per item, in double;
 *   - for EASE, the inverse P = (XᵀX + λI)⁻¹ in double precision, n² x 8
 *     bytes, when it fits model.max_memory_mb (mes_model_train decides).
 *
 * Removing a person p (or one of their events) then goes:
 *   1. popularity: the masses of p's items are summed again from their
 *      remaining events (same order, so the same bits as a retrain); every
 *      score is rescaled and both orders sorted again;
 *   2. co-occurrence, per relation: N(x) of each item x that p touched is
 *      counted again; row x is recounted in full; every other row b that
 *      co-occurs with x only sees its weight for x change, and only upward
 *      (N(x) can only shrink, C(b, x) does not move: p never touched b), so
 *      b's new top k is the top k of its old list plus the raised entries:
 *      exact, truncation and ties included, without recounting b;
 *   3. EASE: removing p's row x of X is a rank-1 downdate of the Gram
 *      matrix, G' = G − x xᵀ, and Sherman–Morrison gives its inverse,
 *      P' = P + (P x)(P x)ᵀ / (1 − xᵀ P x), in O(n²); forgetting one event
 *      changes x to x', a downdate by x then an update by x'. Every row of B
 *      is then sparsified again from P' (O(n²) as well). Without a kept P
 *      the EASE relation is dropped instead (the person's contribution is
 *      neutralised, every other list stays exact) and the caller retrains;
 *   4. items that nobody else touched leave the model, and a new model is
 *      built from the parts (a new blob: the old model is never changed).
 *
 * Numbering: the kept data stays in training's item numbering ("state
 * items"); each model built from it numbers only the items still present,
 * in the same order (to_model / from_model map the two), so that ties,
 * broken by the smaller index, break as in a retrain.
 */
#include <cblas.h>
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
  double *lo, *sh;          /* popularity masses */
  struct mes__cooc_index rel[2]; /* MES_REL_BOUGHT, MES_REL_VIEWED (empty for popular) */
  struct mes__cooc_scratch *sc[MAX_THREADS]; /* n_sc of them: recounting rows */
  float *w[MAX_THREADS];
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
  for (int r = 0; r < 2; r++)
    mes__cooc_index_release(&u->rel[r]);
  for (int t = 0; t < u->n_sc; t++) {
    mes__cooc_scratch_free(u->sc[t]);
    free(u->w[t]);
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
      b += c->n * (sizeof *c->r + 2 * sizeof(uint32_t)) + (c->n_subj + 1) * 4 + (n + 1) * 4 + n * 4;
  }
  b += (size_t)u->n_sc * (n * (4 * 4 + 4 * 4) + 4);
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
                     struct mes__unlearn **out) {
  *out = NULL;
  struct mes__unlearn *u = calloc(1, sizeof *u);
  if (!u) {
    free(P);
    return MES_ENOMEM;
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
    mes__pop_add(&u->d.ev[e], p, kw, now_ms, u->lo, u->sh);
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
    if (mes__cooc_index_build(&u->d, p, MES_REL_BOUGHT, now_ms, &u->rel[0]) ||
        mes__cooc_index_build(&u->d, p, MES_REL_VIEWED, now_ms, &u->rel[1]))
      goto fail;
    int threads = p->threads < 1 ? 1 : p->threads > MAX_THREADS ? MAX_THREADS : p->threads;
    for (; u->n_sc < threads; u->n_sc++)
      if (!(u->sc[u->n_sc] = mes__cooc_scratch_new(n)) || !(u->w[u->n_sc] = malloc(m * sizeof(float)))) {
        mes__cooc_scratch_free(u->sc[u->n_sc]);
        goto fail;
      }
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

/* One raised weight: row b's weight for x is now w. */
struct raise {
  uint32_t b, x;
  float w;
};

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

/* Relation r of u after the events of `xs` (the n_x state items whose events
 * in the relation changed; their events already marked): norms counted again,
 * the rows that change into ch. */
/* The rows of xs recounted on the kept threads: worker w takes rows
 * w, w + T, ...; each writes its rows' top k into rows (k a row) and the
 * raised weights of other rows into its own list. */
struct recount {
  const struct mes__cooc_index *c;
  const uint32_t *xs;
  size_t n_x, k;
  const uint8_t *mark;
  struct mes_nbr *rows; /* n_x * k */
  size_t *row_n;        /* n_x */
  int threads;
};

struct recount_worker {
  const struct recount *r;
  int index;
  struct mes__cooc_scratch *sc;
  float *w;
  struct raise *rs;
  size_t n_rs, cap_rs;
  int rc;
  pthread_t th;
};

static void *recount_work(void *arg) {
  struct recount_worker *wk = arg;
  const struct recount *r = wk->r;
  for (size_t t = (size_t)wk->index; t < r->n_x; t += (size_t)r->threads) {
    uint32_t x = r->xs[t];
    const uint32_t *items;
    const float *cab;
    size_t n = mes__cooc_counts(r->c, wk->sc, x, &items, &cab);
    for (size_t j = 0; j < n; j++) {
      uint32_t b = items[j];
      wk->w[j] = mes__cooc_weight(r->c, x, b, cab[j]);
      if (r->mark[b])
        continue; /* b's own row is counted again in full */
      if (wk->n_rs == wk->cap_rs) {
        size_t cap = wk->cap_rs ? wk->cap_rs * 2 : 256;
        struct raise *nr = realloc(wk->rs, cap * sizeof *nr);
        if (!nr) {
          wk->rc = MES_ENOMEM;
          return NULL;
        }
        wk->rs = nr;
        wk->cap_rs = cap;
      }
      wk->rs[wk->n_rs++] = (struct raise){b, x, mes__cooc_weight(r->c, b, x, cab[j])};
    }
    r->row_n[t] = mes__topk(items, wk->w, n, r->k, r->rows + t * r->k);
  }
  return NULL;
}

static int cooc_update(struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel,
                       struct mes__cooc_index *c, const uint32_t *xs, size_t n_x, uint8_t *mark,
                       struct changed *ch) {
  size_t k = u->p.max_neighbors > 0 ? (size_t)u->p.max_neighbors : 0;
  struct raise *rs = NULL;
  uint32_t *rs_at = NULL; /* row b's raised weights: rs[rs_at[b] .. rs_at[b + 1]) */
  struct mes_nbr *top = malloc((k ? k : 1) * sizeof *top);
  float *w = malloc((c->n_items ? c->n_items : 1) * sizeof *w);
  uint32_t *its = NULL;
  struct recount r = {.c = c, .xs = xs, .n_x = n_x, .k = k, .mark = mark, .threads = u->n_sc};
  r.rows = malloc((n_x && k ? n_x * k : 1) * sizeof *r.rows);
  r.row_n = malloc((n_x ? n_x : 1) * sizeof *r.row_n);
  struct recount_worker wk[MAX_THREADS];
  memset(wk, 0, sizeof wk); /* every worker's rs is freed below */
  int rc = MES_ENOMEM;
  if (!top || !w || !r.rows || !r.row_n)
    goto done;
  for (size_t t = 0; t < n_x; t++) {
    c->norm[xs[t]] = mes__cooc_norm(c, xs[t]);
    mark[xs[t]] = 1;
  }
  for (int t = 0; t < r.threads; t++)
    wk[t] = (struct recount_worker){.r = &r, .index = t, .sc = u->sc[t], .w = u->w[t]};
  int started = 1;
  while (started < r.threads && pthread_create(&wk[started].th, NULL, recount_work, &wk[started]) == 0)
    started++;
  recount_work(&wk[0]);
  for (int t = 1; t < started; t++)
    pthread_join(wk[t].th, NULL);
  for (int t = started; t < r.threads; t++) /* a thread that did not start: its rows here */
    recount_work(&wk[t]);
  /* The raised weights grouped by row, by counting (linear: a heavy
   * shopper's popular items raise millions); the order within a row does
   * not matter, mes__topk breaks ties by item. */
  size_t total = 0, ns = c->n_items;
  for (int t = 0; t < r.threads; t++) {
    if (wk[t].rc)
      goto done;
    total += wk[t].n_rs;
  }
  if (total > UINT32_MAX || !(rs = malloc((total ? total : 1) * sizeof *rs)) ||
      !(rs_at = calloc(ns + 1, sizeof *rs_at)))
    goto done;
  for (int t = 0; t < r.threads; t++)
    for (size_t i = 0; i < wk[t].n_rs; i++)
      rs_at[wk[t].rs[i].b + 1]++;
  for (size_t b = 0; b < ns; b++)
    rs_at[b + 1] += rs_at[b];
  for (int t = 0; t < r.threads; t++)
    for (size_t i = 0; i < wk[t].n_rs; i++)
      rs[rs_at[wk[t].rs[i].b]++] = wk[t].rs[i];
  for (size_t b = ns; b > 0; b--) /* back from the ends each row's fill reached to its start */
    rs_at[b] = rs_at[b - 1];
  rs_at[0] = 0;
  for (size_t t = 0; t < n_x; t++)
    if (changed_add(ch, xs[t], r.rows + t * k, r.row_n[t]))
      goto done;
  /* Rows that only see raised weights: their old list, the raised entries in
   * place of the old ones, the top k of that. */
  struct nbuf cand = {0};
  for (uint32_t b = 0; b < ns; b++) {
    if (rs_at[b] == rs_at[b + 1])
      continue;
    cand.n = 0;
    if (old_row(u, m, rel, b, &cand))
      goto cand_fail;
    size_t keep = 0;
    for (size_t j = 0; j < cand.n; j++)
      if (!mark[cand.v[j].item])
        cand.v[keep++] = cand.v[j];
    cand.n = keep;
    if (nbuf_room(&cand, rs_at[b + 1] - rs_at[b]))
      goto cand_fail;
    for (uint32_t i = rs_at[b]; i < rs_at[b + 1]; i++)
      cand.v[cand.n++] = (struct mes_nbr){rs[i].x, rs[i].w};
    uint32_t *ci = realloc(its, (cand.n ? cand.n : 1) * sizeof *ci);
    if (!ci)
      goto cand_fail;
    its = ci;
    for (size_t j = 0; j < cand.n; j++) {
      its[j] = cand.v[j].item;
      w[j] = cand.v[j].w;
    }
    size_t got = mes__topk(its, w, cand.n, k, top);
    if (changed_add(ch, b, top, got))
      goto cand_fail;
  }
  free(cand.v);
  rc = MES_OK;
  goto done;
cand_fail:
  free(cand.v);
done:
  for (size_t t = 0; t < n_x; t++)
    mark[xs[t]] = 0;
  for (int t = 0; t < MAX_THREADS; t++)
    free(wk[t].rs);
  free(r.rows);
  free(r.row_n);
  free(rs);
  free(rs_at);
  free(top);
  free(w);
  free(its);
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

static int build_model(struct mes__unlearn *u, const struct mes_model *m, struct changed ch[2],
                       const struct mes__csr *ease_rows, bool ease_dropped, size_t n_forgot,
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
    lo[n] = u->lo[s];
    sh[n] = u->sh[s];
    uint32_t len = u->d.id_off[s + 1] - u->d.id_off[s];
    memcpy(ids + id_off[n], u->d.ids + u->d.id_off[s], len);
    id_off[n + 1] = id_off[n] + len;
    n++;
  }
  if (mes__pop_finish(n, &u->p, lo, sh, pop, trend, top_pop, top_trend))
    goto done;
  /* The relations in the new numbering. */
  for (int r = 0; r < MES_REL_N; r++) {
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
  if ((rc = mes__model_from_blob(blob, blob_len, 0, out, err))) /* takes blob */
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

/* One event forgotten at position q of relation c, of subject s: the pairs
 * of s's other events change only where they involve the event or straddle
 * it (two events 33 apart come within the span), and both ends of such a
 * pair lie within MES__COOC_SPAN live events of it (the span counts live
 * events); one more on each side costs little. Their items join xs; s's
 * items beyond keep every pair they had. */
static void near_items(const struct mes__cooc_index *c, uint32_t s, uint32_t q, uint8_t *mark, uint32_t *xs,
                       size_t *n_x) {
  uint32_t lo = c->s_off[s], hi = c->s_off[s + 1];
  int seen = 0;
  for (uint32_t j = q; j > lo && seen <= MES__COOC_SPAN;) {
    const struct mes__rev *e = &c->r[--j];
    if (e->s <= 0)
      continue;
    seen++;
    if (!mark[e->item]) {
      mark[e->item] = 1;
      xs[(*n_x)++] = e->item;
    }
  }
  seen = 0;
  for (uint32_t j = q + 1; j < hi && seen <= MES__COOC_SPAN; j++) {
    const struct mes__rev *e = &c->r[j];
    if (e->s <= 0)
      continue;
    seen++;
    if (!mark[e->item]) {
      mark[e->item] = 1;
      xs[(*n_x)++] = e->item;
    }
  }
}

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
    size_t n_x = 0, t = 0;
    for (uint32_t e = lo; e < hi; e++) {
      if (!in_rel(rel, kind_of(&u->d.ev[e])))
        continue;
      while (t < n_evs && evs[t] < e)
        t++;
      if (t < n_evs && evs[t] == e) {
        uint32_t x = c->r[q].item;
        c->r[q].s = 0.0f;
        if (!mark[x]) {
          mark[x] = 1;
          xs[n_x++] = x;
        }
        if (n_evs == 1)
          near_items(c, s, q, mark, xs, &n_x);
      }
      q++;
    }
    for (size_t j = 0; j < n_x; j++)
      mark[xs[j]] = 0;
    if ((rc = cooc_update(u, m, rel, c, xs, n_x, mark, &ch[r])))
      goto fail;
  }
  size_t n_xall = 0;
  for (size_t t = 0; t < n_evs; t++) {
    uint32_t x = item_of(&u->d.ev[evs[t]]);
    u->dead[evs[t] / 8] |= (uint8_t)(1u << (evs[t] % 8));
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
  /* Popularity: the masses of the items touched, summed again in order. */
  for (size_t t = 0; t < n_xall; t++) {
    uint32_t x = xr[t];
    mark[x] = 0;
    u->lo[x] = u->sh[x] = 0;
    for (uint32_t j = u->ev_off[x]; j < u->ev_off[x + 1]; j++)
      if (live(u, u->ev_inv[j]))
        mes__pop_add(&u->d.ev[u->ev_inv[j]], &u->p, u->kw, u->now_ms, u->lo, u->sh);
  }
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
  rc = build_model(u, m, ch, have_ease_rows ? &ease_rows : NULL, ease_dropped, n_evs, out, err);
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
