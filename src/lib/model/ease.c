/*
 * model/ease — EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse
 * Data", WWW 2019): the item-item weight matrix B that best rebuilds each
 * person's row x from the other items, in closed form:
 *
 *   P = (XᵀX + λI)⁻¹,   B(i,j) = −P(i,j) / P(j,j),   B(j,j) = 0,
 *
 * and a person's score of j is Σ_h x_h B(h, j): a sum over their own
 * history items, as every personal score in mesura is. Row h of B is the
 * relation h -> candidates, sparsified to its max_neighbors largest
 * positive weights (negative weights say "people with h do not take j";
 * recommendations only add).
 *
 * X(person, item) is the strongest evidence the person gave of the item:
 * the kind's weight relative to a purchase, times the time decay. The Gram
 * matrix is built sparsely, person by person, on p->threads threads that
 * each own a band of rows; the solve is LAPACK's Cholesky in single
 * precision (spotrf + spotri), in place: n² floats, nothing else of that
 * size.
 *
 * A model that can unlearn (model/unlearn.c) keeps P and updates it when a
 * person leaves (Sherman–Morrison). Then the Gram matrix and the solve are
 * in double precision (n² doubles, twice the memory and about twice the
 * time): a single-precision solve is accurate relative to P's largest
 * entries, not to each weight, so on a row's weaker weights a retrain and
 * an update would differ by the solve's rounding (an estimated 1e-3
 * relative), beyond the 1e-4 unlearning promises; in double precision they
 * agree to the last float bit but for rare roundings.
 *
 * Why not src/lib/eval/model_ease.c: the evaluator solves in double precision
 * over its own split data and keeps B dense for ranking whole catalogues;
 * here the input is the store's weighted events, the precision single (half
 * the memory and twice the speed at 20,000 items, and the sparsified top
 * weights do not move), and the output sparse. What they share is two
 * LAPACK calls.
 */
#include <lapacke.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

size_t mes__ease_bytes(size_t n) { return n * n * sizeof(float) + n * 64; }
size_t mes__ease_keep_bytes(size_t n) { return n * n * sizeof(double) + n * 64; }

void mes__ease_kw(const float kw[MES_KIND_N], float kw_rel[MES_KIND_N]) {
  float top = kw[MES_KIND_PURCHASE] > 0 ? kw[MES_KIND_PURCHASE] : 1.0f;
  for (int k = 0; k < MES_KIND_N; k++)
    kw_rel[k] = kw[k] / top;
}

/* ---------------------------------------------------------------- Gram matrix */

struct gram {
  const struct mes__data *d;
  const int32_t *eidx; /* global item -> EASE index, -1 when not in EASE */
  float *g;
  double *gd; /* instead of g, for a model that keeps P */
  size_t n;
  float kw[MES_KIND_N]; /* relative to a purchase */
  double now_s, hl;
  int threads;
};

struct gram_worker {
  struct gram *gr;
  size_t lo, hi; /* rows of g this worker owns */
  int rc;
  pthread_t th;
};

static void *gram_work(void *arg) {
  struct gram_worker *w = arg;
  const struct gram *gr = w->gr;
  const struct mes__data *d = gr->d;
  size_t n = gr->n;
  uint32_t *stamp = calloc(n, sizeof *stamp);
  float *x = malloc(n * sizeof *x);
  uint32_t *list = malloc(n * sizeof *list);
  if (!stamp || !x || !list) {
    w->rc = MES_ENOMEM;
    goto out;
  }
  for (size_t s = 0; s < d->n_subj; s++) {
    uint32_t mark = (uint32_t)s + 1, m = 0;
    for (uint32_t e = d->subj_off[s]; e < d->subj_off[s + 1]; e++) {
      int32_t i = gr->eidx[d->ev[e].ik & MES__ITEM_MASK];
      if (i < 0)
        continue;
      float v = mes__ease_value(gr->kw, gr->now_s, gr->hl, &d->ev[e]);
      if (stamp[i] != mark) {
        stamp[i] = mark;
        x[i] = v;
        list[m++] = (uint32_t)i;
      } else if (v > x[i]) {
        x[i] = v;
      }
    }
    for (uint32_t a = 0; a < m; a++) {
      uint32_t i = list[a];
      if (i < w->lo || i >= w->hi)
        continue;
      if (gr->gd) { /* float products are exact in double: only the sums round */
        double *row = gr->gd + (size_t)i * n, xi = x[i];
        for (uint32_t b = 0; b < m; b++)
          row[list[b]] += xi * (double)x[list[b]];
        continue;
      }
      float *row = gr->g + (size_t)i * n, xi = x[i];
      for (uint32_t b = 0; b < m; b++)
        row[list[b]] += xi * x[list[b]];
    }
  }
out:
  free(stamp);
  free(x);
  free(list);
  return NULL;
}

