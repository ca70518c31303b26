/*
 * model/blob — a model as one versioned byte string, the form it has in the
 * store, and the checks that let a server load one safely.
 *
 * Layout (little-endian host order, which the header records; every section
 * starts on an 8-byte boundary):
 *
 *   header, 64 bytes:
 *     0  "MESMODEL"          8  u32 version (2)     12 u32 0x01020304 (byte order)
 *     16 u32 n_items         20 u32 kind            24 u32 n_nb[3] (bought, viewed, ease)
 *     36 u32 ids_bytes       40 u32 meta_len        44 u32 0
 *     48 u64 checksum of every byte after the header  56 u64 total length
 *   kind weights   f32[8]  (MES_KIND_N used)
 *   pop, trend     f32[n] each
 *   top_pop, top_trend   u32[n] each (permutations of 0..n-1)
 *   id_off         u32[n + 1], then the ids: NUL-terminated, distinct, non-empty
 *   per relation   u32 off[n + 1], then struct mes_nbr[n_nb]
 *   meta           JSON text, meta_len bytes
 *
 * The checksum (mes__blob_sum) is FNV-1a over the 64-bit words after the
 * header in four interleaved lanes: four independent multiply chains run
 * about twenty times faster than byte-wise FNV-1a, and a model is written and
 * checked while an erasure waits for it. Version 1 blobs (byte-wise FNV-1a)
 * still load.
 *
 * A model is the blob itself: loading checks every size, offset, index and
 * weight, then points the model's arrays into the blob. A blob that fails a
 * check is refused with MES_ESTORE and a sentence saying what is wrong; it
 * never reaches a query.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

#define MAGIC "MESMODEL"
#define VERSION 2u
#define BYTE_ORDER_MARK 0x01020304u
#define HEADER 64u
#define KW_SLOTS 8u

static uint64_t fnv64(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t mes__blob_sum(const uint8_t *p, size_t n) {
  uint64_t h[4] = {1469598103934665603ull, 1469598103934665603ull ^ 1, 1469598103934665603ull ^ 2,
                   1469598103934665603ull ^ 3};
  size_t words = n / 8;
  for (size_t i = 0; i < words; i++) {
    uint64_t w;
    memcpy(&w, p + 8 * i, 8);
    h[i & 3] = (h[i & 3] ^ w) * 1099511628211ull;
  }
  uint64_t out = 1469598103934665603ull;
  for (size_t i = 8 * words; i < n; i++) /* sections are 8-byte multiples: none in practice */
    out = (out ^ p[i]) * 1099511628211ull;
  for (int l = 0; l < 4; l++)
    out = (out ^ h[l]) * 1099511628211ull;
  return out;
}

static uint64_t pad8(uint64_t n) { return (n + 7u) & ~(uint64_t)7u; }

/* Section sizes, in bytes, from the header's counts (64-bit: no overflow). */
struct layout {
  uint64_t kw, pop, trend, top_pop, top_trend, id_off, ids, rel_off[MES_REL_N], rel_nb[MES_REL_N], meta, total;
};

static void layout_of(uint64_t n, const uint64_t n_nb[MES_REL_N], uint64_t ids_bytes, uint64_t meta_len,
                      struct layout *l) {
  uint64_t at = HEADER;
  l->kw = at;
  at += KW_SLOTS * 4;
  l->pop = at;
  at += pad8(n * 4);
  l->trend = at;
  at += pad8(n * 4);
  l->top_pop = at;
  at += pad8(n * 4);
  l->top_trend = at;
  at += pad8(n * 4);
  l->id_off = at;
  at += pad8((n + 1) * 4);
  l->ids = at;
  at += pad8(ids_bytes);
  for (int r = 0; r < MES_REL_N; r++) {
    l->rel_off[r] = at;
    at += pad8((n + 1) * 4);
    l->rel_nb[r] = at;
    at += n_nb[r] * sizeof(struct mes_nbr);
  }
  l->meta = at;
  at += pad8(meta_len);
  l->total = at;
}

static void put_u32(uint8_t *b, uint64_t at, uint32_t v) { memcpy(b + at, &v, 4); }
static void put_u64(uint8_t *b, uint64_t at, uint64_t v) { memcpy(b + at, &v, 8); }
static uint32_t get_u32(const uint8_t *b, uint64_t at) {
  uint32_t v;
  memcpy(&v, b + at, 4);
  return v;
}
static uint64_t get_u64(const uint8_t *b, uint64_t at) {
  uint64_t v;
  memcpy(&v, b + at, 8);
  return v;
}

