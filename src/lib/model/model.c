/*
 * model/model — training runs end to end, saving and loading, reference
 * counts, and the query functions the recommender calls on the hot path.
 */
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "model/model_int.h"

#define KEEP_MODELS 2 /* the live one and the one before it */
#define MIB (1024.0 * 1024.0)

void mes_model_params_default(struct mes_model_params *p) {
  *p = (struct mes_model_params){
      .kind = MES_MODEL_AUTO,
      .max_neighbors = 50,
      .half_life_days = 60,
      .relation_half_life_days = 365,
      .trend_half_life_days = 3,
      .window_hours = 72,
      .ease_lambda = 200,
      .ease_max_items = 30000,
      .max_memory_mb = 2048,
      .threads = 2,
      .unlearn = true,
      .unlearn_margin = 50,
  };
  mes__kind_weights_default(p->kind_weights);
}

const char *mes__built_kind_name(int k) {
  static const char *const names[MES__BUILT_N] = {"popular", "cooc", "ease"};
  return k >= 0 && k < MES__BUILT_N ? names[k] : "unknown";
}

/* The kind as a log line says it, article and all ("an EASE model"). */
static const char *kind_phrase(int k) {
  static const char *const phrases[MES__BUILT_N] = {"a popular model", "a cooc model", "an EASE model"};
  return k >= 0 && k < MES__BUILT_N ? phrases[k] : "a model";
}

/* ---------------------------------------------------------------- training */

static json_t *time_or_null(int64_t ms, bool have) {
  if (!have)
    return json_null();
  char ts[32];
  mes_time_format(ms, ts);
  return json_string(ts);
}

static json_t *params_json(const struct mes_model_params *p) {
  static const char *const kinds[] = {"auto", "cooc", "ease", "popular"};
  return json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:i, s:f, s:b}", "kind",
                   p->kind >= 0 && p->kind < 4 ? kinds[p->kind] : "auto", "max_neighbors", p->max_neighbors,
                   "half_life_days", p->half_life_days, "relation_half_life_days", p->relation_half_life_days,
                   "trend_half_life_days", p->trend_half_life_days,
                   "window_hours", p->window_hours, "ease_lambda", p->ease_lambda, "ease_max_items",
                   p->ease_max_items, "max_memory_mb", (json_int_t)p->max_memory_mb, "threads", p->threads,
                   "bought_window_days", MES__BOUGHT_WINDOW_S / 86400.0, "unlearn", p->unlearn);
}

/* The most EASE items that fit in max_memory_mb, beside the training data
 * (bytes(n): mes__ease_bytes or mes__ease_keep_bytes). */
static size_t ease_fit(const struct mes_model_params *p, size_t data_bytes, size_t (*bytes)(size_t)) {
  double budget = (double)p->max_memory_mb * MIB - (double)data_bytes;
  size_t n = 0, hi = 46340;
  while (n < hi) { /* the largest n with bytes(n) <= budget */
    size_t mid = n + (hi - n + 1) / 2;
    if ((double)bytes(mid) <= budget)
      n = mid;
    else
      hi = mid - 1;
  }
  return n;
}

int mes_model_train(struct mes_ingester *ing, const struct mes_req *c, const struct mes_log *log,
                    const struct mes_model_params *p, struct mes_model **out, struct mes_err *err) {
  *out = NULL;
  struct mes__data d;
  int rc = mes__collect(ing, c, log, &d, err);
  if (rc)
    return rc;
  return mes__model_build(&d, p, c->now_ms, log, out, err);
}

