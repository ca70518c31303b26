/*
 * Unit tests of consent: the ledger over a real store, master key and the
 * example policy in a temporary data directory (one per test): opt-in,
 * withdrawal purges, GPC conflicts and overrides, receipt signatures, history
 * order and preferences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../world.h"
#include <sodium.h>

#include "base/json.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */

struct fixture {
  struct mes_world w;
  int pers; /* personalization: gpc ignored */
  int ads;  /* ads_retargeting: gpc honored */
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "consent", NULL, T0_MS, "test-key");
  f->pers = mes_policy_purpose(f->w.policy, "personalization", strlen("personalization"));
  f->ads = mes_policy_purpose(f->w.policy, "ads_retargeting", strlen("ads_retargeting"));
  assert_true(f->pers >= 0);
  assert_true(f->ads >= 0);
  assert_int_equal(f->w.policy->purposes[f->ads].gpc, MES_GPC_HONORED);
  assert_int_equal(f->w.policy->purposes[f->pers].gpc, MES_GPC_IGNORED);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_world_close(&f->w);
  free(f);
  return 0;
}

/* ------------------------------------------------------------ helpers */

static json_t *body_of(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, 0, &je);
  assert_non_null(v);
  return v;
}

/* Records a decision; returns the rc and, on success, the receipt in *receipt. */
static int record(struct fixture *f, const char *subject, const char *purpose, const char *body_text,
                  json_t **receipt, struct mes_err *err) {
  json_t *body = body_of(body_text);
  json_t *r = NULL;
  mes_err_clear(err);
  int rc = mes_consent_record(mes_world_ledger(&f->w), &f->w.req, subject, strlen(subject), purpose, strlen(purpose),
                              body, &r, err);
  json_decref(body);
  if (receipt)
    *receipt = r;
  else
    json_decref(r);
  return rc;
}

static void record_ok(struct fixture *f, const char *subject, const char *purpose, const char *body_text) {
  struct mes_err err;
  int rc = record(f, subject, purpose, body_text, NULL, &err);
  if (rc)
    print_error("record %s: %s %s\n", purpose, mes_rc_code(err.rc), mes_err_text(&err));
  assert_int_equal(rc, MES_OK);
}

static struct mes_subject resolve(struct fixture *f, const char *subject) {
  struct mes_subject s;
  assert_int_equal(
      mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, subject, strlen(subject), false, &s),
      MES_OK);
  return s;
}

static json_t *consents(struct fixture *f, const char *subject) {
  struct mes_err err;
  json_t *doc = NULL;
  assert_int_equal(mes_consent_get(mes_world_ledger(&f->w), &f->w.req, subject, strlen(subject), &doc, &err), MES_OK);
  return doc;
}

static const char *status_of(json_t *doc, const char *purpose) {
  return mes_json_str(json_object_get(json_object_get(doc, "purposes"), purpose), "status", "(absent)");
}

static int64_t insert_event(struct fixture *f, int64_t sid, uint32_t purposes) {
  static const uint8_t sealed[] = "opaque";
  struct mes_event_row row = {.sid = sid, .type = 0, .ts_ms = T0_MS, .purposes = purposes, .sealed = sealed,
                              .sealed_len = sizeof sealed};
  assert_int_equal(mes_store_tx_begin(f->w.store), MES_OK);
  assert_int_equal(mes_store_event_insert(f->w.store, &row), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->w.store, NULL), MES_OK);
  return row.id;
}

struct event_ids {
  int64_t ids[16];
  size_t n;
};

static int collect_event(void *ud, const struct mes_event_row *row) {
  struct event_ids *e = ud;
  if (e->n < 16)
    e->ids[e->n++] = row->id;
  return 0;
}

static struct event_ids events_of(struct fixture *f, int64_t sid) {
  struct event_ids e = {.n = 0};
  assert_int_equal(mes_store_event_list(f->w.store, sid, collect_event, &e), MES_OK);
  return e;
}

