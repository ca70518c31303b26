/*
 * Unit tests of ingest over a real store, master key and the example policy
 * in a temporary data directory (one per test): the shape checks (a table of
 * bad events, each with its code and pointer), the consent gate, data
 * minimisation, third-party and expired events, idempotent retries, partial
 * batches, GPC, reading back, forgetting one event and the retention sweep.
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
#include "ingest_helpers.h"

#include "base/json.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "ingest/ingest.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */
#define DAY_MS 86400000LL

struct fixture {
  struct mes_world w;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "ingest", NULL, T0_MS, "test-key");
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


static void consent(struct fixture *f, const char *subject, const char *purpose, const char *status) {
  consent_on(mes_world_ledger(&f->w), &f->w.req, subject, purpose, status);
}

static int64_t sid_of(struct fixture *f, const char *subject) {
  return sid_on(mes_world_subjects(&f->w), &f->w.req, subject);
}

/* Ingests body_text; on success returns the reply (caller decrefs). */
static json_t *ingest(struct fixture *f, const char *body_text) {
  json_t *body = parse(body_text), *reply = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err);
  json_decref(body);
  if (rc)
    fail_msg("ingest failed: %s %s (%s)", mes_rc_code(rc), err.field, mes_err_text(&err));
  assert_non_null(reply);
  return reply;
}

static json_int_t num(const json_t *reply, const char *path) {
  const json_t *v = reply;
  char key[32];
  while (*path) {
    size_t n = strcspn(path, ".");
    snprintf(key, sizeof key, "%.*s", (int)n, path);
    v = json_object_get(v, key);
    path += n + (path[n] == '.');
  }
  if (!json_is_integer(v))
    fail_msg("reply has no integer at %s", key);
  return json_integer_value(v);
}

/* Checks the reply's counts: accepted, stored, no_consent, third_party,
 * restricted, expired, dropped_properties, errors. */
static void counts(const json_t *r, json_int_t acc, json_int_t st, json_int_t nc, json_int_t tp, json_int_t rs,
                   json_int_t ex, json_int_t dp, size_t n_err) {
  assert_int_equal(num(r, "accepted"), acc);
  assert_int_equal(num(r, "stored"), st);
  assert_int_equal(num(r, "not_stored.no_consent"), nc);
  assert_int_equal(num(r, "not_stored.third_party"), tp);
  assert_int_equal(num(r, "not_stored.restricted"), rs);
  assert_int_equal(num(r, "not_stored.expired"), ex);
  assert_int_equal(num(r, "dropped_properties"), dp);
  assert_int_equal(json_array_size(json_object_get(r, "errors")), n_err);
  assert_int_equal(json_object_size(r), 5); /* exactly the contract's members */
  assert_int_equal(json_object_size(json_object_get(r, "not_stored")), 4);
}

struct collected {
  json_t *events; /* the events as the API shows them */
  const struct mes_policy *policy;
};

static int collect(void *ud, const struct mes_evrec *ev) {
  struct collected *c = ud;
  json_t *shown = NULL;
  assert_int_equal(mes_evrec_json(ev, c->policy, &shown), MES_OK);
  json_array_append_new(c->events, shown);
  return 0;
}

static json_t *list_of(struct fixture *f, const char *subject) {
  struct collected c = {json_array(), f->w.req.policy};
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_list(mes_world_ingester(&f->w), &f->w.req, sid_of(f, subject), collect, &c, &err),
                   MES_OK);
  return c.events;
}

/* ------------------------------------------------------------ shapes */

