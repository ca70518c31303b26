/*
 * cli/cmd_eval_served — `mesura eval --model served`: the offline protocol
 * of shared/data/README.md run on what the server really serves, end to end.
 *
 * src/lib/eval owns the protocol (split, candidate rule, metrics) but sits on
 * base alone; the served path needs the whole engine. So this file is an
 * outside model for eval (struct mes_eval_ranker): eval hands it the
 * training part and asks it for each evaluated user's ranking; it answers
 * through the product's own code, as a shop running mesura would:
 *
 *   fit   a temporary data directory (mkdtemp under $TMPDIR, removed at the
 *         end, also on failure) with a generated policy, a master key and a
 *         store (mes_engine_init_dir, mes_engine_open); every item of the
 *         file upserted as an available catalog item (mes_engine_items_post),
 *         with its categories from the shop's catalog when
 *         `--catalog` gives one (`mesura import` item lines, as
 *         `mesura eval-convert --catalog` writes them);
 *         `personalization` granted for each user with training data
 *         (mes_engine_consent_put, a signed receipt each); the training
 *         pairs ingested with their original timestamps
 *         (mes_engine_events_ingest, 10,000 events per call, sealed with each
 *         subject's key); the real trainer (mes_engine_train), whose model
 *         is saved and loaded back as the server would load it.
 *   rank  POST /v1/recommendations's verb, mes_engine_recommend, with
 *         {"subject": user, "count": 20} (consent check, live history read
 *         from the store, candidates from the model's relations,
 *         guardrails, fill); the items of the answer, in order, are the
 *         ranking.
 *   buy again  after the test ranking: the policy files the shop's items
 *         under a `lifecycle: repeat` category, the training period's
 *         repeat purchases are stored, and the answer's items with reason
 *         buy_again are the person's buy-again list (POLICY_AGAIN).
 *
 * It uses the public API (include/mesura/mesura.h) alone, as a shop's own
 * program would; the clock of each call is the data's (struct mes_call's
 * now_ms), and the serving keys tried on a fitted store are written to its
 * mesura.yaml and reloaded (mes_engine_reload), as a shop would change them.
 *
 * The hyperparameters are the policy's own keys, so that what eval chooses
 * is what a shop then writes in its mesura.yaml: the learnt
 * model.relation_half_life_days, model.ease_lambda and model.neighbors, and
 * the serving model.recent_items_half_life, model.history_half_life_days and
 * model.complements_pct, each configuration of SERVED_GRID a run of the
 * whole path on the validation part, the best one tested (section 5 of the
 * protocol, src/lib/eval/part.c). model.kind is not searched: the three
 * kinds are reported as three models. Test data never reach the store:
 * eval's training part (or its sub-training part) is all this file sees.
 */
#include <errno.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mtime.h"
#include "base/path.h"
#include "cli/cli_int.h"
#include "eval/eval.h"

/*
 * The event type a positive interaction becomes: `purchase`. A MovieLens
 * rating says the person watched the film, an Amazon review that they bought
 * the product (shared/data/README.md takes it so): a consumption, not a look.
 * It is also the type whose served behaviour matches the protocol: a bought
 * item is never offered again (guard rule after_purchase), as the protocol
 * excludes training items, and purchases are never aged out by the
 * retargeting window, which views would be (ml-latest-small spans 22 years,
 * more than the window's maximum of 3650 days). A purchase reaches
 * candidates through "bought together" and EASE (recommend/score.c), not
 * through "viewed together", which is read from views, clicks and carts.
 */
#define SERVED_EVENT_TYPE "purchase"

/*
 * The policy of the run. One purpose, so that the web channel needs exactly
 * it; retention at its maximum (36500 days), so that no 1996 rating is
 * refused as expired; and the guardrails built for shoppers opened as far as
 * the schema allows, so that they do not distort an offline protocol: the
 * retargeting window at its maximum 3650 days (views only; purchases are
 * not subject to it), and a frequency cap that cannot trigger (each user is
 * asked once, so nothing was shown before; the cap is set out of reach
 * anyway). The guardrails themselves still run, as they do in production.
 */
static const char POLICY_FMT[] =
    "site: mesura eval\n"
    "purposes:\n"
    "  personalization:\n"
    "    description: \"Offline evaluation of the served recommendations\"\n"
    "event_types:\n"
    "  " SERVED_EVENT_TYPE ": {purposes: [personalization], retention_days: 36500}\n"
    "guardrails:\n"
    "  retargeting_window_days: 3650\n"
    "  frequency_cap: {max_impressions: 1000000, window_hours: 1}\n"
    "model:\n"
    "  kind: %s\n"
    "  relation_half_life_days: %d\n"
    "  recent_items_half_life: %d\n"
    "  history_half_life_days: %d\n"
    "  complements_pct: %d\n"
    "  ease_lambda: %d\n"
    "  neighbors: %d\n";

