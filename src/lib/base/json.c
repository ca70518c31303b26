/* base/json — request parsing and declarative validation over jansson. */
#include "base/json.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/id.h"
#include "base/mtime.h"

#define FUTURE_SLACK_MS (5 * 60 * 1000)

/* What went wrong, in our words: jansson's own text names its flags
 * (JSON_ALLOW_NUL) and quotes the body ("near 'abc'"), and neither belongs
 * in a reply. Empty when there is nothing to add to "not valid JSON". */
static const char *parse_problem(const json_error_t *je) {
  switch (json_error_code(je)) {
  case json_error_premature_end_of_input:
    return ": it ends too soon";
  case json_error_end_of_input_expected:
    return ": there is more after the value";
  case json_error_null_character:
  case json_error_null_byte_in_key:
    return ": it holds a NUL character (\\u0000)";
  case json_error_numeric_overflow:
    return ": a number is too large";
  case json_error_stack_overflow:
    return ": it is nested too deeply";
  default:
    return "";
  }
}

/* ---------------------------------------------------------------- syntax alone */

/* jansson reports an allocation that fails inside its lexer as a syntax
 * error near the token being read, and leaves the error untouched after
 * some others. So when a body does not load, this tells whether the body is
 * at fault: the grammar of RFC 8259 with an object or array at the top (what
 * json_loadb accepts), checked without allocating. It runs only on that
 * failure path. Text jansson refuses for other reasons (UTF-8, NUL, numbers
 * too large, depth) is reported by jansson with its own code first. */
#define SYNTAX_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

static const char *syn_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static bool syn_digit(const char *p, const char *e) { return p < e && *p >= '0' && *p <= '9'; }

/* The code unit of the "\uXXXX" escape at p (at its backslash), or -1. */
static long syn_u4(const char *p, const char *e) {
  if (e - p < 6 || p[0] != '\\' || p[1] != 'u')
    return -1;
  long v = 0;
  for (int i = 2; i < 6; i++) {
    char ch = p[i];
    if (ch >= '0' && ch <= '9')
      v = v << 4 | (ch - '0');
    else if (ch >= 'a' && ch <= 'f')
      v = v << 4 | (ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F')
      v = v << 4 | (ch - 'A' + 10);
    else
      return -1;
  }
  return v;
}

/* p at the opening quote; the position after the closing one, or NULL.
 * Surrogates must pair, as jansson wants. */
static const char *syn_string(const char *p, const char *e) {
  for (p++; p < e; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '"')
      return p + 1;
    if (ch < 0x20)
      return NULL;
    if (ch != '\\')
      continue;
    if (p + 1 >= e)
      return NULL;
    if (p[1] == 'u') {
      long u = syn_u4(p, e);
      if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return NULL;
      if (u >= 0xD800 && u <= 0xDBFF) {
        long lo = syn_u4(p + 6, e);
        if (lo < 0xDC00 || lo > 0xDFFF)
          return NULL;
        p += 6;
      }
      p += 5;
    } else if (!p[1] || !strchr("\"\\/bfnrt", p[1])) {
      return NULL;
    } else {
      p++;
    }
  }
  return NULL;
}

static const char *syn_number(const char *p, const char *e) {
  if (p < e && *p == '-')
    p++;
  if (p < e && *p == '0')
    p++;
  else if (syn_digit(p, e))
    while (syn_digit(p, e))
      p++;
  else
    return NULL;
  if (p < e && *p == '.') {
    if (!syn_digit(++p, e))
      return NULL;
    while (syn_digit(p, e))
      p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-'))
      p++;
    if (!syn_digit(p, e))
      return NULL;
    while (syn_digit(p, e))
      p++;
  }
  return p;
}

static const char *syn_word(const char *p, const char *e, const char *w) {
  size_t n = strlen(w);
  return (size_t)(e - p) >= n && memcmp(p, w, n) == 0 ? p + n : NULL;
}

