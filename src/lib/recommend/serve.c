/*
 * recommend/serve — POST /v1/recommendations: facts, candidates, the
 * caller's filters, the guardrails, the `count` best, their reasons, and the
 * decision record handed to the background writer.
 *
 * The caller's filters (exclude, categories, the item on screen,
 * availability) run before the guardrails: they are instructions, not
 * suppression, so the record's "suppressed" lists only what a rule removed.
 * When too few candidates survive, the non-personal fill adds more and the
 * rules run over the newcomers, until `count` stand or the lists run out.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jw.h"
#include "base/mtime.h"
#include "recommend/decrec.h"
#include "recommend/rec_int.h"

/* ---------------------------------------------------------------- reasons */

static const char *type_name(const struct rec_state *s, int type) {
  const struct mes_policy *p = s->c->policy;
  return type >= 0 && (size_t)type < p->n_event_types ? p->event_types[type].name : "event";
}

/* The title of item in the request's language (the id when not in the
 * catalog). */
static void title_of(struct rec_state *s, const char *item, char *out, size_t cap) {
  if (mes_catalog_title(s->r->catalog, item, strlen(item), s->lang, out, cap) != MES_OK)
    snprintf(out, cap, "%s", item);
}

static const char *category_label(const struct rec_state *s, const char *name) {
  const struct mes_policy *p = s->c->policy;
  int k = mes_policy_category(p, name, strlen(name));
  if (k < 0)
    return name;
  const struct mes_category *cat = &p->categories[k];
  if (cat->label[s->lang])
    return cat->label[s->lang];
  return cat->label[MES_LANG_EN] ? cat->label[MES_LANG_EN] : name;
}

static bool shows_personal(const struct mes_cand *cd) {
  return cd->disclosure == MES_DISCLOSE_EXPLICIT && mes_reason_is_personal(cd->reason);
}

/* Caps the text of one request (reply and record): a reply of
 * MES_REC_COUNT_MAX items with their longest reasons and a record naming
 * every candidate stay far below it; it bounds a mistake, not a load. */
#define REC_TEXT_MAX ((size_t)16 << 20)

/* based_on of cd: the history entries and named interests its reason cites
 * (every part the guard left in the score when `all`, for why), each with
 * its event id when with_event_id. */
static void write_based(struct rec_state *s, struct mes_jw *w, const struct mes_cand *cd, const struct rec_cand_x *x,
                        bool all, bool with_event_id) {
  mes_jw_array(w);
  size_t limit = all ? (size_t)-1 : MES_GUARD_MAX_BASED, n = 0;
  /* A named interest first when it is the reason: it is what the text says. */
  for (int pass = 0; pass < 2 && shows_personal(cd); pass++) {
    bool interests = (pass == 0) == (cd->reason == MES_REASON_YOU_TOLD_US);
    if (interests) {
      for (size_t j = 0; j < x->n_contrib && n < limit; j++) {
        int32_t h = x->contrib[j].hist;
        if (h >= 0)
          continue;
        mes_jw_object(w);
        mes_jw_key(w, "type");
        mes_jw_string(w, "interest");
        mes_jw_key(w, "category");
        mes_jw_string(w, s->interests[-1 - h]);
        mes_jw_object_end(w);
        n++;
      }
      continue;
    }
    /* History entries: the guard's citations, or for "why" every part the
     * guard left in the score (a rule may have removed some). */
    size_t m = all ? cd->n_contrib : cd->n_based;
    for (size_t j = 0; j < m && n < limit; j++) {
      int32_t h = all ? (int32_t)cd->contrib[j].hist : (int32_t)cd->based_on[j].hist;
      if (h < 0 || (size_t)h >= s->n_hist)
        continue;
      const struct mes_hist *e = &s->hist[h];
      char ts[32];
      mes_time_format(e->ev->ts_ms, ts);
      mes_jw_object(w);
      mes_jw_key(w, "type");
      mes_jw_string(w, type_name(s, e->ev->type));
      mes_jw_key(w, "item");
      mes_jw_string(w, e->ev->item);
      mes_jw_key(w, "ts");
      mes_jw_string(w, ts);
      if (with_event_id && s->hist_x[h].event_id) {
        mes_jw_key(w, "event_id");
        mes_jw_string(w, s->hist_x[h].event_id);
      }
      mes_jw_object_end(w);
      n++;
    }
  }
  mes_jw_array_end(w);
}

