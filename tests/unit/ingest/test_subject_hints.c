/*
 * Unit tests of ingestion with the pseudonym -> subject row hint map
 * (subject/subjmap.h, kept by the subject registry): the map is only a
 * hint, so every test makes it stale on purpose - a consent changed through
 * a registry without the map, or through a second store handle on the same
 * directory (another process's writer), an erasure, a subject erased and
 * made again - and
 * checks what the person would see: which events are stored, and that they
 * read back. Also that one event and a batch give the same outcomes with and
 * without the map, and the map's own bound and wiping.
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
#include "subject/subjmap.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */

/* Three writers on one data directory, each a registry with its ledger:
 * the one under test, with the map (and an ingester), as the engine makes
 * it; "plain", the world's registry without the map, on the same store: a
 * writer that does not tell the map; "other", without any cache, on a
 * second store handle: another process. */
struct fixture {
  struct mes_world w;      /* w's registry and ledger: plain */
  struct mes_subjects *sj; /* with the map */
  struct mes_ledger *lg;
  struct mes_ingester *ing;
  struct mes_store *st2; /* a second handle on the same directory: "another process" */
  struct mes_subjects *other_sj;
  struct mes_ledger *other_lg;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "hints", NULL, T0_MS, "test-key");
  assert_int_equal(mes_subjects_new(f->w.store, mes_world_master(&f->w), NULL, 64, MES_SUBJMAP_ENTRIES, &f->sj),
                   MES_OK);
  assert_int_equal(mes_ledger_new(f->w.store, mes_world_master(&f->w), f->sj, NULL, &f->lg), MES_OK);
  assert_int_equal(mes_ingester_new(f->w.store, mes_world_master(&f->w), f->sj, f->lg, 0, NULL, &f->ing), MES_OK);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_store_open(f->w.dir, MES_STORE_SQLITE, false, &f->st2, &err), MES_OK);
  assert_int_equal(mes_subjects_new(f->st2, mes_world_master(&f->w), NULL, 0, 0, &f->other_sj), MES_OK);
  assert_int_equal(mes_ledger_new(f->st2, mes_world_master(&f->w), f->other_sj, NULL, &f->other_lg), MES_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_ledger_free(f->other_lg);
  mes_subjects_free(f->other_sj);
  mes_store_close(f->st2);
  mes_ingester_free(f->ing);
  mes_ledger_free(f->lg);
  mes_subjects_free(f->sj);
  mes_world_close(&f->w);
  free(f);
  return 0;
}

/* ------------------------------------------------------------ helpers */

struct outcome {
  json_int_t stored, no_consent, restricted, third_party;
};

static struct outcome ingest_on(struct mes_ingester *ing, const struct mes_req *c, const char *body_text) {
  json_t *reply = ingest_reply(ing, c, body_text);
  const json_t *ns = json_object_get(reply, "not_stored");
  struct outcome o = {json_integer_value(json_object_get(reply, "stored")),
                      json_integer_value(json_object_get(ns, "no_consent")),
                      json_integer_value(json_object_get(ns, "restricted")),
                      json_integer_value(json_object_get(ns, "third_party"))};
  json_decref(reply);
  return o;
}

/* Evaluates o (an ingest) once. */
#define ASSERT_OUTCOME(o, st, nc, rs, tp)                                                                             \
  do {                                                                                                               \
    struct outcome got_ = (o);                                                                                       \
    assert_int_equal(got_.stored, (st));                                                                             \
    assert_int_equal(got_.no_consent, (nc));                                                                         \
    assert_int_equal(got_.restricted, (rs));                                                                         \
    assert_int_equal(got_.third_party, (tp));                                                                        \
  } while (0)

static const char *one_view(char *buf, size_t cap, const char *subject) {
  snprintf(buf, cap, "{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"a\"}", subject);
  return buf;
}

