/*
 * The guard as a whole: reason names, the rule list, citing (reason and
 * based_on from a candidate's contributions) and one page for one shopper
 * through every rule, where each removed candidate names the rule that
 * removed it.
 */
#include <jansson.h>

#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define BT MES_REASON_BOUGHT_TOGETHER
#define TOLD MES_REASON_YOU_TOLD_US
#define POP MES_REASON_POPULAR

static void test_reason_codes(void **state) {
  (void)state;
  const char *want[MES_REASON_N] = {"because_you_viewed", "bought_together", "you_told_us", "popular",
                                    "trending", "similar_to_current", "editorial", "buy_again"};
  for (int r = 0; r < MES_REASON_N; r++) {
    assert_string_equal(mes_reason_code((enum mes_reason)r), want[r]);
    assert_int_equal(mes_reason_is_personal((enum mes_reason)r),
                     r <= MES_REASON_YOU_TOLD_US || r == MES_REASON_BUY_AGAIN);
  }
  assert_string_equal(mes_reason_code(MES_REASON_N), "?");
}

static void test_rule_list(void **state) {
  (void)state;
  size_t n;
  const struct mes_guard_rule *const *rules = mes_guard_rules(&n);
  const char *order[] = {"own_word",      "after_purchase", "cross_channel", "frequency_cap",
                         "shared_device", "provenance",     "retargeting",   "sensitive"};
  assert_int_equal(n, sizeof order / sizeof order[0]);
  for (size_t i = 0; i < n; i++) {
    assert_non_null(rules[i]->apply);
    assert_string_equal(rules[i]->name, order[i]);
  }
}

/* Citing: the heaviest reason wins even when its parts are each smaller;
 * based_on puts its parts first, names each item once, holds at most
 * MES_GUARD_MAX_BASED. */
static void test_cite(void **state) {
  (void)state;
  /* Items the model knows compare by index; tent-4p's second view is not. */
  const struct mes_evrec ev[] = {
      {.item = "tent-4p"}, {.item = "tent-4p"}, {.item = "tent-2p"},   {.item = "camping-stove"},
      {.item = "kettle"},  {.item = "flight-nyc"}, {.item = "hotel-nyc"},
  };
  struct mes_hist hist[] = {
      {.ev = &ev[0], .midx = 4, .kind = MES_KIND_VIEW},     {.ev = &ev[1], .midx = -1, .kind = MES_KIND_VIEW},
      {.ev = &ev[2], .midx = 2, .kind = MES_KIND_PURCHASE}, {.ev = &ev[3], .midx = 3, .kind = MES_KIND_PURCHASE},
      {.ev = &ev[4], .midx = -1, .kind = MES_KIND_PURCHASE}, {.ev = &ev[5], .midx = 6, .kind = MES_KIND_VIEW},
      {.ev = &ev[6], .midx = 7, .kind = MES_KIND_VIEW},
  };
  struct mes_guard_facts f = {.hist = hist, .n_hist = 7};
  struct mes_contrib parts[] = {
      {0, BYV, 0.5}, {2, BT, 0.3}, {3, BT, 0.3}, {1, BYV, 0.2}, {4, BT, 0.2}, {5, BYV, 0.05}, {6, BYV, 0.01},
  };
  struct mes_cand c = {.item = "sleeping-bag", .contrib = parts, .n_contrib = 7, .reason = POP};
  mes_guard_cite(&f, &c);
  assert_int_equal(c.reason, BT); /* 0.8 bought together against 0.76 viewed */
  assert_int_equal(c.n_based, MES_GUARD_MAX_BASED);
  const char *want[] = {"tent-2p", "camping-stove", "kettle", "tent-4p"};
  for (size_t k = 0; k < MES_GUARD_MAX_BASED; k++)
    assert_string_equal(hist[c.based_on[k].hist].ev->item, want[k]);

  /* Nothing to cite from: the candidate is left as it was. */
  struct mes_cand d = {.item = "kettle", .reason = TOLD};
  mes_guard_cite(&f, &d);
  assert_int_equal(d.reason, TOLD);
  assert_int_equal(d.n_based, 0);
}