static int gram_build(struct gram *gr) {
  int T = gr->threads;
  struct gram_worker w[64];
  bool started[64] = {false};
  memset(w, 0, sizeof w);
  for (int t = 0; t < T; t++) {
    w[t].gr = gr;
    w[t].lo = gr->n * (size_t)t / (size_t)T;
    w[t].hi = gr->n * (size_t)(t + 1) / (size_t)T;
    if (t > 0)
      started[t] = pthread_create(&w[t].th, NULL, gram_work, &w[t]) == 0;
  }
  gram_work(&w[0]);
  int rc = w[0].rc;
  for (int t = 1; t < T; t++) {
    if (started[t])
      pthread_join(w[t].th, NULL);
    else
      gram_work(&w[t]); /* a band whose thread did not start: do it here */
    if (w[t].rc)
      rc = w[t].rc;
  }
  return rc;
}

/* ---------------------------------------------------------------- the solve */

int mes__ease_solve(float *g, size_t n, struct mes_err *err) {
  if (n == 0)
    return MES_OK;
  /* g is symmetric, so its row-major layout is also its column-major one:
   * LAPACK works on it in place, with no transposed copy. The inverse comes
   * back in the column-major lower triangle, that is row-major upper. */
  lapack_int info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)n, g, (lapack_int)n);
  if (info == 0)
    info = LAPACKE_spotri(LAPACK_COL_MAJOR, 'L', (lapack_int)n, g, (lapack_int)n);
  if (info != 0)
    return mes_err_set(err, MES_EINTERNAL, NULL, "LAPACK could not invert the item Gram matrix (info %d).",
                       (int)info);
  /* Mirror the upper triangle into the lower one, in cache-sized blocks. */
  enum { BS = 64 };
  for (size_t ib = 0; ib < n; ib += BS)
    for (size_t jb = 0; jb <= ib; jb += BS) {
      size_t ie = ib + BS < n ? ib + BS : n, je = jb + BS < n ? jb + BS : n;
      for (size_t i = ib; i < ie; i++)
        for (size_t j = jb; j < je && j < i; j++)
          g[i * n + j] = g[j * n + i];
    }
  float *inv = malloc(n * sizeof *inv);
  if (!inv)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t j = 0; j < n; j++)
    inv[j] = g[j * n + j] != 0 ? -1.0f / g[j * n + j] : 0.0f;
  for (size_t i = 0; i < n; i++) {
    float *row = g + i * n;
    for (size_t j = 0; j < n; j++)
      row[j] *= inv[j];
    row[i] = 0.0f;
  }
  free(inv);
  return MES_OK;
}

/* ---------------------------------------------------------------- sparsify */

struct sparse {
  const float *b;
  size_t n, k;
  const uint32_t *items; /* EASE index -> global item */
};

static long sparse_row(void *ctx, int worker, uint32_t r, struct mes_nbr *out) {
  const struct sparse *s = ctx;
  return (long)mes__topk(s->items, s->b + (size_t)r * s->n, s->n, s->k, out);
}

/* Weights below this fraction of their row's strongest are dropped: far
 * below anything a single-precision score can tell apart, and where the
 * zeros of exact arithmetic (two items nobody links) show up as rounding
 * residue after an unlearning update. */
#define EASE_FLOOR 1e-9

struct drows {
  const double *P;
  size_t n, k;
  const uint32_t *items;
  const uint8_t *skip;
  const double *inv; /* -1 / P(j,j), 0 for skipped j */
  float *w;          /* n per worker */
};

static long drow(void *ctx, int worker, uint32_t r, struct mes_nbr *out) {
  const struct drows *s = ctx;
  if (s->skip && s->skip[r])
    return 0;
  const double *row = s->P + (size_t)r * s->n;
  float *w = s->w + (size_t)worker * s->n, top = 0;
  for (size_t j = 0; j < s->n; j++) {
    w[j] = (float)(row[j] * s->inv[j]);
    if (w[j] > top && j != r)
      top = w[j];
  }
  w[r] = 0.0f;
  float least = (float)(top * EASE_FLOOR);
  for (size_t j = 0; j < s->n; j++)
    if (w[j] <= least)
      w[j] = 0.0f;
  return (long)mes__topk(s->items, w, s->n, s->k, out);
}

int mes__ease_rows(const double *P, size_t n, const uint32_t *items, const uint8_t *skip, size_t k, int threads,
                   struct mes__csr *out) {
  memset(out, 0, sizeof *out);
  threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  double *inv = malloc((n ? n : 1) * sizeof *inv);
  float *w = malloc((n ? n : 1) * (size_t)threads * sizeof *w);
  int rc = MES_ENOMEM;
  if (inv && w) {
    for (size_t j = 0; j < n; j++)
      inv[j] = (skip && skip[j]) || P[j * n + j] == 0 ? 0.0 : -1.0 / P[j * n + j];
    struct drows s = {.P = P, .n = n, .k = k, .items = items, .skip = skip, .inv = inv, .w = w};
    rc = mes__rows_parallel(n, k, threads, drow, &s, out);
  }
  free(inv);
  free(w);
  return rc;
}

