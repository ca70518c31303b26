/*
 * Unit tests of the in-memory catalog index over a real store: built lazily
 * from items already stored, kept current by put / upsert / delete through a
 * context that carries it, titles per language with their fallbacks,
 * categories interned (pointers outlive a change of the item), iteration,
 * and the unbuilt index ignoring writes (a CLI that only writes); deletions
 * inside long probe runs of the open-addressing table, long ids, and lookups
 * racing writes from another thread; writes by another process noticed
 * through the store's catalog version.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../world.h"

#include "catalog/catalog.h"
#include "policy/policy.h"
#include "store/store.h"

#define T0_MS 1795208645000LL

static const char POLICY[] = "site: T\n"
                             "languages: [en, es, pl]\n"
                             "purposes:\n  personalization: {description: {en: x}}\n"
                             "event_types:\n  view: {purposes: [personalization], retention_days: 10}\n"
                             "categories:\n  camping: {}\n  kitchen: {}\n  baby: {sensitive: true}\n";

struct fixture {
  struct mes_world w;
  struct mes_catalog *ix; /* the world's catalog, whose index is under test */
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, "index", POLICY, T0_MS, "test-key");
  f->ix = mes_world_catalog(&f->w);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_world_close(&f->w);
  free(f);
  return 0;
}

static void put(struct fixture *f, struct mes_catalog *cat, const char *id, const char *body) {
  json_t *b = json_loads(body, 0, NULL);
  assert_non_null(b);
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_catalog_put(cat, &f->w.req, id, strlen(id), b, &err), MES_OK);
  json_decref(b);
}

/* A second catalog handle on the world's store, whose index is never built:
 * a writer that does not keep f->ix current (before any index existed, or
 * another process). Freed with the world. */
static struct mes_catalog *elsewhere(struct fixture *f) {
  struct mes_catalog *cat = NULL;
  assert_int_equal(mes_catalog_new(f->w.store, &cat), MES_OK);
  mes_world_made(&f->w, mes_world_free_catalog, cat);
  return cat;
}

static int lookup(struct fixture *f, const char *id, struct mes_catalog_entry *e) {
  return mes_catalog_lookup(f->ix, id, strlen(id), e);
}

static void title(struct fixture *f, const char *id, enum mes_lang l, const char *want) {
  char out[64];
  assert_int_equal(mes_catalog_title(f->ix, id, strlen(id), l, out, sizeof out), MES_OK);
  assert_string_equal(out, want);
}

static void test_build_and_lookup(void **state) {
  struct fixture *f = *state;
  struct mes_catalog *plain = elsewhere(f); /* stored before any index existed */
  put(f, plain, "tent",
      "{\"title\": {\"en\": \"Tent\", \"es-MX\": \"Casa de campaña\", \"pl\": \"Namiot\"},"
      " \"categories\": [\"camping\"]}");
  put(f, plain, "stove", "{\"title\": \"Stove\", \"categories\": [\"camping\", \"kitchen\"], \"available\": false}");
  put(f, plain, "bib", "{\"title\": {\"es\": \"Babero\"}, \"categories\": [\"baby\"]}");
  assert_int_equal(mes_catalog_size(f->ix), 0); /* lazily built */
  struct mes_catalog_entry e;
  assert_int_equal(lookup(f, "tent", &e), MES_OK);
  assert_int_equal(mes_catalog_size(f->ix), 3);
  assert_true(e.available);
  assert_int_equal(e.n_cats, 1);
  assert_string_equal(e.cats[0], "camping");
  assert_int_equal(lookup(f, "stove", &e), MES_OK);
  assert_false(e.available);
  assert_int_equal(e.n_cats, 2);
  assert_string_equal(e.cats[1], "kitchen");
  assert_int_equal(lookup(f, "nope", &e), MES_ENOT_FOUND);
  assert_int_equal(lookup(f, "ten", &e), MES_ENOT_FOUND); /* a prefix is another id */

  title(f, "tent", MES_LANG_ES, "Casa de campaña"); /* "es-MX" serves es */
  title(f, "tent", MES_LANG_PL, "Namiot");
  title(f, "stove", MES_LANG_PL, "Stove");  /* the plain string for every language */
  title(f, "bib", MES_LANG_EN, "Babero");   /* no en: the first translation */
  char small[5];
  assert_int_equal(mes_catalog_title(f->ix, "tent", 4, MES_LANG_ES, small, sizeof small), MES_OK);
  assert_string_equal(small, "Casa");
  assert_int_equal(mes_catalog_title(f->ix, "nope", 4, MES_LANG_EN, small, sizeof small), MES_ENOT_FOUND);
}

