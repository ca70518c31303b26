/*
 * audit/report — an audit as a page a marketer can read: one self-contained
 * HTML document (inline CSS and SVG, no script, no external request), in
 * English, Spanish or Polish. The summary comes first, each flag as a plain
 * sentence; then the figures, one bar chart per measure; then the method,
 * for someone who is not a statistician.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/buf.h"

#define REPORT_MAX (8u << 20)

/* Every sentence of the page, by language (enum mes_lang). */
struct texts {
  const char *html_lang, *title, *meta, *summary, *no_flags, *n_flags;
  const char *disp_flag; /* attr, low group, measure, pct, high group, ratio */
  const char *proxy_flag; /* attr, protected, V, n */
  const char *m_exposure, *m_reason, *m_sensitive, *m_items;
  const char *disparities, *proxies, *small_merged, *small_withheld, *not_comparable;
  const char *col_attr, *col_prot, *col_v, *col_n, *col_flag, *yes, *no, *none_proxies;
  const char *method_title, *method[6];
};

static const struct texts T[MES_LANG_N] = {
    [MES_LANG_EN] =
        {"en", "Fairness audit", "Audit %s of %s: %lld people audited, placement “%s”, %lld items per answer.",
         "Summary", "No figure crossed a threshold: no group is shown markedly less of anything, and no signal "
                    "stands in for a protected attribute.",
         "%zu findings need attention:",
         "For %s, the group “%s” is shown %s at %s%% of the rate of the group “%s” (ratio %s, under 0.8; 95%% "
         "interval %s to %s).",
         "%s stands in for %s (V = %s, n = %lld): targeting by it would discriminate indirectly.",
         "items of the category “%s”", "items with the reason “%s”", "items of sensitive categories", "items per answer",
         "What each group is shown", "Signals that stand in for protected attributes",
         "Groups too small to show on their own: %lld, merged into “other” so that nobody is singled out.",
         "Groups too small to show on their own: %lld, left out so that nobody is singled out.",
         "Fewer than two groups are large enough to compare.", "signal", "protected attribute", "Cramér's V", "people",
         "flag", "yes", "no", "No signal could be compared: too few people have both attributes.",
         "How this audit works",
         {"Only people who agreed to take part in audits are counted; people who asked to restrict the use of "
          "their data are left out. Their attributes are kept apart, and nothing that chooses recommendations can "
          "read them.",
          "For each person, the engine works out what it would show them now, exactly as it would answer the "
          "shop, without recording anything. The first item counts most: the second counts 63%, the third 50%, "
          "and so on, as attention falls down a list.",
          "People are grouped by each attribute. For every group we compute the average share of what it is "
          "shown. The ratio compares the group that gets least with the group that gets most; under 0.8 (the "
          "“four-fifths rule” used in employment law) is flagged.",
          "The thin lines on each bar show the range the figure would likely take with other people of the same "
          "kind (a 95% interval, by resampling the group many times). Wide lines mean the group is small and the "
          "figure uncertain.",
          "Groups smaller than the policy's minimum are never shown on their own: they are merged into “other”, "
          "or left out when even that is too small.",
          "A proxy is a signal, such as a postal code, that tells much about a protected attribute. Cramér's V "
          "measures how strongly two attributes go together, from 0 (not at all) to 1 (one gives the other "
          "away); 0.5 or more is flagged."}},
    [MES_LANG_ES] =
        {"es", "Auditoría de equidad",
         "Auditoría %s del %s: %lld personas auditadas, ubicación «%s», %lld artículos por respuesta.", "Resumen",
         "Ninguna cifra cruzó un umbral: a ningún grupo se le muestra claramente menos de nada y ninguna señal "
         "sustituye a un atributo protegido.",
         "%zu hallazgos requieren atención:",
         "Para %s, al grupo «%s» se le muestran %s al %s %% de la tasa del grupo «%s» (razón %s, menor que 0,8; "
         "intervalo del 95 %% de %s a %s).",
         "%s sustituye a %s (V = %s, n = %lld): segmentar por ello discriminaría de forma indirecta.",
         "artículos de la categoría «%s»", "artículos con el motivo «%s»", "artículos de categorías sensibles",
         "artículos por respuesta", "Lo que se muestra a cada grupo", "Señales que sustituyen a atributos protegidos",
         "Grupos demasiado pequeños para mostrarse solos: %lld, unidos en «other» para no señalar a nadie.",
         "Grupos demasiado pequeños para mostrarse solos: %lld, dejados fuera para no señalar a nadie.",
         "Menos de dos grupos son lo bastante grandes para compararlos.", "señal", "atributo protegido",
         "V de Cramér", "personas", "alerta", "sí", "no",
         "No se pudo comparar ninguna señal: muy pocas personas tienen ambos atributos.", "Cómo funciona esta auditoría",
         {"Solo se cuentan las personas que aceptaron participar en auditorías; se excluye a quienes pidieron "
          "limitar el uso de sus datos. Sus atributos se guardan aparte y nada de lo que elige recomendaciones "
          "puede leerlos.",
          "Para cada persona, el motor calcula lo que le mostraría ahora, igual que respondería a la tienda, sin "
          "registrar nada. El primer artículo cuenta más: el segundo cuenta un 63%, el tercero un 50%, y así "
          "sucesivamente, porque la atención baja a lo largo de una lista.",
          "Las personas se agrupan por cada atributo. Para cada grupo calculamos la proporción media de lo que se "
          "le muestra. La razón compara el grupo que recibe menos con el que recibe más; por debajo de 0,8 (la "
          "«regla de los cuatro quintos» del derecho laboral) se marca una alerta.",
          "Las líneas finas de cada barra muestran el intervalo probable de la cifra con otras personas del mismo "
          "tipo (un intervalo del 95%, remuestreando el grupo muchas veces). Líneas anchas indican un grupo "
          "pequeño y una cifra incierta.",
          "Los grupos menores que el mínimo de la política nunca se muestran por separado: se unen en «other», o "
          "se dejan fuera si ni así alcanzan el mínimo.",
          "Un sustituto (proxy) es una señal, como el código postal, que revela mucho de un atributo protegido. "
          "La V de Cramér mide cuánto van juntos dos atributos, de 0 (nada) a 1 (uno delata al otro); desde 0,5 "
          "se marca una alerta."}},
    [MES_LANG_PL] =
        {"pl", "Audyt sprawiedliwości",
         "Audyt %s z %s: %lld osób objętych audytem, miejsce „%s”, %lld pozycji w odpowiedzi.", "Podsumowanie",
         "Żadna wartość nie przekroczyła progu: żadnej grupie nie pokazuje się wyraźnie mniej czegokolwiek i "
         "żaden sygnał nie zastępuje cechy chronionej.",
         "Ustalenia wymagające uwagi: %zu.",
         "Dla cechy %s grupa „%s” widzi %s w %s%% tego, co grupa „%s” (stosunek %s, poniżej 0,8; przedział "
         "95%% od %s do %s).",
         "%s zastępuje cechę %s (V = %s, n = %lld): kierowanie według niej dyskryminowałoby pośrednio.",
         "produkty z kategorii „%s”", "produkty z uzasadnieniem „%s”", "produkty z kategorii wrażliwych",
         "pozycje na odpowiedź", "Co widzi każda grupa", "Sygnały zastępujące cechy chronione",
         "Małe grupy (%lld) połączono w „other”, aby nikogo nie wskazać.",
         "Małe grupy (%lld) pominięto, aby nikogo nie wskazać.",
         "Mniej niż dwie grupy są dość duże, by je porównać.", "sygnał", "cecha chroniona", "V Craméra", "osoby",
         "alert", "tak", "nie", "Nie dało się porównać żadnego sygnału: zbyt mało osób ma obie cechy.",
         "Jak działa ten audyt",
         {"Liczone są tylko osoby, które zgodziły się na udział w audytach; pomija się osoby, które ograniczyły "
          "wykorzystanie swoich danych. Ich cechy są przechowywane osobno i nic, co wybiera rekomendacje, nie może "
          "ich odczytać.",
          "Dla każdej osoby silnik ustala, co pokazałby jej teraz, dokładnie tak, jak odpowiedziałby sklepowi, "
          "niczego nie zapisując. Pierwsza pozycja liczy się najbardziej: druga w 63%, trzecia w 50% i tak dalej, "
          "bo uwaga spada w dół listy.",
          "Osoby grupuje się według każdej cechy. Dla każdej grupy liczymy średni udział tego, co się jej "
          "pokazuje. Stosunek porównuje grupę, która dostaje najmniej, z tą, która dostaje najwięcej; poniżej 0,8 "
          "(„reguła czterech piątych” z prawa pracy) oznacza alert.",
          "Cienkie linie na słupkach pokazują prawdopodobny zakres wartości dla innych osób tego samego rodzaju "
          "(przedział 95%, z wielokrotnego losowania grupy). Szerokie linie oznaczają małą grupę i niepewną "
          "wartość.",
          "Grupy mniejsze niż minimum z polityki nigdy nie są pokazywane osobno: łączy się je w „other” albo "
          "pomija, gdy nawet to jest za małe.",
          "Zastępnik (proxy) to sygnał, np. kod pocztowy, który wiele mówi o cesze chronionej. V Craméra mierzy, "
          "jak silnie dwie cechy idą w parze, od 0 (wcale) do 1 (jedna zdradza drugą); od 0,5 oznacza alert."}},
};

