/*
 * policy/notice — the privacy notice (contract §9), generated from the loaded
 * policy so that it can never say something other than what the engine does.
 * The rights it promises are the ones its caller says are served (each with
 * the request that serves it): the policy cannot know which endpoints run,
 * and a promise of a right that nothing serves would be a false one.
 *
 * The JSON form is built first; the HTML form is rendered from that JSON, so
 * the two always agree. Fixed sentences live in one table below, one column
 * per language; the brand's own words (site, descriptions, labels) come from
 * mesura.yaml and are escaped in HTML. A unit test checks that every
 * translation keeps the English conversions (%s, %d) in the same order.
 */
#include "policy/policy_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

/* ------------------------------------------------------------------------ */
/* Fixed sentences                                                          */

enum txt {
  T_TITLE,
  T_THIS_SITE,
  T_WHO,
  T_INTRO,
  T_OPT_IN,
  T_H_PURPOSES,
  T_H_DATA,
  T_H_CATEGORIES,
  T_H_OTHER,
  T_H_RIGHTS,
  T_GPC_HONORED,
  T_GPC_IGNORED,
  T_GPC_SOME,
  T_GPC_NONE,
  T_CHANNELS,
  T_DATA_PROPS,
  T_DATA_NOPROPS,
  T_NO_DATA,
  T_DAY,
  T_DAYS,
  T_AND,
  T_EVENT_OTHER,
  T_EV_VIEW,
  T_EV_CLICK,
  T_EV_ADD_TO_CART,
  T_EV_PURCHASE,
  T_EV_SEARCH,
  T_EV_DISMISS,
  T_CH_WEB,
  T_CH_APP,
  T_CH_EMAIL,
  T_CH_ADS,
  T_CH_STORE,
  T_CAT_SENSITIVE,
  T_CAT_SHARED,
  T_CAT_NONE,
  T_TP_REJECT,
  T_TP_ACCEPT,
  T_DECISIONS,
  T_RIGHTS_INTRO,
  T_R_SEE,
  T_R_EXPORT,
  T_R_CORRECT,
  T_R_RESTRICT,
  T_R_ERASE,
  T_R_ACCESS_LOG,
  T_R_WITHDRAW,
  T_VERSION,
  T_N
};

