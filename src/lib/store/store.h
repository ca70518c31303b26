/*
 * store — the storage interface of mesura, and the only face domain modules
 * see. A backend is a versioned table of function pointers (struct
 * mes_store_ops, in store_int.h); SQL text and engine headers live only in
 * the backend's files (sqlite*.c now, pg.c later). The group commit
 * described below is the store's own (commit.c), shared by backends.
 *
 * The store sees only ciphertext for personal data: sealing happens above it.
 * What it holds in the clear is what must be queried without a key: numeric
 * subject ids, purpose bitmasks, event type numbers and timestamps (for
 * retention sweeps), keyed hashes, and the (non-personal) catalog.
 *
 * Two files: the data database (mesura.db) and the keystore (keys.db) holding
 * wrapped subject keys, so that a copy of the data database alone never holds
 * a usable key (crypto-shredding: deleting a key makes every copy unreadable).
 *
 * Writes and durability (group commit): every write happens between
 * mes_store_tx_begin and mes_store_tx_commit/rollback, which serialise writers
 * and make the request's writes atomic. Commit returns a ticket; the caller
 * acknowledges the client only after mes_store_wait_durable(ticket), which
 * returns once the batch holding those writes is synced to disk. Many requests
 * share one fsync.
 *
 * A write called outside a transaction runs in one of its own and is durable
 * when it returns (convenient for the CLI; slow on a hot path). Never call
 * mes_store_wait_durable while holding a transaction: the flusher needs it.
 *
 * Reads may run outside a transaction from any thread; inside one they see
 * the transaction's own writes. A read outside a transaction sees every
 * write that was durable when it began (so every acknowledged write) and the
 * calling thread's own committed writes; it may or may not see other
 * threads' writes committed but not yet durable (nobody was told of them).
 * List callbacks run while the store is locked (except event_scan): they
 * may call other store functions on the same thread but should be quick.
 * Returns: MES_OK, MES_ENOT_FOUND, MES_EEXISTS, MES_ESTORE, MES_ENOMEM,
 * MES_ESTORAGE_FULL (the disk is full: a failed group commit leaves the
 * store refusing writes with it until reopened, like MES_ESTORE),
 * MES_EUNAVAILABLE (another process holds the database locked too long),
 * MES_EINTERNAL (misuse: a buffer too small). A list whose callback stops it
 * returns MES_OK. Counts return -1 on failure.
 */
#ifndef MES_STORE_H
#define MES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct mes_store;

enum mes_store_backend { MES_STORE_SQLITE = 0 };

/* Opens (creating when `create`) the store of data directory `dir` and runs
 * pending schema migrations. *out is new: close with mes_store_close. */
int mes_store_open(const char *dir, enum mes_store_backend backend, bool create, struct mes_store **out,
                   struct mes_err *err);
/* mes_store_open (without creating) for a process that must have the
 * directory to itself: takes the directory's "in use" lock exclusive (the
 * one `mes_store_restore` takes), held until mes_store_close, so that no
 * other process opens a store of dir meanwhile. MES_ECONFLICT, with a
 * message, when any process has a store of dir open. */
int mes_store_open_alone(const char *dir, enum mes_store_backend backend, struct mes_store **out,
                         struct mes_err *err);
/* Commits and syncs pending writes, stops the flusher, closes. NULL-safe. */
void mes_store_close(struct mes_store *st);
/* Current schema version (for `mesura --version` and tests). */
int mes_store_schema_version(struct mes_store *st);

/* --- transactions and group commit --- */
int mes_store_tx_begin(struct mes_store *st);
int mes_store_tx_commit(struct mes_store *st, uint64_t *ticket);
void mes_store_tx_rollback(struct mes_store *st);
int mes_store_wait_durable(struct mes_store *st, uint64_t ticket);

/* Waiting without a thread: the HTTP server parks a request's connection
 * while its group commit is synced, instead of holding a worker in
 * mes_store_wait_durable. The caller owns the struct and must keep it alive
 * until cb has run; `ticket` and `next` belong to the store meanwhile. */
