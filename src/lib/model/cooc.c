/*
 * model/cooc — item-to-item relations learnt from people's behaviour, kept
 * apart by meaning:
 *
 *   bought together (complements): purchases (weight 1) and add-to-carts
 *     (weight 0.5: an intent, not a decision) by the same person within
 *     30 days of each other. Complements are often bought in separate
 *     orders (the tent now, the sleeping bag the week after, the rain cover
 *     when the forecast turns); a month catches those, while a wider window
 *     lets a person's unrelated routine purchases pile up as false pairs.
 *   viewed together (substitutes, similar): views and clicks (weight 1) by
 *     the same person within window_hours, the span of one shopping
 *     session or comparison.
 *
 * Counting. A pair (a, b) counts once per person, with the strongest
 * evidence that person gives: s_a * s_b * 2^(-age / half_life), the age
 * being that of the later of the two events. Each event pairs with at most
 * MAX_SPAN events on either side of it in the person's timeline, so a heavy
 * browser (or a robot) costs linear time and cannot dominate a relation.
 *
 * Sums in fixed point. Each person's evidence of a pair (and of an item,
 * for N below) is a float in [0, 1]; it is added as an integer of
 * 2^-MES__FIX_SHIFT units (mes__fix), so that a sum does not depend on the
 * order of its terms and taking one person's term away gives exactly the
 * sum without them: exact unlearning subtracts instead of counting again
 * (unlearn.c). Evidence below one unit (events some 36 half-lives old)
 * counts for nothing.
 *
 * Normalisation. Raw counts echo popularity: everything co-occurs with the
 * best seller. The weight is the cosine of the two items' person vectors,
 *   C(a,b) / sqrt(N(a) N(b)),
 * where N(x) is the (decayed) number of people with x in the relation; it
 * divides b's popularity out (it is a PMI in all but the logarithm: the
 * co-occurrence over what independent behaviour would give). Cosine alone
 * lets one person who bought two rare items make them each other's best
 * match, so it is shrunk by C / (C + SHRINK): a pair seen by one person
 * keeps half its weight, a pair seen by twenty keeps 95 %.
 *
 * Rows are computed one item at a time (an inverted index gives the people
 * and moments where the item occurs) on p->threads threads, each with dense
 * scratch arrays the size of the catalogue.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

#define MAX_SPAN MES__COOC_SPAN
#define SHRINK 1.0f

struct mes__cooc_scratch {
  uint32_t *stamp; /* n_items: the last (row, person) visit that touched it */
  float *best;     /* n_items: that person's strongest evidence of the pair */
  int64_t *acc;    /* n_items: the row's sum over people (0 = untouched) */
  uint32_t *touched, *person; /* lists of items touched in the row / by the person */
  float *w;
  int64_t *cab;
  uint32_t *pos;        /* n_items: an item's place in touched (mes__cooc_kept_row) */
  struct mes_nbr *top;  /* n_items + 1: a row's kept neighbours and the first one left out */
  uint32_t visit;
  size_t n_items;
};

static float strength(enum mes_rel rel, unsigned kind) {
  if (rel == MES_REL_BOUGHT)
    return kind == MES_KIND_PURCHASE ? 1.0f : kind == MES_KIND_CART ? 0.5f : 0.0f;
  return kind == MES_KIND_VIEW || kind == MES_KIND_CLICK ? 1.0f : 0.0f;
}

static void see(struct mes__cooc_scratch *sc, uint32_t b, float v) {
  if (sc->stamp[b] != sc->visit) {
    sc->stamp[b] = sc->visit;
    sc->best[b] = v;
    sc->person[0]++;
    sc->person[sc->person[0]] = b;
  } else if (v > sc->best[b]) {
    sc->best[b] = v;
  }
}

static void next_visit(struct mes__cooc_scratch *sc) {
  if (++sc->visit == 0) { /* wrapped: forget every stamp */
    memset(sc->stamp, 0, sc->n_items * sizeof *sc->stamp);
    sc->visit = 1;
  }
}

