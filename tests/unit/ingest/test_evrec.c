/*
 * Unit tests of the stored event's codec (ingest/evrec.c) and of stores
 * that hold documents of both versions:
 *   - version 1: every combination of item, event_id, cold part and channel
 *     encodes and decodes back to the same fields, read in place;
 *   - version 0 (the JSON documents older stores hold): the hot fields are
 *     picked out (escapes, white space, any member order), the cold part is
 *     the document, and the API form is the one a version 1 record of the
 *     same event gives;
 *   - malformed bytes of either version (every truncation, bad flags,
 *     channels, ids holding NUL, trailing bytes) are refused, never read;
 *   - a store holding events written in the old format beside new ones:
 *     listed (export, why), read for serving with and without the history
 *     cache, scanned for training, forgotten by their event_id, moved at
 *     login, each reading as the same event ingested today reads.
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

#include "base/json.h"
#include "base/mtime.h"
#include "crypto/crypto.h"
#include "ingest/evrec.h"
#include "ingest/ingest.h"
#include "store/store.h"
#include "subject/subject.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ version 1 */

static void assert_same(const struct mes_evrec *a, const struct mes_evrec *b) {
  assert_int_equal(a->channel, b->channel);
  assert_int_equal(a->item != NULL, b->item != NULL);
  if (a->item) {
    assert_int_equal(a->item_len, b->item_len);
    assert_memory_equal(a->item, b->item, a->item_len);
    assert_int_equal(b->item[b->item_len], '\0');
  }
  assert_int_equal(a->event_id != NULL, b->event_id != NULL);
  if (a->event_id) {
    assert_int_equal(a->event_id_len, b->event_id_len);
    assert_memory_equal(a->event_id, b->event_id, a->event_id_len);
    assert_int_equal(b->event_id[b->event_id_len], '\0');
  }
  assert_int_equal(a->cold.len, b->cold.len);
  if (a->cold.len)
    assert_memory_equal(a->cold.ptr, b->cold.ptr, a->cold.len);
}

static void test_v1_round_trips(void **state) {
  (void)state;
  static char long_id[MES_EVREC_ID_MAX + 1];
  memset(long_id, 'x', MES_EVREC_ID_MAX);
  const char *items[] = {NULL, "a", "item-42", "caf\xc3\xa9 \"quoted\" \\ {}", long_id};
  const char *eids[] = {NULL, "e", "evt-\xf0\x9f\x98\x80-1", long_id};
  const char *colds[] = {"", "{}", "{\"properties\":{\"price\":9.5,\"tags\":[1,\"a\"]},\"context\":{\"placement\":\"home\"}}",
                         "{\"query\":\"red \\\"shoes\\\"\"}"};
  struct mes_buf b;
  mes_buf_init(&b, 1 << 20);
  int n = 0;
  for (int ch = -1; ch < MES_CH_N; ch++)
    for (size_t i = 0; i < N_OF(items); i++)
      for (size_t e = 0; e < N_OF(eids); e++)
        for (size_t c = 0; c < N_OF(colds); c++) {
          struct mes_evrec in = {
              .channel = ch,
              .item = items[i],
              .item_len = items[i] ? strlen(items[i]) : 0,
              .event_id = eids[e],
              .event_id_len = eids[e] ? strlen(eids[e]) : 0,
              .cold = {colds[c], strlen(colds[c])},
          };
          assert_int_equal(mes_evrec_encode(&b, &in), MES_OK);
          assert_int_equal((uint8_t)b.data[0], MES_EVREC_V1);
          struct mes_evrec out;
          struct mes_evrec_scratch sc = {0};
          assert_int_equal(mes_evrec_decode((const uint8_t *)b.data, b.len, &sc, &out), MES_OK);
          assert_same(&in, &out);
          /* read in place: the strings point into the document, nothing was allocated */
          assert_null(sc.buf);
          if (out.item)
            assert_true(out.item > b.data && out.item < b.data + b.len);
          n++;
        }
  assert_int_equal(n, (MES_CH_N + 1) * 5 * 4 * 4);
  mes_buf_release(&b);
}