int mes__model_build(struct mes__data *dp, const struct mes_model_params *p, int64_t now_ms,
                     const struct mes_log *log, struct mes_model **out, struct mes_err *err) {
  *out = NULL;
  struct mes__data d = *dp; /* taken over */
  memset(dp, 0, sizeof *dp);
  uint64_t t0 = mes_mono_ns() - (uint64_t)(d.scan_ms > 0 ? d.scan_ms : 0) * 1000000u; /* the scan counts */
  double *ease_p = NULL;
  struct mes__unlearn *ul = NULL;
  float kw[MES_KIND_N];
  mes__kind_weights_from(p, kw);
  float *pop = NULL, *trend = NULL;
  uint32_t *top_pop = NULL, *top_trend = NULL;
  struct mes__csr rel[MES_REL_N];
  memset(rel, 0, sizeof rel);
  /* What unlearning keeps of the co-occurrence relations, counted once with
   * them (BOUGHT, VIEWED). */
  struct mes__cooc_index rel_index[2];
  struct mes__cooc_kept kept[2];
  memset(rel_index, 0, sizeof rel_index);
  memset(kept, 0, sizeof kept);
  json_t *meta = NULL;
  char *meta_text = NULL;
  uint8_t *blob = NULL;
  size_t blob_len = 0;
  int rc;
  if ((rc = mes__canonical(&d)) != MES_OK || (rc = mes__by_subject(&d)) != MES_OK) {
    mes_err_set(err, rc, NULL, "Out of memory while grouping the events by person.");
    goto done;
  }
  size_t n = d.n_items, m = n ? n : 1;
  pop = malloc(m * sizeof *pop);
  trend = malloc(m * sizeof *trend);
  top_pop = malloc(m * sizeof *top_pop);
  top_trend = malloc(m * sizeof *top_trend);
  if (!pop || !trend || !top_pop || !top_trend ||
      mes__popularity(&d, p, kw, now_ms, pop, trend, top_pop, top_trend)) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, "Out of memory while computing popularity.");
    goto done;
  }
  uint64_t t_pop = mes_mono_ns();

  /* Which relations: popular (none), cooc (bought and viewed together), or
   * those and EASE. auto takes EASE when every item fits. */
  int kind = p->kind == MES_MODEL_POPULAR ? MES__BUILT_POPULAR : MES__BUILT_COOC;
  size_t data_bytes = d.n_ev * sizeof *d.ev * 2 + d.ids_len;
  size_t n_ease = 0, fits = ease_fit(p, data_bytes, mes__ease_bytes);
  /* A model that can unlearn keeps EASE's inverse, in double precision,
   * when it fits; else its EASE relation is dropped at the first unlearning
   * and a retrain brings it back (mes_model_unlearn). */
  size_t keep_fits = p->unlearn ? ease_fit(p, data_bytes, mes__ease_keep_bytes) : 0;
  size_t cap = p->ease_max_items > 0 ? (size_t)p->ease_max_items : 0;
  if (p->kind == MES_MODEL_EASE) {
    n_ease = n < cap ? n : cap;
    if (n_ease > fits) {
      mes_log(log, MES_LOG_WARN,
              "training: EASE over %zu items needs %.0f MiB, over model.max_memory_mb; using the %zu most popular",
              n_ease, (double)mes__ease_bytes(n_ease) / MIB, fits);
      n_ease = fits;
    }
    if (n_ease >= 2)
      kind = MES__BUILT_EASE;
    else if (n >= 2)
      mes_log(log, MES_LOG_WARN, "training: no room for EASE within model.max_memory_mb; co-occurrence only");
  } else if (p->kind == MES_MODEL_AUTO && n >= 2) {
    if (n <= cap && n <= fits) {
      n_ease = n;
      kind = MES__BUILT_EASE;
    } else {
      mes_log(log, MES_LOG_INFO,
              "training: %zu items %s; co-occurrence model (EASE would need %.0f MiB)", n,
              n > cap ? "exceed ease_max_items" : "do not fit model.max_memory_mb for EASE",
              (double)mes__ease_bytes(n) / MIB);
    }
  }
  uint64_t t_cooc = t_pop, t_ease = t_pop;
  if (kind != MES__BUILT_POPULAR) {
    bool keep = p->unlearn;
    if ((rc = mes__cooc(&d, p, MES_REL_BOUGHT, now_ms, &rel[MES_REL_BOUGHT], keep ? &rel_index[0] : NULL,
                        keep ? &kept[0] : NULL, err)) ||
        (rc = mes__cooc(&d, p, MES_REL_VIEWED, now_ms, &rel[MES_REL_VIEWED], keep ? &rel_index[1] : NULL,
                        keep ? &kept[1] : NULL, err)))
      goto done;
    t_cooc = t_ease = mes_mono_ns();
  }
  if (kind == MES__BUILT_EASE) {
    /* top_pop is best first: its head is the n_ease most popular items. */
    if ((rc = mes__ease(&d, p, kw, now_ms, top_pop, n_ease, &rel[MES_REL_EASE], n_ease <= keep_fits ? &ease_p : NULL,
                        err)))
      goto done;
    t_ease = mes_mono_ns();
  }

  uint64_t t_end = mes_mono_ns();
  meta = json_object();
  json_t *timing = json_pack("{s:I, s:I, s:I, s:I}", "scan_ms", (json_int_t)d.scan_ms, "popularity_ms",
                             (json_int_t)((t_pop - t0) / 1000000) - d.scan_ms, "cooc_ms",
                             (json_int_t)((t_cooc - t_pop) / 1000000), "ease_ms",
                             (json_int_t)((t_ease - t_cooc) / 1000000));
  json_t *kwj = json_object();
  static const char *const kn[MES_KIND_N] = {"view", "click", "add_to_cart", "purchase", "search", "dismiss", "other"};
  for (int k = 0; k < MES_KIND_N && kwj; k++)
    json_object_set_new(kwj, kn[k], json_real(kw[k]));
  if (!meta || !timing || !kwj) {
    json_decref(timing);
    json_decref(kwj);
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  /* json_object_set_new takes the value even when it fails. */
  int bad = json_object_set_new(meta, "kind_weights", kwj); /* both taken, whatever the first did */
  bad |= json_object_set_new(meta, "timing", timing);
  if (bad ||
      json_object_set_new(meta, "kind", json_string(mes__built_kind_name(kind))) ||
      json_object_set_new(meta, "trained_at", time_or_null(now_ms, true)) ||
      json_object_set_new(meta, "data_from", time_or_null(d.ts_min_ms, d.n_ev > 0)) ||
      json_object_set_new(meta, "data_to", time_or_null(d.ts_max_ms, d.n_ev > 0)) ||
      json_object_set_new(meta, "events", json_integer((json_int_t)d.n_ev)) ||
      json_object_set_new(meta, "events_read", json_integer((json_int_t)d.scan.rows)) ||
      json_object_set_new(meta, "subjects", json_integer((json_int_t)d.n_subj)) ||
      json_object_set_new(meta, "items", json_integer((json_int_t)n)) ||
      json_object_set_new(meta, "ease_items", json_integer((json_int_t)n_ease)) ||
      json_object_set_new(meta, "params", params_json(p)) ||
      json_object_set_new(meta, "train_ms", json_integer((json_int_t)((t_end - t0) / 1000000))) ||
      !(meta_text = mes_json_dumps(meta, JSON_COMPACT))) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  struct mes__parts parts = {
      .kind = kind,
      .n_items = n,
      .ids = d.ids,
      .id_off = d.id_off,
      .pop = pop,
      .trend = trend,
      .top_pop = top_pop,
      .top_trend = top_trend,
      .meta = meta_text,
  };
  memcpy(parts.kw, kw, sizeof kw);
  memcpy(parts.rel, rel, sizeof rel);
  if ((rc = mes__blob_write(&parts, &blob, &blob_len, err)))
    goto done;
  if ((double)blob_len > (double)p->max_memory_mb * MIB) {
    free(blob);
    rc = mes_err_set(err, MES_EOUT_OF_RANGE, NULL,
                     "The model would take %.0f MiB, more than model.max_memory_mb (%zu); lower max_neighbors or "
                     "raise the limit.",
                     (double)blob_len / MIB, p->max_memory_mb);
    goto done;
  }
  size_t n_ev = d.n_ev, n_subj = d.n_subj;
  if (p->unlearn &&
      (rc = mes__unlearn_new(&d, p, kw, now_ms, kind, ease_p, top_pop, kind == MES__BUILT_EASE ? n_ease : 0,
                            rel_index, kept, &ul))) {
    free(blob);
    mes_err_set(err, rc, NULL, "Out of memory while keeping what unlearning needs.");
    goto done;
  }
  ease_p = NULL; /* taken over */
  rc = mes__model_from_blob(blob, blob_len, 0, out, err); /* takes blob */
  if (!rc) {
    (*out)->ul = ul;
    atomic_store(&(*out)->ul_bytes, mes__unlearn_bytes(ul));
    ul = NULL;
  }
  if (!rc)
    mes_log(log, MES_LOG_INFO, "trained %s: %zu items, %zu events of %zu people in %llu ms", kind_phrase(kind),
            n, n_ev, n_subj, (unsigned long long)((t_end - t0) / 1000000));
done:
  mes__unlearn_free(ul);
  free(ease_p);
  for (int r = 0; r < MES_REL_N; r++)
    mes__csr_release(&rel[r]);
  for (int r = 0; r < 2; r++) {
    mes__cooc_index_release(&rel_index[r]);
    mes__cooc_kept_release(&kept[r]);
  }
  free(pop);
  free(trend);
  free(top_pop);
  free(top_trend);
  free(meta_text);
  json_decref(meta);
  mes__data_release(&d);
  return rc;
}