/* The inverse in double precision, in place (g symmetric positive definite). */
static int inverse_d(double *g, size_t n, struct mes_err *err) {
  if (n == 0)
    return MES_OK;
  lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)n, g, (lapack_int)n);
  if (info == 0)
    info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', (lapack_int)n, g, (lapack_int)n);
  if (info != 0)
    return mes_err_set(err, MES_EINTERNAL, NULL, "LAPACK could not invert the item Gram matrix (info %d).",
                       (int)info);
  enum { BS = 64 };
  for (size_t ib = 0; ib < n; ib += BS)
    for (size_t jb = 0; jb <= ib; jb += BS) {
      size_t ie = ib + BS < n ? ib + BS : n, je = jb + BS < n ? jb + BS : n;
      for (size_t i = ib; i < ie; i++)
        for (size_t j = jb; j < je && j < i; j++)
          g[i * n + j] = g[j * n + i];
    }
  return MES_OK;
}

int mes__ease(const struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
              int64_t now_ms, const uint32_t *items, size_t n, struct mes__csr *out, double **keep_p,
              struct mes_err *err) {
  if (keep_p)
    *keep_p = NULL;
  memset(out, 0, sizeof *out);
  int threads = p->threads < 1 ? 1 : p->threads > 64 ? 64 : p->threads;
  if (n > 46340) /* n² must fit LAPACK's 32-bit sizes */
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "EASE is limited to 46,340 items.");
  int32_t *eidx = malloc((d->n_items ? d->n_items : 1) * sizeof *eidx);
  float *g = n && !keep_p ? calloc(n * n, sizeof *g) : NULL;
  double *gd = n && keep_p ? calloc(n * n, sizeof *gd) : NULL;
  struct mes__csr rows = {0};
  int rc = MES_OK;
  if (!eidx || (n && !g && !gd)) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, "Not enough memory for EASE over %zu items.", n);
    goto done;
  }
  for (size_t i = 0; i < d->n_items; i++)
    eidx[i] = -1;
  for (size_t e = 0; e < n; e++)
    eidx[items[e]] = (int32_t)e;
  struct gram gr = {.d = d, .eidx = eidx, .g = g, .gd = gd, .n = n, .now_s = (double)now_ms / 1000.0,
                    .hl = p->relation_half_life_days * 86400.0, .threads = threads};
  mes__ease_kw(kw, gr.kw);
  if (n && (rc = gram_build(&gr)) != MES_OK) {
    mes_err_set(err, rc, NULL, "Out of memory while building the EASE Gram matrix.");
    goto done;
  }
  size_t k = p->max_neighbors > 0 ? (size_t)p->max_neighbors : 0;
  if (gd) {
    for (size_t i = 0; i < n; i++)
      gd[i * n + i] += p->ease_lambda;
    if ((rc = inverse_d(gd, n, err)) != MES_OK)
      goto done;
    rc = mes__ease_rows(gd, n, items, NULL, k, threads, &rows);
  } else {
    for (size_t i = 0; i < n; i++)
      g[i * n + i] += (float)p->ease_lambda;
    if ((rc = mes__ease_solve(g, n, err)) != MES_OK)
      goto done;
    struct sparse sp = {.b = g, .n = n, .k = k, .items = items};
    rc = mes__rows_parallel(n, sp.k, threads, sparse_row, &sp, &rows);
  }
  if (rc != MES_OK) {
    mes_err_set(err, rc, NULL, "Out of memory while sparsifying EASE.");
    goto done;
  }
  /* From rows over EASE indexes to rows over every item. */
  out->off = calloc(d->n_items + 1, sizeof *out->off);
  if (!out->off) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  for (size_t i = 0; i < d->n_items; i++) {
    int32_t e = eidx[i];
    out->off[i + 1] = out->off[i] + (e >= 0 ? rows.off[e + 1] - rows.off[e] : 0);
  }
  out->n_nb = rows.n_nb;
  out->nb = malloc((rows.n_nb ? rows.n_nb : 1) * sizeof *out->nb);
  if (!out->nb) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  for (size_t i = 0; i < d->n_items; i++) {
    int32_t e = eidx[i];
    if (e >= 0 && rows.off[e + 1] > rows.off[e])
      memcpy(out->nb + out->off[i], rows.nb + rows.off[e], (rows.off[e + 1] - rows.off[e]) * sizeof *out->nb);
  }
done:
  mes__csr_release(&rows);
  free(g);
  if (!rc && keep_p)
    *keep_p = gd;
  else
    free(gd);
  free(eidx);
  if (rc)
    mes__csr_release(out);
  return rc;
}