int mes__blob_write(const struct mes__parts *p, uint8_t **out, size_t *len, struct mes_err *err) {
  *out = NULL;
  *len = 0;
  uint64_t n = p->n_items, n_nb[MES_REL_N];
  uint64_t ids_bytes = n ? p->id_off[n] : 0, meta_len = strlen(p->meta);
  for (int r = 0; r < MES_REL_N; r++)
    n_nb[r] = p->rel[r].off ? p->rel[r].off[n] : 0;
  if (n >= MES__MAX_ITEMS || ids_bytes > UINT32_MAX || meta_len > UINT32_MAX)
    return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The model is too large to store.");
  for (int r = 0; r < MES_REL_N; r++)
    if (n_nb[r] > UINT32_MAX)
      return mes_err_set(err, MES_EOUT_OF_RANGE, NULL, "The model is too large to store.");
  struct layout l;
  layout_of(n, n_nb, ids_bytes, meta_len, &l);
  if (l.total > SIZE_MAX)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  uint8_t *b = calloc(1, (size_t)l.total);
  if (!b)
    return mes_err_set(err, MES_ENOMEM, NULL, "Not enough memory to serialise the model.");
  memcpy(b, MAGIC, 8);
  put_u32(b, 8, VERSION);
  put_u32(b, 12, BYTE_ORDER_MARK);
  put_u32(b, 16, (uint32_t)n);
  put_u32(b, 20, (uint32_t)p->kind);
  for (int r = 0; r < MES_REL_N; r++)
    put_u32(b, 24 + 4 * (uint64_t)r, (uint32_t)n_nb[r]);
  put_u32(b, 36, (uint32_t)ids_bytes);
  put_u32(b, 40, (uint32_t)meta_len);
  memcpy(b + l.kw, p->kw, sizeof p->kw);
  if (n) {
    memcpy(b + l.pop, p->pop, n * 4);
    memcpy(b + l.trend, p->trend, n * 4);
    memcpy(b + l.top_pop, p->top_pop, n * 4);
    memcpy(b + l.top_trend, p->top_trend, n * 4);
    memcpy(b + l.id_off, p->id_off, (n + 1) * 4);
    memcpy(b + l.ids, p->ids, ids_bytes);
  }
  for (int r = 0; r < MES_REL_N; r++) {
    if (p->rel[r].off)
      memcpy(b + l.rel_off[r], p->rel[r].off, (n + 1) * 4);
    if (n_nb[r])
      memcpy(b + l.rel_nb[r], p->rel[r].nb, n_nb[r] * sizeof(struct mes_nbr));
  }
  memcpy(b + l.meta, p->meta, meta_len);
  put_u64(b, 48, mes__blob_sum(b + HEADER, (size_t)(l.total - HEADER)));
  put_u64(b, 56, l.total);
  *out = b;
  *len = (size_t)l.total;
  return MES_OK;
}

/* ---------------------------------------------------------------- load */

static int corrupt(struct mes_err *err, const char *what) {
  return mes_err_set(err, MES_ESTORE, NULL, "The stored model is corrupt (%s); train a new one with `mesura train`.",
                     what);
}

/* off[0..n] starts at 0, never decreases and ends at total. */
static bool offsets_ok(const uint32_t *off, uint64_t n, uint64_t total) {
  if (off[0] != 0 || off[n] != total)
    return false;
  for (uint64_t i = 0; i < n; i++)
    if (off[i + 1] < off[i])
      return false;
  return true;
}

static bool permutation_ok(const uint32_t *v, uint64_t n, uint8_t *seen) {
  memset(seen, 0, (size_t)n);
  for (uint64_t i = 0; i < n; i++) {
    if (v[i] >= n || seen[v[i]])
      return false;
    seen[v[i]] = 1;
  }
  return true;
}

static bool unit_ok(const float *v, uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    if (!(v[i] >= 0.0f && v[i] <= 1.0f)) /* false for NaN too */
      return false;
  return true;
}

/* own: the blob was just written by mes__blob_write in this process, from
 * parts that were checked as they were made: the checksum and the per-entry
 * checks (the O(size) part) are skipped, the header and offsets still read. */
