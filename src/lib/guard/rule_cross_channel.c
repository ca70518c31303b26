/*
 * guard/rule_cross_channel — no chasing the buyer across channels. With
 * guardrails.cross_channel_after_purchase: false (the default),
 * answers for the `ads` and `email` channels never hold what the person
 * bought, its substitutes (see rule_after_purchase), or, within
 * post_purchase_suppression_days, anything of a `lifecycle: once` category
 * they bought in; whether the answer is personal or not (contract §6). A
 * buy-again item (a consumable the person bought, rule_after_purchase) is a
 * bought item like any other here: a brand that keeps purchases off ads and
 * email keeps its reminders to buy again off them too; with
 * cross_channel_after_purchase: true they may go there.
 *
 * rule_after_purchase already drops the bought item and the once category on
 * every channel; this rule checks them too so that it holds on its own (and
 * is tested alone). In the pipeline it is the one that catches substitutes,
 * which the brand's own pages only demote.
 */
#include "guard/guard_int.h"

static const char NAME[] = "cross_channel";

struct chan {
  const char *channel;
};

static void drop_bought(struct mes_cand *c, const struct mes_hist *bought, void *ud) {
  (void)bought;
  mes_guard_drop(c, NAME, "The person bought this item; it is not followed up on %s.",
                 ((const struct chan *)ud)->channel);
}

static void drop_substitute(struct mes_cand *c, const struct mes_hist *bought, void *ud) {
  mes_guard_drop(c, NAME, "A substitute of '%s', which the person bought; it is not followed up on %s.",
                 bought->ev->item, ((const struct chan *)ud)->channel);
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  if (f->policy->guardrails.cross_channel_after_purchase || !mes__guard_knows(f) ||
      (f->channel != MES_CH_ADS && f->channel != MES_CH_EMAIL))
    return;
  struct chan ch = {mes_channel_name(f->channel)};
  mes__guard_each_bought(f, cands, n, drop_bought, &ch);
  struct mes__once once;
  mes__guard_once_bought(f, &once);
  for (size_t i = 0; i < n && once.n; i++) {
    const char *cat;
    if (!cands[i].dropped && cands[i].facts.once && (cat = mes__guard_cat_in(&cands[i].facts, once.cat, once.n)))
      mes_guard_drop(&cands[i], NAME, "Category '%s' is bought once and the person bought in it; not on %s.", cat,
                     ch.channel);
  }
  mes__guard_each_substitute(f, cands, n, drop_substitute, &ch);
}

const struct mes_guard_rule mes__rule_cross_channel = {.name = NAME, .apply = apply};
