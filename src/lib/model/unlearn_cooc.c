/*
 * model/unlearn_cooc — one co-occurrence relation without a person (or one
 * of their events), decided from the kept rows and counted again only where
 * they cannot decide (see "co-occurrence" below and bench/README.md).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/unlearn_int.h"

/* ---------------------------------------------------------------- co-occurrence */

/*
 * A relation without person p (or without one of p's events), from what the
 * model keeps (struct mes__cooc_kept) rather than by counting rows again.
 * C(a, b) and N(x) are sums of integers (cooc.c), so p's part can be taken
 * off exactly: p's own timeline gives p's evidence of every pair and item
 * before and after (their events within the span of each other: at most 64
 * pairs an event). Then, with W(a, b) = g(C) / sqrt(N(a) N(b)), g increasing
 * and W symmetric:
 *   - a kept neighbour's new weight is computed exactly from its kept count;
 *   - a neighbour b not kept in row a weighed at most bound(a) and, as p's
 *     removal only lowers C and N, now weighs at most
 *     bound(a) f(a) f(b), f(x) = sqrt(N(x) / N'(x)), f = 1 where N did not
 *     move; and when a is not kept in row b either, at most
 *     min(bound(a), bound(b)) f(a) f(b). Rare items keep every neighbour
 *     (bound 0), so only items whose rows were cut (popular ones, where one
 *     person moves N by little) widen anyone's bound;
 *   - row b's kept count of a is also row a's count of b (C is symmetric):
 *     rows learn their raised entries from the kept rows of p's items.
 * Row a's new top k is decided when its k-th weight still exceeds its new
 * bound (every unknown neighbour ranks below it); the rows where it does
 * not, and those where forgetting one event made a pair appear whose count
 * nobody kept, are counted again in full (cooc.c, as training does), which
 * also renews their kept neighbours and bound. The bound only widens until
 * then: a row's margin wears down over many removals and is restored by its
 * next recount.
 */

#define BOUND_SLACK 1e-5 /* over float rounding of the weights (~1e-7 relative) */
#define MOVED 1          /* an item's N moved */
#define GONE 2           /* ... to 0: it left the relation */

/* p's evidence of each pair (a, b), a != b, and of each item x (key (x, x)),
 * before (vb) and after (va) the events are forgotten: the largest one, as
 * mes__cooc_counts and mes__cooc_norm take it. Open addressing on the key. */
struct ptab {
  uint64_t *key; /* EMPTY_KEY: free */
  float *vb, *va;
  size_t cap; /* a power of 2 */
};
#define EMPTY_KEY UINT64_MAX

static int ptab_init(struct ptab *t, size_t n_ev) {
  size_t want = 2 * (n_ev * (2 * MES__COOC_SPAN + 1)) + 16, cap = 16;
  while (cap < want)
    cap *= 2;
  t->cap = cap;
  t->key = malloc(cap * sizeof *t->key);
  t->vb = calloc(cap, sizeof *t->vb);
  t->va = calloc(cap, sizeof *t->va);
  if (!t->key || !t->vb || !t->va)
    return MES_ENOMEM;
  memset(t->key, 0xff, cap * sizeof *t->key);
  return MES_OK;
}

static void ptab_release(struct ptab *t) {
  free(t->key);
  free(t->vb);
  free(t->va);
  memset(t, 0, sizeof *t);
}

static size_t ptab_slot(const struct ptab *t, uint64_t key) {
  size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (t->cap - 1);
  while (t->key[i] != EMPTY_KEY && t->key[i] != key)
    i = (i + 1) & (t->cap - 1);
  return i;
}

static void ptab_max(struct ptab *t, uint32_t a, uint32_t b, bool after, float v) {
  uint64_t key = (uint64_t)a << 32 | b;
  size_t i = ptab_slot(t, key);
  t->key[i] = key;
  float *slot = after ? &t->va[i] : &t->vb[i];
  if (v > *slot)
    *slot = v;
}