struct mes_store_waiter {
  /* rc: MES_OK once the ticket is durable; MES_ESTORE, or MES_ESTORAGE_FULL
   * for a full disk, when it never will be (the group commit failed). Runs
   * on the store's commit thread, without store locks held: it must be
   * quick and must not call the store. */
  void (*cb)(struct mes_store_waiter *w, int rc);
  uint64_t ticket;               /* private */
  struct mes_store_waiter *next; /* private */
};
/* Registers w for ticket (from mes_store_tx_commit, nonzero): w->cb is then
 * called exactly once, from the commit thread, even when the ticket is
 * already durable. MES_EINTERNAL (and no call) for a ticket never handed
 * out, or once the store is closing. Any thread, holding no tx
 * or holding one (registering does not wait). Registering also releases the
 * calling thread from seeing those writes in its later reads before they are
 * durable ("own committed writes" above): they belong to the request that
 * waits for them, not to the next one the thread serves. */
int mes_store_on_durable(struct mes_store *st, uint64_t ticket, struct mes_store_waiter *w);

/* A read session, for a burst of reads (a batch looking up its subjects):
 * from read_begin to read_end, the calling thread's reads outside a
 * transaction run on one connection in one read transaction, so they share
 * one snapshot (taken at the first read) and the pages it cached. They see
 * what was acknowledged before that snapshot, not what is acknowledged
 * during the session: keep it short, and write nothing between the calls
 * (a thread inside its own transaction, or with its own writes not yet
 * durable, reads as without a session). Pairs nest; read_end is owed for
 * each read_begin. Never fails: without a free connection, reads simply go
 * one by one. */
void mes_store_read_begin(struct mes_store *st);
void mes_store_read_end(struct mes_store *st);

/* Consistent online copy of the data database into `path` (keystore excluded,
 * on purpose: see above; the erasure journal too, which must outlive every
 * copy: see below). */
int mes_store_backup(struct mes_store *st, const char *path, struct mes_err *err);

/* --- the erasure journal (journal.c) ---
 * A file of the data directory beside the two databases, in no backup and
 * replaced by no restore, that lists every erasure: the subject's pseudonym,
 * row id and time, nothing personal. mes_store_open replays it, so that a
 * mesura.db or keys.db brought back from a copy made before an erasure never
 * brings the person back; a person who came back afterwards (a larger id)
 * keeps their new data. */
/* Journals the erasure of subject sid (pseudonym pn, borrowed), whose rows
 * and key the caller deleted or is deleting; durable when it returns. Any
 * thread, inside or outside a tx. Journaling before the deletion is the
 * safer order: a crash in between leaves a record whose replay at the next
 * open finishes the erasure, where the other order leaves an erasure that
 * old backups do not know of. */
int mes_store_erasure_add(struct mes_store *st, const uint8_t pn[32], int64_t sid, int64_t at_ms);
/* For what keeps state derived from people (a live model) and must follow
 * every erasure, this process's or another's sharing the directory: *n
 * receives the number of journal records, and cb(ud, sid, at_ms) is called
 * for records [from, *n) in order (a nonzero return stops the reading and
 * is returned). Record numbers never change: a reader remembers *n and
 * reads from there next time. Any thread. */
int mes_store_erasures_read(struct mes_store *st, int64_t from, int64_t *n,
                            int (*cb)(void *ud, int64_t sid, int64_t at_ms), void *ud);
/* How many subjects the replay at open removed again (0 for a store that
 * was not restored from an old copy), for the caller's log. */
int64_t mes_store_erasures_replayed(struct mes_store *st);

/* Checks a restored store before it is kept: MES_OK to keep it, or an error
 * (set in err) to put the previous files back. */
typedef int (*mes_store_verify_cb)(void *ud, struct mes_store *st, struct mes_err *err);
/* Brings a backup back: data_file (from mes_store_backup) becomes the data
 * database of directory dir, and keys_file (may be NULL: the keystore stays)
 * its keystore, each replaced atomically. Refuses with MES_ECONFLICT while
 * any process has a store of dir open, and holds that off meanwhile. The
 * new store is opened (so the journal is replayed) and given to verify(ud);
 * the files it replaced are then deleted, or put back when verify or the
 * open fails, leaving dir as it was. *n_removed (may be NULL) gets what the
 * replay removed. Paths borrowed. */
