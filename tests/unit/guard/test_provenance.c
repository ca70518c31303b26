/*
 * rule provenance — a reason never reveals data the person does not know we
 * have: third-party data never drives an explicit reason. Rejected by the
 * policy (the default), it leaves the score too; accepted, it may rank but
 * never explain.
 */
#include "story.h"

#define BYV MES_REASON_BECAUSE_YOU_VIEWED
#define POP MES_REASON_POPULAR

static const struct story stories[] = {
    {.title = "A data broker says Kim looked at tents; the shop (which rejects such data) shows no sleeping bag for it",
     .channel = MES_CH_WEB,
     .ev = {{"tent-2p", MES_KIND_VIEW, 3, MES_SRC_THIRD}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}}}, {"kettle"}},
     .want = {{"sleeping-bag", DROPPED}, {"kettle", KEPT}}},
    {.title = "Broker data and her own visit: only her own visit counts and is cited",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 2, MES_SRC_THIRD}, {"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}, {2, BYV, 0.2}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BYV), .based = "tent-2p", .score = 0.2}}},
    {.title = "A shop that accepts third-party data may rank with it, but never says so",
     .guardrails = "guardrails:\n  third_party_data: accept\n",
     .channel = MES_CH_WEB,
     .ev = {{"tent-2p", MES_KIND_VIEW, 3, MES_SRC_THIRD}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = "", .score = 1e-7 /* ranked as the fill would: no model here, so last */}}},
    {.title = "Accepted broker data and her own visit: the score keeps both, the reason names her visit",
     .guardrails = "guardrails:\n  third_party_data: accept\n",
     .channel = MES_CH_WEB,
     .ev = {{"flight-nyc", MES_KIND_VIEW, 2, MES_SRC_THIRD}, {"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}, {2, BYV, 0.2}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BYV), .disclosure = EXPLICIT, .based = "tent-2p", .score = 0.8}}},
    {.title = "A recommender that only cites: a third-party citation is removed, and alone it drops the item",
     .channel = MES_CH_WEB,
     .ev = {{"tent-2p", MES_KIND_VIEW, 3, MES_SRC_THIRD}, {"kettle", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}}, .cite_only = true},
               {"coffee-grinder", .parts = {{1, BYV, 0.6}, {2, BYV, 0.3}}, .cite_only = true}},
     .want = {{"sleeping-bag", DROPPED}, {"coffee-grinder", KEPT, .based = "kettle"}}},
    {.title = "What she did and what she told us are hers to see",
     .channel = MES_CH_WEB,
     .ev = {{"tent-2p", MES_KIND_VIEW, 3}, {"camping-stove", MES_KIND_OTHER, 5, MES_SRC_ZERO}},
     .cands = {{"sleeping-bag", .parts = {{1, BYV, 0.6}, {2, MES_REASON_YOU_TOLD_US, 0.1}}}},
     .want = {{"sleeping-bag", KEPT, .based = "tent-2p,camping-stove", .score = 0.7}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_provenance);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_stories)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
