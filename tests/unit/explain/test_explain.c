/*
 * Unit tests of the explanation texts: every reason in every language, by
 * table (exact texts, so a wrong template or a missing translation fails);
 * tact (no digits anywhere, implicit disclosure says nothing personal, no
 * participle inflected on a Polish title); truncation at a UTF-8 boundary;
 * the "why" sentences and rule sentences exist in every language.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/id.h"
#include "explain/explain.h"

struct row {
  enum mes_reason r;
  enum mes_lang l;
  const char *subject;
  enum mes_kind kind;
  const char *want;
};

static const struct row rows[] = {
    {MES_REASON_BOUGHT_TOGETHER, MES_LANG_EN, "Tent 2p", MES_KIND_PURCHASE, "Goes well with Tent 2p, which you bought"},
    {MES_REASON_BOUGHT_TOGETHER, MES_LANG_ES, "Tienda 2p", MES_KIND_PURCHASE, "Combina con Tienda 2p, que compraste"},
    {MES_REASON_BOUGHT_TOGETHER, MES_LANG_PL, "Namiot 2p", MES_KIND_PURCHASE,
     "Pasuje do produktu kupionego przez Ciebie: Namiot 2p"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_EN, "Tent 4p", MES_KIND_VIEW, "Because you viewed Tent 4p"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_ES, "Tienda 4p", MES_KIND_VIEW, "Porque viste Tienda 4p"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_PL, "Namiot 4p", MES_KIND_VIEW,
     "Na podstawie oglądanego przez Ciebie produktu: Namiot 4p"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_EN, "Stove", MES_KIND_CART, "Because you added Stove to your cart"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_ES, "Hornillo", MES_KIND_CART, "Porque añadiste Hornillo a tu carrito"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_PL, "Kuchenka", MES_KIND_CART,
     "Na podstawie produktu dodanego przez Ciebie do koszyka: Kuchenka"},
    {MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_EN, NULL, MES_KIND_VIEW, "Based on items you viewed"},
    {MES_REASON_YOU_TOLD_US, MES_LANG_EN, "Camping", MES_KIND_VIEW, "Because you told us you are interested in Camping"},
    {MES_REASON_YOU_TOLD_US, MES_LANG_ES, "Acampada", MES_KIND_VIEW, "Porque nos dijiste que te interesa: Acampada"},
    {MES_REASON_YOU_TOLD_US, MES_LANG_PL, "Biwakowanie", MES_KIND_VIEW,
     "Na podstawie wskazanych przez Ciebie zainteresowań: Biwakowanie"},
    {MES_REASON_BUY_AGAIN, MES_LANG_EN, "Coffee beans", MES_KIND_PURCHASE, "Buy again: you bought Coffee beans before"},
    {MES_REASON_BUY_AGAIN, MES_LANG_ES, "Café en grano", MES_KIND_PURCHASE,
     "Vuelve a comprarlo: ya compraste Café en grano"},
    {MES_REASON_BUY_AGAIN, MES_LANG_PL, "Kawa ziarnista", MES_KIND_PURCHASE,
     "Kup ponownie produkt kupiony już przez Ciebie: Kawa ziarnista"},
    {MES_REASON_BUY_AGAIN, MES_LANG_EN, NULL, MES_KIND_PURCHASE, "Buy again: something you bought before"},
    {MES_REASON_POPULAR, MES_LANG_EN, "ignored", MES_KIND_VIEW, "Popular in our store"},
    {MES_REASON_POPULAR, MES_LANG_ES, NULL, MES_KIND_VIEW, "Popular en nuestra tienda"},
    {MES_REASON_POPULAR, MES_LANG_PL, NULL, MES_KIND_VIEW, "Popularne w naszym sklepie"},
    {MES_REASON_TRENDING, MES_LANG_EN, NULL, MES_KIND_VIEW, "Trending in our store"},
    {MES_REASON_TRENDING, MES_LANG_ES, NULL, MES_KIND_VIEW, "Tendencia en nuestra tienda"},
    {MES_REASON_TRENDING, MES_LANG_PL, NULL, MES_KIND_VIEW, "Zyskuje popularność w naszym sklepie"},
    {MES_REASON_SIMILAR_TO_CURRENT, MES_LANG_EN, "Tent 3p", MES_KIND_VIEW, "Similar to Tent 3p"},
    {MES_REASON_SIMILAR_TO_CURRENT, MES_LANG_ES, "Tienda 3p", MES_KIND_VIEW, "Similar a Tienda 3p"},
    {MES_REASON_SIMILAR_TO_CURRENT, MES_LANG_PL, "Namiot 3p", MES_KIND_VIEW, "Produkt podobny do: Namiot 3p"},
    {MES_REASON_EDITORIAL, MES_LANG_EN, NULL, MES_KIND_VIEW, "Selected by our team"},
    {MES_REASON_EDITORIAL, MES_LANG_PL, NULL, MES_KIND_VIEW, "Wybrane przez nasz zespół"},
};

static void test_reason_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char out[MES_EXPLAIN_TEXT];
    size_t n = mes_explain_reason(rows[i].r, rows[i].l, rows[i].subject, rows[i].kind, false, out, sizeof out);
    assert_string_equal(out, rows[i].want);
    assert_int_equal(n, strlen(rows[i].want));
  }
}

static bool has_digit(const char *s) {
  for (; *s; s++)
    if (*s >= '0' && *s <= '9')
      return true;
  return false;
}

/* No text carries a count, a duration or a time, and implicit items get the
 * same neutral sentence whatever the reason and subject. */
