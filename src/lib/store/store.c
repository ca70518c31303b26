/*
 * store — the public face of the store: picks a backend at open, opens the
 * erasure journal beside it and replays it (journal.c), then forwards every
 * call through the backend's method table (store_int.h). Checks that do not
 * depend on the backend (NULL handles, NULL callbacks, rows whose pointers
 * and lengths disagree) live here once, and so does the sequence of a
 * restore, whose file work is the backend's.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/journal_int.h"

static const struct mes_store_ops *backend_ops(enum mes_store_backend backend) {
  switch (backend) {
  case MES_STORE_SQLITE:
    return &mes__store_sqlite_ops;
  }
  return NULL;
}

/* mes_store_open; lock_fd is -1, or a descriptor of the journal holding the
 * directory's "in use" lock exclusive (a restore's), taken over. */
static int open_locked(const char *dir, enum mes_store_backend backend, bool create, int lock_fd,
                       struct mes_store **out, struct mes_err *err) {
  *out = NULL;
  const struct mes_store_ops *ops = backend_ops(backend);
  struct mes_store *st = NULL;
  int rc;
  if (!ops || ops->version != MES_STORE_OPS_VERSION) {
    rc = mes_err_set(err, MES_EINTERNAL, NULL, "Unknown store backend.");
    goto error;
  }
  if (!(st = calloc(1, sizeof *st))) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  st->ops = ops;
  rc = ops->open(st, dir, create, err);
  if (rc != MES_OK) {
    free(st);
    st = NULL;
    goto error;
  }
  /* The journal after the databases: a directory without a store gets no
   * journal either. Its replay before anyone can use the store. */
  rc = mes__journal_open(dir, lock_fd, &st->journal, err);
  lock_fd = -1; /* taken over, even on failure */
  if (rc == MES_OK)
    rc = mes__journal_replay(st->journal, st, &st->erasures_replayed, err);
  if (rc != MES_OK)
    goto error;
  *out = st;
  return MES_OK;
error:
  if (lock_fd >= 0)
    close(lock_fd);
  mes_store_close(st);
  return rc;
}

int mes_store_open(const char *dir, enum mes_store_backend backend, bool create, struct mes_store **out,
                   struct mes_err *err) {
  return open_locked(dir, backend, create, -1, out, err);
}

int mes_store_open_alone(const char *dir, enum mes_store_backend backend, struct mes_store **out,
                         struct mes_err *err) {
  *out = NULL;
  if (!dir)
    return mes_err_set(err, MES_EINTERNAL, NULL, NULL);
  int lock_fd;
  int rc = mes__journal_lock_dir(dir, &lock_fd, err);
  if (rc != MES_OK)
    return rc;
  return open_locked(dir, backend, false, lock_fd, out, err);
}

