/*
 * ingest/batch — POST /v1/events: checks one event or a batch, applies the
 * gates that decide what may be kept, seals and stores it.
 *
 * Two phases keep the store's writer lock short:
 *   1. Without a transaction: check each event against the field tables,
 *      build its sealed document in one reused buffer, resolve each distinct
 *      subject once per request (a batch often holds many events of one
 *      person) - from the subject registry's hint map when it knows the
 *      pseudonym, else from the store -, apply the gates and seal what will
 *      be kept.
 *   2. In one transaction: re-read the row of every subject about to receive
 *      events, and of every subject whose row was a hint, so that a consent
 *      withdrawal or an erasure committed between the phases still wins and
 *      a grant the hint did not know yet is honoured; record GPC overrides;
 *      insert; commit; wait until the commit is durable (group commit), and
 *      only then reply.
 * Nothing of an event that fails a gate is written, and the subject is never
 * created here: the consent API creates subjects.
 */
#include "ingest/ingest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/htab.h"
#include "base/json.h"
#include "consent/consent.h"
#include "subject/subjmap.h"

#define DAY_MS 86400000LL
/* The smallest integer ts taken as epoch milliseconds: 1973-03-03 as
 * milliseconds, but the year 5138 as seconds. Every event a shop can send
 * happened after it, and every epoch-seconds value of our era is below it:
 * such a value would otherwise read as January 1970 and be silently dropped
 * as expired, so it is refused as the unit mistake it is. */
#define MIN_TS_MS 100000000000LL
#define READ_SESSION_MIN 8 /* events in a request from which its look-ups share a read session */
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- shapes */

static const struct mes_jfield batch_fields[] = {
    {.name = "events", .type = MES_J_ARRAY, .required = true},
};

static const struct mes_jfield event_fields[] = {
    {.name = "subject", .type = MES_J_ID},
    {.name = "anonymous_id", .type = MES_J_ID},
    {.name = "type", .type = MES_J_STRING, .required = true, .min = 1, .max = 128},
    {.name = "item", .type = MES_J_ID},
    {.name = "channel", .type = MES_J_STRING, .min = 1, .max = 16},
    {.name = "ts", .type = MES_J_TS},
    {.name = "source", .type = MES_J_STRING, .min = 1, .max = 16},
    {.name = "context", .type = MES_J_OBJECT},
    {.name = "properties", .type = MES_J_OBJECT},
    {.name = "event_id", .type = MES_J_ID},
    {.name = "query", .type = MES_J_STRING, .min = 1, .max = 1024},
};

const struct mes_jfield mes_ingest_body_fields[] = {
    {.name = "events", .type = MES_J_ANY},     {.name = "subject", .type = MES_J_ANY},
    {.name = "anonymous_id", .type = MES_J_ANY}, {.name = "type", .type = MES_J_ANY},
    {.name = "item", .type = MES_J_ANY},       {.name = "channel", .type = MES_J_ANY},
    {.name = "ts", .type = MES_J_ANY},         {.name = "source", .type = MES_J_ANY},
    {.name = "context", .type = MES_J_ANY},    {.name = "properties", .type = MES_J_ANY},
    {.name = "event_id", .type = MES_J_ANY},   {.name = "query", .type = MES_J_ANY},
};
const size_t mes_ingest_n_body_fields = N_OF(mes_ingest_body_fields);

/* Also the order in which context members are sealed. */
static const struct mes_jfield context_fields[] = {
    {.name = "request_id", .type = MES_J_ID},
    {.name = "placement", .type = MES_J_ID},
    {.name = "authenticated", .type = MES_J_BOOL},
    {.name = "device_shared", .type = MES_J_BOOL},
};

bool mes__ingest_is_search(const struct mes_policy *p, int t) {
  return t >= 0 && (size_t)t < p->n_event_types && strcmp(p->event_types[t].name, "search") == 0;
}

/* ---------------------------------------------------------------- state */

enum outcome { OUT_INVALID = 0, OUT_STORE, OUT_NO_CONSENT, OUT_THIRD_PARTY, OUT_RESTRICTED, OUT_EXPIRED };

struct ev {
  const json_t *obj; /* borrowed from the body */
  int type;
  int64_t ts_ms;
  int channel;
  int source;
  int subj; /* index into batch.subjs, -1 when the gates stopped before resolving */
  enum outcome out;
  int64_t eid;
  uint8_t *sealed; /* owned while out == OUT_STORE */
  size_t sealed_len;
};