/* The reason of cd: {"code", "text", "based_on"}. */
static void write_reason(struct rec_state *s, struct mes_jw *w, const struct mes_cand *cd, const struct rec_cand_x *x) {
  char subject[MES_EXPLAIN_TEXT] = "", text[MES_EXPLAIN_TEXT];
  enum mes_kind kind = MES_KIND_VIEW;
  bool implicit = cd->disclosure == MES_DISCLOSE_IMPLICIT;
  switch (cd->reason) {
  case MES_REASON_BOUGHT_TOGETHER:
  case MES_REASON_BECAUSE_YOU_VIEWED:
    /* The strongest cited history item of the kind the reason speaks of. */
    for (size_t j = 0; j < cd->n_based; j++) {
      const struct mes_hist *h = &s->hist[cd->based_on[j].hist];
      bool bought = h->kind == MES_KIND_PURCHASE;
      if (bought == (cd->reason == MES_REASON_BOUGHT_TOGETHER)) {
        title_of(s, h->ev->item, subject, sizeof subject);
        kind = h->kind;
        break;
      }
    }
    break;
  case MES_REASON_BUY_AGAIN:
    if (cd->n_based) { /* the purchase of the item itself */
      title_of(s, s->hist[cd->based_on[0].hist].ev->item, subject, sizeof subject);
      kind = MES_KIND_PURCHASE;
    }
    break;
  case MES_REASON_YOU_TOLD_US:
    for (size_t j = 0; j < x->n_contrib; j++) {
      if (x->contrib[j].hist < 0) {
        snprintf(subject, sizeof subject, "%s", category_label(s, s->interests[-1 - x->contrib[j].hist]));
        break;
      }
    }
    break;
  case MES_REASON_SIMILAR_TO_CURRENT:
    if (s->req.context_item)
      title_of(s, s->req.context_item, subject, sizeof subject);
    break;
  default:
    break;
  }
  mes_explain_reason(cd->reason, s->lang, subject, kind, implicit, text, sizeof text);
  mes_jw_object(w);
  mes_jw_key(w, "code");
  mes_jw_string(w, mes_reason_code(cd->reason));
  mes_jw_key(w, "text");
  mes_jw_string(w, text);
  mes_jw_key(w, "based_on");
  write_based(s, w, cd, x, false, false);
  mes_jw_object_end(w);
}

/* why (why.c) takes the same parts as values: written, then parsed, so
 * that one function says what each holds. New, or NULL when out of memory. */
static json_t *parsed(struct mes_buf *b, const struct mes_jw *w) {
  json_t *v = mes_jw_finish(w) ? NULL : json_loadb(b->data, b->len, 0, NULL);
  mes_buf_release(b);
  return v;
}

json_t *mes__rec_based_json(struct rec_state *s, const struct mes_cand *cd, const struct rec_cand_x *x, bool all,
                            bool with_event_id) {
  struct mes_buf b;
  struct mes_jw w;
  mes_buf_init(&b, REC_TEXT_MAX);
  mes_jw_init(&w, &b);
  write_based(s, &w, cd, x, all, with_event_id);
  return parsed(&b, &w);
}

json_t *mes__rec_reason_json(struct rec_state *s, const struct mes_cand *cd, const struct rec_cand_x *x) {
  struct mes_buf b;
  struct mes_jw w;
  mes_buf_init(&b, REC_TEXT_MAX);
  mes_jw_init(&w, &b);
  write_reason(s, &w, cd, x);
  return parsed(&b, &w);
}

/* ---------------------------------------------------------------- the pipeline */

/* The candidates that pass the caller's filters, as the guard sees them:
 * copies of s->cands, with the index of each original. */
struct run {
  struct mes_cand *c;
  int32_t *orig;
  size_t n, cap;
};

