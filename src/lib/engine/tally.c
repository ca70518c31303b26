/*
 * engine/tally — the daily counts the brand's console shows: events by
 * outcome and suppressions by guardrail rule, per UTC day, for every server
 * sharing the store and across restarts.
 *
 * A request only adds to a small table in memory (one mutex, no store
 * write on the request's path); the background thread moves what gathered
 * into the store every TALLY_FLUSH_S (mes__tally_flush), and the engine
 * does once more when it closes. A server killed outright loses at most
 * those seconds of counts: they are statistics, not records. Each server
 * adds its own to the same rows, so the sums hold across servers. Readers
 * (mes__tally_days) see the store's counts plus what is still in memory,
 * never a count twice: a flush and a read exclude each other.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "store/store.h"

#define DAY_MS 86400000LL

struct tally_entry {
  int64_t day;
  char kind[16];
  char label[48];
  int64_t n;
};

/* Adds (day, kind, label, n) to entries[0..*n) (capacity *cap), growing
 * it. MES_ENOMEM leaves it as it was. */
static int put(struct tally_entry **entries, size_t *n_entries, size_t *cap, int64_t day, const char *kind,
               const char *label, int64_t n) {
  for (size_t i = 0; i < *n_entries; i++) {
    struct tally_entry *t = &(*entries)[i];
    if (t->day == day && strcmp(t->kind, kind) == 0 && strcmp(t->label, label) == 0) {
      t->n += n;
      return MES_OK;
    }
  }
  if (*n_entries == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    struct tally_entry *ne = realloc(*entries, nc * sizeof *ne);
    if (!ne)
      return MES_ENOMEM;
    *entries = ne;
    *cap = nc;
  }
  struct tally_entry *t = &(*entries)[(*n_entries)++];
  t->day = day;
  snprintf(t->kind, sizeof t->kind, "%s", kind);
  snprintf(t->label, sizeof t->label, "%s", label);
  t->n = n;
  return MES_OK;
}

void mes__tally_init(struct mes__tally *t) {
  memset(t, 0, sizeof *t);
  pthread_mutex_init(&t->mu, NULL);
  pthread_mutex_init(&t->flush_mu, NULL);
}

void mes__tally_destroy(struct mes__tally *t) {
  free(t->entries);
  pthread_mutex_destroy(&t->mu);
  pthread_mutex_destroy(&t->flush_mu);
}

void mes__tally_add(struct mes_engine *e, int64_t now_ms, const char *kind, const char *label, int64_t n) {
  if (n <= 0 || !kind || !label)
    return;
  struct mes__tally *t = &e->tally;
  pthread_mutex_lock(&t->mu);
  int rc = put(&t->entries, &t->n, &t->cap, now_ms / DAY_MS, kind, label, n);
  pthread_mutex_unlock(&t->mu);
  if (rc)
    mes_log(&e->log, MES_LOG_WARN, "a daily count was lost: out of memory");
}

int mes__tally_flush(struct mes_engine *e) {
  struct mes__tally *t = &e->tally;
  pthread_mutex_lock(&t->flush_mu);
  pthread_mutex_lock(&t->mu);
  struct tally_entry *taken = t->entries;
  size_t n = t->n;
  t->entries = NULL;
  t->n = t->cap = 0;
  pthread_mutex_unlock(&t->mu);
  int rc = MES_OK;
  if (n > 0) {
    struct mes_count_row *rows = calloc(n, sizeof *rows);
    if (!rows)
      rc = MES_ENOMEM;
    for (size_t i = 0; rows && i < n; i++)
      rows[i] = (struct mes_count_row){taken[i].day, taken[i].kind, taken[i].label, taken[i].n};
    if (!rc && !(rc = mes_store_tx_begin(e->store))) {
      uint64_t ticket = 0;
      rc = mes_store_counts_add(e->store, rows, n);
      if (rc)
        mes_store_tx_rollback(e->store);
      else if (!(rc = mes_store_tx_commit(e->store, &ticket)))
        rc = mes_store_wait_durable(e->store, ticket);
    }
    free(rows);
  }
  if (rc) {
    /* Kept for the next flush: put back beside what came meanwhile. */
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < n; i++)
      if (put(&t->entries, &t->n, &t->cap, taken[i].day, taken[i].kind, taken[i].label, taken[i].n))
        break;
    pthread_mutex_unlock(&t->mu);
  }
  free(taken);
  pthread_mutex_unlock(&t->flush_mu);
  return rc;
}

int mes__tally_days(struct mes_engine *e, int64_t since_day, mes_store_count_cb cb, void *ud) {
  struct mes__tally *t = &e->tally;
  pthread_mutex_lock(&t->flush_mu);
  int rc = mes_store_counts_days(e->store, since_day, cb, ud);
  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; rc == MES_OK && i < t->n; i++)
    if (t->entries[i].day >= since_day && cb(ud, t->entries[i].day, t->entries[i].kind, t->entries[i].label,
                                              t->entries[i].n))
      break;
  pthread_mutex_unlock(&t->mu);
  pthread_mutex_unlock(&t->flush_mu);
  return rc;
}