/* p's timeline in relation c (subject s), with the marks as they stand. */
static void person_pairs(const struct mes__cooc_index *c, uint32_t s, struct ptab *t, bool after) {
  uint32_t lo = c->s_off[s], hi = c->s_off[s + 1];
  for (uint32_t p = lo; p < hi; p++) {
    const struct mes__rev *ea = &c->r[p];
    if (ea->s <= 0)
      continue;
    ptab_max(t, ea->item, ea->item, after, ea->s * ea->dec);
    int span = 0; /* the very walk of mes__cooc_counts */
    for (uint32_t q = p; q > lo && span < MES__COOC_SPAN;) {
      const struct mes__rev *eb = &c->r[--q];
      if (eb->s <= 0)
        continue;
      span++;
      if ((double)ea->ts - eb->ts > c->window_s)
        break;
      if (eb->item != ea->item)
        ptab_max(t, ea->item, eb->item, after, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
    }
    span = 0;
    for (uint32_t q = p + 1; q < hi && span < MES__COOC_SPAN; q++) {
      const struct mes__rev *eb = &c->r[q];
      if (eb->s <= 0)
        continue;
      span++;
      if ((double)eb->ts - ea->ts > c->window_s)
        break;
      if (eb->item != ea->item)
        ptab_max(t, ea->item, eb->item, after, ea->s * eb->s * (ea->dec > eb->dec ? ea->dec : eb->dec));
    }
  }
}

/* One entry grouped by row: row a, item b, a count or a change of count. */
struct entry {
  uint32_t a, b;
  int64_t v;
};

/* Groups n entries by row (counting sort, stable): *at receives n_rows + 1
 * offsets. */
static int group(struct entry *e, size_t n, size_t n_rows, struct entry **out, uint32_t **at) {
  *out = malloc((n ? n : 1) * sizeof **out);
  *at = calloc(n_rows + 1, sizeof **at);
  if (!*out || !*at)
    return MES_ENOMEM;
  for (size_t i = 0; i < n; i++)
    (*at)[e[i].a + 1]++;
  for (size_t r = 0; r < n_rows; r++)
    (*at)[r + 1] += (*at)[r];
  for (size_t i = 0; i < n; i++)
    (*out)[(*at)[e[i].a]++] = e[i];
  for (size_t r = n_rows; r > 0; r--)
    (*at)[r] = (*at)[r - 1];
  (*at)[0] = 0;
  return MES_OK;
}

static int entries_push(struct entry **v, size_t *n, size_t *cap, struct entry e) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 256;
    struct entry *nv = realloc(*v, nc * sizeof *nv);
    if (!nv)
      return MES_ENOMEM;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = e;
  return MES_OK;
}

/* C(b, a) as row b keeps it, or -1 when row b does not keep a. */
static int64_t kept_count(const struct mes__cooc_kept *k, uint32_t b, uint32_t a) {
  const uint32_t *it = k->item + (size_t)b * k->cap;
  for (uint32_t j = 0; j < k->len[b]; j++)
    if (it[j] == a)
      return k->c[(size_t)b * k->cap + j];
  return -1;
}

/* A bound as a float no smaller than v. */
static float bound_up(double v) {
  float f = (float)v;
  return (double)f < v ? nextafterf(f, INFINITY) : f;
}

/* Rows counted again in full on the kept threads: worker w takes rows w,
 * w + T, ... */
struct recount {
  const struct mes__cooc_index *c;
  struct mes__cooc_kept *kept;
  const uint32_t *xs;
  size_t n_x, k;
  struct mes_nbr *rows; /* n_x * k */
  size_t *row_n;        /* n_x */
  int threads;
};

struct recount_worker {
  const struct recount *r;
  int index;
  struct mes__cooc_scratch *sc;
  pthread_t th;
};

static void *recount_work(void *arg) {
  struct recount_worker *wk = arg;
  const struct recount *r = wk->r;
  for (size_t t = (size_t)wk->index; t < r->n_x; t += (size_t)r->threads)
    r->row_n[t] = mes__cooc_kept_row(r->c, wk->sc, r->xs[t], r->k, r->kept, r->rows + t * r->k);
  return NULL;
}

/* An item whose N moved: its row's bound and f. */
struct bxe {
  float b;
  double f;
};

/* A row decided from what is kept, to be written back once every row has
 * read the kept rows as they were. */
struct newrow {
  uint32_t a, n; /* row, kept entries at (item, c)[off .. off + n) */
  size_t off;
  float bound;
};

static bool ranks_before(const struct mes_nbr *x, const struct mes_nbr *y) {
  return x->w > y->w || (x->w == y->w && x->item < y->item);
}

