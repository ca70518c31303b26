/*
 * base/htab — the hash table, and the hash of byte strings, that every
 * module uses: open addressing with linear probing over a power-of-two
 * array of 8-byte slots, kept at most half full so that probe runs stay
 * short and a probe always ends on a free slot.
 *
 * A slot holds a 32-bit key and a 32-bit value. The value is the caller's,
 * never 0 in a used slot (0 marks a free one): nearly every table maps to an
 * index into the caller's own array, and stores index + 1.
 *   - Integer keys of up to 32 bits (model indexes, candidate and history
 *     indexes) are exact: the key alone says whether a slot holds them
 *     (mes_htab_find).
 *   - Byte strings and wider integers (subject row ids) are keyed by a tag,
 *     32 bits of their hash (mes_htab_tag): a slot with the same tag is the
 *     caller's key only when the caller's own copy, reached through the
 *     value, is equal. Lookups walk the slots of a tag with mes_htab_next:
 *
 *       uint32_t tag = mes_htab_tag(mes_hash_bytes(id, len));
 *       struct mes_htab_slot *s;
 *       for (size_t pos = 0; (s = mes_htab_next(&t, tag, &pos));)
 *         if (equal(&items[s->val - 1], id, len))
 *           return s->val - 1;
 *
 * A key may be added more than once (a multimap); mes_htab_next then finds
 * each of its slots.
 *
 * Eight bytes a slot, not sixteen with a 64-bit key or a pointer: the
 * per-request tables of serving (the candidate map, the rules' candidate
 * indexes) are cleared for every request and probed hundreds of times, and
 * at sixteen bytes the candidate map alone outgrows the L1 cache (measured:
 * clearing 64 KiB costs 15 times clearing 16 KiB). Tables whose entries are
 * pointers keep an array of them and store the index.
 *
 * Storage is one of three, chosen at init:
 *   - the caller's (mes_htab_init_fixed): a stack array or a struct member;
 *     never grows, never allocates. Rules that run per candidate use this.
 *   - the heap (mes_htab_init): doubles as it fills, up to a cap on entries
 *     set at init; mes_htab_release frees it.
 *   - an arena (mes_htab_init_arena): doubles in the arena, up to a cap;
 *     freed with the arena (old arrays stay there until then).
 * Out of memory, or the cap, makes an add fail with MES_ENOMEM and leaves
 * the table as it was.
 *
 * Slots are placed by Fibonacci hashing (the top bits of key x 2^32/phi),
 * which spreads consecutive integers and hash tags alike.
 *
 * Thread-safety: none; a table shared between threads needs the caller's
 * lock (readers alone may share one).
 */
#ifndef MES_BASE_HTAB_H
#define MES_BASE_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"

struct mes_arena;

/* ------------------------------------------------------------------ hashing */

/* 64-bit hash of n bytes, eight at a time, then a multiply-xorshift
 * finaliser so that the low bits (which pick a slot, or make a tag) depend
 * on every byte. Stable within a process only: never store it. Inline: ids
 * are short, and a call would cost as much as hashing one. */
static inline uint64_t mes_hash_bytes(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h = (h ^ w) * 0x87C37B91114253D5ull;
    h ^= h >> 31;
  }
  /* The last 1-7 bytes with fixed-size loads (a memcpy of a variable
   * length is a call): two overlapping words of 4, or three bytes. Byte
   * order does not matter: hashes never leave the process. */
  size_t r = n - i;
  uint64_t tail = 0;
  if (r >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, s + i, 4);
    memcpy(&hi, s + i + r - 4, 4);
    tail = (uint64_t)lo | (uint64_t)hi << 32;
  } else if (r > 0) {
    tail = (uint64_t)s[i] << 16 | (uint64_t)s[i + r / 2] << 8 | s[i + r - 1];
  }
  h = (h ^ tail) * 0x87C37B91114253D5ull;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  return h;
}

/* The same hash of a NUL-terminated string (without the NUL). */
static inline uint64_t mes_hash_str(const char *s) { return mes_hash_bytes(s, strlen(s)); }

/* The key a hash (or an integer wider than 32 bits) is stored under. */
static inline uint32_t mes_htab_tag(uint64_t h) { return (uint32_t)(h ^ h >> 32); }

/* ------------------------------------------------------------------ the table */

struct mes_htab_slot {
  uint32_t key; /* the integer key, or the tag */
  uint32_t val; /* the caller's value; 0: the slot is free */
};

enum mes__htab_mode { MES__HTAB_FIXED, MES__HTAB_HEAP, MES__HTAB_ARENA };

/* Fields are read by the inline functions below; set them only through
 * this file's functions. */
struct mes_htab {
  struct mes_htab_slot *slot; /* mask + 1 of them: owned (heap), the arena's, or the caller's */
  size_t mask;                /* slots - 1 */
  unsigned shift;             /* 32 - log2(slots) */
  size_t n;                   /* used slots */
  size_t limit;               /* n may reach this before the table must grow: slots / 2 */
  size_t max;                 /* at most this many entries (heap and arena) */
  enum mes__htab_mode mode;
  struct mes_arena *arena; /* borrowed: MES__HTAB_ARENA */
};

