/*
 * Unit tests of serving over a real store, master key, catalog index and a
 * model trained from the events of each test: the request shape (a table of
 * bad requests with code and pointer, and the defaults), the consent
 * decision, faithful reasons, complements before substitutes after a
 * purchase, the non-personal path with suppression, the filters, the answer
 * without a model, and decision records (queued, stored, with and without
 * "suppressed", forgotten on erasure).
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

#include "base/mtime.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "ingest/ingest.h"
#include "recommend/recommend.h"

#define T0_MS 1795208645000LL
#define MIN_MS 60000LL

static const char POLICY[] =
    "site: T\nlanguages: [en, es, pl]\n"
    "purposes:\n  personalization: {description: {en: x}}\n"
    "  ads_retargeting: {description: {en: y}, gpc: honored, channels: [ads]}\n"
    "event_types:\n  view: {purposes: [personalization], retention_days: 100}\n"
    "  purchase: {purposes: [personalization], retention_days: 100}\n"
    "  dismiss: {purposes: [personalization], retention_days: 100}\n"
    "categories:\n  camping: {label: {en: Camping, es: Acampada}}\n  kitchen: {}\n"
    "guardrails:\n  frequency_cap: {max_impressions: 1000, window_hours: 72}\n";

struct fixture {
  struct mes_world w;
  struct mes_recommender *rec; /* over the world's handles */
  struct mes_model *model;
};

/* A recommender over the world's handles, as the engine makes it. */
static struct mes_recommender *new_rec(struct mes_world *w) {
  struct mes_recommender *rec = NULL;
  assert_int_equal(mes_recommender_new(w->store, NULL, mes_world_subjects(w), mes_world_ledger(w),
                                       mes_world_ingester(w), mes_world_catalog(w), &rec),
                   MES_OK);
  return rec;
}

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, 0, &je);
  if (!v)
    fail_msg("test JSON does not parse: %s: %s", je.text, text);
  return v;
}

static void consent(struct fixture *f, const char *s, const char *status) {
  json_t *b = json_pack("{s:s}", "status", status), *receipt = NULL;
  struct mes_err err;
  assert_int_equal(
      mes_consent_record(mes_world_ledger(&f->w), &f->w.req, s, strlen(s), "personalization", 15, b, &receipt, &err),
      MES_OK);
  json_decref(b);
  json_decref(receipt);
}

static void event(json_t *evs, const char *s, const char *type, const char *item, int64_t ts) {
  json_array_append_new(evs, json_pack("{s:s, s:s, s:s, s:I}", "subject", s, "type", type, "item", item, "ts",
                                       (json_int_t)ts));
}

static void ingest(struct fixture *f, json_t *evs) {
  json_t *body = json_pack("{s:o}", "events", evs), *reply = NULL;
  struct mes_err err;
  assert_int_equal(mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err), MES_OK);
  assert_int_equal(json_array_size(json_object_get(reply, "errors")), 0);
  json_decref(body);
  json_decref(reply);
}

static void post_items(struct fixture *f, const char *json) {
  json_t *items = parse(json), *reply = NULL;
  struct mes_err err;
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, items, &reply, &err), MES_OK);
  json_decref(items);
  json_decref(reply);
}

static const char *const TENTS[] = {"tent-2p", "tent-3p", "tent-4p"};
static const char *const KIT[] = {"sleeping-bag", "camp-stove"};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "rec", POLICY, T0_MS, "test");
  f->rec = new_rec(&f->w);
  struct mes_err err;
  post_items(f, "{\"items\": ["
                        "{\"id\": \"tent-2p\", \"title\": {\"en\": \"Tent 2p\", \"es\": \"Tienda 2p\"}, \"categories\": [\"camping\"]},"
                        "{\"id\": \"tent-3p\", \"title\": \"Tent 3p\", \"categories\": [\"camping\"]},"
                        "{\"id\": \"tent-4p\", \"title\": \"Tent 4p\", \"categories\": [\"camping\"]},"
                        "{\"id\": \"sleeping-bag\", \"title\": \"Sleeping bag\", \"categories\": [\"camping\"]},"
                        "{\"id\": \"camp-stove\", \"title\": \"Camp stove\", \"categories\": [\"camping\", \"kitchen\"]},"
                        "{\"id\": \"kettle\", \"title\": \"Kettle\", \"categories\": [\"kitchen\"]},"
                        "{\"id\": \"gone\", \"title\": \"Gone\", \"available\": false}]}");
  json_t *evs = json_array();
  for (int i = 0; i < 30; i++) {
    char s[32];
    snprintf(s, sizeof s, "shopper-%d", i);
    consent(f, s, "granted");
    int64_t t = T0_MS - 3 * 24 * 60 * MIN_MS + i * 10 * MIN_MS;
    for (int k = 0; k < 3; k++)
      event(evs, s, "view", TENTS[k], t + k * MIN_MS);
    event(evs, s, "purchase", TENTS[i % 3], t + 5 * MIN_MS);
    for (int k = 0; k < 2; k++)
      event(evs, s, "purchase", KIT[k], t + (6 + k) * MIN_MS);
    event(evs, s, "view", "kettle", t + 8 * MIN_MS);
    event(evs, s, "view", "gone", t + 9 * MIN_MS);
  }
  consent(f, "alice", "granted");
  event(evs, "alice", "view", "tent-2p", T0_MS - 90 * MIN_MS);
  event(evs, "alice", "view", "tent-4p", T0_MS - 80 * MIN_MS);
  event(evs, "alice", "purchase", "tent-2p", T0_MS - 60 * MIN_MS);
  consent(f, "erin", "granted");
  event(evs, "erin", "purchase", "kettle", T0_MS - 30 * MIN_MS);
  ingest(f, evs);
  struct mes_model_params p;
  mes_model_params_default(&p);
  assert_int_equal(mes_model_train(mes_world_ingester(&f->w), &f->w.req, NULL, &p, &f->model, &err), MES_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_model_unref(f->model);
  mes_recommender_free(f->rec); /* before the handles it serves from */
  mes_world_close(&f->w);
  free(f);
  return 0;
}

