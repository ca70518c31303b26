/* Unit tests of base/arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"

/* ------------------------------------------------------------------ arena */

static void test_arena(void **state) {
  (void)state;
  _Alignas(max_align_t) char first[256];
  struct mes_arena a;
  mes_arena_init(&a, first, sizeof first, 1024, 1 << 20);
  char *p = mes_arena_alloc(&a, 10);
  assert_true(p >= first && p < first + sizeof first); /* the first block first */
  /* sizes across chunk boundaries: aligned, distinct, zeroed when asked */
  static const size_t sizes[] = {0, 1, 7, 16, 17, 255, 256, 1000, 1024, 1025, 5000, 70000, 3};
  void *ptrs[sizeof sizes / sizeof sizes[0]];
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    unsigned char *q = mes_arena_calloc(&a, sizes[i]);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % _Alignof(max_align_t), 0);
    for (size_t k = 0; k < sizes[i]; k++)
      assert_int_equal(q[k], 0);
    memset(q, 0x5a, sizes[i]);
    ptrs[i] = q;
  }
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) /* nothing overlapped */
    for (size_t k = 0; k < sizes[i]; k++)
      assert_int_equal(((unsigned char *)ptrs[i])[k], 0x5a);
  char *s = mes_arena_strndup(&a, "abcdef", 3);
  assert_string_equal(s, "abc");
  mes_arena_release(&a);
  p = mes_arena_alloc(&a, 10); /* the first block again after release */
  assert_true(p >= first && p < first + sizeof first);
  mes_arena_release(&a);
  mes_arena_release(NULL);
}

static void test_arena_cap(void **state) {
  (void)state;
  struct mes_arena a;
  mes_arena_init(&a, NULL, 0, 1024, 8192);
  assert_null(mes_arena_alloc(&a, 8193)); /* beyond the cap at once */
  assert_non_null(mes_arena_alloc(&a, 1000));
  size_t got = 1000;
  while (mes_arena_alloc(&a, 1000))
    got += 1000;
  assert_true(got <= 8192 && got >= 4000);
  assert_null(mes_arena_alloc(&a, SIZE_MAX)); /* no overflow */
  mes_arena_release(&a);
  assert_non_null(mes_arena_alloc(&a, 1000)); /* the cap counts again from zero */
  mes_arena_release(&a);
  struct mes_arena zero;
  memset(&zero, 0, sizeof zero);
  assert_null(mes_arena_alloc(&zero, 1)); /* not initialised: refuses */
  mes_arena_release(&zero);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arena),
      cmocka_unit_test(test_arena_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
