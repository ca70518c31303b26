/*
 * Unit tests of impressions (src/lib/recommend/shown.c), what the
 * recommender showed a person, over a real store, master key and the
 * example policy: they are stored sealed and read back item by item, in
 * their window, and not at all once the key is shredded; and read through
 * the history cache (its second kind, src/lib/ingest/histcache.c), a read
 * hands out exactly what
 * the uncached read does, window by window and when the callback stops
 * early; an answer written since shows (read alone and merged in the store's
 * order, also one older than the cached ones); deletions show (the sweep, a
 * purge, rows deleted and others written between two reads, erasure), also
 * when a deleted row's id would have been handed to the next row without
 * the store's high-water mark; rows that cannot be opened are skipped as
 * without the cache; the byte cap holds; a cap of 0 reads as without one.
 *
 * Every comparison is against mes_recommender_shown_list of a recommender
 * over the world's ingester, which reads without the cache (plain), and of
 * one over f->cc, the same ingester with the cache (cached).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../ingest/cache_fixture.h"

#include "consent/consent.h"
#include "ingest/histcache.h"
#include "ingest/ingest.h"
#include "recommend/rec_int.h"
#include "store/store.h"
#include "subject/subject.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */
#define HOUR_MS 3600000LL

/* The two recommenders of a test (made by setup, freed by teardown_shown
 * before the world closes). */
static struct mes_recommender *plain, *cached;

static struct mes_recommender *new_rec(struct mes_world *w, struct mes_ingester *ing) {
  struct mes_recommender *r = NULL;
  assert_int_equal(
      mes_recommender_new(w->store, NULL, mes_world_subjects(w), mes_world_ledger(w), ing, mes_world_catalog(w), &r),
      MES_OK);
  return r;
}

static int setup(void **state) {
  cache_fixture_open(state, "shown", T0_MS);
  struct fixture *f = *state;
  plain = new_rec(&f->w, mes_world_ingester(&f->w));
  cached = new_rec(&f->w, f->cc);
  return 0;
}

static int teardown_shown(void **state) {
  mes_recommender_free(cached);
  mes_recommender_free(plain);
  cached = plain = NULL;
  return teardown(state);
}

/* ------------------------------------------------------------ helpers */

/* A subject with a key (granting personalization makes both). */
static int64_t subject(struct fixture *f, const char *name) {
  json_error_t je;
  json_t *body = json_loads("{\"status\": \"granted\"}", 0, &je), *receipt = NULL;
  assert_non_null(body);
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_consent_record(mes_world_ledger(&f->w), &f->w.req, name, strlen(name), "personalization",
                              strlen("personalization"), body, &receipt, &err);
  if (rc)
    fail_msg("consent %s: %s (%s)", name, mes_rc_code(rc), mes_err_text(&err));
  json_decref(receipt);
  json_decref(body);
  struct mes_subject s;
  assert_int_equal(
      mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, name, strlen(name), false, &s), MES_OK);
  return s.row.id;
}

/* Writes one answer's impression row, as the recommender's writer does. */
static void shown(struct fixture *f, int64_t sid, const char *const *items, size_t n, int channel, int64_t ts) {
  uint8_t *sealed = NULL;
  size_t len = 0;
  assert_int_equal(mes__rec_shown_seal(plain, sid, items, n, &sealed, &len), MES_OK);
  struct mes_impression_row row = {.sid = sid, .ts_ms = ts, .channel = channel, .sealed = sealed, .sealed_len = len};
  assert_int_equal(mes_store_impression_add(f->w.store, &row), MES_OK);
  free(sealed);
}

static void shown1(struct fixture *f, int64_t sid, const char *item, int channel, int64_t ts) {
  shown(f, sid, &item, 1, channel, ts);
}

struct seen {
  json_t *items; /* [item, channel, ts] of each call, in order */
  size_t limit;  /* stop after this many (0: never) */
};

static int collect(void *ud, const char *item, int channel, int64_t ts_ms) {
  struct seen *s = ud;
  json_array_append_new(s->items, json_pack("[s, i, I]", item, channel, (json_int_t)ts_ms));
  return s->limit && json_array_size(s->items) >= s->limit;
}

/* What c reads of sid's impressions since since_ms, as JSON text (new). */
static char *read_limit(struct mes_recommender *r, int64_t sid, int64_t since_ms, size_t limit) {
  struct seen s = {json_array(), limit};
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_recommender_shown_list(r, sid, since_ms, collect, &s, &err);
  if (rc)
    fail_msg("shown_list: %s", mes_rc_code(rc));
  char *text = json_dumps(s.items, JSON_COMPACT);
  json_decref(s.items);
  assert_non_null(text);
  return text;
}

