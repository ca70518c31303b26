/*
 * audit/stats — the statistics of audits, as pure functions: Cramér's V of a
 * contingency table and bootstrap percentile intervals of a mean.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

double mes_audit_cramers_v(const int64_t *table, size_t rows, size_t cols) {
  double n = 0;
  size_t live_r = 0, live_c = 0;
  double *rs = calloc(rows ? rows : 1, sizeof *rs), *cs = calloc(cols ? cols : 1, sizeof *cs);
  if (!rs || !cs) {
    free(rs);
    free(cs);
    return 0;
  }
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++) {
      rs[i] += (double)table[i * cols + j];
      cs[j] += (double)table[i * cols + j];
      n += (double)table[i * cols + j];
    }
  for (size_t i = 0; i < rows; i++)
    live_r += rs[i] > 0;
  for (size_t j = 0; j < cols; j++)
    live_c += cs[j] > 0;
  double v = 0;
  if (live_r >= 2 && live_c >= 2 && n > 0) {
    double chi2 = 0;
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++) {
        if (rs[i] == 0 || cs[j] == 0)
          continue;
        double expected = rs[i] * cs[j] / n, d = (double)table[i * cols + j] - expected;
        chi2 += d * d / expected;
      }
    size_t k = live_r < live_c ? live_r : live_c;
    v = sqrt(chi2 / (n * (double)(k - 1)));
    if (v > 1)
      v = 1; /* rounding */
  }
  free(rs);
  free(cs);
  return v;
}

/* splitmix64: small, fast, and the same sequence on every platform. */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void mes_audit_bootstrap(const double *x, size_t n, int resamples, uint64_t seed, double *mean, double *lo,
                         double *hi) {
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += x[i];
  *mean = n ? sum / (double)n : 0;
  *lo = *hi = *mean;
  if (resamples <= 0 || n < 2)
    return;
  double *means = malloc((size_t)resamples * sizeof *means);
  if (!means)
    return; /* the interval collapses to the mean rather than failing the audit */
  uint64_t s = seed;
  for (int b = 0; b < resamples; b++) {
    double t = 0;
    for (size_t i = 0; i < n; i++)
      t += x[next(&s) % n];
    means[b] = t / (double)n;
  }
  qsort(means, (size_t)resamples, sizeof *means, by_value);
  size_t i_lo = (size_t)floor(0.025 * (resamples - 1)), i_hi = (size_t)ceil(0.975 * (resamples - 1));
  *lo = means[i_lo];
  *hi = means[i_hi];
  free(means);
}
