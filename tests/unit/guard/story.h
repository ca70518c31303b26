/*
 * Stories for the guardrail tests: a shopper, their events with timestamps,
 * the request (channel, device, preferences), the candidates the recommender
 * would have produced with the parts of their scores, and what must come out.
 * Each tests/unit/guard/test_<rule>.c is a table of such stories run through
 * its one rule (or, where a story needs it, the whole pipeline).
 *
 * Built by hand, with no store: a small catalog (ITEMS, whose index is the
 * item's model index), a policy loaded from YAML, and a stand-in for the
 * model's viewed-together lists (facts.neighbors).
 *
 * Included by each test file; every function is static, marked unused so
 * that a file using only some of them still compiles warning-free.
 */
#ifndef GUARD_STORY_H
#define GUARD_STORY_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard/guard.h"
#include "guard/guard_int.h"
#include "policy/policy.h"

#define UNUSED __attribute__((unused))

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z: "now" in every story */
#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)

/* The shop. Categories: baby and health are sensitive; wedding-dress is
 * bought once; pantry is bought again and again (buy again). */
#define BASE_POLICY                                                                                                  \
  "purposes:\n"                                                                                                      \
  "  personalization: {description: \"Suggest products\"}\n"                                                         \
  "  ads_retargeting: {gpc: honored, channels: [ads]}\n"                                                             \
  "event_types:\n"                                                                                                   \
  "  view: {purposes: [personalization, ads_retargeting], retention_days: 1100}\n"                                   \
  "  add_to_cart: {purposes: [personalization], retention_days: 180}\n"                                              \
  "  purchase: {purposes: [personalization], retention_days: 730}\n"                                                 \
  "  dismiss: {purposes: [personalization], retention_days: 3650}\n"                                                 \
  "categories:\n"                                                                                                    \
  "  baby: {sensitive: true}\n"                                                                                      \
  "  health: {sensitive: true}\n"                                                                                    \
  "  wedding-dress: {lifecycle: once}\n"                                                                           \
  "  pantry: {lifecycle: repeat}\n"

struct item_def {
  const char *id;
  const char *cats[3];
};

static const struct item_def ITEMS[] = {
    {"stroller-city", {"strollers"}},
    {"stroller-jogger", {"strollers"}},
    {"stroller-twin", {"strollers"}},
    {"rain-cover", {"stroller-accessories"}},
    {"stroller-care-kit", {"stroller-accessories"}},
    {"dress-ivory", {"wedding-dress"}},
    {"dress-lace", {"wedding-dress"}},
    {"veil", {"bridal-accessories"}},
    {"pregnancy-test", {"baby", "health"}},
    {"prenatal-vitamins", {"baby"}},
    {"crib", {"baby"}},
    {"maternity-jeans", {"baby", "clothing"}},
    {"tent-2p", {"camping"}},
    {"tent-4p", {"camping"}},
    {"sleeping-bag", {"camping"}},
    {"camping-stove", {"camping"}},
    {"flight-nyc", {"travel"}},
    {"hotel-nyc", {"travel"}},
    {"mba-brochure", {"education"}},
    {"evening-course", {"education"}},
    {"coffee-beans", {"grocery"}},
    {"coffee-grinder", {"kitchen"}},
    {"birthday-watch", {"watches"}},
    {"watch-strap", {"watches"}},
    {"kettle", {"kitchen"}},
    {"oat-milk", {"pantry"}},
    {"almond-milk", {"pantry"}},
    {"vitamins-refill", {"baby", "pantry"}},
};
#define N_ITEMS (sizeof ITEMS / sizeof ITEMS[0])

static int item_midx(const char *id) {
  for (size_t i = 0; i < N_ITEMS; i++)
    if (strcmp(ITEMS[i].id, id) == 0)
      return (int)i;
  return -1;
}

/* ------------------------------------------------------------------------ */
/* A story                                                                  */

struct st_ev {
  const char *item; /* NULL ends the list */
  enum mes_kind kind;
  double days_ago;
  enum mes_source src; /* first_party unless said */
};

struct st_part {
  int ev; /* 1-based index into the story's events; 0 ends the list */
  enum mes_reason reason;
  double amount;
};

#define WHY(r) ((r) + 1) /* a reason to set or check; 0 = default / not checked */

