/*
 * ingest — behavioural events in (contract §4), read back, forgotten and
 * swept when their retention ends.
 *
 * An event passes, in order: the shape check (one field table per level:
 * event, context), the policy (its type must be declared), the clock (ts not
 * more than 5 minutes ahead), then the gates that decide whether anything is
 * kept: third-party data the policy rejects, an event already past its type's
 * retention, an unknown subject, a restricted subject, and consent (a granted
 * purpose that the type serves, after Global Privacy Control). An event that
 * fails a gate leaves nothing identifying behind: the subject is never
 * created by ingestion.
 *
 * What is kept: the event's type, timestamp, purposes, source and a keyed
 * hash of the client's event_id in clear columns (for retention sweeps,
 * purges and idempotency), and everything else (item, channel, event_id,
 * and as the opaque cold part the declared properties, context and search
 * query) as one document sealed with the subject's key (kind "event"),
 * written and read by one codec (evrec.h). Undeclared
 * properties are dropped before sealing and counted.
 *
 * The ingester is a handle, struct mes_ingester, made once (by the engine)
 * with what it uses: the store, the master key (keyed hashes of event ids),
 * the subject registry and the consent ledger (all borrowed), and the
 * history cache it owns (histcache.h), sized in bytes (0: it keeps
 * nothing). The functions take it, and those that depend on the request the
 * request too (struct mes_req, policy/policy.h).
 *
 * Thread-safety: every function may be called from any thread with its own
 * request; the store serialises writers.
 */
#ifndef MES_INGEST_H
#define MES_INGEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/json.h"
#include "consent/consent.h"
#include "ingest/evrec.h"
#include "ingest/histcache.h"
#include "subject/subject.h"

#define MES_INGEST_BATCH_MAX 10000      /* events in one request */
#define MES_INGEST_PAYLOAD_MAX 65536    /* bytes of one event's sealed document, before sealing */

struct mes_ingester;

/* *out is new: free with mes_ingester_free. st, master, subjects, ledger
 * and log (may be NULL) are borrowed and must outlive it; it owns a history
 * cache of history_cache_bytes (0: off). MES_ENOMEM. */
int mes_ingester_new(struct mes_store *st, const struct mes_master *master, struct mes_subjects *subjects,
                     struct mes_ledger *ledger, size_t history_cache_bytes, const struct mes_log *log,
                     struct mes_ingester **out);
/* *out is new: an ingester over what ing was made with (borrowed the same
 * way) and a history cache of its own of history_cache_bytes. For the
 * benchmarks and tests that compare reads with and without the cache.
 * MES_ENOMEM. */
int mes_ingester_new_like(const struct mes_ingester *ing, size_t history_cache_bytes, struct mes_ingester **out);
/* Frees, wiping the history cache. NULL-safe. No call may be running. */
void mes_ingester_free(struct mes_ingester *ing);
/* Changes the history cache's cap (a policy reload; mes_histcache_set_cap). */
void mes_ingester_set_cache_cap(struct mes_ingester *ing, size_t history_cache_bytes);
/* The history cache's counters (mes_histcache_stats). */
void mes_ingester_cache_stats(struct mes_ingester *ing, struct mes_histcache_stats *out);
/* Subject sid's rows of src->kind through the ingester's history cache,
 * for a reader of that kind (histcache.h): *out gets a reference to an
 * entry holding what the store holds now (mes_histcache_records), to give
 * back with mes_ingest_cache_release; NULL when the subject holds no rows
 * any more. src's callbacks get ud. *bypass true (then MES_OK, *out NULL):
 * read without the cache (its cap is 0, no memory to build an entry, or a
 * backend without stamps). Otherwise MES_OK, MES_ENOT_FOUND when the key is
 * gone (any entry is dropped), or an error. */
int mes_ingest_cache_get(struct mes_ingester *ing, int64_t sid, const struct mes_histcache_source *src, void *ud,
                         struct mes_histcache_entry **out, bool *bypass);
/* Gives back a reference from mes_ingest_cache_get; the last one wipes and
 * frees an entry that has left the cache. NULL-safe. */
void mes_ingest_cache_release(struct mes_ingester *ing, struct mes_histcache_entry *e);
/* Forgets what the ingester holds in memory about subject sid: its cached
 * events and impressions leave the history cache at once, wiped
 * (mes_histcache_forget), and its next read goes to the store. Stored rows
 * stay (erasure deletes them). */
void mes_ingester_forget(struct mes_ingester *ing, int64_t sid);

/* Every top-level member a body of POST /v1/events may have (an event's, and
 * "events"), typed MES_J_ANY: for the engine's verb that parses the body
 * against it, which then only refuses unknown members. mes_ingest_batch
 * does the real checks (a body is one event or a batch, not a mix). */
extern const struct mes_jfield mes_ingest_body_fields[];
extern const size_t mes_ingest_n_body_fields;

