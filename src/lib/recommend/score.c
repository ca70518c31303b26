/*
 * recommend/score — candidates and their scores.
 *
 * A score is a sum of contributions, each with its origin:
 *   - a recent history item h of the person (personal answers only):
 *     kind weight of h's events (the model's, purchase > cart > click > view)
 *     x recency decay (by age: the policy's model.history_half_life_days,
 *     and by place: the policy's
 *     model.recent_items_half_life, the latest items weighing most)
 *     x the relation weight h -> candidate, in units of that relation's
 *     typical strongest weight (mes_model_relation_unit), so that relations
 *     of different scales compare while a strong relation still outweighs a
 *     weak one;
 *     purchases go through "bought together" (complements, weighted by the
 *     policy's model.complements_pct) and EASE (REC_EASE_AFTER_BUY), both
 *     with reason bought_together; views, clicks and carts through "viewed
 *     together" and EASE (reason because_you_viewed); an item the person
 *     has since bought passes on little through those substitute relations,
 *     so that after a purchase what goes with it ranks above more of the same;
 *   - an item of a `lifecycle: repeat` category the person bought
 *     (buy_again): their own repurchase signal (from_buy_again);
 *   - an interest the person named (you_told_us): popular items of it;
 *   - the item on screen (similar_to_current, not personal);
 *   - popularity and trending (the non-personal fill).
 * The reason is the largest personal part when there is one (so based_on
 * names every kind of personal data used), else the largest non-personal
 * part; based_on lists the largest contributions.
 *
 * Scoring builds only lean proposals (struct rec_cand_x); mes__rec_prune
 * then keeps the best few hundred as full candidates (struct mes_cand) for
 * the costly rest of the request, and holds the others in a reserve that
 * the fill draws on before any non-personal filler.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recommend/rec_int.h"

#define MS_PER_DAY 86400000.0
#define TREND_FILL 5 /* trending items offered before the popular fill */

/* ---------------------------------------------------------------- candidate map */

/* Before pruning only the proposals (cx) exist; after it, both arrays. */
static int grow_cands(struct rec_state *s) {
  size_t cap = s->cap_cands ? s->cap_cands * 2 : 512;
  struct mes_cand *nc = s->made ? mes_arena_alloc(&s->arena, cap * sizeof *nc) : NULL;
  struct rec_cand_x *nx = mes_arena_alloc(&s->arena, cap * sizeof *nx);
  if ((s->made && !nc) || !nx)
    return MES_ENOMEM;
  if (s->n_cands) {
    if (nc)
      memcpy(nc, s->cands, s->n_cands * sizeof *nc);
    memcpy(nx, s->cx, s->n_cands * sizeof *nx);
  }
  s->cands = nc;
  s->cx = nx;
  s->cap_cands = cap;
  return MES_OK;
}

/* The candidate for proposal x, as the rules and the reply see it. */
static void make_cand(struct mes_cand *cd, const struct rec_cand_x *x) {
  memset(cd, 0, sizeof *cd);
  cd->item = x->item;
  cd->midx = x->midx;
  cd->score = x->score;
  cd->inferred = x->inferred;
  cd->disclosure = MES_DISCLOSE_EXPLICIT;
}

/* Appends a bare candidate for item (borrowed: from the model or arena). */
static int32_t new_cand(struct rec_state *s, const char *item, int32_t midx, bool *oom) {
  if (s->n_cands == s->cap_cands && grow_cands(s)) {
    *oom = true;
    return -1;
  }
  struct rec_cand_x *x = &s->cx[s->n_cands];
  memset(x, 0, sizeof *x);
  x->item = item;
  x->midx = midx;
  if (s->made)
    make_cand(&s->cands[s->n_cands], x);
  return (int32_t)s->n_cands++;
}

/* Brings pruned candidate s->res_x[r] back as a candidate of its own. */
static int32_t restore(struct rec_state *s, uint32_t r, bool *oom) {
  int32_t k = new_cand(s, s->res_x[r].item, s->res_x[r].midx, oom);
  if (k < 0)
    return -1;
  s->cx[k] = s->res_x[r];
  make_cand(&s->cands[k], &s->cx[k]);
  return k;
}

/* The candidate for model index midx (cand_map: see rec_int.h). */
int32_t mes__rec_cand_of(struct rec_state *s, uint32_t midx, bool add, bool *oom) {
  struct mes_htab_slot *sl = mes_htab_find(&s->cand_map, midx);
  if (sl) {
    if (!(sl->val & REC_RESERVED))
      return (int32_t)sl->val - 1;
    if (!add)
      return -1;
    int32_t k = restore(s, (sl->val & ~REC_RESERVED) - 1, oom);
    if (k >= 0)
      sl->val = (uint32_t)k + 1;
    return k;
  }
  if (!add)
    return -1;
  int32_t k = new_cand(s, mes_model_item_id(s->m, midx), (int32_t)midx, oom);
  if (k < 0)
    return -1;
  if (mes_htab_add(&s->cand_map, midx, (uint32_t)k + 1, NULL)) {
    s->n_cands--; /* unmapped, it would never be found again */
    *oom = true;
    return -1;
  }
  return k;
}

/* True when model index midx is a candidate, or was one before pruning. */
static bool proposed(const struct rec_state *s, uint32_t midx) { return mes_htab_find(&s->cand_map, midx) != NULL; }

