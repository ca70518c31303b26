/*
 * Unit tests of src/eval: the protocol on a dataset small enough to work out
 * by hand (deduplication, the (ts, item bytes) order, the split, dropping,
 * the ranking tie rule, every metric), the CSV reader's errors with their
 * line numbers, both runs of a file with purchases, EASE's two solvers
 * agreeing, and an outside model's grid chosen on validation (refitting only
 * when needed). The command lines are tests/unit/cli/test_cmd_eval.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "eval/eval.h"

#define assert_near(a, b, eps)                                                                          \
  do {                                                                                                  \
    double a_ = (a), b_ = (b);                                                                          \
    if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps)))                                                        \
      fail_msg("%s = %.12g, expected %s = %.12g (within %g)", #a, a_, #b, b_, (double)(eps));           \
  } while (0)

static struct mes_eval_data *read_text(const char *csv, int want_rc, size_t want_line) {
  FILE *f = fmemopen((void *)csv, strlen(csv), "r");
  assert_non_null(f);
  struct mes_eval_data *d = NULL;
  struct mes_err err = {0};
  size_t line = 0;
  int rc = mes_eval_data_read(f, &d, &line, &err);
  fclose(f);
  if (rc != want_rc)
    fail_msg("read rc %d (%s), expected %d", rc, mes_err_text(&err), want_rc);
  assert_int_equal(line, want_line);
  return d;
}

/*
 * The hand-worked dataset.
 *
 *   u1  i1@1 i2@2 i3@3 i4@4 i5@5          n=5: test i5 (unseen in training: dropped)
 *   u2  i1@10 i2@11 i1@30 i3@12 i6@13 i4@14
 *       i1 repeated: kept at its earliest ts 10, so the order is
 *       i1 i2 i3 i6 i4 and the test item is i4 (with the latest ts, i1 would be)
 *   u3  i1@1 i2@2 i3@3 9@5 10@5           equal ts: "10" < "9" as bytes, so test is 9
 *   u4  9@1 i1@2 i2@3 10@4                n=4 < 5: all training
 *   (a row without subject)               discarded
 *
 * Training: 16 pairs. Popularity: i1 4, i2 4, i3 3, 10 2, 9 1, i4 1, i6 1
 * (catalogue of 7; i5 is not in it). Tie order: i1 i2 i3 10 9 i4 i6
 * ("9" < "i4": 0x39 < 0x69).
 *
 * MostPopular, training items excluded:
 *   u2 (has i1 i2 i3 i6): 10, 9, i4    -> i4 at rank 3: NDCG 1/log2(4) = 0.5, MRR 1/3
 *   u3 (has i1 i2 i3 10): 9, i4, i6    -> 9 at rank 1: NDCG 1, MRR 1
 * Recall@10 = Recall@20 = 1, NDCG@10 = 0.75, MRR@10 = 2/3,
 * coverage@10 = |{10, 9, i4, i6}| / 7 = 4/7,
 * popularity ratio = ((2+1+1 + 1+1+1) / 6) / (16 / 7) = 49/96.
 */
static const char hand_csv[] = "subject,item,ts\n"
                               "u1,i1,1\nu1,i2,2\nu1,i3,3\nu1,i4,4\nu1,i5,5\n"
                               "u2,i1,10\nu2,i2,11\nu2,i1,30\nu2,i3,12\nu2,i6,13\nu2,i4,14.0\n"
                               "u3,i1,1\nu3,i2,2\nu3,i3,3\nu3,9,5\n\"u3\",\"10\",5\n"
                               ",i1,3\n"
                               "u4,9,1\nu4,i1,2\nu4,i2,3\nu4,10,4\n";

