/*
 * guard/rule_after_purchase — what follows a purchase, on every channel and
 * every path (contract §6: suppression reads purchases even
 * when the answer is not personal):
 *
 *   - the purchased item is never offered again as if it were new. One
 *     exception (contract §6): an item of a `lifecycle: repeat` category
 *     (consumables) may come back to a person whose answer is personal, as
 *     "buy again": the recommender proposed it from their own purchases of
 *     it (reason buy_again, recommend/score.c). The same item reached any
 *     other way (the popular fill, a relation) is dropped like any bought
 *     item, and so is everything bought on a non-personal answer (no
 *     consent, a restriction, a shared screen);
 *   - a category with `lifecycle: once` (a wedding dress) is not offered at
 *     all for guardrails.post_purchase_suppression_days after a purchase in
 *     it: one is all a person needs, and a year of dresses after the wedding
 *     is the story this rule comes from;
 *   - substitutes give way to complements: after the stroller, care advice
 *     and accessories, not more strollers. A substitute is a neighbour of a
 *     bought item in the model's viewed-together list (people compare them)
 *     sharing a category with it (so the rain cover that is also viewed with
 *     strollers, but filed under accessories, stays a complement).
 *
 * Why substitutes are demoted here rather than dropped: viewed-together is a
 * statistical relation, not a fact about the person, and some substitutes
 * are exactly what a buyer wants (a second pair of the shoes in another
 * colour, a replacement for a faulty kettle). On the brand's own pages the
 * harm of showing one is small if complements come first, so the candidate
 * stays, marked demoted_by, and the recommender ranks it after every
 * candidate not demoted. Pushed at the person on ads or email, the same
 * substitute is the "you bought a fridge, here are fridges" chase: that is
 * rule_cross_channel's job, which drops it there unless the brand has set
 * guardrails.cross_channel_after_purchase: true. Keeping the two apart lets
 * each setting mean one thing.
 *
 * Substitutes follow every purchase the history still holds (purchase
 * retention bounds it), as contract §6 names them without a window; only the
 * once category has one.
 */
#include "guard/guard_int.h"

static const char NAME[] = "after_purchase";

/* Whether c is offered again, as buy_again, to a person answered personally. */
static bool buy_again(const struct mes_guard_facts *f, const struct mes_cand *c) {
  return f->personalized && c->facts.repeat && c->reason == MES_REASON_BUY_AGAIN;
}

static void drop_bought(struct mes_cand *c, const struct mes_hist *bought, void *ud) {
  (void)bought;
  if (!buy_again(ud, c))
    mes__guard_drop_text(c, NAME, "The person bought this item.");
}

/* A buy-again item is something the person chose again and again, not
 * "more of the same" after a purchase: it keeps its place. */
static void demote(struct mes_cand *c, const struct mes_hist *bought, void *ud) {
  (void)bought;
  if (!c->demoted_by && !buy_again(ud, c))
    c->demoted_by = NAME;
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  if (!mes__guard_knows(f))
    return;
  mes__guard_each_bought(f, cands, n, drop_bought, (void *)f);
  struct mes__once once;
  mes__guard_once_bought(f, &once);
  for (size_t i = 0; i < n && once.n; i++) {
    const char *cat;
    if (!cands[i].dropped && cands[i].facts.once && (cat = mes__guard_cat_in(&cands[i].facts, once.cat, once.n)))
      mes_guard_drop(&cands[i], NAME,
                     "Category '%s' is bought once, and the person bought in it within the last %d days.", cat,
                     f->policy->guardrails.post_purchase_suppression_days);
  }
  mes__guard_each_substitute(f, cands, n, demote, (void *)f);
}

const struct mes_guard_rule mes__rule_after_purchase = {.name = NAME, .apply = apply};
