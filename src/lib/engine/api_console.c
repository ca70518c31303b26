/*
 * engine/api_console — the verbs behind the brand's console (/admin): API
 * keys as JSON (list, create, revoke, the last refusing the caller's own
 * key), the latest audits with their flags, and one overview of what the
 * console charts: consents per purpose and day from the ledger, events by
 * outcome and suppressions by rule per day (tally.c), the live
 * model and its retraining schedule, and the policy in force.
 *
 * Everything here is aggregate or the brand's own configuration: no
 * subject is named, no secret but a new key's (returned once) leaves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/mtime.h"
#include "engine/engine_int.h"
#include "store/store.h"

#define DAY_MS 86400000LL
#define OVERVIEW_DAYS_DEFAULT 30
#define OVERVIEW_DAYS_MAX 365
#define AUDITS_DEFAULT 20
#define AUDITS_MAX 100

/* A query number: digits only, lo..hi; absent: dflt. field is its pointer. */
static int query_int(const char *s, int lo, int hi, int dflt, const char *field, int *out, struct mes_err *err) {
  if (!s) {
    *out = dflt;
    return MES_OK;
  }
  size_t n = strlen(s);
  const char *name = field + sizeof "/query/" - 1;
  if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
    return mes_err_set(err, MES_EWRONG_TYPE, field, "%s must be a whole number between %d and %d.", name, lo, hi);
  errno = 0;
  long v = strtol(s, NULL, 10);
  if (errno || v < lo || v > hi)
    return mes_err_set(err, MES_EOUT_OF_RANGE, field, "%s must be between %d and %d.", name, lo, hi);
  *out = (int)v;
  return MES_OK;
}

static json_t *time_or_null(int64_t ms) {
  char ts[32];
  if (ms <= 0)
    return json_null();
  mes_time_format(ms, ts);
  return json_string(ts);
}

/* "ingest,consent" -> ["ingest", "consent"]. */
static json_t *scope_array(uint32_t mask) {
  char list[128];
  mes_scope_format(mask, list, sizeof list);
  json_t *a = json_array();
  for (const char *p = list; a && *p;) {
    size_t n = strcspn(p, ",");
    if (n && json_array_append_new(a, json_stringn(p, n))) {
      json_decref(a);
      return NULL;
    }
    p += n + (p[n] == ',');
  }
  return a;
}

/* ---------------------------------------------------------------- keys */

/* The list callbacks below stop a listing with nonzero and keep why in rc:
 * a store's listing stops on any nonzero without handing it back. */
struct key_rows {
  json_t *keys;
  const char *caller;
  int rc;
};

static int key_row(void *ud, const struct mes_key_info *k) {
  struct key_rows *r = ud;
  json_t *row = json_pack("{s:s, s:o, s:o, s:o, s:b, s:b}", "name", k->name, "scopes", scope_array(k->scopes),
                          "created_at", time_or_null(k->created_ms), "revoked_at", time_or_null(k->revoked_ms),
                          "active", k->revoked_ms == 0, "yours",
                          k->revoked_ms == 0 && r->caller && strcmp(r->caller, k->name) == 0);
  if (!row || json_array_append_new(r->keys, row))
    r->rc = MES_ENOMEM;
  return r->rc;
}

/* The API key making the call, or NULL (the host, or a subject's token). */
static const char *caller_key(const struct mes_call *call) {
  return call && call->who && !call->who->subject_token ? call->who->name : NULL;
}

int mes_engine_admin_keys(struct mes_engine *e, struct mes_call *call, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct key_rows r = {json_array(), caller_key(call), MES_OK};
  if (!r.keys)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_engine_key_list(e, key_row, &r, err);
  if (!rc && r.rc)
    rc = mes_err_set(err, r.rc, NULL, NULL);
  if (!rc && !(*out = json_pack("{s:o}", "keys", r.keys)))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (rc)
    json_decref(r.keys);
  return rc;
}

static const struct mes_jfield key_fields[] = {
    {"name", MES_J_STRING, true, 1, 64},
    {"scopes", MES_J_ARRAY, true, 0, 7},
};

