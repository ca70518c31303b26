/*
 * The fixture of the history cache's tests (test_histcache.c,
 * test_shown_cache.c): a world (real store, master key, example policy)
 * whose ctx reads without the cache (f->w.ctx) and a copy of it that reads
 * through a 1 MiB cache (f->cc), so every test compares the two.
 */
#ifndef MES_TEST_CACHE_FIXTURE_H
#define MES_TEST_CACHE_FIXTURE_H

#include "../world.h"

#include "ingest/histcache.h"

#define MIB (1024u * 1024u)

struct fixture {
  struct mes_world w;
  struct mes_histcache *hc;
  struct mes_ctx cc; /* w.ctx with the cache */
};

static int cache_fixture_open(void **state, const char *name, int64_t now_ms) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_world_open(&f->w, name, NULL, now_ms, "test-key");
  assert_int_equal(mes_histcache_new(MIB, &f->hc), MES_OK);
  f->cc = f->w.ctx;
  f->cc.hcache = f->hc;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_histcache_free(f->hc);
  mes_world_close(&f->w);
  free(f);
  return 0;
}

#endif
