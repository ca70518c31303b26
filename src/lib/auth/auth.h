/*
 * auth — who is calling: API keys (made, looked up and revoked in the store,
 * by hash only) and subjects' short-lived tokens, for their dashboard or
 * their browser (contract §2, §7),
 * behind one handle that keeps a short cache of looked-up keys and the
 * tokens it minted.
 *
 * Keys and tokens live in the store, by hash only (the secret is shown once
 * and never written anywhere), so that `mesura keys` in another process
 * creates or revokes a key for a running server too, and a token works on
 * every server sharing the store and across restarts: the cache keeps an
 * answer at most MES_AUTH_TTL_MS, and a revocation made through this handle
 * takes effect in it at once.
 *
 * Thread-safety: every function may be called from any thread; the store
 * handed to mes_auth_new must be usable from those threads too.
 */
#ifndef MES_AUTH_H
#define MES_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesura/mesura.h>

#include "base/err.h"

struct mes_store;

#define MES_AUTH_TTL_MS 1000 /* contract: key changes take effect within one second */
/* How long an expired token stays stored, answering MES_ETOKEN_EXPIRED
 * ("ask for a new one") rather than MES_EUNAUTHORIZED. */
#define MES_AUTH_TOKEN_GRACE_MS (24LL * 3600 * 1000)

/* The scopes, struct mes_principal and mes_scope_parse/_format/_allows are
 * public (include/mesura/mesura.h); this module implements them. */

struct mes_auth;

/* *out is new (free with mes_auth_free), working on st (borrowed: it must
 * outlive the handle). MES_ENOMEM. */
int mes_auth_new(struct mes_store *st, struct mes_auth **out);
/* Frees the handle, wiping the cached keys' hashes and the tokens. NULL-safe. */
void mes_auth_free(struct mes_auth *a);

/* Looks a bearer secret (len bytes, borrowed) up: an API key by hash
 * (constant-time), or a subject token ("mst_..."). Fills *out. MES_OK;
 * MES_EUNAUTHORIZED when unknown or revoked; MES_ETOKEN_EXPIRED for a
 * subject token past its expiry; MES_EUNAVAILABLE when the store failed
 * (not cached: the next call asks again). */
int mes_auth_authenticate(struct mes_auth *a, const char *bearer, size_t len, struct mes_principal *out);

/* Creates a key named `name` (1 to 64 of letters, digits, '-', '_', '.')
 * with `scopes`, durable before returning. key_out receives the secret, to be
 * shown once (only its hash is stored). MES_EINVALID_VALUE for a bad name,
 * MES_EEXISTS when the name is taken, store errors; key_out is wiped on
 * failure. */
int mes_auth_key_create(struct mes_auth *a, const char *name, uint32_t scopes, char key_out[64],
                        struct mes_err *err);
/* Revokes the key `name`, durable before returning; this handle refuses it
 * at once, other processes within MES_AUTH_TTL_MS. Revoking it again
 * succeeds and keeps its first revocation time. MES_ENOT_FOUND when no key
 * has that name. */
int mes_auth_key_revoke(struct mes_auth *a, const char *name, struct mes_err *err);

/* The scopes a subject's token of this use carries (enum mes_token_use):
 * subjects and consent for the dashboard; consent, ingest and recommend for
 * the browser. Always on its own subject alone (engine/call.c). */
uint32_t mes_token_scopes(enum mes_token_use use);

/* Mints a token of `use` for subject row sid, valid ttl_s seconds, stored
 * (as its hash, with its use) durably before returning: token_out (>= 64
 * bytes) receives it, *expires_ms its expiry. Store errors (token_out
 * wiped). */
int mes_auth_subject_token(struct mes_auth *a, int64_t sid, enum mes_token_use use, int ttl_s, char token_out[64],
                           int64_t *expires_ms, struct mes_err *err);
/* Revokes every token of subject row sid, durable before returning; this
 * handle refuses them at once, other processes within MES_AUTH_TTL_MS. *n
 * gets how many were active. Store errors. */
int mes_auth_subject_revoke(struct mes_auth *a, int64_t sid, int64_t *n, struct mes_err *err);
/* Forgets every cached answer, so that this handle reads the store again at
 * once: after tokens were deleted with their subject (erasure). */
void mes_auth_forget_cached(struct mes_auth *a);
/* Deletes the tokens expired for more than MES_AUTH_TOKEN_GRACE_MS; *n
 * gets how many. */
int mes_auth_sweep(struct mes_auth *a, int64_t now_ms, int64_t *n);

/* Forgets the cached answers about subject row sid's tokens: their next use
 * reads the store, where revocation or erasure changed them. */
void mes_auth_forget_subject(struct mes_auth *a, int64_t sid);

#endif