/*
 * Buy again (after the test ranking): without a catalog every item is filed
 * under one category, SERVED_CATEGORY; with one, under the catalog's own
 * categories. Each is ordinary in the policy above (what a person bought
 * never comes back, as the protocol's candidate rule wants) and `lifecycle:
 * repeat` in what is appended here for the buy-again run, as a grocer would
 * declare its departments. The repeat purchases then stored would be more
 * events than the model saw: no retrain may start on its own
 * (retrain_after_events_pct 0, a schedule longer than any run), so that the
 * buy-again lists come from the model just tested.
 */
#define SERVED_CATEGORY "shop"
static const char POLICY_AGAIN[] =
    "  retrain_after_events_pct: 0\n"
    "  retrain_every_minutes: 525600\n"
    "categories:\n";

#define EVENTS_PER_BATCH MES_BATCH_MAX
#define NO_HISTORY INT64_MIN
#define REASONS_SEEN 12 /* distinct reason codes counted (contract §6 has fewer) */
#define ITEMS_PER_BATCH MES_BATCH_MAX

/* One --model name per policy model.kind a shop can pick (except popular,
 * which no personal answer uses: --model popular measures it exactly), each
 * with the grid of the policy keys eval chooses. */
enum served_kind { KIND_AUTO, KIND_COOC, KIND_EASE };

struct served_cfg {
  int kind; /* enum served_kind, named kind_name in the policy */
  const char *kind_name;
  /* learnt: a change needs a fit */
  int relation_half_life_days; /* policy model.relation_half_life_days */
  int ease_lambda;             /* policy model.ease_lambda */
  int neighbors;               /* policy model.neighbors */
  /* serving only: tried on a fitted store (served_adopt) */
  int recent_items_half_life; /* policy model.recent_items_half_life */
  int history_half_life_days; /* policy model.history_half_life_days */
  int complements_pct;        /* policy model.complements_pct */
  /* the shop's catalog: item id -> array of its categories (borrowed; NULL:
   * none given, every item under SERVED_CATEGORY) */
  const json_t *catalog;
};

/*
 * The grid. Three fits: the policy's default relation half-life and λ
 * (the first wins a tie), relations that never fade (the MovieLens files
 * span decades), and, never fading too, EASE held back hard (λ 10000,
 * beyond the protocol's EASE choice of 3000 on grocery receipts, where what
 * many people buy together is most of what one buys next). Each keeps 200 neighbours per item instead of the
 * default 50: the truncated lists lost hits that EASE's full rows keep
 * (bench/README.md). On each fitted store, the policy's serving defaults
 * first: the latest items' weight by place (3, none, mild), a person's
 * events fading by age over 30 days or not at all (receipts of staples a
 * year apart still say what a household buys), complements first or minor.
 */
#define SERVED_NEIGHBORS 200
#define SERVED_HIST(kind, name, rhl, lambda, recent, compl)                                                            \
  {kind, name, rhl, lambda, SERVED_NEIGHBORS, recent, 30, compl},                                                      \
      {kind, name, rhl, lambda, SERVED_NEIGHBORS, recent, 0, compl}
#define SERVED_SERVING(kind, name, rhl, lambda)                                                                        \
  SERVED_HIST(kind, name, rhl, lambda, 3, 150), SERVED_HIST(kind, name, rhl, lambda, 0, 150),                          \
      SERVED_HIST(kind, name, rhl, lambda, 10, 150), SERVED_HIST(kind, name, rhl, lambda, 3, 30),                      \
      SERVED_HIST(kind, name, rhl, lambda, 0, 30), SERVED_HIST(kind, name, rhl, lambda, 10, 30)
#define SERVED_GRID(kind, name)                                                                                        \
  SERVED_SERVING(kind, name, 365, 200), SERVED_SERVING(kind, name, 0, 200), SERVED_SERVING(kind, name, 0, 10000)

static const struct served_cfg cfg_auto[] = {SERVED_GRID(KIND_AUTO, "auto")};
static const struct served_cfg cfg_cooc[] = {SERVED_GRID(KIND_COOC, "cooc")};
static const struct served_cfg cfg_ease[] = {SERVED_GRID(KIND_EASE, "ease")};
#define N_GRID (sizeof cfg_auto / sizeof cfg_auto[0])

