/*
 * catalog/index — the catalog handle's in-memory index (see catalog.h, "index"): an
 * open-addressing hash table from item id to availability, interned category
 * names and titles per language, under a read-write lock split in shards.
 *
 * Serving looks items up a few hundred times per request, so the table is
 * laid out for that (bench/bench_catalog.c, bench/README.md "Catalog index"):
 * - a flat array of slots {hash, entry}, probed linearly and kept at most
 *   half full: a miss is usually settled by comparing full 64-bit hashes in
 *   one cache line of slots, without touching any entry;
 * - each entry is one allocation holding its fields, then the id (with its
 *   length, so no strlen) and the titles: a hit reads one entry, not an entry
 *   and a separately allocated id;
 * - a lookup takes a read lock once (the "built?" check is made under the
 *   same lock as the probe), and concurrent readers take different shards
 *   of it, so that the worker threads do not pass one lock's cache line
 *   between cores on every lookup; writes (item writes, far rarer) take
 *   every shard.
 * Deleting shifts the following entries of the probe run back (no
 * tombstones), so the table never fills with dead slots.
 *
 * The table is this file's own rather than base/htab's: its slots hold an
 * entry's pointer beside the full hash, so that a hit reads one slot line
 * and one entry line; base/htab's 8-byte slots would hold an index into an
 * array of entry pointers, a third line per lookup.
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

#include "base/htab.h"
#include "catalog/catalog_int.h"
#include "store/store.h"

#define INITIAL_SLOTS 2048 /* a power of two */

enum { T_EN = MES_LANG_EN, T_ES = MES_LANG_ES, T_PL = MES_LANG_PL, T_DEFAULT = MES_LANG_N, T_N };

/* One item, in one allocation: the fixed fields, then data = the id (id_len
 * bytes and a NUL), then each title given (NUL-terminated) at title_off[t]
 * (0: not given; a title never starts at 0, where the id is). The fields a
 * lookup reads come first, so that with the id they share a cache line or
 * two adjacent ones. */
struct ent {
  uint32_t id_len;
  bool available;
  uint8_t n_cats;
  uint16_t cats[MES_CATALOG_IDX_CATS]; /* indexes into names */
  uint32_t title_off[T_N];
  char data[];
};

/* A slot is empty when e is NULL. hash is the entry's full hash: compared
 * before the entry is read, and used to find an entry's home slot when the
 * table grows or a deletion shifts entries back. */
struct slot {
  uint64_t hash;
  struct ent *e; /* owned */
};

/* The index's lock, split so that concurrent readers do not all write one
 * cache line: a reader takes the read side of the shard its thread hashes
 * to, a writer takes the write side of every shard, in order. Threads that
 * share a shard only share a cache line again; correctness does not depend
 * on how threads map to shards. */
#define N_SHARDS 16 /* a power of two */
struct shard {
  _Alignas(64) pthread_rwlock_t lock;
};

struct mes_catalog {
  struct shard shards[N_SHARDS]; /* first: aligned as the allocation is */
  struct mes_store *store;       /* borrowed: the catalog's items */
  bool built;
  int64_t version; /* the store's catalog version the table reflects, when built */
  struct slot *slots;
  size_t n_slots; /* a power of two, or 0 when not built */
  size_t n_items; /* at most n_slots / 2: probe runs stay short, and one slot is always empty */
  /* Interned category names: never freed before the index, so that lookups
   * can hand out pointers that outlive later changes to the item. */
  char **names;
  size_t n_names, cap_names;
};

static const char *ent_id(const struct ent *e) {
  return e->data;
}

static void table_clear(struct mes_catalog *ix) {
  for (size_t i = 0; i < ix->n_slots; i++)
    free(ix->slots[i].e);
  free(ix->slots);
  ix->slots = NULL;
  ix->n_slots = 0;
  ix->n_items = 0;
  ix->built = false;
}

/* ---------------------------------------------------------------- lock */

/* The shard of the calling thread: pthread_self() is the address of the
 * thread's descriptor, distinct per live thread; a multiplicative hash
 * spreads its high bits over the shards. */
