/*
 * engine — opens a data directory and owns what lives for the whole process:
 * the policy snapshot (swapped whole on reload, reference-counted so that a
 * request keeps the policy it started with), the store, the master key, the
 * domain's handles, each made here with what it uses and owning its caches
 * (the subject registry, the consent ledger, the ingester, the catalog, the
 * rights, the recommender), and the auth handle (auth/auth.h: API keys and
 * subject tokens), to which the key and token verbs of mesura.h hand over.
 * Forgetting a subject asks each of them in turn. The other verbs live in
 * the api_*.c files beside it, one per kind of use case, over call.c.
 */
#include "engine/engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/mtime.h"
#include "base/path.h"
#include "base/thread.h"
#include "crypto/crypto.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "policy/policy.h"
#include "recommend/recommend.h"
#include "audit/audit.h"
#include "rights/rights.h"
#include "store/store.h"
#include "subject/keycheck.h"
#include "subject/rotate.h"
#include "subject/subjmap.h"

#define KEYCACHE_ENTRIES 65536
#define BACKGROUND_EVERY_S 60 /* retention sweeps */
#define AUDIT_SCHEDULE_META "audit_schedule_last_ms" /* when the scheduled audit last ran */
#define MODEL_POLL_MS 1000      /* a model saved by another process is live within a second */

struct pol_ref {
  struct mes_policy *p;
  int refs; /* requests holding it, plus 1 while current */
  struct pol_ref *next;
};

/* path = dir/name, or an error naming what does not fit. */
static int dir_file(char path[PATH_MAX], const char *dir, const char *name, struct mes_err *err) {
  if (mes_path_join(path, PATH_MAX, dir, name))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  return MES_OK;
}

/* ---------------------------------------------------------------- policy pinning */

/*
 * Stored data refers to purposes by bit and to event types by number (their
 * positions in mesura.yaml), so that gating and sweeping never unseal
 * anything. An edit that reorders or removes them would silently change the
 * meaning of stored rows: a withdrawal would purge the wrong events, a sweep
 * would apply the wrong retention. So the names in force are pinned in the
 * store the first time, and a policy must keep them in order; new ones may
 * be added at the end.
 */
static int pin_list(struct mes_store *st, const char *meta_key, const char *what, const char *const *names, size_t n,
                    const char *policy_path, bool *changed, struct mes_err *err) {
  enum { CAP = 65536 };
  char *old = malloc(CAP), *cur = malloc(CAP);
  int rc = MES_OK;
  if (!old || !cur) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto out;
  }
  size_t o = 0;
  cur[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(cur + o, CAP - o, "%s\n", names[i]);
    if (w < 0 || (size_t)w >= CAP - o) {
      rc = mes_err_set(err, MES_EBAD_POLICY, NULL, "%s: too many %ss to pin.", policy_path, what);
      goto out;
    }
    o += (size_t)w;
  }
  int g = mes_store_meta_get(st, meta_key, old, CAP);
  if (g == MES_ENOT_FOUND) {
    old[0] = '\0';
  } else if (g) {
    rc = mes_err_set(err, g, NULL, NULL);
    goto out;
  }
  size_t olen = strlen(old);
  if (strncmp(old, cur, olen) != 0) {
    /* Name the first position that changed. */
    size_t k = 0, line = 0;
    while (k < olen && old[k] == cur[k]) {
      if (old[k] == '\n')
        line++;
      k++;
    }
    const char *start = old;
    for (size_t i = 0; i < line; i++)
      start = strchr(start, '\n') + 1;
    int nl = (int)(strchr(start, '\n') - start);
    rc = mes_err_set(err, MES_EBAD_POLICY, NULL,
                     "%s: the %s '%.*s' (number %zu) is missing or moved; stored data refers to %ss by position, "
                     "so keep the existing ones in their order and add new ones at the end.",
                     policy_path, what, nl, start, line + 1, what);
    goto out;
  }
  if (strlen(cur) != olen) {
    rc = mes_store_meta_set(st, meta_key, cur);
    if (rc)
      mes_err_set(err, rc, NULL, NULL);
    else
      *changed = true;
  }