struct served {
  const struct served_cfg *fitted; /* what was learnt with */
  struct served_cfg cfg;           /* what answers with (served_adopt changes its serving keys) */
  const struct mes_log *log;
  char dir[PATH_MAX];
  bool made_dir;
  struct mes_engine *e;
  int64_t *last_ms; /* per user: the last training timestamp, NO_HISTORY for none */
  size_t n_users;
  int64_t end_ms; /* the last training timestamp of all */
  /* what was done, for the report */
  size_t n_items, n_consents, n_events;
  size_t n_not_personal; /* answers that came back not personalized */
  struct {
    char code[32];
    size_t n;
  } reasons[REASONS_SEEN]; /* reason codes of the first 10 slots served */
  size_t n_reasons, n_slots;
  char kind[16];
  size_t model_items, model_ease_items;
  double load_s, train_s, rank_s;
  json_t *cats_used; /* the categories of the loaded items (names as keys), for the buy-again policy */
  size_t n_catalog_items; /* loaded items that the shop's catalog knows */
  bool again; /* the buy-again run has begun: policy and repeats in place */
  size_t n_repeats;
  size_t again_lists, again_items; /* buy-again lists asked for, and their items (up to 10 each) */
};

/* ---------------------------------------------------------------- the directory */

/* Removes the run's directory. A data directory is flat (mesura.yaml,
 * master.key, the databases and their journals), so one level is all. */
static void remove_dir(struct served *s) {
  DIR *d = opendir(s->dir);
  if (d) {
    struct dirent *de;
    char path[PATH_MAX + NAME_MAX + 2];
    while ((de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      if (mes_path_join(path, sizeof path, s->dir, de->d_name) == MES_OK)
        unlink(path);
    }
    closedir(d);
  }
  if (rmdir(s->dir) != 0)
    mes_log(s->log, MES_LOG_WARN, "eval: served: could not remove %s: %s", s->dir, strerror(errno));
}

static int write_policy(struct served *s, struct mes_err *err);

static int make_dir(struct served *s, struct mes_err *err) {
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !tmp[0])
    tmp = "/tmp";
  if (mes_path_join(s->dir, sizeof s->dir, tmp, "mesura-eval-XXXXXX"))
    return mes_err_set(err, MES_EIO, NULL, "TMPDIR is too long.");
  if (!mkdtemp(s->dir))
    return mes_err_set(err, MES_EIO, NULL, "Cannot create a temporary directory under %s: %s.", tmp,
                       strerror(errno));
  s->made_dir = true;
  int rc = mes_engine_init_dir(s->dir, err);
  if (!rc) /* the run's own policy in place of the example that init wrote */
    rc = write_policy(s, err);
  if (rc)
    return rc;
  struct mes_engine_opts o = {.dir = s->dir, .log = s->log ? *s->log : (struct mes_log){0}};
  o.log.level = MES_LOG_WARN; /* the engine's chatter would drown eval's progress */
  return mes_engine_open(&o, &s->e, err);
}

/* mesura.yaml of the run: POLICY_FMT with s->cfg. */
static int write_policy(struct served *s, struct mes_err *err) {
  char path[PATH_MAX + 16];
  if (mes_path_join(path, sizeof path, s->dir, "mesura.yaml"))
    return mes_err_set(err, MES_EIO, NULL, "TMPDIR is too long.");
  FILE *f = fopen(path, "w");
  if (!f)
    return mes_err_set(err, MES_EIO, NULL, "Cannot write the run's mesura.yaml: %s.", strerror(errno));
  bool ok = fprintf(f, POLICY_FMT, s->cfg.kind_name, s->cfg.relation_half_life_days, s->cfg.recent_items_half_life,
                    s->cfg.history_half_life_days, s->cfg.complements_pct, s->cfg.ease_lambda, s->cfg.neighbors) > 0;
  if (ok && s->again) {
    ok = fputs(POLICY_AGAIN, f) >= 0;
    const char *name;
    json_t *v;
    json_object_foreach(s->cats_used, name, v) {
      /* a YAML double-quoted key: catalog names hold ':' and '/' */
      ok = ok && fputs("  \"", f) >= 0;
      for (const char *q = name; ok && *q; q++)
        ok = (*q == '"' || *q == '\\' ? fputc('\\', f) != EOF : true) && fputc(*q, f) != EOF;
      ok = ok && fputs("\": {lifecycle: repeat}\n", f) >= 0;
    }
  }
  if (fclose(f) != 0 || !ok)
    return mes_err_set(err, MES_EIO, NULL, "Cannot write the run's mesura.yaml.");
  return MES_OK;
}

/* ---------------------------------------------------------------- loading */

/* Item id's categories: the catalog's, or SERVED_CATEGORY without one (an
 * item the catalog does not know has none). Borrowed or new: *owned says. */
static json_t *item_categories(const struct served *s, const char *id, bool *owned) {
  *owned = false;
  if (!s->cfg.catalog) {
    *owned = true;
    return json_pack("[s]", SERVED_CATEGORY);
  }
  json_t *cats = json_object_get(s->cfg.catalog, id);
  if (cats)
    return cats;
  *owned = true;
  return json_array();
}

/* Every item of the file, available, titled with its id (the CSV has no
 * titles) and filed as item_categories says, ITEMS_PER_BATCH per
 * transaction. */