static json_t *recommend(struct fixture *f, struct mes_recommender *r, const struct mes_model *m, const char *body,
                         enum mes_lang l, struct mes_rec_outcome *oc) {
  json_t *b = parse(body), *out = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_recommend(r, &f->w.req, m, b, l, &out, oc, &err);
  if (rc)
    fail_msg("mes_recommend(%s) failed: %s %s", body, mes_rc_code(rc), mes_err_text(&err));
  json_decref(b);
  return out;
}

static int rank_of(const json_t *reply, const char *item) {
  size_t i;
  json_t *it;
  json_array_foreach(json_object_get(reply, "items"), i, it) {
    if (strcmp(mes_json_str(it, "item", ""), item) == 0)
      return (int)i;
  }
  return -1;
}

static const char *reason_of(const json_t *reply, size_t i) {
  return mes_json_str(json_object_get(json_array_get(json_object_get(reply, "items"), i), "reason"), "code", "");
}

/* ---------------------------------------------------------------- a history's age */

/* The same two neighbourhoods, learnt from purchases: a1 always bought with
 * a2, b1 half the time with b2 and half with b3. gus bought a1 60 days ago
 * and b1 yesterday. With model.history_half_life_days 30 his old purchase
 * counts a quarter of the new one, and b2 or b3 leads; with 0 (a shop of
 * regular purchases) both count alike, and a2, whose relation is stronger,
 * leads. The reason cites the purchase that brought it either way. */
static void test_history_age_weighs_by_policy(void **state) {
  (void)state;
  struct fixture f = {0};
  mes_world_open(&f.w, "rec-age", POLICY, T0_MS, "test");
  f.rec = new_rec(&f.w);
  struct mes_err err;
  post_items(&f, "{\"items\": [{\"id\": \"a1\", \"title\": \"A1\"}, {\"id\": \"a2\", \"title\": \"A2\"},"
                 "{\"id\": \"b1\", \"title\": \"B1\"}, {\"id\": \"b2\", \"title\": \"B2\"},"
                 "{\"id\": \"b3\", \"title\": \"B3\"}]}");
  json_t *evs = json_array();
  for (int i = 0; i < 20; i++) {
    char s[32];
    snprintf(s, sizeof s, "buyer-%d", i);
    consent(&f, s, "granted");
    int64_t t = T0_MS - 2 * 24 * 60 * MIN_MS + i * 10 * MIN_MS;
    event(evs, s, "purchase", i < 10 ? "a1" : "b1", t);
    event(evs, s, "purchase", i < 10 ? "a2" : i % 2 ? "b2" : "b3", t + MIN_MS);
  }
  consent(&f, "gus", "granted");
  event(evs, "gus", "purchase", "a1", T0_MS - 60 * 24 * 60 * MIN_MS);
  event(evs, "gus", "purchase", "b1", T0_MS - 24 * 60 * MIN_MS);
  ingest(&f, evs);
  struct mes_model_params p;
  mes_model_params_default(&p);
  assert_int_equal(mes_model_train(mes_world_ingester(&f.w), &f.w.req, NULL, &p, &f.model, &err), MES_OK);

  f.w.policy->model.recent_items_half_life = 0; /* by age alone */
  assert_int_equal(f.w.policy->model.history_half_life_days, 30);
  json_t *r = recommend(&f, f.rec, f.model, "{\"subject\": \"gus\", \"count\": 3}", MES_LANG_EN, NULL);
  const char *top = mes_json_str(json_array_get(json_object_get(r, "items"), 0), "item", "");
  assert_true(strcmp(top, "b2") == 0 || strcmp(top, "b3") == 0);
  assert_int_equal(rank_of(r, "a2"), 2);
  json_decref(r);
  f.w.policy->model.history_half_life_days = 0;
  r = recommend(&f, f.rec, f.model, "{\"subject\": \"gus\", \"count\": 3}", MES_LANG_EN, NULL);
  assert_int_equal(rank_of(r, "a2"), 0);
  assert_string_equal(reason_of(r, 0), "bought_together");
  json_decref(r);
  mes_model_unref(f.model);
  mes_recommender_free(f.rec);
  mes_world_close(&f.w);
}

/* ---------------------------------------------------------------- buy again */

static const char POLICY_PANTRY[] =
    "site: T\nlanguages: [en, es, pl]\n"
    "purposes:\n  personalization: {description: {en: x}}\n"
    "event_types:\n  purchase: {purposes: [personalization], retention_days: 400}\n"
    "categories:\n  pantry: {lifecycle: repeat}\n  kitchen: {}\n"
    "guardrails:\n  frequency_cap: {max_impressions: 1000, window_hours: 72}\n";

/* hana's pantry: milk bought weekly (last three days ago), coffee once ten
 * days ago, flour once 200 days ago, salt weekly until three months ago; and
 * a kettle (an ordinary category) five days ago. Buy again puts what she
 * bought most often first and, among items bought as often, the one bought
 * last: milk, salt, coffee, flour, all four before anything new (the mug,
 * which goes with what she bought); the kettle never comes back. Each cites
 * her purchase of the item itself and says so in her language. */
