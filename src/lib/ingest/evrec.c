/*
 * ingest/evrec — the codec of a stored event's sealed document (evrec.h):
 * version 1 written and read in place, version 0 (JSON) read by picking
 * the hot members out of the text, and the cold part opened for exports
 * and explanations.
 */
#include "ingest/evrec.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "crypto/crypto.h"

void mes_evrec_scratch_release(struct mes_evrec_scratch *sc) {
  if (sc->buf) {
    mes_wipe(sc->buf, sc->cap);
    free(sc->buf);
  }
  sc->buf = NULL;
  sc->cap = 0;
}

/* ---------------------------------------------------------------- version 1 */

static bool id_ok(const char *s, size_t len) {
  return s && len >= 1 && len <= MES_EVREC_ID_MAX && !memchr(s, 0, len);
}

static int put_id(struct mes_buf *b, const char *s, size_t len) {
  uint8_t n[2] = {(uint8_t)(len & 0xFF), (uint8_t)(len >> 8)};
  int rc = mes_buf_append(b, n, 2);
  if (!rc)
    rc = mes_buf_append(b, s, len + 1 /* the NUL */);
  return rc;
}

int mes_evrec_encode(struct mes_buf *b, const struct mes_evrec *r) {
  mes_buf_reset(b);
  if ((r->item && !id_ok(r->item, r->item_len)) || (r->event_id && !id_ok(r->event_id, r->event_id_len)) ||
      r->channel < -1 || r->channel >= MES_CH_N || (r->cold.len && r->cold.ptr[0] != '{'))
    return MES_EINTERNAL;
  uint8_t hdr[3] = {MES_EVREC_V1, 0, r->channel < 0 ? MES_EVREC_NO_CHANNEL : (uint8_t)r->channel};
  hdr[1] = (uint8_t)((r->item ? MES_EVREC_F_ITEM : 0) | (r->event_id ? MES_EVREC_F_EVENT_ID : 0) |
                     (r->cold.len ? MES_EVREC_F_COLD : 0));
  int rc = mes_buf_append(b, hdr, sizeof hdr);
  if (!rc && r->item) {
    /* put_id writes the NUL after the bytes: item_len bytes then '\0' must be readable */
    rc = r->item[r->item_len] == '\0' ? put_id(b, r->item, r->item_len) : MES_EINTERNAL;
  }
  if (!rc && r->event_id)
    rc = r->event_id[r->event_id_len] == '\0' ? put_id(b, r->event_id, r->event_id_len) : MES_EINTERNAL;
  if (!rc && r->cold.len)
    rc = mes_buf_append(b, r->cold.ptr, r->cold.len);
  if (rc)
    mes_buf_reset(b);
  return rc;
}

/* Reads one id at *at (length, bytes, NUL): nonzero when malformed. */
static int get_id(const uint8_t *pt, size_t len, size_t *at, const char **s, size_t *n) {
  if (len - *at < 2)
    return -1;
  size_t l = (size_t)pt[*at] | (size_t)pt[*at + 1] << 8;
  size_t start = *at + 2;
  if (l < 1 || l > MES_EVREC_ID_MAX || len - start < l + 1 || pt[start + l] != 0 || memchr(pt + start, 0, l))
    return -1;
  *s = (const char *)pt + start;
  *n = l;
  *at = start + l + 1;
  return 0;
}

static int decode_v1(const uint8_t *pt, size_t len, struct mes_evrec *r) {
  if (len < 3)
    return MES_EINTERNAL;
  uint8_t flags = pt[1], ch = pt[2];
  if (flags & ~(MES_EVREC_F_ITEM | MES_EVREC_F_EVENT_ID | MES_EVREC_F_COLD))
    return MES_EINTERNAL;
  if (ch != MES_EVREC_NO_CHANNEL && ch >= MES_CH_N)
    return MES_EINTERNAL;
  r->channel = ch == MES_EVREC_NO_CHANNEL ? -1 : ch;
  size_t at = 3;
  if ((flags & MES_EVREC_F_ITEM) && get_id(pt, len, &at, &r->item, &r->item_len))
    return MES_EINTERNAL;
  if ((flags & MES_EVREC_F_EVENT_ID) && get_id(pt, len, &at, &r->event_id, &r->event_id_len))
    return MES_EINTERNAL;
  if (flags & MES_EVREC_F_COLD) {
    if (at >= len || pt[at] != '{')
      return MES_EINTERNAL;
    r->cold = (struct mes_slice){(const char *)pt + at, len - at};
  } else if (at != len) {
    return MES_EINTERNAL;
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- version 0 (JSON) */

/* Skips white space the writer never emitted but a reader should tolerate. */
static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

/* p at the opening quote: the position after the closing one, or NULL. */
static const char *skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\')
      p++;
    else if (*p == '"')
      return p + 1;
  }
  return NULL;
}

