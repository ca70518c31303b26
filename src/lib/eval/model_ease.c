/*
 * eval/model_ease — EASE (Steck, WWW 2019) and the default model built on it.
 *
 * EASE: P = (XᵀX + λI)⁻¹, B(i,j) = −P(i,j) / P(j,j), B(j,j) = 0, scores Q·B.
 * Since B = I − P·D⁻¹ (D = diag P), scores are Q − (Q·P)·D⁻¹, which allows two
 * ways of getting there:
 *
 *   item space  P itself, by Cholesky (dpotrf + dpotri) of the n x n matrix
 *               XᵀX + λI, then one dgemm per block of users;
 *   user space  Woodbury: P = (I − Xᵀ K X) / λ with K = (XXᵀ + λI)⁻¹, an
 *               m x m inverse for m training users, so that
 *               Q·P = (Q − ((Q Xᵀ) K) X) / λ and P(j,j) = (1 − x_jᵀ K x_j) / λ.
 *
 * They agree up to rounding; the user space one is much cheaper when users
 * are fewer than items (ml-latest-small: 610 users, 5,299 items).
 */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"

struct ease {
  bool user_space;
  size_t n, m; /* items; training users (user space only) */
  double *b;   /* item space: B, n x n */
  double *x;   /* user space: X of the active users, m x n */
  double *k;   /* user space: K, m x m */
  double *inv_d; /* user space: 1 / (λ P(j,j)) = 1 / (1 − x_jᵀ K x_j), n */
};

void mes__ease_free(void *state) {
  struct ease *e = state;
  if (!e)
    return;
  free(e->b);
  free(e->x);
  free(e->k);
  free(e->inv_d);
  free(e);
}

/* Inverse of the symmetric positive definite a (n x n) in place, both
 * triangles filled. */
static int spd_inverse(double *a, size_t n, struct mes_err *err) {
  lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
  if (info == 0)
    info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, a, (lapack_int)n);
  if (info != 0)
    return mes_err_set(err, MES_EINTERNAL, NULL, "LAPACK could not invert the Gram matrix (info %d)", (int)info);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++)
      a[i * n + j] = a[j * n + i];
  return MES_OK;
}

static int fit_item_space(struct ease *e, const struct mes__train *t, double lambda, struct mes_err *err) {
  size_t n = t->n_items;
  e->b = mes__alloc(n * n, sizeof *e->b);
  if (!e->b)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes__gram_items(t, e->b, err);
  if (rc)
    return rc;
  for (size_t i = 0; i < n; i++)
    e->b[i * n + i] += lambda;
  if ((rc = spd_inverse(e->b, n, err)))
    return rc;
  double *inv = mes__alloc(n, sizeof *inv);
  if (!inv)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t j = 0; j < n; j++)
    inv[j] = -1.0 / e->b[j * n + j];
  for (size_t i = 0; i < n; i++) {
    double *row = e->b + i * n;
    for (size_t j = 0; j < n; j++)
      row[j] *= inv[j];
    row[i] = 0.0;
  }
  free(inv);
  return MES_OK;
}

static int fit_user_space(struct ease *e, const struct mes__train *t, double lambda, struct mes_err *err) {
  size_t n = t->n_items, m = t->n_active;
  e->m = m;
  e->x = mes__zalloc(m * n, sizeof *e->x);
  e->k = mes__zalloc(m * m, sizeof *e->k);
  e->inv_d = mes__alloc(n, sizeof *e->inv_d);
  double *kx = mes__alloc(m * n, sizeof *kx);
  if (!e->x || !e->k || !e->inv_d || !kx) {
    free(kx);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  for (size_t r = 0; r < m; r++) {
    uint32_t u = t->active[r];
    for (size_t q = t->off[u]; q < t->off[u + 1]; q++)
      e->x[r * n + t->item[q]] = 1.0;
  }
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)m, (int)n, 1.0, e->x, (int)n, 0.0, e->k, (int)m);
  for (size_t r = 0; r < m; r++)
    e->k[r * m + r] += lambda;
  int rc = spd_inverse(e->k, m, err);
  if (rc) {
    free(kx);
    return rc;
  }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)m, 1.0, e->k, (int)m, e->x, (int)n, 0.0,
              kx, (int)n);
  for (size_t j = 0; j < n; j++)
    e->inv_d[j] = 0.0;
  for (size_t r = 0; r < m; r++)
    for (size_t j = 0; j < n; j++)
      e->inv_d[j] += e->x[r * n + j] * kx[r * n + j];
  for (size_t j = 0; j < n; j++)
    e->inv_d[j] = 1.0 / (1.0 - e->inv_d[j]);
  free(kx);
  return MES_OK;
}

