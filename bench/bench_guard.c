/*
 * bench_guard — what the guardrails cost one request: every rule over a page
 * of candidates for a shopper with a long history, in memory (no store, no
 * HTTP), against a baseline measured in the same run: sorting the same
 * candidates by score, which the recommender does on every request anyway.
 *
 * The shopper: N_HIST events (views, a purchase every tenth, a dismissal every
 * fiftieth, some third-party; one every 2.4 hours going back N_HIST / 10 days,
 * so that with the defaults about two thirds are older than the 14-day
 * retargeting window),
 * N_IMPS impressions, and N_CANDS candidates each with four contributions;
 * every purchase has ten viewed-together neighbours among the candidates.
 *
 * usage: bench_guard [N_CANDS [N_HIST [N_IMPS [ROUNDS]]]]   (200 400 300 20000)
 * prints one JSON line: {"cands", "hist", "imps", "kept", "guard_us", "sort_us", "ratio",
 * "rules_us": {rule: microseconds per request}}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard/guard.h"
#include "policy/policy.h"

#define DAY_MS (86400LL * 1000)
#define NOW_MS 1795208645000LL

static const char POLICY[] = "purposes:\n  personalization: {}\n"
                             "event_types:\n  view: {purposes: [personalization], retention_days: 400}\n"
                             "categories:\n  c0: {sensitive: true}\n  c1: {lifecycle: once}\n";

struct world {
  size_t n_items;
  char (*ids)[24];
  struct mes_item_facts *info;
  struct mes_nbr *nbrs; /* 10 per item */
};

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static const struct mes_item_facts *info_cb(void *ud, const char *item) {
  struct world *w = ud;
  long i = strtol(item + 1, NULL, 10);
  return i >= 0 && (size_t)i < w->n_items ? &w->info[i] : NULL;
}

static const struct mes_nbr *nbrs_cb(const void *ud, enum mes_rel rel, uint32_t item, size_t *n) {
  const struct world *w = ud;
  *n = rel == MES_REL_VIEWED && item < w->n_items ? 10 : 0;
  return *n ? &w->nbrs[item * 10] : NULL;
}

static int by_score(const void *a, const void *b) {
  double x = ((const struct mes_cand *)a)->score, y = ((const struct mes_cand *)b)->score;
  return (x < y) - (x > y);
}

