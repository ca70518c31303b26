/*
 * ingest/ingester — the handle (ingest.h): made once with what ingestion
 * and the history readers use, owning the history cache.
 */
#include <stdlib.h>

#include "ingest/ingest_int.h"

int mes_ingester_new(struct mes_store *st, const struct mes_master *master, struct mes_subjects *subjects,
                     struct mes_ledger *ledger, size_t history_cache_bytes, const struct mes_log *log,
                     struct mes_ingester **out) {
  *out = NULL;
  struct mes_ingester *ing = calloc(1, sizeof *ing);
  if (!ing)
    return MES_ENOMEM;
  ing->store = st;
  ing->master = master;
  ing->subjects = subjects;
  ing->ledger = ledger;
  ing->log = log;
  int rc = mes_histcache_new(history_cache_bytes, &ing->cache);
  if (rc) {
    free(ing);
    return rc;
  }
  *out = ing;
  return MES_OK;
}

int mes_ingester_new_like(const struct mes_ingester *ing, size_t history_cache_bytes, struct mes_ingester **out) {
  return mes_ingester_new(ing->store, ing->master, ing->subjects, ing->ledger, history_cache_bytes, ing->log, out);
}

void mes_ingester_free(struct mes_ingester *ing) {
  if (!ing)
    return;
  mes_histcache_free(ing->cache); /* wipes what it holds */
  free(ing);
}

void mes_ingester_set_cache_cap(struct mes_ingester *ing, size_t history_cache_bytes) {
  mes_histcache_set_cap(ing->cache, history_cache_bytes);
}

void mes_ingester_cache_stats(struct mes_ingester *ing, struct mes_histcache_stats *out) {
  mes_histcache_stats(ing->cache, out);
}

void mes_ingester_forget(struct mes_ingester *ing, int64_t sid) { mes_histcache_forget(ing->cache, sid); }

int64_t mes_ingest_count(struct mes_ingester *ing) { return mes_store_event_count(ing->store); }
