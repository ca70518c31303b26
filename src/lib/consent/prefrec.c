/*
 * consent/prefrec — the codec of a person's stated preferences (prefrec.h):
 * the stored JSON document read once into struct mes_prefs, and the struct
 * written back as that document. Parsing stays with jansson; what jansson
 * builds lives only for the call.
 */
#include "consent/prefrec.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/json.h"

#define ARENA_CHUNK 1024
#define ARENA_MAX ((size_t)4 << 20) /* far above 3 lists of 256 ids and 32 facts */

/* The lists in the order of the struct, with their names in the document. */
static const char *const list_names[] = {"interests", "exclude_categories", "do_not_use_items"};
#define N_LISTS 3
/* The first N_CORE_LISTS are always in the document; the others only when
 * not empty, so that a document without one reads as that list empty. */
#define N_CORE_LISTS 2

static struct mes_prefs_ids *list_of(struct mes_prefs *p, size_t i) {
  return i == 0 ? &p->interests : i == 1 ? &p->exclude_categories : &p->do_not_use_items;
}

static const struct mes_prefs_ids *clist_of(const struct mes_prefs *p, size_t i) {
  return i == 0 ? &p->interests : i == 1 ? &p->exclude_categories : &p->do_not_use_items;
}

void mes_prefs_release(struct mes_prefs *p) {
  if (!p)
    return;
  mes_arena_release(&p->arena);
  memset(p, 0, sizeof *p);
}

void mes_prefs_init(struct mes_prefs *p) {
  memset(p, 0, sizeof *p);
  mes_arena_init(&p->arena, NULL, 0, ARENA_CHUNK, ARENA_MAX);
}

/* ---------------------------------------------------------------- lists */

static bool ids_has(const struct mes_prefs_ids *l, const char *s, size_t len) {
  for (size_t k = 0; k < l->n; k++)
    if (l->len[k] == len && memcmp(l->v[k], s, len) == 0)
      return true;
  return false;
}

/* Makes room for `more` entries after l's n (arrays in the arena, copied
 * when they move). */
static int ids_reserve(struct mes_arena *a, struct mes_prefs_ids *l, size_t more) {
  size_t cap = l->n + more;
  const char **v = mes_arena_alloc(a, (cap ? cap : 1) * sizeof *v);
  size_t *len = mes_arena_alloc(a, (cap ? cap : 1) * sizeof *len);
  if (!v || !len)
    return MES_ENOMEM;
  if (l->n) {
    memcpy(v, l->v, l->n * sizeof *v);
    memcpy(len, l->len, l->n * sizeof *len);
  }
  l->v = v;
  l->len = len;
  return MES_OK;
}

/* Appends s unless l holds it already; room reserved by the caller. */
static int ids_add(struct mes_arena *a, struct mes_prefs_ids *l, const char *s, size_t len) {
  if (ids_has(l, s, len))
    return MES_OK;
  char *copy = mes_arena_strndup(a, s, len);
  if (!copy)
    return MES_ENOMEM;
  l->v[l->n] = copy;
  l->len[l->n++] = len;
  return MES_OK;
}

/* Appends the string entries of arr (borrowed, may be NULL or not an array)
 * that l lacks, in arr's order. */
static int ids_add_json(struct mes_arena *a, struct mes_prefs_ids *l, const json_t *arr) {
  if (!json_is_array(arr) || !json_array_size(arr))
    return MES_OK;
  int rc = ids_reserve(a, l, json_array_size(arr));
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (!rc && json_is_string(v))
      rc = ids_add(a, l, json_string_value(v), json_string_length(v));
  }
  return rc;
}

static bool json_list_has(const json_t *arr, const char *s, size_t len) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (json_is_string(v) && json_string_length(v) == len && memcmp(json_string_value(v), s, len) == 0)
      return true;
  }
  return false;
}

/* ---------------------------------------------------------------- facts */

static int fact_set(struct mes_arena *a, struct mes_prefs_fact *f, const char *name, size_t name_len,
                    const json_t *v) {
  if (!(f->name = mes_arena_strndup(a, name, name_len)))
    return MES_ENOMEM;
  f->name_len = name_len;
  if (json_is_boolean(v)) {
    f->kind = MES_PREFS_BOOL;
    f->b = json_is_true(v);
  } else if (json_is_integer(v)) {
    f->kind = MES_PREFS_INT;
    f->i = json_integer_value(v);
  } else if (json_is_real(v)) {
    f->kind = MES_PREFS_REAL;
    f->r = json_real_value(v);
  } else if (json_is_string(v)) {
    f->kind = MES_PREFS_TEXT;
    f->text_len = json_string_length(v);
    if (!(f->text = mes_arena_strndup(a, json_string_value(v), f->text_len)))
      return MES_ENOMEM;
  } else {
    return MES_EINTERNAL;
  }
  return MES_OK;
}

static json_t *fact_value(const struct mes_prefs_fact *f) {
  switch (f->kind) {
  case MES_PREFS_BOOL:
    return json_boolean(f->b);
  case MES_PREFS_INT:
    return json_integer(f->i);
  case MES_PREFS_REAL:
    return json_real(f->r);
  case MES_PREFS_TEXT:
    return json_stringn(f->text, f->text_len);
  }
  return NULL;
}

