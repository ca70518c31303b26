/* cli — serve and demo: run the HTTP server over a data directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mtime.h"
#include "base/path.h"
#include "cli/cli_int.h"
#include "http/http.h"

static int parse_rps(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < -1 || v > 10000000)
    return -1;
  *out = (int)v;
  return 0;
}

static int serve_dir(const char *dir, struct mes_http_opts *ho) {
  struct mes_engine *e;
  int ec = mes__cli_open(dir, true, &e);
  if (ec)
    return ec;
  struct mes_err err;
  mes_err_clear(&err);
  /* The retention sweeper runs beside the server, never on request threads. */
  int rc = mes_engine_start_background(e, &err);
  if (!rc)
    rc = mes_http_serve(e, ho, &err);
  mes_engine_close(e);
  return rc ? mes__cli_fail(&err) : MES_EXIT_OK;
}

int mes__cmd_serve(int argc, char **argv) {
  const char *dir = NULL, *rate = NULL, *threads = NULL;
  struct mes_http_opts ho = {.listen = "127.0.0.1:8080"};
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL},
                                     {"threads", &threads, NULL},
                                     {"listen", &ho.listen, NULL},
                                     {"tls-cert", &ho.tls_cert_path, NULL},
                                     {"tls-key", &ho.tls_key_path, NULL},
                                     {"rate-limit", &rate, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir)
    return mes__cli_usage("serve needs --data DIR");
  if (!ho.tls_cert_path != !ho.tls_key_path)
    return mes__cli_usage("HTTPS needs both --tls-cert FILE and --tls-key FILE");
  if (rate && parse_rps(rate, &ho.rate_limit_rps))
    return mes__cli_usage("--rate-limit takes requests per second per key (0 default, -1 off)");
  if (threads && (parse_rps(threads, &ho.threads) || ho.threads < 1 || ho.threads > 256))
    return mes__cli_usage("--threads takes a number of worker threads from 1 to 256");
  return serve_dir(dir, &ho);
}

/* A file of the data directory whose path does not fit: printed, MES_EXIT_FAIL. */
static int too_long(const char *dir) {
  fprintf(stderr, "mesura: the path of the data directory %s is too long\n", dir);
  return MES_EXIT_FAIL;
}

#define DEMO_DIR "mesura-demo"
#define DEMO_SHOPPERS 3000
#define DEMO_TOKEN_TTL_S (60 * 60)

/* Reads a whole small file into *out (new, NUL-terminated). */
static int read_text(const char *path, char **out) {
  *out = NULL;
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t cap = 1 << 16, n = 0;
  char *s = malloc(cap);
  while (s) {
    n += fread(s + n, 1, cap - n - 1, f);
    if (n < cap - 1)
      break;
    char *t = realloc(s, cap * 2);
    if (!t) {
      free(s);
      s = NULL;
      break;
    }
    s = t;
    cap *= 2;
  }
  bool ok = s && !ferror(f);
  fclose(f);
  if (!ok) {
    free(s);
    return -1;
  }
  s[n] = '\0';
  *out = s;
  return 0;
}

/* Writes the demo policy over the example that `init` left in dir. */
static int demo_write_policy(const char *dir) {
  char *example = NULL, *yaml = NULL, path[512];
  if (mes_path_join(path, sizeof path, dir, "mesura.yaml"))
    return too_long(dir);
  if (read_text(path, &example) || mes__demo_policy(example, &yaml)) {
    free(example);
    fprintf(stderr, "mesura: cannot build the demo policy from the example mesura.yaml\n");
    return MES_EXIT_FAIL;
  }
  free(example);
  FILE *f = fopen(path, "w");
  size_t n = strlen(yaml);
  bool ok = f && fwrite(yaml, 1, n, f) == n;
  ok = f && fclose(f) == 0 && ok;
  free(yaml);
  if (!ok) {
    fprintf(stderr, "mesura: cannot write %s\n", path);
    return MES_EXIT_FAIL;
  }
  return MES_EXIT_OK;
}

/* Records the synthetic attributes of the shoppers who agreed to audits
 * ({subject: attributes}, borrowed) in the vault, as an auditor would. */
static int demo_audit_vault(struct mes_engine *e, const json_t *audit) {
  struct mes_call call = {.actor = "demo"};
  const char *subject;
  json_t *attrs;
  json_object_foreach((json_t *)audit, subject, attrs) {
    struct mes_err err;
    mes_err_clear(&err);
    json_t *out = NULL;
    struct mes_body body = {.json = attrs};
    if (mes_engine_audit_attrs_put(e, &call, subject, strlen(subject), &body, &out, &err))
      return mes__cli_fail(&err);
    json_decref(out);
  }
  fprintf(stderr, "mesura: recorded audit attributes for %zu shoppers who agreed to audits\n",
          json_object_size(audit));
  return MES_EXIT_OK;
}

/* Loads the synthetic shoppers once (an empty catalog means not yet) and
 * remembers the featured shopper's id in the store's meta table. */