static int load_catalog(struct served *s, struct mes_call *c, const struct mes_eval_part *p,
                        struct mes_err *err) {
  size_t n = mes_eval_part_n_items(p);
  for (size_t at = 0; at < n; at += ITEMS_PER_BATCH) {
    json_t *items = json_array();
    for (size_t i = at; items && i < n && i < at + ITEMS_PER_BATCH; i++) {
      const char *id = mes_eval_part_item(p, i);
      bool owned;
      json_t *cats = item_categories(s, id, &owned);
      s->n_catalog_items += s->cfg.catalog && !owned;
      bool oom = !cats;
      size_t k;
      json_t *v;
      json_array_foreach(cats, k, v) oom = oom || json_object_set(s->cats_used, json_string_value(v), json_true());
      if (oom && owned)
        json_decref(cats);
      if (oom || json_array_append_new(items, json_pack(owned ? "{s:s, s:s, s:b, s:o}" : "{s:s, s:s, s:b, s:O}",
                                                          "id", id, "title", id, "available", 1, "categories",
                                                          cats))) {
        json_decref(items);
        items = NULL;
      }
    }
    json_t *body = items ? json_pack("{s:o}", "items", items) : NULL;
    if (!body)
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    json_t *reply = NULL;
    struct mes_body doc = {.json = body};
    int rc = mes_engine_items_post(s->e, c, &doc, &reply, err);
    json_decref(body);
    if (rc)
      return rc;
    size_t n_errors = json_array_size(json_object_get(reply, "errors"));
    s->n_items += (size_t)json_integer_value(json_object_get(reply, "upserted"));
    json_decref(reply);
    if (n_errors)
      return mes_err_set(err, MES_EBAD_INPUT, NULL, "The catalog refused %zu items of the file.", n_errors);
  }
  return MES_OK;
}

/* Grants personalization to every user with training data. */
static int grant_all(struct served *s, struct mes_call *c, const struct mes_eval_part *p, struct mes_err *err) {
  json_t *body = json_pack("{s:s, s:s}", "status", "granted", "source", "eval");
  if (!body)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = MES_OK;
  for (size_t u = 0; u < s->n_users && !rc; u++) {
    if (s->last_ms[u] == NO_HISTORY)
      continue; /* no training data: never becomes a subject, is answered as a stranger */
    const char *id = mes_eval_part_user(p, u);
    json_t *receipt = NULL;
    struct mes_body doc = {.json = body};
    rc = mes_engine_consent_put(s->e, c, id, strlen(id), "personalization", 15, &doc, &receipt, err);
    json_decref(receipt);
    s->n_consents += rc == MES_OK;
  }
  json_decref(body);
  return rc;
}

/* Sends one batch; every event must be stored, or the run would measure
 * something else than the training part. */
static int send_events(struct served *s, struct mes_call *c, json_t *events /* taken over */,
                       struct mes_err *err) {
  size_t n = json_array_size(events);
  json_t *body = json_pack("{s:o}", "events", events);
  if (!body)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  json_t *reply = NULL;
  struct mes_body doc = {.json = body};
  int rc = mes_engine_events_ingest(s->e, c, &doc, true, &reply, NULL, err);
  json_decref(body);
  if (rc)
    return rc;
  size_t stored = (size_t)json_integer_value(json_object_get(reply, "stored"));
  json_t *first = json_array_get(json_object_get(reply, "errors"), 0);
  char why[160] = "";
  if (first)
    snprintf(why, sizeof why, " (first refusal: %s)",
             json_string_value(json_object_get(json_object_get(first, "error"), "message")));
  json_decref(reply);
  s->n_events += stored;
  if (stored != n)
    return mes_err_set(err, MES_EINTERNAL, NULL, "Ingestion stored %zu of %zu training events%s.", stored, n, why);
  return MES_OK;
}

/* The training pairs, one event each at the pair's (earliest) time. */
static int ingest_all(struct served *s, struct mes_call *c, const struct mes_eval_part *p, struct mes_err *err) {
  json_t *events = NULL;
  for (size_t u = 0; u < s->n_users; u++) {
    const uint32_t *items;
    const double *ts;
    size_t n = mes_eval_part_history(p, u, &items, &ts);
    const char *subject = mes_eval_part_user(p, u);
    for (size_t k = 0; k < n; k++) {
      if (!events && !(events = json_array()))
        return mes_err_set(err, MES_ENOMEM, NULL, NULL);
      json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "subject", subject, "type", SERVED_EVENT_TYPE, "item",
                             mes_eval_part_item(p, items[k]), "ts", (json_int_t)llround(ts[k] * 1000.0));
      if (json_array_append_new(events, ev)) {
        json_decref(events);
        return mes_err_set(err, MES_ENOMEM, NULL, NULL);
      }
      if (json_array_size(events) == EVENTS_PER_BATCH) {
        int rc = send_events(s, c, events, err); /* takes events over */
        events = NULL;
        if (rc)
          return rc;
      }
    }
  }
  return events ? send_events(s, c, events, err) : MES_OK;
}

