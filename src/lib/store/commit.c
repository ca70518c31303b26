/*
 * store/commit — group commit (the scheme is described in commit_int.h):
 * transactions as savepoints of one outer transaction, tickets, durability
 * waits and callbacks, and the flusher thread that gathers a batch, commits
 * it and syncs it. No database engine here: the backend's connection is
 * reached only through struct mes_commit_be.
 */
#include "store/commit_int.h"

#include <time.h>

#include "base/thread.h"

#define FLUSH_DELAY_NS 2000000ull /* longest a write waits for its sync without a waiter */
/* Gathering (flusher_main): under load, each group commit's sync and the
 * wake-ups around it cost CPU per group, not per request, so the flusher
 * waits a little for more requests before it commits - but only when the
 * previous group carried at least GATHER_BUSY of them. A lone request, or a
 * handful of keep-alive clients that cannot fill a group of 8 writes, never
 * waits for it: its write is synced at once, and the next group fills while
 * the disk syncs this one (waiting there would idle the disk while every
 * client is parked, and cost throughput). A gathering flusher commits at the
 * first of: GATHER_MAX_NS after the group's first write; GATHER_GAP_NS
 * without a new write (the clients have nothing more in flight); as many
 * writes as the largest recent group (peak_batch: every client seen at once
 * is back) or GATHER_FULL. Measured with SQLite (bench/README.md, wrk -c32 on
 * 2 cores): one fdatasync costs this thread ~200 us of CPU; without
 * gathering a group carried 5-11 requests at 600-1,800 fsyncs/s, with it
 * 11-15. The gap is about 1.5 requests' server CPU (90-125 us each), so
 * gathering stops as soon as arrivals pause; 1 ms rather than 2 ms (which
 * gave no more req/s and a worse p99) bounds the added latency at half the
 * 2 ms a write waits with no waiter. Gathering from 4 writes engaged more
 * often at 32 connections but also at 4 and 8, where waiting idles the disk
 * while every client is parked. */
#define GATHER_BUSY 8u
#define GATHER_FULL 256u
#define GATHER_MAX_NS 1000000ull
#define GATHER_GAP_NS 150000ull

/* The last batch this thread committed into, per thread: a read must see
 * the thread's own writes even before they are durable (a subject created
 * and then looked up in the same request), and only the writer connection
 * sees an unsynced batch. Thread-local because it is a fact about the
 * calling thread, like the transaction that the recursive mutex tracks; one
 * entry, for the store the thread used last (a thread that interleaves
 * unsynced writes to two stores reads the other one on a reader). */
static _Thread_local struct {
  const struct mes_commit *gc;
  uint64_t ticket;
} own_unflushed;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

static void *flusher_main(void *arg);

