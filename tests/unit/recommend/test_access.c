/*
 * The access log's chain (recommend/access.c): entries noted by requests are
 * chained per subject by the writer thread, and verification finds the first
 * entry that was altered, removed, reordered or cut off the end, and an
 * altered head, from the stored rows alone. Tampering is done with SQL on
 * mesura.db, as someone with write access to the file would do it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../world.h"

#include "recommend/rec_int.h"
#include "recommend/recommend.h"

#define T0_MS 1760000000000LL

static const char POLICY[] =
    "site: T\nlanguages: [en, es, pl]\n"
    "purposes:\n  personalization: {description: {en: Suggestions}}\n"
    "event_types:\n  view: {purposes: [personalization], retention_days: 30}\n";

struct fixture {
  struct mes_world w;
  struct mes_recommender *rec;
  int64_t ana, ben; /* subject row ids */
};

static int64_t make_subject(struct mes_world *w, const char *id) {
  struct mes_subject s;
  assert_int_equal(mes_store_tx_begin(w->store), MES_OK);
  assert_int_equal(mes_subject_resolve(mes_world_subjects(w), &w->req, MES_NS_SUBJECT, id, strlen(id), true, &s),
                   MES_OK);
  uint64_t ticket;
  assert_int_equal(mes_store_tx_commit(w->store, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(w->store, ticket), MES_OK);
  return s.row.id;
}

/* Notes a read by `actor` at T0 + k seconds. */
static void note(struct fixture *f, int64_t sid, const char *id, const char *actor, enum mes_access_action a, int k) {
  struct mes_req c = f->w.req;
  c.actor = actor;
  c.now_ms = T0_MS + 1000LL * k;
  mes_recommender_access_note(f->rec, &c, sid, id, id ? strlen(id) : 0, a);
}

/* ana: 4 entries, ben: 2, written by the recommender's writer. */
static void open_fixture(struct fixture *f, const char *name) {
  memset(f, 0, sizeof *f);
  mes_world_open(&f->w, name, POLICY, T0_MS, "test");
  assert_int_equal(mes_recommender_new(f->w.store, NULL, mes_world_subjects(&f->w), mes_world_ledger(&f->w),
                                       mes_world_ingester(&f->w), mes_world_catalog(&f->w), &f->rec),
                   MES_OK);
  f->ana = make_subject(&f->w, "ana");
  f->ben = make_subject(&f->w, "ben");
  note(f, f->ana, "ana", "shop", MES_ACCESS_RECOMMEND, 1);
  note(f, f->ben, "ben", "shop", MES_ACCESS_RECOMMEND, 2);
  note(f, f->ana, NULL, "shop", MES_ACCESS_RECORD, 3);
  mes_recommender_flush(f->rec); /* a second batch extends the chains the first began */
  note(f, f->ana, "ana", "support", MES_ACCESS_EXPORT, 4);
  note(f, f->ben, "ben", "subject-token", MES_ACCESS_PROFILE, 5);
  note(f, f->ana, "ana", "subject-token", MES_ACCESS_WHY, 6);
  mes_recommender_flush(f->rec);
}

static void close_fixture(struct fixture *f) {
  mes_recommender_free(f->rec);
  mes_world_close(&f->w);
}

static void tamper(struct fixture *f, const char *sql, int64_t sid) {
  char path[128];
  mes_world_path(&f->w, "mesura.db", path, sizeof path);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  sqlite3_bind_int64(s, 1, sid);
  assert_int_equal(sqlite3_step(s), SQLITE_DONE);
  assert_true(sqlite3_changes(db) > 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static void test_intact_chains_verify(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-intact");
  struct mes_access_check c;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_verify(f.rec, &c, &err), MES_OK);
  assert_true(c.intact);
  assert_int_equal(c.subjects, 2);
  assert_int_equal(c.entries, 6);
  close_fixture(&f);
}

static void test_log_reads_back_in_order_and_language(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-read");
  json_t *log = NULL;
  struct mes_err err;
  bool intact = false;
  assert_int_equal(mes_recommend_access_log(f.rec, f.ana, MES_LANG_ES, &log, &intact, &err), MES_OK);
  assert_true(intact);
  assert_int_equal(json_array_size(log), 4);
  static const char *const want[][2] = {
      {"shop", "recommend"}, {"shop", "record"}, {"support", "export"}, {"you", "why"}};
  for (size_t i = 0; i < 4; i++) {
    const json_t *e = json_array_get(log, i);
    assert_string_equal(json_string_value(json_object_get(e, "reader")), want[i][0]);
    assert_string_equal(json_string_value(json_object_get(e, "action")), want[i][1]);
  }
  assert_string_equal(json_string_value(json_object_get(json_array_get(log, 3), "text")),
                      "Preguntaste por qu\u00e9 se te sugiere un art\u00edculo.");
  assert_string_equal(json_string_value(json_object_get(json_array_get(log, 0), "at")), "2025-10-09T08:53:21.000Z");
  json_decref(log);
  close_fixture(&f);
}

/* Each tampering of ana's log, and the entry verification must name. */
static const struct {
  const char *sql; /* ?1: ana's row id */
  int64_t seq;
  const char *problem;
} cases[] = {
    {"UPDATE access_log SET reader = 'someone-else' WHERE subject = ?1 AND seq = 2", 2, "This entry was altered."},
    {"UPDATE access_log SET ts_ms = ts_ms - 1 WHERE subject = ?1 AND seq = 3", 3, "This entry was altered."},
    {"UPDATE access_log SET sealed = (SELECT sealed FROM access_log WHERE subject = ?1 AND seq = 1)"
     " WHERE subject = ?1 AND seq = 2",
     2, "This entry was altered."},
    {"DELETE FROM access_log WHERE subject = ?1 AND seq = 2", 2, "This entry was removed."},
    {"DELETE FROM access_log WHERE subject = ?1 AND seq = 4", 4,
     "Entries are missing at the end of this log (it was truncated)."},
    {"DELETE FROM access_log WHERE subject = ?1 AND seq >= 3", 3,
     "Entries are missing at the end of this log (it was truncated)."},
    {"DELETE FROM access_log WHERE subject = ?1", 1, "Entries are missing at the end of this log (it was truncated)."},
    /* Truncating and pointing the head at the new last entry: the head's own MAC no longer holds. */
    {"UPDATE access_heads SET n = 3, last = (SELECT mac FROM access_log WHERE subject = ?1 AND seq = 3)"
     " WHERE subject = ?1",
     3, "The head of this log was altered."},
    {"DELETE FROM access_heads WHERE subject = ?1", 1, "This log has entries but no head."},
};

static void test_tampering_is_found(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct fixture f;
    char name[32];
    snprintf(name, sizeof name, "acc-tamper-%zu", i);
    open_fixture(&f, name);
    tamper(&f, cases[i].sql, f.ana);
    struct mes_access_check c;
    struct mes_err err;
    assert_int_equal(mes_recommend_access_verify(f.rec, &c, &err), MES_OK);
    if (c.intact)
      fail_msg("case %zu (%s): not found", i, cases[i].sql);
    assert_int_equal(c.bad_sid, f.ana);
    assert_int_equal(c.bad_seq, cases[i].seq);
    assert_string_equal(c.problem, cases[i].problem);
    close_fixture(&f);
  }
}

/* Verification finds sid's chain broken. */
static void assert_broken(struct fixture *f, int64_t sid) {
  struct mes_access_check c;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_verify(f->rec, &c, &err), MES_OK);
  assert_false(c.intact);
  assert_int_equal(c.bad_sid, sid);
}

