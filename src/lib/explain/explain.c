/*
 * explain — reason texts and the sentences of "why" in en, es and pl (see
 * explain.h for the rules of tact). Each text is a template with at most one
 * "%s", filled by the title or category label; the tables are indexed by
 * language so that a missing translation is a compile-time-visible hole.
 */
#include "explain/explain.h"

#include <stdio.h>
#include <string.h>

/* Templates: [language]. "%s" is the subject (a title or a label). */
struct tmpl {
  const char *text[MES_LANG_N];
};

/* because_you_viewed, by what the person did with the item. */
static const struct tmpl viewed_view = {{
    [MES_LANG_EN] = "Because you viewed %s",
    [MES_LANG_ES] = "Porque viste %s",
    [MES_LANG_PL] = "Na podstawie oglądanego przez Ciebie produktu: %s",
}};
static const struct tmpl viewed_click = {{
    [MES_LANG_EN] = "Because you looked at %s",
    [MES_LANG_ES] = "Porque miraste %s",
    [MES_LANG_PL] = "Na podstawie produktu, który Cię zainteresował: %s",
}};
static const struct tmpl viewed_cart = {{
    [MES_LANG_EN] = "Because you added %s to your cart",
    [MES_LANG_ES] = "Porque añadiste %s a tu carrito",
    [MES_LANG_PL] = "Na podstawie produktu dodanego przez Ciebie do koszyka: %s",
}};
static const struct tmpl viewed_none = {{
    [MES_LANG_EN] = "Based on items you viewed",
    [MES_LANG_ES] = "Según los productos que viste",
    [MES_LANG_PL] = "Na podstawie oglądanych przez Ciebie produktów",
}};
static const struct tmpl bought = {{
    [MES_LANG_EN] = "Goes well with %s, which you bought",
    [MES_LANG_ES] = "Combina con %s, que compraste",
    [MES_LANG_PL] = "Pasuje do produktu kupionego przez Ciebie: %s",
}};
static const struct tmpl bought_none = {{
    [MES_LANG_EN] = "Goes well with something you bought",
    [MES_LANG_ES] = "Combina con algo que compraste",
    [MES_LANG_PL] = "Pasuje do produktów kupionych przez Ciebie",
}};
/* Buy again: names the item itself (the person's own purchase of it), never
 * how often or when. */
static const struct tmpl again = {{
    [MES_LANG_EN] = "Buy again: you bought %s before",
    [MES_LANG_ES] = "Vuelve a comprarlo: ya compraste %s",
    [MES_LANG_PL] = "Kup ponownie produkt kupiony już przez Ciebie: %s",
}};
static const struct tmpl again_none = {{
    [MES_LANG_EN] = "Buy again: something you bought before",
    [MES_LANG_ES] = "Vuelve a comprarlo: algo que ya compraste",
    [MES_LANG_PL] = "Kup ponownie produkt kupiony już przez Ciebie",
}};
static const struct tmpl told = {{
    [MES_LANG_EN] = "Because you told us you are interested in %s",
    [MES_LANG_ES] = "Porque nos dijiste que te interesa: %s",
    [MES_LANG_PL] = "Na podstawie wskazanych przez Ciebie zainteresowań: %s",
}};
static const struct tmpl told_none = {{
    [MES_LANG_EN] = "Because of the interests you told us about",
    [MES_LANG_ES] = "Por los intereses que nos indicaste",
    [MES_LANG_PL] = "Na podstawie wskazanych przez Ciebie zainteresowań",
}};
static const struct tmpl popular = {{
    [MES_LANG_EN] = "Popular in our store",
    [MES_LANG_ES] = "Popular en nuestra tienda",
    [MES_LANG_PL] = "Popularne w naszym sklepie",
}};
static const struct tmpl trending = {{
    [MES_LANG_EN] = "Trending in our store",
    [MES_LANG_ES] = "Tendencia en nuestra tienda",
    [MES_LANG_PL] = "Zyskuje popularność w naszym sklepie",
}};
static const struct tmpl similar = {{
    [MES_LANG_EN] = "Similar to %s",
    [MES_LANG_ES] = "Similar a %s",
    [MES_LANG_PL] = "Produkt podobny do: %s",
}};
static const struct tmpl similar_none = {{
    [MES_LANG_EN] = "Similar to the item you are looking at",
    [MES_LANG_ES] = "Similar al producto que estás mirando",
    [MES_LANG_PL] = "Podobne do oglądanego teraz produktu",
}};
static const struct tmpl editorial = {{
    [MES_LANG_EN] = "Selected by our team",
    [MES_LANG_ES] = "Seleccionado por nuestro equipo",
    [MES_LANG_PL] = "Wybrane przez nasz zespół",
}};
/* Implicit disclosure: true of every item we offer, and says nothing about
 * the person. */
