/*
 * fuzz_events — libFuzzer target for event ingestion (src/ingest): the body
 * of POST /v1/events as the HTTP layer hands it over (parsed by
 * mes_json_parse_object), through the batch parser, the field tables, the
 * gates and, for the subjects that granted consent, sealing and the store.
 *
 * A context over a temporary data directory (store, master key, the example
 * policy, subjects "u1" granted personalization and "u2" ads_retargeting,
 * the server's map of subject rows) is built once. Every input must either be refused with a 4xx code (and no
 * reply), or produce a reply of the contract's shape whose counts add up.
 * Seeds: fuzz/corpus/events/, dictionary: fuzz/events.dict.
 *
 *   ./fuzz_events -dict=fuzz/events.dict fuzz/corpus/events
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"
#include "subject/subjmap.h"

#define NOW_MS 1795208645000LL /* 2026-11-20T21:04:05Z: inputs are reproducible */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
  char dir[64];
  struct mes_policy *policy;
  struct mes_master *master;
  struct mes_store *store;
  struct mes_subjects *subjects;
  struct mes_ledger *ledger;
  struct mes_ingester *ingester;
  struct mes_req req;
} fx;

static void cleanup(void) {
  mes_ingester_free(fx.ingester);
  mes_ledger_free(fx.ledger);
  mes_subjects_free(fx.subjects);
  mes_store_close(fx.store);
  mes_master_free(fx.master);
  mes_policy_free(fx.policy);
  DIR *d = opendir(fx.dir);
  if (d) {
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
        snprintf(path, sizeof path, "%s/%s", fx.dir, de->d_name);
        unlink(path);
      }
    }
    closedir(d);
  }
  rmdir(fx.dir);
}

static void die(const char *what, const struct mes_err *err) {
  fprintf(stderr, "fuzz_events: %s: %s\n", what, mes_err_text(err));
  abort();
}

static void grant(const char *subject, const char *purpose) {
  struct mes_err err = {0};
  json_t *body = json_pack("{s:s}", "status", "granted"), *receipt = NULL;
  if (!body ||
      mes_consent_record(fx.ledger, &fx.req, subject, strlen(subject), purpose, strlen(purpose), body, &receipt, &err))
    die("consent", &err);
  json_decref(receipt);
  json_decref(body);
}

static void setup_once(void) {
  struct mes_err err = {0};
  char path[128];
  snprintf(fx.dir, sizeof fx.dir, "/tmp/mes-fuzz-events-XXXXXX");
  if (!mkdtemp(fx.dir) || mes_crypto_init())
    die("temporary directory", &err);
  const char *yaml = mes_policy_example();
  if (mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &fx.policy, &err))
    die("policy", &err);
  snprintf(path, sizeof path, "%s/master.key", fx.dir);
  if (mes_master_create(path, &err) || mes_master_load(path, &fx.master, &err))
    die("master key", &err);
  if (mes_store_open(fx.dir, MES_STORE_SQLITE, true, &fx.store, &err))
    die("store", &err);
  /* As the server: subject rows from memory (the hints), checked again. */
  if (mes_subjects_new(fx.store, fx.master, NULL, 16, MES_SUBJMAP_ENTRIES, &fx.subjects) ||
      mes_ledger_new(fx.store, fx.master, fx.subjects, NULL, &fx.ledger) ||
      mes_ingester_new(fx.store, fx.master, fx.subjects, fx.ledger, 0, NULL, &fx.ingester))
    die("handles", &err);
  fx.req = (struct mes_req){.policy = fx.policy, .now_ms = NOW_MS, .actor = "fuzz"};
  grant("u1", "personalization");
  grant("u2", "ads_retargeting");
  atexit(cleanup);
}

static json_int_t count(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    abort();
  return json_integer_value(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fx.store)
    setup_once();
  /* Alternate GPC on the first byte, so that the override path is reached too. */
  fx.req.gpc = size > 0 && (data[0] & 1);
  struct mes_err err = {0};
  json_t *body = NULL, *reply = NULL;
  if (mes_json_parse_object((const char *)data, size, &body, &err))
    return 0;
  int rc = mes_ingest_batch(fx.ingester, &fx.req, body, &reply, &err);
  json_decref(body);
  if (rc) {
    /* Bad input is the client's mistake: a 4xx with a code, never a 5xx. */
    if (reply || err.rc != rc || mes_rc_status(rc) < 400 || mes_rc_status(rc) >= 500) {
      fprintf(stderr, "fuzz_events: rc %d (%s, HTTP %d), err.rc %d: %s\n", rc, mes_rc_code(rc), mes_rc_status(rc),
              err.rc, mes_err_text(&err));
      abort();
    }
    return 0;
  }
  const json_t *ns = json_object_get(reply, "not_stored");
  json_int_t accepted = count(reply, "accepted");
  json_int_t kept = count(reply, "stored") + count(ns, "no_consent") + count(ns, "third_party") +
                    count(ns, "restricted") + count(ns, "expired");
  (void)count(reply, "dropped_properties");
  if (json_object_size(reply) != 5 || json_object_size(ns) != 4 || kept != accepted ||
      !json_is_array(json_object_get(reply, "errors")))
    abort();
  json_decref(reply);
  return 0;
}