int mes_engine_admin_key_create(struct mes_engine *e, struct mes_call *call, const struct mes_body *body,
                                json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  (void)call; /* a key belongs to the brand, not to a subject: nothing of the call applies */
  json_t *doc = NULL;
  int rc = mes__body_object(body, key_fields, sizeof key_fields / sizeof key_fields[0], &doc, err);
  if (rc)
    return rc;
  const json_t *scopes = json_object_get(doc, "scopes");
  uint32_t mask = 0;
  size_t i;
  const json_t *s;
  json_array_foreach(scopes, i, s) {
    char at[32];
    uint32_t one = 0;
    snprintf(at, sizeof at, "/scopes/%zu", i);
    if (!json_is_string(s) || strchr(json_string_value(s), ',') || json_string_length(s) == 0 ||
        mes_scope_parse(json_string_value(s), &one, NULL)) {
      rc = mes_err_set(err, MES_EINVALID_VALUE, at,
                       "Each scope is one of ingest, consent, catalog, recommend, subjects, audit, admin.");
      goto done;
    }
    mask |= one;
  }
  if (!mask) {
    rc = mes_err_set(err, MES_EINVALID_VALUE, "/scopes", "A key needs at least one scope.");
    goto done;
  }
  const char *name = json_string_value(json_object_get(doc, "name"));
  char secret[64];
  if ((rc = mes_engine_key_create(e, name, mask, secret, err))) {
    if (err && (rc == MES_EINVALID_VALUE || rc == MES_EEXISTS) && !err->field[0])
      snprintf(err->field, sizeof err->field, "/name");
    goto done;
  }
  *out = json_pack("{s:s, s:o, s:s, s:o}", "name", name, "scopes", scope_array(mask), "key", secret, "created_at",
                   time_or_null(mes_now_ms()));
  mes_wipe(secret, sizeof secret);
  if (!*out)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
done:
  json_decref(doc);
  return rc;
}

int mes_engine_admin_key_revoke(struct mes_engine *e, struct mes_call *call, const char *name, size_t len,
                                struct mes_err *err) {
  const char *mine = caller_key(call);
  char buf[65];
  if (len == 0 || len >= sizeof buf)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "No key has this name.");
  memcpy(buf, name, len);
  buf[len] = '\0';
  /* A console that revoked its own key would lock itself out mid-session:
   * another admin key, or `mesura keys revoke` on the host, can. */
  if (mine && strcmp(mine, buf) == 0)
    return mes_err_set(err, MES_ECONFLICT, "/path/name",
                       "This is the key making the request; revoke it with another admin key or with `mesura keys "
                       "revoke` on the server.");
  return mes_engine_key_revoke(e, buf, err);
}

/* ---------------------------------------------------------------- audits */

/* What a list shows of one audit: its head and the findings it flagged. */
static json_t *audit_summary(int64_t id, int64_t created_ms, const json_t *a) {
  char sid[24];
  snprintf(sid, sizeof sid, "%lld", (long long)id);
  json_t *flagged = json_array();
  size_t i;
  const json_t *d;
  json_array_foreach(json_object_get(a, "disparities"), i, d) {
    if (!json_is_true(json_object_get(d, "flagged")))
      continue;
    json_t *f = json_pack("{s:s, s:O, s:O, s:O}", "kind", "disparity", "attribute", json_object_get(d, "attribute"),
                          "measure", json_object_get(d, "measure"), "ratio", json_object_get(d, "ratio"));
    if (!f || json_array_append_new(flagged, f))
      goto fail;
  }
  json_array_foreach(json_object_get(a, "proxies"), i, d) {
    if (!json_is_true(json_object_get(d, "flagged")))
      continue;
    json_t *f = json_pack("{s:s, s:O, s:O, s:O}", "kind", "proxy", "attribute", json_object_get(d, "attribute"),
                          "protected", json_object_get(d, "protected"), "cramers_v",
                          json_object_get(d, "cramers_v"));
    if (!f || json_array_append_new(flagged, f))
      goto fail;
  }
  const json_t *status = json_object_get(a, "status");
  const json_t *attrs = json_object_get(a, "attributes");
  const json_t *audited = json_object_get(json_object_get(a, "population"), "audited");
  const json_t *flags = json_object_get(a, "flags");
  json_t *row = json_pack("{s:s, s:s, s:o, s:O, s:O, s:O, s:O, s:o}", "id", sid, "status",
                          json_is_string(status) ? json_string_value(status) : "unknown", "created_at",
                          time_or_null(created_ms), "attributes", attrs ? attrs : json_null(), "placement",
                          json_object_get(a, "placement") ? json_object_get(a, "placement") : json_null(), "audited",
                          audited ? audited : json_null(), "flags", flags ? flags : json_null(), "flagged", flagged);
  return row;
fail:
  json_decref(flagged);
  return NULL;
}

struct audit_rows {
  json_t *list;
  int rc;
};

static int audit_row(void *ud, int64_t id, int64_t created_ms, const char *doc) {
  struct audit_rows *r = ud;
  json_t *a = json_loads(doc, 0, NULL);
  json_t *row = a ? audit_summary(id, created_ms, a) : NULL;
  json_decref(a);
  if (!row || json_array_append_new(r->list, row))
    r->rc = MES_ENOMEM;
  return r->rc;
}