/* The cached read equals the uncached one (for since_ms), and equals want
 * when want is not NULL. */
static void same_limit(struct fixture *f, int64_t sid, int64_t since_ms, size_t limit, const char *want) {
  char *from_store = read_limit(plain, sid, since_ms, limit);
  char *from_cache = read_limit(cached, sid, since_ms, limit);
  assert_string_equal(from_cache, from_store);
  if (want)
    assert_string_equal(from_cache, want);
  free(from_store);
  free(from_cache);
}

static void same(struct fixture *f, int64_t sid, const char *want) { same_limit(f, sid, INT64_MIN, 0, want); }

static struct mes_histcache_stats stats(struct fixture *f) {
  struct mes_histcache_stats st;
  mes_histcache_stats(f->hc, &st);
  return st;
}

/* ------------------------------------------------------------ tests */

/* What one answer showed a person is kept sealed with their key (no item id
 * in the stored row), reads back item by item with its channel and time,
 * respects the window, and is gone once the key is shredded. */
static int row_has_no_item(void *ud, const struct mes_impression_row *row) {
  (void)ud;
  for (size_t i = 0; i + 7 <= row->sealed_len; i++)
    assert_true(memcmp(row->sealed + i, "tent-2p", 7) != 0);
  return 0;
}

static void test_sealed(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u0");
  const char *first[] = {"tent-2p", "stove"}, *second[] = {"tent-2p"};
  shown(f, sid, first, 2, MES_CH_WEB, T0_MS - 48 * HOUR_MS);
  shown(f, sid, second, 1, MES_CH_EMAIL, T0_MS);
  assert_int_equal(mes_store_impression_list(f->w.store, sid, 0, row_has_no_item, NULL), MES_OK);
  char want[256];
  snprintf(want, sizeof want, "[[\"tent-2p\",%d,%lld],[\"stove\",%d,%lld],[\"tent-2p\",%d,%lld]]", MES_CH_WEB,
           T0_MS - 48 * HOUR_MS, MES_CH_WEB, T0_MS - 48 * HOUR_MS, MES_CH_EMAIL, T0_MS);
  same_limit(f, sid, 0, 0, want);
  snprintf(want, sizeof want, "[[\"tent-2p\",%d,%lld]]", MES_CH_EMAIL, T0_MS);
  same_limit(f, sid, T0_MS - 24 * HOUR_MS, 0, want);
  /* Shredding the key makes every copy unreadable: nothing reads back. */
  assert_int_equal(mes_subject_shred(mes_world_subjects(&f->w), sid), MES_OK);
  same_limit(f, sid, 0, 0, "[]");
}

/* Several answers, ties in time, two channels: every window and every early
 * stop reads the same from the cache as from the store; the second read of
 * an unchanged subject is a hit. */
static void test_same_as_uncached(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u1");
  const char *a[] = {"tent", "stove"}, *b[] = {"lamp"}, *c[] = {"rope", "tent", "mat"};
  shown(f, sid, a, 2, MES_CH_WEB, T0_MS - 50 * HOUR_MS);
  shown(f, sid, c, 3, MES_CH_EMAIL, T0_MS - 2 * HOUR_MS);
  shown(f, sid, b, 1, MES_CH_WEB, T0_MS - 2 * HOUR_MS); /* same time: the store's order is by id then */
  shown(f, sid, b, 1, MES_CH_APP, T0_MS);

  char want[512];
  snprintf(want, sizeof want,
           "[[\"tent\",%d,%lld],[\"stove\",%d,%lld],[\"rope\",%d,%lld],[\"tent\",%d,%lld],[\"mat\",%d,%lld],"
           "[\"lamp\",%d,%lld],[\"lamp\",%d,%lld]]",
           MES_CH_WEB, T0_MS - 50 * HOUR_MS, MES_CH_WEB, T0_MS - 50 * HOUR_MS, MES_CH_EMAIL, T0_MS - 2 * HOUR_MS,
           MES_CH_EMAIL, T0_MS - 2 * HOUR_MS, MES_CH_EMAIL, T0_MS - 2 * HOUR_MS, MES_CH_WEB, T0_MS - 2 * HOUR_MS,
           MES_CH_APP, T0_MS);
  same(f, sid, want); /* a miss, then kept */
  struct mes_histcache_stats st = stats(f);
  assert_int_equal(st.shown_misses, 1);
  assert_int_equal(st.entries, 1);
  assert_int_equal(st.hits + st.misses, 0); /* the events' counters are apart */

  /* Windows: each read filters the one entry. */
  static const int64_t since[] = {INT64_MIN, 0, T0_MS - 50 * HOUR_MS, T0_MS - 50 * HOUR_MS + 1, T0_MS - 2 * HOUR_MS,
                                  T0_MS, T0_MS + 1};
  for (size_t i = 0; i < sizeof since / sizeof since[0]; i++)
    same_limit(f, sid, since[i], 0, NULL);
  same_limit(f, sid, T0_MS + 1, 0, "[]");
  /* A callback that stops: the same prefix. */
  for (size_t limit = 1; limit <= 7; limit++)
    same_limit(f, sid, T0_MS - 3 * HOUR_MS, limit, NULL);
  st = stats(f);
  assert_int_equal(st.shown_misses, 1);
  assert_int_equal(st.shown_hits, 7 + 1 + 7);
  assert_int_equal(st.shown_stale, 0);

  /* A subject with nothing shown: nothing read, nothing kept. */
  int64_t other = subject(f, "u2");
  same(f, other, "[]");
  assert_int_equal(stats(f).entries, 1);
}