static int run_add_passing(struct rec_state *s, struct run *run, size_t from) {
  for (size_t i = from; i < s->n_cands; i++) {
    bool oom = false;
    const struct mes_item_facts *f = mes__rec_item(s, s->cands[i].item, &oom);
    if (oom)
      return MES_ENOMEM;
    if (!mes__rec_passes(s, s->cands[i].item, f))
      continue;
    if (run->n == run->cap) {
      size_t cap = run->cap ? run->cap * 2 : 128;
      struct mes_cand *nc = mes__rec_alloc(&s->arena, cap * sizeof *nc);
      int32_t *no = mes__rec_alloc(&s->arena, cap * sizeof *no);
      if (!nc || !no)
        return MES_ENOMEM;
      if (run->n) {
        memcpy(nc, run->c, run->n * sizeof *nc);
        memcpy(no, run->orig, run->n * sizeof *no);
      }
      run->c = nc;
      run->orig = no;
      run->cap = cap;
    }
    s->cands[i].facts = *f;
    run->c[run->n] = s->cands[i];
    run->orig[run->n] = (int32_t)i;
    run->n++;
  }
  return MES_OK;
}

static size_t standing(const struct run *run) {
  size_t n = 0;
  for (size_t i = 0; i < run->n; i++)
    n += !run->c[i].dropped;
  return n;
}

/* Builds the candidates, runs the rules, fills until `count` stand. */
static int rank(struct rec_state *s, struct run *run) {
  size_t want = (size_t)s->req.count;
  size_t keep = want * REC_PRUNE_PER_ITEM > REC_PRUNE_MIN ? want * REC_PRUNE_PER_ITEM : REC_PRUNE_MIN;
  if (mes__rec_candidates(s) || mes__rec_prune(s, keep))
    return MES_ENOMEM;
  mes__rec_settle(s, 0, s->n_cands);
  int rc = run_add_passing(s, run, 0);
  size_t guarded = 0;
  for (int round = 0; !rc; round++) {
    if (!s->no_rules)
      mes_guard_run(&s->facts, run->c + guarded, run->n - guarded);
    guarded = run->n;
    size_t have = standing(run);
    if (have >= want)
      break;
    size_t before = s->n_cands, added = 0;
    /* A margin for the rules, growing when they keep dropping. */
    rc = mes__rec_fill(s, (want - have) + 4 + (size_t)round * want, &added);
    if (rc || added == 0)
      break;
    mes__rec_settle(s, before, s->n_cands);
    rc = run_add_passing(s, run, before);
  }
  return rc;
}

static int by_score(const void *a, const void *b) {
  const struct mes_cand *x = *(const struct mes_cand *const *)a, *y = *(const struct mes_cand *const *)b;
  if ((x->demoted_by != NULL) != (y->demoted_by != NULL))
    return x->demoted_by ? 1 : -1; /* a rule put substitutes of a purchase after the rest */
  if (x->score != y->score)
    return x->score < y->score ? 1 : -1;
  return strcmp(x->item, y->item); /* stable answers for equal scores */
}

static double shown_score(double v) { return round(v / (1.0 + v) * 10000.0) / 10000.0; }

static const char *disclosure_name(enum mes_disclosure d) {
  return d == MES_DISCLOSE_IMPLICIT ? "implicit" : "explicit";
}

static void count_rule(struct mes_rec_outcome *oc, const char *rule) {
  for (size_t i = 0; i < oc->n_rules; i++) {
    if (strcmp(oc->by_rule[i].rule, rule) == 0) {
      oc->by_rule[i].n++;
      return;
    }
  }
  if (oc->n_rules < MES_REC_RULES_MAX) {
    oc->by_rule[oc->n_rules].rule = rule;
    oc->by_rule[oc->n_rules++].n = 1;
  }
}

/* One group of the record's "suppressed_by": the candidates one rule
 * removed with the same detail, chained through their run indexes. */
struct sup_group {
  const char *rule; /* static */
  const char *detail;
  int32_t first, last; /* run indexes */
};

/* The tag of a group: its detail's hash, told apart by the rule's (static)
 * address. */
static uint32_t group_tag(const char *rule, const char *detail) {
  return mes_htab_tag(mes_hash_str(detail) ^ (uint64_t)(uintptr_t)rule);
}

/* The record's own part: what the reply does not say. What the rules
 * removed is stored grouped by rule and detail, "suppressed_by": [{"rule",
 * "detail", "items": [...]}], and read back as the contract's flat
 * "suppressed" list (mes_json_ungroup, record.c): an active shopper's
 * frequency cap removes a few hundred candidates a request, nearly all with
 * the same sentence, which one object per entry would repeat in records of
 * 10-80 KB. Groups come in the order of their first candidate, items in run
 * order. MES_OK, or the writer's failure (or MES_ENOMEM). */
