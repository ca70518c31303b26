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
 * RP3beta) and models from outside the module (struct mes_eval_ranker):
 * src/cli hands in the served path, which needs the whole engine, and makes
 * it the default of `mesura eval`.
 *
 * Layering: eval depends on base only. It computes and returns results and
 * never prints: progress goes to the struct mes_log sink the caller passes,
 * and the command lines that read arguments and print the figures are
 * src/cli's (cmd_eval.c).
 *
 * Threads: calls on distinct objects may run concurrently; the dense algebra
 * uses OpenBLAS, which runs its own threads inside one call.
 */
#ifndef MES_EVAL_EVAL_H
#define MES_EVAL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

struct mes_eval_ranker; /* a model from outside the module, see below */

struct mes_eval_opts {
  const char *model;   /* borrowed; one of mes_eval_model_names, read when ranker is NULL */
  const struct mes_eval_ranker *ranker; /* borrowed; when set, ranks instead of `model` */
  bool purchases_only; /* keep only purchase rows, for training and test alike */
  /* Stop once the hyperparameters are chosen: the test part is split off
   * but never read, so a model can be developed on validation figures
   * without a look at test (`--validation-only`). */
  bool validation_only;
  enum mes_eval_solver solver;
  const struct mes_log *log; /* borrowed; progress lines, may be NULL */
};

#define MES_EVAL_MAX_HP 6

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

/* A setting an outside model reports (static key, its value as text). */
#define MES_EVAL_MAX_SETTINGS 16
struct mes_eval_setting {
  const char *key;
  char value[96];
};

/* Buy again, measured beside the protocol (which leaves training items out
 * of test): among the evaluated users who, in their test period, bought
 * again an item of their training part, the share whose buy-again list
 * (struct mes_eval_ranker.buy_again, 10 items) held at least one of those
 * items. Outside models with such a list only, on the test run only. */
struct mes_eval_buy_again {
  bool measured;
  size_t users;      /* evaluated users with a repurchase in their test period */
  double hit_rate10; /* share of them with a hit in the first 10 */
  size_t repeats;    /* training-period repeat purchases handed to the model (mes_eval_part_repeats) */
};

struct mes_eval_result {
  char model[16]; /* the model's name as given to --model */
  size_t n_hp;    /* chosen hyperparameters, names static strings */
  const char *hp_name[MES_EVAL_MAX_HP];
  double hp_value[MES_EVAL_MAX_HP];
  double validation_ndcg10; /* NDCG@10 of the chosen value on validation; 0 without a grid */
  bool validation_only;     /* opts.validation_only: `test` and fit_s are not filled */
  char chosen[256];         /* outside models: the chosen configuration, in words */
  double fit_s;             /* wall time of the final training on the full training part */
  struct mes_eval_split_stats split;
  struct mes_eval_metrics test;
  /* Outside models only (zero otherwise): what they said about themselves,
   * and how their answers met the protocol's candidate rule. */
  size_t n_settings;
  struct mes_eval_setting settings[MES_EVAL_MAX_SETTINGS];
  size_t n_short;          /* evaluated users who got fewer than MES_EVAL_TOP rankable items */
  size_t n_not_candidate;  /* returned items outside the candidate set (the user's training items,
                              items off the catalogue, repeats), left out of the ranking */
  struct mes_eval_buy_again buy_again;
};

/*
 * Runs the whole protocol on `d` (borrowed) for one model: split, choice of
 * hyperparameters on the validation part, final training, test figures.
 * Fills *out. MES_EUSAGE for an unknown or missing model name, MES_EBAD_INPUT when no user
 * can be evaluated, MES_ENOMEM, MES_EINTERNAL when LAPACK fails.
 */
int mes_eval_run(const struct mes_eval_data *d, const struct mes_eval_opts *opts, struct mes_eval_result *out,
                 struct mes_err *err);

/* What the protocol asks of one file: a run on every row and, when the file
 * holds purchases beside other types, a second run on purchases only. */