static void test_v1_encode_refuses(void **state) {
  (void)state;
  static char too_long[MES_EVREC_ID_MAX + 2];
  memset(too_long, 'x', MES_EVREC_ID_MAX + 1);
  const struct mes_evrec bad[] = {
      {.channel = 0, .item = "", .item_len = 0},
      {.channel = 0, .item = too_long, .item_len = MES_EVREC_ID_MAX + 1},
      {.channel = 0, .item = "a\0b", .item_len = 3},
      {.channel = 0, .event_id = "", .event_id_len = 0},
      {.channel = 0, .event_id = "a\0b", .event_id_len = 3},
      {.channel = MES_CH_N},
      {.channel = -2},
      {.channel = 0, .cold = {"[]", 2}},
  };
  struct mes_buf b;
  mes_buf_init(&b, 1 << 20);
  for (size_t i = 0; i < N_OF(bad); i++) {
    assert_int_equal(mes_evrec_encode(&b, &bad[i]), MES_EINTERNAL);
    assert_int_equal(b.len, 0);
  }
  /* the cap of the buffer: too large is the caller's error to word */
  struct mes_buf small;
  mes_buf_init(&small, 8);
  struct mes_evrec r = {.channel = 0, .item = "item-long-enough", .item_len = 16};
  assert_int_equal(mes_evrec_encode(&small, &r), MES_EBODY_TOO_LARGE);
  assert_int_equal(small.len, 0);
  mes_buf_release(&small);
  mes_buf_release(&b);
}

static void expect_unreadable(const void *p, size_t len, const char *what) {
  struct mes_evrec r;
  struct mes_evrec_scratch sc = {0};
  int rc = mes_evrec_decode(p, len, &sc, &r);
  mes_evrec_scratch_release(&sc);
  if (rc != MES_EINTERNAL)
    fail_msg("%s (%zu bytes) decoded with %s, expected internal_error", what, len, mes_rc_code(rc));
}

static void test_malformed_refused(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 1 << 16);
  struct mes_evrec in = {.channel = MES_CH_APP, .item = "item-7", .item_len = 6, .event_id = "e-1",
                         .event_id_len = 3, .cold = {"{\"query\":\"x\"}", 13}};
  assert_int_equal(mes_evrec_encode(&b, &in), MES_OK);
  uint8_t doc[256];
  size_t n = b.len;
  memcpy(doc, b.data, n);
  mes_buf_release(&b);
  /* Every truncation that ends inside the hot part (the cold part is opaque
   * here: a shorter cold part is refused when opened). */
  size_t hot = n - 13;
  for (size_t len = 0; len < hot; len++)
    expect_unreadable(doc, len, "a truncated document");
  uint8_t m[256];
  /* unknown flags */
  memcpy(m, doc, n);
  m[1] |= 0x80;
  expect_unreadable(m, n, "unknown flags");
  /* a channel this build does not know */
  memcpy(m, doc, n);
  m[2] = MES_CH_N;
  expect_unreadable(m, n, "an unknown channel");
  /* the item's NUL missing, a NUL inside it, a zero length, a length past the end */
  memcpy(m, doc, n);
  m[3 + 2 + 6] = 'x';
  expect_unreadable(m, n, "an item without its NUL");
  memcpy(m, doc, n);
  m[3 + 2 + 2] = '\0';
  expect_unreadable(m, n, "an item holding NUL");
  memcpy(m, doc, n);
  m[3] = 0;
  m[4] = 0;
  expect_unreadable(m, n, "an empty item");
  memcpy(m, doc, n);
  m[3] = 0xff;
  m[4] = 0x03;
  expect_unreadable(m, n, "an item longer than the document");
  /* a cold part flagged but not an object; bytes after the hot part unflagged */
  memcpy(m, doc, n);
  m[hot] = '[';
  expect_unreadable(m, n, "a cold part that is not an object");
  memcpy(m, doc, n);
  m[1] &= (uint8_t)~MES_EVREC_F_COLD;
  expect_unreadable(m, n, "trailing bytes");
  /* version 0: not an object, unterminated, bad escapes */
  const char *const v0[] = {"", "[]", "\"item\"", "{", "{\"item\":\"a\"", "{\"item\":\"a\\q\"}",
                            "{\"item\":\"\\ud800\"}", "{\"item\":\"\\u0000\"}", "{\"item\" \"a\"}", "{\"a\":1,}x",
                            "{\"item\":\"a\"} ,", "\x02{}", "{\"it\\u0065m\":\"a\"}"};
  for (size_t i = 0; i < N_OF(v0); i++)
    expect_unreadable(v0[i], strlen(v0[i]), v0[i]);
}

/* ------------------------------------------------------------ version 0 */

