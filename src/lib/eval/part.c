/*
 * eval/part — the protocol for models from outside the module
 * (struct mes_eval_ranker): the training part they may see, and the ranked
 * evaluation of their answers.
 *
 * An outside model answers with item ids in its own order, not with a score
 * per catalogue item, so section 3's tie rule has nothing to break: the
 * ranking is the answer as given. What the protocol still decides is the
 * candidate set: an answered item the user has in training, an item with no
 * training interaction (not in the catalogue) or a repeat is left out, the
 * items after it move up, and the count is reported (n_not_candidate). A
 * user who gets fewer than MES_EVAL_TOP rankable items is ranked on what
 * came (n_short): missing slots count as misses, as the protocol's metrics
 * do for any model.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "eval/eval_int.h"

struct mes_eval_part {
  const struct mes_eval_data *d;
  const struct mes__lists *train; /* global item indices, temporal order, with ts */
  const struct mes__lists *repeats; /* training-period repeat purchases; NULL but for buy_again */
};

size_t mes_eval_part_n_users(const struct mes_eval_part *p) { return p->d->subjects.n; }
size_t mes_eval_part_n_items(const struct mes_eval_part *p) { return p->d->items.n; }

const char *mes_eval_part_user(const struct mes_eval_part *p, size_t u) {
  return mes__strtab_get(&p->d->subjects, (uint32_t)u);
}

const char *mes_eval_part_item(const struct mes_eval_part *p, size_t i) {
  return mes__strtab_get(&p->d->items, (uint32_t)i);
}

int64_t mes_eval_part_find_item(const struct mes_eval_part *p, const char *id, size_t len) {
  return mes__strtab_find(&p->d->items, id, len);
}

size_t mes_eval_part_history(const struct mes_eval_part *p, size_t u, const uint32_t **items, const double **ts_s) {
  const struct mes__lists *l = p->train;
  if (u >= l->n_users) {
    *items = NULL;
    *ts_s = NULL;
    return 0;
  }
  *items = l->item + l->off[u];
  *ts_s = l->ts + l->off[u];
  return l->off[u + 1] - l->off[u];
}

size_t mes_eval_part_repeats(const struct mes_eval_part *p, size_t u, const uint32_t **items, const double **ts_s) {
  const struct mes__lists *l = p->repeats;
  if (!l || u >= l->n_users) {
    *items = NULL;
    *ts_s = NULL;
    return 0;
  }
  *items = l->item + l->off[u];
  *ts_s = l->ts + l->off[u];
  return l->off[u + 1] - l->off[u];
}

void mes_eval_result_set(struct mes_eval_result *r, const char *key, const char *fmt, ...) {
  if (r->n_settings >= MES_EVAL_MAX_SETTINGS)
    return;
  struct mes_eval_setting *s = &r->settings[r->n_settings++];
  s->key = key;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->value, sizeof s->value, fmt, ap);
  va_end(ap);
}

/* Fits rk with configuration cfg on `train` into *state (the caller frees
 * it, also on failure), unless *state, fitted before, can adopt cfg. */
static int fit_part(const struct mes_eval_data *d, const struct mes_eval_ranker *rk, const void *cfg,
                    const struct mes__lists *train, const struct mes_eval_opts *o, void **state, double *fit_s,
                    struct mes_err *err) {
  if (*state && rk->adopt && rk->adopt(*state, cfg))
    return MES_OK;
  if (rk->free)
    rk->free(*state);
  *state = NULL;
  struct mes_eval_part part = {.d = d, .train = train};
  uint64_t t0 = mes_mono_ns();
  int rc = rk->fit(cfg, &part, o->log, state, err);
  *fit_s = (double)(mes_mono_ns() - t0) / 1e9;
  return rc;
}

/* Ranks every user with items in `target` through the fitted `state` into
 * *m (t: the training view of `train`). */
