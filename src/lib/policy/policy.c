/*
 * policy — loading mesura.yaml into a struct mes_policy, and freeing it
 * (the lookups every module uses afterwards are lookup.c's).
 *
 * The file is read once with libyaml's document loader, which keeps the line
 * of every node, and then walked against the schema of schema.c: each row
 * says what a key accepts and where its value goes. Every mistake becomes
 * MES_EBAD_POLICY with "FILE:LINE: sentence". Why not libcyaml, the
 * field's typed loader: its schemas name every key up front, so it cannot
 * read the contract's mappings keyed by the brand's own names (purposes,
 * event_types, categories); for such files libyaml itself is the tool. And
 * the contract promises a line for every refusal, while libcyaml (1.3.1 in
 * Debian 12) gives lines only as text in its log's backtrace, for the node it
 * was on (an unknown key is placed on the line of the value before it), and
 * none for checks made after loading (an event type naming a purpose the file
 * does not declare), since the structs it fills keep no positions. So one
 * walker over libyaml nodes does all sections alike.
 *
 * Names become small integers here: purposes and event types are indexes,
 * purpose sets bitmasks, channels and languages enums. The hot path never
 * compares strings again.
 */
#include "policy/policy_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "base/id.h"
#include "base/mtime.h"

#define POLICY_MAX_BYTES (1024 * 1024) /* a policy is a page or two; refuse anything huge */
#define TEXT_MAX_BYTES 4000            /* one description or label */
#define STR_MAX_BYTES 128              /* site, policy_version */
#define NAMES_MAX 256                  /* properties of one event type */

/* Loader state for one file. */
struct ld {
  const char *name;     /* file name for messages (borrowed) */
  yaml_document_t *doc; /* borrowed */
  unsigned char *seen;  /* one flag per node: a node reached twice came through an alias */
  struct mes_policy *p; /* being filled */
  struct mes_err *err;
  char path[200]; /* dotted path of the key being read: "guardrails.frequency_cap" */
  int key_line;   /* line of the key whose value is being read */
};

/* ------------------------------------------------------------------------ */
/* Sentences                                                                */

static int fail_text(const char *name, int line, const char *sentence, struct mes_err *err) {
  /* A long path would cut the sentence short: then the file's base name is
   * enough to find it. Measuring first, rather than formatting into a scratch
   * buffer that may be cut, keeps -Wformat-truncation (on at -O3) satisfied. */
  int n = snprintf(NULL, 0, "%s:%d: %s", name, line, sentence);
  if (n < 0 || (size_t)n >= sizeof err->msg) {
    const char *base = strrchr(name, '/');
    if (base)
      name = base + 1;
  }
  return mes_err_set(err, MES_EBAD_POLICY, NULL, "%s:%d: %s", name, line, sentence);
}

static int fail(struct ld *L, int line, const char *fmt, ...) MES_PRINTF(3, 4);
static int fail(struct ld *L, int line, const char *fmt, ...) {
  char sentence[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sentence, sizeof sentence, fmt, ap);
  va_end(ap);
  return fail_text(L->name, line, sentence, L->err);
}

/* A user's text made safe to quote in a message: at most 40 bytes, cut on a
 * character boundary, control characters and broken UTF-8 shown as '?'. */
struct quoted {
  char s[48];
};

static struct quoted quote(const char *s, size_t len) {
  struct quoted q = {{0}};
  size_t n = len > 40 ? 40 : len;
  if (n < len)
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    q.s[i] = (char)(c < 0x20 || c == 0x7F ? '?' : c);
  }
  if (!mes_utf8_valid(q.s, n))
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)q.s[i] >= 0x80)
        q.s[i] = '?';
  if (n < len) {
    memcpy(q.s + n, "...", 3);
    n += 3;
  }
  q.s[n] = '\0';
  return q;
}

struct quoted_list {
  char s[120];
};

/* "a, b or c" from a NULL-terminated list. */
static struct quoted_list join_choices(const char *const *choices) {
  struct quoted_list out = {{0}};
  size_t n = 0, k = 0;
  while (choices[n])
    n++;
  size_t at = 0;
  for (k = 0; k < n && at < sizeof out.s; k++) {
    const char *sep = k == 0 ? "" : k + 1 == n ? " or " : ", ";
    int w = snprintf(out.s + at, sizeof out.s - at, "%s%s", sep, choices[k]);
    if (w < 0)
      break;
    at += (size_t)w;
  }
  return out;
}

