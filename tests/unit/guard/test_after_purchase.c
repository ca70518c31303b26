/*
 * rule after_purchase — the purchased item is never offered again, a
 * `lifecycle: once` category rests for post_purchase_suppression_days after
 * a purchase in it (the wedding dresses a year after the wedding), and
 * substitutes give way to complements (after the stroller: care kit and rain
 * cover, not more strollers). Holds on every path for a known shopper.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define BT MES_REASON_BOUGHT_TOGETHER

static const struct story stories[] = {
    {.title = "Ana bought the city stroller three days ago: it is not offered to her again",
     .channel = MES_CH_WEB,
     .ev = {{"stroller-city", MES_KIND_VIEW, 5}, {"stroller-city", MES_KIND_PURCHASE, 3}},
     .cands = {{"stroller-city", .parts = {{1, BYV, 0.9}}}, {"kettle"}},
     .want = {{"stroller-city", DROPPED}, {"kettle", KEPT}}},
    {.title = "After the stroller, care kit and rain cover first; other strollers give way",
     .channel = MES_CH_WEB,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 3}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}, {"stroller-city", "rain-cover"}},
     .cands = {{"stroller-jogger", .parts = {{1, BT, 0.9}}},
               {"rain-cover", .parts = {{1, BT, 0.5}}},
               {"stroller-care-kit", .parts = {{1, BT, 0.4}}},
               {"stroller-twin"}},
     .want = {{"stroller-jogger", DEMOTED, .reason = WHY(BT), .based = "stroller-city"},
              {"rain-cover", KEPT},
              {"stroller-care-kit", KEPT},
              {"stroller-twin", KEPT}}},
    {.title = "Eight months after the wedding, Sofia sees no wedding dresses, though a veil may do",
     .channel = MES_CH_WEB,
     .ev = {{"dress-lace", MES_KIND_VIEW, 260}, {"dress-ivory", MES_KIND_PURCHASE, 240}},
     .cands = {{"dress-lace"}, {"veil"}},
     .want = {{"dress-lace", DROPPED}, {"veil", KEPT}}},
    {.title = "Past the 365-day window the once category may come back",
     .channel = MES_CH_WEB,
     .ev = {{"dress-ivory", MES_KIND_PURCHASE, 400}},
     .cands = {{"dress-lace"}},
     .want = {{"dress-lace", KEPT}}},
    {.title = "A brand that rests the category for 90 days only",
     .guardrails = "guardrails:\n  post_purchase_suppression_days: 90\n",
     .channel = MES_CH_WEB,
     .ev = {{"dress-ivory", MES_KIND_PURCHASE, 120}},
     .cands = {{"dress-lace"}, {"dress-ivory"}},
     .want = {{"dress-lace", KEPT}, {"dress-ivory", DROPPED}}},
    {.title = "She withdrew personalization: what she bought is still never offered back",
     .channel = MES_CH_WEB,
     .not_personalized = true,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 3}, {"dress-ivory", MES_KIND_PURCHASE, 100}},
     .cands = {{"stroller-city"}, {"dress-lace"}, {"kettle"}},
     .want = {{"stroller-city", DROPPED}, {"dress-lace", DROPPED}, {"kettle", KEPT}}},
    {.title = "Looking is not buying: a viewed stroller and its neighbours stay as they are",
     .channel = MES_CH_WEB,
     .ev = {{"stroller-city", MES_KIND_VIEW, 1}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}},
     .cands = {{"stroller-city"}, {"stroller-jogger", .parts = {{1, BYV, 0.5}}}},
     .want = {{"stroller-city", KEPT}, {"stroller-jogger", KEPT}}},
    {.title = "Coffee beans are bought again and again, but never offered back as if new",
     .channel = MES_CH_APP,
     .ev = {{"coffee-beans", MES_KIND_PURCHASE, 20}},
     .cands = {{"coffee-beans"}, {"coffee-grinder"}},
     .want = {{"coffee-beans", DROPPED}, {"coffee-grinder", KEPT}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_after_purchase);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