/* An answer written since the entry was read shows at once: read alone and
 * merged in the store's order, also when its time is older than the cached
 * rows' (a clock that went back) or ties with them. */
static void test_new_impression_appears(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u3");
  shown1(f, sid, "a", MES_CH_WEB, T0_MS - 10 * HOUR_MS);
  shown1(f, sid, "b", MES_CH_WEB, T0_MS - 5 * HOUR_MS);
  same(f, sid, NULL);
  shown1(f, sid, "c", MES_CH_APP, T0_MS);
  char want[256];
  snprintf(want, sizeof want, "[[\"a\",%d,%lld],[\"b\",%d,%lld],[\"c\",%d,%lld]]", MES_CH_WEB, T0_MS - 10 * HOUR_MS,
           MES_CH_WEB, T0_MS - 5 * HOUR_MS, MES_CH_APP, T0_MS);
  same(f, sid, want);
  struct mes_histcache_stats st = stats(f);
  assert_int_equal(st.shown_stale, 1);
  assert_int_equal(st.shown_appended, 1);
  same(f, sid, want); /* the completed entry is the subject's entry now */
  assert_int_equal(stats(f).shown_hits, st.shown_hits + 1);

  /* Older than every cached row, tied with one, and two at once. */
  shown1(f, sid, "early", MES_CH_WEB, T0_MS - 20 * HOUR_MS);
  shown1(f, sid, "tie", MES_CH_WEB, T0_MS - 5 * HOUR_MS);
  same(f, sid, NULL);
  char *text = read_limit(cached, sid, INT64_MIN, 0);
  assert_non_null(strstr(text, "[[\"early\""));
  char pair[96];
  snprintf(pair, sizeof pair, "[\"b\",%d,%lld],[\"tie\"", MES_CH_WEB, T0_MS - 5 * HOUR_MS);
  assert_non_null(strstr(text, pair)); /* the tie after b: its id is larger */
  free(text);
  assert_int_equal(stats(f).shown_appended, 2);
  same_limit(f, sid, T0_MS - 6 * HOUR_MS, 0, NULL);
}

/* The sweep, a purge, erasure: what the store no longer holds is never read
 * from memory. */
