/*
 * recommend/record — the recommender object: a queue of decision records and
 * impressions written by one background thread, so that a request never
 * waits for a disk write; reading a record back (queued or stored); the
 * retention sweep.
 *
 * The queue is a linked list under one mutex. The writer takes the whole
 * list at once (it becomes the "in flight" batch, still searchable), writes
 * the records in one transaction and the impressions in another, then drops
 * the batch. Access log entries (access.c) ride in the same queue and are
 * chained and written in the same pass, so that logging a read costs a
 * request no more than queueing its decision record. Readers (GET of a record, the frequency cap's impressions)
 * search the queue and the batch in flight before the store, so nothing is
 * ever invisible between the two.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mtime.h"
#include "base/thread.h"
#include "crypto/crypto.h"
#include "recommend/decrec.h"
#include "recommend/rec_int.h"

/* What may wait for the writer; beyond either bound, records are dropped
 * (counted, logged at exit, shown in /metrics) rather than let the server's
 * memory grow with a writer that fell behind (a slow disk): the queue is
 * one of the bounded parts of the server's peak memory. */
#define QUEUE_MAX 100000                     /* entries */
#define QUEUE_MAX_BYTES ((size_t)64 << 20)   /* their documents and item ids */
#define MS_PER_HOUR 3600000LL
#define MS_PER_DAY 86400000LL
/* The writer gathers: woken by a first entry, it waits up to GATHER_NS for
 * more (or until GATHER_WAKE are queued) before it writes them in one
 * transaction. Woken by every request, it wrote batches of one or two under
 * light load, a commit each, and each wake-up cost the request a futex call.
 * Nobody waits for a record to be on disk: readers search the queue. */
#define GATHER_NS 20000000LL
#define GATHER_WAKE 512

struct rec_entry {
  struct rec_entry *next;
  int64_t sid;
  int64_t ts_ms;
  int64_t rid;   /* > 0: a decision record; 0: the impressions of one answer */
  uint8_t *doc;  /* the record, or the impressions sealed (shown.c): owned */
  size_t len;
  char **items;  /* impressions: the items in clear, for the frequency cap of the
                    requests that come before the row is stored; owned */
  size_t n_items;
  int channel;
  int action;   /* > 0: an access log entry (enum mes_access_action), doc its sealed entry */
  char *reader; /* access entries: the reader's name; owned */
};


static void entry_free(struct rec_entry *e) {
  if (!e)
    return;
  free(e->doc);
  free(e->reader);
  for (size_t i = 0; i < e->n_items; i++)
    free(e->items[i]);
  free(e->items);
  free(e);
}

/* What an entry holds in memory, roughly: its document and item ids. */
static size_t entry_bytes(const struct rec_entry *e) {
  size_t n = sizeof *e + e->len + (e->reader ? strlen(e->reader) + 1 : 0);
  for (size_t i = 0; i < e->n_items; i++)
    n += sizeof(char *) + strlen(e->items[i]) + 1;
  return n;
}

/* The slot of r->imp_marks that sid's impressions count in (Fibonacci
 * hashing: consecutive row ids spread). */
static uint32_t *imp_mark(struct mes_recommender *r, int64_t sid) {
  return &r->imp_marks[((uint64_t)sid * 0x9E3779B97F4A7C15ull) >> (64 - MES__REC_IMP_MARK_BITS)];
}

/* Counts e in or out of its subject's slot, when it holds impressions; r->mu
 * held. */
static void imp_count(struct mes_recommender *r, const struct rec_entry *e, int d) {
  if (!e->rid && !e->action)
    *imp_mark(r, e->sid) += (uint32_t)d;
}

static void list_free(struct rec_entry *e) {
  for (struct rec_entry *next; e; e = next) {
    next = e->next;
    entry_free(e);
  }
}

/* ---------------------------------------------------------------- writer */