static const char *const texts[T_N][MES_LANG_N] = {
    [T_TITLE] = {"Privacy notice", "Aviso de privacidad", "Informacja o prywatności"},
    [T_THIS_SITE] = {"This site", "Este sitio", "Ta strona"},
    [T_WHO] = {"%s is responsible for your data.", "%s es responsable de tus datos.", "%s odpowiada za Twoje dane."},
    [T_INTRO] = {"%s uses mesura to suggest products to you. This notice is generated from the policy the site "
                 "actually runs, so it always matches what happens to your data.",
                 "%s usa mesura para sugerirte productos. Este aviso se genera a partir de la política que el "
                 "sitio aplica de verdad, así que siempre coincide con lo que pasa con tus datos.",
                 "%s korzysta z mesura, aby podpowiadać Ci produkty. Ta informacja powstaje automatycznie z zasad, "
                 "które strona naprawdę stosuje, więc zawsze zgadza się z tym, co dzieje się z Twoimi danymi."},
    [T_OPT_IN] = {"Everything below is off until you say yes. Each purpose is asked for separately, and saying no "
                  "changes nothing else about how you can shop.",
                  "Todo lo que sigue está desactivado hasta que digas que sí. Cada finalidad se pide por separado, "
                  "y decir que no no cambia nada más en cómo puedes comprar.",
                  "Wszystko, co opisano poniżej, jest wyłączone, dopóki się nie zgodzisz. O każdy cel pytamy "
                  "osobno, a odmowa nie zmienia niczego innego w tym, jak możesz robić zakupy."},
    [T_H_PURPOSES] = {"What we use your data for", "Para qué usamos tus datos", "Do czego używamy Twoich danych"},
    [T_H_DATA] = {"What it uses and for how long", "Qué datos usa y durante cuánto tiempo", "Jakie dane i jak długo"},
    [T_H_CATEGORIES] = {"Sensitive topics", "Temas sensibles", "Tematy wrażliwe"},
    [T_H_OTHER] = {"Other things to know", "Otras cosas que conviene saber", "Co jeszcze warto wiedzieć"},
    [T_H_RIGHTS] = {"Your rights", "Tus derechos", "Twoje prawa"},
    [T_GPC_HONORED] = {"If your browser sends Global Privacy Control, we treat it as a no to this purpose.",
                       "Si tu navegador envía Global Privacy Control, lo tratamos como un no a esta finalidad.",
                       "Jeśli Twoja przeglądarka wysyła sygnał Global Privacy Control, traktujemy go jako brak "
                       "zgody na ten cel."},
    [T_GPC_IGNORED] = {"This purpose does not depend on Global Privacy Control: it is used only if you say yes "
                       "here.",
                       "Esta finalidad no depende de Global Privacy Control: solo se usa si dices que sí aquí.",
                       "Ten cel nie zależy od sygnału Global Privacy Control: działa tylko wtedy, gdy wyrazisz tu "
                       "zgodę."},
    [T_GPC_SOME] = {"If your browser sends Global Privacy Control, we treat it as a no to: %s. You can still say "
                    "yes on this site if you really want to.",
                    "Si tu navegador envía Global Privacy Control, lo tratamos como un no a: %s. Aun así, puedes "
                    "decir que sí en este sitio si de verdad lo quieres.",
                    "Jeśli Twoja przeglądarka wysyła sygnał Global Privacy Control, traktujemy go jako brak zgody "
                    "na: %s. Nadal możesz wyrazić zgodę na tej stronie, jeśli naprawdę chcesz."},
    [T_GPC_NONE] = {"Global Privacy Control does not change any purpose here; each one is used only if you say yes.",
                    "Global Privacy Control no cambia ninguna finalidad de este aviso; cada una solo se usa si "
                    "dices que sí.",
                    "Sygnał Global Privacy Control nie zmienia tu żadnego celu; każdy z nich działa tylko za Twoją "
                    "zgodą."},
    [T_CHANNELS] = {"Needed for personal suggestions on: %s.", "Necesaria para sugerencias personales en: %s.",
                    "Potrzebny do osobistych propozycji w kanałach: %s."},
    [T_DATA_PROPS] = {"%s, with: %s. Kept for %d %s.", "%s, con: %s. Conservamos estos datos durante %d %s.",
                      "%s, wraz z: %s. Przechowujemy przez %d %s."},
    [T_DATA_NOPROPS] = {"%s. Kept for %d %s.", "%s. Conservamos estos datos durante %d %s.",
                        "%s. Przechowujemy przez %d %s."},
    [T_NO_DATA] = {"No kind of event uses this purpose yet.", "Ningún tipo de evento usa esta finalidad todavía.",
                   "Żaden rodzaj zdarzeń nie korzysta jeszcze z tego celu."},
    [T_DAY] = {"day", "día", "dzień"},
    [T_DAYS] = {"days", "días", "dni"},
    [T_AND] = {" and ", " y ", " i "},
    [T_EVENT_OTHER] = {"Events of type '%s'", "Eventos de tipo «%s»", "Zdarzenia typu „%s”"},
    [T_EV_VIEW] = {"Products you view", "Productos que ves", "Produkty, które oglądasz"},
    [T_EV_CLICK] = {"Suggestions you click", "Sugerencias en las que haces clic", "Propozycje, które klikasz"},
    [T_EV_ADD_TO_CART] = {"Products you add to your cart", "Productos que añades a la cesta",
                          "Produkty dodane do koszyka"},
    [T_EV_PURCHASE] = {"What you buy", "Lo que compras", "Twoje zakupy"},
    [T_EV_SEARCH] = {"What you search for", "Lo que buscas", "Twoje wyszukiwania"},
    [T_EV_DISMISS] = {"Suggestions you dismiss", "Sugerencias que descartas", "Propozycje, które odrzucasz"},
    [T_CH_WEB] = {"the website", "la web", "strona internetowa"},
    [T_CH_APP] = {"the app", "la aplicación", "aplikacja"},
    [T_CH_EMAIL] = {"email", "el correo electrónico", "e-mail"},
    [T_CH_ADS] = {"ads on other sites", "los anuncios en otros sitios", "reklamy na innych stronach"},
    [T_CH_STORE] = {"our shops", "nuestras tiendas", "nasze sklepy stacjonarne"},
    [T_CAT_SENSITIVE] = {"%s: we treat this topic as sensitive and never explain a suggestion about it with your "
                         "personal history, unless you told us about the interest yourself.",
                         "%s: tratamos este tema como sensible y nunca explicamos una sugerencia sobre él con tu "
                         "historial personal, salvo que tú nos hayas contado ese interés.",
                         "%s: traktujemy ten temat jako wrażliwy i nigdy nie uzasadniamy związanych z nim "
                         "propozycji Twoją historią, chyba że to Ty powiesz nam o tym zainteresowaniu."},
    [T_CAT_SHARED] = {"On a device marked as shared, we do not suggest it at all.",
                      "En un dispositivo marcado como compartido, no lo sugerimos en absoluto.",
                      "Na urządzeniu oznaczonym jako współdzielone w ogóle go nie proponujemy."},
    [T_CAT_NONE] = {"No topic is marked as sensitive.", "Ningún tema está marcado como sensible.",
                    "Żaden temat nie jest oznaczony jako wrażliwy."},
    [T_TP_REJECT] = {"We do not accept data about you that other companies sell or share.",
                     "No aceptamos datos sobre ti que otras empresas vendan o cedan.",
                     "Nie przyjmujemy danych o Tobie sprzedawanych ani udostępnianych przez inne firmy."},
    [T_TP_ACCEPT] = {"We may also use data about you that other companies shared with us, only for the purposes "
                     "above and only if you said yes to them.",
                     "También podemos usar datos sobre ti que otras empresas nos han cedido, solo para las "
                     "finalidades de arriba y solo si les dijiste que sí.",
                     "Możemy też korzystać z danych o Tobie udostępnionych nam przez inne firmy, wyłącznie w "
                     "opisanych wyżej celach i tylko za Twoją zgodą."},
    [T_DECISIONS] = {"We keep a record of each set of suggestions shown to you, and why, for %d %s, so that it can "
                     "be checked.",
                     "Guardamos un registro de cada conjunto de sugerencias que te mostramos, y del motivo, "
                     "durante %d %s, para que se pueda comprobar.",
                     "Przechowujemy zapis każdego zestawu pokazanych Ci propozycji wraz z uzasadnieniem przez %d "
                     "%s, aby można go było sprawdzić."},
    [T_RIGHTS_INTRO] = {"Whatever you choose, you can at any time:",
                        "Elijas lo que elijas, en cualquier momento puedes:",
                        "Niezależnie od tego, co wybierzesz, w każdej chwili możesz:"},
    [T_R_SEE] = {"See what we hold about you.", "Ver lo que tenemos sobre ti.",
                 "Zobaczyć, co o Tobie przechowujemy."},
    [T_R_EXPORT] = {"Take a copy of all of it, in a file you can keep or move elsewhere.",
                    "Llevarte una copia de todo, en un archivo que puedes guardar o llevar a otro sitio.",
                    "Pobrać kopię wszystkich tych danych w pliku, który możesz zachować lub przenieść gdzie "
                    "indziej."},
    [T_R_CORRECT] = {"Correct it: remove any event that is wrong, and we forget it everywhere.",
                     "Corregirlo: quita cualquier evento que sea incorrecto y lo olvidamos en todas partes.",
                     "Poprawić je: usuń dowolne błędne zdarzenie, a zapomnimy je wszędzie."},
    [T_R_RESTRICT] = {"Restrict it: we keep your data but stop using it until you say otherwise.",
                      "Limitarlo: guardamos tus datos pero dejamos de usarlos hasta que digas lo contrario.",
                      "Ograniczyć ich użycie: zachowujemy Twoje dane, ale przestajemy z nich korzystać, dopóki "
                      "nie zdecydujesz inaczej."},
    [T_R_ERASE] = {"Erase it: everything about you is deleted, including what our suggestions learned from it.",
                   "Borrarlo: se elimina todo lo que sabemos de ti, incluido lo que nuestras sugerencias "
                   "aprendieron de ello.",
                   "Usunąć je: kasujemy wszystko, co Ciebie dotyczy, łącznie z tym, czego nauczyły się z tego "
                   "nasze propozycje."},
    [T_R_ACCESS_LOG] = {"See every time your data was read: when, by whom and for what.",
                        "Ver cada vez que se leyeron tus datos: cuándo, quién y para qué.",
                        "Zobaczyć każdy odczyt Twoich danych: kiedy, kto i w jakim celu."},
    [T_R_WITHDRAW] = {"Withdraw your consent to any purpose at any time, as easily as you gave it; we stop at once "
                      "and delete what was kept only for it.",
                      "Retirar tu consentimiento a cualquier finalidad en cualquier momento, tan fácilmente como "
                      "lo diste; paramos de inmediato y borramos lo que se guardaba solo para ella.",
                      "Wycofać zgodę na dowolny cel w każdej chwili, równie łatwo, jak jej udzielono; przestajemy "
                      "od razu i usuwamy to, co przechowywaliśmy wyłącznie w tym celu."},
    [T_VERSION] = {"Policy version %s.", "Versión de la política: %s.", "Wersja zasad: %s."},
};

