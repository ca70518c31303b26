/*
 * store/sqlite_access — the access log's two tables in the SQLite backend:
 * entries (sealed by the caller, chained by a MAC the caller computes) and
 * the head of each subject's chain, written in one transaction so that a
 * crash never leaves a head that disagrees with its entries.
 */
#include <stdlib.h>

#include "store/sqlite_int.h"

static int add_rows(struct sq *b, const struct mes_access_row *rows, size_t n) {
  struct q q = {0};
  int rc = n ? q_open(b, S_ACC_ADD, &q) : MES_OK;
  for (size_t i = 0; i < n && rc == MES_OK; i++) {
    const struct mes_access_row *r = &rows[i];
    if (r->sealed_len > (size_t)INT32_MAX || !r->reader) {
      rc = MES_EINTERNAL;
      break;
    }
    sqlite3_bind_int64(q.s, 1, r->sid);
    sqlite3_bind_int64(q.s, 2, r->seq);
    sqlite3_bind_int64(q.s, 3, r->ts_ms);
    sqlite3_bind_int(q.s, 4, r->action);
    sqlite3_bind_text(q.s, 5, r->reader, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 6, r->sealed_len ? (const void *)r->sealed : "", (int)r->sealed_len, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 7, r->mac, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    rc = q_done(&q);
    sqlite3_reset(q.s);
  }
  q_close(&q);
  return rc;
}

static int put_head(struct sq *b, const struct mes_access_head_put *p) {
  const struct mes_access_head *h = &p->head;
  struct q q;
  int rc = q_open(b, p->is_new ? S_ACC_HEAD_NEW : S_ACC_HEAD_PUT, &q);
  if (rc != MES_OK)
    return rc;
  sqlite3_bind_int64(q.s, 1, h->sid);
  sqlite3_bind_int64(q.s, 2, h->n);
  sqlite3_bind_blob(q.s, 3, h->last, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
  sqlite3_bind_blob(q.s, 4, h->mac, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
  if (p->is_new) {
    sqlite3_bind_int64(q.s, 5, h->first > 0 ? h->first : 1);
    sqlite3_bind_blob(q.s, 6, h->base, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
  } else {
    const struct mes_access_head *w = &p->was;
    sqlite3_bind_blob(q.s, 5, w->mac, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 6, w->n);
    sqlite3_bind_blob(q.s, 7, w->last, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 8, w->first > 0 ? w->first : 1);
    sqlite3_bind_blob(q.s, 9, w->base, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
  }
  rc = q_done(&q);
  if (rc == MES_OK && sqlite3_changes(b->db) == 0)
    rc = MES_EEXISTS; /* the stored head differs from the one extended */
  q_close(&q);
  return rc;
}

static int put_heads(struct sq *b, const struct mes_access_head_put *heads, size_t n) {
  int rc = MES_OK;
  for (size_t i = 0; i < n && rc == MES_OK; i++)
    rc = put_head(b, &heads[i]);
  return rc;
}

int mes__sq_access_append(struct mes_store *st, const struct mes_access_row *rows, size_t n,
                          const struct mes_access_head_put *heads, size_t n_heads) {
  struct sq *b = sq_of(st);
  int rc = mes__commit_tx_begin(&b->gc);
  if (rc != MES_OK)
    return rc;
  rc = add_rows(b, rows, n);
  if (rc == MES_OK)
    rc = put_heads(b, heads, n_heads);
  if (rc != MES_OK) {
    mes__commit_tx_rollback(&b->gc);
    return rc;
  }
  uint64_t unused;
  return mes__commit_tx_commit(&b->gc, &unused);
}

/* A MAC column into out: MES_ESTORE when it is not MES_ACCESS_MAC_BYTES long
 * (a row written by something else than this backend). */
static int read_mac(sqlite3_stmt *s, int col, uint8_t out[MES_ACCESS_MAC_BYTES]) {
  const void *p = sqlite3_column_blob(s, col);
  if (!p || sqlite3_column_bytes(s, col) != MES_ACCESS_MAC_BYTES) {
    memset(out, 0, MES_ACCESS_MAC_BYTES);
    return MES_ESTORE;
  }
  memcpy(out, p, MES_ACCESS_MAC_BYTES);
  return MES_OK;
}

static void read_head(sqlite3_stmt *s, struct mes_access_head *h) {
  h->sid = sqlite3_column_int64(s, 0);
  h->n = sqlite3_column_int64(s, 1);
  /* A malformed MAC stays all zeros: verification then reports the head. */
  (void)read_mac(s, 2, h->last);
  (void)read_mac(s, 3, h->mac);
  h->first = sqlite3_column_int64(s, 4);
  if (sqlite3_column_type(s, 5) == SQLITE_NULL)
    memset(h->base, 0, MES_ACCESS_MAC_BYTES); /* a chain never swept starts from zeros */
  else
    (void)read_mac(s, 5, h->base);
}

int mes__sq_access_head_get(struct mes_store *st, int64_t sid, struct mes_access_head *out) {
  struct sq *b = sq_of(st);
  struct q q;
  memset(out, 0, sizeof *out);
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_ACC_HEAD_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW)
      read_head(q.s, out);
    else
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}

int mes__sq_access_list(struct mes_store *st, int64_t sid, mes_store_access_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  mes__commit_lock(&b->gc);
  int rc = q_open(b, sid > 0 ? S_ACC_LIST : S_ACC_LIST_ALL, &q);
  if (rc == MES_OK) {
    if (sid > 0)
      sqlite3_bind_int64(q.s, 1, sid);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_access_row row = {
          .sid = sqlite3_column_int64(q.s, 0),
          .seq = sqlite3_column_int64(q.s, 1),
          .ts_ms = sqlite3_column_int64(q.s, 2),
          .action = sqlite3_column_int(q.s, 3),
          .reader = (const char *)sqlite3_column_text(q.s, 4),
          .sealed = sqlite3_column_blob(q.s, 5),
          .sealed_len = (size_t)sqlite3_column_bytes(q.s, 5),
      };
      (void)read_mac(q.s, 6, row.mac); /* a malformed MAC fails verification */
      if (!row.reader)
        row.reader = "";
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

int mes__sq_access_heads(struct mes_store *st, mes_store_access_head_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_ACC_HEADS, &q);
  if (rc == MES_OK) {
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_access_head h;
      read_head(q.s, &h);
      if (cb(ud, &h))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}

int mes__sq_access_readers(struct mes_store *st, const char *reader, int64_t since_ms, mes_store_access_reader_cb cb,
                           void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_ACC_READERS, &q);
  if (rc == MES_OK) {
    sqlite3_bind_text(q.s, 1, reader, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 2, since_ms);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      const void *pn = sqlite3_column_blob(q.s, 1);
      if (!pn || sqlite3_column_bytes(q.s, 1) != 32)
        continue;
      if (cb(ud, sqlite3_column_int64(q.s, 0), pn))
        break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}

int mes__sq_access_expired(struct mes_store *st, int64_t before_ms, mes_store_access_sid_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_ACC_EXPIRED, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, before_ms);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW)
      if (cb(ud, sqlite3_column_int64(q.s, 0)))
        break;
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__commit_unlock(&b->gc);
  return rc;
}

/* One trim: the head first (it decides), then the entries it no longer
 * covers. *deleted gets their count, 0 when the head had changed. */
static int trim_one(struct sq *b, const struct mes_access_trim *t, int64_t *deleted) {
  *deleted = 0;
  struct q q;
  int rc = q_open(b, S_ACC_HEAD_MOVE, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, t->sid);
    sqlite3_bind_int64(q.s, 2, t->n);
    sqlite3_bind_int64(q.s, 3, t->first);
    sqlite3_bind_blob(q.s, 4, t->base, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 5, t->mac, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 6, t->was_first);
    rc = q_done(&q);
  }
  bool moved = rc == MES_OK && sqlite3_changes(b->db) == 1;
  q_close(&q);
  if (rc != MES_OK || !moved)
    return rc;
  rc = q_open(b, S_ACC_DEL_BEFORE, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, t->sid);
    sqlite3_bind_int64(q.s, 2, t->first);
    rc = q_done(&q);
    if (rc == MES_OK)
      *deleted = sqlite3_changes64(b->db);
  }
  q_close(&q);
  return rc;
}

int mes__sq_access_trim(struct mes_store *st, const struct mes_access_trim *t, size_t n, int64_t *n_deleted) {
  struct sq *b = sq_of(st);
  int rc = mes__commit_tx_begin(&b->gc);
  if (rc != MES_OK)
    return rc;
  int64_t total = 0;
  for (size_t i = 0; i < n && rc == MES_OK; i++) {
    int64_t d;
    rc = trim_one(b, &t[i], &d);
    total += d;
  }
  if (rc != MES_OK) {
    mes__commit_tx_rollback(&b->gc);
    return rc;
  }
  uint64_t unused;
  rc = mes__commit_tx_commit(&b->gc, &unused);
  if (rc == MES_OK && n_deleted)
    *n_deleted = total;
  return rc;
}