int main(int argc, char **argv) {
  size_t n_cands = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
  size_t n_hist = argc > 2 ? strtoul(argv[2], NULL, 10) : 400;
  size_t n_imps = argc > 3 ? strtoul(argv[3], NULL, 10) : 300;
  long rounds = argc > 4 ? strtol(argv[4], NULL, 10) : 20000;
  if (!n_cands || !n_hist || rounds <= 0)
    return 2;
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  if (mes_policy_load_buf("bench.yaml", POLICY, strlen(POLICY), &p, &err)) {
    fprintf(stderr, "bench_guard: %s\n", mes_err_text(&err));
    return 1;
  }
  struct world w = {.n_items = n_cands + n_hist};
  w.ids = calloc(w.n_items, sizeof *w.ids);
  w.info = calloc(w.n_items, sizeof *w.info);
  w.nbrs = calloc(w.n_items * 10, sizeof *w.nbrs);
  struct mes_hist *hist = calloc(n_hist, sizeof *hist);
  struct mes_evrec *events = calloc(n_hist, sizeof *events);
  struct mes_impression *imps = calloc(n_imps ? n_imps : 1, sizeof *imps);
  struct mes_cand *proto = calloc(n_cands, sizeof *proto), *cands = calloc(n_cands, sizeof *cands);
  struct mes_contrib *parts = calloc(n_cands * 4, sizeof *parts), *work = calloc(n_cands * 4, sizeof *work);
  if (!w.ids || !w.info || !w.nbrs || !hist || !events || !imps || !proto || !cands || !parts || !work)
    return 1;
  static const char *cats[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
  for (size_t i = 0; i < w.n_items; i++) {
    snprintf(w.ids[i], sizeof w.ids[i], "i%zu", i);
    w.info[i] = (struct mes_item_facts){.known = true, .available = true, .n_cats = 1, .cats = {cats[i % 8]}};
    w.info[i].sensitive = i % 8 == 0;
    w.info[i].once = i % 8 == 1;
    for (size_t k = 0; k < 10; k++)
      w.nbrs[i * 10 + k] = (struct mes_nbr){.item = (uint32_t)((i * 7 + k * 13) % n_cands), .w = 1};
  }
  /* History items are the items after the candidates. */
  for (size_t i = 0; i < n_hist; i++) {
    events[i] = (struct mes_evrec){.id = (int64_t)i + 1,
                                   .item = w.ids[n_cands + i],
                                   .item_len = strlen(w.ids[n_cands + i]),
                                   .ts_ms = NOW_MS - (int64_t)(n_hist - i) * DAY_MS / 10,
                                   .source = i % 17 == 0 ? MES_SRC_THIRD : MES_SRC_FIRST,
                                   .channel = -1};
    hist[i] = (struct mes_hist){.ev = &events[i],
                                .midx = (int32_t)(n_cands + i),
                                .kind = i % 10 == 0 ? MES_KIND_PURCHASE : i % 50 == 7 ? MES_KIND_DISMISS : MES_KIND_VIEW};
  }
  for (size_t i = 0; i < n_imps; i++)
    imps[i] = (struct mes_impression){.item = w.ids[(i * 3) % n_cands], .channel = MES_CH_WEB,
                                      .ts_ms = NOW_MS - (int64_t)(i % 96) * 3600 * 1000};
  for (size_t c = 0; c < n_cands; c++) {
    for (size_t k = 0; k < 4; k++)
      parts[c * 4 + k] = (struct mes_contrib){.hist = (uint32_t)((c * 5 + k * 31) % n_hist),
                                              .reason = MES_REASON_BECAUSE_YOU_VIEWED,
                                              .amount = 0.4 - 0.1 * (double)k};
    proto[c] = (struct mes_cand){.item = w.ids[c], .midx = (int32_t)c, .facts = w.info[c], .score = 1.0,
                                 .reason = MES_REASON_BECAUSE_YOU_VIEWED, .from_history = true, .n_contrib = 4};
  }
  struct mes_guard_facts f = {.policy = p, .now_ms = NOW_MS, .channel = MES_CH_WEB, .personalized = true,
                              .known_subject = true, .authenticated = true, .hist = hist, .n_hist = n_hist,
                              .imps = imps, .n_imps = n_imps, .item_info = info_cb, .item_info_ud = &w,
                              .neighbors = nbrs_cb, .neighbors_ud = &w};
  /* Both loops pay the same reset of the candidates; only the measured work differs. */
  double guard_us = 0, sort_us = 0, rule_us[32] = {0};
  size_t n_rules;
  const struct mes_guard_rule *const *rules = mes_guard_rules(&n_rules);
  if (n_rules > 32)
    return 1;
  size_t kept = 0;
  for (long r = 0; r < rounds; r++) {
    for (int which = 0; which < 2; which++) {
      memcpy(work, parts, n_cands * 4 * sizeof *work);
      memcpy(cands, proto, n_cands * sizeof *cands);
      for (size_t c = 0; c < n_cands; c++) {
        cands[c].contrib = &work[c * 4];
        cands[c].score = 1.0 + (double)((c * 2654435761u + (size_t)r) % 1000) / 1000.0;
      }
      double t0 = now_us(), t;
      if (which == 0) {
        /* mes_guard_run, one rule at a time so that each can be timed */
        for (size_t k = 0; k < n_rules; k++) {
          double r0 = now_us();
          rules[k]->apply(&f, cands, n_cands);
          rule_us[k] += now_us() - r0;
        }
      } else {
        qsort(cands, n_cands, sizeof *cands, by_score);
      }
      t = now_us() - t0;
      if (which == 0) {
        guard_us += t;
        for (size_t c = 0; c < n_cands; c++)
          kept += !cands[c].dropped;
      } else {
        sort_us += t;
      }
    }
  }
  printf("{\"cands\":%zu,\"hist\":%zu,\"imps\":%zu,\"kept\":%zu,\"guard_us\":%.2f,\"sort_us\":%.2f,\"ratio\":%.2f,"
         "\"rules_us\":{",
         n_cands, n_hist, n_imps, kept / (size_t)rounds, guard_us / (double)rounds, sort_us / (double)rounds,
         guard_us / sort_us);
  for (size_t k = 0; k < n_rules; k++)
    printf("%s\"%s\":%.2f", k ? "," : "", rules[k]->name, rule_us[k] / (double)rounds);
  printf("}}\n");
  mes_policy_free(p);
  free(w.ids);
  free(w.info);
  free(w.nbrs);
  free(hist);
  free(events);
  free(imps);
  free(proto);
  free(cands);
  free(parts);
  free(work);
  return 0;
}
