/*
 * Unit tests of the history cache (src/lib/ingest/histcache.c) as
 * mes_ingest_history uses it, over a real store, master key and the example
 * policy: a cached read hands out exactly what the uncached read does (also
 * after a policy change), and follows the store through new events,
 * rectification, purges on withdrawal, the retention sweep, erasure (key
 * shredded, rows deleted, mes_histcache_forget); the byte cap holds while
 * evicted subjects still read right; a cap of 0 reads as without a cache;
 * several threads read while one writes and another forgets (run it under
 * ASan: build with -DMESURA_SANITIZE=ON); a request that holds the cache's
 * records (mes_ingest_history_open) keeps them whole while the entry goes
 * stale or is forgotten.
 *
 * Every comparison is against mes_ingest_history on a context without the
 * cache (the world's ingester); f->cc is the same ingester with the cache.
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

#include <pthread.h>

#include "cache_fixture.h"
#include "ingest_helpers.h"

#include "base/mtime.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "ingest/histcache.h"
#include "ingest/ingest.h"
#include "ingest/ingest_int.h" /* the cache's internal steps, for the race a forget must win */
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */
#define DAY_MS 86400000LL

static int setup(void **state) { return cache_fixture_open(state, "histcache", T0_MS); }

/* ------------------------------------------------------------ helpers */

static void consent(struct fixture *f, const char *subject, const char *purpose, const char *status) {
  consent_on(mes_world_ledger(&f->w), &f->w.req, subject, purpose, status);
}

/* Ingests body_text (every event must be stored). */
static void ingest_on(struct mes_ingester *ing, const struct mes_req *c, const char *body_text) {
  json_t *reply = ingest_reply(ing, c, body_text);
  json_int_t accepted = json_integer_value(json_object_get(reply, "accepted"));
  json_int_t stored = json_integer_value(json_object_get(reply, "stored"));
  json_decref(reply);
  if (accepted != stored || accepted == 0)
    fail_msg("ingest: %lld accepted, %lld stored: %s", (long long)accepted, (long long)stored, body_text);
}

static void ingest(struct fixture *f, const char *body_text) {
  ingest_on(mes_world_ingester(&f->w), &f->w.req, body_text);
}

struct got {
  json_t *events; /* every field of every event, in order */
  int64_t sid;
  bool bad;       /* a field broke the callback's contract */
  size_t limit;   /* stop after this many (0: never) */
};

static int collect(void *ud, const struct mes_evrec *ev) {
  struct got *g = ud;
  g->bad |= ev->sid != g->sid || (ev->item && strlen(ev->item) != ev->item_len) || (!ev->item && ev->item_len);
  json_array_append_new(g->events,
                        json_pack("{s:I, s:I, s:i, s:I, s:I, s:i, s:i, s:s?, s:I}", "id", (json_int_t)ev->id, "sid",
                                  (json_int_t)ev->sid, "type", ev->type, "ts", (json_int_t)ev->ts_ms, "purposes",
                                  (json_int_t)ev->purposes, "source", (int)ev->source, "channel", ev->channel, "item",
                                  ev->item, "item_len", (json_int_t)ev->item_len));
  return g->limit && json_array_size(g->events) >= g->limit;
}

/* Reads sid's history through c: the return code, *out the events as JSON
 * text (new; free it). */
