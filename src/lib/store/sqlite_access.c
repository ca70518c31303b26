/*
 * store/sqlite_access — the access log's two tables in the SQLite backend:
 * entries (sealed by the caller, chained by a MAC the caller computes) and
 * the head of each subject's chain, written in one transaction so that a
 * crash never leaves a head that disagrees with its entries.
 *
 * Entries are stored in the order they are written, each with the id of
 * its chain's previous entry, and a head with its chain's last id: a
 * batch's entries share the table's last pages, and a person's log is read
 * by walking back from their head. A walk that does not come down, seq by
 * seq, to the head's first entry (an altered or damaged log) gives way to a
 * scan of the whole table for the subject, so that what is read, swept or
 * erased is the same whatever the pointers say.
 */
#include <stdlib.h>

#include "store/sqlite_int.h"

/* The head put that extends sid's chain, or NULL. */
static struct mes_access_head_put *put_of(struct mes_access_head_put *heads, size_t n, int64_t sid) {
  for (size_t i = 0; i < n; i++)
    if (heads[i].head.sid == sid)
      return &heads[i];
  return NULL;
}

/* Appends the rows, each pointing to the entry before it in its chain (the
 * chain's stored last one, or the row just added for the same subject),
 * and leaves in each put's head the id of its chain's last row. */
