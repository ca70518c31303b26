/*
 * eval/split — sections 1 to 3 of the protocol: unique pairs, the per-user
 * temporal split, the catalogue and its tie order, and the training view
 * (the binary matrix X as per-user lists) that models consume.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"

#define FILTER_MIN_CATALOGUE 20000 /* more distinct items than this: filter rare items */
#define FILTER_MIN_COUNT 5

void mes__lists_release(struct mes__lists *l) {
  if (!l)
    return;
  free(l->off);
  free(l->item);
  free(l->ts);
  memset(l, 0, sizeof *l);
}

static int lists_alloc(struct mes__lists *l, size_t n_users, size_t n) {
  l->n_users = n_users;
  l->off = calloc(n_users + 1, sizeof *l->off);
  l->item = mes__alloc(n, sizeof *l->item);
  l->ts = mes__alloc(n, sizeof *l->ts);
  if (!l->off || !l->item || !l->ts) {
    mes__lists_release(l);
    return MES_ENOMEM;
  }
  return MES_OK;
}

/* ---- Section 1: unique pairs in temporal order --------------------------- */

struct pair {
  uint32_t user, item, rank; /* rank: the item id's byte order */
  double ts;
};

static int cmp_user_item_ts(const void *a, const void *b) {
  const struct pair *x = a, *y = b;
  if (x->user != y->user)
    return x->user < y->user ? -1 : 1;
  if (x->item != y->item)
    return x->item < y->item ? -1 : 1;
  return (x->ts > y->ts) - (x->ts < y->ts);
}

static int cmp_user_ts_rank(const void *a, const void *b) {
  const struct pair *x = a, *y = b;
  if (x->user != y->user)
    return x->user < y->user ? -1 : 1;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return (x->rank > y->rank) - (x->rank < y->rank);
}

int mes__pairs_make(const struct mes_eval_data *d, bool purchases_only, struct mes__lists *out,
                    struct mes_eval_split_stats *st, struct mes_err *err) {
  memset(out, 0, sizeof *out);
  size_t n_items = d->items.n, n = 0;
  struct pair *p = mes__alloc(d->n_rows, sizeof *p);
  uint32_t *count = mes__zalloc(n_items, sizeof *count);
  uint8_t *user_seen = mes__zalloc(d->subjects.n, 1);
  int rc = MES_OK;
  if (!p || !count || !user_seen) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  for (size_t r = 0; r < d->n_rows; r++) {
    if (purchases_only && !d->purchase[r])
      continue;
    p[n++] = (struct pair){d->user[r], d->item[r], d->item_rank[d->item[r]], d->ts[r]};
  }

  /* Repeated (user, item): one pair carrying the earliest timestamp. */
  qsort(p, n, sizeof *p, cmp_user_item_ts);
  size_t w = 0;
  for (size_t r = 0; r < n; r++)
    if (w == 0 || p[w - 1].user != p[r].user || p[w - 1].item != p[r].item)
      p[w++] = p[r];
  n = w;

  size_t n_distinct = 0;
  for (size_t r = 0; r < n; r++)
    if (count[p[r].item]++ == 0)
      n_distinct++;
  st->n_items_filtered = 0;
  if (n_distinct > FILTER_MIN_CATALOGUE) { /* one pass; users are not filtered */
    for (size_t i = 0; i < n_items; i++)
      if (count[i] > 0 && count[i] < FILTER_MIN_COUNT)
        st->n_items_filtered++;
    w = 0;
    for (size_t r = 0; r < n; r++)
      if (count[p[r].item] >= FILTER_MIN_COUNT)
        p[w++] = p[r];
    n = w;
    n_distinct -= st->n_items_filtered;
  }

  qsort(p, n, sizeof *p, cmp_user_ts_rank);
  if (lists_alloc(out, d->subjects.n, n)) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  size_t n_users = 0;
  for (size_t r = 0; r < n; r++) {
    out->off[p[r].user + 1]++;
    out->item[r] = p[r].item;
    out->ts[r] = p[r].ts;
    if (!user_seen[p[r].user]) {
      user_seen[p[r].user] = 1;
      n_users++;
    }
  }
  for (size_t u = 0; u < out->n_users; u++)
    out->off[u + 1] += out->off[u];
  st->n_pairs = n;
  st->n_users = n_users;
  st->n_items = n_distinct;

done:
  free(p);
  free(count);
  free(user_seen);
  return rc;
}

/* ---- Section 2: per-user temporal split ---------------------------------- */

