/*
 * audit/run_proxy — the proxies of an audit (see run.c's opening comment):
 * Cramér's V between each attribute that is not protected, and the
 * engine's inferred interest, and each protected attribute.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/run_int.h"

/* Index of value v among vals, appended when new and `add`; SIZE_MAX when
 * absent (or out of memory). */
static size_t value_index(json_t *vals, const char *v, bool add) {
  size_t i;
  json_t *e;
  json_array_foreach(vals, i, e) if (strcmp(json_string_value(e), v) == 0) return i;
  if (!add || json_array_append_new(vals, json_string(v)))
    return SIZE_MAX;
  return json_array_size(vals) - 1;
}

static int proxy(struct run *R, const char *cand, const char *prot, json_t *out) {
  json_t *rv = json_array(), *cv = json_array();
  size_t n = 0;
  int rc = MES_ENOMEM;
  int64_t *t = NULL;
  if (!rv || !cv)
    goto done;
  for (size_t i = 0; i < R->n_people; i++) {
    const char *a = json_string_value(json_object_get(R->people[i].attrs, cand));
    const char *b = json_string_value(json_object_get(R->people[i].attrs, prot));
    if (a && b) {
      if (value_index(rv, a, true) == SIZE_MAX || value_index(cv, b, true) == SIZE_MAX)
        goto done; /* rc is MES_ENOMEM */
      n++;
    }
  }
  rc = MES_OK;
  if ((int)n < R->min_group || n == 0)
    goto done; /* too few people with both to say anything without singling someone out */
  size_t nr = json_array_size(rv), nc = json_array_size(cv);
  if (!(t = calloc(nr * nc, sizeof *t))) {
    rc = MES_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < R->n_people; i++) {
    const char *a = json_string_value(json_object_get(R->people[i].attrs, cand));
    const char *b = json_string_value(json_object_get(R->people[i].attrs, prot));
    if (a && b) /* every value was added above */
      t[value_index(rv, a, false) * nc + value_index(cv, b, false)]++;
  }
  double v = mes_audit_cramers_v(t, nr, nc);
  if (isnan(v)) {
    rc = MES_ENOMEM;
    goto done;
  }
  json_t *row = json_pack("{s:s, s:s, s:f, s:I, s:b}", "attribute", cand, "protected", prot, "cramers_v", round4(v),
                          "n", (json_int_t)n, "flagged", v >= MES_AUDIT_PROXY_FLAG);
  if (!row || json_array_append_new(out, row))
    rc = MES_ENOMEM;
done:
  free(t);
  json_decref(rv);
  json_decref(cv);
  return rc;
}

/* Every attribute name recorded for anyone, in first-seen order. */
static json_t *recorded_names(const struct run *R) {
  json_t *seen = json_object();
  for (size_t i = 0; seen && i < R->n_people; i++) {
    const char *k;
    json_t *v;
    json_object_foreach(R->people[i].attrs, k, v) {
      if (json_object_set_new(seen, k, json_true())) {
        json_decref(seen);
        return NULL;
      }
    }
  }
  return seen;
}

int mes__audit_proxies(struct run *R, json_t *out) {
  json_t *names = recorded_names(R);
  if (!names)
    return MES_ENOMEM;
  int rc = MES_OK;
  const char *cand, *prot;
  json_t *v1, *v2;
  json_object_foreach(names, cand, v1) {
    if (mes_audit_is_protected(R->c->policy, cand))
      continue;
    json_object_foreach(names, prot, v2) {
      if (!mes_audit_is_protected(R->c->policy, prot))
        continue;
      if ((rc = proxy(R, cand, prot, out)))
        break;
    }
    if (rc)
      break;
  }
  json_decref(names);
  return rc;
}