/* The sentences of the newer parts of the page: other measures, the
 * catalog side. */
struct more_texts {
  char decimal; /* the decimal separator */
  const char *m_price, *m_disclosure, *band_low, *band_mid, *band_high, *band_unpriced, *explicit_, *implicit_;
  const char *ratio_ci;
  const char *catalog, *catalog_overall; /* items, shown, pct, gini */
  const char *col_group, *col_coverage, *col_gini, *col_tail, *col_served_pop, *col_hist_pop;
  const char *lean_flag; /* attr, value, served, history */
  const char *no_model, *catalog_method[2];
  const char *source_replay, *source_served; /* served: window_days */
};

static const struct more_texts M[MES_LANG_N] = {
    [MES_LANG_EN] = {
        .decimal = '.',
        .m_price = "items of the %s price band",
        .m_disclosure = "items disclosed as %s",
        .band_low = "low", .band_mid = "middle", .band_high = "high", .band_unpriced = "unpriced",
        .explicit_ = "explicit", .implicit_ = "implicit",
        .ratio_ci = "95%% interval of the ratio: %s to %s",
        .catalog = "The catalog side",
        .catalog_overall = "Of the catalog's %lld items, %lld (%s%%) were shown to someone. The exposure Gini is "
                           "%s: 0 when every item gets the same attention, 1 when one item gets it all.",
        .col_group = "group", .col_coverage = "coverage", .col_gini = "exposure Gini",
        .col_tail = "long-tail share", .col_served_pop = "popularity shown", .col_hist_pop = "popularity browsed",
        .lean_flag = "For %s, what the group “%s” is shown leans to bestsellers more than what it browses "
                     "(popularity %s against %s).",
        .no_model = "No model was live: popularity and the long tail could not be measured.",
        .source_replay = "What each person would be shown now, asked again without recording anything.",
        .source_served = "What each person was shown over the last %lld days, from the records of the answers.",
        .catalog_method = {
            "Coverage is the share of the catalog's items shown to at least one person of the group; the Gini "
            "coefficient says how unevenly the group's attention is spread over the whole catalog.",
            "An item's popularity is its place in the model's order of bestsellers, as the share of the catalog "
            "it is ahead of (1 for the top seller, 0 for an item nobody bought or viewed). The head is the most "
            "popular fifth of the catalog; everything else is the long tail. “Popularity shown” is the "
            "attention-weighted popularity of what a group is shown, “popularity browsed” that of what its "
            "people did; shown more than 0.1 above browsed is flagged."}},
    [MES_LANG_ES] = {
        .decimal = ',',
        .m_price = "artículos de la franja de precio %s",
        .m_disclosure = "artículos presentados como %s",
        .band_low = "baja", .band_mid = "media", .band_high = "alta", .band_unpriced = "sin precio",
        .explicit_ = "explícitos", .implicit_ = "implícitos",
        .ratio_ci = "intervalo del 95 %% de la razón: de %s a %s",
        .catalog = "El lado del catálogo",
        .catalog_overall = "De los %lld artículos del catálogo, %lld (%s %%) se mostraron a alguien. El Gini de la "
                           "exposición es %s: 0 cuando todos los artículos reciben la misma atención, 1 cuando uno "
                           "se la lleva toda.",
        .col_group = "grupo", .col_coverage = "cobertura", .col_gini = "Gini de la exposición",
        .col_tail = "parte de la cola larga", .col_served_pop = "popularidad mostrada",
        .col_hist_pop = "popularidad navegada",
        .lean_flag = "Para %s, lo que se muestra al grupo «%s» tiende más a los superventas que lo que navega "
                     "(popularidad %s frente a %s).",
        .no_model = "No había ningún modelo activo: no se pudieron medir la popularidad ni la cola larga.",
        .source_replay = "Lo que se mostraría ahora a cada persona, preguntado de nuevo sin registrar nada.",
        .source_served = "Lo que se mostró a cada persona en los últimos %lld días, según los registros de las "
                         "respuestas.",
        .catalog_method = {
            "La cobertura es la parte de los artículos del catálogo mostrados al menos a una persona del grupo; "
            "el coeficiente de Gini dice cuán desigual se reparte la atención del grupo sobre todo el catálogo.",
            "La popularidad de un artículo es su puesto en el orden de superventas del modelo, como la parte del "
            "catálogo que tiene por detrás (1 para el más vendido, 0 para uno que nadie compró ni vio). La "
            "cabeza es la quinta parte más popular del catálogo; el resto es la cola larga. La «popularidad "
            "mostrada» es la popularidad, ponderada por la atención, de lo que se muestra a un grupo, y la "
            "«popularidad navegada» la de lo que hicieron sus personas; si la mostrada supera a la navegada en "
            "más de 0,1 se marca una alerta."}},
    [MES_LANG_PL] = {
        .decimal = ',',
        .m_price = "produkty z przedziału cenowego „%s”",
        .m_disclosure = "produkty przedstawione jako %s",
        .band_low = "niski", .band_mid = "średni", .band_high = "wysoki", .band_unpriced = "bez ceny",
        .explicit_ = "jawne", .implicit_ = "niejawne",
        .ratio_ci = "przedział 95%% stosunku: od %s do %s",
        .catalog = "Strona katalogu",
        .catalog_overall = "Z %lld produktów katalogu %lld (%s%%) pokazano komuś. Współczynnik Giniego ekspozycji "
                           "wynosi %s: 0, gdy każdy produkt dostaje tyle samo uwagi, 1, gdy jeden dostaje całą.",
        .col_group = "grupa", .col_coverage = "pokrycie", .col_gini = "Gini ekspozycji",
        .col_tail = "udział długiego ogona", .col_served_pop = "popularność pokazanych",
        .col_hist_pop = "popularność przeglądanych",
        .lean_flag = "Dla cechy %s to, co widzi grupa „%s”, skłania się ku bestsellerom bardziej niż to, co "
                     "przegląda (popularność %s wobec %s).",
        .no_model = "Żaden model nie działał: nie dało się zmierzyć popularności ani długiego ogona.",
        .source_replay = "To, co każda osoba zobaczyłaby teraz, ustalone ponownie bez zapisywania czegokolwiek.",
        .source_served = "To, co każda osoba zobaczyła w ciągu ostatnich %lld dni, według zapisów odpowiedzi.",
        .catalog_method = {
            "Pokrycie to udział produktów katalogu pokazanych co najmniej jednej osobie z grupy; współczynnik "
            "Giniego mówi, jak nierówno uwaga grupy rozkłada się na cały katalog.",
            "Popularność produktu to jego miejsce w kolejności bestsellerów modelu, jako udział katalogu, który "
            "wyprzedza (1 dla najlepiej sprzedającego się, 0 dla produktu, którego nikt nie kupił ani nie "
            "oglądał). Głowa to najpopularniejsza piąta część katalogu; reszta to długi ogon. „Popularność "
            "pokazanych” to ważona uwagą popularność tego, co widzi grupa, a „popularność przeglądanych” tego, "
            "co robiły jej osoby; przewaga pokazanych o ponad 0,1 oznacza alert."}},
};

