/*
 * Unit tests of model over a real store, master key and the example policy
 * in a temporary data directory (one per test): relations learnt from a
 * small hand-made shop (bought together finds the complement, viewed
 * together the substitute, the normalisation does not put the best seller
 * first), the consent and restriction gates of training, popularity, EASE
 * against a hand-computed inverse, the blob round trip and the refusal of
 * corrupt blobs, keeping the newest two models, and reference counts.
 */
#include <math.h>
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
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "model/model_int.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"

#define T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z */
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

struct fixture {
  struct mes_world w;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "model", NULL, T0_MS, "test");
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

static void consent(struct fixture *f, const char *subject, const char *purpose) {
  json_t *body = json_pack("{s:s}", "status", "granted"), *receipt = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_consent_record(mes_world_ledger(&f->w), &f->w.req, subject, strlen(subject), purpose, strlen(purpose),
                              body, &receipt, &err);
  if (rc)
    fail_msg("consent %s/%s: %s (%s)", subject, purpose, mes_rc_code(rc), mes_err_text(&err));
  json_decref(receipt);
  json_decref(body);
}

/* One event of subject, ago_ms before T0; checks that it was stored. */
static void event(struct fixture *f, const char *subject, const char *type, const char *item, int64_t ago_ms) {
  char ts[32];
  mes_time_format(T0_MS - ago_ms, ts);
  json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "subject", subject, "type", type, "item", item, "ts", ts);
  json_t *reply = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_ingest_batch(mes_world_ingester(&f->w), &f->w.req, body, &reply, &err);
  if (rc)
    fail_msg("ingest %s %s %s: %s (%s)", subject, type, item, mes_rc_code(rc), mes_err_text(&err));
  assert_int_equal(json_integer_value(json_object_get(reply, "stored")), 1);
  json_decref(reply);
  json_decref(body);
}

static struct mes_model *train(struct fixture *f, int kind) {
  struct mes_model_params p;
  mes_model_params_default(&p);
  p.kind = kind;
  struct mes_model *m = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_model_train(mes_world_ingester(&f->w), &f->w.req, NULL, &p, &m, &err);
  if (rc)
    fail_msg("train: %s (%s)", mes_rc_code(rc), mes_err_text(&err));
  assert_non_null(m);
  return m;
}

static int32_t item(const struct mes_model *m, const char *id) { return mes_model_item(m, id, strlen(id)); }

/* The id of item's first neighbour for rel, or "" when none. */
static const char *first(const struct mes_model *m, enum mes_rel rel, const char *id) {
  int32_t i = item(m, id);
  if (i < 0)
    fail_msg("the model has not seen %s", id);
  size_t n;
  const struct mes_nbr *nb = mes_model_neighbors(m, rel, (uint32_t)i, &n);
  return n ? mes_model_item_id(m, nb[0].item) : "";
}

static bool has_neighbor(const struct mes_model *m, enum mes_rel rel, const char *a, const char *b) {
  int32_t i = item(m, a), j = item(m, b);
  if (i < 0 || j < 0)
    return false;
  size_t n;
  const struct mes_nbr *nb = mes_model_neighbors(m, rel, (uint32_t)i, &n);
  for (size_t k = 0; k < n; k++)
    if (nb[k].item == (uint32_t)j)
      return true;
  return false;
}

/*
 * A small camping shop:
 *   c0..c19   buy the tent, then the sleeping bag 5 days later (complements);
 *   s0..s19   view the tent and the other tent within an hour (substitutes);
 *   p0..p59   buy the best seller; p0..p24 also buy the tent 2 days later, so
 *             the raw count (tent, best seller) = 25 beats (tent, sleeping
 *             bag) = 20: only a normalisation puts the sleeping bag first;
 *   r0..r9    (restricted afterwards) buy the tent and "restricted-item";
 *   a0..a9    grant ads_retargeting only, view "ads-a" and "ads-b";
 *   d0..d9    dismiss "dismissed-a" right after buying the tent.
 */