static const struct v0_case {
  const char *doc;
  const char *item; /* NULL: none */
  int channel;
  const char *event_id; /* NULL: none */
} v0_cases[] = {
    {"{\"item\":\"item-1\",\"channel\":\"web\",\"source\":\"first_party\"}", "item-1", MES_CH_WEB, NULL},
    {"{\"item\":\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\",\"channel\":\"app\",\"source\":\"first_party\","
     "\"properties\":{\"item\":\"not-this\",\"n\":[1,{\"channel\":\"ads\"}]},\"context\":{\"placement\":\"p\"},"
     "\"event_id\":\"e\\u0041\"}",
     "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80", MES_CH_APP, "eA"},
    {" { \"event_id\" : \"x-1\" , \"channel\" : \"store\" , \"item\" : \"it\" } ", "it", MES_CH_STORE, "x-1"},
    {"{\"channel\":\"email\",\"source\":\"zero_party\",\"query\":\"red shoes\"}", NULL, MES_CH_EMAIL, NULL},
    {"{\"item\":\"i\",\"channel\":\"carrier-pigeon\"}", "i", -1, NULL},
    {"{}", NULL, -1, NULL},
};

static void test_v0_read(void **state) {
  (void)state;
  struct mes_evrec_scratch sc = {0};
  for (size_t i = 0; i < N_OF(v0_cases); i++) {
    const struct v0_case *c = &v0_cases[i];
    struct mes_evrec r;
    assert_int_equal(mes_evrec_decode((const uint8_t *)c->doc, strlen(c->doc), &sc, &r), MES_OK);
    if (c->item) {
      assert_non_null(r.item);
      assert_string_equal(r.item, c->item);
      assert_int_equal(r.item_len, strlen(c->item));
    } else {
      assert_null(r.item);
    }
    if (c->event_id) {
      assert_non_null(r.event_id);
      assert_string_equal(r.event_id, c->event_id);
      assert_int_equal(r.event_id_len, strlen(c->event_id));
    } else {
      assert_null(r.event_id);
    }
    assert_int_equal(r.channel, c->channel);
    /* the whole document is the cold part */
    assert_int_equal(r.cold.len, strlen(c->doc));
  }
  mes_evrec_scratch_release(&sc);
  assert_null(sc.buf);
}

/* The API form of an old document and of the record the writer makes of the
 * same event today are the same. */
static void test_v0_and_v1_show_alike(void **state) {
  (void)state;
  struct mes_policy *p = NULL;
  struct mes_err err;
  const char *yaml = mes_policy_example();
  assert_int_equal(mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &p, &err), MES_OK);
  const char *old =
      "{\"item\":\"sku-\\u00e9\",\"channel\":\"ads\",\"source\":\"third_party\",\"properties\":{\"price\":12.5},"
      "\"context\":{\"request_id\":\"r1\",\"authenticated\":true},\"event_id\":\"ev-9\"}";
  const char *cold = "{\"properties\":{\"price\":12.5},\"context\":{\"request_id\":\"r1\",\"authenticated\":true}}";
  struct mes_evrec v0 = {.id = 5, .type = mes_policy_event_type(p, "purchase", 8), .ts_ms = T0_MS,
                         .source = MES_SRC_THIRD};
  struct mes_evrec v1 = v0;
  struct mes_evrec_scratch sc = {0};
  assert_int_equal(mes_evrec_decode((const uint8_t *)old, strlen(old), &sc, &v0), MES_OK);
  struct mes_buf b;
  mes_buf_init(&b, 1 << 16);
  struct mes_evrec w = {.channel = MES_CH_ADS, .item = "sku-\xc3\xa9", .item_len = 6, .event_id = "ev-9",
                        .event_id_len = 4, .cold = {cold, strlen(cold)}};
  assert_int_equal(mes_evrec_encode(&b, &w), MES_OK);
  assert_int_equal(mes_evrec_decode((const uint8_t *)b.data, b.len, &sc, &v1), MES_OK);
  json_t *j0 = NULL, *j1 = NULL;
  assert_int_equal(mes_evrec_json(&v0, p, &j0), MES_OK);
  assert_int_equal(mes_evrec_json(&v1, p, &j1), MES_OK);
  json_t *want = parse("{\"event_id\":\"ev-9\",\"type\":\"purchase\",\"item\":\"sku-\\u00e9\",\"channel\":\"ads\","
                       "\"ts\":\"2026-11-20T21:04:05.000Z\",\"source\":\"third_party\",\"properties\":{\"price\":12.5},"
                       "\"context\":{\"request_id\":\"r1\",\"authenticated\":true}}");
  if (!json_equal(j0, want) || !json_equal(j1, want))
    fail_msg("old: %s\ntoday: %s", json_dumps(j0, JSON_SORT_KEYS), json_dumps(j1, JSON_SORT_KEYS));
  /* without an event_id: "ev_<row id>"; without a cold part: {} and {} */
  struct mes_evrec bare = {.id = 77, .type = -1, .ts_ms = T0_MS, .channel = -1};
  json_t *jb = NULL;
  assert_int_equal(mes_evrec_json(&bare, p, &jb), MES_OK);
  json_t *want_bare = parse("{\"event_id\":\"ev_77\",\"type\":\"unknown\",\"ts\":\"2026-11-20T21:04:05.000Z\","
                            "\"source\":\"first_party\",\"properties\":{},\"context\":{}}");
  assert_true(json_equal(jb, want_bare));
  /* a cold part that does not parse is reported, not shown as empty */
  struct mes_evrec broken = bare;
  broken.cold = (struct mes_slice){"{\"properties\":", 14};
  json_t *jx = NULL;
  assert_int_equal(mes_evrec_json(&broken, p, &jx), MES_EINTERNAL);
  assert_null(jx);
  json_decref(want_bare);
  json_decref(jb);
  json_decref(want);
  json_decref(j0);
  json_decref(j1);
  mes_buf_release(&b);
  mes_evrec_scratch_release(&sc);
  mes_policy_free(p);
}

