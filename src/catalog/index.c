/*
 * catalog/index — the in-memory catalog index (see catalog.h, "index"): a
 * chained hash table from item id to availability, interned category names
 * and titles per language, under one read-write lock.
 *
 * Building reads every item inside a store transaction that writes nothing:
 * holding the store's writer lock while reading means no item write can
 * slip between the read and the installation of the table, because writers
 * apply their change to the index under that same lock (lock order: store
 * writer lock, then the index lock, in both paths).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog_int.h"
#include "store/store.h"

#define INITIAL_BUCKETS 1024

enum { T_EN = MES_LANG_EN, T_ES = MES_LANG_ES, T_PL = MES_LANG_PL, T_DEFAULT = MES_LANG_N, T_N };

struct ent {
  struct ent *next;
  uint64_t hash;
  char *id;
  bool available;
  uint8_t n_cats;
  uint16_t cats[MES_CATALOG_IDX_CATS]; /* indexes into names */
  char *title[T_N];                    /* owned; NULL where not given */
};

struct mes_catalog_index {
  pthread_rwlock_t lock;
  bool built;
  struct ent **buckets;
  size_t n_buckets; /* a power of two */
  size_t n_items;
  /* Interned category names: never freed before the index, so that lookups
   * can hand out pointers that outlive later changes to the item. */
  char **names;
  size_t n_names, cap_names;
};

static uint64_t hash_id(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  return h;
}

static void ent_free(struct ent *e) {
  if (!e)
    return;
  free(e->id);
  for (int t = 0; t < T_N; t++)
    free(e->title[t]);
  free(e);
}

static void table_clear(struct mes_catalog_index *ix) {
  for (size_t b = 0; b < ix->n_buckets; b++) {
    for (struct ent *e = ix->buckets[b], *next; e; e = next) {
      next = e->next;
      ent_free(e);
    }
  }
  free(ix->buckets);
  ix->buckets = NULL;
  ix->n_buckets = 0;
  ix->n_items = 0;
  ix->built = false;
}

int mes_catalog_index_new(struct mes_catalog_index **out) {
  *out = NULL;
  struct mes_catalog_index *ix = calloc(1, sizeof *ix);
  if (!ix)
    return MES_ENOMEM;
  if (pthread_rwlock_init(&ix->lock, NULL)) {
    free(ix);
    return MES_ENOMEM;
  }
  *out = ix;
  return MES_OK;
}

void mes_catalog_index_free(struct mes_catalog_index *ix) {
  if (!ix)
    return;
  table_clear(ix);
  for (size_t i = 0; i < ix->n_names; i++)
    free(ix->names[i]);
  free(ix->names);
  pthread_rwlock_destroy(&ix->lock);
  free(ix);
}

/* ---------------------------------------------------------------- table (write lock held) */

static struct ent **slot_of(struct mes_catalog_index *ix, const char *id, size_t len, uint64_t h) {
  struct ent **pp = &ix->buckets[h & (ix->n_buckets - 1)];
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->hash == h && strlen((*pp)->id) == len && memcmp((*pp)->id, id, len) == 0)
      break;
  return pp;
}

