/*
 * mesura — the public face of libmesura: one handle (struct mes_engine) over
 * a data directory, and one verb per use case of the contract
 * (../shared/CONTRACT.md). The `mesura` program (its command line and its
 * HTTP server) is a client of this header alone, as the sqlite3 shell is of
 * sqlite3.h; anything else that embeds mesura uses the same verbs.
 *
 * Conventions, for every verb below:
 *   - The engine comes first. Every verb may be called from any thread once
 *     the engine is open; per-request state (the policy snapshot the request
 *     keeps to its end, the live model it started with, the subject's key)
 *     is taken and released inside the verb.
 *   - Subjects and items are named by their public ids (bytes plus length,
 *     not necessarily NUL-terminated; checked by the id rule: 1 to 128 bytes
 *     of UTF-8 without control characters).
 *   - Request documents come as struct mes_body (JSON text as received, or a
 *     jansson document already built) and are checked by the verb against
 *     the endpoint's field table; the errors are the contract's
 *     (unknown_field, missing_field, ... with a JSON pointer in err->field).
 *   - Results are JSON documents (json_t, a new reference the caller
 *     json_decref's) in the contract's shapes, except where a typed outcome
 *     is given for a host's counters.
 *   - Return 0 (MES_OK) or a MES_E* code of mesura/error.h, with err (may be
 *     NULL) filled; on failure every out pointer is NULL.
 */
#ifndef MESURA_H
#define MESURA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mesura/error.h>
#include <mesura/log.h>
#include <mesura/version.h>

#define MES_BATCH_MAX 10000         /* events of one ingest, items of one catalog batch */
#define MES_RECOMMEND_COUNT_MAX 100 /* items of one answer */
#define MES_RECOMMEND_RULES_MAX 16  /* guardrail rules one outcome can name */

/* ================================================================ callers */

/* API key scopes (contract §2). */
enum mes_scope {
  MES_SCOPE_INGEST = 1u << 0,
  MES_SCOPE_CONSENT = 1u << 1,
  MES_SCOPE_CATALOG = 1u << 2,
  MES_SCOPE_RECOMMEND = 1u << 3,
  MES_SCOPE_SUBJECTS = 1u << 4,
  MES_SCOPE_AUDIT = 1u << 5,
  MES_SCOPE_ADMIN = 1u << 6,
};
#define MES_SCOPE_ALL 0x7Fu

/* Parses "ingest,consent" into a mask; MES_EINVALID_VALUE on an unknown name. */
int mes_scope_parse(const char *list, uint32_t *mask, struct mes_err *err);
/* Writes "ingest,consent" for a mask into out (cap bytes). */
void mes_scope_format(uint32_t mask, char *out, size_t cap);
/* True when a principal with `have` may act with `need` (admin covers all but
 * reading the attribute vault, which callers check separately). */
bool mes_scope_allows(uint32_t have, uint32_t need);

/* What a subject's token is for (stored with it). A dashboard token opens
 * the person's own rights pages (scopes subjects and consent); a browser
 * token, minted by the brand's backend for the browser SDK, records the
 * person's own consents and preferences, sends their own events and asks
 * for their own recommendations (scopes consent, ingest and recommend), and
 * opens nothing else: no export, erasure or access log, which a page's
 * script must never reach. */
enum mes_token_use { MES_TOKEN_DASHBOARD = 0, MES_TOKEN_BROWSER = 1 };

/* Who is calling: an API key, or a subject's own short-lived token. */
struct mes_principal {
  char name[65]; /* key name, or "subject-token" / "browser-token" */
  uint32_t scopes; /* a token's: what its use allows (enum mes_token_use) */
  bool subject_token;
  enum mes_token_use use; /* for subject tokens */
  int64_t sid; /* for subject tokens: the engine's number of the only subject it may act on */
};

/*
 * One call of a verb on behalf of someone: the request's own facts. Zero it,
 * set what applies, pass it by pointer; the verb fills `pseudonym`.
 */
struct mes_call {
  /* Who asks (borrowed). A subject token acts only on its own subject: any
   * other is MES_EFORBIDDEN, whether or not it exists. NULL: the host
   * program itself (the command line, a tool), trusted with everything. */
  const struct mes_principal *who;
  /* The name decision records and consent receipts give the actor
   * (borrowed); NULL: who's name, else "public". */
  const char *actor;
  /* The request's Accept-Language (borrowed; NULL: English): texts come in
   * the best of the policy's languages. */
  const char *accept_language;
  bool gpc;       /* the request carried Sec-GPC: 1 */
  int64_t now_ms; /* the request's clock, epoch ms; 0: the wall clock (another: an offline replay) */
  /* Out: the pseudonym (16 hex digits) of the subject the call acted on,
   * for access logs, which must never see the id; "" when none. */
  char pseudonym[17];
};