static size_t rd_lock(struct mes_catalog *ix) {
  uint64_t t = (uint64_t)(uintptr_t)pthread_self() * 0x9E3779B97F4A7C15ull;
  size_t k = (size_t)(t >> 60) & (N_SHARDS - 1);
  pthread_rwlock_rdlock(&ix->shards[k].lock);
  return k;
}

static void rd_unlock(struct mes_catalog *ix, size_t k) {
  pthread_rwlock_unlock(&ix->shards[k].lock);
}

static void wr_lock(struct mes_catalog *ix) {
  for (size_t k = 0; k < N_SHARDS; k++)
    pthread_rwlock_wrlock(&ix->shards[k].lock);
}

static void wr_unlock(struct mes_catalog *ix) {
  for (size_t k = N_SHARDS; k-- > 0;)
    pthread_rwlock_unlock(&ix->shards[k].lock);
}

int mes_catalog_new(struct mes_store *st, struct mes_catalog **out) {
  *out = NULL;
  size_t size = (sizeof(struct mes_catalog) + 63) / 64 * 64; /* aligned_alloc wants a multiple */
  struct mes_catalog *ix = aligned_alloc(64, size);
  if (!ix)
    return MES_ENOMEM;
  memset(ix, 0, size);
  ix->store = st;
  for (size_t k = 0; k < N_SHARDS; k++) {
    if (pthread_rwlock_init(&ix->shards[k].lock, NULL)) {
      while (k-- > 0)
        pthread_rwlock_destroy(&ix->shards[k].lock);
      free(ix);
      return MES_ENOMEM;
    }
  }
  *out = ix;
  return MES_OK;
}

struct mes_store *mes__catalog_store(const struct mes_catalog *ix) { return ix->store; }

void mes_catalog_free(struct mes_catalog *ix) {
  if (!ix)
    return;
  table_clear(ix);
  for (size_t i = 0; i < ix->n_names; i++)
    free(ix->names[i]);
  free(ix->names);
  for (size_t k = 0; k < N_SHARDS; k++)
    pthread_rwlock_destroy(&ix->shards[k].lock);
  free(ix);
}

/* ---------------------------------------------------------------- table */

/* The slot holding id (len bytes, hash h), or the empty slot that ends its
 * probe run (where it would go). Needs a table (n_slots > 0) and the lock,
 * read or write. */
static struct slot *slot_of(const struct mes_catalog *ix, const char *id, size_t len, uint64_t h) {
  size_t mask = ix->n_slots - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct slot *s = &ix->slots[i];
    if (!s->e || (s->hash == h && s->e->id_len == len && memcmp(ent_id(s->e), id, len) == 0))
      return s;
  }
}

/* Doubles the table (or makes the first one), re-placing every entry. */
static int grow(struct mes_catalog *ix) {
  size_t ns = ix->n_slots ? ix->n_slots * 2 : INITIAL_SLOTS;
  struct slot *slots = calloc(ns, sizeof *slots);
  if (!slots)
    return MES_ENOMEM;
  for (size_t i = 0; i < ix->n_slots; i++) {
    const struct slot *s = &ix->slots[i];
    if (!s->e)
      continue;
    size_t j = s->hash & (ns - 1);
    while (slots[j].e)
      j = (j + 1) & (ns - 1);
    slots[j] = *s;
  }
  free(ix->slots);
  ix->slots = slots;
  ix->n_slots = ns;
  return MES_OK;
}

/* Empties slot s (write lock held) and closes the gap: each later entry of
 * the probe run moves back into the hole unless its home slot lies
 * cyclically after the hole (it would then be found before reaching it). */
static void slot_remove(struct mes_catalog *ix, struct slot *s) {
  size_t mask = ix->n_slots - 1;
  size_t hole = (size_t)(s - ix->slots);
  free(s->e);
  for (size_t j = (hole + 1) & mask; ix->slots[j].e; j = (j + 1) & mask) {
    size_t home = ix->slots[j].hash & mask;
    /* distance from home to j, versus from the hole to j */
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      ix->slots[hole] = ix->slots[j];
      hole = j;
    }
  }
  ix->slots[hole] = (struct slot){0};
  ix->n_items--;
}