static int add_rows(struct sq *b, const struct mes_access_row *rows, size_t n, struct mes_access_head_put *heads,
                    size_t n_heads) {
  for (size_t i = 0; i < n_heads; i++)
    heads[i].head.last_id = heads[i].is_new ? 0 : heads[i].was.last_id;
  struct q q = {0};
  int rc = n ? q_open(b, S_ACC_ADD, &q) : MES_OK;
  for (size_t i = 0; i < n && rc == MES_OK; i++) {
    const struct mes_access_row *r = &rows[i];
    struct mes_access_head_put *p = put_of(heads, n_heads, r->sid);
    if (r->sealed_len > (size_t)INT32_MAX || !r->reader || !p) {
      rc = MES_EINTERNAL;
      break;
    }
    sqlite3_bind_int64(q.s, 1, r->sid);
    sqlite3_bind_int64(q.s, 2, r->seq);
    sqlite3_bind_int64(q.s, 3, p->head.last_id);
    sqlite3_bind_int64(q.s, 4, r->ts_ms);
    sqlite3_bind_int(q.s, 5, r->action);
    sqlite3_bind_text(q.s, 6, r->reader, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 7, r->sealed_len ? (const void *)r->sealed : "", (int)r->sealed_len, SQLITE_STATIC);
    sqlite3_bind_blob(q.s, 8, r->mac, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      p->head.last_id = sqlite3_last_insert_rowid(b->db);
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
    sqlite3_bind_int64(q.s, 7, h->last_id);
  } else {
    const struct mes_access_head *w = &p->was;
    sqlite3_bind_blob(q.s, 5, w->mac, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 6, w->n);
    sqlite3_bind_blob(q.s, 7, w->last, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 8, w->first > 0 ? w->first : 1);
    sqlite3_bind_blob(q.s, 9, w->base, MES_ACCESS_MAC_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(q.s, 10, h->last_id);
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
                          struct mes_access_head_put *heads, size_t n_heads) {
  struct sq *b = sq_of(st);
  int rc = mes__commit_tx_begin(&b->gc);
  if (rc != MES_OK)
    return rc;
  rc = add_rows(b, rows, n, heads, n_heads);
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
  h->last_id = sqlite3_column_int64(s, 6);
}

/* sid's head, the writer lock held. */
static int head_get(struct sq *b, int64_t sid, struct mes_access_head *out) {
  struct q q;
  memset(out, 0, sizeof *out);
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
  return rc;
}

int mes__sq_access_head_get(struct mes_store *st, int64_t sid, struct mes_access_head *out) {
  struct sq *b = sq_of(st);
  mes__commit_lock(&b->gc);
  int rc = head_get(b, sid, out);
  mes__commit_unlock(&b->gc);
  return rc;
}

/* The ids of a chain's entries, from its last down to seq `down_to`. */
struct walk {
  int64_t *ids; /* ids[k] holds seq h->n - k */
  size_t n, cap;
  bool clean; /* every seq from the head's last down to down_to was found, in order */
};

/* Walks sid's chain back from head h to seq down_to (>= h->first). A step
 * that finds no row, another subject's, a seq out of order, or a pointer
 * that does not go back (ids only grow: a loop is an alteration) ends the
 * walk unclean. A chain with no entry kept walks clean to nothing. */
static int walk_back(struct sq *b, const struct mes_access_head *h, int64_t down_to, struct walk *w) {
  memset(w, 0, sizeof *w);
  if (h->n < down_to || h->n < 1) {
    w->clean = true;
    return MES_OK;
  }
  struct q q;
  int rc = q_open(b, S_ACC_STEP, &q);
  int64_t id = h->last_id, seq = h->n;
  while (rc == MES_OK && id > 0) {
    sqlite3_bind_int64(q.s, 1, id);
    int s = sqlite3_step(q.s);
    if (s != SQLITE_ROW) {
      if (s != SQLITE_DONE)
        rc = map_rc(s);
      break;
    }
    int64_t got_sid = sqlite3_column_int64(q.s, 0), got_seq = sqlite3_column_int64(q.s, 1);
    int64_t prev = sqlite3_column_int64(q.s, 2);
    sqlite3_reset(q.s);
    if (got_sid != h->sid || got_seq != seq)
      break;
    if (w->n == w->cap) {
      size_t cap = w->cap ? 2 * w->cap : 64;
      int64_t *p = realloc(w->ids, cap * sizeof *p);
      if (!p) {
        rc = MES_ENOMEM;
        break;
      }
      w->ids = p;
      w->cap = cap;
    }
    w->ids[w->n++] = id;
    if (seq == down_to) {
      w->clean = true;
      break;
    }
    if (prev >= id)
      break;
    id = prev;
    seq--;
  }
  q_close(&q);
  if (rc != MES_OK) {
    free(w->ids);
    memset(w, 0, sizeof *w);
  }
  return rc;
}

/* Reads the row at the statement's current step. */
static void read_row(sqlite3_stmt *s, struct mes_access_row *row) {
  *row = (struct mes_access_row){
      .sid = sqlite3_column_int64(s, 0),
      .seq = sqlite3_column_int64(s, 1),
      .ts_ms = sqlite3_column_int64(s, 2),
      .action = sqlite3_column_int(s, 3),
      .reader = (const char *)sqlite3_column_text(s, 4),
      .sealed = sqlite3_column_blob(s, 5),
      .sealed_len = (size_t)sqlite3_column_bytes(s, 5),
  };
  (void)read_mac(s, 6, row->mac); /* a malformed MAC fails verification */
  if (!row->reader)
    row->reader = "";
}

/* Runs the scan statement id (bound by the caller) into cb. */
static int scan_rows(struct q *q, mes_store_access_cb cb, void *ud) {
  int r;
  while ((r = sqlite3_step(q->s)) == SQLITE_ROW) {
    struct mes_access_row row;
    read_row(q->s, &row);
    if (cb(ud, &row))
      return MES_OK;
  }
  return r == SQLITE_DONE ? MES_OK : map_rc(r);
}

/* sid's entries by a scan (the log's every row), in seq order. */
static int list_scan(struct sq *b, int64_t sid, mes_store_access_cb cb, void *ud) {
  struct q q;
  int rc = q_open(b, sid > 0 ? S_ACC_LIST : S_ACC_LIST_ALL, &q);
  if (rc == MES_OK) {
    if (sid > 0)
      sqlite3_bind_int64(q.s, 1, sid);
    rc = scan_rows(&q, cb, ud);
  }
  q_close(&q);
  return rc;
}

/* sid's entries through its head: none without one (a log whose head is
 * gone is found by verification, which scans). */
static int list_walk(struct sq *b, int64_t sid, mes_store_access_cb cb, void *ud) {
  struct mes_access_head h;
  int rc = head_get(b, sid, &h);
  if (rc == MES_ENOT_FOUND)
    return MES_OK;
  struct walk w;
  if (rc == MES_OK)
    rc = walk_back(b, &h, h.first > 1 ? h.first : 1, &w);
  if (rc != MES_OK)
    return rc;
  if (!w.clean) {
    free(w.ids);
    return list_scan(b, sid, cb, ud);
  }
  struct q q;
  rc = w.n ? q_open(b, S_ACC_GET, &q) : MES_OK;
  for (size_t k = w.n; k-- > 0 && rc == MES_OK;) {
    sqlite3_bind_int64(q.s, 1, w.ids[k]);
    int s = sqlite3_step(q.s);
    if (s != SQLITE_ROW) {
      rc = s == SQLITE_DONE ? MES_ESTORE : map_rc(s); /* it was there a moment ago, under the same lock */
      break;
    }
    struct mes_access_row row;
    read_row(q.s, &row);
    int stop = cb(ud, &row);
    sqlite3_reset(q.s);
    if (stop)
      break;
  }
  if (w.n)
    q_close(&q);
  free(w.ids);
  return rc;
}

int mes__sq_access_list(struct mes_store *st, int64_t sid, mes_store_access_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  mes__commit_lock(&b->gc);
  int rc = sid > 0 ? list_walk(b, sid, cb, ud) : list_scan(b, 0, cb, ud);
  mes__commit_unlock(&b->gc);
  return rc;
}

/* Deletes the entries of h's chain from seq `from` (its head's first, or
 * lower while a sweep moves it) up to below `below`, found by the walk from
 * head h, or by a scan of the subject's rows when the walk breaks; *deleted
 * gets their count. */
static int delete_entries(struct sq *b, const struct mes_access_head *h, int64_t from, int64_t below,
                          int64_t *deleted) {
  *deleted = 0;
  struct walk w;
  int rc = walk_back(b, h, from > 1 ? from : 1, &w);
  if (rc != MES_OK)
    return rc;
  struct q q;
  if (!w.clean) {
    free(w.ids);
    rc = q_open(b, S_ACC_DEL_BEFORE, &q);
    if (rc == MES_OK) {
      sqlite3_bind_int64(q.s, 1, h->sid);
      sqlite3_bind_int64(q.s, 2, below);
      rc = q_done(&q);
      if (rc == MES_OK)
        *deleted = sqlite3_changes64(b->db);
    }
    q_close(&q);
    return rc;
  }
  /* ids[k] holds seq h->n - k: those below `below` are the walk's tail. */
  size_t keep = h->n >= below ? (size_t)(h->n - below + 1) : 0;
  rc = w.n > keep ? q_open(b, S_ACC_DEL_ID, &q) : MES_OK;
  for (size_t k = keep; k < w.n && rc == MES_OK; k++) {
    sqlite3_bind_int64(q.s, 1, w.ids[k]);
    rc = q_done(&q);
    if (rc == MES_OK)
      *deleted += sqlite3_changes64(b->db);
    sqlite3_reset(q.s);
  }
  if (w.n > keep)
    q_close(&q);
  free(w.ids);
  return rc;
}

int mes__sq_access_delete_subject(struct sq *b, int64_t sid, int64_t *deleted) {
  *deleted = 0;
  struct mes_access_head h;
  int rc = head_get(b, sid, &h);
  if (rc == MES_OK)
    rc = delete_entries(b, &h, h.first > 1 ? h.first : 1, INT64_MAX, deleted);
  else if (rc == MES_ENOT_FOUND)
    rc = MES_OK; /* no head, no entry: they are written together */
  if (rc == MES_OK)
    rc = run_i64(b, S_SUBJ_DEL_ACCESS_HEAD, sid, NULL);
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
  struct mes_access_head h;
  rc = head_get(b, t->sid, &h); /* the head as moved: its count and last entry are the ones planned */
  if (rc == MES_OK)
    rc = delete_entries(b, &h, t->was_first, t->first, deleted);
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
