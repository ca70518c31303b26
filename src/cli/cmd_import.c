/*
 * cli — `mesura import --data DIR FILE` (contract §1): bulk-loads a JSON Lines
 * file (items, events, consents) or a CSV event file through
 * mes_engine_import, which applies the API's rules. Bad lines go to stderr
 * with their number, progress too; the counts go to stdout.
 *
 * The store may be served at the same time: SQLite's locking lets the two
 * processes take turns, one import batch per transaction.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli_int.h"

static void on_bad_line(void *ud, int64_t line_no, const struct mes_err *why) {
  (void)ud;
  if (why->field[0])
    fprintf(stderr, "mesura: line %lld: %s (%s at %s)\n", (long long)line_no, mes_err_text(why),
            mes_rc_code(why->rc), why->field);
  else
    fprintf(stderr, "mesura: line %lld: %s (%s)\n", (long long)line_no, mes_err_text(why), mes_rc_code(why->rc));
}

static void on_progress(void *ud, const struct mes_import_counts *n) {
  (void)ud;
  fprintf(stderr, "mesura: %lld lines read: %lld items, %lld events stored, %lld consents, %lld bad lines\n",
          (long long)n->lines, (long long)n->items, (long long)n->events_stored, (long long)n->consents,
          (long long)n->bad_lines);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  if (n < k)
    return false;
  for (size_t i = 0; i < k; i++) {
    char ch = s[n - k + i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch - 'A' + 'a');
    if (ch != suffix[i])
      return false;
  }
  return true;
}

int mes__cli_import_file(struct mes_engine *e, const char *path, bool quiet, struct mes_import_counts *n) {
  FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (!in) {
    fprintf(stderr, "mesura: cannot open %s for reading\n", path);
    return MES_EXIT_FAIL;
  }
  struct mes_import_opts o = {.csv = ends_with(path, ".csv"),
                              .bad_line = on_bad_line,
                              .progress = quiet ? NULL : on_progress};
  struct mes_call call = {.actor = "import"};
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_engine_import(e, &call, in, &o, n, &err);
  if (in != stdin)
    fclose(in);
  return rc ? mes__cli_fail(&err) : MES_EXIT_OK;
}

int mes__cmd_import(int argc, char **argv) {
  const char *dir = NULL, *pos[1];
  const struct mes_cli_opt opts[] = {{"data", &dir, NULL}};
  size_t n_pos;
  if (mes__cli_parse(argc, argv, opts, 1, pos, 1, &n_pos))
    return MES_EXIT_USAGE;
  if (!dir || n_pos != 1)
    return mes__cli_usage("usage: mesura import --data DIR FILE (JSON Lines, or .csv events; - reads stdin)");
  struct mes_engine *e;
  int ec = mes__cli_open(dir, false, &e);
  if (ec)
    return ec;
  struct mes_import_counts n;
  ec = mes__cli_import_file(e, pos[0], false, &n);
  mes_engine_close(e);
  if (ec)
    return ec;
  printf("lines: %lld\nitems: %lld\nevents stored: %lld\nevents not stored: %lld\n"
         "events not stored for lack of consent: %lld\nconsents: %lld\nbad lines: %lld\n",
         (long long)n.lines, (long long)n.items, (long long)n.events_stored, (long long)n.events_not_stored,
         (long long)n.no_consent, (long long)n.consents, (long long)n.bad_lines);
  if (n.items + n.events + n.consents == 0) {
    fprintf(stderr, "mesura: nothing was imported from %s\n", pos[0]);
    return MES_EXIT_FAIL;
  }
  return MES_EXIT_OK;
}