/* v with `decimals` decimals and the language's decimal separator (for
 * text only: SVG coordinates keep the point). */
static const char *num(const struct more_texts *m, double v, int decimals, char *out, size_t cap) {
  snprintf(out, cap, "%.*f", decimals, v);
  for (char *p = out; *p; p++)
    if (*p == '.')
      *p = m->decimal;
  return out;
}

static int esc(struct mes_buf *b, const char *s) {
  int rc = MES_OK;
  for (; s && *s && !rc; s++) {
    switch (*s) {
    case '<': rc = mes_buf_puts(b, "&lt;"); break;
    case '>': rc = mes_buf_puts(b, "&gt;"); break;
    case '&': rc = mes_buf_puts(b, "&amp;"); break;
    case '"': rc = mes_buf_puts(b, "&quot;"); break;
    case '\'': rc = mes_buf_puts(b, "&#39;"); break;
    default: rc = mes_buf_append(b, s, 1);
    }
  }
  return rc;
}

/* s with HTML's special characters escaped, into out (cut to cap). */
static const char *escaped(const char *s, char *out, size_t cap) {
  struct mes_buf b;
  mes_buf_init(&b, cap - 1);
  if (esc(&b, s) || !b.data)
    snprintf(out, cap, "%s", "");
  else
    snprintf(out, cap, "%s", b.data);
  mes_buf_release(&b);
  return out;
}

