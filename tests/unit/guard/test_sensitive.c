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
#define BT MES_REASON_BOUGHT_TOGETHER

static const struct story stories[] = {
    {.title = "Browsing cribs and vitamins, Jess sees a pregnancy test on the shop's site among other items, "
              "with no reason that gives her away",
     .channel = MES_CH_WEB,
     .ev = {{"crib", MES_KIND_VIEW, 3}, {"prenatal-vitamins", MES_KIND_VIEW, 2}},
     .cands = {{"pregnancy-test", .parts = {{1, BYV, 0.4}, {2, BYV, 0.3}}},
               {"tent-2p", .parts = {{1, BYV, 0.1}}}},
     .want = {{"pregnancy-test", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = "", .score = 1e-7 /* ranked as the fill would: no model here, so last */},
              /* an ordinary item that the crib ranked says nothing either */
              {"tent-2p", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = "", .score = 0.1}}},
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

/* The evidence: an ordinary item whose score a sensitive event produced. */
static const struct story evidence[] = {
    {.title = "Jess bought a crib; the lamp that goes with it is mailed to nobody on the crib's account",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_PURCHASE, 3}},
     .cands = {{"kettle", .parts = {{1, BT, 0.7}}}},
     .want = {{"kettle", DROPPED, "sensitive"}}},
    {.title = "Bought with the crib and viewed after a tent: the email keeps the tent's part alone",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_PURCHASE, 3}, {"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .parts = {{1, BT, 0.7}, {2, BYV, 0.2}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BYV), .disclosure = EXPLICIT, .based = "tent-2p", .score = 0.2}}},
    {.title = "Parts the recommender could not list still leave the score on ads",
     .channel = MES_CH_ADS,
     .ev = {{"crib", MES_KIND_PURCHASE, 3}, {"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .score = 1.5, .inferred = 1.2, .parts = {{1, BT, 0.7}, {2, BYV, 0.3}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(BYV), .disclosure = EXPLICIT, .based = "tent-2p", .score = 0.3}}},
    {.title = "On the shop's own site the crib may still rank the lamp, but nothing says so",
     .channel = MES_CH_WEB,
     .ev = {{"crib", MES_KIND_PURCHASE, 3}, {"tent-2p", MES_KIND_VIEW, 1}},
     .cands = {{"sleeping-bag", .parts = {{1, BT, 0.7}, {2, BYV, 0.2}}}},
     .want = {{"sleeping-bag", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = "", .score = 0.9}}},
    {.title = "In the app and in the store as on the web",
     .channel = MES_CH_APP,
     .ev = {{"prenatal-vitamins", MES_KIND_CART, 2}},
     .cands = {{"coffee-beans", .parts = {{1, BYV, 0.4}}}},
     .want = {{"coffee-beans", KEPT, .reason = WHY(POP), .disclosure = IMPLICIT, .based = ""}}},
    {.title = "Every kind of event is evidence: a click",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_CLICK, 1}},
     .cands = {{"kettle", .parts = {{1, BYV, 0.5}}}},
     .want = {{"kettle", DROPPED, "sensitive"}}},
    {.title = "Every kind of event is evidence: a cart",
     .channel = MES_CH_ADS,
     .ev = {{"crib", MES_KIND_CART, 1}},
     .cands = {{"kettle", .parts = {{1, BYV, 0.5}}}},
     .want = {{"kettle", DROPPED, "sensitive"}}},
    {.title = "Every kind of event is evidence: a view",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_VIEW, 1}},
     .cands = {{"kettle", .parts = {{1, BYV, 0.5}}}},
     .want = {{"kettle", DROPPED, "sensitive"}}},
    {.title = "One sensitive category among an item's several is enough (maternity jeans are clothing too)",
     .channel = MES_CH_EMAIL,
     .ev = {{"maternity-jeans", MES_KIND_PURCHASE, 5}, {"kettle", MES_KIND_VIEW, 1}},
     .cands = {{"coffee-grinder", .parts = {{1, BT, 0.6}, {2, BYV, 0.3}}}},
     .want = {{"coffee-grinder", KEPT, .reason = WHY(BYV), .disclosure = EXPLICIT, .based = "kettle", .score = 0.3}}},
    {.title = "Having named baby, she may read that the lamp goes with her crib, in her inbox too",
     .channel = MES_CH_EMAIL,
     .interests = {"baby"},
     .ev = {{"crib", MES_KIND_PURCHASE, 3}},
     .cands = {{"kettle", .parts = {{1, BT, 0.7}}}},
     .want = {{"kettle", KEPT, .reason = WHY(BT), .disclosure = EXPLICIT, .based = "crib", .score = 0.7}}},
    {.title = "Having answered the due-date quiz (zero-party, baby), her crib may be cited",
     .channel = MES_CH_EMAIL,
     .ev = {{"prenatal-vitamins", MES_KIND_OTHER, 10, MES_SRC_ZERO}, {"crib", MES_KIND_PURCHASE, 3}},
     .cands = {{"kettle", .parts = {{2, BT, 0.7}}}},
     .want = {{"kettle", KEPT, .reason = WHY(BT), .disclosure = EXPLICIT, .based = "crib"}}},
    {.title = "Naming baby says nothing about health: a pregnancy test bought is evidence still",
     .channel = MES_CH_EMAIL,
     .interests = {"baby"},
     .ev = {{"pregnancy-test", MES_KIND_PURCHASE, 3}},
     .cands = {{"kettle", .parts = {{1, BT, 0.7}}}},
     .want = {{"kettle", DROPPED, "sensitive"}}},
    {.title = "What she named herself keeps an emailed item, when the crib was its only other support",
     .channel = MES_CH_EMAIL,
     .ev = {{"crib", MES_KIND_PURCHASE, 3}},
     .cands = {{"coffee-beans", .told = true, .parts = {{1, BT, 0.7}}}},
     .want = {{"coffee-beans", KEPT, .reason = WHY(TOLD), .based = ""}}},
};

