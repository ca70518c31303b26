/*
 * http/request — the handler API of handler.h over the request record of
 * http_int.h: accessors, reply helpers, and the per-request arena behind
 * them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "http/http_int.h"

/* ------------------------------------------------------------------ arena */

void *mes_http_req_alloc(struct mes_http_req *req, size_t n) { return mes_arena_alloc(&req->arena, n); }

/* -------------------------------------------------------------- accessors */

struct mes_engine *mes_http_req_engine(struct mes_http_req *req) { return req->srv->engine; }

const struct mes_principal *mes_http_req_principal(const struct mes_http_req *req) {
  return req->has_principal ? &req->principal : NULL;
}

struct mes_call *mes_http_req_call(struct mes_http_req *req) { return &req->call; }

bool mes_http_req_gpc(const struct mes_http_req *req) { return req->gpc; }

const char *mes_http_req_param(const struct mes_http_req *req, const char *name, size_t *len) {
  size_t nlen = strlen(name);
  for (size_t i = 0; i < req->n_params; i++) {
    const struct mes_http_param *p = &req->params[i];
    if (p->name_len == nlen && memcmp(p->name, name, nlen) == 0) {
      if (len)
        *len = p->len;
      return p->value;
    }
  }
  return NULL;
}

const char *mes_http_req_query(struct mes_http_req *req, const char *name) {
  /* The server turns MHD's own unescaping off (it would decode %2F in paths),
   * so values arrive with '+' already read as a space but %XX still escaped. */
  const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
  if (!raw)
    return NULL;
  size_t len = strlen(raw);
  char *out = mes_http_req_alloc(req, len + 1);
  if (!out || mes_url_decode(raw, len, out, len + 1) < 0)
    return NULL;
  return out;
}

