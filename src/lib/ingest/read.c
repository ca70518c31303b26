/*
 * ingest/read — a subject's events read back (decrypted) for exports and
 * recommendations, and one event forgotten on request (contract §7).
 */
#include "ingest/ingest_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "base/id.h"
#include "base/mtime.h"

/* ---------------------------------------------------------------- list */

struct list_ud {
  struct mes_ingester *ing;
  const struct mes_req *c;
  mes_ingest_event_cb cb;
  void *ud;
  int rc;
  struct mes_evrec_scratch sc;
};

/* The clear columns of row into r, mapped with policy p. */
static void from_row(struct mes_evrec *r, const struct mes_event_row *row, const struct mes_policy *p) {
  r->id = row->id;
  r->sid = row->sid;
  r->type = row->type >= 0 && (size_t)row->type < p->n_event_types ? row->type : -1;
  r->ts_ms = row->ts_ms;
  r->purposes = row->purposes;
  r->source = row->source >= 0 && row->source < MES_SRC_N ? (enum mes_source)row->source : MES_SRC_FIRST;
}

static int on_row(void *ud, const struct mes_event_row *row) {
  struct list_ud *l = ud;
  char *pt = NULL;
  size_t pt_len = 0;
  l->rc = mes_subject_unseal(l->ing->subjects, row->sid, MES__INGEST_KIND, row->sealed, row->sealed_len, &pt, &pt_len);
  if (l->rc)
    return 1;
  struct mes_evrec r;
  from_row(&r, row, l->c->policy);
  l->rc = mes_evrec_decode((const uint8_t *)pt, pt_len, &l->sc, &r);
  int stop = l->rc ? 1 : l->cb(l->ud, &r);
  mes_wipe(pt, pt_len);
  free(pt);
  return stop;
}