static int read_text_limit(struct mes_ingester *ing, const struct mes_req *c, int64_t sid, size_t limit, char **out) {
  struct got g = {json_array(), sid, false, limit};
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_ingest_history(ing, c, sid, collect, &g, &err);
  assert_false(g.bad);
  *out = json_dumps(g.events, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(g.events);
  assert_non_null(*out);
  return rc;
}

static int read_text(struct mes_ingester *ing, const struct mes_req *c, int64_t sid, char **out) {
  return read_text_limit(ing, c, sid, 0, out);
}

/* The cached read of sid equals the uncached one (codes and events); returns
 * how many events there were. */
static size_t same_as_store(struct fixture *f, int64_t sid) {
  char *plain = NULL, *cached = NULL;
  int rc_plain = read_text(mes_world_ingester(&f->w), &f->w.req, sid, &plain);
  int rc_cached = read_text(f->cc, &f->w.req, sid, &cached);
  assert_int_equal(rc_cached, rc_plain);
  assert_string_equal(cached, plain);
  json_t *a = json_loads(plain, 0, NULL);
  size_t n = json_array_size(a);
  json_decref(a);
  free(plain);
  free(cached);
  return n;
}

static struct mes_histcache_stats stats(struct fixture *f) {
  struct mes_histcache_stats st;
  mes_histcache_stats(f->hc, &st);
  return st;
}

/* Hits, misses and stale reads since the last call. */
struct delta {
  uint64_t hits, misses, stale;
};
static struct delta since(struct fixture *f, struct mes_histcache_stats *last) {
  struct mes_histcache_stats now = stats(f);
  struct delta d = {now.hits - last->hits, now.misses - last->misses, now.stale - last->stale};
  *last = now;
  return d;
}

/* d is evaluated once (it is usually a call to since). */
#define EXPECT(d, h, m, s)                                                                                            \
  do {                                                                                                                \
    struct delta d_ = (d);                                                                                            \
    assert_int_equal(d_.hits, (h));                                                                                   \
    assert_int_equal(d_.misses, (m));                                                                                 \
    assert_int_equal(d_.stale, (s));                                                                                  \
  } while (0)

/* A history of every kind of field: an item id that needs unescaping,
 * channels and none, a search without an item, a zero-party event, events
 * sent out of time order. */
static const char *const HISTORY =
    "{\"events\": ["
    "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"tent \\\"2p\\\" \\\\ \\u00e9t\\u00e9\", "
    "\"channel\": \"app\", \"ts\": \"2026-11-20T20:00:00Z\", \"properties\": {\"duration_s\": 3}},"
    "{\"subject\": \"u1\", \"type\": \"search\", \"query\": \"tents\", \"ts\": \"2026-11-20T19:00:00Z\"},"
    "{\"subject\": \"u1\", \"type\": \"purchase\", \"item\": \"b\", \"channel\": \"store\", \"event_id\": \"p-1\", "
    "\"ts\": \"2026-11-20T20:30:00Z\"},"
    "{\"subject\": \"u1\", \"type\": \"click\", \"item\": \"c\", \"source\": \"zero_party\", "
    "\"ts\": \"2026-11-20T18:00:00Z\"},"
    "{\"subject\": \"u1\", \"type\": \"add_to_cart\", \"item\": \"d\", \"channel\": \"web\", "
    "\"ts\": \"2026-11-20T20:30:00Z\"}]}";

/* u1, who granted personalization and holds HISTORY's five events: its id. */
static int64_t u1_with_history(struct fixture *f) {
  consent(f, "u1", "personalization", "granted");
  ingest(f, HISTORY);
  return sid_on(mes_world_subjects(&f->w), &f->w.req, "u1");
}

/* ------------------------------------------------------------ tests */

/* The first cached read misses, the next ones hit, and every one hands out
 * what the store read does: same events, order, fields. */
static void test_replay_equals_uncached(void **state) {
  struct fixture *f = *state;
  int64_t sid = u1_with_history(f);
  struct mes_histcache_stats last = {0};
  assert_int_equal(same_as_store(f, sid), 5);
  EXPECT(since(f, &last), 0, 1, 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(same_as_store(f, sid), 5);
  EXPECT(since(f, &last), 3, 0, 0);
  struct mes_histcache_stats st = stats(f);
  assert_int_equal(st.entries, 1);
  assert_true(st.bytes > 5 * 16 && st.bytes <= st.cap_bytes);

  /* A callback that stops early gets the same prefix. */
  char *plain = NULL, *cached = NULL;
  assert_int_equal(read_text_limit(mes_world_ingester(&f->w), &f->w.req, sid, 2, &plain), MES_OK);
  assert_int_equal(read_text_limit(f->cc, &f->w.req, sid, 2, &cached), MES_OK);
  assert_string_equal(cached, plain);
  json_t *two = json_loads(cached, 0, NULL);
  assert_int_equal(json_array_size(two), 2);
  json_decref(two);
  free(plain);
  free(cached);

  /* A subject with no events reads as nothing, cached or not, and is not kept. */
  consent(f, "u2", "personalization", "granted");
  assert_int_equal(same_as_store(f, sid_on(mes_world_subjects(&f->w), &f->w.req, "u2")), 0);
  assert_int_equal(stats(f).entries, 1);
}

/* Types are mapped with the policy of each read, not of the one that filled
 * the cache: after a reload without "search" and "purchase", both reads say
 * -1 for those events and the cache still hits. */
static void test_replay_maps_types_with_current_policy(void **state) {
  struct fixture *f = *state;
  int64_t sid = u1_with_history(f);
  assert_int_equal(same_as_store(f, sid), 5);
  static const char fewer[] = "purposes:\n  personalization: {}\n"
                              "event_types:\n"
                              "  view: {purposes: [personalization], retention_days: 30}\n"
                              "  click: {purposes: [personalization], retention_days: 30}\n";
  struct mes_policy *p = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_policy_load_buf("mesura.yaml", fewer, strlen(fewer), &p, &err), MES_OK);
  f->w.req.policy = p;
  struct mes_histcache_stats last = stats(f);
  assert_int_equal(same_as_store(f, sid), 5);
  EXPECT(since(f, &last), 1, 0, 0);
  char *text = NULL;
  assert_int_equal(read_text(f->cc, &f->w.req, sid, &text), MES_OK);
  assert_non_null(strstr(text, "\"type\":-1")); /* add_to_cart, purchase and search are unknown now */
  free(text);
  f->w.req.policy = f->w.policy;
  mes_policy_free(p);
}

/* An event ingested after the first read is in the next one. */
static void test_new_event_appears(void **state) {
  struct fixture *f = *state;
  int64_t sid = u1_with_history(f);
  struct mes_histcache_stats last = {0};
  assert_int_equal(same_as_store(f, sid), 5);
  assert_int_equal(same_as_store(f, sid), 5);
  EXPECT(since(f, &last), 1, 1, 0);
  /* Backdated: it lands in the middle of the history, not at the end. */
  ingest(f, "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"new\", \"ts\": \"2026-11-20T19:30:00Z\"}");
  assert_int_equal(same_as_store(f, sid), 6);
  EXPECT(since(f, &last), 0, 0, 1);
  assert_int_equal(same_as_store(f, sid), 6);
  EXPECT(since(f, &last), 1, 0, 0);
  char *text = NULL;
  assert_int_equal(read_text(f->cc, &f->w.req, sid, &text), MES_OK);
  assert_non_null(strstr(text, "\"item\":\"new\""));
  free(text);
  EXPECT(since(f, &last), 1, 0, 0);
  /* A retry of an event already stored changes nothing: still a hit. */
  ingest(f, "{\"subject\": \"u1\", \"type\": \"purchase\", \"item\": \"b\", \"event_id\": \"p-1\"}");
  assert_int_equal(same_as_store(f, sid), 6);
  EXPECT(since(f, &last), 1, 0, 0);
}

/* Rectification (one event forgotten), a purge on withdrawal and the
 * retention sweep all leave the cache in step with the store. */
static void test_deleted_purged_swept_disappear(void **state) {
  struct fixture *f = *state;
  consent(f, "u1", "personalization", "granted");
  consent(f, "u1", "ads_retargeting", "granted");
  ingest(f, HISTORY);
  ingest(f, "{\"events\": ["
            "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"old-view\", \"ts\": \"2026-06-01T10:00:00Z\"},"
            "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"both\", \"ts\": \"2026-11-20T17:00:00Z\"}]}");
  int64_t sid = sid_on(mes_world_subjects(&f->w), &f->w.req, "u1");
  struct mes_histcache_stats last = {0};
  assert_int_equal(same_as_store(f, sid), 7);
  assert_int_equal(same_as_store(f, sid), 7);
  EXPECT(since(f, &last), 1, 1, 0);

  /* Rectification: DELETE .../events/p-1. */
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "u1", 2, false, &s),
                   MES_OK);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_forget(mes_world_ingester(&f->w), &s, "p-1", 3, &err), MES_OK);
  assert_int_equal(same_as_store(f, sid), 6);
  EXPECT(since(f, &last), 0, 0, 1);
  char *text = NULL;
  assert_int_equal(read_text(f->cc, &f->w.req, sid, &text), MES_OK);
  assert_null(strstr(text, "\"item\":\"b\""));
  free(text);

  /* Withdrawal of personalization purges what serves nothing else: the
   * search and the click go, the views and the cart (ads too) stay. */
  assert_int_equal(same_as_store(f, sid), 6);
  consent(f, "u1", "personalization", "denied");
  assert_int_equal(same_as_store(f, sid), 4);
  assert_int_equal(read_text(f->cc, &f->w.req, sid, &text), MES_OK);
  assert_null(strstr(text, "\"item\":\"c\""));
  assert_null(strstr(text, "\"item\":null"));
  free(text);

  /* The retention sweep (views: 180 days), ten days later, takes the old view. */
  assert_int_equal(same_as_store(f, sid), 4);
  since(f, &last);
  int64_t n = -1;
  struct mes_req later = f->w.req;
  later.now_ms += 10 * DAY_MS;
  assert_int_equal(mes_ingest_sweep(mes_world_ingester(&f->w), &later, &n, &err), MES_OK);
  assert_int_equal(n, 1);
  assert_int_equal(same_as_store(f, sid), 3);
  EXPECT(since(f, &last), 0, 0, 1);
  assert_int_equal(read_text(f->cc, &f->w.req, sid, &text), MES_OK);
  assert_null(strstr(text, "old-view"));
  free(text);
}