static int check_and_point(struct mes_model *m, bool own, struct mes_err *err) {
  const uint8_t *b = m->blob;
  size_t len = m->blob_len;
  if (len < HEADER || memcmp(b, MAGIC, 8) != 0)
    return mes_err_set(err, MES_ESTORE, NULL, "The stored model is not a mesura model.");
  uint32_t version = get_u32(b, 8);
  if (version != VERSION && version != 1)
    return mes_err_set(err, MES_ESTORE, NULL,
                       "The stored model has format version %u; this mesura reads versions 1 to %u. Run `mesura "
                       "train`.",
                       version, VERSION);
  if (get_u32(b, 12) != BYTE_ORDER_MARK)
    return corrupt(err, "written with another byte order");
  uint64_t n = get_u32(b, 16), n_nb[MES_REL_N];
  for (int r = 0; r < MES_REL_N; r++)
    n_nb[r] = get_u32(b, 24 + 4 * (uint64_t)r);
  uint64_t ids_bytes = get_u32(b, 36), meta_len = get_u32(b, 40);
  if (n >= MES__MAX_ITEMS || get_u32(b, 20) >= MES__BUILT_N)
    return corrupt(err, "bad header");
  struct layout l;
  layout_of(n, n_nb, ids_bytes, meta_len, &l);
  if (l.total != len || get_u64(b, 56) != len)
    return corrupt(err, "its length does not match its header");
  if (!own &&
      (version == 1 ? fnv64(b + HEADER, len - HEADER) : mes__blob_sum(b + HEADER, len - HEADER)) != get_u64(b, 48))
    return corrupt(err, "checksum mismatch");
  m->kind = (int)get_u32(b, 20);
  m->n_items = (uint32_t)n;
  memcpy(m->kw, b + l.kw, sizeof m->kw);
  for (int k = 0; k < MES_KIND_N; k++)
    if (!(m->kw[k] >= 0.0f && m->kw[k] < 1e6f))
      return corrupt(err, "bad event weights");
  m->pop = (const float *)(b + l.pop);
  m->trend = (const float *)(b + l.trend);
  m->top_pop = (const uint32_t *)(b + l.top_pop);
  m->top_trend = (const uint32_t *)(b + l.top_trend);
  m->id_off = (const uint32_t *)(b + l.id_off);
  m->ids = (const char *)(b + l.ids);
  if (!own && (!unit_ok(m->pop, n) || !unit_ok(m->trend, n)))
    return corrupt(err, "popularity out of range");
  if (!own) {
    uint8_t *seen = malloc(n ? (size_t)n : 1);
    if (!seen)
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    bool ok = permutation_ok(m->top_pop, n, seen) && permutation_ok(m->top_trend, n, seen);
    free(seen);
    if (!ok)
      return corrupt(err, "bad item order");
  }
  if (!offsets_ok(m->id_off, n, ids_bytes))
    return corrupt(err, "bad item id offsets");
  for (uint64_t i = 0; i < n; i++) {
    uint32_t a = m->id_off[i], z = m->id_off[i + 1];
    if (z - a < 2 || m->ids[z - 1] != '\0' || memchr(m->ids + a, '\0', z - a - 1))
      return corrupt(err, "bad item id");
  }
  for (int r = 0; r < MES_REL_N; r++) {
    m->nb_off[r] = (const uint32_t *)(b + l.rel_off[r]);
    m->nb[r] = (const struct mes_nbr *)(b + l.rel_nb[r]);
    if (!offsets_ok(m->nb_off[r], n, n_nb[r]))
      return corrupt(err, "bad neighbour offsets");
    for (uint64_t j = 0; j < n_nb[r] && !own; j++)
      if (m->nb[r][j].item >= n || !(m->nb[r][j].w > 0.0f) || !isfinite(m->nb[r][j].w))
        return corrupt(err, "bad neighbour");
  }
  json_error_t je;
  m->meta = json_loadb((const char *)(b + l.meta), (size_t)meta_len, 0, &je);
  if (!json_is_object(m->meta))
    return corrupt(err, "bad metadata");
  /* Item lookup: an id's tag -> index + 1. A repeated id is corrupt. */
  mes_htab_init(&m->ids_ht, (size_t)n);
  if (mes_htab_reserve(&m->ids_ht, (size_t)n))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  for (uint64_t i = 0; i < n; i++) {
    const char *id = m->ids + m->id_off[i];
    size_t idlen = m->id_off[i + 1] - m->id_off[i] - 1;
    uint32_t tag = mes_htab_tag(mes_hash_bytes(id, idlen));
    struct mes_htab_slot *s;
    for (size_t pos = 0; (s = mes_htab_next(&m->ids_ht, tag, &pos));)
      if (strcmp(m->ids + m->id_off[s->val - 1], id) == 0)
        return corrupt(err, "an item id appears twice");
    mes_htab_add(&m->ids_ht, tag, (uint32_t)i + 1, NULL); /* reserved above */
  }
  return MES_OK;
}

/* The k-th smallest of v[0 .. n) (k < n), v reordered: the value sorting
 * would put at k, found in linear time on average (Hoare's selection). */
static float select_kth(float *v, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    float pivot = v[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot)
        i++;
      while (v[j] > pivot)
        j--;
      if (i <= j) {
        float t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        if (j == 0)
          break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return v[k]; /* between j and i: equal to the pivot */
  }
  return v[k];
}

/* Derived when a model is made, not stored, so that every stored model has
 * it whatever wrote it. */
