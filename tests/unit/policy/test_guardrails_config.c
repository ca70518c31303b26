/*
 * The guardrails block of mesura.yaml, badly configured and well: an
 * unknown rule name, a negative or zero window or count, and a category
 * flagged both ways are refused with the file, the line and a sentence; a
 * complete block is read into struct mes_guardrails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

/* Lines 1-4; cases append from line 5. */
#define MINIMAL                                                                                                      \
  "purposes:\n"                                                                                                      \
  "  personalization: {description: \"Suggest products\"}\n"                                                         \
  "event_types:\n"                                                                                                   \
  "  view: {purposes: [personalization], retention_days: 30}\n"

struct bad_case {
  const char *what;
  const char *yaml;
  int line;
  const char *says;
};

static const struct bad_case bad_cases[] = {
    /* unknown rule names */
    {"a rule mesura does not have", MINIMAL "guardrails:\n  retargeting_window_days: 14\n  creepiness_filter: on\n", 7,
     "unknown key 'creepiness_filter' in guardrails; the keys allowed there are frequency_cap, "
     "retargeting_window_days, post_purchase_suppression_days, cross_channel_after_purchase, shared_device, "
     "third_party_data."},
    {"a misspelt rule", MINIMAL "guardrails:\n  frequency_caps: {max_impressions: 3}\n", 6,
     "unknown key 'frequency_caps' in guardrails"},
    {"an unknown setting of a rule", MINIMAL "guardrails:\n  shared_device:\n    hide_history: true\n    hide_purchases: true\n",
     8, "unknown key 'hide_purchases' in guardrails.shared_device"},
    {"a rule given twice", MINIMAL "guardrails:\n  retargeting_window_days: 14\n  retargeting_window_days: 30\n", 7,
     "'retargeting_window_days' appears twice in guardrails, here and on line 6."},
    /* negative and zero windows and counts */
    {"negative retargeting window", MINIMAL "guardrails:\n  retargeting_window_days: -14\n", 6,
     "guardrails.retargeting_window_days must be a positive whole number, such as 14; it cannot be -14."},
    {"zero retargeting window", MINIMAL "guardrails:\n  retargeting_window_days: 0\n", 6,
     "guardrails.retargeting_window_days must be a positive whole number"},
    {"negative suppression window", MINIMAL "guardrails:\n  post_purchase_suppression_days: -1\n", 6,
     "guardrails.post_purchase_suppression_days must be a positive whole number, such as 365; it cannot be -1."},
    {"negative cap window", MINIMAL "guardrails:\n  frequency_cap:\n    max_impressions: 3\n    window_hours: -72\n", 8,
     "guardrails.frequency_cap.window_hours must be a positive whole number, such as 72; it cannot be -72."},
    {"negative impressions", MINIMAL "guardrails:\n  frequency_cap: {max_impressions: -3}\n", 6,
     "guardrails.frequency_cap.max_impressions must be a positive whole number"},
    {"a window of ten years of retargeting", MINIMAL "guardrails:\n  retargeting_window_days: 5000\n", 6,
     "guardrails.retargeting_window_days may be at most 3650; 5000 is too large."},
    {"a fractional window", MINIMAL "guardrails:\n  retargeting_window_days: 1.5\n", 6,
     "guardrails.retargeting_window_days must be a whole number, such as 14; '1.5' is not."},
    /* values of the wrong kind */
    {"a yes-or-no setting given a word", MINIMAL "guardrails:\n  cross_channel_after_purchase: sometimes\n", 6,
     "guardrails.cross_channel_after_purchase must be true or false; 'sometimes' is not."},
    {"shared_device given a boolean", MINIMAL "guardrails:\n  shared_device: true\n", 6,
     "guardrails.shared_device must be a mapping of keys to values, not a single value."},
    {"frequency_cap given a number", MINIMAL "guardrails:\n  frequency_cap: 3\n", 6,
     "guardrails.frequency_cap must be a mapping of keys to values"},
    {"third-party data half accepted", MINIMAL "guardrails:\n  third_party_data: sometimes\n", 6,
     "guardrails.third_party_data must be reject or accept; 'sometimes' is not."},
    /* a category flagged both ways */
    {"a category declared sensitive and then not",
     MINIMAL "categories:\n  baby: {sensitive: true}\n  camping: {}\n  baby: {sensitive: false}\n", 8,
     "category 'baby' is declared twice, here and on line 6."},
    {"one category with two answers", MINIMAL "categories:\n  baby:\n    sensitive: true\n    sensitive: false\n", 8,
     "'sensitive' appears twice in categories.baby, here and on line 7."},
    {"one category under two spellings",
     MINIMAL "categories:\n  Baby: {sensitive: true}\n  baby: {lifecycle: once}\n", 7,
     "category 'baby' differs from 'Baby' on line 6 only in letter case, so one category would be flagged two "
     "ways; declare it once, with all its settings."},
    {"two spellings far apart", MINIMAL "categories:\n  WEDDING-Dress: {lifecycle: once}\n  a: {}\n  b: {}\n"
                                        "  wedding-dress: {}\n",
     9, "category 'wedding-dress' differs from 'WEDDING-Dress' on line 6 only in letter case"},
};

