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

#define MAX_SPAN 32
#define SHRINK 1.0f

struct rev {
  uint32_t item;
  uint32_t ts;
  float s;   /* strength of the kind */
  float dec; /* time decay of the event */
};

struct scratch {
  uint32_t *stamp; /* n_items: the last (row, person) visit that touched it */
  float *best;     /* n_items: that person's strongest evidence of the pair */
  float *acc;      /* n_items: the row's sum over people (0 = untouched) */
  uint32_t *touched, *person; /* lists of items touched in the row / by the person */
  float *w;
  uint32_t visit;
};

struct cooc {
  size_t n_items;
  struct rev *r;     /* events of the relation, by subject then time */
  uint32_t *r_subj;  /* subject of each */
  uint32_t *s_off;   /* n_subj + 1 offsets into r */
  uint32_t *inv_off; /* n_items + 1 offsets into inv */
  uint32_t *inv;     /* positions in r, grouped by item, in order */
  float *norm;       /* N(item) */
  double window_s;
  size_t k;
  struct scratch *sc; /* one per worker */
};

static float strength(enum mes_rel rel, unsigned kind) {
  if (rel == MES_REL_BOUGHT)
    return kind == MES_KIND_PURCHASE ? 1.0f : kind == MES_KIND_CART ? 0.5f : 0.0f;
  return kind == MES_KIND_VIEW || kind == MES_KIND_CLICK ? 1.0f : 0.0f;
}

static void see(struct cooc *c, struct scratch *sc, uint32_t b, float v) {
  if (sc->stamp[b] != sc->visit) {
    sc->stamp[b] = sc->visit;
    sc->best[b] = v;
    sc->person[0]++;
    sc->person[sc->person[0]] = b;
  } else if (v > sc->best[b]) {
    sc->best[b] = v;
  }
  (void)c;
}

static void next_visit(struct scratch *sc, size_t n_items) {
  if (++sc->visit == 0) { /* wrapped: forget every stamp */
    memset(sc->stamp, 0, n_items * sizeof *sc->stamp);
    sc->visit = 1;
  }
}

