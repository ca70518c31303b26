/* cli — `mesura audit`: runs a fairness audit (contract §8) on a data
 * directory, as POST /v1/audits does, prints the stored audit as JSON, and
 * writes its readable report to --report FILE when asked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

/* "a,b,c" -> ["a", "b", "c"] (empty names are left out). */
static json_t *name_list(const char *csv) {
  json_t *arr = json_array();
  for (const char *p = csv; arr && *p;) {
    size_t n = strcspn(p, ",");
    if (n && json_array_append_new(arr, json_stringn(p, n))) {
      json_decref(arr);
      return NULL;
    }
    p += n + (p[n] == ',');
  }
  return arr;
}

int mes__cmd_audit(int argc, char **argv) {
  const char *dir = NULL, *attrs = NULL, *placement = NULL, *channel = NULL, *count = NULL, *report = NULL,
             *source = NULL, *window = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL},           {"attributes", &attrs, NULL},
                                     {"placement", &placement, NULL}, {"channel", &channel, NULL},
                                     {"count", &count, NULL},         {"report", &report, NULL},
                                     {"source", &source, NULL},       {"window-days", &window, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, sizeof opts / sizeof opts[0], NULL, 0, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir || !attrs)
    return mes__cli_usage("audit needs --data DIR and --attributes A1,A2");
  json_t *body = json_object();
  json_t *names = name_list(attrs);
  char *end = NULL;
  long n = count ? strtol(count, &end, 10) : 0;
  if (count && (!*count || *end || n < 1 || n > MES_RECOMMEND_COUNT_MAX)) {
    json_decref(body);
    json_decref(names);
    return mes__cli_usage("--count takes a whole number from 1 to %d", MES_RECOMMEND_COUNT_MAX);
  }
  long days = window ? strtol(window, &end, 10) : 0;
  if (window && (!*window || *end || days < 1 || days > 3650)) {
    json_decref(body);
    json_decref(names);
    return mes__cli_usage("--window-days takes a whole number of days from 1 to 3650");
  }
  if (!body || !names || json_object_set_new(body, "attributes", names) ||
      (source && json_object_set_new(body, "source", json_string(source))) ||
      (window && json_object_set_new(body, "window_days", json_integer(days))) ||
      (placement && json_object_set_new(body, "placement", json_string(placement))) ||
      (channel && json_object_set_new(body, "channel", json_string(channel))) ||
      (count && json_object_set_new(body, "count", json_integer(n)))) {
    json_decref(body);
    fprintf(stderr, "mesura: out of memory\n");
    return MES_EXIT_FAIL;
  }
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec) {
    json_decref(body);
    return ec;
  }
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  struct mes_body b = {.json = body};
  bool running; /* never: the command starts no background work, so it waits for the audit */
  if (mes_engine_audit_run(e, NULL, &b, &out, &running, &err)) {
    json_decref(body);
    mes_engine_close(e);
    return mes__cli_fail(&err);
  }
  json_decref(body);
  ec = MES_EXIT_OK;
  if (report) {
    const char *id = json_string_value(json_object_get(out, "id"));
    char *html = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (mes_engine_audit_report(e, NULL, id, strlen(id), &html, &len, &err)) {
      ec = mes__cli_fail(&err);
    } else if (!(f = fopen(report, "wb")) || fwrite(html, 1, len, f) != len) {
      fprintf(stderr, "mesura: cannot write %s\n", report);
      ec = MES_EXIT_FAIL;
    }
    if (f && fclose(f) && ec == MES_EXIT_OK) {
      fprintf(stderr, "mesura: cannot write %s\n", report);
      ec = MES_EXIT_FAIL;
    }
    free(html);
  }
  mes_engine_close(e);
  char *text = json_dumps(out, JSON_INDENT(2));
  json_decref(out);
  if (text) {
    puts(text);
    free(text);
  }
  return ec;
}
