/* base/id — UTF-8 validation and id rules. */
#include "base/id.h"

#include "base/err.h"

bool mes_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= len)
      return false;
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

int mes_id_check(const char *s, size_t len) {
  if (len == 0 || len > MES_ID_MAX)
    return MES_EINVALID_ID;
  if (!mes_utf8_valid(s, len))
    return MES_EBAD_UTF8;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7F)
      return MES_EINVALID_ID;
    /* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F. */
    if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F)
      return MES_EINVALID_ID;
  }
  return MES_OK;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long mes_url_decode(const char *s, size_t len, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= len)
        return -1;
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0)
        return -1;
      c = (char)(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || o + 1 >= cap)
      return -1;
    out[o++] = c;
  }
  out[o] = '\0';
  return (long)o;
}