static const char *where(const struct ld *L) { return L->path[0] ? L->path : "the top level"; }

static size_t path_push(struct ld *L, const char *key, size_t len) {
  size_t old = strlen(L->path);
  snprintf(L->path + old, sizeof L->path - old, "%s%s", old ? "." : "", quote(key, len).s);
  return old;
}

static void path_pop(struct ld *L, size_t old) { L->path[old] = '\0'; }

/* ------------------------------------------------------------------------ */
/* Nodes                                                                    */

static int line_of(const yaml_node_t *n) {
  return n->start_mark.line >= INT_MAX ? INT_MAX : (int)n->start_mark.line + 1;
}

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static size_t slen(const yaml_node_t *n) { return n->data.scalar.length; }

static bool seq(const yaml_node_t *n, const char *lit) {
  size_t l = strlen(lit);
  return slen(n) == l && memcmp(sval(n), lit, l) == 0;
}

static bool is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  return seq(n, "") || seq(n, "~") || seq(n, "null") || seq(n, "Null") || seq(n, "NULL");
}

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_MAPPING_NODE:
    return "a mapping (key: value lines)";
  case YAML_SEQUENCE_NODE:
    return "a list";
  default:
    return "a single value";
  }
}

static yaml_node_t *node(const struct ld *L, int i) { return yaml_document_get_node(L->doc, i); }

/* Marks n as read. YAML aliases (*name) make one node appear in two places; a
 * second visit means one, and is refused so that a tiny file cannot expand
 * into an enormous policy. */
static int visit(struct ld *L, yaml_node_t *n) {
  size_t i = (size_t)(n - L->doc->nodes.start);
  if (L->seen[i]) /* the node sits where its anchor is; the alias is at or after the key being read */
    return fail(L, line_of(n) > L->key_line ? line_of(n) : L->key_line,
                "%s repeats an earlier part with an alias (*name); write it out in full, as mesura does not "
                "follow YAML anchors and aliases.",
                where(L));
  L->seen[i] = 1;
  return MES_OK;
}

static char *dup_bytes(const char *s, size_t len) {
  char *d = malloc(len + 1);
  if (d) {
    memcpy(d, s, len);
    d[len] = '\0';
  }
  return d;
}

static int nomem(struct mes_err *err) {
  return mes_err_set(err, MES_ENOMEM, NULL, "There was not enough memory to load the policy.");
}

/* Text values: valid UTF-8, no NUL, no control characters except, where
 * allowed, line breaks and tabs (folded descriptions end in a newline). */
static int check_text(struct ld *L, const yaml_node_t *n, size_t max, bool multiline) {
  const char *s = sval(n);
  size_t len = slen(n);
  if (len > max)
    return fail(L, line_of(n), "%s is %zu bytes long; it may be at most %zu.", where(L), len, max);
  if (!mes_utf8_valid(s, len))
    return fail(L, line_of(n), "%s is not valid UTF-8 text.", where(L));
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || c == 0x7F)
      return fail(L, line_of(n), "%s contains a control character; only plain text is allowed.", where(L));
  }
  return MES_OK;
}

/* ------------------------------------------------------------------------ */
/* Storing values at the schema's offsets                                  */

/* Stores a small non-negative value into a bool, int, enum or uint32_t member. */
static void put_int(void *base, const struct mes__pfield *f, uint32_t v) {
  char *dst = (char *)base + f->off;
  if (f->size == sizeof(bool)) {
    bool b = v != 0;
    memcpy(dst, &b, sizeof b);
  } else if (f->size == sizeof(uint32_t)) { /* int, enums (all values >= 0), uint32_t masks */
    memcpy(dst, &v, sizeof v);
  }
}

static void put_ptr(void *base, size_t off, void *v) { memcpy((char *)base + off, &v, sizeof v); }
static void put_size(void *base, size_t off, size_t v) { memcpy((char *)base + off, &v, sizeof v); }

static int choice_index(const char *const *choices, const yaml_node_t *n) {
  for (int i = 0; choices[i]; i++)
    if (seq(n, choices[i]))
      return i;
  return -1;
}

/* ------------------------------------------------------------------------ */
/* The walker                                                               */

static int walk_map(struct ld *L, const struct mes__pfield *fields, yaml_node_t *n, int line, void *base);

