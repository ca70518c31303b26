/*
 * engine — the module face of the mes_engine handle, for the library's own
 * tests, benchmarks and fuzzers. Programs use the public verbs of
 * include/mesura/mesura.h (opening, closing and every use case); this header
 * adds what only code inside libmesura may touch: the request contexts
 * (struct mes_ctx) the domain modules take, and the handles the engine owns.
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

#include <mesura/mesura.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "base/err.h"
#include "base/log.h"
#include "model/model.h"
#include "recommend/recommend.h"
#include "subject/subject.h"

/* A request context: fills c with borrowed handles and a reference to the
 * current policy snapshot. Pair every mes_engine_ctx with mes_engine_ctx_done. */
void mes_engine_ctx(struct mes_engine *e, struct mes_ctx *c, const char *actor, bool gpc);
void mes_engine_ctx_done(struct mes_engine *e, struct mes_ctx *c);

struct mes_store *mes_engine_store(struct mes_engine *e);
/* The recommender (recommend.h) serving this engine: borrowed, lives as
 * long as e. Request contexts carry the engine's catalog index (ctx.catalog). */
struct mes_recommender *mes_engine_recommender(struct mes_engine *e);

/* The cache of active shoppers' decoded histories (ingest/histcache.h) that
 * request contexts carry (ctx.hcache): borrowed, lives as long as e. For its
 * counters (mes_histcache_stats) and for erasure (mes_histcache_forget). */
struct mes_histcache *mes_engine_histcache(struct mes_engine *e);
/* Ingestion's pseudonym -> subject row hints (subject/subjmap.h). */
struct mes_subjmap *mes_engine_subjmap(struct mes_engine *e);

/* The live model: a new reference (release with mes_model_unref), or NULL
 * while none was trained. Cheap (a mutex around a pointer and a reference
 * count): call it once per request and use that model for the whole request,
 * even if a newer one is swapped in meanwhile. */
struct mes_model *mes_engine_model(struct mes_engine *e);
/* The training parameters policy p asks for (model.kind, max_memory_mb,
 * relation_half_life_days, ease_lambda and neighbors over the model's
 * defaults): what mes_engine_train trains with. */
void mes_engine_train_params(const struct mes_policy *p, struct mes_model_params *mp);
/* The instance's Ed25519 receipt-signing public key (contract §5). */
void mes_engine_sign_public_key(struct mes_engine *e, uint8_t pk[32]);
const char *mes_engine_dir(struct mes_engine *e);

/* A token for subject row sid (auth/auth.h, mes_auth_subject_token): ttl_s
 * seconds; token_out >= 64 bytes; stored before returning. The public verb is
 * mes_engine_token_create, which takes the subject's id. */
int mes_engine_subject_token(struct mes_engine *e, int64_t sid, int ttl_s, char token_out[64], int64_t *expires_ms,
                             struct mes_err *err);
/* Revokes every token of subject row sid (mes_auth_subject_revoke); *n gets
 * how many were active. The public verb is mes_engine_tokens_revoke. */
int mes_engine_subject_tokens_revoke(struct mes_engine *e, int64_t sid, int64_t *n, struct mes_err *err);
/* Forgets the cached answers about keys and tokens (mes_auth_forget_cached):
 * after an erasure deleted a subject's tokens with their rows. */
void mes_engine_auth_forget_cached(struct mes_engine *e);

#endif
