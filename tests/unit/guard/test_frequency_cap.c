/*
 * rule frequency_cap — "the hollow echo": the same ad following a person
 * everywhere. An item shown max_impressions times within window_hours, on
 * any channel together, is not shown again in that window.
 */
#include "story.h"

static const struct story stories[] = {
    {.title = "Marta saw the grinder on the web, in the app and in an email within two days: not a fourth time",
     .channel = MES_CH_WEB,
     .ev = {{"coffee-grinder", MES_KIND_VIEW, 3}},
     .imps = {{"coffee-grinder", MES_CH_WEB, 50}, {"coffee-grinder", MES_CH_APP, 20}, {"coffee-grinder", MES_CH_EMAIL, 2}},
     .cands = {{"coffee-grinder", .parts = {{1, MES_REASON_BECAUSE_YOU_VIEWED, 0.8}}}, {"kettle"}},
     .want = {{"coffee-grinder", DROPPED}, {"kettle", KEPT}}},
    {.title = "Twice in three days is still fine",
     .channel = MES_CH_APP,
     .imps = {{"coffee-grinder", MES_CH_WEB, 30}, {"coffee-grinder", MES_CH_APP, 5}},
     .cands = {{"coffee-grinder"}},
     .want = {{"coffee-grinder", KEPT}}},
    {.title = "Last week's impressions have left the 72-hour window",
     .channel = MES_CH_WEB,
     .imps = {{"coffee-grinder", MES_CH_WEB, 100},
              {"coffee-grinder", MES_CH_WEB, 90},
              {"coffee-grinder", MES_CH_ADS, 80},
              {"coffee-grinder", MES_CH_WEB, 1}},
     .cands = {{"coffee-grinder"}},
     .want = {{"coffee-grinder", KEPT}}},
    {.title = "A stricter brand shows an item once a day",
     .guardrails = "guardrails:\n  frequency_cap: {max_impressions: 1, window_hours: 24}\n",
     .channel = MES_CH_EMAIL,
     .imps = {{"kettle", MES_CH_WEB, 23}, {"coffee-grinder", MES_CH_WEB, 25}},
     .cands = {{"kettle"}, {"coffee-grinder"}},
     .want = {{"kettle", DROPPED}, {"coffee-grinder", KEPT}}},
    {.title = "Seeing the kettle three times says nothing about the grinder",
     .channel = MES_CH_WEB,
     .imps = {{"kettle", MES_CH_WEB, 3}, {"kettle", MES_CH_APP, 2}, {"kettle", MES_CH_EMAIL, 1}},
     .cands = {{"kettle"}, {"coffee-grinder"}},
     .want = {{"kettle", DROPPED}, {"coffee-grinder", KEPT}}},
    {.title = "A showing stamped a moment after now (the request just served) still counts",
     .channel = MES_CH_WEB,
     .imps = {{"kettle", MES_CH_WEB, 2}, {"kettle", MES_CH_APP, 1}, {"kettle", MES_CH_WEB, -0.0001}},
     .cands = {{"kettle"}},
     .want = {{"kettle", DROPPED}}},
    {.title = "The cap also holds on a non-personal answer for a shopper we know",
     .channel = MES_CH_WEB,
     .not_personalized = true,
     .imps = {{"kettle", MES_CH_WEB, 3}, {"kettle", MES_CH_APP, 2}, {"kettle", MES_CH_EMAIL, 1}},
     .cands = {{"kettle"}},
     .want = {{"kettle", DROPPED}}},
};

static void test_stories(void **state) {
  (void)state;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_frequency_cap);
}

/* The same stories with the impressions counted once for the request, as
 * the recommender hands them (facts.shown). */
static void test_stories_counted_once(void **state) {
  (void)state;
  story_count_shown = true;
  run_stories(stories, sizeof stories / sizeof stories[0], &mes__rule_frequency_cap);
  story_count_shown = false;
}

/* A page of 3,000 candidates: the index works in chunks, so an item far down
 * the list is capped like the first; counted once or by the rule, the same
 * two go, with the same sentence. */
static void many_candidates(bool counted_once) {
  enum { N = 3000 };
  struct mes_policy *p = load_policy(NULL);
  static char ids[N][16];
  static struct mes_cand cands[N];
  struct mes_impression imps[7];
  for (size_t i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "item-%04zu", i);
    cands[i] = (struct mes_cand){.item = ids[i], .midx = -1, .score = 1, .reason = MES_REASON_POPULAR};
  }
  for (size_t k = 0; k < 3; k++) {
    imps[k] = (struct mes_impression){.item = ids[2999], .channel = MES_CH_WEB, .ts_ms = T0_MS - (int64_t)k * HOUR_MS};
    imps[3 + k] = (struct mes_impression){.item = ids[5], .channel = MES_CH_APP, .ts_ms = T0_MS - (int64_t)k * HOUR_MS};
  }
  /* An older showing of item 5, outside the window, does not count. */
  imps[6] = (struct mes_impression){.item = ids[5], .channel = MES_CH_WEB, .ts_ms = T0_MS - 100 * HOUR_MS};
  struct mes_guard_facts f = {.policy = p, .now_ms = T0_MS, .personalized = true, .known_subject = true,
                              .authenticated = true, .imps = imps, .n_imps = 7};
  uint32_t storage[64]; /* 16 slots of 8 bytes, then 7 counts */
  struct mes_guard_shown sh;
  if (counted_once) {
    assert_int_equal(mes_guard_shown_bytes(7), 16 * 8 + 7 * 4);
    mes_guard_shown_count(&f, &sh, storage);
    assert_int_equal(mes_guard_shown_times(&sh, ids[5]), 3);
    assert_int_equal(mes_guard_shown_times(&sh, ids[2999]), 3);
    assert_int_equal(mes_guard_shown_times(&sh, ids[6]), 0);
    f.shown = &sh;
  }
  mes__rule_frequency_cap.apply(&f, cands, N);
  size_t dropped = 0;
  for (size_t i = 0; i < N; i++)
    dropped += cands[i].dropped;
  assert_int_equal(dropped, 2);
  assert_true(cands[5].dropped);
  assert_true(cands[2999].dropped);
  assert_string_equal(cands[2999].rule, "frequency_cap");
  assert_string_equal(cands[5].detail, "Already shown 3 times in the last 72 hours; the policy allows 3.");
  mes_policy_free(p);
}

static void test_many_candidates(void **state) {
  (void)state;
  many_candidates(false);
  many_candidates(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stories),
      cmocka_unit_test(test_stories_counted_once),
      cmocka_unit_test(test_many_candidates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
