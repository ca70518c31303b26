/*
 * eval — the offline evaluation of mesura's recommenders (`mesura eval`) and
 * the converters that turn the public datasets of shared/data into its input
 * (`mesura eval-convert`).
 *
 * The protocol is the one written down in shared/data/README.md; every step of
 * it (deduplication, item filter, per-user temporal split, ranking with its tie
 * rule, the metrics, the choice of hyperparameters on a validation part carved
 * out of the training part) lives in this module and nowhere else. The models
 * evaluated are the README's reference baselines (MostPopular, ItemKNN, EASE,
 * RP3beta) and the model mesura serves by default.
 *
 * Layering: eval depends on base only. The library part (read, run) never
 * prints: progress goes to the struct mes_log sink the caller passes. The two
 * *_cli functions are the thin program faces that src/cli routes to; they
 * print to stdout / stderr and return a process exit code.
 *
 * Threads: calls on distinct objects may run concurrently; the dense algebra
 * uses OpenBLAS, which runs its own threads inside one call.
 */
#ifndef MES_EVAL_EVAL_H
#define MES_EVAL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"

/* ---- Input ------------------------------------------------------------ */

/* Interactions read from a `subject,item,ts[,type]` CSV file. Opaque. */
struct mes_eval_data;

/*
 * Reads the whole CSV stream `f` (borrowed, read to its end): a header line
 * `subject,item,ts` or `subject,item,ts,type`, then one interaction per line.
 * Fields may be double-quoted ("" inside quotes is a quote). `ts` is unix
 * seconds, integer or decimal. Ids follow the id rule (base/id.h). Rows with
 * an empty subject are discarded, as the protocol asks.
 *
 * On success *out is a new object (free with mes_eval_data_free). On a
 * malformed line the result is MES_EBAD_INPUT, *bad_line (when non-NULL) holds
 * its 1-based line number and err->msg says what is wrong with it; other
 * failures are MES_EIO and MES_ENOMEM.
 */
int mes_eval_data_read(FILE *f, struct mes_eval_data **out, size_t *bad_line, struct mes_err *err);
void mes_eval_data_free(struct mes_eval_data *d); /* NULL-safe */

/* Rows kept (subject present), and whether the file holds purchases
 * ("purchase" or "transaction" in the type column) beside other types: then
 * the protocol is run a second time on purchases only. */
size_t mes_eval_data_rows(const struct mes_eval_data *d);
bool mes_eval_data_has_purchase_split(const struct mes_eval_data *d);

/* ---- Running the protocol --------------------------------------------- */

/* How EASE's closed form is solved. AUTO picks the cheaper of the two; both
 * give the same matrix up to rounding (the unit tests check it). */
enum mes_eval_solver {
  MES_EVAL_SOLVER_AUTO = 0,
  MES_EVAL_SOLVER_ITEM_SPACE, /* P = (XᵀX + λI)⁻¹, items × items (Cholesky) */
  MES_EVAL_SOLVER_USER_SPACE, /* same P through (XXᵀ + λI)⁻¹, users × users (Woodbury) */
};

struct mes_eval_opts {
  const char *model;   /* borrowed; NULL: the default model (mes_eval_default_model) */
  bool purchases_only; /* keep only purchase rows, for training and test alike */
  enum mes_eval_solver solver;
  const struct mes_log *log; /* borrowed; progress lines, may be NULL */
};

#define MES_EVAL_MAX_HP 3

/* Split statistics of a run (section 2 of the protocol). */
struct mes_eval_split_stats {
  size_t n_pairs;            /* unique (subject, item) pairs after dedup and item filter */
  size_t n_users;            /* distinct subjects among them */
  size_t n_items;            /* distinct items among them */
  size_t n_items_filtered;   /* items removed by the large-catalogue filter */
  size_t n_train;            /* training pairs */
  size_t n_test_raw;         /* test pairs before dropping */
  size_t n_test_kept;        /* test pairs kept (the relevant sets) */
  size_t n_dropped_unseen;   /* test pairs whose item has no training interaction */
  size_t n_dropped_in_train; /* test pairs also present in training */
  size_t n_catalogue;        /* items with a training interaction */
  size_t n_eval_users;       /* users with a kept test pair */
};

/* The figures of section 4, averaged over evaluated users. */
struct mes_eval_metrics {
  double recall10, recall20, ndcg10, mrr10, coverage10, pop_ratio10;
};

struct mes_eval_result {
  char model[16]; /* the model's name as given to --model */
  size_t n_hp;    /* chosen hyperparameters, names static strings */
  const char *hp_name[MES_EVAL_MAX_HP];
  double hp_value[MES_EVAL_MAX_HP];
  double validation_ndcg10; /* NDCG@10 of the chosen value on validation; 0 without a grid */
  double fit_s;             /* wall time of the final training on the full training part */
  struct mes_eval_split_stats split;
  struct mes_eval_metrics test;
};

/*
 * Runs the whole protocol on `d` (borrowed) for one model: split, choice of
 * hyperparameters on the validation part, final training, test figures.
 * Fills *out. MES_EUSAGE for an unknown model name, MES_EBAD_INPUT when no user
 * can be evaluated, MES_ENOMEM, MES_EINTERNAL when LAPACK fails.
 */
int mes_eval_run(const struct mes_eval_data *d, const struct mes_eval_opts *opts, struct mes_eval_result *out,
                 struct mes_err *err);

/* The model names --model takes, NULL-terminated (static), and the default. */
extern const char *const mes_eval_model_names[];
const char *mes_eval_default_model(void);

/* ---- Program faces ------------------------------------------------------ */

/*
 * `mesura eval --input FILE.csv [--model NAME] [--json]`, argv[0] being
 * "eval". Figures go to stdout (one JSON line with --json), progress to
 * stderr. Returns the exit code: 0 done, 2 usage error or malformed input
 * line (one line on stderr naming it), 1 any other failure.
 */
int mes_eval_cli(int argc, char **argv);

/*
 * `mesura eval-convert --dataset ml-100k|ml-latest-small|amazon --input PATH
 * --output FILE.csv`, argv[0] being "eval-convert". PATH is the dataset's
 * file (u.data, ratings.csv, Musical_Instruments_5.json) or the folder that
 * holds it; FILE.csv (or "-" for stdout) receives `subject,item,ts` rows:
 * ratings >= 4 for MovieLens, every review for Amazon. Same exit codes.
 */
int mes_eval_convert_cli(int argc, char **argv);

#endif