/* The slots a table needs to hold n entries at most half full: a power of
 * two, at least 16. */
size_t mes_htab_slots_for(size_t n);

/* Over the caller's storage: n_slots slots (a power of two, 2 to 2^31),
 * which must outlive the table; clears them. Holds n_slots / 2 entries. */
void mes_htab_init_fixed(struct mes_htab *t, struct mes_htab_slot *storage, size_t n_slots);
/* On the heap, holding at most max_entries. Allocates nothing until the
 * first add (or mes_htab_reserve). */
void mes_htab_init(struct mes_htab *t, size_t max_entries);
/* In arena a (borrowed; it must outlive the table), holding at most
 * max_entries. Allocates nothing until the first add. */
void mes_htab_init_arena(struct mes_htab *t, struct mes_arena *a, size_t max_entries);
/* Frees heap storage; leaves an empty table that can be used again. A
 * zeroed struct, and every other mode, are fine too (nothing to free). */
void mes_htab_release(struct mes_htab *t);

/* Makes room for n entries in all, so that adds up to then neither grow
 * the table nor fail. MES_ENOMEM: out of memory, beyond the cap, or more
 * than fixed storage holds. */
static inline int mes_htab_reserve(struct mes_htab *t, size_t n);
/* Empties the table, keeping its storage. */
void mes_htab_clear(struct mes_htab *t);

/* Adds a slot for key, without looking for one already there, holding val
 * (not 0); *out (may be NULL) gets the slot, valid until the next add or
 * removal. MES_ENOMEM when the table cannot grow. */
static inline int mes_htab_add(struct mes_htab *t, uint32_t key, uint32_t val, struct mes_htab_slot **out);
/* Empties slot s (a used slot of t) and moves the later slots of its probe
 * run back, so that no lookup stops short: slot pointers taken before are
 * stale afterwards. */
void mes_htab_remove(struct mes_htab *t, struct mes_htab_slot *s);

static inline bool mes_htab_used(const struct mes_htab_slot *s) { return s->val != 0; }

/* Where key's probe run starts. */
static inline size_t mes_htab_home(const struct mes_htab *t, uint32_t key) {
  return (size_t)((uint32_t)(key * 2654435769u) >> t->shift);
}

/* Walks the used slots whose key is key, in probe order: start with
 * *pos = 0 and call until it returns NULL. Adds in between are not allowed. */
static inline struct mes_htab_slot *mes_htab_next(const struct mes_htab *t, uint32_t key, size_t *pos) {
  /* *pos: the index of the slot last returned + 1 (the mask wraps it) */
  size_t i = *pos ? *pos & t->mask : mes_htab_home(t, key);
  for (;; i = (i + 1) & t->mask) {
    struct mes_htab_slot *s = &t->slot[i];
    if (!s->val)
      return NULL;
    if (s->key == key) {
      *pos = i + 1;
      return s;
    }
  }
}

/* The first slot of key, or NULL: for exact integer keys, the slot. */
static inline struct mes_htab_slot *mes_htab_find(const struct mes_htab *t, uint32_t key) {
  size_t pos = 0;
  return mes_htab_next(t, key, &pos);
}

/* Walks every used slot: start with *i = 0. */
static inline struct mes_htab_slot *mes_htab_each(const struct mes_htab *t, size_t *i) {
  for (; *i <= t->mask; (*i)++)
    if (t->slot[*i].val)
      return &t->slot[(*i)++];
  return NULL;
}

static inline size_t mes_htab_count(const struct mes_htab *t) { return t->n; }

/* Slots the table holds now (0 before a heap or arena table's first add):
 * its memory is that many times sizeof(struct mes_htab_slot). */
static inline size_t mes_htab_n_slots(const struct mes_htab *t) { return t->limit ? t->mask + 1 : 0; }

/* ------------------------------------------------------------------ inline adds */

/* Out of line: growing (or refusing) when an add or a reserve needs more
 * than the table holds now. */
int mes__htab_reserve_slow(struct mes_htab *t, size_t n);

static inline int mes_htab_reserve(struct mes_htab *t, size_t n) {
  return n <= t->limit && (t->mode == MES__HTAB_FIXED || n <= t->max) ? MES_OK : mes__htab_reserve_slow(t, n);
}

static inline int mes_htab_add(struct mes_htab *t, uint32_t key, uint32_t val, struct mes_htab_slot **out) {
  if (mes_htab_reserve(t, t->n + 1))
    return MES_ENOMEM;
  size_t i = mes_htab_home(t, key);
  while (t->slot[i].val)
    i = (i + 1) & t->mask;
  t->slot[i] = (struct mes_htab_slot){.key = key, .val = val};
  t->n++;
  if (out)
    *out = &t->slot[i];
  return MES_OK;
}

#endif