struct st_cand {
  const char *item;
  double score;          /* 0: the sum of the parts (0.5 for a non-personal candidate) */
  int reason;            /* WHY(r); 0: derived from the parts (popular when there are none) */
  struct st_part parts[6];
  bool cite_only;        /* give based_on from the parts but no contributions (a recommender that only cites) */
  bool told;             /* via_zero_party */
  double inferred;       /* the score's part from inferred sensitive evidence, listed or not (0: none given) */
};

enum outcome { KEPT = 1, DROPPED, DEMOTED };

struct st_want {
  const char *item;
  enum outcome o;
  const char *rule; /* DROPPED: the rule that must be named (NULL: the rule under test) */
  int reason;       /* WHY(r), 0: not checked */
  int disclosure;   /* 1 explicit, 2 implicit, 0: not checked */
  const char *based; /* "a,b" items cited in order, "" nothing, NULL: not checked */
  double score;      /* 0: not checked */
};

#define EXPLICIT 1
#define IMPLICIT 2

struct st_imp {
  const char *item;
  enum mes_channel channel;
  double hours_ago;
};

struct story {
  const char *title;
  const char *guardrails; /* YAML appended to BASE_POLICY ("guardrails:\n  ..."), NULL: defaults */
  enum mes_channel channel;
  bool not_personalized;
  bool unknown_subject;
  bool shared;     /* context.device_shared */
  bool signed_out; /* context.authenticated: false */
  const char *interests[4];
  const char *excluded[4];
  struct st_ev ev[12];
  struct st_imp imps[12];
  struct {
    const char *a, *b;
  } viewed_together[6];
  struct st_cand cands[8];
  struct st_want want[8];
};

/* ------------------------------------------------------------------------ */
/* Building the facts                                                       */

struct world {
  struct mes_policy *policy;
  struct mes_item_facts info[N_ITEMS];
  struct mes_nbr nbrs[N_ITEMS][8];
  size_t n_nbrs[N_ITEMS];
  struct mes_evrec events[12]; /* the stored events the history entries join */
  struct mes_hist hist[12];
  struct mes_impression imps[12];
  uint32_t shown_storage[96]; /* mes_guard_shown_bytes(12) fits */
  struct mes_guard_shown shown;
  struct mes_contrib contrib[8][6];
  struct mes_cand cands[8];
  size_t n_cands;
  struct mes_guard_facts f;
};

static const struct mes_item_facts *world_info(void *ud, const char *item) {
  struct world *w = ud;
  int m = item_midx(item);
  return m < 0 ? NULL : &w->info[m];
}

static const struct mes_nbr *world_nbrs(const void *ud, enum mes_rel rel, uint32_t item, size_t *n) {
  const struct world *w = ud;
  *n = rel == MES_REL_VIEWED && item < N_ITEMS ? w->n_nbrs[item] : 0;
  return *n ? w->nbrs[item] : NULL;
}

static UNUSED struct mes_policy *load_policy(const char *extra) {
  char yaml[2048];
  snprintf(yaml, sizeof yaml, "%s%s", BASE_POLICY, extra ? extra : "");
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  int rc = mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &p, &err);
  if (rc != MES_OK)
    print_error("policy: %s\n", mes_err_text(&err));
  assert_int_equal(rc, MES_OK);
  return p;
}

static void fill_info(const struct mes_policy *p, const struct item_def *d, struct mes_item_facts *it) {
  memset(it, 0, sizeof *it);
  it->known = it->available = true;
  for (size_t k = 0; k < 3 && d->cats[k]; k++) {
    it->cats[it->n_cats++] = d->cats[k];
    int ci = mes_policy_category(p, d->cats[k], strlen(d->cats[k]));
    if (ci >= 0) {
      it->sensitive |= p->categories[ci].sensitive;
      it->once |= p->categories[ci].lifecycle == MES_LIFECYCLE_ONCE;
      it->repeat |= p->categories[ci].lifecycle == MES_LIFECYCLE_REPEAT;
    }
  }
}

static void add_nbr(struct world *w, int a, int b) {
  assert_true(a >= 0 && b >= 0);
  w->nbrs[a][w->n_nbrs[a]++] = (struct mes_nbr){.item = (uint32_t)b, .w = 1.0f};
}

/* Set: the facts carry the impressions counted once (facts.shown), as the
 * recommender hands them; clear: the rules count them themselves. */
static bool story_count_shown;