static const struct tmpl neutral = {{
    [MES_LANG_EN] = "From our selection",
    [MES_LANG_ES] = "De nuestra selección",
    [MES_LANG_PL] = "Z naszej oferty",
}};

static enum mes_lang lang_ok(enum mes_lang l) { return (l >= 0 && l < MES_LANG_N) ? l : MES_LANG_EN; }

/* Copies s into out (cap bytes), cutting at a UTF-8 boundary. */
static size_t put_utf8(char *out, size_t cap, const char *s, size_t n) {
  if (cap == 0)
    return 0;
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  }
  memcpy(out, s, n);
  out[n] = '\0';
  return n;
}

/* Fills template t (one "%s" at most) with subj. */
static size_t fill(const struct tmpl *t, enum mes_lang l, const char *subj, char *out, size_t cap) {
  const char *text = t->text[lang_ok(l)];
  if (!subj)
    subj = "";
  const char *mark = strstr(text, "%s");
  if (!mark)
    return put_utf8(out, cap, text, strlen(text));
  char buf[MES_EXPLAIN_TEXT * 2];
  size_t pre = (size_t)(mark - text), sl = strlen(subj), post = strlen(mark + 2);
  if (pre + sl + post >= sizeof buf)
    sl = sizeof buf - 1 - pre - post; /* titles are bounded well below this */
  memcpy(buf, text, pre);
  memcpy(buf + pre, subj, sl);
  memcpy(buf + pre + sl, mark + 2, post);
  return put_utf8(out, cap, buf, pre + sl + post);
}

size_t mes_explain_reason(enum mes_reason r, enum mes_lang l, const char *subject, enum mes_kind kind,
                          bool implicit, char *out, size_t cap) {
  bool named = subject && subject[0];
  if (implicit)
    return fill(&neutral, l, NULL, out, cap);
  switch (r) {
  case MES_REASON_BECAUSE_YOU_VIEWED:
    if (!named)
      return fill(&viewed_none, l, NULL, out, cap);
    return fill(kind == MES_KIND_CART ? &viewed_cart : kind == MES_KIND_CLICK ? &viewed_click : &viewed_view, l,
                subject, out, cap);
  case MES_REASON_BOUGHT_TOGETHER:
    return named ? fill(&bought, l, subject, out, cap) : fill(&bought_none, l, NULL, out, cap);
  case MES_REASON_BUY_AGAIN:
    return named ? fill(&again, l, subject, out, cap) : fill(&again_none, l, NULL, out, cap);
  case MES_REASON_YOU_TOLD_US:
    return named ? fill(&told, l, subject, out, cap) : fill(&told_none, l, NULL, out, cap);
  case MES_REASON_POPULAR:
    return fill(&popular, l, NULL, out, cap);
  case MES_REASON_TRENDING:
    return fill(&trending, l, NULL, out, cap);
  case MES_REASON_SIMILAR_TO_CURRENT:
    return named ? fill(&similar, l, subject, out, cap) : fill(&similar_none, l, NULL, out, cap);
  case MES_REASON_EDITORIAL:
  case MES_REASON_N:
    break;
  }
  return fill(&editorial, l, NULL, out, cap);
}

/* ---------------------------------------------------------------- why */

