/*
 * store — the public face of the store: picks a backend at open, then
 * forwards every call through its method table (store_int.h). Checks that do
 * not depend on the backend (NULL handles, NULL callbacks, rows whose
 * pointers and lengths disagree) live here once.
 */
#include "store/store_int.h"

#include <stdlib.h>

int mes_store_open(const char *dir, enum mes_store_backend backend, bool create, struct mes_store **out,
                   struct mes_err *err) {
  *out = NULL;
  const struct mes_store_ops *ops = NULL;
  switch (backend) {
  case MES_STORE_SQLITE:
    ops = &mes__store_sqlite_ops;
    break;
  }
  if (!ops || ops->version != MES_STORE_OPS_VERSION)
    return mes_err_set(err, MES_EINTERNAL, NULL, "Unknown store backend.");
  struct mes_store *st = calloc(1, sizeof *st);
  if (!st)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  st->ops = ops;
  int rc = ops->open(st, dir, create, err);
  if (rc != MES_OK) {
    free(st);
    return rc;
  }
  *out = st;
  return MES_OK;
}

void mes_store_close(struct mes_store *st) {
  if (!st)
    return;
  st->ops->close(st);
  free(st);
}

int mes_store_schema_version(struct mes_store *st) { return st ? st->ops->schema_version(st) : -1; }

/* --- transactions --- */
int mes_store_tx_begin(struct mes_store *st) { return st ? st->ops->tx_begin(st) : MES_EINTERNAL; }

int mes_store_tx_commit(struct mes_store *st, uint64_t *ticket) {
  uint64_t dummy;
  return st ? st->ops->tx_commit(st, ticket ? ticket : &dummy) : MES_EINTERNAL;
}

void mes_store_tx_rollback(struct mes_store *st) {
  if (st)
    st->ops->tx_rollback(st);
}

int mes_store_wait_durable(struct mes_store *st, uint64_t ticket) {
  return st ? st->ops->wait_durable(st, ticket) : MES_EINTERNAL;
}

int mes_store_on_durable(struct mes_store *st, uint64_t ticket, struct mes_store_waiter *w) {
  if (!st || !w || !w->cb)
    return MES_EINTERNAL;
  return st->ops->on_durable(st, ticket, w);
}

int mes_store_backup(struct mes_store *st, const char *path, struct mes_err *err) {
  if (!st || !path)
    return mes_err_set(err, MES_EINTERNAL, NULL, NULL);
  return st->ops->backup(st, path, err);
}

/* --- meta --- */
int mes_store_meta_get(struct mes_store *st, const char *key, char *out, size_t cap) {
  return st && key && out && cap ? st->ops->meta_get(st, key, out, cap) : MES_EINTERNAL;
}

int mes_store_meta_set(struct mes_store *st, const char *key, const char *value) {
  return st && key && value ? st->ops->meta_set(st, key, value) : MES_EINTERNAL;
}

/* --- subjects --- */
int mes_store_subject_find(struct mes_store *st, const uint8_t pn[32], struct mes_subject_row *out) {
  return st && pn && out ? st->ops->subject_find(st, pn, out) : MES_EINTERNAL;
}

int mes_store_subject_ensure(struct mes_store *st, const uint8_t pn[32], int64_t now_ms,
                             struct mes_subject_row *out) {
  return st && pn && out ? st->ops->subject_ensure(st, pn, now_ms, out) : MES_EINTERNAL;
}

int mes_store_subject_set_granted(struct mes_store *st, int64_t sid, uint32_t granted) {
  return st ? st->ops->subject_set_granted(st, sid, granted) : MES_EINTERNAL;
}

int mes_store_subject_set_restricted(struct mes_store *st, int64_t sid, bool restricted) {
  return st ? st->ops->subject_set_restricted(st, sid, restricted) : MES_EINTERNAL;
}

int mes_store_subject_delete(struct mes_store *st, int64_t sid) {
  return st ? st->ops->subject_delete(st, sid, NULL) : MES_EINTERNAL;
}

int mes_store_subject_delete_counted(struct mes_store *st, int64_t sid, struct mes_store_erased *n) {
  return st && n ? st->ops->subject_delete(st, sid, n) : MES_EINTERNAL;
}

int64_t mes_store_subject_count(struct mes_store *st) { return st ? st->ops->subject_count(st) : -1; }

int mes_store_subject_scan(struct mes_store *st, mes_store_subject_cb cb, void *ud) {
  if (!st || !cb)
    return MES_EINTERNAL;
  return st->ops->subject_scan(st, cb, ud);
}

/* --- keystore --- */
int mes_store_key_put(struct mes_store *st, int64_t sid, const uint8_t *wrapped, size_t len) {
  return st && wrapped ? st->ops->key_put(st, sid, wrapped, len) : MES_EINTERNAL;
}

int mes_store_key_get(struct mes_store *st, int64_t sid, uint8_t *out, size_t cap, size_t *len) {
  return st && out && len ? st->ops->key_get(st, sid, out, cap, len) : MES_EINTERNAL;
}

