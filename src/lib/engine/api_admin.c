/*
 * engine/api_admin — the operational verbs of mesura.h: key listing,
 * backup and restore, the figures a host monitors, the privacy notice and
 * the GPC file (what the policy says), and a host's own small settings.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mtime.h"
#include "base/path.h"
#include "crypto/crypto.h"
#include "engine/engine_int.h"
#include "ingest/histcache.h"
#include "store/store.h"
#include "subject/keycheck.h"
#include "subject/rotate.h"
#include "subject/subjmap.h"

/* ---------------------------------------------------------------- keys */

struct key_list {
  int (*cb)(void *ud, const struct mes_key_info *k);
  void *ud;
};

static int key_row(void *ud, const struct mes_apikey_row *row) {
  struct key_list *l = ud;
  struct mes_key_info k = {row->name, row->scopes, row->created_ms, row->revoked_ms};
  return l->cb(l->ud, &k);
}

int mes_engine_key_list(struct mes_engine *e, int (*cb)(void *ud, const struct mes_key_info *k), void *ud,
                        struct mes_err *err) {
  struct key_list l = {cb, ud};
  int rc = mes_store_apikey_list(e->store, key_row, &l);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ---------------------------------------------------------------- operations */

int mes_engine_backup(struct mes_engine *e, const char *path, struct mes_err *err) {
  return mes_store_backup(e->store, path, err);
}

/* The restored files must belong with the directory's master key: the same
 * check as every open (keycheck.h), with a message about the backup rather
 * than about a file to put back. */
struct restore_check {
  const char *dir, *file, *keys_file;
  const struct mes_master *master;
};

static int restore_verify(void *ud, struct mes_store *st, struct mes_err *err) {
  struct restore_check *c = ud;
  int rc = mes_keycheck_verify(st, c->master, c->dir, err);
  if (rc == MES_ECRYPTO)
    mes_err_set(err, rc, NULL,
                "%s%s%s was not made with the master key of %s: it is not a backup of this store; nothing was "
                "changed.",
                c->file, c->keys_file ? " or " : "", c->keys_file ? c->keys_file : "", c->dir);
  return rc;
}

/* A rotation interrupted in dir is finished or undone (rotate.h) before a
 * restore picks the master key to check the backup with. Only then: the
 * store is opened for it, and a directory is often restored because its
 * store no longer opens. */
static int settle_rotation(const char *dir, struct mes_err *err) {
  char next[PATH_MAX];
  struct stat sb;
  if (mes_path_join(next, sizeof next, dir, MES_MASTER_NEXT_FILE))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  if (lstat(next, &sb) != 0)
    return MES_OK;
  struct mes_store *st = NULL;
  struct mes_master *m = NULL;
  int rc = mes_store_open(dir, MES_STORE_SQLITE, false, &st, err);
  if (rc == MES_OK)
    rc = mes_rotate_load(st, dir, &m, err);
  mes_master_free(m);
  mes_store_close(st);
  return rc;
}

int mes_engine_restore(const char *dir, const char *file, const char *keys_file, int64_t *n_erased,
                       struct mes_err *err) {
  if (n_erased)
    *n_erased = 0;
  int rc = mes_crypto_init();
  if (rc)
    return mes_err_set(err, rc, NULL, "The cryptography library could not start.");
  char key[PATH_MAX];
  struct stat sb;
  if (mes_path_join(key, sizeof key, dir, "master.key"))
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The data directory's path is too long.");
  if (stat(key, &sb) != 0)
    return mes_err_set(err, MES_EIO, NULL,
                       "%s is not a mesura data directory (no master.key): restore into the directory the backup "
                       "came from, with its master.key.",
                       dir);
  struct restore_check c = {.dir = dir, .file = file, .keys_file = keys_file};
  struct mes_master *master = NULL;
  rc = settle_rotation(dir, err);
  if (!rc)
    rc = mes_master_load(key, &master, err);
  if (rc)
    return rc;
  c.master = master;
  rc = mes_store_restore(dir, MES_STORE_SQLITE, file, keys_file, restore_verify, &c, n_erased, err);
  mes_master_free(master);
  return rc;
}

int mes_engine_rotate_master(const char *dir, int64_t *n_keys, struct mes_err *err) {
  return mes_rotate_master(dir, NULL, NULL, n_keys, err);
}

void mes_engine_stats(struct mes_engine *e, struct mes_engine_stats *out) {
  memset(out, 0, sizeof *out);
  struct mes_model *m = mes_engine_model(e);
  out->model_id = mes_model_id(m);
  out->model_items = mes_model_n_items(m);
  out->model_memory_bytes = mes_model_memory(m);
  mes_model_unref(m);
  struct mes_recommender_stats q;
  mes_recommender_stats(e->rec, &q);
  out->decision_queue_entries = q.queued;
  out->decision_queue_bytes = q.bytes;
  out->decision_records_dropped = q.dropped;
  struct mes_histcache_stats h;
  mes_ingester_cache_stats(e->ingester, &h);
  out->history_cache.hits = h.hits;
  out->history_cache.misses = h.misses;
  out->history_cache.stale = h.stale;
  out->history_cache.shown_hits = h.shown_hits;
  out->history_cache.shown_misses = h.shown_misses;
  out->history_cache.shown_stale = h.shown_stale;
  out->history_cache.shown_appended = h.shown_appended;
  out->history_cache.evictions = h.evictions;
  out->history_cache.entries = h.entries;
  out->history_cache.bytes = h.bytes;
  out->history_cache.max_bytes = h.cap_bytes;
  struct mes_subjmap_stats sm;
  mes_subjects_hint_stats(e->subjects, &sm);
  out->subject_map.hits = sm.hits;
  out->subject_map.misses = sm.misses;
  out->subject_map.entries = sm.entries;
  out->subject_map.max_entries = MES_SUBJMAP_ENTRIES;
}

int mes_engine_meta_get(struct mes_engine *e, const char *key, char *out, size_t cap) {
  return mes_store_meta_get(e->store, key, out, cap);
}

int mes_engine_meta_set(struct mes_engine *e, const char *key, const char *value, struct mes_err *err) {
  int rc = mes_store_tx_begin(e->store);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  uint64_t ticket;
  rc = mes_store_meta_set(e->store, key, value);
  if (rc) {
    mes_store_tx_rollback(e->store);
    return mes_err_set(err, rc, NULL, NULL);
  }
  rc = mes_store_tx_commit(e->store, &ticket);
  if (!rc)
    rc = mes_store_wait_durable(e->store, ticket);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ---------------------------------------------------------------- what the policy says */

int mes_engine_privacy_notice(struct mes_engine *e, struct mes_call *call, const struct mes_notice_right *served,
                              size_t n_served, bool html, json_t **json, char **html_out, const char **lang,
                              struct mes_err *err) {
  MES__CLEAR(json);
  MES__CLEAR(html_out);
  struct mes_served_right rights[MES_RIGHT_N];
  size_t n = 0;
  for (size_t i = 0; i < n_served && n < MES_RIGHT_N; i++)
    for (int r = 0; r < MES_RIGHT_N; r++)
      if (served[i].right && strcmp(served[i].right, mes_right_name((enum mes_right)r)) == 0) {
        rights[n++] = (struct mes_served_right){(enum mes_right)r, served[i].method, served[i].path};
        break;
      }
  struct mes__call k;
  mes__call_begin(&k, e, call);
  *lang = mes_lang_name(k.lang);
  int rc = MES_OK;
  if (html) {
    *html_out = mes_policy_notice_html(k.req.policy, rights, n, k.lang);
    if (!*html_out)
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  } else {
    *json = mes_policy_notice_json(k.req.policy, rights, n, k.lang);
    if (!*json)
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  mes__call_end(&k);
  return rc;
}

int mes_engine_gpc(struct mes_engine *e, json_t **out, struct mes_err *err) {
  /* lastUpdate: when the policy that says how GPC is honoured last changed. */
  char path[4096], date[11];
  struct stat sb;
  int64_t ms = mes_now_ms();
  if (mes_path_join(path, sizeof path, e->dir, "mesura.yaml") == MES_OK && stat(path, &sb) == 0)
    ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
  mes_time_format_date(ms, date);
  *out = json_pack("{s:b,s:s}", "gpc", 1, "lastUpdate", date);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}