static void test_kept_current(void **state) {
  struct fixture *f = *state;
  put(f, f->ix, "tent", "{\"title\": \"Tent\", \"categories\": [\"camping\"]}");
  struct mes_catalog_entry e;
  assert_int_equal(lookup(f, "tent", &e), MES_OK); /* builds */
  const char *cat = e.cats[0];
  put(f, f->ix, "tent", "{\"title\": \"Tent v2\", \"categories\": [\"kitchen\"], \"available\": false}");
  assert_int_equal(lookup(f, "tent", &e), MES_OK);
  assert_false(e.available);
  assert_string_equal(e.cats[0], "kitchen");
  assert_string_equal(cat, "camping"); /* interned: still valid after the change */
  title(f, "tent", MES_LANG_EN, "Tent v2");

  json_t *items = json_loads("[{\"id\": \"a\", \"title\": \"A\"}, {\"id\": \"b\", \"title\": 3},"
                             " {\"id\": \"c\", \"title\": \"C\", \"categories\": [\"baby\"]}]",
                             0, NULL);
  json_t *errors = json_array();
  size_t n = 0;
  struct mes_err err;
  assert_int_equal(mes_catalog_upsert(f->ix, &f->w.req, items, "/items", 0, errors, &n, &err), MES_OK);
  assert_int_equal(n, 2);
  assert_int_equal(json_array_size(errors), 1);
  json_decref(items);
  json_decref(errors);
  assert_int_equal(lookup(f, "a", &e), MES_OK);
  assert_int_equal(lookup(f, "b", &e), MES_ENOT_FOUND); /* the invalid one never reached the index */
  assert_int_equal(lookup(f, "c", &e), MES_OK);
  assert_string_equal(e.cats[0], "baby");
  assert_int_equal(mes_catalog_size(f->ix), 3);

  assert_int_equal(mes_catalog_delete(f->ix, "a", 1, &err), MES_OK);
  assert_int_equal(lookup(f, "a", &e), MES_ENOT_FOUND);
  assert_int_equal(mes_catalog_delete(f->ix, "a", 1, &err), MES_ENOT_FOUND);
  assert_int_equal(mes_catalog_size(f->ix), 2);
}

struct seen {
  int n;
  int unavailable;
};

static int each_cb(void *ud, const char *id, const struct mes_catalog_entry *e) {
  struct seen *s = ud;
  assert_non_null(id);
  s->n++;
  s->unavailable += !e->available;
  return 0;
}

static void test_each_and_growth(void **state) {
  struct fixture *f = *state;
  /* More items than the first table has buckets: the table grows. */
  json_t *items = json_array();
  for (int i = 0; i < 2500; i++) {
    char id[32];
    snprintf(id, sizeof id, "item-%d", i);
    json_array_append_new(items, json_pack("{s:s, s:s, s:b}", "id", id, "title", id, "available", i % 10 != 0));
  }
  json_t *errors = json_array();
  size_t n = 0;
  struct mes_err err;
  struct mes_catalog *plain = elsewhere(f);
  assert_int_equal(mes_catalog_upsert(plain, &f->w.req, items, "/items", 0, errors, &n, &err), MES_OK);
  assert_int_equal(n, 2500);
  json_decref(items);
  json_decref(errors);
  struct seen s = {0};
  assert_int_equal(mes_catalog_each(f->ix, 0, each_cb, &s), MES_OK);
  assert_int_equal(s.n, 2500);
  assert_int_equal(s.unavailable, 250);
  struct seen few = {0};
  assert_int_equal(mes_catalog_each(f->ix, 7, each_cb, &few), MES_OK);
  assert_int_equal(few.n, 7);
  struct mes_catalog_entry e;
  assert_int_equal(lookup(f, "item-2499", &e), MES_OK);
  assert_int_equal(lookup(f, "item-2500", &e), MES_ENOT_FOUND);
}

