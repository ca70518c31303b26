/*
 * rec_int — what only the recommend module's files see: the per-request
 * arena, the state of one request (facts gathered once, candidates), and the
 * functions the files hand each other.
 *
 *   request.c  the request shape
 *   facts.c    consent decision, history, preferences, impressions, item facts
 *   score.c    candidates and their contributions
 *   serve.c    mes_recommend: the pipeline and the reply
 *   record.c   the recommender: queue, background writer, records, sweep
 *   why.c      mes_recommend_why
 */
#ifndef MES_REC_INT_H
#define MES_REC_INT_H

#include <pthread.h>

#include "base/arena.h"
#include "base/htab.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "explain/explain.h"
#include "guard/guard.h"
#include "ingest/ingest.h"
#include "recommend/recommend.h"

/* ---------------------------------------------------------------- the recommender */

/* The handle (recommend.h): what it serves from, borrowed and given at
 * creation, then the queue of decision records and impressions and its
 * writer thread (record.c). */
struct rec_entry; /* one queued record or answer's impressions: record.c's */
#define MES__REC_IMP_MARK_BITS 12
struct mes_recommender {
  struct mes_store *st;
  const struct mes_log *log;
  struct mes_subjects *subjects;  /* resolves; seals and unseals decision records */
  struct mes_ledger *ledger;      /* preferences; GPC overrides */
  struct mes_ingester *ingester;  /* histories, impressions */
  struct mes_catalog *catalog;    /* item facts and titles (its index) */
  pthread_mutex_t mu;
  pthread_cond_t work; /* entries queued, or stop */
  pthread_cond_t done; /* a batch was written */
  struct rec_entry *head, *tail;
  size_t n_queued;
  size_t bytes_queued;     /* entry_bytes of head..tail */
  size_t bytes_inflight;   /* entry_bytes of the batch being written */
  struct rec_entry *inflight;
  /* How many answers' impressions, queued or in flight, each slot's
   * subjects have (record.c): the frequency cap of a request searches the
   * queue only when its subject's slot is not 0, instead of walking a queue
   * of hundreds of entries under mu for every personal request. */
  uint32_t imp_marks[1 << MES__REC_IMP_MARK_BITS];
  uint64_t queued_batches; /* batches handed out, counting the one being queued into */
  uint64_t written;        /* batches written */
  size_t dropped;
  bool stop;
  bool idle;         /* the writer waits for a first entry: the next enqueue wakes it */
  unsigned flushers; /* threads in mes_recommender_flush: no gathering */
  /* Notes no access log entry. Set only by bench/bench_recs.c, and in a
   * build with MES_BENCH_NO_ACCESS_LOG (the second server of bench/recs.py
   * --log-off-build), to measure what the log costs against requests that
   * differ in nothing else. */
  bool access_off;
  /* The access log's heads the writer wrote last (access.c): the writer
   * thread's alone; NULL until its first entry. */
  struct mes__rec_head_slot *head_slots;
  pthread_t thread;
};

/* ---------------------------------------------------------------- arena */

/* Request scratch memory comes from struct rec_state's arena (base/arena.h),
 * freed at once by mes__rec_state_release. */
#define REC_ARENA_CHUNK 16384          /* a light request fits in one or two chunks */
#define REC_ARENA_MAX ((size_t)1 << 30) /* far above any request's need: a bound, not a budget */

/* mes_arena_calloc, under the name serve.c uses. */
static inline void *mes__rec_alloc(struct mes_arena *a, size_t n) { return mes_arena_calloc(a, n); }

/* ---------------------------------------------------------------- tuning */

#define REC_HIST_GROUPS 64        /* distinct recent history items that feed scores */
#define REC_PLACE_HALVINGS 8      /* items further back than this many recent-items half-lives propose nothing */
/* Neighbours read per history item and relation: every one the model keeps
 * (the policy's model.neighbors, at most this). */
#define REC_NBRS 1000
/* Complements of a purchase weigh the policy's model.complements_pct (150 %
 * by default) ... */
#define REC_SUBST_AFTER_BUY 0.25  /* ... and substitutes of a bought item less */
/* A purchase also reaches what EASE learned from everyone's histories (read
 * as "goes with what you bought"; the after-purchase rule still puts the
 * bought item's substitutes last): the bought-together relation alone only
 * knows purchases a few weeks apart, and without this a history made only
 * of purchases would never reach EASE. */
#define REC_EASE_AFTER_BUY 1.0
/* Buy again (score.c): how much having bought an item lately adds to the
 * weight of its count, log2(1 + purchases). At most this much, under the
 * step from one count to the next for any item bought fewer than 140
 * times (log2(1 + 1/(1 + n)) > 0.01): recency breaks ties of the count and
 * never overturns it. */