/* A head that fails its MAC is never extended: a new head would vouch for
 * the tampering. ben's chain, untouched, still grows. */
static void test_tampered_chain_is_not_laundered(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-launder");
  tamper(&f, "UPDATE access_heads SET n = 3 WHERE subject = ?1", f.ana);
  note(&f, f.ana, "ana", "shop", MES_ACCESS_RECOMMEND, 7);
  note(&f, f.ben, "ben", "shop", MES_ACCESS_RECOMMEND, 8);
  mes_recommender_flush(f.rec);
  assert_broken(&f, f.ana);
  struct mes_err err;
  json_t *log = NULL;
  bool intact = false;
  assert_int_equal(mes_recommend_access_log(f.rec, f.ben, MES_LANG_EN, &log, &intact, &err), MES_OK);
  assert_true(intact); /* ben's chain is untouched */
  assert_int_equal(json_array_size(log), 3);
  json_decref(log);
  close_fixture(&f);
}

/* The person's own view says what verification would: an entry whose
 * reader was edited in the file is marked, a log cut off the end or whose
 * middle entry went is not intact, another person's log still is. */
static void test_the_persons_view_shows_tampering(void **state) {
  (void)state;
  static const struct {
    const char *sql;
    int altered; /* the 0-based entry marked "altered", or -1 */
    size_t n;    /* entries shown */
  } view_cases[] = {
      {"UPDATE access_log SET reader = 'someone-else' WHERE subject = ?1 AND seq = 2", 1, 4},
      {"DELETE FROM access_log WHERE subject = ?1 AND seq = 4", -1, 3},
      {"DELETE FROM access_log WHERE subject = ?1 AND seq = 2", 1, 3},
      {"UPDATE access_heads SET n = 3 WHERE subject = ?1", -1, 4},
  };
  for (size_t i = 0; i < sizeof view_cases / sizeof view_cases[0]; i++) {
    struct fixture f;
    open_fixture(&f, "acc-view");
    tamper(&f, view_cases[i].sql, f.ana);
    json_t *log = NULL;
    bool intact = true;
    struct mes_err err;
    assert_int_equal(mes_recommend_access_log(f.rec, f.ana, MES_LANG_EN, &log, &intact, &err), MES_OK);
    if (intact)
      fail_msg("case %zu (%s): shown as intact", i, view_cases[i].sql);
    assert_int_equal(json_array_size(log), view_cases[i].n);
    for (size_t k = 0; k < json_array_size(log); k++)
      assert_int_equal(json_is_true(json_object_get(json_array_get(log, k), "altered")),
                       (int)k == view_cases[i].altered);
    json_decref(log);
    assert_int_equal(mes_recommend_access_log(f.rec, f.ben, MES_LANG_EN, &log, &intact, &err), MES_OK);
    assert_true(intact);
    assert_int_equal(json_array_size(log), 2);
    json_decref(log);
    close_fixture(&f);
  }
}