/* Upserts items id_fmt % i for i in [from, to), through catalog cat, with
 * title "T<i>" and category camping (even i) or kitchen (odd i). */
static void upsert_range(struct mes_catalog *cat, const struct mes_req *c, const char *id_fmt, int from, int to) {
  json_t *items = json_array();
  for (int i = from; i < to; i++) {
    char id[160], t[16];
    snprintf(id, sizeof id, id_fmt, i);
    snprintf(t, sizeof t, "T%d", i);
    json_array_append_new(items, json_pack("{s:s, s:s, s:[s]}", "id", id, "title", t, "categories",
                                           i % 2 ? "kitchen" : "camping"));
  }
  json_t *errors = json_array();
  size_t n = 0;
  struct mes_err err;
  assert_int_equal(mes_catalog_upsert(cat, c, items, "/items", 0, errors, &n, &err), MES_OK);
  assert_int_equal(n, (size_t)(to - from));
  json_decref(items);
  json_decref(errors);
}

static void test_delete_in_runs(void **state) {
  struct fixture *f = *state;
  /* 1,000 items in the first table (2,048 slots, just under half full):
   * probe runs are long, so deletions move entries back into the holes. */
  upsert_range(f->ix, &f->w.req, "d-%d", 0, 1000);
  struct mes_catalog_entry e;
  assert_int_equal(lookup(f, "d-0", &e), MES_OK); /* builds */
  struct mes_err err;
  char id[32];
  for (int i = 0; i < 1000; i += 3) {
    snprintf(id, sizeof id, "d-%d", i);
    assert_int_equal(mes_catalog_delete(f->ix, id, strlen(id), &err), MES_OK);
  }
  assert_int_equal(mes_catalog_size(f->ix), 666);
  for (int i = 0; i < 1000; i++) {
    snprintf(id, sizeof id, "d-%d", i);
    int rc = lookup(f, id, &e);
    if (i % 3 == 0) {
      assert_int_equal(rc, MES_ENOT_FOUND);
    } else {
      assert_int_equal(rc, MES_OK);
      assert_string_equal(e.cats[0], i % 2 ? "kitchen" : "camping");
      char t[16], want[16];
      snprintf(want, sizeof want, "T%d", i);
      assert_int_equal(mes_catalog_title(f->ix, id, strlen(id), MES_LANG_EN, t, sizeof t), MES_OK);
      assert_string_equal(t, want);
    }
  }
  /* Put the deleted ones back, then grow past the first table. */
  upsert_range(f->ix, &f->w.req, "d-%d", 0, 3000);
  assert_int_equal(mes_catalog_size(f->ix), 3000);
  for (int i = 0; i < 3000; i++) {
    snprintf(id, sizeof id, "d-%d", i);
    assert_int_equal(lookup(f, id, &e), MES_OK);
  }
  struct seen s = {0};
  assert_int_equal(mes_catalog_each(f->ix, 0, each_cb, &s), MES_OK);
  assert_int_equal(s.n, 3000);
}

/* Many at once answer exactly what one at a time does: found or not,
 * availability, categories; across several groups of the look-ahead, with
 * repeats, missing ids and the index built by the call itself. */
