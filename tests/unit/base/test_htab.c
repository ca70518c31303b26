/* Unit tests of base/htab: the string hash and the hash table in its three
 * storages. */
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
#include "base/htab.h"

/* ------------------------------------------------------------------ hash */

static void test_hash_bytes(void **state) {
  (void)state;
  /* Every length around the eight-byte steps, and ids that differ only in
   * their last byte, hash apart; the NUL-terminated form agrees. */
  char a[40], b[40];
  for (size_t len = 1; len < sizeof a; len++) {
    memset(a, 'x', len);
    memcpy(b, a, len);
    b[len - 1] = 'y';
    a[len] = b[len] = '\0';
    assert_int_not_equal(mes_hash_bytes(a, len), mes_hash_bytes(b, len));
    assert_int_equal(mes_hash_bytes(a, len), mes_hash_str(a));
    assert_int_not_equal(mes_hash_bytes(a, len), mes_hash_bytes(a, len - 1)); /* the length counts */
  }
  assert_int_equal(mes_hash_bytes("", 0), mes_hash_str(""));
  /* integers up to 32 bits are their own tag */
  assert_int_equal(mes_htab_tag(123456789u), 123456789u);
  assert_int_not_equal(mes_htab_tag(1), mes_htab_tag(1ull << 32 | 1));
}

/* ------------------------------------------------------------------ integer keys */

static void check_ints(struct mes_htab *t, size_t n, uint32_t stride) {
  for (size_t i = 0; i < n; i++) {
    struct mes_htab_slot *s = NULL;
    assert_int_equal(mes_htab_add(t, (uint32_t)(i * stride), (uint32_t)i + 1, &s), MES_OK);
    assert_non_null(s);
    assert_int_equal(s->val, i + 1);
  }
  assert_int_equal(mes_htab_count(t), n);
  for (size_t i = 0; i < n; i++) {
    const struct mes_htab_slot *s = mes_htab_find(t, (uint32_t)(i * stride));
    assert_non_null(s);
    assert_int_equal(s->key, (uint32_t)(i * stride));
    assert_int_equal(s->val, i + 1);
  }
  assert_null(mes_htab_find(t, (uint32_t)(n * stride)));
  assert_null(mes_htab_find(t, UINT32_MAX));
}

static void test_heap_grows_to_cap(void **state) {
  (void)state;
  static const struct {
    size_t n;
    uint32_t stride;
  } rows[] = {{1, 1}, {7, 1}, {8, 1}, {9, 1}, {1000, 1}, {1000, 1u << 20}, {5000, 0x10001u}, {3000, 16}, {4000, 1u << 12}};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    struct mes_htab t;
    mes_htab_init(&t, rows[r].n);
    assert_null(mes_htab_find(&t, 0)); /* before any storage */
    assert_int_equal(mes_htab_n_slots(&t), 0);
    check_ints(&t, rows[r].n, rows[r].stride);
    assert_true(mes_htab_n_slots(&t) >= 2 * rows[r].n);
    /* at the cap: refused, nothing changed */
    assert_int_equal(mes_htab_add(&t, UINT32_MAX, 1, NULL), MES_ENOMEM);
    assert_int_equal(mes_htab_count(&t), rows[r].n);
    assert_null(mes_htab_find(&t, UINT32_MAX));
    mes_htab_release(&t);
    assert_int_equal(mes_htab_count(&t), 0);
    assert_null(mes_htab_find(&t, 0));
    check_ints(&t, rows[r].n, rows[r].stride); /* usable again */
    mes_htab_release(&t);
  }
  struct mes_htab zero;
  memset(&zero, 0, sizeof zero);
  mes_htab_release(&zero); /* a zeroed struct: nothing to free */
}

static void test_fixed_never_grows(void **state) {
  (void)state;
  struct mes_htab_slot slots[64];
  memset(slots, 0xab, sizeof slots);
  struct mes_htab t;
  mes_htab_init_fixed(&t, slots, 64);
  assert_int_equal(mes_htab_n_slots(&t), 64);
  check_ints(&t, 32, 3);
  assert_int_equal(mes_htab_add(&t, 1000, 1, NULL), MES_ENOMEM); /* half full is full */
  assert_int_equal(mes_htab_reserve(&t, 33), MES_ENOMEM);
  assert_int_equal(mes_htab_reserve(&t, 32), MES_OK);
  mes_htab_clear(&t);
  assert_int_equal(mes_htab_count(&t), 0);
  assert_null(mes_htab_find(&t, 3));
  check_ints(&t, 32, 5);
  /* a part of the storage only: the rest is never touched */
  memset(slots, 0xab, sizeof slots);
  mes_htab_init_fixed(&t, slots, mes_htab_slots_for(3));
  assert_int_equal(mes_htab_n_slots(&t), 16);
  check_ints(&t, 3, 1);
  assert_int_equal(slots[16].val, 0xababababu);
}

static void test_slots_for(void **state) {
  (void)state;
  static const size_t rows[][2] = {{0, 16}, {1, 16}, {8, 16}, {9, 32}, {16, 32}, {17, 64}, {1000, 2048}, {1024, 2048}};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
    assert_int_equal(mes_htab_slots_for(rows[r][0]), rows[r][1]);
}

/* A multimap: repeated keys are all found, in probe order; every slot is
 * walked once. */