static const struct tmpl why[MES_WHY_N] = {
    [MES_WHY_RECOMMENDED] = {{
        [MES_LANG_EN] = "This item may be recommended to you, for the reason below.",
        [MES_LANG_ES] = "Este producto puede recomendársete, por el motivo indicado abajo.",
        [MES_LANG_PL] = "Ten produkt może zostać Ci polecony z podanego niżej powodu.",
    }},
    [MES_WHY_NOT_RECOMMENDED] = {{
        [MES_LANG_EN] = "Nothing we hold about you makes this item a recommendation for you.",
        [MES_LANG_ES] = "Nada de lo que sabemos de ti hace que te recomendemos este producto.",
        [MES_LANG_PL] = "Żadne przechowywane przez nas dane o Tobie nie sprawiają, że polecamy Ci ten produkt.",
    }},
    [MES_WHY_SUPPRESSED] = {{
        [MES_LANG_EN] = "We will not show you this item, because of the rule below.",
        [MES_LANG_ES] = "No te mostraremos este producto, por la regla indicada abajo.",
        [MES_LANG_PL] = "Nie pokażemy Ci tego produktu z powodu podanej niżej zasady.",
    }},
    [MES_WHY_NOT_PERSONAL] = {{
        [MES_LANG_EN] = "You have not allowed personalized suggestions, so none of your activity is used to "
                        "choose them.",
        [MES_LANG_ES] = "No has permitido las sugerencias personalizadas, así que no usamos tu actividad para "
                        "elegirlas.",
        [MES_LANG_PL] = "Nie zgodzono się na spersonalizowane propozycje, więc Twoja aktywność nie jest używana "
                        "do ich wyboru.",
    }},
    [MES_WHY_UNKNOWN_ITEM] = {{
        [MES_LANG_EN] = "Our catalog has no item with this id.",
        [MES_LANG_ES] = "Nuestro catálogo no tiene ningún producto con este identificador.",
        [MES_LANG_PL] = "W naszym katalogu nie ma produktu o tym identyfikatorze.",
    }},
    [MES_WHY_UNAVAILABLE] = {{
        [MES_LANG_EN] = "This item is not available, so we do not recommend it.",
        [MES_LANG_ES] = "Este producto no está disponible, así que no lo recomendamos.",
        [MES_LANG_PL] = "Ten produkt jest niedostępny, więc go nie polecamy.",
    }},
    [MES_WHY_DATA_USED] = {{
        [MES_LANG_EN] = "The data of yours that this suggestion uses:",
        [MES_LANG_ES] = "Los datos tuyos que usa esta sugerencia:",
        [MES_LANG_PL] = "Twoje dane, z których korzysta ta propozycja:",
    }},
    [MES_WHY_NO_DATA_USED] = {{
        [MES_LANG_EN] = "None of your data is used for this item.",
        [MES_LANG_ES] = "No usamos ninguno de tus datos para este producto.",
        [MES_LANG_PL] = "Przy tym produkcie nie korzystamy z żadnych Twoich danych.",
    }},
    [MES_WHY_ACT_DISMISS] = {{
        [MES_LANG_EN] = "Dismiss this item and we will not suggest it again.",
        [MES_LANG_ES] = "Descarta este producto y no volveremos a sugerírtelo.",
        [MES_LANG_PL] = "Odrzuć ten produkt, a nie zaproponujemy go ponownie.",
    }},
    [MES_WHY_ACT_WITHDRAW] = {{
        [MES_LANG_EN] = "Withdraw your consent to personalization and we will stop using your activity.",
        [MES_LANG_ES] = "Retira tu consentimiento a la personalización y dejaremos de usar tu actividad.",
        [MES_LANG_PL] = "Wycofaj zgodę na personalizację, a przestaniemy korzystać z Twojej aktywności.",
    }},
    [MES_WHY_ACT_EXCLUDE] = {{
        [MES_LANG_EN] = "Exclude this item's category and we will not suggest anything from it.",
        [MES_LANG_ES] = "Excluye la categoría de este producto y no te sugeriremos nada de ella.",
        [MES_LANG_PL] = "Wyklucz kategorię tego produktu, a nie zaproponujemy niczego z niej.",
    }},
    [MES_WHY_ACT_DELETE_EVENT] = {{
        [MES_LANG_EN] = "Delete an event listed above and it will no longer count.",
        [MES_LANG_ES] = "Borra un evento de la lista de arriba y dejará de contar.",
        [MES_LANG_PL] = "Usuń zdarzenie z powyższej listy, a przestanie się liczyć.",
    }},
    [MES_WHY_ACT_INTERESTS] = {{
        [MES_LANG_EN] = "Change the interests you told us about.",
        [MES_LANG_ES] = "Cambia los intereses que nos indicaste.",
        [MES_LANG_PL] = "Zmień wskazane przez Ciebie zainteresowania.",
    }},
};

