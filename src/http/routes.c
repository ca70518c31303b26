/*
 * http/routes — the routing table of the API and the matcher over it.
 *
 * To add an endpoint: a row here, a prototype in endpoints.h, the handler in
 * an h_*.c file (see handler.h). Rows are tried in order, first match wins.
 */
#include <stdio.h>
#include <string.h>

#include "base/id.h"
#include "http/endpoints.h"
#include "http/http_int.h"

/* clang-format off */
const struct mes_route mes__routes[] = {
  /* method   pattern                     scope              flags             handler */
  {"GET",     "/healthz",                 0,                 MES_ROUTE_PUBLIC, mes__h_healthz},
  {"GET",     "/metrics",                 MES_SCOPE_ADMIN,   0,                mes__h_metrics},
  {"GET",     "/.well-known/gpc.json",    0,                 MES_ROUTE_PUBLIC, mes__h_gpc},
  {"GET",     "/v1/receipts/public-key",  0,                 MES_ROUTE_PUBLIC, mes__h_public_key},
  {"GET",     "/v1/privacy-notice",       0,                 MES_ROUTE_PUBLIC, mes__h_privacy_notice},
  {"PUT",     "/v1/subjects/{s}/consents/{purpose}", MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_consent_put},
  {"GET",     "/v1/subjects/{s}/consents",  MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_consent_get},
  {"PUT",     "/v1/subjects/{s}/preferences", MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_preferences_put},
  {"PATCH",   "/v1/subjects/{s}/preferences", MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_preferences_patch},
  {"GET",     "/v1/subjects/{s}/preferences", MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_preferences_get},
  {"POST",    "/v1/events",               MES_SCOPE_INGEST,  MES_ROUTE_SELF,   mes__h_events_post},
  {"DELETE",  "/v1/subjects/{s}/events/{event_id}", MES_SCOPE_SUBJECTS, MES_ROUTE_SELF, mes__h_subject_event_delete},
  {"GET",     "/v1/items",                MES_SCOPE_CATALOG, 0,                mes__h_items_list},
  {"POST",    "/v1/items",                MES_SCOPE_CATALOG, 0,                mes__h_items_post},
  {"GET",     "/v1/items/{item}",         MES_SCOPE_CATALOG, 0,                mes__h_items_get},
  {"PUT",     "/v1/items/{item}",         MES_SCOPE_CATALOG, 0,                mes__h_items_put},
  {"DELETE",  "/v1/items/{item}",         MES_SCOPE_CATALOG, 0,                mes__h_items_delete},
  {"GET",     "/v1/subjects/{s}",         MES_SCOPE_SUBJECTS, MES_ROUTE_SELF,  mes__h_subject_get},
  {"GET",     "/v1/subjects/{s}/export",  MES_SCOPE_SUBJECTS, MES_ROUTE_SELF,  mes__h_subject_export},
  {"DELETE",  "/v1/subjects/{s}",         MES_SCOPE_SUBJECTS, MES_ROUTE_SELF,  mes__h_subject_erase},
  {"GET",     "/v1/subjects/{s}/access-log", MES_SCOPE_SUBJECTS, MES_ROUTE_SELF, mes__h_subject_access_log},
  {"POST",    "/v1/subjects/{s}/tokens",  MES_SCOPE_SUBJECTS, 0,               mes__h_subject_token},
  {"DELETE",  "/v1/subjects/{s}/tokens",  MES_SCOPE_SUBJECTS, MES_ROUTE_SELF,  mes__h_subject_tokens_revoke},
  {"PUT",     "/v1/visitors/{a}/consents/{purpose}", MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_visitor_consent_put},
  {"GET",     "/v1/visitors/{a}/consents",  MES_SCOPE_CONSENT, MES_ROUTE_SELF, mes__h_visitor_consent_get},
  {"POST",    "/v1/visitors/{a}/tokens",  MES_SCOPE_SUBJECTS, 0,               mes__h_visitor_token},
  {"POST",    "/v1/subjects/{s}/link",    MES_SCOPE_INGEST,  0,                mes__h_subject_link},
  {"POST",    "/v1/recommendations",      MES_SCOPE_RECOMMEND, MES_ROUTE_SELF, mes__h_recs_post},
  {"GET",     "/v1/recommendations/{request_id}", MES_SCOPE_RECOMMEND | MES_SCOPE_AUDIT, 0, mes__h_recs_get},
  {"PUT",     "/v1/subjects/{s}/restriction", MES_SCOPE_SUBJECTS, MES_ROUTE_SELF, mes__h_subject_restriction},
  {"GET",     "/v1/subjects/{s}/why",     MES_SCOPE_SUBJECTS, MES_ROUTE_SELF,  mes__h_subject_why},
  {"PUT",     "/v1/audit/subjects/{s}/attributes", MES_SCOPE_AUDIT, 0,         mes__h_audit_attrs_put},
  {"GET",     "/v1/audit/subjects/{s}/attributes", MES_SCOPE_AUDIT, 0,         mes__h_audit_attrs_get},
  {"DELETE",  "/v1/audit/subjects/{s}/attributes", MES_SCOPE_AUDIT, 0,         mes__h_audit_attrs_delete},
  {"POST",    "/v1/audits",               MES_SCOPE_AUDIT,   0,                mes__h_audits_post},
  {"GET",     "/v1/audits",               MES_SCOPE_AUDIT,   0,                mes__h_audits_list},
  {"GET",     "/v1/audits/{id}",          MES_SCOPE_AUDIT,   0,                mes__h_audits_get},
  {"GET",     "/v1/audits/{id}/report.html", MES_SCOPE_AUDIT, 0,               mes__h_audits_report},
  {"GET",     "/me",                      0,                 MES_ROUTE_PUBLIC, mes__h_static},
  {"GET",     "/me/{*file}",              0,                 MES_ROUTE_PUBLIC, mes__h_static},
  {"GET",     "/shared/{*file}",          0,                 MES_ROUTE_PUBLIC, mes__h_static},
  {"GET",     "/v1/admin/keys",           MES_SCOPE_ADMIN,   0,                mes__h_admin_keys_list},
  {"POST",    "/v1/admin/keys",           MES_SCOPE_ADMIN,   0,                mes__h_admin_keys_post},
  {"DELETE",  "/v1/admin/keys/{name}",    MES_SCOPE_ADMIN,   0,                mes__h_admin_keys_delete},
  {"GET",     "/v1/admin/overview",       MES_SCOPE_ADMIN,   0,                mes__h_admin_overview},
  {"GET",     "/admin",                   0,                 MES_ROUTE_PUBLIC, mes__h_static},
  {"GET",     "/admin/{*file}",           0,                 MES_ROUTE_PUBLIC, mes__h_static},
  {"GET",     "/sdk/{*file}",             0,                 MES_ROUTE_PUBLIC, mes__h_static},
};
/* clang-format on */
const size_t mes__n_routes = sizeof mes__routes / sizeof mes__routes[0];