/* ------------------------------------------------------------ a store of both versions */

/* Alice's events, each stored twice: once as the old writer sealed it (a
 * version 0 document, put in the store directly) and once ingested today
 * through POST /v1/events (version 1). */
static const struct mixed_event {
  const char *type;
  int64_t ts_ms;
  const char *old_doc;  /* what the old writer sealed */
  const char *event_id; /* the client's, or NULL */
  const char *body;     /* the same event as sent today (subject and ts added) */
} mixed[] = {
    {"view", T0_MS - 5000, "{\"item\":\"item-\\u00e9\",\"channel\":\"app\",\"source\":\"first_party\","
                           "\"properties\":{\"duration_s\":12},\"context\":{\"placement\":\"home\","
                           "\"device_shared\":false},\"event_id\":\"old-1\"}",
     "old-1", "\"type\":\"view\",\"item\":\"item-\\u00e9\",\"channel\":\"app\",\"properties\":{\"duration_s\":12},"
              "\"context\":{\"placement\":\"home\",\"device_shared\":false},\"event_id\":\"old-1\""},
    {"purchase", T0_MS - 4000, "{\"item\":\"item-2\",\"channel\":\"web\",\"source\":\"first_party\","
                               "\"properties\":{\"price\":9.5,\"currency\":\"EUR\"}}",
     NULL, "\"type\":\"purchase\",\"item\":\"item-2\",\"properties\":{\"price\":9.5,\"currency\":\"EUR\"}"},
    {"search", T0_MS - 3000, "{\"channel\":\"web\",\"source\":\"first_party\",\"query\":\"red \\\"shoes\\\"\"}", NULL,
     "\"type\":\"search\",\"query\":\"red \\\"shoes\\\"\""},
};

struct mixed_world {
  struct mes_world w;
  int64_t sid;
  int64_t old_ids[N_OF(mixed)];
};

