/*
 * base/arena — scratch memory for one request (or one job), given out by
 * bumping a pointer and freed all at once (h2o's pool): a caller-provided
 * first block when there is one, then chunks from malloc that double in
 * size, so a big request makes few of them.
 *
 * Every allocation is aligned for any type. The arena takes at most
 * max_bytes from malloc in all (its cap); beyond that, and when malloc
 * fails, an allocation returns NULL and the arena stays usable.
 *
 * Thread-safety: none; one arena per request or thread.
 */
#ifndef MES_BASE_ARENA_H
#define MES_BASE_ARENA_H

#include <stddef.h>

struct mes_arena_chunk;

struct mes_arena {
  struct mes_arena_chunk *head; /* owned: the chunks, newest first */
  char *first;                  /* borrowed: the caller's first block, or NULL */
  size_t first_len;
  char *cur;                    /* the block allocations come from: first or head's data */
  size_t used, cap;             /* of cur */
  size_t chunk_bytes;           /* the next chunk's size, before doubling */
  size_t taken, max_bytes;      /* bytes taken from malloc, and the cap on them */
};

/* Embedded lifecycle. first (borrowed, aligned for any type; NULL for none)
 * is used up before any chunk is allocated and must outlive the arena;
 * chunk_bytes is the first chunk's size (each later one doubles, up to 64
 * MiB, or fits one large allocation); max_bytes caps what the arena takes
 * from malloc. A zeroed struct is an arena that refuses every allocation
 * until initialised, and may be released. */
void mes_arena_init(struct mes_arena *a, void *first, size_t first_len, size_t chunk_bytes, size_t max_bytes);
/* Frees every chunk; the arena can be used again, with the same settings
 * (the first block too). NULL-safe. */
void mes_arena_release(struct mes_arena *a);

/* n bytes (n may be 0), not zeroed: for arrays whose every used element is
 * written before it is read (zeroing a candidate array costs more than
 * filling it). NULL when out of memory or over the cap. */
void *mes_arena_alloc(struct mes_arena *a, size_t n);
/* The same, zeroed. */
void *mes_arena_calloc(struct mes_arena *a, size_t n);
/* A NUL-terminated copy of s[0..n); NULL when out of memory. */
char *mes_arena_strndup(struct mes_arena *a, const char *s, size_t n);

#endif
