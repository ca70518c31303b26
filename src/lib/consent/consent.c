/*
 * consent — the ledger: recording a decision as a signed, sealed receipt,
 * recording GPC overrides, and reading the history back (contract §5; the
 * contract of each function is in consent.h).
 *
 * One write path, append_receipt(), serves both a person's decision and a GPC
 * override, so that the receipt, the subject's `granted` bitmask and the
 * purge on withdrawal always change together, inside the caller's
 * transaction.
 */
#include "consent/consent.h"

#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "base/log.h"
#include "base/mtime.h"
#include "consent/consent_int.h"
#include "crypto/crypto.h"
#include "subject/subjmap.h"

#define RECEIPT_ID_ENTROPY 16 /* bytes behind "rcp_" */
#define SIG_B64_CAP 96        /* standard base64 of 64 bytes is 88 characters */
#define SOURCE_DEFAULT "api"
#define SOURCE_GPC "gpc"

const struct mes_jfield mes_consent_fields[] = {
    {"status", MES_J_STRING, true, 1, 16},
    {"source", MES_J_ID, false, 0, 0},
    {"policy_version", MES_J_ID, false, 0, 0},
    {"confirm_over_gpc", MES_J_BOOL, false, 0, 0},
};
const size_t mes_consent_n_fields = sizeof mes_consent_fields / sizeof mes_consent_fields[0];

/* ------------------------------------------------------------ shared helpers */

int mes__consent_check_subject(const char *id, size_t len, struct mes_err *err) {
  int rc = id ? mes_id_check(id, len) : MES_EINVALID_ID;
  if (rc)
    return mes_err_set(err, rc, NULL, "A subject id must be 1 to 128 bytes of UTF-8 without control characters.");
  return MES_OK;
}