/* ---------------------------------------------------------------- store */

/* The stored meta column: the model's meta and the counts it has seen
 * (read back by mes_model_load; the blob carries its own meta, without
 * them, so that a model saved again after catching up is the same blob). */
static int save(struct mes_store *st, const struct mes_model *m, const uint8_t *given, size_t given_len, int keep,
                const struct mes_model_seen *seen, int64_t *id, struct mes_err *err) {
  *id = 0;
  json_t *j = json_deep_copy(m->meta);
  char *meta = NULL;
  if (j && !json_object_set_new(j, "erasures_seen", json_integer(seen ? seen->erasures : 0)) &&
      !json_object_set_new(j, "forgets_seen", json_integer(seen ? seen->forgets : 0)))
    meta = mes_json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!meta)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  uint8_t *written = NULL; /* a model made by unlearning has no blob of its own until now */
  const uint8_t *blob = m->blob ? m->blob : given;
  size_t len = m->blob ? m->blob_len : given_len;
  int rc = blob ? MES_OK : mes__model_blob(m, &written, &len, err);
  if (rc) {
    free(meta);
    return rc;
  }
  rc = mes_store_model_put(st, meta, blob ? blob : written, len, keep, mes_now_ms(), id);
  free(written);
  free(meta);
  if (rc)
    return mes_err_set(err, rc, NULL, "The model could not be saved in the store.");
  return MES_OK;
}

