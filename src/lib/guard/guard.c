/*
 * guard — running the rules, and what the rules share: reason names, the
 * drop record, citing (reason and based_on from a candidate's contributions),
 * the candidate index and the purchase facts that after_purchase and
 * cross_channel both read.
 */
#include "guard/guard_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Reasons                                                                  */

static const char *const reason_codes[MES_REASON_N] = {
    [MES_REASON_BECAUSE_YOU_VIEWED] = "because_you_viewed",
    [MES_REASON_BOUGHT_TOGETHER] = "bought_together",
    [MES_REASON_YOU_TOLD_US] = "you_told_us",
    [MES_REASON_POPULAR] = "popular",
    [MES_REASON_TRENDING] = "trending",
    [MES_REASON_SIMILAR_TO_CURRENT] = "similar_to_current",
    [MES_REASON_EDITORIAL] = "editorial",
    [MES_REASON_BUY_AGAIN] = "buy_again",
};

const char *mes_reason_code(enum mes_reason r) { return (unsigned)r < MES_REASON_N ? reason_codes[r] : "?"; }

bool mes_reason_is_personal(enum mes_reason r) {
  return r == MES_REASON_BECAUSE_YOU_VIEWED || r == MES_REASON_BOUGHT_TOGETHER || r == MES_REASON_YOU_TOLD_US ||
         r == MES_REASON_BUY_AGAIN;
}

/* ------------------------------------------------------------------------ */
/* Running                                                                  */

/* A detail cut to fit MES_GUARD_DETAIL may end inside a UTF-8 sequence
 * (item ids and category names need not be ASCII); the record is JSON, so
 * the cut goes back to the last whole character. */
static void trim_utf8(char *s) {
  size_t len = strlen(s), lead = len;
  while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
    lead--;
  if (lead == 0 || ((unsigned char)s[lead - 1] & 0x80) == 0)
    return; /* ends in ASCII (or only continuation bytes, left as they are) */
  unsigned char c = (unsigned char)s[lead - 1];
  size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (len - (lead - 1) < want)
    s[lead - 1] = '\0';
}

void mes_guard_drop(struct mes_cand *cand, const char *rule, const char *fmt, ...) {
  va_list ap;
  cand->dropped = true;
  cand->rule = rule;
  va_start(ap, fmt);
  int n = vsnprintf(cand->detail, sizeof cand->detail, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof cand->detail)
    trim_utf8(cand->detail);
}

void mes__guard_drop_text(struct mes_cand *cand, const char *rule, const char *detail) {
  size_t len = strlen(detail);
  if (len >= sizeof cand->detail)
    len = sizeof cand->detail - 1;
  cand->dropped = true;
  cand->rule = rule;
  memcpy(cand->detail, detail, len);
  cand->detail[len] = '\0';
  trim_utf8(cand->detail);
}

void mes_guard_run(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  size_t n_rules;
  const struct mes_guard_rule *const *rules = mes_guard_rules(&n_rules);
  for (size_t r = 0; r < n_rules && n > 0; r++)
    rules[r]->apply(f, cands, n);
}

/* ------------------------------------------------------------------------ */
/* Sensitive categories: told or inferred                                   */

static bool is_sensitive(const struct mes_policy *p, const char *cat) {
  int k = cat ? mes_policy_category(p, cat, strlen(cat)) : -1;
  return k >= 0 && p->categories[k].sensitive;
}

static void declare(const struct mes_guard_facts *f, struct mes_guard_declared *d, const char *cat) {
  if (!is_sensitive(f->policy, cat))
    return;
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->cat[i], cat) == 0)
      return;
  if (d->n < MES_GUARD_MAX_DECLARED)
    d->cat[d->n++] = cat;
}

void mes_guard_declared_init(const struct mes_guard_facts *f, struct mes_guard_declared *d) {
  d->n = 0;
  for (size_t i = 0; i < f->n_interests; i++)
    declare(f, d, f->interests[i]);
  /* Zero-party events are rare: the scan is of a flag per event. */
  for (size_t i = 0; i < f->n_hist; i++) {
    if (f->hist[i].ev->source != MES_SRC_ZERO)
      continue;
    const struct mes_item_facts *it = mes__guard_info(f, f->hist[i].ev->item);
    for (size_t k = 0; it && k < it->n_cats && k < MES_GUARD_MAX_CATS; k++)
      declare(f, d, it->cats[k]);
  }
}