int mes__consent_commit(struct mes_store *st, struct mes_err *err) {
  uint64_t ticket = 0;
  int rc = mes_store_tx_commit(st, &ticket);
  if (!rc)
    rc = mes_store_wait_durable(st, ticket);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ------------------------------------------------------------ the handle */

int mes_ledger_new(struct mes_store *st, const struct mes_master *master, struct mes_subjects *subjects,
                   const struct mes_log *log, struct mes_ledger **out) {
  *out = NULL;
  struct mes_ledger *lg = calloc(1, sizeof *lg);
  if (!lg)
    return MES_ENOMEM;
  lg->store = st;
  lg->master = master;
  lg->subjects = subjects;
  lg->log = log;
  *out = lg;
  return MES_OK;
}

void mes_ledger_free(struct mes_ledger *lg) { free(lg); }

uint32_t mes_consent_gpc_mask(const struct mes_policy *p) {
  uint32_t mask = 0;
  for (size_t i = 0; i < p->n_purposes && i < MES_MAX_PURPOSES; i++)
    if (p->purposes[i].gpc == MES_GPC_HONORED)
      mask |= 1u << i;
  return mask;
}

uint32_t mes_consent_effective(const struct mes_req *c, uint32_t granted) {
  return c->gpc ? granted & ~mes_consent_gpc_mask(c->policy) : granted;
}

bool mes_consent_gpc_overrides(const struct mes_req *c, uint32_t granted) {
  return c->gpc && (granted & mes_consent_gpc_mask(c->policy)) != 0;
}

static const char *policy_version(const struct mes_req *c) {
  return c->policy->version && c->policy->version[0] ? c->policy->version : "unversioned";
}

/* ------------------------------------------------------------ the write path */

/* What one receipt says; strings borrowed. */
struct receipt_in {
  const char *subject;
  size_t subject_len;
  bool anonymous; /* subject is an anonymous visitor's id (MES_NS_ANON) */
  int purpose; /* policy index */
  bool granted;
  const char *source;
  const char *policy_version;
  bool over_gpc; /* a grant the person confirmed while their browser sent GPC */
};

_Static_assert(4 + ((RECEIPT_ID_ENTROPY + 2) / 3) * 4 + 1 <= MES_RECEIPT_ID_CAP, "receipt id fits its buffer");

void mes_receipt_id(char out[MES_RECEIPT_ID_CAP]) {
  memcpy(out, "rcp_", 4);
  mes_random_token(out + 4, MES_RECEIPT_ID_CAP - 4, RECEIPT_ID_ENTROPY);
}

/* The receipt without its signature: a new object, or NULL when out of memory. */
static json_t *receipt_new(const struct mes_req *c, const struct receipt_in *in) {
  char rid[MES_RECEIPT_ID_CAP];
  char ts[32];
  mes_receipt_id(rid);
  mes_time_format(c->now_ms, ts);
  const char *actor = c->actor && c->actor[0] ? c->actor : "unknown";
  json_t *r = json_pack("{s:s, s:s%, s:s, s:s, s:s, s:s, s:s, s:s}", "receipt_id", rid, "subject", in->subject,
                        in->subject_len, "purpose", c->policy->purposes[in->purpose].name, "status",
                        in->granted ? "granted" : "denied", "ts", ts, "policy_version", in->policy_version,
                        "source", in->source, "recorded_by", actor);
  if (r && in->anonymous && json_object_set_new(r, "anonymous", json_true())) {
    json_decref(r);
    return NULL;
  }
  if (r && in->over_gpc && json_object_set_new(r, "over_gpc", json_true())) {
    json_decref(r);
    return NULL;
  }
  return r;
}

int mes_receipt_sign(struct mes_ledger *lg, json_t *r) {
  char *canon = mes_json_canonical(r);
  if (!canon)
    return MES_ENOMEM;
  uint8_t sig[MES_SIG_BYTES];
  char b64[SIG_B64_CAP];
  mes_sign(lg->master, canon, strlen(canon), sig);
  free(canon);
  if (!mes_base64(sig, sizeof sig, b64, sizeof b64))
    return MES_EINTERNAL;
  return json_object_set_new(r, "signature", json_string(b64)) ? MES_ENOMEM : MES_OK;
}

/*
 * Signs, seals and appends one receipt for s, then applies it to s's granted
 * mask (and purges on withdrawal). Inside the caller's transaction. *out (when
 * non-NULL) receives the receipt, new.
 */
static int append_receipt(struct mes_ledger *lg, const struct mes_req *c, struct mes_subject *s,
                          const struct receipt_in *in, json_t **out, struct mes_err *err) {
  int rc;
  char *text = NULL;
  uint8_t *sealed = NULL;
  size_t sealed_len = 0;
  json_t *r = receipt_new(c, in);
  if (!r) {
    rc = MES_ENOMEM;
    goto error;
  }
  rc = mes_receipt_sign(lg, r);
  if (rc)
    goto error;
  text = mes_json_canonical(r);
  if (!text) {
    rc = MES_ENOMEM;
    goto error;
  }
  rc = mes_subject_seal(lg->subjects, s->row.id, "consent", text, strlen(text), &sealed, &sealed_len);
  if (rc)
    goto error;
  struct mes_consent_row row = {.sid = s->row.id,
                                .purpose = in->purpose,
                                .status = in->granted ? 1 : 0,
                                .ts_ms = c->now_ms,
                                .sealed = sealed,
                                .sealed_len = sealed_len};
  rc = mes_store_consent_append(lg->store, &row);
  if (rc)
    goto error;

  uint32_t bit = 1u << in->purpose;
  uint32_t before = s->row.granted;
  uint32_t after = in->granted ? before | bit : before & ~bit;
  if (after != before) {
    rc = mes_store_subject_set_granted(lg->store, s->row.id, after);
    if (rc)
      goto error;
    /* Ingestion's hint of this row is stale now (and would be if this tx
     * rolled back): dropped, it is read again at the next event. A hint
     * only: ingestion re-reads the row under the write lock anyway. */
    mes_subject_hint_forget(lg->subjects, s->pn);
  }
  if ((before & bit) && !in->granted) {
    /* Withdrawal: what was kept only for this purpose goes now, in this tx. */
    int64_t n_purged = 0;
    rc = mes_store_event_purge_purposes(lg->store, s->row.id, after, &n_purged);
    if (rc)
      goto error;
    /* Impressions are kept only to cap how often a person sees an item in
     * personal answers: once no purpose of personal answers is left, they go. */
    uint32_t serving = 0;
    for (int ch = 0; ch < MES_CH_N; ch++)
      serving |= mes_policy_channel_purposes(c->policy, (enum mes_channel)ch);
    int64_t n_imps = 0;
    if ((bit & serving) && !(after & serving) &&
        (rc = mes_store_impression_purge(lg->store, s->row.id, &n_imps)) != MES_OK)
      goto error;
    mes_log(lg->log, MES_LOG_INFO, "consent: %s withdrew %s (%s), %lld events and %lld impressions purged",
            s->pn_hex, c->policy->purposes[in->purpose].name, in->source, (long long)n_purged, (long long)n_imps);
  }
  s->row.granted = after;
  free(text);
  free(sealed);
  if (out)
    *out = r;
  else
    json_decref(r);
  return MES_OK;

error:
  free(text);
  free(sealed);
  json_decref(r);
  return mes_err_set(err, rc, NULL, NULL);
}

/* ------------------------------------------------------------ recording */

int mes_consent_record_ns(struct mes_ledger *lg, const struct mes_req *c, enum mes_subject_ns ns,
                          const char *subject_id, size_t id_len, const char *purpose, size_t purpose_len,
                          const json_t *body, json_t **receipt, struct mes_err *err) {
  *receipt = NULL;
  int rc = mes__consent_check_subject(subject_id, id_len, err);
  if (rc)
    return rc;
  int p = purpose ? mes_policy_purpose(c->policy, purpose, purpose_len) : -1;
  if (p < 0 || p >= MES_MAX_PURPOSES)
    return mes_err_set(err, MES_EUNKNOWN_PURPOSE, NULL, NULL);
  rc = mes_json_check(body, mes_consent_fields, mes_consent_n_fields, "", err);
  if (rc)
    return rc;

  const char *status = mes_json_str(body, "status", "");
  bool granted = strcmp(status, "granted") == 0;
  if (!granted && strcmp(status, "denied") != 0)
    return mes_err_set(err, MES_EINVALID_VALUE, "/status", "Field status must be \"granted\" or \"denied\".");
  bool confirmed = mes_json_bool(body, "confirm_over_gpc", false);
  bool against_gpc = granted && c->gpc && c->policy->purposes[p].gpc == MES_GPC_HONORED;
  if (against_gpc && !confirmed)
    return mes_err_set(err, MES_EGPC_CONFLICT, NULL,
                       "The browser sent Global Privacy Control, asking not to be tracked for %s; record this "
                       "grant only if the person confirmed it on your page, with \"confirm_over_gpc\": true.",
                       c->policy->purposes[p].name);

  struct receipt_in in = {.subject = subject_id,
                          .subject_len = id_len,
                          .anonymous = ns == MES_NS_ANON,
                          .purpose = p,
                          .granted = granted,
                          .source = mes_json_str(body, "source", SOURCE_DEFAULT),
                          .policy_version = mes_json_str(body, "policy_version", policy_version(c)),
                          .over_gpc = against_gpc};

  rc = mes_store_tx_begin(lg->store);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  struct mes_subject s;
  rc = mes_subject_resolve(lg->subjects, c, ns, subject_id, id_len, true, &s);
  if (rc) {
    mes_store_tx_rollback(lg->store);
    return mes_err_set(err, rc, NULL, NULL);
  }
  json_t *r = NULL;
  rc = append_receipt(lg, c, &s, &in, &r, err);
  if (rc) {
    mes_store_tx_rollback(lg->store);
    return rc;
  }
  rc = mes__consent_commit(lg->store, err);
  if (rc) {
    json_decref(r);
    return rc;
  }
  *receipt = r;
  return MES_OK;
}

/* ------------------------------------------------------------ reading the ledger */

/* Walks a subject's ledger, oldest first, unsealing each receipt. */
struct ledger_walk {
  struct mes_ledger *lg;
  const struct mes_req *c;
  uint32_t only; /* purposes whose rows are unsealed (all bits: every row) */
  bool granted_only;
  int (*visit)(struct ledger_walk *w, const struct mes_consent_row *row, json_t *receipt); /* borrows receipt */
  void *ud;
  int rc;
};

static int ledger_cb(void *ud, const struct mes_consent_row *row) {
  struct ledger_walk *w = ud;
  if (row->purpose < 0 || row->purpose >= MES_MAX_PURPOSES || !(w->only & (1u << row->purpose)))
    return 0;
  if (w->granted_only && row->status != 1)
    return w->visit(w, row, NULL);
  char *text = NULL;
  size_t len = 0;
  w->rc = mes_subject_unseal(w->lg->subjects, row->sid, "consent", row->sealed, row->sealed_len, &text, &len);
  if (w->rc)
    return 1;
  json_t *receipt = json_loadb(text, len, 0, NULL);
  free(text);
  if (!receipt) {
    w->rc = MES_ENOMEM; /* it opened, so it is what we wrote: only memory fails to load it */
    return 1;
  }
  int stop = w->visit(w, row, receipt);
  json_decref(receipt);
  return stop;
}

static int ledger_walk(struct mes_ledger *lg, const struct mes_req *c, int64_t sid, struct ledger_walk *w) {
  w->lg = lg;
  w->c = c;
  w->rc = MES_OK;
  int rc = mes_store_consent_list(lg->store, sid, ledger_cb, w);
  return rc ? rc : w->rc;
}

/* For note_gpc: which granted purposes were last granted over GPC. */
static int visit_over_gpc(struct ledger_walk *w, const struct mes_consent_row *row, json_t *receipt) {
  uint32_t *confirmed = w->ud;
  uint32_t bit = 1u << row->purpose;
  if (receipt && json_is_true(json_object_get(receipt, "over_gpc")))
    *confirmed |= bit;
  else
    *confirmed &= ~bit;
  return 0;
}

int mes_consent_note_gpc(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                         struct mes_subject *s, struct mes_err *err) {
  if (!c->gpc)
    return MES_OK;
  int rc = mes__consent_check_subject(subject_id, id_len, err);
  if (rc)
    return rc;
  struct mes_subject_row row;
  rc = mes_store_subject_find(lg->store, s->pn, &row);
  if (rc == MES_ENOT_FOUND)
    return MES_OK; /* erased meanwhile: nothing left to override */
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  s->row = row;
  uint32_t overridden = row.granted & mes_consent_gpc_mask(c->policy);
  if (!overridden)
    return MES_OK;

  /* A grant the person confirmed over GPC stands: they knew their browser's
   * signal and chose otherwise on the brand's page. */
  uint32_t confirmed = 0;
  struct ledger_walk w = {.only = overridden, .granted_only = true, .visit = visit_over_gpc, .ud = &confirmed};
  rc = ledger_walk(lg, c, row.id, &w);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  overridden &= ~confirmed;

  for (int p = 0; p < (int)c->policy->n_purposes && p < MES_MAX_PURPOSES; p++) {
    if (!(overridden & (1u << p)))
      continue;
    struct receipt_in in = {.subject = subject_id,
                            .subject_len = id_len,
                            .purpose = p,
                            .granted = false,
                            .source = SOURCE_GPC,
                            .policy_version = policy_version(c)};
    rc = append_receipt(lg, c, s, &in, NULL, err);
    if (rc)
      return rc;
  }
  return MES_OK;
}

/* For get: the history, and the time of each purpose's latest receipt. */
struct history {
  json_t *history;
  const char *since[MES_MAX_PURPOSES]; /* borrowed from receipts held by `history` */
};

static int visit_history(struct ledger_walk *w, const struct mes_consent_row *row, json_t *receipt) {
  struct history *h = w->ud;
  if (json_array_append(h->history, receipt)) {
    w->rc = MES_ENOMEM;
    return 1;
  }
  /* Name, not index: a receipt keeps its meaning when the policy's purposes
   * are reordered. */
  const char *name = mes_json_str(receipt, "purpose", "");
  int p = mes_policy_purpose(w->c->policy, name, strlen(name));
  if (p >= 0 && p < MES_MAX_PURPOSES)
    h->since[p] = mes_json_str(receipt, "ts", NULL);
  return 0;
}

int mes_consent_get_ns(struct mes_ledger *lg, const struct mes_req *c, enum mes_subject_ns ns, const char *subject_id,
                       size_t id_len, json_t **out, struct mes_err *err) {
  *out = NULL;
  int rc = mes__consent_check_subject(subject_id, id_len, err);
  if (rc)
    return rc;
  struct mes_subject s;
  rc = mes_subject_resolve(lg->subjects, c, ns, subject_id, id_len, false, &s);
  if (rc && rc != MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, NULL);
  bool known = rc == MES_OK;

  struct history h;
  memset(&h, 0, sizeof h);
  json_t *purposes = json_object();
  h.history = json_array();
  json_t *doc = json_object();
  if (!purposes || !h.history || !doc) {
    rc = MES_ENOMEM;
    goto error;
  }
  if (known) {
    struct ledger_walk w = {.only = UINT32_MAX, .visit = visit_history, .ud = &h};
    rc = ledger_walk(lg, c, s.row.id, &w);
    if (rc)
      goto error;
  }
  for (size_t p = 0; p < c->policy->n_purposes && p < MES_MAX_PURPOSES; p++) {
    bool granted = known && (s.row.granted & (1u << p));
    json_t *st = json_pack("{s:s, s:o}", "status", granted ? "granted" : "denied", "since",
                           h.since[p] ? json_string(h.since[p]) : json_null());
    if (!st || json_object_set_new(purposes, c->policy->purposes[p].name, st)) {
      rc = MES_ENOMEM;
      goto error;
    }
  }
  if (json_object_set_new(doc, "purposes", purposes)) {
    purposes = NULL;
    rc = MES_ENOMEM;
    goto error;
  }
  purposes = NULL;
  if (json_object_set_new(doc, "history", h.history)) {
    h.history = NULL;
    rc = MES_ENOMEM;
    goto error;
  }
  *out = doc;
  return MES_OK;

error:
  json_decref(purposes);
  json_decref(h.history);
  json_decref(doc);
  return mes_err_set(err, rc, NULL, NULL);
}

int mes_consent_record(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                       const char *purpose, size_t purpose_len, const json_t *body, json_t **receipt,
                       struct mes_err *err) {
  return mes_consent_record_ns(lg, c, MES_NS_SUBJECT, subject_id, id_len, purpose, purpose_len, body, receipt, err);
}

int mes_consent_get(struct mes_ledger *lg, const struct mes_req *c, const char *subject_id, size_t id_len,
                    json_t **out, struct mes_err *err) {
  return mes_consent_get_ns(lg, c, MES_NS_SUBJECT, subject_id, id_len, out, err);
}
