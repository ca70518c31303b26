/*
 * http/h_items — the catalog endpoints (contract §3, scope catalog): thin
 * adapters from a request to the catalog module and back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "http/endpoints.h"
#include "http/handler.h"

void mes__h_items_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = NULL;
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "item", &id_len);
  if (mes_http_req_json(req, mes_catalog_item_fields, mes_catalog_n_item_fields, &body, &err) ||
      mes_catalog_put(mes_http_req_ctx(req), id, id_len, body, &err)) {
    json_decref(body);
    mes_http_reply_error(resp, &err);
    return;
  }
  json_decref(body);
  json_t *out = NULL;
  if (mes_catalog_get(mes_http_req_ctx(req), id, id_len, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

void mes__h_items_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *body = NULL, *out = NULL;
  if (mes_http_req_json(req, mes_catalog_post_fields, mes_catalog_n_post_fields, &body, &err) ||
      mes_catalog_post(mes_http_req_ctx(req), body, &out, &err)) {
    json_decref(body);
    mes_http_reply_error(resp, &err);
    return;
  }
  json_decref(body);
  mes_http_localize_errors(req, json_object_get(out, "errors"));
  mes_http_reply_json(resp, 200, out);
}

void mes__h_items_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "item", &id_len);
  json_t *out = NULL;
  if (mes_catalog_get(mes_http_req_ctx(req), id, id_len, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

void mes__h_items_delete(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "item", &id_len);
  if (mes_catalog_delete(mes_http_req_ctx(req), id, id_len, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
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

void mes__h_items_list(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  int limit = MES_CATALOG_PAGE_DEFAULT;
  json_t *out = NULL;
  if (parse_limit(mes_http_req_query(req, "limit"), &limit, &err) ||
      mes_catalog_list(mes_http_req_ctx(req), limit, mes_http_req_query(req, "cursor"), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