/* Runs note_gpc for subject as ingestion does: in a transaction. */
static void note_gpc(struct fixture *f, const char *subject) {
  struct mes_subject s = resolve(f, subject);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_store_tx_begin(f->w.store), MES_OK);
  assert_int_equal(mes_consent_note_gpc(mes_world_ledger(&f->w), &f->w.req, subject, strlen(subject), &s, &err),
                   MES_OK);
  uint64_t ticket = 0;
  assert_int_equal(mes_store_tx_commit(f->w.store, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->w.store, ticket), MES_OK);
}

/* ------------------------------------------------------------ tests */

static void test_opt_in_default(void **state) {
  struct fixture *f = *state;
  json_t *doc = consents(f, "never-seen");
  json_t *purposes = json_object_get(doc, "purposes");
  assert_int_equal(json_object_size(purposes), f->w.policy->n_purposes);
  for (size_t p = 0; p < f->w.policy->n_purposes; p++) {
    json_t *e = json_object_get(purposes, f->w.policy->purposes[p].name);
    assert_non_null(e);
    assert_string_equal(mes_json_str(e, "status", ""), "denied");
    assert_true(json_is_null(json_object_get(e, "since")));
  }
  assert_int_equal(json_array_size(json_object_get(doc, "history")), 0);
  json_decref(doc);
  /* Asking does not create the subject. */
  struct mes_subject s;
  assert_int_equal(
      mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "never-seen", 10, false, &s),
      MES_ENOT_FOUND);

  /* A first consent creates it, with only that purpose granted. */
  record_ok(f, "u1", "personalization", "{\"status\": \"granted\", \"source\": \"banner\"}");
  s = resolve(f, "u1");
  assert_int_equal(s.row.granted, 1u << f->pers);
  doc = consents(f, "u1");
  assert_string_equal(status_of(doc, "personalization"), "granted");
  assert_string_equal(status_of(doc, "ads_retargeting"), "denied");
  json_decref(doc);
}

static void test_bad_requests(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *subject, *purpose, *body;
    int rc;
    const char *field;
  } rows[] = {
      {"u1", "no_such_purpose", "{\"status\": \"granted\"}", MES_EUNKNOWN_PURPOSE, ""},
      {"u1", "personalization", "{\"status\": \"maybe\"}", MES_EINVALID_VALUE, "/status"},
      {"u1", "personalization", "{}", MES_EMISSING_FIELD, "/status"},
      {"u1", "personalization", "{\"status\": \"granted\", \"colour\": 1}", MES_EUNKNOWN_FIELD, "/colour"},
      {"u1", "personalization", "{\"status\": true}", MES_EWRONG_TYPE, "/status"},
      {"u1", "personalization", "{\"status\": \"granted\", \"source\": \"a\\nb\"}", MES_EINVALID_ID, "/source"},
      {"u1", "personalization", "{\"status\": \"granted\", \"confirm_over_gpc\": 1}", MES_EWRONG_TYPE,
       "/confirm_over_gpc"},
      {"", "personalization", "{\"status\": \"granted\"}", MES_EINVALID_ID, ""},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    struct mes_err err;
    json_t *r = NULL;
    int rc = record(f, rows[i].subject, rows[i].purpose, rows[i].body, &r, &err);
    assert_int_equal(rc, rows[i].rc);
    assert_int_equal(err.rc, rows[i].rc);
    assert_string_equal(err.field, rows[i].field);
    assert_null(r);
  }
  /* Nothing was written. */
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u1", 2, false, &s),
                   MES_ENOT_FOUND);
}