int mes_store_key_meta_get(struct mes_store *st, const char *key, char *out, size_t cap) {
  if (!st || !key || !out || !cap)
    return MES_EINTERNAL;
  return st->ops->key_meta_get(st, key, out, cap);
}

int mes_store_key_meta_set(struct mes_store *st, const char *key, const char *value) {
  if (!st || !key || !value)
    return MES_EINTERNAL;
  return st->ops->key_meta_set(st, key, value);
}

int mes_store_key_delete(struct mes_store *st, int64_t sid) {
  return st ? st->ops->key_delete(st, sid) : MES_EINTERNAL;
}

/* --- events --- */
int mes_store_event_insert(struct mes_store *st, struct mes_event_row *row) {
  return st && row && (row->sealed || row->sealed_len == 0) ? st->ops->event_insert(st, row) : MES_EINTERNAL;
}

void mes_store_read_begin(struct mes_store *st) {
  if (st)
    st->ops->read_begin(st);
}

void mes_store_read_end(struct mes_store *st) {
  if (st)
    st->ops->read_end(st);
}

int mes_store_event_insert_many(struct mes_store *st, const struct mes_event_row *rows, size_t n, size_t *n_dup) {
  if (n_dup)
    *n_dup = 0;
  if (!st || (n && !rows))
    return MES_EINTERNAL;
  for (size_t i = 0; i < n; i++)
    if (!rows[i].sealed && rows[i].sealed_len)
      return MES_EINTERNAL;
  if (n == 0)
    return MES_OK;
  return st->ops->event_insert_many(st, rows, n, n_dup);
}

int mes_store_event_list(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud) {
  return st && cb ? st->ops->event_list(st, sid, cb, ud) : MES_EINTERNAL;
}

int mes_store_event_scan(struct mes_store *st, mes_store_event_cb cb, void *ud) {
  return st && cb ? st->ops->event_scan(st, cb, ud) : MES_EINTERNAL;
}

int mes_store_event_delete(struct mes_store *st, int64_t sid, int64_t event_id) {
  return st ? st->ops->event_delete(st, sid, event_id) : MES_EINTERNAL;
}

int mes_store_event_purge_purposes(struct mes_store *st, int64_t sid, uint32_t still_granted, int64_t *n) {
  int64_t dummy;
  return st ? st->ops->event_purge_purposes(st, sid, still_granted, n ? n : &dummy) : MES_EINTERNAL;
}

int mes_store_event_sweep(struct mes_store *st, int type, int64_t before_ms, int64_t *n) {
  int64_t dummy;
  return st ? st->ops->event_sweep(st, type, before_ms, n ? n : &dummy) : MES_EINTERNAL;
}

int64_t mes_store_event_count(struct mes_store *st) { return st ? st->ops->event_count(st) : -1; }

int mes_store_event_list_stored(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud) {
  return st && cb ? st->ops->event_list_stored(st, sid, cb, ud) : MES_EINTERNAL;
}

int mes_store_event_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n) {
  if (max_id)
    *max_id = 0;
  if (n)
    *n = 0;
  if (!st || !max_id || !n)
    return MES_EINTERNAL;
  return st->ops->event_stamp(st, sid, max_id, n);
}

/* --- consents --- */
int mes_store_consent_append(struct mes_store *st, struct mes_consent_row *row) {
  return st && row && (row->sealed || row->sealed_len == 0) ? st->ops->consent_append(st, row) : MES_EINTERNAL;
}

int mes_store_consent_list(struct mes_store *st, int64_t sid, mes_store_consent_cb cb, void *ud) {
  return st && cb ? st->ops->consent_list(st, sid, cb, ud) : MES_EINTERNAL;
}

/* --- preferences --- */
int mes_store_pref_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len) {
  return st && (sealed || len == 0) ? st->ops->pref_put(st, sid, sealed, len) : MES_EINTERNAL;
}

int mes_store_pref_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len) {
  return st && out && len ? st->ops->pref_get(st, sid, out, len) : MES_EINTERNAL;
}

/* --- catalog --- */
int mes_store_item_put(struct mes_store *st, const char *id, const char *doc, int64_t now_ms) {
  return st && id && doc ? st->ops->item_put(st, id, doc, now_ms) : MES_EINTERNAL;
}

int mes_store_item_get(struct mes_store *st, const char *id, char **doc) {
  return st && id && doc ? st->ops->item_get(st, id, doc) : MES_EINTERNAL;
}

int mes_store_item_delete(struct mes_store *st, const char *id) {
  return st && id ? st->ops->item_delete(st, id) : MES_EINTERNAL;
}

int mes_store_item_list(struct mes_store *st, const char *after, int limit, mes_store_item_cb cb, void *ud) {
  return st && cb ? st->ops->item_list(st, after, limit, cb, ud) : MES_EINTERNAL;
}

int64_t mes_store_item_count(struct mes_store *st) { return st ? st->ops->item_count(st) : -1; }

