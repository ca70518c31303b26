/* Unit tests of audit/stats: Cramér's V and the Gini coefficient against
 * hand computations, nearest-rank quantiles, and the bootstrap's intervals
 * of a mean and of a ratio (seeded: the same inputs give the same answer). */
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

struct gini_case {
  const char *what;
  double x[6];
  size_t n, n_zero;
  double want; /* by hand: sum (2i - N - 1) x_i / (N sum x) over the sorted values, zeros first */
};

static void test_gini(void **state) {
  (void)state;
  static const struct gini_case cases[] = {
      {"everyone alike", {2, 2, 2, 2}, 4, 0, 0.0},
      {"one gets all of four", {5}, 1, 3, 0.75},
      {"1, 2, 3, 4", {4, 1, 3, 2}, 4, 0, 0.25},
      {"1, 3 and two zeros", {3, 1}, 2, 2, 0.625},
      {"nothing at all", {0}, 0, 5, 0.0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double got = mes_audit_gini(cases[i].x, cases[i].n, cases[i].n_zero);
    if (got < cases[i].want - 1e-12 || got > cases[i].want + 1e-12)
      print_error("%s: G = %.12f, want %.12f\n", cases[i].what, got, cases[i].want);
    assert_true(got >= cases[i].want - 1e-12 && got <= cases[i].want + 1e-12);
  }
}

static void test_quantile(void **state) {
  (void)state;
  const double x[9] = {10, 20, 30, 40, 50, 70, 80, 90, 100};
  assert_true(mes_audit_quantile(x, 9, 1.0 / 3.0) == 30);
  assert_true(mes_audit_quantile(x, 9, 2.0 / 3.0) == 70);
  assert_true(mes_audit_quantile(x, 9, 1.0) == 100);
  assert_true(mes_audit_quantile(x, 4, 0.5) == 20); /* nearest rank: the 2nd of 4 */
  assert_true(mes_audit_quantile(x, 1, 0.01) == 10);
}

static void test_bootstrap_ratio(void **state) {
  (void)state;
  double a[20], b[20];
  for (size_t i = 0; i < 20; i++) {
    a[i] = i < 10 ? 1.0 : 0.0; /* 0.5 */
    b[i] = i < 5 ? 1.0 : 0.0;  /* 0.25 */
  }
  const double *xs[2] = {a, b};
  const size_t ns[2] = {20, 20};
  double lo, hi, lo2, hi2;
  mes_audit_bootstrap_ratio(xs, ns, 2, 500, 7, &lo, &hi);
  assert_true(lo < 0.5 && 0.5 < hi); /* the ratio, 0.25 / 0.5, is inside */
  assert_true(lo > 0.1 && hi <= 1.0);
  mes_audit_bootstrap_ratio(xs, ns, 2, 500, 7, &lo2, &hi2);
  assert_true(lo == lo2 && hi == hi2); /* seeded */
  mes_audit_bootstrap_ratio(xs, ns, 2, 0, 7, &lo, &hi);
  assert_true(lo == 0.5 && hi == 0.5); /* no resampling: the ratio itself */
  mes_audit_bootstrap_ratio(xs, ns, 1, 500, 7, &lo, &hi);
  assert_true(lo == 1.0 && hi == 1.0); /* one group: nothing to compare */
  /* Groups where everyone is alike: no spread to resample. */
  double c[4] = {0.2, 0.2, 0.2, 0.2}, d[4] = {0.8, 0.8, 0.8, 0.8};
  const double *ys[2] = {c, d};
  const size_t ms[2] = {4, 4};
  mes_audit_bootstrap_ratio(ys, ms, 2, 200, 1, &lo, &hi);
  assert_true(lo == 0.25 && hi == 0.25);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_cramers_v), cmocka_unit_test(test_bootstrap),
                                     cmocka_unit_test(test_gini), cmocka_unit_test(test_quantile),
                                     cmocka_unit_test(test_bootstrap_ratio)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