/* A request document: JSON text as received (text, len; text need not be
 * NUL-terminated), or a document already built (json, borrowed), which wins
 * when set. A NULL struct mes_body, or one with neither, is "no body". */
struct mes_body {
  const char *text;
  size_t len;
  const json_t *json;
};

/* The language ("en", "es", "pl") to word an error in for a request carrying
 * this Accept-Language (NULL: "en"), among every language mesura writes:
 * errors are read by a brand's developers as much as by its shoppers.
 * Static string. Use with mes_rc_message_in. */
const char *mes_engine_error_lang(const char *accept_language);

/* ================================================================ lifecycle */

struct mes_engine;

struct mes_engine_opts {
  const char *dir;    /* data directory (borrowed for the call) */
  struct mes_log log; /* copied */
};

/* Creates DIR (or uses it if empty) with a commented mesura.yaml, an empty
 * database and a fresh master key (0600). MES_ENOT_EMPTY when DIR has files. */
int mes_engine_init_dir(const char *dir, struct mes_err *err);

/* Opens a data directory made by mes_engine_init_dir. *out is new (close with
 * mes_engine_close). MES_ECRYPTO, naming the file, when master.key,
 * mesura.db and keys.db do not belong together; MES_EBAD_POLICY for a
 * mesura.yaml that is not valid, or that moved or removed a purpose or an
 * event type the stored data refers to. */
int mes_engine_open(const struct mes_engine_opts *o, struct mes_engine **out, struct mes_err *err);
/* Writes what is queued and closes (stopping the background thread first,
 * when started). NULL-safe. */
void mes_engine_close(struct mes_engine *e);

/* Starts the background thread that a long-running host needs: the
 * retention sweep at once and then every 60 s; a newer stored model (one
 * `mesura train` saved from another process) and catalog changes made
 * elsewhere picked up within a second; retraining on the policy's
 * model.retrain_every_minutes and after enough new events. Call once, from
 * the thread that owns e (a second call is a no-op); it blocks every signal
 * in the new thread. MES_EUNAVAILABLE when no thread can start. */
int mes_engine_start_background(struct mes_engine *e, struct mes_err *err);

/* Re-reads mesura.yaml; a bad file is refused (err says where) and the old
 * policy stays. Requests under way finish with the policy they started with. */
int mes_engine_reload(struct mes_engine *e, struct mes_err *err);

/* The sink the engine was opened with. Borrowed, lives as long as e. */
const struct mes_log *mes_engine_log(struct mes_engine *e);

/* The policy's serving.header_timeout_s and serving.body_timeout_s, as now
 * in force (they change on reload). */
void mes_engine_timeouts(struct mes_engine *e, int *header_s, int *body_s);

/* True when origin (len bytes: an Origin header's value) is one of the
 * policy's cors.allowed_origins as now in force (they change on reload). */
bool mes_engine_cors_allowed(struct mes_engine *e, const char *origin, size_t len);

/* MES_OK when the store takes writes; MES_ESTORAGE_FULL while it refuses
 * them for a full disk (a store that lost a group commit to it refuses until
 * reopened). Takes the store's write lock for a moment: ask only after a
 * write was refused so. */
int mes_engine_writable(struct mes_engine *e);

/* ================================================================ keys and tokens */

/* Looks a bearer secret (len bytes, borrowed) up: an API key by hash
 * (constant-time), or a subject token. Keys created or revoked by another
 * process are seen within a second. MES_EUNAUTHORIZED when unknown or
 * revoked, MES_ETOKEN_EXPIRED for a subject token past its expiry,
 * MES_EUNAVAILABLE when the store failed. */
int mes_engine_authenticate(struct mes_engine *e, const char *bearer, size_t len, struct mes_principal *out);

/* Creates a key `name` (1 to 64 of letters, digits, '-', '_', '.') with
 * `scopes`, durable on return. key_out receives the secret, to be shown once
 * (only its hash is stored). MES_EINVALID_VALUE for a bad name, MES_EEXISTS
 * when the name is taken. */