#define REC_AGAIN_RECENCY 0.01
#define REC_CTX_WEIGHT 0.8        /* the item on screen, through viewed-together / EASE */
#define REC_TOLD_WEIGHT 0.5       /* an interest the person named */
#define REC_TOLD_PER_CAT 20       /* items per named interest */
#define REC_TOP_SCAN 5000         /* popular items scanned for an interest or a fill */
#define REC_POP_WEIGHT MES_GUARD_FILL_WEIGHT /* the non-personal fill, below any real signal */
#define REC_CONTRIB 8             /* contributions kept per candidate (>= MES_GUARD_MAX_BASED) */
/* Candidates carried past scoring into the costly per-candidate work
 * (catalog facts, reasons, the rules, the decision record): at least
 * REC_PRUNE_MIN, else REC_PRUNE_PER_ITEM per item asked for. A long history
 * proposes ~1,100 candidates to serve 10; all but the best few hundred only
 * ever reach the record as suppressed, and each cost as much as a served
 * one. 20 per item leaves the rules room to drop most of the best and still
 * fill the page from personal candidates; the rest wait in a reserve that
 * the fill draws on, best first, before anything non-personal. */
#define REC_PRUNE_MIN 200
#define REC_PRUNE_PER_ITEM 20
/* Candidates that only views older than the retargeting window proposed:
 * the rule drops every one, so pruning ranks by the fresh part of the score
 * and keeps only this many of the strongest stale ones, for the decision
 * record to show the rule at work (contract §6: what a rule removed). */
#define REC_PRUNE_STALE 16
/* Neighbours read per relation from a stale history item (a view, click or
 * cart older than the retargeting window) when the rules run:
 * rule_retargeting takes every part such an item gives out of the score, so
 * what only it proposes can reach nothing but the record, as suppressed;
 * its few strongest neighbours are enough for that (REC_PRUNE_STALE). On
 * long histories most items are stale, and reading their full lists would
 * be most of the candidate work. */
#define REC_STALE_NBRS 4
/* Model items one request may propose (cand_map's cap): a bound far above
 * what the neighbour lists can reach, not a budget. */
#define REC_MAX_PROPOSED (1u << 24)
/* Entries cand_map is made for at most when a history proposes: a long one
 * proposes ~1,100 candidates, which then fit without regrowth. Other paths
 * propose a few hundred at most, and the map grows to them from small. */
#define REC_CAND_MAP_HISTORY 2048

/* ---------------------------------------------------------------- one request */

/* What a history entry adds beyond struct mes_hist. */
struct rec_hist_x {
  bool usable;          /* may feed personal scores (serves a purpose the channel needs) */
  const char *event_id; /* why only: the event's id as the export shows it */
  /* Evidence of an interest in a sensitive category the person did not
   * declare (mes_guard_undeclared_sensitive of its item); set by the scorer
   * for the history items that propose candidates. */
  bool inferred;
};

struct rec_contrib {
  int32_t hist; /* index into hist, or -1 - interest index for a named interest */
  double w;
};

/* What a candidate carries beyond struct mes_cand; before pruning, all a
 * proposal is (struct mes_cand, ~350 bytes, is made only for those kept). */
struct rec_cand_x {
  const char *item; /* borrowed: from the model or the arena */
  int32_t midx;     /* model index, -1 when not in the model */
  double score;     /* the sum of the contributions, before any rule */
  double inferred;  /* the part of score from inferred sensitive evidence (struct mes_cand.inferred) */
  double by_reason[MES_REASON_N];
  struct rec_contrib contrib[REC_CONTRIB];
  size_t n_contrib;
};

/* A candidate (index i) and the key it is ranked by. */
struct rec_ranked {
  double key;
  uint32_t i;
};

/* Item facts cache entry (for the guard's item_info and the filters). */
struct rec_item {
  const char *id;
  struct mes_item_facts facts;
};

struct rec_state {
  struct mes_arena arena;
  const struct mes_req *c;
  const struct mes_model *m;
  struct mes_recommender *r; /* the handles it serves from (never NULL but in hand-built states) */
  struct mes_rec_request req;
  enum mes_lang lang;
  bool why_mode; /* keep event ids */
  bool no_rules; /* bench only (mes__rec_serve): skip the guardrails and their facts */
  bool dry_run;  /* mes_recommend_dry: no decision record, no impressions */

  /* who */
  bool known; /* the subject's row exists */
  struct mes_subject subj;
  bool personalized;
  /* A shared or signed-out screen: of the person's data only their explicit
   * wishes (dismissals, excluded categories) are read; no impression counts. */
  bool wishes_only;
  uint32_t need; /* purposes the channel needs */

