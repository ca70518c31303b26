/*
 * eval/rank — section 3 (the top 20 under the tie rule) and section 4 (the
 * metrics) of the protocol.
 *
 * Catalogue indices are already in the tie order (popularity descending, then
 * item id bytes ascending), so among exactly equal scores the smaller index
 * wins, and scanning indices upwards a later item never beats an earlier one
 * of the same score.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"

size_t mes__rank_top(const double *scores, size_t n_items, const uint32_t *excluded, uint32_t stamp, uint32_t *top) {
  double best[MES__TOP];
  size_t n = 0;
  for (size_t i = 0; i < n_items; i++) {
    if (excluded && excluded[i] == stamp)
      continue;
    double s = scores[i];
    if (isnan(s))
      s = -INFINITY;
    if (n == MES__TOP && !(s > best[n - 1]))
      continue;
    size_t p = n < MES__TOP ? n : MES__TOP - 1; /* slot to fill, then bubble up */
    while (p > 0 && s > best[p - 1]) {
      best[p] = best[p - 1];
      top[p] = top[p - 1];
      p--;
    }
    best[p] = s;
    top[p] = (uint32_t)i;
    if (n < MES__TOP)
      n++;
  }
  return n;
}

int mes__acc_init(struct mes__acc *a, size_t n_items) {
  memset(a, 0, sizeof *a);
  a->n_items = n_items;
  a->seen10 = mes__zalloc(n_items, 1);
  return a->seen10 ? MES_OK : MES_ENOMEM;
}

void mes__acc_release(struct mes__acc *a) {
  if (!a)
    return;
  free(a->seen10);
  a->seen10 = NULL;
}

void mes__acc_add(struct mes__acc *a, const uint32_t *top, size_t n_top, const uint32_t *relevant, uint32_t stamp,
                  size_t n_relevant, const double *pop) {
  size_t hits10 = 0, hits20 = 0, first = 0;
  double dcg = 0, idcg = 0;
  for (size_t r = 0; r < n_top; r++) {
    bool hit = relevant[top[r]] == stamp;
    if (r < 10) {
      a->seen10[top[r]] = 1;
      a->pop_slots += pop[top[r]];
      a->n_slots++;
      if (hit) {
        hits10++;
        dcg += 1.0 / log2((double)r + 2.0);
        if (!first)
          first = r + 1;
      }
    }
    if (hit)
      hits20++;
  }
  for (size_t r = 0; r < n_relevant && r < 10; r++)
    idcg += 1.0 / log2((double)r + 2.0);
  a->recall10 += (double)hits10 / (double)n_relevant;
  a->recall20 += (double)hits20 / (double)n_relevant;
  a->ndcg10 += dcg / idcg;
  a->mrr10 += first ? 1.0 / (double)first : 0.0;
  a->n_users++;
}

void mes__acc_finish(const struct mes__acc *a, const double *pop, struct mes_eval_metrics *m) {
  memset(m, 0, sizeof *m);
  if (a->n_users == 0)
    return;
  double nu = (double)a->n_users;
  m->recall10 = a->recall10 / nu;
  m->recall20 = a->recall20 / nu;
  m->ndcg10 = a->ndcg10 / nu;
  m->mrr10 = a->mrr10 / nu;
  size_t covered = 0;
  double pop_sum = 0;
  for (size_t i = 0; i < a->n_items; i++) {
    covered += a->seen10[i];
    pop_sum += pop[i];
  }
  if (a->n_items) {
    m->coverage10 = (double)covered / (double)a->n_items;
    if (a->n_slots && pop_sum > 0)
      m->pop_ratio10 = (a->pop_slots / (double)a->n_slots) / (pop_sum / (double)a->n_items);
  }
}
