/*
 * policy/lookup — what every module asks of a loaded policy: a name to its
 * small integer (purposes, event types, categories, declared properties),
 * the purposes a channel serves, the names of the enums, and the language a
 * request's Accept-Language picks among those the policy offers. Pure
 * functions of the policy; any thread.
 */
#include <stdbool.h>
#include <string.h>

#include "policy/policy_int.h"

/* ------------------------------------------------------------------------ */
/* Lookups                                                                  */

static bool name_eq(const char *a, const char *s, size_t len) { return strlen(a) == len && memcmp(a, s, len) == 0; }

int mes_policy_purpose(const struct mes_policy *p, const char *name, size_t len) {
  for (size_t i = 0; p && i < p->n_purposes; i++)
    if (name_eq(p->purposes[i].name, name, len))
      return (int)i;
  return -1;
}

int mes_policy_event_type(const struct mes_policy *p, const char *name, size_t len) {
  for (size_t i = 0; p && i < p->n_event_types; i++)
    if (name_eq(p->event_types[i].name, name, len))
      return (int)i;
  return -1;
}

int mes_policy_category(const struct mes_policy *p, const char *name, size_t len) {
  for (size_t i = 0; p && i < p->n_categories; i++)
    if (name_eq(p->categories[i].name, name, len))
      return (int)i;
  return -1;
}

bool mes_policy_property_declared(const struct mes_policy *p, int t, const char *prop, size_t len) {
  if (!p || t < 0 || (size_t)t >= p->n_event_types)
    return false;
  const struct mes_event_type *et = &p->event_types[t];
  for (size_t k = 0; k < et->n_properties; k++)
    if (name_eq(et->properties[k], prop, len))
      return true;
  return false;
}

uint32_t mes_policy_channel_purposes(const struct mes_policy *p, enum mes_channel ch) {
  uint32_t mask = 0;
  if (!p || (unsigned)ch >= MES_CH_N)
    return 0;
  for (size_t i = 0; i < p->n_purposes; i++)
    if (p->purposes[i].channels & (1u << ch))
      mask |= 1u << i;
  if (!mask) {
    int pers = mes_policy_purpose(p, "personalization", strlen("personalization"));
    if (pers >= 0)
      mask = 1u << pers;
  }
  return mask;
}

/* ------------------------------------------------------------------------ */
/* Enum names                                                               */

static int parse_name(const char *const *names, const char *s, size_t len) {
  for (int i = 0; s && names[i]; i++)
    if (name_eq(names[i], s, len))
      return i;
  return -1;
}

const char *mes_channel_name(enum mes_channel c) { return (unsigned)c < MES_CH_N ? mes__channel_names[c] : "?"; }
int mes_channel_parse(const char *s, size_t len) { return parse_name(mes__channel_names, s, len); }
const char *mes_lang_name(enum mes_lang l) { return (unsigned)l < MES_LANG_N ? mes__lang_names[l] : "?"; }
int mes_lang_parse(const char *s, size_t len) { return parse_name(mes__lang_names, s, len); }
const char *mes_source_name(enum mes_source s) { return (unsigned)s < MES_SRC_N ? mes__source_names[s] : "?"; }
int mes_source_parse(const char *s, size_t len) { return parse_name(mes__source_names, s, len); }

/* ------------------------------------------------------------------------ */
/* Accept-Language (RFC 9110 §12.5.4)                                       */

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* Parses ";q=0.8" parameters of one entry into thousandths; 1000 when absent,
 * -1 when malformed (the entry is then ignored). */
static int parse_q(const char *s, const char *end) {
  int q = 1000;
  while (s < end) {
    while (s < end && (is_ows(*s) || *s == ';'))
      s++;
    const char *pstart = s;
    while (s < end && *s != ';')
      s++;
    const char *pend = s;
    while (pend > pstart && is_ows(pend[-1]))
      pend--;
    if (pend - pstart >= 2 && (pstart[0] == 'q' || pstart[0] == 'Q') && pstart[1] == '=') {
      const char *v = pstart + 2;
      if (v < pend && *v == '0') {
        q = 0;
        v++;
        if (v < pend && *v == '.') {
          int scale = 100;
          for (v++; v < pend && *v >= '0' && *v <= '9' && scale > 0; v++, scale /= 10)
            q += (*v - '0') * scale;
        }
      } else if (v < pend && *v == '1') {
        for (v++, v += v < pend && *v == '.'; v < pend && *v == '0'; v++)
          ;
      } else {
        return -1;
      }
      if (v != pend)
        return -1;
    }
  }
  return q;
}

enum mes_lang mes_lang_negotiate(const struct mes_policy *p, const char *accept_language) {
  uint32_t offered = p ? p->languages | (1u << MES_LANG_EN) : (1u << MES_LANG_N) - 1;
  int best = MES_LANG_EN, best_q = 0;
  const char *s = accept_language;
  while (s && *s) {
    const char *end = strchr(s, ',');
    if (!end)
      end = s + strlen(s);
    const char *tag = s;
    while (tag < end && is_ows(*tag))
      tag++;
    const char *tag_end = tag;
    while (tag_end < end && *tag_end != ';' && !is_ows(*tag_end))
      tag_end++;
    const char *primary_end = tag;
    while (primary_end < tag_end && *primary_end != '-' && *primary_end != '_')
      primary_end++;
    int q = parse_q(tag_end, end);
    int lang = -1;
    if (primary_end - tag == 1 && *tag == '*') {
      lang = MES_LANG_EN;
    } else if (primary_end - tag == 2) {
      char two[2] = {(char)(tag[0] | 0x20), (char)(tag[1] | 0x20)};
      lang = parse_name(mes__lang_names, two, 2);
    }
    if (lang >= 0 && (offered & (1u << lang)) && q > best_q) { /* ties keep the earlier entry */
      best = lang;
      best_q = q;
    }
    s = *end ? end + 1 : end;
  }
  return (enum mes_lang)best;
}