static int write_record_part(struct rec_state *s, struct mes_jw *w, const struct run *run,
                             const struct mes_cand *const *best, size_t n_served) {
  char ts[32];
  mes_time_format(s->c->now_ms, ts);
  int64_t model_id = s->m ? mes_model_id(s->m) : 0;
  size_t n_dropped = 0;
  for (size_t i = 0; i < run->n; i++)
    n_dropped += run->c[i].dropped;
  struct mes_htab by_group; /* group_tag -> group index + 1 */
  mes_htab_init_arena(&by_group, &s->arena, n_dropped);
  struct sup_group *group = mes__rec_alloc(&s->arena, (n_dropped + 1) * sizeof *group);
  int32_t *next = mes__rec_alloc(&s->arena, (run->n + 1) * sizeof *next); /* in the same group; -1: last */
  if (!group || !next || mes_htab_reserve(&by_group, n_dropped))
    return MES_ENOMEM;
  size_t n_groups = 0;
  for (size_t i = 0; i < run->n; i++) {
    const struct mes_cand *cd = &run->c[i];
    if (!cd->dropped)
      continue;
    const char *rule = cd->rule ? cd->rule : "";
    uint32_t tag = group_tag(rule, cd->detail);
    struct sup_group *same = NULL;
    struct mes_htab_slot *sl;
    for (size_t pos = 0; !same && (sl = mes_htab_next(&by_group, tag, &pos));) {
      struct sup_group *g = &group[sl->val - 1];
      if (g->rule == rule && strcmp(g->detail, cd->detail) == 0)
        same = g;
    }
    next[i] = -1;
    if (!same) {
      group[n_groups] = (struct sup_group){.rule = rule, .detail = cd->detail, .first = (int32_t)i, .last = (int32_t)i};
      mes_htab_add(&by_group, tag, (uint32_t)++n_groups, NULL); /* reserved above */
    } else {
      next[same->last] = (int32_t)i;
      same->last = (int32_t)i;
    }
  }
  mes_jw_object(w);
  mes_jw_key(w, "ts");
  mes_jw_string(w, ts);
  mes_jw_key(w, "placement");
  mes_jw_string(w, s->req.placement);
  mes_jw_key(w, "channel");
  mes_jw_string(w, mes_channel_name(s->req.channel));
  mes_jw_key(w, "model");
  if (model_id > 0)
    mes_jw_integer(w, model_id);
  else
    mes_jw_null(w);
  mes_jw_key(w, "suppressed_by");
  mes_jw_array(w);
  for (size_t g = 0; g < n_groups; g++) {
    mes_jw_object(w);
    mes_jw_key(w, "rule");
    mes_jw_string(w, group[g].rule);
    mes_jw_key(w, "detail");
    mes_jw_string(w, group[g].detail);
    mes_jw_key(w, "items");
    mes_jw_array(w);
    for (int32_t i = group[g].first; i >= 0; i = next[i])
      mes_jw_string(w, run->c[i].item);
    mes_jw_array_end(w);
    mes_jw_object_end(w);
  }
  mes_jw_array_end(w);
  /* What a rule changed in a served item (its score, reason or
   * disclosure): as rare as it is telling, so kept flat. */
  bool adjusted = false;
  for (size_t i = 0; i < n_served; i++) {
    if (!best[i]->adjusted_by)
      continue;
    if (!adjusted) {
      mes_jw_key(w, "adjusted");
      mes_jw_array(w);
      adjusted = true;
    }
    mes_jw_object(w);
    mes_jw_key(w, "item");
    mes_jw_string(w, best[i]->item);
    mes_jw_key(w, "rule");
    mes_jw_string(w, best[i]->adjusted_by);
    mes_jw_key(w, "detail");
    mes_jw_string(w, best[i]->adjusted_detail ? best[i]->adjusted_detail : "");
    mes_jw_object_end(w);
  }
  if (adjusted)
    mes_jw_array_end(w);
  /* Evidence the scorer left out before any candidate existed (on email
   * and ads, an inference counts for nothing): no item to name, so said
   * once for the request. */
  if (s->n_withheld) {
    char detail[MES_GUARD_DETAIL];
    snprintf(detail, sizeof detail,
             "Data from a sensitive category the person did not name was not used on %s (%zu item%s of their "
             "history).",
             mes_channel_name(s->req.channel), s->n_withheld, s->n_withheld == 1 ? "" : "s");
    mes_jw_key(w, "withheld");
    mes_jw_array(w);
    mes_jw_object(w);
    mes_jw_key(w, "rule");
    mes_jw_string(w, "sensitive");
    mes_jw_key(w, "detail");
    mes_jw_string(w, detail);
    mes_jw_object_end(w);
    mes_jw_array_end(w);
  }
  mes_jw_object_end(w);
  return mes_jw_finish(w);
}

