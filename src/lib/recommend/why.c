/*
 * recommend/why — GET /v1/subjects/{s}/why?item=X: the same facts, sources
 * and rules as a real request, asked about one item. The answer says
 * whether X would be recommended and why, lists every piece of the person's
 * data that counts towards it (with event ids, so each can be deleted),
 * whether a rule would hold it back, and what the person can do.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "consent/consent.h"
#include "recommend/rec_int.h"

/* Appends a path segment, percent-encoding everything but unreserved bytes. */
static void seg(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = strlen(out);
  for (; *s && o + 4 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
        ch == '_' || ch == '.' || ch == '~') {
      out[o++] = (char)ch;
    } else {
      out[o++] = '%';
      out[o++] = hex[ch >> 4];
      out[o++] = hex[ch & 15];
    }
  }
  out[o] = '\0';
}

/* Appends {"action", "text", "method", "path"[, key: value][, "body"]} to
 * acts. `body` (taken over) is the JSON to send, NULL when the request has
 * none (with_body false) or memory ran out (with_body true). Each action
 * names the exact request that does it, callable with the person's own token
 * (routes marked MES_ROUTE_SELF) and changing nothing else they told us. */
static int add_action(json_t *acts, const char *action, const char *text, const char *method, const char *path,
                      const char *key, const char *value, bool with_body, json_t *body) {
  if (with_body && !body)
    return MES_ENOMEM;
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "action", action, "text", text, "method", method, "path", path);
  if (o && key && json_object_set_new(o, key, json_string(value))) {
    json_decref(o);
    o = NULL;
  }
  if (o && body && json_object_set(o, "body", body)) {
    json_decref(o);
    o = NULL;
  }
  json_decref(body);
  return !o || json_array_append_new(acts, o) ? MES_ENOMEM : MES_OK;
}

/* Whether a dismissal of `item` would be kept and is not there already: it
 * is a `dismiss` event, stored only under a purpose it serves that the
 * person grants (the gate of POST /v1/events), so the action is offered
 * only when it would work. */
static bool may_dismiss(const struct rec_state *s, const char *item) {
  const struct mes_policy *p = s->c->policy;
  int t = mes_policy_event_type(p, "dismiss", 7);
  if (t < 0 || !s->known || s->subj.row.restricted)
    return false;
  if (!(mes_consent_effective(s->c, s->subj.row.granted) & p->event_types[t].purposes))
    return false;
  for (size_t i = 0; i < s->n_hist; i++)
    if (s->hist[i].kind == MES_KIND_DISMISS && strcmp(s->hist[i].ev->item, item) == 0)
      return false;
  return true;
}

/* {"<op>": {"<list>": [value]}}: a PATCH of the preferences that touches one
 * list. New reference or NULL. */
static json_t *patch_body(const char *op, const char *list, json_t *values) {
  return values ? json_pack("{s:{s:o}}", op, list, values) : NULL;
}

static json_t *actions(struct rec_state *s, const char *subject, const char *item, const struct mes_item_facts *f,
                       const struct mes_cand *cd, const json_t *data_used) {
  json_t *acts = json_array();
  if (!acts)
    return NULL;
  const struct mes_policy *p = s->c->policy;
  enum mes_lang l = s->lang;
  char base[512] = "/v1/subjects/", path[1024], prefs[1024];
  seg(base, sizeof base, subject);
  snprintf(prefs, sizeof prefs, "%s/preferences", base);
  int rc = MES_OK;
  if (f && may_dismiss(s, item))
    rc = add_action(acts, "dismiss", mes_explain_why(MES_WHY_ACT_DISMISS, l), "PATCH", prefs, NULL, NULL,
                    true, json_pack("{s:[s]}", "dismiss", item));
  /* Withdrawing any purpose the channel needs stops personal answers. */
  for (size_t i = 0; !rc && s->personalized && i < p->n_purposes && i < MES_MAX_PURPOSES; i++) {
    if (!(s->need & (1u << i)))
      continue;
    snprintf(path, sizeof path, "%s/consents/", base);
    seg(path, sizeof path, p->purposes[i].name);
    rc = add_action(acts, "withdraw_consent", mes_explain_why(MES_WHY_ACT_WITHDRAW, l), "PUT", path, "purpose",
                    p->purposes[i].name, true, json_pack("{s:s}", "status", "denied"));
  }
  for (size_t i = 0; !rc && f && i < f->n_cats; i++) {
    bool already = false;
    for (size_t j = 0; j < s->n_excluded; j++)
      already |= strcmp(s->excluded[j], f->cats[i]) == 0;
    if (!already)
      rc = add_action(acts, "exclude_category", mes_explain_why(MES_WHY_ACT_EXCLUDE, l), "PATCH", prefs, "category",
                      f->cats[i], true, patch_body("add", "exclude_categories", json_pack("[s]", f->cats[i])));
  }
  if (!rc && f && cd && cd->reason == MES_REASON_YOU_TOLD_US && cd->disclosure == MES_DISCLOSE_EXPLICIT) {
    /* The item's categories that the person named as interests: removing those takes this reason away. */
    json_t *told = json_array();
    for (size_t i = 0; told && i < f->n_cats; i++)
      for (size_t j = 0; j < s->n_interests; j++)
        if (s->interests[j] && strcmp(s->interests[j], f->cats[i]) == 0 &&
            json_array_append_new(told, json_string(f->cats[i]))) {
          json_decref(told);
          told = NULL;
          break;
        }
    if (!told)
      rc = MES_ENOMEM;
    else if (json_array_size(told))
      rc = add_action(acts, "change_interests", mes_explain_why(MES_WHY_ACT_INTERESTS, l), "PATCH", prefs, NULL,
                      NULL, true, patch_body("remove", "interests", told));
    else
      json_decref(told);
  }
  size_t i;
  const json_t *d;
  json_array_foreach(data_used, i, d) {
    const char *eid = mes_json_str(d, "event_id", NULL);
    if (rc || !eid)
      continue;
    snprintf(path, sizeof path, "%s/events/", base);
    seg(path, sizeof path, eid);
    rc = add_action(acts, "delete_event", mes_explain_why(MES_WHY_ACT_DELETE_EVENT, l), "DELETE", path, "event_id",
                    eid, false, NULL);
  }
  if (rc) {
    json_decref(acts);
    return NULL;
  }
  return acts;
}