void mes_store_close(struct mes_store *st) {
  if (!st)
    return;
  st->ops->close(st);
  mes__journal_close(st->journal); /* last: its lock says the store is open */
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

/* --- restore --- */

/* The directory's lock is held from before the files are swapped until the
 * previous ones are deleted or back: no server opens a store half restored,
 * or one that verify is about to refuse. */
int mes_store_restore(const char *dir, enum mes_store_backend backend, const char *data_file, const char *keys_file,
                      mes_store_verify_cb verify, void *ud, int64_t *n_removed, struct mes_err *err) {
  if (n_removed)
    *n_removed = 0;
  const struct mes_store_ops *ops = backend_ops(backend);
  if (!dir || !data_file || !ops || ops->version != MES_STORE_OPS_VERSION)
    return mes_err_set(err, MES_EINTERNAL, NULL, NULL);
  int lock_fd;
  int rc = mes__journal_lock_dir(dir, &lock_fd, err);
  if (rc != MES_OK)
    return rc;
  rc = ops->install(dir, data_file, keys_file, err);
  if (rc != MES_OK) {
    close(lock_fd);
    return rc;
  }
  /* The store takes a duplicate: the lock (of the open file description)
   * outlives the store's close until lock_fd is closed too. */
  int store_fd = dup(lock_fd);
  struct mes_store *st = NULL;
  if (store_fd < 0)
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot open the store after restoring it.");
  else
    rc = open_locked(dir, backend, false, store_fd, &st, err);
  if (rc == MES_OK && verify)
    rc = verify(ud, st, err);
  if (rc == MES_OK && n_removed)
    *n_removed = st->erasures_replayed;
  mes_store_close(st);
  ops->install_end(dir, keys_file != NULL, rc == MES_OK);
  close(lock_fd);
  return rc;
}

/* --- the erasure journal --- */
int mes_store_erasure_add(struct mes_store *st, const uint8_t pn[32], int64_t sid, int64_t at_ms) {
  if (!st || !pn || sid <= 0)
    return MES_EINTERNAL;
  struct mes_journal_rec r = {.sid = sid, .at_ms = at_ms};
  memcpy(r.pn, pn, sizeof r.pn);
  return mes__journal_append(st->journal, &r);
}

struct erasure_reader {
  int (*cb)(void *ud, int64_t sid, int64_t at_ms);
  void *ud;
};

static int erasure_read_one(void *ud, const struct mes_journal_rec *r) {
  struct erasure_reader *x = ud;
  return x->cb ? x->cb(x->ud, r->sid, r->at_ms) : MES_OK;
}

int mes_store_erasures_read(struct mes_store *st, int64_t from, int64_t *n,
                            int (*cb)(void *ud, int64_t sid, int64_t at_ms), void *ud) {
  *n = 0;
  if (!st || !st->journal)
    return MES_EINTERNAL;
  struct erasure_reader x = {cb, ud};
  return mes__journal_read(st->journal, from, n, erasure_read_one, &x);
}

int64_t mes_store_erasures_replayed(struct mes_store *st) { return st ? st->erasures_replayed : -1; }

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

int mes_store_key_rewrap(struct mes_store *st, mes_store_key_rewrap_cb cb, void *ud, const struct mes_store_kv *meta,
                         size_t n_meta, int64_t *n_keys) {
  int64_t dummy;
  if (!st || !cb || (n_meta > 0 && !meta))
    return MES_EINTERNAL;
  for (size_t i = 0; i < n_meta; i++)
    if (!meta[i].key || !meta[i].value)
      return MES_EINTERNAL;
  return st->ops->key_rewrap(st, cb, ud, meta, n_meta, n_keys ? n_keys : &dummy);
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
  if (!st || !meta || (blob && !len))
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

/* --- the attribute vault and the audit history --- */
int mes_store_attr_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len) {
  return st && sealed && len ? st->ops->attr_put(st, sid, sealed, len) : MES_EINTERNAL;
}

int mes_store_attr_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len) {
  return st && out && len ? st->ops->attr_get(st, sid, out, len) : MES_EINTERNAL;
}

int mes_store_attr_delete(struct mes_store *st, int64_t sid) {
  return st ? st->ops->attr_delete(st, sid) : MES_EINTERNAL;
}

int mes_store_attr_scan(struct mes_store *st, mes_store_attr_cb cb, void *ud) {
  return st && cb ? st->ops->attr_scan(st, cb, ud) : MES_EINTERNAL;
}

int mes_store_audit_put(struct mes_store *st, int64_t now_ms, const char *doc, int64_t *id) {
  return st && doc && id ? st->ops->audit_put(st, now_ms, doc, id) : MES_EINTERNAL;
}

int mes_store_audit_get(struct mes_store *st, int64_t id, char **doc) {
  return st && doc ? st->ops->audit_get(st, id, doc) : MES_EINTERNAL;
}

int64_t mes_store_audit_latest(struct mes_store *st) { return st ? st->ops->audit_latest(st) : -1; }

