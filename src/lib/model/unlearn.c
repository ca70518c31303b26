/*
 * model/unlearn — exact unlearning: a person's contribution (or one event's)
 * leaves a trained model, which becomes the model training would have built
 * without it, at once and without a retrain.
 *
 * What a model keeps for it (struct mes__unlearn, built at training):
 *   - the training data itself (12 bytes an event, grouped by person, items
 *     and people numbered canonically: see mes__canonical), with an index
 *     from each item to its events: a forgotten event is marked (its kind
 *     set to one that counts for nothing), never moved;
 *   - each co-occurrence relation's event index (cooc.c), so that a row is
 *     recounted by the very code and in the very order training used, and
 *     each row's kept neighbours: the served k and a margin beyond them,
 *     with their pair counts, and a bound on every other weight (cooc.c,
 *     struct mes__cooc_kept);
 *   - popularity's two masses per item, in fixed point (pop.c).
 *   - for EASE, the inverse P = (XᵀX + λI)⁻¹ in double precision, n² x 8
 *     bytes, when it fits model.max_memory_mb (mes_model_train decides).
 *
 * Removing a person p (or one of their events) then goes:
 *   1. popularity: each forgotten event's share is taken off its item's
 *      masses (fixed point: the bits of a sum without it); the scores are
 *      rescaled and the orders merged (pop.c);
 *   2. co-occurrence, per relation: p's own evidence of each pair and item,
 *      from p's timeline alone, is taken off the kept counts and norms; each
 *      row's new top k is then decided from its kept neighbours where the
 *      bound allows, and the few rows where it does not are counted again
 *      (see "co-occurrence" below);
 *   3. EASE: removing p's row x of X is a rank-1 downdate of the Gram
 *      matrix, G' = G − x xᵀ, and Sherman–Morrison gives its inverse,
 *      P' = P + (P x)(P x)ᵀ / (1 − xᵀ P x), in O(n²); forgetting one event
 *      changes x to x', a downdate by x then an update by x'. Every row of B
 *      is then sparsified again from P' (O(n²) as well). Without a kept P
 *      the EASE relation is dropped instead (the person's contribution is
 *      neutralised, every other list stays exact) and the caller retrains;
 *   4. items that nobody else touched leave the model, and a new model is
 *      built from the parts (a new blob: the old model is never changed;
 *      when no item left, the unchanged rows are copied in runs).
 *
 * Numbering: the kept data stays in training's item numbering ("state
 * items"); each model built from it numbers only the items still present,
 * in the same order (to_model / from_model map the two), so that ties,
 * broken by the smaller index, break as in a retrain.
 *
 * This file holds the kept state, the entry points and the steps of one
 * forgetting (EASE's update included); step 2 is unlearn_cooc.c, step 4
 * unlearn_build.c (unlearn_int.h says what they share).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/unlearn_int.h"


void mes__unlearn_free(struct mes__unlearn *u) {
  if (!u)
    return;
  mes__data_release(&u->d);
  free(u->dead);
  free(u->ev_off);
  free(u->ev_inv);
  free(u->lo);
  free(u->sh);
  for (int r = 0; r < 2; r++) {
    mes__cooc_index_release(&u->rel[r]);
    mes__cooc_kept_release(&u->kept[r]);
  }
  for (int t = 0; t < u->n_sc; t++) {
    mes__cooc_scratch_free(u->sc[t]);
  }
  free(u->P);
  free(u->ease_items);
  free(u->eidx);
  free(u->to_model);
  free(u->from_model);
  free(u);
}

size_t mes__unlearn_bytes(const struct mes__unlearn *u) {
  if (!u)
    return 0;
  size_t n = u->d.n_items, b = sizeof *u;
  b += u->d.n_ev * (sizeof *u->d.ev + sizeof *u->ev_inv) + u->d.n_ev / 8 + 1 + (u->d.n_subj + 1) * (sizeof *u->d.subj_off + 8);
  b += u->d.ids_len + (n + 1) * 4 + mes_htab_n_slots(&u->d.ihash) * sizeof(struct mes_htab_slot);
  b += (n + 1) * sizeof *u->ev_off + n * (2 * sizeof(double) + 2 * sizeof(uint32_t) + sizeof(int32_t));
  for (int r = 0; r < 2; r++) {
    const struct mes__cooc_index *c = &u->rel[r];
    if (c->r)
      b += c->n * (sizeof *c->r + 2 * sizeof(uint32_t)) + (c->n_subj + 1) * 4 + (n + 1) * 4 + n * 8;
    b += u->kept[r].n_items * (u->kept[r].cap * 12 + 8);
  }
  b += (size_t)u->n_sc * (n * (4 + 4 + 8 + 4 + 4 + 4 + 8 + 4 + 8) + 4); /* cooc.c's scratch */
  b += u->n_ease * u->n_ease * sizeof(double) * (u->P != NULL) + u->n_ease * 4;
  return b;
}