static UNUSED void world_build(struct world *w, const struct story *s) {
  memset(w, 0, sizeof *w);
  w->policy = load_policy(s->guardrails);
  for (size_t i = 0; i < N_ITEMS; i++)
    fill_info(w->policy, &ITEMS[i], &w->info[i]);
  for (size_t i = 0; i < 6 && s->viewed_together[i].a; i++) {
    add_nbr(w, item_midx(s->viewed_together[i].a), item_midx(s->viewed_together[i].b));
    add_nbr(w, item_midx(s->viewed_together[i].b), item_midx(s->viewed_together[i].a));
  }
  struct mes_guard_facts *f = &w->f;
  f->policy = w->policy;
  f->now_ms = T0_MS;
  f->channel = s->channel;
  f->personalized = !s->not_personalized;
  f->known_subject = !s->unknown_subject;
  f->authenticated = !s->signed_out;
  f->device_shared = s->shared;
  size_t n = 0;
  for (; n < 12 && s->ev[n].item; n++) {
    w->events[n] = (struct mes_evrec){.id = (int64_t)n + 1,
                                      .item = s->ev[n].item,
                                      .item_len = strlen(s->ev[n].item),
                                      .ts_ms = T0_MS - (int64_t)(s->ev[n].days_ago * DAY_MS),
                                      .source = s->ev[n].src,
                                      .channel = MES_CH_WEB};
    w->hist[n] = (struct mes_hist){.ev = &w->events[n], .midx = item_midx(s->ev[n].item), .kind = s->ev[n].kind};
  }
  f->hist = w->hist;
  f->n_hist = n;
  for (n = 0; n < 12 && s->imps[n].item; n++)
    w->imps[n] = (struct mes_impression){.item = s->imps[n].item,
                                         .channel = (int)s->imps[n].channel,
                                         .ts_ms = T0_MS - (int64_t)(s->imps[n].hours_ago * HOUR_MS)};
  f->imps = w->imps;
  f->n_imps = n;
  if (story_count_shown) {
    assert_true(mes_guard_shown_bytes(n) <= sizeof w->shown_storage);
    mes_guard_shown_count(f, &w->shown, w->shown_storage);
    f->shown = &w->shown;
  }
  for (n = 0; n < 4 && s->interests[n]; n++)
    ;
  f->interests = s->interests;
  f->n_interests = n;
  for (n = 0; n < 4 && s->excluded[n]; n++)
    ;
  f->excluded_cats = s->excluded;
  f->n_excluded = n;
  f->item_info = world_info;
  f->item_info_ud = w;
  f->neighbors = world_nbrs;
  f->neighbors_ud = w;

  for (w->n_cands = 0; w->n_cands < 8 && s->cands[w->n_cands].item; w->n_cands++) {
    const struct st_cand *sc = &s->cands[w->n_cands];
    struct mes_cand *c = &w->cands[w->n_cands];
    struct mes_contrib *parts = w->contrib[w->n_cands];
    memset(c, 0, sizeof *c);
    c->item = sc->item;
    c->midx = item_midx(sc->item);
    if (c->midx >= 0)
      c->facts = w->info[c->midx];
    size_t np = 0;
    double sum = 0;
    for (; np < 6 && sc->parts[np].ev; np++) {
      assert_true((size_t)sc->parts[np].ev <= f->n_hist);
      parts[np] = (struct mes_contrib){.hist = (uint32_t)sc->parts[np].ev - 1,
                                       .reason = sc->parts[np].reason,
                                       .amount = sc->parts[np].amount};
      sum += sc->parts[np].amount;
    }
    for (size_t i = 1; i < np; i++) /* largest first, as the recommender lists them */
      for (size_t j = i; j > 0 && parts[j].amount > parts[j - 1].amount; j--) {
        struct mes_contrib t = parts[j];
        parts[j] = parts[j - 1];
        parts[j - 1] = t;
      }
    c->score = sc->score != 0 ? sc->score : np ? sum : 0.5;
    c->reason = MES_REASON_POPULAR;
    c->from_history = np > 0;
    c->via_zero_party = sc->told;
    c->inferred = sc->inferred;
    c->contrib = np ? parts : NULL;
    c->n_contrib = np;
    if (np)
      mes_guard_cite(f, c);
    if (sc->cite_only)
      c->n_contrib = 0, c->contrib = NULL;
    if (sc->reason)
      c->reason = (enum mes_reason)(sc->reason - 1);
  }
}