void mes__commit_init(struct mes_commit *gc, const struct mes_commit_be *ops, void *be) {
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  *gc = (struct mes_commit){0};
  gc->ops = ops;
  gc->be = be;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&gc->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  pthread_mutex_init(&gc->sync_mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* flusher deadlines */
  pthread_cond_init(&gc->flush_cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&gc->durable_cv, NULL);
  gc->batch = 1;
}

int mes__commit_start(struct mes_commit *gc) {
  /* The commit thread must never receive the process's signals: SIGTERM has
   * to reach the thread that shuts down cleanly, not kill us mid-commit. */
  if (mes_thread_start(&gc->flusher, flusher_main, gc) != 0)
    return MES_ENOMEM;
  gc->flusher_running = true;
  return MES_OK;
}

void mes__commit_release(struct mes_commit *gc) {
  if (gc->flusher_running) {
    pthread_mutex_lock(&gc->sync_mu);
    gc->stop = true; /* the flusher commits what is pending, then exits */
    pthread_cond_signal(&gc->flush_cv);
    pthread_mutex_unlock(&gc->sync_mu);
    pthread_join(gc->flusher, NULL);
    gc->flusher_running = false;
  }
  if (gc->in_outer) {
    gc->ops->rollback(gc->be);
    gc->in_outer = false;
  }
  pthread_mutex_destroy(&gc->mu);
  pthread_mutex_destroy(&gc->sync_mu);
  pthread_cond_destroy(&gc->flush_cv);
  pthread_cond_destroy(&gc->durable_cv);
}

/* ------------------------------------------------------------------------ */
/* Transactions                                                             */
/* ------------------------------------------------------------------------ */

/* Engines roll back the whole transaction on some errors (I/O, disk full,
 * out of memory). If that happened to the outer transaction, writes already
 * promised tickets are gone: mark the store broken so that their waiters
 * hear it and no one is acknowledged on top of the loss. Holds mu. */
static void check_outer(struct mes_commit *gc) {
  if (!gc->in_outer)
    return;
  int lost = gc->ops->check(gc->be);
  if (lost == MES_OK)
    return;
  gc->in_outer = false;
  gc->ops->forget(gc->be);
  pthread_mutex_lock(&gc->sync_mu);
  if (gc->dirty) {
    gc->broken = true;
    gc->broken_rc = lost == MES_ESTORAGE_FULL ? MES_ESTORAGE_FULL : MES_ESTORE;
    gc->dirty = false;
    gc->in_batch = 0;
    pthread_cond_broadcast(&gc->durable_cv);
  }
  pthread_mutex_unlock(&gc->sync_mu);
}

/* After the last savepoint closed: an outer transaction holding nothing to
 * commit is rolled back at once, so that an idle store holds no write lock.
 * Holds mu. */
static void end_outermost(struct mes_commit *gc) {
  if (!gc->in_outer)
    return;
  pthread_mutex_lock(&gc->sync_mu);
  bool dirty = gc->dirty;
  pthread_mutex_unlock(&gc->sync_mu);
  if (!dirty) {
    gc->ops->rollback(gc->be);
    gc->in_outer = false;
  }
}

int mes__commit_tx_begin(struct mes_commit *gc) {
  pthread_mutex_lock(&gc->mu);
  pthread_mutex_lock(&gc->sync_mu);
  int broken_rc = gc->broken ? gc->broken_rc : MES_OK;
  pthread_mutex_unlock(&gc->sync_mu);
  if (broken_rc) {
    pthread_mutex_unlock(&gc->mu);
    return broken_rc;
  }
  int rc = MES_OK;
  if (!gc->in_outer) {
    rc = gc->ops->begin(gc->be); /* may wait for another process */
    if (rc != MES_OK)
      goto error;
    gc->in_outer = true;
    gc->ops->forget(gc->be); /* another process may have written since: trust memories within one write lock only */
  }
  rc = gc->ops->savepoint(gc->be);
  if (rc != MES_OK) {
    check_outer(gc);
    if (gc->depth == 0)
      end_outermost(gc);
    goto error;
  }
  gc->depth++;
  return MES_OK; /* mu stays locked until commit or rollback */
error:
  pthread_mutex_unlock(&gc->mu);
  return rc;
}

int mes__commit_tx_commit(struct mes_commit *gc, uint64_t *ticket) {
  *ticket = 0;
  /* The recursive mutex lets us check that this thread holds the tx. */
  pthread_mutex_lock(&gc->mu);
  if (gc->depth == 0) {
    pthread_mutex_unlock(&gc->mu);
    return MES_EINTERNAL;
  }
  check_outer(gc);
  int rc = gc->in_outer ? gc->ops->release(gc->be) : MES_ESTORE;
  if (rc != MES_OK)
    gc->ops->forget(gc->be);
  if (rc != MES_OK && gc->in_outer) {
    gc->ops->undo(gc->be);
    check_outer(gc);
  }
  gc->depth--;
  if (gc->depth == 0) {
    if (rc == MES_OK) {
      pthread_mutex_lock(&gc->sync_mu);
      *ticket = gc->batch;
      own_unflushed.gc = gc;
      own_unflushed.ticket = gc->batch;
      gc->in_batch++;
      gc->last_release_ns = mono_ns();
      if (!gc->dirty) {
        gc->dirty = true;
        gc->dirty_since_ns = gc->last_release_ns;
        pthread_cond_signal(&gc->flush_cv);
      } else if (gc->gathering && (gc->in_batch >= GATHER_FULL || gc->in_batch >= gc->peak_batch)) {
        pthread_cond_signal(&gc->flush_cv);
      }
      pthread_mutex_unlock(&gc->sync_mu);
    } else {
      end_outermost(gc);
    }
  }
  pthread_mutex_unlock(&gc->mu); /* ours, above */
  pthread_mutex_unlock(&gc->mu); /* tx_begin's */
  return rc;
}

void mes__commit_tx_rollback(struct mes_commit *gc) {
  pthread_mutex_lock(&gc->mu);
  if (gc->depth == 0) {
    pthread_mutex_unlock(&gc->mu);
    return;
  }
  check_outer(gc);
  gc->ops->forget(gc->be); /* what this savepoint wrote is undone */
  if (gc->in_outer) {
    gc->ops->undo(gc->be);
    check_outer(gc);
  }
  gc->depth--;
  if (gc->depth == 0)
    end_outermost(gc);
  pthread_mutex_unlock(&gc->mu);
  pthread_mutex_unlock(&gc->mu);
}

int mes__commit_write_begin(struct mes_commit *gc, bool *own) {
  pthread_mutex_lock(&gc->mu);
  if (gc->depth > 0) { /* we hold mu, so the open tx is ours */
    *own = false;
    return MES_OK;
  }
  pthread_mutex_unlock(&gc->mu);
  *own = true;
  return mes__commit_tx_begin(gc);
}

int mes__commit_write_end(struct mes_commit *gc, bool own, int rc) {
  if (!own) {
    pthread_mutex_unlock(&gc->mu);
    return rc;
  }
  if (rc != MES_OK) {
    mes__commit_tx_rollback(gc);
    return rc;
  }
  uint64_t ticket;
  rc = mes__commit_tx_commit(gc, &ticket);
  return rc == MES_OK ? mes__commit_wait(gc, ticket) : rc;
}

/* ------------------------------------------------------------------------ */
/* Questions a read asks                                                    */
/* ------------------------------------------------------------------------ */

bool mes__commit_held(struct mes_commit *gc) {
  /* The mutex is recursive: trylock succeeds when it is free or ours, and
   * while a transaction is open its holder keeps it. */
  if (pthread_mutex_trylock(&gc->mu) != 0)
    return false;
  bool held = gc->depth > 0;
  pthread_mutex_unlock(&gc->mu);
  return held;
}

bool mes__commit_enter_held(struct mes_commit *gc) {
  if (pthread_mutex_trylock(&gc->mu) != 0)
    return false;
  if (gc->depth > 0)
    return true; /* our transaction: the caller keeps mu */
  pthread_mutex_unlock(&gc->mu);
  return false;
}

bool mes__commit_own_pending(struct mes_commit *gc) {
  if (own_unflushed.gc != gc || own_unflushed.ticket == 0)
    return false;
  pthread_mutex_lock(&gc->sync_mu);
  bool pending = own_unflushed.ticket > gc->durable && !gc->broken;
  pthread_mutex_unlock(&gc->sync_mu);
  if (!pending)
    own_unflushed.ticket = 0;
  return pending;
}

/* ------------------------------------------------------------------------ */
/* Durability                                                               */
/* ------------------------------------------------------------------------ */

int mes__commit_wait(struct mes_commit *gc, uint64_t ticket) {
  if (ticket == 0)
    return MES_OK;
  /* Waiting while holding a tx would deadlock: the flusher needs mu. */
  if (mes__commit_held(gc))
    return MES_EINTERNAL;
  pthread_mutex_lock(&gc->sync_mu);
  if (ticket > gc->batch) {
    pthread_mutex_unlock(&gc->sync_mu);
    return MES_EINTERNAL;
  }
  while (gc->durable < ticket && !gc->broken) {
    gc->waiters++;
    if (!gc->gathering) /* a gathering flusher wakes by itself */
      pthread_cond_signal(&gc->flush_cv);
    pthread_cond_wait(&gc->durable_cv, &gc->sync_mu);
    gc->waiters--;
  }
  int rc = gc->durable >= ticket ? MES_OK : gc->broken_rc;
  pthread_mutex_unlock(&gc->sync_mu);
  return rc;
}

int mes__commit_on_durable(struct mes_commit *gc, uint64_t ticket, struct mes_store_waiter *w) {
  pthread_mutex_lock(&gc->sync_mu);
  if (ticket == 0 || ticket > gc->batch || gc->stop) {
    pthread_mutex_unlock(&gc->sync_mu);
    return MES_EINTERNAL;
  }
  w->ticket = ticket;
  w->next = gc->parked;
  gc->parked = w;
  /* The writes are parked with their request: this thread goes on to serve
   * other requests, which need not see them before they are durable (nobody
   * was told of them). Otherwise every later read of the thread would go to
   * the writer while any parked commit is unsynced, queueing behind the
   * group commit (bench/README.md). */
  if (own_unflushed.gc == gc && own_unflushed.ticket <= ticket)
    own_unflushed.ticket = 0;
  /* Flush now, or call back now if already durable; a gathering flusher
   * flushes at its deadline without being woken per request. */
  if (!gc->gathering || ticket <= gc->durable)
    pthread_cond_signal(&gc->flush_cv);
  pthread_mutex_unlock(&gc->sync_mu);
  return MES_OK;
}

/* Commits the outer transaction and makes it durable, then wakes waiters.
 * The backend's commit only hands the batch to the engine; the sync that
 * makes it durable runs after mu is released, so writers fill the next outer
 * transaction while this one is being synced instead of queueing behind the
 * disk. Tickets of the committed batch are declared durable only after the
 * sync returned. Called by the flusher only. */
static void flush(struct mes_commit *gc) {
  pthread_mutex_lock(&gc->mu); /* no tx is open once we hold it: depth == 0 */
  check_outer(gc);
  int rc = gc->in_outer ? gc->ops->commit(gc->be) : MES_OK;
  bool committed = gc->in_outer && rc == MES_OK;
  if (!committed)
    gc->ops->forget(gc->be);
  gc->in_outer = false;
  uint64_t done = 0;
  pthread_mutex_lock(&gc->sync_mu);
  if (committed) {
    done = gc->batch;
    gc->batch++; /* writes from now on belong to the next batch */
    gc->last_batch = gc->in_batch;
    gc->peak_batch -= gc->peak_batch / 8;
    if (gc->peak_batch < gc->in_batch)
      gc->peak_batch = gc->in_batch;
  } else if (gc->dirty) {
    gc->broken = true; /* a failed commit: what it held is gone */
    gc->broken_rc = rc == MES_ESTORAGE_FULL ? rc : MES_ESTORE;
    pthread_cond_broadcast(&gc->durable_cv);
  }
  gc->in_batch = 0;
  gc->dirty = false;
  pthread_mutex_unlock(&gc->sync_mu);
  pthread_mutex_unlock(&gc->mu);
  if (!committed)
    return;
  int src = gc->ops->sync(gc->be);
  pthread_mutex_lock(&gc->sync_mu);
  if (src == MES_OK) {
    gc->durable = done;
  } else {
    gc->broken = true; /* after a failed sync nothing written can be trusted */
    gc->broken_rc = src == MES_ESTORAGE_FULL ? src : MES_ESTORE;
  }
  pthread_cond_broadcast(&gc->durable_cv);
  pthread_mutex_unlock(&gc->sync_mu);
}

/* Takes the registrations that are decided (durable, or lost to a broken
 * store) off the parked list. Holds sync_mu. */
static struct mes_store_waiter *take_decided(struct mes_commit *gc) {
  struct mes_store_waiter *ready = NULL, **pp = &gc->parked;
  while (*pp) {
    struct mes_store_waiter *w = *pp;
    if (gc->broken || w->ticket <= gc->durable) {
      *pp = w->next;
      w->next = ready;
      ready = w;
    } else {
      pp = &w->next;
    }
  }
  return ready;
}

static bool any_decided(const struct mes_commit *gc) {
  for (const struct mes_store_waiter *w = gc->parked; w; w = w->next)
    if (gc->broken || w->ticket <= gc->durable)
      return true;
  return false;
}

static void *flusher_main(void *arg) {
  struct mes_commit *gc = arg;
  pthread_mutex_lock(&gc->sync_mu);
  for (;;) {
    if (any_decided(gc)) {
      /* Callbacks run without sync_mu: they may take their own locks. w is
       * the caller's again once cb runs, so read next first. */
      struct mes_store_waiter *w = take_decided(gc);
      int rc = gc->broken ? gc->broken_rc : MES_OK;
      pthread_mutex_unlock(&gc->sync_mu);
      while (w) {
        struct mes_store_waiter *next = w->next;
        w->next = NULL;
        w->cb(w, rc);
        w = next;
      }
      pthread_mutex_lock(&gc->sync_mu);
      continue;
    }
    if (!gc->dirty) {
      if (gc->stop && !gc->parked)
        break;
      pthread_cond_wait(&gc->flush_cv, &gc->sync_mu);
      continue;
    }
    uint64_t due = 0;
    bool gather = false;
    if (gc->stop)
      due = 0;
    else if (gc->waiters == 0 && !gc->parked)
      due = gc->dirty_since_ns + FLUSH_DELAY_NS;
    else if ((gather = gc->last_batch >= GATHER_BUSY && gc->in_batch < GATHER_FULL && gc->in_batch < gc->peak_batch)) {
      due = gc->dirty_since_ns + GATHER_MAX_NS; /* see GATHER_BUSY */
      if (gc->last_release_ns + GATHER_GAP_NS < due)
        due = gc->last_release_ns + GATHER_GAP_NS;
    }
    if (due && mono_ns() < due) {
      struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
      gc->gathering = gather;
      pthread_cond_timedwait(&gc->flush_cv, &gc->sync_mu, &ts);
      gc->gathering = false;
      continue;
    }
    pthread_mutex_unlock(&gc->sync_mu); /* lock order: mu before sync_mu */
    flush(gc);
    pthread_mutex_lock(&gc->sync_mu);
  }
  pthread_mutex_unlock(&gc->sync_mu);
  return NULL;
}
