/*
 * model/collect — the training data: every stored event that may count
 * (mes_ingest_scan: decrypted, of subjects who grant personalization and
 * are not restricted), reduced to 12 bytes each, with item ids interned and
 * subjects renumbered densely, then both put in a canonical order
 * (mes__canonical). Kinds that never count (search, dismiss, types the
 * contract does not name) are dropped here.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model_int.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return MES_OK;
  size_t n = *cap ? *cap : 16;
  while (n < need) {
    if (n > SIZE_MAX / 2 / elem)
      return MES_ENOMEM;
    n *= 2;
  }
  void *q = realloc(*p, n * elem);
  if (!q)
    return MES_ENOMEM;
  *p = q;
  *cap = n;
  return MES_OK;
}

/* Index of item (len bytes), interned when new; -1 when out of memory or
 * beyond MES__MAX_ITEMS. */
static int64_t intern(struct mes__data *d, const char *item, size_t len) {
  uint32_t tag = mes_htab_tag(mes_hash_bytes(item, len));
  struct mes_htab_slot *s;
  for (size_t pos = 0; (s = mes_htab_next(&d->ihash, tag, &pos));) {
    uint32_t i = s->val - 1;
    if (d->id_off[i + 1] - d->id_off[i] - 1 == len && memcmp(d->ids + d->id_off[i], item, len) == 0)
      return i;
  }
  if (d->n_items >= MES__MAX_ITEMS || d->ids_len + len + 1 > UINT32_MAX)
    return -1;
  if (grow((void **)&d->ids, &d->ids_cap, d->ids_len + len + 1, 1) ||
      grow((void **)&d->id_off, &d->cap_items, d->n_items + 2, sizeof *d->id_off) ||
      mes_htab_add(&d->ihash, tag, (uint32_t)d->n_items + 1, NULL))
    return -1;
  if (d->n_items == 0)
    d->id_off[0] = 0;
  memcpy(d->ids + d->ids_len, item, len);
  d->ids[d->ids_len + len] = '\0';
  d->ids_len += len + 1;
  d->id_off[d->n_items + 1] = (uint32_t)d->ids_len;
  return (int64_t)d->n_items++;
}

int mes__data_add(struct mes__data *d, uint32_t subj, const char *item, size_t len, enum mes_kind k, int64_t ts_ms) {
  int64_t i = intern(d, item, len);
  if (i < 0)
    return d->n_items >= MES__MAX_ITEMS ? MES_EOUT_OF_RANGE : MES_ENOMEM;
  if (grow((void **)&d->ev, &d->cap_ev, d->n_ev + 1, sizeof *d->ev))
    return MES_ENOMEM;
  int64_t s = ts_ms / 1000;
  if (s < 0)
    s = 0;
  if (s > (int64_t)UINT32_MAX)
    s = UINT32_MAX;
  d->ev[d->n_ev++] = (struct mes__ev){.subj = subj, .ik = (uint32_t)i | (uint32_t)k << MES__KIND_SHIFT,
                                      .ts = (uint32_t)s};
  if (subj + 1 > d->n_subj)
    d->n_subj = subj + 1;
  if (d->n_ev == 1 || ts_ms < d->ts_min_ms)
    d->ts_min_ms = ts_ms;
  if (d->n_ev == 1 || ts_ms > d->ts_max_ms)
    d->ts_max_ms = ts_ms;
  return MES_OK;
}

