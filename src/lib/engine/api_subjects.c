/*
 * engine/api_subjects — the data-subject verbs of mesura.h (contract §7): the
 * profile summary, the export, the restriction of processing, and the
 * subject's own tokens (for their dashboard, or for their browser).
 */
#include <string.h>

#include "audit/audit.h"
#include "base/mtime.h"
#include "base/thread.h"
#include "engine/engine_int.h"
#include "model/model.h"
#include "recommend/recommend.h"
#include "rights/rights.h"

int mes_engine_subject_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                           json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  if (!rc)
    rc = mes_rights_summary(e->rights, &k.req, subject, subject_len, &s, out, err);
  if (!rc)
    mes_recommender_access_note(e->rec, &k.req, s.row.id, subject, subject_len, MES_ACCESS_PROFILE);
  mes__call_end(&k);
  return rc;
}

int mes_engine_export(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                      json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  /* The export is a read like any other: it lists itself. Then decision
   * records, impressions and log entries wait a few ms in the recommender's
   * queue before they are written: the export shows the ones made before it
   * was asked for, and itself. */
  if (!rc)
    mes_recommender_access_note(e->rec, &k.req, s.row.id, subject, subject_len, MES_ACCESS_EXPORT);
  mes_recommender_flush(e->rec);
  if (!rc)
    rc = mes_rights_export(e->rights, &k.req, subject, subject_len, &s, k.lang, out, err);
  /* The audit vault is the person's data too: their export shows it. */
  json_t *attrs = NULL;
  struct mes_err ignored;
  if (!rc && mes_audit_attrs_get(e->audit, &k.req, s.row.id, &attrs, &ignored) == MES_OK &&
      json_object_set(*out, "protected_attributes", json_object_get(attrs, "attributes")))
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  json_decref(attrs);
  json_t *log = NULL;
  if (!rc && (rc = mes_recommend_access_log(e->rec, s.row.id, k.lang, &log, NULL, err)) == MES_OK &&
      json_object_set_new(*out, "access_log", log))
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (rc && *out) {
    json_decref(*out);
    *out = NULL;
  }
  mes__call_end(&k);
  return rc;
}

/* ---------------------------------------------------------------- erasure */

/* An erasure's unlearning, on a thread of its own from the moment its
 * journal record is durable: it needs nothing else (live.c follows the
 * journal), so the model's CPU (15 to 30 ms at 10 M events) overlaps the
 * key's and the rows' durable writes instead of following them. The receipt
 * waits for both. */
struct unlearning {
  struct mes_engine *e;
  int64_t sid, now_ms;
  bool had_events;
  bool started; /* the thread runs; else the erasure's own thread unlearns after the rows */
  pthread_t thread;
  json_t *model; /* the thread's mes__engine_unlearn, new */
};

static void *unlearn_main(void *ud) {
  struct unlearning *u = ud;
  u->model = mes__engine_unlearn(u->e, u->sid, u->had_events, u->now_ms);
  return NULL;
}

/* rights/erase.c's hook, on the erasure's thread, the record durable. */
static void unlearn_start(void *ud) {
  struct unlearning *u = ud;
  /* The person's stored events before their rows go (an index range, not
   * the rows): a model learns only from durable events, and every durable
   * one is seen here. Unreadable: counted as some, so that a model which
   * cannot tell is not kept for them. */
  int64_t max_id = 0, n = 0;
  u->had_events = mes_store_event_stamp(u->e->store, u->sid, &max_id, &n) != MES_OK || n > 0;
  u->now_ms = mes_now_ms();
  /* A thread only for a model with work to do: one that cannot unlearn
   * just gives way, and a new thread may wait for a core on a busy machine
   * longer than that takes. Without one, the unlearning follows the rows. */
  struct mes_model *live = mes_engine_model(u->e);
  bool work = mes_model_can_unlearn(live);
  mes_model_unref(live);
  u->started = work && mes_thread_start(&u->thread, unlearn_main, u) == 0;
}

