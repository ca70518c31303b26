/*
 * fuzz_bodies — libFuzzer target for the request bodies that are validated
 * and stored outside the event path: the catalog (POST /v1/items and
 * PUT /v1/items/{id}, src/catalog), consent records
 * (PUT /v1/subjects/{s}/consents/{purpose}, src/consent), preferences
 * (PUT /v1/subjects/{s}/preferences, src/lib/consent/prefs.c) and their patch
 * (PATCH /v1/subjects/{s}/preferences, src/lib/rights/prefs.c, which also
 * dismisses items through ingestion), the restriction of processing
 * (PUT /v1/subjects/{s}/restriction), a person's token
 * (POST /v1/subjects/{s}/tokens), an anonymous visitor's consent
 * (PUT /v1/visitors/{a}/consents/{purpose}), linking a visitor at login
 * (POST /v1/subjects/{s}/link) and an API key made from the console
 * (POST /v1/admin/keys), the last five through their public verbs.
 *
 * The first byte picks the body, the rest is its JSON text (text jansson
 * refuses is skipped: that is the HTTP layer's, fuzzed by fuzz_events). Each
 * call runs on a real data directory (the example policy, a master key, the
 * encrypted store) made once per process under $TMPDIR and removed at exit.
 * A body is either taken (MES_OK) or refused with a 4xx code and a message;
 * never a 5xx, which would be the server failing on a client's input.
 * Seeds: fuzz/corpus/bodies/.
 *
 *   ./fuzz_bodies fuzz/corpus/bodies
 */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "consent/consent.h"
#include "engine/engine.h"
#include "rights/rights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[PATH_MAX];
static struct mes_engine *engine;

static void remove_dir(void) {
  mes_engine_close(engine);
  engine = NULL;
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    char path[PATH_MAX + NAME_MAX + 2];
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
      }
    }
    closedir(d);
  }
  rmdir(dir);
}

static void open_world(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/mesura-fuzz-bodies-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  struct mes_err err = {0};
  if (!mkdtemp(dir) || mes_engine_init_dir(dir, &err) != MES_OK)
    abort();
  struct mes_engine_opts o = {.dir = dir};
  o.log.level = MES_LOG_ERROR;
  if (mes_engine_open(&o, &engine, &err) != MES_OK)
    abort();
  atexit(remove_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  if (!engine)
    open_world();
  json_error_t je;
  json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
  if (!body)
    return 0;
  struct mes_req c;
  mes_engine_req(engine, &c, "fuzz", false);
  struct mes_err err = {0};
  json_t *out = NULL;
  int rc;
  struct mes_body rbody = {.json = body};
  char token[64];
  int64_t expires_ms = 0;
  unsigned kind = data[0] % 10;
  switch (kind) {
  case 0:
    rc = mes_catalog_post(mes_engine_catalog(engine), &c, body, &out, &err);
    break;
  case 1:
    rc = mes_catalog_put(mes_engine_catalog(engine), &c, "item-1", 6, body, &err);
    break;
  case 2:
    rc = mes_consent_record(mes_engine_ledger(engine), &c, "shopper-1", 9, "personalization", 15, body, &out, &err);
    break;
  case 3:
    rc = mes_consent_set_preferences(mes_engine_ledger(engine), &c, "shopper-1", 9, body, &out, &err);
    break;
  case 4:
    rc = mes_rights_patch_preferences(mes_engine_rights(engine), &c, "shopper-1", 9, body, &out, &err);
    break;
  case 5:
    rc = mes_engine_restriction_set(engine, NULL, "shopper-1", 9, &rbody, &out, &err);
    break;
  case 6:
    rc = mes_engine_token_create(engine, NULL, "shopper-1", 9, &rbody, 60, token, &expires_ms, &err);
    if (rc == MES_OK && (strncmp(token, "mst_", 4) != 0 || expires_ms <= 0))
      abort();
    mes_wipe(token, sizeof token);
    break;
  case 7:
    rc = mes_engine_visitor_consent_put(engine, NULL, "cookie-1", 8, "personalization", 15, &rbody, &out, &err);
    break;
  case 8:
    rc = mes_engine_visitor_link(engine, NULL, "shopper-1", 9, &rbody, &out, &err);
    break;
  default:
    rc = mes_engine_admin_key_create(engine, NULL, &rbody, &out, &err);
    if (rc == MES_OK && !json_is_string(json_object_get(out, "key")))
      abort(); /* a key made is a key shown, once */
    break;
  }
  mes_engine_req_done(engine, &c);
  int status = mes_rc_status(rc);
  if (rc != MES_OK && (status < 400 || status > 499 || !mes_err_text(&err)[0]))
    abort();
  if (rc == MES_OK && kind != 1 && kind != 6 && !out)
    abort(); /* a taken body always has its reply */
  json_decref(out);
  json_decref(body);
  return 0;
}
