/*
 * engine/api_audit — the audit verbs of mesura.h (contract §8): the
 * attribute vault and audit runs, their history and their report.
 *
 * Reading the vault needs the audit scope itself: admin keys pass every
 * route check (mes_scope_allows), so the read verbs refuse them here.
 */
#include <string.h>

#include "audit/audit.h"
#include "engine/engine_int.h"
#include "recommend/recommend.h"

static int vault_reader(const struct mes__call *k, struct mes_err *err) {
  const struct mes_principal *who = k->call->who;
  if (who && (who->subject_token || !(who->scopes & MES_SCOPE_AUDIT)))
    return mes_err_set(err, MES_EFORBIDDEN, NULL,
                       "Reading protected attributes needs a key with the audit scope; admin does not cover it.");
  return MES_OK;
}

int mes_engine_audit_attrs_put(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                               const struct mes_body *body, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  json_t *doc = NULL;
  int rc;
  if (body && body->json)
    doc = json_incref((json_t *)body->json);
  else if ((rc = mes_json_parse_object(body ? body->text : NULL, body ? body->len : 0, &doc, err)))
    return rc;
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  rc = mes__call_subject_gate(&k, subject, subject_len, &s, err);
  if (!rc)
    rc = mes_audit_attrs_put(e->audit, &k.req, &s, subject, subject_len, doc, out, err);
  mes__call_end(&k);
  json_decref(doc);
  return rc;
}

int mes_engine_audit_attrs_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                               json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = vault_reader(&k, err);
  if (!rc)
    rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  if (rc == MES_ENOT_FOUND)
    rc = mes_err_set(err, MES_ENOT_FOUND, NULL, "No attributes are recorded for this person.");
  if (!rc)
    rc = mes_audit_attrs_get(e->audit, &k.req, s.row.id, out, err);
  mes__call_end(&k);
  return rc;
}

int mes_engine_audit_attrs_delete(struct mes_engine *e, struct mes_call *call, const char *subject,
                                  size_t subject_len, struct mes_err *err) {
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  if (rc == MES_ENOT_FOUND)
    rc = mes_err_set(err, MES_ENOT_FOUND, NULL, "No attributes are recorded for this person.");
  if (!rc)
    rc = mes_audit_attrs_delete(e->audit, &k.req, s.row.id, err);
  mes__call_end(&k);
  return rc;
}

/* Gives a job's request and model back (mes_audit_release_fn). */
static void release_job(void *ud, struct mes_req *c, const struct mes_model *m) {
  mes_engine_req_done(ud, c);
  mes_model_unref((struct mes_model *)m);
}

int mes_engine_audit_run(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, json_t **out,
                         bool *running, struct mes_err *err) {
  MES__CLEAR(out);
  *running = false;
  json_t *doc = NULL;
  int rc = mes__body_object(body, mes_audit_run_fields, mes_audit_n_run_fields, &doc, err);
  if (rc)
    return rc;
  struct mes__call k;
  mes__call_begin(&k, e, call);
  /* The job's own request: it may outlive the call, on the audit worker. */
  struct mes_req jr;
  mes_engine_req(e, &jr, k.req.actor, false); /* the replay is the audit's, not a shopper's request */
  jr.now_ms = k.req.now_ms;
  struct mes_model *m = mes_engine_model(e);
  struct mes_audit_job *job = NULL;
  rc = mes_audit_prepare(e->audit, &jr, mes_engine_recommender(e), m, doc, release_job, e, &job, err);
  if (rc) {
    mes_engine_req_done(e, &jr);
    mes_model_unref(m);
  } else if (e->bg_started && mes_audit_job_people(job) > (size_t)jr.policy->audit.sync_max_subjects) {
    /* Too many people to answer at once: the worker computes it, the caller polls. */
    rc = mes_audit_submit(e->audit, job, k.req.now_ms, out, err);
    *running = rc == MES_OK;
  } else {
    rc = mes_audit_job_finish(job, out, err);
    if (!rc && (rc = mes_audit_save(e->audit, &k.req, *out, err))) {
      json_decref(*out);
      *out = NULL;
    }
    mes_audit_job_free(job);
  }
  if (!rc)
    mes_log(&e->log, MES_LOG_INFO, "audit %s: %lld people%s", json_string_value(json_object_get(*out, "id")),
            (long long)json_integer_value(json_object_get(json_object_get(*out, "population"), "audited")),
            *running ? ", running in the background" : "");
  mes__call_end(&k);
  json_decref(doc);
  return rc;
}

int mes_engine_audit_get(struct mes_engine *e, struct mes_call *call, const char *id, size_t id_len, json_t **out,
                         struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  mes__call_begin(&k, e, call);
  int rc = mes_audit_load(e->audit, &k.req, id, id_len, out, err);
  mes__call_end(&k);
  return rc;
}

int mes_engine_audit_report(struct mes_engine *e, struct mes_call *call, const char *id, size_t id_len, char **html,
                            size_t *len, struct mes_err *err) {
  *html = NULL;
  *len = 0;
  struct mes__call k;
  mes__call_begin(&k, e, call);
  json_t *a = NULL;
  /* The auditor's language among all mesura writes, not only the shop's. */
  enum mes_lang lang = mes_lang_negotiate(NULL, k.call->accept_language);
  int rc = mes_audit_load(e->audit, &k.req, id, id_len, &a, err);
  const char *status = json_string_value(json_object_get(a, "status"));
  if (!rc && status && strcmp(status, "running") == 0)
    rc = mes_err_set(err, MES_ECONFLICT, NULL,
                     "This audit is still running; its report is ready once GET /v1/audits/{id} says done.");
  else if (!rc && status && strcmp(status, "done") != 0)
    rc = mes_err_set(err, MES_ECONFLICT, NULL, "This audit did not finish, so it has no report; run it again.");
  if (!rc && (rc = mes_audit_report_html(a, lang, html, len)))
    rc = mes_err_set(err, rc, NULL, NULL);
  json_decref(a);
  mes__call_end(&k);
  return rc;
}

int mes_engine_audit_ratios(struct mes_engine *e, json_t **out, struct mes_err *err) {
  *out = NULL;
  struct mes__call k;
  mes__call_begin(&k, e, NULL);
  json_t *a = NULL;
  int rc = mes_audit_latest(e->audit, &k.req, &a, err);
  json_t *r = json_object();
  if (rc == MES_ENOT_FOUND) {
    mes_err_clear(err);
    rc = MES_OK;
  }
  size_t i;
  const json_t *d;
  json_array_foreach(json_object_get(a, "disparities"), i, d) {
    const char *attr = json_string_value(json_object_get(d, "attribute"));
    const json_t *ratio = json_object_get(d, "ratio");
    if (!r || !attr || !json_is_number(ratio))
      continue;
    const json_t *was = json_object_get(r, attr);
    if (!was || json_number_value(ratio) < json_number_value(was))
      json_object_set_new(r, attr, json_real(json_number_value(ratio)));
  }
  json_decref(a);
  mes__call_end(&k);
  if (!rc && !r)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (rc) {
    json_decref(r);
    return rc;
  }
  *out = r;
  return MES_OK;
}