/* Adds w to candidate k's part for reason r, crediting origin `hist` (>= 0
 * a history index, < 0 an interest, INT32_MIN nothing personal). */
static void contribute(struct rec_state *s, int32_t k, enum mes_reason r, int32_t hist, double w) {
  struct rec_cand_x *x = &s->cx[k];
  x->by_reason[r] += w;
  x->score += w;
  if (s->made)
    s->cands[k].score += w;
  if (hist == INT32_MIN)
    return;
  if (hist >= 0 && s->hist_x[hist].inferred) {
    x->inferred += w;
    if (s->made)
      s->cands[k].inferred += w;
  }
  for (size_t i = 0; i < x->n_contrib; i++) {
    if (x->contrib[i].hist == hist) {
      x->contrib[i].w += w;
      return;
    }
  }
  if (x->n_contrib < REC_CONTRIB) {
    x->contrib[x->n_contrib++] = (struct rec_contrib){hist, w};
    return;
  }
  size_t lo = 0; /* full: the smallest credit gives way (its weight stays in the score) */
  for (size_t i = 1; i < REC_CONTRIB; i++)
    if (x->contrib[i].w < x->contrib[lo].w)
      lo = i;
  if (w > x->contrib[lo].w)
    x->contrib[lo] = (struct rec_contrib){hist, w};
}

/* ---------------------------------------------------------------- filters */

/* Catalog facts without caching them (scans of long lists). */
static bool peek_facts(struct rec_state *s, const char *id, struct mes_item_facts *f) {
  memset(f, 0, sizeof *f);
  struct mes_catalog_entry e;
  if (mes_catalog_lookup(s->r->catalog, id, strlen(id), &e))
    return false;
  f->known = true;
  f->available = e.available;
  for (size_t i = 0; i < e.n_cats && i < MES_GUARD_MAX_CATS; i++)
    f->cats[f->n_cats++] = e.cats[i];
  return true;
}

static bool has_cat(const struct mes_item_facts *f, const char *cat) {
  for (size_t i = 0; i < f->n_cats; i++)
    if (strcmp(f->cats[i], cat) == 0)
      return true;
  return false;
}

