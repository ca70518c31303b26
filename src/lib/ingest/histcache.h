/*
 * ingest/histcache — the decoded histories of active shoppers, kept in memory
 * so that a shopper who asks again (the next page, another carousel) is not
 * read and unsealed again event by event, nor impression by impression.
 *
 * It holds up to two entries per subject, each checked and replaced on its
 * own: their events, and the items they were shown (their impressions, for
 * the frequency cap). Both share one byte cap (serving.history_cache_mb) and
 * one LRU order. The ingester (ingest.h) owns one, and its readers use it
 * through mes_ingest_cache_get when its cap is not 0:
 * mes_ingest_history_open (the recommender's read, which holds the cache's
 * own records for its request) and the recommender's read of what it
 * showed (mes_recommender_shown_list, recommend/shown.c); nothing else
 * changes for their callers. Nothing is computed ahead for people who are
 * not active: an entry is made by a read that had
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
 * keeps nothing, and mes_ingest_history_open and mes_recommender_shown_list read as
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
  /* Reads of events (mes_ingest_history_open): */
  uint64_t hits;      /* reads answered from memory (stamp unchanged) */
  uint64_t misses;    /* reads of a subject not in the cache (read without a stamp) */
  uint64_t stale;     /* reads that found an entry whose stamp had changed (or that left the cache meanwhile),
                         and read again */
  /* The same of impressions (mes_recommender_shown_list), and how many of the
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

/* ---------------------------------------------------------------- reading through the cache */

/* What a reader of one kind of rows gives the cache (mes_ingest_cache_get,
 * ingest.h) and gets back: the events are read in ingest/read.c, the
 * impressions by the recommender that writes them (recommend/shown.c). */

struct mes_store;
struct mes_evrec;
struct mes_histcache_entry; /* one subject's decoded rows of one kind and their stamp: private to histcache.c */

/* What an entry holds: a subject has at most one entry of each kind, each
 * checked against its own stamp; both count against the one cap. */
enum mes_histcache_kind {
  MES_HISTCACHE_EVENTS, /* their events (mes_ingest_history_open), stamp mes_store_event_stamp */
  MES_HISTCACHE_SHOWN,  /* their impressions (mes_recommender_shown_list), stamp mes_store_impression_stamp */
  MES_HISTCACHE_KINDS
};

/* Collects one subject's records, in the order read, while they are read
 * (a zeroed struct is empty). The records are the codec's own struct
 * mes_evrec, as an entry holds and hands them out. An event: its hot fields
 * (id, sid, the clear columns as stored, type included: each reader maps it
 * with its own policy, not the read's; channel and item decoded from the
 * sealed document), never event_id nor the cold part. An item shown: id,
 * sid and ts_ms of its impression row, channel as stored, the item; type
 * -1, purposes 0; a row that could not be opened leaves one record without
 * an item, so that a use of the entry counts it as a read would. While
 * collected, a record's item is named by item_off (its pointer is NULL):
 * the item bytes move as they grow, and an entry points its records into
 * its own copy. The buffers hold plaintext: they are wiped whenever they
 * move or are freed. The fields are the cache's: a reader only calls the
 * two functions below. */
struct mes_histcache_build {
  struct mes_evrec *ev;
  uint32_t *item_off; /* per record: 1 + the item's offset in items, 0 when it has none */
  uint32_t *order;    /* NULL, or the records' indexes in time order (mes__hc_build_by_time) */
  size_t n, cap;
  char *items;
  size_t items_len, items_cap;
  int64_t max_id, n_rows; /* of the store rows read (mes_histcache_build_row): the stamp of what was read */
};

/* Appends a copy of record ev, its item (ev->item, ev->item_len; NULL when
 * none) copied, its event_id and cold part left out. MES_ENOMEM (also past
 * 4 GiB of items), leaving b as it was. */
int mes_histcache_build_add(struct mes_histcache_build *b, const struct mes_evrec *ev);
/* Counts one store row read, of id `id`, into the stamp: call it for every
 * row the store hands out, whether it yields records or none. */
void mes_histcache_build_row(struct mes_histcache_build *b, int64_t id);

/* How one kind is read: its stamp, and a read of all of sid's rows into b
 * (MES_OK; MES_ENOT_FOUND when the key is gone; a store, crypto or memory
 * error), ud being what the reader handed mes_ingest_cache_get. fill_after,
 * optional, reads only the rows whose id is above after_id, in the store's
 * order: for a kind whose rows are only ever appended while the subject is
 * active (impressions: one per answer), a stale entry is then completed
 * with what was written since instead of read again whole. It needs ids
 * that are never reused. */
struct mes_histcache_source {
  enum mes_histcache_kind kind;
  int (*stamp)(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);
  int (*fill)(void *ud, int64_t sid, struct mes_histcache_build *b);
  int (*fill_after)(void *ud, int64_t sid, int64_t after_id, struct mes_histcache_build *b);
};

/* e's records, in time order (ts_ms, then id): *n of them, with their
 * items, borrowed for as long as the caller holds its reference to e. */
const struct mes_evrec *mes_histcache_records(const struct mes_histcache_entry *e, size_t *n);

#endif
