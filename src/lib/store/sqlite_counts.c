/*
 * store/sqlite_counts — the daily counts (store.h): what the servers did
 * per day, each server adding its own to the same rows, so that the sums
 * hold for every server sharing the store and survive restarts.
 */
#include "store/sqlite_int.h"

int mes__sq_counts_add(struct mes_store *st, const struct mes_count_row *rows, size_t n) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  for (size_t i = 0; i < n && rc == MES_OK; i++) {
    struct q q = {0};
    if ((rc = q_open(b, S_COUNT_ADD, &q)) == MES_OK) {
      sqlite3_bind_int64(q.s, 1, rows[i].day);
      sqlite3_bind_text(q.s, 2, rows[i].kind, -1, SQLITE_STATIC);
      sqlite3_bind_text(q.s, 3, rows[i].label, -1, SQLITE_STATIC);
      sqlite3_bind_int64(q.s, 4, rows[i].n);
      rc = q_done(&q);
    }
    q_close(&q);
  }
  return wr_end(b, own, rc);
}

int mes__sq_counts_days(struct mes_store *st, int64_t since_day, mes_store_count_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_COUNT_DAYS, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, since_day);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      const char *kind = (const char *)sqlite3_column_text(q.s, 1);
      const char *label = (const char *)sqlite3_column_text(q.s, 2);
      if (!kind || !label) {
        rc = MES_ESTORE;
        break;
      }
      if (cb(ud, sqlite3_column_int64(q.s, 0), kind, label, sqlite3_column_int64(q.s, 3)))
        break;
    }
    if (rc == MES_OK && r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_counts_sweep(struct mes_store *st, int64_t before_day, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  int64_t gone = 0;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  rc = run_i64(b, S_COUNT_SWEEP, before_day, &gone);
  rc = wr_end(b, own, rc);
  if (n)
    *n = rc == MES_OK ? gone : 0;
  return rc;
}