static const char *two_views(char *buf, size_t cap, const char *subject) {
  snprintf(buf, cap,
           "{\"events\": [{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"a\"},"
           "{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"b\"}]}",
           subject, subject);
  return buf;
}

/* The map's row for subject (false when it holds none). */
static bool hint_of(struct fixture *f, const char *subject, struct mes_subject_row *row) {
  struct mes_subject s;
  bool cached = false;
  mes_subject_resolve_hint(f->sj, MES_NS_SUBJECT, subject, strlen(subject), &s, &cached);
  if (!cached)
    return false;
  *row = s.row;
  return true;
}

static int count_cb(void *ud, const struct mes_evrec *ev) {
  (void)ev;
  (*(int *)ud)++;
  return 0;
}

/* How many of subject's events read back (unsealed) through the first store. */
static int readable(struct fixture *f, const char *subject) {
  int n = 0;
  struct mes_err err;
  mes_err_clear(&err);
  int64_t sid = sid_on(mes_world_subjects(&f->w), &f->w.req, subject);
  assert_true(sid > 0);
  assert_int_equal(mes_ingest_list(mes_world_ingester(&f->w), &f->w.req, sid, count_cb, &n, &err), MES_OK);
  return n;
}

static uint32_t bit_of(struct fixture *f, const char *purpose) {
  int p = mes_policy_purpose(f->w.policy, purpose, strlen(purpose));
  assert_true(p >= 0);
  return 1u << p;
}

/* ------------------------------------------------------------ tests */

/* The map says granted; the consent was withdrawn by a writer that did not
 * tell it: nothing is stored, one event or a batch, and the hint is fixed. */
static void test_withdrawn_while_hint_says_granted(void **state) {
  struct fixture *f = *state;
  char body[256];
  consent_on(f->lg, &f->w.req, "u1", "personalization", "granted");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u1")), 1, 0, 0, 0); /* the map learns u1 */
  consent_on(mes_world_ledger(&f->w), &f->w.req, "u1", "personalization", "denied");
  struct mes_subject_row row = {0};
  assert_true(hint_of(f, "u1", &row));
  assert_true(row.granted & bit_of(f, "personalization")); /* stale on purpose */
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u1")), 0, 1, 0, 0);
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, two_views(body, sizeof body, "u1")), 0, 2, 0, 0);
  assert_int_equal(mes_store_event_count(f->w.store), 0); /* the withdrawal purged the first one too */
  assert_true(hint_of(f, "u1", &row));
  assert_false(row.granted & bit_of(f, "personalization")); /* refreshed under the write lock */

  /* The same through another process's writer, and with the stale row put
   * back by hand after the map had been refreshed. */
  consent_on(f->other_lg, &f->w.req, "u1", "personalization", "granted");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u1")), 1, 0, 0, 0);
  struct mes_subject_row granted_row = {0};
  assert_true(hint_of(f, "u1", &granted_row));
  assert_true(granted_row.granted & bit_of(f, "personalization"));
  consent_on(f->other_lg, &f->w.req, "u1", "personalization", "denied");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, two_views(body, sizeof body, "u1")), 0, 2, 0, 0);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u1", 2, false, &s),
                   MES_OK);
  mes_subject_hint_put(f->sj, s.pn, &granted_row);
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u1")), 0, 1, 0, 0);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
}

/* The map holds u2 as not granted (and as restricted); another process
 * grants (lifts the restriction): the events ARE stored, sealed so that
 * they read back. */