  /* facts (borrowed by the guard) */
  struct mes_ingest_events events; /* the person's events, held until the state is released (not in why) */
  struct mes_prefs prefs;          /* the person's preferences, held likewise: excluded, unused and interests
                                      point into them */
  struct mes_hist *hist;           /* the events kept, each joined with the model and its kind */
  struct rec_hist_x *hist_x;
  size_t n_hist, cap_hist;
  struct mes_impression *imps;
  size_t n_imps, cap_imps;
  const char **interests;
  size_t n_interests;
  const char **excluded;
  size_t n_excluded;
  const char **unused; /* preferences.do_not_use_items: their events feed no score nor reason */
  size_t n_unused;
  struct mes_guard_facts facts;
  struct mes_guard_declared declared; /* facts.declared points here */
  struct mes_guard_shown shown; /* facts.shown points here when there are impressions */

  /* item facts cache: an id's tag -> index + 1 into item_v (in the arena) */
  struct mes_htab items;
  struct rec_item **item_v;
  size_t cap_item_v;

  /* candidates: parallel arrays, and a map from model index; cands is NULL
   * until mes__rec_prune makes it (scoring fills cx only) */
  struct mes_cand *cands;
  struct rec_cand_x *cx;
  bool made; /* cands exists (mes__rec_prune ran) */
  size_t n_cands, cap_cands;
  /* model index -> candidate index + 1, or, once pruned, REC_RESERVED |
   * (index in the reserve arrays + 1); in the arena */
  struct mes_htab cand_map;
  size_t pop_pos; /* next position in the popular list for the fill */
  bool fill_started;

  /* inferred sensitive evidence counts for nothing on this channel
   * (mes_guard_channel_pushes): the scorer leaves it out */
  bool inferred_void;
  size_t n_withheld; /* history items left out for it (the decision record says so) */

  /* history views, clicks and carts before this no longer drive scores
   * (guardrails.retargeting_window_days: rule_retargeting's test, mirrored) */
  int64_t stale_before;
  /* pruned candidates (mes__rec_prune): the arrays from before pruning,
   * indexed by res[]; cand_map names them as REC_RESERVED. Live ones come
   * back best first when the fill needs more (mes__rec_fill). */
  const struct rec_cand_x *res_x;
  struct rec_ranked *res; /* key: the pruning's; 0 = never back (stale history alone) */
  size_t n_res, res_pos;
  bool res_sorted;
};

#define REC_RESERVED 0x80000000u /* cand_map's mark of a pruned candidate */

/* facts.c */
/* Sets up the arena and tables of s (zeroed by the caller): what
 * mes__rec_facts does first, for callers that build a state by hand. */
void mes__rec_state_init(struct rec_state *s);
/* Sets up s (zeroed by the caller) and gathers every fact: subject,
 * consent, history, preferences, impressions. */
int mes__rec_facts(struct rec_state *s, struct mes_err *err);
/* Catalog facts of item id (cached in s); NULL when not in the catalog or
 * out of memory (*oom set then). */
const struct mes_item_facts *mes__rec_item(struct rec_state *s, const char *id, bool *oom);
/* Fetches the catalog facts of n items into the cache at once (one hold of
 * the index's lock, misses overlapped), so that the mes__rec_item calls
 * that follow find them. MES_OK or MES_ENOMEM; store failures read as
 * "not in the catalog", as in mes__rec_item. */
int mes__rec_items_ahead(struct rec_state *s, const char *const *ids, size_t n);
void mes__rec_state_release(struct rec_state *s);

/* score.c */
/* Builds the candidates from history, context item and interests. */
int mes__rec_candidates(struct rec_state *s);
/* Keeps the `keep` best candidates by the part of their score the rules
 * will leave (the whole score without rules) and the REC_PRUNE_STALE
 * strongest that stale history alone proposed; the others go to the
 * reserve. Makes s->cands for those kept (SIZE_MAX: all). Call once, after
 * mes__rec_candidates (and mes__rec_cand_for_item), before anything reads
 * s->cands (settling, the fill). */
int mes__rec_prune(struct rec_state *s, size_t keep);
/* Adds up to `want` more candidates: first pruned ones from the reserve
 * (best first), then non-personal ones (popular, trending, or the
 * catalog's order without a model) that pass the filters. *added gets how
 * many; 0 means the lists are exhausted. */
int mes__rec_fill(struct rec_state *s, size_t want, size_t *added);
/* Settles the reason and based_on of candidates [from, to) from their
 * contributions. */
void mes__rec_settle(struct rec_state *s, size_t from, size_t to);
/* True when the caller's filters (exclude, categories, context item,
 * availability) let item through; facts must be the item's. */
bool mes__rec_passes(struct rec_state *s, const char *item, const struct mes_item_facts *facts);
/* Index of the candidate for model index midx, adding it when `add`; -1 when
 * absent (or out of memory: *oom). */
