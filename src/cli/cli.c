/* cli — dispatch, help and version. */
#include "cli/cli_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mesura/version.h>

static const struct mes_cli_cmd cmds[] = {
    {"init", "create a data directory", "mesura init --data DIR", mes__cmd_init},
    {"serve", "serve the HTTP API and web pages",
     "mesura serve --data DIR [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE] [--rate-limit RPS]\n"
     "       [--threads N]",
     mes__cmd_serve},
    {"keys", "create, list and revoke API keys; rotate the master key (the server stopped)",
     "mesura keys create --data DIR --scopes S1,S2 [--name NAME]\n"
     "       mesura keys list --data DIR\n"
     "       mesura keys revoke --data DIR NAME\n"
     "       mesura keys rotate-master --data DIR   (re-wraps every subject key under a new master.key)",
     mes__cmd_keys},
    {"backup", "copy the store consistently while the server runs", "mesura backup --data DIR FILE",
     mes__cmd_backup},
    {"erase", "erase people in bulk (one subject id per line), as DELETE /v1/subjects/{s}",
     "mesura erase --data DIR [FILE|-]", mes__cmd_erase},
    {"restore", "bring a backup back (the server stopped); erased people stay erased",
     "mesura restore --data DIR FILE [--keys KEYSFILE]", mes__cmd_restore},
    {"import", "bulk-load items, events and consents from a file",
     "mesura import --data DIR FILE.jsonl|FILE.csv", mes__cmd_import},
    {"train", "train a recommendation model from the stored events", "mesura train --data DIR",
     mes__cmd_train},
    {"audit", "run a fairness audit over the people who agreed to audits",
     "mesura audit --data DIR --attributes A1,A2 [--placement P] [--channel C] [--count N] [--report FILE]\n"
     "             [--source replay|served] [--window-days N]",
     mes__cmd_audit},
    {"verify-log", "check that no access log entry was altered, removed or cut off",
     "mesura verify-log --data DIR", mes__cmd_verify_log},
    {"incident", "list the people whose data a key read (pseudonyms; ids with --reveal)",
     "mesura incident --data DIR --key NAME --since TIME [--reveal]", mes__cmd_incident},
    {"demo", "init, load and serve a demo store in ./mesura-demo", "mesura demo [--listen HOST:PORT]",
     mes__cmd_demo},
    {"eval", "offline evaluation of a model on an interactions file",
     "mesura eval --input FILE.csv [--catalog ITEMS.jsonl] [--model NAME] [--json] [--validation-only]",
     mes__cmd_eval},
    {"eval-convert", "convert a public dataset to the eval CSV",
     "mesura eval-convert --dataset ml-100k|ml-latest-small|amazon|completejourney-sample --input PATH "
     "--output FILE.csv [--catalog ITEMS.jsonl]",
     mes__cmd_eval_convert},
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

int mes__cli_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mesura: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return MES_EXIT_USAGE;
}

int mes__cli_fail(const struct mes_err *err) {
  fprintf(stderr, "mesura: %s\n", mes_err_text(err));
  /* Exit code 2 tells a script that the command line itself was wrong; a
   * refused input (a bad file, a name that exists or does not) is not that,
   * even when the same error is a 4xx over HTTP. */
  return err->rc == MES_EUSAGE ? MES_EXIT_USAGE : MES_EXIT_FAIL;
}

int mes__cli_open(const char *dir, bool serving, struct mes_engine **out) {
  /* The engine's notices ("model 3 is live", "policy reloaded") are the
   * server's log; a one-shot command prints its own progress and result, so
   * it hears only the engine's warnings and errors. */
  struct mes_engine_opts o = {.dir = dir,
                              .log = {.fn = mes_log_stderr, .level = serving ? MES_LOG_INFO : MES_LOG_WARN}};
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_open(&o, out, &err))
    return mes__cli_fail(&err);
  return MES_EXIT_OK;
}

const char *mes__cli_model_phrase(const char *kind) {
  if (!kind)
    return "a model";
  if (strcmp(kind, "ease") == 0)
    return "an EASE model";
  if (strcmp(kind, "cooc") == 0)
    return "a cooc model";
  if (strcmp(kind, "popular") == 0)
    return "a popular model";
  return "a model";
}

static const struct mes_cli_cmd *find(const char *name) {
  for (size_t i = 0; i < N_CMDS; i++)
    if (strcmp(cmds[i].name, name) == 0)
      return &cmds[i];
  return NULL;
}

static int help(int argc, char **argv) {
  if (argc > 1) {
    const struct mes_cli_cmd *c = find(argv[1]);
    if (!c)
      return mes__cli_usage("no command '%s'; run `mesura help` for the list", argv[1]);
    printf("mesura %s — %s\n\nusage: %s\n", c->name, c->summary, c->usage);
    return MES_EXIT_OK;
  }
  printf("mesura %s — an ethical personalization engine\n\nusage: mesura COMMAND [OPTIONS]\n\ncommands:\n",
         MES_VERSION_STRING);
  for (size_t i = 0; i < N_CMDS; i++)
    printf("  %-13s %s\n", cmds[i].name, cmds[i].summary);
  printf("  %-13s %s\n  %-13s %s\n\nRun `mesura help COMMAND` for a command's options.\n", "help",
         "show this help, or a command's", "--version", "print the version");
  return MES_EXIT_OK;
}

int mes_cli_main(int argc, char **argv) {
  if (argc < 2)
    return mes__cli_usage("a command is needed; run `mesura help`");
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("mesura %s\n", MES_VERSION_STRING);
    return MES_EXIT_OK;
  }
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
    return help(argc - 1, argv + 1);
  const struct mes_cli_cmd *c = find(name);
  if (!c)
    return mes__cli_usage("unknown command '%s'; run `mesura help`", name);
  return c->run(argc - 1, argv + 1);
}

int mes__cli_parse(int argc, char **argv, const struct mes_cli_opt *opts, size_t n_opts, const char **pos,
                   size_t max_pos, size_t *n_pos) {
  *n_pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      if (*n_pos >= max_pos)
        return mes__cli_usage("unexpected argument '%s'; see `mesura help %s`", a, argv[0]);
      pos[(*n_pos)++] = a;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    size_t k;
    for (k = 0; k < n_opts; k++)
      if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a + 2, nlen) == 0)
        break;
    if (k == n_opts)
      return mes__cli_usage("unknown option '%.*s'; see `mesura help %s`", (int)nlen + 2, a, argv[0]);
    if (opts[k].flag) {
      if (eq)
        return mes__cli_usage("option --%s takes no value", opts[k].name);
      *opts[k].flag = true;
    } else if (eq) {
      *opts[k].value = eq + 1;
    } else {
      if (i + 1 >= argc)
        return mes__cli_usage("option --%s needs a value", opts[k].name);
      *opts[k].value = argv[++i];
    }
  }
  return MES_EXIT_OK;
}