/* ---------------------------------------------------------------- building */

int mes__unlearn_new(struct mes__data *d, const struct mes_model_params *p, const float kw[MES_KIND_N],
                     int64_t now_ms, int kind, double *P, const uint32_t *ease_items, size_t n_ease,
                     struct mes__cooc_index rel_index[2], struct mes__cooc_kept kept[2], struct mes__unlearn **out) {
  *out = NULL;
  struct mes__unlearn *u = calloc(1, sizeof *u);
  if (!u) {
    free(P);
    for (int r = 0; r < 2; r++) {
      mes__cooc_index_release(&rel_index[r]);
      mes__cooc_kept_release(&kept[r]);
    }
    return MES_ENOMEM;
  }
  for (int r = 0; r < 2; r++) {
    u->rel[r] = rel_index[r];
    u->kept[r] = kept[r];
    memset(&rel_index[r], 0, sizeof rel_index[r]);
    memset(&kept[r], 0, sizeof kept[r]);
  }
  u->p = *p;
  u->now_ms = now_ms;
  memcpy(u->kw, kw, sizeof u->kw);
  mes__ease_kw(kw, u->kw_rel);
  u->kind = kind;
  u->d = *d;
  memset(d, 0, sizeof *d);
  u->P = P;
  u->n_ease = P ? n_ease : 0;
  size_t n = u->d.n_items, m = n ? n : 1;
  u->n_model = n;
  u->n_live_subj = u->d.n_subj;
  u->n_live_ev = u->d.n_ev;
  u->ev_off = calloc(n + 1, sizeof *u->ev_off);
  u->ev_inv = malloc((u->d.n_ev ? u->d.n_ev : 1) * sizeof *u->ev_inv);
  u->dead = calloc(u->d.n_ev / 8 + 1, 1);
  u->lo = calloc(m, sizeof *u->lo);
  u->sh = calloc(m, sizeof *u->sh);
  u->to_model = malloc(m * sizeof *u->to_model);
  u->from_model = malloc(m * sizeof *u->from_model);
  u->eidx = malloc(m * sizeof *u->eidx);
  u->ease_items = malloc((u->n_ease ? u->n_ease : 1) * sizeof *u->ease_items);
  uint32_t *pos = malloc(m * sizeof *pos);
  int rc = MES_ENOMEM;
  if (!u->ev_off || !u->ev_inv || !u->dead || !u->lo || !u->sh || !u->to_model || !u->from_model || !u->eidx ||
      !u->ease_items || !pos)
    goto fail;
  for (size_t e = 0; e < u->d.n_ev; e++) {
    u->ev_off[item_of(&u->d.ev[e]) + 1]++;
    mes__pop_add(&u->d.ev[e], p, kw, now_ms, u->lo, u->sh, 1);
  }
  for (size_t i = 0; i < n; i++)
    u->ev_off[i + 1] += u->ev_off[i];
  memcpy(pos, u->ev_off, n * sizeof *pos);
  for (size_t e = 0; e < u->d.n_ev; e++)
    u->ev_inv[pos[item_of(&u->d.ev[e])]++] = (uint32_t)e;
  for (size_t i = 0; i < n; i++) {
    u->to_model[i] = u->from_model[i] = (uint32_t)i;
    u->eidx[i] = -1;
  }
  for (size_t e = 0; e < u->n_ease; e++) {
    u->ease_items[e] = ease_items[e];
    u->eidx[ease_items[e]] = (int32_t)e;
  }
  u->ease_partial = kind == MES__BUILT_EASE && n_ease < n;
  if (kind != MES__BUILT_POPULAR) {
    if (!u->rel[0].norm || !u->rel[1].norm || !u->kept[0].len || !u->kept[1].len) {
      rc = MES_EINTERNAL; /* training hands both over for a co-occurrence model */
      goto fail;
    }
    int threads = p->threads < 1 ? 1 : p->threads > MAX_THREADS ? MAX_THREADS : p->threads;
    for (; u->n_sc < threads; u->n_sc++)
      if (!(u->sc[u->n_sc] = mes__cooc_scratch_new(n)))
        goto fail;
  }
  free(pos);
  *out = u;
  return MES_OK;
fail:
  free(pos);
  mes__unlearn_free(u);
  return rc;
}

