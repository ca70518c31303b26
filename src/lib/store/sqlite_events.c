/*
 * store/sqlite_events — the events table of the SQLite backend: inserting
 * one event or a batch, a subject's history, the whole-table scan that
 * training reads, erasure by event, by withdrawn purpose and by age.
 *
 * The retention sweep finds old events through event_spans, the oldest ts_ms
 * of each type in each run of SPAN_IDS consecutive ids, that every insert
 * keeps up to date (span_note), instead of an index entry per event: a run
 * is read only when it holds an event to erase.
 */
#include <stdlib.h>

#include "store/sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* Inserts                                                                  */
/* ------------------------------------------------------------------------ */

static void read_event(sqlite3_stmt *s, struct mes_event_row *r) {
  r->id = sqlite3_column_int64(s, 0);
  r->sid = sqlite3_column_int64(s, 1);
  r->type = sqlite3_column_int(s, 2);
  r->ts_ms = sqlite3_column_int64(s, 3);
  r->purposes = (uint32_t)sqlite3_column_int64(s, 4);
  r->source = sqlite3_column_int(s, 5);
  r->eid = sqlite3_column_int64(s, 6);
  r->sealed = sqlite3_column_blob(s, 7);
  r->sealed_len = (size_t)sqlite3_column_bytes(s, 7);
}

/* Records, in event_spans, that the run of `id` holds an event of `type` at
 * ts_ms. Holds the writer lock, inside a transaction. */
static int span_note(struct sq *b, int64_t id, int type, int64_t ts_ms) {
  int64_t chunk = id >> SPAN_SHIFT;
  int slot = (int)((unsigned)type % SPAN_CACHE);
  if (b->span_seen[slot].valid && b->span_seen[slot].type == type && b->span_seen[slot].chunk == chunk &&
      b->span_seen[slot].min_ts <= ts_ms)
    return MES_OK;
  struct q q;
  int rc = q_open(b, S_SPAN_PUT, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, chunk);
    sqlite3_bind_int(q.s, 2, type);
    sqlite3_bind_int64(q.s, 3, ts_ms);
    rc = q_done(&q);
  }
  q_close(&q);
  if (rc == MES_OK) {
    /* The row now holds at most ts_ms; remembering ts_ms (not the row's own
     * minimum, which a read would cost) only makes later skips rarer. */
    bool same = b->span_seen[slot].valid && b->span_seen[slot].type == type && b->span_seen[slot].chunk == chunk;
    int64_t lo = same && b->span_seen[slot].min_ts < ts_ms ? b->span_seen[slot].min_ts : ts_ms;
    b->span_seen[slot].valid = true;
    b->span_seen[slot].type = type;
    b->span_seen[slot].chunk = chunk;
    b->span_seen[slot].min_ts = lo;
  }
  return rc;
}

int mes__sq_event_insert(struct mes_store *st, struct mes_event_row *row) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_EV_INSERT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, row->sid);
    sqlite3_bind_int(q.s, 2, row->type);
    sqlite3_bind_int64(q.s, 3, row->ts_ms);
    sqlite3_bind_int64(q.s, 4, row->purposes);
    sqlite3_bind_int(q.s, 5, row->source);
    sqlite3_bind_int64(q.s, 6, row->eid);
    sqlite3_bind_blob(q.s, 7, row->sealed ? (const void *)row->sealed : "", (int)row->sealed_len, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      row->id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  if (rc == MES_OK)
    rc = span_note(b, row->id, row->type, row->ts_ms);
  return wr_end(b, own, rc);
}

/* One statement of event_insert_many: k rows (INSERT_ROWS, or 1). Holds the
 * writer lock, inside a transaction. *n_dup grows by the rows skipped as retries. */