/*
 * Ingests the body of POST /v1/events: one event object, or {"events": [...]}
 * with 1 to MES_INGEST_BATCH_MAX events. `body` is borrowed.
 *
 * Single event: when it is malformed (or of an undeclared type) nothing is
 * written and the error is returned (err->field is the pointer, e.g. "/ts").
 * Batch: each malformed event becomes an entry of the reply's "errors" with
 * its index and a pointer relative to the body ("/events/3/ts"); the valid
 * events are kept. A batch-level mistake (not an array, empty, unknown
 * top-level field) is returned as an error; more than MES_INGEST_BATCH_MAX
 * events is MES_EBATCH_TOO_LARGE (413).
 *
 * When the request carries GPC (c->gpc) and that overrides a subject's
 * earlier grant, the override is recorded once per subject
 * (mes_consent_note_gpc) in the same transaction.
 *
 * All writes of one request happen in one store transaction; the function
 * returns after they are durable (group commit), so a reply means the events
 * survive a crash. On MES_OK *reply is a new reference:
 *   {"accepted", "stored", "not_stored": {"no_consent", "third_party",
 *    "restricted", "expired"}, "dropped_properties", "errors": [...]}
 * `stored` counts an event whose event_id was already stored (a retry): it is
 * acknowledged, not stored twice. On error *reply is NULL and nothing is kept.
 */
int mes_ingest_batch(struct mes_ingester *ing, const struct mes_req *c, const json_t *body, json_t **reply,
                     struct mes_err *err);
/* The same, without the wait: *ticket gets the store ticket of the request's
 * commit (0 when nothing was written) and the caller must not show *reply to
 * anyone before mes_store_wait_durable or mes_store_on_durable said that
 * ticket is durable (the HTTP server parks the connection meanwhile). */
int mes_ingest_batch_nowait(struct mes_ingester *ing, const struct mes_req *c, const json_t *body, json_t **reply,
                            uint64_t *ticket, struct mes_err *err);

/* Called for each stored event read back (struct mes_evrec, evrec.h: each
 * reader says which of its fields it carries; every pointer is borrowed for
 * the duration of the call). Return nonzero to stop. */
typedef int (*mes_ingest_event_cb)(void *ud, const struct mes_evrec *ev);

/*
 * Reads back subject `sid`'s events, decrypted, oldest first, whole: with
 * the client's event_id and the cold part (exports, explanations; the API
 * form is mes_evrec_json). Runs while the store is locked for reads: the
 * callback should be quick and must not write. MES_OK (also when the
 * callback stops early), MES_ENOT_FOUND when the subject's key is gone
 * (erased), MES_EINTERNAL when a document does not decode, or a store or
 * crypto error.
 */
int mes_ingest_list(struct mes_ingester *ing, const struct mes_req *c, int64_t sid, mes_ingest_event_cb cb, void *ud,
                    struct mes_err *err);

/*
 * Subject `sid`'s events as serving reads them, held for as long as the
 * caller needs them (a recommendation holds them for the whole request):
 * ev[0..n) in the order of mes_ingest_list (oldest first), the codec's own
 * records with only the hot fields (event_id NULL, cold part empty), sid
 * `sid`, type as stored (an index the caller's policy may no longer
 * declare: check it against policy->n_event_types). Every pointer, items
 * included, is borrowed until mes_ingest_history_close.
 *
 * When the ingester's history cache is on (its cap is not 0), the records
 * are the cache's own (histcache.h), handed out whenever the store's stamp
 * of sid's events is the one the cache holds, which costs one indexed read
 * instead of reading and unsealing every event; otherwise the events are
 * read (in the order they were stored, mes_store_event_list_stored, each
 * sealed document unsealed into one reused buffer and decoded in place,
 * mes_evrec_decode), put in time order in memory, kept in the cache when it
 * is on, and handed out. Holding records keeps no lock: an erasure meanwhile
 * drops them from the cache at once and wipes them at the close. Call it
 * outside a write transaction when using the cache: rows read inside one
 * and then rolled back could be kept.
 *
 * MES_OK (ev NULL and n 0 for a subject without events), MES_ENOT_FOUND when
 * the key is gone (erased), MES_EINTERNAL when a document does not decode,
 * a store, crypto or memory error; on an error *out holds nothing (closing it
 * is harmless).
 */
struct mes_ingest_events {
  const struct mes_evrec *ev; /* borrowed until the close */
  size_t n;
  struct mes_ingester *ing;   /* private */
  struct mes_histcache_entry *entry; /* private: the reference that keeps ev */
};
int mes_ingest_history_open(struct mes_ingester *ing, int64_t sid, struct mes_ingest_events *out,
                            struct mes_err *err);
/* Gives the records back (the last holder of records that left the cache
 * wipes them). NULL-safe; *h is then empty. Any thread. */
void mes_ingest_history_close(struct mes_ingest_events *h);

