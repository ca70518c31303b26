/*
 * subject — from a brand's subject id to what the domain modules work with:
 * the keyed pseudonym, the small integer id in the store, and the subject's
 * own data key (created on first use, wrapped by the master key, cached).
 *
 * Also defines struct mes_ctx: the borrowed handles one domain call needs
 * (store, master key, policy snapshot, key cache, clock, log). It is a bundle
 * of borrowed pointers filled by the engine per request, not an owner.
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
struct mes_catalog_index; /* catalog/catalog.h: named here only as an opaque handle */
struct mes_histcache;     /* ingest/histcache.h: likewise */
struct mes_subjmap;       /* subject/subjmap.h */

struct mes_ctx {
  struct mes_store *store;         /* borrowed */
  const struct mes_master *master; /* borrowed */
  const struct mes_policy *policy; /* borrowed snapshot, valid for the call */
  struct mes_keycache *keys;       /* borrowed; may be NULL (no caching) */
  const struct mes_log *log;       /* borrowed; may be NULL */
  int64_t now_ms;                  /* the request's clock */
  const char *actor;               /* name of the key or token acting ("import", ...); borrowed */
  bool gpc;                        /* the request carried Sec-GPC: 1 */
  struct mes_catalog_index *catalog; /* borrowed; the in-memory catalog index, may be NULL (none kept) */
  struct mes_histcache *hcache;      /* borrowed; may be NULL: decoded histories of active shoppers, used by
                                        mes_ingest_history (erasure must call mes_histcache_forget) */
  struct mes_subjmap *smap;          /* borrowed; may be NULL: pseudonym -> subject row hints for ingestion
                                        (subjmap.h); whoever changes a subject row calls mes_subjmap_forget */
};

/* Namespaces of pseudonyms: a brand's subject id, or an anonymous/device id. */
enum mes_subject_ns { MES_NS_SUBJECT = 0, MES_NS_ANON = 1 };

struct mes_subject {
  uint8_t pn[MES_PSEUDONYM_BYTES];
  char pn_hex[17]; /* short pseudonym for logs */
  struct mes_subject_row row; /* row.id == 0 when not stored */
};

/* Fills out->pn and out->pn_hex for an id of namespace ns, and clears
 * out->row: the one place that names the namespaces' hash labels. */
void mes_subject_pseudonymize(const struct mes_ctx *c, enum mes_subject_ns ns, const char *id, size_t len,
                              struct mes_subject *out);

/* Resolves an id (already checked by mes_id_check). With create, stores the
 * subject (inside the caller's tx) and its key (durably, before returning);
 * without, MES_ENOT_FOUND when unknown (out->pn is filled either way). */
int mes_subject_resolve(const struct mes_ctx *c, enum mes_subject_ns ns, const char *id, size_t len, bool create,
                        struct mes_subject *out);

/* The subject's data key. MES_ENOT_FOUND when it was shredded or never made. */
int mes_subject_key(const struct mes_ctx *c, int64_t sid, uint8_t key[MES_KEY_BYTES]);

/* Crypto-shreds: deletes the key from the keystore (durably) and the cache. */
int mes_subject_shred(const struct mes_ctx *c, int64_t sid);

/* Seals / unseals a record of a subject with its key; `kind` ("event",
 * "consent", "pref") is bound as associated data with the sid. Seal: *out is
 * new (caller frees), *out_len its size. Unseal: *out is new, NUL-terminated. */
int mes_subject_seal(const struct mes_ctx *c, int64_t sid, const char *kind, const void *pt, size_t len,
                     uint8_t **out, size_t *out_len);
int mes_subject_unseal(const struct mes_ctx *c, int64_t sid, const char *kind, const uint8_t *ct, size_t len,
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
 * eviction and free). */
int mes_keycache_new(size_t max_entries, struct mes_keycache **out);
void mes_keycache_free(struct mes_keycache *kc);
void mes_keycache_forget(struct mes_keycache *kc, int64_t sid);

#endif
