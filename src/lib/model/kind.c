/*
 * model/kind — what an event type means to the model, and how much each kind
 * of event weighs in a personal score.
 */
#include <string.h>

#include "model/model_int.h"

static const char *const kind_names[MES_KIND_N] = {
    [MES_KIND_VIEW] = "view",         [MES_KIND_CLICK] = "click",   [MES_KIND_CART] = "add_to_cart",
    [MES_KIND_PURCHASE] = "purchase", [MES_KIND_SEARCH] = "search", [MES_KIND_DISMISS] = "dismiss",
    [MES_KIND_OTHER] = "other",
};

enum mes_kind mes_kind_of(const char *event_type_name) {
  if (!event_type_name)
    return MES_KIND_OTHER;
  for (int k = 0; k < MES_KIND_OTHER; k++)
    if (strcmp(kind_names[k], event_type_name) == 0)
      return (enum mes_kind)k;
  return MES_KIND_OTHER;
}

/*
 * Weights of a history item in a personal score, by the kind of the event
 * that put it there: a purchase says more than putting it in the cart, which
 * says more than a click, which says more than a view. Search and dismiss
 * weigh nothing (a search names no item; a dismissal is a "no", handled by
 * suppression, never a reason to recommend more of it). Types the policy
 * declares beyond the contract's six (MES_KIND_OTHER) weigh nothing either:
 * mesura cannot know whether "return" or "wishlist" is a yes or a no.
 *
 * Values: the offline datasets of shared/data carry one interaction type
 * only (shared/data/README.md: "no dataset here with several behaviour
 * types"), so these ratios could not be chosen on a validation split; they
 * are the usual implicit-feedback confidence ladder (view 1, click 2,
 * cart 4, purchase 8: each step doubles) and are carried in every model, so
 * that a later model with learnt weights changes nothing else.
 */
void mes__kind_weights_default(float w[MES_KIND_N]) {
  static const float d[MES_KIND_N] = {
      [MES_KIND_VIEW] = 1.0f,     [MES_KIND_CLICK] = 2.0f,  [MES_KIND_CART] = 4.0f,
      [MES_KIND_PURCHASE] = 8.0f, [MES_KIND_SEARCH] = 0.0f, [MES_KIND_DISMISS] = 0.0f,
      [MES_KIND_OTHER] = 0.0f,
  };
  memcpy(w, d, sizeof d);
}

float mes_model_kind_weight(const struct mes_model *m, enum mes_kind k) {
  if (!m || (int)k < 0 || k >= MES_KIND_N)
    return 0.0f;
  return m->kw[k];
}
