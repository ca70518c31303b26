/*
 * guard/rule_sensitive — the retailer that "knew" a teenager was pregnant
 * before her father did. A category the policy marks `sensitive`
 * (pregnancy, health, finances, ...) is either told or inferred:
 *
 *   - told: the person declared it themselves, by naming it among their
 *     interests or through a zero-party event on an item of it
 *     (mes_guard_declared_init);
 *   - inferred: anything else the engine saw them do in it.
 *
 * The rule holds on the evidence as well as on the item shown, because an
 * ordinary item can carry an inference as plainly as a sensitive one ("goes
 * well with the crib you bought", in the family inbox):
 *
 *   - evidence: a part of a candidate's score that comes from an event on
 *     an item of an undeclared sensitive category (whatever the relation or
 *     the event type; one such category among an item's several is enough).
 *     On email and ads, which push the suggestion at the person and at
 *     whoever reads their inbox, it counts for nothing: it leaves the score
 *     and the reason, and a candidate that nothing else proposed is
 *     dropped. On the brand's own surfaces (web, app, store) it may still
 *     rank, but then the item is shown implicitly: a non-personal reason
 *     and an empty based_on, so that nothing on the page says why.
 *   - the item: an item of an undeclared sensitive category is never sent
 *     on email or ads in a personal answer; elsewhere it appears implicitly,
 *     and when only the inference lifted it, at the place the non-personal
 *     fill would give it (mes__guard_impersonal). When every sensitive
 *     category of the item was told, it may be explained, but only as what
 *     the person told us: reason you_told_us, citing their zero-party events
 *     alone (none when the interest came from preferences).
 *
 * The person's own suppressions (what they bought, dismissed or excluded)
 * are other rules' work and hold whatever this one decides. Whether a shared
 * screen may show a sensitive item at all is rule_shared_device's call.
 * Every change this rule makes to a kept candidate is named in the decision
 * record (adjusted_by), for admin and audit keys.
 */
#include "guard/guard_int.h"

#include <string.h>

static const char NAME[] = "sensitive";
static const char LEFT_OUT[] =
    "Data from a sensitive category the person did not name was left out of its score and reason.";
static const char MADE_IMPLICIT[] =
    "Data from a sensitive category the person did not name helped rank it, so it is shown without a personal "
    "reason.";

/* Whether history entries are inferred evidence, remembered per request:
 * candidates share a few dozen history items between them, and each would
 * otherwise ask for its items' catalog facts again. Open addressing on the
 * stack; when full, entries are judged afresh. */
#define MEMO_SLOTS 256
struct memo {
  const struct mes_guard_declared *d;
  struct mes_htab t; /* history index -> 1 + inferred */
  struct mes_htab_slot slot[MEMO_SLOTS];
};

static bool judge(const struct mes_guard_facts *f, const struct mes_guard_declared *d, const struct mes_hist *h) {
  return mes_guard_undeclared_sensitive(f, d, mes__guard_info(f, h->ev->item)) != NULL;
}

static bool inferred_evidence(const struct mes_guard_facts *f, const struct mes_hist *h, const void *ud) {
  struct memo *m = (struct memo *)ud;
  uint32_t key = (uint32_t)(h - f->hist);
  const struct mes_htab_slot *s = mes_htab_find(&m->t, key);
  if (s)
    return s->val == 2;
  bool v = judge(f, m->d, h);
  mes_htab_add(&m->t, key, 1u + v, NULL); /* full: judged afresh next time */
  return v;
}

/* The listed parts' share of inferred evidence. */
static double listed_inferred(const struct mes_guard_facts *f, const struct mes_cand *c, struct memo *m) {
  double sum = 0;
  for (size_t i = 0; i < c->n_contrib; i++)
    if (c->contrib[i].hist < f->n_hist && inferred_evidence(f, &f->hist[c->contrib[i].hist], m))
      sum += c->contrib[i].amount;
  return sum;
}