int mes_ingest_list(struct mes_ingester *ing, const struct mes_req *c, int64_t sid, mes_ingest_event_cb cb, void *ud,
                    struct mes_err *err) {
  struct list_ud l = {ing, c, cb, ud, MES_OK, {0}};
  int rc = mes_store_event_list(ing->store, sid, on_row, &l);
  mes_evrec_scratch_release(&l.sc);
  if (!rc)
    rc = l.rc;
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "This person's data has been erased.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}

/* ---------------------------------------------------------------- forget */

struct find_ud {
  int64_t eid;    /* keyed hash of the id as a client event_id */
  int64_t row_id; /* the id read as "ev_<row id>", 0 when it is not of that form */
  int64_t found;  /* row id of the match, 0 when none */
  bool want;      /* keep what the match was (below) */
  struct mes_event_row row; /* the match, sealed pointing into `sealed` */
  uint8_t *sealed;          /* a copy of the match's sealed document, owned */
  int rc;
};

static void found(struct find_ud *f, const struct mes_event_row *row) {
  f->found = row->id;
  if (!f->want)
    return;
  free(f->sealed);
  f->row = *row;
  f->sealed = malloc(row->sealed_len ? row->sealed_len : 1);
  if (!f->sealed)
    f->rc = MES_ENOMEM;
  else
    memcpy(f->sealed, row->sealed, row->sealed_len);
  f->row.sealed = f->sealed;
}

static int on_find(void *ud, const struct mes_event_row *row) {
  struct find_ud *f = ud;
  if (row->eid == f->eid) {
    found(f, row);
    return 1;
  }
  if (row->eid == 0 && f->row_id && row->id == f->row_id)
    found(f, row); /* keep looking: a client event_id match wins */
  return 0;
}

/* The item of the sealed event f->row, into out->item ("" when none). */
static int forgotten_item(struct mes_ingester *ing, const struct find_ud *f, struct mes_ingest_forgotten *out) {
  char *pt = NULL;
  size_t pt_len = 0;
  int rc = mes_subject_unseal(ing->subjects, f->row.sid, MES__INGEST_KIND, f->row.sealed, f->row.sealed_len, &pt,
                              &pt_len);
  if (rc)
    return rc;
  struct mes_evrec_scratch sc = {0};
  struct mes_evrec r;
  rc = mes_evrec_decode((const uint8_t *)pt, pt_len, &sc, &r);
  if (!rc)
    snprintf(out->item, sizeof out->item, "%s", r.item ? r.item : "");
  mes_evrec_scratch_release(&sc);
  mes_wipe(pt, pt_len);
  free(pt);
  return rc;
}

/* "ev_<decimal row id>" -> the row id, else 0. */
static int64_t parse_rowid(const char *s, size_t len) {
  size_t plen = strlen(MES_EVREC_ROWID_PREFIX);
  if (len <= plen || len > plen + 18 || memcmp(s, MES_EVREC_ROWID_PREFIX, plen) != 0)
    return 0;
  int64_t v = 0;
  for (size_t i = plen; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int mes_ingest_forget(struct mes_ingester *ing, const struct mes_subject *s, const char *event_id, size_t event_len,
                      struct mes_err *err) {
  return mes_ingest_forget_event(ing, s, event_id, event_len, NULL, err);
}

int mes_ingest_forget_event(struct mes_ingester *ing, const struct mes_subject *s, const char *event_id,
                            size_t event_len, struct mes_ingest_forgotten *out, struct mes_err *err) {
  int rc = mes_id_check(event_id, event_len);
  if (rc)
    return mes_err_set(err, rc, NULL, "An event id must be 1 to 128 bytes of UTF-8 without control characters.");
  struct find_ud f = {
      .eid = mes_keyed_hash64(ing->master, s->pn, event_id, event_len),
      .row_id = parse_rowid(event_id, event_len),
      .want = out != NULL,
  };
  rc = mes_store_event_list(ing->store, s->row.id, on_find, &f);
  if (!rc)
    rc = f.rc;
  if (!rc && !f.found)
    rc = MES_ENOT_FOUND;
  /* Read before the row goes: afterwards the event exists nowhere. */
  if (!rc && out) {
    memset(out, 0, sizeof *out);
    out->type = f.row.type;
    out->ts_ms = f.row.ts_ms;
    rc = forgotten_item(ing, &f, out);
  }
  free(f.sealed);
  /* Outside a transaction the delete runs in one of its own and is durable
   * when it returns; a concurrent delete of the same event reads NOT_FOUND. */
  if (!rc)
    rc = mes_store_event_delete(ing->store, s->row.id, f.found);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "This subject has no event with this id.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}

/* ---------------------------------------------------------------- scan */

/* The subjects a scan may read: an array, and a table from store id to
 * index + 1 in it. */
enum { KEY_UNKNOWN = 0, KEY_OK, KEY_GONE };

struct scan_subj {
  int64_t sid;
  uint32_t granted; /* & the scan's purposes; nonzero for every subject listed */
  uint8_t key_state;
  bool used;
  uint8_t key[MES_KEY_BYTES];
};

struct scan_ud {
  struct mes_ingester *ing;
  const struct mes_req *c;
  uint32_t purposes;
  mes_ingest_event_cb cb;
  void *ud;
  struct scan_subj *subj; /* n of them, room for cap */
  size_t n, cap;
  struct mes_htab by_sid; /* a store id's tag -> index into subj + 1 */
  uint8_t *pt; /* unsealed document, reused */
  size_t pt_cap;
  struct mes_evrec_scratch sc; /* for version 0 documents, reused */
  struct mes_ingest_scan_stats st; /* rows, not_purpose, key_gone: producer; the rest: consumer */
  int64_t bad_rows;                 /* producer: too short to be sealed */
  int rc;                           /* consumer's failure */
  int prc;                          /* producer's failure */
  struct pipe *pipe;
  bool threaded;
};

#define MAX_SUBJECTS (UINT32_MAX / 2) /* indexes are 32 bits */

static struct scan_subj *subj_find(const struct scan_ud *s, int64_t sid) {
  struct mes_htab_slot *sl;
  for (size_t pos = 0; (sl = mes_htab_next(&s->by_sid, mes_htab_tag((uint64_t)sid), &pos));)
    if (s->subj[sl->val - 1].sid == sid)
      return &s->subj[sl->val - 1];
  return NULL;
}

static int on_subject(void *ud, const struct mes_subject_row *row) {
  struct scan_ud *s = ud;
  uint32_t g = row->granted & s->purposes;
  if (row->restricted || !g || row->id <= 0)
    return 0;
  struct scan_subj *e = subj_find(s, row->id);
  if (e) {
    e->granted = g;
    return 0;
  }
  if (s->n == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    /* no key is loaded yet (keys come with the events): nothing to wipe */
    struct scan_subj *ns = ncap <= MAX_SUBJECTS ? realloc(s->subj, ncap * sizeof *ns) : NULL;
    if (!ns) {
      s->rc = MES_ENOMEM;
      return 1;
    }
    s->subj = ns;
    s->cap = ncap;
  }
  if (mes_htab_add(&s->by_sid, mes_htab_tag((uint64_t)row->id), (uint32_t)s->n + 1, NULL)) {
    s->rc = MES_ENOMEM;
    return 1;
  }
  s->subj[s->n++] = (struct scan_subj){.sid = row->id, .granted = g};
  return 0;
}

/*
 * The scan is a two-stage pipeline, because opening the events costs about
 * as much as reading them: the calling thread steps through the store,
 * drops what may not count, fetches keys and copies the rest into batches;
 * one worker thread unseals each batch, decodes it (evrec.h) and calls cb,
 * in row order. NBATCH batches circulate between the two.
 */
#define BATCH_ROWS 2048
#define NBATCH 4

struct brow {
  int64_t id, sid, ts_ms;
  int type, source;
  uint32_t purposes;
  struct scan_subj *subj;
  size_t at, len; /* the sealed bytes in the batch's arena */
};

struct batch {
  struct brow rows[BATCH_ROWS];
  size_t n;
  uint8_t *arena;
  size_t arena_len, arena_cap;
};

struct pipe {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct batch b[NBATCH];
  size_t head, tail; /* batches filled: [tail, head), modulo NBATCH, counted */
  bool done;         /* the producer has no more */
  bool stop;         /* the consumer stopped (cb asked, or failed) */
  struct batch *fill; /* the producer's current batch */
};

/* mes_pt_reserve for s->pt; nonzero, with s->rc set, when out of memory. */
static int pt_reserve(struct scan_ud *s, size_t n) {
  if (mes_pt_reserve(&s->pt, &s->pt_cap, n) == MES_OK)
    return 0;
  s->rc = MES_ENOMEM;
  return 1;
}

/* Consumer side: one row of a batch. Returns nonzero to stop. */
static int open_row(struct scan_ud *s, const struct batch *bt, const struct brow *r) {
  size_t n = r->len - MES_SEAL_OVERHEAD;
  if (pt_reserve(s, n))
    return 1;
  const struct mes_policy *p = s->c->policy;
  struct mes_evrec ev = {
      .id = r->id,
      .sid = r->sid,
      .type = r->type >= 0 && (size_t)r->type < p->n_event_types ? r->type : -1,
      .ts_ms = r->ts_ms,
      .purposes = r->purposes,
      .source = r->source >= 0 && r->source < MES_SRC_N ? (enum mes_source)r->source : MES_SRC_FIRST,
  };
  int rc = mes_subject_unseal_key(r->subj->key, r->sid, MES__INGEST_KIND, bt->arena + r->at, r->len, s->pt);
  if (!rc)
    rc = mes_evrec_decode(s->pt, n, &s->sc, &ev);
  if (rc == MES_ENOMEM) {
    s->rc = rc;
    return 1; /* the scan fails rather than skip a readable event */
  }
  if (rc) {
    s->st.unreadable++;
    return 0;
  }
  s->st.used++;
  if (!r->subj->used) {
    r->subj->used = true;
    s->st.subjects++;
  }
  return s->cb(s->ud, &ev);
}

static int open_batch(struct scan_ud *s, struct batch *bt) {
  for (size_t i = 0; i < bt->n; i++)
    if (open_row(s, bt, &bt->rows[i]))
      return 1;
  return 0;
}

static void *consumer_main(void *arg) {
  struct scan_ud *s = arg;
  struct pipe *pp = s->pipe;
  pthread_mutex_lock(&pp->mu);
  for (;;) {
    while (pp->head == pp->tail && !pp->done)
      pthread_cond_wait(&pp->cv, &pp->mu);
    if (pp->head == pp->tail)
      break; /* done and drained */
    struct batch *bt = &pp->b[pp->tail % NBATCH];
    pthread_mutex_unlock(&pp->mu);
    int stop = open_batch(s, bt);
    pthread_mutex_lock(&pp->mu);
    pp->tail++;
    if (stop)
      pp->stop = true;
    pthread_cond_broadcast(&pp->cv);
    if (stop)
      break;
  }
  pthread_mutex_unlock(&pp->mu);
  return NULL;
}

/* Producer side: hands the current batch over (or opens it here when there
 * is no worker) and takes a free one. Nonzero: stop scanning. */
static int flush_batch(struct scan_ud *s) {
  struct pipe *pp = s->pipe;
  struct batch *bt = pp->fill;
  if (!bt || bt->n == 0)
    return pp->stop;
  if (!s->threaded) {
    int stop = open_batch(s, bt);
    bt->n = bt->arena_len = 0;
    return stop;
  }
  pthread_mutex_lock(&pp->mu);
  pp->head++;
  pthread_cond_broadcast(&pp->cv);
  while (pp->head - pp->tail >= NBATCH && !pp->stop)
    pthread_cond_wait(&pp->cv, &pp->mu);
  int stop = pp->stop;
  pp->fill = &pp->b[pp->head % NBATCH];
  pthread_mutex_unlock(&pp->mu);
  pp->fill->n = pp->fill->arena_len = 0;
  return stop;
}

static int on_scan_row(void *ud, const struct mes_event_row *row) {
  struct scan_ud *s = ud;
  s->st.rows++;
  struct scan_subj *e = subj_find(s, row->sid);
  if (!e || !(row->purposes & e->granted)) {
    s->st.not_purpose++;
    return 0;
  }
  if (e->key_state == KEY_UNKNOWN) {
    int rc = mes_subject_key_stored(s->ing->subjects, row->sid, e->key);
    if (rc == MES_ENOT_FOUND) {
      e->key_state = KEY_GONE;
    } else if (rc) {
      s->prc = rc;
      return 1;
    } else {
      e->key_state = KEY_OK;
    }
  }
  if (e->key_state == KEY_GONE) {
    s->st.key_gone++;
    return 0;
  }
  if (row->sealed_len < MES_SEAL_OVERHEAD) {
    s->bad_rows++;
    return 0;
  }
  struct batch *bt = s->pipe->fill;
  if (bt->arena_len + row->sealed_len > bt->arena_cap) {
    size_t ncap = bt->arena_cap ? bt->arena_cap : 65536;
    while (ncap < bt->arena_len + row->sealed_len)
      ncap *= 2;
    uint8_t *na = realloc(bt->arena, ncap);
    if (!na) {
      s->prc = MES_ENOMEM;
      return 1;
    }
    bt->arena = na;
    bt->arena_cap = ncap;
  }
  memcpy(bt->arena + bt->arena_len, row->sealed, row->sealed_len);
  bt->rows[bt->n++] = (struct brow){.id = row->id,
                                    .sid = row->sid,
                                    .ts_ms = row->ts_ms,
                                    .type = row->type,
                                    .source = row->source,
                                    .purposes = row->purposes,
                                    .subj = e,
                                    .at = bt->arena_len,
                                    .len = row->sealed_len};
  bt->arena_len += row->sealed_len;
  return bt->n == BATCH_ROWS ? flush_batch(s) : 0;
}

int mes_ingest_scan(struct mes_ingester *ing, const struct mes_req *c, uint32_t purposes, mes_ingest_event_cb cb,
                    void *ud, struct mes_ingest_scan_stats *stats, struct mes_err *err) {
  /* Keys come from the keystore, not the registry's cache (see ingest.h):
   * on_scan_row reads them with mes_subject_key_stored. */
  struct scan_ud s = {.ing = ing, .c = c, .purposes = purposes, .cb = cb, .ud = ud, .rc = MES_OK};
  mes_htab_init(&s.by_sid, MAX_SUBJECTS);
  struct pipe *pp = calloc(1, sizeof *pp);
  if (!pp)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  pthread_mutex_init(&pp->mu, NULL);
  pthread_cond_init(&pp->cv, NULL);
  pp->fill = &pp->b[0];
  s.pipe = pp;
  int rc = MES_OK;
  pthread_t th;
  if (purposes) {
    rc = mes_store_subject_scan(ing->store, on_subject, &s);
    if (!rc)
      rc = s.rc;
    if (!rc && s.n > 0) {
      s.threaded = pthread_create(&th, NULL, consumer_main, &s) == 0;
      rc = mes_store_event_scan(ing->store, on_scan_row, &s);
      if (!s.prc)
        flush_batch(&s); /* the last, partial batch */
      if (s.threaded) {
        pthread_mutex_lock(&pp->mu);
        pp->done = true;
        pthread_cond_broadcast(&pp->cv);
        pthread_mutex_unlock(&pp->mu);
        pthread_join(th, NULL);
      }
      if (!rc)
        rc = s.prc;
      if (!rc)
        rc = s.rc;
    }
  }
  for (int i = 0; i < NBATCH; i++)
    free(pp->b[i].arena);
  pthread_mutex_destroy(&pp->mu);
  pthread_cond_destroy(&pp->cv);
  free(pp);
  if (s.subj) {
    mes_wipe(s.subj, s.n * sizeof *s.subj);
    free(s.subj);
  }
  mes_htab_release(&s.by_sid);
  if (s.pt) {
    mes_wipe(s.pt, s.pt_cap);
    free(s.pt);
  }
  mes_evrec_scratch_release(&s.sc);
  s.st.unreadable += s.bad_rows;
  if (stats)
    *stats = s.st;
  if (s.st.unreadable)
    mes_log(ing->log, MES_LOG_WARN, "training scan: %lld events could not be opened and were skipped",
            (long long)s.st.unreadable);
  if (rc)
    return mes_err_set(err, rc, NULL, "Reading the stored events failed.");
  return MES_OK;
}

/* ---------------------------------------------------------------- history (light) */

/* One subject's events as serving reads them: the key fetched once, each
 * document unsealed into one reused buffer and decoded in place
 * (mes_evrec_decode), the hot fields kept in `build`. */
struct hist_ud {
  struct scan_ud s; /* the reused plaintext buffer and scratch; ing */
  int64_t sid;
  bool have_key;
  uint8_t key[MES_KEY_BYTES];
  struct mes_histcache_build *build;
};

static int on_hist_row(void *ud, const struct mes_event_row *row) {
  struct hist_ud *h = ud;
  struct scan_ud *s = &h->s;
  if (!h->have_key) {
    if ((s->rc = mes_subject_key(s->ing->subjects, h->sid, h->key)))
      return 1; /* MES_ENOT_FOUND: shredded, as mes_ingest_list says it */
    h->have_key = true;
  }
  if (row->sealed_len < MES_SEAL_OVERHEAD) {
    s->rc = MES_ECRYPTO;
    return 1;
  }
  size_t n = row->sealed_len - MES_SEAL_OVERHEAD;
  if (pt_reserve(s, n))
    return 1;
  if ((s->rc = mes_subject_unseal_key(h->key, row->sid, MES__INGEST_KIND, row->sealed, row->sealed_len, s->pt)))
    return 1;
  struct mes_evrec ev;
  if ((s->rc = mes_evrec_decode(s->pt, n, &s->sc, &ev)))
    return 1; /* MES_EINTERNAL: what mes_ingest_list says of a document that does not decode */
  enum mes_source source = row->source >= 0 && row->source < MES_SRC_N ? (enum mes_source)row->source : MES_SRC_FIRST;
  /* The type stays as stored: each reader maps it with its own policy. */
  mes_histcache_build_row(h->build, row->id);
  ev.id = row->id;
  ev.sid = h->sid;
  ev.type = row->type;
  ev.ts_ms = row->ts_ms;
  ev.purposes = row->purposes;
  ev.source = source;
  return (s->rc = mes_histcache_build_add(h->build, &ev)) != MES_OK;
}

/* Reads sid's events from the store into *b, in time order: read in the
 * order they were stored (no sort in the store) and put in order here, where
 * only the few bytes serving keeps are moved. A store, crypto or memory
 * error, or MES_ENOT_FOUND when the key is gone. */
static int history_fill(void *ud, int64_t sid, struct mes_histcache_build *b) {
  struct mes_ingester *ing = ud;
  struct hist_ud *h = calloc(1, sizeof *h); /* the key lives here: wiped below */
  if (!h)
    return MES_ENOMEM;
  h->s.ing = ing;
  h->sid = sid;
  h->build = b;
  int rc = mes_store_event_list_stored(ing->store, sid, on_hist_row, h);
  if (!rc)
    rc = h->s.rc;
  if (h->s.pt) {
    mes_wipe(h->s.pt, h->s.pt_cap);
    free(h->s.pt);
  }
  mes_evrec_scratch_release(&h->s.sc);
  mes_wipe(h, sizeof *h);
  free(h);
  if (!rc)
    rc = mes__hc_build_by_time(b);
  return rc;
}

/* The read without the cache: collected, ordered, made an entry that no
 * cache holds (the caller's reference is its only one). */
static int history_read(struct mes_ingester *ing, int64_t sid, struct mes_histcache_entry **out) {
  struct mes_histcache_build b = {0};
  int rc = history_fill(ing, sid, &b);
  if (rc) {
    mes__hc_build_release(&b);
    return rc;
  }
  return mes__hc_build_finish(&b, sid, MES_HISTCACHE_EVENTS, out);
}

static const struct mes_histcache_source history_source = {
    .kind = MES_HISTCACHE_EVENTS, .stamp = mes_store_event_stamp, .fill = history_fill};

int mes_ingest_history_open(struct mes_ingester *ing, int64_t sid, struct mes_ingest_events *out,
                            struct mes_err *err) {
  *out = (struct mes_ingest_events){.ing = ing};
  struct mes_histcache_entry *e = NULL;
  bool bypass;
  int rc = mes_ingest_cache_get(ing, sid, &history_source, ing, &e, &bypass); /* unless it cannot help */
  if (!rc && bypass)
    rc = history_read(ing, sid, &e);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "This person's data has been erased.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  out->entry = e;
  if (e)
    out->ev = mes_histcache_records(e, &out->n);
  return MES_OK;
}

void mes_ingest_history_close(struct mes_ingest_events *h) {
  if (h && h->entry)
    mes__hc_release(h->ing->cache, h->entry);
  if (h)
    *h = (struct mes_ingest_events){0};
}

int mes_ingest_history(struct mes_ingester *ing, const struct mes_req *c, int64_t sid, mes_ingest_event_cb cb, void *ud,
                       struct mes_err *err) {
  struct mes_ingest_events h;
  int rc = mes_ingest_history_open(ing, sid, &h, err);
  if (rc)
    return rc;
  const struct mes_policy *p = c->policy;
  for (size_t i = 0; i < h.n; i++) {
    struct mes_evrec ev = h.ev[i];
    if (ev.type < 0 || (size_t)ev.type >= p->n_event_types)
      ev.type = -1; /* stored under a type this policy does not declare */
    if (cb(ud, &ev))
      break;
  }
  mes_ingest_history_close(&h);
  return MES_OK;
}
