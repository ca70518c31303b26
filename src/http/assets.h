/*
 * http/assets — the pages under web/ and the browser SDK's script with its
 * example shop page (sdk/mesura.js, sdk/example.*), compiled into the server.
 *
 * The build (scripts/embed-web.cmake) turns every file under web/, and
 * those of sdk/, into one row of mes__assets, so the binary serves its own
 * pages without reading the disk and a page cannot drift from the server
 * that answers its calls.
 * h_static.c serves them.
 */
#ifndef MES_HTTP_ASSETS_H
#define MES_HTTP_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct mes__asset {
  const char *path;                /* as served, without the "/": "me/index.html", "sdk/mesura.js" */
  const char *content_type;        /* "text/html; charset=utf-8", ... */
  const unsigned char *data;       /* size bytes, then a NUL */
  size_t size;
  const char *etag;                /* a strong ETag, quotes included: "\"3f2a...\"" */
};

/* Read-only tables, sorted by path. */
extern const struct mes__asset mes__assets[];
extern const size_t mes__n_assets;

/* The asset at path ("me/index.html"), or NULL. Borrowed (static). */
const struct mes__asset *mes__asset_find(const char *path);

/* True when an If-None-Match value (a comma-separated list of entity tags,
 * or "*"; NULL when absent) names etag ("\"...\"", quotes included). Weak
 * tags (W/"...") match too: RFC 9110 §13.1.2 asks for the weak comparison.
 * inm comes from the client: any bytes up to its NUL are safe. */
bool mes__etag_matches(const char *inm, const char *etag);

#endif
