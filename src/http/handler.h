/*
 * http/handler — what an endpoint sees: the request accessors and the reply
 * helpers. No handler calls libmicrohttpd, and none reaches below the public
 * API: an endpoint is a thin adapter from a request to one verb of
 * include/mesura/mesura.h and back. The server (server.c) has already
 * matched the route, checked the key, its scope and its rate limit, read the
 * body (at most 16 MiB), decoded and id-checked the path parameters, and
 * filled the call (struct mes_call: who asks, Accept-Language, Sec-GPC)
 * before the handler runs. After it returns, the server sends the reply,
 * logs one access line (with the pseudonym the verb put in the call) and
 * counts the request in /metrics.
 *
 * How to add an endpoint, e.g. POST /v1/events (scope ingest):
 *
 *   1. Write the handler in a file of its own kind, src/http/h_events.c:
 *
 *        void mes__h_events_post(struct mes_http_req *req, struct mes_http_resp *resp) {
 *          struct mes_err err;
 *          struct mes_body body = mes_http_req_doc(req);
 *          struct mes_ingest_outcome oc;
 *          json_t *out = NULL;
 *          mes_err_clear(&err);
 *          if (mes_engine_events_ingest(mes_http_req_engine(req), mes_http_req_call(req), &body, false, &out,
 *                                       &oc, &err)) {
 *            mes_http_reply_error(resp, &err);
 *            return;
 *          }
 *          mes_http_metric_add(req, "mesura_events_total", "outcome", "stored", oc.stored);
 *          mes_http_reply_json(resp, 200, out);      // steals out
 *          mes_http_resp_hold(resp, oc.ticket);
 *        }
 *
 *   2. Declare it in src/http/endpoints.h under a banner for the new file.
 *   3. Add a row to the table in src/http/routes.c:
 *        {"POST", "/v1/events", MES_SCOPE_INGEST, 0, mes__h_events_post},
 *
 * A route acting on one subject names its parameter {s} and hands it to the
 * verb, which resolves it, keeps a subject token to its own subject and puts
 * the pseudonym (never the id) in the call for the access log. Such a route
 * may be opened to subject tokens with MES_ROUTE_SELF; every other route
 * refuses them.
 *
 * Every reply helper replaces an earlier reply (status, body, type) but keeps
 * the extra headers. A handler that sets no reply answers 500 internal_error.
 *
 * Threads: handlers run on the server's worker threads, several at once; a
 * request and its reply belong to one thread for the handler's duration.
 */
#ifndef MES_HTTP_HANDLER_H
#define MES_HTTP_HANDLER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesura/mesura.h>

#include "base/err.h"
#include "base/json.h"

struct mes_http_req;
struct mes_http_resp;

typedef void (*mes_http_handler)(struct mes_http_req *req, struct mes_http_resp *resp);

/* Route flags. */
#define MES_ROUTE_PUBLIC 0x1u /* no key needed; Authorization is not even read */
#define MES_ROUTE_SELF 0x2u   /* a subject token whose use (enum mes_token_use) carries the row's scope may
                                 call it, for its own subject only */

/*
 * One row of the routing table (routes.c). `pattern` is a path whose segments
 * are literals or parameters: "/v1/subjects/{s}/consents/{purpose}". A
 * parameter matches one non-empty segment; it is percent-decoded and must obey
 * the id rule (base/id.h), or the request is refused with 400 invalid_id and
 * field "/path/NAME". A final "{*name}" matches the rest of the path (one or
 * more segments, '/' included, decoded but not id-checked: the handler
 * validates it). Rows are tried in order; the first match wins, so put a
 * literal route before a parameter route it overlaps. HEAD is served by the
 * GET row.
 */
struct mes_route {
  const char *method;  /* "GET", "PUT", "POST", "DELETE", ... */
  const char *pattern; /* static string */
  uint32_t scope;      /* MES_SCOPE_* bits the key needs (any one of them); 0 with MES_ROUTE_PUBLIC */
  unsigned flags;      /* MES_ROUTE_* */
  mes_http_handler fn;
};

/* The data-subject rights this server serves, read from its routing table:
 * fills out (cap entries; MES_HTTP_RIGHTS_MAX is enough) with each right
 * whose route is registered and open to the subject's own token, and
 * returns how many. The privacy notice promises these and no others. */
#define MES_HTTP_RIGHTS_MAX 8
size_t mes_http_served_rights(struct mes_notice_right *out, size_t cap);

/* ------------------------------------------------------------------ request */

/* The engine serving the request. Borrowed. */
struct mes_engine *mes_http_req_engine(struct mes_http_req *req);

/* Who is calling; NULL on a public route. Borrowed, valid for the request. */
const struct mes_principal *mes_http_req_principal(const struct mes_http_req *req);

