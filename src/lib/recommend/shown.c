/*
 * recommend/shown — impressions: the items one answer showed a person, kept
 * only for the frequency cap (contract §6) and the person's export. The
 * recommender writes them (serve.c seals them, record.c queues and stores
 * them with the decision record) and reads them back (facts.c, for the
 * frequency cap; the export, through mes_recommender_shown_list).
 *
 * What someone was shown says as much about them as what they did, so it is
 * sealed like their events: one row per answer, the item ids as a JSON array
 * sealed with the subject's key (kind "impression"), the channel and the time
 * in clear columns for the window and the sweep. Erasing the key shreds every
 * copy; withdrawing the purpose deletes the rows (consent).
 *
 * With the history cache that the ingester owns (ingest/histcache.h, read
 * through mes_ingest_cache_get as the entry of kind MES_HISTCACHE_SHOWN), an
 * active shopper's rows are opened once and replayed from memory while
 * their stamp holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "recommend/rec_int.h"

#define SHOWN_KIND "impression"

int mes__rec_shown_seal(struct mes_recommender *rec, int64_t sid, const char *const *items, size_t n, uint8_t **out,
                        size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  json_t *arr = json_array();
  int rc = arr ? MES_OK : MES_ENOMEM;
  for (size_t i = 0; !rc && i < n; i++)
    if (json_array_append_new(arr, json_string(items[i])))
      rc = MES_ENOMEM;
  char *text = rc ? NULL : mes_json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  if (!rc && !text)
    rc = MES_ENOMEM;
  if (!rc) {
    size_t len = strlen(text);
    rc = mes_subject_seal(rec->subjects, sid, SHOWN_KIND, text, len, out, out_len);
    mes_wipe(text, len);
  }
  free(text);
  return rc;
}

struct shown_read {
  struct mes_recommender *rec;
  uint8_t key[MES_KEY_BYTES];
  bool have_key;
  mes_shown_cb cb;
  void *ud;
  struct mes_histcache_build *build; /* not NULL: the items are collected for the cache instead of handed to cb */
  uint8_t *pt; /* reused plaintext buffer, wiped after */
  size_t pt_cap;
  int rc;
  int64_t unreadable;
};

/* A row that cannot be opened: counted, and for the cache a record without
 * an item, so that its replays count it too. */
static int unreadable_row(struct shown_read *r, const struct mes_impression_row *row) {
  r->unreadable++;
  if (!r->build)
    return 0;
  struct mes_evrec x = {.id = row->id, .sid = row->sid, .type = -1, .ts_ms = row->ts_ms, .channel = row->channel};
  return (r->rc = mes_histcache_build_add(r->build, &x)) != MES_OK;
}

/* One item: to cb, or into the cache's builder (as the C string cb would
 * see). */
static int on_item(struct shown_read *r, const struct mes_impression_row *row, const char *item) {
  if (!r->build)
    return r->cb(r->ud, item, row->channel, row->ts_ms);
  struct mes_evrec x = {
      .id = row->id, .sid = row->sid, .type = -1, .ts_ms = row->ts_ms, .channel = row->channel, .item = item,
      .item_len = strlen(item)};
  return (r->rc = mes_histcache_build_add(r->build, &x)) != MES_OK;
}

/* One row: unseal, parse the array, hand out each item. */
static int on_row(void *ud, const struct mes_impression_row *row) {
  struct shown_read *r = ud;
  if (!r->have_key) {
    if ((r->rc = mes_subject_key(r->rec->subjects, row->sid, r->key)))
      return 1; /* MES_ENOT_FOUND: shredded, nothing is readable */
    r->have_key = true;
  }
  if (r->build)
    mes_histcache_build_row(r->build, row->id); /* every row counts in the stamp, readable or not */
  if (row->sealed_len < MES_SEAL_OVERHEAD)
    return unreadable_row(r, row);
  size_t n = row->sealed_len - MES_SEAL_OVERHEAD;
  if ((r->rc = mes_pt_reserve(&r->pt, &r->pt_cap, n)) != MES_OK)
    return 1;
  if (mes_subject_unseal_key(r->key, row->sid, SHOWN_KIND, row->sealed, row->sealed_len, r->pt) != MES_OK)
    return unreadable_row(r, row);
  json_t *arr = json_loadb((const char *)r->pt, n, 0, NULL);
  if (!arr) { /* it opened, so it is what we wrote: only memory fails to load it (skipping would undercount) */
    r->rc = MES_ENOMEM;
    return 1;
  }
  if (!json_is_array(arr)) {
    json_decref(arr);
    return unreadable_row(r, row);
  }
  size_t i;
  json_t *v;
  int stop = 0;
  json_array_foreach(arr, i, v) {
    if (json_is_string(v) && (stop = on_item(r, row, json_string_value(v))))
      break;
  }
  json_decref(arr);
  return stop;
}