/* Buy again through every rule: a refill in a sensitive category the person
 * did not name is never an explicit "buy again". */
static const struct story again[] = {
    {.title = "On the web the vitamins refill may come back, shown implicitly: nothing says she bought it",
     .channel = MES_CH_WEB,
     .ev = {{"vitamins-refill", MES_KIND_PURCHASE, 20}},
     .cands = {{"vitamins-refill", .parts = {{1, MES_REASON_BUY_AGAIN, 1.0}}, .inferred = 1.0}},
     .want = {{"vitamins-refill", KEPT, .disclosure = IMPLICIT, .based = ""}}},
    {.title = "Where purchases may be followed up by email, the refill still never goes there",
     .guardrails = "guardrails:\n  cross_channel_after_purchase: true\n",
     .channel = MES_CH_EMAIL,
     .ev = {{"vitamins-refill", MES_KIND_PURCHASE, 20}, {"oat-milk", MES_KIND_PURCHASE, 20}},
     .cands = {{"vitamins-refill", .parts = {{1, MES_REASON_BUY_AGAIN, 1.0}}, .inferred = 1.0},
               {"oat-milk", .parts = {{2, MES_REASON_BUY_AGAIN, 1.0}}}},
     .want = {{"vitamins-refill", DROPPED, "sensitive"},
              {"oat-milk", KEPT, .reason = WHY(MES_REASON_BUY_AGAIN), .disclosure = EXPLICIT, .based = "oat-milk"}}},
    {.title = "Nor on ads",
     .guardrails = "guardrails:\n  cross_channel_after_purchase: true\n",
     .channel = MES_CH_ADS,
     .ev = {{"vitamins-refill", MES_KIND_PURCHASE, 20}},
     .cands = {{"vitamins-refill", .parts = {{1, MES_REASON_BUY_AGAIN, 1.0}}, .inferred = 1.0}},
     .want = {{"vitamins-refill", DROPPED, "sensitive"}}},
};

static void test_buy_again(void **state) {
  (void)state;
  run_stories(again, sizeof again / sizeof again[0], NULL);
}

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_sensitive);
}

static void test_evidence(void **state) {
  (void)state;
  run_stories(evidence, sizeof evidence / sizeof evidence[0], &mes__rule_sensitive);
}

/* The same stories through every rule: no other rule brings the evidence
 * back, and the drops name this rule. */
static void test_evidence_whole_pipeline(void **state) {
  (void)state;
  run_stories(evidence, sizeof evidence / sizeof evidence[0], NULL);
}

/* Whatever the relation that carried it (bought together, viewed together,
 * EASE: the part's reason is all the rule sees of it) and whatever the
 * channel, a sensitive event is never cited unless declared. */
static void test_never_cited_undeclared(void **state) {
  (void)state;
  static const enum mes_kind kinds[] = {MES_KIND_VIEW, MES_KIND_CLICK, MES_KIND_CART, MES_KIND_PURCHASE};
  static const char *const sensitive[] = {"crib", "pregnancy-test", "maternity-jeans", "prenatal-vitamins"};
  for (int ch = 0; ch < MES_CH_N; ch++)
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
      for (size_t s = 0; s < sizeof sensitive / sizeof sensitive[0]; s++)
        for (int r = 0; r < 2; r++) {
          struct story st = {.title = "grid", .channel = (enum mes_channel)ch};
          st.ev[0] = (struct st_ev){sensitive[s], kinds[k], 2};
          st.ev[1] = (struct st_ev){"tent-2p", MES_KIND_VIEW, 1};
          st.cands[0] = (struct st_cand){"kettle", .parts = {{1, r ? BT : BYV, 0.8}, {2, BYV, 0.1}}};
          struct world w;
          world_build(&w, &st);
          mes_guard_run(&w.f, w.cands, w.n_cands);
          const struct mes_cand *c = &w.cands[0];
          for (size_t b = 0; b < c->n_based; b++)
            assert_string_not_equal(w.hist[c->based_on[b].hist].ev->item, sensitive[s]);
          if (!c->dropped && mes_guard_channel_pushes((enum mes_channel)ch)) {
            assert_true(fabs(c->score - 0.1) < 1e-9); /* the sensitive part counts for nothing */
            assert_int_equal(c->disclosure, MES_DISCLOSE_EXPLICIT);
          } else if (!c->dropped) {
            assert_int_equal(c->disclosure, MES_DISCLOSE_IMPLICIT);
            assert_false(mes_reason_is_personal(c->reason));
            assert_int_equal(c->n_based, 0);
          }
          world_free(&w);
        }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_buy_again), cmocka_unit_test(test_stories), cmocka_unit_test(test_evidence),
                                     cmocka_unit_test(test_evidence_whole_pipeline),
                                     cmocka_unit_test(test_never_cited_undeclared)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