/* Keeps the record: the reply's text as sent (what doc holds), a newline,
 * then its own part (decrec.h: the two read back as one object),
 * so the answer is written once for both. Seals it for a known subject and
 * queues it with the impressions. doc is taken over (left released).
 * Failures cost the record, never the answer. */
static void keep_record(struct rec_state *s, int64_t rid, const char *rid_s, struct mes_buf *doc, const struct run *run,
                        const struct mes_cand *const *best, const char *const *served, size_t n_served) {
  const struct mes_req *c = s->c;
  struct mes_recommender *r = s->r;
  struct mes_jw w;
  int rc = mes_buf_append(doc, "\n", 1);
  if (!rc) {
    mes_jw_init(&w, doc);
    rc = write_record_part(s, &w, run, best, n_served);
  }
  size_t len = doc->len;
  char *text = rc ? NULL : mes_buf_steal(doc);
  mes_buf_release(doc);
  if (!text) {
    mes_log(r->log, MES_LOG_WARN, "decision record %s not kept: %s", rid_s, mes_rc_code(rc ? rc : MES_ENOMEM));
    return;
  }
  int64_t sid = s->known ? s->subj.row.id : 0;
  uint8_t *stored = NULL;
  if (mes_decrec_seal(r->subjects, sid, text, len, &stored, &len) != MES_OK) {
    mes_log(r->log, MES_LOG_WARN, "decision record %s not kept: sealing failed", rid_s);
    return;
  }
  /* Impressions only for those who granted personalization (contract §6),
   * sealed with their key like the record. */
  uint8_t *imps = NULL;
  size_t imps_len = 0;
  if (sid && s->personalized && n_served &&
      mes__rec_shown_seal(r, sid, served, n_served, &imps, &imps_len) != MES_OK)
    mes_log(r->log, MES_LOG_WARN, "impressions of %s not kept: sealing failed", rid_s);
  mes__rec_enqueue(r, rid, sid, c->now_ms, stored, len, served, imps ? n_served : 0, imps, imps_len,
                   (int)s->req.channel);
  if (sid && s->personalized) /* only a personal answer read the history */
    mes__rec_access_note(r, c, sid, s->req.subject, s->req.subject_len, MES_ACCESS_RECOMMEND);
}

int mes_recommend(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m, const json_t *body,
                  enum mes_lang lang, json_t **out, struct mes_rec_outcome *oc, struct mes_err *err) {
  return mes__rec_serve(r, c, m, body, lang, true, out, NULL, NULL, oc, err);
}

int mes_recommend_text(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m,
                       const json_t *body, enum mes_lang lang, char **text, size_t *len, struct mes_rec_outcome *oc,
                       struct mes_err *err) {
  return mes__rec_serve(r, c, m, body, lang, true, NULL, text, len, oc, err);
}

static int serve(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m, const json_t *body,
                 enum mes_lang lang, bool rules, bool dry_run, json_t **out, char **text, size_t *text_len,
                 struct mes_rec_outcome *oc, struct mes_err *err);

int mes_recommend_dry(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m,
                      const json_t *body, enum mes_lang lang, json_t **out, struct mes_err *err) {
  return serve(r, c, m, body, lang, true, true, out, NULL, NULL, NULL, err);
}

int mes__rec_serve(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m, const json_t *body,
                   enum mes_lang lang, bool rules, json_t **out, char **text, size_t *text_len,
                   struct mes_rec_outcome *oc, struct mes_err *err) {
  return serve(r, c, m, body, lang, rules, false, out, text, text_len, oc, err);
}