static void test_tact(void **state) {
  (void)state;
  for (int l = 0; l < MES_LANG_N; l++) {
    char first[MES_EXPLAIN_TEXT];
    mes_explain_reason(MES_REASON_BOUGHT_TOGETHER, (enum mes_lang)l, "Pregnancy test", MES_KIND_PURCHASE, true,
                       first, sizeof first);
    assert_null(strstr(first, "Pregnancy"));
    for (int r = 0; r < MES_REASON_N; r++) {
      for (int k = 0; k < MES_KIND_N; k++) {
        char out[MES_EXPLAIN_TEXT];
        mes_explain_reason((enum mes_reason)r, (enum mes_lang)l, NULL, (enum mes_kind)k, false, out, sizeof out);
        assert_true(out[0]);
        assert_false(has_digit(out));
        assert_true(mes_utf8_valid(out, strlen(out)));
        mes_explain_reason((enum mes_reason)r, (enum mes_lang)l, "Crib", (enum mes_kind)k, true, out, sizeof out);
        assert_string_equal(out, first);
      }
    }
    for (int t = 0; t < MES_WHY_N; t++) {
      const char *w = mes_explain_why((enum mes_why_text)t, (enum mes_lang)l);
      assert_non_null(w);
      assert_true(w[0]);
      assert_false(has_digit(w));
    }
    static const char *const rules[] = {"own_word", "after_purchase", "cross_channel", "frequency_cap",
                                        "retargeting", "provenance", "shared_device", "sensitive"};
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
      const char *w = mes_explain_rule(rules[i], (enum mes_lang)l);
      assert_non_null(w);
      assert_false(has_digit(w));
    }
  }
  assert_null(mes_explain_rule("no_such_rule", MES_LANG_EN));
  assert_string_equal(mes_explain_why((enum mes_why_text)99, (enum mes_lang)7),
                      mes_explain_why(MES_WHY_NOT_RECOMMENDED, MES_LANG_EN));
}

/* A small buffer cuts at a character boundary and stays NUL-terminated. */
static void test_truncation(void **state) {
  (void)state;
  char out[12];
  /* "Porque añadiste": 'ñ' is 2 bytes at offsets 8-9; 11 bytes fit: cut before a split character. */
  size_t n = mes_explain_reason(MES_REASON_BECAUSE_YOU_VIEWED, MES_LANG_ES, "X", MES_KIND_CART, false, out, 10);
  assert_true(n < 10);
  assert_true(mes_utf8_valid(out, n));
  assert_int_equal(strlen(out), n);
  /* Long titles are kept whole when they fit. */
  char title[129];
  memset(title, 'a', 128);
  title[128] = '\0';
  char big[MES_EXPLAIN_TEXT];
  mes_explain_reason(MES_REASON_SIMILAR_TO_CURRENT, MES_LANG_EN, title, MES_KIND_VIEW, false, big, sizeof big);
  assert_int_equal(strlen(big), strlen("Similar to ") + 128);
  assert_int_equal(mes_explain_reason(MES_REASON_POPULAR, MES_LANG_EN, NULL, MES_KIND_VIEW, false, out, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reason_table),
      cmocka_unit_test(test_tact),
      cmocka_unit_test(test_truncation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