static void test_hand_worked_popular(void **state) {
  (void)state;
  struct mes_eval_data *d = read_text(hand_csv, MES_OK, 0);
  assert_int_equal(mes_eval_data_rows(d), 20); /* 21 rows, one without subject */
  assert_false(mes_eval_data_has_purchase_split(d));
  struct mes_eval_opts o = {.model = "popular"};
  struct mes_eval_result r;
  struct mes_err err = {0};
  int rc = mes_eval_run(d, &o, &r, &err);
  if (rc)
    fail_msg("run: %s", mes_err_text(&err));
  assert_string_equal(r.model, "popular");
  assert_int_equal(r.n_hp, 0);
  assert_int_equal(r.split.n_pairs, 19);
  assert_int_equal(r.split.n_users, 4);
  assert_int_equal(r.split.n_items, 8);
  assert_int_equal(r.split.n_train, 16);
  assert_int_equal(r.split.n_test_raw, 3);
  assert_int_equal(r.split.n_test_kept, 2);
  assert_int_equal(r.split.n_dropped_unseen, 1);
  assert_int_equal(r.split.n_dropped_in_train, 0);
  assert_int_equal(r.split.n_catalogue, 7);
  assert_int_equal(r.split.n_eval_users, 2);
  assert_near(r.test.recall10, 1.0, 1e-12);
  assert_near(r.test.recall20, 1.0, 1e-12);
  assert_near(r.test.ndcg10, 0.75, 1e-12);
  assert_near(r.test.mrr10, 2.0 / 3.0, 1e-12);
  assert_near(r.test.coverage10, 4.0 / 7.0, 1e-12);
  assert_near(r.test.pop_ratio10, 49.0 / 96.0, 1e-12);
  mes_eval_data_free(d);
}

/*
 * Purchases ("purchase", "transaction", any case) beside views: the figures
 * are computed a second time on purchases only. Here that leaves v1 with two
 * pairs, too few to evaluate anyone, and the run says so.
 */
static void test_purchase_split_detected(void **state) {
  (void)state;
  static const char csv[] = "subject,item,ts,type\n"
                            "v1,p1,1,view\nv1,p2,2,purchase\nv1,p3,3,TRANSACTION\n";
  struct mes_eval_data *d = read_text(csv, MES_OK, 0);
  assert_true(mes_eval_data_has_purchase_split(d));
  struct mes_eval_opts o = {.model = "popular", .purchases_only = true};
  struct mes_eval_result r;
  struct mes_err err = {0};
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_EBAD_INPUT);
  mes_eval_data_free(d);
}

static void test_unknown_model(void **state) {
  (void)state;
  struct mes_eval_data *d = read_text(hand_csv, MES_OK, 0);
  struct mes_eval_opts o = {.model = "nope"};
  struct mes_eval_result r;
  struct mes_err err = {0};
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_EUSAGE);
  mes_eval_data_free(d);
}

/* Malformed input: the error names the first bad line. */
static void test_malformed_lines(void **state) {
  (void)state;
  static const struct {
    const char *csv;
    size_t line;
  } cases[] = {
      {"", 1},
      {"user,item,ts\n", 1},
      {"subject,item,ts,type,extra\n", 1},
      {"subject,item,ts\nu,i,1\nu,i,12a\n", 3},
      {"subject,item,ts\nu,i,1\nu,i\n", 3},
      {"subject,item,ts\nu,i,1,view\n", 2},
      {"subject,item,ts\nu,,1\n", 2},
      {"subject,item,ts\nu,i,\n", 2},
      {"subject,item,ts\nu,i,1\n\nu,i,2\n", 3},
      {"subject,item,ts\nu,\"i,1\n", 2},
      {"subject,item,ts\nu,i\"x,1\n", 2},
      {"subject,item,ts\nu,\"i\"x,1\n", 2},
      {"subject,item,ts\nu,i\x01,1\n", 2},
      {"subject,item,ts\nu,i\xff,1\n", 2},
      {"subject,item,ts\nu,i,1e9\n", 2},
      {"subject,item,ts\nu,i,-\n", 2},
      {"subject,item,ts\nu,i,1.\n", 2},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    struct mes_eval_data *d = read_text(cases[k].csv, MES_EBAD_INPUT, cases[k].line);
    assert_null(d);
  }
}

/* What the reader accepts: quotes, CRLF, a byte order mark, decimals. */
static void test_accepted_forms(void **state) {
  (void)state;
  static const char csv[] = "\xEF\xBB\xBFsubject,item,ts\r\n"
                            "\"u,1\",\"say \"\"hi\"\"\",1.5\r\n"
                            "u2,i,-3\n"
                            "u2,i,7";
  struct mes_eval_data *d = read_text(csv, MES_OK, 0);
  assert_int_equal(mes_eval_data_rows(d), 3);
  mes_eval_data_free(d);
}

/* ---- Both runs of a file ------------------------------------------------- */