static int grow(struct mes_catalog_index *ix) {
  size_t nb = ix->n_buckets ? ix->n_buckets * 2 : INITIAL_BUCKETS;
  struct ent **b = calloc(nb, sizeof *b);
  if (!b)
    return MES_ENOMEM;
  for (size_t i = 0; i < ix->n_buckets; i++) {
    for (struct ent *e = ix->buckets[i], *next; e; e = next) {
      next = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
  }
  free(ix->buckets);
  ix->buckets = b;
  ix->n_buckets = nb;
  return MES_OK;
}

/* Index of the interned name, adding it; -1 when out of memory. */
static int intern(struct mes_catalog_index *ix, const char *name) {
  for (size_t i = 0; i < ix->n_names; i++)
    if (strcmp(ix->names[i], name) == 0)
      return (int)i;
  if (ix->n_names >= UINT16_MAX)
    return -1;
  if (ix->n_names == ix->cap_names) {
    size_t cap = ix->cap_names ? ix->cap_names * 2 : 32;
    char **n = realloc(ix->names, cap * sizeof *n);
    if (!n)
      return -1;
    ix->names = n;
    ix->cap_names = cap;
  }
  char *copy = strdup(name);
  if (!copy)
    return -1;
  ix->names[ix->n_names] = copy;
  return (int)ix->n_names++;
}

/* Which title slot a translation key fills: "es", "es-MX" -> T_ES; other
 * languages -> -1 (only the first of them becomes the default). */
static int title_slot(const char *lang) {
  size_t n = strcspn(lang, "-_");
  int l = mes_lang_parse(lang, n);
  return l;
}

static int set_title(char **slot, const char *s) {
  if (*slot)
    return MES_OK; /* "es" and "es-MX": the first given wins */
  *slot = strdup(s);
  return *slot ? MES_OK : MES_ENOMEM;
}

/* Builds a new entry from a stored document. */
static int ent_from_doc(struct mes_catalog_index *ix, const char *id, const char *doc, struct ent **out) {
  *out = NULL;
  json_t *o = json_loads(doc, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return MES_ESTORE;
  }
  int rc = MES_ENOMEM;
  struct ent *e = calloc(1, sizeof *e);
  if (!e || !(e->id = strdup(id)))
    goto done;
  e->hash = hash_id(id, strlen(id));
  e->available = mes_json_bool(o, "available", true);
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(o, "categories"), i, v) {
    if (e->n_cats >= MES_CATALOG_IDX_CATS || !json_is_string(v))
      break;
    int k = intern(ix, json_string_value(v));
    if (k < 0)
      goto done;
    e->cats[e->n_cats++] = (uint16_t)k;
  }
  json_t *title = json_object_get(o, "title");
  if (json_is_string(title)) {
    if (set_title(&e->title[T_DEFAULT], json_string_value(title)))
      goto done;
  } else if (json_is_object(title)) {
    const char *lang;
    json_object_foreach(title, lang, v) {
      if (!json_is_string(v))
        continue;
      int t = title_slot(lang);
      if ((t >= 0 && set_title(&e->title[t], json_string_value(v))) ||
          set_title(&e->title[T_DEFAULT], json_string_value(v)))
        goto done;
    }
  }
  *out = e;
  e = NULL;
  rc = MES_OK;
done:
  ent_free(e);
  json_decref(o);
  return rc;
}

