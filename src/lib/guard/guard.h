/*
 * guard — the guardrails (policy `guardrails`), which keep personalization
 * from turning creepy: a pipeline of small independent rules that every
 * candidate passes before it is served. A rule may drop a candidate (with a
 * plain detail for the decision record) or change how it may be shown
 * (disclosure implicit, a non-personal reason).
 *
 * The recommender (src/recommend) gathers the facts of one request once
 * (struct mes_guard_facts: who asks, where, the person's history, purchases,
 * dismissals, impressions, preferences), builds candidates, and calls
 * mes_guard_run. Rules read only those facts, the policy and the model: they
 * never touch the store, so each is unit-tested alone.
 *
 * Adding a rule: one file src/lib/guard/rule_<name>.c defining one
 * `const struct mes_guard_rule mes__rule_<name>`, and one line in rules.c.
 *
 * Thread-safety: rules are pure functions of their arguments.
 */
#ifndef MES_GUARD_H
#define MES_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/htab.h"
#include "ingest/evrec.h"
#include "model/model.h"
#include "policy/policy.h"

#define MES_GUARD_MAX_CATS 8   /* categories kept per item */
#define MES_GUARD_DETAIL 160   /* bytes of a rule's detail sentence */
#define MES_GUARD_MAX_BASED 4  /* history entries a reason may cite */
/* Score of the non-personal fill per unit of popularity: below any real
 * personal signal. A candidate a rule makes impersonal is ranked at it. */
#define MES_GUARD_FILL_WEIGHT 0.1

enum mes_reason {
  MES_REASON_BECAUSE_YOU_VIEWED = 0,
  MES_REASON_BOUGHT_TOGETHER,
  MES_REASON_YOU_TOLD_US,
  MES_REASON_POPULAR,
  MES_REASON_TRENDING,
  MES_REASON_SIMILAR_TO_CURRENT,
  MES_REASON_EDITORIAL,
  /* An item of a `lifecycle: repeat` category that the person bought,
   * offered again from their own purchases of it (the one exception to
   * "what the person bought is never returned", contract §6). */
  MES_REASON_BUY_AGAIN,
  MES_REASON_N
};
const char *mes_reason_code(enum mes_reason r);
/* True for the reasons that cite the person's own data (because_you_viewed,
 * bought_together, you_told_us, buy_again); false for popular, trending,
 * similar_to_current and editorial, which use none. */
bool mes_reason_is_personal(enum mes_reason r);

enum mes_disclosure { MES_DISCLOSE_EXPLICIT = 0, MES_DISCLOSE_IMPLICIT };

/* One event of the person's history as the rules and the scorer see it:
 * the stored event itself (the codec's struct mes_evrec, hot fields only),
 * joined with what this request makes of it: the item's index in the live
 * model and the kind its type has under the policy. */
struct mes_hist {
  const struct mes_evrec *ev; /* borrowed; its item never NULL (searches are not kept here), its type one
                                 the policy declares */
  int32_t midx;               /* model index of ev->item, -1 when unknown to the model */
  enum mes_kind kind;
};

struct mes_impression {
  const char *item; /* borrowed */
  int channel;
  int64_t ts_ms;
};

/* An item's catalog facts, filled by the recommender for each candidate and
 * each history item it needs (see mes_guard_facts.item_info). */
struct mes_item_facts {
  bool known;      /* in the catalog */
  bool available;
  size_t n_cats;
  const char *cats[MES_GUARD_MAX_CATS]; /* category names, borrowed */
  bool sensitive;  /* any category flagged sensitive in the policy */
  bool once;       /* any category with lifecycle: once */
  /* Some category has lifecycle: repeat and none lifecycle: once: the
   * person may be offered it again after buying it, as "buy again". */
  bool repeat;
};

/* How many times each item was shown to the person within the frequency
 * cap's window, counted once per request (mes_guard_shown_count): a request
 * whose candidates the rules keep dropping runs them over several rounds of
 * newcomers, and an active shopper's impressions run to thousands, which
 * the cap would otherwise count again in every round. A base/htab table
 * and the counts, in storage that belongs to whoever built it. */