static void test_multimap(void **state) {
  (void)state;
  struct mes_htab_slot slots[128];
  struct mes_htab t;
  mes_htab_init_fixed(&t, slots, 128);
  for (uint32_t i = 1; i <= 30; i++)
    assert_int_equal(mes_htab_add(&t, i % 3, i, NULL), MES_OK);
  for (uint32_t k = 0; k < 3; k++) {
    size_t pos = 0, seen = 0;
    uint32_t sum = 0;
    for (struct mes_htab_slot *s; (s = mes_htab_next(&t, k, &pos));) {
      assert_int_equal(s->val % 3, k);
      sum += s->val;
      seen++;
    }
    assert_int_equal(seen, 10);
    assert_int_equal(sum, k == 0 ? 165 : k == 1 ? 145 : 155);
  }
  size_t i = 0, n = 0;
  uint32_t sum = 0;
  for (struct mes_htab_slot *s; (s = mes_htab_each(&t, &i));) {
    sum += s->val;
    n++;
  }
  assert_int_equal(n, 30);
  assert_int_equal(sum, 465);
}

/* ------------------------------------------------------------------ removal */

static void test_remove_keeps_runs(void **state) {
  (void)state;
  /* A small table crowded to half full, so that runs are long and wrap
   * around the end; every third key removed, in several orders. */
  for (int order = 0; order < 3; order++) {
    struct mes_htab t;
    mes_htab_init(&t, 512);
    assert_int_equal(mes_htab_reserve(&t, 512), MES_OK);
    for (uint32_t i = 0; i < 512; i++)
      assert_int_equal(mes_htab_add(&t, i * 7919u, i + 1, NULL), MES_OK);
    for (uint32_t j = 0; j < 512; j++) {
      uint32_t i = order == 0 ? j : order == 1 ? 511 - j : (j * 37u) % 512;
      if (i % 3)
        continue;
      struct mes_htab_slot *s = mes_htab_find(&t, i * 7919u);
      assert_non_null(s);
      mes_htab_remove(&t, s);
      assert_null(mes_htab_find(&t, i * 7919u));
    }
    assert_int_equal(mes_htab_count(&t), 512 - 171);
    for (uint32_t i = 0; i < 512; i++) {
      const struct mes_htab_slot *s = mes_htab_find(&t, i * 7919u);
      if (i % 3 == 0) {
        assert_null(s);
      } else {
        assert_non_null(s);
        assert_int_equal(s->val, i + 1);
      }
    }
    mes_htab_release(&t);
  }
}

/* ------------------------------------------------------------------ strings */

/* The index of id in ids, through the table's tags; -1 when absent. */
static int lookup(const struct mes_htab *t, char *const *ids, const char *id) {
  struct mes_htab_slot *s;
  for (size_t pos = 0; (s = mes_htab_next(t, mes_htab_tag(mes_hash_str(id)), &pos));)
    if (strcmp(ids[s->val - 1], id) == 0)
      return (int)s->val - 1;
  return -1;
}

static void test_strings_in_arena(void **state) {
  (void)state;
  struct mes_arena a;
  mes_arena_init(&a, NULL, 0, 1024, 1 << 20);
  struct mes_htab t;
  mes_htab_init_arena(&t, &a, 100);
  char *ids[100];
  char id[32];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "item-%d", i);
    ids[i] = mes_arena_strndup(&a, id, strlen(id));
    assert_non_null(ids[i]);
    assert_int_equal(mes_htab_add(&t, mes_htab_tag(mes_hash_str(id)), (uint32_t)i + 1, NULL), MES_OK);
  }
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "item-%d", i);
    assert_int_equal(lookup(&t, ids, id), i);
  }
  assert_int_equal(lookup(&t, ids, "item-100"), -1);
  assert_int_equal(mes_htab_add(&t, 1, 1, NULL), MES_ENOMEM); /* the cap */
  mes_arena_release(&a);
}

/* Tags that collide: every slot of the tag is walked, the caller's compare
 * tells them apart. */
static void test_colliding_tags(void **state) {
  (void)state;
  struct mes_htab_slot slots[64];
  struct mes_htab t;
  mes_htab_init_fixed(&t, slots, 64);
  static const char *const names[] = {"a", "b", "c", "d"};
  for (uint32_t i = 0; i < 4; i++)
    assert_int_equal(mes_htab_add(&t, 77, i + 1, NULL), MES_OK);
  for (uint32_t i = 0; i < 4; i++) {
    int found = -1;
    struct mes_htab_slot *s;
    for (size_t pos = 0; (s = mes_htab_next(&t, 77, &pos));)
      if (strcmp(names[s->val - 1], names[i]) == 0)
        found = (int)s->val - 1;
    assert_int_equal(found, (int)i);
  }
}

/* An arena too small for the table's growth: the add fails, the table is
 * as it was. */
static void test_arena_table_out_of_room(void **state) {
  (void)state;
  struct mes_arena a;
  mes_arena_init(&a, NULL, 0, 1024, 4096);
  struct mes_htab t;
  mes_htab_init_arena(&t, &a, 1000);
  size_t added = 0;
  while (mes_htab_add(&t, added, (uint32_t)added + 1, NULL) == MES_OK)
    added++;
  assert_true(added >= 8 && added < 1000);
  assert_int_equal(mes_htab_count(&t), added);
  for (size_t i = 0; i < added; i++)
    assert_non_null(mes_htab_find(&t, i));
  mes_arena_release(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_bytes),
      cmocka_unit_test(test_heap_grows_to_cap),
      cmocka_unit_test(test_fixed_never_grows),
      cmocka_unit_test(test_slots_for),
      cmocka_unit_test(test_multimap),
      cmocka_unit_test(test_remove_keeps_runs),
      cmocka_unit_test(test_strings_in_arena),
      cmocka_unit_test(test_colliding_tags),
      cmocka_unit_test(test_arena_table_out_of_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
