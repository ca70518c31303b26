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
#include <stdlib.h>

#include "model/model_int.h"

struct order_ctx {
  const float *a, *b; /* primary and secondary keys, larger first */
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

static void order(uint32_t *idx, size_t n, const float *a, const float *b) {
  struct order_ctx o = {a, b};
  for (size_t i = 0; i < n; i++)
    idx[i] = (uint32_t)i;
  order_by = &o;
  qsort(idx, n, sizeof *idx, cmp_order);
  order_by = NULL;
}

void mes__pop_add(const struct mes__ev *e, const struct mes_model_params *p, const float kw[MES_KIND_N],
                  int64_t now_ms, double *lo, double *sh) {
  double now_s = (double)now_ms / 1000.0;
  double hl = p->half_life_days * 86400.0, hs = p->trend_half_life_days * 86400.0;
  uint32_t i = e->ik & MES__ITEM_MASK;
  double w = kw[e->ik >> MES__KIND_SHIFT];
  lo[i] += w * mes__decay(now_s, e->ts, hl);
  sh[i] += w * mes__decay(now_s, e->ts, hs);
}

int mes__pop_finish(size_t n, const struct mes_model_params *p, const double *lo, const double *sh_in, float *pop,
                    float *trend, uint32_t *top_pop, uint32_t *top_trend) {
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
  free(sh);
  order(top_pop, n, pop, NULL);
  order(top_trend, n, trend, pop);
  return MES_OK;
}

int mes__popularity(const struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
                    int64_t now_ms, float *pop, float *trend, uint32_t *top_pop, uint32_t *top_trend) {
  size_t n = d->n_items;
  double *lo = calloc(n ? n : 1, sizeof *lo), *sh = calloc(n ? n : 1, sizeof *sh);
  int rc = MES_ENOMEM;
  if (lo && sh) {
    for (size_t e = 0; e < d->n_ev; e++)
      mes__pop_add(&d->ev[e], p, kw, now_ms, lo, sh);
    rc = mes__pop_finish(n, p, lo, sh, pop, trend, top_pop, top_trend);
  }
  free(lo);
  free(sh);
  return rc;
}
