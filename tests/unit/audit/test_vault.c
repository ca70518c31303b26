/* Unit tests of audit/vault: who may have attributes recorded, the body's
 * rules, sealing (the store never holds a value in the clear), which names
 * are protected, and that the document leaves with its subject. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../world.h"
#include "audit/audit.h"

static const char policy_yaml[] = "purposes:\n"
                                  "  personalization: {description: Suggestions}\n"
                                  "  audit: {description: Audits}\n"
                                  "event_types:\n"
                                  "  view: {purposes: [personalization], retention_days: 30}\n";

static const char custom_yaml[] = "purposes:\n"
                                  "  audit: {description: Audits}\n"
                                  "event_types:\n"
                                  "  view: {purposes: [audit], retention_days: 30}\n"
                                  "audit: {protected: [postal_code], min_group_size: 3}\n";

static const char no_audit_yaml[] = "purposes:\n"
                                    "  personalization: {description: Suggestions}\n"
                                    "event_types:\n"
                                    "  view: {purposes: [personalization], retention_days: 30}\n";

/* The audit handle over the open world, as the engine makes it. */
static struct mes_audit *AUD;

static void open_world(struct mes_world *w, const char *name, const char *yaml, int64_t now_ms, const char *actor) {
  mes_world_open(w, name, yaml, now_ms, actor);
  assert_int_equal(mes_audit_new(w->store, mes_world_subjects(w), mes_world_catalog(w), mes_world_ingester(w), &AUD),
                   MES_OK);
}

static void close_world(struct mes_world *w) {
  mes_audit_free(AUD);
  AUD = NULL;
  mes_world_close(w);
}

static void person(struct mes_world *w, const char *id, bool grant, struct mes_subject *s) {
  assert_int_equal(mes_subject_resolve(mes_world_subjects(w), &w->req, MES_NS_SUBJECT, id, strlen(id), true, s), MES_OK);
  int p = mes_policy_purpose(w->policy, "audit", 5);
  if (grant && p >= 0) {
    assert_int_equal(mes_store_subject_set_granted(w->store, s->row.id, 1u << p), MES_OK);
    s->row.granted = 1u << p;
  }
}

/* Whether needle occurs in the bytes hay[0..len). */
static bool holds(const uint8_t *hay, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(hay + i, needle, n) == 0)
      return true;
  return false;
}

static json_t *parse(const char *text) {
  json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
  assert_non_null(j);
  return j;
}

static void test_who_may_be_recorded(void **state) {
  (void)state;
  struct mes_world w;
  struct mes_subject yes, no, unknown;
  struct mes_err err;
  open_world(&w, "vault-who", policy_yaml, 1000, "test");
  person(&w, "ann", true, &yes);
  person(&w, "bob", false, &no);
  memset(&unknown, 0, sizeof unknown);
  assert_int_equal(mes_audit_may_record(AUD, &w.req, &yes, &err), MES_OK);
  assert_int_equal(mes_audit_may_record(AUD, &w.req, &no, &err), MES_ENO_CONSENT);
  assert_int_equal(mes_audit_may_record(AUD, &w.req, &unknown, &err), MES_ENO_CONSENT);
  json_t *body = parse("{\"gender\": \"m\"}"), *out = NULL;
  assert_int_equal(mes_audit_attrs_put(AUD, &w.req, &no, "bob", 3, body, &out, &err), MES_ENO_CONSENT);
  assert_null(out);
  assert_int_equal(mes_audit_attrs_get(AUD, &w.req, no.row.id, &out, &err), MES_ENOT_FOUND); /* nothing stored */
  json_decref(body);
  close_world(&w);

  open_world(&w, "vault-off", no_audit_yaml, 1000, "test");
  person(&w, "ann", false, &yes);
  yes.row.granted = ~0u; /* whatever is granted, there is no purpose `audit` */
  assert_int_equal(mes_audit_may_record(AUD, &w.req, &yes, &err), MES_EAUDIT_NOT_ENABLED);
  close_world(&w);
}

struct body_case {
  const char *body;
  int rc;
  const char *field;
};