static void test_lookup_many(void **state) {
  struct fixture *f = *state;
  struct mes_catalog *plain = elsewhere(f); /* the index is built by the first lookup below */
  upsert_range(plain, &f->w.req, "item-%d", 0, 300);
  put(f, plain, "stove", "{\"title\": \"Stove\", \"categories\": [\"camping\", \"kitchen\"], \"available\": false}");
  enum { N = 150 };
  char bufs[N][32];
  const char *ids[N];
  size_t lens[N];
  for (int i = 0; i < N; i++) {
    /* every third missing, every fifth a repeat of an earlier one, one unavailable */
    if (i == 77)
      snprintf(bufs[i], sizeof bufs[i], "stove");
    else
      snprintf(bufs[i], sizeof bufs[i], i % 3 == 0 ? "nope-%d" : "item-%d", i % 5 == 0 ? i / 2 : i * 2);
    ids[i] = bufs[i];
    lens[i] = strlen(bufs[i]);
  }
  struct mes_catalog_entry many[N];
  bool found[N];
  assert_int_equal(mes_catalog_lookup_many(f->ix, ids, lens, N, many, found), MES_OK);
  size_t n_found = 0;
  for (int i = 0; i < N; i++) {
    struct mes_catalog_entry one;
    int rc = lookup(f, ids[i], &one);
    assert_int_equal(found[i], rc == MES_OK);
    n_found += found[i];
    assert_int_equal(many[i].available, one.available);
    assert_int_equal(many[i].n_cats, one.n_cats);
    for (size_t k = 0; k < one.n_cats; k++)
      assert_ptr_equal(many[i].cats[k], one.cats[k]);
  }
  assert_true(n_found > 50 && n_found < N);
  assert_false(many[77].available);
  assert_int_equal(many[77].n_cats, 2);
  assert_string_equal(many[77].cats[1], "kitchen");
}

static void test_long_ids(void **state) {
  struct fixture *f = *state;
  /* Ids of the longest allowed size that differ only in their last bytes
   * (the hash reads eight bytes at a time, then the tail). */
  char fmt[160];
  memset(fmt, 'x', 124);
  memcpy(fmt + 124, "%04d", 5); /* 128 bytes */
  upsert_range(f->ix, &f->w.req, fmt, 0, 40);
  char id[160];
  struct mes_catalog_entry e;
  for (int i = 0; i < 40; i++) {
    snprintf(id, sizeof id, fmt, i);
    assert_int_equal(strlen(id), 128);
    assert_int_equal(lookup(f, id, &e), MES_OK);
    char t[8], want[8];
    snprintf(want, sizeof want, "T%d", i);
    assert_int_equal(mes_catalog_title(f->ix, id, 128, MES_LANG_PL, t, sizeof t), MES_OK);
    assert_string_equal(t, want);
  }
  snprintf(id, sizeof id, fmt, 40);
  assert_int_equal(lookup(f, id, &e), MES_ENOT_FOUND);
  assert_int_equal(mes_catalog_lookup(f->ix, id, 127, &e), MES_ENOT_FOUND); /* a prefix */
}

/* Readers racing a writer: "s-I" items never change and must always be
 * found whole; "f-I" items come and go (put, then deleted) meanwhile, with
 * enough of them to grow the table under the readers. */
#define RACE_STABLE 200
#define RACE_ROUNDS 4
#define RACE_FLUX 300 /* f-I items put each round, half of them deleted after */

struct race {
  struct fixture *f;
  atomic_bool stop;
  atomic_int bad;   /* wrong answers seen by readers */
  atomic_long reads;
};

static void *race_reader(void *ud) {
  struct race *r = ud;
  char id[32], t[16], want[16];
  unsigned k = 0;
  while (!atomic_load(&r->stop)) {
    int i = (int)(k++ % RACE_STABLE);
    snprintf(id, sizeof id, "s-%d", i);
    struct mes_catalog_entry e;
    int rc = mes_catalog_lookup(r->f->ix, id, strlen(id), &e);
    if (rc != MES_OK || e.n_cats != 1 || strcmp(e.cats[0], i % 2 ? "kitchen" : "camping") != 0)
      atomic_fetch_add(&r->bad, 1);
    snprintf(want, sizeof want, "T%d", i);
    rc = mes_catalog_title(r->f->ix, id, strlen(id), MES_LANG_EN, t, sizeof t);
    if (rc != MES_OK || strcmp(t, want) != 0)
      atomic_fetch_add(&r->bad, 1);
    snprintf(id, sizeof id, "f-%u", k % RACE_FLUX);
    rc = mes_catalog_lookup(r->f->ix, id, strlen(id), &e);
    if (rc != MES_OK && rc != MES_ENOT_FOUND)
      atomic_fetch_add(&r->bad, 1);
    atomic_fetch_add(&r->reads, 1);
  }
  return NULL;
}

