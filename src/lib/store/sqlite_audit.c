/*
 * store/sqlite_audit — the SQLite side of fairness audits: the attribute
 * vault (one sealed document per subject, deleted with them by
 * mes__sq_subject_delete) and the history of finished audits (aggregate
 * JSON, in the clear: it names no one).
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

int mes__sq_attr_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_ATTR_PUT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_blob(q.s, 2, sealed, (int)len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_attr_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len) {
  void *p;
  int rc = mes__sq_get_copy(sq_of(st), S_ATTR_GET, sid, NULL, &p, len);
  *out = p;
  return rc;
}

int mes__sq_attr_delete(struct mes_store *st, int64_t sid) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  int64_t n = 0;
  rc = run_i64(b, S_ATTR_DELETE, sid, &n);
  if (rc == MES_OK && n == 0)
    rc = MES_ENOT_FOUND;
  return wr_end(b, own, rc);
}

int mes__sq_attr_scan(struct mes_store *st, mes_store_attr_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_ATTR_SCAN, &q);
  if (rc == MES_OK) {
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      int64_t sid = sqlite3_column_int64(q.s, 0);
      const uint8_t *sealed = sqlite3_column_blob(q.s, 1);
      size_t len = (size_t)sqlite3_column_bytes(q.s, 1);
      if (cb(ud, sid, sealed, len))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_audit_put(struct mes_store *st, int64_t now_ms, const char *doc, int64_t *id) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AUDIT_PUT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, now_ms);
    sqlite3_bind_text(q.s, 2, doc, -1, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      *id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_audit_get(struct mes_store *st, int64_t id, char **doc) {
  void *p;
  int rc = mes__sq_get_copy(sq_of(st), S_AUDIT_GET, id, NULL, &p, NULL);
  *doc = p;
  return rc;
}

int64_t mes__sq_audit_latest(struct mes_store *st) { return mes__sq_count_rows(sq_of(st), S_AUDIT_LATEST); }

int mes__sq_audit_update(struct mes_store *st, int64_t id, const char *doc) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AUDIT_UPDATE, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, id);
    sqlite3_bind_text(q.s, 2, doc, -1, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes64(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_audit_interrupt(struct mes_store *st, const char *error, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  *n = 0;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_AUDIT_INTERRUPT, &q)) == MES_OK) {
    sqlite3_bind_text(q.s, 1, error, -1, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      *n = sqlite3_changes64(b->db);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_audit_list(struct mes_store *st, int limit, mes_store_audit_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_AUDIT_LIST, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int(q.s, 1, limit);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      const char *doc = (const char *)sqlite3_column_text(q.s, 2);
      if (cb(ud, sqlite3_column_int64(q.s, 0), sqlite3_column_int64(q.s, 1), doc ? doc : "{}"))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}
