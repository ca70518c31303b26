/*
 * base/arena — the bump allocator (see arena.h).
 */
#include "base/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MAX ((size_t)64 << 20) /* doubling stops here: beyond it, chunks fit what is asked */
#define ALIGN alignof(max_align_t)

struct mes_arena_chunk {
  struct mes_arena_chunk *next;
  max_align_t data[]; /* aligned for any type */
};

static void start(struct mes_arena *a) {
  a->head = NULL;
  a->cur = a->first;
  a->cap = a->first ? a->first_len / ALIGN * ALIGN : 0;
  a->used = 0;
  a->taken = 0;
}

void mes_arena_init(struct mes_arena *a, void *first, size_t first_len, size_t chunk_bytes, size_t max_bytes) {
  memset(a, 0, sizeof *a);
  a->first = first;
  a->first_len = first_len;
  a->chunk_bytes = chunk_bytes ? chunk_bytes : 4096;
  a->max_bytes = max_bytes;
  start(a);
}

void mes_arena_release(struct mes_arena *a) {
  if (!a)
    return;
  for (struct mes_arena_chunk *k = a->head, *next; k; k = next) {
    next = k->next;
    free(k);
  }
  start(a);
}

/* A new chunk for at least n bytes (a multiple of ALIGN). */
static int grow(struct mes_arena *a, size_t n) {
  size_t cap = a->chunk_bytes;
  if (cap < n)
    cap = n;
  if (cap > a->max_bytes - a->taken || cap > SIZE_MAX - sizeof(struct mes_arena_chunk))
    return -1;
  struct mes_arena_chunk *k = malloc(sizeof *k + cap);
  if (!k)
    return -1;
  k->next = a->head;
  a->head = k;
  a->cur = (char *)k->data;
  a->cap = cap;
  a->used = 0;
  a->taken += cap;
  if (a->chunk_bytes < CHUNK_MAX)
    a->chunk_bytes *= 2; /* chunks grow, so big requests make few of them */
  return 0;
}

void *mes_arena_alloc(struct mes_arena *a, size_t n) {
  if (n > SIZE_MAX - ALIGN)
    return NULL;
  n = n ? (n + ALIGN - 1) / ALIGN * ALIGN : ALIGN;
  if (n > a->cap - a->used && grow(a, n))
    return NULL;
  void *p = a->cur + a->used;
  a->used += n;
  return p;
}

void *mes_arena_calloc(struct mes_arena *a, size_t n) {
  void *p = mes_arena_alloc(a, n);
  if (p)
    memset(p, 0, n);
  return p;
}

char *mes_arena_strndup(struct mes_arena *a, const char *s, size_t n) {
  char *p = n < SIZE_MAX ? mes_arena_alloc(a, n + 1) : NULL;
  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}
