/*
 * audit/run_int — what the files of one audit share: the run and its
 * people (run.c gathers them and computes the disparities), the groups
 * people fall into by an attribute's value, the catalog side
 * (run_catalog.c) and the proxies (run_proxy.c).
 */
#ifndef MES_AUDIT_RUN_INT_H
#define MES_AUDIT_RUN_INT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "audit/audit_int.h"
#include "base/json.h"
#include "store/store.h"

struct person {
  int64_t sid;
  json_t *doc;      /* the vault document, owned */
  json_t *attrs;    /* borrowed from doc, plus inferred_interest */
  json_t *figures;  /* measure -> real, owned */
  json_t *served;   /* item -> its share of the answer's attention (summing to 1), owned */
  json_t *history;  /* item -> events of theirs with it, owned */
  size_t answers;   /* answers their figures come from */
};

struct run {
  struct mes_audit *a;
  const struct mes_req *c;
  struct mes_recommender *r;
  const struct mes_model *m;
  int audit_purpose;
  struct mes_subject_row *rows; /* every subject row, by id */
  size_t n_rows, cap_rows;
  struct sealed {
    int64_t sid;
    uint8_t *data;
    size_t len;
  } *sealed;
  size_t n_sealed, cap_sealed;
  struct person *people;
  size_t n_people;
  int64_t n_restricted, n_no_consent;
  int scan_rc; /* what stopped a store scan's callback (out of memory) */
  json_t *item_cats; /* item id -> array of its categories (a cache) */
  int min_group, resamples;
  uint64_t seed;
  /* The catalog side (run_catalog.c). */
  size_t n_available;  /* items of the catalog that can be served */
  json_t *prices;      /* item id -> its attributes.price, for those that have one */
  double price_cut[2]; /* the catalog's price terciles: low <= [0] < mid <= [1] < high */
  bool priced;         /* enough priced items to cut bands */
  size_t n_priced;
  json_t *pop_rank;    /* item id -> its rank by the model's popularity (0: the most popular) */
  size_t n_ranked, n_head;
  /* source "served": the answers recorded since since_ms, for this placement
   * and channel when named (NULL: any), borrowed from the job's body. */
  bool from_records;
  int64_t since_ms;
  const char *placement, *channel;
  int64_t n_without_answers;
};

/* A group: its value ("other" when merged) and its people (indices). */
struct group {
  const char *value;
  bool merged;
  size_t *who;
  size_t n;
};

/* Groups the people by attribute `attr`; small groups merged or withheld.
 * *small gets {"groups": k, "handling": "merged"|"withheld"} or NULL.
 * *out (n_out groups) is freed with mes__audit_free_groups. */
int mes__audit_make_groups(const struct run *R, const char *attr, struct group **out, size_t *n_out, json_t **small);
void mes__audit_free_groups(struct group *g, size_t n);

/* The catalog side (run_catalog.c): the catalog's available items and their
 * price bands, then the model's popularity order, read before the people
 * are served; then, after, the figures over everyone and per group of each
 * attribute in attrs. */
int mes__audit_load_catalog(struct run *R, struct mes_err *err);
int mes__audit_load_popularity(struct run *R, struct mes_err *err);
int mes__audit_catalog_side(struct run *R, const json_t *attrs, json_t **out);

/* Cramér's V of every recorded non-protected attribute, and of the inferred
 * interest, with each protected one, appended to out (run_proxy.c). */
int mes__audit_proxies(struct run *R, json_t *out);

/* Makes room in *p (capacity *cap elements of size bytes) for element n. */
static inline int grow(void **p, size_t *cap, size_t n, size_t size) {
  if (n < *cap)
    return MES_OK;
  size_t c = *cap ? *cap * 2 : 64;
  void *q = realloc(*p, c * size);
  if (!q)
    return MES_ENOMEM;
  *p = q;
  *cap = c;
  return MES_OK;
}

static inline double round4(double v) { return round(v * 10000.0) / 10000.0; }

#endif