/* based_on: the zero-party parts only, each item once. */
static void cite_zero_party(const struct mes_guard_facts *f, struct mes_cand *c) {
  c->n_based = 0;
  for (size_t i = 0; i < c->n_contrib && c->n_based < MES_GUARD_MAX_BASED; i++) {
    uint32_t h = c->contrib[i].hist;
    if (h >= f->n_hist || f->hist[h].ev->source != MES_SRC_ZERO)
      continue;
    bool dup = false;
    for (size_t k = 0; k < c->n_based && !dup; k++)
      dup = strcmp(f->hist[c->based_on[k].hist].ev->item, f->hist[h].ev->item) == 0;
    if (!dup)
      c->based_on[c->n_based++].hist = h;
  }
}

/* The evidence: returns false when the candidate was dropped. */
static bool judge_evidence(const struct mes_guard_facts *f, struct mes_cand *c, struct memo *m, bool pushes) {
  double listed = listed_inferred(f, c, m);
  if (listed <= 0 && c->inferred <= 0)
    return true;
  if (!pushes) {
    c->disclosure = MES_DISCLOSE_IMPLICIT;
    c->reason = MES_REASON_POPULAR;
    c->n_based = 0;
    c->adjusted_by = NAME;
    c->adjusted_detail = MADE_IMPLICIT;
    return true;
  }
  size_t left;
  mes__guard_strip(f, c, inferred_evidence, m, false, &left);
  c->score -= listed > c->inferred ? listed : c->inferred;
  c->inferred = 0;
  if (left == 0 && !c->via_zero_party) {
    mes_guard_drop(c, NAME,
                   "Only data from a sensitive category the person did not name pointed to it; such data is "
                   "never used on %s.",
                   mes_channel_name(f->channel));
    return false;
  }
  c->adjusted_by = NAME;
  c->adjusted_detail = LEFT_OUT;
  return true;
}

/* The item itself, when it is of a sensitive category. */
static void judge_item(const struct mes_guard_facts *f, struct mes_cand *c, const struct mes_guard_declared *d,
                       bool pushes) {
  const char *cat = mes_guard_undeclared_sensitive(f, d, &c->facts);
  bool personal = mes__guard_is_personal(c);
  if (!cat) {
    /* Told. Explained as what the person told us, unless other evidence
     * made it implicit above. */
    if (personal && c->disclosure == MES_DISCLOSE_EXPLICIT) {
      cite_zero_party(f, c);
      c->reason = MES_REASON_YOU_TOLD_US;
    }
    return;
  }
  if (pushes) {
    mes_guard_drop(c, NAME, "Category '%s' is sensitive and the person did not name it; never on %s.", cat,
                   mes_channel_name(f->channel));
  } else if (personal) {
    mes__guard_impersonal(f, c);
    c->adjusted_by = NAME;
    c->adjusted_detail = MADE_IMPLICIT;
  } else {
    /* Nothing personal produced it, but it lands in a personal answer, next
     * to what the person browsed: marked implicit, so that no surface
     * dresses it up as "for you". */
    c->disclosure = MES_DISCLOSE_IMPLICIT;
  }
}

static bool policy_has_sensitive(const struct mes_policy *p) {
  for (size_t i = 0; i < p->n_categories; i++)
    if (p->categories[i].sensitive)
      return true;
  return false;
}

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  /* A non-personal answer uses no evidence, and shows a sensitive item (if
   * the device allows) as anyone would see it. */
  if (!f->personalized)
    return;
  bool any_flagged = false;
  for (size_t i = 0; i < n && !any_flagged; i++)
    any_flagged = !cands[i].dropped && (cands[i].facts.sensitive || cands[i].inferred > 0);
  if (!any_flagged && !policy_has_sensitive(f->policy))
    return;
  struct mes_guard_declared own;
  const struct mes_guard_declared *dp = f->declared;
  if (!dp) {
    mes_guard_declared_init(f, &own);
    dp = &own;
  }
  struct memo m;
  m.d = dp;
  mes_htab_init_fixed(&m.t, m.slot, MEMO_SLOTS);
  bool pushes = mes_guard_channel_pushes(f->channel);
  for (size_t i = 0; i < n; i++) {
    struct mes_cand *c = &cands[i];
    if (c->dropped || !judge_evidence(f, c, &m, pushes))
      continue;
    if (c->facts.sensitive)
      judge_item(f, c, dp, pushes);
  }
}

const struct mes_guard_rule mes__rule_sensitive = {.name = NAME, .apply = apply};
