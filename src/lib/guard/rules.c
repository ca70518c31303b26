/*
 * guard/rules — the order in which the rules run. Each rule is one file,
 * rule_<name>.c; adding a rule is one file and one line here.
 *
 * The order matters only for which rule a decision record names when two
 * would drop the same candidate, and for the rules that judge what earlier
 * ones left: the person's own word first, then what follows from their
 * purchases, the channel, how often they saw it, the device, and last what
 * the remaining data may say about them (its provenance, its age, and
 * whether it touches a sensitive category). `sensitive` must run after
 * `provenance` and `retargeting`: whether the person told us depends on the
 * contributions that are left.
 */
#include "guard/guard_int.h"

static const struct mes_guard_rule *const rules[] = {
    &mes__rule_own_word,      /* dismissed items, excluded categories */
    &mes__rule_after_purchase, /* the bought item, its once category, substitutes give way */
    &mes__rule_cross_channel, /* no chasing the buyer on ads and email */
    &mes__rule_frequency_cap, /* the same item shown too often */
    &mes__rule_shared_device, /* a shared or signed-out screen */
    &mes__rule_provenance,    /* third-party data never explains */
    &mes__rule_retargeting,   /* old views stop driving */
    &mes__rule_sensitive,     /* inferred sensitive interests stay implicit */
};

const struct mes_guard_rule *const *mes_guard_rules(size_t *n) {
  *n = sizeof rules / sizeof rules[0];
  return rules;
}