int mes_store_restore(const char *dir, enum mes_store_backend backend, const char *data_file, const char *keys_file,
                      mes_store_verify_cb verify, void *ud, int64_t *n_removed, struct mes_err *err);

/* --- meta: small key/value settings --- */
int mes_store_meta_get(struct mes_store *st, const char *key, char *out, size_t cap);
int mes_store_meta_set(struct mes_store *st, const char *key, const char *value); /* in a tx */

/* --- subjects: keyed pseudonym -> small integer id, and the flags that gate
 * processing without unsealing anything --- */
struct mes_subject_row {
  int64_t id;
  uint32_t granted;  /* bit p set: purpose p granted */
  bool restricted;
  int64_t created_ms;
};
int mes_store_subject_find(struct mes_store *st, const uint8_t pn[32], struct mes_subject_row *out);
/* Creates the subject when absent (in a tx); *out receives the row either way. */
int mes_store_subject_ensure(struct mes_store *st, const uint8_t pn[32], int64_t now_ms, struct mes_subject_row *out);
int mes_store_subject_set_granted(struct mes_store *st, int64_t sid, uint32_t granted);
int mes_store_subject_set_restricted(struct mes_store *st, int64_t sid, bool restricted);
/* Deletes the subject row and everything keyed by it in the data database
 * (events, consents, tokens, preferences, impressions, decision records,
 * protected attributes),
 * in a tx. The key is separate. MES_ENOT_FOUND when no row has id sid. */
int mes_store_subject_delete(struct mes_store *st, int64_t sid);
/* How many rows of each kind a deletion removed (an erasure receipt's
 * counts): impressions and decisions count stored answers. */
struct mes_store_erased {
  int64_t events, consents, tokens, preferences, impressions, decisions;
  int64_t attributes; /* the audit vault's document (0 or 1) */
  int64_t accesses;   /* access log entries */
};
/* mes_store_subject_delete, counting what went into *n. */
int mes_store_subject_delete_counted(struct mes_store *st, int64_t sid, struct mes_store_erased *n);
int64_t mes_store_subject_count(struct mes_store *st);
/* Calls cb for each subject row, by id; cb returns nonzero to stop. */
typedef int (*mes_store_subject_cb)(void *ud, const struct mes_subject_row *row);
int mes_store_subject_scan(struct mes_store *st, mes_store_subject_cb cb, void *ud);

/* --- keystore: wrapped subject keys, in keys.db ---
 * Keystore writes are not part of the data transaction: key_put is durable
 * when it returns (so data sealed under the key is never stored before its
 * key), and key_delete likewise. */
int mes_store_key_put(struct mes_store *st, int64_t sid, const uint8_t *wrapped, size_t len);
int mes_store_key_get(struct mes_store *st, int64_t sid, uint8_t *out, size_t cap, size_t *len);
/* Deletes the key and makes the deletion durable before returning
 * (crypto-shredding must not be undone by a crash). */
int mes_store_key_delete(struct mes_store *st, int64_t sid);
/* Small settings that belong with the keystore rather than the data (the
 * master key check, which must travel with keys.db): as meta_get/meta_set,
 * but in keys.db, each set durable when it returns. MES_ENOT_FOUND for
 * a key never set; MES_EINTERNAL when out is too small. */
int mes_store_key_meta_get(struct mes_store *st, const char *key, char *out, size_t cap);
int mes_store_key_meta_set(struct mes_store *st, const char *key, const char *value);
/* Gives a stored key its new form: reads wrapped[0..len) of subject sid and
 * writes the replacement into out[0..cap), its length into *out_len.
 * Nonzero stops the rewrap and is returned by it. */
typedef int (*mes_store_key_rewrap_cb)(void *ud, int64_t sid, const uint8_t *wrapped, size_t len, uint8_t *out,
                                       size_t cap, size_t *out_len);