out:
  free(old);
  free(cur);
  return rc;
}

static int pin_policy(struct mes_store *st, const struct mes_policy *p, struct mes_err *err) {
  const char *pnames[MES_MAX_PURPOSES];
  const char **tnames = calloc(p->n_event_types ? p->n_event_types : 1, sizeof *tnames);
  if (!tnames)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t i = 0; i < p->n_purposes && i < MES_MAX_PURPOSES; i++)
    pnames[i] = p->purposes[i].name;
  for (size_t i = 0; i < p->n_event_types; i++)
    tnames[i] = p->event_types[i].name;
  bool changed = false;
  int rc = mes_store_tx_begin(st);
  if (rc) {
    free(tnames);
    return mes_err_set(err, rc, NULL, NULL);
  }
  rc = pin_list(st, "policy.purposes", "purpose", pnames, p->n_purposes, p->path ? p->path : "mesura.yaml", &changed,
                err);
  if (!rc)
    rc = pin_list(st, "policy.event_types", "event type", tnames, p->n_event_types,
                  p->path ? p->path : "mesura.yaml", &changed, err);
  free(tnames);
  if (rc) {
    mes_store_tx_rollback(st);
    return rc;
  }
  uint64_t ticket;
  rc = mes_store_tx_commit(st, &ticket);
  if (!rc && changed)
    rc = mes_store_wait_durable(st, ticket);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ---------------------------------------------------------------- lifecycle */

/* The history cache's cap that policy p asks for, in bytes. */
static size_t histcache_bytes(const struct mes_policy *p) {
  size_t mb = (size_t)p->serving.history_cache_mb;
  return mb > SIZE_MAX / (1024u * 1024u) ? SIZE_MAX : mb * 1024u * 1024u;
}

