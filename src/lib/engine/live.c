/*
 * engine/live — the live model: training it, loading the newest stored one,
 * and keeping it free of every erased person, whichever process sharing the
 * data directory erased them.
 *
 * One lineage of models at a time (train_mu): training, unlearning and the
 * durable save of the model they leave all take the lock, so that an
 * unlearning always works on the newest model and a save never puts an
 * older one above a newer.
 *
 * The erasure journal (store.h, mes_store_erasures_read) is what the live
 * model follows. e->live_seen counts the records whose people the live
 * model is known not to carry; every stored model records the same count
 * (mes_model_save's erasures_seen). Then:
 *   - an erasure here (mes__engine_unlearn) and the background thread every
 *     second (mes__model_follow) unlearn the people of the records after
 *     live_seen from the live model, exactly, and make the new model live
 *     at once; its durable save (about the size of the blob) comes after,
 *     from the background thread (mes__model_save_unsaved) or at close, so
 *     that an erasure does not wait for it;
 *   - a live model that cannot unlearn (one loaded from the store) and has
 *     records after its count gives way to no model (answers are then
 *     non-personal) and a retraining is asked for;
 *   - a stored model is loaded only when the journal holds no record after
 *     its count: a process killed between an erasure's answer and the save,
 *     or a database brought back from a copy older than an erasure, leaves
 *     a stored model that may carry the person, and it never serves again.
 * A training reads the journal before it reads the events, and unlearns
 * from what it built every record of the last TRAIN_SLACK_MS before its
 * start on (an erasure journals first and deletes the rows after, possibly
 * in another process): unlearning a person the model never saw changes
 * nothing.
 *
 * Forgetting one event is not journaled (the rows of a person who is still
 * there are what a restored copy brings back, and a record of what the
 * event was would outlive it). The store counts such forgettings instead,
 * in the transaction that deletes the event (mes__engine_forgets_add), and
 * every stored model records the count it has seen, as it does the
 * journal's: a stored model is served only when neither has grown since its
 * save. The forgetting is unlearned from the live model at once and saved
 * after the answer, like an erasure; other servers cannot unlearn an event
 * they were not told of, and take the saved model, which has seen more
 * forgettings than theirs, when it comes.
 */
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "model/model.h"
#include "store/store.h"

#define MODEL_COUNT_EVERY_MS 30000 /* counting events is a scan: not every second */
#define RETRAIN_MIN_NEW 1000       /* retrain after this many new events ... */
/* ... when they also grew by the policy's model.retrain_after_events_pct (0: never) */
#define TRAIN_SLACK_MS 60000 /* erasures this long before a training started are unlearned from it again */
#define FORGETS_KEY "events_forgotten" /* the store's meta: the count of events forgotten one by one */

/* The store's count of events forgotten one by one (0 before the first),
 * -1 when it cannot be read. */
static int64_t forgets_read(struct mes_engine *e) {
  char v[32];
  int rc = mes_store_meta_get(e->store, FORGETS_KEY, v, sizeof v);
  if (rc == MES_ENOT_FOUND)
    return 0;
  char *end = NULL;
  long long n = rc ? -1 : strtoll(v, &end, 10);
  return rc || !end || *end || n < 0 ? -1 : (int64_t)n;
}

int mes__engine_forgets_add(struct mes_engine *e, int64_t *count) {
  int64_t n = forgets_read(e);
  if (n < 0)
    return MES_ESTORE;
  char v[32];
  snprintf(v, sizeof v, "%lld", (long long)(n + 1));
  int rc = mes_store_meta_set(e->store, FORGETS_KEY, v);
  if (!rc)
    *count = n + 1;
  return rc;
}

/* ---------------------------------------------------------------- the live model */

struct mes_model *mes_engine_model(struct mes_engine *e) {
  pthread_mutex_lock(&e->model_mu);
  struct mes_model *m = mes_model_ref(e->model);
  pthread_mutex_unlock(&e->model_mu);
  return m;
}

/* Makes m (taken over; may be NULL: no model) the live model; requests
 * holding the old one finish with it, and the last of them frees it. */