int mes__model_units(struct mes_model *m) {
  size_t n = m->n_items;
  if (!m->top_w) {
    if (!(m->top_w = malloc((n ? n : 1) * MES_REL_N * sizeof *m->top_w)))
      return MES_ENOMEM;
    for (int r = 0; r < MES_REL_N; r++)
      for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const struct mes_nbr *row = mes_model_neighbors(m, (enum mes_rel)r, i, &len);
        m->top_w[(size_t)r * n + i] = len ? row[0].w : 0.0f;
      }
  }
  float *top = malloc((n ? n : 1) * sizeof *top);
  if (!top)
    return MES_ENOMEM;
  for (int r = 0; r < MES_REL_N; r++) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (m->top_w[(size_t)r * n + i] > 0.0f) /* weights are positive: 0 is an empty row */
        top[k++] = m->top_w[(size_t)r * n + i];
    m->unit[r] = k ? select_kth(top, k, k / 2) : 0.0f;
  }
  free(top);
  return MES_OK;
}

void mes__overlay_release(struct mes__overlay *o) {
  free(o->slot);
  free(o->off);
  free(o->nb);
  memset(o, 0, sizeof *o);
}

int mes__model_blob(const struct mes_model *m, uint8_t **out, size_t *len, struct mes_err *err) {
  *out = NULL;
  *len = 0;
  struct mes__csr rel[MES_REL_N];
  memset(rel, 0, sizeof rel);
  char *meta = mes_json_dumps(m->meta, JSON_COMPACT);
  int rc = meta ? MES_OK : MES_ENOMEM;
  for (int r = 0; r < MES_REL_N && !rc; r++) {
    /* The rows through the overlay, in order. */
    size_t n_nb = 0, k;
    for (uint32_t i = 0; i < m->n_items; i++) {
      mes_model_neighbors(m, (enum mes_rel)r, i, &k);
      n_nb += k;
    }
    rel[r].off = malloc(((size_t)m->n_items + 1) * sizeof *rel[r].off);
    rel[r].nb = malloc((n_nb ? n_nb : 1) * sizeof *rel[r].nb);
    if (!rel[r].off || !rel[r].nb) {
      rc = MES_ENOMEM;
      break;
    }
    rel[r].off[0] = 0;
    for (uint32_t i = 0; i < m->n_items; i++) {
      const struct mes_nbr *row = mes_model_neighbors(m, (enum mes_rel)r, i, &k);
      if (k)
        memcpy(rel[r].nb + rel[r].off[i], row, k * sizeof *row);
      rel[r].off[i + 1] = rel[r].off[i] + (uint32_t)k;
    }
    rel[r].n_nb = n_nb;
  }
  if (!rc) {
    struct mes__parts parts = {
        .kind = m->kind,
        .n_items = m->n_items,
        .ids = m->ids,
        .id_off = m->id_off,
        .pop = m->pop,
        .trend = m->trend,
        .top_pop = m->top_pop,
        .top_trend = m->top_trend,
        .meta = meta,
    };
    memcpy(parts.kw, m->kw, sizeof parts.kw);
    memcpy(parts.rel, rel, sizeof rel);
    rc = mes__blob_write(&parts, out, len, err);
  } else {
    mes_err_set(err, rc, NULL, NULL);
  }
  for (int r = 0; r < MES_REL_N; r++)
    mes__csr_release(&rel[r]);
  free(meta);
  return rc;
}

static int from_blob(uint8_t *blob, size_t len, int64_t id, bool own, struct mes_model **out, struct mes_err *err);

int mes__model_from_blob(uint8_t *blob, size_t len, int64_t id, struct mes_model **out, struct mes_err *err) {
  return from_blob(blob, len, id, false, out, err);
}

int mes__model_from_own_blob(uint8_t *blob, size_t len, struct mes_model **out, struct mes_err *err) {
  return from_blob(blob, len, 0, true, out, err);
}

static int from_blob(uint8_t *blob, size_t len, int64_t id, bool own, struct mes_model **out, struct mes_err *err) {
  *out = NULL;
  struct mes_model *m = calloc(1, sizeof *m);
  if (!m) {
    free(blob);
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  }
  atomic_init(&m->refs, 1);
  m->id = id;
  m->blob = blob;
  m->blob_len = len;
  if (((uintptr_t)blob & 7u) != 0) { /* malloc aligns; anything else is misuse */
    mes_model_unref(m);
    return mes_err_set(err, MES_EINTERNAL, NULL, NULL);
  }
  int rc = check_and_point(m, own, err);
  if (!rc)
    rc = mes__model_units(m) ? mes_err_set(err, MES_ENOMEM, NULL, NULL) : MES_OK;
  if (rc) {
    mes_model_unref(m);
    return rc;
  }
  *out = m;
  return MES_OK;
}