/* Erasure: with the key shredded the cached read says erased and drops the
 * entry; a subject whose key is gone is never cached; once the rows are gone
 * too the read is empty; mes_histcache_forget takes an entry out at once. */
static void test_erased(void **state) {
  struct fixture *f = *state;
  consent(f, "u1", "personalization", "granted");
  consent(f, "u2", "personalization", "granted");
  ingest(f, HISTORY);
  ingest(f, "{\"subject\": \"u2\", \"type\": \"view\", \"item\": \"x\"}");
  int64_t sid = sid_on(mes_world_subjects(&f->w), &f->w.req, "u1"),
          sid2 = sid_on(mes_world_subjects(&f->w), &f->w.req, "u2");
  assert_int_equal(same_as_store(f, sid), 5);
  assert_int_equal(same_as_store(f, sid2), 1);
  assert_int_equal(stats(f).entries, 2);
  size_t bytes_two = (size_t)stats(f).bytes;

  assert_int_equal(mes_subject_shred(mes_world_subjects(&f->w), sid), MES_OK);
  char *text = NULL;
  assert_int_equal(read_text(f->cc, &f->w.req, sid, &text), MES_ENOT_FOUND); /* from the cache's entry: still erased */
  assert_string_equal(text, "[]");
  free(text);
  assert_int_equal(stats(f).entries, 1);
  assert_true(stats(f).bytes < bytes_two);
  assert_int_equal(same_as_store(f, sid), 0); /* both say MES_ENOT_FOUND, nothing handed out */
  assert_int_equal(stats(f).entries, 1);      /* and nothing is kept */

  /* The rows deleted too (the subject's deletion): an empty read. */
  uint64_t t;
  assert_int_equal(mes_store_tx_begin(f->w.store), MES_OK);
  assert_int_equal(mes_store_subject_delete(f->w.store, sid), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->w.store, &t), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->w.store, t), MES_OK);
  assert_int_equal(same_as_store(f, sid), 0);

  /* Rows deleted while an entry is held (the key still there): the stamp
   * says nothing is left, the read is empty and the entry goes. */
  consent(f, "u3", "personalization", "granted");
  ingest(f, "{\"subject\": \"u3\", \"type\": \"view\", \"item\": \"y\"}");
  int64_t sid3 = sid_on(mes_world_subjects(&f->w), &f->w.req, "u3");
  assert_int_equal(same_as_store(f, sid3), 1);
  assert_int_equal(stats(f).entries, 2);
  assert_int_equal(mes_store_tx_begin(f->w.store), MES_OK);
  assert_int_equal(mes_store_subject_delete(f->w.store, sid3), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->w.store, &t), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->w.store, t), MES_OK);
  struct mes_histcache_stats last = stats(f);
  assert_int_equal(read_text(f->cc, &f->w.req, sid3, &text), MES_OK);
  assert_string_equal(text, "[]");
  free(text);
  EXPECT(since(f, &last), 0, 0, 1);
  assert_int_equal(stats(f).entries, 1);

  /* Forget: u2's entry leaves at once. */
  mes_histcache_forget(f->hc, sid2);
  assert_int_equal(stats(f).entries, 0);
  assert_int_equal(stats(f).bytes, 0);
  since(f, &last);
  assert_int_equal(same_as_store(f, sid2), 1);
  EXPECT(since(f, &last), 0, 1, 0);
  mes_histcache_forget(NULL, sid2); /* NULL-safe */
}