/* A chain whose head was deleted starts again from 1, and verification
 * still reports the subject: the old entries stand beside the new chain. */
static void test_a_deleted_head_stays_found(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-headless");
  tamper(&f, "DELETE FROM access_heads WHERE subject = ?1", f.ana);
  note(&f, f.ana, "ana", "shop", MES_ACCESS_RECOMMEND, 7);
  mes_recommender_flush(f.rec);
  assert_broken(&f, f.ana);
  close_fixture(&f);
}

/* Erasure takes the log and its head, and the writer's memory of them:
 * what is left verifies. */
static void test_erasure_removes_the_log(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-erase");
  /* The writer remembers both chains' heads and keys; forgetting ana (as
   * an erasure does first) wipes hers and leaves ben's. */
  assert_true(mes__rec_access_remembers(f.rec, f.ana));
  assert_true(mes__rec_access_remembers(f.rec, f.ben));
  mes_recommender_forget(f.rec, f.ana);
  assert_false(mes__rec_access_remembers(f.rec, f.ana));
  assert_true(mes__rec_access_remembers(f.rec, f.ben));
  struct mes_store_erased n;
  assert_int_equal(mes_store_subject_delete_counted(f.w.store, f.ana, &n), MES_OK);
  assert_int_equal(n.accesses, 4);
  struct mes_access_head h;
  assert_int_equal(mes_store_access_head_get(f.w.store, f.ana, &h), MES_ENOT_FOUND);
  struct mes_access_check c;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_verify(f.rec, &c, &err), MES_OK);
  assert_true(c.intact);
  assert_int_equal(c.subjects, 1);
  assert_int_equal(c.entries, 2);
  close_fixture(&f);
}

/* ---------------------------------------------------------------- retention */

#define DAY_MS 86400000LL

/* The sweep at the moment entries noted at T0 + k s, for k < cut_s, are
 * past the policy's retention (365 days by default). */