static int rank_part(const struct mes_eval_data *d, const struct mes_eval_ranker *rk, void *state,
                     const struct mes__lists *train, const struct mes__train *t, const struct mes__lists *target,
                     const struct mes_eval_opts *o, struct mes_eval_metrics *m, size_t *n_short,
                     size_t *n_not_candidate, struct mes_err *err) {
  struct mes_eval_part part = {.d = d, .train = train};
  size_t n = t->n_items;
  uint32_t *excluded = mes__zalloc(n, sizeof *excluded); /* stamp: training items, then those ranked */
  uint32_t *relevant = mes__zalloc(n, sizeof *relevant);
  struct mes__acc acc;
  int rc = mes__acc_init(&acc, n);
  if (!excluded || !relevant || rc) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  size_t n_eval = 0;
  uint64_t t0 = mes_mono_ns();
  for (size_t u = 0; u < target->n_users; u++) {
    if (target->off[u + 1] == target->off[u])
      continue;
    uint32_t got[MES_EVAL_TOP], top[MES__TOP], stamp = (uint32_t)u + 1;
    size_t n_got = 0, n_top = 0;
    if ((rc = rk->rank(state, &part, u, MES_EVAL_TOP, got, &n_got, err)))
      goto done;
    for (size_t k = t->off[u]; k < t->off[u + 1]; k++)
      excluded[t->item[k]] = stamp;
    for (size_t k = 0; k < n_got && k < MES_EVAL_TOP; k++) {
      uint32_t c = got[k] < t->n_global ? t->cat[got[k]] : UINT32_MAX;
      if (c == UINT32_MAX || excluded[c] == stamp) {
        (*n_not_candidate)++;
        continue;
      }
      excluded[c] = stamp; /* a repeat is not a second slot */
      top[n_top++] = c;
    }
    if (n_top < MES_EVAL_TOP)
      (*n_short)++;
    for (size_t k = target->off[u]; k < target->off[u + 1]; k++)
      relevant[t->cat[target->item[k]]] = stamp;
    mes__acc_add(&acc, top, n_top, relevant, stamp, target->off[u + 1] - target->off[u], t->pop);
    if (++n_eval % 200 == 0)
      mes_log(o->log, MES_LOG_INFO, "eval: %s: %zu users ranked", rk->name, n_eval);
  }
  mes__acc_finish(&acc, t->pop, m);
  mes_log(o->log, MES_LOG_INFO, "eval: %s: %zu users ranked in %.2f s", rk->name, n_eval,
          (double)(mes_mono_ns() - t0) / 1e9);

done:
  free(excluded);
  free(relevant);
  mes__acc_release(&acc);
  return rc;
}

static const void *cfg_at(const struct mes_eval_ranker *rk, size_t g) {
  return (const char *)rk->cfg + g * rk->cfg_size;
}

/* Section 5 for an outside model: each configuration fitted on the
 * sub-training part and ranked on the validation part carved out of
 * `train`; *best the one with the best NDCG@10 (the first on a tie). */
static int choose_cfg(const struct mes_eval_data *d, const struct mes_eval_ranker *rk,
                      const struct mes__lists *train, const struct mes_eval_opts *o, size_t *best,
                      double *best_ndcg, struct mes_err *err) {
  struct mes__valid v;
  *best = 0;
  *best_ndcg = -1;
  int rc = mes__valid_make(d, train, o, &v, err);
  if (rc)
    return rc;
  void *state = NULL;
  for (size_t g = 0; g < (rk->n_cfg ? rk->n_cfg : 1) && v.vs.n_eval_users > 0 && !rc; g++) {
    struct mes_eval_metrics m;
    size_t n_short = 0, n_nc = 0;
    double fit_s = 0;
    if ((rc = fit_part(d, rk, cfg_at(rk, g), &v.sub, o, &state, &fit_s, err)) ||
        (rc = rank_part(d, rk, state, &v.sub, &v.t, &v.valid, o, &m, &n_short, &n_nc, err)))
      break;
    char text[256] = "";
    if (rk->describe)
      rk->describe(cfg_at(rk, g), text, sizeof text);
    mes_log(o->log, MES_LOG_INFO, "eval: %s %s: validation NDCG@10 %.4f, popularity ratio %.2f", rk->name, text,
            m.ndcg10, m.pop_ratio10);
    if (m.ndcg10 > *best_ndcg) {
      *best = g;
      *best_ndcg = m.ndcg10;
    }
  }
  if (rk->free)
    rk->free(state);
  mes__valid_release(&v);
  return rc;
}