bool mes__rec_passes(struct rec_state *s, const char *item, const struct mes_item_facts *f) {
  if (!f || !f->known || !f->available)
    return false; /* unavailable (or deleted) items are never served */
  const struct mes_rec_request *q = &s->req;
  size_t len = strlen(item);
  if (q->context_item && q->context_item_len == len && memcmp(q->context_item, item, len) == 0)
    return false;
  size_t i;
  const json_t *v;
  json_array_foreach(q->exclude, i, v) {
    if (json_string_length(v) == len && memcmp(json_string_value(v), item, len) == 0)
      return false;
  }
  if (json_array_size(q->categories)) {
    json_array_foreach(q->categories, i, v) {
      if (has_cat(f, json_string_value(v)))
        return true;
    }
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------- sources */

struct group {
  int32_t midx;
  bool purchase;
  bool bought; /* the person bought this item (any time) */
  uint32_t hist; /* the newest event of the group */
  double w;
};

/* An event's weight by its age: the policy's model.history_half_life_days
 * (0: none). */
static double decay(int64_t now_ms, int64_t ts_ms, int half_life_days) {
  double age_days = (double)(now_ms - ts_ms) / MS_PER_DAY;
  if (half_life_days <= 0)
    return 1.0;
  if (age_days < 0)
    age_days = 0;
  return exp2(-age_days / half_life_days);
}

/* The model indexes of the history groups, for add_neighbors' "seen" test,
 * which runs once per neighbour (up to REC_HIST_GROUPS x 2 x REC_NBRS per
 * request; a linear scan of the groups cost ~400,000 comparisons): open
 * addressing, at most a quarter full. */
#define SEEN_SLOTS (4 * REC_HIST_GROUPS)
struct seen {
  struct mes_htab t; /* model index -> 1 */
  struct mes_htab_slot slot[SEEN_SLOTS];
};

static void seen_add(struct seen *t, uint32_t midx) {
  if (!mes_htab_find(&t->t, midx))
    mes_htab_add(&t->t, midx, 1, NULL); /* REC_HIST_GROUPS at most: never full */
}

static bool seen_has(const struct seen *t, uint32_t midx) { return mes_htab_find(&t->t, midx) != NULL; }

/* Adds the neighbours of `from` through rel, each weight in the relation's
 * unit, times factor. Items of `seen` (the person's own recent
 * history; NULL on the non-personal paths) are not offered back to them as
 * discoveries: "because you viewed X" pointing at something they just looked
 * at helps nobody, and would make every page an echo of the last one. */
static int add_neighbors(struct rec_state *s, uint32_t from, enum mes_rel rel, double factor, enum mes_reason r,
                         int32_t hist, const struct seen *seen, size_t limit) {
  size_t n = 0;
  const struct mes_nbr *nb = mes_model_neighbors(s->m, rel, from, &n);
  if (!n || nb[0].w <= 0)
    return MES_OK;
  double unit = mes_model_relation_unit(s->m, rel);
  if (unit <= 0)
    unit = nb[0].w; /* cannot happen while from has neighbours; kept finite anyway */
  for (size_t i = 0; i < n && i < limit; i++) {
    if (nb[i].item == from || nb[i].w <= 0 || (seen && seen_has(seen, nb[i].item)))
      continue;
    bool oom = false;
    int32_t k = mes__rec_cand_of(s, nb[i].item, true, &oom);
    if (k < 0)
      return MES_ENOMEM;
    contribute(s, k, r, hist, factor * nb[i].w / unit);
  }
  return MES_OK;
}

/* Which history items are evidence of an undeclared sensitive interest
 * (mes_guard_undeclared_sensitive), judged once per item as the groups are
 * made: on email and ads such an item is left out of the groups altogether,
 * so the answer is the one the person would get had the event never
 * happened (contract §6); elsewhere its group's event is marked, so that
 * every part it gives is tallied apart (struct mes_cand.inferred) and
 * rule_sensitive hides why. Open addressing by model index; when full,
 * items are judged afresh. */
#define JUDGED_SLOTS 512
struct judged {
  bool on;      /* the policy has a sensitive category and the rules run */
  bool withhold; /* the channel pushes: inferred items propose nothing */
  struct mes_htab t; /* model index -> 1 + inferred */
  struct mes_htab_slot slot[JUDGED_SLOTS];
};

static void judged_init(struct rec_state *s, struct judged *j) {
  const struct mes_policy *p = s->c->policy;
  j->on = false;
  for (size_t i = 0; i < p->n_categories && !j->on; i++)
    j->on = p->categories[i].sensitive;
  j->on = j->on && !s->no_rules;
  if (!j->on)
    return;
  j->withhold = s->inferred_void;
  mes_htab_init_fixed(&j->t, j->slot, JUDGED_SLOTS);
}

/* Whether h is inferred evidence (*out); MES_ENOMEM when the item's facts
 * cannot be read for want of memory: the request fails rather than answer
 * from a guess either way. An item gone from the catalog is ordinary
 * evidence (nothing says it is sensitive, and its category is no longer
 * known). */
static int judge_hist(struct rec_state *s, struct judged *j, const struct mes_hist *h, bool *out) {
  *out = false;
  if (!j->on)
    return MES_OK;
  const struct mes_htab_slot *sl = mes_htab_find(&j->t, (uint32_t)h->midx);
  if (sl) {
    *out = sl->val == 2;
    return MES_OK;
  }
  bool oom = false;
  const struct mes_item_facts *f = mes__rec_item(s, h->ev->item, &oom);
  if (oom)
    return MES_ENOMEM;
  bool v = mes_guard_undeclared_sensitive(&s->facts, &s->declared, f) != NULL;
  if (mes_htab_add(&j->t, (uint32_t)h->midx, 1u + v, NULL) == MES_OK && v && j->withhold) /* full: judged afresh */
    s->n_withheld++;
  *out = v;
  return MES_OK;
}

/* ---------------------------------------------------------------- buy again */

/* One item of a `lifecycle: repeat` category that the person bought. */
struct again {
  int32_t midx;
  uint32_t last; /* history index of the newest purchase of it */
  int64_t last_ms;
  uint32_t n; /* purchases of it that the history holds */
};

static bool policy_has_repeat(const struct mes_policy *p) {
  for (size_t i = 0; i < p->n_categories; i++)
    if (p->categories[i].lifecycle == MES_LIFECYCLE_REPEAT)
      return true;
  return false;
}

/* The weight of buying item a again, at now_ms, per unit (see from_buy_again). */
static double again_weight(const struct again *a, int64_t now_ms) {
  double age_days = (double)(now_ms - a->last_ms) / MS_PER_DAY;
  if (age_days < 0)
    age_days = 0;
  return log2(1.0 + a->n) + REC_AGAIN_RECENCY / (1.0 + age_days);
}

/*
 * Buy again (contract §6's one exception to "what the person bought is never
 * returned"): every item of a `lifecycle: repeat` category that the person
 * bought is proposed back to them, reason buy_again, citing their newest
 * purchase of it. Its weight is their own repurchase signal:
 *
 *     unit x (log2(1 + purchases of it) + REC_AGAIN_RECENCY / (1 + days since the last)),
 *
 * that is, what they bought most often first, and among items bought as
 * often, the one bought last: the recency term stays below the step
 * between two counts (rec_int.h), so it only breaks ties. An estimate of
 * each item's own rhythm (due, overdue) ranked worse than this on the shop
 * data's later purchases (bench/README.md): a household's rhythm is read
 * from a few purchases, often one, and a staple missing for a while is
 * more often bought again than replaced. log2 of the count keeps the
 * weights of a long history within a few units.
 *
 * The unit is a purchase's kind weight plus the strongest score the
 * relations gave any candidate of this request: a staple bought even once
 * ranks above anything new (in groceries what a household buys again is
 * the likeliest next purchase). In a purchase's kind weight alone, a long
 * history's sums over its items would bury every staple under a hundred
 * discoveries.
 *
 * Nothing here is learnt across people: the signal is read from the
 * person's history alone, so forgetting a purchase event (or the person)
 * takes it away with the history, and the model holds nothing of it to
 * unlearn.
 *
 * The bought item is in the history's `seen` set, so no relation proposes
 * it as a discovery; the after-purchase rule lets it through only with this
 * reason, only to a person whose answer is personal. Evidence of an
 * undeclared sensitive interest follows the history's judgement (jd):
 * withheld altogether on email and ads, tallied apart elsewhere.
 */
static int from_buy_again(struct rec_state *s, struct judged *jd) {
  if (!policy_has_repeat(s->c->policy))
    return MES_OK;
  float kw = mes_model_kind_weight(s->m, MES_KIND_PURCHASE);
  if (kw <= 0)
    return MES_OK;
  double unit = kw;
  double top = 0;
  for (size_t k = 0; k < s->n_cands; k++)
    if (s->cx[k].score > top)
      top = s->cx[k].score;
  unit += top;
  struct mes_htab by_midx; /* model index -> index + 1 into a */
  mes_htab_init_arena(&by_midx, &s->arena, s->n_hist);
  struct again *a = NULL;
  size_t n = 0, cap = 0;
  for (size_t i = 0; i < s->n_hist; i++) { /* oldest first: the last one seen is the newest */
    const struct mes_hist *h = &s->hist[i];
    if (h->kind != MES_KIND_PURCHASE || h->midx < 0 || !s->hist_x[i].usable)
      continue;
    struct mes_htab_slot *sl = mes_htab_find(&by_midx, (uint32_t)h->midx);
    if (!sl) {
      bool oom = false;
      const struct mes_item_facts *f = mes__rec_item(s, h->ev->item, &oom);
      if (oom)
        return MES_ENOMEM;
      uint32_t val = UINT32_MAX; /* judged: not bought again */
      if (f && f->repeat) {
        if (n == cap) {
          size_t nc = cap ? cap * 2 : 16;
          struct again *na = mes_arena_alloc(&s->arena, nc * sizeof *na);
          if (!na)
            return MES_ENOMEM;
          if (n)
            memcpy(na, a, n * sizeof *a);
          a = na;
          cap = nc;
        }
        a[n] = (struct again){.midx = h->midx};
        val = (uint32_t)++n;
      }
      if (mes_htab_add(&by_midx, (uint32_t)h->midx, val, &sl))
        return MES_ENOMEM;
    }
    if (sl->val == UINT32_MAX)
      continue;
    struct again *x = &a[sl->val - 1];
    x->n++;
    x->last = (uint32_t)i;
    x->last_ms = h->ev->ts_ms;
  }
  for (size_t j = 0; j < n; j++) {
    bool inferred;
    if (judge_hist(s, jd, &s->hist[a[j].last], &inferred))
      return MES_ENOMEM;
    if (inferred && jd->withhold)
      continue;
    s->hist_x[a[j].last].inferred = inferred;
    bool oom = false;
    int32_t k = mes__rec_cand_of(s, (uint32_t)a[j].midx, true, &oom);
    if (k < 0)
      return MES_ENOMEM;
    contribute(s, k, MES_REASON_BUY_AGAIN, (int32_t)a[j].last, unit * again_weight(&a[j], s->c->now_ms));
  }
  return MES_OK;
}

static int from_history(struct rec_state *s) {
  struct group g[REC_HIST_GROUPS];
  size_t ng = 0;
  struct judged *jd = mes_arena_alloc(&s->arena, sizeof *jd);
  if (!jd)
    return MES_ENOMEM;
  judged_init(s, jd);
  /* Newest first: the most recent items fill the groups. */
  for (size_t i = s->n_hist; i-- > 0;) {
    const struct mes_hist *h = &s->hist[i];
    if (!s->hist_x[i].usable || h->midx < 0)
      continue;
    bool purchase = h->kind == MES_KIND_PURCHASE;
    if (!purchase && h->kind != MES_KIND_VIEW && h->kind != MES_KIND_CLICK && h->kind != MES_KIND_CART)
      continue;
    float kw = mes_model_kind_weight(s->m, h->kind);
    if (kw <= 0)
      continue;
    size_t j;
    for (j = 0; j < ng; j++)
      if (g[j].midx == h->midx && g[j].purchase == purchase)
        break;
    if (j == ng) {
      if (ng == REC_HIST_GROUPS)
        continue;
      bool inferred;
      if (judge_hist(s, jd, h, &inferred))
        return MES_ENOMEM;
      if (inferred && jd->withhold)
        continue;
      s->hist_x[i].inferred = inferred;
      g[ng++] = (struct group){.midx = h->midx, .purchase = purchase, .hist = (uint32_t)i};
    }
    g[j].w += kw * decay(s->c->now_ms, h->ev->ts_ms, s->c->policy->model.history_half_life_days);
  }
  /* The groups are in the order of their newest events, latest first: what
   * a person turned to last says most about what they want next (chosen
   * on the validation part of the offline protocol, bench/README.md). */
  int place_hl = s->c->policy->model.recent_items_half_life;
  double complements = s->c->policy->model.complements_pct / 100.0;
  for (size_t j = 0; place_hl > 0 && j < ng; j++)
    g[j].w *= exp2(-(double)j / place_hl);
  /* Items so far back that their place leaves them under 1/256 of the
   * latest propose nothing (they stay in `seen`): a long history then costs
   * no more neighbour visits than a short one. */
  size_t reach = place_hl > 0 && (size_t)place_hl * REC_PLACE_HALVINGS < ng ? (size_t)place_hl * REC_PLACE_HALVINGS : ng;
  /* The candidate map, made once for what these groups can propose (the
   * lengths of the two lists each reads), so that it need not grow as they
   * do. */
  size_t proposals = 0;
  for (size_t j = 0; j < reach && proposals < REC_CAND_MAP_HISTORY; j++) {
    size_t n_rel = 0, n_ease = 0;
    (void)mes_model_neighbors(s->m, g[j].purchase ? MES_REL_BOUGHT : MES_REL_VIEWED, (uint32_t)g[j].midx, &n_rel);
    (void)mes_model_neighbors(s->m, MES_REL_EASE, (uint32_t)g[j].midx, &n_ease);
    proposals += (n_rel < REC_NBRS ? n_rel : REC_NBRS) + (n_ease < REC_NBRS ? n_ease : REC_NBRS);
  }
  if (mes_htab_reserve(&s->cand_map, proposals < REC_CAND_MAP_HISTORY ? proposals : REC_CAND_MAP_HISTORY))
    return MES_ENOMEM;
  struct seen seen;
  mes_htab_init_fixed(&seen.t, seen.slot, SEEN_SLOTS);
  for (size_t j = 0; j < ng; j++) {
    seen_add(&seen, (uint32_t)g[j].midx);
    for (size_t k = 0; k < ng; k++)
      if (g[k].purchase && g[k].midx == g[j].midx)
        g[j].bought = true;
  }
  for (size_t j = 0; j < reach; j++) {
    int32_t hist = (int32_t)g[j].hist;
    uint32_t from = (uint32_t)g[j].midx;
    int rc;
    if (g[j].purchase) {
      rc = add_neighbors(s, from, MES_REL_BOUGHT, g[j].w * complements, MES_REASON_BOUGHT_TOGETHER, hist, &seen,
                         REC_NBRS);
      if (!rc)
        rc = add_neighbors(s, from, MES_REL_EASE, g[j].w * REC_EASE_AFTER_BUY, MES_REASON_BOUGHT_TOGETHER, hist,
                           &seen, REC_NBRS);
    } else {
      double f = g[j].w * (g[j].bought ? REC_SUBST_AFTER_BUY : 1.0);
      /* Judged as rule_retargeting and mes__rec_prune judge it: by the
       * group's newest event. */
      bool stale = !s->no_rules && s->hist[hist].ev->ts_ms < s->stale_before;
      size_t limit = stale ? REC_STALE_NBRS : REC_NBRS;
      rc = add_neighbors(s, from, MES_REL_VIEWED, f, MES_REASON_BECAUSE_YOU_VIEWED, hist, &seen, limit);
      if (!rc)
        rc = add_neighbors(s, from, MES_REL_EASE, f, MES_REASON_BECAUSE_YOU_VIEWED, hist, &seen, limit);
    }
    if (rc)
      return rc;
  }
  return from_buy_again(s, jd);
}

static int from_context(struct rec_state *s) {
  const struct mes_rec_request *q = &s->req;
  int32_t midx = mes_model_item(s->m, q->context_item, q->context_item_len);
  if (midx < 0)
    return MES_OK;
  int rc = add_neighbors(s, (uint32_t)midx, MES_REL_VIEWED, REC_CTX_WEIGHT, MES_REASON_SIMILAR_TO_CURRENT, INT32_MIN,
                         NULL, REC_NBRS);
  if (!rc)
    rc = add_neighbors(s, (uint32_t)midx, MES_REL_EASE, REC_CTX_WEIGHT, MES_REASON_SIMILAR_TO_CURRENT, INT32_MIN,
                       NULL, REC_NBRS);
  return rc;
}

static int from_interests(struct rec_state *s) {
  size_t n_top = 0;
  const uint32_t *top = mes_model_top(s->m, false, &n_top);
  for (size_t i = 0; i < s->n_interests; i++) {
    size_t got = 0;
    for (size_t p = 0; p < n_top && p < REC_TOP_SCAN && got < REC_TOLD_PER_CAT; p++) {
      struct mes_item_facts f;
      if (!peek_facts(s, mes_model_item_id(s->m, top[p]), &f) || !has_cat(&f, s->interests[i]))
        continue;
      bool oom = false;
      int32_t k = mes__rec_cand_of(s, top[p], true, &oom);
      if (k < 0)
        return MES_ENOMEM;
      contribute(s, k, MES_REASON_YOU_TOLD_US, -1 - (int32_t)i,
                 REC_TOLD_WEIGHT * (0.5 + 0.5 * mes_model_popularity(s->m, top[p])));
      got++;
    }
  }
  return MES_OK;
}

int mes__rec_candidates(struct rec_state *s) {
  if (!s->m)
    return MES_OK;
  int days = s->c->policy->guardrails.retargeting_window_days;
  s->stale_before = s->c->now_ms - (int64_t)days * (int64_t)MS_PER_DAY;
  s->inferred_void = mes_guard_channel_pushes(s->req.channel);
  int rc = MES_OK;
  if (s->personalized)
    rc = from_history(s);
  if (!rc && s->req.context_item)
    rc = from_context(s);
  if (!rc && s->personalized)
    rc = from_interests(s);
  return rc;
}

/* ---------------------------------------------------------------- pruning */

static void swap_ranked(struct rec_ranked *a, struct rec_ranked *b) {
  struct rec_ranked t = *a;
  *a = *b;
  *b = t;
}

/* Moves the k largest keys of a[0..n) into a[0..k), in no order: a
 * quickselect (linear on average) with a three-way partition, so that many
 * equal keys cost nothing extra. */
static void select_top(struct rec_ranked *a, size_t n, size_t k) {
  size_t lo = 0, hi = n;
  while (lo < k && k < hi && hi - lo > 1) {
    double x = a[lo].key, y = a[lo + (hi - lo) / 2].key, z = a[hi - 1].key;
    double p = x < y ? (y < z ? y : x < z ? z : x) : (x < z ? x : y < z ? z : y); /* median of three */
    size_t gt = lo, i = lo, lt = hi; /* [lo,gt) > p, [gt,i) == p, [lt,hi) < p */
    while (i < lt) {
      if (a[i].key > p)
        swap_ranked(&a[gt++], &a[i++]);
      else if (a[i].key < p)
        swap_ranked(&a[i], &a[--lt]);
      else
        i++;
    }
    if (k <= gt)
      hi = gt;
    else if (k >= lt)
      lo = lt;
    else
      return; /* the boundary falls among keys equal to p */
  }
}

/* Makes s->cands for every proposal, pruning nothing. */
static int make_all(struct rec_state *s) {
  if (s->made)
    return MES_OK;
  s->made = true;
  if (!s->cap_cands)
    return MES_OK; /* nothing proposed: grow_cands makes both arrays from now on */
  s->cands = mes_arena_alloc(&s->arena, s->cap_cands * sizeof *s->cands);
  if (!s->cands)
    return MES_ENOMEM;
  for (size_t i = 0; i < s->n_cands; i++)
    make_cand(&s->cands[i], &s->cx[i]);
  return MES_OK;
}

int mes__rec_prune(struct rec_state *s, size_t keep) {
  size_t n = s->n_cands;
  if (s->made || n <= keep || n - keep <= REC_PRUNE_STALE || !mes_htab_count(&s->cand_map))
    return make_all(s);
  /* live from the front, stale-only from the back of one array */
  struct rec_ranked *r = mes_arena_alloc(&s->arena, n * sizeof *r);
  uint8_t *kept = mes_arena_calloc(&s->arena, n);
  int32_t *moved = mes_arena_alloc(&s->arena, n * sizeof *moved); /* read only where kept */
  if (!r || !kept || !moved)
    return MES_ENOMEM;
  size_t nl = 0, ns = 0;
  for (size_t i = 0; i < n; i++) {
    double score = s->cx[i].score, stale = 0;
    size_t n_hist = 0, n_stale = 0;
    /* Without rules nothing is taken away: the whole score ranks. With
     * them, what rule_retargeting leaves, judged as it judges: each listed
     * history part (named by its group's newest event) older than the
     * window, unless a purchase, leaves the score; a candidate all of whose
     * parts go, and whom no named interest backs, is dropped. */
    const struct rec_cand_x *x = &s->cx[i];
    for (size_t j = 0; !s->no_rules && j < x->n_contrib; j++) {
      int32_t h = x->contrib[j].hist;
      if (h < 0)
        continue;
      n_hist++;
      if (s->hist[h].kind != MES_KIND_PURCHASE && s->hist[h].ev->ts_ms < s->stale_before) {
        n_stale++;
        stale += x->contrib[j].w;
      }
    }
    if (n_hist && n_stale == n_hist && x->by_reason[MES_REASON_YOU_TOLD_US] <= 0)
      r[n - 1 - ns++] = (struct rec_ranked){score, (uint32_t)i};
    else
      r[nl++] = (struct rec_ranked){score - stale, (uint32_t)i};
  }
  struct rec_ranked *stale = r + nl;
  size_t kl = nl < keep ? nl : keep, ks = ns < REC_PRUNE_STALE ? ns : REC_PRUNE_STALE;
  select_top(r, nl, kl);
  select_top(stale, ns, ks);
  for (size_t i = 0; i < kl; i++)
    kept[r[i].i] = 1;
  for (size_t i = 0; i < ks; i++)
    kept[stale[i].i] = 1;
  /* The kept ones move to new arrays, in the order they were proposed; the
   * old arrays stay as the reserve. */
  size_t nk = kl + ks, cap = 256;
  while (cap < nk + nk / 2)
    cap *= 2;
  struct mes_cand *nc = mes_arena_alloc(&s->arena, cap * sizeof *nc);
  struct rec_cand_x *nx = mes_arena_alloc(&s->arena, cap * sizeof *nx);
  struct rec_ranked *res = mes_arena_alloc(&s->arena, (n - nk) * sizeof *res);
  if (!nc || !nx || !res)
    return MES_ENOMEM;
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (!kept[i])
      continue;
    nx[w] = s->cx[i];
    make_cand(&nc[w], &nx[w]);
    moved[i] = (int32_t)w++;
  }
  size_t nr = 0;
  for (size_t i = kl; i < nl; i++)
    res[nr++] = r[i];
  for (size_t i = ks; i < ns; i++)
    res[nr++] = (struct rec_ranked){0, stale[i].i};
  struct mes_htab_slot *sl;
  for (size_t j = 0; (sl = mes_htab_each(&s->cand_map, &j));) {
    uint32_t v = sl->val - 1; /* all live: nothing was pruned before */
    if (kept[v])
      sl->val = (uint32_t)moved[v] + 1;
    else
      sl->val |= REC_RESERVED; /* same index, in the arrays that become the reserve */
  }
  s->res_x = s->cx;
  s->res = res;
  s->n_res = nr;
  s->cands = nc;
  s->cx = nx;
  s->made = true;
  s->n_cands = nk;
  s->cap_cands = cap;
  return MES_OK;
}

/* ---------------------------------------------------------------- the fill */

struct cat_fill {
  struct rec_state *s;
  size_t want, added;
  bool failed;
};

static int catalog_cb(void *ud, const char *id, const struct mes_catalog_entry *e) {
  struct cat_fill *cf = ud;
  struct rec_state *s = cf->s;
  struct mes_item_facts f = {.known = true, .available = e->available};
  for (size_t i = 0; i < e->n_cats && i < MES_GUARD_MAX_CATS; i++)
    f.cats[f.n_cats++] = e->cats[i];
  if (!mes__rec_passes(s, id, &f))
    return 0;
  bool oom = false;
  const char *copy = mes_arena_strndup(&s->arena, id, strlen(id));
  int32_t k = copy ? new_cand(s, copy, -1, &oom) : -1;
  if (k < 0) {
    cf->failed = true;
    return 1;
  }
  contribute(s, k, MES_REASON_EDITORIAL, INT32_MIN, 0);
  return ++cf->added >= cf->want;
}

/* Without a model: the catalog's own order, once. */
static int fill_from_catalog(struct rec_state *s, size_t want, size_t *added) {
  if (s->fill_started)
    return MES_OK;
  s->fill_started = true;
  struct cat_fill cf = {.s = s, .want = want};
  int rc = mes_catalog_each(s->r->catalog, 0, catalog_cb, &cf);
  *added = cf.added;
  return rc ? rc : cf.failed ? MES_ENOMEM : MES_OK;
}

/* Tries to add model item midx as a non-personal candidate. */
static int fill_one(struct rec_state *s, uint32_t midx, bool trending, size_t *added) {
  bool oom = false;
  if (proposed(s, midx))
    return MES_OK; /* already a candidate (or pruned: it comes back through the reserve, never as a filler) */
  const char *id = mes_model_item_id(s->m, midx);
  struct mes_item_facts f;
  if (!peek_facts(s, id, &f) || !mes__rec_passes(s, id, &f))
    return MES_OK;
  int32_t k = mes__rec_cand_of(s, midx, true, &oom);
  if (k < 0)
    return MES_ENOMEM;
  float pop = mes_model_popularity(s->m, midx), trend = mes_model_trending(s->m, midx);
  /* The list's order stands even where the decayed mass rounds to zero. */
  if (trending || trend > pop)
    contribute(s, k, MES_REASON_TRENDING, INT32_MIN, REC_POP_WEIGHT * (trend > 1e-6f ? trend : 1e-6f));
  else
    contribute(s, k, MES_REASON_POPULAR, INT32_MIN, REC_POP_WEIGHT * (pop > 1e-6f ? pop : 1e-6f));
  (*added)++;
  return MES_OK;
}

static int by_key_desc(const void *a, const void *b) {
  const struct rec_ranked *x = a, *y = b;
  if (x->key != y->key)
    return x->key < y->key ? 1 : -1;
  return x->i < y->i ? -1 : x->i > y->i; /* the proposal order: stable answers */
}

/* Brings back up to `want` pruned candidates, best first. */
static int fill_from_reserve(struct rec_state *s, size_t want, size_t *added) {
  if (!s->res_sorted) { /* only when the rules dropped nearly all the kept ones: rare */
    qsort(s->res, s->n_res, sizeof *s->res, by_key_desc);
    s->res_sorted = true;
  }
  while (*added < want && s->res_pos < s->n_res && s->res[s->res_pos].key > 0) {
    bool oom = false;
    if (mes__rec_cand_of(s, (uint32_t)s->res_x[s->res[s->res_pos].i].midx, true, &oom) < 0)
      return MES_ENOMEM;
    s->res_pos++;
    (*added)++;
  }
  if (s->res_pos < s->n_res && s->res[s->res_pos].key <= 0)
    s->res_pos = s->n_res; /* what is left, stale history alone proposed: the rules would drop it */
  return MES_OK;
}

int mes__rec_fill(struct rec_state *s, size_t want, size_t *added) {
  *added = 0;
  if (s->res_pos < s->n_res) { /* personal candidates before any filler */
    int rc = fill_from_reserve(s, want, added);
    if (rc || *added)
      return rc;
  }
  if (!s->m)
    return fill_from_catalog(s, want, added);
  int rc = MES_OK;
  if (!s->fill_started) { /* the first fill offers a few rising items */
    s->fill_started = true;
    size_t n_tr = 0;
    const uint32_t *tr = mes_model_top(s->m, true, &n_tr);
    for (size_t i = 0; i < n_tr && i < TREND_FILL && !rc; i++)
      rc = fill_one(s, tr[i], true, added);
  }
  size_t n_top = 0;
  const uint32_t *top = mes_model_top(s->m, false, &n_top);
  while (!rc && *added < want && s->pop_pos < n_top)
    rc = fill_one(s, top[s->pop_pos++], false, added);
  return rc;
}

/* ---------------------------------------------------------------- settling */

static int by_weight(const void *a, const void *b) {
  double x = ((const struct rec_contrib *)a)->w, y = ((const struct rec_contrib *)b)->w;
  return x < y ? 1 : x > y ? -1 : 0;
}

void mes__rec_settle(struct rec_state *s, size_t from, size_t to) {
  static const enum mes_reason general[] = {MES_REASON_SIMILAR_TO_CURRENT, MES_REASON_TRENDING, MES_REASON_POPULAR,
                                            MES_REASON_EDITORIAL};
  if (to > s->n_cands)
    to = s->n_cands;
  const char **ids = from < to ? mes_arena_alloc(&s->arena, (to - from) * sizeof *ids) : NULL;
  size_t n_ids = 0;
  for (size_t i = from; ids && i < to; i++)
    if (!s->cands[i].facts.known)
      ids[n_ids++] = s->cands[i].item;
  if (n_ids)
    (void)mes__rec_items_ahead(s, ids, n_ids); /* out of memory: mes__rec_item below says it per item */
  for (size_t i = from; i < to; i++) {
    struct mes_cand *cd = &s->cands[i];
    struct rec_cand_x *x = &s->cx[i];
    qsort(x->contrib, x->n_contrib, sizeof x->contrib[0], by_weight);
    /* The guard's view of the personal parts: one per history item, with
     * the reason that part supports (each history group feeds one). */
    size_t n_hist_parts = 0;
    for (size_t j = 0; j < x->n_contrib; j++)
      n_hist_parts += x->contrib[j].hist >= 0;
    cd->n_contrib = 0;
    cd->contrib = n_hist_parts ? mes_arena_calloc(&s->arena, n_hist_parts * sizeof *cd->contrib) : NULL;
    for (size_t j = 0; cd->contrib && j < x->n_contrib; j++) {
      int32_t h = x->contrib[j].hist;
      if (h < 0)
        continue;
      bool bought = s->hist[h].kind == MES_KIND_PURCHASE;
      cd->contrib[cd->n_contrib++] = (struct mes_contrib){
          .hist = (uint32_t)h,
          /* a purchase of the candidate itself can only be buy again
           * (from_buy_again): the relations never propose history items */
          .reason = !bought ? MES_REASON_BECAUSE_YOU_VIEWED
                    : s->hist[h].midx == x->midx && x->midx >= 0 ? MES_REASON_BUY_AGAIN
                                                                  : MES_REASON_BOUGHT_TOGETHER,
          .amount = x->contrib[j].w,
      };
    }
    double from_hist = x->by_reason[MES_REASON_BOUGHT_TOGETHER] + x->by_reason[MES_REASON_BECAUSE_YOU_VIEWED] +
                       x->by_reason[MES_REASON_BUY_AGAIN];
    double told = x->by_reason[MES_REASON_YOU_TOLD_US];
    cd->from_history = from_hist > 0;
    cd->via_zero_party = told > 0;
    cd->n_based = 0;
    if (cd->n_contrib)
      mes_guard_cite(&s->facts, cd); /* reason and based_on from the history parts */
    if (told > 0 && told >= x->by_reason[cd->n_contrib ? cd->reason : MES_REASON_YOU_TOLD_US])
      cd->reason = MES_REASON_YOU_TOLD_US;
    if (!cd->n_contrib && told <= 0) {
      enum mes_reason best = MES_REASON_EDITORIAL; /* nothing measured it: the catalog's own order */
      double bw = 0;
      for (size_t j = 0; j < sizeof general / sizeof general[0]; j++) {
        if (x->by_reason[general[j]] > bw) {
          bw = x->by_reason[general[j]];
          best = general[j];
        }
      }
      cd->reason = best;
    }
    if (!cd->facts.known) {
      bool oom = false;
      const struct mes_item_facts *f = mes__rec_item(s, cd->item, &oom);
      if (f)
        cd->facts = *f;
    }
  }
}

/* ---------------------------------------------------------------- one item (why) */

int32_t mes__rec_cand_for_item(struct rec_state *s, const char *item, size_t len) {
  bool oom = false;
  int32_t midx = s->m ? mes_model_item(s->m, item, len) : -1;
  if (midx >= 0) {
    int32_t k = mes__rec_cand_of(s, (uint32_t)midx, false, &oom);
    if (k >= 0)
      return k;
    k = mes__rec_cand_of(s, (uint32_t)midx, true, &oom);
    if (k < 0)
      return -1;
    float pop = mes_model_popularity(s->m, (uint32_t)midx), trend = mes_model_trending(s->m, (uint32_t)midx);
    if (trend > pop)
      contribute(s, k, MES_REASON_TRENDING, INT32_MIN, REC_POP_WEIGHT * trend);
    else
      contribute(s, k, MES_REASON_POPULAR, INT32_MIN, REC_POP_WEIGHT * pop);
    return k;
  }
  for (size_t i = 0; i < s->n_cands; i++)
    if (strlen(s->cx[i].item) == len && memcmp(s->cx[i].item, item, len) == 0)
      return (int32_t)i;
  const char *copy = mes_arena_strndup(&s->arena, item, len);
  int32_t k = copy ? new_cand(s, copy, -1, &oom) : -1;
  if (k >= 0)
    contribute(s, k, MES_REASON_EDITORIAL, INT32_MIN, 0);
  return k;
}