/* Row a (neither one of p's items nor paired by p) when the only change is
 * that some neighbours' N fell, which only raises their weights. The served
 * top k (the kept row's first k, in order; the rest of the kept row, in any
 * order, ranks after them) then changes only by those: each of its k
 * entries ranks at least as high as in the old row, so its new k-th ranks at least
 * as well as the old k-th, and nothing that ranked after the old k-th and
 * did not rise can enter. The new top k: the old one with its raised
 * weights, and the raised entries that now rank before the old k-th, sorted
 * by insertion (nearly sorted already). srv: the served row (its weights are
 * read, not computed, where they did not move). sc: scratch of L + n_col
 * entries. 1: decided (the row into ch when its top k changed), 0: decide it
 * in full, -1: out of memory. */
struct quick_scratch {
  struct mes_nbr *buf;
  int64_t *bufc;
  uint32_t *tail;
  int64_t *tailc;
};

static int quick_row(const struct mes__cooc_index *c, struct mes__cooc_kept *kept, uint32_t a, size_t k,
                     const uint8_t *mv, const struct entry *col, size_t n_col, int32_t *cpos, float nb,
                     const struct mes_nbr *srv, size_t n_srv, struct quick_scratch *sc, struct changed *ch) {
  size_t L = kept->cap, len = kept->len[a];
  uint32_t *it = kept->item + (size_t)a * L;
  int64_t *ic = kept->c + (size_t)a * L;
  struct mes_nbr *buf = sc->buf;
  int64_t *bufc = sc->bufc;
  size_t kk = len < k ? len : k; /* a row may have fewer than k */
  if (k == 0 || n_srv != kk)
    return 0;
  /* With fewer than k, anything positive enters. */
  struct mes_nbr old_kth = kk == k ? (struct mes_nbr){it[k - 1], srv[k - 1].w} : (struct mes_nbr){UINT32_MAX, 0.0f};
  bool changed = false;
  size_t n = 0;
  for (size_t j = 0; j < kk; j++) {
    if (mv[it[j]] == GONE)
      return 0;
    bool up = mv[it[j]] != 0;
    changed |= up;
    buf[n] = (struct mes_nbr){it[j], up ? mes__cooc_weight(c, a, it[j], ic[j]) : srv[j].w};
    bufc[n++] = ic[j];
  }
  for (size_t j = kk; j < len; j++) {
    if (mv[it[j]] == 0)
      continue;
    if (mv[it[j]] == GONE)
      return 0;
    struct mes_nbr e = {it[j], mes__cooc_weight(c, a, it[j], ic[j])};
    if (ranks_before(&e, &old_kth)) {
      buf[n] = e;
      bufc[n++] = ic[j];
    }
  }
  for (size_t j = 0; j < len && n_col; j++)
    cpos[it[j]] = 2; /* in the kept row */
  bool lacks = false; /* raised entries the kept row lacks */
  for (size_t j = 0; j < n_col; j++) {
    if (cpos[col[j].b] == 2)
      continue;
    lacks = true;
    struct mes_nbr e = {col[j].b, mes__cooc_weight(c, a, col[j].b, col[j].v)};
    if (ranks_before(&e, &old_kth)) {
      buf[n] = e;
      bufc[n++] = col[j].v;
    }
  }
  for (size_t i = 1; i < n; i++) /* insertion: nearly sorted */
    for (size_t j = i; j > 0 && ranks_before(&buf[j], &buf[j - 1]); j--) {
      struct mes_nbr t = buf[j];
      buf[j] = buf[j - 1];
      buf[j - 1] = t;
      int64_t tc = bufc[j];
      bufc[j] = bufc[j - 1];
      bufc[j - 1] = tc;
    }
  size_t nk = n < k ? n : k;
  if (nb > 0 && !(nk == k && buf[k - 1].w > nb)) {
    for (size_t j = 0; j < len && n_col; j++)
      cpos[it[j]] = -1;
    return 0;
  }
  changed |= n > kk;
  if (changed && mes__changed_add(ch, a, buf, nk)) {
    for (size_t j = 0; j < len && n_col; j++)
      cpos[it[j]] = -1;
    return -1;
  }
  /* The kept row: the new top k first, then the rest (the entries that left
   * the top k, then the raised ones it lacked while there is room; else the
   * bound takes them). */
  float bound = nb;
  if (n > kk || lacks) {
    if (!n_col) /* the kept row is marked for the tail below */
      for (size_t j = 0; j < len; j++)
        cpos[it[j]] = 2;
    for (size_t j = 0; j < nk; j++)
      cpos[buf[j].item] = 1; /* in the new top k */
    size_t t = 0;
    for (size_t j = 0; j < len; j++)
      if (cpos[it[j]] == 2) {
        sc->tail[t] = it[j];
        sc->tailc[t++] = ic[j];
      }
    for (size_t j = 0; j < n_col; j++) {
      if (cpos[col[j].b] != -1)
        continue;
      if (nk + t < L) {
        sc->tail[t] = col[j].b;
        sc->tailc[t++] = col[j].v;
      } else {
        float w = mes__cooc_weight(c, a, col[j].b, col[j].v);
        if (w > bound)
          bound = w;
      }
    }
    for (size_t j = 0; j < nk; j++)
      cpos[buf[j].item] = -1;
    for (size_t j = 0; j < len; j++)
      cpos[it[j]] = -1;
    memcpy(it + nk, sc->tail, t * sizeof *it);
    memcpy(ic + nk, sc->tailc, t * sizeof *ic);
    kept->len[a] = (uint32_t)(nk + t);
  } else {
    for (size_t j = 0; j < len && n_col; j++)
      cpos[it[j]] = -1;
  }
  for (size_t j = 0; j < nk; j++) {
    it[j] = buf[j].item;
    ic[j] = bufc[j];
  }
  kept->bound[a] = bound;
  return 1;
}