/* Like skip_string, for a member's name: NULL also when it holds an escape.
 * The writer never escaped a name, and a name is compared as written. */
static const char *skip_name(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\')
      return NULL;
    if (*p == '"')
      return p + 1;
  }
  return NULL;
}

/* Skips one value of any kind (nested objects and arrays counted). */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  while (p < end) {
    char ch = *p;
    if (ch == '"') {
      if (!(p = skip_string(p, end)))
        return NULL;
      if (depth == 0)
        return p;
      continue;
    }
    if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      if (depth == 0)
        return p; /* the end of the enclosing object: a scalar just ended */
      if (--depth == 0)
        return p + 1;
    } else if (ch == ',' && depth == 0) {
      return p;
    }
    p++;
  }
  return depth == 0 ? p : NULL;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static int read_u4(const char *p, const char *end, uint32_t *u) {
  if (end - p < 4)
    return -1;
  *u = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0)
      return -1;
    *u = *u << 4 | (uint32_t)h;
  }
  return 0;
}

/* Decodes the JSON string at p (opening quote) into out (NUL-terminated;
 * UTF-8 output is never longer than the escaped input, so out needs
 * end - p bytes). Returns the position after the closing quote, or NULL
 * when malformed. */
static const char *decode_string(const char *p, const char *end, char *out, size_t *len) {
  size_t o = 0;
  for (p++; p < end; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '"') {
      out[o] = '\0';
      *len = o;
      return p + 1;
    }
    if (ch < 0x20)
      return NULL; /* raw control characters (and NUL) are not JSON: the writer escaped them */
    if (ch != '\\') {
      out[o++] = (char)ch;
      continue;
    }
    if (++p >= end)
      return NULL;
    uint32_t u;
    switch (*p) {
    case '"': case '\\': case '/': out[o++] = *p; continue;
    case 'b': out[o++] = '\b'; continue;
    case 'f': out[o++] = '\f'; continue;
    case 'n': out[o++] = '\n'; continue;
    case 'r': out[o++] = '\r'; continue;
    case 't': out[o++] = '\t'; continue;
    case 'u':
      if (read_u4(p + 1, end, &u))
        return NULL;
      p += 4;
      if (u >= 0xD800 && u < 0xDC00) { /* a surrogate pair */
        uint32_t lo;
        if (end - p < 7 || p[1] != '\\' || p[2] != 'u' || read_u4(p + 3, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
          return NULL;
        p += 6;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
      } else if (u >= 0xDC00 && u < 0xE000) {
        return NULL;
      }
      if (u == 0)
        return NULL; /* ids never hold NUL, and readers take them as C strings */
      if (u < 0x80) {
        out[o++] = (char)u;
      } else if (u < 0x800) {
        out[o++] = (char)(0xC0 | u >> 6);
        out[o++] = (char)(0x80 | (u & 0x3F));
      } else if (u < 0x10000) {
        out[o++] = (char)(0xE0 | u >> 12);
        out[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
        out[o++] = (char)(0x80 | (u & 0x3F));
      } else {
        out[o++] = (char)(0xF0 | u >> 18);
        out[o++] = (char)(0x80 | ((u >> 12) & 0x3F));
        out[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
        out[o++] = (char)(0x80 | (u & 0x3F));
      }
      continue;
    default:
      return NULL;
    }
  }
  return NULL;
}

/* Picks "item", "channel" and "event_id" out of a version 0 document
 * without building it: walks the top-level members and skips every other
 * value. The strings are decoded into sc: the item into its first half,
 * the event_id into its second. */
static int decode_v0(const uint8_t *pt, size_t len, struct mes_evrec_scratch *sc, struct mes_evrec *r) {
  const char *p = (const char *)pt, *end = p + len;
  size_t half = len + 1;
  if (half > SIZE_MAX / 2)
    return MES_EINTERNAL;
  if (2 * half > sc->cap) {
    char *n = malloc(2 * half);
    if (!n)
      return MES_ENOMEM;
    mes_evrec_scratch_release(sc);
    sc->buf = n;
    sc->cap = 2 * half;
  }
  p = skip_ws(p, end);
  if (p >= end || *p != '{')
    return MES_EINTERNAL;
  r->cold = (struct mes_slice){(const char *)pt, len};
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}')
    return skip_ws(p + 1, end) == end ? MES_OK : MES_EINTERNAL;
  while (p < end) {
    if (*p != '"')
      return MES_EINTERNAL;
    const char *k = p + 1;
    const char *kend = skip_name(p, end);
    if (!kend)
      return MES_EINTERNAL;
    size_t klen = (size_t)(kend - 1 - k);
    p = skip_ws(kend, end);
    if (p >= end || *p != ':')
      return MES_EINTERNAL;
    p = skip_ws(p + 1, end);
    if (p >= end)
      return MES_EINTERNAL;
    if (klen == 4 && memcmp(k, "item", 4) == 0 && *p == '"') {
      if (!(p = decode_string(p, end, sc->buf, &r->item_len)) || r->item_len == 0)
        return MES_EINTERNAL; /* ids are never empty */
      r->item = sc->buf;
    } else if (klen == 8 && memcmp(k, "event_id", 8) == 0 && *p == '"') {
      if (!(p = decode_string(p, end, sc->buf + half, &r->event_id_len)) || r->event_id_len == 0)
        return MES_EINTERNAL;
      r->event_id = sc->buf + half;
    } else if (klen == 7 && memcmp(k, "channel", 7) == 0 && *p == '"') {
      const char *v = p + 1;
      if (!(p = skip_string(p, end)))
        return MES_EINTERNAL;
      r->channel = mes_channel_parse(v, (size_t)(p - 1 - v));
    } else if (!(p = skip_value(p, end))) {
      return MES_EINTERNAL;
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      continue;
    }
    if (p >= end || *p != '}')
      return MES_EINTERNAL;
    return skip_ws(p + 1, end) == end ? MES_OK : MES_EINTERNAL; /* nothing after the object */
  }
  return MES_EINTERNAL;
}

int mes_evrec_decode(const uint8_t *pt, size_t len, struct mes_evrec_scratch *sc, struct mes_evrec *r) {
  r->channel = -1;
  r->item = r->event_id = NULL;
  r->item_len = r->event_id_len = 0;
  r->cold = (struct mes_slice){NULL, 0};
  if (len > 0 && pt[0] == MES_EVREC_V1)
    return decode_v1(pt, len, r);
  return decode_v0(pt, len, sc, r);
}

/* ---------------------------------------------------------------- the cold part */

int mes_evrec_cold_open(const struct mes_evrec *r, json_t **out) {
  *out = NULL;
  if (!r->cold.len) {
    *out = json_object();
    return *out ? MES_OK : MES_ENOMEM;
  }
  json_error_t je;
  json_t *v = json_loadb(r->cold.ptr, r->cold.len, 0, &je);
  if (!v)
    return json_error_code(&je) == json_error_out_of_memory ? MES_ENOMEM : MES_EINTERNAL;
  if (!json_is_object(v)) {
    json_decref(v);
    return MES_EINTERNAL;
  }
  *out = v;
  return MES_OK;
}

const char *mes_evrec_shown_id(const struct mes_evrec *r, char buf[32]) {
  if (r->event_id)
    return r->event_id;
  snprintf(buf, 32, MES_EVREC_ROWID_PREFIX "%" PRId64, r->id);
  return buf;
}

/* Sets member key of out to cold's member of that name, when present. */
static int copy_member(json_t *out, const json_t *cold, const char *key, bool empty_object) {
  json_t *v = json_object_get(cold, key);
  if (v)
    return json_object_set(out, key, v);
  return empty_object ? json_object_set_new(out, key, json_object()) : 0;
}

int mes_evrec_json(const struct mes_evrec *r, const struct mes_policy *p, json_t **out) {
  *out = NULL;
  json_t *cold = NULL;
  int rc = mes_evrec_cold_open(r, &cold);
  if (rc)
    return rc;
  char ts[32], idbuf[32];
  mes_time_format(r->ts_ms, ts);
  const char *type = r->type >= 0 && (size_t)r->type < p->n_event_types ? p->event_types[r->type].name : "unknown";
  json_t *o = json_object();
  int bad = !o;
  if (!bad) {
    bad |= json_object_set_new(o, "event_id", json_string(mes_evrec_shown_id(r, idbuf)));
    bad |= json_object_set_new(o, "type", json_string(type));
    if (r->item)
      bad |= json_object_set_new(o, "item", json_stringn(r->item, r->item_len));
    if (r->channel >= 0 && r->channel < MES_CH_N)
      bad |= json_object_set_new(o, "channel", json_string(mes_channel_name((enum mes_channel)r->channel)));
    bad |= json_object_set_new(o, "ts", json_string(ts));
    bad |= json_object_set_new(o, "source", json_string(mes_source_name(r->source)));
    bad |= copy_member(o, cold, "properties", true);
    bad |= copy_member(o, cold, "context", true);
    bad |= copy_member(o, cold, "query", false);
  }
  json_decref(cold);
  if (bad) {
    json_decref(o);
    return MES_ENOMEM;
  }
  *out = o;
  return MES_OK;
}
