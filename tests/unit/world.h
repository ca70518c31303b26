/*
 * world — the small world most domain unit tests run in: a temporary data
 * directory with a policy, an open store and a request over them (w->req:
 * the policy, the caller's clock and actor), plus what is made over them on
 * demand, as the engine makes it: the master key, the subject registry (a
 * key cache of 64 keys, no row hints), the consent ledger, the ingester (no
 * history cache), the catalog, the recommender and the rights. Header-only, included by the
 * tests that need it as "../world.h"; cmocka must be included first.
 *
 * The makers are static inline: a test that never calls one is not linked
 * with its module (a catalog test needs neither the crypto module nor the
 * subject module). Each makes what it is made with first (mes_world_ingester
 * makes the ledger, which makes the registry, which makes the master key).
 *
 * mes_world_open fails the test on any error. mes_world_close frees
 * everything (the handles in the reverse order of their making) and removes
 * the directory (it is flat: the store's files and master.key).
 */
#ifndef MES_TEST_WORLD_H
#define MES_TEST_WORLD_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "consent/consent.h"
#include "crypto/crypto.h"
#include "ingest/ingest.h"
#include "policy/policy.h"
#include "rights/rights.h"
#include "store/store.h"
#include "subject/subject.h"

#define MES_WORLD_KEY_CACHE 64
#define MES_WORLD_HANDLES 12

struct mes_world {
  char dir[64];
  struct mes_policy *policy;
  struct mes_store *store;
  struct mes_req req; /* policy, the clock and the actor given to mes_world_open */
  /* Made on demand (NULL until then): */
  struct mes_master *master; /* dir/master.key */
  struct mes_subjects *subjects;
  struct mes_ledger *ledger;
  struct mes_ingester *ingester;
  struct mes_catalog *catalog;
  struct mes_recommender *rec; /* the rights' (tests of serving make their own) */
  struct mes_rights *rights;
  /* What mes_world_close frees, in reverse order. */
  struct {
    void (*free)(void *);
    void *p;
  } made[MES_WORLD_HANDLES];
  size_t n_made;
};

static void mes_world_path(const struct mes_world *w, const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", w->dir, name);
}

/* Remembers that p is freed by f at mes_world_close. */
static inline void mes_world_made(struct mes_world *w, void (*f)(void *), void *p) {
  assert_true(w->n_made < MES_WORLD_HANDLES);
  w->made[w->n_made].free = f;
  w->made[w->n_made++].p = p;
}

/* `name` goes into the directory's name (/tmp/mes-NAME-XXXXXX); `yaml` is
 * the policy text (NULL: the example mesura.yaml that `mesura init` writes). */
static void mes_world_open(struct mes_world *w, const char *name, const char *yaml, int64_t now_ms,
                           const char *actor) {
  memset(w, 0, sizeof *w);
  snprintf(w->dir, sizeof w->dir, "/tmp/mes-%s-XXXXXX", name);
  assert_non_null(mkdtemp(w->dir));
  struct mes_err err;
  mes_err_clear(&err);
  if (!yaml)
    yaml = mes_policy_example();
  assert_int_equal(mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &w->policy, &err), MES_OK);
  assert_int_equal(mes_store_open(w->dir, MES_STORE_SQLITE, true, &w->store, &err), MES_OK);
  w->req = (struct mes_req){.policy = w->policy, .now_ms = now_ms, .actor = actor};
}

static inline void mes_world_free_master(void *p) { mes_master_free(p); }
static inline void mes_world_free_subjects(void *p) { mes_subjects_free(p); }
static inline void mes_world_free_ledger(void *p) { mes_ledger_free(p); }
static inline void mes_world_free_ingester(void *p) { mes_ingester_free(p); }
static inline void mes_world_free_catalog(void *p) { mes_catalog_free(p); }
static inline void mes_world_free_rec(void *p) { mes_recommender_free(p); }
static inline void mes_world_free_rights(void *p) { mes_rights_free(p); }