static void test_deletions_show(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u4");
  shown1(f, sid, "old", MES_CH_WEB, T0_MS - 100 * HOUR_MS);
  shown1(f, sid, "new", MES_CH_WEB, T0_MS - HOUR_MS);
  same(f, sid, NULL);
  int64_t n = 0;
  assert_int_equal(mes_store_impression_sweep(f->w.store, T0_MS - 72 * HOUR_MS, &n), MES_OK);
  assert_int_equal(n, 1);
  char want[128];
  snprintf(want, sizeof want, "[[\"new\",%d,%lld]]", MES_CH_WEB, T0_MS - HOUR_MS);
  same(f, sid, want);

  /* A purge (withdrawal): empty, and the entry is gone. */
  assert_int_equal(mes_store_impression_purge(f->w.store, sid, &n), MES_OK);
  assert_int_equal(n, 1);
  same(f, sid, "[]");
  assert_int_equal(stats(f).entries, 0);

  /* Erasure: the key shredded reads as nothing shown, from the cache too. */
  shown1(f, sid, "again", MES_CH_WEB, T0_MS);
  same(f, sid, NULL);
  assert_int_equal(stats(f).entries, 1);
  assert_int_equal(mes_subject_shred(mes_world_subjects(&f->w), sid), MES_OK);
  same(f, sid, "[]");
  assert_int_equal(stats(f).entries, 0); /* dropped when the key was found gone */

  /* mes_histcache_forget takes both of a subject's entries. */
  int64_t s2 = subject(f, "u5");
  shown1(f, s2, "x", MES_CH_WEB, T0_MS);
  same(f, s2, NULL);
  assert_int_equal(stats(f).entries, 1);
  mes_histcache_forget(f->hc, s2);
  assert_int_equal(stats(f).entries, 0);
  same(f, s2, NULL);
  /* The subject deleted with their rows. */
  assert_int_equal(mes_store_subject_delete(f->w.store, s2), MES_OK);
  same(f, s2, "[]");
}

/* Rows deleted and others written between two reads: the entry is not
 * completed (the rows above its largest id are not the whole difference)
 * but read again. */
static void test_delete_and_insert_between_reads(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u6");
  shown1(f, sid, "a", MES_CH_WEB, T0_MS - 100 * HOUR_MS);
  shown1(f, sid, "b", MES_CH_WEB, T0_MS - HOUR_MS);
  same(f, sid, NULL);
  /* One out (the sweep), one in: the same count, a larger id. */
  int64_t n = 0;
  assert_int_equal(mes_store_impression_sweep(f->w.store, T0_MS - 72 * HOUR_MS, &n), MES_OK);
  shown1(f, sid, "c", MES_CH_WEB, T0_MS - 90 * HOUR_MS);
  char want[128];
  snprintf(want, sizeof want, "[[\"c\",%d,%lld],[\"b\",%d,%lld]]", MES_CH_WEB, T0_MS - 90 * HOUR_MS, MES_CH_WEB,
           T0_MS - HOUR_MS);
  same(f, sid, want);
  assert_int_equal(stats(f).shown_appended, 0);
  /* One in alone: completed. */
  shown1(f, sid, "d", MES_CH_WEB, T0_MS);
  same(f, sid, NULL);
  assert_int_equal(stats(f).shown_appended, 1);
  /* One out, two in: more rows, but not the two above the entry's ids alone. */
  assert_int_equal(mes_store_impression_sweep(f->w.store, T0_MS - 72 * HOUR_MS, &n), MES_OK);
  assert_int_equal(n, 1); /* c */
  shown1(f, sid, "e", MES_CH_WEB, T0_MS);
  shown1(f, sid, "f", MES_CH_WEB, T0_MS);
  snprintf(want, sizeof want, "[[\"b\",%d,%lld],[\"d\",%d,%lld],[\"e\",%d,%lld],[\"f\",%d,%lld]]", MES_CH_WEB,
           T0_MS - HOUR_MS, MES_CH_WEB, T0_MS, MES_CH_WEB, T0_MS, MES_CH_WEB, T0_MS);
  same(f, sid, want);
  assert_int_equal(stats(f).shown_appended, 1);
  assert_int_equal(stats(f).shown_stale, 3);
}

static int max_id(void *ud, const struct mes_impression_row *row) {
  int64_t *m = ud;
  if (row->id > *m)
    *m = row->id;
  return 0;
}

/* The largest row of the table deleted, then a new row of the same subject:
 * without the high-water mark SQLite would give it the deleted row's id, the
 * stamp would read the same, and the cache would answer with the deleted
 * row. Ids only grow, across every kind of deletion. */
