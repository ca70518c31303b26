/*
 * http/server — mes_http_serve: libmicrohttpd, signals, shutdown, and the
 * life of one request from its first header to its access line (the
 * listening socket and the accept thread are listen.c's).
 *
 * A request goes through these steps, each of which may set the error the
 * request is answered with instead of its handler (req->pending):
 *
 *   1. first call (headers read): framing (400 bad_request, answered at once
 *      and the connection closed, when the body's length is given two ways),
 *      route (404, 405 with Allow), key (401; an expired subject token
 *      401 token_expired), rate limit (429 with Retry-After), scope or
 *      subject token (403), path parameters (400 invalid_id), declared
 *      Content-Length (413), a body not declared as JSON (415);
 *   2. body calls: the body is kept up to 16 MiB; past that, or after an
 *      error, it is read and dropped, so the client sees the reply instead of
 *      a reset connection (up to DRAIN_MAX; beyond, the connection is cut);
 *   3. last call: the handler runs with a fresh request context, and the
 *      reply is queued - or, when the handler held it until a commit is
 *      durable (mes_http_resp_hold), the connection is suspended and the
 *      store's commit thread resumes it once the group commit is synced;
 *      MHD then calls on_request again and the reply is queued;
 *   4. completion (reply sent or connection gone): access log line, metrics,
 *      free, and the in-flight count that shutdown waits on.
 *
 * Slow clients meet total deadlines (deadline.c) besides MHD's idle timeout:
 * the head is due serving.header_timeout_s after the connection opens, the
 * body serving.body_timeout_s after the head, and the next head on a
 * kept-alive connection CONNECTION_TIMEOUT_S after the previous reply.
 *
 * What libmicrohttpd answers by itself, before any of this runs, has its own
 * HTML body that the server cannot replace (0.9.75 builds those bodies in):
 * 400 for a malformed request line, header or Content-Length value, 414 for
 * a request line and 431 for headers larger than CONNECTION_POOL_BYTES, and
 * 505 for an HTTP version other than 1.0 and 1.1.
 *
 * Signals are handled synchronously: SIGINT, SIGTERM and SIGHUP are blocked
 * before MHD's threads start (they inherit the mask) and the calling thread
 * sigwait()s for them.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/mtime.h"
#include "http/http.h"
#include "http/http_int.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_RPS 1000
#define DRAIN_MAX ((uint64_t)64 << 20) /* body bytes dropped after an error before the connection is cut */
#define SHUTDOWN_GRACE_S 10
#define NS_PER_S 1000000000ull
/* Worker threads. A request waiting for its group commit does not hold one
 * (it is parked, see step 3), so one fsync carries every request that
 * arrived meanwhile and the pool only needs the threads that do work: a few
 * more than the 2 cores of the reference machine, because a request also
 * blocks while another holds the store's writer lock (bench/README.md). */
#define POOL_THREADS_DEFAULT 4u
#define CONNECTION_TIMEOUT_S 60u
/* libmicrohttpd's per-connection memory pool holds the request line and
 * headers, the header index and the reply's header block; it is zeroed
 * whole at each keep-alive request (a memset of the pool: ~3.5 % of a
 * single-event request's server CPU at the 32 KiB default). Bodies never
 * live there: MHD hands them over in chunks of the pool's free space and
 * take_body copies them into req->body (up to MES_HTTP_BODY_MAX), so the
 * pool bounds only the header block: 16 KiB takes about 15 KiB of request
 * headers (Apache's and nginx's per-line limit is 8 KiB); larger get 431. */
#define CONNECTION_POOL_BYTES ((size_t)16 << 10)

/* ---------------------------------------------------------------- replies */

/* A full disk is told once per episode in the log (the replies say it to
 * every client): from the first write refused with 507 storage_full until
 * /healthz finds the store taking writes again (h_meta.c). */
static void note_storage(const struct mes_http_req *req) {
  struct mes__server *srv = req->srv;
  if (req->resp.status == 507 && !atomic_exchange(&srv->storage_full, true))
    mes_log(srv->log, MES_LOG_ERROR,
            "the data directory's disk is full: writes are refused (507 storage_full) and /healthz reports "
            "degraded; nothing acknowledged was lost. Free space, then restart the server");
}