/* Subjects beyond the cap: the bytes held never pass it, the least recently
 * used leave first, and an evicted subject reads right (a miss). A history
 * larger than a quarter of a shard's share is read but never kept.
 * Lowering the cap evicts at once; 0 empties it and turns it off. */
#define N_SUBJ 160
static void test_byte_cap(void **state) {
  struct fixture *f = *state;
  mes_histcache_set_cap(f->hc, 32 * 1024); /* 2 KiB a shard: entries of ~300 bytes, ~6 a shard */
  char name[32], body[2048];
  int64_t sids[N_SUBJ];
  for (int i = 0; i < N_SUBJ; i++) {
    snprintf(name, sizeof name, "s%d", i);
    consent(f, name, "personalization", "granted");
  }
  for (int i = 0; i < N_SUBJ; i++) {
    snprintf(body, sizeof body,
             "{\"events\": [{\"subject\": \"s%d\", \"type\": \"view\", \"item\": \"a%d\"},"
             "{\"subject\": \"s%d\", \"type\": \"view\", \"item\": \"b%d\"},"
             "{\"subject\": \"s%d\", \"type\": \"click\", \"item\": \"c%d\"},"
             "{\"subject\": \"s%d\", \"type\": \"purchase\", \"item\": \"d%d\"}]}",
             i, i, i, i, i, i, i, i);
    ingest(f, body);
    snprintf(name, sizeof name, "s%d", i);
    sids[i] = sid_on(mes_world_subjects(&f->w), &f->w.req, name);
  }
  struct mes_histcache_stats last = {0};
  for (int i = 0; i < N_SUBJ; i++) {
    assert_int_equal(same_as_store(f, sids[i]), 4);
    struct mes_histcache_stats st = stats(f);
    assert_true(st.bytes <= 32 * 1024);
  }
  EXPECT(since(f, &last), 0, N_SUBJ, 0);
  struct mes_histcache_stats st = stats(f);
  assert_true(st.evictions > 0);
  assert_true(st.entries > 0 && st.entries < N_SUBJ);
  /* The most recent subject is held. A second pass in the same order (more
   * than fits: least-recently-used keeps evicting what comes next) reads
   * every subject right, mostly by reading it again. */
  assert_int_equal(same_as_store(f, sids[N_SUBJ - 1]), 4);
  EXPECT(since(f, &last), 1, 0, 0);
  for (int i = 0; i < N_SUBJ; i++) {
    assert_int_equal(same_as_store(f, sids[i]), 4);
    assert_true(stats(f).bytes <= 32 * 1024);
  }
  struct delta d = since(f, &last);
  assert_int_equal(d.hits + d.misses, N_SUBJ);
  assert_true(d.misses > N_SUBJ / 2);

  /* Too large for a shard: read right, never kept. */
  consent(f, "big", "personalization", "granted");
  size_t at = (size_t)snprintf(body, sizeof body, "{\"events\": [");
  for (int i = 0; i < 16; i++)
    at += (size_t)snprintf(body + at, sizeof body - at,
                           "%s{\"subject\": \"big\", \"type\": \"view\", \"item\": \"%d\"}", i ? "," : "", i);
  snprintf(body + at, sizeof body - at, "]}");
  ingest(f, body);
  int64_t big = sid_on(mes_world_subjects(&f->w), &f->w.req, "big");
  uint64_t entries = stats(f).entries;
  assert_int_equal(same_as_store(f, big), 16);
  assert_int_equal(same_as_store(f, big), 16);
  EXPECT(since(f, &last), 0, 2, 0);
  assert_true(stats(f).entries <= entries);

  /* Lower, then off. */
  mes_histcache_set_cap(f->hc, 8 * 1024);
  assert_true(stats(f).bytes <= 8 * 1024);
  mes_histcache_set_cap(f->hc, 0);
  st = stats(f);
  assert_int_equal(st.bytes, 0);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.cap_bytes, 0);
  since(f, &last);
  assert_int_equal(same_as_store(f, sids[0]), 4);
  EXPECT(since(f, &last), 0, 0, 0); /* off: not even looked up */
}