static int need_scalar(struct ld *L, const yaml_node_t *v, const char *what) {
  if (v->type == YAML_SCALAR_NODE)
    return MES_OK;
  return fail(L, line_of(v), "%s must be %s, not %s.", where(L), what, node_kind(v));
}

static int need_list(struct ld *L, const yaml_node_t *v, const char *example) {
  if (v->type == YAML_SEQUENCE_NODE)
    return MES_OK;
  return fail(L, line_of(v), "%s must be a list, such as %s; it is %s.", where(L), example, node_kind(v));
}

static int walk_int(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  int rc = need_scalar(L, v, "a whole number");
  if (rc)
    return rc;
  int example = f->dflt > 0 ? f->dflt : 30;
  const char *s = sval(v);
  size_t len = slen(v), i = 0;
  bool neg = false;
  if (len && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  long long x = 0;
  bool digits = i < len && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  for (; digits && i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      digits = false;
    else if (x <= INT_MAX)
      x = x * 10 + (s[i] - '0');
  }
  if (!digits)
    return fail(L, line_of(v), "%s must be a whole number, such as %d; '%s' is not.", where(L), example,
                quote(s, len).s);
  if (neg || (x == 0 && !f->zero_ok))
    return fail(L, line_of(v), "%s must be a %s whole number, such as %d; it cannot be %s.", where(L),
                f->zero_ok ? "non-negative" : "positive", example, quote(s, len).s);
  if (x > f->max)
    return fail(L, line_of(v), "%s may be at most %d; %s is too large.", where(L), f->max, quote(s, len).s);
  put_int(base, f, (uint32_t)x);
  return MES_OK;
}

static int walk_bool(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  int rc = need_scalar(L, v, "true or false");
  if (rc)
    return rc;
  bool plain = v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (plain && (seq(v, "true") || seq(v, "True") || seq(v, "TRUE")))
    put_int(base, f, 1);
  else if (plain && (seq(v, "false") || seq(v, "False") || seq(v, "FALSE")))
    put_int(base, f, 0);
  else
    return fail(L, line_of(v), "%s must be true or false; '%s' is not.", where(L), quote(sval(v), slen(v)).s);
  return MES_OK;
}

static int walk_choice(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  int rc = need_scalar(L, v, join_choices(f->choices).s);
  if (rc)
    return rc;
  int i = choice_index(f->choices, v);
  if (i < 0)
    return fail(L, line_of(v), "%s must be %s; '%s' is not.", where(L), join_choices(f->choices).s,
                quote(sval(v), slen(v)).s);
  put_int(base, f, (uint32_t)i);
  return MES_OK;
}

static int walk_choices(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  uint32_t mask = 0;
  if (is_null(v))
    goto done;
  int rc = need_list(L, v, f->choices == mes__lang_names ? "[en, es]" : "[web, app]");
  if (rc)
    return rc;
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
    yaml_node_t *item = node(L, *it);
    if ((rc = visit(L, item)) || (rc = need_scalar(L, item, "a list of names")))
      return rc;
    int i = choice_index(f->choices, item);
    if (i < 0)
      return fail(L, line_of(item), "'%s' in %s is not one of %s.", quote(sval(item), slen(item)).s, where(L),
                  join_choices(f->choices).s);
    mask |= 1u << i;
  }
done:
  put_int(base, f, mask);
  return MES_OK;
}

static int walk_names(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  if (is_null(v))
    return MES_OK;
  int rc = need_list(L, v, "[price, quantity]");
  if (rc)
    return rc;
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  if (n > NAMES_MAX)
    return fail(L, line_of(v), "%s lists %zu names; at most %d are allowed.", where(L), n, NAMES_MAX);
  if (n == 0)
    return MES_OK;
  char **names = calloc(n, sizeof *names);
  if (!names)
    return nomem(L->err);
  put_ptr(base, f->off, names);
  for (size_t k = 0; k < n; k++) {
    yaml_node_t *item = node(L, v->data.sequence.items.start[k]);
    if ((rc = visit(L, item)) || (rc = need_scalar(L, item, "a list of names")))
      return rc;
    if (mes_id_check(sval(item), slen(item)) != MES_OK)
      return fail(L, line_of(item),
                  "'%s' in %s is not a valid name: a name is 1 to 128 bytes of text without control characters.",
                  quote(sval(item), slen(item)).s, where(L));
    for (size_t j = 0; j < k; j++)
      if (strlen(names[j]) == slen(item) && memcmp(names[j], sval(item), slen(item)) == 0)
        return fail(L, line_of(item), "'%s' is listed twice in %s.", names[j], where(L));
    if (!(names[k] = dup_bytes(sval(item), slen(item))))
      return nomem(L->err);
    put_size(base, f->off_count, k + 1);
  }
  return MES_OK;
}

