/*
 * ingest/link — an anonymous visitor's history at login (contract §4,
 * `anonymous_id`).
 *
 * An anonymous visitor's events are stored only when the visitor granted a
 * purpose their type serves (consent.h, mes_consent_record_ns), under the
 * visitor's own pseudonym and key. When the visitor logs in, the brand says
 * which subject they are, and the visitor's record ends: each stored event
 * that the subject's own consent allows (a purpose granted now, after GPC,
 * and no restriction) is unsealed with the visitor's key and sealed again
 * with the subject's, and everything else of the visitor (the events the
 * subject's consent does not cover, the visitor's consents, tokens,
 * preferences, answers) is deleted, in one transaction. The visitor's key is
 * destroyed after it, so that an old copy of the database file keeps
 * nothing readable of the visitor.
 *
 * The visitor's grant is not carried over: a consent is the choice of the
 * person as the brand knows them, and a subject who never granted a purpose
 * keeps no history gathered under it.
 */
#include "ingest/ingest_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

struct link_walk {
  struct mes_ingester *ing;
  const uint8_t *from_key, *to_key; /* borrowed */
  int64_t from_sid;
  const struct mes_subject *to;
  uint32_t usable; /* purposes the subject's consent allows now; 0 when restricted or unknown */
  struct mes_event_row *rows; /* to insert; each row's sealed is owned */
  size_t n, cap;
  int64_t dropped;
  int rc;
};

static void walk_release(struct link_walk *w) {
  for (size_t i = 0; i < w->n; i++)
    free((void *)w->rows[i].sealed);
  free(w->rows);
  w->rows = NULL;
  w->n = w->cap = 0;
}

/* The client's event_id inside a document (evrec.h), hashed for the
 * subject into *eid (0 when it has none): the visitor's hash is keyed by the
 * visitor's pseudonym, so that a retry sent after login is still recognised
 * as the same event. MES_EINTERNAL, MES_ENOMEM. */
static int eid_for(struct link_walk *w, const uint8_t *doc, size_t len, int64_t *eid) {
  struct mes_evrec_scratch sc = {0};
  struct mes_evrec r;
  int rc = mes_evrec_decode(doc, len, &sc, &r);
  *eid = !rc && r.event_id ? mes_keyed_hash64(w->ing->master, w->to->pn, r.event_id, r.event_id_len) : 0;
  mes_evrec_scratch_release(&sc);
  return rc;
}

static int on_visitor_event(void *ud, const struct mes_event_row *row) {
  struct link_walk *w = ud;
  if (!(row->purposes & w->usable)) {
    w->dropped++;
    return 0;
  }
  if (row->sealed_len < MES_SEAL_OVERHEAD) {
    w->rc = MES_ECRYPTO;
    return 1;
  }
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    struct mes_event_row *grown = realloc(w->rows, cap * sizeof *grown);
    if (!grown) {
      w->rc = MES_ENOMEM;
      return 1;
    }
    w->rows = grown;
    w->cap = cap;
  }
  size_t pt_len = row->sealed_len - MES_SEAL_OVERHEAD;
  uint8_t *pt = malloc(pt_len ? pt_len : 1);
  if (!pt) {
    w->rc = MES_ENOMEM;
    return 1;
  }
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  w->rc = mes_subject_unseal_key(w->from_key, w->from_sid, MES__INGEST_KIND, row->sealed, row->sealed_len, pt);
  int64_t eid = 0;
  if (w->rc == MES_OK && row->eid)
    w->rc = eid_for(w, pt, pt_len, &eid);
  if (w->rc == MES_OK) {
    w->rc = mes_subject_seal_key(w->to_key, w->to->row.id, MES__INGEST_KIND, pt, pt_len, &sealed, &sealed_len);
  }
  mes_wipe(pt, pt_len);
  free(pt);
  if (w->rc != MES_OK)
    return 1;
  struct mes_event_row *r = &w->rows[w->n++];
  *r = *row;
  r->id = 0;
  r->sid = w->to->row.id;
  r->eid = eid;
  r->sealed = sealed;
  r->sealed_len = sealed_len;
  return 0;
}