int mes_engine_audit_list(struct mes_engine *e, struct mes_call *call, const char *limit, json_t **out,
                          struct mes_err *err) {
  MES__CLEAR(out);
  int n = 0;
  int rc = query_int(limit, 1, AUDITS_MAX, AUDITS_DEFAULT, "/query/limit", &n, err);
  if (rc)
    return rc;
  struct mes__call k;
  mes__call_begin(&k, e, call);
  struct audit_rows r = {json_array(), MES_OK};
  rc = r.list ? mes_store_audit_list(e->store, n, audit_row, &r) : MES_ENOMEM;
  if (!rc)
    rc = r.rc;
  mes__call_end(&k);
  if (!rc && !(*out = json_pack("{s:o}", "audits", r.list)))
    rc = MES_ENOMEM;
  else if (rc)
    json_decref(r.list);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* ---------------------------------------------------------------- overview */

struct consent_days {
  int64_t first_day;
  int n_days;
  json_t *purposes; /* [{"purpose", "granted": [n_days], "withdrawn": [n_days]}], by policy index */
  int rc;
};

static int consent_day(void *ud, int64_t day, int purpose, int status, int64_t n) {
  struct consent_days *c = ud;
  json_t *p = json_array_get(c->purposes, (size_t)purpose);
  int64_t at = day - c->first_day;
  if (!p || at < 0 || at >= c->n_days)
    return 0; /* a purpose the policy no longer names, or a clock ahead of ours */
  json_t *col = json_object_get(p, status ? "granted" : "withdrawn");
  json_t *v = json_array_get(col, (size_t)at);
  if (json_integer_set(v, json_integer_value(v) + n))
    c->rc = MES_EINTERNAL;
  return c->rc;
}

static int consents_json(struct mes_engine *e, const struct mes_req *c, int days, json_t **out) {
  struct consent_days d = {c->now_ms / DAY_MS - (days - 1), days, json_array(), MES_OK};
  json_t *dates = json_array();
  int rc = d.purposes && dates ? MES_OK : MES_ENOMEM;
  for (int i = 0; !rc && i < days; i++) {
    char date[11];
    mes_time_format_date((d.first_day + i) * DAY_MS, date);
    if (json_array_append_new(dates, json_string(date)))
      rc = MES_ENOMEM;
  }
  for (size_t p = 0; !rc && p < c->policy->n_purposes; p++) {
    json_t *g = json_array(), *w = json_array();
    for (int i = 0; g && w && i < days; i++)
      if (json_array_append_new(g, json_integer(0)) || json_array_append_new(w, json_integer(0)))
        break;
    json_t *row = g && w && json_array_size(g) == (size_t)days && json_array_size(w) == (size_t)days
                      ? json_pack("{s:s, s:O, s:O}", "purpose", c->policy->purposes[p].name, "granted", g,
                                  "withdrawn", w)
                      : NULL;
    json_decref(g);
    json_decref(w);
    if (!row || json_array_append_new(d.purposes, row))
      rc = MES_ENOMEM;
  }
  if (!rc)
    rc = mes_store_consent_days(e->store, d.first_day * DAY_MS, consent_day, &d);
  if (!rc)
    rc = d.rc;
  if (!rc && !(*out = json_pack("{s:I, s:O, s:O}", "days", (json_int_t)days, "dates", dates, "purposes", d.purposes)))
    rc = MES_ENOMEM;
  json_decref(dates);
  json_decref(d.purposes);
  return rc;
}

/* ---------------------------------------------------------------- events and suppressions per day */

/* The outcomes an event can have, in the order the console lists them. */
static const char *const event_outcomes[] = {"stored",  "no_consent", "third_party", "restricted",
                                             "expired", "invalid",    "forgotten"};

struct activity {
  int64_t first_day;
  int n_days;
  json_t *events;       /* [{"outcome", "per_day": [n...], "total"}] */
  json_t *suppressions; /* [{"rule", "per_day": [n...], "total"}] */
  int rc;
};

/* The series of arr whose `key` is label, appended (zeros) when absent;
 * NULL when out of memory. */
static json_t *series(json_t *arr, const char *key, const char *label, int n_days) {
  size_t i;
  json_t *s;
  json_array_foreach(arr, i, s) {
    if (strcmp(json_string_value(json_object_get(s, key)), label) == 0)
      return s;
  }
  json_t *per_day = json_array();
  for (int d = 0; per_day && d < n_days; d++)
    if (json_array_append_new(per_day, json_integer(0)))
      break;
  if (!per_day || json_array_size(per_day) != (size_t)n_days) {
    json_decref(per_day);
    return NULL;
  }
  s = json_pack("{s:s, s:o, s:I}", key, label, "per_day", per_day, "total", (json_int_t)0);
  if (!s || json_array_append_new(arr, s))
    return NULL;
  return s;
}

static int activity_count(void *ud, int64_t day, const char *kind, const char *label, int64_t n) {
  struct activity *a = ud;
  int64_t at = day - a->first_day;
  if (at < 0 || at >= a->n_days)
    return 0; /* a clock ahead of ours */
  bool events = strcmp(kind, "events") == 0;
  if (!events && strcmp(kind, "suppressions") != 0)
    return 0;
  json_t *s = series(events ? a->events : a->suppressions, events ? "outcome" : "rule", label, a->n_days);
  json_t *v = s ? json_array_get(json_object_get(s, "per_day"), (size_t)at) : NULL;
  json_t *total = s ? json_object_get(s, "total") : NULL;
  if (!v || json_integer_set(v, json_integer_value(v) + n) ||
      json_integer_set(total, json_integer_value(total) + n))
    a->rc = MES_ENOMEM;
  return a->rc;
}

/* Events by outcome and suppressions by rule, per day over the same days as
 * the consents, from the daily counts of every server sharing the store. */
static int activity_json(struct mes_engine *e, const struct mes_req *c, int days, json_t **events,
                         json_t **suppressions) {
  struct activity a = {c->now_ms / DAY_MS - (days - 1), days, json_array(), json_array(), MES_OK};
  int rc = a.events && a.suppressions ? MES_OK : MES_ENOMEM;
  for (size_t i = 0; !rc && i < sizeof event_outcomes / sizeof event_outcomes[0]; i++)
    if (!series(a.events, "outcome", event_outcomes[i], days))
      rc = MES_ENOMEM;
  if (!rc)
    rc = mes__tally_days(e, a.first_day, activity_count, &a);
  if (!rc)
    rc = a.rc;
  if (rc) {
    json_decref(a.events);
    json_decref(a.suppressions);
    return rc;
  }
  *events = a.events;
  *suppressions = a.suppressions;
  return MES_OK;
}

/* The live model and when the schedule retrains it: trained_at plus
 * model.retrain_every_minutes (sooner when the events grow by
 * retrain_after_events_pct), only in a host running the background thread. */
static int model_json(struct mes_engine *e, const struct mes_req *c, json_t **out) {
  struct mes_model *m = mes_engine_model(e);
  json_t *meta = m ? mes_model_meta(m) : json_null();
  mes_model_unref(m);
  if (!meta)
    return MES_ENOMEM;
  int every = c->policy->model.retrain_every_minutes;
  bool background = e->bg_started;
  json_t *next = json_null();
  const char *at = json_string_value(json_object_get(meta, "trained_at"));
  int64_t trained_ms;
  if (background && every > 0 && at && mes_time_parse_rfc3339(at, strlen(at), &trained_ms) == MES_OK) {
    int64_t due = trained_ms + (int64_t)every * 60000;
    json_decref(next);
    next = time_or_null(due > c->now_ms ? due : c->now_ms);
  }
  *out = json_pack("{s:o, s:b, s:i, s:i, s:o}", "live", meta, "background", background, "retrain_every_minutes",
                   every, "retrain_after_events_pct", c->policy->model.retrain_after_events_pct, "next_retrain_at",
                   next);
  return *out ? MES_OK : MES_ENOMEM;
}

int mes_engine_admin_overview(struct mes_engine *e, struct mes_call *call, const char *days, json_t **out,
                              struct mes_err *err) {
  MES__CLEAR(out);
  int n_days = 0;
  int rc = query_int(days, 1, OVERVIEW_DAYS_MAX, OVERVIEW_DAYS_DEFAULT, "/query/days", &n_days, err);
  if (rc)
    return rc;
  struct mes__call k;
  mes__call_begin(&k, e, call);
  const struct mes_policy *p = k.req.policy;
  json_t *consents = NULL, *model = NULL, *events = NULL, *suppressions = NULL;
  rc = consents_json(e, &k.req, n_days, &consents);
  if (!rc)
    rc = activity_json(e, &k.req, n_days, &events, &suppressions);
  if (!rc)
    rc = model_json(e, &k.req, &model);
  if (!rc) {
    *out = json_pack("{s:o, s:o, s:o, s:o, s:o, s:{s:s?, s:s?, s:s?}}", "generated_at", time_or_null(k.req.now_ms),
                     "consents", consents, "events", events, "suppressions", suppressions, "model", model, "policy",
                     "version", p->version, "site", p->site, "yaml", p->text);
    consents = model = events = suppressions = NULL;
    if (!*out)
      rc = MES_ENOMEM;
  }
  json_decref(consents);
  json_decref(events);
  json_decref(suppressions);
  json_decref(model);
  mes__call_end(&k);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}