int mes_engine_key_create(struct mes_engine *e, const char *name, uint32_t scopes, char key_out[64],
                          struct mes_err *err);
/* Revokes the key `name`: refused at once by e, by other processes within a
 * second. Revoking a revoked key again succeeds and keeps the time of its
 * first revocation. MES_ENOT_FOUND when no key has that name. */
int mes_engine_key_revoke(struct mes_engine *e, const char *name, struct mes_err *err);

/* One key as listed (every member borrowed for the callback only). */
struct mes_key_info {
  const char *name;
  uint32_t scopes;
  int64_t created_ms;
  int64_t revoked_ms; /* 0 while active */
};
/* Calls cb for every key, oldest first; a nonzero return stops the list and
 * is returned. */
int mes_engine_key_list(struct mes_engine *e, int (*cb)(void *ud, const struct mes_key_info *k), void *ud,
                        struct mes_err *err);

/* GET /v1/admin/keys: every key, oldest first, never a secret. *out is new:
 * {"keys": [{"name", "scopes": [names], "created_at", "revoked_at" (null
 * while active), "active", "yours" (the key making the call)}]}. When a key
 * was last used is not recorded. */
int mes_engine_admin_keys(struct mes_engine *e, struct mes_call *call, json_t **out, struct mes_err *err);
/* POST /v1/admin/keys {"name", "scopes": [names]}: creates a key as
 * mes_engine_key_create. *out is new: {"name", "scopes", "key" (the secret,
 * shown this once), "created_at"}. Errors: the body's, invalid_value (a bad
 * name, an unknown scope, no scope), already_exists. */
int mes_engine_admin_key_create(struct mes_engine *e, struct mes_call *call, const struct mes_body *body,
                                json_t **out, struct mes_err *err);
/* DELETE /v1/admin/keys/{name}: revokes a key as mes_engine_key_revoke,
 * except the one making the call (MES_ECONFLICT: a console would lock
 * itself out). A key revoked already stays as it was (MES_OK: the first
 * revocation's time stands). Errors: not_found (no key has the name),
 * conflict. */
int mes_engine_admin_key_revoke(struct mes_engine *e, struct mes_call *call, const char *name, size_t len,
                                struct mes_err *err);

/* POST /v1/subjects/{s}/tokens: a token for the subject alone (contract
 * §7), valid ttl_s seconds (0: the policy's rights.token_minutes). `body`
 * is empty, {} or {"use": "dashboard"|"browser"} (enum mes_token_use; the
 * default is dashboard). The subject is created when unknown, so that
 * someone never seen before can still open the dashboard and choose, or
 * consent in the browser. token_out (wipe it after use) and *expires_ms
 * receive the token and its expiry. */
int mes_engine_token_create(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            const struct mes_body *body, int ttl_s, char token_out[64], int64_t *expires_ms,
                            struct mes_err *err);
/* DELETE /v1/subjects/{s} (contract §7): erases the subject from this node.
 * Their key is destroyed first (their sealed data in every copy of the data
 * file becomes unreadable), then every row keyed by them (events, consents,
 * tokens, preferences, impressions, decision records) and every in-memory
 * copy; their tokens stop working. *receipt is new: the signed erasure
 * receipt (no personal data: the short pseudonym, the time, counts per class
 * of data removed, and what became of the person's contribution to the
 * model). Errors: not_found (unknown, or erased already), forbidden. */
int mes_engine_subject_erase(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                             json_t **receipt, struct mes_err *err);

/* PUT /v1/subjects/{s}/restriction {"restricted": true|false} (contract §7):
 * while restricted, the person's data is kept (readable, exportable,
 * erasable) and nothing processes it: no event is stored (each counted in
 * not_stored.restricted), answers are non-personal, training and audits
 * leave the person out. Lifting it restores personalization. *out is new:
 * {"restricted": bool, "changed": bool}. Errors: the body's (a missing or
 * non-boolean "restricted", any other member), not_found, forbidden. */
int mes_engine_restriction_set(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                               const struct mes_body *body, json_t **out, struct mes_err *err);

/* DELETE /v1/subjects/{s}/tokens: revokes every token of the subject (its
 * own token included, when that is the caller); *revoked gets how many were
 * active. Tokens are stored as hashes: they work on every server sharing the
 * store and across restarts until they expire or are revoked. Errors:
 * not_found (unknown subject), forbidden (another subject's token). */
