/*
 * model — what mesura learns from behaviour, and nothing about any one
 * person: item-to-item relations and item popularity, trained from the
 * stored events, saved in the store, loaded by the server and swapped in
 * without pausing requests.
 *
 * A model holds, for the items seen in training (indexes 0..n_items-1):
 *   - three sparse neighbour lists per item, kept apart by meaning
 *     (enum mes_rel): items bought together (complements: purchases by the
 *     same person close in time), viewed together (substitutes / similar:
 *     views by the same person close in time), and EASE (Steck 2019, a
 *     closed-form linear item-item model, sparsified to its largest weights
 *     per row). Each list is sorted by weight, largest first.
 *   - popularity (time-decayed interaction mass) and trending (a short
 *     half-life against a long one), both non-personal.
 * Every personal score is a sum over the person's own history items h of
 * (weight of h's event) x (weight of the relation h -> candidate), so each
 * contribution names the history item that produced it: explanations
 * follow from the model itself. A person's contribution can be removed
 * exactly, at once (mes_model_unlearn).
 *
 * Ownership: a model is immutable once built and reference counted
 * (unlearning builds a new one).
 * mes_model_ref / mes_model_unref may be called from any thread; every
 * query function is thread-safe on a model a caller holds a reference to.
 */
#ifndef MES_MODEL_H
#define MES_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ingest/ingest.h"
#include "subject/subject.h"

struct mes_model;

enum mes_rel { MES_REL_BOUGHT = 0, MES_REL_VIEWED, MES_REL_EASE, MES_REL_N };
/* Which lists a model holds, by its meta "kind": "popular" none (only
 * popularity and trending), "cooc" BOUGHT and VIEWED, "ease" all three (EASE
 * rows only for the ease_items most popular items). An absent list answers
 * every item with zero neighbours. */

/* What an event type means to the model, from its name in the policy
 * (contract §4 names: view, click, add_to_cart, purchase, search, dismiss;
 * any other declared type counts as MES_KIND_OTHER). */
enum mes_kind {
  MES_KIND_VIEW = 0,
  MES_KIND_CLICK,
  MES_KIND_CART,
  MES_KIND_PURCHASE,
  MES_KIND_SEARCH,
  MES_KIND_DISMISS,
  MES_KIND_OTHER,
  MES_KIND_N
};
enum mes_kind mes_kind_of(const char *event_type_name);

struct mes_nbr {
  uint32_t item; /* index of the neighbour */
  float w;       /* relation weight, > 0 */
};

/* Training parameters; mes_model_params_default fills sane values. */
struct mes_model_params {
  int kind;               /* enum mes_model_kind (policy.h): auto, cooc, ease, popular */
  int max_neighbors;      /* per item and relation (default 50) */
  double half_life_days;  /* time decay of popularity (default 60): what sells now */
  /* Time decay of the item-item relations (co-occurrence and EASE; default
   * 365): that a sleeping bag goes with a tent does not expire in two
   * months, and a year spans every season once. The popularity's 60 days
   * would make the relations forget most of a store's history (the offline
   * evaluation's `served` figures, bench/README.md). */
  double relation_half_life_days;
  double trend_half_life_days; /* the short half-life of trending (default 3) */
  double window_hours;    /* two events of one person relate when this close (default 72) */
  double ease_lambda;     /* EASE L2 regularisation (default 200) */
  int ease_max_items;     /* auto uses EASE up to this many items (default 30000) */
  size_t max_memory_mb;   /* refuse to build a model larger than this (policy model.max_memory_mb) */
  int threads;            /* training threads (default 2) */
  /* Keep what exact unlearning needs (default true; see mes_model_unlearn
   * for what it costs). */
  bool unlearn;
  /* Neighbours a model that can unlearn keeps per item and relation beyond
   * max_neighbors, with their pair counts (default 50; 12 bytes each): the
   * wider, the rarer a row must be counted again when a person is removed
   * (see mes_model_unlearn). */
  int unlearn_margin;
  /* How much one event of each kind counts (policy model.event_weights;
   * default view 1, click 2, cart 4, purchase 8), in popularity, in EASE's
   * input and, through mes_model_kind_weight, in a person's history. Each
   * in [0, 1e6); search, dismiss and other always count 0. Unlearning
   * takes away the same weighted contribution. */
  float kind_weights[MES_KIND_N];
};
void mes_model_params_default(struct mes_model_params *p);

/* Trains from every stored event, read through the ingester (mes_ingest_scan:
 * decrypted with each subject's key; the events of subjects whose key is
 * gone are skipped) at c->now_ms. Only
 * events serving the purpose of personal answers on the web
 * (mes_policy_channel_purposes, else the purpose named personalization) that
 * the subject still grants count; restricted subjects' events never do.
 * kind auto takes EASE when every item fits ease_max_items and
 * max_memory_mb, else co-occurrence (logged through log, which may be
 * NULL); kind ease over too many items uses the most popular ones that fit. *out is new (one
 * reference; mes_model_id 0 until saved and loaded). Slow: call off request
 * threads; uses p->threads threads, and OpenBLAS's own for the solve. */
