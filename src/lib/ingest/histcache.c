/*
 * ingest/histcache — the cache of decoded histories (histcache.h): shards of
 * a hash table with an LRU list each, entries stamped with what the store
 * said of the subject's rows when they were read. A subject has up to one
 * entry per kind (enum mes_histcache_kind: events, impressions), keyed by (sid,
 * kind), each stamped and replaced on its own; all share the cap and the LRU.
 *
 * One entry is one allocation: the header, the records (the codec's struct
 * mes_evrec, evrec.h, 88 bytes each, whose item pointers point into the
 * entry) and their item ids, NUL-terminated, back to back. Readers are
 * handed the records themselves (mes_histcache_records): the event a scorer
 * reads is the one the cache holds, not a copy of it. Its
 * `bytes` is that allocation's size; a shard keeps the sum of its entries'
 * bytes under its share of the cap (cap / N_SHARDS), so the whole cache
 * stays under the cap. Not counted: the bucket arrays, at most 16 bytes per
 * entry (a table doubles once it holds more entries than buckets), a few
 * per cent of the cap with histories of a few events, less with longer ones.
 *
 * Readers use an entry without holding its shard's lock: they take a
 * reference under the lock and give it back after. An entry leaves the table
 * (evicted, replaced, stale, forgotten) at once, but its memory is wiped and
 * freed only when its last reference goes, so a reader under way never reads
 * freed memory; the bytes of such an entry no longer count against the cap.
 *
 * The chains are this file's own rather than a base/htab table: an entry
 * leaves by its pointer (from the LRU list's end, or a reader's stale
 * reference) and is freed by reference count, and chaining through the
 * entries needs no side array of entry pointers, which base/htab's 32-bit
 * values would. A lookup is one per request, under the shard's lock.
 */
#include "ingest/ingest_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"

#define N_SHARDS 16     /* a power of two: shards by the sid's hash, so one busy subject blocks 1/16th */
#define MIN_BUCKETS 64u /* per shard, a power of two; the table doubles when it holds more entries */
#define ITEMS_MAX UINT32_MAX /* item bytes of one entry: offsets are 32 bits */

struct mes_histcache_entry {
  struct mes_histcache_entry *hnext;            /* hash chain */
  struct mes_histcache_entry *newer, *older;    /* the shard's LRU list */
  int64_t sid, max_id, n_rows;            /* the stamp is (max_id, n_rows); rows, not records */
  enum mes_histcache_kind kind;
  size_t bytes;                           /* the whole allocation */
  size_t n;
  int refs;                               /* guarded by the shard's mutex; the table holds one while linked */
  bool linked;
  struct mes_evrec ev[];                  /* n records, then their item bytes */
};

/* A shard: its own lock, table and LRU list; counters under the lock too
 * (every use takes it anyway). Aligned so that two shards' locks never share
 * a cache line. */
struct shard {
  _Alignas(64) pthread_mutex_t mu;
  struct mes_histcache_entry **buckets;
  size_t n_buckets, n_entries, bytes;
  struct mes_histcache_entry *newest, *oldest;
  uint64_t epoch; /* bumped by every forget */
  uint64_t hits[MES_HISTCACHE_KINDS], misses[MES_HISTCACHE_KINDS], stale[MES_HISTCACHE_KINDS];
  uint64_t appended[MES_HISTCACHE_KINDS], evictions;
};

struct mes_histcache {
  _Atomic size_t cap; /* bytes, the whole cache */
  struct shard shards[N_SHARDS];
};

/* splitmix64's finaliser: sids are consecutive integers, and both the shard
 * and the bucket are taken from the mixed bits. */
