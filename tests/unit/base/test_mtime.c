/* Unit tests of base/mtime's mes_time_format: its output must be byte for
 * byte that of the general snprintf form (copied here as the reference)
 * and agree with the C library's gmtime_r, for every kind of input. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/mtime.h"

/* ------------------------------------------------------------------ references */

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = (int64_t)yoe + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int)(yy + (*m <= 2));
}

/* The general form, with snprintf. */
static void ref_format(int64_t ms, char out[32]) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int msr = (int)(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
           (int)(rem % 60), msr);
  snprintf(out, 32, "%.31s", tmp);
}

/* The C library's calendar, for years 0-9999. */
static void libc_format(int64_t ms, char out[32]) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  time_t t = (time_t)secs;
  struct tm tm;
  assert_non_null(gmtime_r(&t, &tm));
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - secs * 1000));
  snprintf(out, 32, "%.31s", tmp);
}

#define MS_0000 (-62167219200000LL)   /* 0000-01-01T00:00:00.000Z */
#define MS_10000 253402300800000LL    /* 10000-01-01T00:00:00.000Z */
#define DAY_MS 86400000LL

static size_t n_checked;

static void check(int64_t ms) {
  char got[32], want[32];
  memset(got, 'x', sizeof got);
  mes_time_format(ms, got);
  ref_format(ms, want);
  if (strcmp(got, want) != 0)
    fail_msg("ms %" PRId64 ": \"%s\", want \"%s\"", ms, got, want);
  if (ms >= MS_0000 && ms < MS_10000 && sizeof(time_t) == 8) {
    libc_format(ms, want);
    if (strcmp(got, want) != 0)
      fail_msg("ms %" PRId64 ": \"%s\", gmtime_r says \"%s\"", ms, got, want);
  }
  n_checked++;
}

/* ------------------------------------------------------------------ tests */

static void test_format_known(void **state) {
  (void)state;
  static const struct {
    int64_t ms;
    const char *want;
  } cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
      {-1000, "1969-12-31T23:59:59.000Z"},
      {-1001, "1969-12-31T23:59:58.999Z"},
      {999, "1970-01-01T00:00:00.999Z"},
      {951782400000LL, "2000-02-29T00:00:00.000Z"},
      {4107456000000LL, "2100-02-28T00:00:00.000Z"},
      {4107542400000LL, "2100-03-01T00:00:00.000Z"},
      {1795208645250LL, "2026-11-20T21:04:05.250Z"},
      {MS_0000, "0000-01-01T00:00:00.000Z"},
      {MS_0000 - 1, "-001-12-31T23:59:59.999Z"},
      {MS_10000 - 1, "9999-12-31T23:59:59.999Z"},
      {MS_10000, "10000-01-01T00:00:00.000Z"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char got[32];
    mes_time_format(cases[i].ms, got);
    assert_string_equal(got, cases[i].want);
    check(cases[i].ms);
  }
}

/* Every millisecond around the epoch and around both ends of the fixed-width
 * years, and every millisecond value 000-999 in many seconds. */
static void test_format_edges(void **state) {
  (void)state;
  static const int64_t centres[] = {0, MS_0000, MS_10000, 951782400000LL, 4107542400000LL, 946684800000LL};
  for (size_t c = 0; c < sizeof centres / sizeof centres[0]; c++)
    for (int64_t d = -5000; d <= 5000; d++)
      check(centres[c] + d);
}

/* Every day of 1600-2500 (leap years, 1900, 2000, 2100, 2400), at a time of
 * day and a millisecond that change from day to day. */
static void test_format_days(void **state) {
  (void)state;
  int64_t from = -11676096000000LL; /* 1600-01-01 */
  int64_t to = 16725225600000LL;    /* 2500-01-01 */
  for (int64_t day = from, k = 0; day < to; day += DAY_MS, k++) {
    check(day);
    check(day + (k * 7919 * 1000 + k % 1000) % DAY_MS);
    check(day - 1);
  }
}

/* The whole fixed-width range in steps that are not whole days, and wide
 * values of both signs, including years of more than four digits. */
static void test_format_wide_range(void **state) {
  (void)state;
  for (int64_t ms = MS_0000 - 3 * DAY_MS; ms < MS_10000 + 3 * DAY_MS; ms += 86399999LL * 37 + 11)
    check(ms);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 200000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int64_t span = i % 2 ? 400000000000000LL : 4000000000000000000LL; /* about +-12 000 years, and far beyond */
    check((int64_t)(x % (2 * (uint64_t)span)) - span);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_known),
      cmocka_unit_test(test_format_edges),
      cmocka_unit_test(test_format_days),
      cmocka_unit_test(test_format_wide_range),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fprintf(stderr, "%zu timestamps compared\n", n_checked);
  return rc;
}
