/*
 * audit/run — one fairness audit, from the vault to the findings.
 *
 * Who: every person with attributes in the vault who grants the purpose
 * `audit` and whose processing is not restricted.
 *
 * What they are served: the recommender's answer for each of them now, for
 * the requested placement, channel and count, through the real serving path
 * in a dry run (mes_recommend_dry: nothing written). From each answer, per
 * person:
 *   exposure:<category>  the share of the answer's attention that went to the
 *                        category, items weighted by position (1/log2(rank+1),
 *                        as in DCG: the first item counts 1, the third 0.5);
 *   price_band:<band>    the same share for the item's price band: low, mid or
 *                        high by the terciles of the catalog's prices (an
 *                        item's attributes.price), or unpriced;
 *   reason:<code>        the share of items given with that reason;
 *   disclosure:<kind>    the share of items disclosed explicitly or implicitly;
 *   sensitive_items      the share of items in a sensitive category;
 *   items_per_answer     how many items came back.
 *
 * Disparities: for each requested attribute, people are grouped by its
 * value; a group's rate is the mean of its people's figures, with a 95%
 * bootstrap interval (people resampled, seeded: the same audit gives the same
 * intervals). The ratio is the lowest group's rate over the highest, flagged
 * below 0.8 (the four-fifths rule of US employment law, the usual yardstick
 * for adverse impact); the ratio has its own bootstrap interval, every group
 * resampled at once. Groups of fewer than audit.min_group_size people are
 * never shown: together they form "other" when that reaches the minimum,
 * else they are withheld; the JSON says how many groups went which way.
 *
 * The catalog side, over everyone and per reported group: coverage (the
 * share of the catalog's available items shown to anyone), the Gini
 * coefficient of the attention items get over the whole catalog, the share
 * of attention that goes to the long tail (all but the most popular fifth
 * of the catalog, by the model's popularity order), and popularity
 * calibration: the attention-weighted popularity of what is shown against
 * that of what the group's people did (popularity: the share of the catalog
 * an item is ahead of), flagged when shown exceeds done by more than 0.1.
 *
 * Proxies: for each attribute that is not protected (postal code, device,
 * ...) and for the engine's own inferred interest (the category a person's
 * history holds most of), Cramér's V with each protected attribute, over
 * the people who have both. V is computed without bias correction (plain
 * chi-squared), and flagged at 0.5 or more: the threshold Aequitas uses,
 * where one variable predicts much of the other; fairlens' 0.75 would miss
 * proxies strong enough to discriminate through.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/run_int.h"
#include "base/id.h"
#include "base/json.h"
#include "crypto/crypto.h"
#include "base/mtime.h"
#include "catalog/catalog.h"
#include "ingest/ingest.h"
#include "recommend/decrec.h"

#define MAX_ATTRS 16
#define WINDOW_DAYS_DEFAULT 30 /* source served: the default retention of decision records */
#define INTEREST "inferred_interest"

const struct mes_jfield mes_audit_run_fields[] = {
    {"attributes", MES_J_IDS, true, 0, MAX_ATTRS},
    {"placement", MES_J_ID, false, 0, 0},
    {"channel", MES_J_STRING, false, 1, 16},
    {"count", MES_J_INT, false, 1, MES_REC_COUNT_MAX},
    {"resamples", MES_J_INT, false, 0, 2000},
    {"seed", MES_J_INT, false, 0, INT32_MAX},
    {"source", MES_J_STRING, false, 1, 16},
    {"window_days", MES_J_INT, false, 1, 3650},
};
const size_t mes_audit_n_run_fields = sizeof mes_audit_run_fields / sizeof mes_audit_run_fields[0];

static int take_row(void *ud, const struct mes_subject_row *row) {
  struct run *R = ud;
  if (grow((void **)&R->rows, &R->cap_rows, R->n_rows, sizeof *R->rows))
    return R->scan_rc = MES_ENOMEM;
  R->rows[R->n_rows++] = *row;
  return 0;
}

static int take_sealed(void *ud, int64_t sid, const uint8_t *sealed, size_t len) {
  struct run *R = ud;
  if (grow((void **)&R->sealed, &R->cap_sealed, R->n_sealed, sizeof *R->sealed))
    return R->scan_rc = MES_ENOMEM;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    return R->scan_rc = MES_ENOMEM;
  memcpy(copy, sealed, len);
  R->sealed[R->n_sealed++] = (struct sealed){sid, copy, len};
  return 0;
}