/* One run without purchases; with purchases too few to evaluate anyone, the
 * second run is made, finds nobody, and that is not an error. */
static void test_run_all(void **state) {
  (void)state;
  struct mes_eval_data *d = read_text(hand_csv, MES_OK, 0);
  struct mes_eval_opts o = {.model = "popular"};
  struct mes_eval_runs runs;
  struct mes_eval_result r;
  struct mes_err err = {0};
  assert_int_equal(mes_eval_run_all(d, &o, &runs, &err), MES_OK);
  assert_false(runs.has_purchases);
  assert_false(runs.purchases_ok);
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_OK);
  assert_near(runs.all.test.ndcg10, r.test.ndcg10, 0);
  assert_near(runs.all.test.ndcg10, 0.75, 1e-12);
  mes_eval_data_free(d);

  static const char csv[] = "subject,item,ts,type\n"
                            "u1,i1,1,view\nu1,i2,2,view\nu1,i3,3,view\nu1,i4,4,view\nu1,i5,5,view\n"
                            "u2,i1,10,view\nu2,i2,11,view\nu2,i3,12,view\nu2,i6,13,view\nu2,i4,14,view\n"
                            "u3,i1,1,view\nu3,i2,2,view\nu3,i3,3,view\nu3,9,5,view\nu3,10,5,view\n"
                            "u9,i1,1,purchase\n";
  d = read_text(csv, MES_OK, 0);
  assert_int_equal(mes_eval_run_all(d, &o, &runs, &err), MES_OK);
  assert_true(runs.has_purchases);
  assert_false(runs.purchases_ok);
  assert_true(runs.all.split.n_eval_users > 0);
  mes_eval_data_free(d);
}

/* ---- EASE: item space and user space agree ------------------------------ */

/* A deterministic random dataset: 60 users, 40 items, about 12 items each. */
static char *random_csv(void) {
  size_t cap = 1 << 16, len = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  len += (size_t)snprintf(s + len, cap - len, "subject,item,ts\n");
  uint32_t x = 12345;
  for (int u = 0; u < 60; u++)
    for (int k = 0; k < 12; k++) {
      x = x * 1103515245u + 12345u;
      int item = (int)((x >> 16) % 40);
      if (item > 20 && u % 2) /* two tastes, so that the data has structure */
        item -= 20;
      len += (size_t)snprintf(s + len, cap - len, "u%d,i%d,%d\n", u, item, u * 100 + k);
      assert_true(len < cap);
    }
  return s;
}

static void test_ease_solvers_agree(void **state) {
  (void)state;
  char *csv = random_csv();
  struct mes_eval_data *d = read_text(csv, MES_OK, 0);
  struct mes_eval_result a, b;
  struct mes_err err = {0};
  struct mes_eval_opts o = {.model = "ease", .solver = MES_EVAL_SOLVER_ITEM_SPACE};
  assert_int_equal(mes_eval_run(d, &o, &a, &err), MES_OK);
  o.solver = MES_EVAL_SOLVER_USER_SPACE;
  assert_int_equal(mes_eval_run(d, &o, &b, &err), MES_OK);
  assert_near(a.hp_value[0], b.hp_value[0], 0);
  assert_near(a.validation_ndcg10, b.validation_ndcg10, 1e-9);
  assert_near(a.test.ndcg10, b.test.ndcg10, 1e-9);
  assert_near(a.test.recall20, b.test.recall20, 1e-9);
  assert_near(a.test.coverage10, b.test.coverage10, 1e-9);
  assert_true(a.test.ndcg10 > 0);
  mes_eval_data_free(d);
  free(csv);
}

/* Every model runs on the hand-worked data and gives figures in range. */
static void test_every_model_runs(void **state) {
  (void)state;
  struct mes_eval_data *d = read_text(hand_csv, MES_OK, 0);
  for (size_t k = 0; mes_eval_model_names[k]; k++) {
    struct mes_eval_opts o = {.model = mes_eval_model_names[k]};
    struct mes_eval_result r;
    struct mes_err err = {0};
    int rc = mes_eval_run(d, &o, &r, &err);
    if (rc)
      fail_msg("%s: %s", mes_eval_model_names[k], mes_err_text(&err));
    assert_int_equal(r.split.n_eval_users, 2);
    assert_true(r.test.ndcg10 >= 0 && r.test.ndcg10 <= 1);
    assert_true(r.test.recall20 >= r.test.recall10);
  }
  /* The module has no default of its own: the caller names the model (the
   * CLI's default, the served path, is a ranker from above). */
  struct mes_eval_opts none = {0};
  struct mes_eval_result r;
  struct mes_err err = {0};
  assert_int_equal(mes_eval_run(d, &none, &r, &err), MES_EUSAGE);
  mes_eval_data_free(d);
}

