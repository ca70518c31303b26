/*
 * guard_int — private to src/lib/guard/ (and its unit tests): the rule objects,
 * and the few helpers several rules share so that each rule file reads as
 * its one job.
 *
 * Speed: rules run on every request over a few hundred candidates, so no
 * helper allocates. Lookups of a candidate by item (impressions, dismissals,
 * purchases, a purchase's substitutes) go through a fixed-size hash index on
 * the stack; a rule indexes the candidates in chunks of MES__IDX_MAX, which
 * keeps the cost linear without a heap fallback that could fail.
 */
#ifndef MES_GUARD_INT_H
#define MES_GUARD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard/guard.h"

/* The rules (one file each), listed in order in rules.c. */
extern const struct mes_guard_rule mes__rule_own_word;
extern const struct mes_guard_rule mes__rule_after_purchase;
extern const struct mes_guard_rule mes__rule_cross_channel;
extern const struct mes_guard_rule mes__rule_frequency_cap;
extern const struct mes_guard_rule mes__rule_shared_device;
extern const struct mes_guard_rule mes__rule_provenance;
extern const struct mes_guard_rule mes__rule_retargeting;
extern const struct mes_guard_rule mes__rule_sensitive;

#define MS_PER_HOUR (3600LL * 1000)
#define MS_PER_DAY (24 * MS_PER_HOUR)

/* Suppression reads the person's own facts (dismissals, exclusions,
 * purchases, impressions) on every path, personal or not, as long as the
 * subject is known (contract §6, "Suppression holds on every path"). */
static inline bool mes__guard_knows(const struct mes_guard_facts *f) {
  return f->known_subject || f->personalized;
}

/* ------------------------------------------------------------------------ */
/* Candidate index: item id (or model index) -> candidate                   */

#define MES__IDX_SLOTS 1024 /* 8 KiB: lives on the stack */
#define MES__IDX_MAX (MES__IDX_SLOTS / 2) /* candidates per chunk: load factor <= 1/2 */

/* Indexes cands[base .. base+n) (n <= MES__IDX_MAX) that are not dropped,
 * by item id or by model index (candidates with midx < 0 are left out).
 * Candidates are expected to name distinct items; a repeated item is
 * indexed once per candidate and found through mes__idx_next_item or
 * mes__idx_next_midx. A slot's val is the candidate's index + 1. */
struct mes__idx {
  const struct mes_cand *cands; /* borrowed: the whole array */
  bool by_midx;
  uint32_t tag; /* of the item mes__idx_next_item walks */
  struct mes_htab t; /* model index, or the item's tag -> candidate index + 1 */
  struct mes_htab_slot slot[MES__IDX_SLOTS];
};

/* Start of the frequency cap's window: impressions before it do not count. */
int64_t mes__guard_cap_since(const struct mes_guard_facts *f);

void mes__idx_items(struct mes__idx *x, const struct mes_cand *cands, size_t base, size_t n);
void mes__idx_midx(struct mes__idx *x, const struct mes_cand *cands, size_t base, size_t n);

/* Walks the candidates of item id `item` (or model index `midx`): start with
 * *pos = 0 and call until it returns NULL, with the same item. */
struct mes_htab_slot *mes__idx_next_item(struct mes__idx *x, const char *item, size_t *pos);
struct mes_htab_slot *mes__idx_next_midx(struct mes__idx *x, int32_t midx, size_t *pos);

/* ------------------------------------------------------------------------ */
/* Shared facts                                                             */

/* f->item_info(item), NULL-safe (no callback, or an unknown item). */
const struct mes_item_facts *mes__guard_info(const struct mes_guard_facts *f, const char *item);

/* Neighbours through f->neighbors, else f->model; *n = 0 when neither. */
const struct mes_nbr *mes__guard_nbrs(const struct mes_guard_facts *f, enum mes_rel rel, uint32_t item, size_t *n);

/* The first category both a and b name, or NULL. */
const char *mes__guard_shared_cat(const struct mes_item_facts *a, const struct mes_item_facts *b);
/* The first category of a that is among names[0..n), or NULL. */
const char *mes__guard_cat_in(const struct mes_item_facts *a, const char *const *names, size_t n);

/* `lifecycle: once` categories the person bought in within the policy's
 * post_purchase_suppression_days (contract §10), deduplicated. Category
 * names are borrowed from the policy. */
#define MES__MAX_ONCE 32
struct mes__once {
  const char *cat[MES__MAX_ONCE];
  size_t n;
};
void mes__guard_once_bought(const struct mes_guard_facts *f, struct mes__once *out);

/* Calls act(cand, bought) for every candidate still standing that is a
 * substitute of something the person bought: a MES_REL_VIEWED neighbour of
 * a purchased item in the model (people who look at one look at the other)
 * that shares a category with it (a tent next to a tent, not the sleeping
 * bag next to it). `bought` is the purchase event. */
void mes__guard_each_substitute(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n,
                                void (*act)(struct mes_cand *c, const struct mes_hist *bought, void *ud), void *ud);

/* Calls act(cand, bought) for every candidate still standing whose item the
 * person bought (a purchase event in f->hist). */
void mes__guard_each_bought(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n,
                            void (*act)(struct mes_cand *c, const struct mes_hist *bought, void *ud), void *ud);

/* Takes away the history parts of c for which gone(f, h, ud) is true: its
 * contributions (their amounts leave c->score when `rescore`; otherwise the
 * data may still rank but is no longer cited) and, for a candidate that
 * lists no contributions, its based_on entries. Reason and based_on are
 * derived again from the remaining parts (mes_guard_cite). Returns how many
 * parts were taken; *left gets how many citable parts remain. */
size_t mes__guard_strip(const struct mes_guard_facts *f, struct mes_cand *c,
                        bool (*gone)(const struct mes_guard_facts *f, const struct mes_hist *h, const void *ud),
                        const void *ud, bool rescore, size_t *left);

/* mes_guard_drop with a detail already written (no formatting): rules that
 * drop many candidates for the same reason format the sentence once. */
void mes__guard_drop_text(struct mes_cand *cand, const char *rule, const char *detail);

/* Turns c into a non-personal suggestion: reason popular, disclosure
 * implicit, nothing cited, no contributions, and ranked where the
 * non-personal fill would put it (MES_GUARD_FILL_WEIGHT x popularity). */
void mes__guard_impersonal(const struct mes_guard_facts *f, struct mes_cand *c);

/* True when c draws on the person's data: it used history, cites some, or
 * gives a personal reason. */
bool mes__guard_is_personal(const struct mes_cand *c);

#endif