static void write_batch(struct mes_recommender *r, struct rec_entry *batch) {
  size_t n_rec = 0, n_imp = 0, n_acc = 0;
  for (struct rec_entry *e = batch; e; e = e->next) {
    if (e->action)
      n_acc++;
    else if (e->rid)
      n_rec++;
    else
      n_imp++;
  }
  if (n_rec) {
    struct mes_decision_row *rows = calloc(n_rec, sizeof *rows);
    if (!rows) {
      mes_log(r->log, MES_LOG_WARN, "%zu decision records not written: out of memory", n_rec);
    } else {
      size_t i = 0;
      for (struct rec_entry *e = batch; e; e = e->next)
        if (e->rid)
          rows[i++] = (struct mes_decision_row){e->rid, e->sid, e->ts_ms, e->doc, e->len};
      int rc = mes_store_decision_put(r->st, rows, n_rec);
      if (rc)
        mes_log(r->log, MES_LOG_WARN, "%zu decision records not written: %s", n_rec, mes_rc_message(rc));
      free(rows);
    }
  }
  if (n_imp) {
    int rc = mes_store_tx_begin(r->st);
    if (!rc) {
      for (struct rec_entry *e = batch; e && !rc; e = e->next)
        if (!e->rid && !e->action)
          rc = mes_store_impression_add(r->st, &(struct mes_impression_row){e->sid, e->ts_ms, e->channel, e->doc,
                                                                            e->len});
      uint64_t ticket;
      if (rc)
        mes_store_tx_rollback(r->st);
      else
        rc = mes_store_tx_commit(r->st, &ticket); /* no wait: group commit syncs it soon */
    }
    if (rc)
      mes_log(r->log, MES_LOG_WARN, "%zu impressions not written: %s", n_imp, mes_rc_message(rc));
  }
  if (n_acc) {
    struct mes__rec_access *acc = calloc(n_acc, sizeof *acc);
    if (!acc) {
      mes_log(r->log, MES_LOG_WARN, "%zu access log entries not written: out of memory", n_acc);
    } else {
      size_t i = 0;
      for (struct rec_entry *e = batch; e; e = e->next)
        if (e->action)
          acc[i++] = (struct mes__rec_access){e->sid, e->ts_ms, e->action, e->reader, e->doc, e->len};
      mes__rec_access_write(r, acc, n_acc);
      free(acc);
    }
  }
  /* Readers may use connections of their own, which see a write only once
   * its group commit is on disk: the batch must stay searchable in memory
   * until then, or a request arriving in between would miss it (a frequency
   * cap undercounting, a fresh decision record not found). An empty
   * transaction's ticket covers every earlier write. Waiting here costs
   * requests nothing: this is the writer thread. */
  uint64_t ticket = 0;
  if (mes_store_tx_begin(r->st) == MES_OK && mes_store_tx_commit(r->st, &ticket) == MES_OK)
    mes_store_wait_durable(r->st, ticket);
}

static void *writer_main(void *arg) {
  struct mes_recommender *r = arg;
  pthread_mutex_lock(&r->mu);
  for (;;) {
    while (!r->head && !r->stop) {
      r->idle = true;
      pthread_cond_wait(&r->work, &r->mu);
    }
    r->idle = false;
    if (!r->head)
      break; /* stopping, nothing left */
    if (!r->stop && !r->flushers && r->n_queued < GATHER_WAKE) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t ns = (int64_t)ts.tv_nsec + GATHER_NS;
      ts.tv_sec += (time_t)(ns / 1000000000LL);
      ts.tv_nsec = (long)(ns % 1000000000LL);
      while (!r->stop && !r->flushers && r->n_queued < GATHER_WAKE &&
             pthread_cond_timedwait(&r->work, &r->mu, &ts) != ETIMEDOUT) {
      }
    }
    r->inflight = r->head;
    r->head = r->tail = NULL;
    r->n_queued = 0;
    r->bytes_inflight = r->bytes_queued;
    r->bytes_queued = 0;
    uint64_t batch = r->queued_batches++;
    pthread_mutex_unlock(&r->mu);
    write_batch(r, r->inflight); /* readers may still search it: it is freed under mu */
    pthread_mutex_lock(&r->mu);
    for (const struct rec_entry *e = r->inflight; e; e = e->next)
      imp_count(r, e, -1);
    list_free(r->inflight);
    r->inflight = NULL;
    r->bytes_inflight = 0;
    r->written = batch + 1;
    pthread_cond_broadcast(&r->done);
  }
  pthread_mutex_unlock(&r->mu);
  return NULL;
}