struct mes_store_kv {
  const char *key, *value; /* borrowed */
};
/* Replaces every stored key by what cb makes of it and sets the n_meta
 * keystore meta values, in one keystore transaction, durable when it
 * returns: afterwards every key has its new form, or (an error, cb's or the
 * store's, or a crash) none has. Key writes and reads of other threads wait
 * meanwhile. *n_keys (may be NULL) gets how many keys were rewritten. */
int mes_store_key_rewrap(struct mes_store *st, mes_store_key_rewrap_cb cb, void *ud, const struct mes_store_kv *meta,
                         size_t n_meta, int64_t *n_keys);

/* --- events (payload sealed by the caller) --- */
struct mes_event_row {
  int64_t id;        /* assigned on insert */
  int64_t sid;
  int type;          /* index into the policy's event_types */
  int64_t ts_ms;
  uint32_t purposes; /* purposes the event serves (policy bits) */
  int source;        /* 0 first_party, 1 zero_party, 2 third_party */
  int64_t eid;       /* keyed hash of the client's event_id, 0 when none */
  const uint8_t *sealed; /* borrowed */
  size_t sealed_len;
};
/* Inserts (in a tx). MES_EEXISTS when eid != 0 is already stored for sid. */
int mes_store_event_insert(struct mes_store *st, struct mes_event_row *row);
/* Inserts rows[0..n) (borrowed; in a tx), in that order, in a few
 * statements: the fast path for batches. A row whose eid != 0 is already
 * stored for its sid (a retry, also one earlier in rows) is skipped, not an
 * error; *n_dup (may be NULL) gets how many were. Row ids are not reported
 * (rows[i].id is left alone). On error nothing of the call is kept once the
 * caller rolls back its tx. */
int mes_store_event_insert_many(struct mes_store *st, const struct mes_event_row *rows, size_t n, size_t *n_dup);
/* Calls cb for each event of sid, oldest first; cb returns nonzero to stop. */
typedef int (*mes_store_event_cb)(void *ud, const struct mes_event_row *row);
int mes_store_event_list(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud);
/* The same events in id order, the order they were stored, which is not
 * their time order when events arrive late (imports, offline apps): the
 * cheapest read of a whole history, for a caller that orders what it keeps
 * itself. Ordering by time costs SQLite a sort of whole rows, sealed
 * documents and all: a seventh of a cold recommendation (bench/README.md). */
int mes_store_event_list_stored(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud);
/* Every durable event, by id (for training and sweeps). Reads a snapshot on
 * its own connection, so it does not hold up writers; cb may call the store. */
int mes_store_event_scan(struct mes_store *st, mes_store_event_cb cb, void *ud);
int mes_store_event_delete(struct mes_store *st, int64_t sid, int64_t event_id); /* MES_ENOT_FOUND */
/* Deletes sid's events that serve no purpose in `still_granted`. *n gets the count. */
int mes_store_event_purge_purposes(struct mes_store *st, int64_t sid, uint32_t still_granted, int64_t *n);
/* Deletes events of `type` older than before_ms. *n gets the count. */
int mes_store_event_sweep(struct mes_store *st, int type, int64_t before_ms, int64_t *n);
int64_t mes_store_event_count(struct mes_store *st);
/* The stamp of sid's events: *max_id the largest event id (0 when none) and
 * *n how many there are, in one indexed read. Event ids are never
 * reused and events are never updated, only inserted and deleted, so the
 * pair changes whenever sid's events do (an insert raises max_id, a delete
 * lowers n) and two reads with equal stamps saw the same events: a cache of
 * a subject's decoded events (src/lib/ingest/histcache.h) checks itself with it.
 * Ids could repeat only after a transaction that inserted them rolled back:
 * a stamp read inside a write transaction may name rows that never become
 * durable. */
int mes_store_event_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);

