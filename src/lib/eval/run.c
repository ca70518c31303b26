/*
 * eval/run — the protocol end to end for one model: split, choice of the
 * hyperparameters on the validation part carved out of training (section 5),
 * final training on the whole training part, test figures.
 *
 * The test part is only ever read by the last evaluate() call, after the
 * choice has been made.
 */
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "eval/eval_int.h"

#define SCORE_BLOCK 256 /* users scored per model call */

static const struct mes__model *const models[] = {
    &mes__model_popular, &mes__model_itemknn, &mes__model_ease, &mes__model_rp3beta,
};

const char *const mes_eval_model_names[] = {"popular", "itemknn", "ease", "rp3beta", NULL};

static const struct mes__model *find_model(const char *name) {
  for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
    if (strcmp(models[i]->name, name) == 0)
      return models[i];
  return NULL;
}

/* Ranks every user with relevant items in `target` and averages section 4. */
static int evaluate(const struct mes__model *md, void *state, const double *hp, const struct mes__train *t,
                    const struct mes__lists *target, struct mes_eval_metrics *m, size_t *n_users,
                    struct mes_err *err) {
  size_t n = t->n_items, n_eval = 0;
  uint32_t *users = malloc(SCORE_BLOCK * sizeof *users);
  double *scores = mes__alloc(SCORE_BLOCK * n, sizeof *scores);
  uint32_t *excluded = mes__zalloc(n, sizeof *excluded);
  uint32_t *relevant = mes__zalloc(n, sizeof *relevant);
  struct mes__acc acc;
  int rc = mes__acc_init(&acc, n);
  if (!users || !scores || !excluded || !relevant || rc) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  for (size_t u = 0; u < target->n_users;) {
    size_t b = 0;
    for (; u < target->n_users && b < SCORE_BLOCK; u++)
      if (target->off[u + 1] > target->off[u])
        users[b++] = (uint32_t)u;
    if (b == 0)
      break;
    if ((rc = md->score(state, t, hp, users, b, scores, err)))
      goto done;
    for (size_t r = 0; r < b; r++) {
      uint32_t v = users[r], stamp = v + 1;
      for (size_t k = t->off[v]; k < t->off[v + 1]; k++)
        excluded[t->item[k]] = stamp;
      size_t n_rel = target->off[v + 1] - target->off[v];
      for (size_t k = target->off[v]; k < target->off[v + 1]; k++)
        relevant[t->cat[target->item[k]]] = stamp;
      uint32_t top[MES__TOP];
      size_t n_top = mes__rank_top(scores + r * n, n, excluded, stamp, top);
      mes__acc_add(&acc, top, n_top, relevant, stamp, n_rel, t->pop);
      n_eval++;
    }
  }
  mes__acc_finish(&acc, t->pop, m);
  *n_users = n_eval;

done:
  free(users);
  free(scores);
  free(excluded);
  free(relevant);
  mes__acc_release(&acc);
  return rc;
}

static double seconds_since(uint64_t t0) { return (double)(mes_mono_ns() - t0) / 1e9; }

static void hp_text(const struct mes__model *md, const double *hp, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t h = 0; h < md->n_hp && o < cap; h++) {
    int w = snprintf(out + o, cap - o, "%s%s=%g", h ? ", " : "", md->hp_name[h], hp[h]);
    if (w < 0)
      break;
    o += (size_t)w;
  }
}

int mes__valid_make(const struct mes_eval_data *d, const struct mes__lists *train, const struct mes_eval_opts *o,
                    struct mes__valid *v, struct mes_err *err) {
  memset(v, 0, sizeof *v);
  int rc = mes__split_make(train, d->items.n, &v->sub, &v->valid, &v->vs, err);
  if (rc)
    return rc;
  if ((rc = mes__train_make(&v->sub, d->items.n, d->item_rank, &v->t, err))) {
    mes__lists_release(&v->sub);
    mes__lists_release(&v->valid);
    return rc;
  }
  mes_log(o->log, MES_LOG_INFO,
          "eval: validation split: sub-training %zu pairs, validation %zu -> %zu pairs, %zu users, catalogue %zu",
          v->vs.n_train, v->vs.n_test_raw, v->vs.n_test_kept, v->vs.n_eval_users, v->vs.n_catalogue);
  return MES_OK;
}

void mes__valid_release(struct mes__valid *v) {
  mes__train_release(&v->t);
  mes__lists_release(&v->sub);
  mes__lists_release(&v->valid);
}

/* Section 5: the grid point with the best validation NDCG@10 (first on a tie). */
static int choose(const struct mes__model *md, const struct mes_eval_data *d, const struct mes__lists *train,
                  const struct mes_eval_opts *o, size_t *best, double *best_ndcg, struct mes_err *err) {
  struct mes__valid v;
  *best = 0;
  *best_ndcg = 0;
  int rc = mes__valid_make(d, train, o, &v, err);
  if (rc)
    return rc;
  void *state = NULL;
  const double *fitted = NULL;
  for (size_t g = 0; g < md->n_grid && v.vs.n_eval_users > 0; g++) {
    const double *hp = md->grid + g * md->n_hp;
    uint64_t t0 = mes_mono_ns();
    if (!fitted || memcmp(fitted, hp, md->n_fit_hp * sizeof *hp) != 0) {
      md->free(state);
      state = NULL;
      fitted = NULL;
      if ((rc = md->fit(&v.t, hp, o->solver, &state, err)))
        break;
      fitted = hp;
    }
    struct mes_eval_metrics m;
    size_t n_users;
    if ((rc = evaluate(md, state, hp, &v.t, &v.valid, &m, &n_users, err)))
      break;
    char text[96];
    hp_text(md, hp, text, sizeof text);
    mes_log(o->log, MES_LOG_INFO, "eval: %s %s: validation NDCG@10 %.4f, popularity ratio %.2f (%.2f s)",
            md->name, text, m.ndcg10, m.pop_ratio10, seconds_since(t0));
    if (g == 0 || m.ndcg10 > *best_ndcg) {
      *best = g;
      *best_ndcg = m.ndcg10;
    }
  }
  md->free(state);
  mes__valid_release(&v);
  return rc;
}

