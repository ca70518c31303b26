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
    return NAN;
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

int mes_audit_bootstrap(const double *x, size_t n, int resamples, uint64_t seed, double *mean, double *lo,
                        double *hi) {
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += x[i];
  *mean = n ? sum / (double)n : 0;
  *lo = *hi = *mean;
  if (resamples <= 0 || n < 2)
    return MES_OK;
  double *means = malloc((size_t)resamples * sizeof *means);
  if (!means)
    return MES_ENOMEM;
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
  return MES_OK;
}

int mes_audit_bootstrap_ratio(const double *const *x, const size_t *n, size_t groups, int resamples, uint64_t seed,
                              double *lo, double *hi) {
  double lo_m = INFINITY, hi_m = -INFINITY;
  for (size_t g = 0; g < groups; g++) {
    double s = 0;
    for (size_t i = 0; i < n[g]; i++)
      s += x[g][i];
    double m = n[g] ? s / (double)n[g] : 0;
    lo_m = fmin(lo_m, m);
    hi_m = fmax(hi_m, m);
  }
  *lo = *hi = hi_m > 0 ? lo_m / hi_m : 0;
  if (resamples <= 0 || groups < 2)
    return MES_OK;
  double *ratios = malloc((size_t)resamples * sizeof *ratios);
  if (!ratios)
    return MES_ENOMEM;
  uint64_t s = seed;
  int kept = 0;
  for (int b = 0; b < resamples; b++) {
    double lo_b = INFINITY, hi_b = -INFINITY;
    for (size_t g = 0; g < groups; g++) {
      double t = 0;
      for (size_t i = 0; i < n[g]; i++)
        t += x[g][next(&s) % n[g]];
      double m = n[g] ? t / (double)n[g] : 0;
      lo_b = fmin(lo_b, m);
      hi_b = fmax(hi_b, m);
    }
    if (hi_b > 0) /* a resample where nobody got any says nothing of the ratio */
      ratios[kept++] = lo_b / hi_b;
  }
  if (kept > 0) {
    qsort(ratios, (size_t)kept, sizeof *ratios, by_value);
    *lo = ratios[(size_t)floor(0.025 * (kept - 1))];
    *hi = ratios[(size_t)ceil(0.975 * (kept - 1))];
  }
  free(ratios);
  return MES_OK;
}

double mes_audit_gini(const double *x, size_t n, size_t n_zero) {
  size_t total = n + n_zero;
  if (total == 0)
    return 0;
  double *v = malloc((n ? n : 1) * sizeof *v);
  if (!v)
    return NAN;
  memcpy(v, x, n * sizeof *v);
  qsort(v, n, sizeof *v, by_value);
  /* Sorted ascending, the zeros first: G = sum (2i - N - 1) x_i / (N sum x), i = 1..N. */
  double sum = 0, weighted = 0;
  for (size_t i = 0; i < n; i++) {
    double rank = (double)(n_zero + i + 1);
    sum += v[i];
    weighted += (2.0 * rank - (double)total - 1.0) * v[i];
  }
  free(v);
  return sum > 0 ? weighted / ((double)total * sum) : 0;
}

double mes_audit_quantile(const double *sorted, size_t n, double p) {
  if (n == 0)
    return NAN;
  double r = ceil(p * (double)n);
  size_t k = r < 1 ? 0 : (size_t)r - 1;
  return sorted[k < n ? k : n - 1];
}
