/*
 * store/journal_int — the erasure journal's file, for the store's own files
 * (store.c opens it with the store, and locks the directory through it
 * to open the store alone or to install a restored copy). What the journal is for and how it is replayed: journal.c.
 *
 * The file, DIR/erasures.journal (mode 0600), is a header and fixed-size
 * records, appended only:
 *
 *   header  32 bytes  "MESERAS1", 16 random bytes (the journal's id), 8 zero
 *   record  56 bytes  pseudonym (32), sid (8), at_ms (8), check (8)
 *
 * integers little-endian, check a 64-bit FNV-1a of the record's first 48
 * bytes: a record cut short or never written (zeros) by a crash fails it.
 *
 * The same file carries two advisory locks (open file description locks,
 * fcntl F_OFD_*, released by the kernel when the process dies):
 *   byte 0  "in use": every open store holds it shared; a restore or a
 *           store opened alone (a master key rotation) takes it exclusive,
 *           so that neither works under a running process
 *   byte 1  "writer": held exclusive while a record is appended or a torn
 *           tail is cut, so that two processes never write at once
 */
#ifndef MES_STORE_JOURNAL_INT_H
#define MES_STORE_JOURNAL_INT_H

#include <stdint.h>

#include "store/store.h"

#define MES_JOURNAL_NAME "erasures.journal"

struct mes_journal;

/* One erasure, as journaled. */
struct mes_journal_rec {
  uint8_t pn[32];
  int64_t sid;
  int64_t at_ms;
};

/* Opens (creating, empty, when absent) the journal of data directory dir and
 * takes its "in use" lock shared. lock_fd: -1, or a descriptor of the journal
 * already holding the lock exclusive (from mes__journal_lock_dir), which the
 * journal takes over. MES_ECONFLICT when a restore holds the directory. *out
 * is new: mes__journal_close. */
int mes__journal_open(const char *dir, int lock_fd, struct mes_journal **out, struct mes_err *err);
void mes__journal_close(struct mes_journal *j); /* NULL-safe */

/* Takes data directory dir's "in use" lock exclusive, without waiting:
 * MES_ECONFLICT when any process has a store of dir open. *fd gets the
 * descriptor holding it (close it to release). Creates the journal when
 * absent. */
int mes__journal_lock_dir(const char *dir, int *fd, struct mes_err *err);

/* Appends one record, durable (fdatasync) before returning. Any thread. */
int mes__journal_append(struct mes_journal *j, const struct mes_journal_rec *r);
/* *n receives the number of records; cb is called for each sound one in
 * [from, *n), in order (a nonzero return stops and is returned). */
int mes__journal_read(struct mes_journal *j, int64_t from, int64_t *n,
                      int (*cb)(void *ud, const struct mes_journal_rec *r), void *ud);

/* Replays the journal onto st (see journal.c); *n_removed gets how many
 * subject rows it deleted. Called once, by mes_store_open. */
int mes__journal_replay(struct mes_journal *j, struct mes_store *st, int64_t *n_removed, struct mes_err *err);

#endif