int mes_model_save(struct mes_store *st, const struct mes_model *m, const struct mes_model_seen *seen, int64_t *id,
                   struct mes_err *err) {
  return save(st, m, NULL, 0, KEEP_MODELS, seen, id, err);
}

int mes_model_save_alone(struct mes_store *st, const struct mes_model *m, const struct mes_model_seen *seen,
                         int64_t *id, struct mes_err *err) {
  return save(st, m, NULL, 0, 1, seen, id, err);
}

int mes_model_blob_write(const struct mes_model *m, uint8_t **blob, size_t *len, struct mes_err *err) {
  *blob = NULL;
  *len = 0;
  return m->blob ? MES_OK : mes__model_blob(m, blob, len, err);
}

int mes_model_save_alone_written(struct mes_store *st, const struct mes_model *m, const uint8_t *blob, size_t len,
                                 const struct mes_model_seen *seen, int64_t *id, struct mes_err *err) {
  return save(st, m, blob, len, 1, seen, id, err);
}

void mes_model_set_id(struct mes_model *m, int64_t id) { atomic_store_explicit(&m->id, id, memory_order_relaxed); }

int64_t mes_model_latest_id(struct mes_store *st) {
  int64_t id = mes_store_model_latest(st);
  return id > 0 ? id : 0;
}