static void test_granted_elsewhere_while_hint_says_not(void **state) {
  struct fixture *f = *state;
  char body[256];
  consent_on(f->lg, &f->w.req, "u2", "personalization", "denied");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u2")), 0, 1, 0, 0);
  struct mes_subject_row row = {0};
  assert_true(hint_of(f, "u2", &row)); /* a row that exists is kept, granted or not */
  consent_on(f->other_lg, &f->w.req, "u2", "personalization", "granted");
  assert_true(hint_of(f, "u2", &row));
  assert_false(row.granted & bit_of(f, "personalization")); /* the other process did not tell us */
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u2")), 1, 0, 0, 0);
  assert_int_equal(readable(f, "u2"), 1);

  /* A batch, with the stale hint put back by hand. */
  struct mes_subject_row stale = row;
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u2", 2, false, &s),
                   MES_OK);
  mes_subject_hint_put(f->sj, s.pn, &stale);
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, two_views(body, sizeof body, "u2")), 2, 0, 0, 0);
  assert_int_equal(readable(f, "u2"), 3);

  /* Restricted in the hint, lifted elsewhere. */
  stale.restricted = true;
  stale.granted = bit_of(f, "personalization");
  mes_subject_hint_put(f->sj, s.pn, &stale);
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u2")), 1, 0, 0, 0);
  assert_int_equal(readable(f, "u2"), 4);
  /* And the other way: restricted elsewhere, the hint says not. */
  assert_int_equal(mes_store_subject_set_restricted(f->st2, s.row.id, true), MES_OK);
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, two_views(body, sizeof body, "u2")), 0, 0, 2, 0);
  assert_int_equal(readable(f, "u2"), 4);
}

/* Erased by another process while the map still knows the subject: nothing
 * stored, and the hint is dropped. Made again (a new id) while the map
 * holds the old row: the events go to the new subject, under its key. */
static void test_erased_in_between(void **state) {
  struct fixture *f = *state;
  char body[256];
  consent_on(f->lg, &f->w.req, "u3", "personalization", "granted");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u3")), 1, 0, 0, 0);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u3", 2, false, &s),
                   MES_OK);
  struct mes_subject_row old = {0};
  assert_true(hint_of(f, "u3", &old));
  assert_int_equal(mes_store_subject_delete(f->st2, s.row.id), MES_OK);
  assert_int_equal(mes_store_key_delete(f->st2, s.row.id), MES_OK);
  assert_int_equal(mes_subject_shred(f->sj, s.row.id), MES_ENOT_FOUND); /* gone already: forgets the cached key */
  assert_true(hint_of(f, "u3", &old)); /* stale on purpose */
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u3")), 0, 1, 0, 0);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
  struct mes_subject_row row = {0};
  assert_false(hint_of(f, "u3", &row)); /* dropped: the subject is gone */

  /* Erased, then made again elsewhere with a grant: the hint holds the old id. */
  consent_on(f->other_lg, &f->w.req, "u3", "personalization", "granted");
  mes_subject_hint_put(f->sj, s.pn, &old);
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, two_views(body, sizeof body, "u3")), 2, 0, 0, 0);
  int64_t sid = sid_on(mes_world_subjects(&f->w), &f->w.req, "u3");
  assert_true(sid != old.id);
  assert_int_equal(readable(f, "u3"), 2); /* sealed for the new id, with its key */
  assert_true(hint_of(f, "u3", &row));
  assert_int_equal(row.id, sid);
}

/* One event and a batch give the same outcomes without the map, with it
 * cold, and with it warm. */
