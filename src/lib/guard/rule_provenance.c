/*
 * guard/rule_provenance — a reason never reveals data the person does not
 * know we have. Events whose source is third_party (bought
 * or shared by others) never drive an explicit reason:
 *
 *   - with guardrails.third_party_data: reject (the default) such events
 *     should not be stored at all (ingestion refuses them); any that remain
 *     (imported before the policy changed) are taken out of the score as
 *     well as the reason, and a candidate they alone produced is dropped;
 *   - with third_party_data: accept the brand has chosen to rank with them,
 *     so they stay in the score but are no longer cited; a candidate they
 *     alone produced is shown as a non-personal suggestion (popular,
 *     implicit, nothing cited).
 *
 * A candidate also driven by the person's own data keeps those parts, and
 * its reason and based_on are derived again from them (mes_guard_cite), so
 * the reason stays faithful.
 */
#include "guard/guard_int.h"

static const char NAME[] = "provenance";

static bool third_party(const struct mes_guard_facts *f, const struct mes_hist *h, const void *ud) {
  (void)f;
  (void)ud;
  return h->ev->source == MES_SRC_THIRD;
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  bool accept = f->policy->guardrails.third_party_accept;
  for (size_t i = 0; i < n; i++) {
    struct mes_cand *c = &cands[i];
    if (c->dropped || (c->n_contrib == 0 && c->n_based == 0))
      continue;
    size_t left;
    if (!mes__guard_strip(f, c, third_party, NULL, !accept, &left) || left > 0 || c->via_zero_party)
      continue;
    if (accept)
      mes__guard_impersonal(f, c);
    else
      mes__guard_drop_text(c, NAME, "Only third-party data pointed to this item, and the policy rejects such data.");
  }
}

const struct mes_guard_rule mes__rule_provenance = {.name = NAME, .apply = apply};
