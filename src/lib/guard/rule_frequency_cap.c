/*
 * guard/rule_frequency_cap — the "hollow echo": an item
 * already shown to the same person guardrails.frequency_cap.max_impressions
 * times within the last window_hours, on any channel together, is not shown
 * again until older impressions leave the window.
 *
 * Impressions are kept only for people who granted personalization (contract
 * §6), so for everyone else the facts hold none and the rule does nothing.
 * With the counts made once for the request (facts->shown), one look-up
 * per candidate; without, one pass over the impressions, looking each up in
 * the candidate index.
 */
#include <string.h>

#include "guard/guard_int.h"

static const char NAME[] = "frequency_cap";

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  const struct mes_guardrails *g = &f->policy->guardrails;
  if (!mes__guard_knows(f) || f->n_imps == 0 || g->frequency_cap_max_impressions <= 0)
    return;
  uint32_t cap = (uint32_t)g->frequency_cap_max_impressions;
  if (f->shown) { /* counted once for the request: one look-up per candidate */
    char detail[MES_GUARD_DETAIL];
    uint32_t said = 0; /* the count `detail` was written for: an active shopper's drops mostly share one */
    for (size_t i = 0; i < n; i++) {
      uint32_t times;
      if (cands[i].dropped || (times = mes_guard_shown_times(f->shown, cands[i].item)) < cap)
        continue;
      if (times != said) {
        snprintf(detail, sizeof detail, "Already shown %u times in the last %d hours; the policy allows %u.", times,
                 g->frequency_cap_window_hours, cap);
        said = times;
      }
      mes__guard_drop_text(&cands[i], NAME, detail);
    }
    return;
  }
  int64_t since = mes__guard_cap_since(f);
  struct mes__idx x;
  uint32_t hits[MES__IDX_MAX]; /* times shown, by candidate index - base */
  for (size_t base = 0; base < n; base += MES__IDX_MAX) {
    size_t m = n - base < MES__IDX_MAX ? n - base : MES__IDX_MAX;
    mes__idx_items(&x, cands, base, m);
    memset(hits, 0, m * sizeof *hits);
    for (size_t i = 0; i < f->n_imps; i++) {
      if (f->imps[i].ts_ms < since) /* one stamped after now (clock steps, a request just served) still counts */
        continue;
      size_t pos = 0;
      for (struct mes_htab_slot *s; (s = mes__idx_next_item(&x, f->imps[i].item, &pos));)
        hits[s->val - 1 - base]++;
    }
    for (size_t k = 0; k < m; k++) {
      if (hits[k] >= cap && !cands[base + k].dropped)
        mes_guard_drop(&cands[base + k], NAME, "Already shown %u times in the last %d hours; the policy allows %u.",
                       hits[k], g->frequency_cap_window_hours, cap);
    }
  }
}

const struct mes_guard_rule mes__rule_frequency_cap = {.name = NAME, .apply = apply};