/* The counts a stored meta column records (absent: none seen). */
static void seen_of(const json_t *j, struct mes_model_seen *seen) {
  json_t *e = json_object_get(j, "erasures_seen"), *f = json_object_get(j, "forgets_seen");
  seen->erasures = json_is_integer(e) && json_integer_value(e) > 0 ? (int64_t)json_integer_value(e) : 0;
  seen->forgets = json_is_integer(f) && json_integer_value(f) > 0 ? (int64_t)json_integer_value(f) : 0;
}

int mes_model_peek(struct mes_store *st, int64_t id, int64_t *events, struct mes_model_seen *seen,
                   struct mes_err *err) {
  *events = 0;
  *seen = (struct mes_model_seen){0};
  char *meta = NULL;
  int rc = mes_store_model_get(st, id, &meta, NULL, NULL);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "There is no model %lld in the store.", (long long)id);
  if (rc)
    return mes_err_set(err, rc, NULL, "The model could not be read from the store.");
  json_t *j = json_loads(meta, 0, NULL);
  free(meta);
  if (!json_is_object(j)) {
    json_decref(j);
    return mes_err_set(err, MES_ESTORE, NULL, "The stored model's metadata is not readable.");
  }
  json_t *n = json_object_get(j, "events");
  *events = json_is_integer(n) ? (int64_t)json_integer_value(n) : 0;
  seen_of(j, seen);
  json_decref(j);
  return MES_OK;
}

int mes_model_load(struct mes_store *st, int64_t id, struct mes_model **out, struct mes_err *err) {
  *out = NULL;
  char *meta = NULL;
  uint8_t *blob = NULL;
  size_t len = 0;
  int rc = mes_store_model_get(st, id, &meta, &blob, &len);
  /* The blob carries its own meta; the column adds the counts seen (none
   * recorded: the model is taken to have seen none). */
  struct mes_model_seen seen;
  json_t *j = rc == MES_OK && meta ? json_loads(meta, 0, NULL) : NULL;
  seen_of(j, &seen);
  json_decref(j);
  free(meta);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "There is no model %lld in the store.", (long long)id);
  if (rc)
    return mes_err_set(err, rc, NULL, "The model could not be read from the store.");
  rc = mes__model_from_blob(blob, len, id, out, err);
  if (rc == MES_OK) {
    (*out)->erasures_seen = seen.erasures;
    (*out)->forgets_seen = seen.forgets;
  }
  return rc;
}

int64_t mes_model_erasures_seen(const struct mes_model *m) { return m ? m->erasures_seen : 0; }
int64_t mes_model_forgets_seen(const struct mes_model *m) { return m ? m->forgets_seen : 0; }

bool mes_model_can_unlearn(const struct mes_model *m) { return m && m->ul; }

/* ---------------------------------------------------------------- references */