int mes_engine_init_dir(const char *dir, struct mes_err *err) {
  int rc = mes_crypto_init();
  if (rc)
    return mes_err_set(err, rc, NULL, "The cryptography library could not start.");
  if (mkdir(dir, 0700) != 0) {
    if (errno != EEXIST)
      return mes_err_set(err, MES_EIO, NULL, "Cannot create the data directory: %s.", strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
      return mes_err_set(err, MES_EIO, NULL, "Cannot open the data directory: %s.", strerror(errno));
    struct dirent *de;
    bool empty = true;
    while ((de = readdir(d)) != NULL)
      if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
        empty = false;
    closedir(d);
    if (!empty)
      return mes_err_set(err, MES_ENOT_EMPTY, NULL, "The data directory is not empty; refusing to touch it.");
  }
  char yaml[PATH_MAX], key[PATH_MAX];
  struct mes_store *st = NULL;
  struct mes_master *master = NULL;
  rc = dir_file(yaml, dir, "mesura.yaml", err);
  if (!rc)
    rc = dir_file(key, dir, "master.key", err);
  if (rc)
    goto done;
  FILE *f = fopen(yaml, "wx");
  if (!f) {
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot write mesura.yaml: %s.", strerror(errno));
    goto done;
  }
  const char *example = mes_policy_example();
  size_t n = strlen(example);
  bool ok = fwrite(example, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  if (!ok) {
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot write mesura.yaml.");
    goto done;
  }
  rc = mes_master_create(key, err);
  if (rc)
    goto done;
  rc = mes_store_open(dir, MES_STORE_SQLITE, true, &st, err);
  if (rc)
    goto done;
  /* The new store carries the key check from the start (keycheck.h). */
  rc = mes_master_load(key, &master, err);
  if (!rc)
    rc = mes_keycheck_verify(st, master, dir, err);
done:
  mes_store_close(st);
  mes_master_free(master);
  return rc;
}

int mes_engine_open(const struct mes_engine_opts *o, struct mes_engine **out, struct mes_err *err) {
  *out = NULL;
  int rc = mes_crypto_init();
  if (rc)
    return mes_err_set(err, rc, NULL, "The cryptography library could not start.");
  struct mes_engine *e = calloc(1, sizeof *e);
  if (!e)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  e->audit_last_ms = -1;
  mes__tally_init(&e->tally);
  pthread_mutex_init(&e->pol_mu, NULL);
  pthread_mutex_init(&e->bg_mu, NULL);
  pthread_mutex_init(&e->model_mu, NULL);
  pthread_mutex_init(&e->train_mu, NULL);
  pthread_condattr_t cva;
  pthread_condattr_init(&cva);
  pthread_condattr_setclock(&cva, CLOCK_MONOTONIC); /* wall-clock jumps must not stall or rush sweeps */
  pthread_cond_init(&e->bg_cv, &cva);
  pthread_condattr_destroy(&cva);
  e->log = o->log;
  char yaml[PATH_MAX], key[PATH_MAX];
  struct mes_policy *pol = NULL;
  e->dir = strdup(o->dir);
  if (!e->dir) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto fail;
  }
  rc = dir_file(yaml, o->dir, "mesura.yaml", err);
  if (!rc)
    rc = dir_file(key, o->dir, "master.key", err);
  if (rc)
    goto fail;
  struct stat sb;
  if (stat(key, &sb) != 0) {
    rc = mes_err_set(err, MES_EIO, NULL, "This is not a mesura data directory (no master.key); run `mesura init` first.");
    goto fail;
  }
  rc = mes_policy_load(yaml, &pol, err);
  if (rc)
    goto fail;
  rc = mes_store_open(o->dir, MES_STORE_SQLITE, false, &e->store, err);
  if (rc)
    goto fail;
  /* Through the rotation's recovery: a rotation killed midway leaves the
   * key keys.db is under in master.key or in master.key.new (rotate.h). */
  rc = mes_rotate_load(e->store, o->dir, &e->master, err);
  if (rc)
    goto fail;
  rc = mes_keycheck_verify(e->store, e->master, o->dir, err);
  if (rc)
    goto fail;
  if (mes_store_erasures_replayed(e->store) > 0) /* files put back by hand, without `mesura restore` */
    mes_log(&e->log, MES_LOG_WARN, "the erasure journal removed %lld erased people again from a restored store",
            (long long)mes_store_erasures_replayed(e->store));
  rc = pin_policy(e->store, pol, err);
  if (rc)
    goto fail;
  /* Each handle is made with what it uses, in that order. */
  rc = mes_subjects_new(e->store, e->master, &e->log, KEYCACHE_ENTRIES, MES_SUBJMAP_ENTRIES, &e->subjects);
  if (!rc)
    rc = mes_auth_new(e->store, &e->auth);
  if (!rc)
    rc = mes_ledger_new(e->store, e->master, e->subjects, &e->log, &e->ledger);
  if (!rc)
    rc = mes_ingester_new(e->store, e->master, e->subjects, e->ledger, histcache_bytes(pol), &e->log, &e->ingester);
  if (!rc)
    rc = mes_catalog_new(e->store, &e->catalog);
  if (!rc)
    rc = mes_recommender_new(e->store, &e->log, e->subjects, e->ledger, e->ingester, e->catalog, &e->rec);
  if (!rc)
    rc = mes_rights_new(e->store, e->subjects, e->ledger, e->ingester, e->catalog, e->rec, &e->rights);
  if (!rc)
    rc = mes_audit_new(e->store, e->subjects, e->catalog, e->ingester, &e->audit);
  if (rc) {
    mes_err_set(err, rc, NULL, NULL);
    goto fail;
  }
  e->pol_current = calloc(1, sizeof *e->pol_current);
  if (!e->pol_current) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto fail;
  }
  e->pol_current->p = pol;
  e->pol_current->refs = 1;
  pol = NULL;
  mes__model_poll(e); /* the newest stored model, when there is one */
  *out = e;
  return MES_OK;
fail:
  mes_policy_free(pol);
  mes_engine_close(e);
  return rc;
}

static void pol_ref_free(struct pol_ref *r) {
  if (!r)
    return;
  mes_policy_free(r->p);
  free(r);
}