/* --- consent ledger (receipt sealed by the caller; append-only) --- */
struct mes_consent_row {
  int64_t id;
  int64_t sid;
  int purpose;
  int status; /* 1 granted, 0 denied */
  int64_t ts_ms;
  const uint8_t *sealed; /* borrowed */
  size_t sealed_len;
};
int mes_store_consent_append(struct mes_store *st, struct mes_consent_row *row);
typedef int (*mes_store_consent_cb)(void *ud, const struct mes_consent_row *row);
int mes_store_consent_list(struct mes_store *st, int64_t sid, mes_store_consent_cb cb, void *ud);
/* The ledger's entries at or after since_ms, counted per day (UTC, days
 * since the epoch), purpose and status, in that order: cb gets each
 * non-empty group (no personal data: counts only); nonzero stops. Entries
 * of erased people left with them, so these are the standing records. */
typedef int (*mes_store_consent_day_cb)(void *ud, int64_t day, int purpose, int status, int64_t n);
int mes_store_consent_days(struct mes_store *st, int64_t since_ms, mes_store_consent_day_cb cb, void *ud);

/* --- daily counts: what the servers did per day (UTC, days since the
 * epoch), by kind ("events", "suppressions") and label (an outcome, a
 * rule), summed over every server sharing the store. Counts only: no
 * personal data. --- */
struct mes_count_row {
  int64_t day;
  const char *kind;  /* borrowed */
  const char *label; /* borrowed */
  int64_t n;
};
/* Adds each row's n to its day, kind and label (in the caller's transaction,
 * or one of its own). */
int mes_store_counts_add(struct mes_store *st, const struct mes_count_row *rows, size_t n);
/* cb gets every count from since_day on, by day, kind and label (strings
 * borrowed for the callback); nonzero stops. */
typedef int (*mes_store_count_cb)(void *ud, int64_t day, const char *kind, const char *label, int64_t n);
int mes_store_counts_days(struct mes_store *st, int64_t since_day, mes_store_count_cb cb, void *ud);
/* Deletes the counts of days before before_day; *n (may be NULL) gets how
 * many rows went. */
int mes_store_counts_sweep(struct mes_store *st, int64_t before_day, int64_t *n);

/* --- preferences (zero-party data, sealed by the caller) --- */
int mes_store_pref_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len);
/* *out is new (malloc) — caller frees. MES_ENOT_FOUND when none. */
int mes_store_pref_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len);

/* --- catalog (not personal: stored as the item's JSON document) --- */
int mes_store_item_put(struct mes_store *st, const char *id, const char *doc, int64_t now_ms);
/* *doc is new (malloc) — caller frees. */
int mes_store_item_get(struct mes_store *st, const char *id, char **doc);
int mes_store_item_delete(struct mes_store *st, const char *id);
/* Every item put or delete also adds one to meta "catalog_version" (read it
 * with mes_store_meta_get), in the same transaction, whichever process
 * writes: a process that keeps the catalog in memory compares it to know
 * when someone else changed the catalog. */
/* Items with id > after (NULL: from the start), by id (bytewise), at most
 * limit (<= 0: no limit). */
typedef int (*mes_store_item_cb)(void *ud, const char *id, const char *doc);
int mes_store_item_list(struct mes_store *st, const char *after, int limit, mes_store_item_cb cb, void *ud);
int64_t mes_store_item_count(struct mes_store *st);

/* --- impressions: the items one answer showed a subject (for frequency
 * caps), sealed by the caller with the subject's key
 * (src/lib/recommend/shown.c); deleted with the subject --- */
struct mes_impression_row {
  int64_t sid;
  int64_t ts_ms;
  int channel;           /* enum mes_channel */
  const uint8_t *sealed; /* borrowed */
  size_t sealed_len;
  int64_t id;            /* the row's id (set by impression_list; ignored by impression_add); last, so
                            that positional initialisers may leave it out */
};
int mes_store_impression_add(struct mes_store *st, const struct mes_impression_row *row);
/* Calls cb for each impression row of sid at or after since_ms, oldest
 * first; row->sealed is borrowed for the call. */
typedef int (*mes_store_impression_cb)(void *ud, const struct mes_impression_row *row);
int mes_store_impression_list(struct mes_store *st, int64_t sid, int64_t since_ms, mes_store_impression_cb cb,
                              void *ud);