/* One page for Ana, two weeks after she bought the city stroller. */
static const struct story page[] = {
    {.title = "Ana's home page two weeks after the stroller",
     .channel = MES_CH_WEB,
     .ev = {{"stroller-city", MES_KIND_VIEW, 20},
            {"stroller-city", MES_KIND_PURCHASE, 14},
            {"crib", MES_KIND_VIEW, 2},
            {"kettle", MES_KIND_DISMISS, 30},
            {"tent-2p", MES_KIND_VIEW, 3, MES_SRC_THIRD}},
     .imps = {{"rain-cover", MES_CH_WEB, 40}, {"rain-cover", MES_CH_EMAIL, 30}, {"rain-cover", MES_CH_APP, 2}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}, {"stroller-city", "rain-cover"}},
     .cands = {{"stroller-city", .parts = {{1, BYV, 0.9}}},
               {"stroller-jogger", .parts = {{1, BYV, 0.5}, {2, BT, 0.3}}},
               {"rain-cover", .parts = {{2, BT, 0.6}}},
               {"kettle"},
               {"pregnancy-test", .parts = {{3, BYV, 0.4}}},
               {"sleeping-bag", .parts = {{5, BYV, 0.6}}},
               {"stroller-care-kit", .parts = {{2, BT, 0.4}}}},
     .want = {{"stroller-city", DROPPED, "after_purchase"},
              {"stroller-jogger", DEMOTED, .reason = WHY(BT), .based = "stroller-city", .score = 0.3},
              {"rain-cover", DROPPED, "frequency_cap"},
              {"kettle", DROPPED, "own_word"},
              {"pregnancy-test", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = ""},
              {"sleeping-bag", DROPPED, "provenance"},
              {"stroller-care-kit", KEPT, .reason = WHY(BT), .disclosure = EXPLICIT, .based = "stroller-city"}}},
    {.title = "The same shopper on the family laptop, by email the week after",
     .channel = MES_CH_EMAIL,
     .shared = true,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 7}, {"crib", MES_KIND_VIEW, 2}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}},
     .cands = {{"stroller-jogger"}, {"pregnancy-test"}, {"stroller-care-kit", .parts = {{1, BT, 0.4}}}, {"kettle"}},
     .want = {{"stroller-jogger", DROPPED, "cross_channel"},
              {"pregnancy-test", DROPPED, "shared_device"},
              {"stroller-care-kit", DROPPED, "shared_device"},
              {"kettle", KEPT}}},
};

/* A detail naming long non-ASCII ids is cut to fit, never inside a
 * character: the decision record that carries it is JSON. */
static void test_drop_detail_stays_utf8(void **state) {
  (void)state;
  char id[256] = "";
  for (int i = 0; i < 90; i++)
    strcat(id, "ż"); /* 2 bytes each: 180 bytes, more than a detail holds */
  for (size_t shift = 0; shift < 4; shift++) {
    struct mes_cand c = {.item = id};
    mes_guard_drop(&c, "own_word", "%.*sThe person dismissed '%s'.", (int)shift, "xxx", id);
    assert_true(c.dropped);
    size_t len = strlen(c.detail);
    assert_true(len < MES_GUARD_DETAIL);
    json_t *v = json_string(c.detail); /* NULL when not valid UTF-8 */
    if (!v)
      fail_msg("detail cut inside a character (shift %zu, %zu bytes)", shift, len);
    json_decref(v);
  }
}

static void test_page(void **state) {
  (void)state;
  run_stories(page, sizeof page / sizeof page[0], NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reason_codes),
      cmocka_unit_test(test_rule_list),
      cmocka_unit_test(test_cite),
      cmocka_unit_test(test_drop_detail_stays_utf8),
      cmocka_unit_test(test_page),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