static void test_withdrawal_purges_only_that_purpose(void **state) {
  struct fixture *f = *state;
  uint32_t pers = 1u << f->pers, ads = 1u << f->ads;
  record_ok(f, "u1", "personalization", "{\"status\": \"granted\"}");
  record_ok(f, "u1", "ads_retargeting", "{\"status\": \"granted\"}");
  record_ok(f, "u2", "ads_retargeting", "{\"status\": \"granted\"}");
  struct mes_subject s1 = resolve(f, "u1"), s2 = resolve(f, "u2");
  assert_int_equal(s1.row.granted, pers | ads);
  int64_t e_pers = insert_event(f, s1.row.id, pers);
  insert_event(f, s1.row.id, ads);
  int64_t e_both = insert_event(f, s1.row.id, pers | ads);
  int64_t e_other = insert_event(f, s2.row.id, ads);

  /* Re-granting is recorded but purges nothing. */
  record_ok(f, "u1", "ads_retargeting", "{\"status\": \"granted\"}");
  assert_int_equal(events_of(f, s1.row.id).n, 3);

  record_ok(f, "u1", "ads_retargeting", "{\"status\": \"denied\", \"source\": \"dashboard\"}");
  assert_int_equal(resolve(f, "u1").row.granted, pers);
  struct event_ids left = events_of(f, s1.row.id);
  assert_int_equal(left.n, 2);
  assert_int_equal(left.ids[0], e_pers);
  assert_int_equal(left.ids[1], e_both);
  /* Another subject's data is untouched. */
  struct event_ids other = events_of(f, s2.row.id);
  assert_int_equal(other.n, 1);
  assert_int_equal(other.ids[0], e_other);

  /* Denying what is already denied purges nothing more. */
  record_ok(f, "u1", "ads_retargeting", "{\"status\": \"denied\"}");
  assert_int_equal(events_of(f, s1.row.id).n, 2);

  record_ok(f, "u1", "personalization", "{\"status\": \"denied\"}");
  assert_int_equal(resolve(f, "u1").row.granted, 0);
  assert_int_equal(events_of(f, s1.row.id).n, 0);
}

static int count_imp(void *ud, const struct mes_impression_row *row) {
  (void)row;
  (*(int *)ud)++;
  return 0;
}

static int impressions_of(struct fixture *f, int64_t sid) {
  int n = 0;
  assert_int_equal(mes_store_impression_list(f->w.store, sid, 0, count_imp, &n), MES_OK);
  return n;
}

/* One answer's impressions (what the recommender seals is opaque here). */
static void shown(struct fixture *f, int64_t sid, int channel) {
  static const uint8_t sealed[] = "sealed items";
  assert_int_equal(mes_store_impression_add(
                       f->w.store, &(struct mes_impression_row){sid, T0_MS, channel, sealed, sizeof sealed - 1}),
                   MES_OK);
}

/* Impressions exist only to cap personal answers: withdrawing the last
 * purpose of personal answers takes them away, someone else's stay. */
static void test_withdrawal_purges_impressions(void **state) {
  struct fixture *f = *state;
  record_ok(f, "u1", "personalization", "{\"status\": \"granted\"}");
  record_ok(f, "u2", "personalization", "{\"status\": \"granted\"}");
  struct mes_subject s1 = resolve(f, "u1"), s2 = resolve(f, "u2");
  shown(f, s1.row.id, MES_CH_WEB);
  shown(f, s1.row.id, MES_CH_EMAIL);
  shown(f, s2.row.id, MES_CH_WEB);
  assert_int_equal(impressions_of(f, s1.row.id), 2);
  record_ok(f, "u1", "personalization", "{\"status\": \"denied\", \"source\": \"dashboard\"}");
  assert_int_equal(impressions_of(f, s1.row.id), 0);
  assert_int_equal(impressions_of(f, s2.row.id), 1);
}

static void test_gpc_conflict(void **state) {
  struct fixture *f = *state;
  f->w.req.gpc = true;
  struct mes_err err;
  json_t *r = NULL;
  assert_int_equal(record(f, "u1", "ads_retargeting", "{\"status\": \"granted\"}", &r, &err), MES_EGPC_CONFLICT);
  assert_null(r);
  assert_string_equal(mes_rc_code(err.rc), "gpc_conflict");
  assert_int_equal(mes_rc_status(err.rc), 409);
  assert_non_null(strstr(mes_err_text(&err), "Global Privacy Control"));
  assert_non_null(strstr(mes_err_text(&err), "ads_retargeting"));
  /* Explicitly false is no confirmation. */
  assert_int_equal(
      record(f, "u1", "ads_retargeting", "{\"status\": \"granted\", \"confirm_over_gpc\": false}", NULL, &err),
      MES_EGPC_CONFLICT);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u1", 2, false, &s),
                   MES_ENOT_FOUND);

  /* A denial, or a purpose that ignores GPC, is no conflict. */
  record_ok(f, "u1", "ads_retargeting", "{\"status\": \"denied\"}");
  record_ok(f, "u1", "personalization", "{\"status\": \"granted\"}");
  assert_int_equal(resolve(f, "u1").row.granted, 1u << f->pers);
}

