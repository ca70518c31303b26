/*
 * http — the HTTP API server over one engine (contract §2): libmicrohttpd
 * underneath, a routing table of endpoints on top (routes.c, handler.h),
 * each a thin adapter to one verb of the public API (include/mesura/mesura.h),
 * which is all this module sees of the library.
 *
 * The CLI's `mesura serve` maps its flags to struct mes_http_opts and calls
 * mes_http_serve, which owns the calling thread until the process is told to
 * stop.
 */
#ifndef MES_HTTP_H
#define MES_HTTP_H

#include <mesura/mesura.h>

struct mes_http_opts {
  const char *listen;        /* "HOST:PORT" ("[::1]:PORT" for IPv6); NULL: 127.0.0.1:8080; port 0: ephemeral */
  const char *tls_cert_path; /* PEM certificate chain; HTTPS when set (with tls_key_path) */
  const char *tls_key_path;  /* PEM private key; both or neither */
  int rate_limit_rps;        /* per key: 0 = default 1000 req/s (burst 2x); negative = off */
  int threads;               /* worker threads; 0 = default (16) */
};

/*
 * Serves the API until SIGINT or SIGTERM. Prints one line
 * "mesura: listening on http(s)://HOST:PORT" (the actual port) to stderr once
 * the socket listens. SIGHUP reloads mesura.yaml through mes_engine_reload; a
 * bad file is logged and the old policy stays.
 *
 * On SIGINT/SIGTERM it stops accepting, lets in-flight requests finish and
 * their replies go out (up to 10 s), then returns 0. The engine stays open:
 * the caller closes it.
 *
 * Must be called from the main thread, and every thread that exists before
 * it must block SIGINT, SIGTERM and SIGHUP (else the kernel may hand a signal
 * to that thread, whose default action ends the process): it blocks them in
 * the calling thread, so the server's threads inherit the mask, and waits for
 * them with sigwait(). They stay blocked on return, so that a second Ctrl-C
 * cannot cut the caller's mes_engine_close short (SIGPIPE is blocked too).
 *
 * Errors (in err, nothing started): MES_EUSAGE for a bad listen address or
 * only one of the TLS paths, MES_EIO when the certificate or key cannot be
 * read or the address cannot be bound, MES_EUNAVAILABLE when the server cannot
 * start (TLS not built in, a certificate the TLS library refuses).
 */
int mes_http_serve(struct mes_engine *e, const struct mes_http_opts *o, struct mes_err *err);

#endif