/* ---- Outside models: a grid chosen on validation ------------------------- */

/* A ranker with two fits (fit_key) and two ways to answer each (mode: the
 * most or the least popular items of the training part it was given). */
struct fake_cfg {
  int fit_key, mode;
};
struct fake {
  struct fake_cfg cfg;
  size_t n_items;
  uint32_t *order; /* items, most popular first */
  double *count;
};
static int n_fits;

static const double *sort_counts; /* for by_count_desc: qsort has no user pointer in C11 */

static int by_count_desc(const void *a, const void *b) {
  const double *c = sort_counts;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return c[x] != c[y] ? (c[x] < c[y] ? 1 : -1) : (x > y) - (x < y);
}

static void fake_free(void *state) {
  struct fake *f = state;
  if (!f)
    return;
  free(f->order);
  free(f->count);
  free(f);
}

static int fake_fit(const void *cfg, const struct mes_eval_part *p, const struct mes_log *log, void **state,
                    struct mes_err *err) {
  (void)log;
  (void)err;
  n_fits++;
  struct fake *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->cfg = *(const struct fake_cfg *)cfg;
  f->n_items = mes_eval_part_n_items(p);
  f->order = calloc(f->n_items, sizeof *f->order);
  f->count = calloc(f->n_items, sizeof *f->count);
  assert_true(f->order && f->count);
  for (size_t u = 0; u < mes_eval_part_n_users(p); u++) {
    const uint32_t *items;
    const double *ts;
    size_t n = mes_eval_part_history(p, u, &items, &ts);
    for (size_t k = 0; k < n; k++)
      f->count[items[k]] += 1;
  }
  for (size_t i = 0; i < f->n_items; i++)
    f->order[i] = (uint32_t)i;
  sort_counts = f->count;
  qsort(f->order, f->n_items, sizeof *f->order, by_count_desc);
  *state = f;
  return MES_OK;
}

static int fake_rank(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out, size_t *n,
                     struct mes_err *err) {
  (void)err;
  struct fake *f = state;
  const uint32_t *items;
  const double *ts;
  size_t nh = mes_eval_part_history(p, u, &items, &ts);
  *n = 0;
  for (size_t k = 0; k < f->n_items && *n < want; k++) {
    uint32_t it = f->order[f->cfg.mode ? k : f->n_items - 1 - k];
    bool had = f->count[it] == 0; /* not in the catalogue */
    for (size_t h = 0; h < nh && !had; h++)
      had = items[h] == it;
    if (!had)
      out[(*n)++] = it;
  }
  return MES_OK;
}

static void fake_describe(const void *cfg, char *out, size_t cap) {
  const struct fake_cfg *c = cfg;
  snprintf(out, cap, "key %d mode %d", c->fit_key, c->mode);
}

static bool fake_adopt(void *state, const void *cfg) {
  struct fake *f = state;
  const struct fake_cfg *c = cfg;
  if (c->fit_key != f->cfg.fit_key)
    return false;
  f->cfg = *c;
  return true;
}