static void model_swap(struct mes_engine *e, struct mes_model *m) {
  pthread_mutex_lock(&e->model_mu);
  struct mes_model *old = e->model;
  e->model = m;
  pthread_mutex_unlock(&e->model_mu);
  mes_model_unref(old);
  if (!m) {
    mes_log(&e->log, MES_LOG_WARN, "no model serves: answers are non-personal until a retraining");
    return;
  }
  json_t *meta = mes_model_meta(m);
  json_t *events = json_object_get(meta, "events_read");
  e->train_events = json_is_integer(events) ? (int64_t)json_integer_value(events) : 0;
  e->train_mono_ns = mes_mono_ns();
  mes_log(&e->log, MES_LOG_INFO, "model %lld is live: %s, %zu items, %zu bytes%s", (long long)mes_model_id(m),
          json_string_value(json_object_get(meta, "kind")), mes_model_n_items(m), mes_model_memory(m),
          mes_model_can_unlearn(m) ? ", can unlearn" : "");
  json_decref(meta);
}

/* The model awaiting its save, replaced by m (a new reference is taken;
 * NULL: none awaits), to be saved with the journal records `seen` and the
 * live model's forgettings. Under train_mu. */
static void set_unsaved(struct mes_engine *e, struct mes_model *m, int64_t seen) {
  mes_model_unref(e->unsaved);
  e->unsaved = mes_model_ref(m);
  e->unsaved_seen = seen;
  e->unsaved_forgets = e->live_forgets;
}

/* Loads the newest stored model when it is newer than the live one (built by
 * this process or by `mesura train` in another) and has seen every erasure
 * of the journal. Cheap when nothing changed: one indexed read and the
 * journal's length; and a model that will not be served is decided from its
 * stored meta, its blob never read. */
void mes__model_poll(struct mes_engine *e) {
  int64_t id = mes_model_latest_id(e->store);
  pthread_mutex_lock(&e->model_mu);
  int64_t cur = mes_model_id(e->model), failed = e->model_failed_id;
  pthread_mutex_unlock(&e->model_mu);
  if (id <= cur || id == failed)
    return;
  /* Under train_mu from here: an unlearning in progress has handed its
   * kept state to the model it builds before that model goes live, and the
   * live one would read as one that cannot unlearn. */
  pthread_mutex_lock(&e->train_mu);
  int64_t n = 0, live_read = -1;
  struct mes_model *live = mes_engine_model(e);
  if (mes_model_can_unlearn(live)) {
    json_t *meta = mes_model_meta(live);
    json_t *r = json_object_get(meta, "events");
    live_read = json_is_integer(r) ? (int64_t)json_integer_value(r) : 0;
    json_decref(meta);
  }
  mes_model_unref(live);
  int64_t forgets = forgets_read(e);
  if (mes_store_erasures_read(e->store, 0, &n, NULL, NULL) != MES_OK || forgets < 0) {
    pthread_mutex_unlock(&e->train_mu);
    return; /* the next second tries again */
  }
  struct mes_model *m = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int64_t events = 0;
  struct mes_model_seen seen;
  int rc = mes_model_peek(e->store, id, &events, &seen, &err);
  /* A live model that can unlearn gives way only to one that learnt from
   * more events (what unlearning left of them): a copy saved by another
   * server from the same data could not follow the next erasure. Or to one
   * that forgot an event another server was asked to forget, which the live
   * one may still carry. */
  bool more = live_read < 0 || events > live_read || seen.forgets > e->live_forgets;
  bool stale = seen.erasures < n || seen.forgets < forgets;
  if (rc) {
    mes_log(&e->log, MES_LOG_ERROR, "model %lld cannot be loaded: %s", (long long)id, mes_err_text(&err));
  } else if (!more || (live_read >= 0 && stale)) {
    rc = MES_ECONFLICT; /* the live model serves on: it follows the journal itself */
  } else if (stale) {
    /* It may carry someone erased, or an event forgotten, since it was
     * saved: a process stopped before saving what it unlearned, or a copy
     * from before an erasure. */
    mes_log(&e->log, MES_LOG_WARN,
            "model %lld is not served: %lld erasures were journaled and %lld events forgotten after it was saved; "
            "retraining",
            (long long)id, (long long)(n > seen.erasures ? n - seen.erasures : 0),
            (long long)(forgets > seen.forgets ? forgets - seen.forgets : 0));
    rc = MES_ESTORE;
    mes__engine_request_retrain(e);
  } else if ((rc = mes_model_load(e->store, id, &m, &err))) {
    mes_log(&e->log, MES_LOG_ERROR, "model %lld cannot be loaded: %s", (long long)id, mes_err_text(&err));
  }
  if (rc) {
    pthread_mutex_lock(&e->model_mu);
    e->model_failed_id = id;
    pthread_mutex_unlock(&e->model_mu);
  } else {
    e->live_seen = mes_model_erasures_seen(m);
    e->live_forgets = mes_model_forgets_seen(m);
    set_unsaved(e, NULL, 0); /* a newer model than what awaited its save */
    model_swap(e, m);
  }
  pthread_mutex_unlock(&e->train_mu);
}

