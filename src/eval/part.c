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

int mes__run_ranker(const struct mes_eval_data *d, const struct mes_eval_ranker *rk, const struct mes__lists *train,
                    const struct mes__train *t, const struct mes__lists *test, const struct mes_eval_opts *o,
                    struct mes_eval_result *out, struct mes_err *err) {
  struct mes_eval_part part = {.d = d, .train = train};
  size_t n = t->n_items;
  uint32_t *excluded = mes__zalloc(n, sizeof *excluded); /* stamp: training items, then those ranked */
  uint32_t *relevant = mes__zalloc(n, sizeof *relevant);
  struct mes__acc acc;
  void *state = NULL;
  int rc = mes__acc_init(&acc, n);
  if (!excluded || !relevant || rc) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  uint64_t t0 = mes_mono_ns();
  if ((rc = rk->fit(rk->cfg, &part, o->log, &state, err)))
    goto done;
  out->fit_s = (double)(mes_mono_ns() - t0) / 1e9;

  size_t n_eval = 0;
  t0 = mes_mono_ns();
  for (size_t u = 0; u < test->n_users; u++) {
    if (test->off[u + 1] == test->off[u])
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
        out->n_not_candidate++;
        continue;
      }
      excluded[c] = stamp; /* a repeat is not a second slot */
      top[n_top++] = c;
    }
    if (n_top < MES_EVAL_TOP)
      out->n_short++;
    for (size_t k = test->off[u]; k < test->off[u + 1]; k++)
      relevant[t->cat[test->item[k]]] = stamp;
    mes__acc_add(&acc, top, n_top, relevant, stamp, test->off[u + 1] - test->off[u], t->pop);
    if (++n_eval % 200 == 0)
      mes_log(o->log, MES_LOG_INFO, "eval: %s: %zu users ranked", rk->name, n_eval);
  }
  mes__acc_finish(&acc, t->pop, &out->test);
  if (rk->report)
    rk->report(state, out);
  mes_log(o->log, MES_LOG_INFO,
          "eval: %s: fitted in %.2f s; %zu users ranked in %.2f s; test NDCG@10 %.4f; %zu answers short, %zu "
          "answered items outside the candidate set",
          rk->name, out->fit_s, n_eval, (double)(mes_mono_ns() - t0) / 1e9, out->test.ndcg10, out->n_short,
          out->n_not_candidate);

done:
  if (rk->free)
    rk->free(state);
  free(excluded);
  free(relevant);
  mes__acc_release(&acc);
  return rc;
}
