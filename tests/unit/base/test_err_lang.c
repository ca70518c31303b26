/*
 * Unit tests of the error table's sentences in every language of contract §2
 * (src/lib/base/err.c): each code has an English, a Spanish and a Polish
 * sentence, so a row added to MES_ERR_MAP without its translations fails here
 * rather than answering English to a Spanish client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"

static const char *const langs[] = {"es", "pl"};

static void test_every_code_has_three_languages(void **state) {
  (void)state;
  for (int rc = 0; rc < MES_E_COUNT_; rc++) {
    const char *en = mes_rc_message(rc);
    assert_non_null(en);
    assert_true(en[0] != '\0');
    assert_string_equal(mes_rc_message_in(rc, "en"), en);
    for (size_t l = 0; l < sizeof langs / sizeof langs[0]; l++) {
      const char *t = mes_rc_message_in(rc, langs[l]);
      if (t == en || t[0] == '\0')
        fail_msg("code %s has no %s sentence", mes_rc_code(rc), langs[l]);
      if (strcmp(t, en) == 0)
        fail_msg("code %s: the %s sentence is the English one", mes_rc_code(rc), langs[l]);
    }
  }
}

static void test_unknown_language_or_code_gives_english(void **state) {
  (void)state;
  assert_string_equal(mes_rc_message_in(MES_ENOT_FOUND, "de"), mes_rc_message(MES_ENOT_FOUND));
  assert_string_equal(mes_rc_message_in(MES_ENOT_FOUND, NULL), mes_rc_message(MES_ENOT_FOUND));
  assert_string_equal(mes_rc_message_in(-1, "es"), mes_rc_message_in(MES_EINTERNAL, "es"));
  assert_string_equal(mes_rc_message_in(MES_E_COUNT_, "pl"), mes_rc_message_in(MES_EINTERNAL, "pl"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_code_has_three_languages),
      cmocka_unit_test(test_unknown_language_or_code_gives_english),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