static void test_buy_again_most_often_then_latest(void **state) {
  (void)state;
  struct fixture f = {0};
  mes_world_open(&f.w, "rec-again", POLICY_PANTRY, T0_MS, "test");
  f.rec = new_rec(&f.w);
  struct mes_err err;
  post_items(&f, "{\"items\": [{\"id\": \"milk\", \"title\": {\"en\": \"Milk\", \"es\": \"Leche\"}, "
                 "\"categories\": [\"pantry\"]},"
                 "{\"id\": \"coffee\", \"title\": \"Coffee\", \"categories\": [\"pantry\"]},"
                 "{\"id\": \"flour\", \"title\": \"Flour\", \"categories\": [\"pantry\"]},"
                 "{\"id\": \"salt\", \"title\": \"Salt\", \"categories\": [\"pantry\"]},"
                 "{\"id\": \"kettle\", \"title\": \"Kettle\", \"categories\": [\"kitchen\"]},"
                 "{\"id\": \"mug\", \"title\": \"Mug\", \"categories\": [\"kitchen\"]}]}");
  json_t *evs = json_array();
  static const char *const all[] = {"milk", "coffee", "flour", "salt", "kettle", "mug"};
  for (int i = 0; i < 12; i++) {
    char s[32];
    snprintf(s, sizeof s, "shopper-%d", i);
    consent(&f, s, "granted");
    for (int k = 0; k < 6; k++)
      event(evs, s, "purchase", all[(i + k) % 6], T0_MS - (20 + k) * 24 * 60 * MIN_MS);
  }
  consent(&f, "hana", "granted");
  for (int w = 0; w < 4; w++)
    event(evs, "hana", "purchase", "milk", T0_MS - (3 + 7 * w) * 24 * 60 * MIN_MS);
  event(evs, "hana", "purchase", "coffee", T0_MS - 10 * 24 * 60 * MIN_MS);
  event(evs, "hana", "purchase", "flour", T0_MS - 200 * 24 * 60 * MIN_MS);
  for (int w = 0; w < 4; w++)
    event(evs, "hana", "purchase", "salt", T0_MS - (90 + 7 * w) * 24 * 60 * MIN_MS);
  event(evs, "hana", "purchase", "kettle", T0_MS - 5 * 24 * 60 * MIN_MS);
  ingest(&f, evs);
  struct mes_model_params p;
  mes_model_params_default(&p);
  assert_int_equal(mes_model_train(mes_world_ingester(&f.w), &f.w.req, NULL, &p, &f.model, &err), MES_OK);

  json_t *r = recommend(&f, f.rec, f.model, "{\"subject\": \"hana\", \"count\": 6}", MES_LANG_EN, NULL);
  int milk = rank_of(r, "milk"), coffee = rank_of(r, "coffee"), flour = rank_of(r, "flour"),
      salt = rank_of(r, "salt");
  assert_int_equal(milk, 0);
  assert_int_equal(salt, 1);
  assert_int_equal(coffee, 2);
  assert_int_equal(flour, 3);
  int mug = rank_of(r, "mug");
  assert_true(mug < 0 || mug > flour);
  assert_int_equal(rank_of(r, "kettle"), -1);
  for (int k = 0; k < 2; k++) {
    size_t at = (size_t)(k == 0 ? milk : coffee);
    const json_t *reason = json_object_get(json_array_get(json_object_get(r, "items"), at), "reason");
    assert_string_equal(mes_json_str(reason, "code", ""), "buy_again");
    const json_t *b0 = json_array_get(json_object_get(reason, "based_on"), 0);
    assert_string_equal(mes_json_str(b0, "type", ""), "purchase");
    assert_string_equal(mes_json_str(b0, "item", ""), k == 0 ? "milk" : "coffee");
  }
  assert_string_equal(mes_json_str(json_object_get(json_array_get(json_object_get(r, "items"), (size_t)milk),
                                                   "reason"),
                                   "text", ""),
                      "Buy again: you bought Milk before");
  json_decref(r);
  r = recommend(&f, f.rec, f.model, "{\"subject\": \"hana\", \"count\": 6}", MES_LANG_ES, NULL);
  assert_string_equal(mes_json_str(json_object_get(json_array_get(json_object_get(r, "items"), (size_t)milk),
                                                   "reason"),
                                   "text", ""),
                      "Vuelve a comprarlo: ya compraste Leche");
  json_decref(r);

  mes_model_unref(f.model);
  mes_recommender_free(f.rec);
  mes_world_close(&f.w);
}

/* ---------------------------------------------------------------- event weights */

/* "look" was viewed by six people, "buy" bought by one. With the default
 * weights (a purchase 8, a view 1) the purchase outweighs the six views
 * and "buy" leads the popular answer; a shop whose policy weighs a view 2
 * and a purchase 1 gets "look" first. The model carries the weights it
 * learnt with, which a person's history is then read with. */
