/*
 * guard/rule_retargeting — the flights to New York weeks after the trip, the
 * business-school programme three years on: what the
 * person viewed (or clicked, or put in a cart) but did not buy stops driving
 * recommendations guardrails.retargeting_window_days after they did it.
 *
 * The rule judges each contribution, not each item: a view older than the
 * window is taken out of the candidate's score and of its reason, while a
 * fresh view of the same item still counts. Purchases are never stale here
 * (what follows a purchase is rule_after_purchase's job). A personal
 * candidate that stale views alone produced is dropped; one also driven by
 * fresh data keeps only those parts, with its reason and based_on derived
 * again from them, so that "because you viewed X" never names a stale X.
 */
#include "guard/guard_int.h"

#include <stdio.h>

static const char NAME[] = "retargeting";

static bool stale(const struct mes_guard_facts *f, const struct mes_hist *h, const void *ud) {
  (void)f;
  return h->kind != MES_KIND_PURCHASE && h->ev->ts_ms < *(const int64_t *)ud;
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  int days = f->policy->guardrails.retargeting_window_days;
  int64_t since = f->now_ms - (int64_t)days * MS_PER_DAY;
  char detail[MES_GUARD_DETAIL] = "";
  for (size_t i = 0; i < n; i++) {
    struct mes_cand *c = &cands[i];
    if (c->dropped || (c->n_contrib == 0 && c->n_based == 0))
      continue;
    size_t left;
    if (!mes__guard_strip(f, c, stale, &since, true, &left) || left > 0 || c->via_zero_party)
      continue;
    if (!detail[0])
      snprintf(detail, sizeof detail, "Only items viewed more than %d days ago pointed to it.", days);
    mes__guard_drop_text(c, NAME, detail);
  }
}

const struct mes_guard_rule mes__rule_retargeting = {.name = NAME, .apply = apply};
