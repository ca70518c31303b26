/* Unit tests of base/thread. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/thread.h"

/* ------------------------------------------------------------------ thread */

static void *read_mask(void *arg) {
  sigset_t *out = arg;
  pthread_sigmask(SIG_SETMASK, NULL, out);
  return NULL;
}

static void test_thread_blocks_signals(void **state) {
  (void)state;
  sigset_t none, before, after, in_thread;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &before);
  pthread_t t;
  assert_int_equal(mes_thread_start(&t, read_mask, &in_thread), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGUSR1};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    assert_int_equal(sigismember(&in_thread, sigs[i]), 1);
  pthread_sigmask(SIG_SETMASK, NULL, &after);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    assert_int_equal(sigismember(&after, sigs[i]), 0); /* the caller's mask is back */
  pthread_sigmask(SIG_SETMASK, &before, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thread_blocks_signals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
