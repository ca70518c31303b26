/*
 * Unit tests of candidate pruning (score.c, mes__rec_prune) and of the
 * reserve the fill draws on: which candidates are kept (the best by the part
 * of the score rule_retargeting leaves, plus the strongest few that stale
 * views alone proposed), in what order, that the pruned ones stay known to
 * the candidate map, and that the fill brings the live ones back best first
 * and never the stale ones. The state is built by hand (no store, no model):
 * pruning reads only the candidates, their contributions and the history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recommend/rec_int.h"

#define NOW_MS 1795208645000LL
#define DAY_MS 86400000LL
#define N_CANDS 1000

enum { H_STALE_VIEW, H_FRESH_VIEW, H_OLD_PURCHASE, H_N };

struct fix {
  struct mes_policy policy;
  struct mes_req req;
  struct mes_evrec events[H_N];
  struct mes_hist hist[H_N];
  struct rec_state s;
};

/* Candidate i (model index i): a fresh part, a stale part, or both. */
static double fresh_of(size_t i) { return i % 3 == 0 ? 0 : (double)((i * 7919) % 1000) + 1; }
static double stale_of(size_t i) { return i % 3 == 1 ? 0 : (double)((i * 104729) % 997) + 1; }

static void fix_init(struct fix *f, bool rules) {
  memset(f, 0, sizeof *f);
  f->policy.guardrails.retargeting_window_days = 14;
  f->req = (struct mes_req){.policy = &f->policy, .now_ms = NOW_MS};
  f->events[H_STALE_VIEW] = (struct mes_evrec){.item = "a", .item_len = 1, .ts_ms = NOW_MS - 30 * DAY_MS};
  f->events[H_FRESH_VIEW] = (struct mes_evrec){.item = "b", .item_len = 1, .ts_ms = NOW_MS - DAY_MS};
  f->events[H_OLD_PURCHASE] = (struct mes_evrec){.item = "c", .item_len = 1, .ts_ms = NOW_MS - 100 * DAY_MS};
  f->hist[H_STALE_VIEW] = (struct mes_hist){.ev = &f->events[H_STALE_VIEW], .midx = -1, .kind = MES_KIND_VIEW};
  f->hist[H_FRESH_VIEW] = (struct mes_hist){.ev = &f->events[H_FRESH_VIEW], .midx = -1, .kind = MES_KIND_VIEW};
  f->hist[H_OLD_PURCHASE] = (struct mes_hist){.ev = &f->events[H_OLD_PURCHASE], .midx = -1, .kind = MES_KIND_PURCHASE};
  struct rec_state *s = &f->s;
  mes__rec_state_init(s);
  s->c = &f->req;
  s->no_rules = !rules;
  s->hist = f->hist;
  s->n_hist = H_N;
  s->stale_before = NOW_MS - 14 * DAY_MS;
  s->fill_started = true; /* no model, no catalog (no recommender): nothing fills after the reserve */
  for (size_t i = 0; i < N_CANDS; i++) {
    bool oom = false;
    int32_t k = mes__rec_cand_of(s, (uint32_t)i, true, &oom);
    assert_int_equal(k, (int32_t)i);
    struct rec_cand_x *x = &s->cx[k];
    double fr = fresh_of(i), st = stale_of(i);
    /* Every tenth fresh part is a purchase's: old, but never stale. */
    if (fr > 0)
      x->contrib[x->n_contrib++] = (struct rec_contrib){i % 10 == 2 ? H_OLD_PURCHASE : H_FRESH_VIEW, fr};
    if (st > 0)
      x->contrib[x->n_contrib++] = (struct rec_contrib){H_STALE_VIEW, st};
    x->score = fr + st;
  }
}

/* The key pruning should rank by, and whether stale views alone proposed it. */
static double key_of(size_t i, bool rules) { return rules ? fresh_of(i) : fresh_of(i) + stale_of(i); }
static bool stale_only(size_t i) { return fresh_of(i) == 0; }

static int by_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The k-th largest of v(i) over candidates with want(i). */
static double kth(size_t k, bool rules, bool stale) {
  double *v = malloc(N_CANDS * sizeof *v);
  assert_non_null(v);
  size_t n = 0;
  for (size_t i = 0; i < N_CANDS; i++)
    if (stale_only(i) == stale)
      v[n++] = stale ? stale_of(i) : key_of(i, rules);
  qsort(v, n, sizeof *v, by_desc);
  double r = v[k - 1];
  free(v);
  return r;
}