static void test_bad_events(void **state) {
  struct fixture *f = *state;
  char long_id[200], body[512], future[64];
  memset(long_id, 'a', 129);
  long_id[129] = '\0';
  snprintf(future, sizeof future, "%lld", (long long)(T0_MS + 10 * 60 * 1000));
  static const struct {
    const char *body; /* %s: the 129-byte id or the future timestamp */
    int arg;          /* 0 none, 1 long id, 2 future ms */
    const char *code;
    const char *field;
  } rows[] = {
      {"{\"subject\": \"u1\", \"item\": \"i\"}", 0, "missing_field", "/type"},
      {"{\"type\": \"view\", \"item\": \"i\"}", 0, "missing_field", "/subject"},
      {"{\"subject\": \"u1\", \"anonymous_id\": \"a\", \"type\": \"view\", \"item\": \"i\"}", 0, "invalid_value",
       "/anonymous_id"},
      {"{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"i\"}", 1, "invalid_id", "/subject"},
      {"{\"subject\": \"u\\u0001\", \"type\": \"view\", \"item\": \"i\"}", 0, "invalid_id", "/subject"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"category\": \"x\"}", 0, "unknown_field",
       "/category"},
      {"{\"subject\": \"u1\", \"type\": \"teleport\", \"item\": \"i\"}", 0, "unknown_event_type", "/type"},
      {"{\"subject\": \"u1\", \"type\": \"view\"}", 0, "missing_field", "/item"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"query\": \"q\"}", 0, "unknown_field", "/query"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"channel\": \"fax\"}", 0, "invalid_value",
       "/channel"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"source\": \"bought\"}", 0, "invalid_value",
       "/source"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"ts\": \"yesterday\"}", 0, "invalid_timestamp",
       "/ts"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"ts\": -5}", 0, "invalid_timestamp", "/ts"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"ts\": true}", 0, "wrong_type", "/ts"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"ts\": %s}", 2, "ts_in_future", "/ts"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"context\": {\"os\": \"x\"}}", 0, "unknown_field",
       "/context/os"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"context\": {\"authenticated\": \"yes\"}}", 0,
       "wrong_type", "/context/authenticated"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"context\": []}", 0, "wrong_type", "/context"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"properties\": [1]}", 0, "wrong_type",
       "/properties"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i\", \"event_id\": \"\"}", 0, "invalid_id",
       "/event_id"},
      {"{\"subject\": \"u1\", \"type\": \"view\", \"item\": 42}", 0, "wrong_type", "/item"},
      {"{\"subject\": 42, \"type\": \"view\", \"item\": \"i\"}", 0, "wrong_type", "/subject"},
      {"{\"events\": \"all\"}", 0, "wrong_type", "/events"},
      {"{\"events\": []}", 0, "out_of_range", "/events"},
      {"{\"events\": [], \"subject\": \"u1\"}", 0, "unknown_field", "/subject"},
  };
  consent(f, "u1", "personalization", "granted");
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    snprintf(body, sizeof body, rows[i].body, rows[i].arg == 1 ? long_id : future);
    json_t *b = parse(body), *reply = NULL;
    struct mes_err err;
    mes_err_clear(&err);
    int rc = mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, b, &reply, &err);
    json_decref(b);
    if (rc == MES_OK)
      fail_msg("row %zu was accepted: %s", i, body);
    assert_null(reply);
    assert_string_equal(mes_rc_code(rc), rows[i].code);
    assert_int_equal(err.rc, rc);
    assert_string_equal(err.field, rows[i].field);
  }
  assert_int_equal(mes_store_event_count(f->w.store), 0);
}

static void test_batch_too_large(void **state) {
  struct fixture *f = *state;
  json_t *events = json_array();
  for (int i = 0; i < MES_INGEST_BATCH_MAX + 1; i++)
    json_array_append_new(events, json_pack("{s:s,s:s,s:s}", "subject", "u1", "type", "view", "item", "i"));
  json_t *body = json_pack("{s:o}", "events", events), *reply = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err);
  json_decref(body);
  assert_int_equal(rc, MES_EBATCH_TOO_LARGE);
  assert_int_equal(mes_rc_status(rc), 413);
  assert_null(reply);
}

static void test_oversize_event(void **state) {
  struct fixture *f = *state;
  consent(f, "u1", "personalization", "granted");
  char *big = malloc(70000);
  assert_non_null(big);
  memset(big, 'x', 69999);
  big[69999] = '\0';
  /* Declared, so kept: too big. Undeclared, so dropped: fine. */
  json_t *body = json_pack("{s:s,s:s,s:s,s:{s:s}}", "subject", "u1", "type", "purchase", "item", "a", "properties",
                           "currency", big),
         *reply = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err), MES_EOUT_OF_RANGE);
  assert_string_equal(err.field, "/properties");
  json_decref(body);
  body = json_pack("{s:s,s:s,s:s,s:{s:s}}", "subject", "u1", "type", "purchase", "item", "a", "properties", "note",
                   big);
  assert_int_equal(mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err), MES_OK);
  counts(reply, 1, 1, 0, 0, 0, 0, 1, 0);
  json_decref(reply);
  json_decref(body);
  free(big);
}