size_t mes__notice_n_texts(void) { return T_N; }

const char *mes__notice_text(size_t i, enum mes_lang l) {
  return i < T_N && (unsigned)l < MES_LANG_N ? texts[i][l] : NULL;
}

static const struct {
  const char *name;
  enum txt label;
} known_events[] = {{"view", T_EV_VIEW},         {"click", T_EV_CLICK},   {"add_to_cart", T_EV_ADD_TO_CART},
                    {"purchase", T_EV_PURCHASE}, {"search", T_EV_SEARCH}, {"dismiss", T_EV_DISMISS}};

static const enum txt channel_text[MES_CH_N] = {T_CH_WEB, T_CH_APP, T_CH_EMAIL, T_CH_ADS, T_CH_STORE};

static const struct {
  const char *name;
  enum txt text;
} rights[MES_RIGHT_N] = {
    [MES_RIGHT_SEE] = {"see", T_R_SEE},
    [MES_RIGHT_EXPORT] = {"export", T_R_EXPORT},
    [MES_RIGHT_CORRECT] = {"correct", T_R_CORRECT},
    [MES_RIGHT_RESTRICT] = {"restrict", T_R_RESTRICT},
    [MES_RIGHT_ERASE] = {"erase", T_R_ERASE},
    [MES_RIGHT_ACCESS_LOG] = {"access_log", T_R_ACCESS_LOG},
    [MES_RIGHT_WITHDRAW_CONSENT] = {"withdraw_consent", T_R_WITHDRAW},
};

