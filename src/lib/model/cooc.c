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
  float *acc;      /* n_items: the row's sum over people (0 = untouched) */
  uint32_t *touched, *person; /* lists of items touched in the row / by the person */
  float *w, *cab;
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
                        const uint32_t **items, const float **cab) {
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
      if (sc->acc[b] == 0)
        sc->touched[n_touched++] = b;
      sc->acc[b] += sc->best[b];
    }
  }
  for (size_t t = 0; t < n_touched; t++) {
    uint32_t b = sc->touched[t];
    sc->cab[t] = sc->acc[b];
    sc->acc[b] = 0;
  }
  return n_touched;
}

float mes__cooc_weight(const struct mes__cooc_index *c, uint32_t a, uint32_t b, float cab) {
  /* In double: decayed counts of events decades old are ~1e-30, and their
   * product underflows to 0 in float (an infinite weight, a model the
   * loader rightly refuses as corrupt). */
  double den = c->norm[b] > 0 ? sqrt((double)c->norm[a] * (double)c->norm[b]) : 0;
  float cos = den > 0 ? (float)((double)cab / den) : 0;
  return cos * (cab / (cab + SHRINK));
}

size_t mes__cooc_row(const struct mes__cooc_index *c, struct mes__cooc_scratch *sc, uint32_t a, size_t k,
                     struct mes_nbr *out) {
  const uint32_t *items;
  const float *cab;
  size_t n = mes__cooc_counts(c, sc, a, &items, &cab);
  for (size_t t = 0; t < n; t++)
    sc->w[t] = mes__cooc_weight(c, a, items[t], cab[t]);
  return mes__topk(items, sc->w, n, k, out);
}

float mes__cooc_norm(const struct mes__cooc_index *c, uint32_t x) {
  /* Per person, the strongest evidence of x, summed. */
  float sum = 0, best = 0;
  uint32_t cur = UINT32_MAX;
  for (uint32_t j = c->inv_off[x]; j < c->inv_off[x + 1]; j++) {
    uint32_t q = c->inv[j];
    if (c->r_subj[q] != cur) {
      sum += best;
      best = 0;
      cur = c->r_subj[q];
    }
    float v = c->r[q].s * c->r[q].dec;
    if (v > best)
      best = v;
  }
  return sum + best;
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
  if (!sc->stamp || !sc->best || !sc->acc || !sc->touched || !sc->person || !sc->w || !sc->cab) {
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

/* ---------------------------------------------------------------- training */

struct rows_ctx {
  const struct mes__cooc_index *c;
  struct mes__cooc_scratch **sc; /* one per worker */
  size_t k;
};

static long cooc_row(void *ctx, int worker, uint32_t a, struct mes_nbr *out) {
  struct rows_ctx *r = ctx;
  return (long)mes__cooc_row(r->c, r->sc[worker], a, r->k, out);
}

int mes__cooc(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel, int64_t now_ms,
              struct mes__csr *out, struct mes_err *err) {
  memset(out, 0, sizeof *out);
  int threads = p->threads < 1 ? 1 : p->threads > 64 ? 64 : p->threads;
  struct mes__cooc_index c;
  struct rows_ctx r = {.c = &c, .k = p->max_neighbors > 0 ? (size_t)p->max_neighbors : 0};
  int rc = mes__cooc_index_build(d, p, rel, now_ms, &c);
  if (rc)
    return mes_err_set(err, rc, NULL, "Out of memory while learning which items go together.");
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
  mes__cooc_index_release(&c);
  if (rc)
    return mes_err_set(err, rc, NULL, "Out of memory while learning which items go together.");
  return MES_OK;
}