/* ---------------------------------------------------------------- EASE */

/* G' = G + sign a aᵀ for a person's row a (n_a entries at EASE indexes ai):
 * P' = P − sign (P a)(P a)ᵀ / (1 + sign aᵀ P a). */
static int sherman_morrison(double *P, size_t n, const uint32_t *ai, const double *av, size_t n_a, double sign) {
  if (n_a == 0)
    return MES_OK;
  double *v = calloc(n, sizeof *v);
  if (!v)
    return MES_ENOMEM;
  for (size_t t = 0; t < n_a; t++) /* P symmetric: P a is a sum of P's rows */
    cblas_daxpy((int)n, av[t], P + (size_t)ai[t] * n, 1, v, 1);
  double q = 0;
  for (size_t t = 0; t < n_a; t++)
    q += av[t] * v[ai[t]];
  cblas_dger(CblasRowMajor, (int)n, (int)n, -sign / (1.0 + sign * q), v, 1, v, 1, P, (int)n);
  free(v);
  return MES_OK;
}

/* The person's EASE row from their counted events [lo, hi): EASE indexes and
 * values, as the Gram matrix took them (the largest value per item). */
static size_t ease_row(const struct mes__unlearn *u, uint32_t lo, uint32_t hi, uint32_t *ai, double *av) {
  double now_s = (double)u->now_ms / 1000.0, hl = u->p.relation_half_life_days * 86400.0;
  size_t n = 0;
  for (uint32_t e = lo; e < hi; e++) {
    const struct mes__ev *ev = &u->d.ev[e];
    int32_t i = u->eidx[item_of(ev)];
    if (i < 0 || !live(u, e))
      continue;
    float v = mes__ease_value(u->kw_rel, now_s, hl, ev);
    size_t t = 0;
    while (t < n && ai[t] != (uint32_t)i)
      t++;
    if (t == n) {
      ai[n] = (uint32_t)i;
      av[n++] = v;
    } else if (v > (float)av[t]) {
      av[t] = v;
    }
  }
  return n;
}

/* ---------------------------------------------------------------- forgetting */

/* Forgets the counted events `evs` (n of them, positions in u->d.ev) of
 * subject s, all live, and builds *out. On failure m keeps serving, but the
 * kept state may be half changed: it is dropped, m can no longer unlearn. */