bool mes__json_syntax_ok(const char *text, size_t len) {
  const char *p = text, *e = text + len;
  unsigned char is_obj[SYNTAX_MAX_DEPTH / 8] = {0}; /* per open container: object (1) or array (0) */
  size_t depth = 0;
  enum { VALUE, KEY, AFTER } want = VALUE;
  p = syn_ws(p, e);
  if (p >= e || (*p != '{' && *p != '['))
    return false;
  for (;;) {
    p = syn_ws(p, e);
    if (want == AFTER) {
      if (depth == 0)
        return p == e;
      bool obj = is_obj[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
      if (p < e && *p == ',') {
        p++;
        want = obj ? KEY : VALUE;
      } else if (p < e && *p == (obj ? '}' : ']')) {
        p++;
        depth--;
      } else {
        return false;
      }
      continue;
    }
    if (p >= e)
      return false;
    if (want == KEY) {
      if (*p != '"' || !(p = syn_string(p, e)))
        return false;
      p = syn_ws(p, e);
      if (p >= e || *p != ':')
        return false;
      p++;
      want = VALUE;
      continue;
    }
    if (*p == '{' || *p == '[') {
      bool obj = *p == '{';
      if (depth == SYNTAX_MAX_DEPTH)
        return false;
      if (obj)
        is_obj[depth / 8] |= (unsigned char)(1u << (depth % 8));
      else
        is_obj[depth / 8] &= (unsigned char)~(1u << (depth % 8));
      depth++;
      p = syn_ws(p + 1, e);
      if (p < e && *p == (obj ? '}' : ']')) {
        p++;
        depth--;
        want = AFTER;
      } else {
        want = obj ? KEY : VALUE;
      }
      continue;
    }
    const char *next;
    if (*p == '"')
      next = syn_string(p, e);
    else if (*p == '-' || syn_digit(p, e))
      next = syn_number(p, e);
    else if (!(next = syn_word(p, e, "true")) && !(next = syn_word(p, e, "false")))
      next = syn_word(p, e, "null");
    if (!next)
      return false;
    p = next;
    want = AFTER;
  }
}

/* ---------------------------------------------------------------- request bodies */

int mes_json_parse_object(const char *body, size_t len, json_t **out, struct mes_err *err) {
  *out = NULL;
  if (!body || len == 0)
    return mes_err_set(err, MES_EEMPTY_BODY, NULL, NULL);
  json_error_t je;
  memset(&je, 0, sizeof je); /* some failures leave it untouched: then its code reads json_error_unknown */
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    enum json_error_code code = json_error_code(&je);
    if (code == json_error_invalid_utf8)
      return mes_err_set(err, MES_EBAD_UTF8, NULL, "The request body is not valid UTF-8.");
    if (code == json_error_duplicate_key)
      return mes_err_set(err, MES_EBAD_JSON, NULL,
                         "The request body names the same member twice (line %d, column %d).", je.line, je.column);
    if (code == json_error_out_of_memory ||
        ((code == json_error_unknown || code == json_error_invalid_syntax) && mes__json_syntax_ok(body, len)))
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    return mes_err_set(err, MES_EBAD_JSON, NULL, "The request body is not valid JSON (line %d, column %d)%s.",
                       je.line, je.column, parse_problem(&je));
  }
  if (!json_is_object(root)) {
    json_decref(root);
    return mes_err_set(err, MES_EWRONG_TYPE, "", "The request body must be a JSON object.");
  }
  *out = root;
  return MES_OK;
}

