/*
 * Unit tests of the live model and the erasure journal (engine/live.c). An
 * erasure answers with the model already unlearned, and saves it after: the
 * stored model, meanwhile, still carries the person, and whoever opens the
 * store before the save (another server, or this one after a crash: the
 * same state on disk) must not serve it. An engine with its own model
 * follows the erasures made by another engine over the same directory,
 * unlearning them in place. Forgetting one event answers the same way, and
 * the same holds of it: no stored model that learnt it is served again.
 * An erasure unlearns while its key and rows go: two at once each say what
 * the model held of their person, and a model that cannot unlearn is kept
 * for someone whose events it cannot have held.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/mtime.h"
#include "engine/engine_int.h"
#include "model/model.h"

#include "../engine_dir.h"

struct fixture {
  char dir[64], data[96];
  struct mes_engine *e;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_test_dir_make(f->dir, f->data, "live");
  mes_test_engine_open(f->data, &f->e);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_engine_close(f->e);
  mes_test_dir_remove(f->dir);
  free(f);
  return 0;
}

/* subject grants personalization and views the n items, through the verbs. */
static void shopper(struct mes_engine *e, const char *subject, const char *const *items, int n) {
  struct mes_call call = {0};
  struct mes_err err;
  mes_err_clear(&err);
  const char grant[] = "{\"status\": \"granted\"}";
  struct mes_body body = {.text = grant, .len = strlen(grant)};
  json_t *out = NULL;
  if (mes_engine_consent_put(e, &call, subject, strlen(subject), "personalization", 15, &body, &out, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(out);
  for (int i = 0; i < n; i++) {
    char events[256];
    snprintf(events, sizeof events, "{\"events\": [{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"%s\"}]}",
             subject, items[i]);
    body = (struct mes_body){.text = events, .len = strlen(events)};
    struct mes_ingest_outcome oc;
    if (mes_engine_events_ingest(e, &call, &body, true, &out, &oc, &err))
      fail_msg("ingest: %s", mes_err_text(&err));
    json_decref(out);
    assert_int_equal(oc.stored, 1);
  }
}

static void crowd(struct mes_engine *e) {
  static const char *const a[] = {"tent", "stove", "lamp"}, *const b[] = {"tent", "stove"},
                           *const c[] = {"stove", "lamp", "mug"}, *const d[] = {"mug", "tent"};
  shopper(e, "ann", a, 3);
  shopper(e, "bob", b, 2);
  shopper(e, "cat", c, 3);
  shopper(e, "dan", d, 2);
}

static void train_live(struct mes_engine *e) {
  struct mes_err err;
  mes_err_clear(&err);
  struct mes_train_opts o = {.make_live = true};
  json_t *meta = NULL;
  if (mes_engine_train(e, &o, &meta, &err))
    fail_msg("train: %s", mes_err_text(&err));
  json_decref(meta);
}

/* The live model's meta "events" (what it learnt from), -1 without a model. */
static json_int_t live_events(struct mes_engine *e) {
  struct mes_model *m = mes_engine_model(e);
  if (!m)
    return -1;
  json_t *meta = mes_model_meta(m);
  json_int_t n = json_integer_value(json_object_get(meta, "events"));
  json_decref(meta);
  mes_model_unref(m);
  return n;
}

static json_t *erase(struct mes_engine *e, const char *subject) {
  struct mes_call call = {0};
  struct mes_err err;
  mes_err_clear(&err);
  json_t *receipt = NULL;
  if (mes_engine_subject_erase(e, &call, subject, strlen(subject), &receipt, &err))
    fail_msg("erase: %s", mes_err_text(&err));
  return receipt;
}

static void test_not_served_before_the_save(void **state) {
  struct fixture *f = *state;
  crowd(f->e);
  train_live(f->e);
  assert_int_equal(live_events(f->e), 10);
  json_t *receipt = erase(f->e, "ann");
  json_t *model = json_object_get(receipt, "model");
  assert_string_equal(json_string_value(json_object_get(model, "contribution")), "unlearned");
  assert_int_equal(json_integer_value(json_object_get(model, "events")), 3);
  assert_true(json_is_true(json_object_get(model, "exact")));
  json_decref(receipt);
  /* Served at once without her; not saved yet (no background thread here). */
  assert_int_equal(live_events(f->e), 7);
  struct mes_model *m = mes_engine_model(f->e);
  assert_true(mes_model_can_unlearn(m));
  mes_model_unref(m);

  /* What the directory holds now is what a crash would leave: the stored
   * model still carries ann, and a new opener serves no model. */
  struct mes_engine *other = NULL;
  mes_test_engine_open(f->data, &other);
  assert_int_equal(live_events(other), -1);
  mes_engine_close(other);

  /* Closing saves the unlearned model; the next opener serves it. */
  mes_engine_close(f->e);
  f->e = NULL;
  mes_test_engine_open(f->data, &f->e);
  assert_int_equal(live_events(f->e), 7);
  m = mes_engine_model(f->e);
  assert_int_equal(mes_model_erasures_seen(m), 1);
  mes_model_unref(m);
}

/* The retention sweep takes a person's stored events; the model trained
 * before still carries them, and their erasure must take them out of it
 * rather than answer that no model learnt from them. */
static void test_erasure_after_the_sweep_still_unlearns(void **state) {
  struct fixture *f = *state;
  crowd(f->e);
  train_live(f->e);
  assert_int_equal(live_events(f->e), 10);
  mes_engine_sweep(f->e, mes_now_ms() + 1000LL * 86400 * 1000); /* past every retention */
  json_t *receipt = erase(f->e, "ann");
  json_t *model = json_object_get(receipt, "model");
  assert_string_equal(json_string_value(json_object_get(model, "contribution")), "unlearned");
  assert_int_equal(json_integer_value(json_object_get(model, "events")), 3);
  json_decref(receipt);
  assert_int_equal(live_events(f->e), 7);
  /* Someone the model never saw: nothing taken out, and it says so. */
  shopper(f->e, "eve", NULL, 0);
  receipt = erase(f->e, "eve");
  model = json_object_get(receipt, "model");
  assert_string_equal(json_string_value(json_object_get(model, "contribution")), "none");
  json_decref(receipt);
  assert_int_equal(live_events(f->e), 7);
}

/* subject views item once more, with a client event id to forget it by. */
static void view_with_id(struct mes_engine *e, const char *subject, const char *item, const char *event_id) {
  struct mes_call call = {0};
  struct mes_err err;
  mes_err_clear(&err);
  char events[256];
  snprintf(events, sizeof events,
           "{\"events\": [{\"subject\": \"%s\", \"type\": \"view\", \"item\": \"%s\", \"event_id\": \"%s\"}]}",
           subject, item, event_id);
  struct mes_body body = {.text = events, .len = strlen(events)};
  json_t *out = NULL;
  struct mes_ingest_outcome oc;
  if (mes_engine_events_ingest(e, &call, &body, true, &out, &oc, &err))
    fail_msg("ingest: %s", mes_err_text(&err));
  json_decref(out);
  assert_int_equal(oc.stored, 1);
}

static void test_forgotten_event_not_served_before_the_save(void **state) {
  struct fixture *f = *state;
  crowd(f->e);
  view_with_id(f->e, "bob", "mug", "bob-mug");
  train_live(f->e);
  assert_int_equal(live_events(f->e), 11);
  struct mes_engine *other = NULL;
  mes_test_engine_open(f->data, &other);
  train_live(other); /* its own model, trained with the event */
  assert_int_equal(live_events(other), 11);

  struct mes_call call = {0};
  struct mes_err err;
  mes_err_clear(&err);
  json_t *model = NULL;
  assert_int_equal(mes_engine_event_forget(f->e, &call, "bob", 3, "bob-mug", 7, &model, &err), MES_OK);
  assert_string_equal(json_string_value(json_object_get(model, "contribution")), "unlearned");
  assert_int_equal(json_integer_value(json_object_get(model, "events")), 1);
  assert_true(json_is_true(json_object_get(model, "exact")));
  json_decref(model);
  /* Served at once without it; not saved yet (no background thread here). */
  assert_int_equal(live_events(f->e), 10);

  /* What a crash would leave: the stored models learnt the event, and a new
   * opener serves none of them. */
  struct mes_engine *third = NULL;
  mes_test_engine_open(f->data, &third);
  assert_int_equal(live_events(third), -1);
  mes_engine_close(third);

  /* The save after the answer: the next opener serves it, and an engine
   * serving its own model, which still has the event, takes it. */
  mes__model_save_unsaved(f->e);
  mes_test_engine_open(f->data, &third);
  assert_int_equal(live_events(third), 10);
  struct mes_model *m = mes_engine_model(third);
  assert_int_equal(mes_model_forgets_seen(m), 1);
  mes_model_unref(m);
  mes_engine_close(third);
  mes__model_poll(other);
  assert_int_equal(live_events(other), 10);
  mes_engine_close(other);

  /* Forgetting it again: 404, and nothing stored stops being served. */
  assert_int_equal(mes_engine_event_forget(f->e, &call, "bob", 3, "bob-mug", 7, &model, &err), MES_ENOT_FOUND);
  assert_null(model);
  mes_test_engine_open(f->data, &third);
  assert_int_equal(live_events(third), 10);
  mes_engine_close(third);
}

static void test_other_engine_follows(void **state) {
  struct fixture *f = *state;
  crowd(f->e);
  train_live(f->e);
  struct mes_engine *other = NULL;
  mes_test_engine_open(f->data, &other);
  train_live(other); /* its own model, which can unlearn */
  assert_int_equal(live_events(other), 10);

  json_t *receipt = erase(f->e, "cat");
  json_decref(receipt);
  assert_int_equal(live_events(f->e), 7);
  assert_int_equal(live_events(other), 10); /* until its background thread reads the journal */
  mes__model_follow(other);
  assert_int_equal(live_events(other), 7);
  struct mes_model *m = mes_engine_model(other);
  assert_true(mes_model_can_unlearn(m)); /* unlearned in place, not dropped for a retraining */
  mes_model_unref(m);

  /* A model loaded from the store cannot unlearn: it gives way to none. */
  struct mes_engine *third = NULL;
  mes__model_save_unsaved(f->e);
  mes_test_engine_open(f->data, &third);
  assert_int_equal(live_events(third), 7);
  json_decref(erase(f->e, "dan"));
  mes__model_follow(third);
  assert_int_equal(live_events(third), -1);
  mes__model_follow(other);
  assert_int_equal(live_events(other), 5);
  mes_engine_close(third);
  mes_engine_close(other);
}

/* Two erasures at once: each unlearning (on a thread of its own, alongside
 * its store work) may find the other's journal record too; both receipts
 * still say what the model held of their own person, and the model left is
 * the one without both. */
struct erasing {
  struct mes_engine *e;
  const char *subject;
  pthread_barrier_t *go;
  json_t *receipt;
};

static void *erase_main(void *ud) {
  struct erasing *x = ud;
  pthread_barrier_wait(x->go);
  x->receipt = erase(x->e, x->subject);
  return NULL;
}

static void test_erasures_at_once_both_unlearn(void **state) {
  struct fixture *f = *state;
  crowd(f->e);
  for (int round = 0; round < 2; round++) {
    train_live(f->e);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    /* ann and cat viewed 3 items each; bob and dan 2 each, in round two. */
    struct erasing x[2] = {{f->e, round ? "bob" : "ann", &go, NULL}, {f->e, round ? "dan" : "cat", &go, NULL}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_create(&t[i], NULL, erase_main, &x[i]), 0);
    for (int i = 0; i < 2; i++)
      pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < 2; i++) {
      json_t *model = json_object_get(x[i].receipt, "model");
      assert_string_equal(json_string_value(json_object_get(model, "contribution")), "unlearned");
      assert_int_equal(json_integer_value(json_object_get(model, "events")), round ? 2 : 3);
      assert_true(json_is_true(json_object_get(model, "exact")));
      assert_int_equal(json_integer_value(json_object_get(json_object_get(x[i].receipt, "removed"), "events")),
                       round ? 2 : 3);
      json_decref(x[i].receipt);
    }
    assert_int_equal(live_events(f->e), round ? 0 : 4);
  }
  /* The save after them has seen all four records. */
  mes__model_save_unsaved(f->e);
  struct mes_engine *other = NULL;
  mes_test_engine_open(f->data, &other);
  struct mes_model *m = mes_engine_model(other);
  assert_non_null(m);
  assert_int_equal(mes_model_erasures_seen(m), 4);
  mes_model_unref(m);
  mes_engine_close(other);
}

/* A model loaded from the store cannot unlearn nor tell whom it learnt
 * from: the erasure of someone with stored events drops it for a
 * retraining, that of someone without keeps it serving. What counts is
 * what was stored when the erasure began, its rows going meanwhile. */
static void test_loaded_model_kept_for_someone_without_events(void **state) {
  struct fixture *f = *state;
  crowd(f->e);
  shopper(f->e, "eve", NULL, 0);
  train_live(f->e);
  struct mes_engine *other = NULL;
  mes_test_engine_open(f->data, &other); /* serves the stored model */
  assert_int_equal(live_events(other), 10);
  struct mes_model *m = mes_engine_model(other);
  assert_false(mes_model_can_unlearn(m));
  mes_model_unref(m);

  json_t *receipt = erase(other, "eve");
  json_t *model = json_object_get(receipt, "model");
  assert_string_equal(json_string_value(json_object_get(model, "contribution")), "none");
  assert_true(json_is_true(json_object_get(model, "exact")));
  json_decref(receipt);
  assert_int_equal(live_events(other), 10);

  receipt = erase(other, "bob");
  model = json_object_get(receipt, "model");
  assert_string_equal(json_string_value(json_object_get(model, "contribution")), "retraining");
  assert_false(json_is_true(json_object_get(model, "exact")));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(receipt, "removed"), "events")), 2);
  json_decref(receipt);
  assert_int_equal(live_events(other), -1);
  mes_engine_close(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_not_served_before_the_save, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erasure_after_the_sweep_still_unlearns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_engine_follows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forgotten_event_not_served_before_the_save, setup, teardown),
      cmocka_unit_test_setup_teardown(test_erasures_at_once_both_unlearn, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loaded_model_kept_for_someone_without_events, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
