/*
 * engine — the module face of the mes_engine handle, for the library's own
 * tests, benchmarks and fuzzers. Programs use the public verbs of
 * include/mesura/mesura.h (opening, closing and every use case); this header
 * adds what only code inside libmesura may touch: the requests (struct
 * mes_req, policy/policy.h) the domain functions take, the handles the
 * engine owns and makes them with, and forgetting a subject.
 *
 * Data directory layout:
 *   mesura.yaml   the brand's policy (reloaded by mes_engine_reload)
 *   master.key    32 random bytes (64 after a rotation), mode 0600
 *   master.key.new  only while `mesura keys rotate-master` runs or after it
 *                 was killed (subject/rotate.h)
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
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "model/model.h"
#include "recommend/recommend.h"
#include "rights/rights.h"
#include "subject/subject.h"

/* A request: fills *r with a reference to the current policy snapshot, the
 * clock, actor (borrowed) and gpc. Nothing is allocated. Pair every
 * mes_engine_req with mes_engine_req_done. */
void mes_engine_req(struct mes_engine *e, struct mes_req *r, const char *actor, bool gpc);
void mes_engine_req_done(struct mes_engine *e, struct mes_req *r);

/* The handles the engine made at open, each with what it uses; borrowed,
 * they live as long as e. The domain functions take them with a request. */
struct mes_store *mes_engine_store(struct mes_engine *e);
struct mes_subjects *mes_engine_subjects(struct mes_engine *e);     /* subject/subject.h, subjmap.h */
struct mes_ledger *mes_engine_ledger(struct mes_engine *e);         /* consent/consent.h */
struct mes_ingester *mes_engine_ingester(struct mes_engine *e);     /* ingest/ingest.h (the history cache) */
struct mes_catalog *mes_engine_catalog(struct mes_engine *e);       /* catalog/catalog.h (the index) */
struct mes_rights *mes_engine_rights(struct mes_engine *e);         /* rights/rights.h */
struct mes_audit *mes_engine_audit(struct mes_engine *e);           /* audit/audit.h */
struct mes_recommender *mes_engine_recommender(struct mes_engine *e); /* recommend/recommend.h */

/* The retention sweep the background thread runs every minute: events past
 * their type's retention, decision records, impressions, access log entries
 * and expired tokens, at now_ms (0: the wall clock). Failures are logged.
 * Slow: never on a request thread. */
void mes_engine_sweep(struct mes_engine *e, int64_t now_ms);

/* Forgets subject s (resolved: s->pn and s->row.id) in every owner that
 * holds something of it in memory, so that nothing cached answers for it
 * any more and its next use reads the store: the subject registry (its key
 * in the key cache, its row in ingestion's hints), the ingester (its
 * decoded events and impressions in the history cache, wiped), the
 * recommender (its decision records and impressions still queued, dropped,
 * after waiting for a batch being written) and auth (its dashboard tokens,
 * which then answer unauthorized). Stored rows and the stored key stay:
 * erasure deletes them after this call. */
void mes_engine_forget_subject(struct mes_engine *e, const struct mes_subject *s);

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

/* A token of `use` for subject row sid (auth/auth.h, mes_auth_subject_token):
 * ttl_s seconds; token_out >= 64 bytes; stored before returning. The public
 * verb is mes_engine_token_create, which takes the subject's id. */
int mes_engine_subject_token(struct mes_engine *e, int64_t sid, enum mes_token_use use, int ttl_s, char token_out[64],
                             int64_t *expires_ms, struct mes_err *err);
/* Revokes every token of subject row sid (mes_auth_subject_revoke); *n gets
 * how many were active. The public verb is mes_engine_tokens_revoke. */
int mes_engine_subject_tokens_revoke(struct mes_engine *e, int64_t sid, int64_t *n, struct mes_err *err);
/* Forgets the cached answers about keys and tokens (mes_auth_forget_cached):
 * after an erasure deleted a subject's tokens with their rows. */
void mes_engine_auth_forget_cached(struct mes_engine *e);

#endif
