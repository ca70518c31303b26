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
 * The weights are the policy's model.event_weights (mes_model_params
 * kind_weights), carried in every model so that the history is read with
 * the weights the model learnt with. The defaults below: the offline
 * datasets of shared/data carry one interaction type only
 * (shared/data/README.md: "no dataset here with several behaviour types"),
 * so no validation split can choose them yet; they are the usual
 * implicit-feedback confidence ladder (view 1, click 2, cart 4, purchase 8:
 * each step doubles).
 */
void mes__kind_weights_default(float w[MES_KIND_N]) {
  static const float d[MES_KIND_N] = {
      [MES_KIND_VIEW] = 1.0f,     [MES_KIND_CLICK] = 2.0f,  [MES_KIND_CART] = 4.0f,
      [MES_KIND_PURCHASE] = 8.0f, [MES_KIND_SEARCH] = 0.0f, [MES_KIND_DISMISS] = 0.0f,
      [MES_KIND_OTHER] = 0.0f,
  };
  memcpy(w, d, sizeof d);
}

void mes__kind_weights_from(const struct mes_model_params *p, float w[MES_KIND_N]) {
  float d[MES_KIND_N];
  mes__kind_weights_default(d);
  for (int k = 0; k < MES_KIND_N; k++) {
    float v = p->kind_weights[k];
    bool counts = k == MES_KIND_VIEW || k == MES_KIND_CLICK || k == MES_KIND_CART || k == MES_KIND_PURCHASE;
    w[k] = !counts ? 0.0f : (v >= 0.0f && v < 1e6f) ? v : d[k]; /* the blob refuses anything else on load */
  }
}

float mes_model_kind_weight(const struct mes_model *m, enum mes_kind k) {
  if (!m || (int)k < 0 || k >= MES_KIND_N)
    return 0.0f;
  return m->kw[k];
}