int mes_recommender_new(struct mes_store *st, const struct mes_log *log, struct mes_subjects *subjects,
                        struct mes_ledger *ledger, struct mes_ingester *ingester, struct mes_catalog *catalog,
                        struct mes_recommender **out) {
  *out = NULL;
  struct mes_recommender *r = calloc(1, sizeof *r);
  if (!r)
    return MES_ENOMEM;
  r->st = st;
  r->log = log;
  r->subjects = subjects;
  r->ledger = ledger;
  r->ingester = ingester;
  r->catalog = catalog;
#ifdef MES_BENCH_NO_ACCESS_LOG
  r->access_off = true; /* CMake's MESURA_BENCH_NO_ACCESS_LOG: a build for bench/recs.py only */
  mes_log(log, MES_LOG_WARN, "this build writes no access log: it is for benchmarks only");
#endif
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the gathering deadline ignores wall-clock jumps */
  pthread_cond_init(&r->work, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&r->done, NULL);
  /* Signals belong to the server's sigwait thread (base/thread.h). */
  if (mes_thread_start(&r->thread, writer_main, r) != 0) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->done);
    free(r);
    return MES_EUNAVAILABLE;
  }
  *out = r;
  return MES_OK;
}

void mes_recommender_free(struct mes_recommender *r) {
  if (!r)
    return;
  pthread_mutex_lock(&r->mu);
  r->stop = true; /* the writer drains the queue first */
  pthread_cond_signal(&r->work);
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->thread, NULL);
  list_free(r->head);
  mes__rec_access_release(r);
  if (r->dropped)
    mes_log(r->log, MES_LOG_WARN, "%zu decision records were dropped: the writer fell behind", r->dropped);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->work);
  pthread_cond_destroy(&r->done);
  free(r);
}

void mes_recommender_flush(struct mes_recommender *r) {
  if (!r)
    return;
  pthread_mutex_lock(&r->mu);
  /* Everything queued now goes out in the batch after the current one. */
  uint64_t target = r->queued_batches + (r->head ? 1 : 0);
  r->flushers++;
  pthread_cond_signal(&r->work); /* a gathering writer goes now */
  while (r->written < target)
    pthread_cond_wait(&r->done, &r->mu);
  r->flushers--;
  pthread_mutex_unlock(&r->mu);
}

