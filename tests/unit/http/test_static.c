/*
 * Unit tests of src/http/h_static.c and the table scripts/embed-web.cmake
 * writes: the table is sorted and unique (the lookup is a binary search),
 * every row has a type, a strong ETag and its NUL; every row is found by its
 * path and nothing else is; and If-None-Match is read as RFC 9110 says
 * (lists, weak tags, "*", blanks), table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/assets.h"

static void test_table_is_sorted_typed_and_found(void **state) {
  (void)state;
  assert_true(mes__n_assets > 0);
  for (size_t i = 0; i < mes__n_assets; i++) {
    const struct mes__asset *a = &mes__assets[i];
    if (i > 0 && strcmp(mes__assets[i - 1].path, a->path) >= 0)
      fail_msg("not sorted: %s before %s", mes__assets[i - 1].path, a->path);
    assert_non_null(strchr(a->content_type, '/'));
    assert_int_equal(strlen(a->etag), 34);
    assert_int_equal(a->etag[0], '"');
    assert_int_equal(a->etag[33], '"');
    assert_int_equal(a->data[a->size], 0);
    assert_ptr_equal(mes__asset_find(a->path), a);
  }
  assert_non_null(mes__asset_find("me/index.html"));
  static const char *const absent[] = {"", "me", "me/", "me/index.htm", "me/index.html/", "/me/index.html",
                                       "me/../me/index.html", "zz", "0"};
  for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
    if (mes__asset_find(absent[i]))
      fail_msg("found %s", absent[i]);
}

static void test_if_none_match(void **state) {
  (void)state;
  const char *tag = "\"0123456789abcdef0123456789abcdef\"";
  static const struct {
    const char *inm;
    bool match;
  } rows[] = {
      {NULL, false},
      {"", false},
      {"\"0123456789abcdef0123456789abcdef\"", true},
      {"W/\"0123456789abcdef0123456789abcdef\"", true},
      {"*", true},
      {"  \"0123456789abcdef0123456789abcdef\"  ", true},
      {"\"x\", \"0123456789abcdef0123456789abcdef\"", true},
      {"\"x\",W/\"0123456789abcdef0123456789abcdef\",\"y\"", true},
      {"\"0123456789abcdef0123456789abcdef", false},
      {"0123456789abcdef0123456789abcdef", false},
      {"\"0123456789abcdef0123456789abcdeF\"", false},
      {"\"0123456789abcdef0123456789abcdef\"x", false},
      {"\"x\", \"y\"", false},
      {",,,", false},
      {"W/", false},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (mes__etag_matches(rows[i].inm, tag) != rows[i].match)
      fail_msg("If-None-Match %s: want %s", rows[i].inm ? rows[i].inm : "(none)", rows[i].match ? "match" : "no match");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_is_sorted_typed_and_found),
      cmocka_unit_test(test_if_none_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
