/*
 * audit/run_catalog — the catalog side of an audit (see run.c's opening
 * comment): coverage, the exposure Gini, the long tail's share and the
 * popularity of what each group is shown against what it did, and the
 * catalog's price bands.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/run_int.h"
#include "catalog/catalog.h"

#define CATALOG_PAGE 1000
#define HEAD_SHARE 0.2 /* the head: the most popular fifth of the catalog; the rest is the long tail */

static int by_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Counts the catalog's available items and reads their prices
 * (attributes.price, a number): price bands cut at the terciles. */
int mes__audit_load_catalog(struct run *R, struct mes_err *err) {
  if (!(R->prices = json_object()))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  double *prices = NULL;
  size_t n = 0, cap = 0;
  char cursor[256];
  bool more = false;
  int rc = MES_OK;
  do {
    json_t *page = NULL;
    if ((rc = mes_catalog_list(R->a->catalog, R->c, CATALOG_PAGE, more ? cursor : NULL, &page, err))) {
      free(prices);
      return rc; /* err says why */
    }
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(page, "items"), i, it) {
      if (json_is_false(json_object_get(it, "available")))
        continue;
      R->n_available++;
      const json_t *price = json_object_get(json_object_get(it, "attributes"), "price");
      if (!json_is_number(price) || json_number_value(price) < 0)
        continue;
      if ((rc = grow((void **)&prices, &cap, n, sizeof *prices)) ||
          json_object_set_new(R->prices, json_string_value(json_object_get(it, "id")),
                              json_real(json_number_value(price)))) {
        rc = MES_ENOMEM;
        break;
      }
      prices[n++] = json_number_value(price);
    }
    const char *next = json_string_value(json_object_get(page, "next_cursor"));
    more = next && strlen(next) < sizeof cursor;
    if (more)
      snprintf(cursor, sizeof cursor, "%s", next);
    json_decref(page);
  } while (!rc && more);
  if (rc) {
    free(prices);
    return mes_err_set(err, rc, NULL, NULL);
  }
  if (n >= 3) { /* fewer cannot make three bands */
    qsort(prices, n, sizeof *prices, by_double);
    R->price_cut[0] = mes_audit_quantile(prices, n, 1.0 / 3.0);
    R->price_cut[1] = mes_audit_quantile(prices, n, 2.0 / 3.0);
    R->priced = true;
  }
  R->n_priced = n;
  free(prices);
  return MES_OK;
}

/* The model's popularity order, item id -> rank. */
int mes__audit_load_popularity(struct run *R, struct mes_err *err) {
  if (!(R->pop_rank = json_object()))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t n = 0;
  const uint32_t *top = R->m ? mes_model_top(R->m, false, &n) : NULL;
  for (size_t i = 0; top && i < n; i++)
    if (json_object_set_new(R->pop_rank, mes_model_item_id(R->m, top[i]), json_integer((json_int_t)i)))
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  R->n_ranked = n;
  R->n_head = (size_t)ceil(HEAD_SHARE * (double)R->n_available);
  return MES_OK;
}

/* An item's popularity as the share of the catalog it is ahead of: 1 for
 * the top seller, 0 for an item nobody bought or viewed. */
static double popularity(const struct run *R, const char *item) {
  const json_t *rank = json_object_get(R->pop_rank, item);
  if (!rank || R->n_available == 0)
    return 0;
  double p = 1.0 - (double)json_integer_value(rank) / (double)R->n_available;
  return p > 0 ? p : 0;
}

static bool in_head(const struct run *R, const char *item) {
  const json_t *rank = json_object_get(R->pop_rank, item);
  return rank && (size_t)json_integer_value(rank) < R->n_head;
}

