/*
 * engine_dir — an engine over a fresh data directory, as `mesura init`
 * makes it (the example policy), for the tests that drive the engine's
 * verbs: make the directory, open and reopen the engine over it, and
 * remove it all at the end. Header-only, included as "../engine_dir.h"
 * (or "../unit/engine_dir.h" from tests/torture); cmocka must be included
 * first. Every function fails the test on an error.
 */
#ifndef MES_TEST_ENGINE_DIR_H
#define MES_TEST_ENGINE_DIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/engine.h"

/* Makes dir (a /tmp/mesura-<tag>-XXXXXX directory; 64 bytes) and data
 * (dir/data, initialised with the example policy and keys; 96 bytes). */
static inline void mes_test_dir_make(char dir[64], char data[96], const char *tag) {
  snprintf(dir, 64, "/tmp/mesura-%s-XXXXXX", tag);
  assert_non_null(mkdtemp(dir));
  snprintf(data, 96, "%s/data", dir);
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_init_dir(data, &err))
    fail_msg("init: %s", mes_err_text(&err));
}

/* Opens the engine over data into *e (the caller closes it). */
static inline void mes_test_engine_open(const char *data, struct mes_engine **e) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_engine_opts o = {.dir = data};
  if (mes_engine_open(&o, e, &err))
    fail_msg("open: %s", mes_err_text(&err));
}

/* Removes dir and everything below it. */
static inline void mes_test_dir_remove(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

#endif