int mes_engine_tokens_revoke(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                             int64_t *revoked, struct mes_err *err);

/* ================================================================ anonymous visitors (§4 anonymous_id) */

/* PUT /v1/visitors/{a}/consents/{purpose} and GET /v1/visitors/{a}/consents:
 * an anonymous visitor's own consents (a cookie or device id, before they
 * log in), as mes_engine_consent_put and mes_engine_consents_get are a
 * subject's; receipts carry "anonymous": true. Only under such a grant are
 * the visitor's events (sent with "anonymous_id") stored. */
int mes_engine_visitor_consent_put(struct mes_engine *e, struct mes_call *call, const char *anonymous_id,
                                   size_t id_len, const char *purpose, size_t purpose_len,
                                   const struct mes_body *body, json_t **receipt, struct mes_err *err);
int mes_engine_visitor_consents_get(struct mes_engine *e, struct mes_call *call, const char *anonymous_id,
                                    size_t id_len, json_t **out, struct mes_err *err);
/* POST /v1/visitors/{a}/tokens: a browser token (MES_TOKEN_BROWSER) bound
 * to the anonymous visitor, as mes_engine_token_create; `body` is empty, {}
 * or {"use": "browser"}. The visitor is created when unknown. */
int mes_engine_visitor_token_create(struct mes_engine *e, struct mes_call *call, const char *anonymous_id,
                                    size_t id_len, const struct mes_body *body, int ttl_s, char token_out[64],
                                    int64_t *expires_ms, struct mes_err *err);
/* POST /v1/subjects/{s}/link {"anonymous_id": id}: the visitor logged in as
 * subject s. Each of the visitor's stored events that s's own consent
 * allows moves under s's key; everything else of the visitor (other events,
 * consents, tokens, preferences) is deleted and their key destroyed, in
 * one transaction; the visitor's grants are not carried over. *out is new:
 * {"moved", "already_held", "dropped", "removed": {"events", "consents",
 * "tokens", "preferences"}} (all 0 when nothing was held of the visitor).
 * Errors: the body's, forbidden. */
int mes_engine_visitor_link(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            const struct mes_body *body, json_t **out, struct mes_err *err);

/* ================================================================ consent and preferences */

/* PUT /v1/subjects/{s}/consents/{purpose} (contract §5): records a grant or
 * a withdrawal (a withdrawal purges what only that purpose allowed);
 * *receipt gets the signed receipt. An unknown subject is created. */
int mes_engine_consent_put(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                           const char *purpose, size_t purpose_len, const struct mes_body *body, json_t **receipt,
                           struct mes_err *err);
/* GET /v1/subjects/{s}/consents: {"purposes", "history"} (nothing granted
 * for an unknown subject). */
int mes_engine_consents_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            json_t **out, struct mes_err *err);
/* GET /v1/receipts/public-key: {"alg": "Ed25519", "public_key": base64},
 * the key that checks the receipts' signatures. */
int mes_engine_receipt_key(struct mes_engine *e, json_t **out, struct mes_err *err);

/* PUT, PATCH and GET /v1/subjects/{s}/preferences: each answers the stored
 * preferences. PATCH changes only what it names (add, remove) and dismisses
 * the items of its "dismiss". GET answers the empty document for an unknown
 * subject. */
int mes_engine_prefs_put(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                         const struct mes_body *body, json_t **out, struct mes_err *err);
int mes_engine_prefs_patch(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                           const struct mes_body *body, json_t **out, struct mes_err *err);
int mes_engine_prefs_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                         json_t **out, struct mes_err *err);

/* ================================================================ events */

/* What one ingest did, for a host's counters: the reply's counts. */
struct mes_ingest_outcome {
  size_t stored, no_consent, third_party, restricted, expired;
  size_t invalid;            /* events refused for their own content (also on failure: a lone event refused) */
  size_t dropped_properties; /* undeclared properties left out */
  uint64_t ticket;           /* see mes_engine_events_ingest's `wait` */
};

/* POST /v1/events (contract §4): one event, or {"events": [...]} (at most
 * MES_BATCH_MAX). An event is kept only when its subject granted a purpose
 * its type serves. *reply: {"accepted", "stored", "not_stored": {...},
 * "dropped_properties", "errors": [...]}.
 * With wait, the events are durable on return. Without it, oc->ticket (0:
 * nothing written) must be waited for (mes_engine_on_durable,
 * mes_engine_wait_durable) before *reply is shown to anyone: a server holds
 * the reply without holding a thread. oc may be NULL. */