/* --- impressions --- */
int mes_store_impression_add(struct mes_store *st, const struct mes_impression_row *row) {
  if (!st || !row || (!row->sealed && row->sealed_len))
    return MES_EINTERNAL;
  return st->ops->impression_add(st, row);
}

int mes_store_impression_list(struct mes_store *st, int64_t sid, int64_t since_ms, mes_store_impression_cb cb,
                              void *ud) {
  return st && cb ? st->ops->impression_list(st, sid, since_ms, cb, ud) : MES_EINTERNAL;
}

int mes_store_impression_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  int64_t dummy;
  return st ? st->ops->impression_sweep(st, before_ms, n ? n : &dummy) : MES_EINTERNAL;
}

int mes_store_impression_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n) {
  if (max_id)
    *max_id = 0;
  if (n)
    *n = 0;
  if (!st || !max_id || !n)
    return MES_EINTERNAL;
  return st->ops->impression_stamp(st, sid, max_id, n);
}

int mes_store_impression_list_after(struct mes_store *st, int64_t sid, int64_t after_id, mes_store_impression_cb cb,
                                    void *ud) {
  if (!st || !cb)
    return MES_EINTERNAL;
  return st->ops->impression_list_after(st, sid, after_id, cb, ud);
}

int mes_store_impression_purge(struct mes_store *st, int64_t sid, int64_t *n) {
  int64_t dummy;
  if (!st)
    return MES_EINTERNAL;
  return st->ops->impression_purge(st, sid, n ? n : &dummy);
}

/* --- API keys --- */
int mes_store_apikey_put(struct mes_store *st, const struct mes_apikey_row *row) {
  return st && row ? st->ops->apikey_put(st, row) : MES_EINTERNAL;
}

int mes_store_apikey_find(struct mes_store *st, const uint8_t hash[32], struct mes_apikey_row *out) {
  return st && hash && out ? st->ops->apikey_find(st, hash, out) : MES_EINTERNAL;
}

int mes_store_apikey_list(struct mes_store *st, mes_store_apikey_cb cb, void *ud) {
  return st && cb ? st->ops->apikey_list(st, cb, ud) : MES_EINTERNAL;
}

int mes_store_apikey_revoke(struct mes_store *st, const char *name, int64_t now_ms) {
  return st && name ? st->ops->apikey_revoke(st, name, now_ms) : MES_EINTERNAL;
}

/* --- decision records --- */
int mes_store_decision_put(struct mes_store *st, const struct mes_decision_row *rows, size_t n) {
  if (!st || (!rows && n))
    return MES_EINTERNAL;
  for (size_t i = 0; i < n; i++)
    if (rows[i].rid <= 0 || rows[i].sid < 0 || (!rows[i].doc && rows[i].len))
      return MES_EINTERNAL;
  return n ? st->ops->decision_put(st, rows, n) : MES_OK;
}

int mes_store_decision_get(struct mes_store *st, int64_t rid, struct mes_decision_row *out, uint8_t **doc) {
  if (!st || !out || !doc)
    return MES_EINTERNAL;
  return st->ops->decision_get(st, rid, out, doc);
}

int mes_store_decision_list(struct mes_store *st, int64_t sid, mes_store_decision_cb cb, void *ud) {
  if (!st || !cb)
    return MES_EINTERNAL;
  return sid > 0 ? st->ops->decision_list(st, sid, cb, ud) : MES_OK; /* sid 0 marks non-personal records */
}

int mes_store_decision_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  int64_t dummy;
  if (!st)
    return MES_EINTERNAL;
  return st->ops->decision_sweep(st, before_ms, n ? n : &dummy);
}

/* --- models --- */
int mes_store_model_put(struct mes_store *st, const char *meta, const uint8_t *blob, size_t len, int keep,
                        int64_t now_ms, int64_t *id) {
  int64_t dummy;
  if (!st || !meta || (!blob && len))
    return MES_EINTERNAL;
  return st->ops->model_put(st, meta, blob, len, keep, now_ms, id ? id : &dummy);
}

int64_t mes_store_model_latest(struct mes_store *st) {
  if (!st)
    return -1;
  return st->ops->model_latest(st);
}

int mes_store_model_get(struct mes_store *st, int64_t id, char **meta, uint8_t **blob, size_t *len) {
  if (!st || !meta || !blob || !len)
    return MES_EINTERNAL;
  return st->ops->model_get(st, id, meta, blob, len);
}

int mes_store_token_put(struct mes_store *st, const struct mes_token_row *row) {
  return st && row ? st->ops->token_put(st, row) : MES_EINTERNAL;
}

int mes_store_token_find(struct mes_store *st, const uint8_t hash[32], struct mes_token_row *out) {
  return st && hash && out ? st->ops->token_find(st, hash, out) : MES_EINTERNAL;
}

int mes_store_token_revoke_subject(struct mes_store *st, int64_t sid, int64_t now_ms, int64_t *n) {
  return st && n ? st->ops->token_revoke_subject(st, sid, now_ms, n) : MES_EINTERNAL;
}

int mes_store_token_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  return st && n ? st->ops->token_sweep(st, before_ms, n) : MES_EINTERNAL;
}
