/*
 * model/unlearn_build — the model that unlearning returns: built from the
 * old model and the rows that changed (unlearn_int.h); the old model is
 * never changed, requests may still be reading it. When no item left the
 * model and EASE's rows stand (an erasure's usual case), the new model is
 * the old one's base blob with an overlay of the changed rows (struct
 * mes_model): nothing else is copied and no blob is written on the
 * erasure's answer path (the save writes it). Otherwise a new blob, with
 * unchanged rows copied; popularity's orders are merged, not sorted.
 */
#include <stdlib.h>
#include <string.h>

#include "model/unlearn_int.h"

/* ---------------------------------------------------------------- rows */

int mes__nbuf_room(struct nbuf *b, size_t more) {
  if (b->n + more <= b->cap)
    return MES_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + more)
    cap *= 2;
  struct mes_nbr *v = realloc(b->v, cap * sizeof *v);
  if (!v)
    return MES_ENOMEM;
  b->v = v;
  b->cap = cap;
  return MES_OK;
}

int mes__changed_add(struct changed *c, uint32_t item, const struct mes_nbr *v, size_t n) {
  if (c->n_rows + 2 > c->cap_rows) {
    size_t cap = c->cap_rows ? c->cap_rows * 2 : 64;
    size_t *at = realloc(c->at, cap * sizeof *at);
    if (!at)
      return MES_ENOMEM;
    c->at = at;
    c->cap_rows = cap;
  }
  if (mes__nbuf_room(&c->nb, n))
    return MES_ENOMEM;
  if (c->n_rows == 0)
    c->at[0] = 0;
  if (n)
    memcpy(c->nb.v + c->nb.n, v, n * sizeof *v);
  c->nb.n += n;
  c->slot[item] = (uint32_t)c->n_rows++;
  c->at[c->n_rows] = c->nb.n;
  return MES_OK;
}

void mes__changed_release(struct changed *c) {
  free(c->slot);
  free(c->nb.v);
  free(c->at);
  memset(c, 0, sizeof *c);
}

int mes__old_row(const struct mes__unlearn *u, const struct mes_model *m, enum mes_rel rel, uint32_t s,
                   struct nbuf *b) {
  uint32_t mi = u->to_model[s];
  if (mi == NONE || !m->nb_off[rel])
    return MES_OK;
  size_t n;
  const struct mes_nbr *row = mes_model_neighbors(m, rel, mi, &n);
  if (mes__nbuf_room(b, n))
    return MES_ENOMEM;
  for (size_t j = 0; j < n; j++)
    b->v[b->n++] = (struct mes_nbr){u->from_model[row[j].item], row[j].w};
  return MES_OK;
}


/* ---------------------------------------------------------------- the new model */

/* Relation rel of m with the rows of ch (may be NULL: none) in place, when
 * the new model numbers its n items as m did (to_model / from_model: the
 * new numbering). Unchanged rows are copied in runs where m reads them from
 * its blob, one by one where an overlay may stand in for them. */
static int patch_rows(const struct mes_model *m, enum mes_rel rel, const struct changed *ch,
                      const uint32_t *to_model, const uint32_t *from_model, size_t n, struct mes__csr *out) {
  const uint32_t *off = m->nb_off[rel];
  bool runs = !m->ov[rel].slot;
  if (!(out->off = malloc((n + 1) * sizeof *out->off)))
    return MES_ENOMEM;
  out->off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t s = from_model[i];
    size_t len;
    if (ch && ch->slot[s] != NONE)
      len = ch->at[ch->slot[s] + 1] - ch->at[ch->slot[s]];
    else
      mes_model_neighbors(m, rel, (uint32_t)i, &len);
    out->off[i + 1] = out->off[i] + (uint32_t)len;
  }
  out->n_nb = out->off[n];
  if (!(out->nb = malloc((out->n_nb ? out->n_nb : 1) * sizeof *out->nb)))
    return MES_ENOMEM;
  size_t run = 0; /* the first row of the run of unchanged rows being gathered */
  for (size_t i = 0; i <= n; i++) {
    bool changed = i < n && ch && ch->slot[from_model[i]] != NONE;
    if (i < n && !changed) {
      if (!runs) {
        size_t len;
        const struct mes_nbr *row = mes_model_neighbors(m, rel, (uint32_t)i, &len);
        if (len)
          memcpy(out->nb + out->off[i], row, len * sizeof *row);
      }
      continue;
    }
    if (runs && i > run)
      memcpy(out->nb + out->off[run], m->nb[rel] + off[run], (off[i] - off[run]) * sizeof *out->nb);
    run = i + 1;
    if (i == n)
      break;
    const struct mes_nbr *v = ch->nb.v + ch->at[ch->slot[from_model[i]]];
    for (uint32_t j = out->off[i]; j < out->off[i + 1]; j++, v++)
      out->nb[j] = (struct mes_nbr){to_model[v->item], v->w};
  }
  return MES_OK;
}