static int forget(struct mes_model *m, uint32_t s, const uint32_t *evs, size_t n_evs, struct mes_model **out,
                  struct mes_unlearn_info *info, struct mes_err *err) {
  struct mes__unlearn *u = m->ul;
  size_t ns = u->d.n_items;
  uint32_t lo = u->d.subj_off[s], hi = u->d.subj_off[s + 1];
  size_t n_p = hi - lo;
  struct changed ch[2];
  memset(ch, 0, sizeof ch);
  struct mes__csr ease_rows = {0};
  /* EASE trained but its inverse not kept: dropped at the first unlearning. */
  bool ease_dropped = u->kind == MES__BUILT_EASE && !u->P;
  bool have_ease_rows = false;
  size_t n_decided = 0, n_recounted = 0;
  uint32_t *xs = malloc((n_p ? n_p : 1) * sizeof *xs), *xr = malloc((n_p ? n_p : 1) * sizeof *xr);
  uint32_t *ai = malloc((2 * n_p + 1) * sizeof *ai);
  double *av = malloc((2 * n_p + 1) * sizeof *av);
  uint8_t *mark = calloc(ns ? ns : 1, 1), *skip = NULL;
  int rc = MES_ENOMEM;
  if (!xs || !xr || !ai || !av || !mark)
    goto fail;
  for (int r = 0; r < 2; r++) {
    ch[r].slot = malloc((ns ? ns : 1) * sizeof *ch[r].slot);
    if (!ch[r].slot)
      goto fail;
    for (size_t i = 0; i < ns; i++)
      ch[r].slot[i] = NONE;
  }
  /* EASE: the person's row before. */
  size_t n_a = u->P ? ease_row(u, lo, hi, ai, av) : 0;

  /* Per relation, the entries of its index for the events forgotten (the
   * relation's entries of s are s's events of that relation's kinds, in
   * order), and the rows that change. */
  for (int r = 0; r < 2 && m->kind != MES__BUILT_POPULAR; r++) {
    struct mes__cooc_index *c = &u->rel[r];
    enum mes_rel rel = r == 0 ? MES_REL_BOUGHT : MES_REL_VIEWED;
    uint32_t q = c->s_off[s];
    size_t n_q = 0, t = 0;
    for (uint32_t e = lo; e < hi; e++) {
      if (!in_rel(rel, kind_of(&u->d.ev[e])))
        continue;
      while (t < n_evs && evs[t] < e)
        t++;
      if (t < n_evs && evs[t] == e)
        xs[n_q++] = q;
      q++;
    }
    if (n_q && (rc = mes__unlearn_cooc(u, m, rel, c, &u->kept[r], s, xs, n_q, &ch[r], &n_decided, &n_recounted)))
      goto fail;
  }
  size_t n_xall = 0;
  for (size_t t = 0; t < n_evs; t++) {
    uint32_t x = item_of(&u->d.ev[evs[t]]);
    u->dead[evs[t] / 8] |= (uint8_t)(1u << (evs[t] % 8));
    /* Popularity: the event's share off its item's masses (exact: fixed point). */
    mes__pop_add(&u->d.ev[evs[t]], &u->p, u->kw, u->now_ms, u->lo, u->sh, -1);
    if (!mark[x]) {
      mark[x] = 1;
      xr[n_xall++] = x;
    }
  }
  bool any_left = false;
  for (uint32_t e = lo; e < hi && !any_left; e++)
    any_left = live(u, e);
  if (!any_left)
    u->n_live_subj--;
  for (size_t t = 0; t < n_xall; t++)
    mark[xr[t]] = 0;
  /* EASE: x out, x' (what is left of the person) in. */
  if (u->P) {
    size_t n_b = ease_row(u, lo, hi, ai + n_a, av + n_a);
    bool same = n_b == n_a;
    for (size_t t = 0; t < n_a && same; t++) {
      size_t j = 0;
      while (j < n_b && ai[n_a + j] != ai[t])
        j++;
      same = j < n_b && av[n_a + j] == av[t];
    }
    if (!same) {
      if ((rc = sherman_morrison(u->P, u->n_ease, ai, av, n_a, -1.0)) ||
          (rc = sherman_morrison(u->P, u->n_ease, ai + n_a, av + n_a, n_b, 1.0)))
        goto fail;
      if (!(skip = calloc(u->n_ease ? u->n_ease : 1, 1))) {
        rc = MES_ENOMEM;
        goto fail;
      }
      for (size_t e = 0; e < u->n_ease; e++) {
        uint32_t x = u->ease_items[e];
        bool left = false;
        for (uint32_t j = u->ev_off[x]; j < u->ev_off[x + 1] && !left; j++)
          left = live(u, u->ev_inv[j]);
        skip[e] = !left;
      }
      size_t k = u->p.max_neighbors > 0 ? (size_t)u->p.max_neighbors : 0;
      if ((rc = mes__ease_rows(u->P, u->n_ease, u->ease_items, skip, k, u->p.threads, &ease_rows)))
        goto fail;
      have_ease_rows = true;
    }
  }
  for (size_t t = 0; t < n_xall; t++)
    mark[xr[t]] = 1; /* the items whose popularity moved */
  rc = mes__unlearn_build(u, m, ch, have_ease_rows ? &ease_rows : NULL, ease_dropped, n_evs, mark, out, err);
  if (rc)
    goto fail;
  u->n_live_ev -= n_evs;
  /* The kept state moves on to the new model. */
  (*out)->ul = u;
  atomic_store(&(*out)->ul_bytes, mes__unlearn_bytes(u));
  m->ul = NULL;
  atomic_store(&m->ul_bytes, 0);
  if (info) {
    info->events = n_evs;
    info->rows_decided = n_decided;
    info->rows_recounted = n_recounted;
    info->exact = !ease_dropped && !u->ease_partial;
    info->retrain = !info->exact;
  }
  goto done;
fail:
  if (rc == MES_ENOMEM)
    mes_err_set(err, rc, NULL, "Out of memory while unlearning; the model must be trained again.");
  atomic_store(&m->ul_bytes, 0);
  mes__unlearn_free(m->ul);
  m->ul = NULL;
done:
  for (int r = 0; r < 2; r++)
    mes__changed_release(&ch[r]);
  mes__csr_release(&ease_rows);
  free(xs);
  free(xr);
  free(ai);
  free(av);
  free(mark);
  free(skip);
  return rc;
}

