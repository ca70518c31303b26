/*
 * fuzz_audit — libFuzzer target for the two bodies of fairness audits:
 * the attributes of PUT /v1/audit/subjects/{s}/attributes (the vault,
 * src/lib/audit/vault.c) and the request of POST /v1/audits (an audit run,
 * src/lib/audit/run.c), through the public verbs of mesura.h.
 *
 * The first byte picks the body, the rest is its text as a client sends it
 * (malformed JSON included). Each call runs on a real data directory made
 * once per process under $TMPDIR (a policy with an `audit` purpose, a few
 * people who granted it, some with attributes) and removed at exit. A body
 * is taken or refused with a 4xx code and a sentence; never a 5xx.
 * Seeds: fuzz/corpus/audit/.
 *
 *   ./fuzz_audit fuzz/corpus/audit
 */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mesura/mesura.h>

#include "base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy[] = "site: Fuzz\n"
                             "purposes:\n"
                             "  personalization: {description: Suggestions}\n"
                             "  audit: {description: Audits}\n"
                             "event_types:\n"
                             "  view: {purposes: [personalization], retention_days: 30}\n"
                             "audit: {min_group_size: 2}\n";

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

static void must(int rc) {
  if (rc != MES_OK)
    abort();
}

static void open_world(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/mesura-fuzz-audit-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  struct mes_err err = {0};
  if (!mkdtemp(dir) || mes_engine_init_dir(dir, &err) != MES_OK)
    abort();
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/mesura.yaml", dir);
  FILE *f = fopen(path, "w");
  if (!f || fputs(policy, f) < 0 || fclose(f))
    abort();
  struct mes_engine_opts o = {.dir = dir};
  o.log.level = MES_LOG_ERROR;
  must(mes_engine_open(&o, &engine, &err));
  atexit(remove_dir);
  static const char *const people[] = {"p1", "p2", "p3", "p4"};
  static const char *const attrs[] = {"{\"gender\": \"f\", \"postal_code\": \"1\"}",
                                      "{\"gender\": \"f\", \"postal_code\": \"1\"}",
                                      "{\"gender\": \"m\", \"postal_code\": \"2\"}", "{\"gender\": \"m\"}"};
  for (size_t i = 0; i < 4; i++) {
    json_t *receipt = NULL, *out = NULL;
    struct mes_body grant = {.text = "{\"status\": \"granted\"}", .len = 21};
    must(mes_engine_consent_put(engine, NULL, people[i], 2, "audit", 5, &grant, &receipt, &err));
    json_decref(receipt);
    struct mes_body b = {.text = attrs[i], .len = strlen(attrs[i])};
    must(mes_engine_audit_attrs_put(engine, NULL, people[i], 2, &b, &out, &err));
    json_decref(out);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  if (!engine)
    open_world();
  struct mes_body body = {.text = (const char *)data + 1, .len = size - 1};
  struct mes_err err = {0};
  json_t *out = NULL;
  bool running;
  int rc = data[0] % 2 ? mes_engine_audit_run(engine, NULL, &body, &out, &running, &err)
                       : mes_engine_audit_attrs_put(engine, NULL, "p1", 2, &body, &out, &err);
  int status = mes_rc_status(rc);
  if (rc != MES_OK && (status < 400 || status > 499 || !mes_err_text(&err)[0]))
    abort();
  if (rc == MES_OK && !out)
    abort(); /* a taken body always has its reply */
  json_decref(out);
  return 0;
}