static void test_batch_partial(void **state) {
  struct fixture *f = *state;
  consent(f, "u1", "personalization", "granted");
  json_t *r = ingest(f, "{\"events\": ["
                        "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"a\"},"
                        "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"b\", \"ts\": \"nope\"},"
                        "{\"subject\": \"u1\", \"type\": \"fly\", \"item\": \"c\"},"
                        "[1],"
                        "{\"subject\": \"u1\", \"type\": \"purchase\", \"item\": \"d\", \"ts\": 1795208600000}]}");
  counts(r, 2, 2, 0, 0, 0, 0, 0, 3);
  static const struct {
    int index;
    const char *code, *field;
  } want[] = {{1, "invalid_timestamp", "/events/1/ts"},
              {2, "unknown_event_type", "/events/2/type"},
              {3, "wrong_type", "/events/3"}};
  for (size_t i = 0; i < 3; i++) {
    json_t *e = json_array_get(json_object_get(r, "errors"), i);
    assert_int_equal(json_integer_value(json_object_get(e, "index")), want[i].index);
    json_t *ej = json_object_get(e, "error");
    assert_string_equal(json_string_value(json_object_get(ej, "code")), want[i].code);
    assert_string_equal(json_string_value(json_object_get(ej, "field")), want[i].field);
    assert_non_null(json_string_value(json_object_get(ej, "message")));
  }
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 2);
}

/* ------------------------------------------------------------ gates */

static void test_gate_unknown_subject(void **state) {
  struct fixture *f = *state;
  json_t *r = ingest(f, "{\"subject\": \"stranger\", \"type\": \"view\", \"item\": \"a\", "
                        "\"properties\": {\"duration_s\": 3}}");
  counts(r, 1, 0, 1, 0, 0, 0, 0, 0);
  json_decref(r);
  r = ingest(f, "{\"anonymous_id\": \"cookie-1\", \"type\": \"view\", \"item\": \"a\"}");
  counts(r, 1, 0, 1, 0, 0, 0, 0, 0);
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
  assert_int_equal(mes_store_subject_count(f->w.store), 0); /* the subject was not created */
}

static void test_gate_denied_purposes(void **state) {
  struct fixture *f = *state;
  consent(f, "u2", "personalization", "denied");
  json_t *r = ingest(f, "{\"subject\": \"u2\", \"type\": \"view\", \"item\": \"a\"}");
  counts(r, 1, 0, 1, 0, 0, 0, 0, 0);
  json_decref(r);
  /* ads_retargeting alone serves view but not purchase */
  consent(f, "u2", "ads_retargeting", "granted");
  r = ingest(f, "{\"events\": [{\"subject\": \"u2\", \"type\": \"view\", \"item\": \"a\"},"
                "{\"subject\": \"u2\", \"type\": \"purchase\", \"item\": \"a\"}]}");
  counts(r, 2, 1, 1, 0, 0, 0, 0, 0);
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 1);
}

static void test_gpc(void **state) {
  struct fixture *f = *state;
  consent(f, "u3", "ads_retargeting", "granted");
  f->w.req.gpc = true;
  /* view serves ads_retargeting only through the grant that GPC overrides */
  json_t *r = ingest(f, "{\"events\": [{\"subject\": \"u3\", \"type\": \"view\", \"item\": \"a\"},"
                        "{\"subject\": \"u3\", \"type\": \"add_to_cart\", \"item\": \"a\"}]}");
  counts(r, 2, 0, 2, 0, 0, 0, 0, 0);
  json_decref(r);
  f->w.req.gpc = false;
  json_t *got = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_consent_get(mes_world_ledger(&f->w), &f->w.req, "u3", 2, &got, &err), MES_OK);
  json_t *ads = json_object_get(json_object_get(got, "purposes"), "ads_retargeting");
  assert_string_equal(json_string_value(json_object_get(ads, "status")), "denied"); /* recorded once */
  assert_int_equal(json_array_size(json_object_get(got, "history")), 2);
  json_decref(got);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
}