/* ---------------------------------------------------------------- following the journal */

struct sids {
  int64_t *v;
  size_t n, cap;
  int64_t first_at_ms; /* the records before the first this recent are left out */
};

static int sids_add(void *ud, int64_t sid, int64_t at_ms) {
  struct sids *s = ud;
  if (s->n == 0 && at_ms < s->first_at_ms)
    return MES_OK;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    int64_t *v = realloc(s->v, cap * sizeof *v);
    if (!v)
      return MES_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = sid;
  return MES_OK;
}

/* What catching up did: the events forgotten in all (and those of `own`,
 * the person an erasure asked about), whether every model left is exact,
 * whether a retraining is due, and whether the model may still carry one
 * of the people (it could not unlearn). */
struct catch_up {
  int64_t own;
  bool own_absent; /* own is not asked of the model: no events stored, and a model that cannot tell */
  struct mes_unlearn_info own_info;
  size_t events;
  bool exact, retrain, carries;
};

/* *m (a reference, taken over and replaced) without the people of the
 * journal records [from, end), leaving out those before the first recorded
 * at from_ms or later; *seen receives end. *m == NULL: nothing to do. On a
 * failure to read the journal, *m is unchanged and it returns the error. */
static int catch_up(struct mes_engine *e, struct mes_model **m, int64_t from, int64_t from_ms, int64_t *seen,
                    struct catch_up *cu) {
  struct sids s = {.first_at_ms = from_ms};
  int64_t n = 0;
  int rc = mes_store_erasures_read(e->store, from, &n, sids_add, &s);
  if (rc) {
    free(s.v);
    return rc;
  }
  cu->exact = true;
  for (size_t i = 0; i < s.n && *m && !cu->carries; i++) {
    if (cu->own_absent && s.v[i] == cu->own)
      continue;
    struct mes_model *next = NULL;
    struct mes_unlearn_info info = {0};
    struct mes_err err;
    mes_err_clear(&err);
    if (mes_model_unlearn(*m, s.v[i], &next, &info, &err) != MES_OK) {
      mes_log(&e->log, MES_LOG_ERROR, "unlearning failed: %s", mes_err_text(&err));
      cu->carries = true;
      break;
    }
    /* A model that cannot unlearn returns itself, forgetting nothing and
     * not exact: it may carry the person. */
    if (info.events == 0 && !info.exact)
      cu->carries = true;
    cu->events += info.events;
    cu->exact = cu->exact && info.exact;
    cu->retrain = cu->retrain || info.retrain;
    if (s.v[i] == cu->own) {
      info.events += cu->own_info.events; /* recorded twice (linked visitors): both count */
      cu->own_info = info;
    }
    if (info.events > 0) {
      unsigned r = e->recent_at++ % (sizeof e->recent / sizeof e->recent[0]);
      e->recent[r].sid = s.v[i];
      e->recent[r].events = info.events;
      e->recent[r].exact = info.exact;
      e->recent[r].retrain = info.retrain;
    }
    mes_model_unref(*m);
    *m = next;
  }
  free(s.v);
  *seen = n;
  return MES_OK;
}

/* Under train_mu: the live model caught up with the journal (cu->own: the
 * person an erasure of this process asks about, 0: none). save: the new
 * model awaits its save; else (erasures made elsewhere: the process that
 * made them saves) only when an earlier one of this process awaited it. */
