/*
 * store_int — what only the store's own files see: the backend method table
 * and the handle that carries it.
 *
 * A backend (sqlite.c, later pg.c) fills one static const struct
 * mes_store_ops, every member: store.c calls them without checking for
 * NULL. Like sqlite3_io_methods the table carries a version, which
 * store.c checks at open: a backend whose `version` is not
 * MES_STORE_OPS_VERSION was written against another table and is refused.
 * Any change to the table (a member added, removed, or changed in meaning)
 * bumps MES_STORE_OPS_VERSION, and every backend is updated with it.
 *
 * Each member does what the mes_store_* function of the same name in
 * store.h promises. store.c does the argument checks common to all
 * backends and dispatches; backends never see a NULL handle, NULL callback
 * or NULL out-pointer that store.h does not allow.
 */
#ifndef MES_STORE_INT_H
#define MES_STORE_INT_H

#include "store/store.h"

#define MES_STORE_OPS_VERSION 5

struct mes_store_ops {
  int version; /* MES_STORE_OPS_VERSION the backend was written against */
  const char *name;

  /* Lifecycle: open fills st->be (and owns it until close). */
  int (*open)(struct mes_store *st, const char *dir, bool create, struct mes_err *err);
  void (*close)(struct mes_store *st);
  int (*schema_version)(struct mes_store *st);
  int (*backup)(struct mes_store *st, const char *path, struct mes_err *err);
  /* Restore (mes_store_restore), with no store of dir open anywhere:
   * install copies data_file as the data database and keys_file (when not
   * NULL) as the keystore, each atomically, keeping the files they replace
   * aside and leaving dir unchanged when it fails; install_end then drops
   * what was kept aside (keep_new) or puts it back. */
  int (*install)(const char *dir, const char *data_file, const char *keys_file, struct mes_err *err);
  void (*install_end)(const char *dir, bool keys, bool keep_new);

  /* Transactions, group commit and read sessions. */
  int (*tx_begin)(struct mes_store *st);
  int (*tx_commit)(struct mes_store *st, uint64_t *ticket);
  void (*tx_rollback)(struct mes_store *st);
  int (*wait_durable)(struct mes_store *st, uint64_t ticket);
  int (*on_durable)(struct mes_store *st, uint64_t ticket, struct mes_store_waiter *w);
  void (*read_begin)(struct mes_store *st);
  void (*read_end)(struct mes_store *st);

  int (*meta_get)(struct mes_store *st, const char *key, char *out, size_t cap);
  int (*meta_set)(struct mes_store *st, const char *key, const char *value);

  int (*subject_find)(struct mes_store *st, const uint8_t pn[32], struct mes_subject_row *out);
  int (*subject_ensure)(struct mes_store *st, const uint8_t pn[32], int64_t now_ms, struct mes_subject_row *out);
  int (*subject_set_granted)(struct mes_store *st, int64_t sid, uint32_t granted);
  int (*subject_set_restricted)(struct mes_store *st, int64_t sid, bool restricted);
  int (*subject_delete)(struct mes_store *st, int64_t sid, struct mes_store_erased *n); /* n may be NULL */
  int64_t (*subject_count)(struct mes_store *st);
  int (*subject_scan)(struct mes_store *st, mes_store_subject_cb cb, void *ud);
  /* In a tx: no subject created from now on gets an id at or below min_id
   * (the erasure journal's replay, journal.c). */
  int (*subject_id_floor)(struct mes_store *st, int64_t min_id);

  int (*key_put)(struct mes_store *st, int64_t sid, const uint8_t *wrapped, size_t len);
  int (*key_get)(struct mes_store *st, int64_t sid, uint8_t *out, size_t cap, size_t *len);
  int (*key_delete)(struct mes_store *st, int64_t sid);
  int (*key_meta_get)(struct mes_store *st, const char *key, char *out, size_t cap);
  int (*key_meta_set)(struct mes_store *st, const char *key, const char *value);
  int (*key_rewrap)(struct mes_store *st, mes_store_key_rewrap_cb cb, void *ud, const struct mes_store_kv *meta,
                    size_t n_meta, int64_t *n_keys);

  int (*event_insert)(struct mes_store *st, struct mes_event_row *row);
  int (*event_insert_many)(struct mes_store *st, const struct mes_event_row *rows, size_t n, size_t *n_dup);
  int (*event_list)(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud);
  int (*event_list_stored)(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud);
  int (*event_scan)(struct mes_store *st, mes_store_event_cb cb, void *ud);
  int (*event_delete)(struct mes_store *st, int64_t sid, int64_t event_id);
  int (*event_purge_purposes)(struct mes_store *st, int64_t sid, uint32_t still_granted, int64_t *n);
  int (*event_sweep)(struct mes_store *st, int type, int64_t before_ms, int64_t *n);
  int64_t (*event_count)(struct mes_store *st);
  int (*event_stamp)(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);

  int (*consent_append)(struct mes_store *st, struct mes_consent_row *row);
  int (*consent_list)(struct mes_store *st, int64_t sid, mes_store_consent_cb cb, void *ud);