const char *mes_guard_undeclared_sensitive(const struct mes_guard_facts *f, const struct mes_guard_declared *d,
                                           const struct mes_item_facts *it) {
  if (!it || !it->sensitive)
    return NULL;
  bool any = false;
  for (size_t k = 0; k < it->n_cats && k < MES_GUARD_MAX_CATS; k++) {
    if (!is_sensitive(f->policy, it->cats[k]))
      continue;
    any = true;
    bool told = false;
    for (size_t i = 0; i < d->n && !told; i++)
      told = strcmp(d->cat[i], it->cats[k]) == 0;
    if (!told)
      return it->cats[k];
  }
  /* Flagged sensitive, though no category the policy knows says so now (a
   * reload between the facts and the rules): still careful. */
  return any ? NULL : "?";
}

bool mes_guard_channel_pushes(enum mes_channel ch) { return ch == MES_CH_EMAIL || ch == MES_CH_ADS; }

/* ------------------------------------------------------------------------ */
/* Citing                                                                   */

/* Whether the item of history entry h is cited already. Two entries known
 * to the model under different indexes are different items: no strcmp. */
static bool cited(const struct mes_guard_facts *f, const struct mes_cand *c, uint32_t h) {
  const struct mes_hist *a = &f->hist[h];
  for (size_t k = 0; k < c->n_based; k++) {
    const struct mes_hist *b = &f->hist[c->based_on[k].hist];
    if (b == a || (a->midx >= 0 && b->midx >= 0 ? a->midx == b->midx : strcmp(a->ev->item, b->ev->item) == 0))
      return true;
  }
  return false;
}

void mes_guard_cite(const struct mes_guard_facts *f, struct mes_cand *c) {
  if (c->n_contrib == 0)
    return;
  /* The reason whose parts weigh most; on a tie, the one met first, which
   * holds the largest part since contributions come largest first. */
  double sum[MES_REASON_N] = {0};
  for (size_t i = 0; i < c->n_contrib; i++)
    if ((unsigned)c->contrib[i].reason < MES_REASON_N && c->contrib[i].hist < f->n_hist)
      sum[c->contrib[i].reason] += c->contrib[i].amount;
  int best = -1;
  for (size_t i = 0; i < c->n_contrib; i++) {
    int r = (int)c->contrib[i].reason;
    if ((unsigned)r < MES_REASON_N && mes_reason_is_personal((enum mes_reason)r) &&
        (best < 0 || sum[r] > sum[best]))
      best = r;
  }
  if (sum[MES_REASON_BUY_AGAIN] > 0)
    best = MES_REASON_BUY_AGAIN; /* an item the person bought is never "new because of" something else */
  if (best >= 0)
    c->reason = (enum mes_reason)best;
  /* based_on: the parts supporting the reason, then the others; each history
   * item once (an item viewed five times is one citation). */
  c->n_based = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->n_contrib && c->n_based < MES_GUARD_MAX_BASED; i++) {
      uint32_t h = c->contrib[i].hist;
      bool ours = (int)c->contrib[i].reason == best;
      if (h >= f->n_hist || ours != (pass == 0) || cited(f, c, h))
        continue;
      c->based_on[c->n_based++].hist = h;
    }
}

size_t mes__guard_strip(const struct mes_guard_facts *f, struct mes_cand *c,
                        bool (*gone)(const struct mes_guard_facts *f, const struct mes_hist *h, const void *ud),
                        const void *ud, bool rescore, size_t *left) {
  size_t taken = 0, keep = 0;
  if (c->n_contrib > 0) {
    for (size_t i = 0; i < c->n_contrib; i++) {
      const struct mes_contrib *p = &c->contrib[i];
      if (p->hist < f->n_hist && gone(f, &f->hist[p->hist], ud)) {
        taken++;
        if (rescore)
          c->score -= p->amount;
      } else {
        c->contrib[keep++] = *p;
      }
    }
    c->n_contrib = keep;
    if (taken) {
      c->n_based = 0;
      mes_guard_cite(f, c);
      if (keep == 0 && c->via_zero_party)
        c->reason = MES_REASON_YOU_TOLD_US; /* what the person told us is all that is left */
    }
    *left = keep;
    return taken;
  }
  /* No contributions listed: only the citations can be judged. */
  for (size_t k = 0; k < c->n_based; k++) {
    uint32_t h = c->based_on[k].hist;
    if (h < f->n_hist && gone(f, &f->hist[h], ud))
      taken++;
    else
      c->based_on[keep++] = c->based_on[k];
  }
  c->n_based = keep;
  *left = keep;
  return taken;
}

void mes__guard_impersonal(const struct mes_guard_facts *f, struct mes_cand *c) {
  /* The rank must not tell either: an item lifted to the top of the page by
   * an inference reveals it as surely as a reason would. It takes the place
   * the non-personal fill would give it. */
  float pop = f->model && c->midx >= 0 ? mes_model_popularity(f->model, (uint32_t)c->midx) : 0.0f;
  c->score = MES_GUARD_FILL_WEIGHT * (pop > 1e-6f ? pop : 1e-6f);
  c->reason = MES_REASON_POPULAR;
  c->disclosure = MES_DISCLOSE_IMPLICIT;
  c->n_based = 0;
  c->n_contrib = 0;
  c->via_zero_party = false;
}