struct mes_guard_shown {
  struct mes_htab t;                 /* an item's tag -> index + 1 of its first impression in imps */
  const struct mes_impression *imps; /* borrowed: the facts' */
  uint32_t *times;                   /* by the index of an item's first impression; the caller's storage */
};

/* Categories the person declared an interest in themselves: those named in
 * their preferences (interests) and those of the items of their zero-party
 * events. Only sensitive ones are kept (the others need no declaring); any
 * beyond MES_GUARD_MAX_DECLARED count as undeclared, the careful side.
 * Names are borrowed from the facts and the policy. */
#define MES_GUARD_MAX_DECLARED 32
struct mes_guard_declared {
  const char *cat[MES_GUARD_MAX_DECLARED];
  size_t n;
};
/* Everything a rule may know about one request. Pointers are borrowed for
 * the duration of mes_guard_run. */
struct mes_guard_facts {
  const struct mes_policy *policy;
  const struct mes_model *model; /* may be NULL (no model trained yet) */
  int64_t now_ms;
  enum mes_channel channel;
  bool personalized;   /* the answer may use personal data (consent checked) */
  bool known_subject;  /* the subject's events are stored (suppression applies even when !personalized) */
  bool authenticated;  /* context.authenticated (default true) */
  bool device_shared;  /* context.device_shared (default false) */
  /* The person's events, oldest first. Filled whenever known_subject, even
   * when !personalized: suppression (dismissals, purchases) needs them. */
  const struct mes_hist *hist; size_t n_hist;
  const struct mes_impression *imps; size_t n_imps;     /* within the longest window a rule needs */
  /* imps counted (mes_guard_shown_count), or NULL: the frequency cap then
   * counts imps itself on every call. */
  const struct mes_guard_shown *shown;
  const char *const *interests; size_t n_interests;     /* preferences.interests (categories the person named) */
  const char *const *excluded_cats; size_t n_excluded;  /* preferences.exclude_categories */
  /* Catalog facts of an item id (NULL when unknown): lets rules ask about
   * history items, e.g. the category of what was bought. */
  const struct mes_item_facts *(*item_info)(void *ud, const char *item);
  void *item_info_ud;
  /* Neighbours of model item `item` for `rel`, largest weight first (*n of
   * them, borrowed). NULL: the lists of `model` (mes_model_neighbors), or
   * none when model is NULL too. Tests set it to stand in for a model. The
   * after-purchase rules read MES_REL_VIEWED lists: substitutes. */
  const struct mes_nbr *(*neighbors)(const void *ud, enum mes_rel rel, uint32_t item, size_t *n);
  const void *neighbors_ud;
  /* The categories the person declared (mes_guard_declared_init over these
   * facts), computed once per request by whoever builds the facts; NULL:
   * rule_sensitive computes it itself. Borrowed. */
  const struct mes_guard_declared *declared;
};

/* A history entry a reason cites. */
struct mes_based {
  uint32_t hist; /* index into facts->hist */
};

/* One history event's part in a candidate's personal score. The personal
 * score is the sum of the amounts; the guard needs each part to keep reasons
 * faithful when a rule takes some history away (a stale view, third-party
 * data): the part goes, its amount leaves the score, and based_on and the
 * reason are derived again from what remains (mes_guard_cite).
 * The recommender lists one entry per history event that added to the score
 * (or one per item and kind, naming the newest of those events). */
struct mes_contrib {
  uint32_t hist;          /* index into facts->hist */
  enum mes_reason reason; /* the personal reason this part alone supports */
  double amount;          /* > 0: what it added to score */
};