static void test_restricted(void **state) {
  struct fixture *f = *state;
  consent(f, "u4", "personalization", "granted");
  assert_int_equal(mes_store_subject_set_restricted(f->w.store, sid_of(f, "u4"), true), MES_OK);
  json_t *r = ingest(f, "{\"subject\": \"u4\", \"type\": \"view\", \"item\": \"a\"}");
  counts(r, 1, 0, 0, 0, 1, 0, 0, 0);
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
}

static void test_third_party_and_expired(void **state) {
  struct fixture *f = *state;
  consent(f, "u5", "personalization", "granted");
  char body[512];
  snprintf(body, sizeof body,
           "{\"events\": [{\"subject\": \"u5\", \"type\": \"view\", \"item\": \"a\", \"source\": \"third_party\"},"
           "{\"subject\": \"u5\", \"type\": \"view\", \"item\": \"a\", \"ts\": %lld},"
           "{\"subject\": \"u5\", \"type\": \"purchase\", \"item\": \"a\", \"ts\": %lld},"
           "{\"subject\": \"u5\", \"type\": \"view\", \"item\": \"a\", \"source\": \"zero_party\"}]}",
           (long long)(T0_MS - 181 * DAY_MS), (long long)(T0_MS - 181 * DAY_MS));
  json_t *r = ingest(f, body);
  counts(r, 4, 2, 0, 1, 0, 1, 0, 0); /* purchase keeps 730 days */
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 2);
}

/* ------------------------------------------------------------ minimisation, idempotency */

static void test_minimisation(void **state) {
  struct fixture *f = *state;
  consent(f, "u6", "personalization", "granted");
  json_t *r = ingest(f, "{\"subject\": \"u6\", \"type\": \"view\", \"item\": \"tent\", "
                        "\"properties\": {\"duration_s\": 35, \"email\": \"a@b.c\", \"ip\": \"10.0.0.1\"}, "
                        "\"context\": {\"request_id\": \"r_1\", \"authenticated\": true}}");
  counts(r, 1, 1, 0, 0, 0, 0, 2, 0);
  json_decref(r);
  json_t *events = list_of(f, "u6");
  assert_int_equal(json_array_size(events), 1);
  json_t *e = json_array_get(events, 0);
  json_t *props = json_object_get(e, "properties");
  assert_int_equal(json_object_size(props), 1);
  assert_int_equal(json_integer_value(json_object_get(props, "duration_s")), 35);
  assert_string_equal(json_string_value(json_object_get(e, "type")), "view");
  assert_string_equal(json_string_value(json_object_get(e, "item")), "tent");
  assert_string_equal(json_string_value(json_object_get(e, "channel")), "web");
  assert_string_equal(json_string_value(json_object_get(e, "source")), "first_party");
  assert_string_equal(json_string_value(json_object_get(e, "ts")), "2026-11-20T21:04:05.000Z");
  assert_string_equal(json_string_value(json_object_get(json_object_get(e, "context"), "request_id")), "r_1");
  assert_true(json_is_true(json_object_get(json_object_get(e, "context"), "authenticated")));
  assert_int_equal(strncmp(json_string_value(json_object_get(e, "event_id")), "ev_", 3), 0);
  json_decref(events);
}

static void test_search_query_sealed(void **state) {
  struct fixture *f = *state;
  consent(f, "u7", "personalization", "granted");
  json_t *r = ingest(f, "{\"subject\": \"u7\", \"type\": \"search\", \"query\": \"pregnancy \\\"test\\\"\\n\", "
                        "\"channel\": \"app\"}");
  counts(r, 1, 1, 0, 0, 0, 0, 0, 0);
  json_decref(r);
  json_t *events = list_of(f, "u7");
  json_t *e = json_array_get(events, 0);
  assert_string_equal(json_string_value(json_object_get(e, "query")), "pregnancy \"test\"\n");
  assert_string_equal(json_string_value(json_object_get(e, "channel")), "app");
  assert_null(json_object_get(e, "item"));
  json_decref(events);
}