static int demo_load(struct mes_engine *e, const char *dir, char *featured, size_t cap) {
  featured[0] = '\0';
  if (mes_engine_item_count(e) > 0) {
    if (mes_engine_meta_get(e, "demo_shopper", featured, cap) != MES_OK)
      featured[0] = '\0';
    return MES_EXIT_OK;
  }
  char path[512];
  if (mes_path_join(path, sizeof path, dir, "demo-data.jsonl"))
    return too_long(dir);
  uint64_t t0 = mes_mono_ns();
  fprintf(stderr, "mesura: generating %d demo shoppers and their journeys...\n", DEMO_SHOPPERS);
  json_t *audit = json_object();
  if (!audit || mes__demo_write(path, DEMO_SHOPPERS, mes_now_ms(), featured, cap, audit)) {
    json_decref(audit);
    fprintf(stderr, "mesura: cannot write %s\n", path);
    return MES_EXIT_FAIL;
  }
  struct mes_import_counts n;
  int ec = mes__cli_import_file(e, path, true, &n);
  if (!ec)
    ec = demo_audit_vault(e, audit);
  json_decref(audit);
  if (ec)
    return ec;
  fprintf(stderr,
          "mesura: loaded %lld items, %lld consents and %lld events (%lld more not kept: no consent) in %.1f s\n",
          (long long)n.items, (long long)n.consents, (long long)n.events_stored, (long long)n.events_not_stored,
          (double)(mes_mono_ns() - t0) / 1e9);
  if (featured[0])
    mes_engine_meta_set(e, "demo_shopper", featured, NULL);
  printf("a shopper to try: %s\n", featured);
  return MES_EXIT_OK;
}

/* Trains the first model before serving, so that the demo's first answers
 * are already personal; later models come from the server's own schedule. */
static int demo_train(struct mes_engine *e) {
  struct mes_engine_stats st;
  mes_engine_stats(e, &st);
  if (st.model_id > 0) /* opening made the newest stored model live */
    return MES_EXIT_OK;
  struct mes_err err;
  mes_err_clear(&err);
  json_t *meta = NULL;
  uint64_t t0 = mes_mono_ns();
  fprintf(stderr, "mesura: training the first model...\n");
  if (mes_engine_train(e, NULL, &meta, &err))
    return mes__cli_fail(&err);
  fprintf(stderr, "mesura: trained %s over %lld items from %lld events in %.1f s\n",
          mes__cli_model_phrase(json_string_value(json_object_get(meta, "kind"))),
          (long long)json_integer_value(json_object_get(meta, "items")),
          (long long)json_integer_value(json_object_get(meta, "events")), (double)(mes_mono_ns() - t0) / 1e9);
  json_decref(meta);
  return MES_EXIT_OK;
}

/* A dashboard token for the featured shopper; empty when there is none. */
static void demo_shopper_token(struct mes_engine *e, const char *shopper, char token[64]) {
  token[0] = '\0';
  if (!shopper[0])
    return;
  struct mes_call call = {.actor = "demo"};
  int64_t expires_ms;
  if (mes_engine_token_create(e, &call, shopper, strlen(shopper), NULL, DEMO_TOKEN_TTL_S, token, &expires_ms, NULL))
    token[0] = '\0';
}

/* The example shop page's tokens for a shopper seen for the first time
 * (shopper, a fresh id, is written out): a browser token for the SDK and a
 * dashboard token for its "your data" link. A new person each run, so that
 * the page opens on the consent prompt as a first visit does. Empty tokens
 * when they cannot be made. */
static void demo_sdk_tokens(struct mes_engine *e, char shopper[32], char browser[64], char dashboard[64]) {
  char tag[16];
  mes_random_token(tag, sizeof tag, 6);
  snprintf(shopper, 32, "new-shopper-%s", tag);
  browser[0] = dashboard[0] = '\0';
  struct mes_call call = {.actor = "demo"};
  int64_t expires_ms;
  json_t *use = json_pack("{s:s}", "use", "browser");
  struct mes_body body = {.json = use};
  if (!use ||
      mes_engine_token_create(e, &call, shopper, strlen(shopper), &body, DEMO_TOKEN_TTL_S, browser, &expires_ms, NULL) ||
      mes_engine_token_create(e, &call, shopper, strlen(shopper), NULL, DEMO_TOKEN_TTL_S, dashboard, &expires_ms, NULL))
    browser[0] = dashboard[0] = '\0';
  json_decref(use);
}

