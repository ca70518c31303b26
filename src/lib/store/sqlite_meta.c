/*
 * store/sqlite_meta — the SQLite backend's small settings of mesura.db (the
 * meta key/value table) and the API keys, stored as hashes.
 */
#include <stdio.h>

#include "store/sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* Meta                                                                     */
/* ------------------------------------------------------------------------ */

int mes__sq_meta_get(struct mes_store *st, const char *key, char *out, size_t cap) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_META_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const unsigned char *v = sqlite3_column_text(q.s, 0);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 0);
      if (!v)
        rc = MES_ENOMEM;
      else if (n + 1 > cap)
        rc = MES_EINTERNAL;
      else
        memcpy(out, v, n + 1);
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_meta_set(struct mes_store *st, const char *key, const char *value) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_META_SET, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 2, value, -1, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

/* ------------------------------------------------------------------------ */
/* API keys                                                                 */
/* ------------------------------------------------------------------------ */

static int read_apikey(sqlite3_stmt *s, struct mes_apikey_row *r) {
  const char *name = (const char *)sqlite3_column_text(s, 0);
  const void *hash = sqlite3_column_blob(s, 1);
  if (!name || !hash || sqlite3_column_bytes(s, 1) != 32)
    return MES_ESTORE;
  snprintf(r->name, sizeof r->name, "%s", name);
  memcpy(r->hash, hash, 32);
  r->scopes = (uint32_t)sqlite3_column_int64(s, 2);
  r->created_ms = sqlite3_column_int64(s, 3);
  r->revoked_ms = sqlite3_column_int64(s, 4);
  return MES_OK;
}

int mes__sq_apikey_put(struct mes_store *st, const struct mes_apikey_row *row) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AK_PUT, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, row->name, (int)strnlen(row->name, sizeof row->name), SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 2, row->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 3, row->scopes);
    sqlite3_bind_int64(q.s, 4, row->created_ms);
    sqlite3_bind_int64(q.s, 5, row->revoked_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_apikey_find(struct mes_store *st, const uint8_t hash[32], struct mes_apikey_row *out) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_AK_FIND, &q);
  if (rc == MES_OK) {
    sqlite3_bind_blob(q.s, 1, hash, 32, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW)
      rc = read_apikey(q.s, out);
    else
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_apikey_list(struct mes_store *st, mes_store_apikey_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_AK_LIST, &q);
  if (rc == MES_OK) {
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_apikey_row row;
      if ((rc = read_apikey(q.s, &row)) != MES_OK || cb(ud, &row))
        break;
    }
    if (rc == MES_OK && r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_apikey_revoke(struct mes_store *st, const char *name, int64_t now_ms) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AK_REVOKE, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 2, now_ms);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(b, own, rc);
}