void mes_recommender_forget(struct mes_recommender *r, int64_t sid) {
  if (!r || sid <= 0)
    return;
  pthread_mutex_lock(&r->mu);
  struct rec_entry **pp = &r->head, *last = NULL;
  while (*pp) {
    struct rec_entry *e = *pp;
    if (e->sid == sid) {
      *pp = e->next;
      imp_count(r, e, -1);
      r->bytes_queued -= entry_bytes(e);
      entry_free(e);
      r->n_queued--;
    } else {
      last = e;
      pp = &e->next;
    }
  }
  r->tail = last;
  /* The batch being written may hold sid's: let it land first. With no
   * batch in flight, the writer cannot touch its remembered heads until mu
   * is released, so sid's (with its chain key) is wiped here. */
  while (r->inflight)
    pthread_cond_wait(&r->done, &r->mu);
  mes__rec_access_forget(r, sid);
  pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- queueing */

/* A request id is "r_", the record's number in 16 hex digits, then 16 hex
 * digits of a random tag (MES_REC_ID_LEN). The number grows with time:
 * milliseconds since RID_EPOCH_MS in the high 41 bits (until 2089), and in
 * the low 22 a per-process count put through a keyed permutation. The
 * decisions table is keyed by the number, so the writer appends records at
 * the right edge of its b-tree; random numbers would put every record on its
 * own random page, and committing and checkpointing those pages cost the
 * server about a fifth of its CPU at saturation. Within one millisecond the
 * numbers are in no order, which costs nothing there.
 *
 * The permutation (four Feistel rounds of SipHash under 16 random bytes
 * drawn once per process) keeps the numbers distinct (4 M per millisecond
 * before one could repeat) and one number from giving away the next. The
 * tag, 64 random bits per request, is what makes an id unguessable: the
 * record keeps the whole id, and a request for it must name the tag too
 * (compared in constant time). A stored record whose id is the number
 * alone (RID_UNTAGGED_LEN) is found by that id; since the whole stored id
 * is compared, an untagged id never finds a tagged record. */
#define RID_EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */
#define RID_SEQ_BITS 22
#define RID_HALF_BITS (RID_SEQ_BITS / 2)

static uint8_t rid_key[16];
static _Atomic uint64_t rid_seq;

static void rid_init(void) {
  mes_random_bytes(rid_key, sizeof rid_key);
  uint64_t start;
  mes_random_bytes(&start, sizeof start);
  atomic_store(&rid_seq, start);
}

/* A permutation of [0, 2^RID_SEQ_BITS) keyed by rid_key. */
static uint64_t rid_permute(uint64_t n) {
  const uint64_t mask = (1u << RID_HALF_BITS) - 1;
  uint64_t l = n >> RID_HALF_BITS & mask, r = n & mask;
  for (uint8_t round = 0; round < 4; round++) {
    uint8_t in[3] = {round, (uint8_t)r, (uint8_t)(r >> 8)};
    uint64_t f = mes_shorthash(rid_key, in, sizeof in) & mask;
    uint64_t next = l ^ f;
    l = r;
    r = next;
  }
  return l << RID_HALF_BITS | r;
}

int64_t mes__rec_new_rid(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, rid_init);
  int64_t ms = mes_now_ms() - RID_EPOCH_MS;
  if (ms < 1)
    ms = 1; /* a clock before 2020: still a positive id */
  uint64_t n = atomic_fetch_add_explicit(&rid_seq, 1, memory_order_relaxed) & ((1u << RID_SEQ_BITS) - 1);
  return (int64_t)((((uint64_t)ms << RID_SEQ_BITS) | rid_permute(n)) & INT64_MAX);
}

void mes__rec_format_rid(int64_t rid, char out[MES_REC_ID_LEN + 1]) {
  uint64_t tag;
  mes_random_bytes(&tag, sizeof tag);
  snprintf(out, MES_REC_ID_LEN + 1, "r_%016llx%016llx", (unsigned long long)rid, (unsigned long long)tag);
}

/* The length of an id without the tag: "r_" + 16 hex digits. */
#define RID_UNTAGGED_LEN 18

/* "r_" + 16 hex digits (+ 16 more, the tag) -> the number, or 0. */
static int64_t parse_rid(const char *s, size_t len) {
  if ((len != MES_REC_ID_LEN && len != RID_UNTAGGED_LEN) || s[0] != 'r' || s[1] != '_')
    return 0;
  uint64_t v = 0;
  for (size_t i = 2; i < len; i++) {
    char ch = s[i];
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0)
      return 0;
    if (i < RID_UNTAGGED_LEN)
      v = v << 4 | (uint64_t)d;
  }
  return v > (uint64_t)INT64_MAX ? 0 : (int64_t)v;
}

/* Whether the record rec answers to the id asked for, tag and all. */
static bool rid_matches(const json_t *rec, const char *id, size_t len) {
  const json_t *kept = json_object_get(rec, "request_id");
  return json_is_string(kept) && json_string_length(kept) == len &&
         mes_ct_equal(json_string_value(kept), id, len) == 1;
}

/* A copy of the n items of one answer, or NULL (out of memory). */
static char **copy_items(const char *const *items, size_t n) {
  char **out = calloc(n, sizeof *out);
  for (size_t i = 0; out && i < n; i++) {
    if (!(out[i] = strdup(items[i]))) {
      while (i-- > 0)
        free(out[i]);
      free(out);
      out = NULL;
    }
  }
  return out;
}