bool mes__guard_is_personal(const struct mes_cand *c) {
  return c->from_history || c->via_zero_party || c->n_contrib > 0 || c->n_based > 0 ||
         mes_reason_is_personal(c->reason);
}

/* ------------------------------------------------------------------------ */
/* Candidate index                                                          */

static void idx_fill(struct mes__idx *x, const struct mes_cand *cands, size_t base, size_t n, bool by_midx) {
  x->cands = cands;
  x->by_midx = by_midx;
  if (n > MES__IDX_MAX)
    n = MES__IDX_MAX;
  /* only the slots this chunk needs are cleared: small pages clear little */
  mes_htab_init_fixed(&x->t, x->slot, mes_htab_slots_for(n));
  for (size_t i = base; i < base + n; i++) {
    const struct mes_cand *c = &cands[i];
    if (c->dropped || (by_midx && c->midx < 0) || (!by_midx && !c->item))
      continue;
    uint32_t key = by_midx ? (uint32_t)c->midx : mes_htab_tag(mes_hash_str(c->item));
    mes_htab_add(&x->t, key, (uint32_t)i + 1, NULL); /* sized for n */
  }
}

void mes__idx_items(struct mes__idx *x, const struct mes_cand *cands, size_t base, size_t n) {
  idx_fill(x, cands, base, n, false);
}

void mes__idx_midx(struct mes__idx *x, const struct mes_cand *cands, size_t base, size_t n) {
  idx_fill(x, cands, base, n, true);
}

struct mes_htab_slot *mes__idx_next_item(struct mes__idx *x, const char *item, size_t *pos) {
  if (!item || x->by_midx)
    return NULL;
  uint32_t tag = *pos ? x->tag : (x->tag = mes_htab_tag(mes_hash_str(item)));
  struct mes_htab_slot *s;
  while ((s = mes_htab_next(&x->t, tag, pos)))
    if (strcmp(x->cands[s->val - 1].item, item) == 0)
      return s;
  return NULL;
}

struct mes_htab_slot *mes__idx_next_midx(struct mes__idx *x, int32_t midx, size_t *pos) {
  return midx >= 0 && x->by_midx ? mes_htab_next(&x->t, (uint32_t)midx, pos) : NULL;
}

/* ------------------------------------------------------------------------ */
/* Impressions counted once per request                                     */

int64_t mes__guard_cap_since(const struct mes_guard_facts *f) {
  return f->now_ms - (int64_t)f->policy->guardrails.frequency_cap_window_hours * MS_PER_HOUR;
}

size_t mes_guard_shown_bytes(size_t n_imps) {
  return mes_htab_slots_for(n_imps) * sizeof(struct mes_htab_slot) + n_imps * sizeof(uint32_t);
}

/* The slot of item in sh, or NULL. */
static const struct mes_htab_slot *shown_slot(const struct mes_guard_shown *sh, const char *item, uint32_t tag) {
  const struct mes_htab_slot *s;
  for (size_t pos = 0; (s = mes_htab_next(&sh->t, tag, &pos));)
    if (strcmp(sh->imps[s->val - 1].item, item) == 0)
      return s;
  return NULL;
}

void mes_guard_shown_count(const struct mes_guard_facts *f, struct mes_guard_shown *sh, void *storage) {
  size_t n_slots = mes_htab_slots_for(f->n_imps);
  mes_htab_init_fixed(&sh->t, storage, n_slots);
  sh->imps = f->imps;
  sh->times = (uint32_t *)((struct mes_htab_slot *)storage + n_slots);
  int64_t since = mes__guard_cap_since(f);
  for (size_t i = 0; i < f->n_imps; i++) {
    const struct mes_impression *im = &f->imps[i];
    if (im->ts_ms < since || !im->item) /* one stamped after now (clock steps, a request just served) still counts */
      continue;
    uint32_t tag = mes_htab_tag(mes_hash_str(im->item));
    const struct mes_htab_slot *s = shown_slot(sh, im->item, tag);
    if (s) {
      sh->times[s->val - 1]++;
    } else {
      mes_htab_add(&sh->t, tag, (uint32_t)i + 1, NULL); /* sized for every impression */
      sh->times[i] = 1;
    }
  }
}

uint32_t mes_guard_shown_times(const struct mes_guard_shown *sh, const char *item) {
  const struct mes_htab_slot *s = shown_slot(sh, item, mes_htab_tag(mes_hash_str(item)));
  return s ? sh->times[s->val - 1] : 0;
}