/* The old rows are held by `id` in namespace ns (who granted personalization). */
static void mixed_open(struct mixed_world *m, const char *name, enum mes_subject_ns ns, const char *id) {
  memset(m, 0, sizeof *m);
  mes_world_open(&m->w, name, NULL, T0_MS, "test-key");
  json_t *body = parse("{\"status\": \"granted\"}"), *receipt = NULL;
  struct mes_err err;
  assert_int_equal(mes_consent_record_ns(mes_world_ledger(&m->w), &m->w.req, ns, id, strlen(id), "personalization",
                                         15, body, &receipt, &err),
                   MES_OK);
  json_decref(receipt);
  json_decref(body);
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&m->w), &m->w.req, ns, id, strlen(id), false, &s), MES_OK);
  m->sid = s.row.id;
  const struct mes_policy *p = m->w.req.policy;
  for (size_t i = 0; i < N_OF(mixed); i++) {
    const struct mixed_event *e = &mixed[i];
    int t = mes_policy_event_type(p, e->type, strlen(e->type));
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    assert_int_equal(
        mes_subject_seal(m->w.subjects, m->sid, "event", e->old_doc, strlen(e->old_doc), &sealed, &sealed_len), MES_OK);
    struct mes_event_row row = {
        .sid = m->sid, .type = t, .ts_ms = e->ts_ms, .purposes = p->event_types[t].purposes, .source = 0,
        .eid = e->event_id ? mes_keyed_hash64(m->w.master, s.pn, e->event_id, strlen(e->event_id)) : 0,
        .sealed = sealed, .sealed_len = sealed_len};
    uint64_t ticket = 0;
    assert_int_equal(mes_store_tx_begin(m->w.store), MES_OK);
    assert_int_equal(mes_store_event_insert(m->w.store, &row), MES_OK);
    assert_int_equal(mes_store_tx_commit(m->w.store, &ticket), MES_OK);
    assert_int_equal(mes_store_wait_durable(m->w.store, ticket), MES_OK);
    m->old_ids[i] = row.id;
    free(sealed);
  }
}

/* The same events ingested today (for bob, so that both sit side by side). */
static int64_t ingest_today(struct mixed_world *m, const char *subject) {
  consent_on(mes_world_ledger(&m->w), &m->w.req, subject, "personalization", "granted");
  for (size_t i = 0; i < N_OF(mixed); i++) {
    char body[1024], ts[32];
    mes_time_format(mixed[i].ts_ms, ts);
    snprintf(body, sizeof body, "{\"subject\":\"%s\",\"ts\":\"%s\",%s}", subject, ts, mixed[i].body);
    json_t *reply = ingest_reply(mes_world_ingester(&m->w), &m->w.req, body);
    assert_int_equal(json_integer_value(json_object_get(reply, "stored")), 1);
    json_decref(reply);
  }
  return sid_on(m->w.subjects, &m->w.req, subject);
}

struct shown {
  json_t *events;
  const struct mes_policy *p;
};

static int show_cb(void *ud, const struct mes_evrec *ev) {
  struct shown *s = ud;
  json_t *j = NULL;
  assert_int_equal(mes_evrec_json(ev, s->p, &j), MES_OK);
  json_object_del(j, "event_id"); /* "ev_<row id>" differs between the two rows */
  json_array_append_new(s->events, j);
  return 0;
}

static json_t *listed(struct mixed_world *m, int64_t sid) {
  struct shown s = {json_array(), m->w.req.policy};
  struct mes_err err;
  assert_int_equal(mes_ingest_list(mes_world_ingester(&m->w), &m->w.req, sid, show_cb, &s, &err), MES_OK);
  return s.events;
}

/* The hot fields as serving and training read them, one line per event. */
static int hot_cb(void *ud, const struct mes_evrec *ev) {
  char line[256];
  snprintf(line, sizeof line, "%d %lld %d %d %s", ev->type, (long long)ev->ts_ms, ev->channel, (int)ev->source,
           ev->item ? ev->item : "-");
  json_array_append_new(ud, json_string(line));
  return 0;
}

static int hot_of_cb(void *ud, const struct mes_evrec *ev) {
  json_t **per = ud; /* [0]: alice's, [1]: bob's, by the subject scanned */
  return hot_cb(per[ev->sid == (int64_t)json_integer_value(per[2]) ? 0 : 1], ev);
}

