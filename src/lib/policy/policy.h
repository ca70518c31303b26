/*
 * policy — the brand's mesura.yaml (contract §10), loaded and validated once,
 * then resolved into small integers: purposes, event types and categories are
 * indexes; channels and languages are fixed enums; purpose sets are bitmasks.
 *
 * A loaded policy is immutable. The engine swaps whole policies on SIGHUP, so
 * readers hold a pointer for the duration of one request (see engine): the
 * `policy` of struct mes_req, the per-request part of every domain call.
 */
#ifndef MES_POLICY_H
#define MES_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define MES_MAX_PURPOSES 32 /* purposes are bits of a uint32_t */

enum mes_lang { MES_LANG_EN = 0, MES_LANG_ES, MES_LANG_PL, MES_LANG_N };
/* Stored as numbers (ingest/evrec.h): new channels go at the end, before MES_CH_N. */
enum mes_channel { MES_CH_WEB = 0, MES_CH_APP, MES_CH_EMAIL, MES_CH_ADS, MES_CH_STORE, MES_CH_N };
enum mes_source { MES_SRC_FIRST = 0, MES_SRC_ZERO, MES_SRC_THIRD, MES_SRC_N };
enum mes_gpc { MES_GPC_IGNORED = 0, MES_GPC_HONORED };

struct mes_purpose {
  char *name;
  char *description[MES_LANG_N]; /* NULL where not translated */
  enum mes_gpc gpc;
  uint32_t channels; /* bit c: personal answers on channel c need this purpose; 0 = none bound */
};

struct mes_event_type {
  char *name;
  uint32_t purposes; /* bitmask of purpose indexes this type serves */
  int retention_days;
  char **properties; /* declared property names */
  size_t n_properties;
};

/* How people buy a category's items (categories.NAME.lifecycle). */
enum mes_lifecycle {
  MES_LIFECYCLE_ORDINARY = 0, /* what the person bought is never offered back (contract §6) */
  MES_LIFECYCLE_REPEAT,       /* consumables: a bought item may come back as "buy again" */
  MES_LIFECYCLE_ONCE,         /* bought once: the whole category rests after a purchase in it */
};

struct mes_category {
  char *name;
  bool sensitive;
  enum mes_lifecycle lifecycle; /* default ordinary */
  char *label[MES_LANG_N]; /* NULL where not given */
};

struct mes_guardrails {
  int frequency_cap_max_impressions; /* default 3 */
  int frequency_cap_window_hours;    /* default 72 */
  int retargeting_window_days;       /* default 14 */
  int post_purchase_suppression_days; /* default 365 */
  bool cross_channel_after_purchase; /* default false */
  bool shared_device_hide_history;   /* default true */
  bool shared_device_hide_sensitive; /* default true */
  bool third_party_accept;           /* third_party_data: accept | reject (default reject) */
};

enum mes_model_kind { MES_MODEL_AUTO = 0, MES_MODEL_COOC, MES_MODEL_EASE, MES_MODEL_POPULAR };

struct mes_model_cfg {
  enum mes_model_kind kind;  /* default auto */
  int retrain_every_minutes; /* default 60 */
  int retrain_after_events_pct; /* default 10; 0: only on the schedule */
  int max_memory_mb;         /* default 2048 */
  int relation_half_life_days; /* default 365; 0: item relations never fade */
  int recent_items_half_life;  /* default 3; 0: every recent item counts alike (recommend/score.c) */
  int history_half_life_days;  /* default 30; 0: a person's events weigh the same at any age (recommend/score.c) */
  int complements_pct;         /* default 150: weight of "bought together" after a purchase, in percent */
  int ease_lambda;             /* default 200: EASE's regularisation (model/ease.c) */
  int neighbors;               /* default 50: neighbours kept per item and relation (model.h max_neighbors) */
  /* model.event_weights: how much one event of each kind counts, in
   * training (popularity, EASE's input) and in a person's own history
   * (model.h kind_weights); defaults 1, 2, 4, 8. */
  int weight_view, weight_click, weight_cart, weight_purchase;
};

struct mes_serving_cfg {
  int history_cache_mb; /* default 64; 0: no cache of decoded histories (ingest/histcache.h) */
  int header_timeout_s; /* default 10: a request's head must arrive whole within this */
  int body_timeout_s;   /* default 60: and its body within this after the head */
};

