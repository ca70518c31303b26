/*
 * store/sqlite_answers — what the SQLite backend keeps of the answers the
 * recommender gave: impressions (the items one answer showed a person,
 * sealed with their key, for frequency caps) and decision records (why it
 * answered as it did, sealed when personal).
 */
#include <stdlib.h>

#include "store/sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* Impressions                                                              */
/* ------------------------------------------------------------------------ */

int mes__sq_impression_add(struct mes_store *st, const struct mes_impression_row *row) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_IMP_ADD, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, row->sid);
    sqlite3_bind_int64(q.s, 2, row->ts_ms);
    sqlite3_bind_int(q.s, 3, row->channel);
    sqlite3_bind_blob(q.s, 4, row->sealed, (int)row->sealed_len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

/* S_IMP_LIST (bound from since_ms) or S_IMP_AFTER (from an id). */
static int list_impressions(struct mes_store *st, enum stmt_id id, int64_t sid, int64_t from,
                            mes_store_impression_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, id, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, from);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_impression_row row = {
          .id = sqlite3_column_int64(q.s, 0),
          .sid = sid,
          .ts_ms = sqlite3_column_int64(q.s, 1),
          .channel = sqlite3_column_int(q.s, 2),
          .sealed = sqlite3_column_blob(q.s, 3),
          .sealed_len = (size_t)sqlite3_column_bytes(q.s, 3),
      };
      if (!row.sealed && row.sealed_len) {
        r = SQLITE_NOMEM;
        break;
      }
      if (cb(ud, &row))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_impression_list(struct mes_store *st, int64_t sid, int64_t since_ms, mes_store_impression_cb cb, void *ud) {
  return list_impressions(st, S_IMP_LIST, sid, since_ms, cb, ud);
}

int mes__sq_impression_list_after(struct mes_store *st, int64_t sid, int64_t after_id, mes_store_impression_cb cb,
                                  void *ud) {
  return list_impressions(st, S_IMP_AFTER, sid, after_id, cb, ud);
}

int mes__sq_impression_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  rc = run(b, S_IMP_HW);
  if (rc == MES_OK)
    rc = run_i64(b, S_IMP_SWEEP, before_ms, n);
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

int mes__sq_impression_purge(struct mes_store *st, int64_t sid, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  rc = run(b, S_IMP_HW);
  if (rc == MES_OK)
    rc = run_i64(b, S_SUBJ_DEL_IMPRESSIONS, sid, n);
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

int mes__sq_impression_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n) {
  return mes__sq_read_stamp(sq_of(st), S_IMP_STAMP, sid, max_id, n);
}

/* ------------------------------------------------------------------------ */
/* Decision records (sealed by the caller when personal)                    */
/* ------------------------------------------------------------------------ */

/* The recommender's background writer calls this with a batch: one
 * transaction, committed without waiting for its fsync (a record lost in a
 * crash costs an audit trail entry, not an acknowledged write). Inside a
 * caller's transaction the rows simply join it. */
int mes__sq_decision_put(struct mes_store *st, const struct mes_decision_row *rows, size_t n) {
  struct sq *b = sq_of(st);
  struct q q = {0};
  int rc = mes__commit_tx_begin(&b->gc);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_DEC_PUT, &q)) == MES_OK) {
    for (size_t i = 0; i < n && rc == MES_OK; i++) {
      if (rows[i].len > (size_t)INT32_MAX) {
        rc = MES_EINTERNAL;
        break;
      }
      sqlite3_bind_int64(q.s, 1, rows[i].rid);
      sqlite3_bind_int64(q.s, 2, rows[i].sid);
      sqlite3_bind_int64(q.s, 3, rows[i].ts_ms);
      sqlite3_bind_blob(q.s, 4, rows[i].len ? (const void *)rows[i].doc : "", (int)rows[i].len, SQLITE_STATIC);
      rc = q_done(&q);
      sqlite3_reset(q.s);
    }
  }
  q_close(&q);
  if (rc != MES_OK) {
    mes__commit_tx_rollback(&b->gc);
    return rc;
  }
  uint64_t unused;
  return mes__commit_tx_commit(&b->gc, &unused);
}

int mes__sq_decision_get(struct mes_store *st, int64_t rid, struct mes_decision_row *out, uint8_t **doc) {
  struct sq *b = sq_of(st);
  struct q q;
  *doc = NULL;
  memset(out, 0, sizeof *out);
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_DEC_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, rid);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const void *p = sqlite3_column_blob(q.s, 2);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 2);
      uint8_t *c = malloc(n ? n : 1);
      if (!c || (n && !p)) {
        free(c);
        rc = MES_ENOMEM;
      } else {
        if (n)
          memcpy(c, p, n);
        out->rid = rid;
        out->sid = sqlite3_column_int64(q.s, 0);
        out->ts_ms = sqlite3_column_int64(q.s, 1);
        out->doc = c;
        out->len = n;
        *doc = c;
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}

int mes__sq_decision_list(struct mes_store *st, int64_t sid, mes_store_decision_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_DEC_LIST, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_decision_row row = {
          .rid = sqlite3_column_int64(q.s, 0),
          .sid = sqlite3_column_int64(q.s, 1),
          .ts_ms = sqlite3_column_int64(q.s, 2),
          .doc = sqlite3_column_blob(q.s, 3),
          .len = (size_t)sqlite3_column_bytes(q.s, 3),
      };
      if (!row.doc && row.len) {
        r = SQLITE_NOMEM;
        break;
      }
      if (cb(ud, &row))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}

int mes__sq_decision_sweep(struct mes_store *st, int64_t before_ms, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  rc = run_i64(b, S_DEC_SWEEP, before_ms, n);
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}