int mes_engine_events_ingest(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, bool wait,
                             json_t **reply, struct mes_ingest_outcome *oc, struct mes_err *err);

/* Calls cb(ud, rc) exactly once, from the store's commit thread, when
 * `ticket` is durable (rc MES_OK) or never will be (MES_ESTORE, or
 * MES_ESTORAGE_FULL for a full disk); at once when it already is. cb must be
 * quick and must not call the engine. MES_EINTERNAL or MES_ENOMEM (and no
 * call) when it cannot be registered: wait with mes_engine_wait_durable. */
int mes_engine_on_durable(struct mes_engine *e, uint64_t ticket, void (*cb)(void *ud, int rc), void *ud);
/* Blocks until `ticket` is durable: MES_OK, or why it never will be. */
int mes_engine_wait_durable(struct mes_engine *e, uint64_t ticket);

/* DELETE /v1/subjects/{s}/events/{event_id} (contract §7): forgets one event
 * (its event_id, or the "ev_N" form an export shows for one sent without),
 * and the live model forgets it too, at once and exactly (or is retrained
 * without it when it cannot). *model (may be NULL) is new: what became of
 * the event in the model, as in an erasure receipt. MES_ENOT_FOUND for an
 * unknown subject or event. Durable on return. */
int mes_engine_event_forget(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                            const char *event_id, size_t event_id_len, json_t **model, struct mes_err *err);

/* ================================================================ catalog */

/* PUT /v1/items/{item} (contract §3): creates or replaces an item; *out gets
 * it as stored. */
int mes_engine_item_put(struct mes_engine *e, struct mes_call *call, const char *item, size_t item_len,
                        const struct mes_body *body, json_t **out, struct mes_err *err);
/* POST /v1/items: {"items": [...]} (at most MES_BATCH_MAX) upserted at once;
 * *out: {"upserted", "errors": [...]}. */
int mes_engine_items_post(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, json_t **out,
                          struct mes_err *err);
/* GET /v1/items/{item}. MES_ENOT_FOUND. */
int mes_engine_item_get(struct mes_engine *e, struct mes_call *call, const char *item, size_t item_len, json_t **out,
                        struct mes_err *err);
/* DELETE /v1/items/{item}. MES_ENOT_FOUND. */
int mes_engine_item_delete(struct mes_engine *e, struct mes_call *call, const char *item, size_t item_len,
                           struct mes_err *err);
/* GET /v1/items?limit=&cursor=: one page, {"items", "next_cursor"}. limit and
 * cursor are the query's values as received (NULL: absent; limit defaults
 * to 100, at most 1000). */
int mes_engine_items_list(struct mes_engine *e, struct mes_call *call, const char *limit, const char *cursor,
                          json_t **out, struct mes_err *err);
/* Items in the catalog (-1 when the store failed). */
int64_t mes_engine_item_count(struct mes_engine *e);

/* ================================================================ recommendations */

/* What one answer did, for a host's counters. Rule names are static strings. */
struct mes_recommend_outcome {
  bool personalized;
  size_t n_items;
  size_t n_rules;
  struct {
    const char *rule;
    unsigned n; /* candidates it suppressed */
  } by_rule[MES_RECOMMEND_RULES_MAX];
};

/* POST /v1/recommendations (contract §6): every member of the body is
 * optional (no body asks for the defaults). The answer comes as the JSON
 * text sent to the client, *text new (free), NUL-terminated, *len bytes:
 * {"request_id", "personalized", "items": [{"item", "score", "reason"}...]}.
 * Each request keeps the model it started with to its end. oc may be NULL. */
int mes_engine_recommend(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, char **text,
                         size_t *len, struct mes_recommend_outcome *oc, struct mes_err *err);
/* GET /v1/recommendations/{request_id}: the decision record; "suppressed"
 * (it names what the person bought or dismissed) only for the host, admin
 * and audit keys. MES_ENOT_FOUND. */
int mes_engine_decision_get(struct mes_engine *e, struct mes_call *call, const char *request_id, size_t len,
                            json_t **out, struct mes_err *err);
/* GET /v1/subjects/{s}/why?item=&channel=: why an item is (or is not)
 * suggested to the subject, the data used, and what they can do about it.
 * item and channel are the query's values as received (NULL: absent; item
 * is required, channel defaults to web). MES_ENOT_FOUND for an unknown
 * subject. */