static int list_order(void *ud, const struct mes_evrec *ev) {
  json_array_append_new(ud, json_pack("[I, I]", (json_int_t)ev->id, (json_int_t)ev->ts_ms));
  return 0;
}

static int light_order(void *ud, const struct mes_evrec *ev) {
  json_array_append_new(ud, json_pack("[I, I]", (json_int_t)ev->id, (json_int_t)ev->ts_ms));
  return 0;
}

/* (id, ts) of sid's events as the light read through c hands them out. */
static json_t *light_ids(struct mes_ingester *ing, const struct mes_req *c, int64_t sid) {
  json_t *a = json_array();
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_history(ing, c, sid, light_order, a, &err), MES_OK);
  return a;
}

/* Events that arrive late (an import of an old export, an app back online:
 * sent newest first, two by two with the same timestamp, in two requests)
 * are stored after newer ones, but every read hands a history out in time
 * order, then by id: the light read, which the store hands rows in the
 * order stored, with the cache and without, in the order of mes_ingest_list,
 * which the store orders itself. Serving weighs the latest items most and
 * the guardrails judge windows by it. */
static void test_history_in_time_order(void **state) {
  struct fixture *f = *state;
  int64_t sid = u1_with_history(f);
  for (int part = 0; part < 2; part++) {
    char *body = malloc(200 * 160);
    assert_non_null(body);
    size_t len = (size_t)sprintf(body, "{\"events\": [");
    for (int i = 0; i < 100; i++) {
      int m = 1199 - ((part * 100 + i) / 2) * 7; /* minutes into 2026-11-19, falling */
      len += (size_t)sprintf(body + len,
                             "%s{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"i%d\", "
                             "\"ts\": \"2026-11-19T%02d:%02d:00Z\"}",
                             i ? "," : "", part * 100 + i, m / 60, m % 60);
    }
    sprintf(body + len, "]}");
    ingest(f, body);
    free(body);
  }
  json_t *want = json_array();
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_ingest_list(mes_world_ingester(&f->w), &f->w.req, sid, list_order, want, &err), MES_OK);
  assert_int_equal(json_array_size(want), 205);
  for (size_t i = 1; i < json_array_size(want); i++) {
    json_int_t ts0 = json_integer_value(json_array_get(json_array_get(want, i - 1), 1));
    json_int_t ts1 = json_integer_value(json_array_get(json_array_get(want, i), 1));
    json_int_t id0 = json_integer_value(json_array_get(json_array_get(want, i - 1), 0));
    json_int_t id1 = json_integer_value(json_array_get(json_array_get(want, i), 0));
    assert_true(ts0 < ts1 || (ts0 == ts1 && id0 < id1));
  }
  json_int_t first_id = json_integer_value(json_array_get(json_array_get(want, 0), 0));
  assert_true(first_id > 5); /* the oldest event was stored last but one */
  for (int round = 0; round < 2; round++) { /* the cache's miss, then its hit */
    json_t *plain = light_ids(mes_world_ingester(&f->w), &f->w.req, sid), *cached = light_ids(f->cc, &f->w.req, sid);
    assert_true(json_equal(plain, want));
    assert_true(json_equal(cached, want));
    json_decref(plain);
    json_decref(cached);
  }
  json_decref(want);
}