int mes__split_make(const struct mes__lists *in, size_t n_items, struct mes__lists *train, struct mes__lists *test,
                    struct mes_eval_split_stats *st, struct mes_err *err) {
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  size_t n_users = in->n_users, total = in->off[n_users];
  uint8_t *in_cat = mes__zalloc(n_items, 1);
  uint32_t *mark = mes__zalloc(n_items, sizeof *mark); /* user + 1 owning a training pair */
  if (!in_cat || !mark || lists_alloc(train, n_users, total) || lists_alloc(test, n_users, total)) {
    free(in_cat);
    free(mark);
    mes__lists_release(train);
    mes__lists_release(test);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  size_t n_tr = 0, n_te_raw = 0;
  for (size_t u = 0; u < n_users; u++) {
    size_t n = in->off[u + 1] - in->off[u];
    size_t n_test = 0;
    if (n >= 5) {
      n_test = (n + 2) / 5; /* round(0.2 n); 0.2 n never ends in .5 */
      if (n_test < 1)
        n_test = 1;
    }
    for (size_t k = 0; k < n - n_test; k++) {
      uint32_t i = in->item[in->off[u] + k];
      train->ts[n_tr] = in->ts[in->off[u] + k];
      train->item[n_tr++] = i;
      in_cat[i] = 1;
    }
    train->off[u + 1] = n_tr;
    n_te_raw += n_test;
  }

  /* Test pairs are kept only for items in the catalogue and pairs not in training. */
  size_t n_te = 0, n_unseen = 0, n_in_train = 0, n_eval = 0;
  for (size_t u = 0; u < n_users; u++) {
    for (size_t k = train->off[u]; k < train->off[u + 1]; k++)
      mark[train->item[k]] = (uint32_t)u + 1;
    size_t n = in->off[u + 1] - in->off[u], n_train_u = train->off[u + 1] - train->off[u];
    size_t before = n_te;
    for (size_t k = n_train_u; k < n; k++) {
      uint32_t i = in->item[in->off[u] + k];
      if (!in_cat[i])
        n_unseen++;
      else if (mark[i] == (uint32_t)u + 1)
        n_in_train++;
      else {
        test->ts[n_te] = in->ts[in->off[u] + k];
        test->item[n_te++] = i;
      }
    }
    test->off[u + 1] = n_te;
    if (n_te > before)
      n_eval++;
  }
  size_t n_cat = 0;
  for (size_t i = 0; i < n_items; i++)
    n_cat += in_cat[i];
  st->n_train = n_tr;
  st->n_test_raw = n_te_raw;
  st->n_test_kept = n_te;
  st->n_dropped_unseen = n_unseen;
  st->n_dropped_in_train = n_in_train;
  st->n_catalogue = n_cat;
  st->n_eval_users = n_eval;
  free(in_cat);
  free(mark);
  return MES_OK;
}

/* ---- Section 3: catalogue, tie order, training view ---------------------- */

struct cat_key {
  uint32_t pop, rank, item;
};

static int cmp_tie_order(const void *a, const void *b) {
  const struct cat_key *x = a, *y = b;
  if (x->pop != y->pop)
    return x->pop > y->pop ? -1 : 1;
  return (x->rank > y->rank) - (x->rank < y->rank);
}

void mes__train_release(struct mes__train *t) {
  if (!t)
    return;
  free(t->off);
  free(t->item);
  free(t->pop);
  free(t->global);
  free(t->cat);
  free(t->active);
  memset(t, 0, sizeof *t);
}

int mes__train_make(const struct mes__lists *train, size_t n_items, const uint32_t *item_rank, struct mes__train *t,
                    struct mes_err *err) {
  memset(t, 0, sizeof *t);
  size_t n_users = train->n_users, nnz = train->off[n_users];
  uint32_t *pop = mes__zalloc(n_items, sizeof *pop);
  struct cat_key *keys = mes__alloc(n_items, sizeof *keys);
  t->n_users = n_users;
  t->n_global = n_items;
  t->nnz = nnz;
  t->off = malloc((n_users + 1) * sizeof *t->off);
  t->item = mes__alloc(nnz, sizeof *t->item);
  t->cat = mes__alloc(n_items, sizeof *t->cat);
  t->active = mes__alloc(n_users, sizeof *t->active);
  if (!pop || !keys || !t->off || !t->item || !t->cat || !t->active)
    goto nomem;
  for (size_t k = 0; k < nnz; k++)
    pop[train->item[k]]++;
  size_t n_cat = 0;
  for (size_t i = 0; i < n_items; i++)
    if (pop[i])
      keys[n_cat++] = (struct cat_key){pop[i], item_rank[i], (uint32_t)i};
  qsort(keys, n_cat, sizeof *keys, cmp_tie_order);
  t->n_items = n_cat;
  t->pop = mes__alloc(n_cat, sizeof *t->pop);
  t->global = mes__alloc(n_cat, sizeof *t->global);
  if (!t->pop || !t->global)
    goto nomem;
  for (size_t i = 0; i < n_items; i++)
    t->cat[i] = UINT32_MAX;
  for (size_t c = 0; c < n_cat; c++) {
    t->pop[c] = keys[c].pop;
    t->global[c] = keys[c].item;
    t->cat[keys[c].item] = (uint32_t)c;
  }
  for (size_t u = 0; u <= n_users; u++)
    t->off[u] = train->off[u];
  for (size_t k = 0; k < nnz; k++)
    t->item[k] = t->cat[train->item[k]];
  for (size_t u = 0; u < n_users; u++)
    if (t->off[u + 1] > t->off[u])
      t->active[t->n_active++] = (uint32_t)u;
  free(pop);
  free(keys);
  return MES_OK;

nomem:
  free(pop);
  free(keys);
  mes__train_release(t);
  return mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

void mes__profile(const struct mes__train *t, const uint32_t *users, size_t n, double *q) {
  size_t m = t->n_items;
  memset(q, 0, n * m * sizeof *q);
  for (size_t r = 0; r < n; r++)
    for (size_t k = t->off[users[r]]; k < t->off[users[r] + 1]; k++)
      q[r * m + t->item[k]] = 1.0;
}