static void test_same_outcomes_with_and_without(void **state) {
  struct fixture *f = *state;
  consent_on(f->lg, &f->w.req, "g", "personalization", "granted");
  consent_on(f->lg, &f->w.req, "d", "personalization", "denied");
  consent_on(f->lg, &f->w.req, "r", "personalization", "granted");
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "r", 1, false, &s),
                   MES_OK);
  assert_int_equal(mes_store_subject_set_restricted(f->w.store, s.row.id, true), MES_OK);
  static const struct {
    const char *event;
    struct outcome want;
  } cases[] = {
      {"{\"subject\": \"g\", \"type\": \"view\", \"item\": \"a\"}", {1, 0, 0, 0}},
      {"{\"subject\": \"d\", \"type\": \"view\", \"item\": \"a\"}", {0, 1, 0, 0}},
      {"{\"subject\": \"r\", \"type\": \"view\", \"item\": \"a\"}", {0, 0, 1, 0}},
      {"{\"subject\": \"nobody\", \"type\": \"view\", \"item\": \"a\"}", {0, 1, 0, 0}},
      {"{\"subject\": \"g\", \"type\": \"view\", \"item\": \"a\", \"source\": \"third_party\"}", {0, 0, 0, 1}},
  };
  struct mes_ingester *ings[] = {mes_world_ingester(&f->w), f->ing, f->ing}; /* no map, cold, warm */
  json_int_t stored_total = 0;
  for (size_t k = 0; k < 3; k++) {
    char batch[2048] = "{\"events\": [";
    struct outcome sum = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      struct outcome o = ingest_on(ings[k], &f->w.req, cases[i].event);
      if (o.stored != cases[i].want.stored || o.no_consent != cases[i].want.no_consent ||
          o.restricted != cases[i].want.restricted || o.third_party != cases[i].want.third_party)
        fail_msg("pass %zu, event %zu: stored %lld no_consent %lld restricted %lld third_party %lld", k, i,
                 (long long)o.stored, (long long)o.no_consent, (long long)o.restricted, (long long)o.third_party);
      sum.stored += o.stored;
      sum.no_consent += o.no_consent;
      sum.restricted += o.restricted;
      sum.third_party += o.third_party;
      strncat(batch, cases[i].event, sizeof batch - strlen(batch) - 1);
      strncat(batch, i + 1 < sizeof cases / sizeof cases[0] ? "," : "]}", sizeof batch - strlen(batch) - 1);
    }
    struct outcome o = ingest_on(ings[k], &f->w.req, batch);
    ASSERT_OUTCOME(o, sum.stored, sum.no_consent, sum.restricted, sum.third_party);
    stored_total += sum.stored + o.stored;
  }
  assert_int_equal(mes_store_event_count(f->w.store), stored_total);
  assert_int_equal(readable(f, "g"), stored_total);
}

/* One event, GPC on, and a hint that knows no grant GPC could override: the
 * row re-read in the transaction shows one (granted elsewhere), so the GPC
 * override is noted and the event is not stored. */
static void test_gpc_found_by_recheck(void **state) {
  struct fixture *f = *state;
  char body[256];
  consent_on(f->lg, &f->w.req, "u6", "ads_retargeting", "denied");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u6")), 0, 1, 0, 0);
  consent_on(f->other_lg, &f->w.req, "u6", "ads_retargeting", "granted");
  f->w.req.gpc = true;
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u6")), 0, 1, 0, 0);
  f->w.req.gpc = false;
  json_t *got = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_consent_get(mes_world_ledger(&f->w), &f->w.req, "u6", 2, &got, &err), MES_OK);
  json_t *ads = json_object_get(json_object_get(got, "purposes"), "ads_retargeting");
  assert_string_equal(json_string_value(json_object_get(ads, "status")), "denied"); /* GPC noted */
  assert_int_equal(json_array_size(json_object_get(got, "history")), 3);
  json_decref(got);
  assert_int_equal(mes_store_event_count(f->w.store), 0);
}

/* In-process consent changes drop the hint at once. */
static void test_consent_drops_hint(void **state) {
  struct fixture *f = *state;
  char body[256];
  consent_on(f->lg, &f->w.req, "u5", "personalization", "granted");
  ASSERT_OUTCOME(ingest_on(f->ing, &f->w.req, one_view(body, sizeof body, "u5")), 1, 0, 0, 0);
  struct mes_subject_row row = {0};
  assert_true(hint_of(f, "u5", &row));
  consent_on(f->lg, &f->w.req, "u5", "personalization", "denied");
  struct mes_subjmap_stats before, after;
  mes_subjects_hint_stats(f->sj, &before);
  assert_false(hint_of(f, "u5", &row)); /* dropped: read from the store again, and kept */
  mes_subjects_hint_stats(f->sj, &after);
  assert_int_equal(after.misses, before.misses + 1);
  assert_true(hint_of(f, "u5", &row));
  assert_false(row.granted & bit_of(f, "personalization"));
}