/* True when s[0..len) is a web origin as a browser sends it in Origin:
 * http or https, "://", a host of letters, digits, dots and dashes (or an
 * IPv6 literal in brackets), an optional :port of 1 to 5 digits, and
 * nothing else (no path, no trailing slash), all in lower case, so that a
 * comparison byte for byte with the header is the right one. */
static bool origin_ok(const char *s, size_t len) {
  size_t i;
  if (len > 7 && memcmp(s, "http://", 7) == 0)
    i = 7;
  else if (len > 8 && memcmp(s, "https://", 8) == 0)
    i = 8;
  else
    return false;
  size_t host = i;
  if (s[i] == '[') {
    while (++i < len && s[i] != ']')
      if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || s[i] == ':' || s[i] == '.'))
        return false;
    if (i >= len || i == host + 1)
      return false;
    i++;
  } else {
    while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
      i++;
    if (i == host || s[host] == '.' || s[host] == '-' || s[i - 1] == '.')
      return false;
  }
  if (i == len)
    return true;
  if (s[i] != ':' || len - i < 2 || len - i > 6)
    return false;
  for (i++; i < len; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

static int walk_origins(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  int rc = walk_names(L, f, v, base);
  if (rc || is_null(v))
    return rc;
  for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
    yaml_node_t *item = node(L, *it);
    if (!origin_ok(sval(item), slen(item)))
      return fail(L, line_of(item),
                  "'%s' in %s is not a web origin: write it as the browser sends it, scheme, host and port "
                  "only, in lower case, such as https://shop.example or http://localhost:3000.",
                  quote(sval(item), slen(item)).s, where(L));
  }
  return MES_OK;
}

/* Purpose names used by an event type. Purposes are declared before event
 * types in the schema, so they are already loaded, whatever the file's order. */
static int walk_refs(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  const char *owner = *(char *const *)base; /* every entry starts with its name */
  int rc;
  uint32_t mask = 0;
  if (!is_null(v)) {
    if ((rc = need_list(L, v, "[personalization]")))
      return rc;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
      yaml_node_t *item = node(L, *it);
      if ((rc = visit(L, item)) || (rc = need_scalar(L, item, "a list of purpose names")))
        return rc;
      int i = mes_policy_purpose(L->p, sval(item), slen(item));
      if (i < 0)
        return fail(L, line_of(item), "event type '%s' names purpose '%s', which is not declared under purposes.",
                    quote(owner, strlen(owner)).s, quote(sval(item), slen(item)).s);
      mask |= 1u << i;
    }
  }
  if (!mask)
    return fail(L, line_of(v), "event type '%s' must serve at least one purpose, such as [personalization].",
                quote(owner, strlen(owner)).s);
  put_int(base, f, mask);
  return MES_OK;
}

static int walk_str(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  if (is_null(v))
    return MES_OK;
  int rc = need_scalar(L, v, "text");
  if (rc || (rc = check_text(L, v, STR_MAX_BYTES, false)))
    return rc;
  if (slen(v) == 0)
    return MES_OK;
  char *s = dup_bytes(sval(v), slen(v));
  if (!s)
    return nomem(L->err);
  char *old;
  memcpy(&old, (char *)base + f->off, sizeof old);
  free(old);
  put_ptr(base, f->off, s);
  return MES_OK;
}

