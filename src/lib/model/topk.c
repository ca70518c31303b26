/*
 * model/topk — the two helpers every relation uses: keep the k heaviest
 * neighbours of a row, and build all rows of a relation on several threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

/* a ranks before b: heavier, then the smaller index (a stable answer). */
static bool before(const struct mes_nbr *a, const struct mes_nbr *b) {
  return a->w > b->w || (a->w == b->w && a->item < b->item);
}

/* Min-heap on "before": the root is the weakest kept neighbour. */
static void sift_down(struct mes_nbr *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(&h[m], &h[l]))
      m = l;
    if (r < n && before(&h[m], &h[r]))
      m = r;
    if (m == i)
      return;
    struct mes_nbr t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static int cmp_nbr(const void *x, const void *y) {
  const struct mes_nbr *a = x, *b = y;
  return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

size_t mes__topk(const uint32_t *items, const float *w, size_t n, size_t k, struct mes_nbr *out) {
  size_t m = 0;
  if (k == 0)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (!(w[i] > 0) || !isfinite(w[i])) /* also drops NaN; an infinite weight is a bug upstream, never a neighbour */
      continue;
    struct mes_nbr c = {items ? items[i] : (uint32_t)i, w[i]};
    if (m < k) {
      out[m++] = c;
      if (m == k)
        for (size_t j = k / 2 + 1; j-- > 0;)
          sift_down(out, m, j);
    } else if (before(&c, &out[0])) {
      out[0] = c;
      sift_down(out, m, 0);
    }
  }
  qsort(out, m, sizeof *out, cmp_nbr);
  return m;
}

void mes__csr_release(struct mes__csr *r) {
  if (!r)
    return;
  free(r->off);
  free(r->nb);
  memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- parallel rows */

struct worker {
  struct par *par;
  int index;
  struct mes_nbr *buf; /* rows this worker built, one after the other */
  size_t len, cap;
  int rc;
  pthread_t th;
};

struct par {
  size_t n_rows, k;
  mes__row_fn fn;
  void *ctx;
  atomic_size_t next;
  atomic_int failed;
  uint32_t *row_n;     /* neighbours of each row */
  uint8_t *row_worker; /* who built it */
  size_t *row_at;      /* where in that worker's buffer */
};

#define CHUNK 32 /* rows taken at a time: cheap to hand out, fine enough to balance */

static void *work(void *arg) {
  struct worker *w = arg;
  struct par *p = w->par;
  for (;;) {
    size_t lo = atomic_fetch_add(&p->next, CHUNK);
    if (lo >= p->n_rows || atomic_load(&p->failed))
      break;
    size_t hi = lo + CHUNK < p->n_rows ? lo + CHUNK : p->n_rows;
    for (size_t r = lo; r < hi; r++) {
      if (w->len + p->k > w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 4096;
        while (ncap < w->len + p->k)
          ncap *= 2;
        struct mes_nbr *nb = realloc(w->buf, ncap * sizeof *nb);
        if (!nb) {
          w->rc = MES_ENOMEM;
          atomic_store(&p->failed, 1);
          return NULL;
        }
        w->buf = nb;
        w->cap = ncap;
      }
      long got = p->fn(p->ctx, w->index, (uint32_t)r, w->buf + w->len);
      if (got < 0) {
        w->rc = MES_ENOMEM;
        atomic_store(&p->failed, 1);
        return NULL;
      }
      p->row_n[r] = (uint32_t)got;
      p->row_worker[r] = (uint8_t)w->index;
      p->row_at[r] = w->len;
      w->len += (size_t)got;
    }
  }
  return NULL;
}

int mes__rows_parallel(size_t n_rows, size_t k, int threads, mes__row_fn fn, void *ctx, struct mes__csr *out) {
  memset(out, 0, sizeof *out);
  if (threads < 1)
    threads = 1;
  if (threads > 64)
    threads = 64;
  struct par p = {.n_rows = n_rows, .k = k, .fn = fn, .ctx = ctx};
  atomic_init(&p.next, 0);
  atomic_init(&p.failed, 0);
  struct worker *w = calloc((size_t)threads, sizeof *w);
  p.row_n = calloc(n_rows + 1, sizeof *p.row_n);
  p.row_worker = calloc(n_rows + 1, 1);
  p.row_at = calloc(n_rows + 1, sizeof *p.row_at);
  out->off = calloc(n_rows + 1, sizeof *out->off);
  int rc = MES_OK;
  if (!w || !p.row_n || !p.row_worker || !p.row_at || !out->off) {
    rc = MES_ENOMEM;
    goto done;
  }
  int started = 0;
  for (int t = 0; t < threads; t++) {
    w[t].par = &p;
    w[t].index = t;
    if (t == 0)
      continue; /* worker 0 is this thread */
    if (pthread_create(&w[t].th, NULL, work, &w[t]) != 0)
      break;
    started = t;
  }
  work(&w[0]);
  for (int t = 1; t <= started; t++)
    pthread_join(w[t].th, NULL);
  for (int t = 0; t <= started; t++)
    if (w[t].rc)
      rc = w[t].rc;
  if (rc)
    goto done;
  size_t total = 0;
  for (size_t r = 0; r < n_rows; r++) {
    out->off[r] = (uint32_t)total;
    total += p.row_n[r];
  }
  out->off[n_rows] = (uint32_t)total;
  out->n_nb = total;
  out->nb = malloc((total ? total : 1) * sizeof *out->nb);
  if (!out->nb) {
    rc = MES_ENOMEM;
    goto done;
  }
  for (size_t r = 0; r < n_rows; r++)
    if (p.row_n[r])
      memcpy(out->nb + out->off[r], w[p.row_worker[r]].buf + p.row_at[r], p.row_n[r] * sizeof *out->nb);
done:
  if (w)
    for (int t = 0; t < threads; t++)
      free(w[t].buf);
  free(w);
  free(p.row_n);
  free(p.row_worker);
  free(p.row_at);
  if (rc)
    mes__csr_release(out);
  return rc;
}