void mes__rec_enqueue(struct mes_recommender *r, int64_t rid, int64_t sid, int64_t ts_ms, uint8_t *doc, size_t len,
                      const char *const *imp_items, size_t n_imps, uint8_t *imp_sealed, size_t imp_len,
                      int channel) {
  /* Build outside the lock. */
  struct rec_entry *first = calloc(1, sizeof *first), *last = first;
  size_t n = 1, bytes = 0;
  if (first)
    *first = (struct rec_entry){.sid = sid, .ts_ms = ts_ms, .rid = rid, .doc = doc, .len = len};
  else
    free(doc);
  if (first && n_imps && imp_sealed) {
    struct rec_entry *e = calloc(1, sizeof *e);
    char **items = e ? copy_items(imp_items, n_imps) : NULL;
    if (items) {
      *e = (struct rec_entry){.sid = sid, .ts_ms = ts_ms, .doc = imp_sealed, .len = imp_len, .items = items,
                          .n_items = n_imps, .channel = channel};
      imp_sealed = NULL;
      last->next = e;
      last = e;
      n++;
    } else {
      free(e); /* impressions are best effort; the record matters more */
    }
  }
  free(imp_sealed);
  if (!first) {
    mes_log(r ? r->log : NULL, MES_LOG_WARN, "decision record not queued: out of memory");
    return;
  }
  if (!r) {
    list_free(first);
    return;
  }
  for (const struct rec_entry *e = first; e; e = e->next)
    bytes += entry_bytes(e);
  pthread_mutex_lock(&r->mu);
  if (r->n_queued + n > QUEUE_MAX || r->bytes_queued + bytes > QUEUE_MAX_BYTES || r->stop) {
    r->dropped++;
    pthread_mutex_unlock(&r->mu);
    list_free(first);
    return;
  }
  if (r->tail)
    r->tail->next = first;
  else
    r->head = first;
  r->tail = last;
  for (const struct rec_entry *e = first; e; e = e->next)
    imp_count(r, e, 1);
  r->n_queued += n;
  r->bytes_queued += bytes;
  if (r->idle || r->n_queued >= GATHER_WAKE)
    pthread_cond_signal(&r->work);
  pthread_mutex_unlock(&r->mu);
}

void mes__rec_enqueue_access(struct mes_recommender *r, int64_t sid, int64_t ts_ms, int action, char *reader,
                             uint8_t *sealed, size_t len) {
  struct rec_entry *e = calloc(1, sizeof *e);
  if (!e) {
    free(reader);
    free(sealed);
    mes_log(r->log, MES_LOG_WARN, "access log entry not queued: out of memory");
    return;
  }
  *e = (struct rec_entry){.sid = sid, .ts_ms = ts_ms, .doc = sealed, .len = len, .action = action, .reader = reader};
  size_t bytes = entry_bytes(e);
  pthread_mutex_lock(&r->mu);
  if (r->n_queued + 1 > QUEUE_MAX || r->bytes_queued + bytes > QUEUE_MAX_BYTES || r->stop) {
    r->dropped++;
    pthread_mutex_unlock(&r->mu);
    entry_free(e);
    return;
  }
  if (r->tail)
    r->tail->next = e;
  else
    r->head = e;
  r->tail = e;
  r->n_queued++;
  r->bytes_queued += bytes;
  if (r->idle || r->n_queued >= GATHER_WAKE)
    pthread_cond_signal(&r->work);
  pthread_mutex_unlock(&r->mu);
}

void mes_recommender_stats(struct mes_recommender *r, struct mes_recommender_stats *out) {
  memset(out, 0, sizeof *out);
  if (!r)
    return;
  pthread_mutex_lock(&r->mu);
  out->queued = r->n_queued;
  out->bytes = r->bytes_queued + r->bytes_inflight;
  out->dropped = r->dropped;
  pthread_mutex_unlock(&r->mu);
}

void mes__rec_queued_impressions(struct mes_recommender *r, int64_t sid, int64_t since_ms, mes_shown_cb cb,
                                 void *ud) {
  pthread_mutex_lock(&r->mu);
  if (*imp_mark(r, sid) == 0)
    goto out; /* nothing of sid's waits: the usual case, and no walk */
  struct rec_entry *lists[2] = {r->inflight, r->head};
  for (int l = 0; l < 2; l++)
    for (struct rec_entry *e = lists[l]; e; e = e->next)
      if (!e->rid && !e->action && e->sid == sid && e->ts_ms >= since_ms)
        for (size_t i = 0; i < e->n_items; i++)
          if (cb(ud, e->items[i], e->channel, e->ts_ms))
            goto out;
out:
  pthread_mutex_unlock(&r->mu);
}