/* A cache made with a cap of 0 reads exactly as no cache, and holds nothing. */
static void test_cache_off(void **state) {
  struct fixture *f = *state;
  struct mes_ingester *cached = f->cc, *off = mes_world_new_ingester(&f->w, 0);
  f->cc = off;
  int64_t sid = u1_with_history(f);
  for (int i = 0; i < 3; i++)
    assert_int_equal(same_as_store(f, sid), 5);
  assert_int_equal(mes_subject_shred(mes_world_subjects(&f->w), sid), MES_OK);
  assert_int_equal(same_as_store(f, sid), 0);
  struct mes_histcache_stats st;
  mes_ingester_cache_stats(off, &st);
  assert_int_equal(st.hits + st.misses + st.stale + st.entries + st.bytes, 0);
  f->cc = cached;
  mes_histcache_stats(NULL, &st);
  assert_int_equal(st.cap_bytes, 0);
  assert_int_equal(mes_histcache_cap(NULL), 0);
}

/* A forget that lands while a read is under way (between looking the
 * subject up and storing what was read) keeps that read out of the cache:
 * erasure cannot be undone by a read that began before it. The read is
 * mes_ingest_cache_get's own, with a source whose fill forgets the subject midway. */
static bool forget_in_fill;

static int fill_one(void *ud, int64_t sid, struct mes_histcache_build *b) {
  struct mes_ingester *ing = ud;
  const struct mes_evrec ev = {
      .id = 7, .sid = sid, .ts_ms = T0_MS, .purposes = 1, .type = 0, .channel = -1, .item = "item-1", .item_len = 6};
  mes_histcache_build_row(b, ev.id);
  int rc = mes_histcache_build_add(b, &ev);
  if (forget_in_fill)
    mes_histcache_forget(ing->cache, sid);
  return rc;
}