void mes__data_release(struct mes__data *d) {
  if (!d)
    return;
  free(d->ev);
  free(d->subj_off);
  free(d->ids);
  free(d->id_off);
  free(d->sid);
  mes_htab_release(&d->ihash);
  memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- from the store */

struct collect_ud {
  struct mes__data *d;
  enum mes_kind kinds[256]; /* by event type index; MES_KIND_OTHER beyond */
  size_t n_types;
  /* store subject id (its tag) -> dense index + 1; sid[] by dense index */
  struct mes_htab dense;
  int64_t *sid;
  size_t cap_sid;
  int rc;
};

/* The subject's dense index + 1; 0 when out of memory. */
static uint32_t dense_subject(struct collect_ud *u, int64_t sid) {
  uint32_t tag = mes_htab_tag((uint64_t)sid);
  struct mes_htab_slot *s;
  for (size_t pos = 0; (s = mes_htab_next(&u->dense, tag, &pos));)
    if (u->sid[s->val - 1] == sid)
      return s->val;
  size_t n = mes_htab_count(&u->dense);
  if (grow((void **)&u->sid, &u->cap_sid, n + 1, sizeof *u->sid) ||
      mes_htab_add(&u->dense, tag, (uint32_t)n + 1, NULL))
    return 0;
  u->sid[n] = sid;
  return (uint32_t)n + 1;
}

static int on_event(void *ud, const struct mes_evrec *ev) {
  struct collect_ud *u = ud;
  if (!ev->item || ev->type < 0)
    return 0;
  enum mes_kind k = (size_t)ev->type < u->n_types ? u->kinds[ev->type] : MES_KIND_OTHER;
  if (k != MES_KIND_VIEW && k != MES_KIND_CLICK && k != MES_KIND_CART && k != MES_KIND_PURCHASE)
    return 0;
  uint32_t s = dense_subject(u, ev->sid);
  if (!s) {
    u->rc = MES_ENOMEM;
    return 1;
  }
  u->rc = mes__data_add(u->d, s - 1, ev->item, ev->item_len, k, ev->ts_ms);
  return u->rc != MES_OK;
}

/* The purposes training serves: those of personal answers on the web (or
 * the purpose named personalization): training for a purpose the person did
 * not grant would be purpose creep. */
static uint32_t training_purposes(const struct mes_policy *p) {
  uint32_t m = mes_policy_channel_purposes(p, MES_CH_WEB);
  if (!m) {
    int i = mes_policy_purpose(p, "personalization", strlen("personalization"));
    if (i >= 0)
      m = 1u << i;
  }
  return m;
}

int mes__collect(struct mes_ingester *ing, const struct mes_req *c, const struct mes_log *log, struct mes__data *d,
                 struct mes_err *err) {
  memset(d, 0, sizeof *d);
  mes_htab_init(&d->ihash, MES__MAX_ITEMS);
  struct collect_ud u = {.d = d, .rc = MES_OK};
  mes_htab_init(&u.dense, UINT32_MAX - 1);
  const struct mes_policy *p = c->policy;
  u.n_types = p->n_event_types < 256 ? p->n_event_types : 256;
  for (size_t t = 0; t < u.n_types; t++)
    u.kinds[t] = mes_kind_of(p->event_types[t].name);
  /* Size the event array once for every stored event (an upper bound):
   * doubling ten million events would copy them several times. */
  int64_t n = mes_ingest_count(ing);
  if (n > 0 && (uint64_t)n < SIZE_MAX / sizeof *d->ev) {
    d->ev = malloc((size_t)n * sizeof *d->ev);
    d->cap_ev = d->ev ? (size_t)n : 0;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint32_t purposes = training_purposes(p);
  if (!purposes)
    mes_log(log, MES_LOG_WARN, "training: the policy names no purpose for personal answers; no event counts");
  int rc = mes_ingest_scan(ing, c, purposes, on_event, &u, &d->scan, err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  d->scan_ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  mes_htab_release(&u.dense);
  d->sid = u.sid; /* n_subj of them: every dense subject has an event */
  d->cap_sid = u.cap_sid;
  if (!rc && u.rc) {
    rc = mes_err_set(err, u.rc, NULL,
                     u.rc == MES_EOUT_OF_RANGE ? "Too many distinct items to train on (at most 536,870,912)."
                                               : "Out of memory while reading the events to train on.");
  }
  if (rc)
    mes__data_release(d);
  return rc;
}

/* ---------------------------------------------------------------- canonical order */

static _Thread_local const struct mes__data *by_id_of;

static int cmp_item_id(const void *x, const void *y) {
  const struct mes__data *d = by_id_of;
  uint32_t i = *(const uint32_t *)x, j = *(const uint32_t *)y;
  size_t li = d->id_off[i + 1] - d->id_off[i] - 1, lj = d->id_off[j + 1] - d->id_off[j] - 1;
  int c = memcmp(d->ids + d->id_off[i], d->ids + d->id_off[j], li < lj ? li : lj);
  return c ? c : li < lj ? -1 : li > lj;
}

static _Thread_local const int64_t *by_sid_of;

static int cmp_sid(const void *x, const void *y) {
  int64_t a = by_sid_of[*(const uint32_t *)x], b = by_sid_of[*(const uint32_t *)y];
  return a < b ? -1 : a > b;
}

int mes__canonical(struct mes__data *d) {
  size_t n = d->n_items, ns = d->n_subj;
  uint32_t *order = malloc((n ? n : 1) * sizeof *order), *rank = malloc((n ? n : 1) * sizeof *rank);
  uint32_t *sorder = malloc((ns ? ns : 1) * sizeof *sorder), *srank = malloc((ns ? ns : 1) * sizeof *srank);
  char *ids = malloc(d->ids_len ? d->ids_len : 1);
  uint32_t *id_off = malloc((n + 1) * sizeof *id_off);
  int64_t *sid = d->sid ? malloc((ns ? ns : 1) * sizeof *sid) : NULL;
  int rc = MES_ENOMEM;
  if (!order || !rank || !sorder || !srank || !ids || !id_off || (d->sid && !sid))
    goto done;
  for (size_t i = 0; i < n; i++)
    order[i] = (uint32_t)i;
  by_id_of = d;
  qsort(order, n, sizeof *order, cmp_item_id);
  by_id_of = NULL;
  size_t at = 0;
  id_off[0] = 0;
  for (size_t r = 0; r < n; r++) {
    uint32_t i = order[r], len = d->id_off[i + 1] - d->id_off[i];
    rank[i] = (uint32_t)r;
    memcpy(ids + at, d->ids + d->id_off[i], len);
    at += len;
    id_off[r + 1] = (uint32_t)at;
  }
  for (size_t s = 0; s < ns; s++)
    sorder[s] = (uint32_t)s;
  if (d->sid) {
    by_sid_of = d->sid;
    qsort(sorder, ns, sizeof *sorder, cmp_sid);
    by_sid_of = NULL;
    for (size_t r = 0; r < ns; r++)
      sid[r] = d->sid[sorder[r]];
  }
  for (size_t r = 0; r < ns; r++)
    srank[sorder[r]] = (uint32_t)r;
  for (size_t e = 0; e < d->n_ev; e++) {
    struct mes__ev *ev = &d->ev[e];
    ev->ik = rank[ev->ik & MES__ITEM_MASK] | (ev->ik & ~MES__ITEM_MASK);
    ev->subj = srank[ev->subj];
  }
  /* The id table again, under the new numbering. */
  mes_htab_release(&d->ihash);
  mes_htab_init(&d->ihash, MES__MAX_ITEMS);
  if (mes_htab_reserve(&d->ihash, n))
    goto done;
  for (size_t i = 0; i < n; i++)
    mes_htab_add(&d->ihash, mes_htab_tag(mes_hash_bytes(ids + id_off[i], id_off[i + 1] - id_off[i] - 1)),
                 (uint32_t)i + 1, NULL); /* reserved above */
  free(d->ids);
  free(d->id_off);
  d->ids = ids;
  d->ids_cap = d->ids_len ? d->ids_len : 1;
  d->id_off = id_off;
  d->cap_items = n + 1;
  ids = NULL;
  id_off = NULL;
  if (d->sid) {
    free(d->sid);
    d->sid = sid;
    d->cap_sid = ns;
    sid = NULL;
  }
  rc = MES_OK;
done:
  free(order);
  free(rank);
  free(sorder);
  free(srank);
  free(ids);
  free(id_off);
  free(sid);
  return rc;
}

/* ---------------------------------------------------------------- grouping */

static int cmp_ts(const void *a, const void *b) {
  const struct mes__ev *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

int mes__by_subject(struct mes__data *d) {
  free(d->subj_off);
  d->subj_off = calloc(d->n_subj + 1, sizeof *d->subj_off);
  if (!d->subj_off)
    return MES_ENOMEM;
  if (d->n_ev == 0)
    return MES_OK;
  struct mes__ev *out = malloc(d->n_ev * sizeof *out);
  uint32_t *pos = malloc((d->n_subj + 1) * sizeof *pos);
  if (!out || !pos) {
    free(out);
    free(pos);
    return MES_ENOMEM;
  }
  /* A stable counting sort: within a subject the store's order (by row id,
   * which is nearly time order) is kept, so the sort by time below is cheap. */
  for (size_t i = 0; i < d->n_ev; i++)
    d->subj_off[d->ev[i].subj + 1]++;
  for (size_t s = 0; s < d->n_subj; s++)
    d->subj_off[s + 1] += d->subj_off[s];
  memcpy(pos, d->subj_off, (d->n_subj + 1) * sizeof *pos);
  for (size_t i = 0; i < d->n_ev; i++)
    out[pos[d->ev[i].subj]++] = d->ev[i];
  free(pos);
  free(d->ev);
  d->ev = out;
  d->cap_ev = d->n_ev;
  for (size_t s = 0; s < d->n_subj; s++) {
    struct mes__ev *e = d->ev + d->subj_off[s];
    size_t n = d->subj_off[s + 1] - d->subj_off[s];
    size_t i = 1;
    while (i < n && e[i - 1].ts <= e[i].ts)
      i++;
    if (i < n)
      qsort(e, n, sizeof *e, cmp_ts); /* not stable, but equal times carry no order anyway */
  }
  return MES_OK;
}
