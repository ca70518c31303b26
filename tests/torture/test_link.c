/*
 * Torture of linking an anonymous visitor at login (ingest/link.c): before
 * each run a visitor grants personalization and sends three events: two
 * views (one with an event_id new to every run), which also serve
 * ads_retargeting, and a click, which serves personalization alone; the
 * run links them to carol, who granted ads_retargeting only, so that two
 * events move and one is dropped. A refused run must be all or nothing: either the subject
 * gained no event and the visitor's are all still there, or the move
 * committed whole (the visitor's rows gone, the subject holding them) and
 * only the destruction of the visitor's key after it failed.
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

#include "base/alloc.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "store/store.h"

struct fixture {
  struct mes_torture_shop shop;
  int run_no;
  char visitor[32]; /* a new visitor for every run: a refused run leaves its visitor as it was */
  int64_t visitor_sid;
  int64_t visitor_events, subject_events; /* before the run */
  char left[96];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_torture_shop_open(&f->shop, "torture-link");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_torture_shop_close(&f->shop);
  free(f);
  return 0;
}

static int64_t events_of(struct fixture *f, int64_t sid) {
  int64_t max_id = 0, n = 0;
  if (sid <= 0)
    return 0;
  assert_int_equal(mes_store_event_stamp(f->shop.store, sid, &max_id, &n), MES_OK);
  return n;
}

static void resolve(struct fixture *f, enum mes_subject_ns ns, const char *id, struct mes_subject *out) {
  int rc = mes_subject_resolve(f->shop.subjects, f->shop.req, ns, id, strlen(id), false, out);
  if (rc == MES_ENOT_FOUND)
    out->row.id = 0;
  else if (rc != MES_OK)
    fail_msg("resolve %s: %s", id, mes_rc_code(rc));
}

static void before(void *ud) {
  struct fixture *f = ud;
  snprintf(f->visitor, sizeof f->visitor, "cookie-%d", ++f->run_no);
  struct mes_err err;
  mes_err_clear(&err);
  json_t *grant = json_pack("{s:s}", "status", "granted"), *receipt = NULL, *reply = NULL;
  assert_int_equal(mes_consent_record_ns(f->shop.ledger, f->shop.req, MES_NS_ANON, f->visitor, strlen(f->visitor),
                                         "personalization", 15, grant, &receipt, &err),
                   MES_OK);
  json_decref(receipt);
  json_decref(grant);
  char text[512];
  snprintf(text, sizeof text,
           "{\"events\": [{\"anonymous_id\": \"%s\", \"type\": \"view\", \"item\": \"lantern\","
           " \"event_id\": \"v-%d\"},"
           "{\"anonymous_id\": \"%s\", \"type\": \"click\", \"item\": \"mug\"},"
           "{\"anonymous_id\": \"%s\", \"type\": \"view\", \"item\": \"kettle\"}]}",
           f->visitor, f->run_no, f->visitor, f->visitor);
  json_t *body = json_loads(text, 0, NULL);
  assert_non_null(body);
  assert_int_equal(mes_ingest_batch(f->shop.ingester, f->shop.req, body, &reply, &err), MES_OK);
  json_decref(reply);
  json_decref(body);
  struct mes_subject v, carol;
  resolve(f, MES_NS_ANON, f->visitor, &v);
  resolve(f, MES_NS_SUBJECT, "carol", &carol);
  f->visitor_sid = v.row.id;
  f->visitor_events = events_of(f, v.row.id);
  f->subject_events = events_of(f, carol.row.id);
}

static int run(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  struct mes_subject v, carol;
  int rc = mes_subject_resolve(f->shop.subjects, f->shop.req, MES_NS_ANON, f->visitor, strlen(f->visitor), false, &v);
  if (!rc)
    rc = mes_subject_resolve(f->shop.subjects, f->shop.req, MES_NS_SUBJECT, "carol", 5, false, &carol);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  struct mes_ingest_linked linked;
  rc = mes_ingest_link(f->shop.ingester, f->shop.req, &v, &carol, &linked, err);
  if (rc)
    return rc;
  mes_alloc_disarm();
  *out = json_pack("{s:I, s:I, s:I, s:I}", "moved", (json_int_t)linked.moved, "already_held",
                   (json_int_t)linked.already_held, "dropped", (json_int_t)linked.dropped, "removed",
                   (json_int_t)linked.removed.events);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

static const char *after(void *ud, int rc) {
  struct fixture *f = ud;
  struct mes_subject carol;
  resolve(f, MES_NS_SUBJECT, "carol", &carol);
  int64_t visitor_now = events_of(f, f->visitor_sid), gained = events_of(f, carol.row.id) - f->subject_events;
  bool untouched = gained == 0 && visitor_now == f->visitor_events;
  bool moved_whole = visitor_now == 0 && gained > 0;
  if (rc == MES_OK ? !moved_whole : !(untouched || moved_whole)) {
    snprintf(f->left, sizeof f->left, "the link (rc %d) left %lld visitor events and gave the subject %lld", rc,
             (long long)visitor_now, (long long)gained);
    return f->left;
  }
  return NULL;
}

static void test_link(void **state) {
  struct fixture *f = *state;
  const struct mes_torture_op op = {.name = "link", .ud = f, .run = run, .before = before, .after = after};
  mes_torture_run(&op);
}

int main(void) {
  mes_torture_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_link, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