/* Text in one or more languages: "Suggest products" or {en: ..., es: ...}. */
static int walk_text(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, void *base) {
  char **texts = (char **)(void *)((char *)base + f->off);
  int rc;
  if (is_null(v))
    return MES_OK;
  if (v->type == YAML_SCALAR_NODE) {
    if ((rc = check_text(L, v, TEXT_MAX_BYTES, true)))
      return rc;
    return (texts[MES_LANG_EN] = dup_bytes(sval(v), slen(v))) ? MES_OK : nomem(L->err);
  }
  if (v->type != YAML_MAPPING_NODE)
    return fail(L, line_of(v), "%s must be a text, or a mapping of languages to texts such as {en: ..., es: ...}.",
                where(L));
  if ((rc = visit(L, v)))
    return rc;
  for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
    yaml_node_t *k = node(L, pr->key), *t = node(L, pr->value);
    if ((rc = visit(L, k)) || (rc = need_scalar(L, k, "a language")))
      return rc;
    int l = choice_index(mes__lang_names, k);
    if (l < 0)
      return fail(L, line_of(k), "%s has a text in '%s', which is not one of %s.", where(L),
                  quote(sval(k), slen(k)).s, join_choices(mes__lang_names).s);
    if (texts[l])
      return fail(L, line_of(k), "%s has two texts in '%s'.", where(L), mes__lang_names[l]);
    size_t old = path_push(L, sval(k), slen(k));
    if (!(rc = visit(L, t)) && !(rc = need_scalar(L, t, "a text")))
      rc = check_text(L, t, TEXT_MAX_BYTES, true);
    path_pop(L, old);
    if (rc)
      return rc;
    if (!(texts[l] = dup_bytes(sval(t), slen(t))))
      return nomem(L->err);
  }
  return MES_OK;
}

/* ASCII letters compared without case; any other byte must match exactly. */
static bool same_but_case(const char *a, const char *b, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z')
      x = (unsigned char)(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z')
      y = (unsigned char)(y - 'A' + 'a');
    if (x != y)
      return false;
  }
  return true;
}

/* A mapping whose keys the brand names (purposes, event_types, categories). */
static int walk_dict(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, int line, void *base) {
  int rc;
  size_t n = 0;
  if (v && !is_null(v)) {
    if (v->type != YAML_MAPPING_NODE)
      return fail(L, line_of(v), "%s must be a mapping of %s names to their settings, not %s.", where(L), f->noun,
                  node_kind(v));
    if ((rc = visit(L, v)))
      return rc;
    n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
  }
  if (n == 0)
    return f->required ? fail(L, v ? line_of(v) : line, "%s must declare at least one %s.", f->name, f->noun)
                       : MES_OK;
  if (n > (size_t)f->max) {
    yaml_node_t *k = node(L, v->data.mapping.pairs.start[f->max].key);
    return fail(L, line_of(k), "%s declares %zu %ss; mesura supports at most %d.", f->name, n, f->noun, f->max);
  }
  char *arr = calloc(n, f->elem_size);
  if (!arr)
    return nomem(L->err);
  put_ptr(base, f->off, arr);
  put_size(base, f->off_count, n); /* entries are zeroed, so a partial array frees cleanly */
  for (size_t i = 0; i < n; i++) {
    yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
    yaml_node_t *k = node(L, pr->key);
    if ((rc = visit(L, k)))
      return rc;
    if (k->type != YAML_SCALAR_NODE)
      return fail(L, line_of(k), "each %s in %s must be named by a plain name, not %s.", f->noun, f->name,
                  node_kind(k));
    if (mes_id_check(sval(k), slen(k)) != MES_OK)
      return fail(L, line_of(k),
                  "'%s' is not a valid %s name: a name is 1 to 128 bytes of text without control characters.",
                  quote(sval(k), slen(k)).s, f->noun);
    for (size_t j = 0; j < i; j++) {
      yaml_node_t *kj = node(L, v->data.mapping.pairs.start[j].key);
      if (slen(kj) == slen(k) && memcmp(sval(kj), sval(k), slen(k)) == 0)
        return fail(L, line_of(k), "%s '%s' is declared twice, here and on line %d.", f->noun,
                    quote(sval(k), slen(k)).s, line_of(kj));
      if (f->distinct_case && slen(kj) == slen(k) && same_but_case(sval(kj), sval(k), slen(k)))
        return fail(L, line_of(k),
                    "%s '%s' differs from '%s' on line %d only in letter case, so one %s would be flagged two "
                    "ways; declare it once, with all its settings.",
                    f->noun, quote(sval(k), slen(k)).s, quote(sval(kj), slen(kj)).s, line_of(kj), f->noun);
    }
    char *elem = arr + i * f->elem_size;
    char *name = dup_bytes(sval(k), slen(k));
    if (!name)
      return nomem(L->err);
    put_ptr(elem, 0, name);
    size_t old = path_push(L, sval(k), slen(k));
    L->key_line = line_of(k);
    rc = walk_map(L, f->fields, node(L, pr->value), line_of(k), elem);
    path_pop(L, old);
    if (rc)
      return rc;
  }
  return MES_OK;
}

