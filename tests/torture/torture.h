/*
 * torture — allocation-failure runs (curl's "torture"): an operation is run
 * once to count its allocations, then again with allocation 1 refused, then
 * 2, 3, ... until a run refuses nothing. Every run that met a refusal must
 * end with a clean error (out of memory, or a store error) and nothing else
 * out of place: no crash, no assertion, no changed answer when it reports
 * success, and, under LeakSanitizer, no leak. The counter is base/alloc.h;
 * torture.c links every allocation of the mesura modules, jansson and
 * SQLite to it. Only the thread that runs the operation is counted: what
 * the store's flusher and the recommender's writer allocate is not refused.
 * Nor is what jansson's parser allocates inside a parse (see torture.c).
 *
 * Each tests/torture/test_*.c is its own executable (linked with
 * -Wl,--wrap=malloc,... by CMakeLists.txt) and calls mes_torture_init()
 * first thing in main, before anything starts SQLite.
 *
 * Environment, for a deeper run by hand (ctest uses the defaults):
 *   MES_TORTURE_STRIDE=K  refuse allocation 1, 1 + K, 1 + 2K, ...
 *                         (default: 1, or what keeps a run under
 *                         MES_TORTURE_MAX_RUNS runs per mode, default 1500)
 *   MES_TORTURE_MODES=one|from|both   which refusal mode(s) of base/alloc.h
 *                         (default both, one after the other)
 *   MES_TORTURE_VERBOSE=1 print the expected result and every refused run's
 *                         outcome
 *   MES_TORTURE_KEEP_GOING=1  list every run out of place, failing at the end
 *   MES_TORTURE_LEAK_EVERY=K  with LeakSanitizer, check for leaks after every
 *                         K runs (default 16) and after the last
 *   MES_TORTURE_FIRST=N   start at allocation N (with gdb's
 *                         `break mes_torture_refused`, to see where the
 *                         allocation a failure names is asked for)
 */
#ifndef MES_TEST_TORTURE_H
#define MES_TEST_TORTURE_H

#include <jansson.h>
#include <stdint.h>

#include "base/err.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "recommend/recommend.h"
#include "rights/rights.h"
#include "subject/subject.h"
#include "subject/subjmap.h"

#define MES_TORTURE_T0_MS 1795208645000LL /* 2026-11-20T21:04:05Z: every clock of the shop */

/* Routes jansson's and SQLite's allocators through base/alloc's counter.
 * Call before anything uses SQLite. */
void mes_torture_init(void);

/* One operation under torture. */
struct mes_torture_op {
  const char *name;
  void *ud;
  /* Runs the operation once. On MES_OK *out is new: its result, compared
   * with the first run's (after volatile_keys are taken out). On an error
   * *out stays NULL and err says why. It may call mes_alloc_disarm() once
   * the operation proper is done, to turn its result into JSON. */
  int (*run)(void *ud, json_t **out, struct mes_err *err);
  /* Unarmed, before each run (may be NULL): gives every run the same start,
   * e.g. empty caches. */
  void (*before)(void *ud);
  /* Unarmed, after each run (may be NULL): waits for background work and
   * checks that a failed run left nothing behind. NULL when all is well,
   * else what is out of place. */
  const char *(*after)(void *ud, int rc);
  /* Top-level members of the result that differ from run to run by design. */
  const char *const *volatile_keys;
};

/* Runs op under torture as the header comment says; fails the cmocka test
 * at the first run out of place, naming the allocation number and mode. */
void mes_torture_run(const struct mes_torture_op *op);

/* ---------------------------------------------------------------- the shop */

/* A small shop most operations run in: the example policy, a store in a
 * temporary directory, a catalog index of a dozen items, consents (granted,
 * denied, ads only), a few hundred events, a trained model and a
 * recommender with its writer thread, over handles made as the engine
 * makes them, with the server's caches (keys, subject hints, histories);
 * mes_torture_shop_fresh_caches makes them again, with empty ones. */
struct mes_world; /* tests/unit/world.h */
struct mes_torture_shop {
  struct mes_world *w;
  struct mes_store *store;     /* the world's */
  const struct mes_req *req;   /* the world's request */
  struct mes_catalog *catalog; /* the world's, with its index */
  struct mes_subjects *subjects;
  struct mes_ledger *ledger;
  struct mes_ingester *ingester;
  struct mes_rights *rights;
  struct mes_recommender *rec;
  struct mes_model *model;
};

/* `name` goes into the temporary directory's name. Fails the test on error. */
void mes_torture_shop_open(struct mes_torture_shop *s, const char *name);
void mes_torture_shop_close(struct mes_torture_shop *s);
void mes_torture_shop_fresh_caches(struct mes_torture_shop *s);
/* The subject's store id; the test fails when it is unknown. */
int64_t mes_torture_shop_sid(struct mes_torture_shop *s, const char *subject);

#endif
