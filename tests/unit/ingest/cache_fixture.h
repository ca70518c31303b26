/*
 * The fixture of the history cache's tests (test_histcache.c,
 * ../recommend/test_shown.c): a world (real store, master key, example policy)
 * whose ingester reads without the cache (mes_world_ingester) and a second
 * ingester over the same registry and ledger that reads through a 1 MiB
 * cache (f->cc, its cache f->hc), so every test compares the two.
 */
#ifndef MES_TEST_CACHE_FIXTURE_H
#define MES_TEST_CACHE_FIXTURE_H

#include "../world.h"

#include "ingest/histcache.h"
#include "ingest/ingest_int.h"

#define MIB (1024u * 1024u)

struct fixture {
  struct mes_world w;
  struct mes_ingester *cc;  /* the world's ingester with the cache */
  struct mes_histcache *hc; /* cc's */
};

static int cache_fixture_open(void **state, const char *name, int64_t now_ms) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, name, NULL, now_ms, "test-key");
  mes_world_ingester(&f->w);
  f->cc = mes_world_new_ingester(&f->w, MIB);
  f->hc = f->cc->cache;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_world_close(&f->w);
  free(f);
  return 0;
}

#endif
