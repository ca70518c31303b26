/*
 * subject/subjmap — the pseudonym -> subject row hint map (subjmap.h).
 *
 * Layout: the entries asked for (MES_SUBJMAP_ENTRIES in a server) in 16
 * stripes; a stripe is a set-associative table of `sets` sets of WAYS
 * entries (a power of two), all allocated once, so a put never allocates and
 * nothing needs rehashing or tombstones. A map of 0 entries keeps nothing. The
 * pseudonym is a keyed BLAKE2b output, uniform in every byte: its first byte
 * picks the stripe and the next two the set, with no hashing of our own. A
 * set that is full gives up its least recently used entry (a per-stripe
 * tick, stamped on every hit and put).
 */
#include "subject/subjmap.h"
#include "subject/subject_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 16
#define WAYS 8
#define SETS_MAX (1u << 16) /* per stripe: 8 M entries in all */

struct entry {
  uint8_t pn[MES_PSEUDONYM_BYTES];
  int64_t id; /* 0: the entry is empty (store ids start at 1) */
  int64_t created_ms;
  uint32_t granted;
  uint32_t tick; /* the stripe's tick at its last use */
  bool restricted;
};

struct stripe {
  pthread_mutex_t mu;
  uint32_t tick;
  uint64_t hits, misses, contended;
  size_t n;
  struct entry *e; /* sets * WAYS, in one allocation for every stripe */
};

struct mes_subjmap {
  unsigned sets; /* per stripe, a power of two; 0: the map keeps nothing */
  struct entry *all;
  struct stripe s[STRIPES];
};

int mes_subjmap_new(size_t entries, struct mes_subjmap **out) {
  *out = NULL;
  unsigned sets = 0;
  if (entries >= STRIPES * WAYS) {
    sets = 1;
    while (sets < SETS_MAX && (size_t)sets * 2 * STRIPES * WAYS <= entries)
      sets *= 2;
  } else if (entries > 0) {
    return MES_EINTERNAL; /* fewer than one set per stripe */
  }
  struct mes_subjmap *m = calloc(1, sizeof *m);
  if (!m)
    return MES_ENOMEM;
  m->sets = sets;
  if (sets && !(m->all = calloc((size_t)sets * WAYS * STRIPES, sizeof *m->all))) {
    free(m);
    return MES_ENOMEM;
  }
  for (int i = 0; i < STRIPES; i++) {
    m->s[i].e = m->all ? m->all + (size_t)i * sets * WAYS : NULL;
    if (pthread_mutex_init(&m->s[i].mu, NULL) != 0) {
      while (i-- > 0)
        pthread_mutex_destroy(&m->s[i].mu);
      free(m->all);
      free(m);
      return MES_ENOMEM;
    }
  }
  *out = m;
  return MES_OK;
}

void mes_subjmap_free(struct mes_subjmap *m) {
  if (!m)
    return;
  for (int i = 0; i < STRIPES; i++)
    pthread_mutex_destroy(&m->s[i].mu);
  if (m->all) {
    mes_wipe(m->all, (size_t)m->sets * WAYS * STRIPES * sizeof *m->all); /* pseudonyms: gone before the allocator
                                                                          sees the memory again */
    free(m->all);
  }
  free(m);
}

/* Locks pn's stripe, counting the times another thread held it. */
static struct stripe *lock_stripe(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES]) {
  struct stripe *s = &m->s[pn[0] % STRIPES];
  if (pthread_mutex_trylock(&s->mu) != 0) {
    pthread_mutex_lock(&s->mu);
    s->contended++;
  }
  return s;
}

static struct entry *set_of(const struct mes_subjmap *m, struct stripe *s, const uint8_t pn[MES_PSEUDONYM_BYTES]) {
  unsigned set = ((unsigned)pn[1] | (unsigned)pn[2] << 8) & (m->sets - 1);
  return &s->e[set * WAYS];
}