struct mes_eval_runs {
  struct mes_eval_result all;
  bool has_purchases; /* mes_eval_data_has_purchase_split: the second run was made */
  bool purchases_ok;  /* ... and evaluated someone (`purchases` is filled) */
  struct mes_eval_result purchases;
};

/*
 * Runs the protocol on `d` (borrowed) with `opts` (purchases_only is set for
 * the second run) and fills *out. The second run finding nobody to evaluate
 * is not an error: purchases_ok stays false and a warning goes to opts->log.
 * Any other failure of either run is returned, with its err.
 */
int mes_eval_run_all(const struct mes_eval_data *d, const struct mes_eval_opts *opts, struct mes_eval_runs *out,
                     struct mes_err *err);

/* ---- Models from outside the module ------------------------------------ */

/* How many ranked items the metrics read (Recall@20): what a ranker is asked for. */
#define MES_EVAL_TOP 20

/*
 * The training part of one run, as an outside model sees it: the users and
 * items of the input file (dense indices, ids as written in the file) and,
 * per user, the training interactions in the protocol's temporal order, each
 * with the earliest timestamp of its (user, item) pair. Test data are not
 * reachable through it. Opaque; valid from fit until the run ends.
 */
struct mes_eval_part;

size_t mes_eval_part_n_users(const struct mes_eval_part *p); /* users of the file, some without training */
size_t mes_eval_part_n_items(const struct mes_eval_part *p); /* every item of the file */
const char *mes_eval_part_user(const struct mes_eval_part *p, size_t u); /* borrowed, NUL-terminated */
const char *mes_eval_part_item(const struct mes_eval_part *p, size_t i); /* borrowed, NUL-terminated */
/* Index of item id (len bytes), or -1 when the file has no such item. */
int64_t mes_eval_part_find_item(const struct mes_eval_part *p, const char *id, size_t len);
/* User u's training interactions, oldest first: *items (item indices) and
 * *ts_s (unix seconds), borrowed; returns how many (0 for a user all of whose
 * pairs were filtered out, or none in this run). */
size_t mes_eval_part_history(const struct mes_eval_part *p, size_t u, const uint32_t **items, const double **ts_s);
/* User u's repeat purchases in their training period, oldest first: the
 * file's rows (purchases only when the run is) of items of their training
 * part, no later than their last training pair, less the one row per pair
 * that mes_eval_part_history already gives. The protocol collapses them
 * (deduplication); a shop's store holds them, and buy again reads them.
 * Reachable only while buy_again (below) runs; 0 elsewhere. */
size_t mes_eval_part_repeats(const struct mes_eval_part *p, size_t u, const uint32_t **items, const double **ts_s);

/*
 * A model that eval cannot build itself (the served path needs the whole
 * engine, a layer above eval): the caller hands its operations in through
 * mes_eval_opts.ranker. The protocol (split, candidate rule, metrics)
 * stays eval's; the ranker only learns and ranks.
 *
 *   fit    learns from the training part (borrowed, see above); *state is
 *          new. On failure *state may still be set: free is called on it.
 *   rank   the ranking for user u: up to `want` item indices, best first,
 *          into out (room for `want`); *n gets how many. Items outside the
 *          protocol's candidate set (the user's training items, items with
 *          no training interaction) are left out by eval and counted.
 *   report adds the settings worth printing to r (may be NULL).
 *   free   frees the state and whatever fit made (NULL-safe).
 *   describe  writes configuration cfg in words (may be NULL).
 *   buy_again  (may be NULL) user u's "buy again" list after the test
 *          ranking: up to `want` item indices of their training part,
 *          best first. Before its first call the part also gives the
 *          training period's repeat purchases (mes_eval_part_repeats),
 *          which the model may take in (they change no ranking already
 *          made). Eval measures the list on the test period's repurchases
 *          (struct mes_eval_buy_again).
 *   adopt  true when `state`, fitted with an earlier configuration, can
 *          rank as cfg without a new fit (cfg changes only how answers are
 *          made, not what is learnt): the state then does so. False, or
 *          NULL: eval frees the state and fits cfg anew.
 * cfg points at n_cfg configurations, cfg_size bytes apart (n_cfg 0 counts
 * as 1). With more than one, eval chooses as section 5 says: each is fitted
 * on the sub-training part and ranked on the validation part carved out of
 * training, and the best NDCG@10 there (the first on a tie) is fitted on the
 * whole training part and tested. Called from one thread.
 */