/* One key: v is its value node, or NULL when the key is absent (defaults). */
static int walk_field(struct ld *L, const struct mes__pfield *f, yaml_node_t *v, int line, void *base) {
  int rc;
  if (f->kind == MES_PK_MAP)
    return walk_map(L, f->fields, v, line, base);
  if (f->kind == MES_PK_DICT)
    return walk_dict(L, f, v, line, base);
  if (!v) {
    if (f->required)
      return fail(L, line, "%s needs the key '%s'.", where(L), f->name);
    if (f->kind == MES_PK_INT || f->kind == MES_PK_BOOL || f->kind == MES_PK_CHOICE)
      put_int(base, f, (uint32_t)f->dflt);
    return MES_OK;
  }
  if (v->type != YAML_MAPPING_NODE && (rc = visit(L, v)))
    return rc; /* mappings are visited by walk_text, or refused */
  switch (f->kind) {
  case MES_PK_STR:
    return walk_str(L, f, v, base);
  case MES_PK_TEXT:
    return walk_text(L, f, v, base);
  case MES_PK_BOOL:
    return walk_bool(L, f, v, base);
  case MES_PK_INT:
    return walk_int(L, f, v, base);
  case MES_PK_CHOICE:
    return walk_choice(L, f, v, base);
  case MES_PK_CHOICES:
    return walk_choices(L, f, v, base);
  case MES_PK_NAMES:
    return walk_names(L, f, v, base);
  case MES_PK_REFS:
    return walk_refs(L, f, v, base);
  case MES_PK_ORIGINS:
    return walk_origins(L, f, v, base);
  default:
    return mes_err_set(L->err, MES_EINTERNAL, NULL, "The policy schema has a row of an unknown kind.");
  }
}

static bool key_is(const yaml_node_t *k, const char *name) { return k->type == YAML_SCALAR_NODE && seq(k, name); }

static int unknown_key(struct ld *L, const struct mes__pfield *fields, const yaml_node_t *k) {
  char list[200] = "";
  size_t at = 0;
  for (const struct mes__pfield *f = fields; f->name && at < sizeof list; f++) {
    int w = snprintf(list + at, sizeof list - at, "%s%s", at ? ", " : "", f->name);
    if (w < 0)
      break;
    at += (size_t)w;
  }
  const char *in = L->path[0] ? "in " : "at ";
  return fail(L, line_of(k), "unknown key '%s' %s%s; the keys allowed there are %s.", quote(sval(k), slen(k)).s, in,
              where(L), list);
}

/* A mapping with fixed keys. n may be NULL or a null value: every key takes
 * its default then. Keys are checked first, in file order, so that a typo is
 * reported on its own line; values are then read in schema order. */
static int walk_map(struct ld *L, const struct mes__pfield *fields, yaml_node_t *n, int line, void *base) {
  int rc;
  if (n && is_null(n)) {
    if ((rc = visit(L, n)))
      return rc;
    n = NULL;
  }
  if (n && n->type != YAML_MAPPING_NODE) {
    if (!L->path[0])
      return fail(L, line_of(n),
                  "the file must be a mapping of settings such as 'purposes:' and 'event_types:', "
                  "not %s.",
                  node_kind(n));
    return fail(L, line_of(n), "%s must be a mapping of keys to values, not %s.", where(L), node_kind(n));
  }
  if (n) {
    if ((rc = visit(L, n)))
      return rc;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
      yaml_node_t *k = node(L, pr->key);
      if ((rc = visit(L, k)))
        return rc;
      if (k->type != YAML_SCALAR_NODE)
        return fail(L, line_of(k), "a key %s%s is %s; keys must be plain names.", L->path[0] ? "in " : "at ",
                    where(L), node_kind(k));
      const struct mes__pfield *f = fields;
      while (f->name && !key_is(k, f->name))
        f++;
      if (!f->name)
        return unknown_key(L, fields, k);
      for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++)
        if (key_is(node(L, q->key), f->name))
          return fail(L, line_of(k), "'%s' appears twice in %s, here and on line %d.", f->name, where(L),
                      line_of(node(L, q->key)));
    }
  }
  for (const struct mes__pfield *f = fields; f->name; f++) {
    yaml_node_t *v = NULL;
    int vline = line;
    for (yaml_node_pair_t *pr = n ? n->data.mapping.pairs.start : NULL; n && pr < n->data.mapping.pairs.top; pr++)
      if (key_is(node(L, pr->key), f->name)) {
        v = node(L, pr->value);
        vline = line_of(node(L, pr->key));
      }
    size_t old = path_push(L, f->name, strlen(f->name));
    if (!v && f->required) {
      path_pop(L, old);
      return fail(L, line, "%s needs the key '%s'.", L->path[0] ? L->path : "the file", f->name);
    }
    L->key_line = vline;
    rc = walk_field(L, f, v, vline, base);
    path_pop(L, old);
    if (rc)
      return rc;
  }
  return MES_OK;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