static void test_event_weights_order_popularity(void **state) {
  (void)state;
  struct fixture f = {0};
  mes_world_open(&f.w, "rec-weights", POLICY, T0_MS, "test");
  f.rec = new_rec(&f.w);
  struct mes_err err;
  post_items(&f, "{\"items\": [{\"id\": \"look\", \"title\": \"Look\"}, {\"id\": \"buy\", \"title\": \"Buy\"}]}");
  json_t *evs = json_array();
  for (int i = 0; i < 6; i++) {
    char s[32];
    snprintf(s, sizeof s, "looker-%d", i);
    consent(&f, s, "granted");
    event(evs, s, "view", "look", T0_MS - (10 + i) * MIN_MS);
  }
  consent(&f, "buyer", "granted");
  event(evs, "buyer", "purchase", "buy", T0_MS - 10 * MIN_MS);
  ingest(&f, evs);
  const float ladders[2][2] = {{1, 8}, {2, 1}}; /* view, purchase */
  const char *const first[2] = {"buy", "look"};
  for (int l = 0; l < 2; l++) {
    struct mes_model_params p;
    mes_model_params_default(&p);
    p.kind_weights[MES_KIND_VIEW] = ladders[l][0];
    p.kind_weights[MES_KIND_PURCHASE] = ladders[l][1];
    struct mes_model *m = NULL;
    assert_int_equal(mes_model_train(mes_world_ingester(&f.w), &f.w.req, NULL, &p, &m, &err), MES_OK);
    assert_true(mes_model_kind_weight(m, MES_KIND_VIEW) == ladders[l][0]);
    assert_true(mes_model_kind_weight(m, MES_KIND_PURCHASE) == ladders[l][1]);
    json_t *r = recommend(&f, f.rec, m, "{\"count\": 2}", MES_LANG_EN, NULL);
    assert_string_equal(mes_json_str(json_array_get(json_object_get(r, "items"), 0), "item", ""), first[l]);
    json_decref(r);
    mes_model_unref(m);
  }
  mes_recommender_free(f.rec);
  mes_world_close(&f.w);
}

/* ---------------------------------------------------------------- the latest items */

/* Two neighbourhoods: a1 always viewed with a2 (one strong relation), b1
 * viewed half the time with b2 and half with b3 (weaker ones), by different
 * people, so the two neighbourhoods do not touch. dana viewed
 * a1, then b1. Counting both alike, a2 leads (its relation is stronger);
 * with model.recent_items_half_life 1, b1 (her latest) counts twice a1, and
 * b2 or b3 leads. And an item far enough back proposes nothing. */
static void test_latest_items_weigh_most(void **state) {
  (void)state;
  struct fixture f = {0};
  mes_world_open(&f.w, "rec-latest", POLICY, T0_MS, "test");
  f.rec = new_rec(&f.w);
  struct mes_err err;
  post_items(&f, "{\"items\": [{\"id\": \"a1\", \"title\": \"A1\"}, {\"id\": \"a2\", \"title\": \"A2\"},"
                        "{\"id\": \"b1\", \"title\": \"B1\"}, {\"id\": \"b2\", \"title\": \"B2\"},"
                        "{\"id\": \"b3\", \"title\": \"B3\"}, {\"id\": \"f1\"}, {\"id\": \"f2\"}, {\"id\": \"f3\"},"
                        "{\"id\": \"f4\"}, {\"id\": \"f5\"}, {\"id\": \"f6\"}, {\"id\": \"f7\"}, {\"id\": \"f8\"}]}");
  json_t *evs = json_array();
  for (int i = 0; i < 20; i++) {
    char s[32];
    snprintf(s, sizeof s, "viewer-%d", i);
    consent(&f, s, "granted");
    int64_t t = T0_MS - 2 * 24 * 60 * MIN_MS + i * 10 * MIN_MS;
    event(evs, s, "view", i < 10 ? "a1" : "b1", t);
    event(evs, s, "view", i < 10 ? "a2" : i % 2 ? "b2" : "b3", t + MIN_MS);
  }
  consent(&f, "dana", "granted");
  event(evs, "dana", "view", "a1", T0_MS - 20 * MIN_MS);
  event(evs, "dana", "view", "b1", T0_MS - 10 * MIN_MS);
  /* emil viewed a1, then eight other things, then b1: a1 is nine places back. */
  consent(&f, "emil", "granted");
  event(evs, "emil", "view", "a1", T0_MS - 30 * MIN_MS);
  for (int i = 1; i <= 8; i++) {
    char item[8];
    snprintf(item, sizeof item, "f%d", i);
    event(evs, "emil", "view", item, T0_MS - (30 - 2 * i) * MIN_MS);
  }
  event(evs, "emil", "view", "b1", T0_MS - 5 * MIN_MS);
  ingest(&f, evs);
  struct mes_model_params p;
  mes_model_params_default(&p);
  assert_int_equal(mes_model_train(mes_world_ingester(&f.w), &f.w.req, NULL, &p, &f.model, &err), MES_OK);

  f.w.policy->model.recent_items_half_life = 0;
  json_t *r = recommend(&f, f.rec, f.model, "{\"subject\": \"dana\", \"count\": 3}", MES_LANG_EN, NULL);
  assert_string_equal(mes_json_str(json_array_get(json_object_get(r, "items"), 0), "item", ""), "a2");
  json_decref(r);
  f.w.policy->model.recent_items_half_life = 1;
  r = recommend(&f, f.rec, f.model, "{\"subject\": \"dana\", \"count\": 3}", MES_LANG_EN, NULL);
  const char *top = mes_json_str(json_array_get(json_object_get(r, "items"), 0), "item", "");
  assert_true(strcmp(top, "b2") == 0 || strcmp(top, "b3") == 0);
  assert_int_equal(rank_of(r, "a2"), 2);
  json_decref(r);

  /* Further back than 8 half-lives an item proposes nothing: with half-life
   * 1, emil's a1 does not bring a2 as "because you viewed" (the popular
   * fill may still offer it, for its own reason). */
  r = recommend(&f, f.rec, f.model, "{\"subject\": \"emil\", \"count\": 5}", MES_LANG_EN, NULL);
  int a2 = rank_of(r, "a2");
  assert_true(a2 < 0 || strcmp(reason_of(r, (size_t)a2), "because_you_viewed") != 0);
  json_decref(r);
  f.w.policy->model.recent_items_half_life = 0;
  r = recommend(&f, f.rec, f.model, "{\"subject\": \"emil\", \"count\": 5}", MES_LANG_EN, NULL);
  a2 = rank_of(r, "a2");
  assert_true(a2 >= 0);
  assert_string_equal(reason_of(r, (size_t)a2), "because_you_viewed");
  json_decref(r);
  mes_model_unref(f.model);
  mes_recommender_free(f.rec);
  mes_world_close(&f.w);
}