int mes_engine_why(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                   const char *item, const char *channel, json_t **out, struct mes_err *err);

/* ================================================================ the subject's rights */

/* GET /v1/subjects/{s}: the profile summary. MES_ENOT_FOUND when unknown. */
int mes_engine_subject_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                           json_t **out, struct mes_err *err);
/* GET /v1/subjects/{s}/export: everything held about the subject, the
 * answers given out before the call included. MES_ENOT_FOUND when unknown. */
int mes_engine_export(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                      json_t **out, struct mes_err *err);

/* GET /v1/subjects/{s}/access-log: every read of the subject's personal
 * data, oldest first. *out is new: {"entries": [{at, reader, purpose,
 * action, text}]}, reader the key's name or "you" for the person's own
 * token, text worded in the call's language. MES_ENOT_FOUND when unknown. */
int mes_engine_access_log(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                          json_t **out, struct mes_err *err);
/* `mesura verify-log`: checks every access log's chain against its head.
 * *intact tells the verdict; otherwise subject (the row id, a number, no
 * personal data), entry (1-based) and problem (a static sentence) name the
 * first broken entry. *n_logs and *n_entries count what was checked. */
struct mes_access_verdict {
  bool intact;
  int64_t n_logs, n_entries;
  int64_t subject, entry;
  const char *problem;
};
int mes_engine_access_verify(struct mes_engine *e, struct mes_access_verdict *out, struct mes_err *err);
/* `mesura incident`: calls cb for each subject whose data the key named
 * key_name read at or after since_ms: pseudonym (16 hex digits) and, with
 * reveal, id (the subject id, id_len bytes; NULL when none was kept). cb
 * returns nonzero to stop. Only a process holding the master key can
 * reveal: the ids are sealed under each subject's key. */
typedef int (*mes_incident_cb)(void *ud, const char *pseudonym, const char *id, size_t id_len);
int mes_engine_incident(struct mes_engine *e, const char *key_name, int64_t since_ms, bool reveal, mes_incident_cb cb,
                        void *ud, struct mes_err *err);

/* A data-subject right the host serves (contract §7), and the request that
 * serves it. Every member borrowed. */
struct mes_notice_right {
  const char *right;  /* "see", "export", "correct", "restrict", "erase", "access_log", "withdraw_consent" */
  const char *method; /* "GET", ... */
  const char *path;   /* "/v1/subjects/{s}/export" */
};
/* GET /v1/privacy-notice (contract §9), generated from the policy in the
 * call's language (*lang: its name, static), promising exactly the rights in
 * served[0..n_served) (an unknown name is left out). As JSON (*json new) or,
 * with html, as a whole page (*html new, free). */
int mes_engine_privacy_notice(struct mes_engine *e, struct mes_call *call, const struct mes_notice_right *served,
                              size_t n_served, bool html, json_t **json, char **html_out, const char **lang,
                              struct mes_err *err);
/* GET /.well-known/gpc.json: {"gpc": true, "lastUpdate": the date the policy
 * file last changed}. */
int mes_engine_gpc(struct mes_engine *e, json_t **out, struct mes_err *err);

/* ================================================================ audits (contract §8) */

/* PUT /v1/audit/subjects/{s}/attributes: records the person's attributes for
 * fairness audits (an object of names to string values; it replaces what was
 * recorded), sealed with their key, readable only by audit keys and their
 * own export. *out is new: {"attributes", "protected": [names the policy
 * protects]}. Errors: audit_not_enabled (no purpose `audit` in the policy),
 * no_consent (the person has not granted it, or is unknown), the body's. */
int mes_engine_audit_attrs_put(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                               const struct mes_body *body, json_t **out, struct mes_err *err);
/* GET: as PUT answers. Only the host and keys with the audit scope may read
 * the vault: admin alone is forbidden. Errors: not_found (nothing recorded,
 * or an unknown subject), forbidden. */
int mes_engine_audit_attrs_get(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                               json_t **out, struct mes_err *err);
/* DELETE: forgets the person's attributes. Errors: not_found. */
int mes_engine_audit_attrs_delete(struct mes_engine *e, struct mes_call *call, const char *subject,
                                  size_t subject_len, struct mes_err *err);