void mes_engine_close(struct mes_engine *e) {
  if (!e)
    return;
  if (e->bg_started) { /* before the store goes: the thread uses it */
    pthread_mutex_lock(&e->bg_mu);
    e->bg_stop = true;
    pthread_cond_signal(&e->bg_cv);
    pthread_mutex_unlock(&e->bg_mu);
    pthread_join(e->bg_thread, NULL);
  }
  if (e->store && e->tally.n > 0 && mes__tally_flush(e))
    mes_log(&e->log, MES_LOG_WARN, "the last daily counts could not be stored");
  if (e->store)
    mes__model_save_unsaved(e); /* an erasure's model, not saved yet */
  mes__tally_destroy(&e->tally);
  mes_model_unref(e->unsaved);
  mes_model_unref(e->model);
  /* Each handle before what it was made with. */
  mes_audit_free(e->audit);
  mes_rights_free(e->rights); /* borrows the recommender */
  mes_recommender_free(e->rec); /* writes what is queued: before the store goes */
  mes_catalog_free(e->catalog);
  mes_ingester_free(e->ingester); /* wipes the histories it holds */
  mes_ledger_free(e->ledger);
  mes_subjects_free(e->subjects); /* wipes the keys and hints it holds */
  mes_auth_free(e->auth);
  mes_store_close(e->store);
  mes_master_free(e->master);
  pol_ref_free(e->pol_current);
  for (struct pol_ref *r = e->pol_retired, *next; r; r = next) {
    next = r->next;
    pol_ref_free(r);
  }
  pthread_mutex_destroy(&e->pol_mu);
  pthread_mutex_destroy(&e->bg_mu);
  pthread_mutex_destroy(&e->model_mu);
  pthread_mutex_destroy(&e->train_mu);
  pthread_cond_destroy(&e->bg_cv);
  free(e->dir);
  free(e);
}