/* The training period's repeat purchases (mes_eval_part_repeats), stored
 * like the pairs: the store of a shop holds every purchase. */
static int ingest_repeats(struct served *s, struct mes_call *c, const struct mes_eval_part *p, struct mes_err *err) {
  json_t *events = NULL;
  size_t before = s->n_events;
  for (size_t u = 0; u < s->n_users; u++) {
    const uint32_t *items;
    const double *ts;
    size_t n = mes_eval_part_repeats(p, u, &items, &ts);
    const char *subject = mes_eval_part_user(p, u);
    for (size_t k = 0; k < n; k++) {
      if (!events && !(events = json_array()))
        return mes_err_set(err, MES_ENOMEM, NULL, NULL);
      json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "subject", subject, "type", SERVED_EVENT_TYPE, "item",
                             mes_eval_part_item(p, items[k]), "ts", (json_int_t)llround(ts[k] * 1000.0));
      if (json_array_append_new(events, ev)) {
        json_decref(events);
        return mes_err_set(err, MES_ENOMEM, NULL, NULL);
      }
      if (json_array_size(events) == EVENTS_PER_BATCH) {
        int rc = send_events(s, c, events, err);
        events = NULL;
        if (rc)
          return rc;
      }
    }
  }
  int rc = events ? send_events(s, c, events, err) : MES_OK;
  s->n_repeats = s->n_events - before;
  return rc;
}

/* ---------------------------------------------------------------- the ranker */

static void served_free(void *state) {
  struct served *s = state;
  if (!s)
    return;
  mes_engine_close(s->e);
  if (s->made_dir)
    remove_dir(s);
  json_decref(s->cats_used);
  free(s->last_ms);
  free(s);
}

static int served_fit(const void *cfg, const struct mes_eval_part *p, const struct mes_log *log, void **state,
                      struct mes_err *err) {
  struct served *s = calloc(1, sizeof *s);
  *state = s;
  if (!s)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  s->fitted = cfg;
  s->cfg = *s->fitted;
  s->log = log;
  s->n_users = mes_eval_part_n_users(p);
  s->end_ms = NO_HISTORY;
  s->last_ms = calloc(s->n_users ? s->n_users : 1, sizeof *s->last_ms);
  s->cats_used = json_object();
  if (!s->last_ms || !s->cats_used)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t u = 0; u < s->n_users; u++) {
    const uint32_t *items;
    const double *ts;
    size_t n = mes_eval_part_history(p, u, &items, &ts);
    s->last_ms[u] = n ? llround(ts[n - 1] * 1000.0) : NO_HISTORY; /* oldest first: the last is the latest */
    if (s->last_ms[u] > s->end_ms)
      s->end_ms = s->last_ms[u];
  }
  if (s->end_ms == NO_HISTORY)
    return mes_err_set(err, MES_EBAD_INPUT, NULL, "The training part is empty: nothing to serve from.");
  int rc = make_dir(s, err);
  if (rc)
    return rc;

  /* The clock of loading and training: the end of the training data (+1 s),
   * as if the shop trained right after its last event. Ingestion refuses an
   * event more than 5 minutes after its clock and one past its type's
   * retention before it; under the wall clock, the model's time decay
   * (half-life 60 days) would make 1998 data weigh nothing. */
  uint64_t t0 = mes_mono_ns();
  struct mes_call call = {.actor = "eval", .now_ms = s->end_ms + 1000};
  if (!(rc = load_catalog(s, &call, p, err)) && !(rc = grant_all(s, &call, p, err)))
    rc = ingest_all(s, &call, p, err);
  s->load_s = (double)(mes_mono_ns() - t0) / 1e9;
  mes_log(log, MES_LOG_INFO, "eval: served: %zu items, %zu consents, %zu events stored in %.1f s", s->n_items,
          s->n_consents, s->n_events, s->load_s);
  if (rc)
    return rc;
  if (s->cfg.catalog && s->n_catalog_items == 0) /* the catalog of another shop: it would change nothing */
    return mes_err_set(err, MES_EBAD_INPUT, NULL, "The catalog holds none of the items of the input file.");
  /* What the server would serve: the stored model, loaded back. */
  struct mes_train_opts to = {.now_ms = s->end_ms + 1000, .make_live = true};
  json_t *meta = NULL;
  t0 = mes_mono_ns();
  rc = mes_engine_train(s->e, &to, &meta, err);
  s->train_s = (double)(mes_mono_ns() - t0) / 1e9;
  if (rc)
    return rc;
  struct mes_engine_stats st;
  mes_engine_stats(s->e, &st);
  if (st.model_id != json_integer_value(json_object_get(meta, "id"))) {
    json_decref(meta);
    return mes_err_set(err, MES_EINTERNAL, NULL, "The trained model could not be loaded back.");
  }
  const char *kind = json_string_value(json_object_get(meta, "kind"));
  snprintf(s->kind, sizeof s->kind, "%s", kind ? kind : "?");
  s->model_items = (size_t)json_integer_value(json_object_get(meta, "items"));
  s->model_ease_items = (size_t)json_integer_value(json_object_get(meta, "ease_items"));
  json_decref(meta);
  mes_log(log, MES_LOG_INFO, "eval: served: %s of %zu items (%zu in EASE) trained in %.1f s",
          mes__cli_model_phrase(s->kind), s->model_items, s->model_ease_items, s->train_s);
  return MES_OK;
}

