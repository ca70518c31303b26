/*
 * Unit tests of linking an anonymous visitor to a subject at login
 * (ingest/link.c): which of the visitor's events move under the subject's
 * key for each state of the subject's consent, that the moved events read
 * back under the subject (sealed with their key, their event_id still
 * recognised), and that nothing of the visitor is left: rows, key, or
 * answers from memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../world.h"
#include "ingest_helpers.h"

#include "ingest/ingest.h"
#include "store/store.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */

/* Two purposes, so that a subject can grant one that covers some of the
 * visitor's events and not others. */
static const char *const POLICY =
    "purposes:\n"
    "  personalization: {}\n"
    "  analytics: {}\n"
    "event_types:\n"
    "  view: {purposes: [personalization], retention_days: 180}\n"
    "  search: {purposes: [analytics], retention_days: 30}\n";

static int setup(void **state) {
  struct mes_world *w = calloc(1, sizeof *w);
  assert_non_null(w);
  mes_world_open(w, "link", POLICY, T0_MS, "test-key");
  *state = w;
  return 0;
}

static int teardown(void **state) {
  struct mes_world *w = *state;
  mes_world_close(w);
  free(w);
  return 0;
}

static void resolve(struct mes_world *w, enum mes_subject_ns ns, const char *id, struct mes_subject *out) {
  int rc = mes_subject_resolve(mes_world_subjects(w), &w->req, ns, id, strlen(id), false, out);
  assert_true(rc == MES_OK || rc == MES_ENOT_FOUND);
  if (rc == MES_ENOT_FOUND)
    out->row.id = 0;
}

/* The visitor "cookie-1" granted both purposes and sent two views (one
 * with an event_id) and a search. */
static void visitor_browses(struct mes_world *w) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *r = NULL, *body = parse("{\"status\": \"granted\"}");
  for (const char *p = "personalization"; p; p = strcmp(p, "analytics") ? "analytics" : NULL) {
    assert_int_equal(mes_consent_record_ns(mes_world_ledger(w), &w->req, MES_NS_ANON, "cookie-1", 8, p, strlen(p),
                                           body, &r, &err),
                     MES_OK);
    assert_true(json_is_true(json_object_get(r, "anonymous")));
    json_decref(r);
  }
  json_decref(body);
  json_t *reply = ingest_reply(mes_world_ingester(w), &w->req,
                               "{\"events\": [{\"anonymous_id\": \"cookie-1\", \"type\": \"view\", \"item\": \"tent\","
                               " \"event_id\": \"e-1\"},"
                               "{\"anonymous_id\": \"cookie-1\", \"type\": \"view\", \"item\": \"stove\"},"
                               "{\"anonymous_id\": \"cookie-1\", \"type\": \"search\", \"query\": \"lamp\"}]}");
  assert_int_equal(json_integer_value(json_object_get(reply, "stored")), 3);
  json_decref(reply);
}

struct held {
  int n;
  char items[8][16];
};

static int on_event(void *ud, const struct mes_evrec *ev) {
  struct held *h = ud;
  if (h->n < 8)
    snprintf(h->items[h->n++], sizeof h->items[0], "%s", ev->item ? ev->item : "(search)");
  return 0;
}

static struct held held_by(struct mes_world *w, int64_t sid) {
  struct held h = {0};
  struct mes_err err;
  mes_err_clear(&err);
  if (sid > 0)
    assert_int_equal(mes_ingest_list(mes_world_ingester(w), &w->req, sid, on_event, &h, &err), MES_OK);
  return h;
}

static const struct link_case {
  const char *name;
  const char *grants; /* the subject's grants, before the link: "" none, NULL unknown subject */
  bool restricted;
  int64_t moved, dropped;
} cases[] = {
    {"subject never seen", NULL, false, 0, 3},
    {"subject granted nothing", "", false, 0, 3},
    {"subject granted personalization", "personalization", false, 2, 1},
    {"subject granted analytics", "analytics", false, 1, 2},
    {"subject granted both", "personalization,analytics", false, 3, 0},
    {"subject granted both, restricted", "personalization,analytics", true, 0, 3},
};