/* Deletes every impression older than before_ms. *n gets the count. */
int mes_store_impression_sweep(struct mes_store *st, int64_t before_ms, int64_t *n);
/* Deletes every impression of sid (in a tx): the person withdrew the purpose
 * they were kept for. *n gets the count. */
int mes_store_impression_purge(struct mes_store *st, int64_t sid, int64_t *n);
/* The stamp of sid's impression rows, as mes_store_event_stamp is of their
 * events: *max_id the largest row id (0 when none) and *n how many, in one
 * indexed read. Row ids are never reused (the backend keeps a high-water
 * mark across deletions) and rows are never updated, so the pair changes
 * whenever sid's rows do: the history cache (src/lib/ingest/histcache.h) checks
 * its copy of a subject's impressions with it. Same caveat as events for a
 * stamp read inside a write transaction. */
int mes_store_impression_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);
/* As mes_store_impression_list, of sid's rows whose id is above after_id
 * (those written since a read that saw ids up to after_id), whatever their
 * time, oldest first. */
int mes_store_impression_list_after(struct mes_store *st, int64_t sid, int64_t after_id, mes_store_impression_cb cb,
                                    void *ud);

/* --- decision records (contract §6: GET /v1/recommendations/{id}). A
 * record of a personal answer is sealed by the caller with the subject's key
 * (sid != 0) so that erasure shreds it; a non-personal one (sid == 0) is
 * stored as is. Deleted with the subject and by the sweep. --- */
struct mes_decision_row {
  int64_t rid;    /* the request id's number (random, > 0; "r_" + 16 hex digits) */
  int64_t sid;    /* 0 for a non-personal answer */
  int64_t ts_ms;
  const uint8_t *doc; /* borrowed */
  size_t len;
};
/* Inserts many rows in one transaction of its own (the recommender queues
 * records and writes them in the background). Not durable on return. */
int mes_store_decision_put(struct mes_store *st, const struct mes_decision_row *rows, size_t n);
/* *doc is new (malloc) — caller frees; out->doc points to it. MES_ENOT_FOUND. */
int mes_store_decision_get(struct mes_store *st, int64_t rid, struct mes_decision_row *out, uint8_t **doc);
typedef int (*mes_store_decision_cb)(void *ud, const struct mes_decision_row *row);
/* Calls cb for each record of sid, oldest first. */
int mes_store_decision_list(struct mes_store *st, int64_t sid, mes_store_decision_cb cb, void *ud);
/* Deletes records older than before_ms. *n gets the count. */
int mes_store_decision_sweep(struct mes_store *st, int64_t before_ms, int64_t *n);

/* --- the access log (contract §7): one row per read of a subject's
 * personal data, the entry sealed by the caller with the subject's key, and
 * beside it in the clear what an incident scan must query without a key:
 * the time, the action code and the reader's key name (a key's name is the
 * brand's, not the person's). Rows are chained per subject by a keyed MAC
 * the caller computes; the chain's head (count and last MAC, itself MACed)
 * sits in a table apart. Both leave with the subject. --- */
#define MES_ACCESS_MAC_BYTES 32
struct mes_access_row {
  int64_t sid;
  int64_t seq;           /* 1, 2, ... within the subject's chain */
  int64_t ts_ms;
  int action;            /* the caller's action code */
  const char *reader;    /* borrowed, NUL-terminated, at most 64 bytes */
  const uint8_t *sealed; /* borrowed */
  size_t sealed_len;
  uint8_t mac[MES_ACCESS_MAC_BYTES];
};
struct mes_access_head {
  int64_t sid;
  int64_t n;                          /* entries ever chained (the seq of the last one) */
  uint8_t last[MES_ACCESS_MAC_BYTES]; /* the last entry's mac */
  int64_t first;                      /* the seq of the first entry kept (1 until a sweep; n + 1: none kept) */
  uint8_t base[MES_ACCESS_MAC_BYTES]; /* the mac entry `first` chains to (zeros when first is 1) */
  uint8_t mac[MES_ACCESS_MAC_BYTES];  /* the head's own MAC (over sid, n, last, and first and base) */
  /* Where the chain's last entry is stored (the backend's own number; 0:
   * none), which reading the chain starts from. Not under the MAC: a wrong
   * one only makes the backend find the entries the slow way. Set by the
   * backend on a head it reads or an append writes. */
  int64_t last_id;
};
/* A head as an append writes it: `head` replaces the stored head only if
 * that is still `was` in every column (the head the caller extended, as it
 * read and checked it or last wrote it), or, when is_new, is written for a
 * chain that has no head yet. */