int mes_model_train(struct mes_ingester *ing, const struct mes_req *c, const struct mes_log *log,
                    const struct mes_model_params *p, struct mes_model **out, struct mes_err *err);

/* What the caller knows a model not to carry, as counts that only grow:
 * the records of the store's erasure journal (mes_store_erasures_read)
 * whose people it does not carry, and the events forgotten one by one that
 * it does not carry (a count the engine keeps in the store's meta). A
 * loader serves a stored model only while neither count has grown since. */
struct mes_model_seen {
  int64_t erasures, forgets;
};

/* Saves m in the store as the newest model (durable when it returns); *id
 * receives its store id. Older models beyond the newest 2 are deleted.
 * seen (borrowed; NULL: nothing seen) is recorded with it. */
int mes_model_save(struct mes_store *st, const struct mes_model *m, const struct mes_model_seen *seen, int64_t *id,
                   struct mes_err *err);
/* Saves m like mes_model_save and deletes every older stored model: after
 * an unlearning, no stored copy may still carry the person. */
int mes_model_save_alone(struct mes_store *st, const struct mes_model *m, const struct mes_model_seen *seen,
                         int64_t *id, struct mes_err *err);
/* The blob mes_model_save would write for m, written ahead (*blob new, *len
 * its size; NULL for a model that has a blob of its own): a model made by
 * unlearning has none until then, and its writing is the save's long part,
 * which a caller can do outside its locks. m is only read. */
int mes_model_blob_write(const struct mes_model *m, uint8_t **blob, size_t *len, struct mes_err *err);
/* mes_model_save_alone with the blob mes_model_blob_write wrote for m
 * (borrowed; NULL: as mes_model_save_alone). */
int mes_model_save_alone_written(struct mes_store *st, const struct mes_model *m, const uint8_t *blob, size_t len,
                                 const struct mes_model_seen *seen, int64_t *id, struct mes_err *err);
/* Gives a model built in this process the store id it was saved under, so
 * that it serves as that stored model (a process polling for newer models
 * does not load its copy, which could not unlearn). Any thread: requests
 * may read the id meanwhile. */
void mes_model_set_id(struct mes_model *m, int64_t id);
/* The seen counts a loaded model was saved with (0 for a model not loaded
 * from the store, or saved without them). */
int64_t mes_model_erasures_seen(const struct mes_model *m);
int64_t mes_model_forgets_seen(const struct mes_model *m);
/* Whether m keeps what unlearning needs (trained in this process with
 * params.unlearn, and not yet handed to a newer model). */
bool mes_model_can_unlearn(const struct mes_model *m);
/* Newest model id in the store (0 when none), cheap: the server polls it. */
int64_t mes_model_latest_id(struct mes_store *st);
/* Loads model `id` (*out new). MES_ENOT_FOUND when absent. */
int mes_model_load(struct mes_store *st, int64_t id, struct mes_model **out, struct mes_err *err);
/* What model `id` says of itself, read without its blob (what a server
 * decides from before it loads one): how many events it learnt from (meta
 * "events") and the counts it was saved with. MES_ENOT_FOUND when absent. */
int mes_model_peek(struct mes_store *st, int64_t id, int64_t *events, struct mes_model_seen *seen, struct mes_err *err);

struct mes_model *mes_model_ref(struct mes_model *m); /* returns m; NULL-safe */
void mes_model_unref(struct mes_model *m);            /* NULL-safe */

/* --- unlearning --- */

