/*
 * engine/engine_int — the engine's insides, shared by its own files only:
 * the handle itself, and the per-call state that every verb of
 * include/mesura/mesura.h takes and releases (call.c).
 */
#ifndef MES_ENGINE_INT_H
#define MES_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/json.h"
#include "engine/engine.h"
#include "policy/policy.h"
#include "store/store.h"
#include "subject/subject.h"

struct pol_ref;

/* The daily counts gathering in memory (tally.c). */
struct mes__tally {
  pthread_mutex_t mu;       /* entries */
  pthread_mutex_t flush_mu; /* a flush, or a read of the counts */
  struct tally_entry *entries;
  size_t n, cap;
};

struct mes_engine {
  char *dir;
  struct mes_log log;
  struct mes_store *store;
  struct mes_master *master;

  pthread_mutex_t pol_mu;
  struct pol_ref *pol_current;
  struct pol_ref *pol_retired; /* still held by requests */

  struct mes_auth *auth; /* API keys and subject tokens */

  /* Background work off the request threads (mes_engine_start_background). */
  pthread_mutex_t bg_mu;
  pthread_cond_t bg_cv; /* signalled when bg_stop or bg_kick is set */
  pthread_t bg_thread;
  bool bg_started;
  bool bg_stop;
  bool bg_kick; /* run the next tick now (a model awaits its save) */

  /* The domain's handles, each made at open with what it uses (the ones
   * above it in this list, the store, the master key, the log) and owning
   * its own caches, which are always there (a capacity of 0 keeps nothing):
   *   subjects  the subject registry: pseudonyms, keys (and their cache),
   *             ingestion's row hints (subject/subjmap.h);
   *   ledger    consents and preferences;
   *   ingester  events in and out, with the decoded histories of active
   *             shoppers (ingest/histcache.h), sized by the policy's
   *             serving.history_cache_mb at open and at every reload;
   *   catalog   the items and their in-memory index;
   *   rights    the summary, the export, the preferences' PATCH;
   *   rec       the recommender, with its decision-record writer;
   *   audit     the attribute vault and the audits.
   * A call brings only its struct mes_req (policy/policy.h). */
  struct mes_subjects *subjects;
  struct mes_ledger *ledger;
  struct mes_ingester *ingester;
  struct mes_catalog *catalog;
  struct mes_rights *rights;
  struct mes_recommender *rec;
  struct mes_audit *audit;

  /* The live model (see mes_engine_model): the pointer is swapped under
   * model_mu; requests take a reference and never wait for training. */
  pthread_mutex_t model_mu;
  struct mes_model *model;
  int64_t model_failed_id;  /* a stored model that did not load (not retried) */
  pthread_mutex_t train_mu; /* one lineage of models: training, unlearning, saving (live.c) */
  /* Under train_mu (live.c): the erasure journal records whose people the
   * live model is known not to carry, and the events forgotten one by one
   * (the store's count) it is known not to carry; the live model awaiting
   * its durable save (a reference; NULL when none) and the counts it is to
   * be saved with; the last people unlearned, for an erasure whose record
   * the background thread took first. */
  int64_t live_seen, live_forgets;
  struct mes_model *unsaved;
  int64_t unsaved_seen, unsaved_forgets;
  struct {
    int64_t sid;
    size_t events;
    bool exact, retrain;
  } recent[8];
  unsigned recent_at;
  /* Retraining (background thread only): */
  int64_t train_events;     /* stored events when the live model was trained */
  uint64_t train_mono_ns;   /* when it was trained or loaded */
  uint64_t counted_mono_ns; /* last time the events were counted */
  /* Set by an erasure: the background thread retrains at its next tick,
   * so that the live model stops carrying the erased person. */
  _Atomic bool retrain_requested;
  /* When the policy's scheduled audit last ran (background thread only;
   * -1 until read from the store's meta). */
  int64_t audit_last_ms;
  /* The console's daily counts not yet in the store (tally.c). */
  struct mes__tally tally;
};

/* ------------------------------------------------------------- daily counts (tally.c) */

/* How often the background thread moves the counts into the store. */
#define MES__TALLY_FLUSH_S 10
/* How many days of counts are kept (the console shows at most a year). */
#define MES__TALLY_KEEP_DAYS 366

void mes__tally_init(struct mes__tally *t);
void mes__tally_destroy(struct mes__tally *t);
/* Adds n (> 0) to today's count of kind ("events", "suppressions") and
 * label (an outcome, a rule; both copied, cut at 15 and 47 bytes). */
void mes__tally_add(struct mes_engine *e, int64_t now_ms, const char *kind, const char *label, int64_t n);
/* Moves the counts gathered in memory into the store (durable on return);
 * on failure they stay in memory for the next flush. */
int mes__tally_flush(struct mes_engine *e);
/* cb gets the counts from since_day on: the store's, then those still in
 * memory (the same day, kind and label may come once from each: add them). */
int mes__tally_days(struct mes_engine *e, int64_t since_day, mes_store_count_cb cb, void *ud);

/* Asks the background thread to retrain at its next tick (about a second). */
void mes__engine_request_retrain(struct mes_engine *e);
/* Wakes the background thread for a tick now. */
void mes__engine_kick_background(struct mes_engine *e);

/* ------------------------------------------------------------- the live model (live.c) */

/* The newest stored model goes live when it is newer than the live one and
 * has seen every journaled erasure (else it is never served, and a
 * retraining is asked for). */