/* What a measure counts, in words (escaped). */
static const char *band_words(const struct more_texts *m, const char *band) {
  if (strcmp(band, "low") == 0)
    return m->band_low;
  if (strcmp(band, "mid") == 0)
    return m->band_mid;
  if (strcmp(band, "high") == 0)
    return m->band_high;
  return m->band_unpriced;
}

static void measure_words(const struct texts *t, const struct more_texts *m, const json_t *d, char *out, size_t cap) {
  const char *kind = json_string_value(json_object_get(d, "kind"));
  char of[300];
  escaped(json_string_value(json_object_get(d, "of")), of, sizeof of);
  if (kind && strcmp(kind, "price_band") == 0)
    snprintf(out, cap, m->m_price, band_words(m, of));
  else if (kind && strcmp(kind, "disclosure") == 0)
    snprintf(out, cap, m->m_disclosure,
             strcmp(of, "explicit") == 0 ? m->explicit_ : strcmp(of, "implicit") == 0 ? m->implicit_ : of);
  else if (kind && strcmp(kind, "exposure") == 0)
    snprintf(out, cap, t->m_exposure, of);
  else if (kind && strcmp(kind, "reason") == 0)
    snprintf(out, cap, t->m_reason, of);
  else if (kind && strcmp(kind, "sensitive_items") == 0)
    snprintf(out, cap, "%s", t->m_sensitive);
  else
    snprintf(out, cap, "%s", t->m_items);
}