/* ------------------------------------------------------------------------ */
/* Shared facts                                                             */

const struct mes_item_facts *mes__guard_info(const struct mes_guard_facts *f, const char *item) {
  return f->item_info && item ? f->item_info(f->item_info_ud, item) : NULL;
}

const struct mes_nbr *mes__guard_nbrs(const struct mes_guard_facts *f, enum mes_rel rel, uint32_t item, size_t *n) {
  *n = 0;
  if (f->neighbors)
    return f->neighbors(f->neighbors_ud, rel, item, n);
  if (f->model)
    return mes_model_neighbors(f->model, rel, item, n);
  return NULL;
}

const char *mes__guard_cat_in(const struct mes_item_facts *a, const char *const *names, size_t n) {
  for (size_t i = 0; a && i < a->n_cats && i < MES_GUARD_MAX_CATS; i++)
    for (size_t k = 0; k < n; k++)
      if (a->cats[i] && names[k] && strcmp(a->cats[i], names[k]) == 0)
        return a->cats[i];
  return NULL;
}

const char *mes__guard_shared_cat(const struct mes_item_facts *a, const struct mes_item_facts *b) {
  if (!a || !b)
    return NULL;
  return mes__guard_cat_in(a, b->cats, b->n_cats < MES_GUARD_MAX_CATS ? b->n_cats : MES_GUARD_MAX_CATS);
}

void mes__guard_once_bought(const struct mes_guard_facts *f, struct mes__once *out) {
  out->n = 0;
  const struct mes_policy *p = f->policy;
  int64_t since = f->now_ms - (int64_t)p->guardrails.post_purchase_suppression_days * MS_PER_DAY;
  for (size_t i = 0; i < f->n_hist; i++) {
    const struct mes_hist *h = &f->hist[i];
    if (h->kind != MES_KIND_PURCHASE || h->ev->ts_ms < since)
      continue;
    const struct mes_item_facts *info = mes__guard_info(f, h->ev->item);
    if (!info || !info->once)
      continue;
    for (size_t k = 0; k < info->n_cats && k < MES_GUARD_MAX_CATS; k++) {
      int ci = info->cats[k] ? mes_policy_category(p, info->cats[k], strlen(info->cats[k])) : -1;
      if (ci < 0 || p->categories[ci].lifecycle != MES_LIFECYCLE_ONCE)
        continue;
      const char *name = p->categories[ci].name;
      bool have = false;
      for (size_t j = 0; j < out->n && !have; j++)
        have = out->cat[j] == name;
      if (!have && out->n < MES__MAX_ONCE)
        out->cat[out->n++] = name;
    }
  }
}

void mes__guard_each_bought(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n,
                            void (*act)(struct mes_cand *c, const struct mes_hist *bought, void *ud), void *ud) {
  struct mes__idx x; /* 8 KiB on the stack */
  for (size_t base = 0; base < n; base += MES__IDX_MAX) {
    mes__idx_items(&x, cands, base, n - base);
    for (size_t i = 0; i < f->n_hist; i++) {
      if (f->hist[i].kind != MES_KIND_PURCHASE)
        continue;
      size_t pos = 0;
      for (struct mes_htab_slot *s; (s = mes__idx_next_item(&x, f->hist[i].ev->item, &pos));)
        if (!cands[s->val - 1].dropped)
          act(&cands[s->val - 1], &f->hist[i], ud);
    }
  }
}

void mes__guard_each_substitute(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n,
                                void (*act)(struct mes_cand *c, const struct mes_hist *bought, void *ud), void *ud) {
  struct mes__idx x;
  for (size_t base = 0; base < n; base += MES__IDX_MAX) {
    mes__idx_midx(&x, cands, base, n - base);
    for (size_t i = 0; i < f->n_hist; i++) {
      const struct mes_hist *h = &f->hist[i];
      if (h->kind != MES_KIND_PURCHASE || h->midx < 0)
        continue;
      size_t nn;
      const struct mes_nbr *nb = mes__guard_nbrs(f, MES_REL_VIEWED, (uint32_t)h->midx, &nn);
      if (!nn)
        continue;
      const struct mes_item_facts *bought = mes__guard_info(f, h->ev->item);
      if (!bought || bought->n_cats == 0)
        continue; /* without its categories, "same kind of thing" cannot be told */
      for (size_t k = 0; k < nn; k++) {
        size_t pos = 0;
        for (struct mes_htab_slot *s; (s = mes__idx_next_midx(&x, (int32_t)nb[k].item, &pos));) {
          struct mes_cand *c = &cands[s->val - 1];
          if (!c->dropped && mes__guard_shared_cat(&c->facts, bought))
            act(c, h, ud);
        }
      }
    }
  }
}