struct mes_access_head_put {
  struct mes_access_head head;
  bool is_new;
  struct mes_access_head was;
};
/* Appends rows[0..n) and writes heads[0..n_heads) in one transaction of
 * its own (or the caller's), not durable on return (like decision_put).
 * When a stored head differs from the one a put extends (a sweep moved its
 * start, another writer extended it, it was erased or altered), or a new
 * chain's head already exists, nothing is written and MES_EEXISTS
 * returned. Arrays borrowed; on MES_OK each heads[i].head.last_id says
 * where its chain ends. */
int mes_store_access_append(struct mes_store *st, const struct mes_access_row *rows, size_t n,
                            struct mes_access_head_put *heads, size_t n_heads);
/* sid's head; MES_ENOT_FOUND when sid has no log. */
int mes_store_access_head_get(struct mes_store *st, int64_t sid, struct mes_access_head *out);
/* Calls cb for each row of sid (sid > 0), or of every subject (sid == 0),
 * by subject then seq; row fields borrowed for the call. */
typedef int (*mes_store_access_cb)(void *ud, const struct mes_access_row *row);
int mes_store_access_list(struct mes_store *st, int64_t sid, mes_store_access_cb cb, void *ud);
/* Calls cb for every head, by subject. */
typedef int (*mes_store_access_head_cb)(void *ud, const struct mes_access_head *head);
int mes_store_access_heads(struct mes_store *st, mes_store_access_head_cb cb, void *ud);
/* Calls cb for each subject that has an entry older than before_ms, by
 * subject id (the retention sweep's candidates). */
typedef int (*mes_store_access_sid_cb)(void *ud, int64_t sid);
int mes_store_access_expired(struct mes_store *st, int64_t before_ms, mes_store_access_sid_cb cb, void *ud);
/* One chain's sweep: delete its entries below `first` and move its head's
 * start there (first, base, mac), provided the stored head still has count
 * n and starts at was_first (the caller read it so). */
struct mes_access_trim {
  int64_t sid;
  int64_t n;
  int64_t was_first;
  int64_t first;
  uint8_t base[MES_ACCESS_MAC_BYTES];
  uint8_t mac[MES_ACCESS_MAC_BYTES];
};
/* Applies t[0..n) in one transaction; a trim whose head changed since it
 * was read is skipped (the next sweep does it). *n_deleted (may be NULL)
 * gets the entries deleted. Array borrowed. */
int mes_store_access_trim(struct mes_store *st, const struct mes_access_trim *t, size_t n, int64_t *n_deleted);
/* Calls cb once per subject that `reader` read at or after since_ms, by
 * subject id, with the subject's pseudonym (borrowed for the call). */
typedef int (*mes_store_access_reader_cb)(void *ud, int64_t sid, const uint8_t pn[32]);
int mes_store_access_readers(struct mes_store *st, const char *reader, int64_t since_ms,
                             mes_store_access_reader_cb cb, void *ud);

/* --- models (not personal: item-item aggregates; see model/model.h) --- */
/* Stores a model blob with its metadata JSON (borrowed), durably; *id gets
 * its id (increasing). Keeps only the newest `keep` models. */
int mes_store_model_put(struct mes_store *st, const char *meta, const uint8_t *blob, size_t len, int keep,
                        int64_t now_ms, int64_t *id);
/* Id of the newest model, 0 when none (-1 on failure). Cheap. */
int64_t mes_store_model_latest(struct mes_store *st);
/* *meta and *blob are new (malloc) — caller frees both. MES_ENOT_FOUND.
 * blob NULL (and len): the meta alone, without reading the blob. */
