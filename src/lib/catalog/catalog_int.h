/*
 * catalog_int — what only the catalog's own files see: the hooks through
 * which catalog.c keeps the in-memory index (index.c) current.
 *
 * Call them while holding the store transaction of the write (the store's
 * writer lock), so that the index follows the store's order of writes; an
 * index that has not been built yet ignores them.
 */
#ifndef MES_CATALOG_INT_H
#define MES_CATALOG_INT_H

#include "catalog/catalog.h"

/* The store the catalog reads and writes (borrowed by the handle). */
struct mes_store *mes__catalog_store(const struct mes_catalog *cat);

/* Adds or replaces item id from its normalised document (borrowed). Out of
 * memory or a bad document invalidates the index instead. */
void mes__catalog_index_apply(struct mes_catalog *ix, const char *id, const char *doc);
void mes__catalog_index_remove(struct mes_catalog *ix, const char *id);
/* Forgets everything: the next lookup rebuilds from the store (after a
 * commit failed, so the index may hold a write the store does not). */
void mes__catalog_index_invalidate(struct mes_catalog *ix);
/* After this process's write moved the store's catalog version from before
 * to after (meta "catalog_version", read inside the write's transaction):
 * the index now reflects `after` if it reflected `before`; otherwise another
 * process wrote in between, unseen, and the index is invalidated. A version
 * of -1 (unreadable) invalidates too. */
void mes__catalog_index_advance(struct mes_catalog *ix, int64_t before, int64_t after);
/* The store's catalog version (meta "catalog_version": every item write
 * adds one; read inside a transaction it sees the transaction's writes); 0
 * before the first write, -1 when it cannot be read. */
int64_t mes__catalog_store_version(struct mes_store *st);

#endif
