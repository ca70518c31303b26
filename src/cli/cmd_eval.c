/*
 * cli/cmd_eval — `mesura eval` and `mesura eval-convert`: the command lines
 * of the offline evaluation. They read the arguments, open the files, hand
 * the work to src/lib/eval (which computes and never prints) and print what it
 * returns: the figures as a short report or as one JSON line, progress and
 * failures on stderr. `mesura eval` also takes the served models of
 * cmd_eval_served.c, which need the whole engine; without --model it
 * evaluates the first of them, `served`: what the product serves by default.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/path.h"
#include "cli/cli_int.h"
#include "eval/eval.h"

/* ---------------------------------------------------------------- eval */

#define EVAL_USAGE \
  "usage: mesura eval --input FILE.csv [--catalog ITEMS.jsonl] [--model NAME] [--json] [--validation-only]"

/* Reads "--name value" or "--name=value" at argv[*i]; advances *i. 1 when it
 * matched, 0 when not, -1 when the value is missing. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **value) {
  size_t n = strlen(name);
  const char *a = argv[*i];
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return -1;
  *value = argv[++*i];
  return 1;
}

static json_t *figures_json(const struct mes_eval_result *r) {
  json_t *hp = json_object();
  for (size_t h = 0; h < r->n_hp; h++)
    json_object_set_new(hp, r->hp_name[h], json_real(r->hp_value[h]));
  const struct mes_eval_split_stats *s = &r->split;
  return json_pack("{s:s, s:o, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}",
                   "model", r->model, "hyperparameters", hp, "ndcg@10", r->test.ndcg10, "recall@10", r->test.recall10,
                   "recall@20", r->test.recall20, "mrr@10", r->test.mrr10, "coverage@10", r->test.coverage10,
                   "pop_ratio@10", r->test.pop_ratio10, "n_eval_users", (json_int_t)s->n_eval_users, "n_pairs",
                   (json_int_t)s->n_pairs, "n_train", (json_int_t)s->n_train, "n_test_raw", (json_int_t)s->n_test_raw,
                   "n_test_kept", (json_int_t)s->n_test_kept, "dropped_test_unseen_item",
                   (json_int_t)s->n_dropped_unseen, "dropped_test_in_training", (json_int_t)s->n_dropped_in_train,
                   "n_catalogue", (json_int_t)s->n_catalogue, "n_items_filtered", (json_int_t)s->n_items_filtered,
                   "validation_ndcg@10", r->validation_ndcg10, "fit_s", r->fit_s);
}

/* --validation-only: what was chosen and its validation figure; the test
 * part was never read, so there is nothing else to say. */
static json_t *validation_json(const struct mes_eval_result *r) {
  json_t *hp = json_object();
  for (size_t h = 0; hp && h < r->n_hp; h++)
    json_object_set_new(hp, r->hp_name[h], json_real(r->hp_value[h]));
  return json_pack("{s:s, s:o, s:f, s:b}", "model", r->model, "hyperparameters", hp ? hp : json_object(),
                   "validation_ndcg@10", r->validation_ndcg10, "validation_only", 1);
}