int mes_eval_run(const struct mes_eval_data *d, const struct mes_eval_opts *o, struct mes_eval_result *out,
                 struct mes_err *err) {
  memset(out, 0, sizeof *out);
  const char *name = o->ranker ? o->ranker->name : o->model;
  if (!name)
    return mes_err_set(err, MES_EUSAGE, NULL, "no model named");
  const struct mes__model *md = o->ranker ? NULL : find_model(name);
  if (!md && !o->ranker)
    return mes_err_set(err, MES_EUSAGE, NULL, "unknown model: %.40s", name);
  snprintf(out->model, sizeof out->model, "%s", name);

  struct mes__lists pairs = {0}, train = {0}, test = {0};
  struct mes__train t = {0};
  struct mes_eval_split_stats *st = &out->split;
  void *state = NULL;
  int rc = mes__pairs_make(d, o->purchases_only, &pairs, st, err);
  if (rc)
    goto done;
  if ((rc = mes__split_make(&pairs, d->items.n, &train, &test, st, err)))
    goto done;
  mes_log(o->log, MES_LOG_INFO,
          "eval: %s%zu pairs (%zu users, %zu items, %zu items filtered); train %zu, test %zu -> %zu "
          "(%zu unseen items, %zu already in training); catalogue %zu; %zu users evaluated",
          o->purchases_only ? "purchases only: " : "", st->n_pairs, st->n_users, st->n_items, st->n_items_filtered,
          st->n_train, st->n_test_raw, st->n_test_kept, st->n_dropped_unseen, st->n_dropped_in_train,
          st->n_catalogue, st->n_eval_users);
  if (st->n_eval_users == 0) {
    rc = mes_err_set(err, MES_EBAD_INPUT, NULL,
                     "no user can be evaluated: the protocol needs users with at least 5 interactions");
    goto done;
  }

  if (o->ranker) { /* no grid: an outside model brings its own settings */
    if (!(rc = mes__train_make(&train, d->items.n, d->item_rank, &t, err)))
      rc = mes__run_ranker(d, o->ranker, &train, &t, &test, o, out, err);
    goto done;
  }

  size_t g = 0;
  if (md->n_grid > 1 && (rc = choose(md, d, &train, o, &g, &out->validation_ndcg10, err)))
    goto done;
  const double *hp = md->n_grid ? md->grid + g * md->n_hp : NULL;
  out->n_hp = md->n_hp;
  for (size_t h = 0; h < md->n_hp; h++) {
    out->hp_name[h] = md->hp_name[h];
    out->hp_value[h] = hp[h];
  }
  if (o->validation_only) {
    out->validation_only = true;
    goto done;
  }

  if ((rc = mes__train_make(&train, d->items.n, d->item_rank, &t, err)))
    goto done;
  uint64_t t0 = mes_mono_ns();
  if ((rc = md->fit(&t, hp, o->solver, &state, err)))
    goto done;
  out->fit_s = seconds_since(t0);
  size_t n_users;
  if ((rc = evaluate(md, state, hp, &t, &test, &out->test, &n_users, err)))
    goto done;
  char text[96];
  hp_text(md, hp ? hp : (const double[]){0}, text, sizeof text);
  mes_log(o->log, MES_LOG_INFO, "eval: %s%s%s: fitted in %.2f s; test NDCG@10 %.4f over %zu users", md->name,
          text[0] ? " " : "", text, out->fit_s, out->test.ndcg10, n_users);

done:
  if (state)
    md->free(state);
  mes__train_release(&t);
  mes__lists_release(&pairs);
  mes__lists_release(&train);
  mes__lists_release(&test);
  return rc;
}

int mes_eval_run_all(const struct mes_eval_data *d, const struct mes_eval_opts *o, struct mes_eval_runs *out,
                     struct mes_err *err) {
  memset(out, 0, sizeof *out);
  out->has_purchases = mes_eval_data_has_purchase_split(d);
  int rc = mes_eval_run(d, o, &out->all, err);
  if (rc || !out->has_purchases)
    return rc;
  struct mes_eval_opts po = *o;
  po.purchases_only = true;
  struct mes_err perr = {0};
  rc = mes_eval_run(d, &po, &out->purchases, &perr);
  if (rc == MES_EBAD_INPUT) {
    /* Too few purchases is a finding about the file, not a failure. */
    mes_log(o->log, MES_LOG_WARN, "eval: purchases only: %s", mes_err_text(&perr));
    return MES_OK;
  }
  if (rc) {
    *err = perr;
    return rc;
  }
  out->purchases_ok = true;
  return MES_OK;
}
