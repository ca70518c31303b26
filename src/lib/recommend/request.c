/*
 * recommend/request — the shape of POST /v1/recommendations (contract §6):
 * one field table per level, checked by mes_json_check, plus the one rule a
 * table cannot say (a known channel).
 */
#include <stdlib.h>
#include <string.h>

#include "recommend/rec_int.h"

const struct mes_jfield mes_recommend_fields[] = {
    {"subject", MES_J_ID, false, 0, 0},
    {"anonymous_id", MES_J_ID, false, 0, 0},
    {"placement", MES_J_ID, false, 0, 0},
    {"channel", MES_J_STRING, false, 1, 32},
    {"count", MES_J_INT, false, 1, MES_REC_COUNT_MAX},
    {"context", MES_J_OBJECT, false, 0, 0},
    {"categories", MES_J_IDS, false, 0, MES_REC_CATEGORIES_MAX},
    {"exclude", MES_J_IDS, false, 0, MES_REC_EXCLUDE_MAX},
};
const size_t mes_recommend_n_fields = sizeof mes_recommend_fields / sizeof mes_recommend_fields[0];

const struct mes_jfield mes_recommend_context_fields[] = {
    {"item", MES_J_ID, false, 0, 0},
    {"authenticated", MES_J_BOOL, false, 0, 0},
    {"device_shared", MES_J_BOOL, false, 0, 0},
};
const size_t mes_recommend_n_context_fields =
    sizeof mes_recommend_context_fields / sizeof mes_recommend_context_fields[0];

int mes_recommend_parse(const json_t *body, struct mes_rec_request *req, struct mes_err *err) {
  memset(req, 0, sizeof *req);
  int rc = mes_json_check(body, mes_recommend_fields, mes_recommend_n_fields, "", err);
  if (rc)
    return rc;
  const json_t *ctx = json_object_get(body, "context");
  if (ctx && !json_is_null(ctx) &&
      (rc = mes_json_check(ctx, mes_recommend_context_fields, mes_recommend_n_context_fields, "/context", err)))
    return rc;

  const json_t *v;
  if ((v = json_object_get(body, "subject")) && json_is_string(v)) {
    req->subject = json_string_value(v);
    req->subject_len = json_string_length(v);
  }
  if ((v = json_object_get(body, "anonymous_id")) && json_is_string(v)) {
    req->anonymous_id = json_string_value(v);
    req->anonymous_len = json_string_length(v);
  }
  req->placement = mes_json_str(body, "placement", "default");
  req->channel = MES_CH_WEB;
  if ((v = json_object_get(body, "channel")) && json_is_string(v)) {
    int ch = mes_channel_parse(json_string_value(v), json_string_length(v));
    if (ch < 0)
      return mes_err_set(err, MES_EINVALID_VALUE, "/channel",
                         "channel must be one of web, app, email, ads, store.");
    req->channel = (enum mes_channel)ch;
  }
  req->count = (int)mes_json_int(body, "count", MES_REC_COUNT_DEFAULT);
  if (json_is_object(ctx)) {
    if ((v = json_object_get(ctx, "item")) && json_is_string(v)) {
      req->context_item = json_string_value(v);
      req->context_item_len = json_string_length(v);
    }
    req->authenticated = mes_json_bool(ctx, "authenticated", true);
    req->device_shared = mes_json_bool(ctx, "device_shared", false);
  } else {
    req->authenticated = true;
  }
  /* Any category an item may carry may filter: undeclared ones are ordinary. */
  if ((v = json_object_get(body, "categories")) && json_is_array(v))
    req->categories = v;
  if ((v = json_object_get(body, "exclude")) && json_is_array(v))
    req->exclude = v;
  return MES_OK;
}