const char *mes_http_req_header(const struct mes_http_req *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *mes_http_req_body(const struct mes_http_req *req, size_t *len) {
  *len = req->body.len;
  return req->body.data ? req->body.data : "";
}

struct mes_body mes_http_req_doc(const struct mes_http_req *req) {
  return (struct mes_body){req->body.data, req->body.data ? req->body.len : 0, NULL};
}

void mes_http_metric_add(struct mes_http_req *req, const char *name, const char *label, const char *value,
                         uint64_t n) {
  mes_metrics_add1(req->srv->metrics, name, label, value, n);
}

/* ------------------------------------------------------------------ reply */

static void set_body(struct mes_http_resp *resp, int status, const char *content_type, char *body, size_t len) {
  free(resp->body);
  resp->status = status;
  resp->content_type = content_type;
  resp->body = body;
  resp->body_len = body ? len : 0;
}

/* The last resort when even an error reply cannot be built: a fixed-size
 * rendering of the table's out_of_memory row (its sentence holds no quote). */
static void reply_oom(struct mes_http_resp *resp) {
  char fixed[320];
  int n = snprintf(fixed, sizeof fixed, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                   mes_rc_code(MES_ENOMEM), mes_rc_message(MES_ENOMEM));
  size_t len = n > 0 && (size_t)n < sizeof fixed ? (size_t)n : 0;
  char *copy = len ? malloc(len + 1) : NULL;
  if (copy)
    memcpy(copy, fixed, len + 1);
  set_body(resp, mes_rc_status(MES_ENOMEM), MES_HTTP_JSON, copy, len);
}

void mes_http_reply_json(struct mes_http_resp *resp, int status, json_t *v) {
  char *s = v ? mes_json_dump(v) : NULL;
  json_decref(v);
  if (!s) {
    reply_oom(resp);
    return;
  }
  set_body(resp, status, MES_HTTP_JSON, s, strlen(s));
}

/* The language of error sentences: Accept-Language among every language
 * mesura writes, whatever the policy offers shoppers, since errors are read
 * by the brand's developers as much as by the people they serve. */
static const char *error_lang(const struct mes_http_req *req) {
  return mes_engine_error_lang(req ? mes_http_req_header(req, MHD_HTTP_HEADER_ACCEPT_LANGUAGE) : NULL);
}

/* The sentence of an error in language l. A specific sentence is written in
 * English by the code that failed; in another language the code's own
 * sentence stands in for it (the JSON pointer in "field" still says where). */
static const char *error_sentence(const struct mes_err *err, int rc, const char *lang) {
  if (strcmp(lang, "en") == 0)
    return err && err->rc != MES_OK ? mes_err_text(err) : mes_rc_message(rc);
  return mes_rc_message_in(rc, lang);
}

void mes_http_localize_errors(struct mes_http_req *req, json_t *errors) {
  const char *lang = error_lang(req);
  if (strcmp(lang, "en") == 0)
    return;
  size_t i;
  json_t *row;
  json_array_foreach(errors, i, row) {
    json_t *e = json_object_get(row, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    for (int rc = 0; code && rc < MES_E_COUNT_; rc++) {
      if (strcmp(code, mes_rc_code(rc)) == 0) {
        json_object_set_new(e, "message", json_string(mes_rc_message_in(rc, lang)));
        break;
      }
    }
  }
}

void mes_http_reply_error(struct mes_http_resp *resp, const struct mes_err *err) {
  int rc = err && err->rc != MES_OK ? err->rc : MES_EINTERNAL;
  json_t *e = json_object();
  json_t *root = json_object();
  if (!e || !root || json_object_set_new(e, "code", json_string(mes_rc_code(rc))) ||
      json_object_set_new(e, "message", json_string(error_sentence(err, rc, error_lang(resp->req)))) ||
      (err && err->field[0] && json_object_set_new(e, "field", json_string(err->field)))) {
    json_decref(e);
    json_decref(root);
    reply_oom(resp);
    return;
  }
  if (json_object_set_new(root, "error", e)) {
    json_decref(root);
    reply_oom(resp);
    return;
  }
  mes_http_reply_json(resp, mes_rc_status(rc), root);
}

void mes_http_reply_take(struct mes_http_resp *resp, int status, const char *content_type, char *body, size_t len) {
  if (!body) {
    reply_oom(resp);
    return;
  }
  set_body(resp, status, content_type, body, len);
}

void mes_http_reply_text(struct mes_http_resp *resp, int status, const char *content_type, const char *text,
                         size_t len) {
  char *copy = malloc(len + 1);
  if (copy) {
    memcpy(copy, text, len);
    copy[len] = '\0';
  }
  mes_http_reply_take(resp, status, content_type, copy, len);
}

void mes_http_resp_hold(struct mes_http_resp *resp, uint64_t ticket) { resp->req->hold_ticket = ticket; }

static bool header_safe(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7F)
      return false;
  return true;
}

int mes_http_resp_header(struct mes_http_resp *resp, const char *name, const char *value) {
  if (!header_safe(name) || !header_safe(value) || !*name)
    return MES_EINVALID_VALUE;
  if (resp->n_headers >= MES_HTTP_MAX_HEADERS)
    return MES_ENOMEM;
  struct mes_arena *a = &resp->req->arena;
  const char *n = mes_arena_strndup(a, name, strlen(name));
  const char *v = mes_arena_strndup(a, value, strlen(value));
  if (!n || !v)
    return MES_ENOMEM;
  resp->headers[resp->n_headers].name = n;
  resp->headers[resp->n_headers].value = v;
  resp->n_headers++;
  return MES_OK;
}

const char *mes__method_label(const char *method) {
  static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(method, known[i]) == 0)
      return known[i];
  return "OTHER";
}

void mes_http_run_id_verb(struct mes_http_req *req, struct mes_http_resp *resp, const char *param,
                          mes_http_id_verb verb) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, param, &id_len);
  if (verb(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

void mes_http_run_id_body_verb(struct mes_http_req *req, struct mes_http_resp *resp, const char *param,
                               mes_http_id_body_verb verb) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, param, &id_len);
  struct mes_body body = mes_http_req_doc(req);
  if (verb(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &body, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