/* The master key (dir/master.key), made once. */
static inline struct mes_master *mes_world_master(struct mes_world *w) {
  if (!w->master) {
    struct mes_err err;
    mes_err_clear(&err);
    assert_int_equal(mes_crypto_init(), MES_OK);
    char path[128];
    mes_world_path(w, "master.key", path, sizeof path);
    assert_int_equal(mes_master_create(path, &err), MES_OK);
    assert_int_equal(mes_master_load(path, &w->master, &err), MES_OK);
    mes_world_made(w, mes_world_free_master, w->master);
  }
  return w->master;
}

/* The subject registry (and the master key), made once. */
static inline struct mes_subjects *mes_world_subjects(struct mes_world *w) {
  if (!w->subjects) {
    assert_int_equal(mes_subjects_new(w->store, mes_world_master(w), NULL, MES_WORLD_KEY_CACHE, 0, &w->subjects),
                     MES_OK);
    mes_world_made(w, mes_world_free_subjects, w->subjects);
  }
  return w->subjects;
}

/* The consent ledger (and the registry), made once. */
static inline struct mes_ledger *mes_world_ledger(struct mes_world *w) {
  if (!w->ledger) {
    struct mes_subjects *sj = mes_world_subjects(w);
    assert_int_equal(mes_ledger_new(w->store, w->master, sj, NULL, &w->ledger), MES_OK);
    mes_world_made(w, mes_world_free_ledger, w->ledger);
  }
  return w->ledger;
}

/* An ingester over the world's registry and ledger with a history cache of
 * cache_bytes (0: none); freed with the world. */
static inline struct mes_ingester *mes_world_new_ingester(struct mes_world *w, size_t cache_bytes) {
  struct mes_ingester *ing = NULL;
  struct mes_ledger *lg = mes_world_ledger(w); /* and the registry, the master key */
  assert_int_equal(mes_ingester_new(w->store, w->master, w->subjects, lg, cache_bytes, NULL, &ing), MES_OK);
  mes_world_made(w, mes_world_free_ingester, ing);
  return ing;
}

/* The ingester (no history cache; and the ledger, the registry), made once. */
static inline struct mes_ingester *mes_world_ingester(struct mes_world *w) {
  if (!w->ingester)
    w->ingester = mes_world_new_ingester(w, 0);
  return w->ingester;
}

/* The catalog, made once. */
static inline struct mes_catalog *mes_world_catalog(struct mes_world *w) {
  if (!w->catalog) {
    assert_int_equal(mes_catalog_new(w->store, &w->catalog), MES_OK);
    mes_world_made(w, mes_world_free_catalog, w->catalog);
  }
  return w->catalog;
}

/* The recommender over the handles above (its writer thread running),
 * made once. */
static inline struct mes_recommender *mes_world_recommender(struct mes_world *w) {
  if (!w->rec) {
    assert_int_equal(mes_recommender_new(w->store, NULL, mes_world_subjects(w), mes_world_ledger(w),
                                         mes_world_ingester(w), mes_world_catalog(w), &w->rec),
                     MES_OK);
    mes_world_made(w, mes_world_free_rec, w->rec);
  }
  return w->rec;
}

/* The rights (over every handle above), made once. */
static inline struct mes_rights *mes_world_rights(struct mes_world *w) {
  if (!w->rights) {
    assert_int_equal(mes_rights_new(w->store, mes_world_subjects(w), mes_world_ledger(w), mes_world_ingester(w),
                                    mes_world_catalog(w), mes_world_recommender(w), &w->rights),
                     MES_OK);
    mes_world_made(w, mes_world_free_rights, w->rights);
  }
  return w->rights;
}

static void mes_world_close(struct mes_world *w) {
  while (w->n_made > 0) {
    w->n_made--;
    w->made[w->n_made].free(w->made[w->n_made].p);
  }
  mes_store_close(w->store);
  mes_policy_free(w->policy);
  DIR *d = opendir(w->dir);
  if (d) {
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      mes_world_path(w, de->d_name, path, sizeof path);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(w->dir);
  memset(w, 0, sizeof *w);
}

#endif