static void test_idempotent_retry(void **state) {
  struct fixture *f = *state;
  consent(f, "u8", "personalization", "granted");
  consent(f, "u9", "personalization", "granted");
  const char *one = "{\"subject\": \"u8\", \"type\": \"purchase\", \"item\": \"a\", \"event_id\": \"e-1\"}";
  for (int i = 0; i < 3; i++) {
    json_t *r = ingest(f, one);
    counts(r, 1, 1, 0, 0, 0, 0, 0, 0);
    json_decref(r);
  }
  /* the same event_id twice in one batch, and for another subject */
  json_t *r = ingest(f, "{\"events\": ["
                        "{\"subject\": \"u8\", \"type\": \"view\", \"item\": \"b\", \"event_id\": \"e-2\"},"
                        "{\"subject\": \"u8\", \"type\": \"view\", \"item\": \"b\", \"event_id\": \"e-2\"},"
                        "{\"subject\": \"u9\", \"type\": \"purchase\", \"item\": \"a\", \"event_id\": \"e-1\"}]}");
  counts(r, 3, 3, 0, 0, 0, 0, 0, 0);
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 3);
  json_t *events = list_of(f, "u8");
  assert_int_equal(json_array_size(events), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "event_id")), "e-1");
  json_decref(events);
}

/* A batch large enough for the read session and for grouped inserts (more
 * than 32 rows): subjects interleaved, one without consent, a retry inside
 * the batch; each subject's events come back in the request's order. */
static void test_large_batch(void **state) {
  struct fixture *f = *state;
  consent(f, "u20", "personalization", "granted");
  consent(f, "u21", "personalization", "granted");
  static const char *const who[] = {"u20", "u21", "u22"}; /* u22 never consented */
  enum { N = 100 };
  char *body = malloc(N * 128 + 32);
  assert_non_null(body);
  size_t o = (size_t)snprintf(body, 32, "{\"events\": [");
  for (int i = 0; i < N; i++) {
    char eid[48] = "";
    if (i == 51 || i == 54) /* both u20's: the second is a retry */
      snprintf(eid, sizeof eid, ", \"event_id\": \"again\"");
    o += (size_t)snprintf(body + o, 128, "%s{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"item-%d\"%s}",
                          i ? "," : "", who[i % 3], i, eid);
  }
  snprintf(body + o, 32, "]}");
  json_t *r = ingest(f, body);
  free(body);
  counts(r, N, 67, 33, 0, 0, 0, 0, 0); /* u20 34 (one retry), u21 33, u22 33 */
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 66);
  for (int s = 0; s < 2; s++) {
    json_t *events = list_of(f, who[s]);
    assert_int_equal(json_array_size(events), 33);
    size_t k = 0;
    for (int i = s; i < N; i += 3) {
      if (i == 54)
        continue;
      char item[16];
      snprintf(item, sizeof item, "item-%d", i);
      assert_string_equal(json_string_value(json_object_get(json_array_get(events, k), "item")), item);
      k++;
    }
    assert_int_equal(k, json_array_size(events));
    json_decref(events);
  }
}

/* Numbers ingest formats by hand: an error's pointer at indexes 0 and past
 * 9, and integer properties of every size sealed as sent. */
static void test_numbers(void **state) {
  struct fixture *f = *state;
  consent(f, "u40", "personalization", "granted");
  static const char *const ints[] = {"0", "7", "-7", "1234567890", "9223372036854775807", "-9223372036854775808"};
  enum { N = 12 };
  char body[2048];
  size_t o = (size_t)snprintf(body, sizeof body, "{\"events\": [");
  for (int i = 0; i < N; i++) {
    if (i == 0 || i == 10)
      o += (size_t)snprintf(body + o, sizeof body - o, "%s{\"subject\": \"u40\", \"type\": \"view\"}", i ? "," : "");
    else
      o += (size_t)snprintf(body + o, sizeof body - o,
                            ",{\"subject\": \"u40\", \"type\": \"view\", \"item\": \"i%d\", "
                            "\"properties\": {\"duration_s\": %s}}",
                            i, ints[i % 6]);
    assert_true(o < sizeof body);
  }
  snprintf(body + o, sizeof body - o, "]}");
  json_t *r = ingest(f, body);
  counts(r, N - 2, N - 2, 0, 0, 0, 0, 0, 2);
  static const char *const want[] = {"/events/0/item", "/events/10/item"};
  for (size_t i = 0; i < 2; i++) {
    json_t *ej = json_object_get(json_array_get(json_object_get(r, "errors"), i), "error");
    assert_string_equal(json_string_value(json_object_get(ej, "field")), want[i]);
  }
  json_decref(r);
  json_t *events = list_of(f, "u40");
  assert_int_equal(json_array_size(events), N - 2);
  size_t k = 0;
  for (int i = 1; i < N; i++) {
    if (i == 10)
      continue;
    json_t *e = json_array_get(events, k++);
    json_t *d = json_object_get(json_object_get(e, "properties"), "duration_s");
    char got[32];
    snprintf(got, sizeof got, "%" JSON_INTEGER_FORMAT, json_integer_value(d));
    assert_true(json_is_integer(d));
    assert_string_equal(got, ints[i % 6]);
  }
  json_decref(events);
}

