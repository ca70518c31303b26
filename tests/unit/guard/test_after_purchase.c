/*
 * rule after_purchase — the purchased item is never offered again, a
 * `lifecycle: once` category rests for post_purchase_suppression_days after
 * a purchase in it (the wedding dresses a year after the wedding), and
 * substitutes give way to complements (after the stroller: care kit and rain
 * cover, not more strollers). Holds on every path for a known shopper.
 * The one exception: a `lifecycle: repeat` item (the pantry) proposed from
 * the person's own purchases of it (buy_again) comes back to them on a
 * personal answer, and only then.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define BT MES_REASON_BOUGHT_TOGETHER
#define AGAIN MES_REASON_BUY_AGAIN

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
    {.title = "Oat milk, bought every week from the pantry, comes back to her as buy again, citing the purchase",
     .channel = MES_CH_WEB,
     .ev = {{"oat-milk", MES_KIND_PURCHASE, 15}, {"oat-milk", MES_KIND_PURCHASE, 8}, {"oat-milk", MES_KIND_PURCHASE, 1}},
     .cands = {{"oat-milk", .parts = {{3, AGAIN, 2.0}}}, {"kettle"}},
     .want = {{"oat-milk", KEPT, .reason = WHY(AGAIN), .based = "oat-milk"}, {"kettle", KEPT}}},
    {.title = "On every channel she is personalized on, the brand's own and the pushed ones alike",
     .channel = MES_CH_EMAIL,
     .ev = {{"oat-milk", MES_KIND_PURCHASE, 8}},
     .cands = {{"oat-milk", .parts = {{1, AGAIN, 1.0}}}},
     .want = {{"oat-milk", KEPT, .reason = WHY(AGAIN)}}},
    {.title = "Without personalization (no consent, a restriction, a shared screen) the pantry is suppressed like "
              "anything bought",
     .channel = MES_CH_WEB,
     .not_personalized = true,
     .ev = {{"oat-milk", MES_KIND_PURCHASE, 8}},
     .cands = {{"oat-milk", .parts = {{1, AGAIN, 1.0}}}},
     .want = {{"oat-milk", DROPPED}}},
    {.title = "Oat milk reached any other way (the popular fill, a relation) is still never offered back",
     .channel = MES_CH_WEB,
     .ev = {{"oat-milk", MES_KIND_PURCHASE, 8}, {"almond-milk", MES_KIND_PURCHASE, 2}},
     .cands = {{"oat-milk"}, {"almond-milk", .parts = {{1, BT, 0.7}}}},
     .want = {{"oat-milk", DROPPED}, {"almond-milk", DROPPED}}},
    {.title = "Buy again holds only in a repeat category: an ordinary kettle and a once dress stay suppressed",
     .channel = MES_CH_WEB,
     .ev = {{"kettle", MES_KIND_PURCHASE, 30}, {"dress-ivory", MES_KIND_PURCHASE, 30}},
     .cands = {{"kettle", .parts = {{1, AGAIN, 1.0}}}, {"dress-ivory", .parts = {{2, AGAIN, 1.0}}}},
     .want = {{"kettle", DROPPED}, {"dress-ivory", DROPPED}}},
    {.title = "Two milks viewed together and both bought: buying one again is not a substitute that gives way",
     .channel = MES_CH_WEB,
     .ev = {{"almond-milk", MES_KIND_PURCHASE, 9}, {"oat-milk", MES_KIND_PURCHASE, 2}},
     .viewed_together = {{"oat-milk", "almond-milk"}},
     .cands = {{"almond-milk", .parts = {{1, AGAIN, 1.0}}}, {"oat-milk", .parts = {{2, AGAIN, 1.0}}}},
     .want = {{"almond-milk", KEPT, .reason = WHY(AGAIN)}, {"oat-milk", KEPT, .reason = WHY(AGAIN)}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_after_purchase);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