/* ---- Buy again ------------------------------------------------------------ */

/* From the file's rows: per evaluated user (a kept test pair), the repeat
 * purchases of their training period (*rep, see mes_eval_part_repeats) and
 * the items of their training part they bought again after it (*later, each
 * once: the relevant set of buy again). A user's training period ends at
 * their last training pair: every row up to it is of a training item (a
 * pair is in test only when its first row comes later). */
static int repeats_make(const struct mes_eval_data *d, bool purchases_only, const struct mes__lists *train,
                        const struct mes__lists *test, struct mes__lists *rep, struct mes__lists *later) {
  size_t nu = train->n_users, nr = d->n_rows, ni = d->items.n;
  size_t *by_off = mes__zalloc(nu + 1, sizeof *by_off);
  uint32_t *by_row = mes__alloc(nr, sizeof *by_row);
  uint32_t *mark = mes__zalloc(ni, sizeof *mark), *firsts = mes__zalloc(ni, sizeof *firsts);
  uint32_t *again = mes__zalloc(ni, sizeof *again);
  double *earliest = mes__alloc(ni, sizeof *earliest);
  int rc = MES_ENOMEM;
  memset(rep, 0, sizeof *rep);
  memset(later, 0, sizeof *later);
  if (!by_off || !by_row || !mark || !firsts || !again || !earliest)
    goto done;
  rep->n_users = later->n_users = nu;
  rep->off = mes__zalloc(nu + 1, sizeof *rep->off);
  later->off = mes__zalloc(nu + 1, sizeof *later->off);
  rep->item = mes__alloc(nr, sizeof *rep->item);
  rep->ts = mes__alloc(nr, sizeof *rep->ts);
  later->item = mes__alloc(nr, sizeof *later->item);
  later->ts = mes__alloc(nr, sizeof *later->ts);
  if (!rep->off || !later->off || !rep->item || !rep->ts || !later->item || !later->ts)
    goto done;
  /* rows grouped by user, in file order */
  for (size_t r = 0; r < nr; r++)
    if ((!purchases_only || d->purchase[r]) && d->user[r] < nu)
      by_off[d->user[r] + 1]++;
  for (size_t u = 0; u < nu; u++)
    by_off[u + 1] += by_off[u];
  size_t *at = mes__alloc(nu, sizeof *at);
  if (!at)
    goto done;
  memcpy(at, by_off, nu * sizeof *at);
  for (size_t r = 0; r < nr; r++)
    if ((!purchases_only || d->purchase[r]) && d->user[r] < nu)
      by_row[at[d->user[r]]++] = (uint32_t)r;
  free(at);
  size_t n_rep = 0, n_later = 0;
  for (size_t u = 0; u < nu; u++) {
    uint32_t stamp = (uint32_t)u + 1;
    if (test->off[u + 1] > test->off[u] && train->off[u + 1] > train->off[u]) {
      double cutoff = train->ts[train->off[u + 1] - 1];
      for (size_t k = train->off[u]; k < train->off[u + 1]; k++) {
        mark[train->item[k]] = stamp;
        earliest[train->item[k]] = train->ts[k];
      }
      size_t from = n_rep;
      for (size_t k = by_off[u]; k < by_off[u + 1]; k++) {
        size_t r = by_row[k];
        uint32_t i = d->item[r];
        if (mark[i] != stamp)
          continue;
        if (d->ts[r] <= cutoff) {
          if (d->ts[r] == earliest[i] && firsts[i] != stamp) {
            firsts[i] = stamp; /* the pair itself: already in the training part */
            continue;
          }
          rep->item[n_rep] = i;
          rep->ts[n_rep++] = d->ts[r];
        } else if (again[i] != stamp) {
          again[i] = stamp;
          later->item[n_later] = i;
          later->ts[n_later++] = d->ts[r];
        }
      }
      /* oldest first, as a history is read (insertion sort: a user's repeats are few) */
      for (size_t a = from + 1; a < n_rep; a++)
        for (size_t b = a; b > from && rep->ts[b] < rep->ts[b - 1]; b--) {
          double t = rep->ts[b];
          uint32_t it = rep->item[b];
          rep->ts[b] = rep->ts[b - 1];
          rep->item[b] = rep->item[b - 1];
          rep->ts[b - 1] = t;
          rep->item[b - 1] = it;
        }
    }
    rep->off[u + 1] = n_rep;
    later->off[u + 1] = n_later;
  }
  rc = MES_OK;

done:
  free(by_off);
  free(by_row);
  free(mark);
  free(firsts);
  free(again);
  free(earliest);
  if (rc) {
    mes__lists_release(rep);
    mes__lists_release(later);
  }
  return rc;
}

