/*
 * store/sqlite_subjects — what the SQLite backend keeps of each person
 * besides their behaviour: the subject rows (keyed pseudonym -> id, and the
 * flags that gate processing), their wrapped keys in keys.db, the consent
 * ledger and their preferences. Deleting a subject deletes everything keyed
 * by it in mesura.db; the key goes separately.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

/* ------------------------------------------------------------------------ */
/* Subjects                                                                 */
/* ------------------------------------------------------------------------ */

static int find_subject(struct rd *r, const uint8_t pn[32], struct mes_subject_row *out) {
  struct q q;
  int rc = rq_open(r, S_SUBJ_FIND, &q);
  if (rc == MES_OK) {
    sqlite3_bind_blob(q.s, 1, pn, 32, SQLITE_STATIC);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      out->id = sqlite3_column_int64(q.s, 0);
      out->granted = (uint32_t)sqlite3_column_int64(q.s, 1);
      out->restricted = sqlite3_column_int(q.s, 2) != 0;
      out->created_ms = sqlite3_column_int64(q.s, 3);
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  return rc;
}

int mes__sq_subject_find(struct mes_store *st, const uint8_t pn[32], struct mes_subject_row *out) {
  struct rd r;
  mes__sq_rd_begin(sq_of(st), &r);
  int rc = find_subject(&r, pn, out);
  mes__sq_rd_end(&r);
  return rc;
}

int mes__sq_subject_ensure(struct mes_store *st, const uint8_t pn[32], int64_t now_ms, struct mes_subject_row *out) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  struct rd w = {.b = b, .c = NULL, .slot = -1}; /* inside the tx: the writer */
  rc = find_subject(&w, pn, out);
  if (rc == MES_ENOT_FOUND) {
    struct q q;
    if ((rc = q_open(b, S_SUBJ_INSERT, &q)) == MES_OK) {
      sqlite3_bind_blob(q.s, 1, pn, 32, SQLITE_STATIC);
      sqlite3_bind_int64(q.s, 2, now_ms);
      rc = q_done(&q);
    }
    q_close(&q);
    if (rc == MES_OK)
      *out = (struct mes_subject_row){.id = sqlite3_last_insert_rowid(b->db), .created_ms = now_ms};
  }
  return wr_end(b, own, rc);
}

static int update_subject(struct mes_store *st, enum stmt_id id, int64_t sid, int64_t v) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, id, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_int64(q.s, 2, v);
    rc = q_done(&q);
    if (rc == MES_OK && sqlite3_changes(b->db) == 0)
      rc = MES_ENOT_FOUND;
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_subject_set_granted(struct mes_store *st, int64_t sid, uint32_t granted) {
  return update_subject(st, S_SUBJ_SET_GRANTED, sid, granted);
}

int mes__sq_subject_set_restricted(struct mes_store *st, int64_t sid, bool restricted) {
  return update_subject(st, S_SUBJ_SET_RESTRICTED, sid, restricted ? 1 : 0);
}

int mes__sq_subject_delete(struct mes_store *st, int64_t sid, struct mes_store_erased *counted) {
  static const enum stmt_id dels[] = {S_SUBJ_DEL_EVENTS,    S_SUBJ_DEL_CONSENTS,    S_SUBJ_DEL_TOKENS,
                                      S_SUBJ_DEL_PREFS,     S_SUBJ_DEL_IMPRESSIONS, S_SUBJ_DEL_DECISIONS,
                                      S_SUBJ_DEL_ATTRS,     S_SUBJ_DELETE}; /* last: its count says whether the subject existed */
  struct mes_store_erased scratch;
  struct mes_store_erased *c = counted ? counted : &scratch;
  int64_t *slot[] = {&c->events, &c->consents, &c->tokens, &c->preferences, &c->impressions, &c->decisions,
                    &c->attributes,  NULL};
  memset(c, 0, sizeof *c);
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  /* Inside the caller's tx, a savepoint of our own keeps the deletion whole. */
  if (!own && (rc = mes__commit_tx_begin(&b->gc)) != MES_OK)
    return wr_end(b, own, rc);
  int64_t n = 0;
  rc = run(b, S_IMP_HW); /* before S_SUBJ_DEL_IMPRESSIONS: ids are never reused */
  if (rc == MES_OK)
    rc = mes__sq_access_delete_subject(b, sid, &c->accesses);
  for (size_t i = 0; i < sizeof dels / sizeof dels[0] && rc == MES_OK; i++) {
    rc = run_i64(b, dels[i], sid, &n);
    if (slot[i])
      *slot[i] = n;
  }
  if (rc == MES_OK && n == 0)
    rc = MES_ENOT_FOUND; /* the subject row itself was absent */
  if (!own) {
    uint64_t unused;
    if (rc == MES_OK)
      rc = mes__commit_tx_commit(&b->gc, &unused);
    else
      mes__commit_tx_rollback(&b->gc);
  }
  if (rc != MES_OK)
    memset(c, 0, sizeof *c);
  return wr_end(b, own, rc);
}

