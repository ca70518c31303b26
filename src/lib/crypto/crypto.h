/*
 * crypto — every cryptographic operation of mesura, over libsodium.
 *
 * One master key file (mode 0600) per data directory: 32 random bytes, the
 * root, and after a rotation 32 more, the wrapping seed. All other secrets
 * are derived from them with crypto_kdf under fixed contexts: from the root
 * the pseudonym key, the event-id key, the Ed25519 receipt-signing seed and
 * the key-check key, which stay for the directory's life; the key-wrapping
 * key from the wrapping seed when the file has one, else from the root.
 * Subject keys are random per subject, sealed ("wrapped") by the wrapping key
 * with the subject's numeric id as associated data, and live only in the
 * keystore (store's key_* ops), never beside the data.
 *
 * Thread-safety: a struct mes_master is immutable after load; all functions
 * may be called from any thread.
 */
#ifndef MES_CRYPTO_H
#define MES_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define MES_KEY_BYTES 32
#define MES_PSEUDONYM_BYTES 32
#define MES_SEAL_OVERHEAD 40 /* 24-byte nonce + 16-byte tag */
#define MES_WRAPPED_KEY_BYTES (MES_KEY_BYTES + MES_SEAL_OVERHEAD)
#define MES_SIG_BYTES 64
#define MES_SIGN_PK_BYTES 32
#define MES_KEY_CHECK_BYTES 32
#define MES_KEY_CHECK_HEX (2 * MES_KEY_CHECK_BYTES + 1) /* hex digits and NUL */

struct mes_master;

/* Calls sodium_init() once; safe to call many times and from many threads. */
int mes_crypto_init(void);

/* Creates a new master key file at path with mode 0600; fails with MES_EEXISTS
 * when the file exists. */
int mes_master_create(const char *path, struct mes_err *err);
/* Creates a new master key file at path (mode 0600, MES_EEXISTS when it
 * exists) with m's root and a fresh wrapping seed: the key of a rotation,
 * whose pseudonyms, event-id hashes, receipt signatures and key check are
 * m's and whose wrapping key is new. Durable (file and name) on return. */
int mes_master_create_next(const struct mes_master *m, const char *path, struct mes_err *err);
/* Loads the master key (refuses a file readable by group or others; 32 or
 * 64 bytes).
 * *out is new: free with mes_master_free. */
int mes_master_load(const char *path, struct mes_master **out, struct mes_err *err);
void mes_master_free(struct mes_master *m);

/* The key check: a value, stored in the clear beside the data, that tells
 * whether a store was made with this master key without revealing anything
 * about the key (a keyed BLAKE2b of a fixed label under a subkey of its own).
 * Deterministic per master key. out receives lower-case hex and a NUL. */
void mes_master_check_hex(const struct mes_master *m, char out[MES_KEY_CHECK_HEX]);
/* 1 when stored[0..len) is m's check value in hex, compared in constant
 * time; 0 otherwise, including for text that is not such a value. */
int mes_master_check_matches(const struct mes_master *m, const char *stored, size_t len);

/* The same for the wrapping key alone: it tells a key that wraps this
 * keystore's subject keys from one that does not, such as the key a rotation
 * retired (same root, same key check, another wrapping key). */
void mes_master_wrap_check_hex(const struct mes_master *m, char out[MES_KEY_CHECK_HEX]);
int mes_master_wrap_check_matches(const struct mes_master *m, const char *stored, size_t len);
/* 1 when m's file carries a wrapping seed (written by a rotation). */
int mes_master_rotated(const struct mes_master *m);

/* Keyed pseudonym of an id (BLAKE2b with the pseudonym key; `ns` separates
 * namespaces such as "subject" and "anon"). Deterministic per data directory. */
void mes_pseudonym(const struct mes_master *m, const char *ns, const char *id, size_t id_len,
                   uint8_t out[MES_PSEUDONYM_BYTES]);