/* A batch fetches each subject's key once, at its first event to seal: a
 * subject whose key is already shredded (an erasure under way: the row is
 * still there) gets none of its events stored, however many, while the
 * subjects around it keep theirs, each sealed under its own key. */
static void test_batch_shredded_key(void **state) {
  struct fixture *f = *state;
  consent(f, "u30", "personalization", "granted");
  consent(f, "u31", "personalization", "granted");
  assert_int_equal(mes_subject_shred(mes_world_subjects(&f->w), sid_of(f, "u31")), MES_OK);
  json_t *r = ingest(f, "{\"events\": ["
                        "{\"subject\": \"u31\", \"type\": \"view\", \"item\": \"a\"},"
                        "{\"subject\": \"u30\", \"type\": \"view\", \"item\": \"b\"},"
                        "{\"subject\": \"u31\", \"type\": \"view\", \"item\": \"c\"},"
                        "{\"subject\": \"u30\", \"type\": \"view\", \"item\": \"d\"},"
                        "{\"subject\": \"u31\", \"type\": \"view\", \"item\": \"e\"}]}");
  counts(r, 5, 2, 3, 0, 0, 0, 0, 0);
  json_decref(r);
  assert_int_equal(mes_store_event_count(f->w.store), 2);
  json_t *events = list_of(f, "u30");
  assert_int_equal(json_array_size(events), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "item")), "b");
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 1), "item")), "d");
  json_decref(events);
}

/* ------------------------------------------------------------ the light read */

struct light {
  json_t *events; /* [{id, type, ts_ms, purposes, source, channel, item}] */
  int64_t sid;
  bool bad_sid;
};

static int collect_light(void *ud, const struct mes_evrec *ev) {
  struct light *l = ud;
  l->bad_sid |= ev->sid != l->sid;
  assert_true(!ev->item || strlen(ev->item) == ev->item_len);
  json_array_append_new(l->events, json_pack("{s:I, s:i, s:I, s:I, s:i, s:i, s:s?}", "id", (json_int_t)ev->id,
                                             "type", ev->type, "ts", (json_int_t)ev->ts_ms, "purposes",
                                             (json_int_t)ev->purposes, "source", (int)ev->source, "channel",
                                             ev->channel, "item", ev->item));
  return 0;
}

static int collect_full(void *ud, const struct mes_evrec *ev) {
  struct light *l = ud;
  json_array_append_new(l->events, json_pack("{s:I, s:i, s:I, s:I, s:i, s:i, s:s?}", "id", (json_int_t)ev->id,
                                             "type", ev->type, "ts", (json_int_t)ev->ts_ms, "purposes",
                                             (json_int_t)ev->purposes, "source", (int)ev->source, "channel",
                                             ev->channel, "item", ev->item));
  return 0;
}

/* mes_ingest_history hands out what mes_ingest_list does (minus the JSON),
 * for item ids that need unescaping, events without an item, channels, and
 * says MES_ENOT_FOUND once the key is shredded. */