static void test_outside_ranker_grid(void **state) {
  (void)state;
  static const struct fake_cfg grid[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  const struct mes_eval_ranker rk = {"fake", "a test ranker", grid, fake_fit, fake_rank, NULL, fake_free,
                                     4, sizeof grid[0], fake_describe, fake_adopt};
  char *csv = random_csv();
  struct mes_eval_data *d = read_text(csv, MES_OK, 0);
  struct mes_eval_result r;
  struct mes_err err = {0};

  /* Validation only: one fit per fit_key (the modes are adopted), no final fit. */
  n_fits = 0;
  struct mes_eval_opts o = {.ranker = &rk, .validation_only = true};
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_OK);
  assert_int_equal(n_fits, 2);
  assert_true(r.validation_only);
  assert_string_equal(r.chosen, "key 0 mode 1"); /* popular beats unpopular; the first of equals wins */
  assert_true(r.validation_ndcg10 > 0);
  assert_near(r.test.ndcg10, 0, 0);

  /* The whole run: the same choice, then one final fit and the test figures. */
  n_fits = 0;
  o.validation_only = false;
  struct mes_eval_result full;
  assert_int_equal(mes_eval_run(d, &o, &full, &err), MES_OK);
  assert_int_equal(n_fits, 3);
  assert_string_equal(full.chosen, "key 0 mode 1");
  assert_near(full.validation_ndcg10, r.validation_ndcg10, 1e-12);
  assert_true(full.test.ndcg10 > 0);
  assert_int_equal(full.n_not_candidate, 0);
  mes_eval_data_free(d);
  free(csv);
}

/*
 * Buy again, by hand:
 *   u1  a@1 b@2 c@3 d@4 e@5 f@6, and again a@2.5, b@7, a@8: test f; its
 *       training period ends at e@5, so a@2.5 is a training repeat and
 *       b, a (after 5) are bought again in the test period;
 *   u2  a@1 b@2 c@3 d@4 f@5 e@6, and again c@9: test e; c bought again;
 *   u3  a..f once each: nothing bought again, not counted.
 * A list made of the training repeats alone (u1: a) hits for u1 and not
 * for u2: hit rate 1/2 over 2 users, 1 repeat handed over.
 */
static const char again_csv[] = "subject,item,ts\n"
                                "u1,a,1\nu1,b,2\nu1,c,3\nu1,d,4\nu1,e,5\nu1,f,6\nu1,a,2.5\nu1,b,7\nu1,a,8\n"
                                "u2,a,1\nu2,b,2\nu2,c,3\nu2,d,4\nu2,f,5\nu2,e,6\nu2,c,9\n"
                                "u3,a,1\nu3,b,2\nu3,c,3\nu3,d,4\nu3,e,5\nu3,f,6\n";
static size_t again_calls;

static int again_rank(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out, size_t *n,
                      struct mes_err *err) {
  const uint32_t *items;
  const double *ts;
  assert_int_equal(mes_eval_part_repeats(p, u, &items, &ts), 0); /* not while ranking */
  return fake_rank(state, p, u, want, out, n, err);
}

static int fake_again(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out, size_t *n,
                      struct mes_err *err) {
  (void)state;
  (void)err;
  again_calls++;
  const uint32_t *items;
  const double *ts;
  size_t nr = mes_eval_part_repeats(p, u, &items, &ts);
  const char *who = mes_eval_part_user(p, u);
  if (strcmp(who, "u1") == 0) {
    assert_int_equal(nr, 1);
    assert_string_equal(mes_eval_part_item(p, items[0]), "a");
    assert_near(ts[0], 2.5, 0);
  } else {
    assert_int_equal(nr, 0);
  }
  *n = 0;
  for (size_t k = 0; k < nr && *n < want; k++)
    out[(*n)++] = items[k];
  return MES_OK;
}

static void test_buy_again_measure(void **state) {
  (void)state;
  static const struct fake_cfg one[] = {{0, 1}};
  struct mes_eval_ranker rk = {"fake", "a test ranker", one, fake_fit, again_rank, NULL, fake_free,
                               1, sizeof one[0], fake_describe, fake_adopt, fake_again};
  struct mes_eval_data *d = read_text(again_csv, MES_OK, 0);
  struct mes_eval_result r;
  struct mes_err err = {0};
  struct mes_eval_opts o = {.ranker = &rk};
  again_calls = 0;
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_OK);
  assert_true(r.buy_again.measured);
  assert_int_equal(r.buy_again.users, 2);
  assert_int_equal(again_calls, 2); /* u3 bought nothing again: not asked */
  assert_near(r.buy_again.hit_rate10, 0.5, 1e-12);
  assert_int_equal(r.buy_again.repeats, 1);
  /* Without a buy-again list, or on validation only, nothing is measured. */
  rk.buy_again = NULL;
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_OK);
  assert_false(r.buy_again.measured);
  rk.buy_again = fake_again;
  o.validation_only = true;
  again_calls = 0;
  assert_int_equal(mes_eval_run(d, &o, &r, &err), MES_OK);
  assert_false(r.buy_again.measured);
  assert_int_equal(again_calls, 0);
  mes_eval_data_free(d);
}

