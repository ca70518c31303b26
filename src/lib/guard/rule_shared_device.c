/*
 * guard/rule_shared_device — the family computer: when the
 * request says the device is shared (context.device_shared: true) or nobody
 * is signed in (context.authenticated: false), whoever sits at the screen may
 * not be the person. Then, as guardrails.shared_device says:
 *
 *   - hide_history: nothing drawn from the person's data is shown: every
 *     candidate that used their history or cites it, or gives a personal
 *     reason (you_told_us too), is dropped; non-personal ones stay, so the
 *     page still fills (with popular items, say);
 *   - hide_sensitive: nothing of a sensitive category is shown at all,
 *     personal or not (a pregnancy test among "popular" items on the shared
 *     screen still spoils the surprise).
 */
#include "guard/guard_int.h"

#include <string.h>

static const char NAME[] = "shared_device";

static const char *first_sensitive_cat(const struct mes_policy *p, const struct mes_item_facts *it) {
  for (size_t k = 0; k < it->n_cats && k < MES_GUARD_MAX_CATS; k++) {
    int ci = it->cats[k] ? mes_policy_category(p, it->cats[k], strlen(it->cats[k])) : -1;
    if (ci >= 0 && p->categories[ci].sensitive)
      return p->categories[ci].name;
  }
  return "?";
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  const struct mes_guardrails *g = &f->policy->guardrails;
  if (!f->device_shared && f->authenticated)
    return;
  const char *history = f->device_shared ? "The device is shared, so nothing is drawn from the person's history."
                                         : "Nobody is signed in on the device, so nothing is drawn from the person's "
                                           "history.";
  const char *why = f->device_shared ? "The device is shared" : "Nobody is signed in on the device";
  for (size_t i = 0; i < n; i++) {
    struct mes_cand *c = &cands[i];
    if (c->dropped)
      continue;
    if (g->shared_device_hide_history && mes__guard_is_personal(c))
      mes__guard_drop_text(c, NAME, history);
    else if (g->shared_device_hide_sensitive && c->facts.sensitive)
      mes_guard_drop(c, NAME, "%s, so nothing of the sensitive category '%s' is shown.", why,
                     first_sensitive_cat(f->policy, &c->facts));
  }
}

const struct mes_guard_rule mes__rule_shared_device = {.name = NAME, .apply = apply};
