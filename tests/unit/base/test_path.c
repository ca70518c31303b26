/* Unit tests of base/path: a joined path fits whole or is refused, never cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "base/path.h"

static void test_path_join(void **state) {
  (void)state;
  static const struct {
    const char *dir, *name;
    size_t cap;
    int rc;
    const char *want;
  } rows[] = {
      {"/var/lib/mesura", "mesura.yaml", 64, MES_OK, "/var/lib/mesura/mesura.yaml"},
      {"store", "master.key", 64, MES_OK, "store/master.key"},
      {"store/", "keys.db", 64, MES_OK, "store//keys.db"}, /* joined as given */
      {"", "x", 64, MES_OK, "/x"},
      {"ab", "cd", 6, MES_OK, "ab/cd"},            /* exactly fits with its NUL */
      {"ab", "cde", 6, MES_EOUT_OF_RANGE, ""},     /* one byte short */
      {"a-long-directory", "name", 8, MES_EOUT_OF_RANGE, ""},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char out[64];
    memset(out, 'z', sizeof out);
    int rc = mes_path_join(out, rows[i].cap, rows[i].dir, rows[i].name);
    if (rc != rows[i].rc || strcmp(out, rows[i].want) != 0)
      fail_msg("row %zu: got %s '%s', want %s '%s'", i, mes_rc_code(rc), out, mes_rc_code(rows[i].rc), rows[i].want);
  }
  /* No room at all: refused, and nothing is written. */
  char none = 'z';
  assert_int_equal(mes_path_join(&none, 0, "a", "b"), MES_EOUT_OF_RANGE);
  assert_int_equal(none, 'z');
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path_join),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
