/*
 * ingest/histcache — the decoded histories of active shoppers, kept in memory
 * so that a shopper who asks again (the next page, another carousel) is not
 * read and unsealed again event by event, nor impression by impression.
 *
 * It holds up to two entries per subject, each checked and replaced on its
 * own: their events, and the items they were shown (their impressions, for
 * the frequency cap). Both share one byte cap (serving.history_cache_mb) and
 * one LRU order. The ingester (ingest.h) owns one, and
 * mes_ingest_history_open (the recommender's read, which holds the cache's
 * own records for its request) and mes_ingest_shown_list use it by
 * themselves when its cap is not 0;
 * nothing else changes for their callers. Nothing is computed
 * ahead for people who are not active: an entry is made by a read that had
 * to happen anyway, and the least recently used entries leave first when the
 * byte cap is reached.
 *
 * Every use of an entry is checked against the store with one indexed
 * read, the stamp of the subject's events (mes_store_event_stamp: largest id
 * and count, which change with every insert or delete of theirs: new events,
 * a rectification, the retention sweep, purges on withdrawal, erasure), or
 * of their impression rows (mes_store_impression_stamp, the same: a new
 * answer written, the sweep, a purge, erasure). An entry of impressions holds
 * all the rows the store keeps of the subject (the sweep keeps one frequency
 * cap window) and each read filters its own window from them. An entry
 * whose stamp differs is read again, so the cache never answers with
 * events the store no longer holds, nor misses one it holds; another process
 * writing the same store is seen the same way. A subject not in the cache
 * is read as without it (no stamp), and kept. A subject whose key is gone
 * is never cached, and an entry is dropped when the key is found gone or the
 * subject holds no rows of its kind any more.
 *
 * Entries hold decrypted personal data (item ids, channels, times, what was
 * shown): they are wiped (mes_wipe) before their memory is freed, whether
 * evicted, replaced, forgotten or freed with the cache. Erasure must call
 * mes_histcache_forget (both entries go; through mes_ingester_forget, which
 * the engine's mes_engine_forget_subject calls) so that the person's
 * plaintext leaves memory at once rather than at their next read or at
 * eviction.
 *
 * Thread-safety: every function may be called from any thread. The cache is
 * split into shards by subject, each under its own mutex; no lock is held
 * during store reads, while events are handed to a caller's callback or
 * while a request holds an entry's records (a reader holds a reference to
 * the entry instead), so callbacks may do anything, including reading
 * histories again.
 */
#ifndef MES_INGEST_HISTCACHE_H
#define MES_INGEST_HISTCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mes_histcache;

/* A cache that keeps at most max_bytes of entries, both kinds together (0:
 * keeps nothing, and mes_ingest_history and mes_ingest_shown_list read as
 * without a cache). *out is new: free with
 * mes_histcache_free. MES_OK or MES_ENOMEM. */
int mes_histcache_new(size_t max_bytes, struct mes_histcache **out);
/* Wipes and frees every entry, then the cache. No reader may be using it.
 * NULL-safe. */
void mes_histcache_free(struct mes_histcache *hc);

/* Changes the cap (a policy reload); entries beyond it are evicted now. 0
 * empties the cache and turns it off. NULL-safe. */
void mes_histcache_set_cap(struct mes_histcache *hc, size_t max_bytes);
/* The cap in bytes (0: off, or hc NULL). */
size_t mes_histcache_cap(const struct mes_histcache *hc);

/* Drops subject sid's entries (events and impressions), wiping them (at
 * once, or when the last reader holding one gives it back), and keeps a read
 * that began before the call from storing what it read. Call on erasure.
 * NULL-safe. */
void mes_histcache_forget(struct mes_histcache *hc, int64_t sid);

/* Counters since the cache was made (for GET /metrics). */
struct mes_histcache_stats {
  /* Reads of events (mes_ingest_history): */
  uint64_t hits;      /* reads answered from memory (stamp unchanged) */
  uint64_t misses;    /* reads of a subject not in the cache (read without a stamp) */
  uint64_t stale;     /* reads that found an entry whose stamp had changed (or that left the cache meanwhile),
                         and read again */
  /* The same of impressions (mes_ingest_shown_list), and how many of the
   * stale ones only read the rows written since (the entry was completed): */
  uint64_t shown_hits, shown_misses, shown_stale, shown_appended;
  /* Both kinds together: */
  uint64_t evictions; /* entries dropped to stay under the cap (not forgets nor replacements) */
  uint64_t entries;   /* entries held now */
  uint64_t bytes;     /* bytes they hold now (<= cap_bytes) */
  uint64_t cap_bytes; /* the cap */
};
/* Fills *st (zeros for a NULL hc). */
void mes_histcache_stats(struct mes_histcache *hc, struct mes_histcache_stats *st);

#endif
