/*
 * recommend/facts — everything one request knows about who asks, gathered
 * once: the subject, the consent decision, the live history (one store read),
 * preferences, impressions (stored and still queued), and the catalog facts
 * of the items it touches (cached per request, from the in-memory index).
 *
 * What is read depends on consent. Personalized: the whole history (events
 * that serve a purpose the channel needs may feed scores), the interests,
 * the impressions. Not personalized but known: only the suppression facts
 * (purchases, dismissals, excluded categories), never used to rank.
 */
#include <stdio.h>
#include <string.h>

#include "consent/consent.h"
#include "ingest/ingest.h"
#include "recommend/rec_int.h"

#define MS_PER_HOUR 3600000LL

/* ---------------------------------------------------------------- item facts */

#define ITEMS_FIRST 256       /* entries the cache is sized for at first: a page's candidates and history */
#define ITEMS_MAX (1u << 24)  /* a bound far above any request's items */

/* The cache's first table and array, made by mes__rec_facts before anything
 * is looked up: a lookup that runs out of memory is absorbed by some callers
 * (judged the careful way), so the first allocations are made where a
 * failure fails the request. */
static int items_ready(struct rec_state *s) {
  if (!s->item_v) {
    if (!(s->item_v = mes_arena_alloc(&s->arena, ITEMS_FIRST * sizeof *s->item_v)))
      return MES_ENOMEM;
    s->cap_item_v = ITEMS_FIRST;
  }
  return mes_htab_reserve(&s->items, ITEMS_FIRST);
}

static inline struct rec_item *item_cached(const struct rec_state *s, const char *id, uint32_t tag) {
  struct mes_htab_slot *sl;
  for (size_t pos = 0; (sl = mes_htab_next(&s->items, tag, &pos));) {
    struct rec_item *it = s->item_v[sl->val - 1];
    if (strcmp(it->id, id) == 0)
      return it;
  }
  return NULL;
}

/* Files it under tag (items_ready ran): NULL when out of memory. */
static struct rec_item *item_file(struct rec_state *s, struct rec_item *it, uint32_t tag) {
  size_t n = mes_htab_count(&s->items);
  if (n == s->cap_item_v) { /* the arena has no realloc: a new array, the old one left to it */
    size_t cap = n * 2;
    struct rec_item **v = mes_arena_alloc(&s->arena, cap * sizeof *v);
    if (!v)
      return NULL;
    if (n)
      memcpy(v, s->item_v, n * sizeof *v);
    s->item_v = v;
    s->cap_item_v = cap;
  }
  if (mes_htab_add(&s->items, tag, (uint32_t)n + 1, NULL))
    return NULL;
  s->item_v[n] = it;
  return it;
}

/* Caches the facts of id from the catalog entry e (found or not). NULL when
 * out of memory. */
static struct rec_item *item_add(struct rec_state *s, const char *id, uint32_t tag, const struct mes_catalog_entry *e,
                                 bool found) {
  struct rec_item *it = mes_arena_calloc(&s->arena, sizeof *it);
  if (!it || !(it->id = mes_arena_strndup(&s->arena, id, strlen(id))))
    return NULL;
  struct mes_item_facts *f = &it->facts;
  int rc = MES_ENOT_FOUND;
  if (found) {
    rc = MES_OK;
    f->available = e->available;
    for (size_t i = 0; i < e->n_cats && i < MES_GUARD_MAX_CATS; i++)
      f->cats[f->n_cats++] = e->cats[i]; /* interned: outlive the request */
  }
  f->known = rc == MES_OK; /* a store failure reads as "not in the catalog": never served */
  for (size_t i = 0; i < f->n_cats; i++) {
    int k = mes_policy_category(s->c->policy, f->cats[i], strlen(f->cats[i]));
    if (k >= 0) {
      f->sensitive |= s->c->policy->categories[k].sensitive;
      f->once |= s->c->policy->categories[k].lifecycle == MES_LIFECYCLE_ONCE;
      f->repeat |= s->c->policy->categories[k].lifecycle == MES_LIFECYCLE_REPEAT;
    }
  }
  f->repeat &= !f->once; /* a category bought once outweighs one bought again: the careful side */
  return item_file(s, it, tag);
}

const struct mes_item_facts *mes__rec_item(struct rec_state *s, const char *id, bool *oom) {
  if (items_ready(s)) {
    *oom = true;
    return NULL;
  }
  size_t len = strlen(id);
  uint32_t tag = mes_htab_tag(mes_hash_bytes(id, len));
  struct rec_item *it = item_cached(s, id, tag);
  if (!it) {
    struct mes_catalog_entry e;
    int rc = mes_catalog_lookup(s->r->catalog, id, len, &e);
    if (rc == MES_ENOMEM || !(it = item_add(s, id, tag, &e, rc == MES_OK))) {
      *oom = true;
      return NULL;
    }
  }
  return it->facts.known ? &it->facts : NULL;
}