/* The catalog-side figures of the people who[0..n): *out new. */
static int catalog_figures(const struct run *R, const size_t *who, size_t n, json_t **out) {
  *out = NULL;
  json_t *exposure = json_object(); /* item -> summed share of attention */
  double *vals = NULL;
  int rc = MES_ENOMEM;
  if (!exposure)
    return rc;
  double hist_sum = 0;
  size_t hist_n = 0;
  for (size_t j = 0; j < n; j++) {
    const struct person *p = &R->people[who[j]];
    const char *item;
    json_t *w;
    json_object_foreach(p->served, item, w) {
      if (json_object_set_new(exposure, item, json_real(json_real_value(json_object_get(exposure, item)) +
                                                        json_real_value(w))))
        goto done;
    }
    double events = 0, pop = 0;
    json_object_foreach(p->history, item, w) {
      events += (double)json_integer_value(w);
      pop += (double)json_integer_value(w) * popularity(R, item);
    }
    if (events > 0) {
      hist_sum += pop / events;
      hist_n++;
    }
  }
  size_t k = json_object_size(exposure), i = 0;
  if (!(vals = malloc((k ? k : 1) * sizeof *vals)))
    goto done;
  double total = 0, tail = 0, pop = 0;
  const char *item;
  json_t *w;
  json_object_foreach(exposure, item, w) {
    double e = json_real_value(w);
    vals[i++] = e;
    total += e;
    tail += in_head(R, item) ? 0 : e;
    pop += e * popularity(R, item);
  }
  bool model = R->n_ranked > 0;
  double served_pop = total > 0 ? pop / total : 0, hist_pop = hist_n ? hist_sum / (double)hist_n : 0;
  double gini = mes_audit_gini(vals, k, R->n_available > k ? R->n_available - k : 0);
  if (isnan(gini))
    goto done;
  json_t *o = json_pack("{s:I, s:I, s:f, s:f}", "n", (json_int_t)n, "items_served", (json_int_t)k, "coverage",
                        R->n_available ? round4((double)k / (double)R->n_available) : 0.0, "exposure_gini",
                        round4(gini));
  json_t *tail_share = model && total > 0 ? json_real(round4(tail / total)) : json_null();
  if (!o)
    json_decref(tail_share); /* json_object_set_new takes it otherwise, failing too */
  if (o && (json_object_set_new(o, "long_tail_share", tail_share) ||
            json_object_set_new(o, "served_popularity", model ? json_real(round4(served_pop)) : json_null()) ||
            json_object_set_new(o, "history_popularity", model && hist_n ? json_real(round4(hist_pop)) : json_null()) ||
            json_object_set_new(o, "popularity_lean",
                                model && hist_n ? json_real(round4(served_pop - hist_pop)) : json_null()) ||
            json_object_set_new(o, "leans_to_bestsellers",
                                json_boolean(model && hist_n && served_pop - hist_pop > MES_AUDIT_LEAN_FLAG)))) {
    json_decref(o);
    o = NULL;
  }
  if (o) {
    *out = o;
    rc = MES_OK;
  }
done:
  free(vals);
  json_decref(exposure);
  return rc;
}

/* The catalog side of the audit: overall, then per group of each attribute
 * (small groups merged or withheld as for the disparities). *out new. */
int mes__audit_catalog_side(struct run *R, const json_t *attrs, json_t **out) {
  *out = NULL;
  size_t *all = malloc((R->n_people + 1) * sizeof *all);
  if (!all)
    return MES_ENOMEM;
  for (size_t i = 0; i < R->n_people; i++)
    all[i] = i;
  json_t *overall = NULL, *groups = json_array();
  int rc = groups ? catalog_figures(R, all, R->n_people, &overall) : MES_ENOMEM;
  free(all);
  size_t i;
  const json_t *name;
  json_array_foreach(attrs, i, name) {
    if (rc)
      break;
    struct group *g;
    size_t ng;
    json_t *small;
    if ((rc = mes__audit_make_groups(R, json_string_value(name), &g, &ng, &small)))
      break;
    json_decref(small);
    for (size_t k = 0; !rc && k < ng; k++) {
      json_t *f = NULL;
      if ((rc = catalog_figures(R, g[k].who, g[k].n, &f)))
        break;
      if (json_object_set_new(f, "attribute", json_string(json_string_value(name))) ||
          json_object_set_new(f, "value", json_string(g[k].value)) ||
          json_object_set_new(f, "merged", json_boolean(g[k].merged))) {
        json_decref(f);
        rc = MES_ENOMEM;
      } else if (json_array_append_new(groups, f)) { /* which takes f, failing too */
        rc = MES_ENOMEM;
      }
    }
    mes__audit_free_groups(g, ng);
  }
  json_t *bands = NULL;
  if (!rc && R->priced)
    bands = json_pack("{s:s, s:[f, f], s:[f, f], s:I}", "by", "attributes.price", "quantiles", round4(1.0 / 3.0),
                      round4(2.0 / 3.0), "cuts", R->price_cut[0], R->price_cut[1], "items_priced",
                      (json_int_t)R->n_priced);
  if (!rc && (!R->priced || bands))
    *out = json_pack("{s:I, s:I, s:f, s:I, s:o, s:O, s:O}", "items", (json_int_t)R->n_available, "items_ranked",
                     (json_int_t)R->n_ranked, "head_share", HEAD_SHARE, "head_items", (json_int_t)R->n_head,
                     "price_bands", bands ? bands : json_null(), "overall", overall, "groups", groups);
  else
    json_decref(bands);
  if (!rc && !*out)
    rc = MES_ENOMEM;
  json_decref(overall);
  json_decref(groups);
  return rc;
}