/* The map itself: the same pseudonym as mes_subject_resolve, bounded, and
 * forgetting. */
static void test_map_bound(void **state) {
  struct fixture *f = *state;
  struct mes_subject a, b;
  bool cached;
  consent_on(f->lg, &f->w.req, "same", "personalization", "granted");
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_ANON, "same", 4, false, &a),
                   MES_ENOT_FOUND);
  assert_int_equal(mes_subject_resolve_hint(f->sj, MES_NS_ANON, "same", 4, &b, &cached), MES_ENOT_FOUND);
  assert_memory_equal(a.pn, b.pn, sizeof a.pn);
  assert_false(cached);
  assert_int_equal(mes_subject_resolve_hint(f->sj, MES_NS_ANON, "same", 4, &b, &cached), MES_ENOT_FOUND);
  assert_false(cached); /* "not found" is never kept */
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "same", 4, false, &a),
                   MES_OK);
  assert_int_equal(mes_subject_resolve_hint(f->sj, MES_NS_SUBJECT, "same", 4, &b, &cached), MES_OK);
  assert_memory_equal(a.pn, b.pn, sizeof a.pn);
  assert_int_equal(mes_subject_resolve_hint(f->sj, MES_NS_SUBJECT, "same", 4, &b, &cached), MES_OK);
  assert_true(cached);
  assert_int_equal(b.row.id, a.row.id);

  /* Twice the bound of distinct pseudonyms: never more than the bound kept. */
  struct mes_subjmap *map;
  assert_int_equal(mes_subjmap_new(MES_SUBJMAP_ENTRIES, &map), MES_OK);
  struct mes_subjmap_stats st;
  for (uint32_t i = 0; i < 2 * MES_SUBJMAP_ENTRIES; i++) {
    uint8_t pn[32];
    mes_pseudonym(mes_world_master(&f->w), "subject", (const char *)&i, sizeof i, pn);
    mes_subjmap_put(map, pn, &(struct mes_subject_row){.id = (int64_t)i + 1});
  }
  mes_subjmap_stats(map, &st);
  assert_true(st.entries <= MES_SUBJMAP_ENTRIES);
  assert_true(st.entries > MES_SUBJMAP_ENTRIES / 2); /* most sets full: the bound is used */
  /* The newest survive (least recently used goes first). */
  uint32_t last = 2 * MES_SUBJMAP_ENTRIES - 1;
  uint8_t pn[32];
  mes_pseudonym(mes_world_master(&f->w), "subject", (const char *)&last, sizeof last, pn);
  struct mes_subject_row row = {0};
  assert_true(mes_subjmap_get(map, pn, &row));
  assert_int_equal(row.id, (int64_t)last + 1);
  mes_subjmap_forget(map, pn);
  assert_false(mes_subjmap_get(map, pn, &row));
  mes_subjmap_free(map);
  /* A map of 0 entries keeps nothing, and is no error. */
  assert_int_equal(mes_subjmap_new(0, &map), MES_OK);
  mes_subjmap_put(map, pn, &(struct mes_subject_row){.id = 7});
  assert_false(mes_subjmap_get(map, pn, &row)); /* no map: no hint */
  mes_subjmap_stats(map, &st);
  assert_int_equal(st.entries, 0);
  mes_subjmap_forget(map, pn);
  mes_subjmap_free(map);
  assert_int_equal(mes_subjmap_new(100, &map), MES_EINTERNAL); /* below one set per stripe */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_withdrawn_while_hint_says_granted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_granted_elsewhere_while_hint_says_not, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erased_in_between, setup, teardown),
      cmocka_unit_test_setup_teardown(test_same_outcomes_with_and_without, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gpc_found_by_recheck, setup, teardown),
      cmocka_unit_test_setup_teardown(test_consent_drops_hint, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_bound, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