static void test_confirm_over_gpc(void **state) {
  struct fixture *f = *state;
  uint32_t ads = 1u << f->ads;
  f->w.req.gpc = true;
  struct mes_err err;
  json_t *r = NULL;
  assert_int_equal(
      record(f, "u1", "ads_retargeting", "{\"status\": \"granted\", \"confirm_over_gpc\": true}", &r, &err), MES_OK);
  assert_true(json_is_true(json_object_get(r, "over_gpc")));
  assert_string_equal(mes_json_str(r, "status", ""), "granted");
  json_decref(r);
  struct mes_subject s = resolve(f, "u1");
  assert_int_equal(s.row.granted, ads);

  /* Later GPC requests do not use it, nor withdraw it in the ledger. */
  assert_int_equal(mes_consent_effective(&f->w.req, s.row.granted), 0);
  note_gpc(f, "u1");
  assert_int_equal(resolve(f, "u1").row.granted, ads);
  json_t *doc = consents(f, "u1");
  assert_int_equal(json_array_size(json_object_get(doc, "history")), 1);
  json_decref(doc);

  /* Without GPC the grant applies; without the signal nothing is "over" it. */
  f->w.req.gpc = false;
  assert_int_equal(mes_consent_effective(&f->w.req, s.row.granted), ads);
  assert_int_equal(
      record(f, "u2", "ads_retargeting", "{\"status\": \"granted\", \"confirm_over_gpc\": true}", &r, &err), MES_OK);
  assert_null(json_object_get(r, "over_gpc"));
  json_decref(r);
}

static void test_gpc_override_recorded_once(void **state) {
  struct fixture *f = *state;
  uint32_t pers = 1u << f->pers, ads = 1u << f->ads;
  record_ok(f, "u1", "personalization", "{\"status\": \"granted\"}");
  record_ok(f, "u1", "ads_retargeting", "{\"status\": \"granted\"}");
  struct mes_subject s = resolve(f, "u1");
  insert_event(f, s.row.id, ads);
  int64_t e_pers = insert_event(f, s.row.id, pers);

  /* Without the signal: nothing to do. */
  assert_false(mes_consent_gpc_overrides(&f->w.req, s.row.granted));
  assert_int_equal(mes_consent_effective(&f->w.req, s.row.granted), pers | ads);

  f->w.req.gpc = true;
  f->w.req.actor = "web-key";
  f->w.req.now_ms = T0_MS + 1000;
  assert_true(mes_consent_gpc_overrides(&f->w.req, s.row.granted));
  assert_int_equal(mes_consent_effective(&f->w.req, s.row.granted), pers);
  note_gpc(f, "u1");
  note_gpc(f, "u1"); /* a second GPC request finds nothing left to override */
  s = resolve(f, "u1");
  assert_int_equal(s.row.granted, pers);
  assert_false(mes_consent_gpc_overrides(&f->w.req, s.row.granted));
  struct event_ids left = events_of(f, s.row.id);
  assert_int_equal(left.n, 1);
  assert_int_equal(left.ids[0], e_pers);

  json_t *doc = consents(f, "u1");
  json_t *history = json_object_get(doc, "history");
  assert_int_equal(json_array_size(history), 3);
  json_t *last = json_array_get(history, 2);
  assert_string_equal(mes_json_str(last, "purpose", ""), "ads_retargeting");
  assert_string_equal(mes_json_str(last, "status", ""), "denied");
  assert_string_equal(mes_json_str(last, "source", ""), "gpc");
  assert_string_equal(mes_json_str(last, "recorded_by", ""), "web-key");
  assert_string_equal(mes_json_str(last, "subject", ""), "u1");
  assert_string_equal(status_of(doc, "ads_retargeting"), "denied");
  assert_string_equal(status_of(doc, "personalization"), "granted");
  json_decref(doc);
}