int mes_engine_reload(struct mes_engine *e, struct mes_err *err) {
  char yaml[PATH_MAX];
  struct mes_policy *pol = NULL;
  int rc = dir_file(yaml, e->dir, "mesura.yaml", err);
  if (!rc)
    rc = mes_policy_load(yaml, &pol, err);
  if (!rc)
    rc = pin_policy(e->store, pol, err);
  if (rc) {
    mes_policy_free(pol);
    return rc; /* the old policy stays */
  }
  struct pol_ref *r = calloc(1, sizeof *r);
  if (!r) {
    mes_policy_free(pol);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  r->p = pol;
  r->refs = 1;
  mes_ingester_set_cache_cap(e->ingester, histcache_bytes(pol));
  pthread_mutex_lock(&e->pol_mu);
  struct pol_ref *old = e->pol_current;
  e->pol_current = r;
  if (--old->refs == 0) {
    pol_ref_free(old);
  } else {
    old->next = e->pol_retired;
    e->pol_retired = old;
  }
  pthread_mutex_unlock(&e->pol_mu);
  mes_log(&e->log, MES_LOG_INFO, "policy reloaded");
  return MES_OK;
}

void mes_engine_req(struct mes_engine *e, struct mes_req *c, const char *actor, bool gpc) {
  memset(c, 0, sizeof *c);
  pthread_mutex_lock(&e->pol_mu);
  e->pol_current->refs++;
  c->policy = e->pol_current->p;
  pthread_mutex_unlock(&e->pol_mu);
  c->now_ms = mes_now_ms();
  c->actor = actor;
  c->gpc = gpc;
}

void mes_engine_req_done(struct mes_engine *e, struct mes_req *c) {
  if (!c->policy)
    return;
  pthread_mutex_lock(&e->pol_mu);
  if (e->pol_current->p == c->policy) {
    e->pol_current->refs--; /* never reaches 0 while current */
  } else {
    for (struct pol_ref **pp = &e->pol_retired; *pp; pp = &(*pp)->next) {
      if ((*pp)->p != c->policy)
        continue;
      struct pol_ref *r = *pp;
      if (--r->refs == 0) {
        *pp = r->next;
        pol_ref_free(r);
      }
      break;
    }
  }
  pthread_mutex_unlock(&e->pol_mu);
  c->policy = NULL;
}

/* ---------------------------------------------------------------- background */

void mes_engine_sweep(struct mes_engine *e, int64_t now_ms) {
  struct mes_req c;
  struct mes_err err;
  mes_err_clear(&err);
  mes_engine_req(e, &c, "retention-sweep", false);
  if (now_ms)
    c.now_ms = now_ms;
  int64_t n = 0;
  if (mes_ingest_sweep(e->ingester, &c, &n, &err))
    mes_log(&e->log, MES_LOG_WARN, "retention sweep failed: %s", mes_err_text(&err));
  else if (n > 0)
    mes_log(&e->log, MES_LOG_INFO, "retention sweep erased %lld events", (long long)n);
  int64_t nd = 0, ni = 0;
  mes_err_clear(&err);
  if (mes_recommender_sweep(e->rec, &c, &nd, &ni, &err))
    mes_log(&e->log, MES_LOG_WARN, "decision sweep failed: %s", mes_err_text(&err));
  else if (nd > 0 || ni > 0)
    mes_log(&e->log, MES_LOG_INFO, "retention sweep erased %lld decision records and %lld impressions",
            (long long)nd, (long long)ni);
  int64_t na = 0;
  mes_err_clear(&err);
  if (mes_recommend_access_sweep(e->rec, &c, &na, &err))
    mes_log(&e->log, MES_LOG_WARN, "access log sweep failed: %s", mes_err_text(&err));
  else if (na > 0)
    mes_log(&e->log, MES_LOG_INFO, "retention sweep erased %lld access log entries", (long long)na);
  int64_t nc = 0; /* the console's daily counts: kept as long as it can show them */
  if (mes_store_counts_sweep(e->store, c.now_ms / 86400000LL - MES__TALLY_KEEP_DAYS, &nc))
    mes_log(&e->log, MES_LOG_WARN, "daily counts sweep failed");
  int64_t nt = 0;
  if (mes_auth_sweep(e->auth, c.now_ms, &nt))
    mes_log(&e->log, MES_LOG_WARN, "token sweep failed");
  else if (nt > 0)
    mes_log(&e->log, MES_LOG_INFO, "retention sweep erased %lld expired subject tokens", (long long)nt);
  mes_engine_req_done(e, &c);
}

/* Runs the policy's scheduled audit when it is due: every
 * audit.schedule.every_days days, counted from the last scheduled run (kept
 * in the store's meta, so that a restart does not run it again). A run that
 * fails is logged and waits for the next turn, like one that succeeds. */
static void audit_schedule_tick(struct mes_engine *e) {
  struct mes_req c;
  mes_engine_req(e, &c, "schedule", false);
  const struct mes_audit_schedule *sc = &c.policy->audit.schedule;
  int64_t every_ms = (int64_t)sc->every_days * 86400000LL;
  json_t *body = NULL, *names = NULL;
  if (every_ms <= 0 || sc->n_attributes == 0)
    goto done;
  if (e->audit_last_ms < 0) { /* not read yet */
    char text[32];
    e->audit_last_ms = mes_store_meta_get(e->store, AUDIT_SCHEDULE_META, text, sizeof text) == MES_OK
                           ? strtoll(text, NULL, 10)
                           : 0;
    if (c.now_ms - e->audit_last_ms < every_ms) {
      mes_time_format(e->audit_last_ms + every_ms, text);
      mes_log(&e->log, MES_LOG_INFO, "the scheduled audit runs next at %s", text);
    }
  }
  if (c.now_ms - e->audit_last_ms < every_ms)
    goto done;
  names = json_array();
  for (size_t i = 0; names && i < sc->n_attributes; i++)
    if (json_array_append_new(names, json_string(sc->attributes[i]))) {
      json_decref(names);
      names = NULL;
    }
  const char *placement = sc->placement ? sc->placement : "default";
  body = names ? json_pack("{s:O, s:s, s:s}", "attributes", names, "placement", placement, "channel",
                           mes_channel_name((enum mes_channel)sc->channel))
               : NULL;
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  bool running = false;
  struct mes_call call = {.actor = "schedule", .now_ms = c.now_ms};
  struct mes_body b = {.json = body};
  if (!body)
    mes_log(&e->log, MES_LOG_WARN, "scheduled audit failed: out of memory");
  else if (mes_engine_audit_run(e, &call, &b, &out, &running, &err))
    mes_log(&e->log, MES_LOG_WARN, "scheduled audit failed: %s", mes_err_text(&err));
  json_decref(out);
  e->audit_last_ms = c.now_ms;
  char text[32];
  snprintf(text, sizeof text, "%lld", (long long)c.now_ms);
  mes_err_clear(&err);
  if (mes_engine_meta_set(e, AUDIT_SCHEDULE_META, text, &err))
    mes_log(&e->log, MES_LOG_WARN, "could not note the scheduled audit's time: %s", mes_err_text(&err));
done:
  json_decref(names);
  json_decref(body);
  mes_engine_req_done(e, &c);
}

static void *background_main(void *arg) {
  struct mes_engine *e = arg;
  uint64_t next_sweep = 0, next_tally = 0;
  /* A server that starts counts and trains only one counting interval later:
   * a restart (a deploy, a crash) must not open with a training that its
   * own stop would then wait for, and the saved model serves meanwhile. */
  e->counted_mono_ns = mes_mono_ns();
  if (!e->train_mono_ns)
    e->train_mono_ns = e->counted_mono_ns;
  pthread_mutex_lock(&e->bg_mu);
  while (!e->bg_stop) {
    pthread_mutex_unlock(&e->bg_mu);
    /* Every second: a model saved elsewhere, a catalog changed elsewhere
     * (`mesura import`), then retraining when due; every
     * BACKGROUND_EVERY_S: the retention sweep. */
    mes__model_save_unsaved(e);
    mes__model_poll(e);
    mes__model_follow(e);
    mes_catalog_refresh(e->catalog);
    mes__model_maybe_retrain(e);
    audit_schedule_tick(e);
    if (mes_mono_ns() >= next_tally) {
      if (mes__tally_flush(e))
        mes_log(&e->log, MES_LOG_WARN, "the daily counts could not be stored yet");
      next_tally = mes_mono_ns() + (uint64_t)MES__TALLY_FLUSH_S * 1000000000ull;
    }
    if (mes_mono_ns() >= next_sweep) {
      mes_engine_sweep(e, 0);
      next_sweep = mes_mono_ns() + (uint64_t)BACKGROUND_EVERY_S * 1000000000ull;
    }
    pthread_mutex_lock(&e->bg_mu);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += (long)MODEL_POLL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec += until.tv_nsec / 1000000000L;
      until.tv_nsec %= 1000000000L;
    }
    while (!e->bg_stop && !e->bg_kick && pthread_cond_timedwait(&e->bg_cv, &e->bg_mu, &until) != ETIMEDOUT)
      ; /* spurious wake-ups: wait again for the same deadline */
    e->bg_kick = false;
  }
  pthread_mutex_unlock(&e->bg_mu);
  return NULL;
}