int64_t mes__sq_subject_count(struct mes_store *st) { return mes__sq_count_rows(sq_of(st), S_SUBJ_COUNT); }

/* Every subject row, by id (training reads who still grants what). */
int mes__sq_subject_scan(struct mes_store *st, mes_store_subject_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  mes__commit_lock(&b->gc);
  int rc = q_open(b, S_SUBJ_SCAN, &q);
  if (rc == MES_OK) {
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_subject_row row = {
          .id = sqlite3_column_int64(q.s, 0),
          .granted = (uint32_t)sqlite3_column_int64(q.s, 1),
          .restricted = sqlite3_column_int(q.s, 2) != 0,
          .created_ms = sqlite3_column_int64(q.s, 3),
      };
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

/* Raises the sequence that AUTOINCREMENT draws subject ids from: the next
 * id is one past the larger of it and the largest id held. */
int mes__sq_subject_id_floor(struct mes_store *st, int64_t min_id) {
  struct sq *b = sq_of(st);
  bool own;
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  rc = run_i64(b, S_SUBJ_SEQ_RAISE, min_id, NULL);
  if (rc == MES_OK)
    rc = run_i64(b, S_SUBJ_SEQ_INIT, min_id, NULL);
  return wr_end(b, own, rc);
}

/* ------------------------------------------------------------------------ */
/* Keystore (keys.db): each write is its own durable transaction            */
/* ------------------------------------------------------------------------ */

int mes__sq_key_put(struct mes_store *st, int64_t sid, const uint8_t *wrapped, size_t len) {
  struct sq *b = sq_of(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_PUT, &q);
  if (rc == MES_OK) {
    /* An upsert: a key left by a subject row whose transaction rolled back
     * (so its id is handed out again) is replaced, never reused. */
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_blob(q.s, 2, wrapped, (int)len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

int mes__sq_key_get(struct mes_store *st, int64_t sid, uint8_t *out, size_t cap, size_t *len) {
  struct sq *b = sq_of(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_GET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int s = sqlite3_step(q.s);
    if (s == SQLITE_ROW) {
      const void *p = sqlite3_column_blob(q.s, 0);
      size_t n = (size_t)sqlite3_column_bytes(q.s, 0);
      if (n > cap) {
        rc = MES_EINTERNAL;
      } else {
        if (n)
          memcpy(out, p, n);
        *len = n;
      }
    } else {
      rc = s == SQLITE_DONE ? MES_ENOT_FOUND : map_rc(s);
    }
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

int mes__sq_key_delete(struct mes_store *st, int64_t sid) {
  struct sq *b = sq_of(st);
  int64_t n = 0;
  pthread_mutex_lock(&b->kmu);
  int rc = run_i64(b, K_DELETE, sid, &n);
  if (rc == MES_OK && n > 0) {
    /* Best effort: move the zeroed page into keys.db and empty the WAL, so
     * the old wrapped key leaves the files now rather than at the next
     * checkpoint. A reader in another process may make this partial. */
    sqlite3_wal_checkpoint_v2(b->kdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  }
  pthread_mutex_unlock(&b->kmu);
  if (rc == MES_OK && n == 0)
    rc = MES_ENOT_FOUND;
  return rc;
}

int mes__sq_key_meta_get(struct mes_store *st, const char *key, char *out, size_t cap) {
  struct sq *b = sq_of(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_META_GET, &q);
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
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

int mes__sq_key_meta_set(struct mes_store *st, const char *key, const char *value) {
  struct sq *b = sq_of(st);
  struct q q;
  pthread_mutex_lock(&b->kmu);
  int rc = q_open(b, K_META_SET, &q);
  if (rc == MES_OK) {
    sqlite3_bind_text(q.s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q.s, 2, value, -1, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  pthread_mutex_unlock(&b->kmu);
  return rc;
}

/* The rewrap reads the keys in chunks by sid, each read whole before it is
 * rewritten: an UPDATE of a table while a SELECT of it is still stepping
 * may meet its own rows again. Wrapped keys are 72 bytes; a larger one is
 * not ours. */
#define REWRAP_CHUNK 256
#define REWRAP_KEY_MAX 256

struct rewrap_row {
  int64_t sid;
  size_t len;
  uint8_t w[REWRAP_KEY_MAX];
};

static int rewrap_meta(struct sq *b, const struct mes_store_kv *meta, size_t n_meta) {
  int rc = MES_OK;
  for (size_t i = 0; rc == MES_OK && i < n_meta; i++) {
    struct q q;
    rc = q_open(b, K_META_SET, &q);
    if (rc == MES_OK) {
      sqlite3_bind_text(q.s, 1, meta[i].key, -1, SQLITE_STATIC);
      sqlite3_bind_text(q.s, 2, meta[i].value, -1, SQLITE_STATIC);
      rc = q_done(&q);
    }
    q_close(&q);
  }
  return rc;
}

int mes__sq_key_rewrap(struct mes_store *st, mes_store_key_rewrap_cb cb, void *ud, const struct mes_store_kv *meta,
                       size_t n_meta, int64_t *n_keys) {
  struct sq *b = sq_of(st);
  *n_keys = 0;
  struct rewrap_row *chunk = malloc(REWRAP_CHUNK * sizeof *chunk);
  if (!chunk)
    return MES_ENOMEM;
  uint8_t out[REWRAP_KEY_MAX];
  sqlite3_stmt *sel = NULL, *upd = NULL;
  int64_t n_done = 0;
  pthread_mutex_lock(&b->kmu);
  /* keys.db runs synchronous=FULL: the COMMIT is durable when it returns. */
  int rc = map_rc(sqlite3_exec(b->kdb, "BEGIN IMMEDIATE", NULL, NULL, NULL));
  bool in_tx = rc == MES_OK;
  if (rc == MES_OK)
    rc = map_rc(sqlite3_prepare_v2(b->kdb, "SELECT sid, wrapped FROM subject_keys WHERE sid > ?1 ORDER BY sid LIMIT ?2",
                                   -1, &sel, NULL));
  if (rc == MES_OK)
    rc = map_rc(sqlite3_prepare_v2(b->kdb, "UPDATE subject_keys SET wrapped = ?2 WHERE sid = ?1", -1, &upd, NULL));
  int64_t after = INT64_MIN;
  while (rc == MES_OK) {
    size_t n = 0;
    int s;
    sqlite3_bind_int64(sel, 1, after);
    sqlite3_bind_int(sel, 2, REWRAP_CHUNK);
    while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
      size_t len = (size_t)sqlite3_column_bytes(sel, 1);
      if (len > REWRAP_KEY_MAX) {
        rc = MES_ESTORE;
        break;
      }
      chunk[n].sid = sqlite3_column_int64(sel, 0);
      chunk[n].len = len;
      if (len)
        memcpy(chunk[n].w, sqlite3_column_blob(sel, 1), len);
      n++;
    }
    if (rc == MES_OK && s != SQLITE_DONE)
      rc = map_rc(s);
    sqlite3_reset(sel);
    for (size_t i = 0; rc == MES_OK && i < n; i++) {
      size_t out_len = 0;
      rc = cb(ud, chunk[i].sid, chunk[i].w, chunk[i].len, out, sizeof out, &out_len);
      if (rc == MES_OK && out_len > sizeof out)
        rc = MES_EINTERNAL;
      if (rc != MES_OK)
        break;
      sqlite3_bind_int64(upd, 1, chunk[i].sid);
      sqlite3_bind_blob(upd, 2, out, (int)out_len, SQLITE_STATIC);
      s = sqlite3_step(upd);
      rc = s == SQLITE_DONE ? MES_OK : map_rc(s);
      sqlite3_reset(upd);
      n_done++;
    }
    if (n < REWRAP_CHUNK)
      break;
    after = chunk[n - 1].sid;
  }
  if (rc == MES_OK)
    rc = rewrap_meta(b, meta, n_meta);
  if (rc == MES_OK)
    rc = map_rc(sqlite3_exec(b->kdb, "COMMIT", NULL, NULL, NULL));
  if (rc != MES_OK && in_tx && !sqlite3_get_autocommit(b->kdb))
    sqlite3_exec(b->kdb, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_finalize(sel);
  sqlite3_finalize(upd);
  pthread_mutex_unlock(&b->kmu);
  free(chunk);
  if (rc == MES_OK)
    *n_keys = n_done;
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Consents and preferences                                                 */
/* ------------------------------------------------------------------------ */

int mes__sq_consent_append(struct mes_store *st, struct mes_consent_row *row) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_CO_APPEND, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, row->sid);
    sqlite3_bind_int(q.s, 2, row->purpose);
    sqlite3_bind_int(q.s, 3, row->status);
    sqlite3_bind_int64(q.s, 4, row->ts_ms);
    sqlite3_bind_blob(q.s, 5, row->sealed ? (const void *)row->sealed : "", (int)row->sealed_len, SQLITE_STATIC);
    rc = q_done(&q);
    if (rc == MES_OK)
      row->id = sqlite3_last_insert_rowid(b->db);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_consent_days(struct mes_store *st, int64_t since_ms, mes_store_consent_day_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_CO_DAYS, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, since_ms);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW)
      if (cb(ud, sqlite3_column_int64(q.s, 0), sqlite3_column_int(q.s, 1), sqlite3_column_int(q.s, 2),
             sqlite3_column_int64(q.s, 3)))
        break;
    if (r != SQLITE_ROW && r != SQLITE_DONE)
      rc = map_rc(r);
  }
  q_close(&q);
  mes__sq_rd_end(&rh);
  return rc;
}

int mes__sq_consent_list(struct mes_store *st, int64_t sid, mes_store_consent_cb cb, void *ud) {
  struct sq *b = sq_of(st);
  struct q q;
  struct rd rh;
  mes__sq_rd_begin(b, &rh);
  int rc = rq_open(&rh, S_CO_LIST, &q);
  if (rc == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    int r;
    while ((r = sqlite3_step(q.s)) == SQLITE_ROW) {
      struct mes_consent_row row = {
          .id = sqlite3_column_int64(q.s, 0),
          .sid = sqlite3_column_int64(q.s, 1),
          .purpose = sqlite3_column_int(q.s, 2),
          .status = sqlite3_column_int(q.s, 3),
          .ts_ms = sqlite3_column_int64(q.s, 4),
          .sealed = sqlite3_column_blob(q.s, 5),
      };
      row.sealed_len = (size_t)sqlite3_column_bytes(q.s, 5);
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

int mes__sq_pref_put(struct mes_store *st, int64_t sid, const uint8_t *sealed, size_t len) {
  struct sq *b = sq_of(st);
  bool own;
  struct q q = {0};
  int rc = wr_begin(b, &own);
  if (rc != MES_OK)
    return rc;
  if ((rc = q_open(b, S_PREF_PUT, &q)) == MES_OK) {
    sqlite3_bind_int64(q.s, 1, sid);
    sqlite3_bind_blob(q.s, 2, sealed ? (const void *)sealed : "", (int)len, SQLITE_STATIC);
    rc = q_done(&q);
  }
  q_close(&q);
  return wr_end(b, own, rc);
}

int mes__sq_pref_get(struct mes_store *st, int64_t sid, uint8_t **out, size_t *len) {
  void *p;
  int rc = mes__sq_get_copy(sq_of(st), S_PREF_GET, sid, NULL, &p, len);
  *out = p;
  return rc;
}