static const struct mes_subject_row *row_of(const struct run *R, int64_t sid) {
  size_t lo = 0, hi = R->n_rows;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (R->rows[mid].id < sid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < R->n_rows && R->rows[lo].id == sid ? &R->rows[lo] : NULL;
}

/* The categories of an item into *out (borrowed from the cache): none for
 * an item no longer in the catalog. A failure to read them (out of memory,
 * the store) is an error, never an item without categories, which would
 * change the figures. */
static int categories_of(struct run *R, const char *item, const json_t **out) {
  json_t *cats = json_object_get(R->item_cats, item);
  *out = cats;
  if (cats)
    return MES_OK;
  int rc = mes_catalog_item_categories(R->a->catalog, item, &cats);
  if (rc == MES_ENOT_FOUND)
    cats = json_array();
  else if (rc)
    return rc;
  if (!cats || json_object_set_new(R->item_cats, item, cats))
    return MES_ENOMEM;
  *out = cats;
  return MES_OK;
}

static bool any_sensitive(const struct mes_policy *p, const json_t *cats) {
  size_t i;
  const json_t *v;
  json_array_foreach(cats, i, v) {
    int k = mes_policy_category(p, json_string_value(v), json_string_length(v));
    if (k >= 0 && p->categories[k].sensitive)
      return true;
  }
  return false;
}

/* ------------------------------------------------------------------------ */
/* Who is audited                                                           */

/* Loads the people the audit covers into R->people. */
static int gather(struct run *R, struct mes_err *err) {
  int rc = mes_store_subject_scan(R->a->store, take_row, R);
  if (!rc)
    rc = R->scan_rc;
  if (!rc)
    rc = mes_store_attr_scan(R->a->store, take_sealed, R);
  if (!rc)
    rc = R->scan_rc;
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  if (!(R->people = calloc(R->n_sealed ? R->n_sealed : 1, sizeof *R->people)))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (size_t i = 0; i < R->n_sealed; i++) {
    const struct mes_subject_row *row = row_of(R, R->sealed[i].sid);
    if (!row)
      continue;
    if (row->restricted) {
      R->n_restricted++;
      continue;
    }
    if (!(row->granted & (1u << R->audit_purpose))) {
      R->n_no_consent++;
      continue;
    }
    json_t *doc = NULL;
    rc = mes__audit_vault_read(R->a, row->id, R->sealed[i].data, R->sealed[i].len, &doc);
    if (rc == MES_ECRYPTO || rc == MES_ENOT_FOUND)
      continue; /* erased while the audit read: they are not audited */
    if (rc)
      return mes_err_set(err, rc, NULL, NULL);
    struct person *p = &R->people[R->n_people++];
    p->sid = row->id;
    p->doc = doc;
    p->attrs = json_object_get(doc, "attributes");
    if (!(p->figures = json_object()) || !(p->served = json_object()) || !(p->history = json_object()))
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  return MES_OK;
}

/* ------------------------------------------------------------------------ */
/* What each is served, and what their history says                          */

struct interest {
  struct run *R;
  json_t *counts;  /* category -> count */
  json_t *history; /* item -> count */
  int rc;          /* what stopped the scan */
};

static int count_interest(void *ud, const struct mes_evrec *ev) {
  struct interest *in = ud;
  if (!ev->item)
    return 0;
  if (json_object_set_new(in->history, ev->item,
                          json_integer(json_integer_value(json_object_get(in->history, ev->item)) + 1)))
    return in->rc = MES_ENOMEM;
  const json_t *cats;
  if ((in->rc = categories_of(in->R, ev->item, &cats)))
    return in->rc;
  size_t i;
  const json_t *v;
  json_array_foreach(cats, i, v) {
    const char *k = json_string_value(v);
    if (json_object_set_new(in->counts, k, json_integer(json_integer_value(json_object_get(in->counts, k)) + 1)))
      return in->rc = MES_ENOMEM;
  }
  return 0;
}

/* The category a person's history holds most of ("none" without any):
 * what the engine infers of them from behaviour. Ties go to the first name. */
static int infer_interest(struct run *R, struct person *p, int64_t sid, struct mes_err *err) {
  struct interest in = {R, json_object(), p->history, MES_OK};
  if (!in.counts)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_ingest_history(R->a->ingester, R->c, sid, count_interest, &in, err);
  const char *best = "none";
  json_int_t best_n = 0;
  const char *k;
  json_t *v;
  json_object_foreach(in.counts, k, v) {
    json_int_t n = json_integer_value(v);
    if (n > best_n || (n == best_n && n > 0 && strcmp(k, best) < 0)) {
      best = k;
      best_n = n;
    }
  }
  if (rc == MES_ENOT_FOUND) {
    mes_err_clear(err);
    rc = MES_OK;
  }
  if (!rc && in.rc)
    rc = mes_err_set(err, in.rc, NULL, NULL);
  if (!rc && json_object_set_new(p->attrs, INTEREST, json_string(best)))
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  json_decref(in.counts);
  return rc;
}

static int add_figure(json_t *figures, const char *kind, const char *of, double v) {
  char name[200];
  snprintf(name, sizeof name, "%s%s%s", kind, of ? ":" : "", of ? of : "");
  double was = json_real_value(json_object_get(figures, name));
  return json_object_set_new(figures, name, json_real(was + v)) ? MES_ENOMEM : MES_OK;
}

/* The price band of an item, from the catalog's terciles. */
static const char *price_band(const struct run *R, const char *item) {
  const json_t *price = json_object_get(R->prices, item);
  if (!price)
    return "unpriced";
  double v = json_real_value(price);
  return v <= R->price_cut[0] ? "low" : v <= R->price_cut[1] ? "mid" : "high";
}

/* One person's answer -> their figures. */
/* One answer's items (borrowed) -> the person's figures, each weighing
 * `share` (1 for a replay; 1/n for each of the n answers a person was served
 * in the window). */
static int add_answer(struct run *R, struct person *p, const json_t *items, double share) {
  size_t n = json_array_size(items), i;
  double total_w = 0;
  int rc = MES_OK;
  for (i = 0; i < n; i++)
    total_w += 1.0 / log2((double)i + 2.0);
  const json_t *it;
  json_array_foreach(items, i, it) {
    double w = share / log2((double)i + 2.0) / total_w, each = share / (double)n;
    const char *item = json_string_value(json_object_get(it, "item"));
    const json_t *cats = NULL;
    if (item && (rc = categories_of(R, item, &cats)))
      return rc;
    const char *code = json_string_value(json_object_get(json_object_get(it, "reason"), "code"));
    size_t k;
    const json_t *cat;
    json_array_foreach(cats, k, cat) {
      if ((rc = add_figure(p->figures, "exposure", json_string_value(cat), w)))
        break;
    }
    if (!rc && code)
      rc = add_figure(p->figures, "reason", code, each);
    const char *disclosure = json_string_value(json_object_get(it, "disclosure"));
    if (!rc && disclosure)
      rc = add_figure(p->figures, "disclosure", disclosure, each);
    if (!rc && R->priced && item)
      rc = add_figure(p->figures, "price_band", price_band(R, item), w);
    if (!rc && item &&
        json_object_set_new(p->served, item, json_real(json_real_value(json_object_get(p->served, item)) + w)))
      rc = MES_ENOMEM;
    if (!rc && cats && any_sensitive(R->c->policy, cats))
      rc = add_figure(p->figures, "sensitive_items", NULL, each);
    if (rc)
      return rc;
  }
  if (!rc)
    rc = add_figure(p->figures, "sensitive_items", NULL, 0); /* present for everyone */
  if (!rc)
    rc = add_figure(p->figures, "items_per_answer", NULL, share * (double)n);
  return rc;
}

/* What the person would be served now, through the real serving path. */
static int replay(struct run *R, struct person *p, json_t *req, struct mes_err *err) {
  json_t *reply = NULL;
  if (json_object_set(req, "subject", json_object_get(p->doc, "subject")))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_recommend_dry(R->r, R->c, R->m, req, MES_LANG_EN, &reply, err);
  if (rc)
    return rc;
  rc = add_answer(R, p, json_object_get(reply, "items"), 1.0);
  json_decref(reply);
  p->answers = 1;
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* What the person was served in the window, from the decision records the
 * recommender keeps (sealed under their key). */
struct served {
  struct run *R;
  json_t *answers; /* the items of each answer that matches */
  int rc;
};

static int served_cb(void *ud, const struct mes_decision_row *row) {
  struct served *sv = ud;
  struct run *R = sv->R;
  if (row->ts_ms < R->since_ms)
    return 0;
  json_t *rec = NULL;
  int rc = mes_decrec_open(R->a->subjects, row, &rec);
  if (rc == MES_ECRYPTO)
    return 0; /* a damaged record, or a key shredded meanwhile: not an answer to count */
  if (rc) {
    sv->rc = rc;
    return 1;
  }
  const char *placement = json_string_value(json_object_get(rec, "placement"));
  const char *channel = json_string_value(json_object_get(rec, "channel"));
  bool match = (!R->placement || (placement && strcmp(placement, R->placement) == 0)) &&
               (!R->channel || (channel && strcmp(channel, R->channel) == 0));
  if (match && json_array_append(sv->answers, json_object_get(rec, "items")))
    sv->rc = MES_ENOMEM;
  json_decref(rec);
  return sv->rc ? 1 : 0;
}

static int served(struct run *R, struct person *p, struct mes_err *err) {
  struct served sv = {R, json_array(), MES_OK};
  if (!sv.answers)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_store_decision_list(R->a->store, p->sid, served_cb, &sv);
  rc = rc ? rc : sv.rc;
  size_t n = json_array_size(sv.answers), i;
  const json_t *items;
  json_array_foreach(sv.answers, i, items) {
    if (rc || (rc = add_answer(R, p, items, 1.0 / (double)n)))
      break;
  }
  p->answers = n;
  json_decref(sv.answers);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

/* People who were served nothing in the window are not counted: they have
 * no figures, not figures of 0. */
static void drop_unserved(struct run *R) {
  size_t kept = 0;
  for (size_t i = 0; i < R->n_people; i++) {
    struct person *p = &R->people[i];
    if (p->answers > 0) {
      R->people[kept++] = *p;
      continue;
    }
    json_decref(p->doc);
    json_decref(p->figures);
    json_decref(p->served);
    json_decref(p->history);
    R->n_without_answers++;
  }
  R->n_people = kept;
}

/* ------------------------------------------------------------------------ */
/* Disparities                                                              */

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Names of every figure anyone has, sorted: *out new array. */
static json_t *measure_names(const struct run *R) {
  json_t *seen = json_object();
  for (size_t i = 0; seen && i < R->n_people; i++) {
    const char *k;
    json_t *v;
    json_object_foreach(R->people[i].figures, k, v) {
      if (json_object_set_new(seen, k, json_true())) {
        json_decref(seen);
        return NULL;
      }
    }
  }
  if (!seen)
    return NULL;
  size_t n = json_object_size(seen), j = 0;
  const char **names = calloc(n ? n : 1, sizeof *names);
  json_t *out = names ? json_array() : NULL;
  const char *k;
  json_t *v;
  json_object_foreach(seen, k, v) { if (names) names[j++] = k; }
  if (out) {
    qsort(names, n, sizeof *names, by_name);
    for (j = 0; j < n; j++)
      if (json_array_append_new(out, json_string(names[j]))) {
        json_decref(out);
        out = NULL;
        break;
      }
  }
  free(names);
  json_decref(seen);
  return out;
}

void mes__audit_free_groups(struct group *g, size_t n) {
  for (size_t i = 0; g && i < n; i++)
    free(g[i].who);
  free(g);
}

/* Groups the people by attribute `attr`; small groups merged or withheld.
 * *small gets {"groups": k, "handling": "merged"|"withheld"} or NULL. */
int mes__audit_make_groups(const struct run *R, const char *attr, struct group **out, size_t *n_out, json_t **small) {
  *out = NULL;
  *n_out = 0;
  *small = NULL;
  json_t *by_value = json_object(); /* value -> array of indices */
  if (!by_value)
    return MES_ENOMEM;
  for (size_t i = 0; i < R->n_people; i++) {
    const char *v = json_string_value(json_object_get(R->people[i].attrs, attr));
    if (!v)
      continue;
    json_t *arr = json_object_get(by_value, v);
    if (!arr && json_object_set_new(by_value, v, arr = json_array()))
      goto nomem;
    if (!arr || json_array_append_new(arr, json_integer((json_int_t)i)))
      goto nomem;
  }
  size_t nv = json_object_size(by_value);
  struct group *g = calloc(nv + 1, sizeof *g);
  size_t *other = calloc(R->n_people + 1, sizeof *other);
  if (!g || !other) {
    free(g);
    free(other);
    goto nomem;
  }
  size_t ng = 0, n_other = 0, n_small = 0;
  const char *k;
  json_t *arr;
  json_object_foreach(by_value, k, arr) {
    size_t n = json_array_size(arr), j;
    json_t *ix;
    if ((int)n < R->min_group) {
      n_small++;
      json_array_foreach(arr, j, ix) other[n_other++] = (size_t)json_integer_value(ix);
      continue;
    }
    size_t *who = malloc(n * sizeof *who);
    if (!who) {
      mes__audit_free_groups(g, ng);
      free(other);
      goto nomem;
    }
    json_array_foreach(arr, j, ix) who[j] = (size_t)json_integer_value(ix);
    /* The value string lives in the people's documents, which outlive the groups. */
    const json_t *first = json_object_get(R->people[who[0]].attrs, attr);
    g[ng++] = (struct group){json_string_value(first), false, who, n};
  }
  if (n_small) {
    bool merge = (int)n_other >= R->min_group;
    *small = json_pack("{s:I, s:s}", "groups", (json_int_t)n_small, "handling", merge ? "merged" : "withheld");
    if (!*small) {
      mes__audit_free_groups(g, ng);
      free(other);
      goto nomem;
    }
    if (merge)
      g[ng++] = (struct group){"other", true, other, n_other};
    else
      free(other);
  } else {
    free(other);
  }
  json_decref(by_value);
  *out = g;
  *n_out = ng;
  return MES_OK;
nomem:
  json_decref(by_value);
  return MES_ENOMEM;
}

static json_t *ci_pair(double lo, double hi) { return json_pack("[f, f]", round4(lo), round4(hi)); }

/* The disparities of one attribute, appended to out. *reported gets how
 * many groups were reported. */
static int disparities_of(struct run *R, const char *attr, const json_t *measures, json_t *out, json_t *attr_notes,
                          size_t *reported) {
  struct group *g;
  size_t ng;
  json_t *small;
  int rc = mes__audit_make_groups(R, attr, &g, &ng, &small);
  if (rc)
    return rc;
  *reported = ng;
  json_t *note = json_pack("{s:s, s:I, s:o}", "attribute", attr, "groups_reported", (json_int_t)ng, "small_groups",
                           small ? small : json_null());
  if (!note || json_array_append_new(attr_notes, note)) {
    mes__audit_free_groups(g, ng);
    return MES_ENOMEM;
  }
  /* Each person is in one group at most: the groups' figures side by side. */
  double *x = malloc((R->n_people + 1) * sizeof *x);
  const double **xs = calloc(ng + 1, sizeof *xs);
  size_t *ns = calloc(ng + 1, sizeof *ns);
  if (!x || !xs || !ns) {
    free(x);
    free(xs);
    free(ns);
    mes__audit_free_groups(g, ng);
    return MES_ENOMEM;
  }
  for (size_t k = 0, off = 0; k < ng; off += g[k].n, k++) {
    xs[k] = x + off;
    ns[k] = g[k].n;
  }
  size_t mi;
  const json_t *mname;
  json_array_foreach(measures, mi, mname) {
    if (ng < 1)
      break;
    const char *name = json_string_value(mname);
    json_t *groups = json_array();
    double lo_rate = INFINITY, hi_rate = -INFINITY;
    for (size_t k = 0, off = 0; groups && k < ng; off += g[k].n, k++) {
      double *xk = x + off; /* xs[k] */
      for (size_t j = 0; j < g[k].n; j++)
        xk[j] = json_real_value(json_object_get(R->people[g[k].who[j]].figures, name));
      double mean, lo, hi;
      if (mes_audit_bootstrap(xk, g[k].n, R->resamples, R->seed + mi * 7919u + k, &mean, &lo, &hi)) {
        json_decref(groups);
        groups = NULL;
        break;
      }
      lo_rate = mean < lo_rate ? mean : lo_rate;
      hi_rate = mean > hi_rate ? mean : hi_rate;
      json_t *row = json_pack("{s:s, s:I, s:f, s:o, s:b}", "value", g[k].value, "n", (json_int_t)g[k].n, "rate",
                              round4(mean), "ci", ci_pair(lo, hi), "merged", g[k].merged);
      if (!row || json_array_append_new(groups, row)) {
        json_decref(groups);
        groups = NULL;
      }
    }
    if (!groups) {
      rc = MES_ENOMEM;
      break;
    }
    if (hi_rate <= 0) { /* nobody got any: nothing to compare */
      json_decref(groups);
      continue;
    }
    const char *colon = strchr(name, ':');
    char kind[64];
    snprintf(kind, sizeof kind, "%.*s", colon ? (int)(colon - name) : (int)strlen(name), name);
    bool comparable = ng >= 2;
    double ratio = lo_rate / hi_rate, ratio_lo = ratio, ratio_hi = ratio;
    if (comparable &&
        mes_audit_bootstrap_ratio(xs, ns, ng, R->resamples, R->seed + mi * 7919u + ng + 104729u, &ratio_lo, &ratio_hi)) {
      json_decref(groups);
      rc = MES_ENOMEM;
      break;
    }
    json_t *d = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:b}", "attribute", attr, "measure", name, "kind",
                          kind, "of", colon ? json_string(colon + 1) : json_null(), "groups", groups, "ratio",
                          comparable ? json_real(round4(ratio)) : json_null(), "ratio_ci",
                          comparable ? ci_pair(ratio_lo, ratio_hi) : json_null(), "flagged",
                          comparable && ratio < MES_AUDIT_RATIO_FLAG);
    if (!d || json_array_append_new(out, d)) {
      rc = MES_ENOMEM;
      break;
    }
  }
  free(x);
  free(xs);
  free(ns);
  mes__audit_free_groups(g, ng);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                  */

static void run_release(struct run *R) {
  for (size_t i = 0; i < R->n_sealed; i++)
    free(R->sealed[i].data);
  free(R->sealed);
  for (size_t i = 0; i < R->n_people; i++) {
    json_decref(R->people[i].doc);
    json_decref(R->people[i].figures);
    json_decref(R->people[i].served);
    json_decref(R->people[i].history);
  }
  free(R->people);
  free(R->rows);
  json_decref(R->item_cats);
  json_decref(R->prices);
  json_decref(R->pop_rank);
}

/* The request the replay sends for everyone (without its subject). */
static json_t *replay_request(const json_t *body, struct mes_err *err, int *rc) {
  json_t *req = json_object();
  if (!req) {
    *rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    return NULL;
  }
  static const char *const copied[] = {"placement", "channel", "count"};
  for (size_t i = 0; i < 3; i++) {
    json_t *v = json_object_get(body, copied[i]);
    if (v && json_object_set(req, copied[i], v)) {
      json_decref(req);
      *rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
      return NULL;
    }
  }
  struct mes_rec_request parsed;
  if ((*rc = mes_recommend_parse(req, &parsed, err))) {
    json_decref(req);
    return NULL;
  }
  return req;
}

struct mes_audit_job {
  struct mes__audit_qlink link;
  struct run R;
  struct mes_req req; /* taken over: its policy reference */
  char actor[MES_ID_MAX + 1]; /* req.actor's text, kept for a job that outlives the call */
  json_t *body;       /* the request, a copy */
  json_t *replay;     /* what the replay asks for everyone */
  mes_audit_release_fn release;
  void *ud;
};

struct mes__audit_qlink *mes__audit_job_link(struct mes_audit_job *j) { return &j->link; }
size_t mes_audit_job_people(const struct mes_audit_job *j) { return j->R.n_people; }

void mes_audit_job_free(struct mes_audit_job *j) {
  if (!j)
    return;
  run_release(&j->R);
  json_decref(j->body);
  json_decref(j->replay);
  if (j->release)
    j->release(j->ud, &j->req, j->R.m);
  free(j);
}

/* The placement is one the policy lets audits name (any when it lists none).
 * An audit of what was served that names none reads every placement. */
static int check_placement(const struct mes_policy *p, const json_t *body, bool served, struct mes_err *err) {
  if (p->audit.n_placements == 0 || (served && !json_object_get(body, "placement")))
    return MES_OK;
  const char *placement = mes_json_str(body, "placement", "default");
  for (size_t i = 0; i < p->audit.n_placements; i++)
    if (strcmp(p->audit.placements[i], placement) == 0)
      return MES_OK;
  char list[256] = "";
  size_t at = 0;
  for (size_t i = 0; i < p->audit.n_placements && at < sizeof list; i++) {
    int w = snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", p->audit.placements[i]);
    if (w < 0)
      break;
    at += (size_t)w;
  }
  return mes_err_set(err, MES_EINVALID_VALUE, "/placement",
                     "The policy's audit.placements does not list the placement %s; audits may name %s.", placement,
                     list);
}

int mes_audit_prepare(struct mes_audit *a, const struct mes_req *c, struct mes_recommender *r, const struct mes_model *m,
                      const json_t *body, mes_audit_release_fn release, void *ud, struct mes_audit_job **out,
                      struct mes_err *err) {
  *out = NULL;
  int purpose = mes_policy_purpose(c->policy, MES_AUDIT_PURPOSE, strlen(MES_AUDIT_PURPOSE));
  if (purpose < 0)
    return mes_err_set(err, MES_EAUDIT_NOT_ENABLED, NULL, NULL);
  const json_t *attrs = json_object_get(body, "attributes");
  if (json_array_size(attrs) == 0)
    return mes_err_set(err, MES_EOUT_OF_RANGE, "/attributes", "Name at least one attribute to audit.");
  size_t i;
  const json_t *name;
  json_array_foreach(attrs, i, name) {
    char ptr[40];
    snprintf(ptr, sizeof ptr, "/attributes/%zu", i);
    if (json_string_length(name) > MES_AUDIT_ATTR_NAME_MAX)
      return mes_err_set(err, MES_EOUT_OF_RANGE, ptr, "An attribute's name is 1 to 64 bytes.");
  }
  const char *source = mes_json_str(body, "source", "replay");
  bool from_records = strcmp(source, "served") == 0;
  if (!from_records && strcmp(source, "replay") != 0)
    return mes_err_set(err, MES_EINVALID_VALUE, "/source",
                       "source is replay (what each person would be served now) or served (what they were "
                       "served, from the decision records).");
  if (!from_records && json_object_get(body, "window_days"))
    return mes_err_set(err, MES_EINVALID_VALUE, "/window_days", "window_days applies to source served only.");
  int rc = check_placement(c->policy, body, from_records, err);
  if (rc)
    return rc;
  json_t *replay = replay_request(body, err, &rc);
  if (!replay)
    return rc;
  struct mes_audit_job *j = calloc(1, sizeof *j);
  json_t *copy = json_deep_copy(body);
  if (!j || !copy) {
    free(j);
    json_decref(copy);
    json_decref(replay);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  j->req = *c;
  if (c->actor) {
    snprintf(j->actor, sizeof j->actor, "%s", c->actor);
    j->req.actor = j->actor;
  }
  j->body = copy;
  j->replay = replay;
  struct run *R = &j->R;
  *R = (struct run){.a = a, .c = &j->req, .r = r, .m = m, .audit_purpose = purpose};
  R->min_group = c->policy->audit.min_group_size > 0 ? c->policy->audit.min_group_size : MES_AUDIT_MIN_GROUP_DEFAULT;
  R->resamples = (int)mes_json_int(body, "resamples", MES_AUDIT_BOOTSTRAP);
  R->seed = (uint64_t)mes_json_int(body, "seed", 1);
  R->from_records = from_records;
  if (from_records) {
    R->since_ms = c->now_ms - mes_json_int(copy, "window_days", WINDOW_DAYS_DEFAULT) * 86400000LL;
    R->placement = json_string_value(json_object_get(copy, "placement"));
    R->channel = json_string_value(json_object_get(copy, "channel"));
  }
  if (!(R->item_cats = json_object())) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto fail;
  }
  if ((rc = gather(R, err)))
    goto fail;
  /* An attribute nobody audited has is a mistake in the request (a typo),
   * not a finding. */
  json_array_foreach(attrs, i, name) {
    bool found = strcmp(json_string_value(name), INTEREST) == 0;
    for (size_t k = 0; !found && k < R->n_people; k++)
      found = json_object_get(R->people[k].attrs, json_string_value(name)) != NULL;
    if (!found) {
      char ptr[40];
      snprintf(ptr, sizeof ptr, "/attributes/%zu", i);
      rc = mes_err_set(err, MES_EINVALID_VALUE, ptr, "No audited person has the attribute %s recorded.",
                       json_string_value(name));
      goto fail;
    }
  }
  /* From here on the job holds the request and the model. */
  j->release = release;
  j->ud = ud;
  *out = j;
  return MES_OK;
fail:
  mes_audit_job_free(j); /* release is not set yet: the caller keeps c and m */
  return rc;
}

int mes__audit_running_doc(const struct mes_audit_job *j, int64_t now_ms, json_t **out) {
  char ts[32];
  mes_time_format(now_ms, ts);
  *out = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:I, s:{s:I}}", "status", "running", "created_at", ts,
                   "requested_by", j->req.actor ? j->req.actor : "host", "attributes",
                   json_object_get(j->body, "attributes"), "placement",
                   mes_json_str(j->body, "placement", "default"), "channel", mes_json_str(j->body, "channel", "web"),
                   "count", (json_int_t)mes_json_int(j->body, "count", MES_REC_COUNT_DEFAULT), "population",
                   "audited", (json_int_t)j->R.n_people);
  return *out ? MES_OK : MES_ENOMEM;
}

int mes_audit_job_finish(struct mes_audit_job *j, json_t **out, struct mes_err *err) {
  *out = NULL;
  struct run *R = &j->R;
  const struct mes_req *c = R->c;
  const json_t *body = j->body, *attrs = json_object_get(body, "attributes"), *name;
  size_t i;
  int rc = MES_OK;
  json_t *doc = NULL, *measures = NULL, *catalog;
  if ((rc = mes__audit_load_catalog(R, err)) || (rc = mes__audit_load_popularity(R, err)))
    goto done;
  for (size_t k = 0; k < R->n_people; k++) {
    /* A closing handle stops a background audit between two people. */
    if (atomic_load(&R->a->stop)) {
      rc = mes_err_set(err, MES_EUNAVAILABLE, NULL, "The server stopped before this audit finished.");
      goto done;
    }
    rc = R->from_records ? served(R, &R->people[k], err) : replay(R, &R->people[k], j->replay, err);
    if (rc || (rc = infer_interest(R, &R->people[k], R->people[k].sid, err)))
      goto done;
    /* The replay and the interest read the person's history: their access log says so. */
    const json_t *id = json_object_get(R->people[k].doc, "subject");
    mes_recommender_access_note(R->r, c, R->people[k].sid, json_string_value(id), json_string_length(id),
                                MES_ACCESS_AUDIT);
  }
  drop_unserved(R);
  doc = json_object();
  measures = measure_names(R);
  /* json_object_set_new takes its value even when it fails. */
  if (!doc || !measures || json_object_set_new(doc, "disparities", json_array()) ||
      json_object_set_new(doc, "proxies", json_array()) || json_object_set_new(doc, "groups", json_array())) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  json_t *disp = json_object_get(doc, "disparities"), *prox = json_object_get(doc, "proxies"),
         *notes = json_object_get(doc, "groups");
  size_t any_reported = 0;
  json_array_foreach(attrs, i, name) {
    size_t reported = 0;
    if ((rc = disparities_of(R, json_string_value(name), measures, disp, notes, &reported))) {
      rc = mes_err_set(err, rc, NULL, NULL);
      goto done;
    }
    any_reported += reported;
  }
  if (!any_reported) {
    rc = mes_err_set(err, MES_EGROUPS_TOO_SMALL, "/attributes",
                     "Every group of the audited attributes has fewer than %d people: an audit would single "
                     "people out, so nothing was computed or stored.",
                     R->min_group);
    goto done;
  }
  if (!(rc = mes__audit_proxies(R, prox)) && !(rc = mes__audit_catalog_side(R, attrs, &catalog)) &&
      json_object_set_new(doc, "catalog", catalog))
    rc = MES_ENOMEM;
  if (rc) {
    rc = mes_err_set(err, rc, NULL, NULL);
    goto done;
  }
  size_t n_disp = 0, n_prox = 0;
  const json_t *e;
  json_array_foreach(disp, i, e) n_disp += json_is_true(json_object_get(e, "flagged"));
  json_array_foreach(prox, i, e) n_prox += json_is_true(json_object_get(e, "flagged"));
  char ts[32];
  mes_time_format(c->now_ms, ts);
  json_t *head = json_pack(
      "{s:s, s:s, s:s, s:O, s:s, s:s, s:I, s:{s:I, s:I, s:I}, s:I, s:{s:I, s:I, s:f}, s:{s:f, s:f, s:f},"
      " s:{s:I, s:I}}",
      "status", "done", "created_at", ts, "requested_by", c->actor ? c->actor : "host", "attributes",
      attrs, "placement",
      mes_json_str(body, "placement", "default"), "channel", mes_json_str(body, "channel", "web"), "count",
      (json_int_t)mes_json_int(body, "count", MES_REC_COUNT_DEFAULT), "population", "audited",
      (json_int_t)R->n_people, "excluded_restricted", (json_int_t)R->n_restricted, "excluded_no_consent",
      (json_int_t)R->n_no_consent, "min_group_size", (json_int_t)R->min_group, "bootstrap", "resamples",
      (json_int_t)R->resamples, "seed", (json_int_t)R->seed, "level", 0.95, "thresholds", "disparity_ratio",
      MES_AUDIT_RATIO_FLAG, "cramers_v", MES_AUDIT_PROXY_FLAG, "popularity_lean", MES_AUDIT_LEAN_FLAG, "flags",
      "disparities", (json_int_t)n_disp, "proxies",
      (json_int_t)n_prox);
  if (!head || json_object_update(doc, head)) {
    json_decref(head);
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  json_decref(head);
  if (json_object_set_new(doc, "source", json_string(R->from_records ? "served" : "replay")) ||
      (R->from_records &&
       (json_object_set_new(doc, "window_days", json_integer(mes_json_int(body, "window_days", WINDOW_DAYS_DEFAULT))) ||
        json_object_set_new(json_object_get(doc, "population"), "without_answers",
                            json_integer(R->n_without_answers)) ||
        json_object_set_new(doc, "placement", json_string(R->placement ? R->placement : "any")) ||
        json_object_set_new(doc, "channel", json_string(R->channel ? R->channel : "any"))))) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  *out = doc;
  doc = NULL;
done:
  json_decref(doc);
  json_decref(measures);
  return rc;
}

/* ------------------------------------------------------------------------ */
/* History                                                                  */

int mes_audit_save(struct mes_audit *a, const struct mes_req *c, json_t *audit, struct mes_err *err) {
  int64_t id = 0;
  char *text = json_dumps(audit, JSON_COMPACT);
  int rc = text ? mes_store_audit_put(a->store, c->now_ms, text, &id) : MES_ENOMEM;
  free(text);
  char s[32];
  snprintf(s, sizeof s, "%lld", (long long)id);
  if (!rc && json_object_set_new(audit, "id", json_string(s)))
    rc = MES_ENOMEM;
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

static int load_id(struct mes_audit *a, int64_t id, json_t **out, struct mes_err *err) {
  char *text = NULL;
  int rc = id > 0 ? mes_store_audit_get(a->store, id, &text) : MES_ENOT_FOUND;
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, MES_ENOT_FOUND, NULL, "There is no audit with this id.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  *out = json_loads(text, 0, NULL);
  free(text);
  char s[32];
  snprintf(s, sizeof s, "%lld", (long long)id);
  if (!*out || json_object_set_new(*out, "id", json_string(s))) {
    json_decref(*out);
    *out = NULL;
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  return MES_OK;
}

int mes_audit_load(struct mes_audit *a, const struct mes_req *c, const char *id, size_t id_len, json_t **out, struct mes_err *err) {
  *out = NULL;
  int64_t n = 0;
  for (size_t i = 0; i < id_len; i++) {
    if (id[i] < '0' || id[i] > '9' || n > INT64_MAX / 10 - 10)
      return mes_err_set(err, MES_ENOT_FOUND, NULL, "There is no audit with this id.");
    n = n * 10 + (id[i] - '0');
  }
  (void)c;
  return load_id(a, n, out, err);
}

int mes_audit_latest(struct mes_audit *a, const struct mes_req *c, json_t **out, struct mes_err *err) {
  *out = NULL;
  int64_t id = mes_store_audit_latest(a->store);
  if (id < 0)
    return mes_err_set(err, MES_ESTORE, NULL, NULL);
  (void)c;
  return load_id(a, id, out, err);
}