/* Writes by someone else (a catalog handle of its own stands for
 * `mesura import` in another process): the index notices them through the
 * store's catalog version, at the next refresh or at this process's next
 * write, and is rebuilt; this process's own writes never make it rebuild. */
static void test_writes_elsewhere(void **state) {
  struct fixture *f = *state;
  struct mes_catalog *other = elsewhere(f);
  struct mes_catalog_entry e;
  put(f, f->ix, "tent", "{\"title\": \"Tent\", \"categories\": [\"camping\"]}");
  assert_int_equal(lookup(f, "tent", &e), MES_OK); /* built */
  put(f, f->ix, "stove", "{\"title\": \"Stove\", \"categories\": [\"kitchen\"]}");
  assert_int_equal(mes_catalog_refresh(f->ix), MES_OK);
  assert_int_equal(mes_catalog_size(f->ix), 2); /* our own writes: still built, kept current */

  put(f, other, "pan", "{\"title\": \"Pan\", \"categories\": [\"kitchen\"]}");
  assert_int_equal(lookup(f, "pan", &e), MES_ENOT_FOUND); /* not noticed yet */
  assert_int_equal(mes_catalog_refresh(f->ix), MES_OK);
  assert_int_equal(mes_catalog_size(f->ix), 0);       /* dropped */
  assert_int_equal(lookup(f, "pan", &e), MES_OK);     /* rebuilt, with it */
  assert_int_equal(mes_catalog_size(f->ix), 3);

  /* Someone else's write, then ours before any refresh: ours sees the gap. */
  put(f, other, "tent", "{\"title\": \"Tent\", \"categories\": [\"camping\"], \"available\": false}");
  put(f, f->ix, "cup", "{\"title\": \"Cup\", \"categories\": [\"kitchen\"]}");
  assert_int_equal(mes_catalog_size(f->ix), 0);
  assert_int_equal(lookup(f, "tent", &e), MES_OK);
  assert_false(e.available); /* the other process's change is served */
  assert_int_equal(lookup(f, "cup", &e), MES_OK);

  /* A deletion elsewhere. */
  struct mes_err err;
  mes_err_clear(&err);
  assert_int_equal(mes_catalog_delete(other, "pan", 3, &err), MES_OK);
  assert_int_equal(mes_catalog_refresh(f->ix), MES_OK);
  assert_int_equal(lookup(f, "pan", &e), MES_ENOT_FOUND);
  assert_int_equal(lookup(f, "cup", &e), MES_OK);
}

static void test_race(void **state) {
  struct fixture *f = *state;
  upsert_range(f->ix, &f->w.req, "s-%d", 0, RACE_STABLE);
  struct mes_catalog_entry e;
  assert_int_equal(lookup(f, "s-0", &e), MES_OK); /* built before the readers start */
  struct race r = {.f = f};
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
  struct mes_err err;
  char id[32];
  for (int round = 0; round < RACE_ROUNDS; round++) {
    upsert_range(f->ix, &f->w.req, "f-%d", 0, RACE_FLUX + 400 * round); /* grows the table in later rounds */
    for (int i = round % 2; i < RACE_FLUX; i += 2) {
      snprintf(id, sizeof id, "f-%d", i);
      assert_int_equal(mes_catalog_delete(f->ix, id, strlen(id), &err), MES_OK);
    }
  }
  atomic_store(&r.stop, true);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(atomic_load(&r.bad), 0);
  assert_true(atomic_load(&r.reads) > 0);
  /* What the writer left: the last round (odd) deleted the odd f-I below RACE_FLUX. */
  for (int i = 0; i < RACE_FLUX + 400 * (RACE_ROUNDS - 1); i++) {
    snprintf(id, sizeof id, "f-%d", i);
    assert_int_equal(lookup(f, id, &e), i < RACE_FLUX && i % 2 ? MES_ENOT_FOUND : MES_OK);
  }
  assert_int_equal(mes_catalog_size(f->ix), RACE_STABLE + RACE_FLUX / 2 + 400 * (RACE_ROUNDS - 1));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_build_and_lookup, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_current, setup, teardown),
      cmocka_unit_test_setup_teardown(test_each_and_growth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookup_many, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_in_runs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_race, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writes_elsewhere, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
