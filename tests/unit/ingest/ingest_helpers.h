/*
 * Helpers shared by the ingest module's tests: parse a JSON text the test
 * wrote, record a consent decision through the consent module (which
 * creates the subject and its key), and find a subject's store id.
 */
#ifndef MES_TEST_INGEST_HELPERS_H
#define MES_TEST_INGEST_HELPERS_H

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "consent/consent.h"
#include "ingest/ingest.h"
#include "subject/subject.h"

static inline json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, 0, &je);
  if (!v)
    fail_msg("test JSON does not parse: %s: %s", je.text, text);
  return v;
}

static inline void consent_on(struct mes_ledger *lg, const struct mes_req *c, const char *subject, const char *purpose,
                              const char *status) {
  char body_text[64];
  snprintf(body_text, sizeof body_text, "{\"status\": \"%s\"}", status);
  json_t *body = parse(body_text), *receipt = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_consent_record(lg, c, subject, strlen(subject), purpose, strlen(purpose), body, &receipt, &err);
  if (rc)
    fail_msg("consent %s/%s: %s (%s)", subject, purpose, mes_rc_code(rc), mes_err_text(&err));
  json_decref(receipt);
  json_decref(body);
}

/* The reply of POST /v1/events with body_text (new); the test fails when
 * the request as a whole is refused. */
static inline json_t *ingest_reply(struct mes_ingester *ing, const struct mes_req *c, const char *body_text) {
  json_t *body = parse(body_text), *reply = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_ingest_batch(ing, c, body, &reply, &err);
  json_decref(body);
  if (rc)
    fail_msg("ingest failed: %s %s (%s)", mes_rc_code(rc), err.field, mes_err_text(&err));
  return reply;
}

/* 0 when the subject is unknown. */
static inline int64_t sid_on(struct mes_subjects *sj, const struct mes_req *c, const char *subject) {
  struct mes_subject s;
  int rc = mes_subject_resolve(sj, c, MES_NS_SUBJECT, subject, strlen(subject), false, &s);
  return rc == MES_OK ? s.row.id : 0;
}

#endif
