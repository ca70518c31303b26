/*
 * engine/api_recs — the recommendation verbs of mesura.h (contract §6): an
 * answer, its decision record, and "why" for one person and one item.
 *
 * Each call takes one reference to the live model and keeps it to its end,
 * so a retrain swapping the model never changes an answer half-way.
 */
#include <string.h>

#include "base/id.h"
#include "engine/engine_int.h"
#include "recommend/recommend.h"

int mes_engine_recommend(struct mes_engine *e, struct mes_call *call, const struct mes_body *body, char **text,
                         size_t *len, struct mes_recommend_outcome *oc, struct mes_err *err) {
  *text = NULL;
  *len = 0;
  json_t *doc = NULL;
  /* Every member is optional, so no body at all asks for the defaults. */
  int rc = mes__body_given(body) ? mes__body_object(body, mes_recommend_fields, mes_recommend_n_fields, &doc, err)
                                 : ((doc = json_object()) ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL));
  if (rc)
    return rc;
  struct mes__call k;
  struct mes_rec_outcome o;
  memset(&o, 0, sizeof o);
  mes__call_begin(&k, e, call);
  rc = mes__call_own_doc(&k, doc, "", err); /* a browser token asks for its own person's answers only */
  if (!rc) {
    struct mes_model *m = mes_engine_model(e);
    rc = mes_recommend_text(mes_engine_recommender(e), &k.req, m, doc, k.lang, text, len, &o, err);
    mes_model_unref(m);
  }
  for (size_t i = 0; !rc && i < o.n_rules; i++)
    mes__tally_add(e, k.req.now_ms, "suppressions", o.by_rule[i].rule, (int64_t)o.by_rule[i].n);
  mes__call_end(&k);
  json_decref(doc);
  if (rc)
    return rc;
  if (oc) {
    memset(oc, 0, sizeof *oc);
    oc->personalized = o.personalized;
    oc->n_items = o.n_items;
    for (size_t i = 0; i < o.n_rules && i < MES_RECOMMEND_RULES_MAX; i++) {
      oc->by_rule[i].rule = o.by_rule[i].rule;
      oc->by_rule[i].n = o.by_rule[i].n;
      oc->n_rules++;
    }
  }
  return MES_OK;
}

int mes_engine_decision_get(struct mes_engine *e, struct mes_call *call, const char *request_id, size_t len,
                            json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  mes__call_begin(&k, e, call);
  /* "suppressed" names what the person bought or dismissed: for the host,
   * admin and audit keys only. */
  const struct mes_principal *who = k.call->who;
  bool privileged = !who || (!who->subject_token && (who->scopes & (MES_SCOPE_ADMIN | MES_SCOPE_AUDIT)));
  int rc = mes_recommend_record(mes_engine_recommender(e), &k.req, request_id, len, privileged, out, err);
  mes__call_end(&k);
  return rc;
}

int mes_engine_why(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                   const char *item, const char *channel, json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  if (!item)
    return mes_err_set(err, MES_EMISSING_FIELD, "/query/item", "Name the item to explain: ?item=ID.");
  size_t item_len = strlen(item);
  int rc = mes_id_check(item, item_len);
  if (rc)
    return mes_err_set(err, rc, "/query/item",
                       "An item id must be 1 to 128 bytes of UTF-8 without control characters.");
  enum mes_channel ch = MES_CH_WEB;
  if (channel) {
    int c = mes_channel_parse(channel, strlen(channel));
    if (c < 0)
      return mes_err_set(err, MES_EINVALID_VALUE, "/query/channel",
                         "channel must be one of web, app, email, ads, store.");
    ch = (enum mes_channel)c;
  }
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  if (!rc) {
    struct mes_model *m = mes_engine_model(e);
    rc = mes_recommend_why(mes_engine_recommender(e), &k.req, m, subject, subject_len, &s, item, item_len, ch, k.lang,
                           out, err);
    mes_model_unref(m);
  }
  mes__call_end(&k);
  return rc;
}