static int64_t sweep_at(struct fixture *f, int64_t cut_s) {
  struct mes_req c = f->w.req;
  c.now_ms = T0_MS + cut_s * 1000 + (int64_t)f->w.policy->rights.access_log_retention_days * DAY_MS;
  int64_t n = -1;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_sweep(f->rec, &c, &n, &err), MES_OK);
  return n;
}

static void assert_intact(struct fixture *f, int64_t subjects, int64_t entries) {
  struct mes_access_check c;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_verify(f->rec, &c, &err), MES_OK);
  if (!c.intact)
    fail_msg("not intact: #%lld at %lld: %s", (long long)c.bad_sid, (long long)c.bad_seq, c.problem);
  assert_int_equal(c.subjects, subjects);
  assert_int_equal(c.entries, entries);
}

/* The actions left in sid's log, as "recommend,export,...". */
static void actions_of(struct fixture *f, int64_t sid, char *out, size_t cap) {
  json_t *log = NULL;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_log(f->rec, sid, MES_LANG_EN, &log, NULL, &err), MES_OK);
  out[0] = '\0';
  for (size_t i = 0; i < json_array_size(log); i++)
    snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "",
             json_string_value(json_object_get(json_array_get(log, i), "action")));
  json_decref(log);
}

/* The sweep deletes the entries past retention, the oldest of each chain,
 * and what is kept still verifies, grows, and reads back. */
static void test_sweep_keeps_the_chain(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-sweep");
  /* ana: +1 recommend, +3 record | +4 export, +6 why; ben: +2 recommend | +5 profile. */
  assert_int_equal(sweep_at(&f, 1), 0); /* nothing is older than +1 s yet */
  assert_intact(&f, 2, 6);
  assert_int_equal(sweep_at(&f, 4), 3); /* ana's first two, ben's first */
  assert_intact(&f, 2, 3);
  char got[128];
  actions_of(&f, f.ana, got, sizeof got);
  assert_string_equal(got, "export,why");
  actions_of(&f, f.ben, got, sizeof got);
  assert_string_equal(got, "profile");
  struct mes_access_head h;
  assert_int_equal(mes_store_access_head_get(f.w.store, f.ana, &h), MES_OK);
  assert_int_equal(h.n, 4);
  assert_int_equal(h.first, 3);
  /* The chain goes on from where it was, and a second sweep moves the start again. */
  note(&f, f.ana, "ana", "shop", MES_ACCESS_RECOMMEND, 7);
  mes_recommender_flush(f.rec);
  assert_intact(&f, 2, 4);
  assert_int_equal(sweep_at(&f, 5), 1);
  assert_intact(&f, 2, 3);
  actions_of(&f, f.ana, got, sizeof got);
  assert_string_equal(got, "why,recommend");
  /* A sweep past every entry leaves heads and no entries: still intact, and a new read starts after them. */
  assert_int_equal(sweep_at(&f, 100), 3);
  assert_intact(&f, 2, 0);
  assert_int_equal(mes_store_access_head_get(f.w.store, f.ana, &h), MES_OK);
  assert_int_equal(h.first, 6);
  assert_int_equal(h.n, 5);
  note(&f, f.ana, "ana", "support", MES_ACCESS_PROFILE, 200);
  mes_recommender_flush(f.rec);
  assert_intact(&f, 2, 1);
  actions_of(&f, f.ana, got, sizeof got);
  assert_string_equal(got, "profile");
  close_fixture(&f);
}

/* After a sweep (ana keeps seq 3 and 4), each tampering with what is kept,
 * or with where the kept chain starts, is found. */