void mes__engine_kick_background(struct mes_engine *e) {
  pthread_mutex_lock(&e->bg_mu);
  e->bg_kick = true;
  pthread_cond_signal(&e->bg_cv);
  pthread_mutex_unlock(&e->bg_mu);
}

int mes_engine_start_background(struct mes_engine *e, struct mes_err *err) {
  if (e->bg_started)
    return MES_OK;
  int prc = mes_thread_start(&e->bg_thread, background_main, e);
  if (prc)
    return mes_err_set(err, MES_EUNAVAILABLE, NULL, "Cannot start the background thread: %s.", strerror(prc));
  e->bg_started = true;
  /* This process now runs audits: what a stopped one left running is over. */
  int64_t n = 0;
  struct mes_err aerr;
  mes_err_clear(&aerr);
  if (mes_audit_recover(e->audit, &n, &aerr))
    mes_log(&e->log, MES_LOG_WARN, "could not mark interrupted audits: %s", mes_err_text(&aerr));
  else if (n > 0)
    mes_log(&e->log, MES_LOG_WARN, "%lld audits were interrupted by a stop and are marked failed", (long long)n);
  return MES_OK;
}

struct mes_store *mes_engine_store(struct mes_engine *e) { return e->store; }
struct mes_subjects *mes_engine_subjects(struct mes_engine *e) { return e->subjects; }
struct mes_ledger *mes_engine_ledger(struct mes_engine *e) { return e->ledger; }
struct mes_ingester *mes_engine_ingester(struct mes_engine *e) { return e->ingester; }
struct mes_catalog *mes_engine_catalog(struct mes_engine *e) { return e->catalog; }
struct mes_rights *mes_engine_rights(struct mes_engine *e) { return e->rights; }
struct mes_audit *mes_engine_audit(struct mes_engine *e) { return e->audit; }
struct mes_recommender *mes_engine_recommender(struct mes_engine *e) { return e->rec; }
const struct mes_log *mes_engine_log(struct mes_engine *e) { return &e->log; }