/* Fills out->buy_again through rk->buy_again on the fitted `state`. */
static int measure_buy_again(const struct mes_eval_data *d, const struct mes_eval_ranker *rk, void *state,
                             const struct mes__lists *train, const struct mes__lists *test,
                             const struct mes_eval_opts *o, struct mes_eval_result *out, struct mes_err *err) {
  struct mes__lists rep, later;
  if (repeats_make(d, o->purchases_only, train, test, &rep, &later))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  struct mes_eval_part part = {.d = d, .train = train, .repeats = &rep};
  uint32_t *rel = mes__zalloc(d->items.n, sizeof *rel);
  int rc = rel ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t users = 0, hits = 0;
  for (size_t u = 0; u < later.n_users && !rc; u++) {
    if (later.off[u + 1] == later.off[u])
      continue;
    uint32_t got[10], stamp = (uint32_t)u + 1;
    size_t n_got = 0;
    if ((rc = rk->buy_again(state, &part, u, 10, got, &n_got, err)))
      break;
    for (size_t k = later.off[u]; k < later.off[u + 1]; k++)
      rel[later.item[k]] = stamp;
    bool hit = false;
    for (size_t k = 0; k < n_got && k < 10 && !hit; k++)
      hit = got[k] < d->items.n && rel[got[k]] == stamp;
    users++;
    hits += hit;
  }
  if (!rc) {
    out->buy_again = (struct mes_eval_buy_again){
        .measured = true, .users = users, .hit_rate10 = users ? (double)hits / (double)users : 0,
        .repeats = rep.off[rep.n_users]};
    mes_log(o->log, MES_LOG_INFO, "eval: %s: buy again: hit rate@10 %.4f over %zu users (%zu repeat purchases)",
            rk->name, out->buy_again.hit_rate10, users, out->buy_again.repeats);
  }
  free(rel);
  mes__lists_release(&rep);
  mes__lists_release(&later);
  return rc;
}

int mes__run_ranker(const struct mes_eval_data *d, const struct mes_eval_ranker *rk, const struct mes__lists *train,
                    const struct mes__train *t, const struct mes__lists *test, const struct mes_eval_opts *o,
                    struct mes_eval_result *out, struct mes_err *err) {
  size_t g = 0;
  int rc = MES_OK;
  if ((rk->n_cfg > 1 || o->validation_only) && (rc = choose_cfg(d, rk, train, o, &g, &out->validation_ndcg10, err)))
    return rc;
  if (o->validation_only) {
    out->validation_only = true;
    if (rk->describe)
      rk->describe(cfg_at(rk, g), out->chosen, sizeof out->chosen);
    return MES_OK;
  }
  void *state = NULL;
  rc = fit_part(d, rk, cfg_at(rk, g), train, o, &state, &out->fit_s, err);
  if (!rc)
    rc = rank_part(d, rk, state, train, t, test, o, &out->test, &out->n_short, &out->n_not_candidate, err);
  if (!rc && rk->describe)
    rk->describe(cfg_at(rk, g), out->chosen, sizeof out->chosen);
  if (!rc && rk->buy_again)
    rc = measure_buy_again(d, rk, state, train, test, o, out, err);
  if (!rc && rk->report)
    rk->report(state, out);
  if (!rc)
    mes_log(o->log, MES_LOG_INFO,
            "eval: %s: test NDCG@10 %.4f; %zu answers short, %zu answered items outside the candidate set", rk->name,
            out->test.ndcg10, out->n_short, out->n_not_candidate);
  if (rk->free)
    rk->free(state);
  return rc;
}