/* Relation rel's overlay of the new model (struct mes_model), when it
 * numbers its n items as m did: the rows of ch, and m's own overlay rows
 * that ch leaves. None (o left empty) when neither has a row. */
static int overlay(const struct mes_model *m, enum mes_rel rel, const struct changed *ch, const uint32_t *to_model,
                   const uint32_t *from_model, size_t n, struct mes__overlay *o) {
  const struct mes__overlay *old = &m->ov[rel];
  if (!ch->n_rows && !old->slot)
    return MES_OK;
  if (!(o->slot = malloc((n ? n : 1) * sizeof *o->slot)) || !(o->off = malloc((n + 1) * sizeof *o->off)))
    return MES_ENOMEM;
  size_t rows = 0;
  o->off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t s = from_model[i], len;
    if (ch->slot[s] != NONE)
      len = (uint32_t)(ch->at[ch->slot[s] + 1] - ch->at[ch->slot[s]]);
    else if (old->slot && old->slot[i] != MES__NO_ROW)
      len = old->off[old->slot[i] + 1] - old->off[old->slot[i]];
    else {
      o->slot[i] = MES__NO_ROW;
      continue;
    }
    o->slot[i] = (uint32_t)rows;
    o->off[rows + 1] = o->off[rows] + len;
    rows++;
  }
  o->n_rows = rows;
  if (!(o->nb = malloc((o->off[rows] ? o->off[rows] : 1) * sizeof *o->nb)))
    return MES_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    uint32_t r = o->slot[i], s = from_model[i];
    if (r == MES__NO_ROW)
      continue;
    struct mes_nbr *dst = o->nb + o->off[r];
    if (ch->slot[s] != NONE) {
      const struct mes_nbr *v = ch->nb.v + ch->at[ch->slot[s]];
      for (uint32_t j = o->off[r]; j < o->off[r + 1]; j++, v++, dst++)
        *dst = (struct mes_nbr){to_model[v->item], v->w};
    } else {
      memcpy(dst, old->nb + old->off[old->slot[i]], (o->off[r + 1] - o->off[r]) * sizeof *dst);
    }
  }
  return MES_OK;
}

/* The new model when no item left m and EASE's rows stand: m's base (m
 * itself when it has none) with overlays of the rows that changed, no blob
 * (struct mes_model). Takes over the popularity arrays and meta (set to
 * NULL). */
static int patched(struct mes_model *m, struct changed ch[2], const uint32_t *to_model, const uint32_t *from_model,
                   size_t n, float **pop, float **trend, uint32_t **top_pop, uint32_t **top_trend, json_t **meta,
                   struct mes_model **out) {
  struct mes_model *p = calloc(1, sizeof *p);
  if (!p)
    return MES_ENOMEM;
  struct mes_model *base = m->base ? m->base : m;
  atomic_init(&p->refs, 1);
  p->base = mes_model_ref(base);
  p->kind = m->kind;
  p->n_items = (uint32_t)n;
  p->id_off = base->id_off;
  p->ids = base->ids;
  memcpy(p->kw, m->kw, sizeof p->kw);
  for (int r = 0; r < MES_REL_N; r++) {
    p->nb_off[r] = base->nb_off[r];
    p->nb[r] = base->nb[r];
  }
  p->pop = p->own_pop = *pop;
  p->trend = p->own_trend = *trend;
  p->top_pop = p->own_top_pop = *top_pop;
  p->top_trend = p->own_top_trend = *top_trend;
  p->meta = *meta;
  *pop = *trend = NULL;
  *top_pop = *top_trend = NULL;
  *meta = NULL;
  int rc = MES_OK;
  for (int r = 0; r < 2 && !rc; r++) /* ch: BOUGHT, VIEWED; EASE's rows stand */
    rc = overlay(m, (enum mes_rel)r, &ch[r], to_model, from_model, n, &p->ov[r]);
  /* The strongest weights: m's, and the overlay rows' own. */
  if (!rc && m->top_w && (p->top_w = malloc((n ? n : 1) * MES_REL_N * sizeof *p->top_w))) {
    memcpy(p->top_w, m->top_w, n * MES_REL_N * sizeof *p->top_w);
    for (int r = 0; r < 2; r++)
      for (size_t i = 0; i < n && p->ov[r].slot; i++) {
        uint32_t o = p->ov[r].slot[i];
        if (o != MES__NO_ROW)
          p->top_w[(size_t)r * n + i] = p->ov[r].off[o + 1] > p->ov[r].off[o] ? p->ov[r].nb[p->ov[r].off[o]].w : 0.0f;
      }
  }
  if (!rc)
    rc = mes__model_units(p);
  if (rc) {
    mes_model_unref(p);
    return rc;
  }
  *out = p;
  return MES_OK;
}