int mes__ease_fit(const struct mes__train *t, double lambda, enum mes_eval_solver solver, void **state,
                  struct mes_err *err) {
  struct ease *e = calloc(1, sizeof *e);
  if (!e)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  e->n = t->n_items;
  if (solver == MES_EVAL_SOLVER_AUTO)
    solver = t->n_active < t->n_items ? MES_EVAL_SOLVER_USER_SPACE : MES_EVAL_SOLVER_ITEM_SPACE;
  e->user_space = solver == MES_EVAL_SOLVER_USER_SPACE;
  int rc = e->user_space ? fit_user_space(e, t, lambda, err) : fit_item_space(e, t, lambda, err);
  if (rc) {
    mes__ease_free(e);
    return rc;
  }
  *state = e;
  return MES_OK;
}

int mes__ease_score(void *state, const struct mes__train *t, const double *q, size_t n_q, double *out,
                    struct mes_err *err) {
  const struct ease *e = state;
  size_t n = e->n, m = e->m;
  if (!e->user_space) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_q, (int)n, (int)n, 1.0, q, (int)n, e->b, (int)n, 0.0,
                out, (int)n);
    return MES_OK;
  }
  double *t1 = mes__alloc(n_q * m, sizeof *t1);
  double *t2 = mes__alloc(n_q * m, sizeof *t2);
  if (!t1 || !t2) {
    free(t1);
    free(t2);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  /* out = Q − ((Q Xᵀ) K) X, that is λ·Q·P */
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_q, (int)m, (int)n, 1.0, q, (int)n, e->x, (int)n, 0.0, t1,
              (int)m);
  cblas_dsymm(CblasRowMajor, CblasRight, CblasLower, (int)n_q, (int)m, 1.0, e->k, (int)m, t1, (int)m, 0.0, t2, (int)m);
  memcpy(out, q, n_q * n * sizeof *out);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_q, (int)n, (int)m, -1.0, t2, (int)m, e->x, (int)n, 1.0,
              out, (int)n);
  /* scores = Q − (Q·P)·D⁻¹ */
  for (size_t r = 0; r < n_q; r++)
    for (size_t j = 0; j < n; j++)
      out[r * n + j] = q[r * n + j] - out[r * n + j] * e->inv_d[j];
  free(t1);
  free(t2);
  return MES_OK;
}

/* ---- EASE ---------------------------------------------------------------- */

static int ease_fit(const struct mes__train *t, const double *hp, enum mes_eval_solver solver, void **state,
                    struct mes_err *err) {
  return mes__ease_fit(t, hp[0], solver, state, err);
}

/* Scores through a binary profile block built here. */
static int ease_score(void *state, const struct mes__train *t, const double *hp, const uint32_t *users, size_t n,
                      double *out, struct mes_err *err) {
  (void)hp;
  double *q = mes__alloc(n * t->n_items, sizeof *q);
  if (!q)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  mes__profile(t, users, n, q);
  int rc = mes__ease_score(state, t, q, n, out, err);
  free(q);
  return rc;
}

static const double ease_grid[] = {10, 50, 100, 200, 500, 1000, 3000};

const struct mes__model mes__model_ease = {
    .name = "ease",
    .n_hp = 1,
    .n_fit_hp = 1,
    .hp_name = {"lambda"},
    .n_grid = sizeof ease_grid / sizeof ease_grid[0],
    .grid = ease_grid,
    .fit = ease_fit,
    .score = ease_score,
    .free = mes__ease_free,
};