/*
 * Exact unlearning: a person's contribution to m leaves it, and the model
 * returned is the one training at m's time would have built without them:
 * for every other shopper the same neighbour lists (items and order, ties and
 * truncation included), popularity and trending, weights equal up to
 * rounding (co-occurrence and popularity: the same bits; EASE: within
 * 1e-4 relative, in practice the same float bits). At once, without a
 * retrain: co-occurrence and popularity touch only the
 * rows of the person's items and the rows that list them; EASE is a
 * Sherman–Morrison update of its inverse and a new sparsification, O(n²) in
 * the EASE items (see bench/README.md for the figures).
 *
 * What it costs: a model trained with params.unlearn keeps its training
 * data and indexes (about 40 bytes an event, plus about 180 an item with
 * two threads), each co-occurrence row's kept neighbours (max_neighbors +
 * unlearn_margin of them, 12 bytes each: 46 MiB at 20,000 items for two
 * relations and the defaults) and, for EASE, its inverse in double
 * precision, 8 n² bytes (800 MB at 10,000 items, 3.2 GB at 20,000), kept
 * only when it fits model.max_memory_mb beside the data; the EASE solve is
 * then done in double precision too. Time: co-occurrence takes the person's
 * own pair counts off the kept ones and decides each row's new neighbours
 * from them, counting a row again only where its kept margin cannot decide
 * it (tens of milliseconds for a person with 1,000 events at ten million
 * events: bench/README.md); EASE two passes over its n² inverse.
 * Where it does not fit, unlearning drops the EASE relation (the person's
 * contribution is neutralised at once, every other relation stays exact)
 * and info.retrain asks for a retrain, which restores EASE exactly. Kind
 * ease over more items than ease_max_items (EASE over the most popular
 * only) is unlearned the same way but not exactly (the popular set may
 * move): info.retrain too. mes_model_memory counts what is kept.
 *
 * A model loaded from the store cannot unlearn: the kept data is personal
 * and never leaves memory (a saved model must not carry anyone's events,
 * nor survive their erasure in a backup). Its unlearning returns m itself
 * with info.retrain: the caller retrains (the store no longer has the
 * person), and the retrained model can unlearn.
 *
 * Threads: m is never changed for queries: requests may keep using it
 * while a new model is built. The new model takes over m's kept state (m can
 * no longer unlearn), so unlearning calls on one lineage of models must be
 * serialised by the caller, and always made on the newest one. How the
 * engine is to use it, under the lock that guards its live model and
 * alongside the store's erasure:
 *
 *     mes_model_unlearn(live, sid, &next, &info, &err);
 *     swap next in as the live model (mes_model_unref(live) when done);
 *     if (info.retrain) schedule a retrain;
 *
 * A model returned by unlearning has id 0 and is not in the store. When no
 * item left, it is m's rows with the changed ones beside them (it holds a
 * reference to the model whose blob it reads: memory stays about one blob
 * and one copy of the rows, whatever the number of unlearnings); its blob
 * is written only when it is saved. The
 * engine saves it (mes_model_save_alone, after the answer) with the counts
 * (struct mes_model_seen) it has seen, so that the store's newest model
 * is one without the person and a stored model that may still carry
 * someone erased is never loaded (engine/live.c); it keeps serving `next`
 * itself (the copy loaded back could not unlearn), so its poll for newer
 * stored models must not take that copy for a newer model.
 */
struct mes_unlearn_info {
  size_t events; /* events of theirs the model forgot (0: it had learnt nothing from them) */
  bool exact;    /* *out equals a model trained without them */
  bool retrain;  /* only a retrain makes it exact (see above) */
  /* Co-occurrence rows (of both relations) whose new neighbours were decided
   * from the kept counts, and rows counted again in full. */
  size_t rows_decided, rows_recounted;
};

/* Removes everything store subject sid contributed. *out is new (one
 * reference): a new model, or m itself when there was nothing to forget or
 * m cannot unlearn. MES_ENOMEM (m serves on, unchanged, but can no longer
 * unlearn: retrain). */
int mes_model_unlearn(struct mes_model *m, int64_t sid, struct mes_model **out, struct mes_unlearn_info *info,
                      struct mes_err *err);
/* Removes one event of subject sid: the item (len bytes), its kind and its
 * time as stored (seconds count: the model keeps seconds). Kinds that never
 * counted (search, dismiss, other), events the model never saw: m itself.
 * Same contract as mes_model_unlearn otherwise. */
int mes_model_forget_event(struct mes_model *m, int64_t sid, const char *item, size_t len, enum mes_kind kind,
                           int64_t ts_ms, struct mes_model **out, struct mes_unlearn_info *info,
                           struct mes_err *err);

/* --- queries --- */
size_t mes_model_n_items(const struct mes_model *m);
/* Index of item id (len bytes), or -1 when the model has not seen it. */
int32_t mes_model_item(const struct mes_model *m, const char *id, size_t len);
const char *mes_model_item_id(const struct mes_model *m, uint32_t item); /* borrowed from m */
/* Neighbours of item for rel, largest weight first (*n may be 0). Borrowed from m. */
const struct mes_nbr *mes_model_neighbors(const struct mes_model *m, enum mes_rel rel, uint32_t item, size_t *n);
/* The typical weight of an item's strongest neighbour under rel: the median
 * over the items that have neighbours (0 when none has). Scores divide
 * relation weights by it, so that relations of different scales compare,
 * while within one relation an item with strong relations still counts more
 * than one with weak ones (EASE's scores are sums over history items on one
 * scale; dividing each item's list by its own strongest weight would
 * flatten that). */
float mes_model_relation_unit(const struct mes_model *m, enum mes_rel rel);
/* Non-personal scores in [0, 1] (1 = the most popular / fastest rising). */
float mes_model_popularity(const struct mes_model *m, uint32_t item);
float mes_model_trending(const struct mes_model *m, uint32_t item);
/* Items by popularity (or trending), best first: borrowed array of *n indexes. */
const uint32_t *mes_model_top(const struct mes_model *m, bool trending, size_t *n);
/* How much an event of kind k counts in a personal score (purchase > cart >
 * click > view; 0 for search and dismiss). Chosen at training time. */
float mes_model_kind_weight(const struct mes_model *m, enum mes_kind k);

/* Metadata, a new reference: {"id", "kind" ("cooc" | "ease" | "popular"),
 * "trained_at", "data_from", "data_to" (RFC 3339 or null), "events",
 * "subjects", "items", "params": {...}, "train_ms", "memory_bytes"}. */
json_t *mes_model_meta(const struct mes_model *m);
int64_t mes_model_id(const struct mes_model *m); /* store id, 0 when not saved */
size_t mes_model_memory(const struct mes_model *m); /* resident bytes */

#endif