int32_t mes__rec_cand_of(struct rec_state *s, uint32_t midx, bool add, bool *oom);

/* The candidate for one item (why), adding a non-personal one when no
 * source proposed it; -1 when out of memory. */
int32_t mes__rec_cand_for_item(struct rec_state *s, const char *item, size_t len);

/* serve.c: mes_recommend (out) or mes_recommend_text (text), either may be
 * NULL, with the guardrails on (rules = true, what
 * mes_recommend does) or off: then neither mes_guard_run nor the read of the
 * facts only the rules use (impressions) happens. Off exists only so that
 * bench/bench_recs.c can measure what the rules add to a request (their
 * budget is 10 % of it, bench/README.md "Guardrails"); no option, variable
 * or HTTP field reaches it. */
int mes__rec_serve(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m, const json_t *body,
                   enum mes_lang lang, bool rules, json_t **out, char **text, size_t *text_len,
                   struct mes_rec_outcome *oc, struct mes_err *err);

/* serve.c: JSON of one candidate's reason ({"code","text","based_on"}); new. */
json_t *mes__rec_reason_json(struct rec_state *s, const struct mes_cand *cand, const struct rec_cand_x *cx);
json_t *mes__rec_based_json(struct rec_state *s, const struct mes_cand *cand, const struct rec_cand_x *cx,
                            bool all, bool with_event_id);

/* shown.c */
/* Seals the item ids one answer showed subject sid, with its key, for
 * mes__rec_enqueue (then mes_store_impression_add). *out is new (free).
 * MES_ENOT_FOUND when the key is gone, MES_ENOMEM. */
int mes__rec_shown_seal(struct mes_recommender *r, int64_t sid, const char *const *items, size_t n, uint8_t **out,
                        size_t *out_len);

/* record.c */
/* The record's number (positive, growing with time), and the request id
 * that names it: "r_" + the number + a fresh random tag (record.c). */
int64_t mes__rec_new_rid(void);
void mes__rec_format_rid(int64_t rid, char out[MES_REC_ID_LEN + 1]);
/* Queues a record (doc taken over, sealed or not) and the impressions of the
 * served items: imp_items copied, imp_sealed (mes__rec_shown_seal of the
 * same items; NULL for none) taken over. Never blocks on I/O; drops (and
 * logs) when the queue is full. */
void mes__rec_enqueue(struct mes_recommender *r, int64_t rid, int64_t sid, int64_t ts_ms, uint8_t *doc, size_t len,
                      const char *const *imp_items, size_t n_imps, uint8_t *imp_sealed, size_t imp_len,
                      int channel);
/* Queues one access log entry of subject sid (access.c made it): reader and
 * sealed are taken over. Dropped, like records, when the queue is full. */
void mes__rec_enqueue_access(struct mes_recommender *r, int64_t sid, int64_t ts_ms, int action, char *reader,
                             uint8_t *sealed, size_t len);
/* One queued access entry as the writer hands it to access.c (borrowed). */
struct mes__rec_access {
  int64_t sid;
  int64_t ts_ms;
  int action;
  const char *reader;
  const uint8_t *sealed;
  size_t len;
};
/* Chains entries a[0..n) (in queue order) onto their subjects' logs and
 * writes them with the new heads in one transaction; the writer thread
 * only (access.c). */
void mes__rec_access_write(struct mes_recommender *r, const struct mes__rec_access *a, size_t n);
/* Wipes and frees what mes__rec_access_write keeps between batches; once
 * the writer thread has stopped. */
void mes__rec_access_release(struct mes_recommender *r);
/* Wipes sid's remembered head and chain key (access.c); mu held and no
 * batch in flight, so that the writer is not using them. */
void mes__rec_access_forget(struct mes_recommender *r, int64_t sid);
/* Whether the writer remembers sid's head (tests); same conditions. */
bool mes__rec_access_remembers(struct mes_recommender *r, int64_t sid);
/* Notes a read of sid's data by the request's actor (access.c); subject
 * (may be NULL) is the id as the caller gave it, kept sealed. _for names
 * the purpose (static) where the action alone does not tell it. */
void mes__rec_access_note(struct mes_recommender *r, const struct mes_req *c, int64_t sid, const char *subject,
                          size_t subject_len, int action);
void mes__rec_access_note_for(struct mes_recommender *r, const struct mes_req *c, int64_t sid, const char *subject,
                              size_t subject_len, int action, const char *purpose);
/* Calls cb for each still-queued impression of sid at or after since_ms. */
void mes__rec_queued_impressions(struct mes_recommender *r, int64_t sid, int64_t since_ms, mes_shown_cb cb,
                                 void *ud);

#endif