static int insert_group(struct sq *b, enum stmt_id id, const struct mes_event_row *rows, size_t k, size_t *n_dup) {
  struct q q;
  int rc = q_open(b, id, &q);
  if (rc == MES_OK) {
    for (size_t i = 0; i < k; i++) {
      const struct mes_event_row *r = &rows[i];
      int p = (int)i * INSERT_COLS;
      sqlite3_bind_int64(q.s, p + 1, r->sid);
      sqlite3_bind_int(q.s, p + 2, r->type);
      sqlite3_bind_int64(q.s, p + 3, r->ts_ms);
      sqlite3_bind_int64(q.s, p + 4, r->purposes);
      sqlite3_bind_int(q.s, p + 5, r->source);
      sqlite3_bind_int64(q.s, p + 6, r->eid);
      sqlite3_bind_blob(q.s, p + 7, r->sealed ? (const void *)r->sealed : "", (int)r->sealed_len, SQLITE_STATIC);
    }
    rc = q_done(&q);
  }
  int64_t stored = rc == MES_OK ? sqlite3_changes64(b->db) : 0;
  int64_t last = sqlite3_last_insert_rowid(b->db);
  q_close(&q);
  if (rc != MES_OK)
    return rc;
  *n_dup += k - (size_t)stored;
  if (stored == 0)
    return MES_OK;
  /* The statement drew k consecutive ids and stored its rows under some of
   * them, the highest being `last`: every stored id lies in [last - k + 1,
   * last], at most two runs of SPAN_IDS. Each row is noted in both (a span
   * may then be older than its events, or name a run without one: the sweep
   * reads that run once for nothing, and never misses an event). */
  int64_t lo = last - (int64_t)k + 1;
  if (lo < 1)
    lo = 1;
  bool two = (lo >> SPAN_SHIFT) != (last >> SPAN_SHIFT);
  for (size_t i = 0; i < k && rc == MES_OK; i++) {
    rc = span_note(b, lo, rows[i].type, rows[i].ts_ms);
    if (rc == MES_OK && two)
      rc = span_note(b, last, rows[i].type, rows[i].ts_ms);
  }
  return rc;
}

int mes__sq_event_insert_many(struct mes_store *st, const struct mes_event_row *rows, size_t n, size_t *n_dup) {
  struct sq *b = sq_of(st);
  bool own;
  size_t dup = 0, i = 0;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  for (; i + INSERT_ROWS <= n && rc == MES_OK; i += INSERT_ROWS)
    rc = insert_group(b, S_EV_INSERT_MANY, rows + i, INSERT_ROWS, &dup);
  for (; i < n && rc == MES_OK; i++)
    rc = insert_group(b, S_EV_INSERT_ONE, rows + i, 1, &dup);
  rc = wr_end(b, own, rc);
  if (n_dup)
    *n_dup = rc == MES_OK ? dup : 0;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Reads                                                                    */
/* ------------------------------------------------------------------------ */

static int step_events(sqlite3_stmt *s, mes_store_event_cb cb, void *ud) {
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    struct mes_event_row row;
    read_event(s, &row);
    if (cb(ud, &row))
      return MES_OK;
  }
  return r == SQLITE_DONE ? MES_OK : map_rc(r);
}

static int list_events(struct mes_store *st, int stmt, int64_t sid, mes_store_event_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, stmt, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    rc = step_events(q.s, cb, ud);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_event_list(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud) {
  return list_events(st, S_EV_LIST, sid, cb, ud);
}

int mes__sq_event_list_stored(struct mes_store *st, int64_t sid, mes_store_event_cb cb, void *ud) {
  return list_events(st, S_EV_LIST_STORED, sid, cb, ud);
}

int mes__sq_event_scan(struct mes_store *st, mes_store_event_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  int rc = mes__sq_open_db(b->data_path, false, SQ_SNAPSHOT, &db, NULL);
  if (rc != MES_OK)
    return rc;
  int r = sqlite3_prepare_v2(db, mes__sq_sql_event_scan, -1, &s, NULL);
  rc = r == SQLITE_OK ? step_events(s, cb, ud) : map_rc(r);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rc;
}

int64_t mes__sq_event_count(struct mes_store *st) { return mes__sq_count_rows(sq_of(st), S_EV_COUNT); }

int mes__sq_event_stamp(struct mes_store *st, int64_t sid, int64_t *max_id, int64_t *n) {
  return mes__sq_read_stamp(sq_of(st), S_EV_STAMP, sid, max_id, n);
}

/* ------------------------------------------------------------------------ */
/* Erasure and the retention sweep                                          */
/* ------------------------------------------------------------------------ */

int mes__sq_event_delete(struct mes_store *st, int64_t sid, int64_t event_id) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_EV_DELETE, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, event_id);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

