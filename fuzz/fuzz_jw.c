/*
 * fuzz_jw — libFuzzer target for the streaming JSON writer (src/lib/base/jw.c)
 * that writes the replies of POST /v1/recommendations.
 *
 * The input drives a generator that builds one random value twice, with
 * the writer and as a json_t: objects, arrays, strings (raw bytes, or
 * pieces chosen to hit every escape, control characters, non-ASCII and
 * invalid UTF-8), integers, reals (raw doubles, and scores k/10000), true,
 * false, null, at a precision and under a buffer cap the input picks. Then:
 *   - what jansson refuses (json_stringn or a key on invalid UTF-8,
 *     json_real on NaN and infinities) the writer refuses too, and the
 *     other way round;
 *   - otherwise the writer's text is byte for byte what mes_json_dumps
 *     writes for the json_t (JSON_COMPACT, the same precision), or, under a
 *     cap the text exceeds, the writer fails with MES_EBODY_TOO_LARGE;
 *   - jansson parses the text back to a value json_equal to the json_t
 *     (reals exactly at precision 17, at lower ones to what jansson's own
 *     text parses to, when it does; keys holding NUL, which jansson's
 *     parser refuses, are checked by the bytes alone).
 * Seeds: fuzz/corpus/jw/, dictionary: fuzz/jw.dict.
 *
 *   ./fuzz_jw -dict=fuzz/jw.dict fuzz/corpus/jw
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/jw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DEPTH 10
#define MAX_NODES 400

struct gen {
  const uint8_t *p, *end;
  struct mes_jw *w;
  int precision;
  size_t nodes;
  bool refused;   /* jansson refused a value: the document ends there */
  bool nul_key;   /* a key holds NUL: the parser cannot read it back */
  char str[1024]; /* the string being made */
};

static unsigned byte(struct gen *g) { return g->p < g->end ? *g->p++ : 0; }

static uint64_t bytes8(struct gen *g) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | byte(g);
  return v;
}

/* Pieces that reach each branch of the escaping from one input byte. */
static const char *const pieces[] = {
    "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "a", " ", "\xc3\xa9", "\xe2\x82\xac",
    "\xf0\x9f\x98\x80", "\xc2\x85", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
    /* invalid: */
    "\xed\xa0\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
    "\xff", "\xfe", "\x80", "\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc3\x28"};
#define N_PIECES (sizeof pieces / sizeof *pieces)

/* A string in g->str (len bytes, may hold NUL): raw bytes, pieces, or NULs
 * among letters. */
static size_t make_string(struct gen *g) {
  unsigned mode = byte(g) % 3, n = byte(g) % 64;
  size_t len = 0;
  for (unsigned i = 0; i < n && g->p < g->end; i++) {
    unsigned b = byte(g);
    if (mode == 0) {
      g->str[len++] = (char)b;
    } else if (mode == 1) {
      const char *piece = pieces[b % N_PIECES];
      size_t k = strlen(piece);
      memcpy(g->str + len, piece, k);
      len += k;
    } else {
      g->str[len++] = b % 4 ? (char)('a' + b % 26) : '\0';
    }
  }
  return len;
}

/* A writer call that jansson refused the same value to must fail with rc,
 * unless the writer had failed before (its cap). */
static void must_fail(struct gen *g, int before, int rc) {
  if (before == MES_OK && g->w->rc != rc) {
    fprintf(stderr, "fuzz_jw: jansson refused a value, the writer gave %d, not %d\n", g->w->rc, rc);
    abort();
  }
  g->refused = true;
}

/* Invalid UTF-8 as jansson's dump meets it (json_stringn_nocheck): the
 * dump fails too. */
static void dump_must_fail(const char *s, size_t len) {
  json_t *a = json_array();
  if (!a || json_array_append_new(a, json_stringn_nocheck(s, len)))
    abort();
  char *text = mes_json_dumps(a, JSON_COMPACT);
  if (text) {
    fprintf(stderr, "fuzz_jw: jansson dumped a string json_stringn refused: %s\n", text);
    abort();
  }
  json_decref(a);
}