/* Fairness audits (src/lib/audit). */
#define MES_AUDIT_MIN_GROUP_DEFAULT 10
/* An audit the server runs by itself (engine background). */
struct mes_audit_schedule {
  int every_days;     /* 0 (default): none */
  char **attributes;  /* what it audits */
  size_t n_attributes;
  char *placement;    /* NULL: "default" */
  int channel;        /* enum mes_channel, default web */
};
struct mes_audit_cfg {
  char **protected_attrs; /* attribute names that are protected; none listed: the five of
                             mes_audit_default_protected (audit/audit.h) */
  size_t n_protected;
  int min_group_size; /* default 10: smaller groups are merged into "other" or withheld */
  int sync_max_subjects; /* default 2000: larger audits run in the background (202) */
  char **placements;     /* the placements an audit may name; none listed: any */
  size_t n_placements;
  struct mes_audit_schedule schedule;
};

/* People's own tokens (contract §7). */
struct mes_rights_cfg {
  int token_minutes; /* default 15: lifetime of a token minted by POST /v1/subjects/{s}/tokens */
  int access_log_retention_days; /* default 365: how long an access log entry is kept */
};

/* Cross-origin requests from browsers (the brand's own pages on another
 * origin calling the API with a person's token). */
struct mes_cors_cfg {
  char **allowed_origins; /* "https://shop.example", lower case; none: no origin is allowed */
  size_t n_allowed_origins;
};

struct mes_policy {
  char *path;  /* file it was loaded from */
  char *text;  /* the YAML as loaded (NUL-terminated): what is in force, even when the file changed since */
  char *site;
  uint32_t languages; /* bit l: enum mes_lang offered; en always */
  struct mes_purpose *purposes;
  size_t n_purposes;
  struct mes_event_type *event_types;
  size_t n_event_types;
  struct mes_category *categories;
  size_t n_categories;
  struct mes_guardrails guardrails;
  struct mes_model_cfg model;
  struct mes_serving_cfg serving;
  struct mes_audit_cfg audit;
  struct mes_rights_cfg rights;
  struct mes_cors_cfg cors;
  int decision_retention_days; /* default 30 */
  char *version;               /* policy_version stamped on receipts (default: file's mtime date) */
};

/* What one request carries, and only that: the policy snapshot it keeps to
 * its end, its clock, who acts and its Global Privacy Control signal. The
 * engine fills one per call (on the stack: no allocation) and the domain
 * functions take it beside the handle they belong to (the subject registry,
 * the catalog, the consent ledger, the ingester, the recommender), which
 * hold everything long-lived. Every pointer is borrowed for the request. */
struct mes_req {
  const struct mes_policy *policy; /* the snapshot, valid for the request */
  int64_t now_ms;                  /* the request's clock */
  const char *actor;               /* name of the key or token acting ("import", ...); may be NULL */
  bool gpc;                        /* the request carried Sec-GPC: 1 */
};

/* Loads and validates path. On failure err->msg reads "FILE:LINE: sentence"
 * and the code is MES_EBAD_POLICY (MES_EIO when the file cannot be read,
 * MES_ENOMEM); *out is NULL then. *out is new: free with mes_policy_free.
 * The schema (keys, defaults, bounds) is docs/config.md. Thread-safe. */
int mes_policy_load(const char *path, struct mes_policy **out, struct mes_err *err);
/* Same, from a buffer of len bytes, not NUL-terminated (name, borrowed, is
 * used in messages and becomes p->path). The default policy_version is the
 * current month. */
int mes_policy_load_buf(const char *name, const char *yaml, size_t len, struct mes_policy **out,
                        struct mes_err *err);
void mes_policy_free(struct mes_policy *p); /* NULL-safe */

/* Lookups (name of len bytes, borrowed): index or -1. */
int mes_policy_purpose(const struct mes_policy *p, const char *name, size_t len);
int mes_policy_event_type(const struct mes_policy *p, const char *name, size_t len);
int mes_policy_category(const struct mes_policy *p, const char *name, size_t len);
/* True when `prop` is a declared property of event type t. */
bool mes_policy_property_declared(const struct mes_policy *p, int t, const char *prop, size_t len);
/* Purposes a personal answer on channel ch needs (bitmask; see §10 channels):
 * the purposes whose `channels` name ch; when none does, the purpose named
 * `personalization` if declared; else 0. */
uint32_t mes_policy_channel_purposes(const struct mes_policy *p, enum mes_channel ch);

