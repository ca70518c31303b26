/* Unit tests of the store's daily counts (store.h): what each server adds
 * to the same day, kind and label is summed, also from two handles on one
 * directory as two servers sharing a store have; a read from a day on sees
 * only those days, in day order; the sweep removes the days before the one
 * it is given and nothing after; a failed transaction adds nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

struct fx {
  char dir[64];
  struct mes_store *a, *b; /* two servers on one store */
};

static struct mes_store *open_store(const char *dir) {
  struct mes_err err = {0};
  struct mes_store *st = NULL;
  if (mes_store_open(dir, MES_STORE_SQLITE, true, &st, &err) != MES_OK)
    fail_msg("mes_store_open: %s", err.msg);
  return st;
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-counts-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  f->a = open_store(f->dir);
  f->b = open_store(f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  mes_store_close(f->a);
  mes_store_close(f->b);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

/* What a read gave, as "day kind label n;" lines. */
struct seen {
  char text[1024];
};

static int note(void *ud, int64_t day, const char *kind, const char *label, int64_t n) {
  struct seen *s = ud;
  size_t len = strlen(s->text);
  snprintf(s->text + len, sizeof s->text - len, "%lld %s %s %lld;", (long long)day, kind, label, (long long)n);
  return 0;
}

static void add(struct mes_store *st, const struct mes_count_row *rows, size_t n) {
  assert_int_equal(mes_store_tx_begin(st), MES_OK);
  assert_int_equal(mes_store_counts_add(st, rows, n), MES_OK);
  uint64_t ticket = 0;
  assert_int_equal(mes_store_tx_commit(st, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(st, ticket), MES_OK);
}

static const char *read_from(struct mes_store *st, int64_t day, struct seen *s) {
  memset(s, 0, sizeof *s);
  assert_int_equal(mes_store_counts_days(st, day, note, s), MES_OK);
  return s->text;
}

static void test_two_servers_add_to_the_same_rows(void **state) {
  struct fx *f = *state;
  const struct mes_count_row first[] = {{100, "events", "stored", 5}, {100, "events", "no_consent", 2},
                                        {101, "suppressions", "after_purchase", 1}};
  const struct mes_count_row second[] = {{100, "events", "stored", 7}, {101, "suppressions", "after_purchase", 4},
                                         {101, "suppressions", "frequency_cap", 3}};
  add(f->a, first, 3);
  add(f->b, second, 3);
  struct seen s;
  const char *want = "100 events no_consent 2;100 events stored 12;"
                     "101 suppressions after_purchase 5;101 suppressions frequency_cap 3;";
  assert_string_equal(read_from(f->a, 0, &s), want);
  assert_string_equal(read_from(f->b, 0, &s), want); /* the other server reads the same sums */
  assert_string_equal(read_from(f->a, 101, &s), "101 suppressions after_purchase 5;101 suppressions frequency_cap 3;");
  assert_string_equal(read_from(f->a, 102, &s), "");
}

static void test_a_rolled_back_add_counts_nothing(void **state) {
  struct fx *f = *state;
  const struct mes_count_row row = {200, "events", "stored", 9};
  assert_int_equal(mes_store_tx_begin(f->a), MES_OK);
  assert_int_equal(mes_store_counts_add(f->a, &row, 1), MES_OK);
  mes_store_tx_rollback(f->a);
  struct seen s;
  assert_string_equal(read_from(f->b, 0, &s), "");
}

static void test_the_sweep_removes_only_older_days(void **state) {
  struct fx *f = *state;
  const struct mes_count_row rows[] = {{10, "events", "stored", 1}, {11, "events", "stored", 2},
                                       {12, "events", "expired", 3}, {12, "events", "stored", 4}};
  add(f->a, rows, 4);
  int64_t gone = -1;
  assert_int_equal(mes_store_counts_sweep(f->b, 12, &gone), MES_OK);
  assert_int_equal(gone, 2);
  struct seen s;
  assert_string_equal(read_from(f->a, 0, &s), "12 events expired 3;12 events stored 4;");
  assert_int_equal(mes_store_counts_sweep(f->b, 12, &gone), MES_OK);
  assert_int_equal(gone, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_two_servers_add_to_the_same_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_rolled_back_add_counts_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_the_sweep_removes_only_older_days, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