static void test_prune_keeps_fresh_best_and_few_stale(void **state) {
  (void)state;
  struct fix *f = malloc(sizeof *f);
  assert_non_null(f);
  fix_init(f, true);
  struct rec_state *s = &f->s;
  assert_int_equal(mes__rec_prune(s, 200), MES_OK);
  assert_int_equal(s->n_cands, 200 + REC_PRUNE_STALE);
  double live_floor = kth(200, true, false), stale_floor = kth(REC_PRUNE_STALE, true, true);
  size_t n_live = 0, n_stale = 0;
  int32_t prev = -1;
  for (size_t k = 0; k < s->n_cands; k++) {
    size_t i = (size_t)s->cands[k].midx;
    assert_true((int32_t)i > prev); /* the order they were proposed in */
    prev = (int32_t)i;
    assert_true(s->cands[k].score == fresh_of(i) + stale_of(i)); /* moved whole */
    bool oom = false;
    assert_int_equal(mes__rec_cand_of(s, (uint32_t)i, false, &oom), (int32_t)k);
    if (stale_only(i)) {
      n_stale++;
      assert_true(stale_of(i) >= stale_floor);
    } else {
      n_live++;
      assert_true(key_of(i, true) >= live_floor);
    }
  }
  assert_int_equal(n_live, 200);
  assert_int_equal(n_stale, REC_PRUNE_STALE);
  /* A pruned candidate is no longer one (without `add`)... */
  size_t pruned = 0;
  while (s->cands[pruned].midx == (int32_t)pruned)
    pruned++;
  bool oom = false;
  assert_int_equal(mes__rec_cand_of(s, (uint32_t)pruned, false, &oom), -1);
  /* ...and the fill brings back live ones, best first, before anything else. */
  size_t before = s->n_cands, added = 0;
  assert_int_equal(mes__rec_fill(s, 5, &added), MES_OK);
  assert_int_equal(added, 5);
  assert_int_equal(s->n_cands, before + 5);
  for (size_t j = 0; j < 5; j++) {
    size_t i = (size_t)s->cands[before + j].midx;
    assert_false(stale_only(i));
    assert_true(key_of(i, true) == kth(201 + j, true, false));
    assert_int_equal(s->cx[before + j].n_contrib, fresh_of(i) > 0 && stale_of(i) > 0 ? 2 : 1);
    assert_int_equal(mes__rec_cand_of(s, (uint32_t)i, false, &oom), (int32_t)(before + j));
  }
  /* Draining the reserve never brings back what stale views alone proposed. */
  do {
    assert_int_equal(mes__rec_fill(s, 1000, &added), MES_OK);
  } while (added);
  size_t n_live_all = 0;
  for (size_t i = 0; i < N_CANDS; i++)
    n_live_all += !stale_only(i);
  assert_int_equal(s->n_cands, n_live_all + REC_PRUNE_STALE);
  for (size_t k = 0; k < s->n_cands; k++)
    assert_true(!stale_only((size_t)s->cands[k].midx) || stale_of((size_t)s->cands[k].midx) >= stale_floor);
  mes__rec_state_release(s);
  free(f);
}

static void test_prune_without_rules_ranks_whole_score(void **state) {
  (void)state;
  struct fix *f = malloc(sizeof *f);
  assert_non_null(f);
  fix_init(f, false);
  struct rec_state *s = &f->s;
  assert_int_equal(mes__rec_prune(s, 300), MES_OK);
  /* Nothing is stale without rules: exactly the 300 best whole scores. */
  assert_int_equal(s->n_cands, 300);
  double floor = 0;
  {
    double *v = malloc(N_CANDS * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < N_CANDS; i++)
      v[i] = key_of(i, false);
    qsort(v, N_CANDS, sizeof *v, by_desc);
    floor = v[299];
    free(v);
  }
  for (size_t k = 0; k < s->n_cands; k++)
    assert_true(key_of((size_t)s->cands[k].midx, false) >= floor);
  mes__rec_state_release(s);
  free(f);
}

static void test_prune_small_and_ties(void **state) {
  (void)state;
  struct fix *f = malloc(sizeof *f);
  assert_non_null(f);
  fix_init(f, true);
  struct rec_state *s = &f->s;
  /* Few candidates: nothing to prune, but each is made whole. */
  size_t n = s->n_cands;
  assert_null(s->cands);
  assert_int_equal(mes__rec_prune(s, N_CANDS), MES_OK);
  assert_int_equal(s->n_cands, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(s->cands[i].midx, (int32_t)i);
    assert_true(s->cands[i].score == fresh_of(i) + stale_of(i));
  }
  mes__rec_state_release(s);
  /* All keys equal: still exactly `keep` kept. */
  fix_init(f, false);
  for (size_t i = 0; i < N_CANDS; i++)
    s->cx[i].score = 1.0;
  assert_int_equal(mes__rec_prune(s, 250), MES_OK);
  assert_int_equal(s->n_cands, 250);
  mes__rec_state_release(s);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prune_keeps_fresh_best_and_few_stale),
      cmocka_unit_test(test_prune_without_rules_ranks_whole_score),
      cmocka_unit_test(test_prune_small_and_ties),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