/* ------------------------------------------------------------------ CORS */

/* What a preflight allows: every method and request header the API reads.
 * The credential is the Authorization header, never a cookie, so no
 * Access-Control-Allow-Credentials. */
#define CORS_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE"
#define CORS_HEADERS "Authorization, Content-Type, Accept-Language, Sec-GPC, If-None-Match"
#define CORS_MAX_AGE_S "600"
#define CORS_EXPOSED "Retry-After, ETag"

/* Notes whether the request's Origin is one the policy allows. */
static void note_origin(struct mes_http_req *req) {
  const char *origin = mes_http_req_header(req, "Origin");
  req->cors = origin && mes_engine_cors_allowed(req->srv->engine, origin, strlen(origin));
}

/* Names the request's origin in the reply when it is allowed; says, for
 * caches, that the reply depends on Origin either way. */
static void add_cors(const struct mes_http_req *req, struct MHD_Response *r) {
  MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Origin");
  if (!req->cors)
    return;
  MHD_add_response_header(r, "Access-Control-Allow-Origin", mes_http_req_header(req, "Origin"));
  MHD_add_response_header(r, "Access-Control-Expose-Headers", CORS_EXPOSED);
  if (strcmp(req->method_label, "OPTIONS") == 0) {
    MHD_add_response_header(r, "Access-Control-Allow-Methods", CORS_METHODS);
    MHD_add_response_header(r, "Access-Control-Allow-Headers", CORS_HEADERS);
    MHD_add_response_header(r, "Access-Control-Max-Age", CORS_MAX_AGE_S);
  }
}

/* A CORS preflight: OPTIONS with Origin and Access-Control-Request-Method.
 * It carries no credential (browsers send none), so it is answered before
 * any key is asked for: 204, naming the origin only when it is allowed. */
static bool preflight(const struct mes_http_req *req) {
  return strcmp(req->method_label, "OPTIONS") == 0 && mes_http_req_header(req, "Origin") &&
         mes_http_req_header(req, "Access-Control-Request-Method");
}

/* Hands the reply to MHD. The body moves to MHD, which frees it. */
static enum MHD_Result queue_reply(struct mes_http_req *req) {
  struct mes__server *srv = req->srv;
  struct mes_http_resp *resp = &req->resp;
  struct MHD_Response *r;
  if (resp->body)
    r = MHD_create_response_from_buffer_with_free_callback(resp->body_len, resp->body, free);
  else
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  resp->body = NULL;
  bool cache_set = false;
  for (size_t i = 0; i < resp->n_headers; i++) {
    MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
    cache_set |= strcasecmp(resp->headers[i].name, MHD_HTTP_HEADER_CACHE_CONTROL) == 0;
  }
  if (resp->content_type)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
  /* Replies may hold personal data: no cache keeps them unless asked. */
  if (!cache_set)
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  add_cors(req, r);
  if (req->close || atomic_load(&srv->stopping))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  note_storage(req);
  enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)resp->status, r);
  MHD_destroy_response(r);
  req->queued = ret == MHD_YES;
  return ret;
}

/* Sets the error this request will be answered with, unless one is set. */
static void fail(struct mes_http_req *req, int rc, const char *field, const char *msg) {
  if (req->pending.rc != MES_OK)
    return;
  mes_err_set(&req->pending, rc, field, msg ? "%s" : NULL, msg);
}

/* ---------------------------------------------------------------- step 1 */

static const char *bearer_of(const char *h, size_t *len) {
  if (!h)
    return NULL;
  while (*h == ' ' || *h == '\t')
    h++;
  if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
    return NULL;
  h += 7;
  while (*h == ' ' || *h == '\t')
    h++;
  size_t n = strlen(h);
  while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
    n--;
  *len = n;
  return n ? h : NULL;
}

