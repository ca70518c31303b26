/* cli — `mesura erase`: erasure in bulk (a list of subject ids, one per
 * line, from a file or standard input), each exactly as DELETE
 * /v1/subjects/{s} does it. Each person's signed receipt is written to
 * standard output as one JSON line, for the brand to hand back; progress and
 * the totals go to standard error. Then the model is retrained without them
 * and saved: a server on the same directory makes it live within a second. */
#include <stdio.h>
#include <string.h>

#include "base/id.h"
#include "base/mtime.h"
#include "cli/cli_int.h"

#define ID_LINE_MAX 1024 /* an id is at most 128 bytes: a longer line is refused, not cut */

int mes__cmd_erase(int argc, char **argv) {
  const char *dir = NULL;
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}};
  const char *pos[1];
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 1, pos, 1, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir)
    return mes__cli_usage("usage: mesura erase --data DIR [FILE]   (one subject id per line; - or none: stdin)");
  FILE *in = stdin;
  if (n_pos == 1 && strcmp(pos[0], "-") != 0 && !(in = fopen(pos[0], "r"))) {
    fprintf(stderr, "mesura: cannot open %s\n", pos[0]);
    return MES_EXIT_FAIL;
  }
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec) {
    if (in != stdin)
      fclose(in);
    return ec;
  }
  struct mes_call call = {.actor = "mesura-erase"};
  char line[ID_LINE_MAX];
  long n_line = 0, erased = 0, unknown = 0, refused = 0;
  long long events = 0;
  uint64_t start = mes_mono_ns(), last_report = start, erased_ns = 0, train_ns = 0;
  int rc = MES_OK;
  struct mes_err err;
  while (fgets(line, sizeof line, in)) {
    n_line++;
    size_t len = strlen(line);
    bool whole = len > 0 && line[len - 1] == '\n';
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (!whole && !feof(in)) { /* longer than any id: skip the rest of it */
      int c;
      while ((c = fgetc(in)) != EOF && c != '\n')
        ;
      fprintf(stderr, "mesura: line %ld: not a subject id (too long)\n", n_line);
      refused++;
      continue;
    }
    if (len == 0)
      continue;
    if (mes_id_check(line, len) != MES_OK) {
      /* Named by its line number, never its text, which may be personal data. */
      fprintf(stderr, "mesura: line %ld: not a subject id (1 to 128 bytes of UTF-8, no control characters)\n",
              n_line);
      refused++;
      continue;
    }
    mes_err_clear(&err);
    json_t *receipt = NULL;
    rc = mes_engine_subject_erase(e, &call, line, len, &receipt, &err);
    if (rc == MES_OK) {
      erased++;
      events += (long long)json_integer_value(json_object_get(json_object_get(receipt, "removed"), "events"));
      char *text = json_dumps(receipt, JSON_COMPACT | JSON_SORT_KEYS);
      if (text)
        puts(text);
      free(text);
      json_decref(receipt);
    } else if (rc == MES_ENOT_FOUND) {
      unknown++;
    } else {
      break; /* the store failed: stop rather than skip people */
    }
    rc = MES_OK;
    if (mes_mono_ns() - last_report >= 2000000000ull) {
      fprintf(stderr, "mesura: %ld lines read, %ld erased\n", n_line, erased);
      last_report = mes_mono_ns();
    }
  }
  if (in != stdin)
    fclose(in);
  erased_ns = mes_mono_ns() - start;
  if (rc == MES_OK && erased > 0) {
    json_t *meta = NULL;
    mes_err_clear(&err);
    rc = mes_engine_train(e, NULL, &meta, &err);
    json_decref(meta);
    train_ns = mes_mono_ns() - start - erased_ns;
  }
  mes_engine_close(e);
  fprintf(stderr, "mesura: %ld erased (%lld events), %ld unknown, %ld refused in %.2f s", erased, events, unknown,
          refused, (double)erased_ns / 1e9);
  if (erased && rc == MES_OK)
    fprintf(stderr, "; the model was retrained without them in %.2f s", (double)train_ns / 1e9);
  fputc('\n', stderr);
  if (rc)
    return mes__cli_fail(&err);
  return refused ? MES_EXIT_FAIL : MES_EXIT_OK;
}