static void shop(struct fixture *f) {
  char s[16];
  for (int i = 0; i < 20; i++) {
    snprintf(s, sizeof s, "c%d", i);
    consent(f, s, "personalization");
    event(f, s, "purchase", "tent", 20 * DAY_MS);
    event(f, s, "purchase", "sleeping-bag", 15 * DAY_MS);
    snprintf(s, sizeof s, "s%d", i);
    consent(f, s, "personalization");
    event(f, s, "view", "tent", 3 * DAY_MS);
    event(f, s, "view", "tent-b", 3 * DAY_MS - HOUR_MS);
  }
  for (int i = 0; i < 60; i++) {
    snprintf(s, sizeof s, "p%d", i);
    consent(f, s, "personalization");
    event(f, s, "purchase", "best-seller", 10 * DAY_MS);
    if (i < 25)
      event(f, s, "purchase", "tent", 8 * DAY_MS);
  }
  for (int i = 0; i < 10; i++) {
    snprintf(s, sizeof s, "r%d", i);
    consent(f, s, "personalization");
    event(f, s, "purchase", "tent", 4 * DAY_MS);
    event(f, s, "purchase", "restricted-item", 4 * DAY_MS);
    struct mes_subject subj;
    assert_int_equal(
        mes_subject_resolve(mes_world_subjects(&f->w), &f->w.req, MES_NS_SUBJECT, s, strlen(s), false, &subj), MES_OK);
    assert_int_equal(mes_store_subject_set_restricted(f->w.store, subj.row.id, true), MES_OK);
    snprintf(s, sizeof s, "a%d", i);
    consent(f, s, "ads_retargeting");
    event(f, s, "view", "ads-a", 2 * DAY_MS);
    event(f, s, "view", "ads-b", 2 * DAY_MS);
    snprintf(s, sizeof s, "d%d", i);
    consent(f, s, "personalization");
    event(f, s, "purchase", "tent", 6 * DAY_MS);
    event(f, s, "dismiss", "dismissed-a", 6 * DAY_MS - HOUR_MS);
  }
}

/* ------------------------------------------------------------ tests */

static void test_relations(void **state) {
  struct fixture *f = *state;
  shop(f);
  struct mes_model *m = train(f, MES_MODEL_COOC);
  /* Complement first after a purchase, not the best seller that co-occurs more. */
  assert_string_equal(first(m, MES_REL_BOUGHT, "tent"), "sleeping-bag");
  assert_true(has_neighbor(m, MES_REL_BOUGHT, "tent", "best-seller"));
  assert_string_equal(first(m, MES_REL_BOUGHT, "sleeping-bag"), "tent");
  /* Substitutes come from views, and only there. */
  assert_string_equal(first(m, MES_REL_VIEWED, "tent"), "tent-b");
  assert_false(has_neighbor(m, MES_REL_BOUGHT, "tent", "tent-b"));
  assert_false(has_neighbor(m, MES_REL_VIEWED, "tent", "sleeping-bag"));
  /* Restricted people, purposes not granted, and dismissals teach nothing. */
  assert_int_equal(item(m, "restricted-item"), -1);
  assert_int_equal(item(m, "ads-a"), -1);
  assert_int_equal(item(m, "dismissed-a"), -1);
  assert_int_equal(mes_model_n_items(m), 4);
  /* Popularity: the best seller leads and scores 1. */
  size_t n;
  const uint32_t *top = mes_model_top(m, false, &n);
  assert_int_equal(n, 4);
  assert_string_equal(mes_model_item_id(m, top[0]), "best-seller");
  assert_true(mes_model_popularity(m, top[0]) == 1.0f);
  for (size_t i = 1; i < n; i++)
    assert_true(mes_model_popularity(m, top[i]) <= mes_model_popularity(m, top[i - 1]));
  /* Weights: purchase > cart > click > view > 0 = search = dismiss. */
  assert_true(mes_model_kind_weight(m, MES_KIND_PURCHASE) > mes_model_kind_weight(m, MES_KIND_CART));
  assert_true(mes_model_kind_weight(m, MES_KIND_CART) > mes_model_kind_weight(m, MES_KIND_CLICK));
  assert_true(mes_model_kind_weight(m, MES_KIND_CLICK) > mes_model_kind_weight(m, MES_KIND_VIEW));
  assert_true(mes_model_kind_weight(m, MES_KIND_VIEW) > 0);
  assert_true(mes_model_kind_weight(m, MES_KIND_SEARCH) == 0 && mes_model_kind_weight(m, MES_KIND_DISMISS) == 0);
  json_t *meta = mes_model_meta(m);
  assert_string_equal(json_string_value(json_object_get(meta, "kind")), "cooc");
  /* c: 20*2, s: 20*2, p: 60 + 25, d: 10 (the purchases; dismissals do not count) */
  assert_int_equal(json_integer_value(json_object_get(meta, "events")), 40 + 40 + 85 + 10);
  assert_int_equal(json_integer_value(json_object_get(meta, "subjects")), 20 + 20 + 60 + 10);
  assert_non_null(json_string_value(json_object_get(meta, "data_from")));
  json_decref(meta);
  mes_model_unref(m);
}