struct mes_eval_ranker {
  const char *name;    /* what --model takes; at most 15 bytes */
  const char *summary; /* one line for --help */
  const void *cfg;     /* borrowed, handed to fit */
  int (*fit)(const void *cfg, const struct mes_eval_part *p, const struct mes_log *log, void **state,
             struct mes_err *err);
  int (*rank)(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out, size_t *n,
              struct mes_err *err);
  void (*report)(void *state, struct mes_eval_result *r);
  void (*free)(void *state);
  size_t n_cfg, cfg_size;
  void (*describe)(const void *cfg, char *out, size_t cap);
  bool (*adopt)(void *state, const void *cfg);
  int (*buy_again)(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out, size_t *n,
                   struct mes_err *err);
};

/* Adds one setting to r (ignored beyond MES_EVAL_MAX_SETTINGS). */
void mes_eval_result_set(struct mes_eval_result *r, const char *key, const char *fmt, ...) MES_PRINTF(3, 4);

/* The names of the module's own models, NULL-terminated (static). */
extern const char *const mes_eval_model_names[];

/* ---- Dataset conversion ------------------------------------------------ */

/*
 * The public datasets `mesura eval-convert` knows (MES_EVAL_DATASETS).
 * mes_eval_dataset_file gives the name of the dataset's file inside its
 * folder (u.data, ratings.csv, Musical_Instruments_5.json,
 * transactions_sample.csv; static), or NULL for a name that is not one of
 * them.
 */
#define MES_EVAL_DATASETS "ml-100k, ml-latest-small, amazon, completejourney-sample"
const char *mes_eval_dataset_file(const char *dataset);
/* Reads dataset `dataset`'s file from `in` and writes the eval CSV
 * (`subject,item,ts`, header included) to `out` (both borrowed; out is not
 * flushed): ratings >= 4 for MovieLens, every review for Amazon, every
 * receipt line of The Complete Journey (a household's purchase). *kept and
 * *skipped count the interactions written and the ratings below 4 left out.
 * MES_EUSAGE for an unknown dataset, MES_EBAD_INPUT for a malformed line
 * (err->msg: "line N: why"), MES_EIO when `in` cannot be read. Whatever it
 * writes, mes_eval_data_read reads. */
int mes_eval_convert(const char *dataset, FILE *in, FILE *out, size_t *kept, size_t *skipped, struct mes_err *err);

/*
 * The catalog of a dataset whose items have categories, as a shop would
 * load it: one `mesura import` item line per product ({"kind": "item",
 * "id", "title", "categories", "available": true}), which `mesura eval
 * --catalog` gives the served path. mes_eval_dataset_catalog_file names the
 * dataset's file for it (products.csv for completejourney-sample; static),
 * NULL for a dataset without categories. mes_eval_convert_catalog reads
 * that file from `in` and writes the lines to `out` (both borrowed);
 * *n_items counts them. MES_EUSAGE for an unknown dataset or one without
 * categories, MES_EBAD_INPUT for a malformed line (err->msg: "line N:
 * why"), MES_EIO, MES_ENOMEM. Whatever it writes, mes_import_parse_jsonl
 * reads as items.
 */
const char *mes_eval_dataset_catalog_file(const char *dataset);
int mes_eval_convert_catalog(const char *dataset, FILE *in, FILE *out, size_t *n_items, struct mes_err *err);

#endif