struct subj {
  const char *id; /* borrowed from the body */
  size_t len;
  enum mes_subject_ns ns;
  int rc; /* of resolution: MES_OK or MES_ENOT_FOUND */
  struct mes_subject s;
  bool cached;       /* s.row came from the hint map: a hint, re-read in phase 2 whatever the gates said */
  size_t n_gated;    /* its events that reached the consent gate */
  size_t n_store;    /* its events about to be stored */
  bool gpc_override; /* this request's GPC overrides an earlier grant: record it once */
  /* Its data key, fetched at its first event to seal and used for the rest
   * of phase 1 (one key-cache look-up per subject, not per event); wiped by
   * wipe_keys as soon as phase 1 ends. key_rc: the fetch's code (MES_OK, or
   * MES_ENOT_FOUND when shredded: its later events skip the look-up too). */
  bool key_fetched;
  int key_rc;
  uint8_t key[MES_KEY_BYTES];
};

struct batch {
  struct mes_ingester *ing;
  const struct mes_req *c;
  struct ev *evs;
  size_t n_evs;
  struct subj *subjs; /* at most one per event */
  size_t n_subjs;
  struct mes_htab by_id; /* the tag of (namespace, id) -> index into subjs + 1 */
  struct mes_buf doc;  /* the sealed document being built (evrec.h), reused per event */
  struct mes_buf cold; /* its cold part, built first, reused per event */
  json_t *errors;
  int64_t dropped;
};

/* Wipes the subject keys phase 1 fetched, and whatever a failed fetch left
 * (safe to call twice). */
static void wipe_keys(struct batch *b) {
  for (size_t i = 0; b->subjs && i < b->n_subjs; i++)
    mes_wipe(b->subjs[i].key, sizeof b->subjs[i].key);
}

static void batch_release(struct batch *b) {
  wipe_keys(b);
  for (size_t i = 0; b->evs && i < b->n_evs; i++)
    free(b->evs[i].sealed);
  free(b->evs);
  free(b->subjs);
  mes_htab_release(&b->by_id);
  if (b->doc.data)
    mes_wipe(b->doc.data, b->doc.cap);
  mes_buf_release(&b->doc);
  if (b->cold.data)
    mes_wipe(b->cold.data, b->cold.cap);
  mes_buf_release(&b->cold);
  json_decref(b->errors);
}

static int batch_init(struct batch *b, struct mes_ingester *ing, const struct mes_req *c, size_t n) {
  memset(b, 0, sizeof *b);
  b->ing = ing;
  b->c = c;
  mes_buf_init(&b->doc, MES_INGEST_PAYLOAD_MAX);
  mes_buf_init(&b->cold, MES_INGEST_PAYLOAD_MAX);
  mes_htab_init(&b->by_id, n);
  b->evs = calloc(n, sizeof *b->evs);
  b->subjs = calloc(n, sizeof *b->subjs);
  b->errors = json_array();
  if (!b->evs || !b->subjs || !b->errors || mes_htab_reserve(&b->by_id, n))
    return MES_ENOMEM;
  b->n_evs = n;
  return MES_OK;
}

/* A code that stops the whole request (server trouble), rather than one
 * event (the client's mistake). */
static bool fatal(int rc) { return mes_rc_status(rc) >= 500; }

static void ptr_join(char out[160], const char *base, const char *token) { mes_json_ptr_join(out, 160, base, token); }

/* Writes v in decimal to out (room for 21 bytes), without a NUL; returns the
 * length. snprintf costs ~1.5 % of a batch's server CPU for the two numbers
 * every event formats (its pointer and, typically, an integer property). */
static size_t put_dec(char out[21], int64_t v) {
  char tmp[20];
  size_t n = 0, o = 0;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    out[o++] = '-';
  while (n)
    out[o++] = tmp[--n];
  return o;
}

/* ---------------------------------------------------------------- the sealed document */

/* Writes s as a JSON string (s is valid UTF-8: jansson checked it). */
static int put_str(struct mes_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  int rc = mes_buf_append(b, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\')
      continue;
    rc = mes_buf_append(b, s + run, i - run);
    run = i + 1;
    if (rc)
      break;
    if (ch == '"' || ch == '\\') {
      char esc[2] = {'\\', (char)ch};
      rc = mes_buf_append(b, esc, 2);
    } else {
      char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
      rc = mes_buf_append(b, esc, 6);
    }
  }
  if (!rc)
    rc = mes_buf_append(b, s + run, n - run);
  if (!rc)
    rc = mes_buf_append(b, "\"", 1);
  return rc;
}

static int put_key(struct mes_buf *b, bool *first, const char *key) {
  int rc = *first ? MES_OK : mes_buf_append(b, ",", 1);
  *first = false;
  if (!rc)
    rc = put_str(b, key, strlen(key));
  if (!rc)
    rc = mes_buf_append(b, ":", 1);
  return rc;
}

struct dump_ud {
  struct mes_buf *b;
  int rc;
};

/* Once a write failed every later one fails too: jansson 2.14 ignores a
 * failed write of an object's key and would go on with the next (see
 * mes_json_dumps). */
