/*
 * ingest/read — a subject's events read back (decrypted) for exports and
 * recommendations, and one event forgotten on request (contract §7).
 */
#include "ingest/ingest_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "base/mtime.h"

/* ---------------------------------------------------------------- list */

struct list_ud {
  const struct mes_ctx *c;
  mes_ingest_event_cb cb;
  void *ud;
  int rc;
};

/* Copies member `key` of the sealed document into the event shown (when present). */
static int copy_member(json_t *out, const json_t *doc, const char *key) {
  json_t *v = json_object_get(doc, key);
  if (!v)
    return 0;
  return json_object_set(out, key, v);
}

/* The event as the API shows it, from its clear columns and sealed document. */
static json_t *event_json(const struct mes_policy *p, const struct mes_event_row *row, const json_t *doc) {
  char ts[32], eid[32];
  mes_time_format(row->ts_ms, ts);
  const char *type = row->type >= 0 && (size_t)row->type < p->n_event_types ? p->event_types[row->type].name
                                                                              : "unknown";
  const char *source = row->source >= 0 && row->source < MES_SRC_N ? mes_source_name((enum mes_source)row->source)
                                                                   : "first_party";
  json_t *out = json_object();
  if (!out)
    return NULL;
  int bad = 0;
  const json_t *client_eid = json_object_get(doc, "event_id");
  if (json_is_string(client_eid)) {
    bad |= json_object_set(out, "event_id", (json_t *)client_eid);
  } else {
    snprintf(eid, sizeof eid, MES__INGEST_ROWID_PREFIX "%" PRId64, row->id);
    bad |= json_object_set_new(out, "event_id", json_string(eid));
  }
  bad |= json_object_set_new(out, "type", json_string(type));
  bad |= copy_member(out, doc, "item");
  bad |= copy_member(out, doc, "channel");
  bad |= json_object_set_new(out, "ts", json_string(ts));
  bad |= json_object_set_new(out, "source", json_string(source));
  json_t *props = json_object_get(doc, "properties");
  bad |= json_object_set_new(out, "properties", props ? json_incref(props) : json_object());
  json_t *ctx = json_object_get(doc, "context");
  bad |= json_object_set_new(out, "context", ctx ? json_incref(ctx) : json_object());
  bad |= copy_member(out, doc, "query");
  if (bad) {
    json_decref(out);
    return NULL;
  }
  return out;
}

static int on_row(void *ud, const struct mes_event_row *row) {
  struct list_ud *l = ud;
  char *pt = NULL;
  size_t pt_len = 0;
  l->rc = mes_subject_unseal(l->c, row->sid, MES__INGEST_KIND, row->sealed, row->sealed_len, &pt, &pt_len);
  if (l->rc)
    return 1;
  json_t *doc = json_loadb(pt, pt_len, 0, NULL);
  mes_wipe(pt, pt_len);
  free(pt);
  if (!json_is_object(doc)) {
    json_decref(doc);
    l->rc = doc ? MES_EINTERNAL : MES_ENOMEM;
    return 1;
  }
  json_t *shown = event_json(l->c->policy, row, doc);
  if (!shown) {
    json_decref(doc);
    l->rc = MES_ENOMEM;
    return 1;
  }
  const struct mes_policy *p = l->c->policy;
  const char *ch = json_string_value(json_object_get(doc, "channel"));
  struct mes_ingest_event ev = {
      .id = row->id,
      .type = row->type >= 0 && (size_t)row->type < p->n_event_types ? row->type : -1,
      .ts_ms = row->ts_ms,
      .purposes = row->purposes,
      .source = row->source >= 0 && row->source < MES_SRC_N ? (enum mes_source)row->source : MES_SRC_FIRST,
      .channel = ch ? mes_channel_parse(ch, strlen(ch)) : -1,
      .item = json_string_value(json_object_get(doc, "item")),
      .json = shown,
  };
  int stop = l->cb(l->ud, &ev);
  json_decref(shown);
  json_decref(doc);
  return stop;
}

int mes_ingest_list(const struct mes_ctx *c, int64_t sid, mes_ingest_event_cb cb, void *ud, struct mes_err *err) {
  struct list_ud l = {c, cb, ud, MES_OK};
  int rc = mes_store_event_list(c->store, sid, on_row, &l);
  if (!rc)
    rc = l.rc;
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "This person's data has been erased.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}

/* ---------------------------------------------------------------- forget */

struct find_ud {
  int64_t eid;    /* keyed hash of the id as a client event_id */
  int64_t row_id; /* the id read as "ev_<row id>", 0 when it is not of that form */
  int64_t found;  /* row id of the match, 0 when none */
};

static int on_find(void *ud, const struct mes_event_row *row) {
  struct find_ud *f = ud;
  if (row->eid == f->eid) {
    f->found = row->id;
    return 1;
  }
  if (row->eid == 0 && f->row_id && row->id == f->row_id)
    f->found = row->id; /* keep looking: a client event_id match wins */
  return 0;
}

/* "ev_<decimal row id>" -> the row id, else 0. */
static int64_t parse_rowid(const char *s, size_t len) {
  size_t plen = strlen(MES__INGEST_ROWID_PREFIX);
  if (len <= plen || len > plen + 18 || memcmp(s, MES__INGEST_ROWID_PREFIX, plen) != 0)
    return 0;
  int64_t v = 0;
  for (size_t i = plen; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int mes_ingest_forget(const struct mes_ctx *c, const struct mes_subject *s, const char *event_id, size_t event_len,
                      struct mes_err *err) {
  int rc = mes_id_check(event_id, event_len);
  if (rc)
    return mes_err_set(err, rc, NULL, "An event id must be 1 to 128 bytes of UTF-8 without control characters.");
  struct find_ud f = {
      .eid = mes_keyed_hash64(c->master, s->pn, event_id, event_len),
      .row_id = parse_rowid(event_id, event_len),
  };
  rc = mes_store_event_list(c->store, s->row.id, on_find, &f);
  if (!rc && !f.found)
    rc = MES_ENOT_FOUND;
  /* Outside a transaction the delete runs in one of its own and is durable
   * when it returns; a concurrent delete of the same event reads NOT_FOUND. */
  if (!rc)
    rc = mes_store_event_delete(c->store, s->row.id, f.found);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "This subject has no event with this id.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}