/* ---- Converters: what they write, eval reads -------------------------- */

static int convert_text(const char *dataset, const char *text, char **out, size_t *kept, struct mes_err *err) {
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  size_t len = 0, skipped = 0;
  FILE *o = open_memstream(out, &len);
  assert_true(in && o);
  int rc = mes_eval_convert(dataset, in, o, kept, &skipped, err);
  fclose(in);
  fclose(o);
  return rc;
}

static void test_convert_round_trip(void **state) {
  (void)state;
  char *csv = NULL;
  size_t kept = 0;
  struct mes_err err = {0};
  assert_int_equal(convert_text("ml-100k", "196\t242\t3\t881250949\n186\t302\t4\t891717742\n", &csv, &kept, &err),
                   MES_OK);
  assert_int_equal(kept, 1);
  assert_string_equal(csv, "subject,item,ts\n186,302,891717742\n");
  struct mes_eval_data *d = read_text(csv, MES_OK, 0);
  assert_int_equal(mes_eval_data_rows(d), 1);
  mes_eval_data_free(d);
  free(csv);
  /* A timestamp eval would refuse is refused here, with its line (found by
   * fuzz/fuzz_eval.c: 16 digits passed the converter, not the reader). */
  csv = NULL;
  assert_int_equal(convert_text("ml-100k", "1\t2\t5\t1\n3\t4\t5\t8781384719342223\n", &csv, &kept, &err),
                   MES_EBAD_INPUT);
  assert_string_equal(err.msg, "line 2: the timestamp must be unix seconds");
  free(csv);
  csv = NULL;
  assert_int_equal(convert_text("amazon", "{\"reviewerID\": \"A\", \"asin\": \"B\", \"unixReviewTime\": -5}\n", &csv,
                                &kept, &err),
                   MES_EBAD_INPUT);
  free(csv);
  csv = NULL;
  assert_int_equal(convert_text("netflix", "", &csv, &kept, &err), MES_EUSAGE);
  free(csv);
}

/* The Complete Journey: household, product and the ISO time as unix
 * seconds (UTC, whatever TZ says); the header is checked, impossible dates
 * are refused with their line. */
#define CJ_HEAD                                                                                                    \
  "household_id,store_id,basket_id,product_id,quantity,sales_value,retail_disc,coupon_disc,coupon_match_disc,week," \
  "transaction_timestamp\n"

static void test_convert_completejourney(void **state) {
  (void)state;
  char *csv = NULL;
  size_t kept = 0;
  struct mes_err err = {0};
  setenv("TZ", "America/New_York", 1);
  assert_int_equal(convert_text("completejourney-sample",
                                CJ_HEAD "2261,309,31625220889,940996,1,3.86,0.43,0,0,5,2017-01-28T19:06:53Z\n"
                                        "7,1,2,55,0,0,0,0,0,1,2016-02-29T00:00:00Z\n"
                                        "7,1,2,56,1,0,0,0,0,1,2000-12-31T23:59:59Z\n",
                                &csv, &kept, &err),
                   MES_OK);
  unsetenv("TZ");
  assert_int_equal(kept, 3); /* every line a purchase, quantity 0 included */
  assert_string_equal(csv, "subject,item,ts\n2261,940996,1485630413\n7,55,1456704000\n7,56,978307199\n");
  struct mes_eval_data *d = read_text(csv, MES_OK, 0);
  assert_int_equal(mes_eval_data_rows(d), 3);
  mes_eval_data_free(d);
  free(csv);
  csv = NULL;
  assert_int_equal(convert_text("completejourney-sample", CJ_HEAD "7,1,2,55,1,0,0,0,0,1,2017-02-29T10:00:00Z\n", &csv,
                                &kept, &err),
                   MES_EBAD_INPUT);
  assert_string_equal(err.msg,
                      "line 2: transaction_timestamp must be an ISO 8601 UTC time such as 2017-01-28T19:06:53Z");
  free(csv);
  csv = NULL;
  assert_int_equal(convert_text("completejourney-sample", "subject,item,ts\n1,2,3\n", &csv, &kept, &err),
                   MES_EBAD_INPUT);
  assert_non_null(strstr(err.msg, "line 1: the header must be household_id,"));
  free(csv);
}