/* The lowest and highest groups of a disparity (borrowed). */
static void extremes(const json_t *d, const json_t **lo, const json_t **hi) {
  *lo = *hi = NULL;
  size_t i;
  const json_t *g;
  json_array_foreach(json_object_get(d, "groups"), i, g) {
    double r = json_number_value(json_object_get(g, "rate"));
    if (!*lo || r < json_number_value(json_object_get(*lo, "rate")))
      *lo = g;
    if (!*hi || r > json_number_value(json_object_get(*hi, "rate")))
      *hi = g;
  }
}

static int disparity_sentence(struct mes_buf *b, const struct texts *t, const struct more_texts *m, const json_t *d) {
  const json_t *lo, *hi;
  extremes(d, &lo, &hi);
  char attr[300], lo_v[300], hi_v[300], what[400], pct[32], r[32], ci_lo[32], ci_hi[32];
  escaped(json_string_value(json_object_get(d, "attribute")), attr, sizeof attr);
  escaped(json_string_value(json_object_get(lo, "value")), lo_v, sizeof lo_v);
  escaped(json_string_value(json_object_get(hi, "value")), hi_v, sizeof hi_v);
  measure_words(t, m, d, what, sizeof what);
  double ratio = json_number_value(json_object_get(d, "ratio"));
  const json_t *ci = json_object_get(d, "ratio_ci");
  /* An audit stored before ratios had intervals shows the ratio as both ends. */
  double c_lo = json_is_array(ci) ? json_number_value(json_array_get(ci, 0)) : ratio;
  double c_hi = json_is_array(ci) ? json_number_value(json_array_get(ci, 1)) : ratio;
  return mes_buf_printf(b, t->disp_flag, attr, lo_v, what, num(m, ratio * 100.0, 0, pct, sizeof pct), hi_v,
                        num(m, ratio, 2, r, sizeof r), num(m, c_lo, 2, ci_lo, sizeof ci_lo),
                        num(m, c_hi, 2, ci_hi, sizeof ci_hi));
}

static int proxy_sentence(struct mes_buf *b, const struct texts *t, const struct more_texts *m, const json_t *p) {
  char attr[300], prot[300], v[32];
  escaped(json_string_value(json_object_get(p, "attribute")), attr, sizeof attr);
  escaped(json_string_value(json_object_get(p, "protected")), prot, sizeof prot);
  return mes_buf_printf(b, t->proxy_flag, attr, prot, num(m, json_number_value(json_object_get(p, "cramers_v")), 2, v,
                                                          sizeof v),
                        (long long)json_integer_value(json_object_get(p, "n")));
}

/* One horizontal bar chart: a bar per group, its interval as a line. */
static int chart(struct mes_buf *b, const struct more_texts *m, const json_t *d) {
  const json_t *groups = json_object_get(d, "groups");
  size_t n = json_array_size(groups), i;
  double max = 0;
  const json_t *g;
  json_array_foreach(groups, i, g) {
    double hi = json_number_value(json_array_get(json_object_get(g, "ci"), 1));
    double r = json_number_value(json_object_get(g, "rate"));
    max = fmax(max, fmax(hi, r));
  }
  if (max <= 0)
    max = 1;
  const int label_w = 160, bar_w = 360, row_h = 26;
  int rc = mes_buf_printf(b, "<svg role=\"img\" width=\"%d\" height=\"%zu\" viewBox=\"0 0 %d %zu\">", label_w + bar_w + 70,
                          n * row_h + 6, label_w + bar_w + 70, n * row_h + 6);
  bool flagged = json_is_true(json_object_get(d, "flagged"));
  json_array_foreach(groups, i, g) {
    double r = json_number_value(json_object_get(g, "rate"));
    double lo = json_number_value(json_array_get(json_object_get(g, "ci"), 0));
    double hi = json_number_value(json_array_get(json_object_get(g, "ci"), 1));
    int y = (int)i * row_h + 4;
    char val[32];
    rc = rc ? rc : mes_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 15);
    rc = rc ? rc : esc(b, json_string_value(json_object_get(g, "value")));
    rc = rc ? rc
            : mes_buf_printf(b,
                             " (%lld)</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"%s\"/>"
                             "<path d=\"M%.1f %dV%dM%.1f %dH%.1fM%.1f %dV%d\" stroke=\"#111\" stroke-width=\"2\" "
                             "fill=\"none\"/><text x=\"%.1f\" y=\"%d\">%s</text>",
                             (long long)json_integer_value(json_object_get(g, "n")), label_w, y, bar_w * r / max,
                             flagged ? "#c2410c" : "#2563eb", label_w + bar_w * lo / max, y + 4, y + 14,
                             label_w + bar_w * lo / max, y + 9, label_w + bar_w * hi / max,
                             label_w + bar_w * hi / max, y + 4, y + 14, label_w + bar_w * fmax(r, hi) / max + 6,
                             y + 15, num(m, r, 3, val, sizeof val));
  }
  return rc ? rc : mes_buf_puts(b, "</svg>");
}

