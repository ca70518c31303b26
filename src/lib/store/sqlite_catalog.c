/*
 * store/sqlite_catalog — the non-personal data the SQLite backend keeps for
 * serving: the catalog's items (as their JSON documents, with the
 * catalog_version counter every change bumps) and the trained models
 * (item-item aggregates, stored in the clear).
 */
#include <stdlib.h>

#include "store/sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* Catalog                                                                  */
/* ------------------------------------------------------------------------ */

int mes__sq_item_put(struct mes_store *st, const char *id, const char *doc, int64_t now_ms) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_ITEM_PUT, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 3, now_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  if (rc == MES_OK)
    rc = run(b, S_ITEM_VERSION_BUMP);
  return wr_end(b, own, rc);
}

int mes__sq_item_get(struct mes_store *st, const char *id, char **doc) {
  void *p;
  int rc = mes__sq_get_copy(sq_of(st), S_ITEM_GET, 0, id, &p, NULL);
  *doc = p;
  return rc;
}

int mes__sq_item_delete(struct mes_store *st, const char *id) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_ITEM_DELETE, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, id, -1, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  if (rc == MES_OK)
    rc = run(b, S_ITEM_VERSION_BUMP);
  return wr_end(b, own, rc);
}

int mes__sq_item_list(struct mes_store *st, const char *after, int limit, mes_store_item_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_ITEM_LIST, &q);
  if (rc == MES_OK) {
    /* Every id is at least one byte, so "" sorts before all of them. */
    sqlite3_bind_text(q.s, 1, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q.s, 2, limit > 0 ? limit : -1);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(q.s, 0);
      const char *doc = (const char *)sqlite3_column_text(q.s, 1);
      if (!id || !doc) {
        r = SQLITE_NOMEM;
        break;
      }
      if (cb(ud, id, doc))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int64_t mes__sq_item_count(struct mes_store *st) { return mes__sq_count_rows(sq_of(st), S_ITEM_COUNT); }

/* ------------------------------------------------------------------------ */
/* Models (item-item aggregates: not personal, stored in the clear)         */
/* ------------------------------------------------------------------------ */

/* The insert and the trim are one durable transaction: a crash leaves either
 * the old set of models or the new one, never fewer than `keep`. */
int mes__sq_model_put(struct mes_store *st, const char *meta, const uint8_t *blob, size_t len, int keep, int64_t now_ms,
                      int64_t *id) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  *id = 0;
  if (len > (size_t)INT32_MAX)
    return MES_EINTERNAL; /* SQLite's default blob limit is 1 GB anyway */
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  /* Inside the caller's tx, a savepoint of our own keeps the put whole. */
  if (!own && (rc = mes__commit_tx_begin(&b->gc)) != MES_OK)
    return wr_end(b, own, rc);
  if ((rc = q_open(b, S_MODEL_PUT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, now_ms);
    sqlite3_bind_text(q.s, 2, meta, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 3, blob ? (const void *)blob : "", (int)len, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      *id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  if (rc == MES_OK && keep > 0 && (rc = q_open(b, S_MODEL_TRIM, &q)) == MES_OK) {
    sqlite3_bind_int(q.s, 1, keep);
    rc = q_done(&q);
    q_close(&q);
  }
  if (!own) {
    uint64_t unused;
    if (rc == MES_OK)
      rc = mes__commit_tx_commit(&b->gc, &unused);
    else
      mes__commit_tx_rollback(&b->gc);
  }
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *id = 0;
  return rc;
}

int64_t mes__sq_model_latest(struct mes_store *st) { return mes__sq_count_rows(sq_of(st), S_MODEL_LATEST); }

int mes__sq_model_get(struct mes_store *st, int64_t id, char **meta, uint8_t **blob, size_t *len) {
  struct sq *b = sq_of(st);
  struct q q;
  *meta = NULL;
  if (blob) {
    *blob = NULL;
    *len = 0;
  }
  mes__commit_lock(&b->gc);
  /* Without blob: the meta alone, the blob's pages never read. */
  int rc = q_open(b, blob ? S_MODEL_GET : S_MODEL_META, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, id);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const unsigned char *m = sqlite3_column_text(q.s, 0);
      size_t mlen = (size_t)sqlite3_column_bytes(q.s, 0);
      const void *p = sqlite3_column_blob(q.s, 1);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 1);
      char *mc = m ? malloc(mlen + 1) : NULL;
      uint8_t *bc = blob ? malloc(n ? n : 1) : NULL;
      if (!mc || (blob && (!bc || (n && !p)))) {
        free(mc);
        free(bc);
        rc = MES_ENOMEM;
      } else {
        memcpy(mc, m, mlen + 1);
        *meta = mc;
        if (blob) {
          if (n)
            memcpy(bc, p, n);
          *blob = bc;
          *len = n;
        }
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}