int mes__cmd_demo(int argc, char **argv) {
  struct mes_http_opts ho = {.listen = "127.0.0.1:8080"};
  const char *dir = DEMO_DIR;
  const struct mes_cli_opt opts[] = {{"listen", &ho.listen, NULL}, {"data", &dir, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 2, NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  struct mes_err err;
  mes_err_clear(&err);
  struct stat sb;
  char keyfile[512];
  if (mes_path_join(keyfile, sizeof keyfile, dir, "master.key"))
    return too_long(dir);
  if (stat(keyfile, &sb) != 0) {
    if (mes_engine_init_dir(dir, &err))
      return mes__cli_fail(&err);
    int ec = demo_write_policy(dir);
    if (ec)
      return ec;
    fprintf(stderr, "mesura: created the demo store in %s\n", dir);
  }
  /* Quiet while it prepares, like the one-shot commands whose work it does;
   * reopened as a server below, with the server's log. */
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  char shopper[130];
  ec = demo_load(e, dir, shopper, sizeof shopper);
  if (!ec)
    ec = demo_train(e);
  if (ec) {
    mes_engine_close(e);
    return ec;
  }
  char name[32], tok[16], key[64], stoken[64];
  mes_random_token(tok, sizeof tok, 6);
  snprintf(name, sizeof name, "demo-admin-%s", tok);
  if (mes_engine_key_create(e, name, MES_SCOPE_ADMIN, key, &err)) {
    mes_engine_close(e);
    return mes__cli_fail(&err);
  }
  mes_engine_close(e);
  ec = mes__cli_open(dir, true, &e);
  if (ec) {
    mes_wipe(key, sizeof key);
    return ec;
  }
  /* The tokens are stored: any engine over this directory opens them. */
  demo_shopper_token(e, shopper, stoken);
  char newcomer[32], btoken[64], dtoken[64];
  demo_sdk_tokens(e, newcomer, btoken, dtoken);
  const char *host = ho.listen;
  printf("\nmesura demo is starting on http://%s\n\n"
         "  admin key (scope admin):  %s\n"
         "  health:                   curl http://%s/healthz\n"
         "  privacy notice:           curl -H 'Accept-Language: es' http://%s/v1/privacy-notice\n"
         "  metrics:                  curl -H 'Authorization: Bearer %s' http://%s/metrics\n"
         "  the brand's console:      http://%s/admin#key=%s\n",
         host, key, host, host, key, host, host, key);
  if (stoken[0])
    /* The token rides in the URL's fragment, which the browser keeps to
     * itself: the page sends it as the API's credential, never in a URL. */
    printf("  a shopper:                %s\n"
           "  their dashboard:          http://%s/me#token=%s&subject=%s\n"
           "  their own token (%2d min): curl -H 'Authorization: Bearer %s' http://%s/v1/subjects/%s/export\n"
           "  their consents:           curl -H 'Authorization: Bearer %s' http://%s/v1/subjects/%s/consents\n",
           shopper, host, stoken, shopper, DEMO_TOKEN_TTL_S / 60, stoken, host, shopper, stoken, host, shopper);
  if (btoken[0])
    /* mesura.js on an example shop page, for a first-time shopper: the
     * consent prompt, events sent once allowed, recommendations with why. */
    printf("  the SDK on a shop page:   http://%s/sdk/example.html#token=%s&subject=%s&dashboard=%s\n", host, btoken,
           newcomer, dtoken);
  if (shopper[0])
    printf("\nRecommendations (paste these):\n"
           "  for %s, with the reasons:\n"
           "    curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"
           "         -d '{\"subject\": \"%s\", \"count\": 5}' http://%s/v1/recommendations\n"
           "  the same in Spanish:\n"
           "    curl -H 'Authorization: Bearer %s' -H 'Accept-Language: es' -H 'Content-Type: application/json' \\\n"
           "         -d '{\"subject\": \"%s\", \"count\": 5}' http://%s/v1/recommendations\n"
           "  for an anonymous visitor looking at a tent (nothing personal is read):\n"
           "    curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"
           "         -d '{\"context\": {\"item\": \"camping-000\"}, \"count\": 5}' http://%s/v1/recommendations\n"
           "  why an item is suggested to %s:\n"
           "    curl -H 'Authorization: Bearer %s' 'http://%s/v1/subjects/%s/why?item=camping-001'\n",
           shopper, key, shopper, host, key, shopper, host, key, host, shopper, key, host, shopper);
  printf("\nA fairness audit of the demo store (what age groups and genders are shown; postal_code is planted to "
         "stand in for ethnicity):\n"
         "  run it (the answer's \"id\" names it):\n"
         "    curl -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"
         "         -d '{\"attributes\": [\"age_band\", \"gender\"], \"placement\": \"home\"}' http://%s/v1/audits\n"
         "  its report, in Spanish, to open in a browser (for the first audit, id 1):\n"
         "    curl -H 'Authorization: Bearer %s' -H 'Accept-Language: es' -o audit-report.html "
         "http://%s/v1/audits/1/report.html\n"
         "  or without the server, from the command line:\n"
         "    mesura audit --data %s --attributes age_band,gender --placement home --report audit-report.html\n",
         key, host, key, host, dir);
  printf("\nStop with Ctrl-C; the store stays in %s.\n\n", dir);
  fflush(stdout);
  mes_wipe(key, sizeof key);
  mes_wipe(stoken, sizeof stoken);
  mes_wipe(btoken, sizeof btoken);
  mes_wipe(dtoken, sizeof dtoken);
  struct mes_err serr;
  mes_err_clear(&serr);
  int rc = mes_engine_start_background(e, &serr);
  if (!rc)
    rc = mes_http_serve(e, &ho, &serr);
  mes_engine_close(e);
  return rc ? mes__cli_fail(&serr) : MES_EXIT_OK;
}