/* Tallies what drove the slots that NDCG@10 reads: personal relations or
 * the non-personal fill. */
static void count_reason(struct served *s, const char *code) {
  if (!code)
    code = "none";
  s->n_slots++;
  for (size_t r = 0; r < s->n_reasons; r++)
    if (strcmp(s->reasons[r].code, code) == 0) {
      s->reasons[r].n++;
      return;
    }
  if (s->n_reasons < REASONS_SEEN) {
    snprintf(s->reasons[s->n_reasons].code, sizeof s->reasons[0].code, "%s", code);
    s->reasons[s->n_reasons++].n = 1;
  }
}

static int served_rank(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out, size_t *n,
                       struct mes_err *err) {
  struct served *s = state;
  *n = 0;
  if (want > MES_RECOMMEND_COUNT_MAX)
    want = MES_RECOMMEND_COUNT_MAX;
  /* The user's clock: one second after their last training event. The split
   * is per user, by each user's own time, and asks what the person turns to
   * next; their history then weighs as it would right after they left. The
   * model (trained at the end of all training data) holds what everyone
   * did, later behaviour of others included, as the protocol says. */
  uint64_t t0 = mes_mono_ns();
  struct mes_call call = {
      .actor = "eval", .now_ms = (u < s->n_users && s->last_ms[u] != NO_HISTORY ? s->last_ms[u] : s->end_ms) + 1000};
  json_t *body = json_pack("{s:s, s:i}", "subject", mes_eval_part_user(p, u), "count", (int)want);
  struct mes_body doc = {.json = body};
  struct mes_recommend_outcome oc;
  char *text = NULL;
  size_t len = 0;
  int rc = body ? mes_engine_recommend(s->e, &call, &doc, &text, &len, &oc, err)
                : mes_err_set(err, MES_ENOMEM, NULL, NULL);
  json_decref(body);
  if (rc)
    return rc;
  json_t *reply = json_loadb(text, len, 0, NULL);
  free(text);
  if (!reply)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  s->n_not_personal += !oc.personalized;
  size_t i;
  json_t *it;
  json_array_foreach(json_object_get(reply, "items"), i, it) {
    const json_t *id = json_object_get(it, "item");
    int64_t k = mes_eval_part_find_item(p, json_string_value(id), json_string_length(id));
    if (k >= 0 && *n < want)
      out[(*n)++] = (uint32_t)k; /* an id the file does not know cannot be in any catalogue: left out */
    if (i < 10)
      count_reason(s, json_string_value(json_object_get(json_object_get(it, "reason"), "code")));
  }
  json_decref(reply);
  s->rank_s += (double)(mes_mono_ns() - t0) / 1e9;
  return MES_OK;
}

/* The buy-again list of user u: the first `want` items of their answer
 * whose reason is buy_again, from the same model, once their store holds
 * every purchase and the policy files the shop's items as repeat. */
static int served_buy_again(void *state, const struct mes_eval_part *p, size_t u, size_t want, uint32_t *out,
                            size_t *n, struct mes_err *err) {
  struct served *s = state;
  *n = 0;
  if (!s->again) {
    s->again = true;
    struct mes_call load = {.actor = "eval", .now_ms = s->end_ms + 1000};
    int rc = write_policy(s, err);
    if (!rc)
      rc = mes_engine_reload(s->e, err);
    if (!rc)
      rc = ingest_repeats(s, &load, p, err);
    if (rc)
      return rc;
    mes_log(s->log, MES_LOG_INFO, "eval: served: buy again: %zu repeat purchases stored", s->n_repeats);
  }
  struct mes_call call = {
      .actor = "eval", .now_ms = (u < s->n_users && s->last_ms[u] != NO_HISTORY ? s->last_ms[u] : s->end_ms) + 1000};
  json_t *body = json_pack("{s:s, s:i}", "subject", mes_eval_part_user(p, u), "count", MES_RECOMMEND_COUNT_MAX);
  struct mes_body doc = {.json = body};
  struct mes_recommend_outcome oc;
  char *text = NULL;
  size_t len = 0;
  int rc = body ? mes_engine_recommend(s->e, &call, &doc, &text, &len, &oc, err)
                : mes_err_set(err, MES_ENOMEM, NULL, NULL);
  json_decref(body);
  if (rc)
    return rc;
  json_t *reply = json_loadb(text, len, 0, NULL);
  free(text);
  if (!reply)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t i;
  json_t *it;
  json_array_foreach(json_object_get(reply, "items"), i, it) {
    const char *code = json_string_value(json_object_get(json_object_get(it, "reason"), "code"));
    const json_t *id = json_object_get(it, "item");
    int64_t k = mes_eval_part_find_item(p, json_string_value(id), json_string_length(id));
    if (code && strcmp(code, "buy_again") == 0 && k >= 0 && *n < want)
      out[(*n)++] = (uint32_t)k;
  }
  json_decref(reply);
  s->again_lists++;
  s->again_items += *n;
  return MES_OK;
}