/* ---------------------------------------------------------------- request shape */

static void test_parse(void **state) {
  (void)state;
  static const struct {
    const char *body, *code, *field;
  } bad[] = {
      {"{\"count\": 0}", "out_of_range", "/count"},
      {"{\"count\": 101}", "out_of_range", "/count"},
      {"{\"count\": 2.5}", "wrong_type", "/count"},
      {"{\"subject\": 7}", "wrong_type", "/subject"},
      {"{\"subject\": \"\"}", "invalid_id", "/subject"},
      {"{\"extra\": 1}", "unknown_field", "/extra"},
      {"{\"channel\": \"fax\"}", "invalid_value", "/channel"},
      {"{\"channel\": 3}", "wrong_type", "/channel"},
      {"{\"context\": {\"item\": 1}}", "wrong_type", "/context/item"},
      {"{\"context\": {\"x\": 1}}", "unknown_field", "/context/x"},
      {"{\"context\": {\"device_shared\": \"yes\"}}", "wrong_type", "/context/device_shared"},
      {"{\"categories\": [\"\"]}", "invalid_id", "/categories/0"},
      {"{\"exclude\": [1]}", "wrong_type", "/exclude/0"},
      {"{\"placement\": \"\"}", "invalid_id", "/placement"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *b = parse(bad[i].body);
    struct mes_rec_request q;
    struct mes_err err;
    mes_err_clear(&err);
    int rc = mes_recommend_parse(b, &q, &err);
    json_decref(b);
    if (rc == MES_OK)
      fail_msg("%s was accepted", bad[i].body);
    assert_string_equal(mes_rc_code(rc), bad[i].code);
    assert_string_equal(err.field, bad[i].field);
  }
  json_t *b = parse("{}");
  struct mes_rec_request q;
  struct mes_err err;
  assert_int_equal(mes_recommend_parse(b, &q, &err), MES_OK);
  json_decref(b);
  assert_null(q.subject);
  assert_int_equal(q.count, 10);
  assert_int_equal(q.channel, MES_CH_WEB);
  assert_string_equal(q.placement, "default");
  assert_true(q.authenticated);
  assert_false(q.device_shared);
}

/* ---------------------------------------------------------------- ranking */

static void test_personal_after_purchase(void **state) {
  struct fixture *f = *state;
  struct mes_rec_outcome oc;
  json_t *r = recommend(f, f->rec, f->model, "{\"subject\": \"alice\", \"count\": 20}", MES_LANG_EN, &oc);
  assert_true(json_is_true(json_object_get(r, "personalized")));
  assert_true(oc.personalized);
  assert_int_equal(rank_of(r, "tent-2p"), -1); /* bought: suppressed */
  assert_int_equal(rank_of(r, "gone"), -1);    /* unavailable */
  int bag = rank_of(r, "sleeping-bag"), stove = rank_of(r, "camp-stove"), sub = rank_of(r, "tent-3p");
  assert_true(bag >= 0 && stove >= 0);
  if (sub >= 0) {
    assert_true(bag < sub);
    assert_true(stove < sub);
  }
  assert_string_equal(reason_of(r, 0), "bought_together");
  json_t *first = json_array_get(json_object_get(r, "items"), 0);
  json_t *reason = json_object_get(first, "reason");
  assert_string_equal(mes_json_str(reason, "text", ""), "Goes well with Tent 2p, which you bought");
  /* Faithful: every citation is one of alice's own events. */
  size_t i, j;
  json_t *it, *b;
  json_array_foreach(json_object_get(r, "items"), i, it) {
    json_array_foreach(json_object_get(json_object_get(it, "reason"), "based_on"), j, b) {
      const char *item = mes_json_str(b, "item", "");
      assert_true(strcmp(item, "tent-2p") == 0 || strcmp(item, "tent-4p") == 0);
    }
  }
  bool counted = false;
  for (size_t k = 0; k < oc.n_rules; k++)
    counted |= strcmp(oc.by_rule[k].rule, "after_purchase") == 0;
  assert_true(counted);
  json_decref(r);
  r = recommend(f, f->rec, f->model, "{\"subject\": \"alice\"}", MES_LANG_ES, NULL);
  reason = json_object_get(json_array_get(json_object_get(r, "items"), 0), "reason");
  assert_string_equal(mes_json_str(reason, "text", ""), "Combina con Tienda 2p, que compraste");
  json_decref(r);
}

static void assert_non_personal(const json_t *r) {
  assert_true(json_is_false(json_object_get(r, "personalized")));
  size_t i;
  json_t *it;
  assert_true(json_array_size(json_object_get(r, "items")) > 0);
  json_array_foreach(json_object_get(r, "items"), i, it) {
    const json_t *reason = json_object_get(it, "reason");
    const char *code = mes_json_str(reason, "code", "");
    assert_true(strcmp(code, "popular") == 0 || strcmp(code, "trending") == 0 ||
                strcmp(code, "similar_to_current") == 0);
    assert_int_equal(json_array_size(json_object_get(reason, "based_on")), 0);
  }
}

static void test_non_personal(void **state) {
  struct fixture *f = *state;
  json_t *r = recommend(f, f->rec, f->model, "{\"subject\": \"stranger\"}", MES_LANG_EN, NULL);
  assert_non_personal(r);
  json_decref(r);
  consent(f, "bob", "denied");
  r = recommend(f, f->rec, f->model, "{\"subject\": \"bob\"}", MES_LANG_EN, NULL);
  assert_non_personal(r);
  json_decref(r);
  /* erin granted personalization but not ads_retargeting: on ads nothing of
   * hers ranks, yet the kettle she bought stays out. */
  r = recommend(f, f->rec, f->model, "{\"subject\": \"erin\", \"channel\": \"ads\", \"count\": 50}", MES_LANG_EN, NULL);
  assert_non_personal(r);
  assert_int_equal(rank_of(r, "kettle"), -1);
  json_decref(r);
  r = recommend(f, f->rec, f->model, "{\"count\": 50}", MES_LANG_EN, NULL);
  assert_true(rank_of(r, "kettle") >= 0);
  json_decref(r);
}

static void test_filters(void **state) {
  struct fixture *f = *state;
  json_t *r =
      recommend(f, f->rec, f->model,
                "{\"context\": {\"item\": \"tent-3p\"}, \"exclude\": [\"tent-4p\"], \"count\": 50}", MES_LANG_EN, NULL);
  assert_int_equal(rank_of(r, "tent-3p"), -1);
  assert_int_equal(rank_of(r, "tent-4p"), -1);
  assert_int_equal(rank_of(r, "gone"), -1);
  assert_string_equal(reason_of(r, 0), "similar_to_current");
  json_decref(r);
  r = recommend(f, f->rec, f->model, "{\"categories\": [\"kitchen\"], \"count\": 50}", MES_LANG_EN, NULL);
  size_t i;
  json_t *it;
  assert_int_equal(json_array_size(json_object_get(r, "items")), 2);
  json_array_foreach(json_object_get(r, "items"), i, it) {
    const char *id = mes_json_str(it, "item", "");
    assert_true(strcmp(id, "kettle") == 0 || strcmp(id, "camp-stove") == 0);
  }
  json_decref(r);
  r = recommend(f, f->rec, f->model, "{\"count\": 2}", MES_LANG_EN, NULL);
  assert_int_equal(json_array_size(json_object_get(r, "items")), 2);
  json_decref(r);
}

static void test_without_model(void **state) {
  struct fixture *f = *state;
  json_t *r = recommend(f, f->rec, NULL, "{\"subject\": \"alice\", \"count\": 50}", MES_LANG_EN, NULL);
  json_t *items = json_object_get(r, "items");
  assert_int_equal(json_array_size(items), 5); /* 7 items, minus the unavailable one and the one bought */
  assert_int_equal(rank_of(r, "gone"), -1);
  assert_int_equal(rank_of(r, "tent-2p"), -1);
  assert_string_equal(reason_of(r, 0), "editorial");
  json_decref(r);
}

/* ---------------------------------------------------------------- records */

struct shown {
  json_t *served;
  size_t n;
};

static int each_shown(void *ud, const char *item, int channel, int64_t ts_ms) {
  struct shown *sh = ud;
  assert_string_equal(item, mes_json_str(json_array_get(sh->served, sh->n), "item", ""));
  assert_int_equal(channel, MES_CH_WEB);
  assert_true(ts_ms == T0_MS);
  sh->n++;
  return 0;
}

/* Request ids grow with the millisecond (the decisions table appends rather
 * than scattering records over random pages; within one millisecond they are
 * in no order, so that one id does not give away the next) and never
 * repeat; the high bits are the milliseconds since 2020. */
static void test_request_ids_grow(void **state) {
  struct fixture *f = *state;
  struct mes_recommender *rec;
  rec = new_rec(&f->w);
  char prev[MES_REC_ID_LEN + 1] = "";
  unsigned long long seen[40];
  int64_t before = mes_now_ms();
  for (int i = 0; i < 40; i++) {
    json_t *r = recommend(f, rec, f->model, i % 2 ? "{\"subject\": \"alice\"}" : "{}", MES_LANG_EN, NULL);
    const char *rid = mes_json_str(r, "request_id", "");
    assert_int_equal(strlen(rid), MES_REC_ID_LEN);
    char num[17];
    memcpy(num, rid + 2, 16); /* the record's number; the rest is the random tag */
    num[16] = '\0';
    seen[i] = strtoull(num, NULL, 16);
    for (int j = 0; j < i; j++)
      assert_true(seen[j] != seen[i]);
    if (i > 0)
      assert_true(seen[i] >> 22 >= seen[i - 1] >> 22);
    snprintf(prev, sizeof prev, "%s", rid);
    json_decref(r);
  }
  prev[18] = '\0';
  unsigned long long v = strtoull(prev + 2, NULL, 16);
  int64_t ms = (int64_t)(v >> 22) + 1577836800000LL;
  assert_true(ms >= before - 1 && ms <= mes_now_ms() + 1);
  mes_recommender_free(rec);
}

static void test_records(void **state) {
  struct fixture *f = *state;
  struct mes_recommender *rec;
  rec = new_rec(&f->w);
  json_t *r = recommend(f, rec, f->model, "{\"subject\": \"alice\", \"placement\": \"home\"}", MES_LANG_EN, NULL);
  const char *rid = mes_json_str(r, "request_id", "");
  assert_int_equal(strlen(rid), MES_REC_ID_LEN);
  struct mes_err err;
  json_t *doc = NULL;
  /* Found whether still queued or already written. */
  assert_int_equal(mes_recommend_record(rec, &f->w.req, rid, strlen(rid), true, &doc, &err), MES_OK);
  assert_true(json_equal(json_object_get(doc, "items"), json_object_get(r, "items")));
  assert_string_equal(mes_json_str(doc, "placement", ""), "home");
  json_t *sup = json_object_get(doc, "suppressed");
  assert_true(json_array_size(sup) >= 1);
  json_decref(doc);
  mes_recommender_flush(rec);
  struct mes_recommender_stats st;
  mes_recommender_stats(rec, &st); /* written: nothing waits, nothing held, nothing dropped */
  assert_int_equal(st.queued, 0);
  assert_int_equal(st.bytes, 0);
  assert_int_equal(st.dropped, 0);
  assert_int_equal(mes_recommend_record(rec, &f->w.req, rid, strlen(rid), false, &doc, &err), MES_OK);
  assert_null(json_object_get(doc, "suppressed"));
  assert_null(json_object_get(doc, "suppressed_by")); /* nor the grouped form it is stored in */
  json_decref(doc);
  /* Sealed with alice's key: stored with her sid, and the impressions of what she was served. */
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, "alice", 5, false, &s),
                   MES_OK);
  struct shown sh = {.served = json_object_get(r, "items")};
  assert_int_equal(mes_recommender_shown_list(rec, s.row.id, 0, each_shown, &sh, &err), MES_OK);
  assert_int_equal(sh.n, json_array_size(sh.served)); /* every item served, in order */
  int64_t n_imp = 0;
  assert_int_equal(mes_store_impression_sweep(f->w.store, T0_MS + 1, &n_imp), MES_OK);
  assert_int_equal(n_imp, 1); /* one sealed row per answer */
  const char *nobody = "r_00000000000000010000000000000000";
  assert_int_equal(mes_recommend_record(rec, &f->w.req, nobody, strlen(nobody), true, &doc, &err), MES_ENOT_FOUND);
  /* The record's number with another tag, or with none, finds nothing: the tag is what cannot be guessed. */
  char forged[MES_REC_ID_LEN + 1];
  snprintf(forged, sizeof forged, "%s", rid);
  forged[MES_REC_ID_LEN - 1] = forged[MES_REC_ID_LEN - 1] == '0' ? '1' : '0';
  assert_int_equal(mes_recommend_record(rec, &f->w.req, forged, strlen(forged), true, &doc, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_recommend_record(rec, &f->w.req, rid, 18, true, &doc, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_recommend_record(rec, &f->w.req, "r_xyz", 5, true, &doc, &err), MES_ENOT_FOUND);
  /* The sweep removes records past retention. */
  int64_t nd = 0;
  struct mes_req later = f->w.req;
  later.now_ms += (int64_t)(f->w.policy->decision_retention_days + 1) * 24 * 60 * MIN_MS;
  assert_int_equal(mes_recommender_sweep(rec, &later, &nd, NULL, &err), MES_OK);
  assert_int_equal(nd, 1);
  assert_int_equal(mes_recommend_record(rec, &f->w.req, rid, strlen(rid), true, &doc, &err), MES_ENOT_FOUND);
  json_decref(r);
  /* Erasure: queued entries of a subject never reach the store. */
  r = recommend(f, rec, f->model, "{\"subject\": \"alice\"}", MES_LANG_EN, NULL);
  mes_recommender_forget(rec, s.row.id);
  mes_recommender_flush(rec);
  rid = mes_json_str(r, "request_id", "");
  int rc = mes_recommend_record(rec, &f->w.req, rid, strlen(rid), true, &doc, &err);
  if (rc == MES_OK) /* the writer may have taken it before forget: then it is stored, sealed */
    json_decref(doc);
  json_decref(r);
  mes_recommender_free(rec);
}

/* The record is stored as the reply's text followed by its own part, with
 * what the rules removed grouped by rule and detail (serve.c, keep_record),
 * and read back as one object with the flat "suppressed" list: an item id
 * with a quote, a backslash and non-ASCII letters (bought, so suppressed)
 * must read back exactly in that list. */
static void test_record_escapes(void **state) {
  struct fixture *f = *state;
  static const char ODD[] = "tent \"ultra\" 2\\3 \xc3\xa9t\xc3\xa9";
  json_t *items =
      json_pack("{s:[{s:s, s:s, s:[s]}]}", "items", "id", ODD, "title", "Odd tent", "categories", "camping");
  json_t *reply = NULL;
  struct mes_err err;
  assert_int_equal(mes_catalog_post(mes_world_catalog(&f->w), &f->w.req, items, &reply, &err), MES_OK);
  assert_int_equal(mes_json_int(reply, "upserted", 0), 1);
  json_decref(items);
  json_decref(reply);
  json_t *evs = json_array();
  event(evs, "alice", "purchase", ODD, T0_MS - 10 * MIN_MS);
  ingest(f, evs);
  struct mes_recommender *rec;
  rec = new_rec(&f->w);
  /* Without a model the catalog's order fills: the odd tent is a candidate, and bought. */
  json_t *r = recommend(f, rec, NULL, "{\"subject\": \"alice\", \"count\": 50}", MES_LANG_EN, NULL);
  assert_int_equal(rank_of(r, ODD), -1);
  mes_recommender_flush(rec); /* read back from the store, sealed and unsealed */
  const char *rid = mes_json_str(r, "request_id", "");
  json_t *doc = NULL;
  assert_int_equal(mes_recommend_record(rec, &f->w.req, rid, strlen(rid), true, &doc, &err), MES_OK);
  assert_true(json_equal(json_object_get(doc, "items"), json_object_get(r, "items")));
  size_t i, found = 0;
  json_t *v;
  json_array_foreach(json_object_get(doc, "suppressed"), i, v) {
    if (strcmp(mes_json_str(v, "item", ""), ODD) == 0) {
      found++;
      assert_string_equal(mes_json_str(v, "rule", ""), "after_purchase");
      const char *detail = mes_json_str(v, "detail", "");
      assert_true(strlen(detail) > 1 && detail[strlen(detail) - 1] == '.');
    }
  }
  assert_int_equal(found, 1);
  json_decref(doc);
  json_decref(r);
  mes_recommender_free(rec);
}

/* ---------------------------------------------------------------- do_not_use_items */

/* The world of test_history_age_weighs_by_policy with both purchases
 * counting alike: a2 leads, brought by gus's purchase of a1. Once gus asks
 * that a1 never drive his recommendations (preferences.do_not_use_items),
 * no item is proposed or explained from it, on every channel his consent
 * serves, while b1 still brings its neighbours; the event itself is still
 * held. Taken off the list, a1 counts again. */
static void test_unused_item_drives_nothing(void **state) {
  (void)state;
  struct fixture f = {0};
  mes_world_open(&f.w, "rec-unused", POLICY, T0_MS, "test");
  f.rec = new_rec(&f.w);
  struct mes_err err;
  post_items(&f, "{\"items\": [{\"id\": \"a1\", \"title\": \"A1\"}, {\"id\": \"a2\", \"title\": \"A2\"},"
                 "{\"id\": \"b1\", \"title\": \"B1\"}, {\"id\": \"b2\", \"title\": \"B2\"},"
                 "{\"id\": \"b3\", \"title\": \"B3\"}]}");
  json_t *evs = json_array();
  for (int i = 0; i < 20; i++) {
    char s[32];
    snprintf(s, sizeof s, "buyer-%d", i);
    consent(&f, s, "granted");
    int64_t t = T0_MS - 2 * 24 * 60 * MIN_MS + i * 10 * MIN_MS;
    event(evs, s, "purchase", i < 10 ? "a1" : "b1", t);
    event(evs, s, "purchase", i < 10 ? "a2" : i % 2 ? "b2" : "b3", t + MIN_MS);
  }
  consent(&f, "gus", "granted");
  event(evs, "gus", "purchase", "a1", T0_MS - 2 * 24 * 60 * MIN_MS);
  event(evs, "gus", "purchase", "b1", T0_MS - 24 * 60 * MIN_MS);
  ingest(&f, evs);
  struct mes_model_params p;
  mes_model_params_default(&p);
  assert_int_equal(mes_model_train(mes_world_ingester(&f.w), &f.w.req, NULL, &p, &f.model, &err), MES_OK);
  f.w.policy->model.recent_items_half_life = 0;
  f.w.policy->model.history_half_life_days = 0;

  static const char *const bodies[] = {"{\"subject\": \"gus\", \"count\": 3}",
                                       "{\"subject\": \"gus\", \"count\": 3, \"channel\": \"app\"}",
                                       "{\"subject\": \"gus\", \"count\": 3, \"channel\": \"email\"}"};
  for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
    json_t *r = recommend(&f, f.rec, f.model, bodies[b], MES_LANG_EN, NULL);
    assert_int_equal(rank_of(r, "a2"), 0);
    json_decref(r);
  }

  json_t *prefs = parse("{\"do_not_use_items\": [\"a1\"]}"), *out = NULL;
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f.w), &f.w.req, "gus", 3, prefs, &out, &err), MES_OK);
  json_decref(prefs);
  json_decref(out);
  for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
    json_t *r = recommend(&f, f.rec, f.model, bodies[b], MES_LANG_EN, NULL);
    size_t i, j;
    json_t *it, *ev;
    assert_true(json_array_size(json_object_get(r, "items")) > 0);
    json_array_foreach(json_object_get(r, "items"), i, it) {
      json_array_foreach(json_object_get(json_object_get(it, "reason"), "based_on"), j, ev)
        assert_string_not_equal(mes_json_str(ev, "item", ""), "a1");
      if (strcmp(mes_json_str(it, "item", ""), "a2") == 0) /* only without a personal reason */
        assert_string_not_equal(reason_of(r, i), "bought_together");
    }
    const char *top = mes_json_str(json_array_get(json_object_get(r, "items"), 0), "item", "");
    assert_true(strcmp(top, "b2") == 0 || strcmp(top, "b3") == 0);
    json_decref(r);
  }

  /* Taken off the list, it counts again. */
  prefs = parse("{\"do_not_use_items\": []}");
  assert_int_equal(mes_consent_set_preferences(mes_world_ledger(&f.w), &f.w.req, "gus", 3, prefs, &out, &err), MES_OK);
  json_decref(prefs);
  json_decref(out);
  json_t *r = recommend(&f, f.rec, f.model, bodies[0], MES_LANG_EN, NULL);
  assert_int_equal(rank_of(r, "a2"), 0);
  json_decref(r);
  mes_model_unref(f.model);
  mes_recommender_free(f.rec);
  mes_world_close(&f.w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_personal_after_purchase, setup, teardown),
      cmocka_unit_test_setup_teardown(test_non_personal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_without_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_request_ids_grow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_record_escapes, setup, teardown),
      cmocka_unit_test(test_latest_items_weigh_most),
      cmocka_unit_test(test_history_age_weighs_by_policy),
      cmocka_unit_test(test_unused_item_drives_nothing),
      cmocka_unit_test(test_buy_again_most_often_then_latest),
      cmocka_unit_test(test_event_weights_order_popularity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