int mes__unlearn_build(struct mes__unlearn *u, struct mes_model *m, struct changed ch[2],
                       const struct mes__csr *ease_rows, bool ease_dropped, size_t n_forgot, const uint8_t *moved,
                       struct mes_model **out, struct mes_err *err) {
  size_t ns = u->d.n_items, n = 0;
  uint32_t *to_model = malloc((ns ? ns : 1) * sizeof *to_model);
  uint32_t *from_model = malloc((ns ? ns : 1) * sizeof *from_model);
  size_t m1 = u->n_model ? u->n_model : 1;
  double *lo = malloc(m1 * sizeof *lo), *sh = malloc(m1 * sizeof *sh);
  float *pop = malloc(m1 * sizeof *pop), *trend = malloc(m1 * sizeof *trend);
  uint32_t *top_pop = malloc(m1 * sizeof *top_pop), *top_trend = malloc(m1 * sizeof *top_trend);
  char *ids = malloc(u->d.ids_len ? u->d.ids_len : 1);
  uint32_t *id_off = malloc((ns + 1) * sizeof *id_off);
  struct mes__csr rel[MES_REL_N];
  memset(rel, 0, sizeof rel);
  json_t *meta = NULL;
  char *meta_text = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  int rc = MES_ENOMEM;
  if (!to_model || !from_model || !lo || !sh || !pop || !trend || !top_pop || !top_trend || !ids || !id_off)
    goto done;
  /* The items still present: those with a counted event left. */
  id_off[0] = 0;
  for (uint32_t s = 0; s < ns; s++) {
    to_model[s] = NONE;
    if (u->to_model[s] == NONE)
      continue;
    bool left = false;
    for (uint32_t j = u->ev_off[s]; j < u->ev_off[s + 1] && !left; j++)
      left = live(u, u->ev_inv[j]);
    if (!left)
      continue;
    to_model[s] = (uint32_t)n;
    from_model[n] = s;
    lo[n] = mes__mass_value(u->lo[s]);
    sh[n] = mes__mass_value(u->sh[s]);
    uint32_t len = u->d.id_off[s + 1] - u->d.id_off[s];
    memcpy(ids + id_off[n], u->d.ids + u->d.id_off[s], len);
    id_off[n + 1] = id_off[n] + len;
    n++;
  }
  /* The orders: the old ones without the items whose masses moved (moved:
   * state items), merged with those. */
  {
    uint32_t *hp = malloc(m1 * sizeof *hp), *ht = malloc(m1 * sizeof *ht);
    size_t nh = 0, nt = 0;
    if (!hp || !ht) {
      free(hp);
      free(ht);
      goto done;
    }
    for (size_t i = 0; i < u->n_model; i++) {
      uint32_t sp = u->from_model[m->top_pop[i]], st = u->from_model[m->top_trend[i]];
      if (to_model[sp] != NONE && !moved[sp])
        hp[nh++] = to_model[sp];
      if (to_model[st] != NONE && !moved[st])
        ht[nt++] = to_model[st];
    }
    int prc = mes__pop_finish_hinted(n, &u->p, lo, sh, pop, trend, top_pop, top_trend, hp, ht, nh < nt ? nh : nt);
    free(hp);
    free(ht);
    if (prc)
      goto done;
  }
  /* The relations in the new numbering: in overlays when no item left and
   * EASE's rows stand (most erasures: nothing copied but the rows that
   * changed, no blob written until the save), else in a new blob. */
  bool patch = n == u->n_model && !ease_rows && !ease_dropped;
  for (int r = 0; r < MES_REL_N && !patch; r++) {
    if (n == u->n_model && m->nb_off[r] && !(r == MES_REL_EASE && (ease_dropped || ease_rows))) {
      /* No item left: the numbering stands, the unchanged rows are copied in
       * runs, only the changed ones are put in place. */
      if ((rc = patch_rows(m, (enum mes_rel)r, r < 2 ? &ch[r] : NULL, to_model, from_model, n, &rel[r])))
        goto done;
      rc = MES_ENOMEM;
      continue;
    }
    if (!m->nb_off[r] || (r == MES_REL_EASE && ease_dropped)) {
      if (!(rel[r].off = calloc(n + 1, sizeof *rel[r].off)))
        goto done;
      continue;
    }
    struct nbuf b = {0};
    if (!(rel[r].off = calloc(n + 1, sizeof *rel[r].off)))
      goto done;
    for (size_t i = 0; i < n; i++) {
      uint32_t s = from_model[i];
      size_t start = b.n;
      if (r < 2 && ch[r].slot[s] != NONE) {
        size_t a = ch[r].at[ch[r].slot[s]], z = ch[r].at[ch[r].slot[s] + 1];
        if (mes__nbuf_room(&b, z - a)) {
          free(b.v);
          goto done;
        }
        if (z > a)
          memcpy(b.v + b.n, ch[r].nb.v + a, (z - a) * sizeof *b.v);
        b.n += z - a;
      } else if (r == MES_REL_EASE && ease_rows) {
        int32_t e = u->eidx[s];
        if (e >= 0) {
          size_t a = ease_rows->off[e], z = ease_rows->off[e + 1];
          if (mes__nbuf_room(&b, z - a)) {
            free(b.v);
            goto done;
          }
          if (z > a)
            memcpy(b.v + b.n, ease_rows->nb + a, (z - a) * sizeof *b.v);
          b.n += z - a;
        }
      } else if (mes__old_row(u, m, (enum mes_rel)r, s, &b)) {
        free(b.v);
        goto done;
      }
      size_t keep = start; /* state numbering -> new numbering */
      for (size_t j = start; j < b.n; j++)
        if (to_model[b.v[j].item] != NONE)
          b.v[keep++] = (struct mes_nbr){to_model[b.v[j].item], b.v[j].w};
      b.n = keep;
      rel[r].off[i + 1] = (uint32_t)b.n;
    }
    rel[r].nb = b.v ? b.v : malloc(sizeof *rel[r].nb);
    rel[r].n_nb = b.n;
    if (!rel[r].nb)
      goto done;
  }
  /* Meta: the old one, counting what is left. */
  size_t n_ev = u->n_live_ev - n_forgot;
  json_t *old_unlearned = json_object_get(m->meta, "unlearned_events");
  int kind = ease_dropped && u->kind == MES__BUILT_EASE ? MES__BUILT_COOC : m->kind;
  if (!(meta = json_deep_copy(m->meta)) ||
      json_object_set_new(meta, "kind", json_string(mes__built_kind_name(kind))) ||
      json_object_set_new(meta, "items", json_integer((json_int_t)n)) ||
      json_object_set_new(meta, "events", json_integer((json_int_t)n_ev)) ||
      json_object_set_new(meta, "subjects", json_integer((json_int_t)u->n_live_subj)) ||
      json_object_set_new(meta, "ease_items",
                          json_integer(kind == MES__BUILT_EASE && ease_rows ? (json_int_t)n : 0)) ||
      json_object_set_new(meta, "unlearned_events",
                          json_integer(json_integer_value(old_unlearned) + (json_int_t)n_forgot)) ||
      !(meta_text = mes_json_dumps(meta, JSON_COMPACT)))
    goto done;
  if (patch) {
    if ((rc = patched(m, ch, to_model, from_model, n, &pop, &trend, &top_pop, &top_trend, &meta, out)))
      goto done;
  } else {
    struct mes__parts parts = {
      .kind = kind,
      .n_items = n,
      .ids = ids,
      .id_off = id_off,
      .pop = pop,
      .trend = trend,
      .top_pop = top_pop,
      .top_trend = top_trend,
      .meta = meta_text,
  };
    memcpy(parts.kw, m->kw, sizeof parts.kw);
    memcpy(parts.rel, rel, sizeof rel);
    if ((rc = mes__blob_write(&parts, &blob, &blob_len, err)))
      goto done;
    if ((rc = mes__model_from_own_blob(blob, blob_len, out, err))) /* takes blob */
      goto done;
  }
  free(u->to_model);
  free(u->from_model);
  u->to_model = to_model;
  u->from_model = from_model;
  u->n_model = n;
  to_model = from_model = NULL;
done:
  if (rc == MES_ENOMEM)
    mes_err_set(err, rc, NULL, "Out of memory while unlearning.");
  free(to_model);
  free(from_model);
  free(lo);
  free(sh);
  free(pop);
  free(trend);
  free(top_pop);
  free(top_trend);
  free(ids);
  free(id_off);
  for (int r = 0; r < MES_REL_N; r++)
    mes__csr_release(&rel[r]);
  json_decref(meta);
  free(meta_text);
  return rc;
}

