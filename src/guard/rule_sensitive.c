/*
 * guard/rule_sensitive — the retailer that "knew" a teenager was pregnant
 * before her father did (issue 5, rule 5). For items of a category the policy
 * marks `sensitive` (pregnancy, health, finances, ...):
 *
 *   - told: the person told us the interest themselves, either by naming
 *     every sensitive category of the item in their preferences (interests),
 *     or through zero-party events among the parts of the score. Then the
 *     item may be explained, but only as what they told us: reason
 *     you_told_us, citing the zero-party events alone (none when the interest
 *     came from preferences). Browsing that also ranked it is not cited.
 *   - inferred: the engine guessed the interest from behaviour. Then the
 *     item may still appear on the brand's own surfaces (web, app, store)
 *     among other items, but implicitly: disclosure implicit, a non-personal
 *     reason (popular) and an empty based_on, so nothing on the page says
 *     why. On email and ads, which push the guess at the person (and at
 *     whoever reads their inbox), it is dropped.
 *
 * A sensitive item that no personal data produced (a popular item for an
 * anonymous visitor) keeps its non-personal reason; in a personal answer it
 * is marked implicit all the same. Whether the
 * shared screen may show it is rule_shared_device's call.
 */
#include "guard/guard_int.h"

#include <string.h>

static const char NAME[] = "sensitive";

/* Whether the person named every sensitive category of `it` among their
 * interests; *cat gets the first sensitive category (for the detail). */
static bool named_all(const struct mes_guard_facts *f, const struct mes_item_facts *it, const char **cat) {
  const struct mes_policy *p = f->policy;
  bool all = true;
  *cat = NULL;
  for (size_t k = 0; k < it->n_cats && k < MES_GUARD_MAX_CATS; k++) {
    int ci = it->cats[k] ? mes_policy_category(p, it->cats[k], strlen(it->cats[k])) : -1;
    if (ci < 0 || !p->categories[ci].sensitive)
      continue;
    if (!*cat)
      *cat = p->categories[ci].name;
    bool named = false;
    for (size_t j = 0; j < f->n_interests && !named; j++)
      named = f->interests[j] && strcmp(f->interests[j], it->cats[k]) == 0;
    all = all && named;
  }
  return *cat != NULL && all;
}

static bool has_zero_party(const struct mes_guard_facts *f, const struct mes_cand *c) {
  for (size_t i = 0; i < c->n_contrib; i++)
    if (c->contrib[i].hist < f->n_hist && f->hist[c->contrib[i].hist].source == MES_SRC_ZERO)
      return true;
  return false;
}

/* based_on: the zero-party parts only, each item once. */
static void cite_zero_party(const struct mes_guard_facts *f, struct mes_cand *c) {
  c->n_based = 0;
  for (size_t i = 0; i < c->n_contrib && c->n_based < MES_GUARD_MAX_BASED; i++) {
    uint32_t h = c->contrib[i].hist;
    if (h >= f->n_hist || f->hist[h].source != MES_SRC_ZERO)
      continue;
    bool dup = false;
    for (size_t k = 0; k < c->n_based && !dup; k++)
      dup = strcmp(f->hist[c->based_on[k].hist].item, f->hist[h].item) == 0;
    if (!dup)
      c->based_on[c->n_based++].hist = h;
  }
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  for (size_t i = 0; i < n; i++) {
    struct mes_cand *c = &cands[i];
    if (c->dropped || !c->facts.sensitive)
      continue;
    if (!mes__guard_is_personal(c) && !f->personalized)
      continue;
    if (!mes__guard_is_personal(c)) {
      /* Nothing personal produced it, but it lands in a personal answer,
       * next to what the person browsed: on the shop's own pages it is
       * marked implicit, so that no surface dresses it up as "for you"; an
       * email or an ad addressed to the person never carries it unless they
       * told us (below), whatever ranked it. */
      const char *cat;
      if (named_all(f, &c->facts, &cat))
        continue;
      if (f->channel == MES_CH_EMAIL || f->channel == MES_CH_ADS)
        mes_guard_drop(c, NAME, "Category '%s' is sensitive; not sent on %s to someone who did not name it.",
                       cat ? cat : "?", mes_channel_name(f->channel));
      else
        c->disclosure = MES_DISCLOSE_IMPLICIT;
      continue;
    }
    const char *cat;
    bool by_prefs = named_all(f, &c->facts, &cat);
    if (!cat)
      cat = "?"; /* flagged sensitive by the caller, though no category says so now: still careful */
    bool by_events = has_zero_party(f, c);
    if (by_prefs || by_events) {
      if (by_events)
        cite_zero_party(f, c);
      else
        c->n_based = 0; /* preferences are not events: nothing to cite but the interest itself */
      c->reason = MES_REASON_YOU_TOLD_US;
      c->disclosure = MES_DISCLOSE_EXPLICIT;
      continue;
    }
    if (f->channel == MES_CH_EMAIL || f->channel == MES_CH_ADS)
      mes_guard_drop(c, NAME, "Category '%s' is sensitive and the interest was inferred, not told; never on %s.",
                     cat, mes_channel_name(f->channel));
    else
      mes__guard_impersonal(f, c);
  }
}

const struct mes_guard_rule mes__rule_sensitive = {.name = NAME, .apply = apply};
