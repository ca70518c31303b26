/*
 * store/commit_int — group commit, for any backend that can hold one long
 * write transaction open and nest savepoints in it (SQLite now, PostgreSQL
 * later). Only the store's own files include it; it names no database
 * engine: the backend drives its connection through struct mes_commit_be.
 *
 * The scheme. One writer at a time holds the writer lock (a recursive
 * mutex) from tx_begin to tx_commit/tx_rollback. The backend keeps one
 * "outer" transaction open while there is unsynced work; each tx_begin opens
 * a savepoint inside it and tx_commit releases the savepoint, hands out a
 * ticket (the number of the outer transaction, a "batch") and unlocks. A
 * flusher thread commits the outer transaction - one sync of the disk for
 * every request in it - as soon as somebody waits on a ticket (under load a
 * little later, to gather more: see GATHER_BUSY in commit.c), or ~2 ms after
 * the first unsynced write, then wakes the waiters (mes__commit_wait) and
 * calls back the parked ones (mes__commit_on_durable). The backend's sync
 * runs after the writer lock is released, so writers fill the next batch
 * while the disk syncs the previous one. When idle no write transaction is
 * open, so another process can write.
 *
 * A group commit that fails (the engine lost the outer transaction, COMMIT
 * or the sync failed) leaves the store "broken": every waiter and every
 * later write hears MES_ESTORAGE_FULL or MES_ESTORE until it is reopened,
 * so that nobody is acknowledged on top of the loss.
 *
 * Locks, always taken in this order: the writer lock (mu), then the
 * backend's own locks or sync_mu (the group-commit counters). Waiting for a
 * ticket takes only sync_mu.
 */
#ifndef MES_STORE_COMMIT_INT_H
#define MES_STORE_COMMIT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* What a backend does for the group commit, on its writer connection. Every
 * member is required. All but sync run with the writer lock held; sync runs
 * on the flusher thread without it, while writers go on. Codes are
 * mesura's (MES_OK, MES_ESTORE, ...). `be` is the backend given to
 * mes__commit_init. */
struct mes_commit_be {
  /* Opens the outer transaction, taking the database's write lock (may wait
   * for another process). */
  int (*begin)(void *be);
  /* Opens a savepoint inside the outer transaction. */
  int (*savepoint)(void *be);
  /* Releases the innermost savepoint into the outer transaction. */
  int (*release)(void *be);
  /* Rolls back to the innermost savepoint and releases it. */
  void (*undo)(void *be);
  /* Commits the outer transaction without waiting for the disk (sync does
   * that). On failure no transaction is left open. */
  int (*commit)(void *be);
  /* Rolls the outer transaction back. */
  void (*rollback)(void *be);
  /* Whether the outer transaction believed open still is: MES_OK, or the
   * code of the failure with which the engine rolled it back on its own (an
   * I/O error, a full disk, out of memory): MES_ESTORAGE_FULL or MES_ESTORE. */
  int (*check)(void *be);
  /* Makes every committed outer transaction durable. MES_OK, or
   * MES_ESTORAGE_FULL / MES_ESTORE when nothing written can be trusted. */
  int (*sync)(void *be);
  /* Writes made since the outer transaction began may have been undone: the
   * backend drops whatever it remembers of them. */
  void (*forget)(void *be);
};

/* Embedded in the backend's state; the fields are the group commit's own. */
struct mes_commit {
  const struct mes_commit_be *ops; /* static, borrowed */
  void *be;                        /* borrowed: the backend that embeds this */

  pthread_mutex_t mu; /* the writer lock, recursive; guards in_outer, depth and the backend's writer */
  bool in_outer;      /* the outer transaction is open */
  int depth;          /* savepoints open by the thread holding the writer lock */

  pthread_mutex_t sync_mu;   /* guards everything below */
  pthread_cond_t flush_cv;   /* wakes the flusher */
  pthread_cond_t durable_cv; /* wakes mes__commit_wait */
  uint64_t batch;            /* number of the open (or next) outer transaction */
  uint64_t durable;          /* last outer transaction synced to disk */
  bool dirty;                /* released savepoints await the next commit */
  uint64_t dirty_since_ns;   /* CLOCK_MONOTONIC when dirty became true */
  int waiters;
  struct mes_store_waiter *parked; /* mes__commit_on_durable registrations, unordered */
  unsigned in_batch;               /* transactions released into the open batch */
  uint64_t last_release_ns;        /* CLOCK_MONOTONIC of the latest of them */
  unsigned last_batch;             /* transactions the previous group commit carried */
  unsigned peak_batch;             /* the largest recent group, decaying by 1/8 per group */
  bool gathering;                  /* the flusher waits for more of a busy batch */
  bool stop;
  bool broken;   /* a group commit failed: writes refused until reopened */
  int broken_rc; /* why, as the refused writes are told: MES_ESTORAGE_FULL or MES_ESTORE */

  pthread_t flusher;
  bool flusher_running;
};

/* Lifecycle. init never fails and must come first (release is then always
 * safe); start launches the flusher once the backend can commit (MES_ENOMEM
 * when the thread cannot start). release commits and syncs what is pending,
 * stops the flusher, rolls back an outer transaction left open and
 * destroys the locks: afterwards the backend may close its connections. */
void mes__commit_init(struct mes_commit *gc, const struct mes_commit_be *ops, void *be);
int mes__commit_start(struct mes_commit *gc);
void mes__commit_release(struct mes_commit *gc);

/* The store's transactions (store.h: mes_store_tx_begin and the rest). */
int mes__commit_tx_begin(struct mes_commit *gc);
int mes__commit_tx_commit(struct mes_commit *gc, uint64_t *ticket);
void mes__commit_tx_rollback(struct mes_commit *gc);
int mes__commit_wait(struct mes_commit *gc, uint64_t ticket);
int mes__commit_on_durable(struct mes_commit *gc, uint64_t ticket, struct mes_store_waiter *w);

/* One write operation: inside the calling thread's transaction (the writer
 * lock taken once more, *own false), or in a transaction of its own (*own
 * true) that write_end commits and waits durable for, or rolls back when rc
 * is not MES_OK. write_end returns the operation's final code. */
int mes__commit_write_begin(struct mes_commit *gc, bool *own);
int mes__commit_write_end(struct mes_commit *gc, bool own, int rc);

/* For reads. held: the calling thread holds a transaction. enter_held: the
 * same, and if so the writer lock is taken once more (leave with
 * mes__commit_unlock), so the read sees the transaction's writes.
 * own_pending: the calling thread has released writes that are not durable
 * yet (only the writer connection sees them); registering them with
 * mes__commit_on_durable hands them to their waiter, and they no longer
 * count. */
bool mes__commit_held(struct mes_commit *gc);
bool mes__commit_enter_held(struct mes_commit *gc);
bool mes__commit_own_pending(struct mes_commit *gc);

/* The writer lock alone, for reads on the writer connection. */
static inline void mes__commit_lock(struct mes_commit *gc) { pthread_mutex_lock(&gc->mu); }
static inline void mes__commit_unlock(struct mes_commit *gc) { pthread_mutex_unlock(&gc->mu); }

#endif