const char *mes_explain_why(enum mes_why_text t, enum mes_lang l) {
  if (t < 0 || t >= MES_WHY_N)
    t = MES_WHY_NOT_RECOMMENDED;
  return why[t].text[lang_ok(l)];
}

/* ---------------------------------------------------------------- guard rules */

struct rule_text {
  const char *rule;
  struct tmpl t;
};

/* By the guard's stable rule names. No sentence names a count or a time. */
static const struct rule_text rule_texts[] = {
    {"own_word", {{
        [MES_LANG_EN] = "You told us not to show this: you dismissed it or excluded its category.",
        [MES_LANG_ES] = "Nos pediste no mostrarlo: lo descartaste o excluiste su categoría.",
        [MES_LANG_PL] = "Prosisz, by tego nie pokazywać: produkt odrzucono lub wykluczono jego kategorię.",
    }}},
    {"after_purchase", {{
        [MES_LANG_EN] = "You already bought this item or one like it.",
        [MES_LANG_ES] = "Ya compraste este producto u otro parecido.",
        [MES_LANG_PL] = "Ten lub podobny produkt został już przez Ciebie kupiony.",
    }}},
    {"cross_channel", {{
        [MES_LANG_EN] = "You bought this item or one like it, and we do not follow up purchases on this channel.",
        [MES_LANG_ES] = "Compraste este producto u otro parecido, y no damos seguimiento a las compras en este "
                        "canal.",
        [MES_LANG_PL] = "Ten lub podobny produkt został już przez Ciebie kupiony, a w tym kanale nie wracamy do "
                        "zakupów.",
    }}},
    {"frequency_cap", {{
        [MES_LANG_EN] = "We showed you this item recently; we wait before showing it again.",
        [MES_LANG_ES] = "Te mostramos este producto hace poco; esperamos antes de volver a hacerlo.",
        [MES_LANG_PL] = "Ten produkt był Ci niedawno pokazywany; odczekamy, zanim pokażemy go znowu.",
    }}},
    {"retargeting", {{
        [MES_LANG_EN] = "Your activity with this item is too old to be used on this channel.",
        [MES_LANG_ES] = "Tu actividad con este producto es demasiado antigua para usarla en este canal.",
        [MES_LANG_PL] = "Twoja aktywność związana z tym produktem jest zbyt dawna, by użyć jej w tym kanale.",
    }}},
    {"provenance", {{
        [MES_LANG_EN] = "Only data from other companies pointed to this item, and this store does not use such data.",
        [MES_LANG_ES] = "Solo datos de otras empresas apuntaban a este producto, y esta tienda no usa esos datos.",
        [MES_LANG_PL] = "Na ten produkt wskazywały wyłącznie dane innych firm, a ten sklep z nich nie korzysta.",
    }}},
    {"shared_device", {{
        [MES_LANG_EN] = "This device may be shared, so we keep personal suggestions private.",
        [MES_LANG_ES] = "Este dispositivo puede ser compartido, así que mantenemos privadas las sugerencias "
                        "personales.",
        [MES_LANG_PL] = "To urządzenie może być współdzielone, więc nie pokazujemy osobistych propozycji.",
    }}},
    {"sensitive", {{
        [MES_LANG_EN] = "This item belongs to a sensitive category, which we never suggest from your activity.",
        [MES_LANG_ES] = "Este producto pertenece a una categoría sensible, que nunca sugerimos por tu actividad.",
        [MES_LANG_PL] = "Ten produkt należy do kategorii wrażliwej, której nie proponujemy na podstawie Twojej "
                        "aktywności.",
    }}},
};

const char *mes_explain_rule(const char *rule, enum mes_lang l) {
  if (!rule)
    return NULL;
  for (size_t i = 0; i < sizeof rule_texts / sizeof rule_texts[0]; i++)
    if (strcmp(rule_texts[i].rule, rule) == 0)
      return rule_texts[i].t.text[lang_ok(l)];
  return NULL;
}