static void test_forget_during_read(void **state) {
  struct fixture *f = *state;
  const struct mes_histcache_source src = {
      .kind = MES_HISTCACHE_EVENTS, .stamp = mes_store_event_stamp, .fill = fill_one};
  for (int forget = 0; forget < 2; forget++) {
    forget_in_fill = forget;
    struct mes_histcache_entry *e = NULL;
    bool bypass = true;
    assert_int_equal(mes_ingest_cache_get(f->cc, 42, &src, f->cc, &e, &bypass), MES_OK);
    assert_false(bypass);
    assert_non_null(e); /* handed out either way: only keeping it is refused */
    mes__hc_release(f->hc, e);
    assert_int_equal(stats(f).entries, forget ? 0 : 1);
    mes_histcache_forget(f->hc, 42);
    assert_int_equal(stats(f).entries, 0);
  }
  forget_in_fill = false;
}

/* ------------------------------------------------------------ threads */

#define N_READERS 3
#define N_INSERTS 60

struct race {
  struct fixture *f;
  int64_t sid, other;
  pthread_mutex_t mu;
  bool done; /* the writer finished */
  int failures;
};

struct seq {
  int n;
  bool in_order;
};

/* The writer's events are w0, w1, ... in time order: a read must hand out a
 * prefix of that sequence, never a gap. */
static int check_seq(void *ud, const struct mes_evrec *ev) {
  struct seq *s = ud;
  char want[16];
  snprintf(want, sizeof want, "w%d", s->n);
  if (!ev->item || strcmp(ev->item, want) != 0)
    s->in_order = false;
  s->n++;
  return 0;
}

static bool race_done(struct race *r) {
  pthread_mutex_lock(&r->mu);
  bool d = r->done;
  pthread_mutex_unlock(&r->mu);
  return d;
}

static void race_fail(struct race *r) {
  pthread_mutex_lock(&r->mu);
  r->failures++;
  pthread_mutex_unlock(&r->mu);
}

static void *reader_main(void *arg) {
  struct race *r = arg;
  struct mes_req c = r->f->w.req; /* each thread its own request, one cache */
  struct mes_ingester *ing = r->f->cc;
  int last = 0, round = 0;
  bool finished = false;
  while (!finished) {
    finished = race_done(r); /* one more read after the writer is done: it must see everything */
    struct seq s = {0, true};
    struct mes_err err;
    if (mes_ingest_history(ing, &c, r->sid, check_seq, &s, &err) != MES_OK || !s.in_order || s.n < last ||
        (finished && s.n != N_INSERTS))
      race_fail(r);
    last = s.n;
    struct seq o = {0, true};
    if (mes_ingest_history(ing, &c, r->other, check_seq, &o, &err) != MES_OK || !o.in_order || o.n != 5)
      race_fail(r);
    if (++round % 7 == 0)
      mes_histcache_forget(ing->cache, r->sid); /* entries leave while others replay them */
  }
  return NULL;
}