void mes_json_ptr_join(char *out, size_t cap, const char *base, const char *token) {
  size_t o = 0;
  for (const char *p = base; *p && o + 1 < cap; p++)
    out[o++] = *p;
  if (o + 1 < cap)
    out[o++] = '/';
  for (const char *p = token; *p && o + 2 < cap; p++) {
    if (*p == '~' || *p == '/') {
      out[o++] = '~';
      out[o++] = *p == '~' ? '0' : '1';
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

static const char *type_name(enum mes_jtype t) {
  switch (t) {
  case MES_J_STRING:
  case MES_J_ID:
    return "a string";
  case MES_J_INT:
    return "an integer";
  case MES_J_NUMBER:
    return "a number";
  case MES_J_BOOL:
    return "true or false";
  case MES_J_OBJECT:
    return "an object";
  case MES_J_ARRAY:
  case MES_J_IDS:
    return "an array";
  case MES_J_TS:
    return "an RFC 3339 string or epoch milliseconds";
  case MES_J_TEXT:
    return "a string or an object of language to string";
  case MES_J_ANY:
    break;
  }
  return "a value";
}

static int check_id(const json_t *v, const char *ptr, const char *what, struct mes_err *err) {
  if (!json_is_string(v))
    return mes_err_set(err, MES_EWRONG_TYPE, ptr, "%s must be a string.", what);
  int rc = mes_id_check(json_string_value(v), json_string_length(v));
  if (rc)
    return mes_err_set(err, rc, ptr, "%s must be 1 to 128 bytes of UTF-8 without control characters.", what);
  return MES_OK;
}

/* A field's JSON pointer, joined only when an error names it: mes_json_check
 * runs for every member of every event of a batch, and the happy path never
 * reads the pointer (bench/README.md, "Ingestion into the encrypted store"). */
struct lazy_ptr {
  const char *base;
  const char *name;
  bool joined;
  char buf[200];
};

static const char *lazy_ptr_get(struct lazy_ptr *lp) {
  if (!lp->joined) {
    mes_json_ptr_join(lp->buf, sizeof lp->buf, lp->base, lp->name);
    lp->joined = true;
  }
  return lp->buf;
}

/* Checks one present member; every error path names it through lp. */
static int check_one(const json_t *v, const struct mes_jfield *f, struct lazy_ptr *lp, struct mes_err *err) {
  switch (f->type) {
  case MES_J_ANY:
    return MES_OK;
  case MES_J_STRING: {
    if (!json_is_string(v))
      break;
    size_t n = json_string_length(v);
    if (strlen(json_string_value(v)) != n)
      return mes_err_set(err, MES_EINVALID_VALUE, lazy_ptr_get(lp), "Field %s must not contain NUL characters.",
                         f->name);
    if ((f->max && (int64_t)n > f->max) || (int64_t)n < f->min)
      return mes_err_set(err, MES_EOUT_OF_RANGE, lazy_ptr_get(lp), "Field %s must be %lld to %lld bytes long.",
                         f->name, (long long)f->min, (long long)f->max);
    return MES_OK;
  }
  case MES_J_ID: {
    /* The happy path formats nothing: this runs for every id of every event. */
    if (json_is_string(v) && mes_id_check(json_string_value(v), json_string_length(v)) == MES_OK)
      return MES_OK;
    char what[96];
    snprintf(what, sizeof what, "Field %s", f->name);
    return check_id(v, lazy_ptr_get(lp), what, err);
  }
  case MES_J_INT:
    if (!json_is_integer(v))
      break;
    if (json_integer_value(v) < f->min || json_integer_value(v) > f->max)
      return mes_err_set(err, MES_EOUT_OF_RANGE, lazy_ptr_get(lp), "Field %s must be between %lld and %lld.",
                         f->name, (long long)f->min, (long long)f->max);
    return MES_OK;
  case MES_J_NUMBER:
    return json_is_number(v)
               ? MES_OK
               : mes_err_set(err, MES_EWRONG_TYPE, lazy_ptr_get(lp), "Field %s must be a number.", f->name);
  case MES_J_BOOL:
    return json_is_boolean(v)
               ? MES_OK
               : mes_err_set(err, MES_EWRONG_TYPE, lazy_ptr_get(lp), "Field %s must be true or false.", f->name);
  case MES_J_OBJECT:
    return json_is_object(v)
               ? MES_OK
               : mes_err_set(err, MES_EWRONG_TYPE, lazy_ptr_get(lp), "Field %s must be an object.", f->name);
  case MES_J_ARRAY:
  case MES_J_IDS: {
    if (!json_is_array(v))
      break;
    if (f->max && (int64_t)json_array_size(v) > f->max)
      return mes_err_set(err, MES_EOUT_OF_RANGE, lazy_ptr_get(lp), "Field %s holds at most %lld entries.", f->name,
                         (long long)f->max);
    if (f->type == MES_J_IDS) {
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e) {
        if (json_is_string(e) && mes_id_check(json_string_value(e), json_string_length(e)) == MES_OK)
          continue;
        char p[200], idx[24], what[96];
        snprintf(idx, sizeof idx, "%zu", i);
        mes_json_ptr_join(p, sizeof p, lazy_ptr_get(lp), idx);
        snprintf(what, sizeof what, "Each entry of %s", f->name);
        return check_id(e, p, what, err);
      }
    }
    return MES_OK;
  }
  case MES_J_TS:
    if (json_is_string(v) || json_is_integer(v))
      return MES_OK; /* range and future checks need a clock: mes_json_ts */
    break;
  case MES_J_TEXT:
    if (json_is_string(v))
      return MES_OK;
    if (json_is_object(v) && json_object_size(v) > 0) {
      const char *k;
      json_t *e;
      json_object_foreach((json_t *)v, k, e) {
        if (!json_is_string(e)) {
          char p[200];
          mes_json_ptr_join(p, sizeof p, lazy_ptr_get(lp), k);
          return mes_err_set(err, MES_EWRONG_TYPE, p, "Each translation of %s must be a string.", f->name);
        }
      }
      return MES_OK;
    }
    break;
  }
  return mes_err_set(err, MES_EWRONG_TYPE, lazy_ptr_get(lp), "Field %s must be %s.", f->name, type_name(f->type));
}

int mes_json_check(const json_t *obj, const struct mes_jfield *fields, size_t n_fields, const char *ptr,
                   struct mes_err *err) {
  if (!json_is_object(obj))
    return mes_err_set(err, MES_EWRONG_TYPE, ptr, "Expected a JSON object here.");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    size_t i;
    for (i = 0; i < n_fields; i++)
      if (strcmp(fields[i].name, key) == 0)
        break;
    if (i == n_fields) {
      char p[200];
      mes_json_ptr_join(p, sizeof p, ptr, key);
      /* The member name is client text: keep it out of the sentence, the pointer says it. */
      return mes_err_set(err, MES_EUNKNOWN_FIELD, p, "This field is not part of the request shape.");
    }
  }
  for (size_t i = 0; i < n_fields; i++) {
    struct lazy_ptr lp; /* not zero-initialized: buf is written before it is read */
    lp.base = ptr;
    lp.name = fields[i].name;
    lp.joined = false;
    v = json_object_get(obj, fields[i].name);
    if (!v || json_is_null(v)) {
      if (fields[i].required)
        return mes_err_set(err, MES_EMISSING_FIELD, lazy_ptr_get(&lp), "Field %s is required.", fields[i].name);
      continue;
    }
    int rc = check_one(v, &fields[i], &lp, err);
    if (rc)
      return rc;
  }
  return MES_OK;
}

int mes_json_ts(const json_t *v, int64_t now_ms, int64_t *out_ms, const char *ptr, struct mes_err *err) {
  int64_t ms;
  if (json_is_integer(v)) {
    ms = json_integer_value(v);
    if (ms < 0 || ms > 253402300799999LL) /* up to 9999-12-31 */
      return mes_err_set(err, MES_EBAD_TS, ptr, NULL);
  } else if (json_is_string(v)) {
    if (mes_time_parse_rfc3339(json_string_value(v), json_string_length(v), &ms))
      return mes_err_set(err, MES_EBAD_TS, ptr, NULL);
  } else {
    return mes_err_set(err, MES_EBAD_TS, ptr, NULL);
  }
  if (ms > now_ms + FUTURE_SLACK_MS)
    return mes_err_set(err, MES_ETS_IN_FUTURE, ptr, NULL);
  *out_ms = ms;
  return MES_OK;
}

/* ---------------------------------------------------------------- dumps */

/* jansson 2.14 does not check the write of an object's key (dump.c, jansson
 * issue #655): when memory runs out there, json_dumps goes on and returns a
 * text with the key missing, which is not JSON. Through this sink every
 * write after a failed one fails too, so the write that follows the key
 * fails and the dump reports the error. */
struct dump_sink {
  struct mes_buf b;
  bool failed;
};

static int sink_write(const char *p, size_t n, void *ud) {
  struct dump_sink *s = ud;
  if (s->failed || mes_buf_append(&s->b, p, n) != MES_OK) {
    s->failed = true;
    return -1;
  }
  return 0;
}

char *mes_json_dumps(const json_t *v, size_t flags) {
  struct dump_sink s = {.failed = false};
  mes_buf_init(&s.b, SIZE_MAX);
  if (json_dump_callback(v, sink_write, &s, flags) != 0 || s.failed) {
    mes_buf_release(&s.b);
    return NULL;
  }
  return mes_buf_steal(&s.b);
}

char *mes_json_canonical(const json_t *v) {
  /* jansson's compact, sorted, non-ASCII-escaping output is RFC 8785 for the
   * values we sign (ASCII keys, strings, integers): keys sort by bytes, which
   * equals UTF-16 order for ASCII. Reals are excluded by contract. */
  return mes_json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

char *mes_json_dump(const json_t *v) {
  return mes_json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
}

json_t *mes_json_load_parts(const char *s, size_t len) {
  json_t *all = NULL;
  size_t at = 0;
  for (;;) {
    while (at < len && (s[at] == ' ' || s[at] == '\n' || s[at] == '\t' || s[at] == '\r'))
      at++;
    if (at == len)
      return all;
    json_error_t je;
    json_t *part = json_loadb(s + at, len - at, JSON_DISABLE_EOF_CHECK, &je);
    if (!json_is_object(part) || je.position <= 0 || (size_t)je.position > len - at ||
        (all && json_object_update(all, part))) {
      json_decref(part);
      json_decref(all);
      return NULL;
    }
    at += (size_t)je.position;
    if (all)
      json_decref(part);
    else
      all = part;
  }
}

int mes_json_ungroup(json_t *obj, const char *grouped, const char *flat, const char *list, const char *item) {
  const json_t *groups = json_object_get(obj, grouped);
  if (!groups)
    return MES_OK;
  if (!json_is_array(groups))
    return MES_EBAD_INPUT;
  json_t *out = json_array();
  int rc = out ? MES_OK : MES_ENOMEM;
  size_t gi;
  const json_t *g;
  json_array_foreach(groups, gi, g) {
    const json_t *values = json_object_get(g, list);
    if (rc || !json_is_object(g) || !json_is_array(values)) {
      rc = rc ? rc : MES_EBAD_INPUT;
      break;
    }
    size_t vi;
    const json_t *v;
    json_array_foreach(values, vi, v) {
      json_t *e = json_object();
      const char *k;
      const json_t *m;
      rc = e && !json_object_set_new(e, item, json_deep_copy(v)) ? MES_OK : MES_ENOMEM;
      json_object_foreach((json_t *)g, k, m) {
        if (!rc && strcmp(k, list) != 0 && strcmp(k, item) != 0 && json_object_set_new(e, k, json_deep_copy(m)))
          rc = MES_ENOMEM;
      }
      if (rc || json_array_append_new(out, e)) {
        json_decref(rc ? e : NULL);
        rc = MES_ENOMEM;
        break;
      }
    }
  }
  if (!rc && (json_object_set_new(obj, flat, out) || json_object_del(obj, grouped)))
    return MES_ENOMEM; /* out was taken by the set (jansson takes it even when it fails) */
  if (rc)
    json_decref(out);
  return rc;
}

const char *mes_json_str(const json_t *obj, const char *key, const char *fallback) {
  const json_t *v = json_object_get(obj, key);
  return json_is_string(v) ? json_string_value(v) : fallback;
}

int64_t mes_json_int(const json_t *obj, const char *key, int64_t fallback) {
  const json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? json_integer_value(v) : fallback;
}

bool mes_json_bool(const json_t *obj, const char *key, bool fallback) {
  const json_t *v = json_object_get(obj, key);
  return json_is_boolean(v) ? json_is_true(v) : fallback;
}