static int dump_cb(const char *p, size_t n, void *data) {
  struct dump_ud *d = data;
  if (d->rc == MES_OK)
    d->rc = mes_buf_append(d->b, p, n);
  return d->rc ? -1 : 0;
}

/* Writes any JSON value: the common scalars by hand, the rest through jansson. */
static int put_value(struct mes_buf *b, const json_t *v) {
  char num[32];
  switch (json_typeof(v)) {
  case JSON_STRING:
    return put_str(b, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    return mes_buf_append(b, num, put_dec(num, json_integer_value(v)));
  case JSON_TRUE:
    return mes_buf_append(b, "true", 4);
  case JSON_FALSE:
    return mes_buf_append(b, "false", 5);
  case JSON_NULL:
    return mes_buf_append(b, "null", 4);
  default:
    break;
  }
  struct dump_ud d = {b, MES_OK};
  if (json_dump_callback(v, dump_cb, &d, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
    return d.rc ? d.rc : MES_ENOMEM;
  return MES_OK;
}

static int put_member(struct mes_buf *b, bool *first, const char *key, const json_t *v) {
  int rc = put_key(b, first, key);
  return rc ? rc : put_value(b, v);
}

static const json_t *member(const json_t *o, const char *key) {
  const json_t *v = json_object_get(o, key);
  return v && !json_is_null(v) ? v : NULL;
}

/* Builds ev's sealed document into b->doc (evrec.h: the hot fields, and
 * the declared properties, context and query as the cold part, written
 * into b->cold first) and counts the properties it drops into *dropped. */
static int build_doc(struct batch *b, const struct ev *ev, const char *ptr, int64_t *dropped, struct mes_err *err) {
  const struct mes_policy *p = b->c->policy;
  struct mes_buf *d = &b->cold;
  const json_t *v;
  bool first = true;
  *dropped = 0;
  mes_buf_reset(d);
  int rc = mes_buf_append(d, "{", 1);
  if (!rc && (v = member(ev->obj, "properties"))) {
    bool pfirst = true;
    const char *k;
    json_t *pv;
    json_object_foreach((json_t *)v, k, pv) {
      if (!mes_policy_property_declared(p, ev->type, k, strlen(k))) {
        (*dropped)++;
        continue;
      }
      if (pfirst)
        rc = put_key(d, &first, "properties");
      if (!rc)
        rc = pfirst ? mes_buf_append(d, "{", 1) : MES_OK;
      if (!rc)
        rc = put_member(d, &pfirst, k, pv);
      if (rc)
        break;
    }
    if (!rc && !pfirst)
      rc = mes_buf_append(d, "}", 1);
  }
  if (!rc && (v = member(ev->obj, "context"))) {
    bool cfirst = true;
    for (size_t i = 0; i < N_OF(context_fields) && !rc; i++) {
      const json_t *cv = member(v, context_fields[i].name);
      if (!cv)
        continue;
      if (cfirst)
        rc = put_key(d, &first, "context");
      if (!rc && cfirst)
        rc = mes_buf_append(d, "{", 1);
      if (!rc)
        rc = put_member(d, &cfirst, context_fields[i].name, cv);
    }
    if (!rc && !cfirst)
      rc = mes_buf_append(d, "}", 1);
  }
  if (!rc && (v = member(ev->obj, "query")))
    rc = put_member(d, &first, "query", v);
  if (!rc)
    rc = mes_buf_append(d, "}", 1);
  if (!rc) {
    const json_t *item = member(ev->obj, "item"), *eid = member(ev->obj, "event_id");
    struct mes_evrec r = {
        .channel = ev->channel,
        .item = item ? json_string_value(item) : NULL,
        .item_len = item ? json_string_length(item) : 0,
        .event_id = eid ? json_string_value(eid) : NULL,
        .event_id_len = eid ? json_string_length(eid) : 0,
        .cold = first ? (struct mes_slice){NULL, 0} : (struct mes_slice){d->data, d->len},
    };
    rc = mes_evrec_encode(&b->doc, &r);
  }
  if (rc == MES_EBODY_TOO_LARGE) {
    char fp[160];
    ptr_join(fp, ptr, "properties");
    return mes_err_set(err, MES_EOUT_OF_RANGE, fp,
                       "An event holds at most 64 KiB once undeclared properties are dropped.");
  }
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}

/* ---------------------------------------------------------------- checks */

static int validate(struct batch *b, struct ev *ev, const char *ptr, struct mes_err *err) {
  const struct mes_policy *p = b->c->policy;
  const json_t *o = ev->obj, *v;
  char fp[160];
  int rc = mes_json_check(o, event_fields, N_OF(event_fields), ptr, err);
  if (rc)
    return rc;
  bool has_subject = member(o, "subject") != NULL, has_anon = member(o, "anonymous_id") != NULL;
  if (!has_subject && !has_anon) {
    ptr_join(fp, ptr, "subject");
    return mes_err_set(err, MES_EMISSING_FIELD, fp, "An event needs subject or anonymous_id.");
  }
  if (has_subject && has_anon) {
    ptr_join(fp, ptr, "anonymous_id");
    return mes_err_set(err, MES_EINVALID_VALUE, fp, "An event has subject or anonymous_id, not both.");
  }
  v = member(o, "type");
  ev->type = mes_policy_event_type(p, json_string_value(v), json_string_length(v));
  if (ev->type < 0) {
    ptr_join(fp, ptr, "type");
    return mes_err_set(err, MES_EUNKNOWN_EVENT_TYPE, fp, NULL);
  }
  bool search = mes__ingest_is_search(p, ev->type);
  if (!search && !member(o, "item")) {
    ptr_join(fp, ptr, "item");
    return mes_err_set(err, MES_EMISSING_FIELD, fp, "Field item is required for this event type.");
  }
  if (!search && member(o, "query")) {
    ptr_join(fp, ptr, "query");
    return mes_err_set(err, MES_EUNKNOWN_FIELD, fp, "Only search events take a query.");
  }
  ev->channel = MES_CH_WEB;
  if ((v = member(o, "channel"))) {
    ev->channel = mes_channel_parse(json_string_value(v), json_string_length(v));
    if (ev->channel < 0) {
      ptr_join(fp, ptr, "channel");
      return mes_err_set(err, MES_EINVALID_VALUE, fp, "Field channel is one of web, app, email, ads, store.");
    }
  }
  ev->source = MES_SRC_FIRST;
  if ((v = member(o, "source"))) {
    ev->source = mes_source_parse(json_string_value(v), json_string_length(v));
    if (ev->source < 0) {
      ptr_join(fp, ptr, "source");
      return mes_err_set(err, MES_EINVALID_VALUE, fp, "Field source is one of first_party, zero_party, third_party.");
    }
  }
  ev->ts_ms = b->c->now_ms;
  if ((v = member(o, "ts"))) {
    ptr_join(fp, ptr, "ts");
    rc = mes_json_ts(v, b->c->now_ms, &ev->ts_ms, fp, err);
    if (rc)
      return rc;
    if (json_is_integer(v) && ev->ts_ms < MIN_TS_MS)
      return mes_err_set(err, MES_EBAD_TS, fp,
                         "Field ts looks like epoch seconds: integer timestamps are epoch milliseconds (this one "
                         "would be before 1973); multiply it by 1000.");
  }
  if ((v = member(o, "context"))) {
    ptr_join(fp, ptr, "context");
    rc = mes_json_check(v, context_fields, N_OF(context_fields), fp, err);
    if (rc)
      return rc;
  }
  return MES_OK;
}

/* ---------------------------------------------------------------- gates */

/* The tag of a subject id in its namespace: the same id in two namespaces
 * is two people. */
static uint32_t id_tag(enum mes_subject_ns ns, const char *s, size_t n) {
  return mes_htab_tag(mes_hash_bytes(s, n)) ^ (uint32_t)ns;
}

/* The request's entry for a subject, resolved (never created) on first use. */
static int subject_get(struct batch *b, enum mes_subject_ns ns, const json_t *idv, struct subj **out) {
  const char *id = json_string_value(idv);
  size_t len = json_string_length(idv);
  uint32_t key = id_tag(ns, id, len);
  struct mes_htab_slot *sl;
  for (size_t pos = 0; (sl = mes_htab_next(&b->by_id, key, &pos));) {
    struct subj *s = &b->subjs[sl->val - 1];
    if (s->ns == ns && s->len == len && memcmp(s->id, id, len) == 0) {
      *out = s;
      return MES_OK;
    }
  }
  struct subj *s = &b->subjs[b->n_subjs];
  memset(s, 0, sizeof *s);
  s->id = id;
  s->len = len;
  s->ns = ns;
  s->rc = mes_subject_resolve_hint(b->ing->subjects, ns, id, len, &s->s, &s->cached);
  if (s->rc != MES_OK && s->rc != MES_ENOT_FOUND)
    return s->rc;
  s->gpc_override = s->rc == MES_OK && mes_consent_gpc_overrides(b->c, s->s.row.granted);
  mes_htab_add(&b->by_id, key, (uint32_t)++b->n_subjs, NULL); /* reserved for every event */
  *out = s;
  return MES_OK;
}

/* Restriction, then consent after GPC. */
static enum outcome consent_gate(const struct mes_req *c, const struct mes_subject_row *row, uint32_t purposes) {
  if (row->restricted)
    return OUT_RESTRICTED;
  return (mes_consent_effective(c, row->granted) & purposes) ? OUT_STORE : OUT_NO_CONSENT;
}

/* Decides ev's outcome; when it is OUT_STORE, seals b->doc into ev. */
static int gate(struct batch *b, struct ev *ev) {
  const struct mes_req *c = b->c;
  const struct mes_policy *p = c->policy;
  const struct mes_event_type *t = &p->event_types[ev->type];
  if (ev->source == MES_SRC_THIRD && !p->guardrails.third_party_accept) {
    ev->out = OUT_THIRD_PARTY;
    return MES_OK;
  }
  if (ev->ts_ms < c->now_ms - (int64_t)t->retention_days * DAY_MS) {
    ev->out = OUT_EXPIRED;
    return MES_OK;
  }
  const json_t *idv = member(ev->obj, "subject");
  enum mes_subject_ns ns = MES_NS_SUBJECT;
  if (!idv) {
    idv = member(ev->obj, "anonymous_id");
    ns = MES_NS_ANON;
  }
  struct subj *s;
  int rc = subject_get(b, ns, idv, &s);
  if (rc)
    return rc;
  ev->subj = (int)(s - b->subjs);
  if (s->rc == MES_ENOT_FOUND) {
    ev->out = OUT_NO_CONSENT;
    return MES_OK;
  }
  s->n_gated++;
  ev->out = consent_gate(c, &s->s.row, t->purposes);
  if (ev->out != OUT_STORE)
    return MES_OK;
  const json_t *eid = member(ev->obj, "event_id");
  ev->eid = eid ? mes_keyed_hash64(b->ing->master, s->s.pn, json_string_value(eid), json_string_length(eid)) : 0;
  if (!s->key_fetched) {
    s->key_fetched = true;
    s->key_rc = mes_subject_key(b->ing->subjects, s->s.row.id, s->key);
    if (s->key_rc != MES_OK && s->key_rc != MES_ENOT_FOUND)
      return s->key_rc;
  }
  if (s->key_rc == MES_ENOT_FOUND) { /* the key is gone: the subject is being erased */
    ev->out = OUT_NO_CONSENT;
    return MES_OK;
  }
  rc = mes_subject_seal_key(s->key, s->s.row.id, MES__INGEST_KIND, b->doc.data, b->doc.len, &ev->sealed,
                            &ev->sealed_len);
  if (rc)
    return rc;
  s->n_store++;
  return MES_OK;
}

/* ---------------------------------------------------------------- phase 2 */

static void drop_sealed(struct ev *ev, enum outcome out) {
  free(ev->sealed);
  ev->sealed = NULL;
  ev->out = out;
}

/* Seals ev, whose gates let it be stored only under the row re-read in the
 * transaction (phase 1 saw a stale hint, or a row id that is gone), for
 * that row, with key (the row's, borrowed). Phase 1's buffer holds the last
 * event's document only: ev's is built again (its dropped properties were
 * counted then). */
static int seal_late(struct batch *b, struct subj *s, struct ev *ev, const uint8_t key[MES_KEY_BYTES]) {
  struct mes_err e;
  int64_t dropped;
  mes_err_clear(&e);
  int rc = build_doc(b, ev, "", &dropped, &e); /* it passed in phase 1: only out of memory fails now */
  if (rc)
    return rc;
  const json_t *eid = member(ev->obj, "event_id");
  ev->eid = eid ? mes_keyed_hash64(b->ing->master, s->s.pn, json_string_value(eid), json_string_length(eid)) : 0;
  free(ev->sealed);
  ev->sealed = NULL;
  rc = mes_subject_seal_key(key, s->s.row.id, MES__INGEST_KIND, b->doc.data, b->doc.len, &ev->sealed,
                            &ev->sealed_len);
  if (rc)
    return rc;
  ev->out = OUT_STORE;
  return MES_OK;
}

/* Applies row (re-read in the transaction) to subject i's events: the gates
 * again for each event that reached them in phase 1, whatever they said
 * then, sealing those now let through. gone: the subject is no longer the
 * one phase 1 saw. */
static int regate(struct batch *b, size_t i, const struct mes_subject_row *row, bool gone) {
  const struct mes_req *c = b->c;
  struct subj *s = &b->subjs[i];
  bool same_id = !gone && row->id == s->s.row.id;
  uint8_t key[MES_KEY_BYTES];
  int key_rc = -1, rc = MES_OK; /* -1: not fetched */
  s->n_store = 0;
  if (!gone)
    s->s.row = *row; /* seal_late seals for it */
  for (size_t k = 0; k < b->n_evs && rc == MES_OK; k++) {
    struct ev *ev = &b->evs[k];
    if (ev->subj != (int)i)
      continue;
    enum outcome now = gone ? OUT_NO_CONSENT : consent_gate(c, row, c->policy->event_types[ev->type].purposes);
    if (now != OUT_STORE) {
      drop_sealed(ev, now);
      continue;
    }
    if (ev->out == OUT_STORE && same_id) { /* sealed for this row in phase 1 */
      s->n_store++;
      continue;
    }
    /* The key inside the transaction: lock order mu -> kmu (store/sqlite.c). */
    if (key_rc < 0 && (key_rc = mes_subject_key(b->ing->subjects, row->id, key)) != MES_OK && key_rc != MES_ENOT_FOUND)
      rc = key_rc;
    else if (key_rc == MES_ENOT_FOUND) /* shredded: the subject is being erased */
      drop_sealed(ev, OUT_NO_CONSENT);
    else if ((rc = seal_late(b, s, ev, key)) == MES_OK)
      s->n_store++;
  }
  mes_wipe(key, sizeof key);
  if (gone)
    s->rc = MES_ENOT_FOUND;
  return rc;
}

/* Re-reads subject i's row (inside the caller's transaction, if any) and
 * applies the gates again when it differs from phase 1's. Refreshes the
 * hint with the row read, or drops it when the subject is gone. */
static int recheck_one(struct batch *b, size_t i) {
  const struct mes_req *c = b->c;
  struct subj *s = &b->subjs[i];
  struct mes_subject_row row;
  int rc = mes_store_subject_find(b->ing->store, s->s.pn, &row);
  if (rc && rc != MES_ENOT_FOUND)
    return rc;
  if (rc == MES_ENOT_FOUND)
    mes_subject_hint_forget(b->ing->subjects, s->s.pn);
  else
    mes_subject_hint_put(b->ing->subjects, s->s.pn, &row);
  bool found = rc == MES_OK;
  if (found && row.id == s->s.row.id && row.granted == s->s.row.granted && row.restricted == s->s.row.restricted)
    return MES_OK;
  /* A row phase 1 read from the store that is gone or has another id now
   * was erased in between (and made again): its events are not kept, as
   * the erasure wins. A hint may be older than any such change: for it,
   * the row read now is simply the truth. */
  bool gone = !found || (row.id != s->s.row.id && !s->cached);
  s->gpc_override = !gone && mes_consent_gpc_overrides(c, row.granted);
  return regate(b, i, &row, gone);
}

/* Inside the transaction: recheck_one for each subject about to receive
 * events, and for each whose phase-1 row was a hint of the map whatever its
 * events' outcome (another process may have granted since the hint was
 * taken). */
static int recheck_subjects(struct batch *b) {
  for (size_t i = 0; i < b->n_subjs; i++) {
    const struct subj *s = &b->subjs[i];
    if (s->rc != MES_OK || (!s->n_store && !s->gpc_override && !(s->cached && s->n_gated)))
      continue;
    int rc = recheck_one(b, i);
    if (rc)
      return rc;
  }
  return MES_OK;
}

/* A subject whose hint held back all its events (no consent, restricted)
 * is read from the store now, outside the write lock, as phase 1 reads a
 * subject the map does not hold: a known subject without consent costs a
 * read, not a write transaction. Events the row read lets through are
 * sealed, and phase 2 checks them again like any other. */
static int confirm_held_back(struct batch *b) {
  for (size_t i = 0; i < b->n_subjs; i++) {
    struct subj *s = &b->subjs[i];
    if (s->rc != MES_OK || !s->cached || !s->n_gated || s->n_store || s->gpc_override)
      continue;
    int rc = recheck_one(b, i);
    if (rc)
      return rc;
    s->cached = false; /* an ordinary store read now */
  }
  return MES_OK;
}

/* One event to insert, keyed by its subject's row id. */
struct ins {
  int64_t sid;
  size_t ev; /* index into batch.evs: ties keep the request's order */
};

static int ins_cmp(const void *pa, const void *pb) {
  const struct ins *a = pa, *b = pb;
  if (a->sid != b->sid)
    return a->sid < b->sid ? -1 : 1;
  return a->ev < b->ev ? -1 : a->ev > b->ev;
}

/* Phase 2: one transaction for the whole request, durable before returning,
 * or, with a ticket to fill, committed and left for the caller to wait on.
 * Rows go in by subject (stable): the events_subject index then takes each
 * subject's rows in one run and a commit dirties each leaf page once, not
 * once per interleaved row (bench/README.md); a subject's own events keep
 * the request's order, so their ids still follow it. They go in through
 * mes_store_event_insert_many: a few dozen rows per statement. */
static int write_all(struct batch *b, uint64_t *ticket_out, struct mes_err *err) {
  const struct mes_req *c = b->c;
  int rc = confirm_held_back(b);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  bool any = false;
  for (size_t i = 0; i < b->n_subjs && !any; i++) {
    const struct subj *s = &b->subjs[i];
    any = s->rc == MES_OK && (s->n_store || s->gpc_override || (s->cached && s->n_gated));
  }
  if (!any)
    return MES_OK;
  size_t n_ins = 0;
  struct ins *ins = malloc((b->n_evs ? b->n_evs : 1) * sizeof *ins);
  struct mes_event_row *rows = malloc((b->n_evs ? b->n_evs : 1) * sizeof *rows);
  if (!ins || !rows) {
    free(ins);
    free(rows);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  /* Every event that reached the consent gate: recheck_subjects may let
   * through one that phase 1 held back on a stale hint. */
  for (size_t i = 0; i < b->n_evs; i++)
    if (b->evs[i].subj >= 0 && b->subjs[b->evs[i].subj].rc == MES_OK)
      ins[n_ins++] = (struct ins){.sid = b->subjs[b->evs[i].subj].s.row.id, .ev = i};
  qsort(ins, n_ins, sizeof *ins, ins_cmp); /* before the writer lock: sorting holds nobody up */
  rc = mes_store_tx_begin(b->ing->store);
  if (rc) {
    free(ins);
    free(rows);
    return mes_err_set(err, rc, NULL, NULL);
  }
  rc = recheck_subjects(b);
  if (rc)
    mes_err_set(err, rc, NULL, NULL);
  bool gpc = false;
  for (size_t i = 0; i < b->n_subjs && !rc; i++) {
    struct subj *s = &b->subjs[i];
    if (s->rc == MES_OK && s->gpc_override) {
      gpc = true;
      rc = mes_consent_note_gpc(b->ing->ledger, c, s->id, s->len, &s->s, err);
    }
  }
  size_t n_rows = 0;
  for (size_t k = 0; k < n_ins && !rc; k++) {
    struct ev *ev = &b->evs[ins[k].ev];
    if (ev->out != OUT_STORE) /* held back by the gates, or dropped by recheck_subjects */
      continue;
    rows[n_rows++] = (struct mes_event_row){
        .sid = b->subjs[ev->subj].s.row.id,
        .type = ev->type,
        .ts_ms = ev->ts_ms,
        .purposes = c->policy->event_types[ev->type].purposes,
        .source = ev->source,
        .eid = ev->eid,
        .sealed = ev->sealed,
        .sealed_len = ev->sealed_len,
    };
  }
  if (!rc && !n_rows && !gpc) { /* the re-read rows let nothing through: nothing to make durable */
    free(ins);
    free(rows);
    mes_store_tx_rollback(b->ing->store);
    return MES_OK;
  }
  /* A retry of an event already stored is skipped by the store:
   * acknowledged, kept once. */
  if (!rc && n_rows && (rc = mes_store_event_insert_many(b->ing->store, rows, n_rows, NULL)))
    mes_err_set(err, rc, NULL, NULL);
  free(ins);
  free(rows);
  if (rc) {
    mes_store_tx_rollback(b->ing->store);
    return rc;
  }
  uint64_t ticket;
  rc = mes_store_tx_commit(b->ing->store, &ticket);
  if (!rc && ticket_out)
    *ticket_out = ticket;
  else if (!rc)
    rc = mes_store_wait_durable(b->ing->store, ticket);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  return MES_OK;
}

/* ---------------------------------------------------------------- reply */

static json_t *error_json(const struct mes_err *e) {
  json_t *o = json_pack("{s:s,s:s}", "code", mes_rc_code(e->rc), "message", mes_err_text(e));
  if (o && e->field[0] && json_object_set_new(o, "field", json_string(e->field))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static int add_error(struct batch *b, size_t index, const struct mes_err *e) {
  json_t *ej = error_json(e);
  json_t *entry = ej ? json_pack("{s:I,s:o}", "index", (json_int_t)index, "error", ej) : NULL;
  if (!entry || json_array_append_new(b->errors, entry))
    return MES_ENOMEM;
  return MES_OK;
}

static json_t *reply_json(const struct batch *b) {
  json_int_t n[OUT_EXPIRED + 1] = {0};
  for (size_t i = 0; i < b->n_evs; i++)
    n[b->evs[i].out]++;
  json_int_t accepted = (json_int_t)b->n_evs - n[OUT_INVALID];
  return json_pack("{s:I,s:I,s:{s:I,s:I,s:I,s:I},s:I,s:O}", "accepted", accepted, "stored", n[OUT_STORE],
                   "not_stored", "no_consent", n[OUT_NO_CONSENT], "third_party", n[OUT_THIRD_PARTY], "restricted",
                   n[OUT_RESTRICTED], "expired", n[OUT_EXPIRED], "dropped_properties", (json_int_t)b->dropped,
                   "errors", b->errors);
}

/* Sets the counts of a reply made by reply_json to the outcomes now (the
 * write's second look at each subject may change them). Allocates nothing. */
static void reply_recount(const struct batch *b, json_t *reply) {
  json_int_t n[OUT_EXPIRED + 1] = {0};
  for (size_t i = 0; i < b->n_evs; i++)
    n[b->evs[i].out]++;
  json_t *not_stored = json_object_get(reply, "not_stored");
  json_integer_set(json_object_get(reply, "stored"), n[OUT_STORE]);
  json_integer_set(json_object_get(not_stored, "no_consent"), n[OUT_NO_CONSENT]);
  json_integer_set(json_object_get(not_stored, "third_party"), n[OUT_THIRD_PARTY]);
  json_integer_set(json_object_get(not_stored, "restricted"), n[OUT_RESTRICTED]);
  json_integer_set(json_object_get(not_stored, "expired"), n[OUT_EXPIRED]);
}

/* ---------------------------------------------------------------- entry point */

int mes_ingest_batch(struct mes_ingester *ing, const struct mes_req *c, const json_t *body, json_t **reply,
                     struct mes_err *err) {
  uint64_t ticket = 0;
  int rc = mes_ingest_batch_nowait(ing, c, body, reply, &ticket, err);
  if (rc == MES_OK && (rc = mes_store_wait_durable(ing->store, ticket)) != MES_OK) {
    json_decref(*reply);
    *reply = NULL;
    mes_err_set(err, rc, NULL, NULL);
  }
  return rc;
}

int mes_ingest_batch_nowait(struct mes_ingester *ing, const struct mes_req *c, const json_t *body, json_t **reply,
                            uint64_t *ticket, struct mes_err *err) {
  *reply = NULL;
  *ticket = 0;
  if (!json_is_object(body))
    return mes_err_set(err, MES_EWRONG_TYPE, "", "The request body must be a JSON object.");
  const json_t *list = json_object_get(body, "events");
  bool is_batch = list != NULL;
  size_t n = 1;
  if (is_batch) {
    int rc = mes_json_check(body, batch_fields, N_OF(batch_fields), "", err);
    if (rc)
      return rc;
    n = json_array_size(list);
    if (n > MES_INGEST_BATCH_MAX)
      return mes_err_set(err, MES_EBATCH_TOO_LARGE, "/events", "A batch holds at most 10,000 events.");
    if (n == 0)
      return mes_err_set(err, MES_EOUT_OF_RANGE, "/events", "A batch holds 1 to 10,000 events.");
  }

  struct batch b;
  bool session = false;
  int rc = batch_init(&b, ing, c, n);
  if (rc) {
    mes_err_set(err, rc, NULL, NULL);
    goto done;
  }
  /* A batch's subject look-ups share one read transaction, whose pages stay
   * cached between them (store.h); phase 2 re-reads each row anyway. A lone
   * event has one look-up: the session would only add its BEGIN and COMMIT. */
  session = n >= READ_SESSION_MIN;
  if (session)
    mes_store_read_begin(ing->store);
  for (size_t i = 0; i < n; i++) {
    struct ev *ev = &b.evs[i];
    char ptr[32] = "";
    if (is_batch) {
      memcpy(ptr, "/events/", 8);
      ptr[8 + put_dec(ptr + 8, (int64_t)i)] = '\0';
    }
    ev->obj = is_batch ? json_array_get(list, i) : body;
    ev->subj = -1;
    struct mes_err e;
    mes_err_clear(&e);
    int64_t dropped = 0;
    rc = validate(&b, ev, ptr, &e);
    if (!rc)
      rc = build_doc(&b, ev, ptr, &dropped, &e);
    if (rc) {
      if (fatal(rc) || !is_batch) {
        if (err)
          *err = e;
        goto done;
      }
      ev->out = OUT_INVALID;
      rc = add_error(&b, i, &e);
      if (rc) {
        mes_err_set(err, rc, NULL, NULL);
        goto done;
      }
      continue;
    }
    b.dropped += dropped;
    rc = gate(&b, ev);
    if (rc) {
      mes_err_set(err, rc, NULL, NULL);
      goto done;
    }
  }
  if (session)
    mes_store_read_end(ing->store);
  session = false;
  wipe_keys(&b); /* phase 2 seals nothing */
  /* The reply is made before the write and only recounted after it: once
   * the events are committed nothing may fail, or a client told of an
   * error would send them again. */
  *reply = reply_json(&b);
  if (!*reply) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  rc = write_all(&b, ticket, err);
  if (rc) {
    json_decref(*reply);
    *reply = NULL;
    goto done;
  }
  reply_recount(&b, *reply);
done:
  if (session)
    mes_store_read_end(ing->store);
  batch_release(&b);
  return rc;
}