/* The catalog of The Complete Journey, as a shop would load it: one item
 * line of `mesura import` per product, its department and product_category
 * its categories (one kept when both are the same, an empty one left out),
 * its product_type its title (else the category, else the id). The header
 * is checked and a bad line is refused with its number; a dataset without
 * categories has no catalog. */
#define CJ_PRODUCTS_HEAD "product_id,manufacturer_id,department,brand,product_category,product_type,package_size\n"

static int catalog_text(const char *dataset, const char *text, char **out, size_t *n, struct mes_err *err) {
  FILE *in = fmemopen((void *)text, strlen(text), "r");
  size_t len = 0;
  FILE *o = open_memstream(out, &len);
  assert_true(in && o);
  int rc = mes_eval_convert_catalog(dataset, in, o, n, err);
  fclose(in);
  fclose(o);
  return rc;
}

static void test_convert_completejourney_catalog(void **state) {
  (void)state;
  char *out = NULL;
  size_t n = 0;
  struct mes_err err = {0};
  assert_string_equal(mes_eval_dataset_catalog_file("completejourney-sample"), "products.csv");
  assert_null(mes_eval_dataset_catalog_file("ml-100k"));
  assert_int_equal(catalog_text("completejourney-sample",
                                CJ_PRODUCTS_HEAD "28897,69,GROCERY,Private,EGGS,EGGS - X-LARGE,A D   1 DZ\n"
                                                 "8,1,PRODUCE,National,PRODUCE,BANANAS,40 LB\n"
                                                 "9,1,,National,DINNER MXS:DRY,,\n"
                                                 "10,1,,,,,\n",
                                &out, &n, &err),
                   MES_OK);
  assert_int_equal(n, 4);
  assert_string_equal(
      out, "{\"kind\":\"item\",\"id\":\"28897\",\"title\":\"EGGS - X-LARGE\",\"categories\":[\"GROCERY\",\"EGGS\"],"
           "\"available\":true}\n"
           "{\"kind\":\"item\",\"id\":\"8\",\"title\":\"BANANAS\",\"categories\":[\"PRODUCE\"],\"available\":true}\n"
           "{\"kind\":\"item\",\"id\":\"9\",\"title\":\"DINNER MXS:DRY\",\"categories\":[\"DINNER MXS:DRY\"],"
           "\"available\":true}\n"
           "{\"kind\":\"item\",\"id\":\"10\",\"title\":\"10\",\"categories\":[],\"available\":true}\n");
  free(out);
  out = NULL;
  assert_int_equal(catalog_text("completejourney-sample", CJ_PRODUCTS_HEAD "1,1,GROCERY,x,EGGS,EGGS\n", &out, &n, &err),
                   MES_EBAD_INPUT);
  assert_non_null(strstr(err.msg, "line 2: expected the 7 fields"));
  free(out);
  out = NULL;
  assert_int_equal(catalog_text("completejourney-sample", CJ_PRODUCTS_HEAD "x1,1,GROCERY,x,EGGS,EGGS,1\n", &out, &n,
                                &err),
                   MES_EBAD_INPUT);
  assert_string_equal(err.msg, "line 2: product_id must be an unsigned integer");
  free(out);
  out = NULL;
  assert_int_equal(catalog_text("completejourney-sample", "subject,item,ts\n", &out, &n, &err), MES_EBAD_INPUT);
  assert_non_null(strstr(err.msg, "line 1: the header must be product_id,"));
  free(out);
  out = NULL;
  assert_int_equal(catalog_text("ml-100k", "", &out, &n, &err), MES_EUSAGE);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand_worked_popular),  cmocka_unit_test(test_purchase_split_detected),
      cmocka_unit_test(test_unknown_model),        cmocka_unit_test(test_malformed_lines),
      cmocka_unit_test(test_accepted_forms),       cmocka_unit_test(test_run_all),
      cmocka_unit_test(test_ease_solvers_agree),   cmocka_unit_test(test_every_model_runs),
      cmocka_unit_test(test_outside_ranker_grid),
      cmocka_unit_test(test_buy_again_measure),  cmocka_unit_test(test_convert_round_trip),
      cmocka_unit_test(test_convert_completejourney),
      cmocka_unit_test(test_convert_completejourney_catalog),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
