/* Unit tests of src/lib/store/commit.c, the group commit, driven through a fake
 * backend with no database behind it: tickets, nested savepoints, waits and
 * callbacks, a failed sync that leaves the store refusing writes, and that
 * closing commits what is pending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store/commit_int.h"

/* --- the fake backend: counts what the group commit asks of it --- */

struct fake {
  struct mes_commit gc;
  bool open; /* the outer transaction */
  int depth; /* savepoints */
  int begins, savepoints, releases, undos, commits, rollbacks, forgets;
  atomic_int syncs;
  atomic_int sync_rc; /* what the next syncs return */
  int lost_rc;        /* nonzero: check reports the outer transaction lost */
};

static int f_begin(void *be) {
  struct fake *f = be;
  assert_false(f->open);
  f->open = true;
  f->begins++;
  return MES_OK;
}

static int f_savepoint(void *be) {
  struct fake *f = be;
  assert_true(f->open);
  f->depth++;
  f->savepoints++;
  return MES_OK;
}

static int f_release(void *be) {
  struct fake *f = be;
  assert_true(f->depth > 0);
  f->depth--;
  f->releases++;
  return MES_OK;
}

static void f_undo(void *be) {
  struct fake *f = be;
  assert_true(f->depth > 0);
  f->depth--;
  f->undos++;
}

static int f_commit(void *be) {
  struct fake *f = be;
  assert_true(f->open);
  assert_int_equal(f->depth, 0);
  f->open = false;
  f->commits++;
  return MES_OK;
}

static void f_rollback(void *be) {
  struct fake *f = be;
  f->open = false;
  f->depth = 0;
  f->rollbacks++;
}

static int f_check(void *be) {
  struct fake *f = be;
  if (f->lost_rc) {
    f->open = false;
    f->depth = 0;
  }
  return f->lost_rc;
}

static int f_sync(void *be) {
  struct fake *f = be;
  atomic_fetch_add(&f->syncs, 1);
  return atomic_load(&f->sync_rc);
}

static void f_forget(void *be) { ((struct fake *)be)->forgets++; }

static const struct mes_commit_be fake_be = {
    .begin = f_begin,
    .savepoint = f_savepoint,
    .release = f_release,
    .undo = f_undo,
    .commit = f_commit,
    .rollback = f_rollback,
    .check = f_check,
    .sync = f_sync,
    .forget = f_forget,
};

static int setup(void **state) {
  struct fake *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes__commit_init(&f->gc, &fake_be, f);
  assert_int_equal(mes__commit_start(&f->gc), MES_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fake *f = *state;
  mes__commit_release(&f->gc);
  free(f);
  return 0;
}

/* --- tests --- */

static void test_ticket_is_durable_after_one_commit_and_sync(void **state) {
  struct fake *f = *state;
  uint64_t ticket = 0;
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_OK);
  assert_int_equal(ticket, 1);
  assert_int_equal(mes__commit_wait(&f->gc, ticket), MES_OK);
  assert_int_equal(f->begins, 1);
  assert_int_equal(f->commits, 1);
  assert_true(atomic_load(&f->syncs) >= 1);
  assert_false(f->open);
  assert_false(mes__commit_own_pending(&f->gc));
  /* The next transaction is the next batch. */
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_OK);
  assert_int_equal(ticket, 2);
  assert_int_equal(mes__commit_wait(&f->gc, ticket), MES_OK);
  assert_int_equal(mes__commit_wait(&f->gc, 0), MES_OK);
  assert_int_equal(mes__commit_wait(&f->gc, 99), MES_EINTERNAL); /* never handed out */
}

static void test_nested_transactions_are_savepoints(void **state) {
  struct fake *f = *state;
  uint64_t inner = 7, outer = 0;
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_true(mes__commit_held(&f->gc));
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(f->begins, 1);
  assert_int_equal(f->savepoints, 2);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &inner), MES_OK);
  assert_int_equal(inner, 0); /* only the outermost commit hands out a ticket */
  /* A write inside the held transaction joins it. */
  bool own = true;
  assert_int_equal(mes__commit_write_begin(&f->gc, &own), MES_OK);
  assert_false(own);
  assert_int_equal(mes__commit_write_end(&f->gc, own, MES_OK), MES_OK);
  /* Waiting while holding the writer would deadlock: refused. */
  assert_int_equal(mes__commit_wait(&f->gc, 1), MES_EINTERNAL);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &outer), MES_OK);
  assert_int_equal(outer, 1);
  assert_false(mes__commit_held(&f->gc));
  assert_int_equal(f->releases, 2);
  assert_int_equal(mes__commit_wait(&f->gc, outer), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &outer), MES_EINTERNAL); /* no tx held */
}

static void test_rollback_of_everything_leaves_no_write_lock(void **state) {
  struct fake *f = *state;
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  int forgets = f->forgets;
  mes__commit_tx_rollback(&f->gc);
  assert_int_equal(f->undos, 1);
  assert_true(f->forgets > forgets);
  assert_int_equal(f->rollbacks, 1); /* nothing to commit: the outer transaction is gone at once */
  assert_false(f->open);
  assert_int_equal(f->commits, 0);
  mes__commit_tx_rollback(&f->gc); /* none held: nothing happens */
  assert_int_equal(f->undos, 1);
  /* A write of its own that fails is rolled back, and its code returned. */
  bool own = false;
  assert_int_equal(mes__commit_write_begin(&f->gc, &own), MES_OK);
  assert_true(own);
  assert_int_equal(mes__commit_write_end(&f->gc, own, MES_ENOT_FOUND), MES_ENOT_FOUND);
  assert_int_equal(f->undos, 2);
  assert_false(f->open);
}

struct waiter {
  struct mes_store_waiter w;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool called;
  int rc;
};