/* figures_json plus what an outside model reported (new reference, or NULL). */
static json_t *result_json(const struct mes_eval_result *r, bool outside) {
  json_t *o = r->validation_only ? validation_json(r) : figures_json(r);
  if (o && r->chosen[0] && json_object_set_new(o, "chosen", json_string(r->chosen))) {
    json_decref(o);
    return NULL;
  }
  if (!o || !outside || r->validation_only)
    return o;
  json_t *set = json_object();
  for (size_t k = 0; set && k < r->n_settings; k++)
    json_object_set_new(set, r->settings[k].key, json_string(r->settings[k].value));
  if (!set || json_object_set_new(o, "settings", set) ||
      json_object_set_new(o, "n_short_answers", json_integer((json_int_t)r->n_short)) ||
      json_object_set_new(o, "n_answered_not_candidate", json_integer((json_int_t)r->n_not_candidate))) {
    json_decref(o);
    return NULL;
  }
  const struct mes_eval_buy_again *b = &r->buy_again;
  if (b->measured && json_object_set_new(o, "buy_again",
                                         json_pack("{s:f, s:I, s:I}", "hit_rate@10", b->hit_rate10, "users",
                                                   (json_int_t)b->users, "repeat_purchases_stored",
                                                   (json_int_t)b->repeats))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static void print_report(FILE *out, const char *title, const struct mes_eval_result *r) {
  const struct mes_eval_split_stats *s = &r->split;
  fprintf(out, "%s\n", title);
  if (r->validation_only) {
    fprintf(out, "  model               %s\n", r->model);
    for (size_t h = 0; h < r->n_hp; h++)
      fprintf(out, "  %-19s %g\n", r->hp_name[h], r->hp_value[h]);
    if (r->chosen[0])
      fprintf(out, "  chosen              %s\n", r->chosen);
    fprintf(out, "  validation NDCG@10  %.4f (the test part was not read)\n", r->validation_ndcg10);
    return;
  }
  fprintf(out, "  model               %s", r->model);
  for (size_t h = 0; h < r->n_hp; h++)
    fprintf(out, "%s%s=%g", h ? ", " : " (", r->hp_name[h], r->hp_value[h]);
  if (r->n_hp)
    fprintf(out, "; chosen on validation, NDCG@10 %.4f)", r->validation_ndcg10);
  fprintf(out, "\n");
  if (r->chosen[0])
    fprintf(out, "  chosen              %s (validation NDCG@10 %.4f)\n", r->chosen, r->validation_ndcg10);
  fprintf(out, "  interactions        %zu unique pairs, %zu users, %zu items", s->n_pairs, s->n_users, s->n_items);
  if (s->n_items_filtered)
    fprintf(out, " (%zu rare items filtered out)", s->n_items_filtered);
  fprintf(out, "\n  split               train %zu, test %zu -> %zu kept\n", s->n_train, s->n_test_raw, s->n_test_kept);
  fprintf(out, "  dropped test pairs  %zu (item unseen in training), %zu (pair already in training)\n",
          s->n_dropped_unseen, s->n_dropped_in_train);
  fprintf(out, "  catalogue           %zu items\n", s->n_catalogue);
  fprintf(out, "  evaluated users     %zu\n", s->n_eval_users);
  fprintf(out, "  fit                 %.2f s\n", r->fit_s);
  fprintf(out, "  Recall@10           %.4f\n", r->test.recall10);
  fprintf(out, "  Recall@20           %.4f\n", r->test.recall20);
  fprintf(out, "  NDCG@10             %.4f\n", r->test.ndcg10);
  fprintf(out, "  MRR@10              %.4f\n", r->test.mrr10);
  fprintf(out, "  coverage@10         %.4f\n", r->test.coverage10);
  fprintf(out, "  popularity ratio@10 %.2f\n", r->test.pop_ratio10);
}

static void print_outside(FILE *out, const struct mes_eval_result *r) {
  if (r->buy_again.measured)
    fprintf(out, "  buy again           hit rate@10 %.4f over %zu users who bought again a training item in "
                 "their test period (%zu repeat purchases of the training period stored)\n",
            r->buy_again.hit_rate10, r->buy_again.users, r->buy_again.repeats);
  fprintf(out, "  short answers       %zu users got fewer than %d rankable items\n", r->n_short, MES_EVAL_TOP);
  fprintf(out, "  not candidates      %zu answered items left out (in the user's training, off the catalogue)\n",
          r->n_not_candidate);
  for (size_t k = 0; k < r->n_settings; k++)
    fprintf(out, "  %-19s %s\n", r->settings[k].key, r->settings[k].value);
}

/* 2 only when the command line was wrong (an unknown model); a malformed
 * input file is an error of the data, 1 like every other failure. */
static int exit_code(int rc) { return rc == MES_EUSAGE ? 2 : 1; }

static void print_models(FILE *out, const struct mes_eval_ranker *rankers, size_t n) {
  for (size_t k = 0; k < n; k++)
    fprintf(out, "%s%s", k ? ", " : "", rankers[k].name);
  for (size_t k = 0; mes_eval_model_names[k]; k++)
    fprintf(out, ", %s", mes_eval_model_names[k]);
}

/* Writes the figures of both runs to stdout: a report, or one JSON line.
 * `outside`: the model was one of the rankers handed in (its settings are
 * shown too). Returns the exit code. */
static int print_runs(const struct mes_eval_runs *runs, bool outside, bool json, bool validation_only) {
  if (json) {
    json_t *o = result_json(&runs->all, outside);
    if (o && runs->has_purchases)
      json_object_set_new(o, "purchases", runs->purchases_ok ? result_json(&runs->purchases, outside) : json_null());
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!text) {
      fprintf(stderr, "mesura eval: out of memory\n");
      return 1;
    }
    printf("%s\n", text);
    free(text);
  } else {
    print_report(stdout, runs->has_purchases ? "all events" : "figures", &runs->all);
    if (outside && !validation_only)
      print_outside(stdout, &runs->all);
    if (runs->purchases_ok) {
      print_report(stdout, "purchases", &runs->purchases);
      if (outside && !validation_only)
        print_outside(stdout, &runs->purchases);
    } else if (runs->has_purchases) {
      printf("purchases\n  no user has enough purchases to be evaluated\n");
    }
  }
  if (fflush(stdout) != 0) {
    fprintf(stderr, "mesura eval: cannot write the figures: %s\n", strerror(errno));
    return 1;
  }
  return 0;
}

int mes__cmd_eval(int argc, char **argv) {
  size_t n_rankers = 0;
  const struct mes_eval_ranker *rankers = mes__served_rankers(&n_rankers);
  const char *input = NULL, *model = NULL, *catalog = NULL;
  bool json = false, validation_only = false;
  for (int i = 1; i < argc; i++) {
    int got = 0;
    if (strcmp(argv[i], "--json") == 0) {
      json = true;
      continue;
    }
    if (strcmp(argv[i], "--validation-only") == 0) {
      validation_only = true;
      continue;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s\n  models: ", EVAL_USAGE);
      print_models(stdout, rankers, n_rankers);
      printf(" (default: %s)\n", rankers[0].name);
      for (size_t k = 0; k < n_rankers; k++)
        printf("  %-15s %s\n", rankers[k].name, rankers[k].summary);
      return 0;
    }
    if ((got = opt_value(argc, argv, &i, "--input", &input)) == 0 &&
        (got = opt_value(argc, argv, &i, "--model", &model)) == 0)
      got = opt_value(argc, argv, &i, "--catalog", &catalog);
    if (got <= 0) {
      fprintf(stderr, "%s\n", EVAL_USAGE);
      return 2;
    }
  }
  if (!input || !input[0] || (catalog && !catalog[0])) {
    fprintf(stderr, "%s\n", EVAL_USAGE);
    return 2;
  }
  const struct mes_eval_ranker *ranker = model ? NULL : &rankers[0]; /* what is served by default */
  if (model) {
    bool known = false;
    for (size_t k = 0; mes_eval_model_names[k]; k++)
      known = known || strcmp(mes_eval_model_names[k], model) == 0;
    for (size_t k = 0; k < n_rankers && !known; k++)
      if (strcmp(rankers[k].name, model) == 0) {
        ranker = &rankers[k];
        known = true;
      }
    if (!known) {
      fprintf(stderr, "mesura eval: unknown model '%s' (", model);
      print_models(stderr, rankers, n_rankers);
      fprintf(stderr, ")\n");
      return 2;
    }
  }
  if (catalog && !ranker) {
    fprintf(stderr, "mesura eval: --catalog is for the served models; %s reads no catalog\n", model);
    return 2;
  }

  FILE *f = strcmp(input, "-") == 0 ? stdin : fopen(input, "r");
  if (!f) {
    fprintf(stderr, "mesura eval: cannot open %s: %s\n", input, strerror(errno));
    return 1;
  }
  struct mes_log log = {mes_log_stderr, NULL, MES_LOG_INFO};
  struct mes_err err = {0};
  struct mes_eval_data *d = NULL;
  size_t bad = 0;
  int rc = mes_eval_data_read(f, &d, &bad, &err);
  if (f != stdin)
    fclose(f);
  if (rc) {
    fprintf(stderr, "mesura eval: %s: %s\n", input, mes_err_text(&err));
    return exit_code(rc);
  }
  struct mes_eval_ranker *with_catalog = NULL;
  if (catalog) {
    FILE *cf = fopen(catalog, "r");
    size_t n_items = 0;
    if (!cf) {
      fprintf(stderr, "mesura eval: cannot open %s: %s\n", catalog, strerror(errno));
      mes_eval_data_free(d);
      return 1;
    }
    rc = mes__served_with_catalog(ranker, cf, &with_catalog, &n_items, &err);
    fclose(cf);
    if (rc) {
      fprintf(stderr, "mesura eval: %s: %s\n", catalog, mes_err_text(&err));
      mes_eval_data_free(d);
      return 1;
    }
    ranker = with_catalog;
    mes_log(&log, MES_LOG_INFO, "eval: catalog of %zu items from %s", n_items, catalog);
  }
  mes_log(&log, MES_LOG_INFO, "eval: read %zu rows from %s%s", mes_eval_data_rows(d), input,
          mes_eval_data_has_purchase_split(d) ? " (purchases and other types: two runs)" : "");

  struct mes_eval_opts opts = {.model = model, .ranker = ranker, .log = &log, .validation_only = validation_only};
  struct mes_eval_runs runs;
  rc = mes_eval_run_all(d, &opts, &runs, &err);
  mes_eval_data_free(d);
  mes__served_ranker_free(with_catalog);
  if (rc) {
    fprintf(stderr, "mesura eval: %s\n", mes_err_text(&err));
    return exit_code(rc);
  }
  return print_runs(&runs, ranker != NULL, json, validation_only);
}

/* ---------------------------------------------------------------- eval-convert */

#define CONVERT_USAGE \
  "usage: mesura eval-convert --dataset ml-100k|ml-latest-small|amazon|completejourney-sample --input PATH " \
  "--output FILE.csv [--catalog ITEMS.jsonl]"

/* Opens dataset file `file` of `input` (the file itself, or the dataset's
 * folder holding it). NULL after saying why. */
static FILE *open_dataset_file(const char *input, const char *file) {
  char path[4096];
  struct stat sb;
  bool in_dir = stat(input, &sb) == 0 && S_ISDIR(sb.st_mode);
  int n = snprintf(path, sizeof path, "%s", input);
  if (n < 0 || (size_t)n >= sizeof path || (in_dir && mes_path_join(path, sizeof path, input, file))) {
    fprintf(stderr, "mesura eval-convert: the input path is too long\n");
    return NULL;
  }
  FILE *in = fopen(path, "r");
  if (!in)
    fprintf(stderr, "mesura eval-convert: cannot open %s: %s\n", path, strerror(errno));
  return in;
}

/* Converts `in` (closed here) into `output` with the interactions
 * converter, or with the catalog's when `catalog`. The result is written
 * beside the target and renamed at the end: a failed run never leaves a
 * half file under the final name. Returns the library's code; *kept and
 * *skipped what it counted. */
static int convert_to(const char *name, FILE *in, const char *output, bool catalog, size_t *kept, size_t *skipped) {
  bool to_stdout = strcmp(output, "-") == 0;
  char tmp[4096];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp", output);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    fclose(in);
    fprintf(stderr, "mesura eval-convert: the output path is too long\n");
    return MES_EIO;
  }
  FILE *out = to_stdout ? stdout : fopen(tmp, "w");
  if (!out) {
    fclose(in);
    fprintf(stderr, "mesura eval-convert: cannot create %s: %s\n", tmp, strerror(errno));
    return MES_EIO;
  }
  struct mes_err err = {0};
  *kept = *skipped = 0;
  int rc = catalog ? mes_eval_convert_catalog(name, in, out, kept, &err)
                   : mes_eval_convert(name, in, out, kept, skipped, &err);
  fclose(in);
  if (rc)
    fprintf(stderr, "mesura eval-convert: %s%s\n", catalog ? "catalog: " : "", mes_err_text(&err));
  if (rc == MES_OK && (ferror(out) || fflush(out) != 0)) {
    fprintf(stderr, "mesura eval-convert: cannot write %s: %s\n", output, strerror(errno));
    rc = MES_EIO;
  }
  if (!to_stdout) {
    if (fclose(out) != 0 && rc == MES_OK) {
      fprintf(stderr, "mesura eval-convert: cannot write %s: %s\n", output, strerror(errno));
      rc = MES_EIO;
    }
    if (rc == MES_OK && rename(tmp, output) != 0) {
      fprintf(stderr, "mesura eval-convert: cannot rename %s to %s: %s\n", tmp, output, strerror(errno));
      rc = MES_EIO;
    }
    if (rc)
      remove(tmp);
  }
  return rc;
}