/* POST /v1/audits {"attributes": [...], "placement", "channel", "count",
 * "resamples", "seed", "source" ("replay" | "served"), "window_days"}: runs
 * an audit over the people who agreed to audits and stores it. *out is new: the finished audit with its "id" (see
 * src/lib/audit/run.c for what it holds), *running false. In a server (once
 * mes_engine_start_background has run) an audit of more people than the
 * policy's audit.sync_max_subjects runs in the background instead: *out is
 * its record {"id", "status": "running", ...}, *running true, and
 * mes_engine_audit_get shows it "done" or "failed" later. Errors, with
 * nothing stored: the body's, audit_not_enabled, invalid_value (an
 * attribute nobody audited has, a placement the policy's audit.placements
 * lacks), groups_too_small, conflict (too many audits running). */
int mes_engine_audit_run(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, json_t **out,
                         bool *running, struct mes_err *err);
/* GET /v1/audits/{id}: a stored audit. MES_ENOT_FOUND. */
int mes_engine_audit_get(struct mes_engine *e, struct mes_call *call, const char *id, size_t id_len, json_t **out,
                         struct mes_err *err);
/* GET /v1/audits/{id}/report.html: the audit as a self-contained page in
 * the call's language; *html new (free), *len bytes. MES_ENOT_FOUND. */
int mes_engine_audit_report(struct mes_engine *e, struct mes_call *call, const char *id, size_t id_len, char **html,
                            size_t *len, struct mes_err *err);
/* The newest audit's lowest disparity ratio per attribute, for /metrics:
 * *out new, {attribute: ratio}; {} when no audit was run. */
int mes_engine_audit_ratios(struct mes_engine *e, json_t **out, struct mes_err *err);
/* GET /v1/audits?limit=: the newest audits (limit as received, NULL: 20,
 * at most 100), newest first, any status. *out is new: {"audits": [{"id",
 * "status", "created_at", "attributes", "placement", "audited", "flags":
 * {"disparities", "proxies"} (counts, null while running), "flagged": [what
 * was flagged: {"kind": "disparity", "attribute", "measure", "ratio"} or
 * {"kind": "proxy", "attribute", "protected", "cramers_v"}]}]}. Errors:
 * wrong_type, out_of_range (/query/limit). */
int mes_engine_audit_list(struct mes_engine *e, struct mes_call *call, const char *limit, json_t **out,
                          struct mes_err *err);

/* ================================================================ model */

struct mes_train_opts {
  int64_t now_ms; /* the training's clock (time decay); 0: the wall clock */
  bool make_live; /* serve the model from e at once (the model built, which can unlearn; saved too) */
};
/* Trains a model from the stored events (only those of people who grant
 * personalization) with the policy's model settings and saves it as the
 * newest; a server on the same directory makes it live within a second.
 * Slow: never on a request thread. o may be NULL (the defaults). *meta (may
 * be NULL) gets its metadata: {"id", "kind", "items", "ease_items",
 * "events", "subjects", "events_read", "data_from", "data_to", "train_ms",
 * "memory_bytes", ...}. */
int mes_engine_train(struct mes_engine *e, const struct mes_train_opts *o, json_t **meta, struct mes_err *err);

/* ================================================================ operations */

/* Figures for a host's monitoring (GET /metrics): all cheap to read. */
struct mes_engine_stats {
  int64_t model_id; /* the live model's store id; 0: none */
  size_t model_items, model_memory_bytes;
  size_t decision_queue_entries, decision_queue_bytes; /* records and impressions waiting to be written */
  size_t decision_records_dropped;                      /* because the writer fell behind */
  struct mes_history_cache_stats {
    uint64_t hits, misses, stale;                                   /* reads of histories */
    uint64_t shown_hits, shown_misses, shown_stale, shown_appended; /* reads of what was shown */
    uint64_t evictions, entries, bytes, max_bytes;
  } history_cache;
  struct mes_subject_map_stats {
    uint64_t hits, misses;
    size_t entries, max_entries;
  } subject_map;
};
void mes_engine_stats(struct mes_engine *e, struct mes_engine_stats *out);

/* GET /v1/admin/overview?days=: what the brand's console charts. days as
 * received (NULL: 30; 1 to 365). *out is new: {"generated_at", "consents":
 * {"days", "dates": ["YYYY-MM-DD"...] (UTC, oldest first, today last),
 * "purposes": [{"purpose", "granted": [n per date], "withdrawn": [...]}]}
 * (the standing ledger: an erased person's entries left with them),
 * "model": {"live" (the model's metadata, null while none), "background"
 * (this host retrains on a schedule), "retrain_every_minutes",
 * "retrain_after_events_pct", "next_retrain_at" (null when no schedule
 * applies)}, "policy": {"version", "site", "yaml" (the file's text as
 * loaded: what is in force)}}. Errors: wrong_type, out_of_range
 * (/query/days). */