static void test_history_matches_list(void **state) {
  struct fixture *f = *state;
  consent(f, "u12", "personalization", "granted");
  json_t *r = ingest(f, "{\"events\": ["
                        "{\"subject\": \"u12\", \"type\": \"view\", \"item\": \"tent \\\"2p\\\" \\\\ \\u00e9t\\u00e9\", "
                        "\"channel\": \"app\", \"properties\": {\"duration_s\": 3}},"
                        "{\"subject\": \"u12\", \"type\": \"search\", \"query\": \"tents\"},"
                        "{\"subject\": \"u12\", \"type\": \"purchase\", \"item\": \"b\", \"channel\": \"store\", "
                        "\"event_id\": \"p-1\"}]}");
  counts(r, 3, 3, 0, 0, 0, 0, 0, 0);
  json_decref(r);
  int64_t sid = sid_of(f, "u12");
  struct light full = {json_array(), sid, false}, light = {json_array(), sid, false};
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_list(mes_world_ingester(&f->w), &f->w.req, sid, collect_full, &full, &err), MES_OK);
  assert_int_equal(mes_ingest_history(mes_world_ingester(&f->w), &f->w.req, sid, collect_light, &light, &err), MES_OK);
  assert_int_equal(json_array_size(light.events), 3);
  assert_false(light.bad_sid);
  char *a = json_dumps(full.events, JSON_SORT_KEYS), *b = json_dumps(light.events, JSON_SORT_KEYS);
  assert_string_equal(b, a);
  free(a);
  free(b);
  assert_string_equal(json_string_value(json_object_get(json_array_get(light.events, 0), "item")),
                      "tent \"2p\" \\ \xc3\xa9t\xc3\xa9");
  assert_true(json_is_null(json_object_get(json_array_get(light.events, 1), "item"))); /* the search */
  json_decref(full.events);
  json_decref(light.events);
  /* erased: the key is gone */
  assert_int_equal(mes_subject_shred(mes_world_subjects(&f->w), sid), MES_OK);
  light.events = json_array();
  assert_int_equal(mes_ingest_history(mes_world_ingester(&f->w), &f->w.req, sid, collect_light, &light, &err),
                   MES_ENOT_FOUND);
  assert_int_equal(json_array_size(light.events), 0);
  json_decref(light.events);
}

/* ------------------------------------------------------------ forget, sweep */

static void test_forget(void **state) {
  struct fixture *f = *state;
  consent(f, "u10", "personalization", "granted");
  json_t *r = ingest(f, "{\"events\": ["
                        "{\"subject\": \"u10\", \"type\": \"view\", \"item\": \"a\", \"event_id\": \"x\"},"
                        "{\"subject\": \"u10\", \"type\": \"view\", \"item\": \"b\"}]}");
  json_decref(r);
  json_t *events = list_of(f, "u10");
  char anon_id[32];
  snprintf(anon_id, sizeof anon_id, "%s", json_string_value(json_object_get(json_array_get(events, 1), "event_id")));
  json_decref(events);

  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u10", 3, false, &s),
                   MES_OK);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_forget(mes_world_ingester(&f->w), &s, "nope", 4, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_ingest_forget(mes_world_ingester(&f->w), &s, "x", 1, &err), MES_OK);
  assert_int_equal(mes_ingest_forget(mes_world_ingester(&f->w), &s, "x", 1, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_ingest_forget(mes_world_ingester(&f->w), &s, anon_id, strlen(anon_id), &err), MES_OK);
  assert_int_equal(mes_ingest_forget(mes_world_ingester(&f->w), &s, "a\x01", 2, &err), MES_EINVALID_ID);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
}


static void test_sweep(void **state) {
  struct fixture *f = *state;
  consent(f, "u11", "personalization", "granted");
  json_t *r = ingest(f, "{\"events\": [{\"subject\": \"u11\", \"type\": \"view\", \"item\": \"a\"},"
                        "{\"subject\": \"u11\", \"type\": \"purchase\", \"item\": \"a\"},"
                        "{\"subject\": \"u11\", \"type\": \"search\", \"query\": \"tents\"}]}");
  counts(r, 3, 3, 0, 0, 0, 0, 0, 0);
  json_decref(r);
  struct mes_err err;
  mes_err_clear(&err);
  int64_t n = -1;
  assert_int_equal(mes_ingest_sweep(mes_world_ingester(&f->w), &f->w.req, &n, &err), MES_OK);
  assert_int_equal(n, 0);
  f->w.req.now_ms = T0_MS + 181 * DAY_MS; /* past view (180) and search (30), within purchase (730) */
  assert_int_equal(mes_ingest_sweep(mes_world_ingester(&f->w), &f->w.req, &n, &err), MES_OK);
  assert_int_equal(n, 2);
  assert_int_equal(mes_store_event_count(f->w.store), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_events, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_too_large, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oversize_event, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_partial, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_shredded_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gate_unknown_subject, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gate_denied_purposes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gpc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restricted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_third_party_and_expired, setup, teardown),
      cmocka_unit_test_setup_teardown(test_minimisation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_search_query_sealed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idempotent_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history_matches_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