/* Authenticates, rate-limits and checks the scope. False when refused. */
static bool admit(struct mes_http_req *req, const struct mes_route *route) {
  struct mes__server *srv = req->srv;
  size_t key_len = 0;
  const char *key = bearer_of(mes_http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION), &key_len);
  if (!key) {
    mes_http_resp_header(&req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mesura\"");
    fail(req, MES_EUNAUTHORIZED, NULL, "Send an API key as Authorization: Bearer KEY.");
    return false;
  }
  int rc = mes_engine_authenticate(srv->engine, key, key_len, &req->principal);
  if (rc == MES_EUNAUTHORIZED) {
    mes_http_resp_header(&req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                         "Bearer realm=\"mesura\", error=\"invalid_token\"");
    fail(req, rc, NULL, "The API key is unknown or revoked.");
    return false;
  }
  if (rc == MES_ETOKEN_EXPIRED) {
    mes_http_resp_header(&req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                         "Bearer realm=\"mesura\", error=\"invalid_token\", error_description=\"The token expired\"");
    fail(req, rc, NULL, NULL);
    return false;
  }
  if (rc) {
    fail(req, rc, NULL, NULL);
    return false;
  }
  req->has_principal = true;

  if (srv->ratelimit) {
    if (req->principal.subject_token)
      snprintf(req->ratelimit_key, sizeof req->ratelimit_key, "token:%lld", (long long)req->principal.sid);
    else
      snprintf(req->ratelimit_key, sizeof req->ratelimit_key, "key:%s", req->principal.name);
    int retry_s = 1;
    if (!mes__ratelimit_take(srv->ratelimit, req->ratelimit_key, mes_mono_ns(), &retry_s)) {
      char v[16];
      snprintf(v, sizeof v, "%d", retry_s);
      mes_http_resp_header(&req->resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
      fail(req, MES_ERATE_LIMITED, NULL, NULL);
      return false;
    }
  }

  /* A subject's token passes only routes open to it, and of those only the
   * ones its use allows (a browser token never reaches export or erasure);
   * the verb then keeps it to its own subject. */
  if (req->principal.subject_token) {
    if (!(route->flags & MES_ROUTE_SELF) || !mes_scope_allows(req->principal.scopes, route->scope)) {
      fail(req, MES_EFORBIDDEN, NULL,
           req->principal.use == MES_TOKEN_BROWSER
               ? "A browser token only records its person's consents and events and asks for their recommendations."
               : "A subject's token opens only that subject's own pages.");
      return false;
    }
  } else if (!mes_scope_allows(req->principal.scopes, route->scope)) {
    char need[128], msg[200];
    mes_scope_format(route->scope, need, sizeof need);
    snprintf(msg, sizeof msg, "This key does not have the scope this request needs (%s).", need);
    fail(req, MES_EFORBIDDEN, NULL, msg);
    return false;
  }
  return true;
}

/* The declared body size: -1 when none was declared (chunked or no body). */
static long long declared_length(const struct mes_http_req *req) {
  const char *cl = mes_http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (!cl)
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll(cl, &end, 10);
  return errno || end == cl || v < 0 ? -1 : v;
}

struct framing {
  int n_length, n_encoding;
  const char *encoding;
  bool blank_in_name;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  struct framing *f = cls;
  f->blank_in_name |= strpbrk(key, " \t") != NULL;
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
    f->n_length++;
  } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
    f->n_encoding++;
    f->encoding = value;
  }
  return MHD_YES;
}

/* True when the body's length is given at most one way, as RFC 9112 §6.3
 * requires: one Content-Length, or Transfer-Encoding: chunked alone, and no
 * header name holds a blank (§5.1). libmicrohttpd 0.9.75 takes the first of
 * two Content-Lengths, lets chunked win over a Content-Length, reads a body
 * under any other Transfer-Encoding until the connection closes, and takes
 * "Content-Length : 5" for some other header (so the body is read as the
 * next request); a proxy in front that reads the same bytes another way
 * sees a different next request (request smuggling). */
static bool framing_clear(struct mes_http_req *req) {
  struct framing f = {0, 0, NULL, false};
  MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_framing, &f);
  if (f.blank_in_name || f.n_length > 1 || f.n_encoding > 1 || (f.n_length && f.n_encoding))
    return false;
  req->chunked = f.n_encoding == 1;
  if (!f.n_encoding)
    return true;
  const char *v = f.encoding;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t n = strlen(v);
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  return n == 7 && strncasecmp(v, "chunked", 7) == 0;
}

