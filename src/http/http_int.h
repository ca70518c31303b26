/*
 * http/http_int — the module's insides, shared by its own files only: the
 * server, the request and reply records, the router, the rate limiter,
 * the listening socket and accept thread, and the per-request arena. Endpoint files (h_*.c) use handler.h instead.
 */
#ifndef MES_HTTP_INT_H
#define MES_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesura/mesura.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/log.h"
#include "http/handler.h"
#include "http/metrics.h"

#define MES_HTTP_BODY_MAX ((size_t)16 << 20) /* contract §2 */
#define MES_HTTP_MAX_PARAMS 8
#define MES_HTTP_MAX_HEADERS 8

/* ------------------------------------------------------------------ arena */

/* The request's scratch memory (mes_http_req_alloc, route parameters, reply
 * headers) is a base/arena whose first block lives inside the request, so a
 * typical request allocates nothing more. Its cap is the body's: nothing a
 * request keeps for itself comes near what its body may hold. */
#define MES_HTTP_ARENA_FIRST 1024
#define MES_HTTP_ARENA_CHUNK 4096
#define MES_HTTP_ARENA_MAX MES_HTTP_BODY_MAX

/* --------------------------------------------------------------- routing */

struct mes_http_param {
  const char *name; /* points into the route's pattern, not NUL-terminated */
  size_t name_len;
  char *value; /* arena, decoded, NUL-terminated */
  size_t len;
  bool rest; /* a {*name} parameter: not id-checked */
};

extern const struct mes_route mes__routes[];
extern const size_t mes__n_routes;

enum mes__match { MES__MATCH_OK, MES__MATCH_NO_PATH, MES__MATCH_BAD_METHOD, MES__MATCH_BAD_PARAM };

/*
 * Finds the route for method and raw (still escaped) path. On OK *route is
 * the row index and params[0..*n_params) are filled (values in the arena).
 * On BAD_METHOD, allow (cap bytes) lists the methods of the path, "GET, PUT".
 * On BAD_PARAM, err says which parameter (400 invalid_id / invalid_utf8).
 * MES_ENOMEM comes back as BAD_PARAM with err->rc MES_ENOMEM.
 */
enum mes__match mes__route_match(const char *method, const char *path, struct mes_arena *arena, int *route,
                                 struct mes_http_param *params, size_t *n_params, char *allow, size_t allow_cap,
                                 struct mes_err *err);

/* ----------------------------------------------------------- rate limits */

struct mes__ratelimit;

/* A token bucket per key: `rps` tokens a second, at most `burst`. *out new. */
int mes__ratelimit_new(double rps, double burst, struct mes__ratelimit **out);
void mes__ratelimit_free(struct mes__ratelimit *rl);
/* Takes one token for `key` (shorter than 96 bytes). True when allowed; otherwise *retry_after_s is
 * how long (whole seconds, at least 1) until a token is there. Any thread. */
bool mes__ratelimit_take(struct mes__ratelimit *rl, const char *key, uint64_t now_ns, int *retry_after_s);

/* ------------------------------------------------------------ deadlines */

/* What a connection is waiting for (deadline.c): a request's head, its body,
 * or the head of the next request on a kept-alive connection. */
enum mes__phase { MES__PHASE_HEAD = 0, MES__PHASE_BODY, MES__PHASE_NEXT_HEAD };

/* One TCP connection (MHD's socket context), on the list of deadlines. */
struct mes__conn {
  struct mes__conn *prev, *next; /* guarded by mes__deadlines.mu */
  int fd;
  _Atomic uint64_t due_ns; /* CLOCK_MONOTONIC; 0: no deadline now */
  atomic_int phase;        /* an enum mes__phase, for the metric */
};

/* The connections of a server and the thread that closes those past their
 * deadline, counting them in mesura_http_deadline_closed_total{phase}. */
struct mes__deadlines {
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* wakes the sweeper: a first connection, or stop */
  struct mes__conn conns; /* list head (sentinel) */
  struct mes_metrics *metrics; /* borrowed */
  pthread_t thread;
  bool stop, running;
};

/* Starts the sweeper. MES_ENOMEM when no thread can start. */
int mes__deadlines_start(struct mes__deadlines *dl, struct mes_metrics *metrics);
/* Stops it; call after MHD has stopped (every connection closed). No-op when
 * not started. */
void mes__deadlines_stop(struct mes__deadlines *dl);
/* A new connection on socket fd, its head due at due_ns. New (freed by
 * mes__conn_close); NULL when out of memory (no deadline then). Any thread. */
struct mes__conn *mes__conn_open(struct mes__deadlines *dl, int fd, uint64_t due_ns);
/* Takes c off the list and frees it: call before the socket is closed.
 * NULL-safe. */
void mes__conn_close(struct mes__deadlines *dl, struct mes__conn *c);
/* Sets c's deadline (0: none) and what it waits for. NULL-safe; lock-free. */
void mes__conn_due(struct mes__conn *c, enum mes__phase phase, uint64_t due_ns);

/* ------------------------------------------------------------- listening */