int mes_engine_admin_overview(struct mes_engine *e, struct mes_call *call, const char *days, json_t **out,
                              struct mes_err *err);

/* A consistent online copy of mesura.db into `path` (subject keys excluded,
 * by design: see README). */
int mes_engine_backup(struct mes_engine *e, const char *path, struct mes_err *err);

/* `mesura restore`: brings a backup back into data directory dir (borrowed,
 * like the paths): file (made by mes_engine_backup) becomes its mesura.db,
 * and keys_file (may be NULL: keys.db stays) its keys.db, each replaced
 * atomically. Refused, with nothing changed, while a server or command has
 * dir open (MES_ECONFLICT), when a file is not of its kind (MES_EBAD_INPUT)
 * and when the files were not made with dir's master key (MES_ECRYPTO). The
 * directory's erasure journal is replayed onto the restored files, so that
 * nobody erased since the backup comes back: *n_erased (may be NULL) gets
 * how many people it removed again. Takes no engine: none may be open on
 * dir. */
int mes_engine_restore(const char *dir, const char *file, const char *keys_file, int64_t *n_erased,
                       struct mes_err *err);

/* `mesura keys rotate-master`: re-wraps every subject key of data directory
 * dir (borrowed) under a new master key, which replaces dir/master.key; the
 * old one then opens nothing there (its copies of keys.db excepted).
 * Pseudonyms, event-id hashes and the receipt-signing key stay as they were.
 * Crash-safe: killed at any point, dir opens with the old key or the new
 * one (an interrupted rotation is finished or undone by the next open).
 * Refused, with nothing changed, while a server or command has dir open
 * (MES_ECONFLICT, with a message that says to stop it). *n_keys (may be
 * NULL) gets how many keys were re-wrapped. Takes no engine. */
int mes_engine_rotate_master(const char *dir, int64_t *n_keys, struct mes_err *err);

/* `mesura import`: what one import did. */
struct mes_import_counts {
  int64_t lines;             /* lines read (blank lines included) */
  int64_t items;             /* items upserted */
  int64_t events;            /* events accepted (valid) */
  int64_t events_stored;
  int64_t events_not_stored; /* valid, but kept out by a gate (consent, third party, ...) */
  int64_t no_consent;        /* of which: no granted purpose */
  int64_t consents;          /* consent receipts recorded */
  int64_t bad_lines;
};

struct mes_import_opts {
  bool csv; /* the input is a CSV event file (else JSON Lines) */
  /* Called for every bad line, with its 1-based number and why. May be NULL. */
  void (*bad_line)(void *ud, int64_t line_no, const struct mes_err *why);
  /* Called every 100,000 lines. May be NULL. */
  void (*progress)(void *ud, const struct mes_import_counts *so_far);
  void *ud;
};

/* Bulk-loads a stream (borrowed; read to its end) of JSON Lines (items,
 * events, consents) or CSV events through the API's rules, in file order
 * (an event is gated by the consents above it). Bad lines are reported and
 * skipped. MES_OK once the stream is read, or the store's error (what was
 * written before it stays). *counts is filled either way. */
int mes_engine_import(struct mes_engine *e, struct mes_call *call, FILE *in, const struct mes_import_opts *o,
                      struct mes_import_counts *counts, struct mes_err *err);

/* A host's own small settings, kept in the data database under keys it
 * chooses (prefix them with the host's name). get: MES_ENOT_FOUND when unset;
 * the value is cut to cap bytes. set: durable on return. */
int mes_engine_meta_get(struct mes_engine *e, const char *key, char *out, size_t cap);
int mes_engine_meta_set(struct mes_engine *e, const char *key, const char *value, struct mes_err *err);

/* ================================================================ utilities */

/* Overwrites len bytes at p with zeros in a way the compiler keeps (secrets). */
void mes_wipe(void *p, size_t len);
/* A random printable token (base64url, no padding) of n_bytes of entropy (at
 * most 64) in out (cap bytes, NUL-terminated; ((n_bytes + 2) / 3) * 4 + 1 is
 * enough). Only once an engine has been opened or a directory initialised. */
void mes_random_token(char *out, size_t cap, size_t n_bytes);

#endif