struct mes_model *mes_model_ref(struct mes_model *m) {
  if (m)
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void mes_model_unref(struct mes_model *m) {
  if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  free(m->blob);
  mes_model_unref(m->base);
  free(m->own_pop);
  free(m->own_trend);
  free(m->own_top_pop);
  free(m->own_top_trend);
  free(m->top_w);
  for (int r = 0; r < MES_REL_N; r++)
    mes__overlay_release(&m->ov[r]);
  mes__unlearn_free(m->ul);
  mes_htab_release(&m->ids_ht);
  json_decref(m->meta);
  free(m);
}

/* ---------------------------------------------------------------- queries */

size_t mes_model_n_items(const struct mes_model *m) { return m ? m->n_items : 0; }

int32_t mes_model_item(const struct mes_model *m, const char *id, size_t len) {
  if (!m || !id || m->n_items == 0)
    return -1;
  uint32_t tag = mes_htab_tag(mes_hash_bytes(id, len));
  struct mes_htab_slot *s;
  const struct mes_htab *ht = m->base ? &m->base->ids_ht : &m->ids_ht; /* the same ids */
  for (size_t pos = 0; (s = mes_htab_next(ht, tag, &pos));) {
    uint32_t i = s->val - 1;
    if (m->id_off[i + 1] - m->id_off[i] - 1 == len && memcmp(m->ids + m->id_off[i], id, len) == 0)
      return (int32_t)i;
  }
  return -1;
}

const char *mes_model_item_id(const struct mes_model *m, uint32_t item) {
  return m && item < m->n_items ? m->ids + m->id_off[item] : NULL;
}

const struct mes_nbr *mes_model_neighbors(const struct mes_model *m, enum mes_rel rel, uint32_t item, size_t *n) {
  *n = 0;
  if (!m || (int)rel < 0 || rel >= MES_REL_N || item >= m->n_items)
    return NULL;
  const struct mes__overlay *o = &m->ov[rel];
  if (o->slot && o->slot[item] != MES__NO_ROW) {
    uint32_t r = o->slot[item];
    *n = o->off[r + 1] - o->off[r];
    return o->nb + o->off[r];
  }
  *n = m->nb_off[rel][item + 1] - m->nb_off[rel][item];
  return m->nb[rel] + m->nb_off[rel][item];
}

float mes_model_relation_unit(const struct mes_model *m, enum mes_rel rel) {
  return m && (int)rel >= 0 && rel < MES_REL_N ? m->unit[rel] : 0.0f;
}

float mes_model_popularity(const struct mes_model *m, uint32_t item) {
  return m && item < m->n_items ? m->pop[item] : 0.0f;
}

float mes_model_trending(const struct mes_model *m, uint32_t item) {
  return m && item < m->n_items ? m->trend[item] : 0.0f;
}

const uint32_t *mes_model_top(const struct mes_model *m, bool trending, size_t *n) {
  *n = m ? m->n_items : 0;
  return m ? (trending ? m->top_trend : m->top_pop) : NULL;
}

size_t mes_model_memory(const struct mes_model *m) {
  if (!m)
    return 0;
  /* A model made by unlearning counts the base it holds (which the model
   * before it may share while requests finish with it). */
  size_t own = (m->own_pop ? (size_t)m->n_items * (2 * sizeof(float) + 2 * sizeof(uint32_t)) : 0) +
               (m->top_w ? (size_t)m->n_items * MES_REL_N * sizeof(float) : 0);
  for (int r = 0; r < MES_REL_N; r++)
    if (m->ov[r].slot)
      own += (size_t)m->n_items * sizeof(uint32_t) + (m->ov[r].n_rows + 1) * sizeof(uint32_t) +
             (size_t)m->ov[r].off[m->ov[r].n_rows] * sizeof(struct mes_nbr);
  return sizeof *m + m->blob_len + own + mes_htab_n_slots(&m->ids_ht) * sizeof(struct mes_htab_slot) +
         atomic_load(&m->ul_bytes) + (m->base ? mes_model_memory(m->base) : 0);
}

int64_t mes_model_id(const struct mes_model *m) { return m ? atomic_load_explicit(&m->id, memory_order_relaxed) : 0; }

json_t *mes_model_meta(const struct mes_model *m) {
  if (!m)
    return NULL;
  json_t *j = json_deep_copy(m->meta);
  if (!j || json_object_set_new(j, "id", json_integer(mes_model_id(m))) ||
      json_object_set_new(j, "memory_bytes", json_integer((json_int_t)mes_model_memory(m)))) {
    json_decref(j);
    return NULL;
  }
  return j;
}