/* Verifies r's signature the way an outsider would: the public key, the
 * canonical JSON of r without "signature", libsodium directly. */
static int verify_receipt(struct fixture *f, const json_t *r) {
  uint8_t pk[MES_SIGN_PK_BYTES], sig[MES_SIG_BYTES];
  mes_sign_public_key(mes_world_master(&f->w), pk);
  const char *b64 = mes_json_str(r, "signature", "");
  size_t sig_len = 0;
  if (sodium_base642bin(sig, sizeof sig, b64, strlen(b64), NULL, &sig_len, NULL, sodium_base64_VARIANT_ORIGINAL) ||
      sig_len != sizeof sig)
    return -1;
  json_t *copy = json_deep_copy(r);
  json_object_del(copy, "signature");
  char *canon = mes_json_canonical(copy);
  json_decref(copy);
  int ok = crypto_sign_verify_detached(sig, (const unsigned char *)canon, strlen(canon), pk);
  free(canon);
  return ok;
}

static void test_receipt_signature(void **state) {
  struct fixture *f = *state;
  struct mes_err err;
  json_t *r = NULL;
  assert_int_equal(record(f, "zażółć-42", "personalization",
                          "{\"status\": \"granted\", \"source\": \"banner\", \"policy_version\": \"2026-11\"}", &r,
                          &err),
                   MES_OK);
  static const char *keys[] = {"receipt_id", "subject", "purpose", "status", "ts",
                               "policy_version", "source", "recorded_by", "signature"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    assert_true(json_is_string(json_object_get(r, keys[i])));
  assert_int_equal(json_object_size(r), sizeof keys / sizeof keys[0]);
  assert_int_equal(strncmp(mes_json_str(r, "receipt_id", ""), "rcp_", 4), 0);
  assert_string_equal(mes_json_str(r, "subject", ""), "zażółć-42");
  assert_string_equal(mes_json_str(r, "ts", ""), "2026-11-20T21:04:05.000Z");
  assert_string_equal(mes_json_str(r, "policy_version", ""), "2026-11");
  assert_string_equal(mes_json_str(r, "source", ""), "banner");
  assert_string_equal(mes_json_str(r, "recorded_by", ""), "test-key");
  assert_int_equal(verify_receipt(f, r), 0);

  /* The stored receipt is the same, signature included. */
  json_t *doc = consents(f, "zażółć-42");
  json_t *stored = json_array_get(json_object_get(doc, "history"), 0);
  assert_true(json_equal(stored, r));
  assert_int_equal(verify_receipt(f, stored), 0);
  json_decref(doc);

  /* Defaults: source "api", the policy's version. */
  json_t *d = NULL;
  assert_int_equal(record(f, "u2", "ads_retargeting", "{\"status\": \"denied\"}", &d, &err), MES_OK);
  assert_string_equal(mes_json_str(d, "source", ""), "api");
  assert_string_equal(mes_json_str(d, "policy_version", ""), f->w.policy->version);
  assert_int_equal(verify_receipt(f, d), 0);
  json_decref(d);

  /* Any change breaks it. */
  json_object_set_new(r, "status", json_string("denied"));
  assert_int_not_equal(verify_receipt(f, r), 0);
  json_decref(r);
}

static void test_history_order(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *purpose, *status;
    const char *ts;
  } steps[] = {
      {"personalization", "granted", "2026-11-20T21:04:05.000Z"},
      {"ads_retargeting", "granted", "2026-11-20T21:04:06.000Z"},
      {"personalization", "denied", "2026-11-20T21:04:07.000Z"},
      {"personalization", "granted", "2026-11-20T21:04:08.000Z"},
  };
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    char body[64];
    snprintf(body, sizeof body, "{\"status\": \"%s\"}", steps[i].status);
    f->w.req.now_ms = T0_MS + (int64_t)i * 1000;
    record_ok(f, "u1", steps[i].purpose, body);
  }
  json_t *doc = consents(f, "u1");
  json_t *history = json_object_get(doc, "history");
  assert_int_equal(json_array_size(history), sizeof steps / sizeof steps[0]);
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    json_t *r = json_array_get(history, i);
    assert_string_equal(mes_json_str(r, "purpose", ""), steps[i].purpose);
    assert_string_equal(mes_json_str(r, "status", ""), steps[i].status);
    assert_string_equal(mes_json_str(r, "ts", ""), steps[i].ts);
  }
  json_t *purposes = json_object_get(doc, "purposes");
  json_t *pers = json_object_get(purposes, "personalization"), *ads = json_object_get(purposes, "ads_retargeting");
  assert_string_equal(mes_json_str(pers, "status", ""), "granted");
  assert_string_equal(mes_json_str(pers, "since", ""), "2026-11-20T21:04:08.000Z");
  assert_string_equal(mes_json_str(ads, "status", ""), "granted");
  assert_string_equal(mes_json_str(ads, "since", ""), "2026-11-20T21:04:06.000Z");
  json_decref(doc);
}