/*
 * The same events handed to cb one at a time (mes_ingest_history_open, then
 * each record with its type mapped with c->policy: -1 when it lacks it,
 * then the close): for readers that need them only for the call. cb returns
 * nonzero to stop (then MES_OK); it runs with no store or cache lock held.
 * Same errors as mes_ingest_history_open; on an error cb has not been
 * called.
 */
int mes_ingest_history(struct mes_ingester *ing, const struct mes_req *c, int64_t sid, mes_ingest_event_cb cb, void *ud,
                       struct mes_err *err);

/* What one scan read, kept and skipped. */
struct mes_ingest_scan_stats {
  int64_t rows;           /* events read from the store */
  int64_t used;           /* handed to the callback */
  int64_t not_purpose;    /* skipped: serve none of `purposes` the subject grants, or the subject is
                             restricted, or unknown */
  int64_t key_gone;       /* skipped: the subject's key is shredded */
  int64_t unreadable;     /* skipped: the sealed document does not open or parse */
  int64_t subjects;       /* subjects with at least one event used */
};

/*
 * Reads every durable event of the store (oldest row first) decrypted, for
 * training: only events that serve one of `purposes` (a policy bitmask) that
 * their subject still grants, of subjects who are not restricted. Each
 * subject's key is fetched once per scan, straight from the keystore (the
 * registry's key cache is left alone, so that a scan does not evict the keys
 * of active shoppers); keys are wiped when the scan ends. Events of subjects
 * whose key is gone are skipped. The sealed document is unsealed into a
 * reused buffer and decoded in place (mes_evrec_decode; event_id and the
 * cold part are handed out as they are found, unopened): cheap enough for
 * ten million events.
 *
 * The store's snapshot is read on a connection of its own, so writers are
 * not held up; cb may be slow. cb returns nonzero to stop (then MES_OK).
 * stats may be NULL. Slow: call off request threads.
 */
int mes_ingest_scan(struct mes_ingester *ing, const struct mes_req *c, uint32_t purposes, mes_ingest_event_cb cb,
                    void *ud, struct mes_ingest_scan_stats *stats, struct mes_err *err);

/* Events in the store (what mes_store_event_count says): an upper bound on
 * what a scan hands out, to size its reader's arrays. One scan of a count. */
int64_t mes_ingest_count(struct mes_ingester *ing);

/* What linking an anonymous visitor to a subject did (mes_ingest_link). */
struct mes_ingest_linked {
  int64_t moved;        /* events now held under the subject */
  int64_t already_held; /* events whose event_id the subject already had (not stored twice) */
  int64_t dropped;      /* events the subject's consent does not cover: deleted */
  struct mes_store_erased removed; /* every row of the visitor deleted (the moved events' old rows included) */
};

/*
 * Links anonymous visitor `visitor` (resolved in MES_NS_ANON; row.id 0 when
 * nothing was ever kept of them) to subject `to` (resolved in
 * MES_NS_SUBJECT; row.id 0 when unknown) at login: each of the visitor's
 * stored events that the subject's consent allows now (a purpose its type
 * serves granted, after GPC, and no restriction) moves under the subject's
 * key; everything else of the visitor is deleted; all in one transaction,
 * after the visitor is journaled as erased (store.h, the erasure journal),
 * and the visitor's key is destroyed after it. Nothing of the visitor
 * remains either way. The caller drops its other in-memory copies of the
 * visitor (queued answers, token caches). Store and crypto errors.
 */
int mes_ingest_link(struct mes_ingester *ing, const struct mes_req *c, const struct mes_subject *visitor,
                    const struct mes_subject *to, struct mes_ingest_linked *out, struct mes_err *err);

/*
 * Forgets one event of subject `s` (borrowed; resolved, row stored) for
 * DELETE /v1/subjects/{s}/events/{event_id} (contract §7 rectification).
 * `event_id` is the client's event_id, or the "ev_<id>" form that
 * mes_ingest_list shows for events sent without one (a client's event_id
 * wins when both match). Durable when it returns. MES_EINVALID_ID for a bad
 * id, MES_ENOT_FOUND when s has no such event.
 */
int mes_ingest_forget(struct mes_ingester *ing, const struct mes_subject *s, const char *event_id, size_t event_len,
                      struct mes_err *err);
/* What a forgotten event was, for the model to forget it too. */
struct mes_ingest_forgotten {
  int type;      /* index into the policy's event_types */
  int64_t ts_ms;
  char item[129]; /* "" for an event without an item (a search) */
};
/* mes_ingest_forget, telling what the event was in *out. */
int mes_ingest_forget_event(struct mes_ingester *ing, const struct mes_subject *s, const char *event_id,
                            size_t event_len, struct mes_ingest_forgotten *out, struct mes_err *err);

/*
 * Deletes every event older than its type's retention_days (c's policy),
 * one store transaction per event type. *n_deleted (may be NULL) receives
 * the total. Meant for a background thread (see mes_engine_start_background).
 */
int mes_ingest_sweep(struct mes_ingester *ing, const struct mes_req *c, int64_t *n_deleted, struct mes_err *err);

#endif