static void test_link_follows_the_subjects_consent(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct link_case *k = &cases[i];
    struct mes_world w;
    mes_world_open(&w, "link-case", POLICY, T0_MS, "test-key");
    visitor_browses(&w);
    if (k->grants) {
      consent_on(mes_world_ledger(&w), &w.req, "alice", "personalization",
                 strstr(k->grants, "personalization") ? "granted" : "denied");
      if (strstr(k->grants, "analytics"))
        consent_on(mes_world_ledger(&w), &w.req, "alice", "analytics", "granted");
    }
    struct mes_subject visitor, alice;
    resolve(&w, MES_NS_ANON, "cookie-1", &visitor);
    resolve(&w, MES_NS_SUBJECT, "alice", &alice);
    assert_true(visitor.row.id > 0);
    if (k->restricted) {
      assert_int_equal(mes_store_subject_set_restricted(w.store, alice.row.id, true), MES_OK);
      alice.row.restricted = true;
    }
    struct mes_ingest_linked out;
    struct mes_err err;
    mes_err_clear(&err);
    assert_int_equal(mes_ingest_link(mes_world_ingester(&w), &w.req, &visitor, &alice, &out, &err), MES_OK);
    if (out.moved != k->moved || out.dropped != k->dropped)
      fail_msg("%s: moved %lld dropped %lld, expected %lld and %lld", k->name, (long long)out.moved,
               (long long)out.dropped, (long long)k->moved, (long long)k->dropped);
    assert_int_equal(out.removed.events, 3);
    assert_int_equal(out.removed.consents, 2);
    assert_int_equal(held_by(&w, alice.row.id).n, (int)k->moved);

    /* Nothing of the visitor is left: no row, no key. */
    struct mes_subject again;
    resolve(&w, MES_NS_ANON, "cookie-1", &again);
    assert_int_equal(again.row.id, 0);
    uint8_t key[MES_KEY_BYTES];
    assert_int_equal(mes_subject_key(mes_world_subjects(&w), visitor.row.id, key), MES_ENOT_FOUND);
    mes_world_close(&w);
  }
}

static void test_moved_events_are_the_subjects(void **state) {
  struct mes_world *w = *state;
  visitor_browses(w);
  consent_on(mes_world_ledger(w), &w->req, "alice", "personalization", "granted");
  struct mes_subject visitor, alice;
  resolve(w, MES_NS_ANON, "cookie-1", &visitor);
  resolve(w, MES_NS_SUBJECT, "alice", &alice);
  struct mes_ingest_linked out;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_link(mes_world_ingester(w), &w->req, &visitor, &alice, &out, &err), MES_OK);
  struct held h = held_by(w, alice.row.id);
  assert_int_equal(h.n, 2);
  assert_string_equal(h.items[0], "tent");
  assert_string_equal(h.items[1], "stove");
  /* The event_id came along, hashed for the subject: a retry after login is the same event. */
  json_t *reply = ingest_reply(mes_world_ingester(w), &w->req,
                               "{\"subject\": \"alice\", \"type\": \"view\", \"item\": \"tent\","
                               " \"event_id\": \"e-1\"}");
  json_decref(reply);
  assert_int_equal(held_by(w, alice.row.id).n, 2);
  /* Linking again: the visitor is gone, nothing happens. */
  assert_int_equal(mes_ingest_link(mes_world_ingester(w), &w->req, &visitor, &alice, &out, &err), MES_OK);
  assert_int_equal(out.moved + out.dropped + out.removed.events, 0);
  assert_int_equal(held_by(w, alice.row.id).n, 2);
}

static void test_nothing_held_of_a_visitor_is_no_error(void **state) {
  struct mes_world *w = *state;
  consent_on(mes_world_ledger(w), &w->req, "alice", "personalization", "granted");
  struct mes_subject visitor, alice;
  resolve(w, MES_NS_ANON, "cookie-never", &visitor);
  resolve(w, MES_NS_SUBJECT, "alice", &alice);
  assert_int_equal(visitor.row.id, 0);
  struct mes_ingest_linked out;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_link(mes_world_ingester(w), &w->req, &visitor, &alice, &out, &err), MES_OK);
  assert_int_equal(out.moved + out.dropped + out.removed.events + out.removed.consents, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_link_follows_the_subjects_consent),
      cmocka_unit_test_setup_teardown(test_moved_events_are_the_subjects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nothing_held_of_a_visitor_is_no_error, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