static void test_preferences(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *body;
    int rc;
    const char *field;
  } bad[] = {
      {"{\"interests\": [\"camping\", \"\"]}", MES_EINVALID_ID, "/interests/1"},
      {"{\"exclude_categories\": [\"a\\u0007\"]}", MES_EINVALID_ID, "/exclude_categories/0"},
      {"{\"interests\": \"camping\"}", MES_EWRONG_TYPE, "/interests"},
      {"{\"likes\": []}", MES_EUNKNOWN_FIELD, "/likes"},
      {"{\"declared\": {\"pets\": [\"cat\"]}}", MES_EWRONG_TYPE, "/declared/pets"},
      {"{\"declared\": {\"pets\": null}}", MES_EWRONG_TYPE, "/declared/pets"},
      {"{\"declared\": []}", MES_EWRONG_TYPE, "/declared"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct mes_err err;
    mes_err_clear(&err);
    json_t *body = body_of(bad[i].body), *out = NULL;
    assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, body, &out, &err),
                     bad[i].rc);
    assert_string_equal(err.field, bad[i].field);
    assert_null(out);
    json_decref(body);
  }
  /* Too many declared keys. */
  json_t *many = json_object(), *decl = json_object();
  for (int i = 0; i <= MES_CONSENT_PREF_MAX_DECLARED; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    json_object_set_new(decl, k, json_true());
  }
  json_object_set_new(many, "declared", decl);
  struct mes_err err;
  json_t *out = NULL;
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, many, &out, &err),
                   MES_EOUT_OF_RANGE);
  assert_string_equal(err.field, "/declared");
  json_decref(many);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u1", 2, false, &s),
                   MES_ENOT_FOUND);

  /* A good one is stored (deduplicated) and reads back the same. */
  json_t *body = body_of("{\"interests\": [\"camping\", \"camping\", \"baby\"], \"exclude_categories\": "
                         "[\"wedding-dress\"], \"declared\": {\"expecting_baby\": true, \"size\": \"M\", "
                         "\"children\": 2}}");
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, body, &out, &err), MES_OK);
  json_decref(body);
  json_t *want = body_of("{\"interests\": [\"camping\", \"baby\"], \"exclude_categories\": [\"wedding-dress\"], "
                         "\"declared\": {\"expecting_baby\": true, \"size\": \"M\", \"children\": 2}}");
  assert_true(json_equal(out, want));
  json_decref(out);
  s = resolve(f, "u1");
  assert_int_equal(s.row.granted, 0); /* preferences grant nothing */
  assert_int_equal(mes_consent_get_preferences(mes_world_ledger(&f->w), s.row.id, &out, &err), MES_OK);
  assert_true(json_equal(out, want));
  json_decref(out);
  json_decref(want);

  /* A PUT replaces the whole document. */
  body = body_of("{\"exclude_categories\": [\"health\"]}");
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, body, &out, &err), MES_OK);
  json_decref(body);
  json_decref(out);
  assert_int_equal(mes_consent_get_preferences(mes_world_ledger(&f->w), s.row.id, &out, &err), MES_OK);
  assert_int_equal(json_array_size(json_object_get(out, "interests")), 0);
  assert_int_equal(json_object_size(json_object_get(out, "declared")), 0);
  assert_string_equal(json_string_value(json_array_get(json_object_get(out, "exclude_categories"), 0)), "health");
  json_decref(out);

  /* Unknown subject: the empty document. */
  assert_int_equal(mes_consent_get_preferences(mes_world_ledger(&f->w), 0, &out, &err), MES_OK);
  assert_int_equal(json_array_size(json_object_get(out, "interests")), 0);
  assert_int_equal(json_array_size(json_object_get(out, "exclude_categories")), 0);
  assert_int_equal(json_object_size(json_object_get(out, "declared")), 0);
  assert_int_equal(json_object_size(out), 3);
  json_decref(out);
}