size_t mes__cooc_counts(const struct mes__cooc_index *c, struct mes__cooc_scratch *sc, uint32_t a,
                        const uint32_t **items, const int64_t **cab) {
  size_t n_touched = 0;
  *items = sc->touched;
  *cab = sc->cab;
  const uint32_t *occ = c->inv + c->inv_off[a];
  size_t n_occ = c->inv_off[a + 1] - c->inv_off[a];
  if (n_occ == 0 || c->norm[a] <= 0)
    return 0;
  for (size_t j = 0; j < n_occ;) {
    uint32_t subj = c->r_subj[occ[j]];
    uint32_t lo = c->s_off[subj], hi = c->s_off[subj + 1];
    next_visit(sc);
    sc->person[0] = 0;
    for (; j < n_occ && c->r_subj[occ[j]] == subj; j++) {
      uint32_t p = occ[j];
      const struct mes__rev *ea = &c->r[p];
      if (ea->s <= 0) /* forgotten */
        continue;
      /* Forgotten events are skipped without counting in the span: the
       * neighbours are those training would find without them. */
      int span = 0;
      for (uint32_t q = p; q > lo && span < MAX_SPAN;) {
        const struct mes__rev *eb = &c->r[--q];
        if (eb->s <= 0)
          continue;
        span++;
        if ((double)ea->ts - eb->ts > c->window_s)
          break;
        if (eb->item != a)
          see(sc, eb->item, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
      }
      span = 0;
      for (uint32_t q = p + 1; q < hi && span < MAX_SPAN; q++) {
        const struct mes__rev *eb = &c->r[q];
        if (eb->s <= 0)
          continue;
        span++;
        if ((double)eb->ts - ea->ts > c->window_s)
          break;
        if (eb->item != a)
          see(sc, eb->item, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
      }
    }
    for (uint32_t t = 1; t <= sc->person[0]; t++) {
      uint32_t b = sc->person[t];
      int64_t v = mes__fix(sc->best[b]);
      if (v == 0)
        continue;
      if (sc->acc[b] == 0)
        sc->touched[n_touched++] = b;
      sc->acc[b] += v;
    }
  }
  for (size_t t = 0; t < n_touched; t++) {
    uint32_t b = sc->touched[t];
    sc->cab[t] = sc->acc[b];
    sc->acc[b] = 0;
  }
  return n_touched;
}

float mes__cooc_weight(const struct mes__cooc_index *c, uint32_t a, uint32_t b, int64_t cab) {
  /* In double: the product of two small norms underflows in float (an
   * infinite weight, a model the loader rightly refuses as corrupt). The
   * expression is symmetric in a and b, to the bit: W(a, b) = W(b, a), which
   * unlearning's bounds rely on. */
  if (cab <= 0 || c->norm[a] <= 0 || c->norm[b] <= 0)
    return 0;
  const double unit = 1.0 / (double)(1ull << MES__FIX_SHIFT); /* a power of 2: scaling by it is exact */
  double na = (double)c->norm[a] * unit, nb = (double)c->norm[b] * unit;
  float cf = (float)((double)cab * unit);
  float cos = (float)((double)cf / sqrt(na * nb));
  return cos * (cf / (cf + SHRINK));
}

size_t mes__cooc_kept_row(const struct mes__cooc_index *c, struct mes__cooc_scratch *sc, uint32_t a, size_t k,
                          struct mes__cooc_kept *kept, struct mes_nbr *out) {
  const uint32_t *items;
  const int64_t *cab;
  size_t n = mes__cooc_counts(c, sc, a, &items, &cab);
  for (size_t t = 0; t < n; t++) {
    sc->w[t] = mes__cooc_weight(c, a, items[t], cab[t]);
    sc->pos[items[t]] = (uint32_t)t;
  }
  if (!kept)
    return mes__topk(items, sc->w, n, k, out);
  size_t cap = kept->cap;
  size_t got = mes__topk(items, sc->w, n, cap + 1, sc->top);
  size_t kl = got < cap ? got : cap;
  uint32_t *ki = kept->item + (size_t)a * cap;
  int64_t *kc = kept->c + (size_t)a * cap;
  for (size_t j = 0; j < kl; j++) {
    ki[j] = sc->top[j].item;
    kc[j] = cab[sc->pos[sc->top[j].item]];
  }
  kept->len[a] = (uint32_t)kl;
  kept->bound[a] = got > cap ? sc->top[cap].w : 0.0f;
  size_t kk = got < k ? got : k;
  memcpy(out, sc->top, kk * sizeof *out);
  return kk;
}

int64_t mes__cooc_norm(const struct mes__cooc_index *c, uint32_t x) {
  /* Per person, the strongest evidence of x, summed. */
  int64_t sum = 0;
  float best = 0;
  uint32_t cur = UINT32_MAX;
  for (uint32_t j = c->inv_off[x]; j < c->inv_off[x + 1]; j++) {
    uint32_t q = c->inv[j];
    if (c->r_subj[q] != cur) {
      sum += mes__fix(best);
      best = 0;
      cur = c->r_subj[q];
    }
    float v = c->r[q].s * c->r[q].dec;
    if (v > best)
      best = v;
  }
  return sum + mes__fix(best);
}

struct mes__cooc_scratch *mes__cooc_scratch_new(size_t n_items) {
  struct mes__cooc_scratch *sc = calloc(1, sizeof *sc);
  if (!sc)
    return NULL;
  size_t m = n_items ? n_items : 1;
  sc->n_items = n_items;
  sc->stamp = calloc(m, sizeof *sc->stamp);
  sc->best = malloc(m * sizeof *sc->best);
  sc->acc = calloc(m, sizeof *sc->acc);
  sc->touched = malloc(m * sizeof *sc->touched);
  sc->person = malloc((m + 1) * sizeof *sc->person);
  sc->w = malloc(m * sizeof *sc->w);
  sc->cab = malloc(m * sizeof *sc->cab);
  sc->pos = malloc(m * sizeof *sc->pos);
  sc->top = malloc((m + 1) * sizeof *sc->top);
  if (!sc->stamp || !sc->best || !sc->acc || !sc->touched || !sc->person || !sc->w || !sc->cab || !sc->pos ||
      !sc->top) {
    mes__cooc_scratch_free(sc);
    return NULL;
  }
  return sc;
}

void mes__cooc_scratch_free(struct mes__cooc_scratch *sc) {
  if (!sc)
    return;
  free(sc->stamp);
  free(sc->best);
  free(sc->acc);
  free(sc->touched);
  free(sc->person);
  free(sc->w);
  free(sc->cab);
  free(sc->pos);
  free(sc->top);
  free(sc);
}

void mes__cooc_index_release(struct mes__cooc_index *c) {
  if (!c)
    return;
  free(c->r);
  free(c->r_subj);
  free(c->s_off);
  free(c->inv_off);
  free(c->inv);
  free(c->norm);
  memset(c, 0, sizeof *c);
}

int mes__cooc_index_build(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel,
                          int64_t now_ms, struct mes__cooc_index *c) {
  size_t n_items = d->n_items;
  *c = (struct mes__cooc_index){.n_items = n_items, .n_subj = d->n_subj};
  c->window_s = rel == MES_REL_BOUGHT ? MES__BOUGHT_WINDOW_S : p->window_hours * 3600.0;
  double now_s = (double)now_ms / 1000.0, hl = p->relation_half_life_days * 86400.0;

  /* The relation's events, still grouped by subject and in time order. */
  size_t n = 0;
  for (size_t e = 0; e < d->n_ev; e++)
    n += strength(rel, d->ev[e].ik >> MES__KIND_SHIFT) > 0;
  c->n = n;
  c->r = malloc((n ? n : 1) * sizeof *c->r);
  c->r_subj = malloc((n ? n : 1) * sizeof *c->r_subj);
  c->s_off = calloc(d->n_subj + 1, sizeof *c->s_off);
  c->inv_off = calloc(n_items + 1, sizeof *c->inv_off);
  c->inv = malloc((n ? n : 1) * sizeof *c->inv);
  c->norm = calloc(n_items ? n_items : 1, sizeof *c->norm);
  uint32_t *pos = malloc((n_items ? n_items : 1) * sizeof *pos);
  if (!c->r || !c->r_subj || !c->s_off || !c->inv_off || !c->inv || !c->norm || !pos) {
    free(pos);
    mes__cooc_index_release(c);
    return MES_ENOMEM;
  }
  size_t o = 0;
  for (size_t s = 0; s < d->n_subj; s++) {
    c->s_off[s] = (uint32_t)o;
    for (uint32_t e = d->subj_off[s]; e < d->subj_off[s + 1]; e++) {
      float st = strength(rel, d->ev[e].ik >> MES__KIND_SHIFT);
      if (st <= 0)
        continue;
      uint32_t item = d->ev[e].ik & MES__ITEM_MASK;
      c->r[o] = (struct mes__rev){item, d->ev[e].ts, st, (float)mes__decay(now_s, d->ev[e].ts, hl)};
      c->r_subj[o] = (uint32_t)s;
      c->inv_off[item + 1]++;
      o++;
    }
  }
  c->s_off[d->n_subj] = (uint32_t)o;
  for (size_t i = 0; i < n_items; i++)
    c->inv_off[i + 1] += c->inv_off[i];
  memcpy(pos, c->inv_off, n_items * sizeof *pos);
  for (size_t q = 0; q < n; q++)
    c->inv[pos[c->r[q].item]++] = (uint32_t)q;
  free(pos);
  for (size_t x = 0; x < n_items; x++)
    c->norm[x] = mes__cooc_norm(c, (uint32_t)x);
  return MES_OK;
}

/* ---------------------------------------------------------------- kept rows */

int mes__cooc_kept_init(struct mes__cooc_kept *k, size_t n_items, size_t cap) {
  *k = (struct mes__cooc_kept){.n_items = n_items, .cap = cap};
  size_t m = n_items ? n_items : 1, e = cap ? m * cap : 1;
  k->item = malloc(e * sizeof *k->item);
  k->c = malloc(e * sizeof *k->c);
  k->len = calloc(m, sizeof *k->len);
  k->bound = calloc(m, sizeof *k->bound);
  if (!k->item || !k->c || !k->len || !k->bound) {
    mes__cooc_kept_release(k);
    return MES_ENOMEM;
  }
  return MES_OK;
}

void mes__cooc_kept_release(struct mes__cooc_kept *k) {
  if (!k)
    return;
  free(k->item);
  free(k->c);
  free(k->len);
  free(k->bound);
  memset(k, 0, sizeof *k);
}

/* ---------------------------------------------------------------- training */

struct rows_ctx {
  const struct mes__cooc_index *c;
  struct mes__cooc_scratch **sc; /* one per worker */
  struct mes__cooc_kept *kept;   /* NULL: served rows only */
  size_t k;
};

static long cooc_row(void *ctx, int worker, uint32_t a, struct mes_nbr *out) {
  struct rows_ctx *r = ctx;
  return (long)mes__cooc_kept_row(r->c, r->sc[worker], a, r->k, r->kept, out);
}

int mes__cooc(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel, int64_t now_ms,
              struct mes__csr *out, struct mes__cooc_index *keep_index, struct mes__cooc_kept *kept,
              struct mes_err *err) {
  memset(out, 0, sizeof *out);
  int threads = p->threads < 1 ? 1 : p->threads > 64 ? 64 : p->threads;
  struct mes__cooc_index c;
  struct rows_ctx r = {.c = &c, .k = p->max_neighbors > 0 ? (size_t)p->max_neighbors : 0};
  int rc = mes__cooc_index_build(d, p, rel, now_ms, &c);
  if (rc)
    return mes_err_set(err, rc, NULL, "Out of memory while learning which items go together.");
  if (kept) {
    size_t margin = p->unlearn_margin > 0 ? (size_t)p->unlearn_margin : 0;
    if (margin > d->n_items) /* a row has at most n_items - 1 neighbours */
      margin = d->n_items;
    if ((rc = mes__cooc_kept_init(kept, d->n_items, r.k + margin)))
      goto done;
    r.kept = kept;
  }
  rc = MES_ENOMEM;
  r.sc = calloc((size_t)threads, sizeof *r.sc);
  if (!r.sc)
    goto done;
  for (int t = 0; t < threads; t++)
    if (!(r.sc[t] = mes__cooc_scratch_new(d->n_items)))
      goto done;
  rc = mes__rows_parallel(d->n_items, r.k, threads, cooc_row, &r, out);
done:
  if (r.sc)
    for (int t = 0; t < threads; t++)
      mes__cooc_scratch_free(r.sc[t]);
  free(r.sc);
  if (!rc && keep_index)
    *keep_index = c;
  else
    mes__cooc_index_release(&c);
  if (rc) {
    mes__cooc_kept_release(kept);
    return mes_err_set(err, rc, NULL, "Out of memory while learning which items go together.");
  }
  return MES_OK;
}