/* A DELETE with two integer parameters; *n gets the rows deleted. */
static int delete_2(struct mes_store *st, enum stmt_id id, int64_t a, int64_t c, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  *n = 0;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, id, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, a);
    sqlite3_bind_int64(q.s, 2, c);
    rc = q_done(&q);
    if (rc == MES_OK)
      *n = sqlite3_changes64(b->db);
  }
  q_close(&q);
  rc = wr_end(b, own, rc);
  if (rc != MES_OK)
    *n = 0;
  return rc;
}

int mes__sq_event_purge_purposes(struct mes_store *st, int64_t sid, uint32_t still_granted, int64_t *n) {
  return delete_2(st, S_EV_PURGE, sid, still_granted, n);
}

/* One run of ids of the sweep, in its own write transaction (when the caller
 * holds none): erases the run's events of `type` older than before_ms and
 * stores the oldest ts_ms left, or drops the span. *chunk gets the run
 * swept, -1 when no span holds an event to erase. */
static int sweep_span(struct mes_store *st, int type, int64_t before_ms, int64_t *chunk, int64_t *n) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  *chunk = -1;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  spans_forget(b);
  if ((rc = q_open(b, S_SPAN_NEXT, &q)) == MES_OK) {
    sqlite3_bind_int(q.s, 1, type);
    sqlite3_bind_int64(q.s, 2, before_ms);
    int r = sqlite3_step(q.s);
    if (r == SQLITE_ROW)
      *chunk = sqlite3_column_int64(q.s, 0);
    else if (r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  int64_t lo = *chunk >= 0 ? *chunk * SPAN_IDS : 0, hi = lo + SPAN_IDS;
  if (rc == MES_OK && *chunk >= 0 && (rc = q_open(b, S_EV_SWEEP, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, lo);
    sqlite3_bind_int64(q.s, 2, hi);
    sqlite3_bind_int(q.s, 3, type);
    sqlite3_bind_int64(q.s, 4, before_ms);
    rc = q_done(&q);
    if (rc == MES_OK)
      *n += sqlite3_changes64(b->db);
    q_close(&q);
  }
  bool left = false;
  int64_t min_ts = 0;
  if (rc == MES_OK && *chunk >= 0 && (rc = q_open(b, S_SPAN_MIN, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, lo);
    sqlite3_bind_int64(q.s, 2, hi);
    sqlite3_bind_int(q.s, 3, type);
    int r = sqlite3_step(q.s);
    if (r == SQLITE_ROW) {
      left = sqlite3_column_type(q.s, 0) != SQLITE_NULL;
      min_ts = sqlite3_column_int64(q.s, 0);
    } else {
      rc = map_rc(r);
    }
    q_close(&q);
  }
  if (rc == MES_OK && *chunk >= 0 && (rc = q_open(b, left ? S_SPAN_SET : S_SPAN_DEL, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, *chunk);
    sqlite3_bind_int(q.s, 2, type);
    if (left)
      sqlite3_bind_int64(q.s, 3, min_ts);
    rc = q_done(&q);
    q_close(&q);
  }
  return wr_end(b, own, rc);
}

/* Run by run, each in its own short write transaction, so that ingestion
 * waits for the writer at most one run's delete (1 << SPAN_SHIFT ids) at a
 * time. A run left with min_ts >= before_ms is not found again: the loop ends. */
int mes__sq_event_sweep(struct mes_store *st, int type, int64_t before_ms, int64_t *n) {
  int64_t chunk, done = 0;
  int rc;
  do
    rc = sweep_span(st, type, before_ms, &chunk, &done);
  while (rc == MES_OK && chunk >= 0);
  *n = rc == MES_OK ? done : 0;
  return rc;
}
