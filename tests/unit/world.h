/*
 * world — the small world most domain unit tests run in: a temporary data
 * directory with a policy, a master key, an open store, a subject-key cache
 * and a request context over them. Header-only (static functions), included
 * by the tests that need it as "../world.h"; cmocka must be included first.
 *
 * mes_world_open fails the test on any error. mes_world_close frees
 * everything and removes the directory (it is flat: the store's files and
 * master.key). The context's clock and actor are the caller's.
 */
#ifndef MES_TEST_WORLD_H
#define MES_TEST_WORLD_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"

struct mes_world {
  char dir[64];
  struct mes_policy *policy;
  struct mes_master *master;
  struct mes_store *store;
  struct mes_keycache *keys;
  struct mes_ctx ctx;
};

static void mes_world_path(const struct mes_world *w, const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", w->dir, name);
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
  assert_int_equal(mes_crypto_init(), MES_OK);
  char path[128];
  mes_world_path(w, "master.key", path, sizeof path);
  assert_int_equal(mes_master_create(path, &err), MES_OK);
  assert_int_equal(mes_master_load(path, &w->master, &err), MES_OK);
  assert_int_equal(mes_store_open(w->dir, MES_STORE_SQLITE, true, &w->store, &err), MES_OK);
  assert_int_equal(mes_keycache_new(64, &w->keys), MES_OK);
  w->ctx = (struct mes_ctx){.store = w->store,
                            .master = w->master,
                            .policy = w->policy,
                            .keys = w->keys,
                            .now_ms = now_ms,
                            .actor = actor};
}

static void mes_world_close(struct mes_world *w) {
  mes_keycache_free(w->keys);
  mes_store_close(w->store);
  mes_master_free(w->master);
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