static void served_report(void *state, struct mes_eval_result *r) {
  struct served *s = state;
  r->n_hp = 6;
  r->hp_name[0] = "relation_half_life_days";
  r->hp_value[0] = s->cfg.relation_half_life_days;
  r->hp_name[1] = "recent_items_half_life";
  r->hp_value[1] = s->cfg.recent_items_half_life;
  r->hp_name[2] = "history_half_life_days";
  r->hp_value[2] = s->cfg.history_half_life_days;
  r->hp_name[3] = "complements_pct";
  r->hp_value[3] = s->cfg.complements_pct;
  r->hp_name[4] = "ease_lambda";
  r->hp_value[4] = s->cfg.ease_lambda;
  r->hp_name[5] = "neighbors";
  r->hp_value[5] = s->cfg.neighbors;
  mes_eval_result_set(r, "model.kind", "%s (policy: %s)", s->kind, s->cfg.kind_name);
  mes_eval_result_set(r, "model items", "%zu (%zu in EASE)", s->model_items, s->model_ease_items);
  mes_eval_result_set(r, "event type", "%s (one per training pair, original time)", SERVED_EVENT_TYPE);
  if (s->cfg.catalog)
    mes_eval_result_set(r, "catalog", "%zu items of the shop's catalog, %zu categories", s->n_catalog_items,
                        json_object_size(s->cats_used));
  else
    mes_eval_result_set(r, "catalog", "none given: every item under the category %s", SERVED_CATEGORY);
  mes_eval_result_set(r, "loaded", "%zu items, %zu consents, %zu events in %.1f s", s->n_items, s->n_consents,
                      s->n_events, s->load_s);
  mes_eval_result_set(r, "trained", "%.2f s (mes_model_train, saved and loaded back)", s->train_s);
  mes_eval_result_set(r, "served", "%.2f s (mes_recommend, count %d)", s->rank_s, MES_EVAL_TOP);
  mes_eval_result_set(r, "not personalized", "%zu answers", s->n_not_personal);
  if (s->again_lists)
    mes_eval_result_set(r, "buy again", "%.2f items per list (of 10 asked, from answers of %d items)",
                        (double)s->again_items / (double)s->again_lists, MES_RECOMMEND_COUNT_MAX);
  char text[96] = "";
  size_t at = 0;
  for (size_t k = 0; k < s->n_reasons && at < sizeof text; k++) {
    int w = snprintf(text + at, sizeof text - at, "%s%s %.1f%%", k ? ", " : "", s->reasons[k].code,
                     100.0 * (double)s->reasons[k].n / (double)(s->n_slots ? s->n_slots : 1));
    at += w > 0 ? (size_t)w : 0;
  }
  mes_eval_result_set(r, "reasons@10", "%s", text);
  mes_eval_result_set(r, "guardrails", "on; retargeting window 3650 days and an unreachable frequency cap, "
                                       "not to distort the protocol");
  mes_eval_result_set(r, "clock", "per user: last training event + 1 s; training: last of all + 1 s");
  mes_eval_result_set(r, "hyperparameters", "policy keys chosen on the validation part (\"chosen\")");
}

static void served_describe(const void *cfg, char *out, size_t cap) {
  const struct served_cfg *c = cfg;
  snprintf(out, cap,
           "model: {kind: %s, relation_half_life_days: %d, recent_items_half_life: %d, history_half_life_days: %d, "
           "complements_pct: %d, ease_lambda: %d, neighbors: %d}",
           c->kind_name, c->relation_half_life_days, c->recent_items_half_life, c->history_half_life_days,
           c->complements_pct, c->ease_lambda, c->neighbors);
}

/* A store fitted with the same kind and learnt keys answers with any
 * serving keys: only those change. */