/* The index of the fact named name; p->n_declared when there is none. */
static size_t fact_find(const struct mes_prefs *p, const char *name, size_t len) {
  size_t k = 0;
  while (k < p->n_declared && (p->declared[k].name_len != len || memcmp(p->declared[k].name, name, len) != 0))
    k++;
  return k;
}

/* Sets the facts of object d (borrowed, may be NULL): a name already held
 * gets the new value in its place, a new one is appended. Values that are
 * not a boolean, number or text are skipped (only a stored document could
 * hold one, and none is written). */
static int facts_set_json(struct mes_prefs *p, const json_t *d) {
  if (!json_is_object(d) || !json_object_size(d))
    return MES_OK;
  size_t cap = p->n_declared + json_object_size(d);
  struct mes_prefs_fact *nf = mes_arena_calloc(&p->arena, cap * sizeof *nf);
  if (!nf)
    return MES_ENOMEM;
  if (p->n_declared)
    memcpy(nf, p->declared, p->n_declared * sizeof *nf);
  p->declared = nf;
  const char *key;
  size_t key_len;
  json_t *v;
  json_object_keylen_foreach((json_t *)d, key, key_len, v) {
    size_t at = fact_find(p, key, key_len);
    struct mes_prefs_fact f = {0};
    int rc = fact_set(&p->arena, &f, key, key_len, v);
    if (rc == MES_EINTERNAL)
      continue;
    if (rc)
      return rc;
    p->declared[at] = f;
    if (at == p->n_declared)
      p->n_declared++;
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- the codec */

int mes_prefs_from_json(const json_t *doc, struct mes_prefs *out) {
  mes_prefs_init(out);
  if (!json_is_object(doc))
    return MES_EINTERNAL;
  int rc = MES_OK;
  for (size_t i = 0; !rc && i < N_LISTS; i++)
    rc = ids_add_json(&out->arena, list_of(out, i), json_object_get(doc, list_names[i]));
  if (!rc)
    rc = facts_set_json(out, json_object_get(doc, "declared"));
  if (rc)
    mes_prefs_release(out);
  return rc;
}

int mes_prefs_decode(const char *text, size_t len, struct mes_prefs *out) {
  json_t *doc = json_loadb(text, len, 0, NULL);
  if (!doc) { /* it opened, so it is what we wrote: only memory fails to load it */
    mes_prefs_init(out);
    return MES_ENOMEM;
  }
  int rc = mes_prefs_from_json(doc, out);
  json_decref(doc);
  return rc;
}

int mes_prefs_json(const struct mes_prefs *p, json_t **out) {
  *out = NULL;
  json_t *doc = json_object(), *decl = json_object();
  if (!doc || !decl) {
    json_decref(doc);
    json_decref(decl);
    return MES_ENOMEM;
  }
  if (json_object_set_new(doc, "declared", decl)) { /* decl taken either way */
    json_decref(doc);
    return MES_ENOMEM;
  }
  for (size_t k = 0; k < p->n_declared; k++) {
    const struct mes_prefs_fact *f = &p->declared[k];
    if (json_object_setn_new(decl, f->name, f->name_len, fact_value(f))) {
      json_decref(doc);
      return MES_ENOMEM;
    }
  }
  for (size_t i = 0; i < N_LISTS; i++) {
    const struct mes_prefs_ids *l = clist_of(p, i);
    if (i >= N_CORE_LISTS && !l->n)
      continue;
    json_t *arr = json_array();
    if (!arr || json_object_set_new(doc, list_names[i], arr)) {
      json_decref(doc);
      return MES_ENOMEM;
    }
    for (size_t k = 0; k < l->n; k++)
      if (json_array_append_new(arr, json_stringn(l->v[k], l->len[k]))) {
        json_decref(doc);
        return MES_ENOMEM;
      }
  }
  *out = doc;
  return MES_OK;
}

int mes_prefs_encode(const struct mes_prefs *p, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  json_t *doc;
  int rc = mes_prefs_json(p, &doc);
  if (rc)
    return rc;
  char *text = mes_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(doc);
  if (!text)
    return MES_ENOMEM;
  *out = text;
  *len = strlen(text);
  return MES_OK;
}

/* ---------------------------------------------------------------- changes */

int mes_prefs_patch(struct mes_prefs *p, const json_t *add, const json_t *remove, size_t max_ids,
                    const char **full) {
  *full = NULL;
  for (size_t i = 0; i < N_LISTS; i++) {
    struct mes_prefs_ids *l = list_of(p, i);
    const json_t *gone = json_object_get(remove, list_names[i]);
    size_t kept = 0;
    for (size_t k = 0; k < l->n; k++)
      if (!json_list_has(gone, l->v[k], l->len[k])) {
        l->v[kept] = l->v[k];
        l->len[kept++] = l->len[k];
      }
    l->n = kept;
    int rc = ids_add_json(&p->arena, l, json_object_get(add, list_names[i]));
    if (rc)
      return rc;
    if (l->n > max_ids) {
      *full = list_names[i];
      return MES_EOUT_OF_RANGE;
    }
  }
  size_t kept = 0;
  const json_t *gone = json_object_get(remove, "declared");
  for (size_t k = 0; k < p->n_declared; k++)
    if (!json_list_has(gone, p->declared[k].name, p->declared[k].name_len))
      p->declared[kept++] = p->declared[k];
  p->n_declared = kept;
  return facts_set_json(p, json_object_get(add, "declared"));
}