static const struct {
  const char *sql; /* ?1: ana's row id */
  int64_t seq;
  const char *problem;
} swept_cases[] = {
    {"DELETE FROM access_log WHERE subject = ?1 AND seq = 3", 3, "This entry was removed."},
    {"DELETE FROM access_log WHERE subject = ?1 AND seq = 4", 4,
     "Entries are missing at the end of this log (it was truncated)."},
    {"DELETE FROM access_log WHERE subject = ?1", 3, "Entries are missing at the end of this log (it was truncated)."},
    {"UPDATE access_log SET reader = 'x' WHERE subject = ?1 AND seq = 3", 3, "This entry was altered."},
    /* Moving the start forward by hand, over the entry it removes: the head's MAC covers the start. */
    {"UPDATE access_heads SET first = 4, base = (SELECT mac FROM access_log WHERE subject = ?1 AND seq = 3)"
     " WHERE subject = ?1",
     4, "The head of this log was altered."},
    {"UPDATE access_heads SET base = zeroblob(32) WHERE subject = ?1", 4, "The head of this log was altered."},
    /* Declaring the chain whole from the start again (the form of a head never swept). */
    {"UPDATE access_heads SET first = 1 WHERE subject = ?1", 4, "The head of this log was altered."},
};

static void test_tampering_after_a_sweep_is_found(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof swept_cases / sizeof swept_cases[0]; i++) {
    struct fixture f;
    char name[32];
    snprintf(name, sizeof name, "acc-swept-%zu", i);
    open_fixture(&f, name);
    assert_int_equal(sweep_at(&f, 4), 3);
    tamper(&f, swept_cases[i].sql, f.ana);
    struct mes_access_check c;
    struct mes_err err;
    assert_int_equal(mes_recommend_access_verify(f.rec, &c, &err), MES_OK);
    if (c.intact)
      fail_msg("case %zu (%s): not found", i, swept_cases[i].sql);
    assert_int_equal(c.bad_sid, f.ana);
    assert_int_equal(c.bad_seq, swept_cases[i].seq);
    assert_string_equal(c.problem, swept_cases[i].problem);
    close_fixture(&f);
  }
}

/* Putting back the head as it was before the sweep (a copy of it taken
 * then) does not make the swept chain pass for a whole one. */
static void test_an_old_head_does_not_hide_the_sweep_undone(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-oldhead");
  struct mes_access_head before;
  assert_int_equal(mes_store_access_head_get(f.w.store, f.ana, &before), MES_OK);
  assert_int_equal(sweep_at(&f, 4), 3);
  struct mes_access_head_put put = {.head = before, .was = before};
  assert_int_equal(mes_store_access_append(f.w.store, NULL, 0, &put, 1), MES_EEXISTS); /* not the stored head */
  tamper(&f, "UPDATE access_heads SET first = 1, base = NULL WHERE subject = ?1", f.ana);
  struct mes_access_head now;
  assert_int_equal(mes_store_access_head_get(f.w.store, f.ana, &now), MES_OK);
  put = (struct mes_access_head_put){.head = now, .was = now};
  memcpy(put.head.mac, before.mac, sizeof put.head.mac);
  assert_int_equal(mes_store_access_append(f.w.store, NULL, 0, &put, 1), MES_OK);
  struct mes_access_check c;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_verify(f.rec, &c, &err), MES_OK);
  assert_false(c.intact);
  assert_int_equal(c.bad_sid, f.ana);
  assert_int_equal(c.bad_seq, 1);
  assert_string_equal(c.problem, "This entry was removed.");
  close_fixture(&f);
}

/* A chain that does not verify is not swept: deleting its old entries would
 * delete the evidence. The others are. */
static void test_a_broken_chain_is_not_swept(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-sweep-broken");
  tamper(&f, "DELETE FROM access_log WHERE subject = ?1 AND seq = 2", f.ana);
  assert_int_equal(sweep_at(&f, 4), 1); /* ben's first entry only */
  struct mes_access_check c;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_verify(f.rec, &c, &err), MES_OK);
  assert_false(c.intact);
  assert_int_equal(c.bad_sid, f.ana);
  assert_int_equal(c.bad_seq, 2);
  assert_string_equal(c.problem, "This entry was removed.");
  char got[128];
  actions_of(&f, f.ana, got, sizeof got);
  assert_string_equal(got, "recommend,export,why");
  close_fixture(&f);
}

static int count_reader(void *ud, const char *pn_hex, const char *id, size_t id_len) {
  char *seen = ud;
  assert_int_equal(strlen(pn_hex), 16);
  strncat(seen, id ? id : "-", id ? id_len : 1);
  strcat(seen, ",");
  return 0;
}