  int (*pref_put)(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len);
  int (*pref_get)(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len);

  int (*item_put)(struct mes_store *st, const char *id, const char *doc, int64_t now_ms);
  int (*item_get)(struct mes_store *st, const char *id, char **doc);
  int (*item_delete)(struct mes_store *st, const char *id);
  int (*item_list)(struct mes_store *st, const char *after, int limit, mes_store_item_cb cb, void *ud);
  int64_t (*item_count)(struct mes_store *st);

  int (*impression_add)(struct mes_store *st, const struct mes_impression_row *row);
  int (*impression_list)(struct mes_store *st, int64_t sid, int64_t since_ms, mes_store_impression_cb cb, void *ud);
  int (*impression_list_after)(struct mes_store *st, int64_t sid, int64_t after_id, mes_store_impression_cb cb,
                               void *ud);
  int (*impression_sweep)(struct mes_store *st, int64_t before_ms, int64_t *n);
  int (*impression_purge)(struct mes_store *st, int64_t sid, int64_t *n);
  int (*impression_stamp)(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n);

  int (*decision_put)(struct mes_store *st, const struct mes_decision_row *rows, size_t n);
  int (*decision_get)(struct mes_store *st, int64_t rid, struct mes_decision_row *out, uint8_t **doc);
  int (*decision_list)(struct mes_store *st, int64_t sid, mes_store_decision_cb cb, void *ud);
  int (*decision_sweep)(struct mes_store *st, int64_t before_ms, int64_t *n);

  int (*model_put)(struct mes_store *st, const char *meta, const uint8_t *blob, size_t len, int keep, int64_t now_ms,
                   int64_t *id);
  int64_t (*model_latest)(struct mes_store *st);
  int (*model_get)(struct mes_store *st, int64_t id, char **meta, uint8_t **blob, size_t *len); /* blob may be NULL */

  int (*apikey_put)(struct mes_store *st, const struct mes_apikey_row *row);
  int (*apikey_find)(struct mes_store *st, const uint8_t hash[32], struct mes_apikey_row *out);
  int (*apikey_list)(struct mes_store *st, mes_store_apikey_cb cb, void *ud);
  int (*apikey_revoke)(struct mes_store *st, const char *name, int64_t now_ms);

  int (*token_put)(struct mes_store *st, const struct mes_token_row *row);
  int (*token_find)(struct mes_store *st, const uint8_t hash[32], struct mes_token_row *out);
  int (*token_revoke_subject)(struct mes_store *st, int64_t sid, int64_t now_ms, int64_t *n);
  int (*token_sweep)(struct mes_store *st, int64_t before_ms, int64_t *n);

  int (*attr_put)(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len);
  int (*attr_get)(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len);
  int (*attr_delete)(struct mes_store *st, int64_t sid);
  int (*attr_scan)(struct mes_store *st, mes_store_attr_cb cb, void *ud);
  int (*audit_put)(struct mes_store *st, int64_t now_ms, const char *doc, int64_t *id);
  int (*audit_get)(struct mes_store *st, int64_t id, char **doc);
  int64_t (*audit_latest)(struct mes_store *st);
  int (*audit_update)(struct mes_store *st, int64_t id, const char *doc);
  int (*audit_interrupt)(struct mes_store *st, const char *error, int64_t *n);
  int (*audit_list)(struct mes_store *st, int limit, mes_store_audit_cb cb, void *ud);
  int (*consent_days)(struct mes_store *st, int64_t since_ms, mes_store_consent_day_cb cb, void *ud);
  int (*counts_add)(struct mes_store *st, const struct mes_count_row *rows, size_t n);
  int (*counts_days)(struct mes_store *st, int64_t since_day, mes_store_count_cb cb, void *ud);
  int (*counts_sweep)(struct mes_store *st, int64_t before_day, int64_t *n);

  int (*access_append)(struct mes_store *st, const struct mes_access_row *rows, size_t n,
                       struct mes_access_head_put *heads, size_t n_heads);
  int (*access_head_get)(struct mes_store *st, int64_t sid, struct mes_access_head *out);
  int (*access_list)(struct mes_store *st, int64_t sid, mes_store_access_cb cb, void *ud);
  int (*access_heads)(struct mes_store *st, mes_store_access_head_cb cb, void *ud);
  int (*access_readers)(struct mes_store *st, const char *reader, int64_t since_ms, mes_store_access_reader_cb cb,
                        void *ud);
  int (*access_expired)(struct mes_store *st, int64_t before_ms, mes_store_access_sid_cb cb, void *ud);
  int (*access_trim)(struct mes_store *st, const struct mes_access_trim *t, size_t n, int64_t *n_deleted);
};

struct mes_store {
  const struct mes_store_ops *ops; /* static, borrowed */
  void *be;                        /* backend state, owned by the backend */
  struct mes_journal *journal;     /* the erasure journal (journal_int.h), owned */
  int64_t erasures_replayed;       /* subject rows the replay at open deleted */
};

/* The backends. */
extern const struct mes_store_ops mes__store_sqlite_ops;

#endif