int mes_store_audit_update(struct mes_store *st, int64_t id, const char *doc) {
  return st && doc ? st->ops->audit_update(st, id, doc) : MES_EINTERNAL;
}

int mes_store_audit_interrupt(struct mes_store *st, const char *error, int64_t *n) {
  return st && error && n ? st->ops->audit_interrupt(st, error, n) : MES_EINTERNAL;
}

int mes_store_audit_list(struct mes_store *st, int limit, mes_store_audit_cb cb, void *ud) {
  return st && cb && limit > 0 ? st->ops->audit_list(st, limit, cb, ud) : MES_EINTERNAL;
}

int mes_store_consent_days(struct mes_store *st, int64_t since_ms, mes_store_consent_day_cb cb, void *ud) {
  return st && cb ? st->ops->consent_days(st, since_ms, cb, ud) : MES_EINTERNAL;
}

int mes_store_counts_add(struct mes_store *st, const struct mes_count_row *rows, size_t n) {
  return st && (rows || n == 0) ? st->ops->counts_add(st, rows, n) : MES_EINTERNAL;
}

int mes_store_counts_days(struct mes_store *st, int64_t since_day, mes_store_count_cb cb, void *ud) {
  return st && cb ? st->ops->counts_days(st, since_day, cb, ud) : MES_EINTERNAL;
}

int mes_store_counts_sweep(struct mes_store *st, int64_t before_day, int64_t *n) {
  return st ? st->ops->counts_sweep(st, before_day, n) : MES_EINTERNAL;
}

/* --- the access log --- */
int mes_store_access_append(struct mes_store *st, const struct mes_access_row *rows, size_t n,
                            struct mes_access_head_put *heads, size_t n_heads) {
  if (!st || (!rows && n) || (!heads && n_heads))
    return MES_EINTERNAL;
  for (size_t i = 0; i < n; i++)
    if (rows[i].sid <= 0 || rows[i].seq <= 0 || !rows[i].reader || strlen(rows[i].reader) > 64 ||
        (!rows[i].sealed && rows[i].sealed_len))
      return MES_EINTERNAL;
  return n || n_heads ? st->ops->access_append(st, rows, n, heads, n_heads) : MES_OK;
}

int mes_store_access_head_get(struct mes_store *st, int64_t sid, struct mes_access_head *out) {
  return st && out && sid > 0 ? st->ops->access_head_get(st, sid, out) : MES_EINTERNAL;
}

int mes_store_access_list(struct mes_store *st, int64_t sid, mes_store_access_cb cb, void *ud) {
  return st && cb && sid >= 0 ? st->ops->access_list(st, sid, cb, ud) : MES_EINTERNAL;
}

int mes_store_access_heads(struct mes_store *st, mes_store_access_head_cb cb, void *ud) {
  return st && cb ? st->ops->access_heads(st, cb, ud) : MES_EINTERNAL;
}

int mes_store_access_expired(struct mes_store *st, int64_t before_ms, mes_store_access_sid_cb cb, void *ud) {
  return st && cb ? st->ops->access_expired(st, before_ms, cb, ud) : MES_EINTERNAL;
}

int mes_store_access_trim(struct mes_store *st, const struct mes_access_trim *t, size_t n, int64_t *n_deleted) {
  if (n_deleted)
    *n_deleted = 0;
  if (!st || (!t && n))
    return MES_EINTERNAL;
  for (size_t i = 0; i < n; i++)
    if (t[i].sid <= 0 || t[i].was_first < 1 || t[i].first <= t[i].was_first || t[i].first > t[i].n + 1)
      return MES_EINTERNAL;
  return n ? st->ops->access_trim(st, t, n, n_deleted) : MES_OK;
}

int mes_store_access_readers(struct mes_store *st, const char *reader, int64_t since_ms,
                             mes_store_access_reader_cb cb, void *ud) {
  return st && cb && reader ? st->ops->access_readers(st, reader, since_ms, cb, ud) : MES_EINTERNAL;
}