static void test_ids_never_reused(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u7");
  shown1(f, sid, "first", MES_CH_WEB, T0_MS - 100 * HOUR_MS);
  same(f, sid, NULL);
  int64_t id1 = 0, id2 = 0, id3 = 0, id4 = 0, n = 0;
  assert_int_equal(mes_store_impression_list(f->w.store, sid, INT64_MIN, max_id, &id1), MES_OK);
  assert_true(id1 > 0);
  assert_int_equal(mes_store_impression_sweep(f->w.store, T0_MS - 72 * HOUR_MS, &n), MES_OK);
  assert_int_equal(n, 1);
  shown1(f, sid, "second", MES_CH_WEB, T0_MS);
  char want[128];
  snprintf(want, sizeof want, "[[\"second\",%d,%lld]]", MES_CH_WEB, T0_MS);
  same(f, sid, want);
  assert_int_equal(mes_store_impression_list(f->w.store, sid, INT64_MIN, max_id, &id2), MES_OK);
  assert_true(id2 > id1);
  /* A purge, then a new answer. */
  assert_int_equal(mes_store_impression_purge(f->w.store, sid, &n), MES_OK);
  shown1(f, sid, "third", MES_CH_WEB, T0_MS);
  snprintf(want, sizeof want, "[[\"third\",%d,%lld]]", MES_CH_WEB, T0_MS);
  same(f, sid, want);
  assert_int_equal(mes_store_impression_list(f->w.store, sid, INT64_MIN, max_id, &id3), MES_OK);
  assert_true(id3 > id2);
  /* Another subject deleted whole while holding the largest row. */
  int64_t s2 = subject(f, "u8");
  shown1(f, s2, "theirs", MES_CH_WEB, T0_MS);
  int64_t theirs = 0;
  assert_int_equal(mes_store_impression_list(f->w.store, s2, INT64_MIN, max_id, &theirs), MES_OK);
  assert_int_equal(mes_store_subject_delete(f->w.store, s2), MES_OK);
  shown1(f, sid, "fourth", MES_CH_WEB, T0_MS);
  assert_int_equal(mes_store_impression_list(f->w.store, sid, INT64_MIN, max_id, &id4), MES_OK);
  assert_true(id4 > theirs);
  same(f, sid, NULL);
}

/* A row that cannot be opened is skipped, as without the cache. */
static void test_unreadable_row(void **state) {
  struct fixture *f = *state;
  int64_t sid = subject(f, "u9");
  shown1(f, sid, "a", MES_CH_WEB, T0_MS - 2 * HOUR_MS);
  static const uint8_t junk[64] = {1, 2, 3};
  struct mes_impression_row row = {.sid = sid, .ts_ms = T0_MS - HOUR_MS, .channel = MES_CH_WEB, .sealed = junk,
                                   .sealed_len = sizeof junk};
  assert_int_equal(mes_store_impression_add(f->w.store, &row), MES_OK);
  shown1(f, sid, "b", MES_CH_WEB, T0_MS);
  char want[128];
  snprintf(want, sizeof want, "[[\"a\",%d,%lld],[\"b\",%d,%lld]]", MES_CH_WEB, T0_MS - 2 * HOUR_MS, MES_CH_WEB,
           T0_MS);
  same(f, sid, want);
  same(f, sid, want); /* a hit */
  assert_int_equal(stats(f).shown_hits, 1);
}

/* A small cap: entries beyond it are evicted, the bytes stay under it, and
 * every subject still reads right. */
static void test_cap(void **state) {
  struct fixture *f = *state;
  size_t cap = 16 * 4096; /* 4 KiB per shard: about ten entries of ~400 bytes each */
  mes_histcache_set_cap(f->hc, cap);
  enum { N = 300 };
  int64_t sids[N];
  for (int i = 0; i < N; i++) {
    char name[16];
    snprintf(name, sizeof name, "c%d", i);
    sids[i] = subject(f, name);
    for (int k = 0; k < 6; k++) {
      char item[32];
      snprintf(item, sizeof item, "item-%d-%d", i, k);
      shown1(f, sids[i], item, MES_CH_WEB, T0_MS - k * HOUR_MS);
    }
  }
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < N; i++) {
      same(f, sids[i], NULL);
      struct mes_histcache_stats st = stats(f);
      assert_true(st.bytes <= cap);
    }
  struct mes_histcache_stats st = stats(f);
  assert_true(st.evictions > 0);
  assert_true(st.entries > 0 && st.entries < N);
}

/* A cap of 0: reads as without a cache, keeps nothing, counts nothing. */
static void test_off(void **state) {
  struct fixture *f = *state;
  mes_histcache_set_cap(f->hc, 0);
  int64_t sid = subject(f, "u10");
  shown1(f, sid, "a", MES_CH_WEB, T0_MS);
  same(f, sid, NULL);
  same(f, sid, NULL);
  struct mes_histcache_stats st = stats(f);
  assert_int_equal(st.shown_hits + st.shown_misses + st.shown_stale + st.entries + st.bytes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sealed, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_same_as_uncached, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_new_impression_appears, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_deletions_show, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_delete_and_insert_between_reads, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_ids_never_reused, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_unreadable_row, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_cap, setup, teardown_shown),
      cmocka_unit_test_setup_teardown(test_off, setup, teardown_shown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
