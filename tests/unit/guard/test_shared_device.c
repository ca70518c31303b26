/*
 * rule shared_device — the birthday present spoiled on the family computer.
 * On a shared device (or one where nobody is signed in), nothing drawn from
 * the person's history (hide_history) and nothing sensitive (hide_sensitive)
 * is shown.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define TOLD MES_REASON_YOU_TOLD_US

static const struct story stories[] = {
    {.title = "Tom looked at a watch for his wife's birthday; on the family computer the shop shows no straps",
     .channel = MES_CH_WEB,
     .shared = true,
     .ev = {{"birthday-watch", MES_KIND_VIEW, 2}},
     .cands = {{"watch-strap", .parts = {{1, BYV, 0.7}}}, {"birthday-watch", .parts = {{1, BYV, 0.9}}}, {"kettle"}},
     .want = {{"watch-strap", DROPPED}, {"birthday-watch", DROPPED}, {"kettle", KEPT}}},
    {.title = "Signed out on the tablet in the kitchen: the same",
     .channel = MES_CH_APP,
     .signed_out = true,
     .ev = {{"birthday-watch", MES_KIND_VIEW, 2}},
     .cands = {{"watch-strap", .parts = {{1, BYV, 0.7}}}, {"kettle"}},
     .want = {{"watch-strap", DROPPED}, {"kettle", KEPT}}},
    {.title = "On a shared screen even a popular pregnancy test is left out",
     .channel = MES_CH_WEB,
     .shared = true,
     .cands = {{"pregnancy-test"}, {"kettle"}},
     .want = {{"pregnancy-test", DROPPED}, {"kettle", KEPT}}},
    {.title = "What she told us is hers too: you_told_us is not shown on the shared screen",
     .channel = MES_CH_WEB,
     .shared = true,
     .interests = {"camping"},
     .cands = {{"tent-2p", .reason = WHY(TOLD), .told = true}},
     .want = {{"tent-2p", DROPPED}}},
    {.title = "A brand that lets history show on shared devices still hides sensitive items",
     .guardrails = "guardrails:\n  shared_device: {hide_history: false, hide_sensitive: true}\n",
     .channel = MES_CH_WEB,
     .shared = true,
     .ev = {{"birthday-watch", MES_KIND_VIEW, 2}, {"crib", MES_KIND_VIEW, 1}},
     .cands = {{"watch-strap", .parts = {{1, BYV, 0.7}}}, {"prenatal-vitamins", .parts = {{2, BYV, 0.5}}}},
     .want = {{"watch-strap", KEPT, .based = "birthday-watch"}, {"prenatal-vitamins", DROPPED}}},
    {.title = "A brand that hides history but not popular sensitive items",
     .guardrails = "guardrails:\n  shared_device:\n    hide_sensitive: false\n",
     .channel = MES_CH_WEB,
     .signed_out = true,
     .ev = {{"crib", MES_KIND_VIEW, 1}},
     .cands = {{"pregnancy-test"}, {"prenatal-vitamins", .parts = {{1, BYV, 0.5}}}},
     .want = {{"pregnancy-test", KEPT}, {"prenatal-vitamins", DROPPED}}},
    {.title = "Signed in on his own phone, nothing changes",
     .channel = MES_CH_APP,
     .ev = {{"birthday-watch", MES_KIND_VIEW, 2}},
     .cands = {{"watch-strap", .parts = {{1, BYV, 0.7}}}, {"pregnancy-test"}},
     .want = {{"watch-strap", KEPT, .based = "birthday-watch"}, {"pregnancy-test", KEPT}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_shared_device);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