static struct entry *find(struct entry *set, const uint8_t pn[MES_PSEUDONYM_BYTES]) {
  for (int w = 0; w < WAYS; w++)
    if (set[w].id != 0 && memcmp(set[w].pn, pn, MES_PSEUDONYM_BYTES) == 0)
      return &set[w];
  return NULL;
}

bool mes_subjmap_get(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES], struct mes_subject_row *out) {
  if (!m->sets)
    return false;
  struct stripe *s = lock_stripe(m, pn);
  struct entry *e = find(set_of(m, s, pn), pn);
  if (e) {
    e->tick = ++s->tick;
    *out = (struct mes_subject_row){
        .id = e->id, .granted = e->granted, .restricted = e->restricted, .created_ms = e->created_ms};
    s->hits++;
  } else {
    s->misses++;
  }
  pthread_mutex_unlock(&s->mu);
  return e != NULL;
}

void mes_subjmap_put(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES], const struct mes_subject_row *row) {
  if (!m->sets || row->id <= 0)
    return;
  struct stripe *s = lock_stripe(m, pn);
  struct entry *set = set_of(m, s, pn), *e = find(set, pn);
  if (!e) {
    /* An empty way, else the one unused the longest (ticks wrap: compare ages). */
    e = &set[0];
    for (int w = 0; w < WAYS && e->id != 0; w++)
      if (set[w].id == 0 || (uint32_t)(s->tick - set[w].tick) > (uint32_t)(s->tick - e->tick))
        e = &set[w];
    if (e->id == 0)
      s->n++;
    memcpy(e->pn, pn, MES_PSEUDONYM_BYTES);
  }
  e->id = row->id;
  e->granted = row->granted;
  e->restricted = row->restricted;
  e->created_ms = row->created_ms;
  e->tick = ++s->tick;
  pthread_mutex_unlock(&s->mu);
}

void mes_subjmap_forget(struct mes_subjmap *m, const uint8_t pn[MES_PSEUDONYM_BYTES]) {
  if (!m->sets)
    return;
  struct stripe *s = lock_stripe(m, pn);
  struct entry *e = find(set_of(m, s, pn), pn);
  if (e) {
    mes_wipe(e, sizeof *e); /* id 0: empty */
    s->n--;
  }
  pthread_mutex_unlock(&s->mu);
}

void mes_subjmap_stats(struct mes_subjmap *m, struct mes_subjmap_stats *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < STRIPES; i++) {
    struct stripe *s = &m->s[i];
    pthread_mutex_lock(&s->mu);
    out->hits += s->hits;
    out->misses += s->misses;
    out->contended += s->contended;
    out->entries += s->n;
    pthread_mutex_unlock(&s->mu);
  }
}

int mes_subject_resolve_hint(struct mes_subjects *sj, enum mes_subject_ns ns, const char *id, size_t len,
                             struct mes_subject *out, bool *cached) {
  *cached = false;
  mes_subject_pseudonymize(sj, ns, id, len, out);
  if (mes_subjmap_get(sj->map, out->pn, &out->row)) {
    *cached = true;
    return MES_OK;
  }
  int rc = mes_store_subject_find(sj->store, out->pn, &out->row);
  if (rc == MES_OK)
    mes_subjmap_put(sj->map, out->pn, &out->row);
  else
    memset(&out->row, 0, sizeof out->row);
  return rc;
}

void mes_subject_hint_put(struct mes_subjects *sj, const uint8_t pn[MES_PSEUDONYM_BYTES],
                          const struct mes_subject_row *row) {
  mes_subjmap_put(sj->map, pn, row);
}

void mes_subject_hint_forget(struct mes_subjects *sj, const uint8_t pn[MES_PSEUDONYM_BYTES]) {
  mes_subjmap_forget(sj->map, pn);
}

void mes_subjects_hint_stats(struct mes_subjects *sj, struct mes_subjmap_stats *out) {
  mes_subjmap_stats(sj->map, out);
}