/* True when a Content-Type is application/json, parameters allowed
 * ("application/json; charset=utf-8"). */
static bool json_media_type(const char *ct) {
  if (!ct)
    return false;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  size_t n = strcspn(ct, ";");
  while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
    n--;
  return n == 16 && strncasecmp(ct, "application/json", n) == 0;
}

/* A POST, PUT or PATCH that carries a body (chunked, or a Content-Length
 * `len` above 0) must declare it as JSON; without a body no Content-Type is
 * needed. */
static bool body_type_ok(const struct mes_http_req *req, long long len) {
  if (len <= 0 && !req->chunked)
    return true;
  const char *m = req->method_label;
  if (strcmp(m, "POST") != 0 && strcmp(m, "PUT") != 0 && strcmp(m, "PATCH") != 0)
    return true;
  return json_media_type(mes_http_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE));
}

static void begin(struct mes_http_req *req, const char *path) {
  struct mes_err perr;
  char allow[96];
  mes_err_clear(&perr);
  /* Before anything else: where this request ends is in doubt, so nothing
   * after it on this connection can be trusted either. */
  if (!framing_clear(req)) {
    req->close = true;
    fail(req, MES_EBAD_REQUEST, NULL,
         "The request gives the length of its body more than one way (two Content-Length headers, or one with "
         "Transfer-Encoding), a Transfer-Encoding other than chunked, or a header name with a blank in it.");
    return;
  }
  enum mes__match m = mes__route_match(req->method, path, &req->arena, &req->route, req->params, &req->n_params,
                                       allow, sizeof allow, &perr);
  if (m == MES__MATCH_NO_PATH) {
    fail(req, MES_ENOT_FOUND, NULL, "There is no such endpoint.");
    return;
  }
  if (m == MES__MATCH_BAD_METHOD) {
    mes_http_resp_header(&req->resp, MHD_HTTP_HEADER_ALLOW, allow);
    fail(req, MES_EMETHOD_NOT_ALLOWED, NULL, NULL);
    req->route = -1;
    return;
  }
  const struct mes_route *route = &mes__routes[req->route];
  /* The key comes before anything about the request itself. */
  if (!(route->flags & MES_ROUTE_PUBLIC) && !admit(req, route))
    return;
  if (m == MES__MATCH_BAD_PARAM) {
    req->pending = perr;
    return;
  }
  long long len = declared_length(req);
  if (len > (long long)MES_HTTP_BODY_MAX)
    fail(req, MES_EBODY_TOO_LARGE, NULL, NULL);
  else if (!body_type_ok(req, len))
    fail(req, MES_EUNSUPPORTED_MEDIA, NULL, "Send the body as JSON, with Content-Type: application/json.");
}

/* True when an error decided on the first call should go out at once rather
 * than after the body: the client waits for "100 Continue" before sending it,
 * or it is too big to be worth reading and dropping. */
static bool reply_early(const struct mes_http_req *req) {
  if (req->close)
    return true;
  const char *expect = mes_http_req_header(req, MHD_HTTP_HEADER_EXPECT);
  if (expect && strcasecmp(expect, "100-continue") == 0)
    return true;
  return declared_length(req) > (long long)DRAIN_MAX;
}

/* ---------------------------------------------------------------- step 2 */

static void take_body(struct mes_http_req *req, const char *data, size_t n) {
  if (req->pending.rc == MES_OK) {
    int rc = mes_buf_append(&req->body, data, n);
    if (rc == MES_OK)
      return;
    fail(req, rc, NULL, NULL);
    mes_buf_release(&req->body); /* nothing more is kept in memory */
  }
  req->discarded += n;
}

/* ---------------------------------------------------------------- step 3 */

/* Sec-GPC: exactly "1" once the optional whitespace around a field value
 * (RFC 9110 §5.5) is set aside; "true", "01" and the rest mean nothing. */