/* Inside the transaction: moves what the subject's consent allows and
 * deletes the visitor's rows. */
static int move_and_delete(struct link_walk *w, const struct mes_req *c, struct mes_ingest_linked *out) {
  struct mes_store *st = w->ing->store;
  struct mes_subject_row now;
  int rc = w->to->row.id > 0 ? mes_store_subject_find(st, w->to->pn, &now) : MES_ENOT_FOUND;
  if (rc != MES_OK && rc != MES_ENOT_FOUND)
    return rc;
  w->usable = rc == MES_OK && now.id == w->to->row.id && !now.restricted ? mes_consent_effective(c, now.granted) : 0;
  if (w->usable && !w->to_key)
    w->usable = 0; /* the subject's key is gone: they are being erased */
  if ((rc = mes_store_event_list(st, w->from_sid, on_visitor_event, w)) != MES_OK)
    return rc;
  if (w->rc != MES_OK)
    return w->rc;
  size_t n_dup = 0;
  if (w->n && (rc = mes_store_event_insert_many(st, w->rows, w->n, &n_dup)) != MES_OK)
    return rc;
  rc = mes_store_subject_delete_counted(st, w->from_sid, &out->removed);
  if (rc != MES_OK && rc != MES_ENOT_FOUND)
    return rc;
  out->moved = (int64_t)(w->n - n_dup);
  out->already_held = (int64_t)n_dup;
  out->dropped = w->dropped;
  return MES_OK;
}

int mes_ingest_link(struct mes_ingester *ing, const struct mes_req *c, const struct mes_subject *visitor,
                    const struct mes_subject *to, struct mes_ingest_linked *out, struct mes_err *err) {
  memset(out, 0, sizeof *out);
  if (visitor->row.id <= 0)
    return MES_OK; /* nothing was ever kept of the visitor */
  uint8_t from_key[MES_KEY_BYTES], to_key[MES_KEY_BYTES];
  struct link_walk w = {.ing = ing, .from_key = from_key, .to_key = to_key, .from_sid = visitor->row.id, .to = to};
  /* Journaled first, as an erasure is: a crash before the move commits loses
   * the visitor's history rather than leaving a copy that a restored backup
   * could bring back. */
  int rc = mes_store_erasure_add(ing->store, visitor->pn, visitor->row.id, c->now_ms);
  int from_rc = rc ? rc : mes_subject_key(ing->subjects, visitor->row.id, from_key);
  if (rc == MES_OK && from_rc != MES_OK && from_rc != MES_ENOT_FOUND)
    rc = from_rc;
  int to_rc = to->row.id > 0 ? mes_subject_key(ing->subjects, to->row.id, to_key) : MES_ENOT_FOUND;
  if (rc == MES_OK && to_rc != MES_OK && to_rc != MES_ENOT_FOUND)
    rc = to_rc;
  if (to_rc != MES_OK)
    w.to_key = NULL;
  if (from_rc == MES_ENOT_FOUND)
    w.to_key = NULL; /* the visitor's key is gone: nothing of theirs is readable, nothing moves */
  if (rc == MES_OK && (rc = mes_store_tx_begin(ing->store)) == MES_OK) {
    rc = move_and_delete(&w, c, out);
    uint64_t ticket;
    if (rc != MES_OK)
      mes_store_tx_rollback(ing->store);
    else if ((rc = mes_store_tx_commit(ing->store, &ticket)) == MES_OK)
      rc = mes_store_wait_durable(ing->store, ticket);
  }
  walk_release(&w);
  mes_wipe(from_key, sizeof from_key);
  mes_wipe(to_key, sizeof to_key);
  if (rc == MES_OK && (rc = mes_subject_shred(ing->subjects, visitor->row.id)) == MES_ENOT_FOUND)
    rc = MES_OK; /* shredded already: linked or erased meanwhile */
  mes_subjects_forget(ing->subjects, visitor);
  mes_ingester_forget(ing, visitor->row.id);
  if (to->row.id > 0)
    mes_ingester_forget(ing, to->row.id);
  if (rc != MES_OK) {
    memset(out, 0, sizeof *out);
    return mes_err_set(err, rc, NULL, NULL);
  }
  return MES_OK;
}