/* Puts e in the table (write lock held), replacing an entry of the same id. */
static int table_put(struct mes_catalog_index *ix, struct ent *e) {
  if (ix->n_items + 1 > ix->n_buckets && grow(ix))
    return MES_ENOMEM;
  struct ent **pp = slot_of(ix, e->id, strlen(e->id), e->hash);
  if (*pp) {
    e->next = (*pp)->next;
    ent_free(*pp);
    *pp = e;
  } else {
    e->next = NULL;
    *pp = e;
    ix->n_items++;
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- build */

struct build {
  struct mes_catalog_index *ix;
  int rc;
};

static int build_cb(void *ud, const char *id, const char *doc) {
  struct build *b = ud;
  struct ent *e;
  b->rc = ent_from_doc(b->ix, id, doc, &e);
  if (!b->rc && (b->rc = table_put(b->ix, e)) != MES_OK)
    ent_free(e);
  return b->rc != MES_OK;
}

/* Builds the table when not built. Called without the index lock; takes the
 * store's writer lock, then the index's. */
static int ensure_built(struct mes_catalog_index *ix, struct mes_store *st) {
  pthread_rwlock_rdlock(&ix->lock);
  bool built = ix->built;
  pthread_rwlock_unlock(&ix->lock);
  if (built)
    return MES_OK;
  int rc = mes_store_tx_begin(st);
  if (rc)
    return rc;
  pthread_rwlock_wrlock(&ix->lock);
  if (!ix->built) { /* another thread may have built it meanwhile */
    struct build b = {.ix = ix, .rc = MES_OK};
    rc = grow(ix);
    if (!rc)
      rc = mes_store_item_list(st, NULL, 0, build_cb, &b);
    if (!rc)
      rc = b.rc;
    if (rc)
      table_clear(ix);
    else
      ix->built = true;
  }
  pthread_rwlock_unlock(&ix->lock);
  mes_store_tx_rollback(st); /* wrote nothing */
  return rc;
}

/* ---------------------------------------------------------------- writes (catalog_int.h) */

void mes__catalog_index_apply(struct mes_catalog_index *ix, const char *id, const char *doc) {
  if (!ix)
    return;
  pthread_rwlock_wrlock(&ix->lock);
  if (ix->built) {
    struct ent *e;
    if (ent_from_doc(ix, id, doc, &e) || table_put(ix, e)) {
      table_clear(ix); /* rebuilt on the next lookup rather than wrong */
    }
  }
  pthread_rwlock_unlock(&ix->lock);
}

void mes__catalog_index_remove(struct mes_catalog_index *ix, const char *id) {
  if (!ix)
    return;
  pthread_rwlock_wrlock(&ix->lock);
  if (ix->built) {
    size_t len = strlen(id);
    struct ent **pp = slot_of(ix, id, len, hash_id(id, len));
    if (*pp) {
      struct ent *e = *pp;
      *pp = e->next;
      ent_free(e);
      ix->n_items--;
    }
  }
  pthread_rwlock_unlock(&ix->lock);
}

void mes__catalog_index_invalidate(struct mes_catalog_index *ix) {
  if (!ix)
    return;
  pthread_rwlock_wrlock(&ix->lock);
  table_clear(ix);
  pthread_rwlock_unlock(&ix->lock);
}

/* ---------------------------------------------------------------- reads */

static void fill_entry(const struct mes_catalog_index *ix, const struct ent *e, struct mes_catalog_entry *out) {
  out->available = e->available;
  out->n_cats = e->n_cats;
  for (size_t i = 0; i < e->n_cats; i++)
    out->cats[i] = ix->names[e->cats[i]];
}

int mes_catalog_index_lookup(struct mes_catalog_index *ix, struct mes_store *st, const char *id, size_t len,
                             struct mes_catalog_entry *out) {
  memset(out, 0, sizeof *out);
  int rc = ensure_built(ix, st);
  if (rc)
    return rc;
  pthread_rwlock_rdlock(&ix->lock);
  rc = MES_ENOT_FOUND;
  if (ix->built) {
    struct ent **pp = slot_of(ix, id, len, hash_id(id, len));
    if (*pp) {
      fill_entry(ix, *pp, out);
      rc = MES_OK;
    }
  }
  pthread_rwlock_unlock(&ix->lock);
  return rc;
}

/* Copies s into out (cap bytes), cutting at a UTF-8 character boundary. */
static void copy_utf8(char *out, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--; /* s[n] starts a character: cut before it */
  }
  memcpy(out, s, n);
  out[n] = '\0';
}

int mes_catalog_index_title(struct mes_catalog_index *ix, struct mes_store *st, const char *id, size_t len,
                            enum mes_lang l, char *out, size_t cap) {
  if (cap)
    out[0] = '\0';
  int rc = ensure_built(ix, st);
  if (rc)
    return rc;
  pthread_rwlock_rdlock(&ix->lock);
  rc = MES_ENOT_FOUND;
  if (ix->built) {
    struct ent **pp = slot_of(ix, id, len, hash_id(id, len));
    if (*pp) {
      const struct ent *e = *pp;
      const char *t = (l >= 0 && l < MES_LANG_N) ? e->title[l] : NULL;
      if (!t)
        t = e->title[T_EN];
      if (!t)
        t = e->title[T_DEFAULT];
      if (cap)
        copy_utf8(out, cap, t ? t : id);
      rc = MES_OK;
    }
  }
  pthread_rwlock_unlock(&ix->lock);
  return rc;
}

int mes_catalog_index_each(struct mes_catalog_index *ix, struct mes_store *st, size_t max, mes_catalog_index_cb cb,
                           void *ud) {
  int rc = ensure_built(ix, st);
  if (rc)
    return rc;
  pthread_rwlock_rdlock(&ix->lock);
  size_t n = 0;
  for (size_t b = 0; ix->built && b < ix->n_buckets; b++) {
    for (const struct ent *e = ix->buckets[b]; e; e = e->next) {
      struct mes_catalog_entry ce;
      fill_entry(ix, e, &ce);
      if (cb(ud, e->id, &ce) || (max && ++n >= max))
        goto out;
    }
  }
out:
  pthread_rwlock_unlock(&ix->lock);
  return MES_OK;
}

size_t mes_catalog_index_size(struct mes_catalog_index *ix) {
  pthread_rwlock_rdlock(&ix->lock);
  size_t n = ix->built ? ix->n_items : 0;
  pthread_rwlock_unlock(&ix->lock);
  return n;
}