/* One value, written and returned as a json_t (new); NULL once refused. */
static json_t *value(struct gen *g, unsigned depth) {
  if (g->refused)
    return NULL;
  unsigned op = byte(g) % 10;
  if (++g->nodes > MAX_NODES || depth >= MAX_DEPTH || g->p >= g->end)
    op = op % 2; /* null or a boolean: the document closes */
  struct mes_jw *w = g->w;
  int before = w->rc;
  switch (op) {
  case 0:
    mes_jw_null(w);
    return json_null();
  case 1: {
    bool b = byte(g) & 1;
    mes_jw_bool(w, b);
    return json_boolean(b);
  }
  case 2: {
    int64_t v = (int64_t)bytes8(g);
    mes_jw_integer(w, v);
    return json_integer(v);
  }
  case 3:
  case 4: {
    double v;
    if (op == 3) {
      uint64_t u = bytes8(g);
      memcpy(&v, &u, sizeof v);
    } else { /* k / 10^4: a score as a reply shows it, or far beyond */
      unsigned shift = byte(g) % 48;
      int64_t k = (int64_t)(bytes8(g) >> (16 + shift)) * (byte(g) & 1 ? -1 : 1);
      v = (double)k / 10000.0;
    }
    mes_jw_real(w, v, g->precision);
    json_t *j = json_real(v);
    if (!j)
      must_fail(g, before, MES_EINTERNAL);
    return j;
  }
  case 5:
  case 6: {
    size_t len = make_string(g);
    mes_jw_stringn(w, g->str, len);
    json_t *j = json_stringn(g->str, len);
    if (!j) {
      dump_must_fail(g->str, len);
      must_fail(g, before, MES_EBAD_UTF8);
    }
    return j;
  }
  case 7: {
    json_t *a = json_array();
    mes_jw_array(w);
    unsigned n = byte(g) % 8;
    for (unsigned i = 0; i < n && !g->refused; i++) {
      json_t *v = value(g, depth + 1);
      if (v && json_array_append_new(a, v))
        abort();
    }
    mes_jw_array_end(w);
    return a;
  }
  default: {
    json_t *o = json_object();
    mes_jw_object(w);
    unsigned n = byte(g) % 8;
    for (unsigned i = 0; i < n && !g->refused; i++) {
      size_t len = make_string(g);
      if (json_object_getn(o, g->str, len))
        continue; /* a duplicate: jansson keeps one member where the text would hold two */
      before = w->rc;
      mes_jw_keyn(w, g->str, len);
      json_t *probe = json_stringn(g->str, len); /* keys pass the same UTF-8 check */
      if (!probe) {
        dump_must_fail(g->str, len);
        must_fail(g, before, MES_EBAD_UTF8);
        break;
      }
      json_decref(probe);
      if (memchr(g->str, '\0', len))
        g->nul_key = true;
      char key[sizeof g->str];
      memcpy(key, g->str, len);
      json_t *v = value(g, depth + 1);
      if (v && json_object_setn_new(o, key, len, v))
        abort();
    }
    mes_jw_object_end(w);
    return o;
  }
  }
}

static void fail_text(const char *what, const char *got, size_t got_len, const char *want) {
  fprintf(stderr, "fuzz_jw: %s\n  writer:  %.*s\n  jansson: %s\n", what, (int)got_len, got, want ? want : "(none)");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  /* The first byte picks the precision (half the time the replies', else
   * any, 0 being jansson's default, 17), the second the buffer's cap: small
   * ones make the writer stop part way. */
  int precision = data[0] < 128 ? MES_JW_REAL_PRECISION : data[0] % 32;
  size_t cap = data[1] < 64 ? (size_t)data[1] * 4 : (size_t)1 << 20;
  struct mes_buf b;
  mes_buf_init(&b, cap);
  struct mes_jw w;
  mes_jw_init(&w, &b);
  struct gen g = {.p = data + 2, .end = data + size, .w = &w, .precision = precision};
  json_t *root = value(&g, 0);
  int rc = mes_jw_finish(&w);
  if (g.refused) { /* checked at the refusal */
    json_decref(root);
    mes_buf_release(&b);
    return 0;
  }
  if (!root)
    abort();
  char *want = mes_json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));
  if (!want)
    abort();
  size_t want_len = strlen(want);
  if (rc == MES_EBODY_TOO_LARGE) {
    if (want_len <= cap)
      fail_text("the writer hit a cap its text fits in", b.data ? b.data : "", b.len, want);
  } else if (rc != MES_OK) {
    fail_text("the writer failed on a value jansson writes", b.data ? b.data : "", b.len, want);
  } else {
    if (b.len != want_len || memcmp(b.data, want, want_len) != 0)
      fail_text("different text", b.data, b.len, want);
    json_error_t je;
    json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!g.nul_key) {
      /* At precision 17 every double reads back as itself; below, as
       * jansson's own text of it reads (the same bytes, checked above),
       * which may not read at all: a double near DBL_MAX rounded to fewer
       * digits is beyond it ("1.79769313486232e308" at 15), and jansson's
       * parser refuses its own text. */
      bool exact = precision == 0 || precision == 17;
      json_t *like = exact ? json_incref(root) : json_loadb(want, want_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
      if (like ? !back || !json_equal(back, like) : back != NULL)
        fail_text(back ? "parsed back to another value" : je.text, b.data, b.len, want);
      json_decref(like);
    }
    json_decref(back);
  }
  free(want);
  json_decref(root);
  mes_buf_release(&b);
  return 0;
}
