/*
 * subject — from a brand's subject id to what the domain modules work with:
 * the keyed pseudonym, the small integer id in the store, and the subject's
 * own data key (created on first use, wrapped by the master key, cached).
 *
 * Defines the subject registry, struct mes_subjects: the handle the engine
 * makes once, over the store and the master key (borrowed), owning the
 * cache of unwrapped keys and the pseudonym -> row hints of ingestion
 * (subjmap.h). Both caches are always there: a capacity of 0 keeps nothing.
 * The domain handles (catalog, consent ledger, ingester, recommender) are
 * made with the registry they use; a request brings only struct mes_req
 * (policy/policy.h).
 */
#ifndef MES_SUBJECT_H
#define MES_SUBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "policy/policy.h"
#include "store/store.h"

struct mes_keycache;
struct mes_subjects;

/* Namespaces of pseudonyms: a brand's subject id, or an anonymous/device id. */
enum mes_subject_ns { MES_NS_SUBJECT = 0, MES_NS_ANON = 1 };

struct mes_subject {
  uint8_t pn[MES_PSEUDONYM_BYTES];
  char pn_hex[17]; /* short pseudonym for logs */
  struct mes_subject_row row; /* row.id == 0 when not stored */
};

/* The registry: st, master and log (may be NULL) are borrowed and must
 * outlive it; it owns a key cache of key_entries keys and a hint map of
 * hint_entries rows (subjmap.h; 0 turns either off). *out is new: free with
 * mes_subjects_free. MES_ENOMEM, MES_EINTERNAL for a size out of range. */
int mes_subjects_new(struct mes_store *st, const struct mes_master *master, const struct mes_log *log,
                     size_t key_entries, size_t hint_entries, struct mes_subjects **out);
/* Wipes both caches and frees. NULL-safe. No call may be running. */
void mes_subjects_free(struct mes_subjects *sj);

/* Forgets what the registry holds in memory about subject s (resolved:
 * s->pn and s->row.id): its key leaves the cache and its row leaves the
 * hints, so that the next use of either reads the store. The stored key and
 * row stay (erasure deletes them). */
void mes_subjects_forget(struct mes_subjects *sj, const struct mes_subject *s);

/* Fills out->pn and out->pn_hex for an id of namespace ns, and clears
 * out->row: the one place that names the namespaces' hash labels. */
void mes_subject_pseudonymize(const struct mes_subjects *sj, enum mes_subject_ns ns, const char *id, size_t len,
                              struct mes_subject *out);

/* Resolves an id (already checked by mes_id_check). With create, stores the
 * subject (inside the caller's tx, first seen at c->now_ms) and its key
 * (durably, before returning); without, MES_ENOT_FOUND when unknown (out->pn
 * is filled either way). */
int mes_subject_resolve(struct mes_subjects *sj, const struct mes_req *c, enum mes_subject_ns ns, const char *id,
                        size_t len, bool create, struct mes_subject *out);

/* The subject's data key. MES_ENOT_FOUND when it was shredded or never made. */
int mes_subject_key(struct mes_subjects *sj, int64_t sid, uint8_t key[MES_KEY_BYTES]);
/* The same, straight from the keystore: the cache is neither read nor
 * filled (bulk readers such as the training scan, which must not evict the
 * keys of active shoppers). */
int mes_subject_key_stored(struct mes_subjects *sj, int64_t sid, uint8_t key[MES_KEY_BYTES]);

/* Crypto-shreds: deletes the key from the keystore (durably) and the cache. */
int mes_subject_shred(struct mes_subjects *sj, int64_t sid);

/* Seals / unseals a record of a subject with its key; `kind` ("event",
 * "consent", "pref") is bound as associated data with the sid. Seal: *out is
 * new (caller frees), *out_len its size. Unseal: *out is new, NUL-terminated. */
int mes_subject_seal(struct mes_subjects *sj, int64_t sid, const char *kind, const void *pt, size_t len,
                     uint8_t **out, size_t *out_len);
int mes_subject_unseal(struct mes_subjects *sj, int64_t sid, const char *kind, const uint8_t *ct, size_t len,
                       char **out, size_t *out_len);
/* Seals like mes_subject_seal, with sid's key already in hand (a batch of
 * events fetches each subject's key once, and wipes it when done; the key is
 * borrowed). *out is new (caller frees), *out_len its size. */
int mes_subject_seal_key(const uint8_t key[MES_KEY_BYTES], int64_t sid, const char *kind, const void *pt, size_t len,
                         uint8_t **out, size_t *out_len);
/* Unseals like mes_subject_unseal, with sid's key already in hand (bulk
 * readers such as training fetch each subject's key once) and into the
 * caller's buffer: out must hold len - MES_SEAL_OVERHEAD bytes (no NUL is
 * added). MES_ECRYPTO when forged, sealed for another subject or kind, or
 * shorter than the overhead. Allocates nothing. */
int mes_subject_unseal_key(const uint8_t key[MES_KEY_BYTES], int64_t sid, const char *kind, const uint8_t *ct,
                           size_t len, uint8_t *out);

/* A thread-safe cache of unwrapped subject keys (bounded; keys are wiped on
 * eviction and free): the registry's. max_entries 0 keeps nothing. */
int mes_keycache_new(size_t max_entries, struct mes_keycache **out);
void mes_keycache_free(struct mes_keycache *kc);
void mes_keycache_forget(struct mes_keycache *kc, int64_t sid);

#endif