void mes__model_poll(struct mes_engine *e);
/* The live model without the people of the erasure journal's new records
 * (erased by this process or another sharing the store): unlearned at once
 * when it can, else no model (non-personal answers) and a retraining. */
void mes__model_follow(struct mes_engine *e);
/* The durable save of the model an unlearning made live, if one awaits. */
void mes__model_save_unsaved(struct mes_engine *e);
/* Retrains when the policy's schedule or the events' growth says so, or when asked. */
void mes__model_maybe_retrain(struct mes_engine *e);
/* Once the erasure of store subject sid is journaled (its key and rows may
 * be going meanwhile, on another thread): the live model catches up with
 * the erasure journal (live.c), so that sid and anyone erased elsewhere
 * leave it at once (mes_model_unlearn), and serves the result; its durable
 * save follows the answer. had_events: events of theirs were stored when
 * the record was journaled (without, no model learnt from them: nothing to
 * unlearn for them). Any thread. When the live model cannot unlearn (loaded
 * from the store), no model serves and a retraining without the person is asked;
 * so too when EASE is too large to keep its inverse (EASE dropped until
 * then). Returns what the erasure receipt says of the model (new; NULL when
 * out of memory): {"contribution": "unlearned" | "none" (no model had
 * learnt from them) | "retraining", "at", "events" (of theirs the model
 * forgot), "exact"}. */
json_t *mes__engine_unlearn(struct mes_engine *e, int64_t sid, bool had_events, int64_t now_ms);
/* In the caller's store transaction, with the deletion of one event: the
 * store's count of events forgotten one by one grows by one (*count, the
 * new count), so that no stored model saved before is served again (live.c).
 * MES_E* from the store. */
int mes__engine_forgets_add(struct mes_engine *e, int64_t *count);
/* The same as mes__engine_unlearn for one event of sid (item, its kind, its
 * time), forgotten with DELETE /v1/subjects/{s}/events/{event_id} and
 * counted by mes__engine_forgets_add (count: the count it returned). */
json_t *mes__engine_forget_event(struct mes_engine *e, int64_t sid, const char *item, enum mes_kind kind,
                                 int64_t ts_ms, int64_t count, int64_t now_ms);

/* ------------------------------------------------------------- one call */

/* What a verb holds from its start to its end: the request (a reference to
 * the policy snapshot, the clock, the actor, GPC) and the language the
 * call's texts come in. */
struct mes__call {
  struct mes_engine *e;
  struct mes_call *call; /* the caller's, or `own` when it passed none */
  struct mes_call own;
  struct mes_req req;
  enum mes_lang lang;
};

/* Starts a call (call may be NULL: the host itself). Pair with mes__call_end. */
void mes__call_begin(struct mes__call *k, struct mes_engine *e, struct mes_call *call);
void mes__call_end(struct mes__call *k);

/*
 * Resolves subject id[0..len) (checked by the id rule) through
 * mes_subject_resolve (with create, unless the caller is a subject token),
 * keeps a subject token to its own subject (anything else is 403 forbidden,
 * whether or not the other subject exists) and puts the pseudonym in the
 * call. Errors: not_found (unknown, without create), forbidden, the
 * resolver's.
 */
int mes__call_subject(struct mes__call *k, const char *id, size_t len, bool create, struct mes_subject *out,
                      struct mes_err *err);
/* The same for an id of namespace ns (MES_NS_ANON: an anonymous visitor,
 * whose browser token is kept to that visitor alike). */
int mes__call_subject_ns(struct mes__call *k, enum mes_subject_ns ns, const char *id, size_t len, bool create,
                         struct mes_subject *out, struct mes_err *err);
/*
 * For a subject token, checks that a request document names the token's own
 * person: `doc` (an event, or a recommendation request) must carry
 * "subject" (or "anonymous_id") naming the token's person (a subject, or
 * the anonymous visitor it was minted for); a document naming nobody or
 * anyone else is forbidden, whether or not that other exists.
 * MES_OK at once for any other caller (an API key, the host). `field` is
 * the JSON pointer of doc ("" for the body), for the error's.
 */
int mes__call_own_doc(struct mes__call *k, const json_t *doc, const char *field, struct mes_err *err);
/* The same for every event of an ingest body (one event, or {"events":
 * [...]}): one event naming someone else refuses the whole batch. */
int mes__call_own_events(struct mes__call *k, const json_t *body, struct mes_err *err);
/* The same, where an unknown subject is no error for a key (the consent
 * verbs read it as "nothing granted" and create it on a write): out->row.id
 * is 0 then. */
int mes__call_subject_gate(struct mes__call *k, const char *id, size_t len, struct mes_subject *out,
                           struct mes_err *err);
int mes__call_subject_gate_ns(struct mes__call *k, enum mes_subject_ns ns, const char *id, size_t len,
                              struct mes_subject *out, struct mes_err *err);

/*
 * The body as a JSON object checked against a field table (base/json.h).
 * *out is a new reference. Errors: empty_body, malformed_json, invalid_utf8,
 * wrong_type, unknown_field, missing_field and the field checks, with
 * their JSON pointer.
 */
int mes__body_object(const struct mes_body *b, const struct mes_jfield *fields, size_t n_fields, json_t **out,
                     struct mes_err *err);
/* True when the body carries anything (text bytes or a document). */
bool mes__body_given(const struct mes_body *b);

/* Sets *p to NULL when p is not NULL: verbs clear their out pointers first. */
#define MES__CLEAR(p) \
  do {                \
    if (p)            \
      *(p) = NULL;    \
  } while (0)

#endif