/* Each data-subject right (contract §7) and the route that serves it. The
 * privacy notice promises a right only when its route is a row above that a
 * subject's own token may call, so that a right is promised exactly while
 * it is served: adding the row makes the notice promise it. */
static const struct mes_notice_right right_routes[] = {
    {"see", "GET", "/v1/subjects/{s}"},
    {"export", "GET", "/v1/subjects/{s}/export"},
    {"correct", "DELETE", "/v1/subjects/{s}/events/{event_id}"},
    {"restrict", "PUT", "/v1/subjects/{s}/restriction"},
    {"erase", "DELETE", "/v1/subjects/{s}"},
    {"access_log", "GET", "/v1/subjects/{s}/access-log"},
    {"withdraw_consent", "PUT", "/v1/subjects/{s}/consents/{purpose}"},
};

size_t mes_http_served_rights(struct mes_notice_right *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < sizeof right_routes / sizeof right_routes[0] && n < cap; i++)
    for (size_t r = 0; r < mes__n_routes; r++)
      if (strcmp(mes__routes[r].method, right_routes[i].method) == 0 &&
          strcmp(mes__routes[r].pattern, right_routes[i].path) == 0 && (mes__routes[r].flags & MES_ROUTE_SELF)) {
        out[n++] = right_routes[i];
        break;
      }
  return n;
}

/* A path parameter as found in the raw path, before decoding. */
struct capture {
  const char *name;
  size_t name_len;
  const char *raw;
  size_t raw_len;
  bool rest;
};

/* Matches path against pattern segment by segment. Fills caps (at most
 * MES_HTTP_MAX_PARAMS). Both strings start with '/'. */
