/*
 * Unit tests of rights: the summary and export of a subject (every required
 * key, event ids, derived interests), over a store filled through the
 * catalog, consent and ingest faces as the API fills it.
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

#include "base/json.h"
#include "base/mtime.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "rights/rights.h"
#include "subject/subject.h"

struct fixture {
  struct mes_world w;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "rights", NULL, mes_now_ms(), "rights-test");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_world_close(&f->w);
  free(f);
  return 0;
}

/* Sends one POST /v1/events body (JSON text) and checks how many were stored. */
static void send_events(struct fixture *f, const char *body_text, int64_t want_stored) {
  json_error_t je;
  json_t *body = json_loads(body_text, 0, &je), *reply = NULL;
  assert_non_null(body);
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err))
    fail_msg("events: %s", mes_err_text(&err));
  assert_int_equal(mes_json_int(reply, "stored", -1), want_stored);
  json_decref(reply);
  json_decref(body);
}

/*
 * Two items (a tent in camping, a crib in the sensitive baby category), u1's
 * grant of personalization dated 2025-01-01, and u1's events: a view before
 * the grant (kept out by the consent gate), then a view with event_id "e-1",
 * another view and a purchase of the crib. u2 never granted anything.
 */
static void fill(struct fixture *f) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *items = json_pack("[{s:s, s:s, s:[s]}, {s:s, s:s, s:[s]}]", "id", "tent", "title", "Tent", "categories",
                            "camping", "id", "crib", "title", "Crib", "categories", "baby");
  json_t *errors = json_array();
  size_t n = 0;
  assert_non_null(items);
  assert_non_null(errors);
  if (mes_catalog_upsert(mes_world_catalog(&f->w), &f->w.req, items, "", 0, errors, &n, &err))
    fail_msg("items: %s", mes_err_text(&err));
  assert_int_equal(n, 2);
  assert_int_equal(json_array_size(errors), 0);
  json_decref(items);
  json_decref(errors);

  send_events(f, "{\"events\": [{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"tent\"}]}", 0);

  struct mes_req at = f->w.req;
  at.now_ms = 1735689600000; /* 2025-01-01T00:00:00Z */
  json_t *grant = json_pack("{s:s, s:s}", "status", "granted", "source", "banner"), *receipt = NULL;
  assert_non_null(grant);
  if (mes_consent_record(mes_world_ledger(&f->w), &at, "u1", 2, "personalization", 15, grant, &receipt, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(receipt);
  json_decref(grant);

  send_events(f,
              "{\"events\": [{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"tent\", \"event_id\": \"e-1\"},"
              " {\"subject\": \"u1\", \"type\": \"view\", \"item\": \"tent\"},"
              " {\"subject\": \"u1\", \"type\": \"purchase\", \"item\": \"crib\"},"
              " {\"subject\": \"u2\", \"type\": \"view\", \"item\": \"tent\"}]}",
              3);
}

/* ---------------------------------------------------------------- export */

static void test_summary_and_export(void **state) {
  struct fixture *f = *state;
  fill(f);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u1", 2, false, &s),
                   MES_OK);
  struct mes_err err;
  mes_err_clear(&err);
  json_t *sum = NULL;
  assert_int_equal(mes_rights_summary(mes_world_rights(&f->w), &f->w.req, "u1", 2, &s, &sum, &err), MES_OK);
  json_t *ev = json_object_get(sum, "events");
  assert_int_equal(mes_json_int(ev, "total", 0), 3);
  assert_int_equal(mes_json_int(json_object_get(ev, "by_type"), "view", 0), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(sum, "purposes_granted"), 0)),
                      "personalization");
  assert_string_equal(mes_json_str(sum, "first_seen", ""), "2025-01-01T00:00:00.000Z");
  json_decref(sum);

  json_t *doc = NULL;
  assert_int_equal(mes_rights_export(mes_world_rights(&f->w), &f->w.req, "u1", 2, &s, MES_LANG_EN, &doc, &err), MES_OK);
  static const char *const keys[] = {"subject",     "events",    "consents",  "preferences",
                                     "impressions", "decisions", "interests", "protected_attributes",
                                     "access_log"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!json_object_get(doc, keys[i]))
      fail_msg("the export lacks %s", keys[i]);
  assert_string_equal(mes_json_str(doc, "subject", ""), "u1");
  assert_int_equal(mes_json_int(json_object_get(json_object_get(doc, "summary"), "events"), "total", 0), 3);
  json_t *events = json_object_get(doc, "events");
  assert_int_equal(json_array_size(events), 3);
  for (size_t i = 0; i < 3; i++)
    assert_non_null(mes_json_str(json_array_get(events, i), "event_id", NULL));
  assert_string_equal(mes_json_str(json_array_get(events, 0), "event_id", ""), "e-1");
  json_t *history = json_object_get(json_object_get(doc, "consents"), "history");
  assert_int_equal(json_array_size(history), 1);
  assert_string_equal(mes_json_str(json_array_get(history, 0), "recorded_by", ""), "rights-test");
  json_t *interests = json_object_get(doc, "interests");
  assert_true(mes_json_bool(interests, "derived", false));
  json_t *cats = json_object_get(interests, "categories");
  assert_int_equal(json_array_size(cats), 2);
  assert_string_equal(mes_json_str(json_array_get(cats, 0), "category", ""), "camping");
  assert_int_equal(mes_json_int(json_array_get(cats, 0), "count", 0), 2);
  assert_string_equal(mes_json_str(json_array_get(cats, 1), "category", ""), "baby");
  assert_true(mes_json_bool(json_array_get(cats, 1), "sensitive", false));
  json_decref(doc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_summary_and_export, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
