/* base/jw — streaming JSON writer with jansson's text.
 *
 * Each token (with the comma before it, and a key's colon) is measured
 * first, then written straight into room made for it at the end of the
 * buffer: one capacity check per token, and the cap fails exactly when the
 * text would pass it. */
#include "base/jw.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/id.h"

void mes_jw_init(struct mes_jw *w, struct mes_buf *b) { *w = (struct mes_jw){.b = b, .rc = MES_OK}; }

static int fail(struct mes_jw *w, int rc) {
  if (!w->rc)
    w->rc = rc;
  return w->rc;
}

/* Room for n bytes at the end of the text; NULL when the writer failed or
 * fails here. Fill it, then call wrote. */
static char *room(struct mes_jw *w, size_t n) {
  struct mes_buf *b = w->b;
  if (w->rc)
    return NULL;
  if (!(b->data && n < b->cap - b->len && n <= b->max_len - b->len)) {
    int rc = mes_buf_reserve(b, n);
    if (rc) {
      w->rc = rc;
      return NULL;
    }
  }
  return b->data + b->len;
}

static void wrote(struct mes_jw *w, char *end) {
  w->b->len = (size_t)(end - w->b->data);
  *end = '\0';
}

static bool in_object(const struct mes_jw *w) { return w->depth && (w->objects >> (w->depth - 1) & 1u); }

/* Whether a value may come here (else the writer fails with
 * MES_EINTERNAL), and in *comma whether a ',' goes before it. */
static bool value_may(struct mes_jw *w, size_t *comma) {
  *comma = 0;
  if (w->rc)
    return false;
  if (w->depth == 0) {
    if (w->done)
      return fail(w, MES_EINTERNAL), false;
  } else if (in_object(w)) {
    if (!w->key_done) /* the key wrote the comma */
      return fail(w, MES_EINTERNAL), false;
  } else {
    *comma = w->comma;
  }
  return true;
}

static int value_ends(struct mes_jw *w) {
  w->key_done = false;
  w->comma = true;
  if (w->depth == 0)
    w->done = true;
  return w->rc;
}

/* ---------------------------------------------------------------- strings */

/* What a byte below 0x80 adds to the text beyond itself: 1 for the
 * two-character escapes, 5 for \u00XX; 0x80 marks the bytes of UTF-8
 * sequences. */
static const unsigned char extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
};

/* The length of s written as a JSON string body (escapes, no quotes), or
 * SIZE_MAX when jansson would refuse it: the sequences utf8_iterate
 * (dump.c) refuses are stray continuation bytes, overlongs, surrogates,
 * code points beyond U+10FFFF and sequences cut short, and mes_utf8_valid
 * refuses the same. The whole string is checked before any of it is
 * written, so that it fails the same way wherever the buffer's cap falls. */
static size_t string_len(const char *s, size_t len) {
  if (len > (SIZE_MAX - 16) / 6)
    return SIZE_MAX;
  size_t n = len, i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i], x = extra[c];
    if (x < 0x80) {
      n += x;
      i++;
      continue;
    }
    size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (k == 0 || k > len - i || !mes_utf8_valid(s + i, k))
      return SIZE_MAX;
    i += k;
  }
  return n;
}

/* dump_string of jansson's dump.c without JSON_ENSURE_ASCII or
 * JSON_ESCAPE_SLASH: \" \\ \b \f \n \r \t, the other control characters as
 * \u00XX in upper-case hex, every other byte as it is. body_len is
 * string_len's; returns the end. */