struct mes_cand {
  const char *item;    /* borrowed */
  int32_t midx;        /* model index, -1 when not in the model */
  struct mes_item_facts facts;
  double score;
  enum mes_reason reason;
  struct mes_based based_on[MES_GUARD_MAX_BASED];
  size_t n_based;
  bool from_history;   /* the score used personal data */
  bool via_zero_party; /* the personal signal came from what the person told us (preferences.interests) */
  enum mes_disclosure disclosure;
  /* Every part of the personal score (see struct mes_contrib), largest
   * first. Owned by the caller (per-request scratch); rules remove entries
   * in place (keeping the order) and never add any. NULL when n_contrib is 0. */
  struct mes_contrib *contrib;
  size_t n_contrib;
  /* Set by a rule that lets the candidate stay but after every candidate
   * not demoted (substitutes of a purchase give way to complements): the
   * recommender orders by (demoted, score). Static rule name, else NULL. */
  const char *demoted_by;
  /* The part of score drawn from evidence in a sensitive category the
   * person did not declare (mes_guard_undeclared_sensitive of a history
   * item), whether contrib still lists it or not: the recommender keeps only
   * the largest parts there, and the rest must leave the score all the same
   * where such evidence may not count. 0 when none. */
  double inferred;
  /* Set by a rule that kept the candidate but changed its score, reason or
   * disclosure; the decision record names it for admin and audit keys.
   * Static strings (rule name, plain sentence), else NULL. */
  const char *adjusted_by;
  const char *adjusted_detail;
  /* Set by the rule that dropped it: */
  bool dropped;
  const char *rule;    /* static rule name */
  char detail[MES_GUARD_DETAIL];
};

struct mes_guard_rule {
  const char *name; /* "frequency_cap", ... (stable: it appears in records and metrics) */
  /* Called once per request with the whole array; skips candidates already
   * dropped. Drops a candidate with mes_guard_drop, or changes how it may be
   * shown (disclosure, reason, based_on, contributions, demoted_by). Never
   * allocates per candidate. */
  void (*apply)(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n);
};

/* Derives c->reason and c->based_on from c->contrib (when n_contrib > 0):
 * the reason is buy_again when a part supports it (the item is one the
 * person bought), else the personal reason whose parts add up to the most; based_on
 * cites the largest parts, those supporting that reason first, each history
 * item once, at most MES_GUARD_MAX_BASED. The recommender may call it to
 * build the reason in the first place; rules call it after removing parts. */
void mes_guard_cite(const struct mes_guard_facts *f, struct mes_cand *c);

/* Drops cand on behalf of rule with a printf-style detail (plain, no
 * personal data beyond the item ids involved). */
void mes_guard_drop(struct mes_cand *cand, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void mes_guard_declared_init(const struct mes_guard_facts *f, struct mes_guard_declared *d);

/* The first sensitive category of `it` that is not among d, or NULL: an
 * event on such an item is an inference, not something the person told us,
 * and an item of such a category may only be shown implicitly. One such
 * category is enough, whatever else the item is listed under. */
const char *mes_guard_undeclared_sensitive(const struct mes_guard_facts *f, const struct mes_guard_declared *d,
                                           const struct mes_item_facts *it);

/* Whether the channel pushes a suggestion at the person (email, ads), where
 * an inference may not count at all, rather than showing it on the brand's
 * own surfaces among other items (web, app, store). */
bool mes_guard_channel_pushes(enum mes_channel ch);

/* Bytes of storage (aligned for a uint32_t) for counting n impressions. */
size_t mes_guard_shown_bytes(size_t n_imps);
/* Counts f->imps inside the frequency cap's window into *sh, in `storage`
 * (mes_guard_shown_bytes(f->n_imps) bytes, owned by the caller, which
 * keeps them, and the impressions, alive while sh is used). Point
 * f->shown at sh afterwards. */
void mes_guard_shown_count(const struct mes_guard_facts *f, struct mes_guard_shown *sh, void *storage);
/* How many times item was shown in the window (0: never). */
uint32_t mes_guard_shown_times(const struct mes_guard_shown *sh, const char *item);

/* The rules, in the order they run. */
const struct mes_guard_rule *const *mes_guard_rules(size_t *n);

/* Runs every rule over cands (in place). Dropped candidates stay in the array
 * with dropped=true, rule and detail set. */
void mes_guard_run(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n);

#endif
