/* cli internals shared by the command files of src/cli/ only. */
#ifndef MES_CLI_INT_H
#define MES_CLI_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <mesura/mesura.h>

#include "base/err.h"
#include "cli/cli.h"

/* One command: its name, one-line summary, usage text and entry point. */
struct mes_cli_cmd {
  const char *name;
  const char *summary;
  const char *usage;
  int (*run)(int argc, char **argv);
};

/* A long option: "--name VALUE" (value != NULL) or a "--name" flag (flag != NULL). */
struct mes_cli_opt {
  const char *name;
  const char **value; /* receives a borrowed pointer into argv */
  bool *flag;
};

/* Parses argv[1..] against opts; other words go to pos (at most max_pos).
 * Returns MES_EXIT_OK or prints a usage line and returns MES_EXIT_USAGE. */
int mes__cli_parse(int argc, char **argv, const struct mes_cli_opt *opts, size_t n_opts, const char **pos,
                   size_t max_pos, size_t *n_pos);

/* Prints "mesura: <sentence>" and returns MES_EXIT_USAGE. */
int mes__cli_usage(const char *fmt, ...) MES_PRINTF(1, 2);
/* Prints "mesura: <err text>" and returns MES_EXIT_USAGE for MES_EUSAGE (the
 * command line was wrong), MES_EXIT_FAIL for every other error. */
int mes__cli_fail(const struct mes_err *err);
/* A model kind as a sentence says it, article included: "an EASE model",
 * "a cooc model" ("a model" for NULL or a kind it does not know). Static. */
const char *mes__cli_model_phrase(const char *kind);
/* Opens the engine on dir with logging to stderr: every line when serving,
 * only warnings and errors otherwise. Prints the failure; returns the exit code. */
int mes__cli_open(const char *dir, bool serving, struct mes_engine **out);

/* Command entry points (argv[0] is the command name). */
int mes__cmd_init(int argc, char **argv);
int mes__cmd_serve(int argc, char **argv);
int mes__cmd_keys(int argc, char **argv);
int mes__cmd_backup(int argc, char **argv);
int mes__cmd_erase(int argc, char **argv);
int mes__cmd_restore(int argc, char **argv);
int mes__cmd_demo(int argc, char **argv);
int mes__cmd_import(int argc, char **argv);
int mes__cmd_train(int argc, char **argv);
int mes__cmd_audit(int argc, char **argv);
int mes__cmd_verify_log(int argc, char **argv);
int mes__cmd_incident(int argc, char **argv);

/* Imports FILE ("-": stdin) into an open engine as `mesura import` does:
 * bad lines to stderr, progress too unless quiet. Fills *n. Exit code. */
int mes__cli_import_file(struct mes_engine *e, const char *path, bool quiet, struct mes_import_counts *n);

/* demo_data.c — the demo store. mes__demo_policy: *out is new (free),
 * `example` (the commented mesura.yaml that init wrote, borrowed) with the
 * demo's categories added. mes__demo_write: a
 * seeded, deterministic JSON Lines file of items, consents and journeys of
 * n_shoppers shoppers at path; featured receives a shopper worth showing;
 * audit (borrowed, may be NULL) receives {subject: attributes} of the
 * shoppers the file records as agreeing to audits, for the vault. Both
 * return 0, or -1 on failure. */
int mes__demo_policy(const char *example, char **out);
int mes__demo_write(const char *path, int n_shoppers, int64_t now_ms, char *featured, size_t featured_cap,
                    json_t *audit);

/* cmd_eval.c — `mesura eval` and `mesura eval-convert`. */
int mes__cmd_eval(int argc, char **argv);
int mes__cmd_eval_convert(int argc, char **argv);

struct mes_eval_ranker;
/* cmd_eval_served.c — the served models `mesura eval --model` also takes:
 * the array (static) and its length in *n (at least 1). The first, `served`,
 * is the default of `mesura eval`. */
const struct mes_eval_ranker *mes__served_rankers(size_t *n);
/* The same ranker as `base` (one of mes__served_rankers, borrowed) with the
 * shop's catalog read from f (borrowed, read to its end: `mesura import`
 * item lines, as `mesura eval-convert --catalog` writes them), so that the
 * served path files every item under the catalog's categories. *out is new
 * (free with mes__served_ranker_free); *n_items counts the catalog's items.
 * MES_EBAD_INPUT for a line that is not an item (err->msg: "line N: ..."),
 * MES_EIO, MES_ENOMEM. */
int mes__served_with_catalog(const struct mes_eval_ranker *base, FILE *f, struct mes_eval_ranker **out,
                             size_t *n_items, struct mes_err *err);
void mes__served_ranker_free(struct mes_eval_ranker *r); /* NULL-safe */

#endif
