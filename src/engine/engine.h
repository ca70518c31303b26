/*
 * engine — the mes_engine handle: owns one data directory's policy, store,
 * master key, subject-key cache and auth handle (auth/auth.h: API keys,
 * subject tokens, the scopes and struct mes_principal), and hands out request
 * contexts (struct mes_ctx) to the layers above (http, cli).
 *
 * Data directory layout:
 *   mesura.yaml   the brand's policy (reloaded by mes_engine_reload)
 *   master.key    32 random bytes, mode 0600
 *   mesura.db     data database (SQLite, WAL)
 *   keys.db       keystore: wrapped subject keys
 *
 * Thread-safety: every function may be called from any thread once open.
 */
#ifndef MES_ENGINE_H
#define MES_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "base/err.h"
#include "base/log.h"
#include "subject/subject.h"

struct mes_model_params;

struct mes_engine;

struct mes_engine_opts {
  const char *dir;     /* data directory (borrowed for the call) */
  struct mes_log log;  /* copied */
};

/* Opens a data directory made by mes_engine_init_dir. *out is new.
 * MES_ECRYPTO, naming the file, when master.key, mesura.db and keys.db do
 * not belong together (subject/keycheck.h). */
int mes_engine_open(const struct mes_engine_opts *o, struct mes_engine **out, struct mes_err *err);
/* Flushes and closes (stopping the background thread first, when started).
 * NULL-safe. */
void mes_engine_close(struct mes_engine *e);

/* Starts the background thread that runs the retention sweep
 * (mes_ingest_sweep) at once and then every 60 s, off the request threads.
 * The same thread looks for a newer stored model every second (one saved by
 * `mesura train` in another process is live within a second) and retrains
 * on the policy's model.retrain_every_minutes, and sooner once the stored
 * events grew by 10 % and at least 1,000 since the live model was trained.
 * mes_engine_close stops it without waiting out the interval. Call once, from
 * the thread that owns e (a second call is a no-op); the server calls it, the
 * one-shot CLI commands do not. MES_EUNAVAILABLE when no thread can start. */
int mes_engine_start_background(struct mes_engine *e, struct mes_err *err);

/* Creates DIR (or uses it if empty) with a commented mesura.yaml, an empty
 * database and a fresh master key. MES_ENOT_EMPTY when DIR has files. */
int mes_engine_init_dir(const char *dir, struct mes_err *err);

/* Re-reads mesura.yaml; a bad file is refused (err says where) and the old
 * policy stays. */
int mes_engine_reload(struct mes_engine *e, struct mes_err *err);

/* A request context: fills c with borrowed handles and a reference to the
 * current policy snapshot. Pair every mes_engine_ctx with mes_engine_ctx_done. */
void mes_engine_ctx(struct mes_engine *e, struct mes_ctx *c, const char *actor, bool gpc);
void mes_engine_ctx_done(struct mes_engine *e, struct mes_ctx *c);

struct mes_store *mes_engine_store(struct mes_engine *e);
struct mes_recommender;
/* The recommender (recommend.h) serving this engine: borrowed, lives as
 * long as e. Request contexts carry the engine's catalog index (ctx.catalog). */
struct mes_recommender *mes_engine_recommender(struct mes_engine *e);

struct mes_histcache;
/* The cache of active shoppers' decoded histories (ingest/histcache.h) that
 * request contexts carry (ctx.hcache): borrowed, lives as long as e. For its
 * counters (mes_histcache_stats) and for erasure (mes_histcache_forget). */
struct mes_histcache *mes_engine_histcache(struct mes_engine *e);
struct mes_subjmap;
/* Ingestion's pseudonym -> subject row hints (subject/subjmap.h), for
 * /metrics' counters. */
struct mes_subjmap *mes_engine_subjmap(struct mes_engine *e);

struct mes_model;
/* The live model: a new reference (release with mes_model_unref), or NULL
 * while none was trained. Cheap (a mutex around a pointer and a reference
 * count): call it once per request and use that model for the whole request,
 * even if a newer one is swapped in meanwhile. */
struct mes_model *mes_engine_model(struct mes_engine *e);
/* Trains a model from the stored events with the policy's model settings
 * and saves it as the newest (the server's background thread picks it up).
 * Slow: never call on a request thread. *meta (may be NULL) receives the
 * model's metadata (mes_model_meta, with the store "id"), a new reference. */
int mes_engine_train(struct mes_engine *e, json_t **meta, struct mes_err *err);
/* The training parameters policy p asks for (model.kind, max_memory_mb,
 * relation_half_life_days over the model's defaults): what mes_engine_train
 * and `mesura eval --model served` train with. */
void mes_engine_train_params(const struct mes_policy *p, struct mes_model_params *mp);
/* The instance's Ed25519 receipt-signing public key (contract §5). */
void mes_engine_sign_public_key(struct mes_engine *e, uint8_t pk[32]);
const struct mes_log *mes_engine_log(struct mes_engine *e);
const char *mes_engine_dir(struct mes_engine *e);

/* ---- Keys and tokens: the engine's auth handle; auth/auth.h gives each
 * call's contract (mes_auth_authenticate, mes_auth_key_create, ...). ---- */

/* Looks a bearer secret up (API key by hash, constant-time; or a subject
 * token). Changes made by `mesura keys` in another process are seen within a
 * second. MES_EUNAUTHORIZED when unknown or revoked, MES_ETOKEN_EXPIRED for
 * a subject token past its expiry. */
int mes_engine_authenticate(struct mes_engine *e, const char *bearer, size_t len, struct mes_principal *out);

/* Key management (CLI and admin API). key_out receives the secret, shown once. */
int mes_engine_key_create(struct mes_engine *e, const char *name, uint32_t scopes, char key_out[64],
                          struct mes_err *err);
int mes_engine_key_revoke(struct mes_engine *e, const char *name, struct mes_err *err);

/* A subject's dashboard token (contract §7): ttl_s seconds. token_out >= 64 bytes. */
int mes_engine_subject_token(struct mes_engine *e, int64_t sid, int ttl_s, char token_out[64], int64_t *expires_ms);

#endif
