/*
 * rule retargeting — what was viewed but not bought stops driving
 * recommendations after retargeting_window_days (default 14): the flights to
 * New York weeks after the trip, the business-school programme three years
 * on. Reasons stay faithful: only fresh parts are counted and cited.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define BT MES_REASON_BOUGHT_TOGETHER

static const struct story stories[] = {
    {.title = "Weeks after the New York trip, the flight Lucia looked at no longer brings hotels",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 30}},
     .cands = {{"hotel-nyc", .parts = {{1, BYV, 0.8}}}, {"kettle"}},
     .want = {{"hotel-nyc", DROPPED}, {"kettle", KEPT, .score = 0.5}}},
    {.title = "Three years after the business-school brochure, no evening courses",
     .channel = MES_CH_EMAIL,
     .ev = {{"mba-brochure", MES_KIND_VIEW, 1095}, {"mba-brochure", MES_KIND_CART, 1090}},
     .cands = {{"evening-course", .parts = {{1, BYV, 0.9}, {2, BYV, 0.4}}}},
     .want = {{"evening-course", DROPPED}}},
    {.title = "An old view and a fresh one: only the fresh one counts and is cited",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 30}, {"tent-2p", MES_KIND_VIEW, 2}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.5}, {2, BYV, 0.3}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BYV), .based = "tent-2p", .score = 0.3}}},
    {.title = "The reason follows what is left: the stale view weighed most, the purchase remains",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 20}, {"tent-2p", MES_KIND_PURCHASE, 40}},
     .cands = {{"camping-stove", .parts = {{1, BYV, 0.6}, {2, BT, 0.2}}}},
     .want = {{"camping-stove", KEPT, .reason = WHY(BT), .based = "tent-2p", .score = 0.2}}},
    {.title = "A purchase never goes stale here: the tent bought two months ago still brings a sleeping bag",
     .channel = MES_CH_APP,
     .ev = {{"tent-2p", MES_KIND_PURCHASE, 60}},
     .cands = {{"sleeping-bag", .parts = {{1, BT, 0.7}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BT), .based = "tent-2p", .score = 0.7}}},
    {.title = "Viewed long ago and again yesterday: yesterday's view still counts",
     .channel = MES_CH_WEB,
     .ev = {{"tent-4p", MES_KIND_VIEW, 40}, {"tent-4p", MES_KIND_VIEW, 1}},
     .cands = {{"tent-2p", .parts = {{1, BYV, 0.4}, {2, BYV, 0.25}}}},
     .want = {{"tent-2p", KEPT, .based = "tent-4p", .score = 0.25}}},
    {.title = "A brand with a 60-day window keeps a month-old view",
     .guardrails = "guardrails:\n  retargeting_window_days: 60\n",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 30}},
     .cands = {{"hotel-nyc", .parts = {{1, BYV, 0.8}}}},
     .want = {{"hotel-nyc", KEPT, .based = "flight-nyc", .score = 0.8}}},
    {.title = "A recommender that only cites (no contributions): a stale citation alone is dropped",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 30}, {"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"hotel-nyc", .parts = {{1, BYV, 0.8}}, .cite_only = true},
               {"sleeping-bag", .parts = {{1, BYV, 0.5}, {2, BYV, 0.4}}, .cite_only = true}},
     .want = {{"hotel-nyc", DROPPED}, {"sleeping-bag", KEPT, .based = "tent-2p"}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_retargeting);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