static void test_incident_lists_readers(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-incident");
  char seen[64] = "";
  struct mes_err err;
  assert_int_equal(mes_recommend_access_incident(f.rec, "shop", T0_MS, true, count_reader, seen, &err), MES_OK);
  assert_string_equal(seen, "ana,ben,");
  seen[0] = '\0';
  assert_int_equal(mes_recommend_access_incident(f.rec, "support", T0_MS, false, count_reader, seen, &err), MES_OK);
  assert_string_equal(seen, "-,"); /* without reveal: the pseudonym alone */
  seen[0] = '\0';
  assert_int_equal(mes_recommend_access_incident(f.rec, "shop", T0_MS + 3000, true, count_reader, seen, &err), MES_OK);
  assert_string_equal(seen, "ana,"); /* ana's record read at +3 s; ben's last read by shop was at +2 s */
  close_fixture(&f);
}

/* ---------------------------------------------------------------- stored forms and writers */

/* Queues an entry sealed as logs written before the compact form held them:
 * a JSON document with the time, reader, action, purpose and id. */
static void note_json_form(struct fixture *f, int64_t sid, const char *doc, const char *reader, int action, int k) {
  uint8_t *sealed = NULL;
  size_t len = 0;
  assert_int_equal(mes_subject_seal(mes_world_subjects(&f->w), sid, "access", doc, strlen(doc), &sealed, &len),
                   MES_OK);
  char *r = strdup(reader);
  assert_non_null(r);
  mes__rec_enqueue_access(f->rec, sid, T0_MS + 1000LL * k, action, r, sealed, len);
}

/* A log that holds entries of both stored forms (JSON documents, and the
 * compact form every read is now noted in) verifies, reads back with each
 * entry's own reader, purpose and time, and reveals the id of either. */
static void test_both_stored_forms_read_and_verify(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-forms");
  note_json_form(&f, f.ana,
                 "{\"at\":1760000007000,\"reader\":\"auditor\",\"action\":\"record\",\"purpose\":\"audit\","
                 "\"subject\":\"ana\"}",
                 "auditor", MES_ACCESS_RECORD, 7);
  mes_recommender_flush(f.rec);
  struct mes_req c = f.w.req;
  c.actor = "auditor";
  c.now_ms = T0_MS + 8000;
  mes__rec_access_note_for(f.rec, &c, f.ana, NULL, 0, MES_ACCESS_RECORD, "audit"); /* compact, purpose not the action's */
  note(&f, f.ana, "ana", "shop", MES_ACCESS_RECOMMEND, 9);
  mes_recommender_flush(f.rec);
  assert_intact(&f, 2, 9);
  json_t *log = NULL;
  struct mes_err err;
  assert_int_equal(mes_recommend_access_log(f.rec, f.ana, MES_LANG_EN, &log, NULL, &err), MES_OK);
  assert_int_equal(json_array_size(log), 7);
  static const char *const want[][4] = {
      {"auditor", "record", "audit", "2025-10-09T08:53:27.000Z"},
      {"auditor", "record", "audit", "2025-10-09T08:53:28.000Z"},
      {"shop", "recommend", "personalization", "2025-10-09T08:53:29.000Z"},
  };
  for (size_t i = 0; i < 3; i++) {
    const json_t *e = json_array_get(log, 4 + i);
    assert_string_equal(json_string_value(json_object_get(e, "reader")), want[i][0]);
    assert_string_equal(json_string_value(json_object_get(e, "action")), want[i][1]);
    assert_string_equal(json_string_value(json_object_get(e, "purpose")), want[i][2]);
    assert_string_equal(json_string_value(json_object_get(e, "at")), want[i][3]);
  }
  assert_string_equal(json_string_value(json_object_get(json_array_get(log, 4), "text")),
                      "The key \u201cauditor\u201d read the record of a recommendation made for you.");
  json_decref(log);
  /* auditor's reads of ana: one of each form, and only the JSON one names her. */
  char seen[64] = "";
  assert_int_equal(mes_recommend_access_incident(f.rec, "auditor", T0_MS, true, count_reader, seen, &err), MES_OK);
  assert_string_equal(seen, "ana,");
  /* An entry of either form altered is found. */
  tamper(&f, "UPDATE access_log SET ts_ms = ts_ms + 1 WHERE subject = ?1 AND seq = 5", f.ana);
  struct mes_access_check chk;
  assert_int_equal(mes_recommend_access_verify(f.rec, &chk, &err), MES_OK);
  assert_false(chk.intact);
  assert_int_equal(chk.bad_seq, 5);
  assert_string_equal(chk.problem, "This entry was altered.");
  close_fixture(&f);
}