static void test_kind_of(void **state) {
  (void)state;
  static const struct {
    const char *name;
    enum mes_kind k;
  } cases[] = {{"view", MES_KIND_VIEW},         {"click", MES_KIND_CLICK},     {"add_to_cart", MES_KIND_CART},
               {"purchase", MES_KIND_PURCHASE}, {"search", MES_KIND_SEARCH},   {"dismiss", MES_KIND_DISMISS},
               {"wishlist", MES_KIND_OTHER},    {"View", MES_KIND_OTHER},      {"", MES_KIND_OTHER}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(mes_kind_of(cases[i].name), cases[i].k);
  assert_int_equal(mes_kind_of(NULL), MES_KIND_OTHER);
}

/* EASE on G = [[2,1,0],[1,2,1],[0,1,2]] (λ included): G⁻¹ = ¼[[3,-2,1],[-2,4,-2],[1,-2,3]],
 * so B(i,j) = -P(i,j)/P(j,j) is [[0, 1/2, -1/3], [2/3, 0, 2/3], [-1/3, 1/2, 0]]. */
static void test_ease_solve(void **state) {
  (void)state;
  float g[9] = {2, 1, 0, 1, 2, 1, 0, 1, 2};
  const float want[9] = {0, 0.5f, -1.0f / 3, 2.0f / 3, 0, 2.0f / 3, -1.0f / 3, 0.5f, 0};
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes__ease_solve(g, 3, &err), MES_OK);
  for (int i = 0; i < 9; i++)
    if (fabsf(g[i] - want[i]) > 1e-5f)
      fail_msg("B[%d][%d] = %f, want %f", i / 3, i % 3, (double)g[i], (double)want[i]);
  /* Not positive definite: refused, not crashed. */
  float bad[4] = {1, 2, 2, 1};
  assert_int_equal(mes__ease_solve(bad, 2, &err), MES_EINTERNAL);
}

static void test_ease_trained(void **state) {
  struct fixture *f = *state;
  shop(f);
  struct mes_model *m = train(f, MES_MODEL_EASE);
  json_t *meta = mes_model_meta(m);
  assert_string_equal(json_string_value(json_object_get(meta, "kind")), "ease");
  assert_int_equal(json_integer_value(json_object_get(meta, "ease_items")), 4);
  json_decref(meta);
  /* The bought-together people make the sleeping bag EASE's strongest link
   * from the tent... and the relations of cooc are still there. */
  assert_string_equal(first(m, MES_REL_EASE, "sleeping-bag"), "tent");
  assert_string_equal(first(m, MES_REL_BOUGHT, "tent"), "sleeping-bag");
  mes_model_unref(m);
  /* auto on four items: EASE fits. popular: no relations at all. */
  m = train(f, MES_MODEL_AUTO);
  meta = mes_model_meta(m);
  assert_string_equal(json_string_value(json_object_get(meta, "kind")), "ease");
  json_decref(meta);
  mes_model_unref(m);
  m = train(f, MES_MODEL_POPULAR);
  size_t n;
  for (int r = 0; r < MES_REL_N; r++) {
    mes_model_neighbors(m, (enum mes_rel)r, (uint32_t)item(m, "tent"), &n);
    assert_int_equal(n, 0);
  }
  mes_model_unref(m);
}

