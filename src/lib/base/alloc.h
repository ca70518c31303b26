/*
 * base/alloc — the counter behind the allocation-failure ("torture") tests,
 * as in curl's memdebug: a test arms it so that the Nth allocation from now
 * on is refused, runs an operation, and checks that the operation ends with
 * a clean error and frees what it took; then it tries N + 1.
 *
 * The library never calls this file. Its code calls plain malloc, calloc,
 * realloc, strdup, strndup and aligned_alloc; a torture test executable is
 * linked with -Wl,--wrap for each of them (tests/torture/torture.c), so that
 * every allocation made by the statically linked modules first asks
 * mes_alloc_refuse(). The test routes jansson's and SQLite's allocators
 * through the same question. A build without the wrapping never counts.
 *
 * Thread-safety: the state is per thread, and only the thread that armed
 * the counter is counted. The store's flusher and the recommender's writer
 * allocate on their own schedule; counting them would make "the Nth
 * allocation" a different one in every run.
 */
#ifndef MES_BASE_ALLOC_H
#define MES_BASE_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

/* How an armed counter refuses. */
enum mes_alloc_mode {
  MES_ALLOC_FAIL_ONE,  /* the Nth allocation only: later ones succeed (error paths run with memory) */
  MES_ALLOC_FAIL_FROM, /* the Nth and every one after it, as curl's memlimit does (real exhaustion) */
};

/* Arms the calling thread: counting restarts at 0 and allocation number
 * `nth` (1-based) is refused as `mode` says. nth 0 counts without refusing
 * anything, to learn how many allocations an operation makes. */
void mes_alloc_fail_at(uint64_t nth, enum mes_alloc_mode mode);
/* Stops counting and refusing on the calling thread; the counts stay
 * readable until the next mes_alloc_fail_at. */
void mes_alloc_disarm(void);
/* Allocations the calling thread asked for since it was armed. */
uint64_t mes_alloc_count(void);
/* Of those, how many were refused. */
uint64_t mes_alloc_refused(void);

/* Asked once by every hooked allocator before it allocates: counts the
 * allocation when the calling thread is armed and returns true when it
 * must fail (the allocator then returns NULL with errno ENOMEM). */
bool mes_alloc_refuse(void);

#endif