/* The dense index of store subject sid, or -1. */
static int64_t subject_of(const struct mes__unlearn *u, int64_t sid) {
  if (!u->d.sid)
    return sid >= 0 && (uint64_t)sid < u->d.n_subj ? sid : -1;
  size_t a = 0, z = u->d.n_subj;
  while (a < z) {
    size_t mid = a + (z - a) / 2;
    if (u->d.sid[mid] < sid)
      a = mid + 1;
    else
      z = mid;
  }
  return a < u->d.n_subj && u->d.sid[a] == sid ? (int64_t)a : -1;
}

/* No change to make: m itself, as exact as it is. */
static int unchanged(struct mes_model *m, bool can, struct mes_model **out, struct mes_unlearn_info *info) {
  *out = mes_model_ref(m);
  if (info)
    *info = (struct mes_unlearn_info){.events = 0, .exact = can, .retrain = !can};
  return MES_OK;
}

int mes_model_unlearn(struct mes_model *m, int64_t sid, struct mes_model **out, struct mes_unlearn_info *info,
                      struct mes_err *err) {
  *out = NULL;
  if (!m->ul)
    return unchanged(m, false, out, info);
  struct mes__unlearn *u = m->ul;
  int64_t s = subject_of(u, sid);
  if (s < 0)
    return unchanged(m, true, out, info);
  uint32_t lo = u->d.subj_off[s], hi = u->d.subj_off[s + 1];
  uint32_t *evs = malloc((hi - lo + 1) * sizeof *evs);
  if (!evs)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t n = 0;
  for (uint32_t e = lo; e < hi; e++)
    if (live(u, e))
      evs[n++] = e;
  int rc = n ? forget(m, (uint32_t)s, evs, n, out, info, err) : unchanged(m, true, out, info);
  free(evs);
  return rc;
}

int mes_model_forget_event(struct mes_model *m, int64_t sid, const char *item, size_t len, enum mes_kind kind,
                           int64_t ts_ms, struct mes_model **out, struct mes_unlearn_info *info,
                           struct mes_err *err) {
  *out = NULL;
  if (!m->ul)
    return unchanged(m, false, out, info);
  struct mes__unlearn *u = m->ul;
  int64_t s = subject_of(u, sid);
  if (s < 0 || !item || (kind != MES_KIND_VIEW && kind != MES_KIND_CLICK && kind != MES_KIND_CART &&
                         kind != MES_KIND_PURCHASE))
    return unchanged(m, true, out, info);
  /* The item's state index, from the kept id table. */
  uint32_t tag = mes_htab_tag(mes_hash_bytes(item, len));
  struct mes_htab_slot *slot;
  int64_t x = -1;
  for (size_t pos = 0; x < 0 && (slot = mes_htab_next(&u->d.ihash, tag, &pos));) {
    uint32_t i = slot->val - 1;
    if (u->d.id_off[i + 1] - u->d.id_off[i] - 1 == len && memcmp(u->d.ids + u->d.id_off[i], item, len) == 0)
      x = i;
  }
  if (x < 0)
    return unchanged(m, true, out, info);
  int64_t ts = ts_ms / 1000; /* as mes__data_add stored it */
  if (ts < 0)
    ts = 0;
  if (ts > (int64_t)UINT32_MAX)
    ts = UINT32_MAX;
  uint32_t want = (uint32_t)x | (uint32_t)kind << MES__KIND_SHIFT;
  for (uint32_t e = u->d.subj_off[s]; e < u->d.subj_off[s + 1]; e++)
    if (u->d.ev[e].ik == want && u->d.ev[e].ts == (uint32_t)ts && live(u, e))
      return forget(m, (uint32_t)s, &e, 1, out, info, err);
  return unchanged(m, true, out, info);
}
