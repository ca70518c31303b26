/*
 * ingest/shown — impressions: the items one answer showed a person, kept
 * only for the frequency cap (contract §6) and the person's export.
 *
 * What someone was shown says as much about them as what they did, so it is
 * sealed like their events: one row per answer, the item ids as a JSON array
 * sealed with the subject's key (kind "impression"), the channel and the time
 * in clear columns for the window and the sweep. Erasing the key shreds every
 * copy; withdrawing the purpose deletes the rows (consent).
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ingest/ingest_int.h"

#define SHOWN_KIND "impression"

int mes_ingest_shown_seal(const struct mes_ctx *c, int64_t sid, const char *const *items, size_t n, uint8_t **out,
                          size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  json_t *arr = json_array();
  int rc = arr ? MES_OK : MES_ENOMEM;
  for (size_t i = 0; !rc && i < n; i++)
    if (json_array_append_new(arr, json_string(items[i])))
      rc = MES_ENOMEM;
  char *text = rc ? NULL : json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  if (!rc && !text)
    rc = MES_ENOMEM;
  if (!rc) {
    size_t len = strlen(text);
    rc = mes_subject_seal(c, sid, SHOWN_KIND, text, len, out, out_len);
    mes_wipe(text, len);
  }
  free(text);
  return rc;
}

struct shown_read {
  const struct mes_ctx *c;
  uint8_t key[MES_KEY_BYTES];
  bool have_key;
  mes_ingest_shown_cb cb;
  void *ud;
  uint8_t *pt; /* reused plaintext buffer, wiped after */
  size_t pt_cap;
  int rc;
  int64_t unreadable;
};

/* One row: unseal, parse the array, hand out each item. */
static int on_row(void *ud, const struct mes_impression_row *row) {
  struct shown_read *r = ud;
  if (!r->have_key) {
    if ((r->rc = mes_subject_key(r->c, row->sid, r->key)))
      return 1; /* MES_ENOT_FOUND: shredded, nothing is readable */
    r->have_key = true;
  }
  if (row->sealed_len < MES_SEAL_OVERHEAD) {
    r->unreadable++;
    return 0;
  }
  size_t n = row->sealed_len - MES_SEAL_OVERHEAD;
  if ((r->rc = mes__ingest_pt_reserve(&r->pt, &r->pt_cap, n)) != MES_OK)
    return 1;
  if (mes_subject_unseal_key(r->key, row->sid, SHOWN_KIND, row->sealed, row->sealed_len, r->pt) != MES_OK) {
    r->unreadable++;
    return 0;
  }
  json_t *arr = json_loadb((const char *)r->pt, n, 0, NULL);
  if (!json_is_array(arr)) {
    json_decref(arr);
    r->unreadable++;
    return 0;
  }
  size_t i;
  json_t *v;
  int stop = 0;
  json_array_foreach(arr, i, v) {
    if (json_is_string(v) && (stop = r->cb(r->ud, json_string_value(v), row->channel, row->ts_ms)))
      break;
  }
  json_decref(arr);
  return stop;
}

int mes_ingest_shown_list(const struct mes_ctx *c, int64_t sid, int64_t since_ms, mes_ingest_shown_cb cb, void *ud,
                          struct mes_err *err) {
  struct shown_read *r = calloc(1, sizeof *r); /* the key lives here: wiped below */
  if (!r)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  r->c = c;
  r->cb = cb;
  r->ud = ud;
  int rc = mes_store_impression_list(c->store, sid, since_ms, on_row, r);
  if (!rc)
    rc = r->rc;
  int64_t unreadable = r->unreadable;
  if (r->pt) {
    mes_wipe(r->pt, r->pt_cap);
    free(r->pt);
  }
  mes_wipe(r, sizeof *r);
  free(r);
  if (unreadable)
    mes_log(c->log, MES_LOG_WARN, "%lld impression rows could not be opened and were skipped",
            (long long)unreadable);
  if (rc == MES_ENOT_FOUND) /* the key is gone: so is everything it sealed */
    return MES_OK;
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