const char *mes_right_name(enum mes_right r) {
  return (unsigned)r < MES_RIGHT_N ? rights[r].name : NULL;
}

/* ------------------------------------------------------------------------ */
/* Building blocks                                                          */

/* A new string made from a table format (caller frees); NULL when out of memory. */
static char *fmt_new(const char *fmt, ...) MES_PRINTF(1, 2);
static char *fmt_new(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* Takes s over and returns it as a new JSON string (NULL if s is NULL). */
static json_t *jtake(char *s) {
  json_t *j = s ? json_string(s) : NULL;
  free(s);
  return j;
}

/* Sets o[k] = v, or appends v to a. v is always taken over (dropped on
 * failure); false when o, a or v is NULL or memory ran out. */
static bool put(json_t *o, const char *k, json_t *v) {
  if (!o || !v) {
    json_decref(v);
    return false;
  }
  return json_object_set_new(o, k, v) == 0;
}

static bool push(json_t *a, json_t *v) {
  if (!a || !v) {
    json_decref(v);
    return false;
  }
  return json_array_append_new(a, v) == 0;
}

static const char *text_in(char *const *t, enum mes_lang l, const char *fallback) {
  return t[l] ? t[l] : t[MES_LANG_EN] ? t[MES_LANG_EN] : fallback;
}

static const char *days_word(int n, enum mes_lang l) { return texts[n == 1 ? T_DAY : T_DAYS][l]; }

/* Joins parts with ", " and the language's " and " before the last one. */
static int join_and(struct mes_buf *b, const char *const *parts, size_t n, enum mes_lang l) {
  int rc = MES_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    if (i)
      rc = mes_buf_puts(b, i + 1 == n ? texts[T_AND][l] : ", ");
    if (!rc)
      rc = mes_buf_puts(b, parts[i]);
  }
  return rc;
}

