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

/* Makes *buf (capacity *cap) hold at least n bytes for unsealed plaintext:
 * the old buffer is wiped before it is freed, so no plaintext is left behind
 * in freed memory. MES_OK, or MES_ENOMEM with *buf unchanged. */
int mes__ingest_pt_reserve(uint8_t **buf, size_t *cap, size_t n);

/* ---------------------------------------------------------------- the history cache (histcache.c) */

/* What read.c (mes_ingest_history) and shown.c (mes_ingest_shown_list) use
 * of the cache; histcache.h is the face for everyone else. */
struct mes__hc_entry; /* one subject's decoded rows of one kind and their stamp: private to histcache.c */

/* What an entry holds: a subject has at most one entry of each kind, each
 * checked against its own stamp; both count against the one cap. */
enum mes__hc_kind {
  MES__HC_EVENTS, /* their events (mes_ingest_history), stamp mes_store_event_stamp */
  MES__HC_SHOWN,  /* their impressions (mes_ingest_shown_list), stamp mes_store_impression_stamp */
  MES__HC_KINDS
};

/* Collects one subject's records, in the order read, while they are read
 * (a zeroed struct is empty). The records are the codec's own struct
 * mes_evrec, as an entry holds and hands them out. An event: its hot fields
 * (id, sid, the clear columns as stored, type included: each reader maps it
 * with its own policy, not the read's; channel and item decoded from the
 * sealed document), never event_id nor the cold part. An item shown: id,
 * sid and ts_ms of its impression row, channel as stored, the item; type
 * -1, purposes 0; a row that could not be opened leaves one record without
 * an item, so that a use of the entry counts it as a read would. While collected, a
 * record's item is named by item_off (its pointer is NULL): the item bytes
 * move as they grow, and an entry points its records into its own copy.
 * The buffers hold plaintext: they are wiped whenever they move or are
 * freed. */
struct mes__hc_build {
  struct mes_evrec *ev;
  uint32_t *item_off; /* per record: 1 + the item's offset in items, 0 when it has none */
  uint32_t *order;    /* NULL, or the records' indexes in time order (mes__hc_build_by_time) */
  size_t n, cap;
  char *items;
  size_t items_len, items_cap;
  int64_t max_id, n_rows; /* of the store rows read (mes__hc_build_row): the stamp of what was read */
};

/* Appends a copy of record ev, its item (ev->item, ev->item_len; NULL when
 * none) copied, its event_id and cold part left out. MES_ENOMEM (also past
 * 4 GiB of items), leaving b as it was. */
int mes__hc_build_add(struct mes__hc_build *b, const struct mes_evrec *ev);
/* Counts one store row read, of id `id`, into the stamp: call it for every
 * row the store hands out, whether it yields records or none. */
void mes__hc_build_row(struct mes__hc_build *b, int64_t id);
/* Wipes and frees b's buffers (b is then empty). */
void mes__hc_build_release(struct mes__hc_build *b);
/* Puts b's records in time order (ts_ms, then id), the order serving
 * reads a history in, when they are not in it already: a history is read
 * in the store's cheaper id order (mes_store_event_list_stored), where a
 * late event (an import, an app that was offline) sits after newer ones.
 * The order is kept beside the records and applied when the entry is made
 * (mes__hc_build_finish): only finish a build ordered so, never merge it.
 * MES_OK or MES_ENOMEM (b unchanged). */
int mes__hc_build_by_time(struct mes__hc_build *b);

/* How one kind is read: its stamp, and a read of all of sid's rows into b
 * (MES_OK; MES_ENOT_FOUND when the key is gone; a store, crypto or memory
 * error). fill_after, optional, reads only the rows whose id is above
 * after_id, in the store's order: for a kind whose rows are only ever
 * appended while the subject is active (impressions: one per answer), a
 * stale entry is then completed with what was written since instead of
 * read again whole. It needs ids that are never reused. */
struct mes__hc_source {
  enum mes__hc_kind kind;
  int (*stamp)(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);
  int (*fill)(struct mes_ingester *ing, int64_t sid, struct mes__hc_build *b);
  int (*fill_after)(struct mes_ingester *ing, int64_t sid, int64_t after_id, struct mes__hc_build *b);
};

/* sid's rows of src->kind through ing's history cache: *out gets a
 * reference to an entry holding what the store holds now, to read and
 * give back with mes__hc_release; NULL when the subject holds no rows any
 * more. *bypass true (then MES_OK, *out NULL): read without the cache (no
 * memory to build an entry, or a backend without stamps). Otherwise MES_OK,
 * MES_ENOT_FOUND when the key is gone (any entry is dropped), or an error. */
int mes__hc_get(struct mes_ingester *ing, int64_t sid, const struct mes__hc_source *src,
                struct mes__hc_entry **out, bool *bypass);
/* The steps mes__hc_get takes, for tests that drive them one by one: */
/* Makes subject sid's entry of kind `kind` of what b collected, stamped
 * (b->max_id, b->n_rows), in one allocation; releases b either way. *out is
 * new: a reference owned by the caller (mes__hc_put, then mes__hc_release).
 * MES_ENOMEM. */
int mes__hc_build_finish(struct mes__hc_build *b, int64_t sid, enum mes__hc_kind kind, struct mes__hc_entry **out);
/* sid's entry of that kind, if any: a reference, to check with
 * mes__hc_fresh and give back with mes__hc_release. NULL when there is none
 * (counted as a miss). Either way *epoch gets what to hand mes__hc_put if
 * the rows are read. */
struct mes__hc_entry *mes__hc_find(struct mes_histcache *hc, int64_t sid, enum mes__hc_kind kind, uint64_t *epoch);
/* Whether e (a reference from mes__hc_find) still holds what the store
 * holds, by the stamp (max_id, n) just read: true is a hit (e becomes the
 * most recently used). false (stale: another stamp, or e left the cache
 * meanwhile, evicted or forgotten) drops e from the cache; the caller still
 * holds its reference. */
bool mes__hc_fresh(struct mes_histcache *hc, struct mes__hc_entry *e, int64_t max_id, int64_t n);
/* Offers e (a reference from mes__hc_build_finish) to the cache as its
 * subject's entry of its kind, replacing any, evicting the least recently
 * used to stay under the cap. Not kept when larger than a quarter of a
 * shard's share of the cap, or when mes_histcache_forget ran on e's shard
 * since `epoch` was read. The caller's reference stays valid either way. */
void mes__hc_put(struct mes_histcache *hc, struct mes__hc_entry *e, uint64_t epoch);

/* e's records, in time order (ts_ms, then id): *n of them, with their
 * items, borrowed for as long as the caller holds its reference to e. */
const struct mes_evrec *mes__hc_records(const struct mes__hc_entry *e, size_t *n);
/* Hands e's items shown at or after since_ms to cb in order, as
 * mes_ingest_shown_list does, and returns how many rows of that window could
 * not be opened (up to where cb stopped). Item borrowed for the call; cb
 * stops it by returning nonzero. No lock is held: cb may do anything. */
int64_t mes__hc_replay_shown(const struct mes__hc_entry *e, int64_t since_ms, mes_ingest_shown_cb cb, void *ud);
/* Gives a reference back; the last one wipes and frees an entry no longer in
 * the cache. NULL-safe. */
void mes__hc_release(struct mes_histcache *hc, struct mes__hc_entry *e);

#endif