static long cooc_row(void *ctx, int worker, uint32_t a, struct mes_nbr *out) {
  struct cooc *c = ctx;
  struct scratch *sc = &c->sc[worker];
  size_t n_touched = 0;
  const uint32_t *occ = c->inv + c->inv_off[a];
  size_t n_occ = c->inv_off[a + 1] - c->inv_off[a];
  if (n_occ == 0 || c->norm[a] <= 0)
    return 0;
  for (size_t j = 0; j < n_occ;) {
    uint32_t subj = c->r_subj[occ[j]];
    uint32_t lo = c->s_off[subj], hi = c->s_off[subj + 1];
    next_visit(sc, c->n_items);
    sc->person[0] = 0;
    for (; j < n_occ && c->r_subj[occ[j]] == subj; j++) {
      uint32_t p = occ[j];
      const struct rev *ea = &c->r[p];
      int span = 0;
      for (uint32_t q = p; q > lo && span < MAX_SPAN; span++) {
        const struct rev *eb = &c->r[--q];
        if ((double)ea->ts - eb->ts > c->window_s)
          break;
        if (eb->item != a)
          see(c, sc, eb->item, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
      }
      span = 0;
      for (uint32_t q = p + 1; q < hi && span < MAX_SPAN; q++, span++) {
        const struct rev *eb = &c->r[q];
        if ((double)eb->ts - ea->ts > c->window_s)
          break;
        if (eb->item != a)
          see(c, sc, eb->item, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
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
    float cab = sc->acc[b];
    sc->acc[b] = 0;
    /* In double: decayed counts of events decades old are ~1e-30, and their
     * product underflows to 0 in float (an infinite weight, a model the
     * loader rightly refuses as corrupt). */
    double den = c->norm[b] > 0 ? sqrt((double)c->norm[a] * (double)c->norm[b]) : 0;
    float cos = den > 0 ? (float)((double)cab / den) : 0;
    sc->w[t] = cos * (cab / (cab + SHRINK));
  }
  return (long)mes__topk(sc->touched, sc->w, n_touched, c->k, out);
}

static void cooc_release(struct cooc *c, int threads) {
  free(c->r);
  free(c->r_subj);
  free(c->s_off);
  free(c->inv_off);
  free(c->inv);
  free(c->norm);
  if (c->sc) {
    for (int t = 0; t < threads; t++) {
      free(c->sc[t].stamp);
      free(c->sc[t].best);
      free(c->sc[t].acc);
      free(c->sc[t].touched);
      free(c->sc[t].person);
      free(c->sc[t].w);
    }
    free(c->sc);
  }
}

int mes__cooc(const struct mes__data *d, const struct mes_model_params *p, enum mes_rel rel, int64_t now_ms,
              struct mes__csr *out, struct mes_err *err) {
  memset(out, 0, sizeof *out);
  int threads = p->threads < 1 ? 1 : p->threads > 64 ? 64 : p->threads;
  size_t n_items = d->n_items;
  struct cooc c = {.n_items = n_items, .k = p->max_neighbors > 0 ? (size_t)p->max_neighbors : 0};
  c.window_s = rel == MES_REL_BOUGHT ? MES__BOUGHT_WINDOW_S : p->window_hours * 3600.0;
  double now_s = (double)now_ms / 1000.0, hl = p->relation_half_life_days * 86400.0;
  int rc = MES_ENOMEM;

  /* The relation's events, still grouped by subject and in time order. */
  size_t n = 0;
  for (size_t e = 0; e < d->n_ev; e++)
    n += strength(rel, d->ev[e].ik >> MES__KIND_SHIFT) > 0;
  c.r = malloc((n ? n : 1) * sizeof *c.r);
  c.r_subj = malloc((n ? n : 1) * sizeof *c.r_subj);
  c.s_off = calloc(d->n_subj + 1, sizeof *c.s_off);
  c.inv_off = calloc(n_items + 1, sizeof *c.inv_off);
  c.inv = malloc((n ? n : 1) * sizeof *c.inv);
  c.norm = calloc(n_items ? n_items : 1, sizeof *c.norm);
  c.sc = calloc((size_t)threads, sizeof *c.sc);
  if (!c.r || !c.r_subj || !c.s_off || !c.inv_off || !c.inv || !c.norm || !c.sc)
    goto done;
  size_t o = 0;
  for (size_t s = 0; s < d->n_subj; s++) {
    c.s_off[s] = (uint32_t)o;
    for (uint32_t e = d->subj_off[s]; e < d->subj_off[s + 1]; e++) {
      float st = strength(rel, d->ev[e].ik >> MES__KIND_SHIFT);
      if (st <= 0)
        continue;
      uint32_t item = d->ev[e].ik & MES__ITEM_MASK;
      c.r[o] = (struct rev){item, d->ev[e].ts, st, (float)mes__decay(now_s, d->ev[e].ts, hl)};
      c.r_subj[o] = (uint32_t)s;
      c.inv_off[item + 1]++;
      o++;
    }
  }
  c.s_off[d->n_subj] = (uint32_t)o;
  for (size_t i = 0; i < n_items; i++)
    c.inv_off[i + 1] += c.inv_off[i];
  {
    uint32_t *pos = malloc((n_items ? n_items : 1) * sizeof *pos);
    if (!pos)
      goto done;
    memcpy(pos, c.inv_off, n_items * sizeof *pos);
    for (size_t q = 0; q < n; q++)
      c.inv[pos[c.r[q].item]++] = (uint32_t)q;
    free(pos);
  }
  /* N(x): per person, the strongest evidence of x, summed. */
  for (size_t x = 0; x < n_items; x++) {
    float sum = 0, best = 0;
    uint32_t cur = UINT32_MAX;
    for (uint32_t j = c.inv_off[x]; j < c.inv_off[x + 1]; j++) {
      uint32_t q = c.inv[j];
      if (c.r_subj[q] != cur) {
        sum += best;
        best = 0;
        cur = c.r_subj[q];
      }
      float v = c.r[q].s * c.r[q].dec;
      if (v > best)
        best = v;
    }
    c.norm[x] = sum + best;
  }
  for (int t = 0; t < threads; t++) {
    struct scratch *sc = &c.sc[t];
    size_t m = n_items ? n_items : 1;
    sc->stamp = calloc(m, sizeof *sc->stamp);
    sc->best = malloc(m * sizeof *sc->best);
    sc->acc = calloc(m, sizeof *sc->acc);
    sc->touched = malloc(m * sizeof *sc->touched);
    sc->person = malloc((m + 1) * sizeof *sc->person);
    sc->w = malloc(m * sizeof *sc->w);
    if (!sc->stamp || !sc->best || !sc->acc || !sc->touched || !sc->person || !sc->w)
      goto done;
  }
  rc = mes__rows_parallel(n_items, c.k, threads, cooc_row, &c, out);
done:
  cooc_release(&c, threads);
  if (rc)
    return mes_err_set(err, rc, NULL, "Out of memory while learning which items go together.");
  return MES_OK;
}