static char *put_string(char *p, const char *s, size_t len, size_t body_len) {
  static const char hex[] = "0123456789ABCDEF";
  *p++ = '"';
  if (body_len == len) {
    memcpy(p, s, len);
    p += len;
  } else {
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (extra[c] == 0 || extra[c] == 0x80) {
        *p++ = (char)c;
        continue;
      }
      *p++ = '\\';
      switch (c) {
      case '"':
      case '\\':
        *p++ = (char)c;
        break;
      case '\b':
        *p++ = 'b';
        break;
      case '\f':
        *p++ = 'f';
        break;
      case '\n':
        *p++ = 'n';
        break;
      case '\r':
        *p++ = 'r';
        break;
      case '\t':
        *p++ = 't';
        break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
        break;
      }
    }
  }
  *p++ = '"';
  return p;
}

int mes_jw_keyn(struct mes_jw *w, const char *key, size_t len) {
  if (w->rc)
    return w->rc;
  if (!key || !in_object(w) || w->key_done)
    return fail(w, MES_EINTERNAL);
  size_t body = string_len(key, len);
  if (body == SIZE_MAX)
    return fail(w, MES_EBAD_UTF8);
  char *p = room(w, w->comma + body + 3);
  if (!p)
    return w->rc;
  if (w->comma)
    *p++ = ',';
  p = put_string(p, key, len, body);
  *p++ = ':';
  wrote(w, p);
  w->key_done = true;
  return MES_OK;
}

int mes_jw_key(struct mes_jw *w, const char *key) { return mes_jw_keyn(w, key, key ? strlen(key) : 0); }

int mes_jw_stringn(struct mes_jw *w, const char *s, size_t len) {
  if (w->rc)
    return w->rc;
  if (!s)
    return fail(w, MES_EINTERNAL);
  size_t body = string_len(s, len), comma;
  if (body == SIZE_MAX)
    return fail(w, MES_EBAD_UTF8);
  char *p = value_may(w, &comma) ? room(w, comma + body + 2) : NULL;
  if (!p)
    return w->rc;
  if (comma)
    *p++ = ',';
  wrote(w, put_string(p, s, len, body));
  return value_ends(w);
}

int mes_jw_string(struct mes_jw *w, const char *s) { return mes_jw_stringn(w, s, s ? strlen(s) : 0); }

/* ---------------------------------------------------------------- containers */

/* Writes text (n bytes, with a comma before it when due) as one value. */
static int put_value(struct mes_jw *w, const char *text, size_t n) {
  size_t comma;
  char *p = value_may(w, &comma) ? room(w, comma + n) : NULL;
  if (!p)
    return w->rc;
  if (comma)
    *p++ = ',';
  memcpy(p, text, n);
  wrote(w, p + n);
  return value_ends(w);
}

static int open_container(struct mes_jw *w, bool object) {
  if (w->depth == MES_JW_DEPTH_MAX)
    return fail(w, MES_EINTERNAL);
  size_t comma;
  char *p = value_may(w, &comma) ? room(w, comma + 1) : NULL;
  if (!p)
    return w->rc;
  if (comma)
    *p++ = ',';
  *p++ = object ? '{' : '[';
  wrote(w, p);
  if (object)
    w->objects |= (uint64_t)1 << w->depth;
  else
    w->objects &= ~((uint64_t)1 << w->depth);
  w->depth++;
  w->comma = false;
  w->key_done = false;
  return MES_OK;
}

static int close_container(struct mes_jw *w, bool object) {
  if (w->rc)
    return w->rc;
  if (w->depth == 0 || in_object(w) != object || w->key_done)
    return fail(w, MES_EINTERNAL);
  char *p = room(w, 1);
  if (!p)
    return w->rc;
  *p++ = object ? '}' : ']';
  wrote(w, p);
  w->depth--;
  return value_ends(w);
}

int mes_jw_object(struct mes_jw *w) { return open_container(w, true); }
int mes_jw_object_end(struct mes_jw *w) { return close_container(w, true); }
int mes_jw_array(struct mes_jw *w) { return open_container(w, false); }
int mes_jw_array_end(struct mes_jw *w) { return close_container(w, false); }

/* ---------------------------------------------------------------- scalars */