/* A listening socket bound to addr ("HOST:PORT" or "[V6]:PORT"), O_NONBLOCK
 * and close-on-exec: *fd_out is new (the caller closes it), *ipv6 says its
 * family. MES_EUSAGE for a malformed or unresolvable address, MES_EIO when
 * it cannot be bound. */
int mes__listen_open(const char *addr, int *fd_out, bool *ipv6, struct mes_err *err);
/* "127.0.0.1:8080" or "[::1]:8080" of a bound socket, into out (cap bytes). */
void mes__listen_address(int fd, char *out, size_t cap);
/* Reads a whole PEM file (at most 1 MiB) into *out (new, NUL-terminated;
 * free it with mes__secret_free). `what` names it in errors ("key"). */
int mes__pem_read(const char *path, const char *what, char **out, struct mes_err *err);
/* Wipes and frees a secret from mes__pem_read. NULL-safe. */
void mes__secret_free(char *s);

/* The accept thread: accepts on the listening socket and hands each
 * connection to MHD (listen.c says why MHD does not accept by itself). */
struct mes__acceptor {
  int lfd;     /* the listening socket (non-blocking); owned */
  int wake[2]; /* a pipe: a byte written to wake[1] stops the loop */
  struct MHD_Daemon *d; /* borrowed */
  const struct mes_log *log; /* borrowed */
  pthread_t thread;
  bool running;
};

/* Starts accepting on lfd (taken over) for d. The thread inherits the
 * caller's signal mask. MES_EIO or MES_ENOMEM when it cannot start (lfd is
 * then still the caller's). */
int mes__acceptor_start(struct mes__acceptor *a, int lfd, struct MHD_Daemon *d, const struct mes_log *log);
/* Stops accepting and closes the listening socket: new clients are refused
 * from here on, connections already handed to MHD go on. */
void mes__acceptor_stop(struct mes__acceptor *a);

/* ---------------------------------------------------------------- server */

struct mes__server {
  struct mes_engine *engine;       /* borrowed */
  const struct mes_log *log;       /* the engine's sink */
  struct mes_metrics *metrics;     /* owned */
  struct mes__ratelimit *ratelimit; /* owned; NULL when off */
  atomic_bool stopping;            /* set once SIGINT/SIGTERM arrived */
  atomic_bool storage_full;        /* a write was refused for a full disk, and none succeeded since */
  _Atomic uint64_t head_timeout_ns; /* serving.header_timeout_s of the current policy */
  _Atomic uint64_t body_timeout_ns; /* serving.body_timeout_s */
  struct mes__deadlines deadlines;
  pthread_mutex_t mu;              /* guards in_flight, signals idle */
  pthread_cond_t idle;
  unsigned in_flight; /* requests begun and not yet completed */
  unsigned parked;    /* of which suspended, waiting for their commit */
};

struct mes_http_resp {
  struct mes_http_req *req; /* owner, for the arena */
  int status;               /* 0 until a reply helper ran */
  char *body;               /* malloc'd, owned; NULL for an empty body */
  size_t body_len;
  const char *content_type; /* static string */
  struct {
    const char *name, *value; /* arena */
  } headers[MES_HTTP_MAX_HEADERS];
  size_t n_headers;
};

struct mes_http_req {
  struct mes__server *srv;
  struct MHD_Connection *conn;
  const char *method;       /* MHD's string: use only while MHD calls on_request */
  const char *method_label; /* static: "GET", ... or "OTHER" (metrics, log) */
  uint64_t start_ns;
  int route; /* index in mes__routes, -1 when unmatched */
  struct mes_http_param params[MES_HTTP_MAX_PARAMS];
  size_t n_params;

  bool has_principal;
  struct mes_principal principal;
  char ratelimit_key[96];

  struct mes_buf body;    /* capped at MES_HTTP_BODY_MAX */
  uint64_t discarded;     /* body bytes read and dropped after an error */
  struct mes_err pending; /* rc != MES_OK: answer this instead of the handler */

  struct mes_call call; /* for the handler's verb; filled before it runs */
  bool gpc;
  char pseudonym[17]; /* for the access log; "" when none */

  bool queued; /* a response went to MHD */
  bool close;   /* the reply closes the connection (the request's framing is in doubt) */
  bool chunked; /* the body comes with Transfer-Encoding: chunked */
  bool cors;    /* Origin names an allowed origin: the reply names it back (server.c) */
  struct mes__conn *tconn; /* the connection's deadline; NULL when none could be kept */

  /* Parking (mes_http_resp_hold): the reply waits for a durable commit. */
  uint64_t hold_ticket; /* 0: nothing to wait for */
  bool parked;          /* suspended; on_request must not reply until resumed */
  atomic_int durable_rc; /* set by the commit thread before it resumes us */
  struct mes_arena arena; /* over arena_first, then chunks */
  struct mes_http_resp resp;
  _Alignas(max_align_t) char arena_first[MES_HTTP_ARENA_FIRST];
};

/* The method as a bounded label for metrics and logs ("GET" ... or "OTHER"). */
const char *mes__method_label(const char *method);

#endif
