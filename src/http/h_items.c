/*
 * http/h_items — the catalog endpoints (contract §3, scope catalog): thin
 * adapters from a request to the catalog verbs of mesura.h and back.
 */
#include "http/endpoints.h"
#include "http/handler.h"

void mes__h_items_put(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_body_verb(req, resp, "item", mes_engine_item_put);
}

void mes__h_items_post(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  struct mes_body body = mes_http_req_doc(req);
  if (mes_engine_items_post(mes_http_req_engine(req), mes_http_req_call(req), &body, &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_localize_errors(req, json_object_get(out, "errors"));
  mes_http_reply_json(resp, 200, out);
}

void mes__h_items_get(struct mes_http_req *req, struct mes_http_resp *resp) {
  mes_http_run_id_verb(req, resp, "item", mes_engine_item_get);
}

void mes__h_items_delete(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  size_t id_len = 0;
  const char *id = mes_http_req_param(req, "item", &id_len);
  if (mes_engine_item_delete(mes_http_req_engine(req), mes_http_req_call(req), id, id_len, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
}

void mes__h_items_list(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  if (mes_engine_items_list(mes_http_req_engine(req), mes_http_req_call(req), mes_http_req_query(req, "limit"),
                            mes_http_req_query(req, "cursor"), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}