/* Items looked up per call of mes_catalog_lookup_many. */
#define ITEMS_AHEAD 64

int mes__rec_items_ahead(struct rec_state *s, const char *const *ids, size_t n) {
  if (items_ready(s))
    return MES_ENOMEM;
  for (size_t at = 0; at < n;) {
    const char *want[ITEMS_AHEAD];
    size_t lens[ITEMS_AHEAD];
    uint32_t tags[ITEMS_AHEAD];
    size_t m = 0;
    for (; at < n && m < ITEMS_AHEAD; at++) {
      size_t len = strlen(ids[at]);
      uint32_t tag = mes_htab_tag(mes_hash_bytes(ids[at], len));
      if (item_cached(s, ids[at], tag))
        continue;
      bool dup = false; /* twice in this group: looked up once */
      for (size_t k = 0; k < m && !dup; k++)
        dup = tags[k] == tag && strcmp(want[k], ids[at]) == 0;
      if (dup)
        continue;
      want[m] = ids[at];
      lens[m] = len;
      tags[m++] = tag;
    }
    struct mes_catalog_entry e[ITEMS_AHEAD];
    bool found[ITEMS_AHEAD];
    int rc = m ? mes_catalog_lookup_many(s->r->catalog, want, lens, m, e, found) : MES_OK;
    if (rc == MES_ENOMEM)
      return rc;
    for (size_t k = 0; k < m; k++)
      if (!item_add(s, want[k], tags[k], &e[k], rc == MES_OK && found[k]))
        return MES_ENOMEM;
  }
  return MES_OK;
}

static const struct mes_item_facts *item_info_cb(void *ud, const char *item) {
  bool oom = false;
  return mes__rec_item(ud, item, &oom);
}

/* ---------------------------------------------------------------- history */

struct hist_read {
  struct rec_state *s;
  const enum mes_kind *kinds; /* by policy event type */
  bool failed;
};

/* True when the person asked that item's events never drive their
 * recommendations (preferences.do_not_use_items): such an event is still
 * held and still suppresses what it must (a purchase, a dismissal), but it
 * neither scores a candidate nor is cited as a reason. */
static bool unused_item(const struct rec_state *s, const char *item) {
  for (size_t i = 0; i < s->n_unused; i++)
    if (strcmp(s->unused[i], item) == 0)
      return true;
  return false;
}

/* One event into s->hist. held: ev is one of the records s->events holds
 * for the whole request, and is pointed to as it is; otherwise (why, whose
 * events are handed out for the callback's duration) it is copied into the
 * arena with its item and the event_id the API shows for it. Returns
 * nonzero to stop (out of memory). */
static int hist_add(struct hist_read *h, const struct mes_evrec *ev, bool held) {
  struct rec_state *s = h->s;
  int type = ev->type;
  if (!ev->item || type < 0 || (size_t)type >= s->c->policy->n_event_types)
    return 0; /* searches and types the policy no longer declares */
  enum mes_kind k = h->kinds[type];
  if (!s->personalized && k != MES_KIND_PURCHASE && k != MES_KIND_DISMISS)
    return 0; /* without consent, only what suppression needs */
  if (s->wishes_only && k != MES_KIND_DISMISS)
    return 0;
  if (s->n_hist == s->cap_hist) {
    size_t cap = s->cap_hist ? s->cap_hist * 2 : 64;
    struct mes_hist *nh = mes_arena_calloc(&s->arena, cap * sizeof *nh);
    struct rec_hist_x *nx = mes_arena_calloc(&s->arena, cap * sizeof *nx);
    if (!nh || !nx) {
      h->failed = true;
      return 1;
    }
    if (s->n_hist) {
      memcpy(nh, s->hist, s->n_hist * sizeof *nh);
      memcpy(nx, s->hist_x, s->n_hist * sizeof *nx);
    }
    s->hist = nh;
    s->hist_x = nx;
    s->cap_hist = cap;
  }
  struct mes_hist *e = &s->hist[s->n_hist];
  struct rec_hist_x *x = &s->hist_x[s->n_hist];
  if (!held) {
    struct mes_evrec *copy = mes_arena_calloc(&s->arena, sizeof *copy);
    char buf[32];
    const char *eid = mes_evrec_shown_id(ev, buf);
    if (!copy || !(copy->item = mes_arena_strndup(&s->arena, ev->item, ev->item_len)) ||
        !(x->event_id = mes_arena_strndup(&s->arena, eid, strlen(eid)))) {
      h->failed = true;
      return 1;
    }
    copy->id = ev->id;
    copy->sid = ev->sid;
    copy->type = type;
    copy->ts_ms = ev->ts_ms;
    copy->purposes = ev->purposes;
    copy->source = ev->source;
    copy->channel = ev->channel;
    copy->item_len = ev->item_len;
    ev = copy; /* the event_id is x->event_id; the cold part is not kept */
  }
  e->ev = ev;
  e->midx = s->m ? mes_model_item(s->m, ev->item, ev->item_len) : -1;
  e->kind = k;
  x->usable = s->personalized && (ev->purposes & s->need) != 0 && !unused_item(s, ev->item);
  s->n_hist++;
  return 0;
}