static int follow_locked(struct mes_engine *e, bool save, struct catch_up *cu) {
  struct mes_model *live = mes_engine_model(e), *m = mes_model_ref(live);
  int64_t seen = e->live_seen;
  int rc = catch_up(e, &m, e->live_seen, 0, &seen, cu);
  if (rc) {
    mes_model_unref(m);
    mes_model_unref(live);
    return rc;
  }
  if (cu->carries) {
    mes_model_unref(m);
    set_unsaved(e, NULL, 0);
    if (live) {
      model_swap(e, NULL);
      mes__engine_request_retrain(e);
    }
  } else if (m != live) {
    if (save || e->unsaved)
      set_unsaved(e, m, seen);
    model_swap(e, mes_model_ref(m));
    mes_model_unref(m);
  } else {
    mes_model_unref(m);
    if (live && seen > e->live_seen && (save || e->unsaved))
      set_unsaved(e, live, seen); /* the same model, saved as having seen the new records */
  }
  e->live_seen = seen;
  if (cu->retrain)
    mes__engine_request_retrain(e);
  mes_model_unref(live);
  return MES_OK;
}

void mes__model_follow(struct mes_engine *e) {
  int64_t n = 0;
  if (mes_store_erasures_read(e->store, 0, &n, NULL, NULL) != MES_OK)
    return;
  pthread_mutex_lock(&e->train_mu);
  if (n > e->live_seen) {
    struct catch_up cu = {0};
    if (follow_locked(e, false, &cu))
      mes_log(&e->log, MES_LOG_WARN, "the erasure journal could not be read; the next second tries again");
    else if (cu.events > 0)
      mes_log(&e->log, MES_LOG_INFO, "erasures made elsewhere: %zu events unlearned from the live model", cu.events);
  }
  pthread_mutex_unlock(&e->train_mu);
}

void mes__model_save_unsaved(struct mes_engine *e) {
  pthread_mutex_lock(&e->train_mu);
  struct mes_model *m = mes_model_ref(e->unsaved);
  pthread_mutex_unlock(&e->train_mu);
  if (!m)
    return;
  struct mes_err err;
  mes_err_clear(&err);
  uint64_t t0 = mes_mono_ns();
  /* The blob is written outside train_mu (the save's long part: a model
   * made by unlearning has none yet), so that an erasure meanwhile does not
   * wait for it; only the store's write is under the lock. */
  uint8_t *blob = NULL;
  size_t len = 0;
  int rc = mes_model_blob_write(m, &blob, &len, &err);
  pthread_mutex_lock(&e->train_mu);
  if (e->unsaved == m) { /* else a newer one awaits: the next call saves it */
    int64_t id = 0;
    struct mes_model_seen seen = {e->unsaved_seen, e->unsaved_forgets};
    mes_model_unref(e->unsaved);
    e->unsaved = NULL;
    /* Alone: the stored models before it may carry an erased person. */
    if (!rc)
      rc = mes_model_save_alone_written(e->store, m, blob, len, &seen, &id, &err);
    if (!rc) {
      mes_model_set_id(m, id);
      mes_log(&e->log, MES_LOG_INFO, "model %lld saved after an unlearning in %.1f ms", (long long)id,
              (double)(mes_mono_ns() - t0) / 1e6);
    } else {
      mes_log(&e->log, MES_LOG_ERROR, "the model after an unlearning could not be saved: %s", mes_err_text(&err));
      mes__engine_request_retrain(e); /* the stored one is not served (it has not seen the erasure) */
    }
  }
  pthread_mutex_unlock(&e->train_mu);
  free(blob);
  mes_model_unref(m);
}

/* ---------------------------------------------------------------- training */

void mes_engine_train_params(const struct mes_policy *p, struct mes_model_params *mp) {
  mes_model_params_default(mp);
  mp->kind = (int)p->model.kind;
  if (p->model.max_memory_mb > 0)
    mp->max_memory_mb = (size_t)p->model.max_memory_mb;
  mp->relation_half_life_days = p->model.relation_half_life_days;
  mp->ease_lambda = p->model.ease_lambda;
  mp->max_neighbors = p->model.neighbors;
  mp->kind_weights[MES_KIND_VIEW] = (float)p->model.weight_view;
  mp->kind_weights[MES_KIND_CLICK] = (float)p->model.weight_click;
  mp->kind_weights[MES_KIND_CART] = (float)p->model.weight_cart;
  mp->kind_weights[MES_KIND_PURCHASE] = (float)p->model.weight_purchase;
}