/* A copy of m's blob with `mutate` applied; the checksum is recomputed when
 * `reseal`, so that the check behind it is the one exercised. */
static int load_mutated(const struct mes_model *m, size_t cut, size_t flip_at, bool reseal, uint32_t set_u32_at,
                        uint32_t v, struct mes_err *err) {
  size_t len = m->blob_len - cut;
  uint8_t *b = malloc(len);
  assert_non_null(b);
  memcpy(b, m->blob, len);
  if (flip_at)
    b[flip_at] ^= 0x40;
  if (set_u32_at)
    memcpy(b + set_u32_at, &v, 4);
  if (reseal) {
    uint64_t h = mes__blob_sum(b + 64, len - 64);
    memcpy(b + 48, &h, 8);
  }
  struct mes_model *out = NULL;
  int rc = mes__model_from_blob(b, len, 0, &out, err);
  mes_model_unref(out);
  return rc;
}

static void test_blob(void **state) {
  struct fixture *f = *state;
  shop(f);
  struct mes_model *m = train(f, MES_MODEL_EASE);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_model_latest_id(f->w.store), 0);
  int64_t id = 0;
  assert_int_equal(mes_model_save(f->w.store, m, NULL, &id, &err), MES_OK);
  assert_true(id > 0);
  assert_int_equal(mes_model_latest_id(f->w.store), id);
  struct mes_model *l = NULL;
  assert_int_equal(mes_model_load(f->w.store, id, &l, &err), MES_OK);
  assert_int_equal(mes_model_id(l), id);
  assert_int_equal(mes_model_n_items(l), mes_model_n_items(m));
  for (uint32_t i = 0; i < mes_model_n_items(m); i++) {
    assert_string_equal(mes_model_item_id(l, i), mes_model_item_id(m, i));
    assert_true(mes_model_popularity(l, i) == mes_model_popularity(m, i));
    assert_true(mes_model_trending(l, i) == mes_model_trending(m, i));
    for (int r = 0; r < MES_REL_N; r++) {
      size_t n1, n2;
      const struct mes_nbr *a = mes_model_neighbors(m, (enum mes_rel)r, i, &n1);
      const struct mes_nbr *b = mes_model_neighbors(l, (enum mes_rel)r, i, &n2);
      assert_int_equal(n1, n2);
      assert_memory_equal(a, b, n1 * sizeof *a);
    }
  }
  json_t *meta = mes_model_meta(l);
  assert_int_equal(json_integer_value(json_object_get(meta, "id")), id);
  /* What a server decides from before loading: read without the blob. */
  int64_t events = -1, id2 = 0;
  struct mes_model_seen seen = {-1, -1};
  assert_int_equal(mes_model_peek(f->w.store, id, &events, &seen, &err), MES_OK);
  assert_int_equal(events, json_integer_value(json_object_get(meta, "events")));
  assert_true(events > 0);
  assert_int_equal(seen.erasures, 0);
  assert_int_equal(seen.forgets, 0);
  assert_int_equal(mes_model_save_alone(f->w.store, m, &(struct mes_model_seen){7, 3}, &id2, &err), MES_OK);
  assert_int_equal(mes_model_peek(f->w.store, id2, &events, &seen, &err), MES_OK);
  assert_int_equal(seen.erasures, 7);
  assert_int_equal(seen.forgets, 3);
  struct mes_model *l2 = NULL;
  assert_int_equal(mes_model_load(f->w.store, id2, &l2, &err), MES_OK);
  assert_int_equal(mes_model_erasures_seen(l2), 7);
  assert_int_equal(mes_model_forgets_seen(l2), 3);
  mes_model_unref(l2);
  assert_int_equal(mes_model_peek(f->w.store, id, &events, &seen, &err), MES_ENOT_FOUND); /* alone: the older went */
  id = id2;
  assert_true(json_integer_value(json_object_get(meta, "memory_bytes")) > 0);
  json_decref(meta);
  mes_model_unref(l);

  /* Corrupt blobs are refused with a sentence, never loaded. */
  assert_int_equal(load_mutated(m, 0, 0, false, 0, 0, &err), MES_OK);
  assert_int_equal(load_mutated(m, 8, 0, false, 0, 0, &err), MES_ESTORE);      /* truncated */
  assert_int_equal(load_mutated(m, 0, 3, false, 0, 0, &err), MES_ESTORE);      /* magic */
  assert_int_equal(load_mutated(m, 0, 100, false, 0, 0, &err), MES_ESTORE);    /* checksum */
  assert_non_null(strstr(mes_err_text(&err), "corrupt"));
  assert_int_equal(load_mutated(m, 0, 0, false, 8, 99, &err), MES_ESTORE);     /* version */
  assert_int_equal(load_mutated(m, 0, 0, true, 16, 1000000, &err), MES_ESTORE); /* n_items vs length */
  /* A neighbour index beyond the items, checksum made right: the range check catches it. */
  size_t nbytes;
  const struct mes_nbr *nb = mes_model_neighbors(m, MES_REL_BOUGHT, (uint32_t)item(m, "tent"), &nbytes);
  assert_true(nbytes > 0);
  size_t at = (size_t)((const uint8_t *)&nb[0].item - m->blob);
  assert_int_equal(load_mutated(m, 0, 0, true, (uint32_t)at, 77, &err), MES_ESTORE);
  assert_non_null(strstr(mes_err_text(&err), "neighbour"));
  /* ... and a NaN weight. */
  uint32_t nan_bits = 0x7fc00000u;
  assert_int_equal(load_mutated(m, 0, 0, true, (uint32_t)(at + 4), nan_bits, &err), MES_ESTORE);
  /* Garbage stored under a model id: MES_ESTORE from load, no crash. */
  int64_t gid = 0;
  const uint8_t junk[] = "MESMODEL but not really";
  assert_int_equal(mes_store_model_put(f->w.store, "{}", junk, sizeof junk, 2, T0_MS, &gid), MES_OK);
  assert_int_equal(mes_model_load(f->w.store, gid, &l, &err), MES_ESTORE);
  assert_null(l);
  assert_int_equal(mes_model_peek(f->w.store, gid, &events, &seen, &err), MES_OK); /* "{}": nothing said, nothing seen */
  assert_int_equal(events, 0);
  assert_int_equal(seen.erasures, 0);
  assert_int_equal(seen.forgets, 0);
  /* Only the newest two are kept. */
  int64_t id3 = 0;
  assert_int_equal(mes_model_save(f->w.store, m, NULL, &id3, &err), MES_OK);
  assert_int_equal(mes_model_load(f->w.store, id, &l, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_model_latest_id(f->w.store), id3);
  mes_model_unref(m);
}

static void test_refcount(void **state) {
  struct fixture *f = *state;
  struct mes_model *m = train(f, MES_MODEL_AUTO); /* an empty store: an empty, valid model */
  assert_int_equal(mes_model_n_items(m), 0);
  size_t n = 1;
  assert_non_null(mes_model_top(m, true, &n));
  assert_int_equal(n, 0);
  assert_int_equal(mes_model_item(m, "x", 1), -1);
  assert_ptr_equal(mes_model_ref(m), m);
  mes_model_unref(m); /* one reference left: still usable (ASan would see a use after free) */
  assert_int_equal(mes_model_n_items(m), 0);
  json_t *meta = mes_model_meta(m);
  assert_true(json_is_null(json_object_get(meta, "data_from")));
  json_decref(meta);
  mes_model_unref(m);
  assert_null(mes_model_ref(NULL));
  mes_model_unref(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_relations, setup, teardown),
      cmocka_unit_test(test_kind_of),
      cmocka_unit_test(test_ease_solve),
      cmocka_unit_test_setup_teardown(test_ease_trained, setup, teardown),
      cmocka_unit_test_setup_teardown(test_blob, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refcount, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