static uint64_t mix(int64_t sid) {
  uint64_t x = (uint64_t)sid;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static struct shard *shard_of(struct mes_histcache *hc, int64_t sid) {
  return &hc->shards[mix(sid) & (N_SHARDS - 1)];
}

static size_t bucket_of(const struct shard *sh, int64_t sid) {
  return (size_t)(mix(sid) >> 8) & (sh->n_buckets - 1);
}

static size_t shard_cap(const struct mes_histcache *hc) {
  return atomic_load_explicit(&hc->cap, memory_order_relaxed) / N_SHARDS;
}

static void entry_free(struct mes_histcache_entry *e) {
  mes_wipe(e, e->bytes); /* decrypted item ids: gone before the allocator sees the memory again */
  free(e);
}

/* ---------------------------------------------------------------- lifecycle */

int mes_histcache_new(size_t max_bytes, struct mes_histcache **out) {
  *out = NULL;
  struct mes_histcache *hc = aligned_alloc(64, sizeof *hc);
  if (!hc)
    return MES_ENOMEM;
  memset(hc, 0, sizeof *hc);
  atomic_init(&hc->cap, max_bytes);
  for (int i = 0; i < N_SHARDS; i++) {
    struct shard *sh = &hc->shards[i];
    sh->buckets = calloc(MIN_BUCKETS, sizeof *sh->buckets);
    if (!sh->buckets) {
      for (int j = 0; j < i; j++) {
        free(hc->shards[j].buckets);
        pthread_mutex_destroy(&hc->shards[j].mu);
      }
      free(hc);
      return MES_ENOMEM;
    }
    sh->n_buckets = MIN_BUCKETS;
    pthread_mutex_init(&sh->mu, NULL);
  }
  *out = hc;
  return MES_OK;
}

void mes_histcache_free(struct mes_histcache *hc) {
  if (!hc)
    return;
  for (int i = 0; i < N_SHARDS; i++) {
    struct shard *sh = &hc->shards[i];
    for (struct mes_histcache_entry *e = sh->newest, *next; e; e = next) {
      next = e->older;
      entry_free(e);
    }
    free(sh->buckets);
    pthread_mutex_destroy(&sh->mu);
  }
  free(hc);
}

size_t mes_histcache_cap(const struct mes_histcache *hc) {
  return hc ? atomic_load_explicit(&hc->cap, memory_order_relaxed) : 0;
}

/* ---------------------------------------------------------------- table and LRU (shard's mutex held) */

/* Both kinds of a subject share the bucket (and the shard: one forget). */
static struct mes_histcache_entry *find(const struct shard *sh, int64_t sid, enum mes_histcache_kind kind) {
  struct mes_histcache_entry *e = sh->buckets[bucket_of(sh, sid)];
  while (e && (e->sid != sid || e->kind != kind))
    e = e->hnext;
  return e;
}

static void lru_unlink(struct shard *sh, struct mes_histcache_entry *e) {
  if (e->newer)
    e->newer->older = e->older;
  else
    sh->newest = e->older;
  if (e->older)
    e->older->newer = e->newer;
  else
    sh->oldest = e->newer;
  e->newer = e->older = NULL;
}

static void lru_push(struct shard *sh, struct mes_histcache_entry *e) {
  e->newer = NULL;
  e->older = sh->newest;
  if (sh->newest)
    sh->newest->newer = e;
  else
    sh->oldest = e;
  sh->newest = e;
}

/* Takes e out of the table and the list, and gives back the table's
 * reference: freed now unless a reader still holds it. */
static void unlink_entry(struct shard *sh, struct mes_histcache_entry *e) {
  struct mes_histcache_entry **pp = &sh->buckets[bucket_of(sh, e->sid)];
  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  e->hnext = NULL;
  lru_unlink(sh, e);
  e->linked = false;
  sh->n_entries--;
  sh->bytes -= e->bytes;
  if (--e->refs == 0)
    entry_free(e);
}

/* Doubles the bucket array once it holds more entries than buckets; when
 * that allocation fails the chains just grow longer. */
static void maybe_grow(struct shard *sh) {
  if (sh->n_entries <= sh->n_buckets || sh->n_buckets > SIZE_MAX / 2 / sizeof *sh->buckets)
    return;
  size_t nb = sh->n_buckets * 2;
  struct mes_histcache_entry **b = calloc(nb, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < sh->n_buckets; i++) {
    for (struct mes_histcache_entry *e = sh->buckets[i], *next; e; e = next) {
      next = e->hnext;
      size_t k = (size_t)(mix(e->sid) >> 8) & (nb - 1);
      e->hnext = b[k];
      b[k] = e;
    }
  }
  free(sh->buckets);
  sh->buckets = b;
  sh->n_buckets = nb;
}

/* Evicts the least recently used entries until `room` more bytes fit under
 * `cap` (bytes of this shard). */
static void evict_to(struct shard *sh, size_t cap, size_t room) {
  while (sh->oldest && sh->bytes + room > cap) {
    unlink_entry(sh, sh->oldest);
    sh->evictions++;
  }
}

void mes_histcache_set_cap(struct mes_histcache *hc, size_t max_bytes) {
  if (!hc)
    return;
  atomic_store_explicit(&hc->cap, max_bytes, memory_order_relaxed);
  for (int i = 0; i < N_SHARDS; i++) {
    struct shard *sh = &hc->shards[i];
    pthread_mutex_lock(&sh->mu);
    evict_to(sh, max_bytes / N_SHARDS, 0);
    pthread_mutex_unlock(&sh->mu);
  }
}

/* ---------------------------------------------------------------- use */

struct mes_histcache_entry *mes__hc_find(struct mes_histcache *hc, int64_t sid, enum mes_histcache_kind kind,
                                   uint64_t *epoch) {
  struct shard *sh = shard_of(hc, sid);
  pthread_mutex_lock(&sh->mu);
  struct mes_histcache_entry *e = find(sh, sid, kind);
  if (e)
    e->refs++;
  else
    sh->misses[kind]++;
  *epoch = sh->epoch;
  pthread_mutex_unlock(&sh->mu);
  return e;
}

bool mes__hc_fresh(struct mes_histcache *hc, struct mes_histcache_entry *e, int64_t max_id, int64_t n) {
  struct shard *sh = shard_of(hc, e->sid);
  pthread_mutex_lock(&sh->mu);
  bool fresh = e->linked && e->max_id == max_id && e->n_rows == n;
  if (fresh) {
    lru_unlink(sh, e);
    lru_push(sh, e);
    sh->hits[e->kind]++;
  } else {
    if (e->linked)
      unlink_entry(sh, e); /* what it holds is no longer what the store holds (the caller's reference keeps it) */
    sh->stale[e->kind]++;
  }
  pthread_mutex_unlock(&sh->mu);
  return fresh;
}

void mes__hc_put(struct mes_histcache *hc, struct mes_histcache_entry *e, uint64_t epoch) {
  struct shard *sh = shard_of(hc, e->sid);
  pthread_mutex_lock(&sh->mu);
  size_t cap = shard_cap(hc);
  if (sh->epoch == epoch && !e->linked && e->bytes <= cap / 4) {
    struct mes_histcache_entry *old = find(sh, e->sid, e->kind);
    if (old) /* another reader of the same subject was first: the later read wins */
      unlink_entry(sh, old);
    evict_to(sh, cap, e->bytes);
    size_t k = bucket_of(sh, e->sid);
    e->hnext = sh->buckets[k];
    sh->buckets[k] = e;
    lru_push(sh, e);
    e->linked = true;
    e->refs++;
    sh->n_entries++;
    sh->bytes += e->bytes;
    maybe_grow(sh);
  }
  pthread_mutex_unlock(&sh->mu);
}

/* Drops sid's entries of kinds [from, to). A forget (bump) also keeps reads
 * under way of any kind from storing what they read. */
static void drop(struct mes_histcache *hc, int64_t sid, int from, int to, bool bump) {
  struct shard *sh = shard_of(hc, sid);
  pthread_mutex_lock(&sh->mu);
  if (bump)
    sh->epoch++;
  for (int k = from; k < to; k++) {
    struct mes_histcache_entry *x = find(sh, sid, (enum mes_histcache_kind)k);
    if (x)
      unlink_entry(sh, x);
  }
  pthread_mutex_unlock(&sh->mu);
}

static void hc_drop(struct mes_histcache *hc, int64_t sid, enum mes_histcache_kind kind) {
  drop(hc, sid, (int)kind, (int)kind + 1, false);
}

void mes_histcache_forget(struct mes_histcache *hc, int64_t sid) {
  if (hc)
    drop(hc, sid, 0, MES_HISTCACHE_KINDS, true);
}

void mes__hc_release(struct mes_histcache *hc, struct mes_histcache_entry *e) {
  if (!e)
    return;
  struct shard *sh = shard_of(hc, e->sid);
  pthread_mutex_lock(&sh->mu);
  bool last = --e->refs == 0;
  pthread_mutex_unlock(&sh->mu);
  if (last) /* no longer in the table, and nobody else holds it */
    entry_free(e);
}

const struct mes_evrec *mes_histcache_records(const struct mes_histcache_entry *e, size_t *n) {
  *n = e->n;
  return e->ev;
}

void mes_histcache_stats(struct mes_histcache *hc, struct mes_histcache_stats *st) {
  memset(st, 0, sizeof *st);
  if (!hc)
    return;
  st->cap_bytes = mes_histcache_cap(hc);
  for (int i = 0; i < N_SHARDS; i++) {
    struct shard *sh = &hc->shards[i];
    pthread_mutex_lock(&sh->mu);
    st->hits += sh->hits[MES_HISTCACHE_EVENTS];
    st->misses += sh->misses[MES_HISTCACHE_EVENTS];
    st->stale += sh->stale[MES_HISTCACHE_EVENTS];
    st->shown_hits += sh->hits[MES_HISTCACHE_SHOWN];
    st->shown_misses += sh->misses[MES_HISTCACHE_SHOWN];
    st->shown_stale += sh->stale[MES_HISTCACHE_SHOWN];
    st->shown_appended += sh->appended[MES_HISTCACHE_SHOWN];
    st->evictions += sh->evictions;
    st->entries += sh->n_entries;
    st->bytes += sh->bytes;
    pthread_mutex_unlock(&sh->mu);
  }
}

/* ---------------------------------------------------------------- building an entry */

/* Makes *buf (cap *cap bytes, `used` of them live) hold at least `need`
 * bytes: a new buffer, the live bytes copied, the old one wiped and freed
 * (realloc could leave plaintext behind in memory it frees). */
static int grow(void **buf, size_t *cap, size_t used, size_t need, size_t first) {
  if (need <= *cap)
    return MES_OK;
  size_t ncap = *cap ? *cap : first;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2)
      return MES_ENOMEM;
    ncap *= 2;
  }
  void *nb = malloc(ncap);
  if (!nb)
    return MES_ENOMEM;
  if (*buf) {
    memcpy(nb, *buf, used);
    mes_wipe(*buf, *cap);
    free(*buf);
  }
  *buf = nb;
  *cap = ncap;
  return MES_OK;
}