/*
 * Relation c without the events of subject s just marked forgotten (q_dead:
 * their positions in c, n_dead; still live in c when called): c's marks,
 * norms and kept rows updated, the rows whose top k changed into ch.
 */
int mes__unlearn_cooc(struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel, struct mes__cooc_index *c,
                       struct mes__cooc_kept *kept, uint32_t s,
                       const uint32_t *q_dead, size_t n_dead, struct changed *ch, size_t *n_decided,
                       size_t *n_recounted) {
  size_t ns = c->n_items, k = u->p.max_neighbors > 0 ? (size_t)u->p.max_neighbors : 0, L = kept->cap;
  size_t n_p = c->s_off[s + 1] - c->s_off[s];
  struct ptab t = {0};
  double *f = NULL;        /* ns: f(x), 1 where N did not move, 0 where it fell to 0 */
  uint8_t *mv = NULL;      /* ns: whether N moved (MOVED, GONE: to 0), exactly, whatever f rounds to */
  uint8_t *row = NULL;     /* ns: 1 touched (entries change), 2 counted again */
  struct entry *raw = NULL, *col = NULL, *dif = NULL;
  uint32_t *col_at = NULL, *dif_at = NULL, *xs = NULL, *redo = NULL;
  size_t n_raw = 0, cap_raw = 0, n_xs = 0, n_redo = 0;
  struct bxe *bx = NULL; /* p's items whose N moved and whose rows were cut */
  double *pre = NULL, *suf = NULL;
  size_t n_bx = 0;
  int32_t *cpos = NULL;    /* ns: place of an item in the candidates of the row at hand, -1 */
  uint32_t *ci = NULL;
  int64_t *cc = NULL;
  float *cw = NULL;
  struct mes_nbr *top = NULL;
  struct newrow *nr = NULL;
  size_t n_nr = 0, n_quick = 0;
  uint32_t *nr_item = NULL;
  int64_t *nr_c = NULL;
  size_t nr_len = 0, nr_cap = 0;
  struct recount r = {0};
  struct quick_scratch qs = {0};
  int rc = MES_ENOMEM;

  if (ptab_init(&t, n_p) || !(f = malloc((ns ? ns : 1) * sizeof *f)) || !(row = calloc(ns ? ns : 1, 1)) ||
      !(mv = calloc(ns ? ns : 1, 1)) ||
      !(xs = malloc((n_p ? n_p : 1) * sizeof *xs)) || !(cpos = malloc((ns ? ns : 1) * sizeof *cpos)))
    goto done;
  /* p's evidence before and after. */
  person_pairs(c, s, &t, false);
  for (size_t i = 0; i < n_dead; i++)
    c->r[q_dead[i]].s = 0.0f;
  person_pairs(c, s, &t, true);
  for (size_t x = 0; x < ns; x++) {
    f[x] = 1.0;
    cpos[x] = -1;
  }

  /* Norms, and the pairs whose counts move (v: how much C falls). */
  for (size_t i = 0; i < t.cap; i++) {
    if (t.key[i] == EMPTY_KEY)
      continue;
    uint32_t a = (uint32_t)(t.key[i] >> 32), b = (uint32_t)t.key[i];
    int64_t d = mes__fix(t.vb[i]) - mes__fix(t.va[i]);
    if (d == 0)
      continue;
    if (a == b) {
      int64_t old = c->norm[a], now = old - d;
      f[a] = now > 0 ? sqrt((double)old / (double)now) : 0.0;
      mv[a] = now > 0 ? MOVED : GONE;
      c->norm[a] = now;
      xs[n_xs++] = a;
      row[a] = 1;
    } else {
      if (entries_push(&raw, &n_raw, &cap_raw, (struct entry){a, b, d}))
        goto done;
      row[a] = 1;
    }
  }
  if (group(raw, n_raw, ns, &dif, &dif_at))
    goto done;

  /* Raised entries: row a learns C(a, x) from row x's kept list, for each x
   * whose N moved (and is still there). Read before any row is written. */
  n_raw = 0;
  size_t want = 0;
  for (size_t i = 0; i < n_xs; i++)
    want += mv[xs[i]] == GONE ? 0 : kept->len[xs[i]];
  if (want > cap_raw) {
    struct entry *v = realloc(raw, want * sizeof *v);
    if (!v)
      goto done;
    raw = v;
    cap_raw = want;
  }
  for (size_t i = 0; i < n_xs; i++) {
    uint32_t x = xs[i];
    if (mv[x] == GONE)
      continue;
    for (uint32_t j = 0; j < kept->len[x]; j++) {
      uint32_t a = kept->item[(size_t)x * L + j];
      if (entries_push(&raw, &n_raw, &cap_raw, (struct entry){a, x, kept->c[(size_t)x * L + j]}))
        goto done;
      row[a] |= 1;
    }
  }
  if (group(raw, n_raw, ns, &col, &col_at))
    goto done;
  /* Rows that keep one of those items change too. Every kept row is read
   * (the hottest loop of a person's unlearning): without a branch per
   * entry, most rows having none. */
  for (size_t a = 0; a < ns; a++) {
    if (row[a])
      continue;
    const uint32_t *it = kept->item + a * L;
    uint8_t any = 0;
    for (uint32_t j = 0, len = kept->len[a]; j < len; j++)
      any |= mv[it[j]];
    row[a] = any != 0;
  }

  /* The bound's widening by the items whose N moved: for row a, the most of
   * min(bound(a), bound(x)) f(x) over them, from the items sorted by bound. */
  if (!(bx = malloc((n_xs ? n_xs : 1) * sizeof *bx)) || !(pre = malloc((n_xs ? n_xs : 1) * sizeof *pre)) ||
      !(suf = malloc((n_xs + 1) * sizeof *suf)))
    goto done;
  for (size_t i = 0; i < n_xs; i++)
    if (f[xs[i]] > 0 && kept->bound[xs[i]] > 0) {
      bx[n_bx].b = kept->bound[xs[i]];
      bx[n_bx++].f = f[xs[i]];
    }
  for (size_t i = 1; i < n_bx; i++) /* insertion sort by bound: a person's few hundred items */
    for (size_t j = i; j > 0 && bx[j - 1].b > bx[j].b; j--) {
      struct bxe tmp = bx[j];
      bx[j] = bx[j - 1];
      bx[j - 1] = tmp;
    }
  for (size_t i = 0; i < n_bx; i++)
    pre[i] = fmax(i ? pre[i - 1] : 0.0, (double)bx[i].b * bx[i].f);
  suf[n_bx] = 0;
  for (size_t i = n_bx; i-- > 0;)
    suf[i] = fmax(suf[i + 1], bx[i].f);

  if (!(ci = malloc((L + n_xs + n_p * 2 * MES__COOC_SPAN + 1) * sizeof *ci)) ||
      !(cc = malloc((L + n_xs + n_p * 2 * MES__COOC_SPAN + 1) * sizeof *cc)) ||
      !(cw = malloc((L + n_xs + n_p * 2 * MES__COOC_SPAN + 1) * sizeof *cw)) || !(top = malloc((L + 1) * sizeof *top)) ||
      !(redo = malloc((ns ? ns : 1) * sizeof *redo)) || !(nr = malloc((ns ? ns : 1) * sizeof *nr)) ||
      !(qs.buf = malloc((L + n_xs + 1) * sizeof *qs.buf)) || !(qs.bufc = malloc((L + n_xs + 1) * sizeof *qs.bufc)) ||
      !(qs.tail = malloc((L + n_xs + 1) * sizeof *qs.tail)) || !(qs.tailc = malloc((L + n_xs + 1) * sizeof *qs.tailc)))
    goto done;

  for (uint32_t a = 0; a < ns; a++) {
    float b_old = kept->bound[a];
    double bound = 0;
    if (b_old > 0 && mv[a] != GONE) {
      size_t lo = 0, hi = n_bx; /* the first x with bound(x) > bound(a) */
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (bx[mid].b <= b_old)
          lo = mid + 1;
        else
          hi = mid;
      }
      double widen = fmax(lo ? pre[lo - 1] : 0.0, (double)b_old * suf[lo]);
      bound = f[a] * fmax((double)b_old, widen);
      if (bound > (double)b_old)
        bound *= 1.0 + BOUND_SLACK;
    }
    float nb = b_old > 0 && mv[a] != GONE ? bound_up(bound) : 0.0f;
    if (!row[a]) {
      /* Nothing it keeps moved: its top k stands unless the bound now
       * reaches it. */
      if (nb > b_old) {
        size_t len = kept->len[a];
        float wk = len >= k && k ? mes__cooc_weight(c, a, kept->item[(size_t)a * L + k - 1],
                                                    kept->c[(size_t)a * L + k - 1])
                                 : 0.0f;
        if (k && !(wk > nb)) {
          row[a] = 2;
          redo[n_redo++] = a;
          continue;
        }
      }
      kept->bound[a] = nb;
      continue;
    }
    if (mv[a] == 0 && dif_at[a] == dif_at[a + 1] && u->to_model[a] != NONE && m->nb_off[rel]) {
      size_t n_srv;
      const struct mes_nbr *srv = mes_model_neighbors(m, rel, u->to_model[a], &n_srv);
      int q = quick_row(c, kept, a, k, mv, col + col_at[a], col_at[a + 1] - col_at[a], cpos, nb, srv, n_srv, &qs,
                        ch);
      if (q < 0)
        goto done;
      if (q > 0) {
        n_quick++;
        continue;
      }
    }
    if (mv[a] == GONE) { /* a left the relation: an empty row */
      nr[n_nr++] = (struct newrow){a, 0, nr_len, 0.0f};
      continue;
    }
    /* The candidates: the kept row, the raised entries, the pairs p changed. */
    size_t n_c = 0;
    const uint32_t *it = kept->item + (size_t)a * L;
    const int64_t *ic = kept->c + (size_t)a * L;
    for (uint32_t j = 0; j < kept->len[a]; j++) {
      cpos[it[j]] = (int32_t)n_c;
      ci[n_c] = it[j];
      cc[n_c++] = ic[j];
    }
    for (uint32_t j = col_at[a]; j < col_at[a + 1]; j++)
      if (cpos[col[j].b] < 0) {
        cpos[col[j].b] = (int32_t)n_c;
        ci[n_c] = col[j].b;
        cc[n_c++] = col[j].v;
      }
    bool unknown = false;
    for (uint32_t j = dif_at[a]; j < dif_at[a + 1]; j++) {
      uint32_t b = dif[j].b;
      if (cpos[b] >= 0) {
        cc[cpos[b]] -= dif[j].v;
        continue;
      }
      if (dif[j].v > 0)
        continue; /* a count that fell, of a neighbour not kept: the bound holds */
      /* A pair that rose (one event forgotten brought two within the
       * span): its count must be known to place it. */
      int64_t was = kept_count(kept, b, a);
      if (was < 0 && (b_old == 0 || kept->bound[b] == 0))
        was = 0; /* a row that keeps every neighbour does not have this one */
      if (was < 0) {
        unknown = true;
        break;
      }
      cpos[b] = (int32_t)n_c;
      ci[n_c] = b;
      cc[n_c++] = was - dif[j].v;
    }
    for (size_t j = 0; j < n_c; j++) {
      cpos[ci[j]] = -1;
      cw[j] = mes__cooc_weight(c, a, ci[j], cc[j]);
    }
    size_t got = unknown ? 0 : mes__topk(ci, cw, n_c, L + 1, top);
    if (unknown || (nb > 0 && !(k == 0 || (got >= k && top[k - 1].w > nb)))) {
      row[a] = 2;
      redo[n_redo++] = a;
      continue;
    }
    /* Decided: the kept row is its L best (their counts looked up again),
     * the bound widened by the first one left out. */
    size_t kl = got < L ? got : L;
    if (nr_len + kl > nr_cap) {
      size_t cap = nr_cap ? nr_cap * 2 : 4096;
      while (cap < nr_len + kl)
        cap *= 2;
      uint32_t *ni = realloc(nr_item, cap * sizeof *ni);
      if (!ni)
        goto done;
      nr_item = ni;
      int64_t *nc = realloc(nr_c, cap * sizeof *nc);
      if (!nc)
        goto done;
      nr_c = nc;
      nr_cap = cap;
    }
    for (size_t j = 0; j < n_c; j++)
      cpos[ci[j]] = (int32_t)j;
    for (size_t j = 0; j < kl; j++) {
      nr_item[nr_len + j] = top[j].item;
      nr_c[nr_len + j] = cc[cpos[top[j].item]];
    }
    for (size_t j = 0; j < n_c; j++)
      cpos[ci[j]] = -1;
    float nbw = got > L && top[L].w > nb ? top[L].w : nb;
    nr[n_nr++] = (struct newrow){a, (uint32_t)kl, nr_len, nbw};
    nr_len += kl;
    if (mes__changed_add(ch, a, top, got < k ? got : k))
      goto done;
  }
  /* Every row has read the kept rows: write the decided ones back. */
  for (size_t i = 0; i < n_nr; i++) {
    uint32_t a = nr[i].a;
    if (nr[i].n) {
      memcpy(kept->item + (size_t)a * L, nr_item + nr[i].off, nr[i].n * sizeof *nr_item);
      memcpy(kept->c + (size_t)a * L, nr_c + nr[i].off, nr[i].n * sizeof *nr_c);
    }
    kept->len[a] = nr[i].n;
    kept->bound[a] = nr[i].bound;
    if (nr[i].n == 0 && mv[a] == GONE && mes__changed_add(ch, a, NULL, 0))
      goto done;
  }
  *n_decided += n_nr + n_quick;

  /* The rows that could not be decided, counted again. */
  r = (struct recount){.c = c, .kept = kept, .xs = redo, .n_x = n_redo, .k = k, .threads = u->n_sc};
  r.rows = malloc((n_redo && k ? n_redo * k : 1) * sizeof *r.rows);
  r.row_n = malloc((n_redo ? n_redo : 1) * sizeof *r.row_n);
  if (!r.rows || !r.row_n)
    goto done;
  if (n_redo) {
    struct recount_worker wk[MAX_THREADS];
    for (int w = 0; w < r.threads; w++)
      wk[w] = (struct recount_worker){.r = &r, .index = w, .sc = u->sc[w]};
    int started = 1;
    while (started < r.threads && n_redo > 1 &&
           pthread_create(&wk[started].th, NULL, recount_work, &wk[started]) == 0)
      started++;
    recount_work(&wk[0]);
    for (int w = 1; w < started; w++)
      pthread_join(wk[w].th, NULL);
    for (int w = started; w < r.threads; w++) /* a thread that did not start: its rows here */
      recount_work(&wk[w]);
  }
  for (size_t i = 0; i < n_redo; i++)
    if (mes__changed_add(ch, redo[i], r.rows + i * k, r.row_n[i]))
      goto done;
  *n_recounted += n_redo;
  rc = MES_OK;
done:
  ptab_release(&t);
  free(f);
  free(mv);
  free(row);
  free(raw);
  free(col);
  free(dif);
  free(col_at);
  free(dif_at);
  free(xs);
  free(redo);
  free(bx);
  free(pre);
  free(suf);
  free(cpos);
  free(ci);
  free(cc);
  free(cw);
  free(top);
  free(nr);
  free(nr_item);
  free(nr_c);
  free(r.rows);
  free(r.row_n);
  free(qs.buf);
  free(qs.bufc);
  free(qs.tail);
  free(qs.tailc);
  return rc;
}