int mes__cmd_eval_convert(int argc, char **argv) {
  const char *name = NULL, *input = NULL, *output = NULL, *catalog = NULL;
  for (int i = 1; i < argc; i++) {
    const char **slot = strcmp(argv[i], "--dataset") == 0   ? &name
                        : strcmp(argv[i], "--input") == 0   ? &input
                        : strcmp(argv[i], "--output") == 0  ? &output
                        : strcmp(argv[i], "--catalog") == 0 ? &catalog
                                                            : NULL;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s\n", CONVERT_USAGE);
      return 0;
    }
    if (!slot || i + 1 >= argc) {
      fprintf(stderr, "%s\n", CONVERT_USAGE);
      return 2;
    }
    *slot = argv[++i];
  }
  if (!name || !input || !output || !input[0] || !output[0] || (catalog && !catalog[0])) {
    fprintf(stderr, "%s\n", CONVERT_USAGE);
    return 2;
  }
  const char *file = mes_eval_dataset_file(name);
  if (!file) {
    fprintf(stderr, "mesura eval-convert: unknown dataset '%s' (" MES_EVAL_DATASETS ")\n", name);
    return 2;
  }
  const char *cat_file = mes_eval_dataset_catalog_file(name);
  if (catalog && !cat_file) {
    fprintf(stderr, "mesura eval-convert: the dataset %s has no categories: no catalog to write\n", name);
    return 2;
  }
  if (catalog && strcmp(catalog, "-") == 0 && strcmp(output, "-") == 0) {
    fprintf(stderr, "mesura eval-convert: --output and --catalog cannot both be stdout\n");
    return 2;
  }
  FILE *in = open_dataset_file(input, file);
  if (!in)
    return 1;
  size_t kept = 0, skipped = 0;
  int rc = convert_to(name, in, output, false, &kept, &skipped);
  if (rc) /* 2 is for a wrong command line only: a malformed dataset file is 1 */
    return rc == MES_EUSAGE ? 2 : 1;
  fprintf(stderr, "mesura eval-convert: %s: %zu interactions written", name, kept);
  if (skipped)
    fprintf(stderr, ", %zu ratings below 4 left out", skipped);
  fprintf(stderr, "\n");
  if (!catalog)
    return 0;
  /* The catalog's products sit beside the interactions: a folder given as
   * --input holds both; a file given as --input, its folder. */
  char dir[4096];
  struct stat sb;
  int n = snprintf(dir, sizeof dir, "%s", input);
  if (n < 0 || (size_t)n >= sizeof dir)
    return 1;
  if (!(stat(input, &sb) == 0 && S_ISDIR(sb.st_mode))) {
    char *slash = strrchr(dir, '/');
    if (slash)
      *slash = '\0';
    else
      snprintf(dir, sizeof dir, ".");
  }
  if (!(in = open_dataset_file(dir, cat_file)))
    return 1;
  rc = convert_to(name, in, catalog, true, &kept, &skipped);
  if (rc)
    return rc == MES_EUSAGE ? 2 : 1;
  fprintf(stderr, "mesura eval-convert: %s: %zu catalog items written\n", name, kept);
  return 0;
}
