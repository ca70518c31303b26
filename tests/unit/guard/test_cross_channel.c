/*
 * rule cross_channel — with cross_channel_after_purchase: false, ads and
 * email never show the bought item, its substitutes or (within the window)
 * its once category, personal answer or not. The brand's own pages are left
 * to after_purchase, which only demotes substitutes.
 */
#include "story.h"

#define BT MES_REASON_BOUGHT_TOGETHER

static const struct story stories[] = {
    {.title = "Ana bought the city stroller on the web: the next email does not chase her with strollers",
     .channel = MES_CH_EMAIL,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 5}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}, {"stroller-city", "rain-cover"}},
     .cands = {{"stroller-city"},
               {"stroller-jogger", .parts = {{1, BT, 0.8}}},
               {"rain-cover", .parts = {{1, BT, 0.6}}},
               {"stroller-care-kit", .parts = {{1, BT, 0.5}}}},
     .want = {{"stroller-city", DROPPED},
              {"stroller-jogger", DROPPED},
              {"rain-cover", KEPT},
              {"stroller-care-kit", KEPT}}},
    {.title = "A month after the wedding, ads elsewhere show no dresses",
     .channel = MES_CH_ADS,
     .ev = {{"dress-ivory", MES_KIND_PURCHASE, 30}},
     .cands = {{"dress-lace"}, {"veil"}},
     .want = {{"dress-lace", DROPPED}, {"veil", KEPT}}},
    {.title = "On the brand's own site this rule stays out of the way",
     .channel = MES_CH_WEB,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 5}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}},
     .cands = {{"stroller-city"}, {"stroller-jogger", .parts = {{1, BT, 0.8}}}},
     .want = {{"stroller-city", KEPT}, {"stroller-jogger", KEPT}}},
    {.title = "A brand that allows follow-ups on every channel",
     .guardrails = "guardrails:\n  cross_channel_after_purchase: true\n",
     .channel = MES_CH_EMAIL,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 5}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}},
     .cands = {{"stroller-jogger", .parts = {{1, BT, 0.8}}}},
     .want = {{"stroller-jogger", KEPT}}},
    {.title = "A non-personal newsletter to a buyer still leaves out her stroller and its look-alikes",
     .channel = MES_CH_EMAIL,
     .not_personalized = true,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 5}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}},
     .cands = {{"stroller-city"}, {"stroller-jogger"}, {"kettle"}},
     .want = {{"stroller-city", DROPPED}, {"stroller-jogger", DROPPED}, {"kettle", KEPT}}},
    {.title = "Two years after the wedding the window has passed, even on ads",
     .channel = MES_CH_ADS,
     .ev = {{"dress-ivory", MES_KIND_PURCHASE, 700}},
     .cands = {{"dress-lace"}},
     .want = {{"dress-lace", KEPT}}},
};

/* The whole pipeline: the bought stroller is after_purchase's, its
 * look-alike on email is cross_channel's. */
static const struct story pipeline[] = {
    {.title = "Email after the stroller, through every rule",
     .channel = MES_CH_EMAIL,
     .ev = {{"stroller-city", MES_KIND_PURCHASE, 5}},
     .viewed_together = {{"stroller-city", "stroller-jogger"}},
     .cands = {{"stroller-city"}, {"stroller-jogger", .parts = {{1, BT, 0.8}}}, {"stroller-care-kit"}},
     .want = {{"stroller-city", DROPPED, "after_purchase"},
              {"stroller-jogger", DROPPED, "cross_channel"},
              {"stroller-care-kit", KEPT}}},
    {.title = "Oat milk to buy again is a purchase followed up: kept off email by default",
     .channel = MES_CH_EMAIL,
     .ev = {{"oat-milk", MES_KIND_PURCHASE, 8}},
     .cands = {{"oat-milk", .parts = {{1, MES_REASON_BUY_AGAIN, 1.0}}}, {"kettle"}},
     .want = {{"oat-milk", DROPPED, "cross_channel"}, {"kettle", KEPT}}},
    {.title = "A brand that lets purchases be followed up sends the buy-again reminder on ads",
     .guardrails = "guardrails:\n  cross_channel_after_purchase: true\n",
     .channel = MES_CH_ADS,
     .ev = {{"oat-milk", MES_KIND_PURCHASE, 8}},
     .cands = {{"oat-milk", .parts = {{1, MES_REASON_BUY_AGAIN, 1.0}}}},
     .want = {{"oat-milk", KEPT, .reason = WHY(MES_REASON_BUY_AGAIN), .disclosure = EXPLICIT, .based = "oat-milk"}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_cross_channel);
  run_stories(pipeline, sizeof pipeline / sizeof pipeline[0], NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