/* Reads sid's rows at or after since_ms from the store (after_id < 0), or
 * those with an id above after_id (>= 0, for the cache): to cb, or into
 * *build. *unreadable gets the rows that could not be opened. A store,
 * crypto or memory error, or MES_ENOT_FOUND when the key is gone. */
static int shown_read(struct mes_recommender *rec, int64_t sid, int64_t since_ms, int64_t after_id, mes_shown_cb cb,
                      void *ud, struct mes_histcache_build *build, int64_t *unreadable) {
  *unreadable = 0;
  struct shown_read *r = calloc(1, sizeof *r); /* the key lives here: wiped below */
  if (!r)
    return MES_ENOMEM;
  r->rec = rec;
  r->cb = cb;
  r->ud = ud;
  r->build = build;
  int rc = after_id < 0 ? mes_store_impression_list(rec->st, sid, since_ms, on_row, r)
                        : mes_store_impression_list_after(rec->st, sid, after_id, on_row, r);
  if (!rc)
    rc = r->rc;
  *unreadable = r->unreadable;
  if (r->pt) {
    mes_wipe(r->pt, r->pt_cap);
    free(r->pt);
  }
  mes_wipe(r, sizeof *r);
  free(r);
  return rc;
}

/* All of sid's rows, whatever the window: each replay picks its own. */
static int shown_fill(void *rec, int64_t sid, struct mes_histcache_build *b) {
  int64_t unreadable;
  return shown_read(rec, sid, INT64_MIN, -1, NULL, NULL, b, &unreadable);
}

/* The rows written since a read that saw ids up to after_id: an active
 * shopper's next request finds one more answer of theirs, read alone. */
static int shown_fill_after(void *rec, int64_t sid, int64_t after_id, struct mes_histcache_build *b) {
  int64_t unreadable;
  return shown_read(rec, sid, INT64_MIN, after_id, NULL, NULL, b, &unreadable);
}

static const struct mes_histcache_source shown_source = {.kind = MES_HISTCACHE_SHOWN,
                                                         .stamp = mes_store_impression_stamp,
                                                         .fill = shown_fill,
                                                         .fill_after = shown_fill_after};

/* Hands e's items shown at or after since_ms to cb in order, as a read of
 * that window from the store does (the entry holds all of the subject's
 * rows in the store's order, ts_ms then id), and returns how many rows of
 * the window could not be opened, up to where cb stopped. Item borrowed for
 * the call; no lock is held. */
static int64_t replay(const struct mes_histcache_entry *e, int64_t since_ms, mes_shown_cb cb, void *ud) {
  size_t n;
  const struct mes_evrec *x = mes_histcache_records(e, &n);
  int64_t unreadable = 0;
  for (size_t i = 0; i < n; i++) {
    if (x[i].ts_ms < since_ms)
      continue;
    if (!x[i].item)
      unreadable++;
    else if (cb(ud, x[i].item, x[i].channel, x[i].ts_ms))
      break;
  }
  return unreadable;
}

/* The read through the ingester's history cache; without it when the cache
 * cannot help (off, no memory for an entry, a store without stamps). */
static int shown_cached(struct mes_recommender *rec, int64_t sid, int64_t since_ms, mes_shown_cb cb, void *ud,
                        int64_t *unreadable) {
  *unreadable = 0;
  struct mes_histcache_entry *e;
  bool bypass;
  int rc = mes_ingest_cache_get(rec->ingester, sid, &shown_source, rec, &e, &bypass);
  if (bypass)
    return shown_read(rec, sid, since_ms, -1, cb, ud, NULL, unreadable);
  if (rc || !e)
    return rc;
  *unreadable = replay(e, since_ms, cb, ud);
  mes_ingest_cache_release(rec->ingester, e);
  return MES_OK;
}

int mes_recommender_shown_list(struct mes_recommender *r, int64_t sid, int64_t since_ms, mes_shown_cb cb, void *ud,
                               struct mes_err *err) {
  int64_t unreadable = 0;
  int rc = shown_cached(r, sid, since_ms, cb, ud, &unreadable);
  if (unreadable)
    mes_log(r->log, MES_LOG_WARN, "%lld impression rows could not be opened and were skipped",
            (long long)unreadable);
  if (rc == MES_ENOT_FOUND) /* the key is gone: so is everything it sealed */
    return MES_OK;
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
