/*
 * Torture of a fairness audit as POST /v1/audits runs it for a small
 * population (mes_audit_prepare, then mes_audit_job_finish on the calling
 * thread): the vault read and unsealed, every person's answer replayed, the
 * catalog paged for prices, the disparities with their intervals, the
 * proxies and the catalog side. Four shoppers of the torture shop agreed
 * to audits under a policy that adds the purpose `audit` after the example's
 * own (so the shop's consents keep their meaning) and a minimum group of 2.
 * Each run starts with empty caches. An audit reads only, so every run must
 * give the same document; the same for an audit of what they were served,
 * from the decision records of an answer each was given on "home".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "torture.h"

#include "audit/audit.h"

struct fixture {
  struct mes_torture_shop shop;
  struct mes_policy *policy; /* the example with the purpose audit */
  const struct mes_policy *shop_policy;
  struct mes_audit *audit;
};

/* The example policy with a purpose `audit` after its own and groups of 2. */
static struct mes_policy *audit_policy(void) {
  const char *ex = mes_policy_example();
  const char *at = strstr(ex, "\nevent_types:\n"), *min = strstr(ex, "min_group_size: 10");
  assert_non_null(at);
  assert_non_null(min);
  /* The purposes end where the comments above event_types begin. */
  const char *end = at + 1;
  while (end - 1 > ex) {
    const char *prev = end - 1;
    while (prev > ex && prev[-1] != '\n')
      prev--;
    if (*prev != '#' && *prev != '\n')
      break;
    end = prev;
  }
  static const char purpose[] = "  audit: {description: {en: \"Take part in audits\"}, gpc: ignored}\n";
  size_t cap = strlen(ex) + sizeof purpose + 16;
  char *yaml = malloc(cap);
  assert_non_null(yaml);
  int n = snprintf(yaml, cap, "%.*s%s%.*s%s%s", (int)(end - ex), ex, purpose, (int)(min - end), end, "min_group_size: 2",
                  min + strlen("min_group_size: 10"));
  assert_true(n > 0 && (size_t)n < cap);
  struct mes_policy *p = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_policy_load_buf("torture-audit.yaml", yaml, (size_t)n, &p, &err);
  if (rc)
    fail_msg("the audit policy does not load: %s", mes_err_text(&err));
  free(yaml);
  return p;
}

static void new_audit(struct fixture *f) {
  mes_audit_free(f->audit);
  f->audit = NULL;
  assert_int_equal(mes_audit_new(f->shop.store, f->shop.subjects, f->shop.catalog, f->shop.ingester, &f->audit),
                   MES_OK);
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_torture_shop_open(&f->shop, "torture-audit");
  f->policy = audit_policy();
  /* The shop's request is the world's, which this test owns for its run:
   * the same purposes first, then audit. */
  f->shop_policy = f->shop.req->policy;
  ((struct mes_req *)f->shop.req)->policy = f->policy;
  assert_int_equal(mes_policy_purpose(f->policy, "personalization", 15),
                   mes_policy_purpose(f->shop_policy, "personalization", 15));
  new_audit(f);
  struct mes_err err;
  mes_err_clear(&err);
  for (int i = 0; i < 4; i++) {
    char id[32];
    snprintf(id, sizeof id, "shopper-%d", i);
    json_t *body = json_pack("{s:s, s:s}", "status", "granted", "source", "banner"), *out = NULL;
    assert_int_equal(mes_consent_record(f->shop.ledger, f->shop.req, id, strlen(id), "audit", 5, body, &out, &err),
                     MES_OK);
    json_decref(body);
    json_decref(out);
    struct mes_subject s;
    memset(&s, 0, sizeof s);
    assert_int_equal(mes_subject_resolve(f->shop.subjects, f->shop.req, MES_NS_SUBJECT, id, strlen(id), false, &s),
                     MES_OK);
    json_t *attrs = json_pack("{s:s, s:s, s:s}", "age_band", i % 2 ? "18-34" : "55+", "ethnicity", i < 2 ? "a" : "b",
                              "postal_code", i < 2 ? "28001" : "28002");
    assert_int_equal(mes_audit_attrs_put(f->audit, f->shop.req, &s, id, strlen(id), attrs, &out, &err), MES_OK);
    json_decref(attrs);
    json_decref(out);
    /* An answer on "home", recorded: what an audit of what was served reads. */
    json_t *ask = json_pack("{s:s, s:s, s:i}", "subject", id, "placement", "home", "count", 4);
    assert_int_equal(mes_recommend(f->shop.rec, f->shop.req, f->shop.model, ask, MES_LANG_EN, &out, NULL, &err),
                     MES_OK);
    json_decref(ask);
    json_decref(out);
  }
  mes_recommender_flush(f->shop.rec);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_audit_free(f->audit);
  ((struct mes_req *)f->shop.req)->policy = f->shop_policy;
  mes_torture_shop_close(&f->shop);
  mes_policy_free(f->policy);
  free(f);
  return 0;
}

static void before(void *ud) {
  struct fixture *f = ud;
  mes_torture_shop_fresh_caches(&f->shop);
  new_audit(f); /* over the new handles */
}

static int audit(struct fixture *f, const char *source, json_t **out, struct mes_err *err) {
  json_t *body = json_pack("{s:[s], s:s, s:i, s:i, s:s}", "attributes", "age_band", "placement", "home", "count", 4,
                           "resamples", 5, "source", source);
  if (!body)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  struct mes_audit_job *job = NULL;
  int rc = mes_audit_prepare(f->audit, f->shop.req, f->shop.rec, f->shop.model, body, NULL, NULL, &job, err);
  json_decref(body);
  if (!rc)
    rc = mes_audit_job_finish(job, out, err);
  mes_audit_job_free(job);
  return rc;
}

static int run_replay(void *ud, json_t **out, struct mes_err *err) { return audit(ud, "replay", out, err); }
static int run_served(void *ud, json_t **out, struct mes_err *err) { return audit(ud, "served", out, err); }

static void test_audit_replay(void **state) {
  struct fixture *f = *state;
  const struct mes_torture_op op = {.name = "audit (replay)", .ud = f, .run = run_replay, .before = before};
  mes_torture_run(&op);
}

/* The decision records: unsealed, parsed, filtered by placement. */
static void test_audit_served(void **state) {
  struct fixture *f = *state;
  const struct mes_torture_op op = {.name = "audit (served)", .ud = f, .run = run_served, .before = before};
  mes_torture_run(&op);
}

int main(void) {
  mes_torture_init();
  /* Every run writes access-log entries for the people it read, durably:
   * fewer runs (a stride over the allocations) keep this test to seconds.
   * MES_TORTURE_MAX_RUNS or MES_TORTURE_STRIDE in the environment win. */
  setenv("MES_TORTURE_MAX_RUNS", "300", 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_audit_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_audit_served, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
