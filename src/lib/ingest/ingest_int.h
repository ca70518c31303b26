/*
 * ingest_int — private to src/lib/ingest/ (and its unit tests): the
 * ingester handle, and the sealed document's format, shared by the writer
 * (batch.c) and the reader (read.c).
 *
 * The sealed document of one event is written and read by one codec
 * (evrec.h); type, timestamp, purposes, source and the event_id's keyed
 * hash are the store's clear columns (struct mes_event_row).
 */
#ifndef MES_INGEST_INT_H
#define MES_INGEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/histcache.h"
#include "ingest/ingest.h"

/* The ingester (ingest.h): what it uses, borrowed, and its history cache. */
struct mes_ingester {
  struct mes_store *store;
  const struct mes_master *master; /* keyed hashes of clients' event ids */
  struct mes_subjects *subjects;   /* resolves, hints, keys, seals */
  struct mes_ledger *ledger;       /* GPC overrides met while ingesting */
  struct mes_histcache *cache;     /* owned; a cap of 0 keeps nothing */
  const struct mes_log *log;       /* may be NULL */
};

/* Associated-data kind of a sealed event (mes_subject_seal). */
#define MES__INGEST_KIND "event"

/* True when event type t of policy p is the one that takes a query and needs
 * no item ("search"). */
bool mes__ingest_is_search(const struct mes_policy *p, int t);

/* ---------------------------------------------------------------- the history cache (histcache.c) */

/* The cache's steps that the read of events (read.c) and the tests use
 * beside its face for every reader (histcache.h, and mes_ingest_cache_get
 * in ingest.h). */

/* Wipes and frees b's buffers (b is then empty). */
void mes__hc_build_release(struct mes_histcache_build *b);
/* Puts b's records in time order (ts_ms, then id), the order serving
 * reads a history in, when they are not in it already: a history is read
 * in the store's cheaper id order (mes_store_event_list_stored), where a
 * late event (an import, an app that was offline) sits after newer ones.
 * The order is kept beside the records and applied when the entry is made
 * (mes__hc_build_finish): only finish a build ordered so, never merge it.
 * MES_OK or MES_ENOMEM (b unchanged). */
int mes__hc_build_by_time(struct mes_histcache_build *b);

/* The steps mes_ingest_cache_get takes, for tests that drive them one by one: */
/* Makes subject sid's entry of kind `kind` of what b collected, stamped
 * (b->max_id, b->n_rows), in one allocation; releases b either way. *out is
 * new: a reference owned by the caller (mes__hc_put, then mes__hc_release).
 * MES_ENOMEM. */
int mes__hc_build_finish(struct mes_histcache_build *b, int64_t sid, enum mes_histcache_kind kind,
                         struct mes_histcache_entry **out);
/* sid's entry of that kind, if any: a reference, to check with
 * mes__hc_fresh and give back with mes__hc_release. NULL when there is none
 * (counted as a miss). Either way *epoch gets what to hand mes__hc_put if
 * the rows are read. */
struct mes_histcache_entry *mes__hc_find(struct mes_histcache *hc, int64_t sid, enum mes_histcache_kind kind,
                                         uint64_t *epoch);
/* Whether e (a reference from mes__hc_find) still holds what the store
 * holds, by the stamp (max_id, n) just read: true is a hit (e becomes the
 * most recently used). false (stale: another stamp, or e left the cache
 * meanwhile, evicted or forgotten) drops e from the cache; the caller still
 * holds its reference. */
bool mes__hc_fresh(struct mes_histcache *hc, struct mes_histcache_entry *e, int64_t max_id, int64_t n);
/* Offers e (a reference from mes__hc_build_finish) to the cache as its
 * subject's entry of its kind, replacing any, evicting the least recently
 * used to stay under the cap. Not kept when larger than a quarter of a
 * shard's share of the cap, or when mes_histcache_forget ran on e's shard
 * since `epoch` was read. The caller's reference stays valid either way. */
void mes__hc_put(struct mes_histcache *hc, struct mes_histcache_entry *e, uint64_t epoch);

/* Gives a reference back; the last one wipes and frees an entry no longer in
 * the cache. NULL-safe. */
void mes__hc_release(struct mes_histcache *hc, struct mes_histcache_entry *e);

#endif
