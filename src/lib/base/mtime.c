/* base/mtime — clocks and RFC 3339 without locale or timezone state. */
#include "base/mtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t mes_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mes_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), so no timegm/TZ dependence. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

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

static int digits(const char *s, size_t len, size_t at, size_t n, int *out) {
  if (at + n > len)
    return -1;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[at + i];
    if (c < '0' || c > '9')
      return -1;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return 0;
}

int mes_time_parse_rfc3339(const char *s, size_t len, int64_t *out_ms) {
  int Y, M, D, h, mi, sec;
  if (digits(s, len, 0, 4, &Y) || len < 20 || s[4] != '-' || digits(s, len, 5, 2, &M) || s[7] != '-' ||
      digits(s, len, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s, len, 11, 2, &h) ||
      s[13] != ':' || digits(s, len, 14, 2, &mi) || s[16] != ':' || digits(s, len, 17, 2, &sec))
    return MES_EBAD_TS;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60)
    return MES_EBAD_TS;
  int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
  if (M == 2 && D == 29 && !leap)
    return MES_EBAD_TS;
  size_t i = 19;
  int frac_ms = 0;
  if (i < len && s[i] == '.') {
    i++;
    size_t start = i;
    int scale = 100;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
      frac_ms += (s[i] - '0') * scale;
      scale /= 10;
      i++;
    }
    if (i == start || i - start > 9)
      return MES_EBAD_TS;
  }
  int64_t offset_s = 0;
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < len && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (digits(s, len, i + 1, 2, &oh) || i + 3 >= len || s[i + 3] != ':' || digits(s, len, i + 4, 2, &om) ||
        oh > 23 || om > 59)
      return MES_EBAD_TS;
    offset_s = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return MES_EBAD_TS;
  }
  if (i != len)
    return MES_EBAD_TS;
  if (sec == 60)
    sec = 59; /* a leap second is folded into the second before it */
  int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  *out_ms = secs * 1000 + frac_ms;
  return MES_OK;
}

/* Years outside 0000-9999, whose width varies: the general form. */
static void format_wide(int64_t ms, char out[32]) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int msr = (int)(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t rem = secs - days * 86400;
  int y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  /* Format into a roomy buffer: the compiler cannot prove the field widths. */
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
           (int)(rem % 60), msr);
  snprintf(out, 32, "%.31s", tmp);
}

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: between them every
 * field has a fixed width. FAST_MIN_MS is a whole number of days, so
 * counting from it gives the same seconds, days and milliseconds as floor
 * division from 1970. */
#define FAST_MIN_MS (-62167219200000LL)
#define FAST_MAX_MS 253402300799999LL

static const char two_digits[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                    "8081828384858687888990919293949596979899";

static inline void put2(char *p, unsigned v) { memcpy(p, two_digits + 2 * v, 2); }

/* Writes the digits itself: each based_on entry of a recommendation carries
 * a timestamp, and two snprintf calls were a measurable share of serving
 * one (bench/README.md). The output is byte for byte that of format_wide
 * (tests/unit/base/test_mtime.c compares them). */
void mes_time_format(int64_t ms, char out[32]) {
  if (ms < FAST_MIN_MS || ms > FAST_MAX_MS) {
    format_wide(ms, out);
    return;
  }
  uint64_t u = (uint64_t)(ms - FAST_MIN_MS);
  unsigned msr = (unsigned)(u % 1000);
  uint64_t secs = u / 1000;
  unsigned rem = (unsigned)(secs % 86400);
  /* civil_from_days in 32-bit unsigned arithmetic: counted from -0400-03-01
   * (one era before 0000-03-01) every quantity is non-negative. */
  uint32_t z = (uint32_t)(secs / 86400) + 146097 - 60; /* 0000-01-01 is 60 days before 0000-03-01 */
  uint32_t era = z / 146097;
  uint32_t doe = z - era * 146097;
  uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  uint32_t mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  unsigned y = yoe + era * 400 - 400 + (m <= 2);
  put2(out, y / 100);
  put2(out + 2, y % 100);
  out[4] = '-';
  put2(out + 5, m);
  out[7] = '-';
  put2(out + 8, d);
  out[10] = 'T';
  put2(out + 11, rem / 3600);
  out[13] = ':';
  put2(out + 14, rem / 60 % 60);
  out[16] = ':';
  put2(out + 17, rem % 60);
  out[19] = '.';
  out[20] = (char)('0' + msr / 100);
  put2(out + 21, msr % 100);
  out[23] = 'Z';
  out[24] = '\0';
}

void mes_time_format_date(int64_t ms, char out[11]) {
  char full[32];
  mes_time_format(ms, full);
  snprintf(out, 11, "%.10s", full);
}