static bool gpc_set(const char *v) {
  if (!v)
    return false;
  while (*v == ' ' || *v == '\t')
    v++;
  if (*v++ != '1')
    return false;
  while (*v == ' ' || *v == '\t')
    v++;
  return *v == '\0';
}

static void run_handler(struct mes_http_req *req) {
  const struct mes_route *route = &mes__routes[req->route];
  req->gpc = gpc_set(mes_http_req_header(req, "Sec-GPC"));
  req->call = (struct mes_call){
      .who = req->has_principal ? &req->principal : NULL,
      .actor = req->has_principal ? req->principal.name : "public",
      .accept_language = mes_http_req_header(req, MHD_HTTP_HEADER_ACCEPT_LANGUAGE),
      .gpc = req->gpc,
  };
  route->fn(req, &req->resp);
  memcpy(req->pseudonym, req->call.pseudonym, sizeof req->pseudonym);
  req->pseudonym[sizeof req->pseudonym - 1] = '\0';
  if (req->resp.status == 0) {
    struct mes_err err;
    mes_err_set(&err, MES_EINTERNAL, NULL, NULL);
    mes_http_reply_error(&req->resp, &err);
  }
}

/* ------------------------------------------------------- MHD callbacks */

static struct mes_http_req *req_new(struct mes__server *srv, struct MHD_Connection *conn, const char *method) {
  struct mes_http_req *req = calloc(1, sizeof *req);
  if (!req)
    return NULL;
  req->srv = srv;
  req->conn = conn;
  req->method = method;
  req->method_label = mes__method_label(method);
  req->start_ns = mes_mono_ns();
  req->route = -1;
  mes_buf_init(&req->body, MES_HTTP_BODY_MAX);
  mes_arena_init(&req->arena, req->arena_first, sizeof req->arena_first, MES_HTTP_ARENA_CHUNK, MES_HTTP_ARENA_MAX);
  req->resp.req = req;
  return req;
}

static void req_free(struct mes_http_req *req) {
  mes_buf_release(&req->body);
  free(req->resp.body);
  mes_arena_release(&req->arena);
  free(req);
}

/* The store's commit thread: req's commit is durable (or lost). After the
 * resume, req belongs to MHD's thread again. */
static void on_durable(void *ud, int rc) {
  struct mes_http_req *req = ud;
  atomic_store(&req->durable_rc, rc);
  MHD_resume_connection(req->conn);
}

/* Suspends the connection until the held ticket is durable. Suspending comes
 * first: resuming a connection that is not suspended is undefined, and the
 * callback may run before this function returns. */
static void park(struct mes_http_req *req) {
  struct mes__server *srv = req->srv;
  req->parked = true;
  atomic_init(&req->durable_rc, MES_EINTERNAL);
  pthread_mutex_lock(&srv->mu);
  srv->parked++;
  pthread_mutex_unlock(&srv->mu);
  MHD_suspend_connection(req->conn);
  if (mes_engine_on_durable(srv->engine, req->hold_ticket, on_durable, req) != MES_OK) {
    /* No commit thread to call us back: wait here, then resume ourselves. */
    atomic_store(&req->durable_rc, mes_engine_wait_durable(srv->engine, req->hold_ticket));
    MHD_resume_connection(req->conn);
  }
}

/* Back from parking: the held reply, or the error that replaces it. */
static enum MHD_Result unpark(struct mes_http_req *req) {
  struct mes__server *srv = req->srv;
  req->parked = false;
  req->hold_ticket = 0;
  pthread_mutex_lock(&srv->mu);
  if (--srv->parked == 0)
    pthread_cond_broadcast(&srv->idle);
  pthread_mutex_unlock(&srv->mu);
  int rc = atomic_load(&req->durable_rc);
  if (rc != MES_OK) {
    struct mes_err err;
    mes_err_set(&err, rc, NULL, NULL);
    req->resp.n_headers = 0; /* the held reply's headers described it */
    mes_http_reply_error(&req->resp, &err);
  }
  return queue_reply(req);
}

