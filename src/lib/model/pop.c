/*
 * model/pop — the non-personal scores: popularity and trending, both
 * time-decayed, both scaled to [0, 1], and the two item orders they give.
 *
 * Popularity of an item is its interaction mass, each event weighing its
 * kind's weight times 2^(-age / half_life_days). Trending compares two such
 * masses as rates: with half-life h (days), a steady flow of r events a day
 * builds a mass of r * h / ln 2, so mass * ln 2 / h is the recent daily rate
 * seen through that half-life. Trending is the short rate (trend_half_life_days)
 * minus the long one (half_life_days), floored at 0: how much faster an item
 * is moving now than it usually does. A difference, not a ratio, on purpose:
 * a ratio would put an item with one view yesterday and none before at the
 * top of the list.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "model/model_int.h"

/* The orders go by the masses and rates in double, not by the scores
 * rounded to float: an item's place then depends only on its own mass and
 * its neighbours', never on the rescaling by the largest, so that when
 * unlearning moves a few items the others keep their order (and the order
 * is merged, not sorted again). The float scores follow the same order. */
struct order_ctx {
  const double *a, *b; /* primary and secondary keys, larger first */
};

static _Thread_local const struct order_ctx *order_by;

static int cmp_order(const void *x, const void *y) {
  uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
  const struct order_ctx *o = order_by;
  if (o->a[i] != o->a[j])
    return o->a[i] > o->a[j] ? -1 : 1;
  if (o->b && o->b[i] != o->b[j])
    return o->b[i] > o->b[j] ? -1 : 1;
  return i < j ? -1 : i > j;
}

static void order(uint32_t *idx, size_t n, const double *a, const double *b) {
  struct order_ctx o = {a, b};
  for (size_t i = 0; i < n; i++)
    idx[i] = (uint32_t)i;
  order_by = &o;
  qsort(idx, n, sizeof *idx, cmp_order);
  order_by = NULL;
}

void mes__pop_add(const struct mes__ev *e, const struct mes_model_params *p, const float kw[MES_KIND_N],
                  int64_t now_ms, mes__mass *lo, mes__mass *sh, int sign) {
  double now_s = (double)now_ms / 1000.0;
  double hl = p->half_life_days * 86400.0, hs = p->trend_half_life_days * 86400.0;
  const double unit = (double)(1ull << 40);
  uint32_t i = e->ik & MES__ITEM_MASK;
  double w = kw[e->ik >> MES__KIND_SHIFT];
  int64_t l = (int64_t)(w * mes__decay(now_s, e->ts, hl) * unit);
  int64_t s = (int64_t)(w * mes__decay(now_s, e->ts, hs) * unit);
  lo[i] += sign * (mes__mass)l;
  sh[i] += sign * (mes__mass)s;
}

/* The order of a, b from a hint: most items in their order already (hint,
 * n_hint of them, the others missing). The missing ones are sorted and
 * merged in; the result is kept only if it is sorted (the comparison is a
 * total order, so a sorted permutation is the order), else sorted in full. */
static int order_hinted(uint32_t *idx, size_t n, const double *a, const double *b, const uint32_t *hint,
                        size_t n_hint) {
  uint8_t *in = calloc(n ? n : 1, 1);
  uint32_t *miss = malloc((n ? n : 1) * sizeof *miss), *h = malloc((n_hint ? n_hint : 1) * sizeof *h);
  if (!in || !miss || !h) {
    free(in);
    free(miss);
    free(h);
    return MES_ENOMEM;
  }
  size_t nh = 0, nm = 0;
  for (size_t i = 0; i < n_hint; i++)
    if (hint[i] < n && !in[hint[i]]) {
      in[hint[i]] = 1;
      h[nh++] = hint[i];
    }
  for (size_t i = 0; i < n; i++)
    if (!in[i])
      miss[nm++] = (uint32_t)i;
  struct order_ctx o = {a, b};
  order_by = &o;
  qsort(miss, nm, sizeof *miss, cmp_order);
  size_t i = 0, j = 0, k = 0;
  while (i < nh || j < nm)
    idx[k++] = j == nm || (i < nh && cmp_order(&h[i], &miss[j]) < 0) ? h[i++] : miss[j++];
  bool sorted = true;
  for (size_t t = 1; t < n && sorted; t++)
    sorted = cmp_order(&idx[t - 1], &idx[t]) < 0;
  order_by = NULL;
  free(in);
  free(miss);
  free(h);
  if (!sorted)
    order(idx, n, a, b);
  return MES_OK;
}

int mes__pop_finish(size_t n, const struct mes_model_params *p, const double *lo, const double *sh_in, float *pop,
                    float *trend, uint32_t *top_pop, uint32_t *top_trend) {
  return mes__pop_finish_hinted(n, p, lo, sh_in, pop, trend, top_pop, top_trend, NULL, NULL, 0);
}

int mes__pop_finish_hinted(size_t n, const struct mes_model_params *p, const double *lo, const double *sh_in,
                           float *pop, float *trend, uint32_t *top_pop, uint32_t *top_trend, const uint32_t *hint_pop,
                           const uint32_t *hint_trend, size_t n_hint) {
  double *sh = malloc((n ? n : 1) * sizeof *sh);
  if (!sh)
    return MES_ENOMEM;
  double max_pop = 0, max_tr = 0;
  double rl = p->half_life_days > 0 ? M_LN2 / p->half_life_days : 0;
  double rs = p->trend_half_life_days > 0 ? M_LN2 / p->trend_half_life_days : 0;
  for (size_t i = 0; i < n; i++) {
    sh[i] = sh_in[i] * rs - lo[i] * rl;
    if (sh[i] < 0)
      sh[i] = 0;
    if (lo[i] > max_pop)
      max_pop = lo[i];
    if (sh[i] > max_tr)
      max_tr = sh[i];
  }
  for (size_t i = 0; i < n; i++) {
    pop[i] = max_pop > 0 ? (float)(lo[i] / max_pop) : 0.0f;
    trend[i] = max_tr > 0 ? (float)(sh[i] / max_tr) : 0.0f;
  }
  int rc = MES_OK;
  if (!hint_pop) {
    order(top_pop, n, lo, NULL);
    order(top_trend, n, sh, lo);
  } else if (order_hinted(top_pop, n, lo, NULL, hint_pop, n_hint) ||
             order_hinted(top_trend, n, sh, lo, hint_trend, n_hint)) {
    rc = MES_ENOMEM;
  }
  free(sh);
  return rc;
}

int mes__popularity(const struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
                    int64_t now_ms, float *pop, float *trend, uint32_t *top_pop, uint32_t *top_trend) {
  size_t n = d->n_items;
  mes__mass *ml = calloc(n ? n : 1, sizeof *ml), *ms = calloc(n ? n : 1, sizeof *ms);
  double *lo = malloc((n ? n : 1) * sizeof *lo), *sh = malloc((n ? n : 1) * sizeof *sh);
  int rc = MES_ENOMEM;
  if (ml && ms && lo && sh) {
    for (size_t e = 0; e < d->n_ev; e++)
      mes__pop_add(&d->ev[e], p, kw, now_ms, ml, ms, 1);
    for (size_t i = 0; i < n; i++) {
      lo[i] = mes__mass_value(ml[i]);
      sh[i] = mes__mass_value(ms[i]);
    }
    rc = mes__pop_finish(n, p, lo, sh, pop, trend, top_pop, top_trend);
  }
  free(ml);
  free(ms);
  free(lo);
  free(sh);
  return rc;
}