int mes_store_model_get(struct mes_store *st, int64_t id, char **meta, uint8_t **blob, size_t *len);

/* --- API keys (stored as hashes) --- */
struct mes_apikey_row {
  char name[65];
  uint8_t hash[32];
  uint32_t scopes;
  int64_t created_ms;
  int64_t revoked_ms; /* 0 when active */
};
int mes_store_apikey_put(struct mes_store *st, const struct mes_apikey_row *row); /* MES_EEXISTS on name */
int mes_store_apikey_find(struct mes_store *st, const uint8_t hash[32], struct mes_apikey_row *out);
typedef int (*mes_store_apikey_cb)(void *ud, const struct mes_apikey_row *row);
int mes_store_apikey_list(struct mes_store *st, mes_store_apikey_cb cb, void *ud);
int mes_store_apikey_revoke(struct mes_store *st, const char *name, int64_t now_ms); /* idempotent; MES_ENOT_FOUND */

/* --- subjects' tokens (stored as hashes; deleted with their subject) --- */
struct mes_token_row {
  uint8_t hash[32];
  int64_t sid;
  int use; /* 0: the person's own dashboard */
  int64_t created_ms;
  int64_t expires_ms;
  int64_t revoked_ms; /* 0 when active */
};
int mes_store_token_put(struct mes_store *st, const struct mes_token_row *row); /* MES_EEXISTS on hash */
int mes_store_token_find(struct mes_store *st, const uint8_t hash[32], struct mes_token_row *out); /* MES_ENOT_FOUND */
/* Revokes every active token of subject sid; *n gets how many. */
int mes_store_token_revoke_subject(struct mes_store *st, int64_t sid, int64_t now_ms, int64_t *n);
/* Deletes the tokens that expired before before_ms; *n gets how many. */
int mes_store_token_sweep(struct mes_store *st, int64_t before_ms, int64_t *n);

/* --- the attribute vault of fairness audits: one document per subject,
 * sealed by the caller with the subject's key; deleted with the subject ---
 * put replaces (in a tx or one of its own). get: *out is new (malloc) —
 * caller frees; MES_ENOT_FOUND when none. delete: MES_ENOT_FOUND when none. */
int mes_store_attr_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len);
int mes_store_attr_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len);
int mes_store_attr_delete(struct mes_store *st, int64_t sid);
/* Calls cb for each subject's document, by subject id (sealed borrowed for
 * the call); cb returns nonzero to stop. */
typedef int (*mes_store_attr_cb)(void *ud, int64_t sid, const uint8_t *sealed, size_t len);
int mes_store_attr_scan(struct mes_store *st, mes_store_attr_cb cb, void *ud);

/* --- audits: finished audit results (aggregates naming nobody, stored as
 * their JSON text), kept as history --- */
/* Stores doc (borrowed) durably; *id gets its id (increasing). */
int mes_store_audit_put(struct mes_store *st, int64_t now_ms, const char *doc, int64_t *id);
/* *doc is new (malloc) — caller frees. MES_ENOT_FOUND. */
int mes_store_audit_get(struct mes_store *st, int64_t id, char **doc);
/* Id of the newest finished audit (its "status" is "done"), 0 when none
 * (-1 on failure). */
int64_t mes_store_audit_latest(struct mes_store *st);
/* Replaces audit id's document with doc (borrowed). MES_ENOT_FOUND. */
int mes_store_audit_update(struct mes_store *st, int64_t id, const char *doc);
/* Marks every audit still "running" as "failed", with "error" set to the
 * JSON object `error` (borrowed text); *n gets how many were. */
int mes_store_audit_interrupt(struct mes_store *st, const char *error, int64_t *n);
/* Calls cb with the newest `limit` audits (any status), newest first: id,
 * creation time and document (borrowed for the call); cb returns nonzero
 * to stop. */
typedef int (*mes_store_audit_cb)(void *ud, int64_t id, int64_t created_ms, const char *doc);
int mes_store_audit_list(struct mes_store *st, int limit, mes_store_audit_cb cb, void *ud);

#endif
