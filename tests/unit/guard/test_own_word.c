/*
 * rule own_word — the person's own word: a dismissed item is gone for good;
 * categories excluded in preferences are gone everywhere, on every path.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED

static const struct story stories[] = {
    {.title = "Ravi dismissed the kettle last spring; looking at it again yesterday does not bring it back",
     .channel = MES_CH_WEB,
     .ev = {{"kettle", MES_KIND_DISMISS, 200}, {"kettle", MES_KIND_VIEW, 1}},
     .cands = {{"kettle", .parts = {{2, BYV, 0.9}}}, {"coffee-grinder"}},
     .want = {{"kettle", DROPPED}, {"coffee-grinder", KEPT}}},
    {.title = "He excluded camping in his preferences: no tents, no sleeping bags, on any channel",
     .channel = MES_CH_EMAIL,
     .excluded = {"camping"},
     .ev = {{"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"tent-4p", .parts = {{1, BYV, 0.9}}}, {"sleeping-bag"}, {"kettle"}},
     .want = {{"tent-4p", DROPPED}, {"sleeping-bag", DROPPED}, {"kettle", KEPT}}},
    {.title = "An item in two categories goes when either is excluded",
     .channel = MES_CH_WEB,
     .excluded = {"travel", "clothing"},
     .cands = {{"maternity-jeans"}, {"hotel-nyc"}, {"crib"}},
     .want = {{"maternity-jeans", DROPPED}, {"hotel-nyc", DROPPED}, {"crib", KEPT}}},
    {.title = "He withdrew personalization: his dismissal still holds",
     .channel = MES_CH_WEB,
     .not_personalized = true,
     .ev = {{"kettle", MES_KIND_DISMISS, 10}},
     .cands = {{"kettle"}, {"coffee-grinder"}},
     .want = {{"kettle", DROPPED}, {"coffee-grinder", KEPT}}},
    {.title = "Dismissing one tent is not dismissing tents",
     .channel = MES_CH_WEB,
     .ev = {{"tent-2p", MES_KIND_DISMISS, 3}},
     .cands = {{"tent-2p"}, {"tent-4p"}},
     .want = {{"tent-2p", DROPPED}, {"tent-4p", KEPT}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_own_word);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