int mes_histcache_build_add(struct mes_histcache_build *b, const struct mes_evrec *ev) {
  if (b->n == b->cap) {
    size_t ev_cap = b->cap * sizeof *b->ev, off_cap = b->cap * sizeof *b->item_off;
    if (b->n > SIZE_MAX / sizeof *b->ev / 2 ||
        grow((void **)&b->ev, &ev_cap, b->n * sizeof *b->ev, (b->n + 1) * sizeof *b->ev, 64 * sizeof *b->ev) ||
        grow((void **)&b->item_off, &off_cap, b->n * sizeof *b->item_off, ev_cap / sizeof *b->ev * sizeof *b->item_off,
             64 * sizeof *b->item_off))
      return MES_ENOMEM;
    b->cap = ev_cap / sizeof *b->ev;
  }
  uint32_t off = 0;
  if (ev->item) {
    if (ev->item_len >= ITEMS_MAX - 1 - b->items_len)
      return MES_ENOMEM; /* an entry's offsets are 32 bits */
    if (grow((void **)&b->items, &b->items_cap, b->items_len, b->items_len + ev->item_len + 1, 4096))
      return MES_ENOMEM;
    memcpy(b->items + b->items_len, ev->item, ev->item_len);
    b->items[b->items_len + ev->item_len] = '\0';
    off = (uint32_t)b->items_len + 1;
    b->items_len += ev->item_len + 1;
  }
  struct mes_evrec *x = &b->ev[b->n];
  *x = *ev;
  x->item = NULL; /* named by item_off until the entry is made */
  x->item_len = ev->item ? ev->item_len : 0;
  x->event_id = NULL;
  x->event_id_len = 0;
  x->cold = (struct mes_slice){0};
  b->item_off[b->n++] = off;
  return MES_OK;
}

