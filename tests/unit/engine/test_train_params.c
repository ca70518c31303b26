/* engine: the policy's model keys reach the trainer (mes_engine_train_params):
 * what `mesura eval --model served` chooses and a shop writes in mesura.yaml
 * is what the server trains with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "model/model.h"
#include "policy/policy.h"

#define MINIMAL                                                                                                      \
  "site: t\n"                                                                                                        \
  "purposes:\n  personalization: {description: {en: x}}\n"                                                           \
  "event_types:\n  purchase: {purposes: [personalization], retention_days: 100}\n"

static struct mes_policy *load(const char *yaml) {
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  if (mes_policy_load_buf("test.yaml", yaml, strlen(yaml), &p, &err))
    fail_msg("%s", mes_err_text(&err));
  return p;
}

static void test_defaults_are_the_models(void **state) {
  (void)state;
  struct mes_policy *p = load(MINIMAL);
  struct mes_model_params mp, dflt;
  mes_engine_train_params(p, &mp);
  mes_model_params_default(&dflt);
  assert_int_equal(mp.max_neighbors, dflt.max_neighbors);
  assert_true(mp.ease_lambda == dflt.ease_lambda);
  assert_true(mp.relation_half_life_days == dflt.relation_half_life_days);
  assert_memory_equal(mp.kind_weights, dflt.kind_weights, sizeof mp.kind_weights);
  /* The default ladder: a purchase says more than a cart, a click, a view. */
  assert_true(mp.kind_weights[MES_KIND_PURCHASE] > mp.kind_weights[MES_KIND_CART]);
  assert_true(mp.kind_weights[MES_KIND_CART] > mp.kind_weights[MES_KIND_CLICK]);
  assert_true(mp.kind_weights[MES_KIND_CLICK] > mp.kind_weights[MES_KIND_VIEW]);
  mes_policy_free(p);
}

/* model.event_weights reach the trainer, each kind its own; a key left out
 * keeps its default. */
static void test_event_weights_reach_training(void **state) {
  (void)state;
  struct mes_policy *p = load(MINIMAL "model: {event_weights: {view: 0, click: 7, purchase: 30}}\n");
  struct mes_model_params mp;
  mes_engine_train_params(p, &mp);
  assert_true(mp.kind_weights[MES_KIND_VIEW] == 0.0f);
  assert_true(mp.kind_weights[MES_KIND_CLICK] == 7.0f);
  assert_true(mp.kind_weights[MES_KIND_CART] == 4.0f);
  assert_true(mp.kind_weights[MES_KIND_PURCHASE] == 30.0f);
  mes_policy_free(p);
  struct mes_err err = {0};
  const char bad[] = MINIMAL "model: {event_weights: {purchase: 0}}\n";
  assert_int_equal(mes_policy_load_buf("t.yaml", bad, strlen(bad), &p, &err), MES_EBAD_POLICY);
  const char unknown[] = MINIMAL "model: {event_weights: {wishlist: 3}}\n";
  assert_int_equal(mes_policy_load_buf("t.yaml", unknown, strlen(unknown), &p, &err), MES_EBAD_POLICY);
}

static void test_learnt_keys_reach_training(void **state) {
  (void)state;
  struct mes_policy *p =
      load(MINIMAL "model: {kind: ease, relation_half_life_days: 0, ease_lambda: 3000, neighbors: 200}\n");
  struct mes_model_params mp;
  mes_engine_train_params(p, &mp);
  assert_int_equal(mp.kind, MES_MODEL_EASE);
  assert_int_equal(mp.max_neighbors, 200);
  assert_true(mp.ease_lambda == 3000.0);
  assert_true(mp.relation_half_life_days == 0.0);
  mes_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_are_the_models),
      cmocka_unit_test(test_learnt_keys_reach_training),
      cmocka_unit_test(test_event_weights_reach_training),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