/* 1-based line `line0` (0-based) of the buffer starts with a tab in its indentation. */
static bool line_indented_with_tab(const char *yaml, size_t len, size_t line0) {
  size_t i = 0;
  for (size_t l = 0; l < line0 && i < len; i++)
    if (yaml[i] == '\n')
      l++;
  for (; i < len && (yaml[i] == ' ' || yaml[i] == '\t'); i++)
    if (yaml[i] == '\t')
      return true;
  return false;
}

static int syntax_error(const char *name, const char *yaml, size_t len, const yaml_parser_t *ps,
                        struct mes_err *err) {
  char sentence[300];
  size_t line0 = ps->problem_mark.line;
  if (ps->error == YAML_MEMORY_ERROR)
    return nomem(err);
  if (ps->error == YAML_READER_ERROR) {
    line0 = 0;
    for (size_t i = 0; i < ps->problem_offset && i < len; i++)
      if (yaml[i] == '\n')
        line0++;
    snprintf(sentence, sizeof sentence, "the file is not valid UTF-8 text (%s).",
             ps->problem ? ps->problem : "unreadable byte");
  } else if (line_indented_with_tab(yaml, len, line0) ||
             (ps->context && line_indented_with_tab(yaml, len, ps->context_mark.line))) {
    if (!line_indented_with_tab(yaml, len, line0))
      line0 = ps->context_mark.line;
    snprintf(sentence, sizeof sentence, "this line is indented with a tab; YAML needs spaces for indentation.");
  } else {
    snprintf(sentence, sizeof sentence, "this is not valid YAML: %s%s%s.", ps->problem ? ps->problem : "syntax error",
             ps->context ? ", " : "", ps->context ? ps->context : "");
  }
  return fail_text(name, line0 >= INT_MAX ? INT_MAX : (int)line0 + 1, sentence, err);
}

static int fill_post(struct mes_policy *p, const char *name, int64_t mtime_ms, struct mes_err *err) {
  p->languages |= 1u << MES_LANG_EN;
  if (!p->site && !(p->site = dup_bytes("", 0)))
    return nomem(err);
  if (!p->version) {
    char date[11];
    mes_time_format_date(mtime_ms, date);
    if (!(p->version = dup_bytes(date, 7))) /* YYYY-MM */
      return nomem(err);
  }
  if (!(p->path = dup_bytes(name, strlen(name))))
    return nomem(err);
  return MES_OK;
}

