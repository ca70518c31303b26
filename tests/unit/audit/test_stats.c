/* Unit tests of audit/stats: Cramér's V against hand-computed tables, and
 * the bootstrap's intervals (seeded: the same inputs give the same answer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"

struct v_case {
  const char *what;
  int64_t t[9];
  size_t rows, cols;
  double want; /* computed by hand (chi-squared, no bias correction) */
};

static void test_cramers_v(void **state) {
  (void)state;
  static const struct v_case cases[] = {
      {"one value gives the other away", {10, 0, 0, 10}, 2, 2, 1.0},
      {"independent", {5, 5, 5, 5}, 2, 2, 0.0},
      {"strong, not perfect", {20, 2, 4, 10}, 2, 2, 0.6446583712},
      {"3 x 3 with an empty row left out", {12, 3, 1, 2, 9, 4, 0, 0, 0}, 3, 3, 0.6201718272},
      {"one row only: nothing to compare", {4, 6}, 1, 2, 0.0},
      {"a column with nobody: nothing to compare", {4, 0, 6, 0}, 2, 2, 0.0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double got = mes_audit_cramers_v(cases[i].t, cases[i].rows, cases[i].cols);
    if (got < cases[i].want - 1e-9 || got > cases[i].want + 1e-9)
      print_error("%s: V = %.10f, want %.10f\n", cases[i].what, got, cases[i].want);
    assert_true(got >= cases[i].want - 1e-9 && got <= cases[i].want + 1e-9);
  }
}

static void test_bootstrap(void **state) {
  (void)state;
  double x[40];
  for (size_t i = 0; i < 40; i++)
    x[i] = i < 10 ? 1.0 : 0.0; /* a rate of 0.25 */
  double mean, lo, hi, mean2, lo2, hi2;
  mes_audit_bootstrap(x, 40, 500, 42, &mean, &lo, &hi);
  assert_true(mean > 0.2499 && mean < 0.2501);
  assert_true(lo < mean && mean < hi);
  assert_true(lo > 0.05 && hi < 0.5); /* about ±0.13 for 40 people */
  mes_audit_bootstrap(x, 40, 500, 42, &mean2, &lo2, &hi2);
  assert_true(lo == lo2 && hi == hi2); /* seeded */
  mes_audit_bootstrap(x, 40, 500, 43, &mean2, &lo2, &hi2);
  assert_true(mean == mean2);
  /* Everyone alike, or no resampling: the interval is the mean itself. */
  double same[5] = {0.5, 0.5, 0.5, 0.5, 0.5};
  mes_audit_bootstrap(same, 5, 200, 1, &mean, &lo, &hi);
  assert_true(lo == 0.5 && hi == 0.5 && mean == 0.5);
  mes_audit_bootstrap(x, 40, 0, 1, &mean, &lo, &hi);
  assert_true(lo == mean && hi == mean);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_cramers_v), cmocka_unit_test(test_bootstrap)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