/* A short printable pseudonym for logs: 16 hex chars + NUL. */
void mes_pseudonym_hex(const uint8_t pn[MES_PSEUDONYM_BYTES], char out[17]);
/* A keyed 63-bit positive hash (for idempotency keys such as a subject's
 * event_id), never 0. */
int64_t mes_keyed_hash64(const struct mes_master *m, const uint8_t pn[MES_PSEUDONYM_BYTES], const char *s,
                         size_t len);

/* A fresh random subject key. */
void mes_subject_key_new(uint8_t key[MES_KEY_BYTES]);
/* Wraps / unwraps a subject key for subject `sid` (sid is bound as associated
 * data, so a wrapped key cannot be moved to another subject). */
int mes_subject_key_wrap(const struct mes_master *m, int64_t sid, const uint8_t key[MES_KEY_BYTES],
                         uint8_t out[MES_WRAPPED_KEY_BYTES]);
int mes_subject_key_unwrap(const struct mes_master *m, int64_t sid, const uint8_t *wrapped, size_t len,
                           uint8_t key[MES_KEY_BYTES]);

/* XChaCha20-Poly1305 with a random nonce. out must hold len + MES_SEAL_OVERHEAD
 * bytes; ad (may be NULL) binds context such as the table and row kind. */
int mes_seal(const uint8_t key[MES_KEY_BYTES], const void *ad, size_t ad_len, const void *pt, size_t len,
             uint8_t *out);
/* out must hold len - MES_SEAL_OVERHEAD bytes; MES_ECRYPTO when forged or the
 * wrong key. */
int mes_unseal(const uint8_t key[MES_KEY_BYTES], const void *ad, size_t ad_len, const uint8_t *ct, size_t len,
               uint8_t *out);

/* Ed25519 detached signature with the instance's receipt key. */
void mes_sign(const struct mes_master *m, const void *msg, size_t len, uint8_t sig[MES_SIG_BYTES]);
void mes_sign_public_key(const struct mes_master *m, uint8_t pk[MES_SIGN_PK_BYTES]);

/* API keys: a new random key as printable text "mes_" + 43 base64url chars
 * (out: at least 64 bytes), and its stored hash. */
void mes_apikey_generate(char out[64]);
void mes_apikey_hash(const char *key, size_t len, uint8_t out[32]);
/* Constant-time equality of two secrets of the same length: 1 when equal,
 * 0 otherwise. */
int mes_ct_equal(const void *a, const void *b, size_t len);

/* Standard base64 (with padding) into out; returns out, or NULL if cap is too small. */
char *mes_base64(const uint8_t *bin, size_t len, char *out, size_t cap);
/* A random printable token (base64url, no padding) of n_bytes of entropy
 * (at most 64). Size cap for it with ((n_bytes + 2) / 3) * 4 + 1; when cap is
 * smaller, fewer bytes of entropy are used so that the token fits. */
void mes_random_token(char *out, size_t cap, size_t n_bytes);

/* n random bytes from libsodium (randombytes_buf): never fails. */
void mes_random_bytes(void *out, size_t n);

/* SipHash-2-4 of in[0..len) under a 16-byte key: a fast keyed function for
 * short inputs (hash tables, small permutations), not a MAC for storage. */
uint64_t mes_shorthash(const uint8_t key[16], const void *in, size_t len);

/* A keyed BLAKE2b-256 of in[0..len) under a 32-byte key: a MAC for
 * storage (the access log's chain) and a labelled derivation of one key
 * from another. out may not alias in. */
void mes_mac(const uint8_t key[MES_KEY_BYTES], const void *in, size_t len, uint8_t out[32]);

/* Wipes memory that held a secret. */
void mes_wipe(void *p, size_t len);
/* Makes *buf (capacity *cap) hold at least n bytes for unsealed plaintext,
 * reused from one sealed row to the next: the old buffer is wiped before it
 * is freed, so no plaintext is left behind in freed memory. MES_OK, or
 * MES_ENOMEM with *buf unchanged. */
int mes_pt_reserve(uint8_t **buf, size_t *cap, size_t n);

#endif