/* The catalog side: one sentence over everyone, a row per group, and a
 * sentence for each group shown more bestsellers than it browses. */
static int catalog_section(struct mes_buf *b, const json_t *a, const struct more_texts *m) {
  const json_t *cat = json_object_get(a, "catalog");
  if (!json_is_object(cat))
    return MES_OK; /* an audit stored before the catalog side was measured */
  const json_t *all = json_object_get(cat, "overall");
  char pct[32], gini[32];
  int rc = mes_buf_printf(b, "<section id=\"catalog\"><h2>%s</h2><p>", m->catalog);
  rc = rc ? rc
          : mes_buf_printf(b, m->catalog_overall, (long long)json_integer_value(json_object_get(cat, "items")),
                           (long long)json_integer_value(json_object_get(all, "items_served")),
                           num(m, json_number_value(json_object_get(all, "coverage")) * 100.0, 0, pct, sizeof pct),
                           num(m, json_number_value(json_object_get(all, "exposure_gini")), 2, gini, sizeof gini));
  rc = rc ? rc : mes_buf_puts(b, "</p>");
  bool model = json_integer_value(json_object_get(cat, "items_ranked")) > 0;
  if (!model)
    rc = rc ? rc : mes_buf_printf(b, "<p class=\"note\">%s</p>", m->no_model);
  size_t i;
  const json_t *g;
  json_array_foreach(json_object_get(cat, "groups"), i, g) {
    if (!json_is_true(json_object_get(g, "leans_to_bestsellers")))
      continue;
    char attr[300], value[300], sp[32], hp[32];
    escaped(json_string_value(json_object_get(g, "attribute")), attr, sizeof attr);
    escaped(json_string_value(json_object_get(g, "value")), value, sizeof value);
    rc = rc ? rc : mes_buf_puts(b, "<p class=\"flag\">");
    rc = rc ? rc
            : mes_buf_printf(b, m->lean_flag, attr, value,
                             num(m, json_number_value(json_object_get(g, "served_popularity")), 2, sp, sizeof sp),
                             num(m, json_number_value(json_object_get(g, "history_popularity")), 2, hp, sizeof hp));
    rc = rc ? rc : mes_buf_puts(b, "</p>");
  }
  rc = rc ? rc
          : mes_buf_printf(b,
                           "<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
                           "</tr>",
                           m->col_group, "n", m->col_coverage, m->col_gini, m->col_tail, m->col_served_pop,
                           m->col_hist_pop);
  json_array_foreach(json_object_get(cat, "groups"), i, g) {
    bool flagged = json_is_true(json_object_get(g, "leans_to_bestsellers"));
    rc = rc ? rc : mes_buf_printf(b, "<tr%s><td>", flagged ? " class=\"flag\"" : "");
    rc = rc ? rc : esc(b, json_string_value(json_object_get(g, "attribute")));
    rc = rc ? rc : mes_buf_puts(b, " = ");
    rc = rc ? rc : esc(b, json_string_value(json_object_get(g, "value")));
    rc = rc ? rc : mes_buf_printf(b, "</td><td>%lld</td>", (long long)json_integer_value(json_object_get(g, "n")));
    static const char *const cols[] = {"coverage", "exposure_gini", "long_tail_share", "served_popularity",
                                       "history_popularity"};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
      const json_t *v = json_object_get(g, cols[k]);
      char text[32];
      rc = rc ? rc
              : mes_buf_printf(b, "<td>%s</td>",
                               json_is_number(v) ? num(m, json_number_value(v), 2, text, sizeof text) : "–");
    }
    rc = rc ? rc : mes_buf_puts(b, "</tr>");
  }
  rc = rc ? rc : mes_buf_puts(b, "</table>");
  for (size_t k = 0; k < sizeof m->catalog_method / sizeof m->catalog_method[0]; k++)
    rc = rc ? rc : mes_buf_printf(b, "<p class=\"note\">%s</p>", m->catalog_method[k]);
  return rc ? rc : mes_buf_puts(b, "</section>");
}