static void on_durable(struct mes_store_waiter *w, int rc) {
  struct waiter *x = (struct waiter *)w;
  pthread_mutex_lock(&x->mu);
  x->called = true;
  x->rc = rc;
  pthread_cond_signal(&x->cv);
  pthread_mutex_unlock(&x->mu);
}

static int wait_called(struct waiter *x) {
  pthread_mutex_lock(&x->mu);
  while (!x->called)
    pthread_cond_wait(&x->cv, &x->mu);
  pthread_mutex_unlock(&x->mu);
  return x->rc;
}

static void waiter_init(struct waiter *x) {
  *x = (struct waiter){.w = {.cb = on_durable}};
  pthread_mutex_init(&x->mu, NULL);
  pthread_cond_init(&x->cv, NULL);
}

static void waiter_release(struct waiter *x) {
  pthread_mutex_destroy(&x->mu);
  pthread_cond_destroy(&x->cv);
}

static void test_parked_waiter_is_called_back(void **state) {
  struct fake *f = *state;
  struct waiter x;
  waiter_init(&x);
  uint64_t ticket;
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_OK);
  assert_int_equal(mes__commit_on_durable(&f->gc, ticket, &x.w), MES_OK);
  assert_false(mes__commit_own_pending(&f->gc)); /* the writes went with their waiter */
  assert_int_equal(wait_called(&x), MES_OK);
  /* Already durable: still called back, once. */
  waiter_release(&x);
  waiter_init(&x);
  assert_int_equal(mes__commit_on_durable(&f->gc, ticket, &x.w), MES_OK);
  assert_int_equal(wait_called(&x), MES_OK);
  waiter_release(&x);
  assert_int_equal(mes__commit_on_durable(&f->gc, 0, &x.w), MES_EINTERNAL);
  assert_int_equal(mes__commit_on_durable(&f->gc, ticket + 5, &x.w), MES_EINTERNAL);
}

static void test_failed_sync_breaks_the_store(void **state) {
  struct fake *f = *state;
  atomic_store(&f->sync_rc, MES_ESTORAGE_FULL);
  uint64_t ticket;
  struct waiter x;
  waiter_init(&x);
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_OK);
  assert_int_equal(mes__commit_on_durable(&f->gc, ticket, &x.w), MES_OK);
  assert_int_equal(mes__commit_wait(&f->gc, ticket), MES_ESTORAGE_FULL);
  assert_int_equal(wait_called(&x), MES_ESTORAGE_FULL);
  waiter_release(&x);
  /* Every later write is refused with the same code, until reopened. */
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_ESTORAGE_FULL);
  bool own;
  assert_int_equal(mes__commit_write_begin(&f->gc, &own), MES_ESTORAGE_FULL);
  assert_false(mes__commit_held(&f->gc));
}

static void test_outer_transaction_lost_by_the_engine(void **state) {
  struct fake *f = *state;
  uint64_t ticket;
  /* Hold a transaction so that the flusher cannot commit the first one. */
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  f->lost_rc = MES_ESTORE; /* the engine rolled everything back on its own */
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_ESTORE);
  f->lost_rc = MES_OK;
  mes__commit_tx_rollback(&f->gc);
  assert_false(f->open);
  assert_int_equal(f->commits, 0);
  /* Nothing had been released into the batch: the store is not broken. */
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_OK);
  assert_int_equal(mes__commit_wait(&f->gc, ticket), MES_OK);
}

struct writer_arg {
  struct fake *f;
  int n;
  int failures;
};

static void *writer(void *arg) {
  struct writer_arg *a = arg;
  for (int i = 0; i < a->n; i++) {
    bool own;
    int rc = mes__commit_write_begin(&a->f->gc, &own);
    if (rc == MES_OK)
      rc = mes__commit_write_end(&a->f->gc, own, MES_OK);
    if (rc != MES_OK)
      a->failures++;
  }
  return NULL;
}

static void test_many_writers_share_commits(void **state) {
  struct fake *f = *state;
  enum { N_THREADS = 8, N_WRITES = 200 };
  pthread_t t[N_THREADS];
  struct writer_arg a[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    a[i] = (struct writer_arg){.f = f, .n = N_WRITES};
    assert_int_equal(pthread_create(&t[i], NULL, writer, &a[i]), 0);
  }
  for (int i = 0; i < N_THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].failures, 0);
  }
  assert_int_equal(f->releases, N_THREADS * N_WRITES);
  assert_true(f->commits >= 1 && f->commits <= N_THREADS * N_WRITES);
  assert_int_equal(atomic_load(&f->syncs), f->commits);
  print_message("%d writes in %d group commits\n", N_THREADS * N_WRITES, f->commits);
}

static void test_release_commits_what_is_pending(void **state) {
  struct fake *f = *state;
  uint64_t ticket;
  assert_int_equal(mes__commit_tx_begin(&f->gc), MES_OK);
  assert_int_equal(mes__commit_tx_commit(&f->gc, &ticket), MES_OK);
  mes__commit_release(&f->gc); /* no wait: closing syncs it */
  assert_int_equal(f->commits, 1);
  assert_int_equal(atomic_load(&f->syncs), 1);
  assert_false(f->open);
  /* teardown releases again: make it a fresh, unstarted group commit. */
  mes__commit_init(&f->gc, &fake_be, f);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_ticket_is_durable_after_one_commit_and_sync),
      T(test_nested_transactions_are_savepoints),
      T(test_rollback_of_everything_leaves_no_write_lock),
      T(test_parked_waiter_is_called_back),
      T(test_failed_sync_breaks_the_store),
      T(test_outer_transaction_lost_by_the_engine),
      T(test_many_writers_share_commits),
      T(test_release_commits_what_is_pending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