static void test_threads(void **state) {
  struct fixture *f = *state;
  consent(f, "u1", "personalization", "granted");
  consent(f, "u2", "personalization", "granted");
  char body[256];
  for (int i = 0; i < 5; i++) {
    snprintf(body, sizeof body,
             "{\"subject\": \"u2\", \"type\": \"view\", \"item\": \"w%d\", \"ts\": \"2026-11-20T1%d:00:00Z\"}", i, i);
    ingest(f, body);
  }
  struct race r = {.f = f,
                   .sid = sid_on(mes_world_subjects(&f->w), &f->w.req, "u1"),
                   .other = sid_on(mes_world_subjects(&f->w), &f->w.req, "u2")};
  pthread_mutex_init(&r.mu, NULL);
  pthread_t th[N_READERS];
  for (int i = 0; i < N_READERS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r), 0);
  struct mes_req wc = f->w.req;
  for (int i = 0; i < N_INSERTS; i++) {
    char ts[32];
    mes_time_format(T0_MS - (N_INSERTS - i) * 1000LL, ts);
    snprintf(body, sizeof body, "{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"w%d\", \"ts\": \"%s\"}", i,
             ts);
    ingest_on(mes_world_ingester(&f->w), &wc, body);
  }
  pthread_mutex_lock(&r.mu);
  r.done = true;
  pthread_mutex_unlock(&r.mu);
  for (int i = 0; i < N_READERS; i++)
    pthread_join(th[i], NULL);
  pthread_mutex_destroy(&r.mu);
  assert_int_equal(r.failures, 0);
  assert_int_equal(same_as_store(f, r.sid), N_INSERTS);
  struct mes_histcache_stats st = stats(f);
  assert_true(st.hits > 0);
}

/* A request holds the cache's own records (mes_ingest_history_open): a
 * second reader of the same history gets the same records, not a copy; the
 * records stay whole while held, whatever happens to the entry meanwhile (a
 * new event makes it stale, an erasure forgets it), and equal what a read
 * without the cache hands out. */
static char *held_text(const struct mes_ingest_events *h, int64_t sid) {
  struct got g = {json_array(), sid, false, 0};
  for (size_t i = 0; i < h->n; i++)
    collect(&g, &h->ev[i]);
  assert_false(g.bad);
  char *text = json_dumps(g.events, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(g.events);
  assert_non_null(text);
  return text;
}

static void test_held_records(void **state) {
  struct fixture *f = *state;
  int64_t sid = u1_with_history(f);
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_ingest_events plain, a, b;
  assert_int_equal(mes_ingest_history_open(mes_world_ingester(&f->w), sid, &plain, &err), MES_OK);
  assert_int_equal(mes_ingest_history_open(f->cc, sid, &a, &err), MES_OK);
  assert_int_equal(mes_ingest_history_open(f->cc, sid, &b, &err), MES_OK);
  assert_int_equal(a.n, 5);
  assert_ptr_equal(b.ev, a.ev); /* the cache's records, handed to both */
  assert_ptr_not_equal(plain.ev, a.ev);
  char *want = held_text(&plain, sid), *got = held_text(&a, sid);
  assert_string_equal(got, want);
  free(got);
  mes_ingest_history_close(&b);

  /* A new event: the next reader reads again; what a holds stays as it was. */
  ingest(f, "{\"events\": [{\"subject\": \"u1\", \"type\": \"view\", \"item\": \"e\", "
            "\"ts\": \"2026-11-20T21:00:00Z\"}]}");
  assert_int_equal(mes_ingest_history_open(f->cc, sid, &b, &err), MES_OK);
  assert_int_equal(b.n, 6);
  assert_ptr_not_equal(b.ev, a.ev);
  got = held_text(&a, sid);
  assert_string_equal(got, want);
  free(got);

  /* Forgotten (erasure) while held: out of the cache at once, still whole
   * for its holders until they close. */
  mes_histcache_forget(f->hc, sid);
  assert_int_equal(stats(f).entries, 0);
  got = held_text(&a, sid);
  assert_string_equal(got, want);
  free(got);
  assert_string_equal(b.ev[5].item, "e");
  mes_ingest_history_close(&a);
  mes_ingest_history_close(&b);
  mes_ingest_history_close(&plain);
  assert_null(a.ev);
  assert_int_equal(a.n, 0);
  free(want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_replay_equals_uncached, setup, teardown),
      cmocka_unit_test_setup_teardown(test_replay_maps_types_with_current_policy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_event_appears, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deleted_purged_swept_disappear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erased, setup, teardown),
      cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history_in_time_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forget_during_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_held_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
