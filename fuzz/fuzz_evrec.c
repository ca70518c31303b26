/*
 * fuzz_evrec — libFuzzer target for the codec of stored events
 * (src/lib/ingest/evrec.c), the reader of every sealed event document.
 *
 * The first input byte picks a mode:
 *   even: the rest is a document to decode, of either version. It never
 *         crashes nor reads outside the input; when it decodes, the item
 *         and event_id are NUL-terminated strings of their length without
 *         a NUL inside, the channel is -1 or a known one, the cold part
 *         lies inside the input; a version 1 document encodes back to the
 *         same bytes; a version 0 one that jansson also parses has the
 *         item, event_id and channel jansson reads; opening the cold part
 *         and the API form never crash.
 *   odd:  the rest drives a record (channel, item, event_id, a cold part
 *         made by jansson from input bytes) that encodes, and decodes
 *         back to the same fields.
 * Seeds: fuzz/corpus/evrec/, dictionary: fuzz/evrec.dict.
 *
 *   ./fuzz_evrec -dict=fuzz/evrec.dict fuzz/corpus/evrec
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "ingest/evrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mes_policy *policy(void) {
  static struct mes_policy *p;
  if (!p) {
    struct mes_err err;
    const char *yaml = mes_policy_example();
    if (mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &p, &err) != MES_OK)
      abort();
  }
  return p;
}

static void check_id(const char *s, size_t len) {
  if (!s)
    return;
  if (len < 1 || s[len] != '\0' || memchr(s, 0, len))
    abort();
}

static void check_same_string(const json_t *o, const char *key, const char *s, size_t len) {
  const json_t *v = json_object_get(o, key);
  if (!json_is_string(v))
    return; /* the codec skips a member of another type; so does its reader */
  if (!s || json_string_length(v) != len || memcmp(json_string_value(v), s, len) != 0)
    abort();
}

static void decode_one(const uint8_t *doc, size_t len) {
  struct mes_evrec r = {.id = 1, .type = 0, .ts_ms = 1795208645000LL};
  struct mes_evrec_scratch sc = {0};
  if (mes_evrec_decode(doc, len, &sc, &r) == MES_OK) {
    check_id(r.item, r.item_len);
    check_id(r.event_id, r.event_id_len);
    if (r.channel < -1 || r.channel >= MES_CH_N)
      abort();
    if (r.cold.len && (r.cold.ptr < (const char *)doc || r.cold.ptr + r.cold.len > (const char *)doc + len))
      abort();
    if (len && doc[0] == MES_EVREC_V1) {
      struct mes_buf b;
      mes_buf_init(&b, 1 << 20);
      if (mes_evrec_encode(&b, &r) != MES_OK || b.len != len || memcmp(b.data, doc, len) != 0)
        abort();
      mes_buf_release(&b);
    } else {
      json_t *o = json_loadb((const char *)doc, len, 0, NULL);
      if (json_is_object(o)) {
        check_same_string(o, "item", r.item, r.item_len);
        check_same_string(o, "event_id", r.event_id, r.event_id_len);
        const json_t *ch = json_object_get(o, "channel");
        if (json_is_string(ch) && mes_channel_parse(json_string_value(ch), json_string_length(ch)) != r.channel)
          abort();
      }
      json_decref(o);
    }
    json_t *shown = NULL;
    mes_evrec_json(&r, policy(), &shown);
    json_decref(shown);
  }
  mes_evrec_scratch_release(&sc);
}

/* An id of 1..n input bytes (NUL replaced), into buf (NUL-terminated). */
static const char *take_id(const uint8_t **p, const uint8_t *end, char *buf, size_t cap, size_t *len) {
  if (*p >= end || !(**p & 1)) {
    if (*p < end)
      (*p)++;
    *len = 0;
    return NULL;
  }
  size_t n = (size_t)(*(*p)++ >> 1) + 1;
  if (n > (size_t)(end - *p))
    n = (size_t)(end - *p);
  if (n == 0 || n >= cap) {
    *len = 0;
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    buf[i] = (*p)[i] ? (char)(*p)[i] : 'x';
  buf[n] = '\0';
  *p += n;
  *len = n;
  return buf;
}

static void round_trip(const uint8_t *p, size_t size) {
  const uint8_t *end = p + size;
  char item[256], eid[256];
  struct mes_evrec in = {0};
  in.channel = p < end ? (int)(*p++ % (MES_CH_N + 1)) - 1 : -1;
  in.item = take_id(&p, end, item, sizeof item, &in.item_len);
  in.event_id = take_id(&p, end, eid, sizeof eid, &in.event_id_len);
  /* the cold part: the rest as a string property, written by jansson (NUL
   * replaced: the API's parser refuses it, so no stored property holds one) */
  char *cold = NULL, rest[4096];
  size_t n_rest = (size_t)(end - p) < sizeof rest ? (size_t)(end - p) : sizeof rest;
  for (size_t i = 0; i < n_rest; i++)
    rest[i] = p[i] ? (char)p[i] : ' ';
  if (n_rest) {
    json_t *o = json_pack("{s:{s:s%}}", "properties", "p", rest, n_rest);
    cold = o ? json_dumps(o, JSON_COMPACT) : NULL; /* NULL: not UTF-8 */
    json_decref(o);
  }
  if (cold)
    in.cold = (struct mes_slice){cold, strlen(cold)};
  struct mes_buf b;
  mes_buf_init(&b, 1 << 20);
  if (mes_evrec_encode(&b, &in) != MES_OK)
    abort();
  struct mes_evrec out;
  struct mes_evrec_scratch sc = {0};
  if (mes_evrec_decode((const uint8_t *)b.data, b.len, &sc, &out) != MES_OK || out.channel != in.channel ||
      (in.item == NULL) != (out.item == NULL) || (in.event_id == NULL) != (out.event_id == NULL) ||
      out.item_len != in.item_len || out.event_id_len != in.event_id_len || out.cold.len != in.cold.len ||
      (in.item && memcmp(in.item, out.item, in.item_len)) ||
      (in.event_id && memcmp(in.event_id, out.event_id, in.event_id_len)) ||
      (in.cold.len && memcmp(in.cold.ptr, out.cold.ptr, in.cold.len)))
    abort();
  json_t *opened = NULL;
  if (in.cold.len && mes_evrec_cold_open(&out, &opened) != MES_OK)
    abort();
  json_decref(opened);
  mes_evrec_scratch_release(&sc);
  mes_buf_release(&b);
  free(cold);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  if (data[0] & 1)
    round_trip(data + 1, size - 1);
  else
    decode_one(data + 1, size - 1);
  return 0;
}