static void test_old_store_reads_as_today(void **state) {
  (void)state;
  struct mixed_world m;
  mixed_open(&m, "evrec-mixed", MES_NS_SUBJECT, "alice");
  int64_t bob = ingest_today(&m, "bob");
  /* export and why: the same API form */
  json_t *a = listed(&m, m.sid), *b = listed(&m, bob);
  assert_int_equal(json_array_size(a), N_OF(mixed));
  if (!json_equal(a, b)) {
    char *ta = json_dumps(a, 0), *tb = json_dumps(b, 0);
    fail_msg("old: %s\ntoday: %s", ta, tb);
  }
  json_decref(a);
  json_decref(b);
  /* serving: without and with the history cache, twice (a hit the second time) */
  struct mes_ingester *cached = mes_world_new_ingester(&m.w, 1 << 20);
  struct mes_ingester *readers[] = {mes_world_ingester(&m.w), cached, cached};
  struct mes_err err;
  for (size_t r = 0; r < N_OF(readers); r++) {
    json_t *ha = json_array(), *hb = json_array();
    assert_int_equal(mes_ingest_history(readers[r], &m.w.req, m.sid, hot_cb, ha, &err), MES_OK);
    assert_int_equal(mes_ingest_history(readers[r], &m.w.req, bob, hot_cb, hb, &err), MES_OK);
    assert_int_equal(json_array_size(ha), N_OF(mixed));
    assert_true(json_equal(ha, hb));
    json_decref(ha);
    json_decref(hb);
  }
  /* training: the scan reads both alike */
  json_t *per[3] = {json_array(), json_array(), json_integer(m.sid)};
  struct mes_ingest_scan_stats st;
  assert_int_equal(mes_ingest_scan(mes_world_ingester(&m.w), &m.w.req, ~0u, hot_of_cb, per, &st, &err), MES_OK);
  assert_int_equal(st.unreadable, 0);
  assert_int_equal(json_array_size(per[0]), N_OF(mixed));
  assert_true(json_equal(per[0], per[1]));
  for (int i = 0; i < 3; i++)
    json_decref(per[i]);
  mes_world_close(&m.w);
}

static void test_old_events_forgotten_and_moved(void **state) {
  (void)state;
  struct mixed_world m;
  mixed_open(&m, "evrec-forget", MES_NS_SUBJECT, "alice");
  struct mes_subject alice;
  assert_int_equal(mes_subject_resolve(m.w.subjects, &m.w.req, MES_NS_SUBJECT, "alice", 5, false, &alice), MES_OK);
  struct mes_err err;
  struct mes_ingest_forgotten out;
  /* by the client's event_id, read out of the old document */
  assert_int_equal(mes_ingest_forget_event(mes_world_ingester(&m.w), &alice, "old-1", 5, &out, &err), MES_OK);
  assert_string_equal(out.item, "item-\xc3\xa9");
  /* by "ev_<row id>" for an old event sent without one */
  char rid[32];
  snprintf(rid, sizeof rid, "ev_%lld", (long long)m.old_ids[1]);
  assert_int_equal(mes_ingest_forget_event(mes_world_ingester(&m.w), &alice, rid, strlen(rid), &out, &err), MES_OK);
  assert_string_equal(out.item, "item-2");
  json_t *left = listed(&m, m.sid);
  assert_int_equal(json_array_size(left), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(left, 0), "type")), "search");
  json_decref(left);
  mes_world_close(&m.w);

  /* At login an old document moves under the subject with its event_id
   * still recognised: a retry of it after login is not stored twice. */
  mixed_open(&m, "evrec-link", MES_NS_ANON, "cookie-1");
  consent_on(mes_world_ledger(&m.w), &m.w.req, "carol", "personalization", "granted");
  struct mes_subject visitor, carol;
  assert_int_equal(mes_subject_resolve(m.w.subjects, &m.w.req, MES_NS_ANON, "cookie-1", 8, false, &visitor), MES_OK);
  assert_int_equal(mes_subject_resolve(m.w.subjects, &m.w.req, MES_NS_SUBJECT, "carol", 5, false, &carol), MES_OK);
  struct mes_ingest_linked linked;
  assert_int_equal(mes_ingest_link(mes_world_ingester(&m.w), &m.w.req, &visitor, &carol, &linked, &err), MES_OK);
  assert_int_equal(linked.moved, N_OF(mixed));
  char body[512], ts[32];
  mes_time_format(mixed[0].ts_ms, ts);
  snprintf(body, sizeof body, "{\"subject\":\"carol\",\"ts\":\"%s\",%s}", ts, mixed[0].body);
  json_t *reply = ingest_reply(mes_world_ingester(&m.w), &m.w.req, body);
  assert_int_equal(json_integer_value(json_object_get(reply, "stored")), 1); /* acknowledged as a retry */
  json_decref(reply);
  json_t *held = listed(&m, carol.row.id);
  assert_int_equal(json_array_size(held), N_OF(mixed));
  json_decref(held);
  mes_world_close(&m.w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_v1_round_trips),
      cmocka_unit_test(test_v1_encode_refuses),
      cmocka_unit_test(test_malformed_refused),
      cmocka_unit_test(test_v0_read),
      cmocka_unit_test(test_v0_and_v1_show_alike),
      cmocka_unit_test(test_old_store_reads_as_today),
      cmocka_unit_test(test_old_events_forgotten_and_moved),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