static bool match_path(const char *pattern, const char *path, struct capture *caps, size_t *n_caps) {
  *n_caps = 0;
  const char *p = pattern, *u = path;
  while (*p && *u) {
    if (*p != '/' || *u != '/')
      return false;
    p++;
    u++;
    size_t plen = strcspn(p, "/"), ulen = strcspn(u, "/");
    if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
      bool rest = p[1] == '*';
      if (*n_caps >= MES_HTTP_MAX_PARAMS)
        return false;
      if (rest)
        ulen = strlen(u);
      if (ulen == 0)
        return false;
      caps[*n_caps] = (struct capture){p + 1 + rest, plen - 2 - rest, u, ulen, rest};
      (*n_caps)++;
    } else if (plen != ulen || memcmp(p, u, plen) != 0) {
      return false;
    }
    p += plen;
    u += ulen;
  }
  return *p == '\0' && *u == '\0';
}

static bool same_method(const char *row, const char *method) {
  return strcmp(row, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(row, "GET") == 0);
}

/* Appends a method to the Allow list unless it is there already. */
static void allow_add(char *allow, size_t cap, const char *method) {
  size_t mlen = strlen(method);
  for (const char *a = allow; *a;) {
    size_t n = strcspn(a, ",");
    if (n == mlen && memcmp(a, method, n) == 0)
      return;
    a += n;
    while (*a == ',' || *a == ' ')
      a++;
  }
  size_t len = strlen(allow);
  snprintf(allow + len, cap - len, "%s%s", len ? ", " : "", method);
}

static enum mes__match param_error(struct mes_err *err, int rc, const struct capture *c) {
  char field[80];
  snprintf(field, sizeof field, "/path/%.*s", (int)c->name_len, c->name);
  if (rc == MES_ENOMEM)
    mes_err_set(err, MES_ENOMEM, NULL, NULL);
  else if (rc == MES_EBAD_UTF8)
    mes_err_set(err, MES_EBAD_UTF8, field, "The path parameter %.*s is not valid UTF-8.", (int)c->name_len, c->name);
  else
    mes_err_set(err, MES_EINVALID_ID, field,
                "The path parameter %.*s must be 1 to 128 bytes of UTF-8 without control characters, "
                "with valid %%-escapes.",
                (int)c->name_len, c->name);
  return MES__MATCH_BAD_PARAM;
}

enum mes__match mes__route_match(const char *method, const char *path, struct mes_arena *arena, int *route,
                                 struct mes_http_param *params, size_t *n_params, char *allow, size_t allow_cap,
                                 struct mes_err *err) {
  struct capture caps[MES_HTTP_MAX_PARAMS], found[MES_HTTP_MAX_PARAMS];
  size_t n_caps, n_found = 0;
  bool path_known = false;
  *route = -1;
  *n_params = 0;
  allow[0] = '\0';
  for (size_t r = 0; r < mes__n_routes; r++) {
    if (!match_path(mes__routes[r].pattern, path, caps, &n_caps))
      continue;
    path_known = true;
    allow_add(allow, allow_cap, mes__routes[r].method);
    if (strcmp(mes__routes[r].method, "GET") == 0)
      allow_add(allow, allow_cap, "HEAD");
    if (*route < 0 && same_method(mes__routes[r].method, method)) {
      *route = (int)r;
      memcpy(found, caps, n_caps * sizeof caps[0]);
      n_found = n_caps;
    }
  }
  if (!path_known)
    return MES__MATCH_NO_PATH;
  if (*route < 0)
    return MES__MATCH_BAD_METHOD;

  for (size_t i = 0; i < n_found; i++) {
    const struct capture *c = &found[i];
    char *value = mes_arena_alloc(arena, c->raw_len + 1);
    if (!value)
      return param_error(err, MES_ENOMEM, c);
    long len = mes_url_decode(c->raw, c->raw_len, value, c->raw_len + 1);
    if (len < 0)
      return param_error(err, MES_EINVALID_ID, c);
    if (!c->rest) {
      int rc = mes_id_check(value, (size_t)len);
      if (rc)
        return param_error(err, rc, c);
    }
    params[i] = (struct mes_http_param){c->name, c->name_len, value, (size_t)len, c->rest};
  }
  *n_params = n_found;
  return MES__MATCH_OK;
}