int mes_engine_train(struct mes_engine *e, const struct mes_train_opts *o, json_t **meta, struct mes_err *err) {
  if (meta)
    *meta = NULL;
  struct mes_req c;
  struct mes_model_params mp;
  struct mes_model *m = NULL;
  int64_t id = 0, seen = 0, started_ms = mes_now_ms();
  pthread_mutex_lock(&e->train_mu);
  /* Read before the events: an event forgotten afterwards may be in what
   * the training reads, and its count then exceeds this one. */
  int64_t forgets = forgets_read(e);
  mes_engine_req(e, &c, "train", false);
  if (o && o->now_ms)
    c.now_ms = o->now_ms;
  mes_engine_train_params(c.policy, &mp);
  int rc = mes_model_train(e->ingester, &c, &e->log, &mp, &m, err);
  mes_engine_req_done(e, &c);
  /* The people erased since shortly before the reading began leave it. */
  struct catch_up cu = {0};
  if (!rc && catch_up(e, &m, 0, started_ms - TRAIN_SLACK_MS, &seen, &cu))
    rc = mes_err_set(err, MES_EIO, NULL, "The erasure journal could not be read.");
  if (!rc && cu.carries)
    rc = mes_err_set(err, MES_EINTERNAL, NULL, "The model just trained could not unlearn the people erased meanwhile.");
  if (!rc && forgets < 0)
    rc = mes_err_set(err, MES_EIO, NULL, "The count of forgotten events could not be read.");
  if (!rc)
    rc = mes_model_save(e->store, m, &(struct mes_model_seen){seen, forgets}, &id, err);
  if (!rc && o && o->make_live) {
    /* The model built here goes live itself, not the copy the store would
     * give back: only the built one keeps what unlearning needs. Inside
     * train_mu, so that an erasure's unlearning never works on an older one. */
    mes_model_set_id(m, id);
    e->live_seen = seen;
    e->live_forgets = forgets;
    set_unsaved(e, NULL, 0);
    model_swap(e, mes_model_ref(m));
  }
  pthread_mutex_unlock(&e->train_mu);
  if (!rc && meta) {
    *meta = mes_model_meta(m);
    if (!*meta || json_object_set_new(*meta, "id", json_integer(id)))
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  mes_model_unref(m);
  return rc;
}

/* Retrains in the background thread on the policy's schedule, and sooner
 * when the events grew by model.retrain_after_events_pct percent (and at
 * least RETRAIN_MIN_NEW) since the live model was trained. */
void mes__model_maybe_retrain(struct mes_engine *e) {
  uint64_t now = mes_mono_ns();
  struct mes_req c;
  mes_engine_req(e, &c, "train", false);
  int every_min = c.policy->model.retrain_every_minutes;
  int grow_pct = c.policy->model.retrain_after_events_pct;
  mes_engine_req_done(e, &c);
  bool asked = atomic_exchange(&e->retrain_requested, false);
  /* A model an erasure made live since `now` was read is newer than now:
   * no time has passed since it, not (unsigned) nearly all of it. */
  uint64_t trained = e->train_mono_ns;
  bool due = asked || (every_min > 0 && now > trained &&
                       now - trained >= (uint64_t)every_min * 60ull * 1000000000ull);
  if (!due && (grow_pct == 0 || now - e->counted_mono_ns < (uint64_t)MODEL_COUNT_EVERY_MS * 1000000ull))
    return; /* counting is a scan: only when growth can trigger a run */
  e->counted_mono_ns = now;
  int64_t n = mes_store_event_count(e->store);
  if (n <= 0) {
    e->train_mono_ns = due ? now : e->train_mono_ns; /* nothing to learn from yet */
    return;
  }
  int64_t grown = n - e->train_events;
  bool enough = grow_pct > 0 && grown >= RETRAIN_MIN_NEW && grown * 100 >= (int64_t)grow_pct * e->train_events;
  if (!due && !enough)
    return;
  struct mes_err err;
  mes_err_clear(&err);
  json_t *meta = NULL;
  e->train_mono_ns = now; /* a failure waits for the next occasion, not the next second */
  e->train_events = n;
  struct mes_train_opts o = {.make_live = true};
  if (mes_engine_train(e, &o, &meta, &err)) {
    mes_log(&e->log, MES_LOG_ERROR, "background training failed: %s", mes_err_text(&err));
    return;
  }
  json_decref(meta);
}

void mes__engine_request_retrain(struct mes_engine *e) { atomic_store(&e->retrain_requested, true); }

/* ---------------------------------------------------------------- forgetting */

/* The receipt's "model" part. */
static json_t *receipt(int64_t now_ms, const char *what, size_t events, bool exact) {
  char ts[32];
  mes_time_format(now_ms, ts);
  return json_pack("{s:s, s:s, s:I, s:b}", "contribution", what, "at", ts, "events", (json_int_t)events, "exact",
                   exact);
}

json_t *mes__engine_unlearn(struct mes_engine *e, int64_t sid, bool had_events, int64_t now_ms) {
  /* train_mu: one lineage of models, always the newest; a training that
   * read the person's rows before this runs has made its model live by now
   * and this takes them out of it, and one that reads them after (they may
   * still be going) reads the journal after the events and unlearns them
   * itself (their record is in the journal: rights/erase.c journals first). */
  pthread_mutex_lock(&e->train_mu);
  struct mes_model *live = mes_engine_model(e);
  bool had_model = live != NULL;
  /* A model that kept what it learnt says itself whether it carries the
   * person, even when the retention sweep has already taken their stored
   * events; only one that cannot tell is spared a retraining for nobody. */
  bool absent = !had_events && !(live && mes_model_can_unlearn(live));
  mes_model_unref(live);
  struct catch_up cu = {.own = sid, .own_absent = absent};
  int rc = follow_locked(e, true, &cu);
  for (size_t r = 0; !rc && cu.own_info.events == 0 && r < sizeof e->recent / sizeof e->recent[0]; r++)
    if (e->recent[r].sid == sid) { /* the background thread took their record first, */
      cu.own_info.events = e->recent[r].events;
      cu.own_info.exact = e->recent[r].exact;
      cu.own_info.retrain = e->recent[r].retrain;
      struct mes_model *now = mes_engine_model(e);
      if (now && !e->unsaved) /* and left the save to this erasure */
        set_unsaved(e, now, e->live_seen);
      mes_model_unref(now);
    }
  pthread_mutex_unlock(&e->train_mu);
  mes__engine_kick_background(e); /* the save, soon */
  if (absent)
    return receipt(now_ms, "none", 0, true);
  if (rc || cu.carries || cu.own_info.retrain) {
    /* follow_locked (or the background thread, for a record it took
     * first) asked for the retraining of the others under train_mu, before
     * a training could start; asked again now, it could come just after the
     * background thread took the first asking, and train a second time. */
    if (rc)
      mes__engine_request_retrain(e);
    return receipt(now_ms, "retraining", cu.own_info.events, false);
  }
  bool none = !had_model || cu.own_info.events == 0; /* nothing carried them: exactly a model without them */
  return receipt(now_ms, none ? "none" : "unlearned", cu.own_info.events, none || cu.own_info.exact);
}

json_t *mes__engine_forget_event(struct mes_engine *e, int64_t sid, const char *item, enum mes_kind kind,
                                 int64_t ts_ms, int64_t count, int64_t now_ms) {
  struct mes_err err;
  mes_err_clear(&err);
  pthread_mutex_lock(&e->train_mu);
  struct mes_model *live = mes_engine_model(e), *next = NULL;
  struct mes_unlearn_info info = {0};
  int rc = live ? mes_model_forget_event(live, sid, item, strlen(item), kind, ts_ms, &next, &info, &err) : MES_OK;
  const char *what = !live || (!rc && info.events == 0 && !info.retrain) ? "none" : "unlearned";
  bool mine = count == e->live_forgets + 1; /* no forgetting of another server's in between */
  /* A model that could not unlearn returns itself, asking for a retraining:
   * it may carry the event, and never claims it has not. */
  bool carries = rc || (next == live && info.retrain);
  if (live && !carries) {
    /* Live at once; saved after the answer, alone (the stored models
     * trained with the event go too), with the count that keeps those
     * from being served meanwhile. */
    if (mine)
      e->live_forgets = count;
    else
      info.retrain = true; /* the live model may carry the other one: a retraining sees neither */
    if (next != live)
      model_swap(e, mes_model_ref(next));
    set_unsaved(e, next, e->live_seen);
  } else if (!live && mine) {
    e->live_forgets = count; /* nothing serves that could carry it */
  }
  pthread_mutex_unlock(&e->train_mu);
  mes__engine_kick_background(e); /* the save, soon */
  if (rc || info.retrain) {
    mes__engine_request_retrain(e);
    what = "retraining";
  }
  bool none = strcmp(what, "none") == 0; /* nothing carried it: the model is exactly one without it */
  json_t *out = receipt(now_ms, what, info.events, none || (!rc && !info.retrain && info.exact));
  mes_model_unref(next);
  mes_model_unref(live);
  return out;
}