/* ---------------------------------------------------------------- reading back */

/* A copy of a queued record, or MES_ENOT_FOUND. */
static int find_queued(struct mes_recommender *r, int64_t rid, struct mes_decision_row *row, uint8_t **doc) {
  int rc = MES_ENOT_FOUND;
  pthread_mutex_lock(&r->mu);
  struct rec_entry *lists[2] = {r->inflight, r->head};
  for (int l = 0; l < 2 && rc == MES_ENOT_FOUND; l++) {
    for (struct rec_entry *e = lists[l]; e; e = e->next) {
      if (e->rid != rid)
        continue;
      *doc = malloc(e->len ? e->len : 1);
      if (!*doc) {
        rc = MES_ENOMEM;
        break;
      }
      memcpy(*doc, e->doc, e->len);
      *row = (struct mes_decision_row){e->rid, e->sid, e->ts_ms, *doc, e->len};
      rc = MES_OK;
      break;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return rc;
}

int mes_recommend_record(struct mes_recommender *r, const struct mes_req *c, const char *request_id, size_t len,
                         bool with_suppressed, json_t **out, struct mes_err *err) {
  *out = NULL;
  int64_t rid = parse_rid(request_id, len);
  if (rid <= 0)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No recommendation has this request id.");
  struct mes_decision_row row;
  uint8_t *doc = NULL;
  int rc = find_queued(r, rid, &row, &doc);
  if (rc == MES_ENOT_FOUND)
    rc = mes_store_decision_get(r->st, rid, &row, &doc);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "No recommendation has this request id (records are kept %d days).",
                       c->policy->decision_retention_days);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  json_t *rec = NULL;
  rc = mes_decrec_open(r->subjects, &row, &rec);
  free(doc);
  if (rc == MES_ENOT_FOUND) /* the subject was erased: the record is shredded */
    return mes_err_set(err, rc, NULL, "No recommendation has this request id.");
  if (rc == MES_ESTORE)
    return mes_err_set(err, rc, NULL, "A decision record could not be read.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  if (!rid_matches(rec, request_id, len)) {
    json_decref(rec);
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No recommendation has this request id.");
  }
  if (!with_suppressed) { /* neither form: nothing to flatten; nor what rules changed */
    json_object_del(rec, "suppressed_by");
    json_object_del(rec, "suppressed");
    json_object_del(rec, "adjusted");
    json_object_del(rec, "withheld");
  } else if ((rc = mes_json_ungroup(rec, "suppressed_by", "suppressed", "items", "item"))) {
    json_decref(rec);
    return mes_err_set(err, rc == MES_ENOMEM ? rc : MES_ESTORE, NULL,
                       rc == MES_ENOMEM ? NULL : "A decision record could not be read.");
  }
  if (row.sid) /* the shop reads back what it served; audit and admin keys (with_suppressed) audit */
    mes__rec_access_note_for(r, c, row.sid, NULL, 0, MES_ACCESS_RECORD,
                             with_suppressed ? "audit" : "personalization");
  *out = rec;
  return MES_OK;
}

/* ---------------------------------------------------------------- sweep */

int mes_recommender_sweep(struct mes_recommender *r, const struct mes_req *c, int64_t *n_decisions,
                          int64_t *n_impressions, struct mes_err *err) {
  int64_t nd = 0, ni = 0;
  const struct mes_policy *p = c->policy;
  int rc = mes_store_decision_sweep(r->st, c->now_ms - (int64_t)p->decision_retention_days * MS_PER_DAY, &nd);
  /* Impressions serve only the frequency cap: kept as long as its window. */
  int hours = p->guardrails.frequency_cap_window_hours;
  if (!rc)
    rc = mes_store_impression_sweep(r->st, c->now_ms - (int64_t)(hours > 0 ? hours : 0) * MS_PER_HOUR, &ni);
  if (n_decisions)
    *n_decisions = nd;
  if (n_impressions)
    *n_impressions = ni;
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