/* Index of the interned name, adding it; -1 when out of memory. */
static int intern(struct mes_catalog *ix, const char *name) {
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

/* Builds a new entry (one allocation) from a stored document. */
static int ent_from_doc(struct mes_catalog *ix, const char *id, const char *doc, struct ent **out) {
  *out = NULL;
  size_t id_len = strlen(id);
  if (id_len > UINT32_MAX / 2)
    return MES_ESTORE; /* no such id passes the id rule */
  json_t *o = json_loads(doc, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return MES_ESTORE;
  }
  /* The titles first (borrowed from o), to size the allocation: per slot the
   * first translation given wins ("es" and "es-MX"), and the default is the
   * plain string or the first translation. */
  const char *titles[T_N] = {0};
  size_t title_len[T_N] = {0};
  json_t *v, *title = json_object_get(o, "title");
  if (json_is_string(title)) {
    titles[T_DEFAULT] = json_string_value(title);
  } else if (json_is_object(title)) {
    const char *lang;
    json_object_foreach(title, lang, v) {
      if (!json_is_string(v))
        continue;
      int t = title_slot(lang);
      if (t >= 0 && !titles[t])
        titles[t] = json_string_value(v);
      if (!titles[T_DEFAULT])
        titles[T_DEFAULT] = json_string_value(v);
    }
  }
  /* The default is usually one of the translations: stored once. */
  int same_as[T_N];
  size_t size = id_len + 1;
  for (int t = 0; t < T_N; t++) {
    same_as[t] = t;
    for (int u = 0; u < t; u++)
      if (titles[t] && titles[u] == titles[t])
        same_as[t] = same_as[u];
    if (titles[t] && same_as[t] == t) {
      title_len[t] = strlen(titles[t]);
      size += title_len[t] + 1;
    }
  }
  int rc = MES_ENOMEM;
  struct ent *e = size <= UINT32_MAX ? calloc(1, sizeof *e + size) : NULL;
  if (!e)
    goto done;
  e->id_len = (uint32_t)id_len;
  memcpy(e->data, id, id_len + 1);
  size_t off = id_len + 1;
  for (int t = 0; t < T_N; t++) {
    if (titles[t] && same_as[t] != t) {
      e->title_off[t] = e->title_off[same_as[t]];
    } else if (titles[t]) {
      e->title_off[t] = (uint32_t)off;
      memcpy(e->data + off, titles[t], title_len[t] + 1);
      off += title_len[t] + 1;
    }
  }
  e->available = mes_json_bool(o, "available", true);
  size_t i;
  json_array_foreach(json_object_get(o, "categories"), i, v) {
    if (e->n_cats >= MES_CATALOG_IDX_CATS || !json_is_string(v))
      break;
    int k = intern(ix, json_string_value(v));
    if (k < 0)
      goto done;
    e->cats[e->n_cats++] = (uint16_t)k;
  }
  *out = e;
  e = NULL;
  rc = MES_OK;
done:
  free(e);
  json_decref(o);
  return rc;
}

/* Puts e (taken over on success) in the table (write lock held), replacing
 * an entry of the same id. */
static int table_put(struct mes_catalog *ix, struct ent *e) {
  if ((ix->n_items + 1) * 2 > ix->n_slots && grow(ix))
    return MES_ENOMEM;
  uint64_t h = mes_hash_bytes(ent_id(e), e->id_len);
  struct slot *s = slot_of(ix, ent_id(e), e->id_len, h);
  if (s->e)
    free(s->e);
  else
    ix->n_items++;
  *s = (struct slot){.hash = h, .e = e};
  return MES_OK;
}

/* ---------------------------------------------------------------- build */

struct build {
  struct mes_catalog *ix;
  int rc;
};

static int build_cb(void *ud, const char *id, const char *doc) {
  struct build *b = ud;
  struct ent *e;
  b->rc = ent_from_doc(b->ix, id, doc, &e);
  if (!b->rc && (b->rc = table_put(b->ix, e)) != MES_OK)
    free(e);
  return b->rc != MES_OK;
}

/* Builds the table (when no other thread did meanwhile). Called without the
 * index lock; takes the store's writer lock, then the index's. */
static int build(struct mes_catalog *ix) {
  struct mes_store *st = ix->store;
  int rc = mes_store_tx_begin(st);
  if (rc)
    return rc;
  wr_lock(ix);
  if (!ix->built) {
    struct build b = {.ix = ix, .rc = MES_OK};
    rc = grow(ix);
    if (!rc)
      rc = mes_store_item_list(st, NULL, 0, build_cb, &b);
    if (!rc)
      rc = b.rc;
    /* read in the same transaction as the items: the version they are at */
    int64_t v = rc ? -1 : mes__catalog_store_version(st);
    if (rc || v < 0) {
      table_clear(ix);
      rc = rc ? rc : MES_ESTORE;
    } else {
      ix->built = true;
      ix->version = v;
    }
  }
  wr_unlock(ix);
  mes_store_tx_rollback(st); /* wrote nothing */
  return rc;
}

/* Takes the read lock on a built index, building it first when needed: one
 * lock round trip in the common case. On MES_OK the read lock is held, and
 * ix->built may still be false (a failed commit invalidated the index between
 * the build and this read: the caller then answers as if the item were
 * absent, as before the build). */
static int read_built(struct mes_catalog *ix, size_t *shard) {
  *shard = rd_lock(ix);
  if (ix->built)
    return MES_OK;
  rd_unlock(ix, *shard);
  int rc = build(ix);
  if (rc)
    return rc;
  *shard = rd_lock(ix);
  return MES_OK;
}

/* ---------------------------------------------------------------- writes (catalog_int.h) */

void mes__catalog_index_apply(struct mes_catalog *ix, const char *id, const char *doc) {
  wr_lock(ix);
  if (ix->built) {
    struct ent *e = NULL;
    if (ent_from_doc(ix, id, doc, &e) || table_put(ix, e)) {
      free(e);
      table_clear(ix); /* rebuilt on the next lookup rather than wrong */
    }
  }
  wr_unlock(ix);
}

void mes__catalog_index_remove(struct mes_catalog *ix, const char *id) {
  wr_lock(ix);
  if (ix->built) {
    size_t len = strlen(id);
    struct slot *s = slot_of(ix, id, len, mes_hash_bytes(id, len));
    if (s->e)
      slot_remove(ix, s);
  }
  wr_unlock(ix);
}

void mes__catalog_index_invalidate(struct mes_catalog *ix) {
  wr_lock(ix);
  table_clear(ix);
  wr_unlock(ix);
}

void mes__catalog_index_advance(struct mes_catalog *ix, int64_t before, int64_t after) {
  wr_lock(ix);
  if (ix->built) {
    if (before >= 0 && after >= before && ix->version == before)
      ix->version = after;
    else
      table_clear(ix); /* someone else wrote in between: rebuilt on the next lookup */
  }
  wr_unlock(ix);
}

int mes_catalog_refresh(struct mes_catalog *ix) {
  size_t k = rd_lock(ix);
  bool built = ix->built;
  int64_t mine = ix->version;
  rd_unlock(ix, k);
  if (!built)
    return MES_OK; /* built on the next lookup, at the version of then */
  /* Outside any transaction: what is durable. This process's own writes
   * move ix->version first (inside their transaction), so only a version
   * ahead of it is someone else's. */
  int64_t v = mes__catalog_store_version(ix->store);
  if (v < 0)
    return MES_ESTORE;
  if (v > mine) {
    wr_lock(ix);
    if (ix->built && ix->version < v)
      table_clear(ix);
    wr_unlock(ix);
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- reads */

static void fill_entry(const struct mes_catalog *ix, const struct ent *e, struct mes_catalog_entry *out) {
  out->available = e->available;
  out->n_cats = e->n_cats;
  for (size_t i = 0; i < e->n_cats; i++)
    out->cats[i] = ix->names[e->cats[i]];
}

/* The entry of id (read lock held, index built), or NULL. */
static const struct ent *find(const struct mes_catalog *ix, const char *id, size_t len) {
  return ix->built ? slot_of(ix, id, len, mes_hash_bytes(id, len))->e : NULL;
}

int mes_catalog_lookup(struct mes_catalog *ix, const char *id, size_t len, struct mes_catalog_entry *out) {
  memset(out, 0, sizeof *out);
  size_t shard;
  int rc = read_built(ix, &shard);
  if (rc)
    return rc;
  const struct ent *e = find(ix, id, len);
  if (e)
    fill_entry(ix, e, out);
  rd_unlock(ix, shard);
  return e ? MES_OK : MES_ENOT_FOUND;
}

/* Lookups in flight at once in mes_catalog_lookup_many: enough to
 * overlap the slot and entry misses of several items. */
#define MANY_AHEAD 16

int mes_catalog_lookup_many(struct mes_catalog *ix, const char *const *ids, const size_t *lens, size_t n,
                            struct mes_catalog_entry *out, bool *found) {
  size_t shard;
  int rc = read_built(ix, &shard);
  if (rc)
    return rc;
  size_t mask = ix->n_slots - 1;
  for (size_t at = 0; at < n; at += MANY_AHEAD) {
    size_t m = n - at < MANY_AHEAD ? n - at : MANY_AHEAD;
    uint64_t h[MANY_AHEAD];
    for (size_t k = 0; k < m; k++) {
      h[k] = mes_hash_bytes(ids[at + k], lens[at + k]);
      if (ix->built)
        __builtin_prefetch(&ix->slots[h[k] & mask]);
    }
    for (size_t k = 0; ix->built && k < m; k++) { /* the likely entry, before slot_of compares its id */
      size_t i = h[k] & mask;
      while (ix->slots[i].e && ix->slots[i].hash != h[k])
        i = (i + 1) & mask;
      if (ix->slots[i].e)
        __builtin_prefetch(ix->slots[i].e);
    }
    for (size_t k = 0; k < m; k++) {
      const struct ent *e = ix->built ? slot_of(ix, ids[at + k], lens[at + k], h[k])->e : NULL;
      memset(&out[at + k], 0, sizeof out[at + k]);
      found[at + k] = e != NULL;
      if (e)
        fill_entry(ix, e, &out[at + k]);
    }
  }
  rd_unlock(ix, shard);
  return MES_OK;
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

int mes_catalog_title(struct mes_catalog *ix, const char *id, size_t len, enum mes_lang l, char *out, size_t cap) {
  if (cap)
    out[0] = '\0';
  size_t shard;
  int rc = read_built(ix, &shard);
  if (rc)
    return rc;
  const struct ent *e = find(ix, id, len);
  if (e && cap) {
    uint32_t off = (l >= 0 && l < MES_LANG_N) ? e->title_off[l] : 0;
    if (!off)
      off = e->title_off[T_EN];
    if (!off)
      off = e->title_off[T_DEFAULT];
    copy_utf8(out, cap, e->data + off); /* off 0: the id itself */
  }
  rd_unlock(ix, shard);
  return e ? MES_OK : MES_ENOT_FOUND;
}

int mes_catalog_each(struct mes_catalog *ix, size_t max, mes_catalog_each_cb cb, void *ud) {
  size_t shard;
  int rc = read_built(ix, &shard);
  if (rc)
    return rc;
  size_t n = 0;
  for (size_t i = 0; ix->built && i < ix->n_slots; i++) {
    const struct ent *e = ix->slots[i].e;
    if (!e)
      continue;
    struct mes_catalog_entry ce;
    fill_entry(ix, e, &ce);
    if (cb(ud, ent_id(e), &ce) || (max && ++n >= max))
      break;
  }
  rd_unlock(ix, shard);
  return MES_OK;
}

size_t mes_catalog_size(struct mes_catalog *ix) {
  size_t k = rd_lock(ix);
  size_t n = ix->built ? ix->n_items : 0;
  rd_unlock(ix, k);
  return n;
}