int mes_jw_integer(struct mes_jw *w, int64_t v) {
  char buf[24];
  char *p = buf + sizeof buf;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--p = '-';
  return put_value(w, p, (size_t)(buf + sizeof buf - p));
}

/* A score as the replies round them, v = k / 10^4 (the double nearest to
 * it) with 1 <= |k| < 10^15, at precision 15, written without printf:
 * "%.15g" writes exactly k / 10^4 then (at most 15 significant digits, so
 * the double's error, below 2^-53 of it, is under half a unit of the 15th
 * digit; and between 1e-4 and 1e11, so no exponent), trailing zeros cut,
 * and jansson adds ".0" to an integer. Returns the length, or 0 for any
 * other value. */
static size_t score_text(char *out, double v, int precision) {
  if (precision != 15 || !(v > -1e11 && v < 1e11))
    return 0;
  double t = v * 10000.0;
  int64_t k = (int64_t)(t < 0 ? t - 0.5 : t + 0.5);
  if (k == 0 || (double)k / 10000.0 != v)
    return 0;
  uint64_t u = k < 0 ? 0 - (uint64_t)k : (uint64_t)k, whole = u / 10000;
  unsigned frac = (unsigned)(u % 10000);
  char digits[24];
  char *p = digits + sizeof digits;
  do {
    *--p = (char)('0' + whole % 10);
    whole /= 10;
  } while (whole);
  char *o = out;
  if (k < 0)
    *o++ = '-';
  size_t n = (size_t)(digits + sizeof digits - p);
  memcpy(o, p, n);
  o += n;
  *o++ = '.';
  if (frac == 0) {
    *o++ = '0';
  } else {
    for (unsigned div = 1000; frac; div /= 10) {
      *o++ = (char)('0' + frac / div);
      frac %= div;
    }
  }
  return (size_t)(o - out);
}

/* jsonp_dtostr of jansson's strconv.c as Debian and most distributions
 * build it (without its optional dtoa): "%.*g", the locale's decimal point
 * turned back into '.', ".0" added when the text would read as an integer,
 * and the exponent without '+' or leading zeros ("1e20", "1e-5"). Like
 * jansson, it takes the decimal point to be one byte. */
int mes_jw_real(struct mes_jw *w, double v, int precision) {
  if (w->rc)
    return w->rc;
  if (!isfinite(v) || precision < 0 || precision > 31)
    return fail(w, MES_EINTERNAL); /* json_real refuses NaN and infinities */
  char buf[64];
  size_t n = score_text(buf, v, precision);
  if (n)
    return put_value(w, buf, n);
  int r = snprintf(buf, sizeof buf - 2, "%.*g", precision ? precision : 17, v);
  if (r < 0 || (size_t)r >= sizeof buf - 2)
    return fail(w, MES_EINTERNAL);
  n = (size_t)r;
  bool point = false;
  char *e = NULL;
  for (size_t i = 0; i < n; i++) {
    char c = buf[i];
    if (c == 'e')
      e = buf + i;
    else if ((c < '0' || c > '9') && c != '-' && c != '+')
      buf[i] = '.', point = true;
  }
  if (!point && !e) {
    buf[n++] = '.';
    buf[n++] = '0';
  }
  if (e) {
    char *start = e + 1, *end = e + 2;
    if (*start == '-')
      start++;
    while (end < buf + n && *end == '0')
      end++;
    if (end != start) {
      memmove(start, end, (size_t)(buf + n - end));
      n -= (size_t)(end - start);
    }
  }
  return put_value(w, buf, n);
}

int mes_jw_bool(struct mes_jw *w, bool v) { return put_value(w, v ? "true" : "false", v ? 4 : 5); }

int mes_jw_null(struct mes_jw *w) { return put_value(w, "null", 4); }

int mes_jw_finish(const struct mes_jw *w) {
  if (w->rc)
    return w->rc;
  return w->done && w->depth == 0 ? MES_OK : MES_EINTERNAL;
}