static char *event_label(const struct mes_event_type *et, enum mes_lang l) {
  for (size_t i = 0; i < sizeof known_events / sizeof known_events[0]; i++)
    if (strcmp(known_events[i].name, et->name) == 0)
      return fmt_new("%s", texts[known_events[i].label][l]);
  return fmt_new(texts[T_EVENT_OTHER][l], et->name);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                     */

static json_t *data_item(const struct mes_event_type *et, enum mes_lang l) {
  json_t *o = json_object(), *props = json_array();
  char *label = event_label(et, l), *text = NULL;
  struct mes_buf list;
  mes_buf_init(&list, 1 << 20);
  bool ok = o && props && label;
  for (size_t k = 0; ok && k < et->n_properties; k++)
    ok = push(props, json_string(et->properties[k]));
  if (ok && et->n_properties) {
    ok = join_and(&list, (const char *const *)et->properties, et->n_properties, l) == MES_OK;
    text =
        ok ? fmt_new(texts[T_DATA_PROPS][l], label, list.data, et->retention_days, days_word(et->retention_days, l))
           : NULL;
  } else if (ok) {
    text = fmt_new(texts[T_DATA_NOPROPS][l], label, et->retention_days, days_word(et->retention_days, l));
  }
  json_t *jtext = jtake(text);
  ok = ok && put(o, "event_type", json_string(et->name)) && put(o, "label", json_string(label)) &&
       put(o, "properties", json_incref(props)) && put(o, "retention_days", json_integer(et->retention_days));
  ok = put(o, "text", jtext) && ok; /* put runs whatever ok is, so that jtext is always taken over */
  mes_buf_release(&list);
  free(label);
  json_decref(props);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *purpose_item(const struct mes_policy *p, size_t i, enum mes_lang l) {
  const struct mes_purpose *pu = &p->purposes[i];
  json_t *o = json_object(), *channels = json_array(), *data = json_array();
  const char *names[MES_CH_N];
  size_t n_names = 0;
  struct mes_buf list;
  mes_buf_init(&list, 1 << 16);
  bool ok = o && channels && data;
  for (int c = 0; ok && c < MES_CH_N; c++)
    if (mes_policy_channel_purposes(p, (enum mes_channel)c) & (1u << i)) {
      ok = push(channels, json_string(mes__channel_names[c]));
      names[n_names++] = texts[channel_text[c]][l];
    }
  for (size_t t = 0; ok && t < p->n_event_types; t++)
    if (p->event_types[t].purposes & (1u << i))
      ok = push(data, data_item(&p->event_types[t], l));
  ok = ok && put(o, "name", json_string(pu->name)) &&
       put(o, "description", json_string(text_in(pu->description, l, pu->name))) &&
       put(o, "gpc", json_string(pu->gpc == MES_GPC_HONORED ? "honored" : "ignored")) &&
       put(o, "gpc_text", json_string(texts[pu->gpc == MES_GPC_HONORED ? T_GPC_HONORED : T_GPC_IGNORED][l])) &&
       put(o, "channels", json_incref(channels));
  if (ok && n_names) {
    ok = join_and(&list, names, n_names, l) == MES_OK &&
         put(o, "channels_text", jtake(fmt_new(texts[T_CHANNELS][l], list.data)));
  }
  ok = ok && put(o, "data", json_incref(data));
  if (ok && json_array_size(data) == 0)
    ok = put(o, "data_text", json_string(texts[T_NO_DATA][l]));
  mes_buf_release(&list);
  json_decref(channels);
  json_decref(data);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *categories_json(const struct mes_policy *p, enum mes_lang l) {
  json_t *a = json_array();
  struct mes_buf b;
  mes_buf_init(&b, 1 << 16);
  bool ok = a != NULL;
  for (size_t i = 0; ok && i < p->n_categories; i++) {
    const struct mes_category *c = &p->categories[i];
    if (!c->sensitive)
      continue;
    const char *label = text_in(c->label, l, c->name);
    json_t *o = json_object();
    mes_buf_reset(&b);
    ok = o && mes_buf_printf(&b, texts[T_CAT_SENSITIVE][l], label) == MES_OK &&
         (!p->guardrails.shared_device_hide_sensitive ||
          mes_buf_printf(&b, " %s", texts[T_CAT_SHARED][l]) == MES_OK) &&
         put(o, "name", json_string(c->name)) && put(o, "label", json_string(label)) &&
         put(o, "text", json_string(b.data));
    if (!ok)
      json_decref(o);
    else
      ok = push(a, o);
  }
  mes_buf_release(&b);
  if (!ok) {
    json_decref(a);
    return NULL;
  }
  return a;
}

/* The GPC sentence for the whole notice, naming the purposes it turns off. */
static char *gpc_text(const struct mes_policy *p, enum mes_lang l) {
  const char *names[MES_MAX_PURPOSES];
  size_t n = 0;
  struct mes_buf b;
  char *out = NULL;
  for (size_t i = 0; i < p->n_purposes && n < MES_MAX_PURPOSES; i++)
    if (p->purposes[i].gpc == MES_GPC_HONORED)
      names[n++] = text_in(p->purposes[i].description, l, p->purposes[i].name);
  if (!n)
    return fmt_new("%s", texts[T_GPC_NONE][l]);
  mes_buf_init(&b, 1 << 20);
  if (join_and(&b, names, n, l) == MES_OK)
    out = fmt_new(texts[T_GPC_SOME][l], b.data);
  mes_buf_release(&b);
  return out;
}

/* The rights section: each right of enum mes_right order that `served`
 * names, once, with the request that serves it. New array or NULL. */
static json_t *rights_json(const struct mes_served_right *served, size_t n_served, enum mes_lang l) {
  json_t *a = json_array();
  bool ok = a != NULL;
  for (int r = 0; ok && r < MES_RIGHT_N; r++) {
    const struct mes_served_right *sr = NULL;
    for (size_t i = 0; i < n_served && !sr; i++)
      if (served[i].right == (enum mes_right)r)
        sr = &served[i];
    if (!sr)
      continue;
    json_t *o = json_object();
    ok = put(o, "right", json_string(rights[r].name)) && put(o, "text", json_string(texts[rights[r].text][l])) &&
         put(o, "method", json_string(sr->method ? sr->method : "")) &&
         put(o, "path", json_string(sr->path ? sr->path : ""));
    if (!ok)
      json_decref(o);
    else
      ok = push(a, o);
  }
  if (!ok) {
    json_decref(a);
    return NULL;
  }
  return a;
}

json_t *mes_policy_notice_json(const struct mes_policy *p, const struct mes_served_right *served, size_t n_served,
                               enum mes_lang l) {
  if (!p)
    return NULL;
  if ((unsigned)l >= MES_LANG_N)
    l = MES_LANG_EN;
  const char *site = p->site && p->site[0] ? p->site : texts[T_THIS_SITE][l];
  json_t *o = json_object(), *purposes = json_array(), *rights_a = rights_json(served, n_served, l);
  json_t *headings = json_object();
  json_t *tp = json_object(), *decisions = json_object(), *cats = categories_json(p, l);
  bool ok = o && purposes && rights_a && headings && tp && decisions && cats;
  for (size_t i = 0; ok && i < p->n_purposes; i++)
    ok = push(purposes, purpose_item(p, i, l));
  int drd = p->decision_retention_days;
  ok = ok && put(headings, "purposes", json_string(texts[T_H_PURPOSES][l])) &&
       put(headings, "data", json_string(texts[T_H_DATA][l])) &&
       put(headings, "categories", json_string(texts[T_H_CATEGORIES][l])) &&
       put(headings, "other", json_string(texts[T_H_OTHER][l])) &&
       put(headings, "rights", json_string(texts[T_H_RIGHTS][l])) &&
       put(tp, "policy", json_string(p->guardrails.third_party_accept ? "accept" : "reject")) &&
       put(tp, "text", json_string(texts[p->guardrails.third_party_accept ? T_TP_ACCEPT : T_TP_REJECT][l])) &&
       put(decisions, "retention_days", json_integer(drd)) &&
       put(decisions, "text", jtake(fmt_new(texts[T_DECISIONS][l], drd, days_word(drd, l))));
  ok = ok && put(o, "site", json_string(p->site ? p->site : "")) &&
       put(o, "language", json_string(mes__lang_names[l])) &&
       put(o, "policy_version", json_string(p->version ? p->version : "")) &&
       put(o, "title", json_string(texts[T_TITLE][l])) && put(o, "who", jtake(fmt_new(texts[T_WHO][l], site))) &&
       put(o, "intro", jtake(fmt_new(texts[T_INTRO][l], site))) &&
       put(o, "opt_in", json_string(texts[T_OPT_IN][l])) && put(o, "gpc_text", jtake(gpc_text(p, l))) &&
       put(o, "headings", json_incref(headings)) && put(o, "purposes", json_incref(purposes)) &&
       put(o, "categories", json_incref(cats)) && put(o, "rights", json_incref(rights_a)) &&
       put(o, "third_party_data", json_incref(tp)) &&
       put(o, "decisions", json_incref(decisions)) &&
       put(o, "version_text", jtake(fmt_new(texts[T_VERSION][l], p->version ? p->version : "")));
  if (ok && json_array_size(cats) == 0)
    ok = put(o, "categories_text", json_string(texts[T_CAT_NONE][l]));
  if (ok && json_array_size(rights_a))
    ok = put(o, "rights_text", json_string(texts[T_RIGHTS_INTRO][l]));
  json_decref(cats);
  json_decref(purposes);
  json_decref(rights_a);
  json_decref(headings);
  json_decref(tp);
  json_decref(decisions);
  if (!ok) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* ------------------------------------------------------------------------ */
/* HTML, rendered from the JSON form                                        */

static int esc(struct mes_buf *b, const char *s) {
  int rc = MES_OK;
  for (const char *run = s; !rc; s++) {
    const char *rep = NULL;
    switch (*s) {
    case '&':
      rep = "&amp;";
      break;
    case '<':
      rep = "&lt;";
      break;
    case '>':
      rep = "&gt;";
      break;
    case '"':
      rep = "&quot;";
      break;
    case '\'':
      rep = "&#39;";
      break;
    case '\0':
      return mes_buf_append(b, run, (size_t)(s - run));
    default:
      continue;
    }
    rc = mes_buf_append(b, run, (size_t)(s - run));
    if (!rc)
      rc = mes_buf_puts(b, rep);
    run = s + 1;
  }
  return rc;
}

/* Appends open + escaped text of obj[key] + close; nothing when the key is absent or empty. */
static int tag(struct mes_buf *b, const char *open, const json_t *obj, const char *key, const char *close) {
  const char *s = mes_json_str(obj, key, NULL);
  int rc = MES_OK;
  if (!s || !s[0])
    return MES_OK;
  if (!(rc = mes_buf_puts(b, open)) && !(rc = esc(b, s)))
    rc = mes_buf_puts(b, close);
  return rc;
}

static int html_list(struct mes_buf *b, const json_t *arr) {
  size_t i;
  json_t *it;
  int rc = mes_buf_puts(b, "<ul>\n");
  json_array_foreach(arr, i, it) {
    if (!rc)
      rc = tag(b, "<li>", it, "text", "</li>\n");
  }
  return rc ? rc : mes_buf_puts(b, "</ul>\n");
}

static int html_render(struct mes_buf *b, const json_t *n) {
  const json_t *h = json_object_get(n, "headings");
  int rc;
  size_t i;
  json_t *pu;
  if ((rc = mes_buf_puts(b, "<!doctype html>\n<html lang=\"")) || (rc = esc(b, mes_json_str(n, "language", "en"))) ||
      (rc = mes_buf_puts(b, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")) ||
      (rc = tag(b, "<title>", n, "title", "")) || (rc = tag(b, " — ", n, "site", "")) ||
      (rc = mes_buf_puts(b, "</title>\n")) ||
      (rc = mes_buf_puts(b, "<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;"
                            "padding:0 1rem;line-height:1.5}</style>\n</head>\n<body>\n")) ||
      (rc = tag(b, "<h1>", n, "title", "</h1>\n")) || (rc = tag(b, "<p>", n, "who", "</p>\n")) ||
      (rc = tag(b, "<p>", n, "intro", "</p>\n")) || (rc = tag(b, "<p><strong>", n, "opt_in", "</strong></p>\n")) ||
      (rc = tag(b, "<h2>", h, "purposes", "</h2>\n")))
    return rc;
  json_array_foreach(json_object_get(n, "purposes"), i, pu) {
    if ((rc = mes_buf_puts(b, "<section>\n")) || (rc = tag(b, "<h3>", pu, "description", "</h3>\n")) ||
        (rc = tag(b, "<p>", pu, "gpc_text", "</p>\n")) || (rc = tag(b, "<p>", pu, "channels_text", "</p>\n")) ||
        (rc = tag(b, "<h4>", h, "data", "</h4>\n")) || (rc = tag(b, "<p>", pu, "data_text", "</p>\n")) ||
        (json_array_size(json_object_get(pu, "data")) && (rc = html_list(b, json_object_get(pu, "data")))) ||
        (rc = mes_buf_puts(b, "</section>\n")))
      return rc;
  }
  if ((rc = tag(b, "<h2>", h, "categories", "</h2>\n")) || (rc = tag(b, "<p>", n, "categories_text", "</p>\n")) ||
      (json_array_size(json_object_get(n, "categories")) && (rc = html_list(b, json_object_get(n, "categories")))) ||
      (rc = tag(b, "<h2>", h, "other", "</h2>\n")) || (rc = tag(b, "<p>", n, "gpc_text", "</p>\n")) ||
      (rc = tag(b, "<p>", json_object_get(n, "third_party_data"), "text", "</p>\n")) ||
      (rc = tag(b, "<p>", json_object_get(n, "decisions"), "text", "</p>\n")) ||
      (json_array_size(json_object_get(n, "rights")) &&
       ((rc = tag(b, "<h2>", h, "rights", "</h2>\n")) || (rc = tag(b, "<p>", n, "rights_text", "</p>\n")) ||
        (rc = html_list(b, json_object_get(n, "rights"))))) ||
      (rc = tag(b, "<p><small>", n, "version_text", "</small></p>\n")))
    return rc;
  return mes_buf_puts(b, "</body>\n</html>\n");
}

char *mes_policy_notice_html(const struct mes_policy *p, const struct mes_served_right *served, size_t n_served,
                             enum mes_lang l) {
  json_t *n = mes_policy_notice_json(p, served, n_served, l);
  struct mes_buf b;
  char *out = NULL;
  if (!n)
    return NULL;
  mes_buf_init(&b, 16u << 20);
  if (html_render(&b, n) == MES_OK)
    out = mes_buf_steal(&b);
  mes_buf_release(&b);
  json_decref(n);
  return out;
}
