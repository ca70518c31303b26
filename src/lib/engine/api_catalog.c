/*
 * engine/api_catalog — the catalog verbs of mesura.h (contract §3) over the
 * catalog module.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "engine/engine_int.h"
#include "store/store.h"

int mes_engine_item_put(struct mes_engine *e, struct mes_call *call, const char *item, size_t item_len,
                        const struct mes_body *body, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  json_t *doc = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__body_object(body, mes_catalog_item_fields, mes_catalog_n_item_fields, &doc, err);
  if (!rc)
    rc = mes_catalog_put(e->catalog, &k.req, item, item_len, doc, err);
  json_decref(doc);
  if (!rc && out)
    rc = mes_catalog_get(e->catalog, &k.req, item, item_len, out, err);
  mes__call_end(&k);
  return rc;
}

int mes_engine_items_post(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, json_t **out,
                          struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  json_t *doc = NULL, *reply = NULL;
  mes__call_begin(&k, e, call);
  int rc = mes__body_object(body, mes_catalog_post_fields, mes_catalog_n_post_fields, &doc, err);
  if (!rc)
    rc = mes_catalog_post(e->catalog, &k.req, doc, &reply, err);
  json_decref(doc);
  mes__call_end(&k);
  if (out && !rc)
    *out = reply;
  else
    json_decref(reply);
  return rc;
}

int mes_engine_item_get(struct mes_engine *e, struct mes_call *call, const char *item, size_t item_len, json_t **out,
                        struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  mes__call_begin(&k, e, call);
  int rc = mes_catalog_get(e->catalog, &k.req, item, item_len, out, err);
  mes__call_end(&k);
  return rc;
}

int mes_engine_item_delete(struct mes_engine *e, struct mes_call *call, const char *item, size_t item_len,
                           struct mes_err *err) {
  struct mes__call k;
  mes__call_begin(&k, e, call);
  int rc = mes_catalog_delete(e->catalog, item, item_len, err);
  mes__call_end(&k);
  return rc;
}

/* limit: digits only, 1..MES_CATALOG_PAGE_MAX; absent: the default. */
static int parse_limit(const char *s, int *out, struct mes_err *err) {
  if (!s) {
    *out = MES_CATALOG_PAGE_DEFAULT;
    return MES_OK;
  }
  size_t n = strlen(s);
  if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
    return mes_err_set(err, MES_EWRONG_TYPE, "/query/limit", "limit must be a whole number between 1 and %d.",
                       MES_CATALOG_PAGE_MAX);
  errno = 0;
  long v = strtol(s, NULL, 10);
  if (errno || v < 1 || v > MES_CATALOG_PAGE_MAX)
    return mes_err_set(err, MES_EOUT_OF_RANGE, "/query/limit", "limit must be between 1 and %d.",
                       MES_CATALOG_PAGE_MAX);
  *out = (int)v;
  return MES_OK;
}

int mes_engine_items_list(struct mes_engine *e, struct mes_call *call, const char *limit, const char *cursor,
                          json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  int n = MES_CATALOG_PAGE_DEFAULT;
  int rc = parse_limit(limit, &n, err);
  if (rc)
    return rc;
  struct mes__call k;
  mes__call_begin(&k, e, call);
  rc = mes_catalog_list(e->catalog, &k.req, n, cursor, out, err);
  mes__call_end(&k);
  return rc;
}

int64_t mes_engine_item_count(struct mes_engine *e) { return mes_store_item_count(mes_engine_store(e)); }
