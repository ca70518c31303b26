/*
 * subject/subjmap — a bounded in-memory map from a subject's pseudonym to
 * its row (id, granted purposes, restriction), so that the first phase of
 * ingestion resolves a known subject without a SQLite read (that read costs
 * about a fifth of a single-event request's server CPU).
 *
 * It is a HINT, never an authority. A row in it may be stale in either
 * direction (another process - `mesura import`, a second server - changed
 * or erased the subject; a transaction of this process that updated it was
 * rolled back): whoever uses a row from it must re-read the row inside its
 * write transaction before acting on it (src/lib/ingest/batch.c re-reads every
 * subject whose row came from here). It holds only rows that exist: "no such
 * subject" is never kept, so a subject created by anyone is seen at once.
 *
 * Keyed by the 32-byte keyed pseudonym, never by the brand's id; entries are
 * wiped when forgotten, evicted or freed. Thread-safe: 16 stripes, each with
 * its own mutex, chosen by the pseudonym's first byte (uniform: it is a keyed
 * BLAKE2b output). The subject registry (struct mes_subjects) owns one and
 * answers through it (mes_subject_resolve_hint, mes_subject_hint_put,
 * mes_subject_hint_forget); a map of 0 entries keeps nothing.
 */
#ifndef MES_SUBJMAP_H
#define MES_SUBJMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subject/subject.h"

/* 65,536 rows of 64 bytes (4 MiB): the subjects active over the last minutes
 * of a large shop, what the engine's registry keeps. A subject evicted
 * (least recently used within its set of 8) or never seen is read from
 * SQLite, as without the map: the bound costs speed, never correctness.
 * Fixed rather than a setting: the map is a few MiB at most and nothing is
 * gained by tuning it. */
#define MES_SUBJMAP_ENTRIES 65536

struct mes_subjmap;

/* A map of about `entries` rows (rounded down to a power of two of at least
 * 128; 0: a map that keeps nothing). *out is new: free with
 * mes_subjmap_free. MES_ENOMEM; MES_EINTERNAL for 1 to 127 entries. */
int mes_subjmap_new(size_t entries, struct mes_subjmap **out);
/* Wipes every entry and frees. NULL-safe. No call may be running. */
void mes_subjmap_free(struct mes_subjmap *m);

/* The row kept for pn into *out (true), or false when none. */
bool mes_subjmap_get(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES], struct mes_subject_row *out);
/* Keeps (or replaces) pn's row, evicting the least recently used entry of
 * its set when full. Only rows read from the store belong here. */
void mes_subjmap_put(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES], const struct mes_subject_row *row);
/* Drops pn's row, if kept (the subject changed or is gone). */
void mes_subjmap_forget(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES]);

/* Counters since creation, for benchmarks and /metrics: look-ups answered,
 * look-ups missed, lock acquisitions that found the stripe held by another
 * thread (contention), and rows kept now. */
struct mes_subjmap_stats {
  uint64_t hits, misses, contended;
  size_t entries;
};
void mes_subjmap_stats(struct mes_subjmap *m, struct mes_subjmap_stats *out);

/* Resolves a subject id as mes_subject_resolve(sj, c, ns, id, len, false,
 * out) does, answering from the registry's map when it holds the pseudonym
 * (*cached = true: out->row is a hint, re-read it under the write lock
 * before relying on it). A row read from the store is kept in the map.
 * MES_ENOT_FOUND when the store has no such subject (out->pn is filled
 * either way). */
int mes_subject_resolve_hint(struct mes_subjects *sj, enum mes_subject_ns ns, const char *id, size_t len,
                             struct mes_subject *out, bool *cached);
/* Keeps pn's row, just read from the store, in the registry's map. */
void mes_subject_hint_put(struct mes_subjects *sj, const uint8_t pn[MES_PSEUDONYM_BYTES],
                          const struct mes_subject_row *row);
/* Drops pn's row from the registry's map: whoever changes a subject row
 * (its grants, its restriction) or finds it gone calls this. */
void mes_subject_hint_forget(struct mes_subjects *sj, const uint8_t pn[MES_PSEUDONYM_BYTES]);
/* The counters of the registry's map. */
void mes_subjects_hint_stats(struct mes_subjects *sj, struct mes_subjmap_stats *out);

#endif