static bool served_adopt(void *state, const void *cfg) {
  struct served *s = state;
  const struct served_cfg *c = cfg;
  if (c->kind != s->fitted->kind || c->relation_half_life_days != s->fitted->relation_half_life_days ||
      c->ease_lambda != s->fitted->ease_lambda || c->neighbors != s->fitted->neighbors)
    return false;
  struct served_cfg was = s->cfg;
  s->cfg = *c;
  struct mes_err err;
  mes_err_clear(&err);
  if (write_policy(s, &err) || mes_engine_reload(s->e, &err)) {
    mes_log(s->log, MES_LOG_WARN, "eval: served: cannot change the serving keys (%s); fitting again",
            mes_err_text(&err));
    s->cfg = was;
    return false;
  }
  s->n_not_personal = s->n_reasons = s->n_slots = 0;
  s->rank_s = 0;
  return true;
}

/* The first is what `mesura eval` evaluates without --model. */
static const struct mes_eval_ranker served_rankers[] = {
    {"served", "the served path end to end (policy model.kind auto)", cfg_auto, served_fit, served_rank,
     served_report, served_free, N_GRID, sizeof cfg_auto[0], served_describe, served_adopt, served_buy_again},
    {"served-cooc", "the same with model.kind cooc", cfg_cooc, served_fit, served_rank, served_report, served_free,
     N_GRID, sizeof cfg_cooc[0], served_describe, served_adopt, served_buy_again},
    {"served-ease", "the same with model.kind ease", cfg_ease, served_fit, served_rank, served_report, served_free,
     N_GRID, sizeof cfg_ease[0], served_describe, served_adopt, served_buy_again},
};

const struct mes_eval_ranker *mes__served_rankers(size_t *n) {
  *n = sizeof served_rankers / sizeof served_rankers[0];
  return served_rankers;
}

/* ---------------------------------------------------------------- the shop's catalog */

/* A served ranker whose every configuration carries the catalog: one block. */
struct served_with_catalog {
  struct mes_eval_ranker r;
  json_t *catalog; /* item id -> its categories */
  struct served_cfg cfg[N_GRID];
};

/* Reads `mesura import` item lines into id -> categories. */
static int read_catalog(FILE *f, json_t *catalog, struct mes_err *err) {
  char *line = NULL;
  size_t cap = 0, line_no = 0;
  ssize_t got;
  int rc = MES_OK;
  while (rc == MES_OK && (got = getline(&line, &cap, f)) >= 0) {
    line_no++;
    size_t len = (size_t)got;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      len--;
    if (len == 0)
      continue;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *kind = json_object_get(o, "kind"), *id = json_object_get(o, "id");
    json_t *cats = json_object_get(o, "categories");
    bool ok = json_is_string(kind) && strcmp(json_string_value(kind), "item") == 0 && json_is_string(id) &&
              (!cats || json_is_array(cats));
    size_t i;
    json_t *c;
    json_array_foreach(cats, i, c) ok = ok && json_is_string(c);
    if (!ok) {
      rc = mes_err_set(err, MES_EBAD_INPUT, NULL,
                       "line %zu: expected an item line {\"kind\": \"item\", \"id\": ..., \"categories\": [...]}",
                       line_no);
    } else if (json_object_set_new(catalog, json_string_value(id), cats ? json_incref(cats) : json_array())) {
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    }
    json_decref(o);
  }
  if (rc == MES_OK && ferror(f))
    rc = mes_err_set(err, MES_EIO, NULL, "the catalog could not be read");
  free(line);
  return rc;
}

int mes__served_with_catalog(const struct mes_eval_ranker *base, FILE *f, struct mes_eval_ranker **out,
                             size_t *n_items, struct mes_err *err) {
  *out = NULL;
  *n_items = 0;
  struct served_with_catalog *w = calloc(1, sizeof *w);
  if (!w || !(w->catalog = json_object())) {
    free(w);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  int rc = base->n_cfg > N_GRID ? mes_err_set(err, MES_EINTERNAL, NULL, "The served grid outgrew its copy.")
                                 : read_catalog(f, w->catalog, err);
  if (rc) {
    json_decref(w->catalog);
    free(w);
    return rc;
  }
  w->r = *base;
  size_t n_cfg = base->n_cfg ? base->n_cfg : 1;
  memcpy(w->cfg, base->cfg, n_cfg * sizeof w->cfg[0]);
  for (size_t k = 0; k < n_cfg; k++)
    w->cfg[k].catalog = w->catalog;
  w->r.cfg = w->cfg;
  *n_items = json_object_size(w->catalog);
  *out = &w->r;
  return MES_OK;
}

void mes__served_ranker_free(struct mes_eval_ranker *r) {
  if (!r)
    return;
  struct served_with_catalog *w = (struct served_with_catalog *)r; /* r is its first member */
  json_decref(w->catalog);
  free(w);
}