static void test_bad_guardrails(void **state) {
  (void)state;
  size_t failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const struct bad_case *c = &bad_cases[i];
    struct mes_policy *p = NULL;
    struct mes_err err = {0};
    int rc = mes_policy_load_buf("shop/mesura.yaml", c->yaml, strlen(c->yaml), &p, &err);
    char prefix[48];
    snprintf(prefix, sizeof prefix, "shop/mesura.yaml:%d: ", c->line);
    size_t len = strlen(err.msg);
    bool good = rc == MES_EBAD_POLICY && p == NULL && strncmp(err.msg, prefix, strlen(prefix)) == 0 &&
                strstr(err.msg, c->says) != NULL && len > 0 && err.msg[len - 1] == '.';
    if (!good)
      print_error("case '%s': rc %d, message \"%s\"; wanted line %d and \"%s\"\n", c->what, rc, err.msg, c->line,
                  c->says);
    failures += !good;
    mes_policy_free(p);
  }
  assert_int_equal(failures, 0); /* every failing case is printed above */
}

static void test_full_block(void **state) {
  (void)state;
  static const char yaml[] = MINIMAL "categories:\n"
                                     "  baby: {sensitive: true}\n"
                                     "  baby-care: {}\n"
                                     "  wedding-dress: {lifecycle: once}\n"
                                     "guardrails:\n"
                                     "  frequency_cap: {max_impressions: 2, window_hours: 48}\n"
                                     "  retargeting_window_days: 7\n"
                                     "  post_purchase_suppression_days: 180\n"
                                     "  cross_channel_after_purchase: true\n"
                                     "  shared_device: {hide_history: false, hide_sensitive: true}\n"
                                     "  third_party_data: accept\n";
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  int rc = mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &p, &err);
  if (rc)
    print_error("%s\n", err.msg);
  assert_int_equal(rc, MES_OK);
  const struct mes_guardrails *g = &p->guardrails;
  assert_int_equal(g->frequency_cap_max_impressions, 2);
  assert_int_equal(g->frequency_cap_window_hours, 48);
  assert_int_equal(g->retargeting_window_days, 7);
  assert_int_equal(g->post_purchase_suppression_days, 180);
  assert_true(g->cross_channel_after_purchase);
  assert_false(g->shared_device_hide_history);
  assert_true(g->shared_device_hide_sensitive);
  assert_true(g->third_party_accept);
  assert_int_equal(p->n_categories, 3); /* "baby" and "baby-care" differ in more than case */
  mes_policy_free(p);

  /* Without the block, the defaults of docs/config.md. */
  assert_int_equal(mes_policy_load_buf("mesura.yaml", MINIMAL, strlen(MINIMAL), &p, &err), MES_OK);
  g = &p->guardrails;
  assert_int_equal(g->frequency_cap_max_impressions, 3);
  assert_int_equal(g->frequency_cap_window_hours, 72);
  assert_int_equal(g->retargeting_window_days, 14);
  assert_int_equal(g->post_purchase_suppression_days, 365);
  assert_false(g->cross_channel_after_purchase);
  assert_true(g->shared_device_hide_history);
  assert_true(g->shared_device_hide_sensitive);
  assert_false(g->third_party_accept);
  mes_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_guardrails),
      cmocka_unit_test(test_full_block),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
