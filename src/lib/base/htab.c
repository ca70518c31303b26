/*
 * base/htab — the hash table (see htab.h): growth, adds and removals; the
 * lookups are inline in the header.
 */
#include "base/htab.h"

#include <stdlib.h>

#include "base/arena.h"

/* What an empty heap or arena table points at before its first add: two
 * free slots (the smallest table Fibonacci hashing can address), never
 * written because the first add grows the table first (limit 0). */
static const struct mes_htab_slot none[2];

static void set_size(struct mes_htab *t, struct mes_htab_slot *slots, size_t n_slots) {
  unsigned bits = 0;
  while (((size_t)1 << bits) < n_slots)
    bits++;
  t->slot = slots;
  t->mask = n_slots - 1;
  t->shift = 32 - bits;
  t->limit = n_slots / 2;
}

size_t mes_htab_slots_for(size_t n) {
  size_t s = 16;
  while (s / 2 < n && s < ((size_t)1 << 31))
    s *= 2;
  return s;
}

void mes_htab_init_fixed(struct mes_htab *t, struct mes_htab_slot *storage, size_t n_slots) {
  memset(t, 0, sizeof *t);
  t->mode = MES__HTAB_FIXED;
  set_size(t, storage, n_slots);
  memset(storage, 0, n_slots * sizeof *storage);
}

static void init_empty(struct mes_htab *t, enum mes__htab_mode mode, size_t max_entries) {
  memset(t, 0, sizeof *t);
  t->mode = mode;
  t->max = max_entries;
  set_size(t, (struct mes_htab_slot *)none, 2); /* never written: limit 0 below */
  t->limit = 0;
}

void mes_htab_init(struct mes_htab *t, size_t max_entries) { init_empty(t, MES__HTAB_HEAP, max_entries); }

void mes_htab_init_arena(struct mes_htab *t, struct mes_arena *a, size_t max_entries) {
  init_empty(t, MES__HTAB_ARENA, max_entries);
  t->arena = a;
}

static bool owns_heap(const struct mes_htab *t) { return t->mode == MES__HTAB_HEAP && t->slot != none && t->slot; }

void mes_htab_release(struct mes_htab *t) {
  if (!t)
    return;
  if (owns_heap(t))
    free(t->slot);
  if (t->mode == MES__HTAB_HEAP || t->mode == MES__HTAB_ARENA) {
    enum mes__htab_mode mode = t->mode;
    size_t max = t->max;
    struct mes_arena *a = t->arena;
    init_empty(t, mode, max);
    t->arena = a;
  }
}

void mes_htab_clear(struct mes_htab *t) {
  if (t->limit) /* not the shared empty array */
    memset(t->slot, 0, (t->mask + 1) * sizeof *t->slot);
  t->n = 0;
}

/* The first free slot of key's probe run. */
static struct mes_htab_slot *free_slot(const struct mes_htab *t, uint32_t key) {
  size_t i = mes_htab_home(t, key);
  while (mes_htab_used(&t->slot[i]))
    i = (i + 1) & t->mask;
  return &t->slot[i];
}

/* Moves the table to n_slots new slots. */
static int resize(struct mes_htab *t, size_t n_slots) {
  if (n_slots > SIZE_MAX / sizeof(struct mes_htab_slot))
    return MES_ENOMEM;
  size_t bytes = n_slots * sizeof(struct mes_htab_slot);
  struct mes_htab_slot *slots = t->mode == MES__HTAB_HEAP ? calloc(n_slots, sizeof *slots)
                                                          : mes_arena_calloc(t->arena, bytes);
  if (!slots)
    return MES_ENOMEM;
  struct mes_htab old = *t;
  set_size(t, slots, n_slots);
  for (size_t i = 0; old.limit && i <= old.mask; i++)
    if (mes_htab_used(&old.slot[i]))
      *free_slot(t, old.slot[i].key) = old.slot[i];
  if (owns_heap(&old))
    free(old.slot);
  return MES_OK;
}

int mes__htab_reserve_slow(struct mes_htab *t, size_t n) {
  if (t->mode == MES__HTAB_FIXED ? n > t->limit : n > t->max)
    return MES_ENOMEM;
  if (n <= t->limit)
    return MES_OK;
  /* an add doubles the table; a reserve goes straight to the size asked */
  size_t slots = mes_htab_slots_for(n);
  if (slots / 2 < n)
    return MES_ENOMEM; /* beyond 2^31 slots: keys are 32 bits */
  return resize(t, slots);
}

void mes_htab_remove(struct mes_htab *t, struct mes_htab_slot *s) {
  size_t mask = t->mask;
  size_t hole = (size_t)(s - t->slot);
  /* Each later slot of the run moves back into the hole unless its home
   * lies cyclically after the hole (it is then found before reaching it). */
  for (size_t j = (hole + 1) & mask; mes_htab_used(&t->slot[j]); j = (j + 1) & mask) {
    size_t home = mes_htab_home(t, t->slot[j].key);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      t->slot[hole] = t->slot[j];
      hole = j;
    }
  }
  memset(&t->slot[hole], 0, sizeof t->slot[hole]);
  t->n--;
}