void mes_engine_timeouts(struct mes_engine *e, int *header_s, int *body_s) {
  struct mes_req c;
  mes_engine_req(e, &c, "server", false);
  *header_s = c.policy->serving.header_timeout_s;
  *body_s = c.policy->serving.body_timeout_s;
  mes_engine_req_done(e, &c);
}

bool mes_engine_cors_allowed(struct mes_engine *e, const char *origin, size_t len) {
  struct mes_req c;
  mes_engine_req(e, &c, "server", false);
  bool allowed = false;
  for (size_t i = 0; i < c.policy->cors.n_allowed_origins && !allowed; i++) {
    const char *o = c.policy->cors.allowed_origins[i];
    allowed = strlen(o) == len && memcmp(o, origin, len) == 0;
  }
  mes_engine_req_done(e, &c);
  return allowed;
}

/* ---------------------------------------------------------------- forgetting a subject */

void mes_engine_forget_subject(struct mes_engine *e, const struct mes_subject *s) {
  /* The recommender first: its writer may be storing a batch that holds
   * the subject's records, and it waits for that batch to land. */
  if (s->row.id > 0) {
    mes_recommender_forget(e->rec, s->row.id);
    mes_ingester_forget(e->ingester, s->row.id);
    mes_auth_forget_subject(e->auth, s->row.id);
  }
  mes_subjects_forget(e->subjects, s); /* the key cache, the hints */
}

int mes_engine_writable(struct mes_engine *e) {
  int rc = mes_store_tx_begin(e->store);
  if (rc == MES_OK)
    mes_store_tx_rollback(e->store);
  return rc == MES_ESTORAGE_FULL ? MES_ESTORAGE_FULL : MES_OK;
}
const char *mes_engine_dir(struct mes_engine *e) { return e->dir; }
void mes_engine_sign_public_key(struct mes_engine *e, uint8_t pk[32]) { mes_sign_public_key(e->master, pk); }

/* ---------------------------------------------------------------- auth */

int mes_engine_authenticate(struct mes_engine *e, const char *bearer, size_t len, struct mes_principal *out) {
  return mes_auth_authenticate(e->auth, bearer, len, out);
}

int mes_engine_key_create(struct mes_engine *e, const char *name, uint32_t scopes, char key_out[64],
                          struct mes_err *err) {
  return mes_auth_key_create(e->auth, name, scopes, key_out, err);
}

int mes_engine_key_revoke(struct mes_engine *e, const char *name, struct mes_err *err) {
  return mes_auth_key_revoke(e->auth, name, err);
}

int mes_engine_subject_token(struct mes_engine *e, int64_t sid, enum mes_token_use use, int ttl_s, char token_out[64],
                             int64_t *expires_ms, struct mes_err *err) {
  return mes_auth_subject_token(e->auth, sid, use, ttl_s, token_out, expires_ms, err);
}

void mes_engine_auth_forget_cached(struct mes_engine *e) { mes_auth_forget_cached(e->auth); }

int mes_engine_subject_tokens_revoke(struct mes_engine *e, int64_t sid, int64_t *n, struct mes_err *err) {
  return mes_auth_subject_revoke(e->auth, sid, n, err);
}
