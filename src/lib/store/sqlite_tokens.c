/*
 * store/sqlite_tokens — subjects' tokens in mesura.db: the hash of each
 * token (never the token), whose it is, what it may be used for, and when it
 * expires or was revoked. Each write is its own statement inside the
 * caller's transaction (or one of its own).
 */
#include "store/sqlite_int.h"

#include <string.h>

int mes__sq_token_put(struct mes_store *st, const struct mes_token_row *row) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_TOK_PUT, &q)) == MES_OK) {
    sqlite3_bind_blob(q.s, 1, row->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 2, row->sid);
    sqlite3_bind_int64(q.s, 3, row->use);
    sqlite3_bind_int64(q.s, 4, row->created_ms);
    sqlite3_bind_int64(q.s, 5, row->expires_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_token_find(struct mes_store *st, const uint8_t hash[32], struct mes_token_row *out) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_TOK_FIND, &q);
  if (rc == MES_OK) {
    sqlite3_bind_blob(q.s, 1, hash, 32, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const void *h = sqlite3_column_blob(q.s, 0);
      if (!h || sqlite3_column_bytes(q.s, 0) != 32) {
        rc = MES_ESTORE;
      } else {
        memcpy(out->hash, h, 32);
        out->sid = sqlite3_column_int64(q.s, 1);
        out->use = (int)sqlite3_column_int64(q.s, 2);
        out->created_ms = sqlite3_column_int64(q.s, 3);
        out->expires_ms = sqlite3_column_int64(q.s, 4);
        out->revoked_ms = sqlite3_column_int64(q.s, 5);
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_token_revoke_subject(struct mes_store *st, int64_t sid, int64_t now_ms, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  *n = 0;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_TOK_REVOKE, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, now_ms);
    rc = q_done(&q);
    if (rc == MES_OK)
      *n = sqlite3_changes(b->db);
  }
  q_close(&q);
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

int mes__sq_token_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  rc = run_i64(b, S_TOK_SWEEP, before_ms, n);
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}