/* The call to hand to the verb: who asks (NULL on a public route), the
 * actor's name, Accept-Language, Sec-GPC. Borrowed, valid for the request;
 * the pseudonym a verb writes in it goes to the access line. */
struct mes_call *mes_http_req_call(struct mes_http_req *req);

/* A path parameter by name ("s" for {s}), percent-decoded, NUL-terminated,
 * already checked by the id rule. *len (when non-NULL) gets its length.
 * NULL when the route has no such parameter. Borrowed, valid for the request. */
const char *mes_http_req_param(const struct mes_http_req *req, const char *name, size_t *len);

/* A query-string parameter, percent-decoded ('+' reads as a space). NULL when
 * absent or badly escaped. The value is NOT checked: validate it. Borrowed,
 * valid for the request. */
const char *mes_http_req_query(struct mes_http_req *req, const char *name);

/* A request header (case-insensitive name), or NULL. Borrowed. */
const char *mes_http_req_header(const struct mes_http_req *req, const char *name);

/* The raw body (NUL-terminated; *len its length, 0 when none). Borrowed. */
const char *mes_http_req_body(const struct mes_http_req *req, size_t *len);

/* The body as a verb takes it (the text as received; empty when none).
 * Borrowed, valid for the request. */
struct mes_body mes_http_req_doc(const struct mes_http_req *req);

/* True when the request carried exactly "Sec-GPC: 1". */
bool mes_http_req_gpc(const struct mes_http_req *req);

/* Scratch memory freed at once when the request ends; aligned for any type.
 * NULL when out of memory. */
void *mes_http_req_alloc(struct mes_http_req *req, size_t n);

/* ------------------------------------------------------------------- reply */

#define MES_HTTP_JSON "application/json; charset=utf-8"

/* Replies `status` with the JSON value v, serialized compactly. Steals v
 * (NULL is taken as out of memory: 503). */
void mes_http_reply_json(struct mes_http_resp *resp, int status, json_t *v);

/* Replies the contract's error shape {"error":{"code","message","field"}} with
 * the status of err->rc from the error table; "field" only when set. The
 * message is in the language Accept-Language picks among en, es and pl: in
 * English, err's own sentence; in the others, the code's sentence. */
void mes_http_reply_error(struct mes_http_resp *resp, const struct mes_err *err);

/* Puts the messages of a batch reply's `errors` array ([{"index", "error":
 * {"code", "message", ...}}], borrowed, changed in place) in the request's
 * language as mes_http_reply_error would; English leaves them as they are. */
void mes_http_localize_errors(struct mes_http_req *req, json_t *errors);

/* Replies with a copy of text[0..len) as `content_type` (a static string,
 * e.g. "text/html; charset=utf-8"). */
void mes_http_reply_text(struct mes_http_resp *resp, int status, const char *content_type, const char *text,
                         size_t len);

/* Same, taking over `body` (from malloc; freed by the server; NULL is taken
 * as out of memory). */
void mes_http_reply_take(struct mes_http_resp *resp, int status, const char *content_type, char *body, size_t len);

/* Holds the reply just set until the engine has made `ticket` (from
 * mes_engine_events_ingest without wait) durable, without holding
 * a worker thread meanwhile: the connection is parked and resumed by the
 * store's commit thread. If the commit is lost instead, a 500 store error
 * goes out in place of the reply. A zero ticket holds nothing. */
void mes_http_resp_hold(struct mes_http_resp *resp, uint64_t ticket);

/* The verbs that act on the thing a path parameter names and answer with a
 * document, with and without the request's body. */
typedef int (*mes_http_id_verb)(struct mes_engine *e, struct mes_call *call, const char *id, size_t id_len,
                                json_t **out, struct mes_err *err);
typedef int (*mes_http_id_body_verb)(struct mes_engine *e, struct mes_call *call, const char *id, size_t id_len,
                                     const struct mes_body *body, json_t **out, struct mes_err *err);

/* The whole of an endpoint that is nothing but one such verb: hands it the
 * path parameter `param` (and the body), replies 200 with its document, or
 * the error it gives. */
void mes_http_run_id_verb(struct mes_http_req *req, struct mes_http_resp *resp, const char *param,
                          mes_http_id_verb verb);
void mes_http_run_id_body_verb(struct mes_http_req *req, struct mes_http_resp *resp, const char *param,
                               mes_http_id_body_verb verb);

/* Adds a response header (name and value copied). MES_ENOMEM when out of
 * memory or past 8 extra headers, MES_EINVALID_VALUE when either holds a
 * control character. */
int mes_http_resp_header(struct mes_http_resp *resp, const char *name, const char *value);

#endif