int mes__policy_load_mtime(const char *name, const char *yaml, size_t len, int64_t mtime_ms, struct mes_policy **out,
                           struct mes_err *err) {
  int rc = MES_OK;
  struct mes_policy *p = NULL;
  yaml_parser_t ps;
  yaml_document_t doc, extra;
  bool have_doc = false;
  struct ld L = {.name = name ? name : "mesura.yaml", .err = err};
  *out = NULL;
  if (len > POLICY_MAX_BYTES)
    return fail_text(L.name, 1, "the file is larger than 1 MiB; a policy should be a page or two.", err);
  if (!yaml_parser_initialize(&ps))
    return nomem(err);
  yaml_parser_set_input_string(&ps, (const unsigned char *)yaml, len);
  if (!yaml_parser_load(&ps, &doc)) {
    rc = syntax_error(L.name, yaml, len, &ps, err);
    goto done;
  }
  have_doc = true;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    rc = fail_text(L.name, 1, "the file is empty; it needs at least 'purposes:' and 'event_types:'.", err);
    goto done;
  }
  if (!yaml_parser_load(&ps, &extra)) {
    rc = syntax_error(L.name, yaml, len, &ps, err);
    goto done;
  }
  yaml_node_t *second = yaml_document_get_root_node(&extra);
  int second_line = second ? line_of(second) : 0;
  yaml_document_delete(&extra);
  if (second) {
    rc = fail_text(L.name, second_line,
                   "a second YAML document starts here (after ---); keep the whole policy in one.", err);
    goto done;
  }
  L.doc = &doc;
  L.seen = calloc((size_t)(doc.nodes.top - doc.nodes.start), 1);
  p = calloc(1, sizeof *p);
  if (!L.seen || !p) {
    rc = nomem(err);
    goto done;
  }
  L.p = p;
  if ((rc = walk_map(&L, mes__policy_schema, root, line_of(root), p)) || (rc = fill_post(p, L.name, mtime_ms, err)))
    goto done;
  if (!(p->text = malloc(len + 1))) {
    rc = nomem(err);
    goto done;
  }
  memcpy(p->text, yaml, len);
  p->text[len] = '\0';
  *out = p;
  p = NULL;
done:
  mes_policy_free(p);
  free(L.seen);
  if (have_doc)
    yaml_document_delete(&doc);
  yaml_parser_delete(&ps);
  return rc;
}

int mes_policy_load_buf(const char *name, const char *yaml, size_t len, struct mes_policy **out,
                        struct mes_err *err) {
  return mes__policy_load_mtime(name, yaml, len, mes_now_ms(), out, err);
}

int mes_policy_load(const char *path, struct mes_policy **out, struct mes_err *err) {
  int rc;
  struct stat st;
  struct mes_buf b;
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f || fstat(fileno(f), &st) != 0) {
    rc = mes_err_set(err, MES_EIO, NULL, "%s: the policy file cannot be read (%s).", path, strerror(errno));
    if (f)
      fclose(f);
    return rc;
  }
  mes_buf_init(&b, POLICY_MAX_BYTES + 1);
  char chunk[8192];
  size_t n;
  rc = MES_OK;
  while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
    rc = mes_buf_append(&b, chunk, n);
  bool io_error = ferror(f) != 0;
  fclose(f);
  if (rc == MES_EBODY_TOO_LARGE)
    rc = fail_text(path, 1, "the file is larger than 1 MiB; a policy should be a page or two.", err);
  else if (rc)
    rc = nomem(err);
  else if (io_error)
    rc = mes_err_set(err, MES_EIO, NULL, "%s: the policy file cannot be read.", path);
  else
    rc = mes__policy_load_mtime(path, b.data ? b.data : "", b.len,
                                (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000, out, err);
  mes_buf_release(&b);
  return rc;
}

void mes_policy_free(struct mes_policy *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n_purposes; i++) {
    free(p->purposes[i].name);
    for (int l = 0; l < MES_LANG_N; l++)
      free(p->purposes[i].description[l]);
  }
  free(p->purposes);
  for (size_t i = 0; i < p->n_event_types; i++) {
    free(p->event_types[i].name);
    for (size_t k = 0; k < p->event_types[i].n_properties; k++)
      free(p->event_types[i].properties[k]);
    free(p->event_types[i].properties);
  }
  free(p->event_types);
  for (size_t i = 0; i < p->n_categories; i++) {
    free(p->categories[i].name);
    for (int l = 0; l < MES_LANG_N; l++)
      free(p->categories[i].label[l]);
  }
  free(p->categories);
  for (size_t k = 0; k < p->audit.n_protected; k++)
    free(p->audit.protected_attrs[k]);
  free(p->audit.protected_attrs);
  for (size_t k = 0; k < p->audit.n_placements; k++)
    free(p->audit.placements[k]);
  free(p->audit.placements);
  for (size_t k = 0; k < p->cors.n_allowed_origins; k++)
    free(p->cors.allowed_origins[k]);
  free(p->cors.allowed_origins);
  for (size_t k = 0; k < p->audit.schedule.n_attributes; k++)
    free(p->audit.schedule.attributes[k]);
  free(p->audit.schedule.attributes);
  free(p->audit.schedule.placement);
  free(p->path);
  free(p->text);
  free(p->site);
  free(p->version);
  free(p);
}
