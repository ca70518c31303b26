/*
 * rule sensitive — the retailer that "knew" a teenager was pregnant before
 * her father did. What the engine inferred about a sensitive category may
 * only be used implicitly on the brand's own surfaces (no personal reason,
 * nothing cited) and never on email or ads; only what the person told us
 * (interests, zero-party events) may be explicit, as you_told_us.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define TOLD MES_REASON_YOU_TOLD_US
#define POP MES_REASON_POPULAR

static const struct story stories[] = {
    {.title = "Browsing cribs and vitamins, Jess sees a pregnancy test on the shop's site among other items, "
              "with no reason that gives her away",
     .channel = MES_CH_WEB,
     .ev = {{"crib", MES_KIND_VIEW, 3}, {"prenatal-vitamins", MES_KIND_VIEW, 2}},
     .cands = {{"pregnancy-test", .parts = {{1, BYV, 0.4}, {2, BYV, 0.3}}},
               {"tent-2p", .parts = {{1, BYV, 0.1}}}},
     .want = {{"pregnancy-test", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = "", .score = 1e-7 /* ranked as the fill would: no model here, so last */},
              {"tent-2p", KEPT, .reason = WHY(BYV), .disclosure = EXPLICIT, .based = "crib"}}},
    {.title = "The same guess never reaches the family's shared inbox",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_VIEW, 3}},
     .cands = {{"pregnancy-test", .parts = {{1, BYV, 0.4}}}, {"kettle"}},
     .want = {{"pregnancy-test", DROPPED}, {"kettle", KEPT}}},
    {.title = "Nor an ad on another site",
     .channel = MES_CH_ADS,
     .ev = {{"crib", MES_KIND_VIEW, 3}},
     .cands = {{"maternity-jeans", .parts = {{1, BYV, 0.4}}}},
     .want = {{"maternity-jeans", DROPPED}}},
    {.title = "She told us in her preferences that she is interested in baby things: it may say so",
     .channel = MES_CH_EMAIL,
     .interests = {"baby"},
     .ev = {{"crib", MES_KIND_VIEW, 3}},
     .cands = {{"prenatal-vitamins", .parts = {{1, BYV, 0.4}}}},
     .want = {{"prenatal-vitamins", KEPT, .reason = WHY(TOLD), .disclosure = EXPLICIT, .based = ""}}},
    {.title = "She answered the shop's due-date quiz (zero-party): the answer is what is cited",
     .channel = MES_CH_WEB,
     .ev = {{"prenatal-vitamins", MES_KIND_OTHER, 10, MES_SRC_ZERO}, {"crib", MES_KIND_VIEW, 2}},
     .cands = {{"maternity-jeans", .parts = {{2, BYV, 0.5}, {1, TOLD, 0.3}}}},
     .want = {{"maternity-jeans", KEPT, .reason = WHY(TOLD), .disclosure = EXPLICIT, .based = "prenatal-vitamins"}}},
    {.title = "Naming baby says nothing about health: a test that is both stays implicit",
     .channel = MES_CH_WEB,
     .interests = {"baby"},
     .ev = {{"crib", MES_KIND_VIEW, 3}},
     .cands = {{"pregnancy-test", .parts = {{1, BYV, 0.4}}}},
     .want = {{"pregnancy-test", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = ""}}},
    {.title = "A popular pregnancy test for an anonymous visitor has nothing to hide",
     .channel = MES_CH_EMAIL,
     .not_personalized = true,
     .unknown_subject = true,
     .cands = {{"pregnancy-test"}},
     .want = {{"pregnancy-test", KEPT, .reason = WHY(POP), .disclosure = EXPLICIT}}},
    {.title = "In Jess's own answer, even a merely popular pregnancy test is shown implicitly on the site",
     .channel = MES_CH_WEB,
     .ev = {{"crib", MES_KIND_VIEW, 3}},
     .cands = {{"pregnancy-test"}},
     .want = {{"pregnancy-test", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = ""}}},
    {.title = "... and never mailed to her, popular or not",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_VIEW, 3}},
     .cands = {{"pregnancy-test"}, {"kettle"}},
     .want = {{"pregnancy-test", DROPPED}, {"kettle", KEPT}}},
    {.title = "Tents are not sensitive: the reason stays personal",
     .channel = MES_CH_EMAIL,
     .ev = {{"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BYV), .disclosure = EXPLICIT, .based = "tent-2p"}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_sensitive);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