/* Enum names and parsing ("web", "email", ...; "en", "es", "pl"). -1 when unknown. */
const char *mes_channel_name(enum mes_channel c);
int mes_channel_parse(const char *s, size_t len);
const char *mes_lang_name(enum mes_lang l);
int mes_lang_parse(const char *s, size_t len);
/* Picks the offered language with the highest q-value from an Accept-Language
 * header ("pl-PL,pl;q=0.9,en;q=0.8"); ties go to the earlier entry, q=0 means
 * "not this one", "*" means en. Only the policy's `languages` count (p NULL:
 * every language mesura knows). NULL header or no match: en. */
enum mes_lang mes_lang_negotiate(const struct mes_policy *p, const char *accept_language);
const char *mes_source_name(enum mes_source s);
int mes_source_parse(const char *s, size_t len);

/* The commented example mesura.yaml that `mesura init` writes. Static string. */
const char *mes_policy_example(void);

/* The data-subject rights a privacy notice can promise (contract §7), in
 * the order it lists them. */
enum mes_right {
  MES_RIGHT_SEE = 0,          /* see what is held (the profile summary) */
  MES_RIGHT_EXPORT,           /* take a copy of all of it */
  MES_RIGHT_CORRECT,          /* forget one event that is wrong */
  MES_RIGHT_RESTRICT,         /* keep the data but stop using it */
  MES_RIGHT_ERASE,            /* erase everything */
  MES_RIGHT_ACCESS_LOG,       /* see who read the data */
  MES_RIGHT_WITHDRAW_CONSENT, /* withdraw consent to a purpose */
  MES_RIGHT_N
};

/* A right that the running server serves, and the request that serves it.
 * The policy does not know what is served: whoever serves the rights (the
 * HTTP layer, from its routing table) says so, so that the notice cannot
 * promise a right that nothing serves. */
struct mes_served_right {
  enum mes_right right;
  const char *method; /* "GET", "PUT", ...; borrowed */
  const char *path;   /* "/v1/subjects/{s}/export"; borrowed */
};

/* The right's name in the notice's JSON ("see", "withdraw_consent", ...);
 * NULL for a value outside the enum. */
const char *mes_right_name(enum mes_right r);

/* Privacy notice (contract §9), generated from the policy in language l
 * (an unknown l gives en). `served` (borrowed; n_served entries, may be
 * NULL when 0) are the rights the caller serves: the notice promises those
 * and no other, each once, in enum mes_right order; without any, it has no
 * rights section ("rights" empty, no "rights_text"). JSON: new reference;
 * HTML: new string (caller frees), a whole UTF-8 page rendered from the
 * JSON with every string escaped. NULL when out of memory. Thread-safe. The
 * JSON shape:
 *
 *   {"site": "Demo Store" ("" when the policy names none), "language": "es",
 *    "policy_version": "2026-11", "title", "who", "intro", "opt_in": sentences,
 *    "gpc_text": a sentence naming the purposes Sec-GPC: 1 turns off,
 *    "headings": {"purposes", "data", "categories", "other", "rights"},
 *    "purposes": [{"name", "description" (in l, else en, else the name),
 *                  "gpc": "honored" | "ignored", "gpc_text",
 *                  "channels": ["web", ...] (see mes_policy_channel_purposes),
 *                  "channels_text" (when channels is not empty),
 *                  "data": [{"event_type", "label", "properties": [...],
 *                            "retention_days", "text"}],
 *                  "data_text" (when no event type serves the purpose)}],
 *    "categories": [{"name", "label", "text"}] (sensitive ones only),
 *    "categories_text" (when there are none),
 *    "rights_text" (when a right is served), "rights": [{"right": "see" |
 *      "export" | "correct" | "restrict" | "erase" | "access_log" |
 *      "withdraw_consent", "text", "method", "path" (the request that
 *      serves it, as given in `served`)}],
 *    "third_party_data": {"policy": "reject" | "accept", "text"},
 *    "decisions": {"retention_days", "text"}, "version_text"}
 *
 * Every "text"/"*_text" member is a plain sentence in l. */
json_t *mes_policy_notice_json(const struct mes_policy *p, const struct mes_served_right *served, size_t n_served,
                               enum mes_lang l);
char *mes_policy_notice_html(const struct mes_policy *p, const struct mes_served_right *served, size_t n_served,
                             enum mes_lang l);

#endif