static enum MHD_Result finish(struct mes_http_req *req) {
  /* The request is whole: from here the server works, not the client. */
  mes__conn_due(req->tconn, MES__PHASE_BODY, 0);
  if (req->pending.rc == MES_OK)
    run_handler(req);
  else
    mes_http_reply_error(&req->resp, &req->pending);
  if (req->hold_ticket) {
    park(req);
    return MHD_YES;
  }
  return queue_reply(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  struct mes__server *srv = cls;
  struct mes_http_req *req = *con_cls;
  if (!req) {
    req = req_new(srv, conn, method);
    if (!req)
      return MHD_NO; /* out of memory: MHD closes the connection */
    *con_cls = req;
    pthread_mutex_lock(&srv->mu);
    srv->in_flight++;
    pthread_mutex_unlock(&srv->mu);
    /* The head is in; the body (if any) is due within body_timeout. */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->tconn = ci ? ci->socket_context : NULL;
    mes__conn_due(req->tconn, MES__PHASE_BODY,
                  req->start_ns + atomic_load_explicit(&srv->body_timeout_ns, memory_order_relaxed));
    note_origin(req);
    if (preflight(req)) {
      req->resp.status = 204;
      return queue_reply(req);
    }
    begin(req, url);
    if (req->pending.rc != MES_OK && reply_early(req))
      return finish(req);
    return MHD_YES;
  }
  if (req->queued)
    return MHD_YES;
  if (req->parked)
    return unpark(req); /* MHD calls again only once resumed */
  if (*upload_size) {
    take_body(req, upload, *upload_size);
    *upload_size = 0;
    /* An endless body after an error: stop reading and cut the connection. */
    return req->discarded > DRAIN_MAX ? MHD_NO : MHD_YES;
  }
  return finish(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  struct mes__server *srv = cls;
  struct mes_http_req *req = *con_cls;
  if (!req)
    return;
  *con_cls = NULL;
  uint64_t dur_ns = mes_mono_ns() - req->start_ns;
  int status = req->queued ? req->resp.status : 0;
  const char *method = req->method_label;
  const char *route = req->route >= 0 ? mes__routes[req->route].pattern : "unmatched";
  mes_metrics_request(srv->metrics, req->route, method, status, dur_ns);
  /* The route pattern, never the path: paths hold subject ids. */
  mes_log(srv->log, MES_LOG_INFO, "http %s %s %d %.3fms key=%s%s%s%s", method, route, status, (double)dur_ns / 1e6,
          req->has_principal ? req->principal.name : "-", req->pseudonym[0] ? " subject=" : "", req->pseudonym,
          toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not delivered)");
  /* Still counted as parked: resumed by the commit thread (so the engine no
   * longer holds req), then closed by MHD - the peer hung up - without
   * calling on_request again, so unpark never ran. Left counted, it would
   * hold drain_and_stop forever. */
  bool was_parked = req->parked;
  /* A kept-alive connection's next head is due as an idle one would be cut. */
  mes__conn_due(req->tconn, MES__PHASE_NEXT_HEAD, mes_mono_ns() + (uint64_t)CONNECTION_TIMEOUT_S * NS_PER_S);
  req_free(req);
  pthread_mutex_lock(&srv->mu);
  if (was_parked)
    srv->parked--;
  if (--srv->in_flight == 0 || (was_parked && srv->parked == 0))
    pthread_cond_broadcast(&srv->idle);
  pthread_mutex_unlock(&srv->mu);
}

/* Every TCP connection: on the list of deadlines from its start (its first
 * head is due within header_timeout) until it is closed. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
  struct mes__server *srv = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = ci ? mes__conn_open(&srv->deadlines, ci->connect_fd,
                                          mes_mono_ns() + atomic_load(&srv->head_timeout_ns))
                         : NULL;
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    mes__conn_close(&srv->deadlines, *socket_context);
    *socket_context = NULL;
  }
}

/* Takes the slow-client deadlines from the current policy (at start and
 * after each reload). */
static void read_timeouts(struct mes__server *srv) {
  int head_s = 0, body_s = 0;
  mes_engine_timeouts(srv->engine, &head_s, &body_s);
  atomic_store(&srv->head_timeout_ns, (uint64_t)head_s * NS_PER_S);
  atomic_store(&srv->body_timeout_ns, (uint64_t)body_s * NS_PER_S);
}

/* Keeps MHD from decoding %XX in the path: "/v1/subjects/a%2Fb" must stay
 * one segment. Query values are decoded by mes_http_req_query instead. */
static size_t no_unescape(void *cls, struct MHD_Connection *conn, char *s) { return strlen(s); }

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  struct mes__server *srv = cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  mes_log(srv->log, MES_LOG_WARN, "http: %s", line);
}

/* ------------------------------------------------------------ main loop */

/* Waits for SIGINT/SIGTERM, reloading the policy on every SIGHUP. */
/* Threads that libraries start on their own (OpenBLAS starts its pool when
 * the program loads) do not block our stop signals, so the kernel may deliver
 * SIGTERM to one of them; with the default action that would kill the
 * process mid-request. This handler only forwards such a signal to the
 * thread that sigwait()s for it (where it is blocked, so it stays pending).
 * The one global: a signal handler has no argument to carry it. */
static pthread_t waiting_thread;

static void forward_signal(int sig) { pthread_kill(waiting_thread, sig); }

static void forward_stop_signals(void) {
  waiting_thread = pthread_self();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

static void wait_for_stop(struct mes__server *srv, const sigset_t *set) {
  for (;;) {
    int sig = 0;
    if (sigwait(set, &sig) != 0)
      continue;
    if (sig != SIGHUP) {
      mes_log(srv->log, MES_LOG_INFO, "%s received: finishing in-flight requests",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
      return;
    }
    struct mes_err err;
    mes_err_clear(&err);
    if (mes_engine_reload(srv->engine, &err))
      mes_log(srv->log, MES_LOG_ERROR, "reload refused, the old policy stays: %s", mes_err_text(&err));
    else
      read_timeouts(srv);
  }
}

/* Stops accepting, waits (bounded) for requests under way, stops MHD. */
static void drain_and_stop(struct mes__server *srv, struct MHD_Daemon *d, struct mes__acceptor *acc) {
  atomic_store(&srv->stopping, true);
  mes__acceptor_stop(acc);
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += SHUTDOWN_GRACE_S;
  pthread_mutex_lock(&srv->mu);
  while (srv->in_flight > 0)
    if (pthread_cond_timedwait(&srv->idle, &srv->mu, &deadline) == ETIMEDOUT)
      break;
  unsigned left = srv->in_flight;
  /* MHD must not be stopped with suspended connections. A parked request
   * is resumed by the store's commit thread within one group commit (or at
   * once if the commit failed), so this wait is short and bounded. */
  while (srv->parked > 0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += 1;
    pthread_cond_timedwait(&srv->idle, &srv->mu, &t);
  }
  pthread_mutex_unlock(&srv->mu);
  if (left)
    mes_log(srv->log, MES_LOG_WARN, "stopping with %u requests unfinished after %d s", left, SHUTDOWN_GRACE_S);
  MHD_stop_daemon(d);
}

static int server_init(struct mes__server *srv, struct mes_engine *e, int rps, struct mes_err *err) {
  memset(srv, 0, sizeof *srv);
  srv->engine = e;
  srv->log = mes_engine_log(e);
  atomic_init(&srv->stopping, false);
  atomic_init(&srv->storage_full, false);
  atomic_init(&srv->head_timeout_ns, 0);
  atomic_init(&srv->body_timeout_ns, 0);
  read_timeouts(srv);
  const char **patterns = calloc(mes__n_routes + 1, sizeof *patterns);
  if (!patterns)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t i = 0; i < mes__n_routes; i++)
    patterns[i] = mes__routes[i].pattern;
  int rc = mes_metrics_new(patterns, mes__n_routes, &srv->metrics);
  free(patterns);
  if (rc)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (rps >= 0) {
    double r = rps == 0 ? DEFAULT_RPS : rps;
    if (mes__ratelimit_new(r, 2 * r, &srv->ratelimit)) {
      mes_metrics_free(srv->metrics);
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    }
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&srv->idle, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&srv->mu, NULL);
  return MES_OK;
}

static void server_release(struct mes__server *srv) {
  mes__deadlines_stop(&srv->deadlines); /* after MHD stopped: no connection is left */
  mes__ratelimit_free(srv->ratelimit);
  mes_metrics_free(srv->metrics);
  pthread_cond_destroy(&srv->idle);
  pthread_mutex_destroy(&srv->mu);
}

int mes_http_serve(struct mes_engine *e, const struct mes_http_opts *o, struct mes_err *err) {
  const char *listen_on = o->listen ? o->listen : DEFAULT_LISTEN;
  bool tls = o->tls_cert_path || o->tls_key_path;
  if (tls && (!o->tls_cert_path || !o->tls_key_path))
    return mes_err_set(err, MES_EUSAGE, NULL, "HTTPS needs both a certificate and a key.");
  if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
    return mes_err_set(err, MES_EUNAVAILABLE, NULL, "This build of libmicrohttpd has no TLS support.");

  char *cert = NULL, *key = NULL;
  int fd = -1, rc;
  bool ipv6 = false;
  if (tls && ((rc = mes__pem_read(o->tls_cert_path, "certificate", &cert, err)) ||
              (rc = mes__pem_read(o->tls_key_path, "key", &key, err)))) {
    mes__secret_free(cert);
    return rc;
  }
  struct mes__server srv;
  if ((rc = server_init(&srv, e, o->rate_limit_rps, err))) {
    mes__secret_free(cert);
    mes__secret_free(key);
    return rc;
  }
  if ((rc = mes__listen_open(listen_on, &fd, &ipv6, err)))
    goto out;
  if ((rc = mes__deadlines_start(&srv.deadlines, srv.metrics))) {
    close(fd);
    rc = mes_err_set(err, rc, NULL, "The server could not start its deadline thread.");
    goto out;
  }

  /* Blocked here, before MHD's threads exist, so that they inherit it. The
   * mask stays on return: a second Ctrl-C must not cut the caller's
   * mes_engine_close short. SIGPIPE is blocked for the writes to sockets
   * that peers closed. */
  sigset_t stop_set, block_set, old_set;
  forward_stop_signals();
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGHUP);
  block_set = stop_set;
  sigaddset(&block_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block_set, &old_set);

  struct MHD_OptionItem tls_opts[] = {
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
      {MHD_OPTION_END, 0, NULL},
  };
  /* MHD_USE_NO_LISTEN_SOCKET: the acceptor below accepts and hands over. */
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                   MHD_USE_NO_LISTEN_SOCKET;
  if (tls)
    flags |= MHD_USE_TLS;
  if (ipv6)
    flags |= MHD_USE_IPv6;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, &srv,
      /* the logger first, so that MHD reports even the other options' trouble through it */
      MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, &srv, MHD_OPTION_THREAD_POOL_SIZE,
      o->threads > 0 ? (unsigned)o->threads : POOL_THREADS_DEFAULT, MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_POOL_BYTES, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
      &srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
      MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
  if (!d) {
    close(fd);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL); /* nothing started: leave no trace */
    rc = mes_err_set(err, MES_EUNAVAILABLE, NULL,
                     tls ? "The server could not start: the TLS library refused the certificate or key."
                         : "The server could not start.");
    goto out;
  }

  struct mes__acceptor acc;
  if ((rc = mes__acceptor_start(&acc, fd, d, srv.log)) != MES_OK) {
    close(fd);
    MHD_stop_daemon(d);
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    rc = mes_err_set(err, rc, NULL, "The server could not start its accept thread.");
    goto out;
  }

  char addr[300];
  mes__listen_address(fd, addr, sizeof addr);
  fprintf(stderr, "mesura: listening on %s://%s\n", tls ? "https" : "http", addr);
  fflush(stderr);

  wait_for_stop(&srv, &stop_set);
  drain_and_stop(&srv, d, &acc);
  rc = MES_OK;
out:
  server_release(&srv);
  mes__secret_free(cert);
  mes__secret_free(key);
  return rc;
}