static void test_body_rules(void **state) {
  (void)state;
  static const struct body_case cases[] = {
      {"{\"age_band\": \"55+\", \"postal_code\": \"28001\"}", MES_OK, ""},
      {"{}", MES_OK, ""},
      {"{\"age_band\": 55}", MES_EWRONG_TYPE, "/age_band"},
      {"{\"age_band\": null}", MES_EWRONG_TYPE, "/age_band"},
      {"{\"age_band\": \"\"}", MES_EOUT_OF_RANGE, "/age_band"},
      {"{\"age_band\": \"a\\nb\"}", MES_EOUT_OF_RANGE, "/age_band"},
      {"{\"\": \"x\"}", MES_EOUT_OF_RANGE, ""},
      {"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": \"x\"}", MES_EOUT_OF_RANGE, ""},
      {"[\"age_band\"]", MES_EWRONG_TYPE, ""},
  };
  struct mes_world w;
  struct mes_subject s;
  open_world(&w, "vault-body", policy_yaml, 1000, "test");
  person(&w, "ann", true, &s);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct mes_err err;
    mes_err_clear(&err);
    json_t *body = parse(cases[i].body), *out = NULL;
    int rc = mes_audit_attrs_put(AUD, &w.req, &s, "ann", 3, body, &out, &err);
    if (rc != cases[i].rc || strcmp(err.field, cases[i].field) != 0)
      print_error("%s: rc %d field '%s', want %d '%s'\n", cases[i].body, rc, err.field, cases[i].rc,
                  cases[i].field);
    assert_int_equal(rc, cases[i].rc);
    assert_string_equal(err.field, cases[i].field);
    assert_true(rc == MES_OK ? out != NULL : out == NULL);
    json_decref(out);
    json_decref(body);
  }
  close_world(&w);
}

static void test_sealed_and_protected(void **state) {
  (void)state;
  struct mes_world w;
  struct mes_subject s;
  struct mes_err err;
  open_world(&w, "vault-seal", policy_yaml, 1000, "test");
  person(&w, "ann-the-shopper", true, &s);
  json_t *body = parse("{\"ethnicity\": \"Zyxwv-unique\", \"postal_code\": \"28001\"}"), *out = NULL;
  assert_int_equal(mes_audit_attrs_put(AUD, &w.req, &s, "ann-the-shopper", 15, body, &out, &err), MES_OK);
  json_decref(out);
  uint8_t *raw = NULL;
  size_t len = 0;
  assert_int_equal(mes_store_attr_get(w.store, s.row.id, &raw, &len), MES_OK);
  assert_false(holds(raw, len, "Zyxwv-unique")); /* ciphertext only */
  assert_false(holds(raw, len, "ann-the-shopper"));
  free(raw);
  assert_int_equal(mes_audit_attrs_get(AUD, &w.req, s.row.id, &out, &err), MES_OK);
  assert_true(json_equal(json_object_get(out, "attributes"), body));
  /* The default list protects ethnicity, not postal_code. */
  assert_int_equal(json_array_size(json_object_get(out, "protected")), 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(out, "protected"), 0)), "ethnicity");
  json_decref(out);
  /* Erasure takes the document with the subject, and counts it. */
  struct mes_store_erased n;
  assert_int_equal(mes_store_subject_delete_counted(w.store, s.row.id, &n), MES_OK);
  assert_int_equal(n.attributes, 1);
  assert_int_equal(mes_audit_attrs_get(AUD, &w.req, s.row.id, &out, &err), MES_ENOT_FOUND);
  json_decref(body);
  close_world(&w);

  /* A policy's own list replaces the default. */
  open_world(&w, "vault-custom", custom_yaml, 1000, "test");
  assert_true(mes_audit_is_protected(w.policy, "postal_code"));
  assert_false(mes_audit_is_protected(w.policy, "ethnicity"));
  assert_int_equal(w.policy->audit.min_group_size, 3);
  close_world(&w);
  open_world(&w, "vault-default", policy_yaml, 1000, "test");
  for (size_t i = 0; mes_audit_default_protected[i]; i++)
    assert_true(mes_audit_is_protected(w.policy, mes_audit_default_protected[i]));
  assert_int_equal(w.policy->audit.min_group_size, MES_AUDIT_MIN_GROUP_DEFAULT);
  close_world(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_who_may_be_recorded), cmocka_unit_test(test_body_rules),
                                     cmocka_unit_test(test_sealed_and_protected)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