/* Two writers on one store (a server and a `mesura audit` beside it) extend
 * the same chains: the one whose remembered heads went stale meanwhile reads
 * them again, and every entry is chained once, in one chain per subject. */
static void test_two_writers_keep_one_chain(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-two-writers");
  struct mes_recommender *other = NULL;
  assert_int_equal(mes_recommender_new(f.w.store, NULL, mes_world_subjects(&f.w), mes_world_ledger(&f.w),
                                       mes_world_ingester(&f.w), mes_world_catalog(&f.w), &other),
                   MES_OK);
  for (int round = 0; round < 3; round++) {
    struct mes_req c = f.w.req;
    c.actor = "audit-run";
    c.now_ms = T0_MS + 10000 + round * 10;
    mes_recommender_access_note(other, &c, f.ana, "ana", 3, MES_ACCESS_AUDIT);
    mes_recommender_flush(other);
    note(&f, f.ana, "ana", "shop", MES_ACCESS_RECOMMEND, 11 + round);
    note(&f, f.ben, "ben", "shop", MES_ACCESS_RECOMMEND, 11 + round);
    mes_recommender_flush(f.rec);
  }
  mes_recommender_free(other);
  assert_intact(&f, 2, 6 + 9);
  char got[256];
  actions_of(&f, f.ana, got, sizeof got);
  assert_string_equal(got, "recommend,record,export,why,audit,recommend,audit,recommend,audit,recommend");
  close_fixture(&f);
}

/* An entry still queued when its subject is erased leaves nothing: no
 * entry, no head, and the rest verifies. */
static void test_a_read_queued_before_erasure_leaves_nothing(void **state) {
  (void)state;
  struct fixture f;
  open_fixture(&f, "acc-erased-queued");
  struct mes_store_erased n;
  assert_int_equal(mes_store_subject_delete_counted(f.w.store, f.ana, &n), MES_OK);
  assert_int_equal(mes_subject_shred(mes_world_subjects(&f.w), f.ana), MES_OK);
  uint8_t *sealed = malloc(48);
  assert_non_null(sealed);
  memset(sealed, 7, 48); /* sealed under a key since destroyed: what the bytes are is irrelevant */
  mes__rec_enqueue_access(f.rec, f.ana, T0_MS + 7000, MES_ACCESS_RECOMMEND, strdup("shop"), sealed, 48);
  note(&f, f.ben, "ben", "shop", MES_ACCESS_RECOMMEND, 8);
  mes_recommender_flush(f.rec);
  struct mes_access_head h;
  assert_int_equal(mes_store_access_head_get(f.w.store, f.ana, &h), MES_ENOT_FOUND);
  assert_intact(&f, 1, 3);
  close_fixture(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_intact_chains_verify),
      cmocka_unit_test(test_log_reads_back_in_order_and_language),
      cmocka_unit_test(test_tampering_is_found),
      cmocka_unit_test(test_tampered_chain_is_not_laundered),
      cmocka_unit_test(test_a_deleted_head_stays_found),
      cmocka_unit_test(test_the_persons_view_shows_tampering),
      cmocka_unit_test(test_erasure_removes_the_log),
      cmocka_unit_test(test_incident_lists_readers),
      cmocka_unit_test(test_sweep_keeps_the_chain),
      cmocka_unit_test(test_tampering_after_a_sweep_is_found),
      cmocka_unit_test(test_an_old_head_does_not_hide_the_sweep_undone),
      cmocka_unit_test(test_a_broken_chain_is_not_swept),
      cmocka_unit_test(test_both_stored_forms_read_and_verify),
      cmocka_unit_test(test_two_writers_keep_one_chain),
      cmocka_unit_test(test_a_read_queued_before_erasure_leaves_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