static int page(struct mes_buf *b, const json_t *a, const struct texts *t, const struct more_texts *m) {
  const json_t *disp = json_object_get(a, "disparities"), *prox = json_object_get(a, "proxies");
  char id[64], when[64], placement[300];
  escaped(json_string_value(json_object_get(a, "id")), id, sizeof id);
  escaped(json_string_value(json_object_get(a, "created_at")), when, sizeof when);
  escaped(json_string_value(json_object_get(a, "placement")), placement, sizeof placement);
  int rc = mes_buf_printf(
      b,
      "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\"><title>%s %s</title><style>"
      "body{font:16px/1.5 system-ui,sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#111}"
      "h1{font-size:1.6em}.flag{color:#9a3412}.ok{color:#166534}section{margin:1.5em 0}"
      "svg text{font:13px sans-serif}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid "
      "#ddd;text-align:left}.note{color:#555}</style></head><body><h1>%s %s</h1><p>",
      t->html_lang, t->title, id, t->title, id);
  rc = rc ? rc
          : mes_buf_printf(b, t->meta, id, when,
                           (long long)json_integer_value(json_object_get(json_object_get(a, "population"), "audited")),
                           placement, (long long)json_integer_value(json_object_get(a, "count")));
  const char *source = json_string_value(json_object_get(a, "source"));
  rc = rc ? rc : mes_buf_puts(b, " ");
  if (source && strcmp(source, "served") == 0)
    rc = rc ? rc : mes_buf_printf(b, m->source_served, (long long)json_integer_value(json_object_get(a, "window_days")));
  else
    rc = rc ? rc : mes_buf_puts(b, m->source_replay);
  /* Summary first. */
  size_t n_flags = 0, i;
  const json_t *e;
  json_array_foreach(disp, i, e) n_flags += json_is_true(json_object_get(e, "flagged"));
  json_array_foreach(prox, i, e) n_flags += json_is_true(json_object_get(e, "flagged"));
  rc = rc ? rc : mes_buf_printf(b, "</p><section id=\"summary\"><h2>%s</h2>", t->summary);
  if (!n_flags) {
    rc = rc ? rc : mes_buf_printf(b, "<p class=\"ok\">%s</p>", t->no_flags);
  } else {
    rc = rc ? rc : mes_buf_puts(b, "<p>");
    rc = rc ? rc : mes_buf_printf(b, t->n_flags, n_flags);
    rc = rc ? rc : mes_buf_puts(b, "</p><ul>");
    json_array_foreach(prox, i, e) {
      if (!json_is_true(json_object_get(e, "flagged")))
        continue;
      rc = rc ? rc : mes_buf_puts(b, "<li class=\"flag\">");
      rc = rc ? rc : proxy_sentence(b, t, m, e);
      rc = rc ? rc : mes_buf_puts(b, "</li>");
    }
    json_array_foreach(disp, i, e) {
      if (!json_is_true(json_object_get(e, "flagged")))
        continue;
      rc = rc ? rc : mes_buf_puts(b, "<li class=\"flag\">");
      rc = rc ? rc : disparity_sentence(b, t, m, e);
      rc = rc ? rc : mes_buf_puts(b, "</li>");
    }
    rc = rc ? rc : mes_buf_puts(b, "</ul>");
  }
  rc = rc ? rc : mes_buf_printf(b, "</section><section id=\"disparities\"><h2>%s</h2>", t->disparities);
  /* Per attribute: what became of small groups, then one chart per measure. */
  const json_t *note;
  json_array_foreach(json_object_get(a, "groups"), i, note) {
    const char *attr = json_string_value(json_object_get(note, "attribute"));
    rc = rc ? rc : mes_buf_puts(b, "<h3>");
    rc = rc ? rc : esc(b, attr);
    rc = rc ? rc : mes_buf_puts(b, "</h3>");
    const json_t *small = json_object_get(note, "small_groups");
    if (json_is_object(small)) {
      bool merged = strcmp(json_string_value(json_object_get(small, "handling")), "merged") == 0;
      rc = rc ? rc : mes_buf_puts(b, "<p class=\"note\">");
      rc = rc ? rc
              : mes_buf_printf(b, merged ? t->small_merged : t->small_withheld,
                               (long long)json_integer_value(json_object_get(small, "groups")));
      rc = rc ? rc : mes_buf_puts(b, "</p>");
    }
    if (json_integer_value(json_object_get(note, "groups_reported")) < 2)
      rc = rc ? rc : mes_buf_printf(b, "<p class=\"note\">%s</p>", t->not_comparable);
    size_t j;
    json_array_foreach(disp, j, e) {
      if (strcmp(json_string_value(json_object_get(e, "attribute")), attr) != 0)
        continue;
      char what[400], r[32], lo[32], hi[32];
      measure_words(t, m, e, what, sizeof what);
      bool flagged = json_is_true(json_object_get(e, "flagged"));
      rc = rc ? rc : mes_buf_printf(b, "<h4%s>%s", flagged ? " class=\"flag\"" : "", what);
      if (json_is_number(json_object_get(e, "ratio")))
        rc = rc ? rc : mes_buf_printf(b, " — %s", num(m, json_number_value(json_object_get(e, "ratio")), 2, r, sizeof r));
      const json_t *ci = json_object_get(e, "ratio_ci");
      if (json_is_array(ci)) {
        rc = rc ? rc : mes_buf_puts(b, " <small class=\"note\">(");
        rc = rc ? rc
                : mes_buf_printf(b, m->ratio_ci, num(m, json_number_value(json_array_get(ci, 0)), 2, lo, sizeof lo),
                                 num(m, json_number_value(json_array_get(ci, 1)), 2, hi, sizeof hi));
        rc = rc ? rc : mes_buf_puts(b, ")</small>");
      }
      rc = rc ? rc : mes_buf_puts(b, "</h4>");
      rc = rc ? rc : chart(b, m, e);
    }
  }
  rc = rc ? rc : mes_buf_printf(b, "</section><section id=\"proxies\"><h2>%s</h2>", t->proxies);
  if (json_array_size(prox) == 0) {
    rc = rc ? rc : mes_buf_printf(b, "<p class=\"note\">%s</p>", t->none_proxies);
  } else {
    rc = rc ? rc
            : mes_buf_printf(b, "<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>",
                             t->col_attr, t->col_prot, t->col_v, t->col_n, t->col_flag);
    json_array_foreach(prox, i, e) {
      bool flagged = json_is_true(json_object_get(e, "flagged"));
      double v = json_number_value(json_object_get(e, "cramers_v"));
      char vt[32];
      rc = rc ? rc : mes_buf_printf(b, "<tr%s><td>", flagged ? " class=\"flag\"" : "");
      rc = rc ? rc : esc(b, json_string_value(json_object_get(e, "attribute")));
      rc = rc ? rc : mes_buf_puts(b, "</td><td>");
      rc = rc ? rc : esc(b, json_string_value(json_object_get(e, "protected")));
      rc = rc ? rc
              : mes_buf_printf(b,
                               "</td><td><svg width=\"110\" height=\"12\"><rect width=\"%.0f\" height=\"12\" "
                               "fill=\"%s\"/><line x1=\"50\" x2=\"50\" y1=\"0\" y2=\"12\" stroke=\"#222\"/></svg> "
                               "%s</td><td>%lld</td><td>%s</td></tr>",
                               v * 100.0, flagged ? "#c2410c" : "#2563eb", num(m, v, 2, vt, sizeof vt),
                               (long long)json_integer_value(json_object_get(e, "n")), flagged ? t->yes : t->no);
    }
    rc = rc ? rc : mes_buf_puts(b, "</table>");
  }
  rc = rc ? rc : mes_buf_puts(b, "</section>");
  rc = rc ? rc : catalog_section(b, a, m);
  rc = rc ? rc : mes_buf_printf(b, "<section id=\"method\"><h2>%s</h2>", t->method_title);
  for (size_t k = 0; k < sizeof t->method / sizeof t->method[0]; k++)
    rc = rc ? rc : mes_buf_printf(b, "<p>%s</p>", t->method[k]);
  return rc ? rc : mes_buf_puts(b, "</section></body></html>\n");
}

int mes_audit_report_html(const json_t *audit, enum mes_lang lang, char **html, size_t *len) {
  *html = NULL;
  *len = 0;
  if (lang < 0 || lang >= MES_LANG_N)
    lang = MES_LANG_EN;
  struct mes_buf b;
  mes_buf_init(&b, REPORT_MAX);
  int rc = page(&b, audit, &T[lang], &M[lang]);
  if (rc) {
    mes_buf_release(&b);
    return rc;
  }
  *len = b.len;
  *html = mes_buf_steal(&b);
  return *html ? MES_OK : MES_ENOMEM;
}