/* why: the whole events (mes_ingest_list), for the event ids it shows */
static int hist_cb(void *ud, const struct mes_evrec *ev) { return hist_add(ud, ev, false); }

static int read_history(struct rec_state *s, struct mes_err *err) {
  const struct mes_policy *p = s->c->policy;
  enum mes_kind *kinds = mes_arena_calloc(&s->arena, (p->n_event_types + 1) * sizeof *kinds);
  if (!kinds)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t t = 0; t < p->n_event_types; t++)
    kinds[t] = mes_kind_of(p->event_types[t].name);
  struct hist_read h = {.s = s, .kinds = kinds};
  int rc;
  if (s->why_mode) {
    rc = mes_ingest_list(s->r->ingester, s->c, s->subj.row.id, hist_cb, &h, err);
  } else { /* a request: the hot fields only, held until the request ends (through the history cache) */
    rc = mes_ingest_history_open(s->r->ingester, s->subj.row.id, &s->events, err);
    for (size_t i = 0; !rc && i < s->events.n; i++)
      if (hist_add(&h, &s->events.ev[i], true))
        break;
  }
  if (rc == MES_ENOT_FOUND) { /* the key is gone: nothing readable is held */
    mes_err_clear(err);
    s->n_hist = 0;
    return MES_OK;
  }
  if (!rc && h.failed)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  return rc;
}

/* ---------------------------------------------------------------- preferences */

/* The person's preferences, decoded once (consent/prefrec.h) and held until
 * the state is released: the facts point into them. */