int mes_recommend_why(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m,
                      const char *subject_id, size_t id_len, const struct mes_subject *subj, const char *item,
                      size_t item_len, enum mes_channel ch, enum mes_lang lang, json_t **out, struct mes_err *err) {
  *out = NULL;
  (void)subj; /* resolved again below, the way a request resolves it */
  struct rec_state s;
  memset(&s, 0, sizeof s);
  s.c = c;
  s.m = m;
  s.r = r;
  s.lang = lang >= 0 && lang < MES_LANG_N ? lang : MES_LANG_EN;
  s.why_mode = true;
  s.req = (struct mes_rec_request){.subject = subject_id, .subject_len = id_len, .placement = "why",
                                   .channel = ch, .count = 1, .authenticated = true};
  json_t *o = NULL;
  char *item_z = NULL;
  int rc = mes__rec_facts(&s, err);
  if (rc)
    goto done;
  rc = MES_ENOMEM;
  if (mes__rec_candidates(&s) || !(item_z = mes_arena_strndup(&s.arena, item, item_len)))
    goto oom;
  int32_t k = mes__rec_cand_for_item(&s, item_z, item_len);
  if (k < 0 || mes__rec_prune(&s, SIZE_MAX)) /* nothing pruned: only makes the candidates */
    goto oom;
  mes__rec_settle(&s, (size_t)k, (size_t)k + 1); /* the one asked about: the others are not shown */
  bool oom = false;
  const struct mes_item_facts *f = mes__rec_item(&s, item_z, &oom);
  if (oom)
    goto oom;
  struct mes_cand one = s.cands[k];
  if (f)
    one.facts = *f;
  bool in_catalog = f != NULL, available = f && f->available;
  if (in_catalog)
    mes_guard_run(&s.facts, &one, 1);
  bool has_signal = one.score > 0 || one.reason == MES_REASON_EDITORIAL;
  bool recommended = available && !one.dropped && has_signal;
  enum mes_why_text head = !in_catalog ? MES_WHY_UNKNOWN_ITEM
                           : !available ? MES_WHY_UNAVAILABLE
                           : one.dropped ? MES_WHY_SUPPRESSED
                           : has_signal  ? MES_WHY_RECOMMENDED
                                         : MES_WHY_NOT_RECOMMENDED;
  json_t *reason = in_catalog ? mes__rec_reason_json(&s, &one, &s.cx[k]) : json_null();
  json_t *used = mes__rec_based_json(&s, &one, &s.cx[k], true, true);
  json_t *acts = used ? actions(&s, subject_id, item_z, f, &one, used) : NULL;
  json_t *sup = json_null();
  if (one.dropped) {
    const char *t = mes_explain_rule(one.rule, s.lang);
    json_decref(sup);
    sup = json_pack("{s:s, s:s, s:s}", "rule", one.rule ? one.rule : "", "detail", one.detail, "text",
                    t ? t : one.detail);
  }
  char title[MES_EXPLAIN_TEXT];
  bool has_title = in_catalog && mes_catalog_title(r->catalog, item_z, item_len, s.lang, title, sizeof title) == 0;
  const char *used_text = json_array_size(used) ? mes_explain_why(MES_WHY_DATA_USED, s.lang)
                          : s.personalized      ? mes_explain_why(MES_WHY_NO_DATA_USED, s.lang)
                                                : mes_explain_why(MES_WHY_NOT_PERSONAL, s.lang);
  if (!reason || !used || !acts || !sup) {
    json_decref(reason);
    json_decref(used);
    json_decref(acts);
    json_decref(sup);
    goto oom;
  }
  o = json_pack("{s:s%, s:s%, s:o, s:b, s:b, s:b, s:b, s:s, s:o, s:o, s:s, s:o, s:o}", "subject", subject_id, id_len,
                "item", item, item_len, "title", has_title ? json_string(title) : json_null(), "in_catalog",
                in_catalog, "available", available, "personalized", s.personalized, "recommended", recommended,
                "text", mes_explain_why(head, s.lang), "reason", reason, "data_used", used, "data_used_text",
                used_text, "suppressed", sup, "actions", acts);
  if (!o)
    goto oom;
  *out = o;
  rc = MES_OK;
  if (s.known && s.personalized) /* a non-personal answer read no history */
    mes__rec_access_note(r, c, s.subj.row.id, subject_id, id_len, MES_ACCESS_WHY);
  goto done;
oom:
  rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
done:
  mes__rec_state_release(&s);
  return rc;
}