static UNUSED void world_free(struct world *w) { mes_policy_free(w->policy); }

/* ------------------------------------------------------------------------ */
/* Checking                                                                 */

static UNUSED struct mes_cand *world_cand(struct world *w, const char *item) {
  for (size_t i = 0; i < w->n_cands; i++)
    if (strcmp(w->cands[i].item, item) == 0)
      return &w->cands[i];
  return NULL;
}

static void cited_list(const struct world *w, const struct mes_cand *c, char *out, size_t cap) {
  size_t at = 0;
  out[0] = '\0';
  for (size_t k = 0; k < c->n_based && at < cap; k++) {
    int n = snprintf(out + at, cap - at, "%s%s", k ? "," : "", w->hist[c->based_on[k].hist].ev->item);
    if (n < 0)
      break;
    at += (size_t)n;
  }
}

/* Checks one story's outcome; prints every mismatch; returns how many. */
static int story_check(const struct story *s, struct world *w, const char *rule_name) {
  int bad = 0;
  for (size_t i = 0; i < 8 && s->want[i].item; i++) {
    const struct st_want *want = &s->want[i];
    struct mes_cand *c = world_cand(w, want->item);
    if (!c) {
      print_error("[%s] no candidate '%s' in the story\n", s->title, want->item);
      bad++;
      continue;
    }
    const char *expect_rule = want->rule ? want->rule : rule_name;
    if (want->o == DROPPED) {
      size_t dl = strlen(c->detail);
      if (!c->dropped || !c->rule || strcmp(c->rule, expect_rule) != 0 || dl == 0 || c->detail[dl - 1] != '.') {
        print_error("[%s] '%s' should be dropped by %s; dropped=%d rule=%s detail=\"%s\"\n", s->title, c->item,
                    expect_rule, c->dropped, c->rule ? c->rule : "-", c->detail);
        bad++;
      }
      continue;
    }
    if (c->dropped) {
      print_error("[%s] '%s' should stay, but %s dropped it: %s\n", s->title, c->item, c->rule, c->detail);
      bad++;
      continue;
    }
    if ((want->o == DEMOTED) != (c->demoted_by != NULL)) {
      print_error("[%s] '%s' should %sbe demoted (demoted_by=%s)\n", s->title, c->item,
                  want->o == DEMOTED ? "" : "not ", c->demoted_by ? c->demoted_by : "-");
      bad++;
    }
    if (want->reason && (int)c->reason != want->reason - 1) {
      print_error("[%s] '%s' reason %s, wanted %s\n", s->title, c->item, mes_reason_code(c->reason),
                  mes_reason_code((enum mes_reason)(want->reason - 1)));
      bad++;
    }
    if (want->disclosure && (int)c->disclosure != want->disclosure - 1) {
      print_error("[%s] '%s' disclosure %s, wanted %s\n", s->title, c->item,
                  c->disclosure == MES_DISCLOSE_IMPLICIT ? "implicit" : "explicit",
                  want->disclosure == IMPLICIT ? "implicit" : "explicit");
      bad++;
    }
    char cited[256];
    cited_list(w, c, cited, sizeof cited);
    if (want->based && strcmp(cited, want->based) != 0) {
      print_error("[%s] '%s' based_on \"%s\", wanted \"%s\"\n", s->title, c->item, cited, want->based);
      bad++;
    }
    if (want->score != 0 && fabs(c->score - want->score) > 1e-9) {
      print_error("[%s] '%s' score %g, wanted %g\n", s->title, c->item, c->score, want->score);
      bad++;
    }
  }
  return bad;
}

/* Runs every story through `rule` (NULL: the whole pipeline, where each
 * expected drop names its rule) and fails the test if any story fails. */
static UNUSED void run_stories(const struct story *stories, size_t n, const struct mes_guard_rule *rule) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    struct world *w = malloc(sizeof *w);
    assert_non_null(w);
    world_build(w, &stories[i]);
    if (rule)
      rule->apply(&w->f, w->cands, w->n_cands);
    else
      mes_guard_run(&w->f, w->cands, w->n_cands);
    bad += story_check(&stories[i], w, rule ? rule->name : "?");
    world_free(w);
    free(w);
  }
  assert_int_equal(bad, 0); /* every mismatch is printed above */
}

#endif