int mes_engine_subject_erase(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                             json_t **receipt, struct mes_err *err) {
  MES__CLEAR(receipt);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  if (rc) {
    mes__call_end(&k);
    return rc;
  }
  /* Before: nothing of the person still queued may reach the store. After:
   * nothing held in memory (keys, hints, histories, cached answers about
   * their tokens, which went with their rows) may answer for them. The model
   * lets go of them meanwhile: a training that reads their rows before they
   * go unlearns them itself (it reads the journal after the events), and
   * one that started earlier has made its model live by the time the
   * unlearning takes train_mu. */
  mes_engine_forget_subject(e, &s);
  struct mes_store_erased removed;
  struct unlearning u = {.e = e, .sid = s.row.id};
  rc = mes_rights_erase(mes_engine_rights(e), &k.req, &s, &(struct mes_rights_erase_hook){unlearn_start, &u},
                        &removed, err);
  mes_engine_forget_subject(e, &s);
  if (u.started)
    pthread_join(u.thread, NULL);
  if (!rc) {
    /* A model learns from events alone: with none stored (never, or swept),
     * a model that cannot unlearn is not retrained for what it most likely
     * never held; one that can says itself what it held. */
    json_t *model = u.started ? u.model : mes__engine_unlearn(e, s.row.id, u.had_events, mes_now_ms());
    *receipt = model ? mes_rights_erasure_receipt(mes_engine_rights(e), &k.req, &s, &removed, model) : NULL;
    json_decref(model);
    if (!*receipt)
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    mes_log(&e->log, MES_LOG_INFO, "erased subject %s: %lld events, %lld consents, %lld decision records", s.pn_hex,
            (long long)removed.events, (long long)removed.consents, (long long)removed.decisions);
  } else {
    json_decref(u.model); /* the person left the model all the same: their record is journaled */
  }
  mes__call_end(&k);
  return rc;
}

static const struct mes_jfield restriction_fields[] = {
    {"restricted", MES_J_BOOL, true, 0, 0},
};

int mes_engine_restriction_set(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                               const struct mes_body *body, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  json_t *doc = NULL;
  int rc = mes__body_object(body, restriction_fields, sizeof restriction_fields / sizeof restriction_fields[0], &doc,
                            err);
  bool restricted = rc == MES_OK && json_is_true(json_object_get(doc, "restricted"));
  json_decref(doc);
  if (rc)
    return rc;
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  bool changed = false;
  if (!rc)
    rc = mes_rights_restrict(mes_engine_rights(e), &k.req, &s, restricted, &changed, err);
  mes__call_end(&k);
  if (rc)
    return rc;
  *out = json_pack("{s:b, s:b}", "restricted", restricted, "changed", changed);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

static const struct mes_jfield token_fields[] = {
    {"use", MES_J_STRING, false, 0, 16},
};

int mes_engine_token_create(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            const struct mes_body *body, int ttl_s, char token_out[64], int64_t *expires_ms,
                            struct mes_err *err) {
  token_out[0] = '\0';
  *expires_ms = 0;
  enum mes_token_use use = MES_TOKEN_DASHBOARD;
  if (mes__body_given(body)) {
    json_t *doc = NULL;
    int rc = mes__body_object(body, token_fields, sizeof token_fields / sizeof token_fields[0], &doc, err);
    const char *u = rc ? NULL : json_string_value(json_object_get(doc, "use"));
    if (u && strcmp(u, "browser") == 0)
      use = MES_TOKEN_BROWSER;
    else if (u && strcmp(u, "dashboard") != 0)
      rc = mes_err_set(err, MES_EINVALID_VALUE, "/use", "use must be dashboard or browser.");
    json_decref(doc);
    if (rc)
      return rc;
  }
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, true, &s, err);
  if (ttl_s <= 0)
    ttl_s = k.req.policy->rights.token_minutes * 60;
  mes__call_end(&k);
  if (rc)
    return rc;
  return mes_engine_subject_token(e, s.row.id, use, ttl_s, token_out, expires_ms, err);
}

int mes_engine_tokens_revoke(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                             int64_t *revoked, struct mes_err *err) {
  *revoked = 0;
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  mes__call_end(&k);
  if (rc)
    return rc;
  return mes_engine_subject_tokens_revoke(e, s.row.id, revoked, err);
}
