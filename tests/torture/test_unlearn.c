/*
 * Torture of unlearning: mes_model_unlearn and mes_model_forget_event on a
 * model freshly trained, unrefused, before each run, for a shopper with a
 * history in the shop; co-occurrence also with no kept margin, so that rows
 * are decided against a bound and counted again. A refused run must end in a clean
 * error, leave the old model serving what it served and free everything
 * (LeakSanitizer); a run that succeeds must give the same model as the
 * first: every item's neighbours, popularity and trending. The chain: one
 * event, then the rest of alice from the model that returned (rows beside
 * rows), then that model saved (its blob written then) and loaded back.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "torture.h"

#include "base/alloc.h"
#include "model/model.h"
#include "policy/policy.h"

struct fixture {
  struct mes_torture_shop shop;
  struct mes_model *m; /* trained before each run */
  int kind;
  int margin;  /* params.unlearn_margin, -1 for the default */
  bool one;    /* forget one event (alice's view of tent-4p) rather than alice */
  bool chain;  /* that event, then alice, then a save and a load */
  int64_t sid; /* alice's */
  size_t n_items; /* of m, to check that a failed run left it alone */
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_torture_shop_open(&f->shop, "torture-unlearn");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_model_unref(f->m);
  mes_torture_shop_close(&f->shop);
  free(f);
  return 0;
}

static void before(void *ud) {
  struct fixture *f = ud;
  mes_model_unref(f->m);
  struct mes_model_params p;
  mes_model_params_default(&p);
  p.kind = f->kind;
  if (f->margin >= 0)
    p.unlearn_margin = f->margin;
  struct mes_err err;
  mes_err_clear(&err);
  f->m = NULL;
  assert_int_equal(mes_model_train(f->shop.ingester, f->shop.req, NULL, &p, &f->m, &err), MES_OK);
  f->n_items = mes_model_n_items(f->m);
  f->sid = mes_torture_shop_sid(&f->shop, "alice");
}

/* The model as JSON: per item, popularity, trending and each relation's
 * neighbours. */
static json_t *describe(const struct mes_model *m) {
  json_t *out = json_object();
  for (uint32_t i = 0; i < mes_model_n_items(m); i++) {
    json_t *rels = json_array();
    for (int r = 0; r < MES_REL_N; r++) {
      size_t n;
      const struct mes_nbr *nb = mes_model_neighbors(m, (enum mes_rel)r, i, &n);
      json_t *list = json_array();
      for (size_t j = 0; j < n; j++)
        json_array_append_new(list, json_pack("[s, f]", mes_model_item_id(m, nb[j].item), (double)nb[j].w));
      json_array_append_new(rels, list);
    }
    json_object_set_new(out, mes_model_item_id(m, i),
                        json_pack("{s:f, s:f, s:o}", "pop", (double)mes_model_popularity(m, i), "trend",
                                  (double)mes_model_trending(m, i), "rel", rels));
  }
  return out;
}

/* The chain (see the top): *out the model loaded back. */
static int chain(struct fixture *f, struct mes_model **out, struct mes_unlearn_info *info, struct mes_err *err) {
  struct mes_model *a = NULL, *b = NULL;
  int64_t id = 0;
  int rc = mes_model_forget_event(f->m, f->sid, "tent-4p", strlen("tent-4p"), MES_KIND_VIEW,
                                  MES_TORTURE_T0_MS - 80 * 60000LL, &a, info, err);
  if (!rc)
    rc = mes_model_unlearn(a, f->sid, &b, info, err);
  if (!rc)
    rc = mes_model_save(f->shop.store, b, NULL, &id, err);
  if (!rc)
    rc = mes_model_load(f->shop.store, id, out, err);
  mes_model_unref(a);
  mes_model_unref(b);
  return rc;
}

static int run(void *ud, json_t **out, struct mes_err *err) {
  struct fixture *f = ud;
  struct mes_model *next = NULL;
  struct mes_unlearn_info info;
  int rc = f->chain ? chain(f, &next, &info, err)
           : f->one ? mes_model_forget_event(f->m, f->sid, "tent-4p", strlen("tent-4p"), MES_KIND_VIEW,
                                             MES_TORTURE_T0_MS - 80 * 60000LL, &next, &info, err)
                    : mes_model_unlearn(f->m, f->sid, &next, &info, err);
  mes_alloc_disarm();
  if (rc)
    return rc;
  if (info.events != 1 && f->one) /* the event is found whatever is refused */
    fail_msg("forgot %zu events, want 1", info.events);
  *out = json_pack("{s:o, s:I, s:b}", "model", describe(next), "events", (json_int_t)info.events, "exact",
                   info.exact);
  mes_model_unref(next);
  return MES_OK;
}

static const char *after(void *ud, int rc) {
  struct fixture *f = ud;
  if (mes_model_n_items(f->m) != f->n_items)
    return "the old model changed";
  /* MES_ESTORE: the new model's metadata could not be parsed back, which a
   * blob reports as corrupt. */
  if (rc && rc != MES_ENOMEM && rc != MES_ESTORE)
    return "an error other than out of memory";
  return NULL;
}

static void torture(struct fixture *f, const char *name) {
  const struct mes_torture_op op = {.name = name, .ud = f, .run = run, .before = before, .after = after};
  mes_torture_run(&op);
}

static void test_unlearn_cooc(void **state) {
  struct fixture *f = *state;
  f->kind = MES_MODEL_COOC;
  f->margin = -1;
  torture(f, "unlearn a person, co-occurrence");
}

static void test_unlearn_cooc_no_margin(void **state) {
  struct fixture *f = *state;
  f->kind = MES_MODEL_COOC;
  f->margin = 0;
  torture(f, "unlearn a person, co-occurrence without a kept margin");
}

static void test_forget_cooc_no_margin(void **state) {
  struct fixture *f = *state;
  f->kind = MES_MODEL_COOC;
  f->margin = 0;
  f->one = true;
  torture(f, "forget one event, co-occurrence without a kept margin");
}

static void test_chain_cooc(void **state) {
  struct fixture *f = *state;
  f->kind = MES_MODEL_COOC;
  f->margin = -1;
  f->chain = true;
  torture(f, "forget one event, unlearn the rest, save and load, co-occurrence");
}

static void test_unlearn_ease(void **state) {
  struct fixture *f = *state;
  f->kind = MES_MODEL_EASE;
  f->margin = -1;
  torture(f, "unlearn a person, EASE");
}

int main(void) {
  mes_torture_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unlearn_cooc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unlearn_cooc_no_margin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forget_cooc_no_margin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chain_cooc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unlearn_ease, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