static int read_preferences(struct rec_state *s, struct mes_err *err) {
  int rc = mes_consent_read_preferences(s->r->ledger, s->subj.row.id, &s->prefs, err);
  if (rc)
    return rc;
  /* Exclusions are obeyed everywhere; interests feed only personal answers. */
  s->excluded = s->prefs.exclude_categories.v;
  s->n_excluded = s->prefs.exclude_categories.n;
  s->unused = s->prefs.do_not_use_items.v;
  s->n_unused = s->prefs.do_not_use_items.n;
  if (s->personalized) {
    s->interests = s->prefs.interests.v;
    s->n_interests = s->prefs.interests.n;
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- impressions */

struct imp_read {
  struct rec_state *s;
  size_t n_queued; /* the first n_queued entries came from the queue */
  bool from_store;
  bool failed;
};

static int imp_cb(void *ud, const char *item, int channel, int64_t ts_ms) {
  struct imp_read *ir = ud;
  struct rec_state *s = ir->s;
  if (ir->from_store) {
    /* A queued impression written meanwhile shows up twice: count it once. */
    for (size_t i = 0; i < ir->n_queued; i++)
      if (s->imps[i].ts_ms == ts_ms && s->imps[i].channel == channel && strcmp(s->imps[i].item, item) == 0)
        return 0;
  }
  if (s->n_imps == s->cap_imps) {
    size_t cap = s->cap_imps ? s->cap_imps * 2 : 64;
    struct mes_impression *ni = mes_arena_calloc(&s->arena, cap * sizeof *ni);
    if (!ni) {
      ir->failed = true;
      return 1;
    }
    if (s->n_imps)
      memcpy(ni, s->imps, s->n_imps * sizeof *ni);
    s->imps = ni;
    s->cap_imps = cap;
  }
  struct mes_impression *e = &s->imps[s->n_imps];
  if (!(e->item = mes_arena_strndup(&s->arena, item, strlen(item)))) {
    ir->failed = true;
    return 1;
  }
  e->channel = channel;
  e->ts_ms = ts_ms;
  s->n_imps++;
  return 0;
}

static int read_impressions(struct rec_state *s, struct mes_err *err) {
  int hours = s->c->policy->guardrails.frequency_cap_window_hours;
  int64_t since = s->c->now_ms - (int64_t)(hours > 0 ? hours : 0) * MS_PER_HOUR;
  struct imp_read ir = {.s = s};
  /* The queue first, then the store: an impression moving from one to the
   * other meanwhile is seen twice (and counted once), never missed. */
  if (s->r)
    mes__rec_queued_impressions(s->r, s->subj.row.id, since, imp_cb, &ir);
  ir.n_queued = s->n_imps;
  ir.from_store = true;
  if (ir.failed)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_recommender_shown_list(s->r, s->subj.row.id, since, imp_cb, &ir, err);
  if (!rc && ir.failed)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  return rc;
}

/* ---------------------------------------------------------------- the whole */

/* A request with Sec-GPC: 1 that meets an earlier grant of a gpc-honored
 * purpose records the override once, as ingestion does (contract §5). Rare:
 * after it the grant is gone, so the hot path never writes. */
static int note_gpc(struct rec_state *s, const char *id, size_t len, struct mes_err *err) {
  if (!mes_consent_gpc_overrides(s->c, s->subj.row.granted))
    return MES_OK;
  struct mes_store *st = s->r->st;
  int rc = mes_store_tx_begin(st);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  rc = mes_consent_note_gpc(s->r->ledger, s->c, id, len, &s->subj, err);
  if (rc) {
    mes_store_tx_rollback(st);
    return rc;
  }
  uint64_t ticket;
  rc = mes_store_tx_commit(st, &ticket);
  if (!rc)
    rc = mes_store_wait_durable(st, ticket);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

void mes__rec_state_init(struct rec_state *s) {
  mes_arena_init(&s->arena, NULL, 0, REC_ARENA_CHUNK, REC_ARENA_MAX);
  mes_htab_init_arena(&s->items, &s->arena, ITEMS_MAX);
  mes_htab_init_arena(&s->cand_map, &s->arena, REC_MAX_PROPOSED);
}

int mes__rec_facts(struct rec_state *s, struct mes_err *err) {
  mes__rec_state_init(s);
  if (items_ready(s))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  const struct mes_req *c = s->c;
  const struct mes_rec_request *q = &s->req;
  s->need = mes_policy_channel_purposes(c->policy, q->channel);
  const char *id = q->subject ? q->subject : q->anonymous_id;
  size_t len = q->subject ? q->subject_len : q->anonymous_len;
  enum mes_subject_ns ns = q->subject ? MES_NS_SUBJECT : MES_NS_ANON;
  int rc;
  if (id) {
    rc = mes_subject_resolve(s->r->subjects, c, ns, id, len, false, &s->subj);
    if (rc == MES_OK) {
      s->known = s->subj.row.id > 0;
    } else if (rc != MES_ENOT_FOUND) {
      return mes_err_set(err, rc, NULL, NULL);
    }
  }
  if (s->known) {
    if ((rc = note_gpc(s, id, len, err)))
      return rc;
    uint32_t granted = mes_consent_effective(c, s->subj.row.granted);
    s->personalized = !s->subj.row.restricted && s->need != 0 && (granted & s->need) == s->need;
    /* Whoever sits at a shared or signed-out screen may not be the person:
     * the answer is the one anybody would get there, less what the person
     * asked never to see. Anything else read from their history would show,
     * by contrast, what it points to (what they bought, most plainly). */
    if ((q->device_shared || !q->authenticated) && c->policy->guardrails.shared_device_hide_history) {
      s->personalized = false;
      s->wishes_only = true;
    }
    /* Preferences first: they say which events of the history may be used. */
    if ((rc = read_preferences(s, err)) || (rc = read_history(s, err)))
      return rc;
    if (s->personalized && !s->no_rules && (rc = read_impressions(s, err)))
      return rc;
  }
  s->facts = (struct mes_guard_facts){
      .policy = c->policy,
      .model = s->m,
      .now_ms = c->now_ms,
      .channel = q->channel,
      .personalized = s->personalized,
      .known_subject = s->known,
      .authenticated = q->authenticated,
      .device_shared = q->device_shared,
      .hist = s->hist,
      .n_hist = s->n_hist,
      .imps = s->imps,
      .n_imps = s->n_imps,
      .interests = s->interests,
      .n_interests = s->n_interests,
      .excluded_cats = s->excluded,
      .n_excluded = s->n_excluded,
      .item_info = item_info_cb,
      .item_info_ud = s,
  };
  /* What the person declared, judged once here for the scorer and every
   * round of the rules. */
  mes_guard_declared_init(&s->facts, &s->declared);
  s->facts.declared = &s->declared;
  if (s->n_imps) { /* counted once here, not by the frequency cap in every round of the fill */
    void *storage = mes_arena_alloc(&s->arena, mes_guard_shown_bytes(s->n_imps));
    if (!storage)
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    mes_guard_shown_count(&s->facts, &s->shown, storage);
    s->facts.shown = &s->shown;
  }
  return MES_OK;
}

void mes__rec_state_release(struct rec_state *s) {
  mes_ingest_history_close(&s->events);
  mes_prefs_release(&s->prefs);
  mes_arena_release(&s->arena);
}