static int serve(struct mes_recommender *r, const struct mes_req *c, const struct mes_model *m, const json_t *body,
                 enum mes_lang lang, bool rules, bool dry_run, json_t **out, char **text, size_t *text_len,
                 struct mes_rec_outcome *oc, struct mes_err *err) {
  if (out)
    *out = NULL;
  if (text) {
    *text = NULL;
    *text_len = 0;
  }
  struct mes_rec_outcome dummy;
  if (!oc)
    oc = &dummy;
  memset(oc, 0, sizeof *oc);
  struct rec_state s;
  memset(&s, 0, sizeof s);
  s.c = c;
  s.m = m;
  s.r = r;
  s.lang = lang >= 0 && lang < MES_LANG_N ? lang : MES_LANG_EN;
  s.no_rules = !rules;
  s.dry_run = dry_run;
  struct run run = {0};
  struct mes_buf doc; /* the reply, then the record's own part */
  mes_buf_init(&doc, REC_TEXT_MAX);
  int rc = mes_recommend_parse(body, &s.req, err);
  if (rc)
    goto done;
  if ((rc = mes__rec_facts(&s, err)))
    goto done;
  if ((rc = rank(&s, &run))) {
    rc = mes_err_set(err, rc, NULL, NULL);
    goto done;
  }
  /* The count best of those standing. */
  const struct mes_cand **best = mes__rec_alloc(&s.arena, (run.n + 1) * sizeof *best);
  const char **served = mes__rec_alloc(&s.arena, ((size_t)s.req.count + 1) * sizeof *served);
  if (!best || !served) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  size_t nb = 0;
  for (size_t i = 0; i < run.n; i++) {
    if (run.c[i].dropped)
      count_rule(oc, run.c[i].rule ? run.c[i].rule : "unnamed");
    else
      best[nb++] = &run.c[i];
  }
  qsort(best, nb, sizeof *best, by_score);
  size_t n_out = nb < (size_t)s.req.count ? nb : (size_t)s.req.count;
  int64_t rid = mes__rec_new_rid();
  char rid_s[MES_REC_ID_LEN + 1];
  mes__rec_format_rid(rid, rid_s);
  /* The reply, written as it is sent (and as mes_json_dump would write it). */
  struct mes_jw w;
  mes_jw_init(&w, &doc);
  mes_jw_object(&w);
  mes_jw_key(&w, "request_id");
  mes_jw_string(&w, rid_s);
  mes_jw_key(&w, "personalized");
  mes_jw_bool(&w, s.personalized);
  mes_jw_key(&w, "items");
  mes_jw_array(&w);
  double floor = INFINITY;
  for (size_t i = 0; i < n_out; i++) {
    const struct mes_cand *cd = best[i];
    const struct rec_cand_x *x = &s.cx[run.orig[cd - run.c]];
    /* Scores read best first, as the items do: a substitute of a purchase
     * that a rule put after the rest shows no more than the item above it. */
    double shown = shown_score(cd->score);
    if (shown > floor)
      shown = floor;
    floor = shown;
    mes_jw_object(&w);
    mes_jw_key(&w, "item");
    mes_jw_string(&w, cd->item);
    mes_jw_key(&w, "score");
    mes_jw_real(&w, shown, MES_JW_REAL_PRECISION);
    mes_jw_key(&w, "disclosure");
    mes_jw_string(&w, disclosure_name(cd->disclosure));
    mes_jw_key(&w, "reason");
    write_reason(&s, &w, cd, x);
    mes_jw_object_end(&w);
    served[i] = cd->item;
  }
  mes_jw_array_end(&w);
  mes_jw_object_end(&w);
  if ((rc = mes_jw_finish(&w))) {
    /* Only memory can run out here: the rest is text this module made. */
    if (rc != MES_ENOMEM)
      mes_log(r->log, MES_LOG_ERROR, "recommendation reply not written: %s", mes_rc_code(rc));
    rc = mes_err_set(err, rc == MES_ENOMEM ? MES_ENOMEM : MES_EINTERNAL, NULL, NULL);
    goto done;
  }
  if (out && !(*out = json_loadb(doc.data, doc.len, 0, NULL))) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  if (text) {
    if (!(*text = malloc(doc.len + 1))) {
      if (out) {
        json_decref(*out);
        *out = NULL;
      }
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
      goto done;
    }
    memcpy(*text, doc.data, doc.len + 1);
    *text_len = doc.len;
  }
  if (!s.dry_run)
    keep_record(&s, rid, rid_s, &doc, &run, best, served, n_out);
  oc->personalized = s.personalized;
  oc->n_items = n_out;
done:
  mes_buf_release(&doc);
  mes__rec_state_release(&s);
  return rc;
}
