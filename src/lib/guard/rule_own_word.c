/*
 * guard/rule_own_word — the person's own word: an item they
 * dismissed is never offered again, and a category they excluded in their
 * preferences (exclude_categories) is never offered, on any channel and
 * whether the answer is personal or not (contract §6: suppression holds on
 * every path). A dismissal holds for good: a later view of the same item
 * does not undo it; the person can withdraw it only by erasing the event.
 */
#include "guard/guard_int.h"

static const char NAME[] = "own_word";

static void apply(const struct mes_guard_facts *f, struct mes_cand *cands, size_t n) {
  if (!mes__guard_knows(f))
    return;
  for (size_t i = 0; i < n; i++) {
    const char *cat;
    if (!cands[i].dropped && f->n_excluded &&
        (cat = mes__guard_cat_in(&cands[i].facts, f->excluded_cats, f->n_excluded)))
      mes_guard_drop(&cands[i], NAME, "The person excluded the category '%s' in their preferences.", cat);
  }
  bool any = false;
  for (size_t i = 0; i < f->n_hist && !any; i++)
    any = f->hist[i].kind == MES_KIND_DISMISS;
  if (!any)
    return;
  struct mes__idx x;
  for (size_t base = 0; base < n; base += MES__IDX_MAX) {
    mes__idx_items(&x, cands, base, n - base);
    for (size_t i = 0; i < f->n_hist; i++) {
      if (f->hist[i].kind != MES_KIND_DISMISS)
        continue;
      size_t pos = 0;
      for (struct mes_htab_slot *s; (s = mes__idx_next_item(&x, f->hist[i].ev->item, &pos));)
        if (!cands[s->val - 1].dropped)
          mes__guard_drop_text(&cands[s->val - 1], NAME, "The person dismissed this item.");
    }
  }
}

const struct mes_guard_rule mes__rule_own_word = {.name = NAME, .apply = apply};