/* The contract's own example (§5) with the example policy: "lingerie" is not
 * declared in mesura.yaml, so it is an ordinary category, taken as it is. */
static void test_preferences_undeclared_categories(void **state) {
  struct fixture *f = *state;
  assert_int_equal(mes_policy_category(f->w.policy, "lingerie", 8), -1);
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = body_of("{\"interests\": [\"camping\", \"knitting\"], \"exclude_categories\": [\"lingerie\"], "
                         "\"declared\": {\"expecting_baby\": true}}"),
         *out = NULL;
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, body, &out, &err), MES_OK);
  assert_true(json_equal(out, body));
  json_decref(out);
  json_decref(body);
}

static json_t *patch(struct fixture *f, const char *add, const char *remove, int want_rc, const char *want_field) {
  json_t *a = add ? body_of(add) : NULL, *r = remove ? body_of(remove) : NULL, *out = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_consent_patch_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, a, r, &out, &err);
  if (rc != want_rc || strcmp(err.field, want_field) != 0)
    fail_msg("patch add=%s remove=%s: got %s at '%s', want %s at '%s'", add ? add : "-", remove ? remove : "-",
             mes_rc_code(rc), err.field, mes_rc_code(want_rc), want_field);
  json_decref(a);
  json_decref(r);
  if (rc)
    assert_null(out);
  return out;
}

static void assert_prefs(struct fixture *f, const char *want_text) {
  struct mes_subject s = resolve(f, "u1");
  struct mes_err err;
  json_t *got = NULL, *want = body_of(want_text);
  assert_int_equal(mes_consent_get_preferences(mes_world_ledger(&f->w), s.row.id, &got, &err), MES_OK);
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_SORT_KEYS);
    fail_msg("preferences: got %s, want %s", g, want_text);
  }
  json_decref(got);
  json_decref(want);
}

/* PATCH changes what it names and nothing else: the way a person's own
 * token excludes one category or drops one interest without wiping the rest. */
