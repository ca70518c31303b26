/*
 * audit/worker — the audit handle and the thread it owns, which computes
 * the audits too large to answer at once (mes_audit_submit).
 *
 * A submitted audit is stored first as "running", so that its id can be
 * polled at once; the worker replaces that record with the finished audit
 * or with a failure. An audit never stays "running" for ever: a shutdown
 * stops the worker between two people and stores the audit as failed
 * ("interrupted"), and a process that died without one leaves records that
 * mes_audit_recover marks so when the next server starts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_int.h"
#include "base/thread.h"

int mes_audit_new(struct mes_store *st, struct mes_subjects *subjects, struct mes_catalog *catalog,
                  struct mes_ingester *ingester, struct mes_audit **out) {
  struct mes_audit *a = calloc(1, sizeof *a);
  if (!a)
    return MES_ENOMEM;
  *a = (struct mes_audit){.store = st, .subjects = subjects, .catalog = catalog, .ingester = ingester};
  if (pthread_mutex_init(&a->mu, NULL)) {
    free(a);
    return MES_ENOMEM;
  }
  if (pthread_cond_init(&a->cv, NULL)) {
    pthread_mutex_destroy(&a->mu);
    free(a);
    return MES_ENOMEM;
  }
  atomic_init(&a->stop, false);
  *out = a;
  return MES_OK;
}

/* Replaces audit id's record with the failure err (code and sentence). */
static void store_failure(struct mes_audit *a, int64_t id, const char *code, const char *msg) {
  json_t *doc = json_pack("{s:s, s:{s:s, s:s}}", "status", "failed", "error", "code", code, "message", msg);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  if (text)
    (void)mes_store_audit_update(a->store, id, text); /* a store that fails now: the next start recovers it */
  free(text);
  json_decref(doc);
}

/* Stores what became of job j: the finished audit, or why it failed. */
static void finish_one(struct mes_audit *a, struct mes_audit_job *j) {
  int64_t id = mes__audit_job_link(j)->id;
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  int rc = atomic_load(&a->stop) ? MES_EUNAVAILABLE : mes_audit_job_finish(j, &out, &err);
  if (rc == MES_EUNAVAILABLE && atomic_load(&a->stop)) {
    store_failure(a, id, "interrupted", "The server stopped before this audit finished; run it again.");
  } else if (rc) {
    store_failure(a, id, mes_rc_code(rc), err.msg[0] ? err.msg : mes_rc_message(rc));
  } else {
    char *text = json_dumps(out, JSON_COMPACT);
    rc = text ? mes_store_audit_update(a->store, id, text) : MES_ENOMEM;
    free(text);
    if (rc)
      store_failure(a, id, mes_rc_code(rc), mes_rc_message(rc));
  }
  json_decref(out);
  mes_audit_job_free(j);
}

static void *worker_main(void *arg) {
  struct mes_audit *a = arg;
  pthread_mutex_lock(&a->mu);
  for (;;) {
    while (!a->queue && !atomic_load(&a->stop))
      pthread_cond_wait(&a->cv, &a->mu);
    struct mes_audit_job *j = a->queue;
    if (!j)
      break; /* stopping, and nothing waits */
    a->queue = mes__audit_job_link(j)->next;
    if (!a->queue)
      a->queue_tail = NULL;
    pthread_mutex_unlock(&a->mu);
    finish_one(a, j); /* when stopping, each queued job is stored as interrupted */
    pthread_mutex_lock(&a->mu);
    a->n_queued--;
  }
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

int mes_audit_submit(struct mes_audit *a, struct mes_audit_job *j, int64_t now_ms, json_t **out, struct mes_err *err) {
  *out = NULL;
  json_t *doc = NULL;
  char *text = NULL;
  int64_t id = 0;
  int rc = MES_OK;
  pthread_mutex_lock(&a->mu);
  bool full = a->n_queued >= MES_AUDIT_QUEUE_MAX;
  if (!full)
    a->n_queued++; /* the place is held while the record is written */
  pthread_mutex_unlock(&a->mu);
  if (full) {
    mes_audit_job_free(j);
    return mes_err_set(err, MES_ECONFLICT, NULL,
                       "%d audits are already running or waiting; poll them and try again when one has finished.",
                       MES_AUDIT_QUEUE_MAX);
  }
  if ((rc = mes__audit_running_doc(j, now_ms, &doc)) || !(text = json_dumps(doc, JSON_COMPACT)) ||
      (rc = mes_store_audit_put(a->store, now_ms, text, &id))) {
    rc = rc ? rc : MES_ENOMEM;
    goto fail;
  }
  mes__audit_job_link(j)->id = id;
  char s[32];
  snprintf(s, sizeof s, "%lld", (long long)id);
  if (json_object_set_new(doc, "id", json_string(s))) {
    store_failure(a, id, mes_rc_code(MES_ENOMEM), mes_rc_message(MES_ENOMEM));
    rc = MES_ENOMEM;
    goto fail;
  }
  pthread_mutex_lock(&a->mu);
  if (!a->started && !atomic_load(&a->stop)) {
    int prc = mes_thread_start(&a->thread, worker_main, a);
    a->started = prc == 0;
  }
  if (!a->started) {
    pthread_mutex_unlock(&a->mu);
    store_failure(a, id, mes_rc_code(MES_EUNAVAILABLE), "The audit could not be started; run it again.");
    rc = MES_EUNAVAILABLE;
    goto fail;
  }
  if (a->queue_tail)
    mes__audit_job_link(a->queue_tail)->next = j;
  else
    a->queue = j;
  a->queue_tail = j;
  pthread_cond_signal(&a->cv);
  pthread_mutex_unlock(&a->mu);
  free(text);
  *out = doc;
  return MES_OK;
fail:
  pthread_mutex_lock(&a->mu);
  a->n_queued--;
  pthread_mutex_unlock(&a->mu);
  free(text);
  json_decref(doc);
  mes_audit_job_free(j);
  return mes_err_set(err, rc, NULL, NULL);
}

int mes_audit_recover(struct mes_audit *a, int64_t *n, struct mes_err *err) {
  int rc = mes_store_audit_interrupt(a->store, MES__AUDIT_INTERRUPTED, n);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

void mes_audit_free(struct mes_audit *a) {
  if (!a)
    return;
  pthread_mutex_lock(&a->mu);
  atomic_store(&a->stop, true);
  pthread_cond_signal(&a->cv);
  bool started = a->started;
  pthread_mutex_unlock(&a->mu);
  if (started)
    pthread_join(a->thread, NULL);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->cv);
  free(a);
}