void mes_histcache_build_row(struct mes_histcache_build *b, int64_t id) {
  b->n_rows++;
  if (id > b->max_id)
    b->max_id = id;
}

void mes__hc_build_release(struct mes_histcache_build *b) {
  if (b->ev) {
    mes_wipe(b->ev, b->cap * sizeof *b->ev);
    free(b->ev);
  }
  free(b->item_off); /* offsets only: nothing personal */
  free(b->order);
  if (b->items) {
    mes_wipe(b->items, b->items_cap);
    free(b->items);
  }
  memset(b, 0, sizeof *b);
}

static bool later(const struct mes_evrec *a, const struct mes_evrec *b) {
  return a->ts_ms != b->ts_ms ? a->ts_ms > b->ts_ms : a->id > b->id;
}

/* What the order is computed from: the store row's time and id, both clear
 * columns, so that qsort may copy them wherever it likes; the records
 * themselves (their decrypted channel and item) never move until they are
 * copied into the entry. */
struct order_key {
  int64_t ts_ms, id;
  uint32_t at;
};

static int order_cmp(const void *pa, const void *pb) {
  const struct order_key *a = pa, *b = pb;
  if (a->ts_ms != b->ts_ms)
    return a->ts_ms < b->ts_ms ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

int mes__hc_build_by_time(struct mes_histcache_build *b) {
  const struct mes_evrec *v = b->ev;
  size_t n = b->n, i = 1;
  while (i < n && !later(&v[i - 1], &v[i]))
    i++;
  if (i >= n)
    return MES_OK; /* already in order: every history whose events all arrived in time */
  if (n > UINT32_MAX)
    return MES_ENOMEM;
  struct order_key *keys = malloc(n * sizeof *keys);
  uint32_t *order = malloc(n * sizeof *order);
  if (!keys || !order) {
    free(keys);
    free(order);
    return MES_ENOMEM;
  }
  for (size_t k = 0; k < n; k++)
    keys[k] = (struct order_key){v[k].ts_ms, v[k].id, (uint32_t)k};
  qsort(keys, n, sizeof *keys, order_cmp);
  for (size_t k = 0; k < n; k++)
    order[k] = keys[k].at;
  free(keys);
  free(b->order);
  b->order = order;
  return MES_OK;
}

int mes__hc_build_finish(struct mes_histcache_build *b, int64_t sid, enum mes_histcache_kind kind,
                          struct mes_histcache_entry **out) {
  *out = NULL;
  size_t bytes = sizeof(struct mes_histcache_entry) + b->n * sizeof(struct mes_evrec) + b->items_len;
  struct mes_histcache_entry *e = malloc(bytes);
  if (!e) {
    mes__hc_build_release(b);
    return MES_ENOMEM;
  }
  memset(e, 0, sizeof *e);
  e->sid = sid;
  e->kind = kind;
  e->max_id = b->max_id;
  e->n_rows = b->n_rows;
  e->n = b->n;
  e->bytes = bytes;
  e->refs = 1; /* the caller's */
  char *items = (char *)(e->ev + b->n);
  if (b->items_len)
    memcpy(items, b->items, b->items_len);
  for (size_t i = 0; i < b->n; i++) {
    size_t at = b->order ? b->order[i] : i;
    e->ev[i] = b->ev[at];
    if (b->item_off[at])
      e->ev[i].item = items + b->item_off[at] - 1;
  }
  mes__hc_build_release(b);
  *out = e;
  return MES_OK;
}

/* ---------------------------------------------------------------- the read through the cache */

/* MES_OK while sid's key is still there, MES_ENOT_FOUND once it is shredded
 * (then nothing of sid reads back, not even from the cache's memory). With
 * the registry's key cache, a lookup in memory. */
static int key_alive(struct mes_ingester *ing, int64_t sid) {
  uint8_t key[MES_KEY_BYTES];
  int rc = mes_subject_key(ing->subjects, sid, key);
  mes_wipe(key, sizeof key);
  return rc;
}

/* append's answer when it does not apply: private, negative so that it is
 * never one of the MES_E* codes (all positive). */
#define NOT_APPENDED (-1)

/* Appends to b the records of e and of add (both in the store's order, by
 * ts_ms then id) merged in that order; item bytes copied. */
static int merge(struct mes_histcache_build *b, const struct mes_histcache_entry *e,
                 const struct mes_histcache_build *add) {
  size_t i = 0, j = 0;
  int rc = MES_OK;
  while (rc == MES_OK && (i < e->n || j < add->n)) {
    const struct mes_evrec *x = i < e->n ? &e->ev[i] : NULL, *y = j < add->n ? &add->ev[j] : NULL;
    bool take_e = !y || (x && (x->ts_ms < y->ts_ms || (x->ts_ms == y->ts_ms && x->id < y->id)));
    if (take_e) {
      rc = mes_histcache_build_add(b, x);
      i++;
    } else {
      struct mes_evrec r = *y; /* its item named by offset while collected */
      r.item = add->item_off[j] ? add->items + add->item_off[j] - 1 : NULL;
      rc = mes_histcache_build_add(b, &r);
      j++;
    }
  }
  return rc;
}

/*
 * Completes stale entry e (a reference) with the rows written since it was
 * read, when that is all that changed: the store's stamp (max_id, n) says
 * there are more rows and a larger id, and the rows above e's largest id
 * are exactly the difference. Ids are never reused, so rows written after
 * e was read all have larger ids, and the rows with ids up to e's largest
 * are then, by their count, e's own: none was deleted. The rows read are
 * checked against the stamp rather than trusted, so a write landing between
 * the two reads makes this refuse, never wrong: what is built is the
 * subject's rows as the stamp saw them. *out gets a new entry (a reference,
 * not in the cache). NOT_APPENDED: not applicable, read everything again;
 * MES_ENOMEM: read without the cache; other codes as src->fill_after's.
 */
static int append(struct mes_ingester *ing, int64_t sid, const struct mes_histcache_source *src, void *ud,
                  const struct mes_histcache_entry *e, int64_t max_id, int64_t n, struct mes_histcache_entry **out) {
  *out = NULL;
  if (!src->fill_after || max_id <= e->max_id || n <= e->n_rows)
    return NOT_APPENDED;
  struct mes_histcache_build add = {0}, b = {0};
  int rc = src->fill_after(ud, sid, e->max_id, &add);
  if (rc == MES_OK && (add.n_rows != n - e->n_rows || add.max_id != max_id))
    rc = NOT_APPENDED;
  if (rc == MES_OK)
    rc = merge(&b, e, &add);
  if (rc == MES_OK) {
    b.n_rows = n;
    b.max_id = max_id;
    rc = mes__hc_build_finish(&b, sid, e->kind, out);
  } else {
    mes__hc_build_release(&b);
  }
  mes__hc_build_release(&add);
  if (rc == MES_OK) {
    struct shard *sh = shard_of(ing->cache, sid);
    pthread_mutex_lock(&sh->mu);
    sh->appended[e->kind]++;
    pthread_mutex_unlock(&sh->mu);
  }
  return rc;
}

/*
 * A subject with an entry costs one indexed read, the stamp of their rows of
 * the kind: the entry is handed out when its stamp is the same. Otherwise
 * (no entry, or a stale one) the rows are read and decoded into a new entry,
 * stamped with what that read saw (its largest id and row count, computed
 * from the rows themselves, so that the stamp and the records always agree,
 * on whichever connection or snapshot the read ran: a write landing
 * meanwhile only makes the next use read again), and handed out. A subject
 * seen for the first time reads no stamp at all: a miss costs what a read
 * without the cache does, plus one copy.
 */
int mes_ingest_cache_get(struct mes_ingester *ing, int64_t sid, const struct mes_histcache_source *src, void *ud,
                         struct mes_histcache_entry **out, bool *bypass) {
  struct mes_histcache *hc = ing->cache;
  *out = NULL;
  *bypass = mes_histcache_cap(hc) == 0; /* off: an entry would only be copied, never kept */
  if (*bypass)
    return MES_OK;
  uint64_t epoch = 0;
  struct mes_histcache_entry *e = mes__hc_find(hc, sid, src->kind, &epoch);
  int rc;
  if (e) {
    int64_t max_id = 0, n = 0;
    if ((rc = src->stamp(ing->store, sid, &max_id, &n))) {
      mes__hc_release(hc, e);
      hc_drop(hc, sid, src->kind);
      *bypass = rc == MES_EINTERNAL; /* the store gives no stamp: read without the cache */
      return *bypass ? MES_OK : rc;
    }
    if (mes__hc_fresh(hc, e, max_id, n)) {
      if ((rc = key_alive(ing, sid))) {
        mes__hc_release(hc, e);
        if (rc == MES_ENOT_FOUND)
          hc_drop(hc, sid, src->kind);
        return rc;
      }
      *out = e;
      return MES_OK;
    }
    if (n == 0) {
      mes__hc_release(hc, e); /* stale: out of the cache already */
      return MES_OK;          /* nothing held any more (erased, swept, purged): no key needed, as without the cache */
    }
    struct mes_histcache_entry *done = NULL;
    rc = append(ing, sid, src, ud, e, max_id, n, &done);
    mes__hc_release(hc, e);
    if (rc != NOT_APPENDED) {
      if (rc == MES_OK)
        mes__hc_put(hc, done, epoch);
      *out = done;
      *bypass = rc == MES_ENOMEM;
      return rc == MES_ENOMEM ? MES_OK : rc;
    }
  }
  struct mes_histcache_build b = {0};
  rc = src->fill(ud, sid, &b);
  if (!rc)
    rc = mes__hc_build_finish(&b, sid, src->kind, &e);
  else
    mes__hc_build_release(&b);
  if (rc == MES_ENOMEM) {
    *bypass = true;
    return MES_OK;
  }
  if (rc)
    return rc;
  if (e->n_rows > 0) /* no rows: nothing worth keeping */
    mes__hc_put(hc, e, epoch);
  *out = e;
  return MES_OK;
}

void mes_ingest_cache_release(struct mes_ingester *ing, struct mes_histcache_entry *e) {
  mes__hc_release(ing->cache, e);
}