static void test_preferences_patch(void **state) {
  struct fixture *f = *state;
  /* On a subject never seen: made, from the empty document. */
  json_t *out = patch(f, "{\"exclude_categories\": [\"lingerie\"]}", NULL, MES_OK, "");
  json_decref(out);
  assert_prefs(f, "{\"interests\": [], \"exclude_categories\": [\"lingerie\"], \"declared\": {}}");

  json_t *body = body_of("{\"interests\": [\"camping\", \"baby\"], \"exclude_categories\": [\"health\"], "
                         "\"declared\": {\"expecting_baby\": true, \"size\": \"M\"}}");
  struct mes_err err;
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, body, &out, &err), MES_OK);
  json_decref(out);
  json_decref(body);

  /* Adding keeps the order and skips what is there already. */
  out = patch(f, "{\"exclude_categories\": [\"lingerie\", \"health\"], \"interests\": [\"garden\"]}", NULL, MES_OK,
              "");
  json_t *want = body_of("{\"interests\": [\"camping\", \"baby\", \"garden\"], \"exclude_categories\": "
                         "[\"health\", \"lingerie\"], \"declared\": {\"expecting_baby\": true, \"size\": \"M\"}}");
  assert_true(json_equal(out, want)); /* the reply is the stored document */
  json_decref(want);
  json_decref(out);

  /* Removing what is absent changes nothing; removal runs before addition. */
  out = patch(f, "{\"declared\": {\"size\": \"L\"}, \"interests\": [\"baby\"]}",
              "{\"interests\": [\"baby\", \"knitting\"], \"declared\": [\"expecting_baby\", \"pets\"]}", MES_OK, "");
  json_decref(out);
  assert_prefs(f, "{\"interests\": [\"camping\", \"garden\", \"baby\"], \"exclude_categories\": [\"health\", "
                  "\"lingerie\"], \"declared\": {\"size\": \"L\"}}");
  out = patch(f, NULL, NULL, MES_OK, ""); /* an empty patch */
  json_decref(out);
  assert_prefs(f, "{\"interests\": [\"camping\", \"garden\", \"baby\"], \"exclude_categories\": [\"health\", "
                  "\"lingerie\"], \"declared\": {\"size\": \"L\"}}");

  /* Bad patches are refused, each at its pointer, and change nothing. */
  static const struct {
    const char *add, *remove;
    int rc;
    const char *field;
  } bad[] = {
      {"{\"likes\": []}", NULL, MES_EUNKNOWN_FIELD, "/add/likes"},
      {NULL, "{\"likes\": []}", MES_EUNKNOWN_FIELD, "/remove/likes"},
      {"{\"interests\": \"camping\"}", NULL, MES_EWRONG_TYPE, "/add/interests"},
      {"{\"interests\": [\"\"]}", NULL, MES_EINVALID_ID, "/add/interests/0"},
      {"{\"declared\": {\"pets\": [\"cat\"]}}", NULL, MES_EWRONG_TYPE, "/add/declared/pets"},
      {"{\"declared\": [\"size\"]}", NULL, MES_EWRONG_TYPE, "/add/declared"},
      {NULL, "{\"declared\": {\"size\": true}}", MES_EWRONG_TYPE, "/remove/declared"},
      {NULL, "{\"exclude_categories\": [1]}", MES_EWRONG_TYPE, "/remove/exclude_categories/0"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_null(patch(f, bad[i].add, bad[i].remove, bad[i].rc, bad[i].field));
  assert_int_equal(mes_consent_check_pref_patch(NULL, NULL, &err), MES_OK);

  /* The limits hold on the result: 31 more declared facts are one too many. */
  json_t *decl = json_object(), *add = json_object();
  for (int i = 0; i < MES_CONSENT_PREF_MAX_DECLARED; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%d", i);
    json_object_set_new(decl, k, json_true());
  }
  json_object_set_new(add, "declared", decl);
  mes_err_clear(&err);
  assert_int_equal(mes_consent_patch_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, add, NULL, &out, &err),
                   MES_EOUT_OF_RANGE);
  assert_string_equal(err.field, "/add/declared");
  json_decref(add);
  json_t *ids = json_array();
  for (int i = 0; i < MES_CONSENT_PREF_MAX_IDS; i++) {
    char k[16];
    snprintf(k, sizeof k, "c%d", i);
    json_array_append_new(ids, json_string(k));
  }
  add = json_pack("{s:o}", "exclude_categories", ids);
  assert_int_equal(mes_consent_patch_preferences(mes_world_ledger(&f->w), &f->w.req, "u1", 2, add, NULL, &out, &err),
                   MES_EOUT_OF_RANGE);
  assert_string_equal(err.field, "/add/exclude_categories");
  json_decref(add);
  assert_prefs(f, "{\"interests\": [\"camping\", \"garden\", \"baby\"], \"exclude_categories\": [\"health\", "
                  "\"lingerie\"], \"declared\": {\"size\": \"L\"}}");
  assert_int_equal(mes_consent_patch_preferences(mes_world_ledger(&f->w), &f->w.req, "", 0, NULL, NULL, &out, &err),
                   MES_EINVALID_ID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_opt_in_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_withdrawal_purges_only_that_purpose, setup, teardown),
      cmocka_unit_test_setup_teardown(test_withdrawal_purges_impressions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gpc_conflict, setup, teardown),
      cmocka_unit_test_setup_teardown(test_confirm_over_gpc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gpc_override_recorded_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receipt_signature, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_preferences, setup, teardown),
      cmocka_unit_test_setup_teardown(test_preferences_undeclared_categories, setup, teardown),
      cmocka_unit_test_setup_teardown(test_preferences_patch, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
