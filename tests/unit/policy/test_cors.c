/*
 * Unit tests of the policy's cors.allowed_origins (src/lib/policy): an
 * origin is taken only as a browser sends it in Origin (http or https,
 * host, optional port, lower case, nothing after), table-driven; a refused
 * one names its line; none listed is the default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

static const char BASE[] = "site: T\n"
                           "purposes:\n  personalization: {description: {en: x}}\n"
                           "event_types:\n  view: {purposes: [personalization], retention_days: 10}\n";

static int load(const char *origins, struct mes_policy **p, struct mes_err *err) {
  char yaml[1024];
  snprintf(yaml, sizeof yaml, "%scors:\n  allowed_origins: %s\n", BASE, origins);
  *p = NULL;
  mes_err_clear(err);
  return mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), p, err);
}

static void test_origins(void **state) {
  (void)state;
  static const char *const good[] = {"https://shop.example", "http://localhost:3000", "http://[::1]:8080",
                                     "https://a-b.c.d", "http://127.0.0.1:1", "https://x:65535"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char list[256];
    snprintf(list, sizeof list, "[\"%s\"]", good[i]);
    struct mes_policy *p;
    struct mes_err err;
    if (load(list, &p, &err) != MES_OK)
      fail_msg("%s refused: %s", good[i], mes_err_text(&err));
    assert_int_equal(p->cors.n_allowed_origins, 1);
    assert_string_equal(p->cors.allowed_origins[0], good[i]);
    mes_policy_free(p);
  }
  static const char *const bad[] = {"https://shop.example/", "shop.example", "ftp://shop.example", "https://Shop.example",
                                    "HTTPS://shop.example", "https://shop.example:99999x", "https://", "https://shop.example/path",
                                    "https://.example", "https://shop.example:", "*", "null", "https://shop.example:1234567",
                                    "https://[]", "https://[::1", "https://shop.example.", "https://user@shop.example"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char list[256];
    snprintf(list, sizeof list, "[\"%s\"]", bad[i]);
    struct mes_policy *p;
    struct mes_err err;
    if (load(list, &p, &err) == MES_OK)
      fail_msg("%s taken", bad[i]);
    if (!strstr(mes_err_text(&err), "not a web origin") || !strstr(mes_err_text(&err), "mesura.yaml:7:"))
      fail_msg("%s: %s", bad[i], mes_err_text(&err));
  }
}

static void test_none_by_default_and_no_repeats(void **state) {
  (void)state;
  struct mes_policy *p = NULL;
  struct mes_err err;
  assert_int_equal(mes_policy_load_buf("mesura.yaml", BASE, strlen(BASE), &p, &err), MES_OK);
  assert_int_equal(p->cors.n_allowed_origins, 0);
  mes_policy_free(p);
  assert_int_equal(load("[]", &p, &err), MES_OK);
  assert_int_equal(p->cors.n_allowed_origins, 0);
  mes_policy_free(p);
  assert_int_not_equal(load("[\"https://a.b\", \"https://a.b\"]", &p, &err), MES_OK);
  assert_non_null(strstr(mes_err_text(&err), "twice"));
  assert_int_not_equal(load("https://a.b", &p, &err), MES_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_origins),
      cmocka_unit_test(test_none_by_default_and_no_repeats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
