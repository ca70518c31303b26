/*
 * http/h_static — the pages a person opens in a browser (/me, the
 * shopper's dashboard; /admin, the brand's console), the browser SDK that
 * brands load on their own pages (/sdk/mesura.js) and its example shop page
 * (/sdk/example.html), served from the copies compiled into the binary
 * (assets.h).
 *
 * No key is needed for these files: they hold no one's data. A page reads
 * the subject's token from its URL fragment, which a browser never sends,
 * and calls the API with it as its credential; the token never reaches a
 * query string, a Referer or the access log.
 *
 * Every file goes out with the headers that keep a page to itself: a
 * Content-Security-Policy that allows only this origin's scripts, styles and
 * API (no inline code, no third party, no framing), no Referer, and
 * (server.c) nosniff. The ETag is a hash of the file: a browser revalidates
 * (Cache-Control: no-cache) and gets 304 until the server is upgraded.
 * A file asked for with that hash, "?v=HASH" (the ETag without its quotes),
 * can never change under that URL: it is cached for a year without
 * revalidation, which spares a shop's every page view a request for
 * /sdk/mesura.js. Any other v (an older file's) gets the file in force,
 * revalidated as without it, so a page pinned to an old version still works.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/assets.h"
#include "http/endpoints.h"
#include "http/http_int.h"

#define CSP                                                                                                  \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "      \
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
#define ASSET_PATH_MAX 256
#define CACHE_PINNED "public, max-age=31536000, immutable"

const struct mes__asset *mes__asset_find(const char *path) {
  size_t lo = 0, hi = mes__n_assets;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(path, mes__assets[mid].path);
    if (c == 0)
      return &mes__assets[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

bool mes__etag_matches(const char *inm, const char *etag) {
  if (!inm)
    return false;
  size_t elen = strlen(etag);
  const char *p = inm;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return true;
    if (strncmp(p, "W/", 2) == 0)
      p += 2;
    size_t n = strcspn(p, ",");
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
      n--;
    if (n == elen && memcmp(p, etag, n) == 0)
      return true;
    p += strcspn(p, ",");
  }
  return false;
}

/* The asset a request names: the route's first segment is the folder under
 * web/ ("/me" for me/), its {*file} the file in it, and the folder alone
 * its index.html. */
static const struct mes__asset *requested(struct mes_http_req *req) {
  const char *pattern = mes__routes[req->route].pattern;
  size_t dir_len = strcspn(pattern + 1, "/");
  const char *file = mes_http_req_param(req, "file", NULL);
  char path[ASSET_PATH_MAX];
  int n = snprintf(path, sizeof path, "%.*s/%s", (int)dir_len, pattern + 1, file ? file : "index.html");
  if (n < 0 || (size_t)n >= sizeof path)
    return NULL;
  return mes__asset_find(path);
}

/* True when the request's ?v= is a's hash: its ETag without the quotes. */
static bool pinned(struct mes_http_req *req, const struct mes__asset *a) {
  const char *v = mes_http_req_query(req, "v");
  size_t n = strlen(a->etag) - 2;
  return v && strlen(v) == n && memcmp(v, a->etag + 1, n) == 0;
}

void mes__h_static(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  const struct mes__asset *a = requested(req);
  if (!a) {
    mes_err_set(&err, MES_ENOT_FOUND, NULL, "There is no such page.");
    mes_http_reply_error(resp, &err);
    return;
  }
  if (mes_http_resp_header(resp, "ETag", a->etag) ||
      mes_http_resp_header(resp, "Cache-Control", pinned(req, a) ? CACHE_PINNED : "no-cache") ||
      mes_http_resp_header(resp, "Content-Security-Policy", CSP) ||
      mes_http_resp_header(resp, "Referrer-Policy", "no-referrer")) {
    mes_err_set(&err, MES_ENOMEM, NULL, NULL);
    mes_http_reply_error(resp, &err);
    return;
  }
  if (mes__etag_matches(mes_http_req_header(req, "If-None-Match"), a->etag)) {
    mes_http_reply_text(resp, 304, NULL, "", 0);
    return;
  }
  mes_http_reply_text(resp, 200, a->content_type, (const char *)a->data, a->size);
}
