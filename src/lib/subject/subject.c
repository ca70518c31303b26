/*
 * subject — brand ids to pseudonyms, store ids and subject keys, plus the
 * cache of unwrapped keys.
 *
 * A subject's key is made the first time the subject is stored, wrapped by
 * the master key and written durably to the keystore before anything can be
 * sealed under it. Shredding deletes the wrapped key; every copy of the data
 * sealed under it is then unreadable.
 */
#include "subject/subject.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "subject/subject_int.h"

/* ------------------------------------------------------------------------ */
/* Key cache: a table from sid to entry (base/htab) and an LRU list, all
 * allocated once. Keys are wiped when an entry leaves.                     */
/* ------------------------------------------------------------------------ */

#define KC_NONE (-1)

struct kc_entry {
  int64_t sid;
  uint8_t key[MES_KEY_BYTES];
  int32_t next_free; /* while on the free list */
  int32_t prev;      /* LRU neighbours (prev: more recent) */
  int32_t next;
};

struct mes_keycache {
  pthread_mutex_t mu;
  struct kc_entry *e; /* max entries */
  size_t max;
  struct mes_htab by_sid; /* a sid's tag -> entry index + 1; room for max, made at creation */
  int32_t head;     /* most recently used */
  int32_t tail;     /* least recently used */
  int32_t free;
  /* Bumped by every forget. A key read from the keystore before a forget must
   * not be cached after it (it may belong to a subject just shredded). */
  uint64_t epoch;
};

int mes_keycache_new(size_t max_entries, struct mes_keycache **out) {
  *out = NULL;
  if (max_entries > INT32_MAX / 4)
    return MES_EINTERNAL;
  struct mes_keycache *kc = calloc(1, sizeof *kc);
  if (!kc)
    return MES_ENOMEM;
  kc->max = max_entries;
  mes_htab_init(&kc->by_sid, max_entries);
  kc->e = calloc(max_entries ? max_entries : 1, sizeof *kc->e);
  if (!kc->e || mes_htab_reserve(&kc->by_sid, max_entries) || pthread_mutex_init(&kc->mu, NULL) != 0) {
    free(kc->e);
    mes_htab_release(&kc->by_sid);
    free(kc);
    return MES_ENOMEM;
  }
  for (size_t i = 0; i < max_entries; i++)
    kc->e[i].next_free = i + 1 < max_entries ? (int32_t)(i + 1) : KC_NONE;
  kc->free = max_entries ? 0 : KC_NONE;
  kc->head = kc->tail = KC_NONE;
  *out = kc;
  return MES_OK;
}

void mes_keycache_free(struct mes_keycache *kc) {
  if (!kc)
    return;
  mes_wipe(kc->e, kc->max * sizeof *kc->e);
  pthread_mutex_destroy(&kc->mu);
  free(kc->e);
  mes_htab_release(&kc->by_sid);
  free(kc);
}

/* The slot of sid's entry, or NULL. */
static struct mes_htab_slot *kc_slot(const struct mes_keycache *kc, int64_t sid) {
  struct mes_htab_slot *s;
  for (size_t pos = 0; (s = mes_htab_next(&kc->by_sid, mes_htab_tag((uint64_t)sid), &pos));)
    if (kc->e[s->val - 1].sid == sid)
      return s;
  return NULL;
}

static int32_t kc_find(const struct mes_keycache *kc, int64_t sid) {
  const struct mes_htab_slot *s = kc_slot(kc, sid);
  return s ? (int32_t)s->val - 1 : KC_NONE;
}

static void lru_unlink(struct mes_keycache *kc, int32_t i) {
  struct kc_entry *x = &kc->e[i];
  if (x->prev != KC_NONE)
    kc->e[x->prev].next = x->next;
  else
    kc->head = x->next;
  if (x->next != KC_NONE)
    kc->e[x->next].prev = x->prev;
  else
    kc->tail = x->prev;
}

static void lru_push_front(struct mes_keycache *kc, int32_t i) {
  struct kc_entry *x = &kc->e[i];
  x->prev = KC_NONE;
  x->next = kc->head;
  if (kc->head != KC_NONE)
    kc->e[kc->head].prev = i;
  kc->head = i;
  if (kc->tail == KC_NONE)
    kc->tail = i;
}

/* Takes entry i out of the table, wipes it and returns it to the free list. */
static void kc_remove(struct mes_keycache *kc, int32_t i) {
  mes_htab_remove(&kc->by_sid, kc_slot(kc, kc->e[i].sid));
  lru_unlink(kc, i);
  mes_wipe(kc->e[i].key, MES_KEY_BYTES);
  kc->e[i].sid = 0;
  kc->e[i].next_free = kc->free;
  kc->free = i;
}

static bool kc_get(struct mes_keycache *kc, int64_t sid, uint8_t key[MES_KEY_BYTES]) {
  if (!kc->max)
    return false;
  pthread_mutex_lock(&kc->mu);
  int32_t i = kc_find(kc, sid);
  if (i != KC_NONE) {
    memcpy(key, kc->e[i].key, MES_KEY_BYTES);
    lru_unlink(kc, i);
    lru_push_front(kc, i);
  }
  pthread_mutex_unlock(&kc->mu);
  return i != KC_NONE;
}

static uint64_t kc_epoch(struct mes_keycache *kc) {
  pthread_mutex_lock(&kc->mu);
  uint64_t ep = kc->epoch;
  pthread_mutex_unlock(&kc->mu);
  return ep;
}

/* Caches sid's key, unless a forget happened since `epoch` was read
 * (check_epoch false: the key was just made and is authoritative). */
static void kc_put(struct mes_keycache *kc, int64_t sid, const uint8_t key[MES_KEY_BYTES], bool check_epoch,
                   uint64_t epoch) {
  if (!kc->max)
    return;
  pthread_mutex_lock(&kc->mu);
  if (check_epoch && epoch != kc->epoch)
    goto out;
  int32_t i = kc_find(kc, sid);
  if (i != KC_NONE) {
    lru_unlink(kc, i);
  } else {
    if (kc->free == KC_NONE)
      kc_remove(kc, kc->tail); /* evict the least recently used */
    i = kc->free;
    kc->free = kc->e[i].next_free;
    kc->e[i].sid = sid;
    mes_htab_add(&kc->by_sid, mes_htab_tag((uint64_t)sid), (uint32_t)i + 1, NULL); /* room for max, made at creation */
  }
  memcpy(kc->e[i].key, key, MES_KEY_BYTES);
  lru_push_front(kc, i);
out:
  pthread_mutex_unlock(&kc->mu);
}

void mes_keycache_forget(struct mes_keycache *kc, int64_t sid) {
  if (!kc || !kc->max)
    return;
  pthread_mutex_lock(&kc->mu);
  kc->epoch++;
  int32_t i = kc_find(kc, sid);
  if (i != KC_NONE)
    kc_remove(kc, i);
  pthread_mutex_unlock(&kc->mu);
}

/* ------------------------------------------------------------------------ */
/* Subjects                                                                 */
/* ------------------------------------------------------------------------ */

int mes_subjects_new(struct mes_store *st, const struct mes_master *master, const struct mes_log *log,
                     size_t key_entries, size_t hint_entries, struct mes_subjects **out) {
  *out = NULL;
  struct mes_subjects *sj = calloc(1, sizeof *sj);
  if (!sj)
    return MES_ENOMEM;
  sj->store = st;
  sj->master = master;
  sj->log = log;
  int rc = mes_keycache_new(key_entries, &sj->keys);
  if (!rc)
    rc = mes_subjmap_new(hint_entries, &sj->map);
  if (rc) {
    mes_subjects_free(sj);
    return rc;
  }
  *out = sj;
  return MES_OK;
}

void mes_subjects_free(struct mes_subjects *sj) {
  if (!sj)
    return;
  mes_subjmap_free(sj->map);  /* wipes what it holds */
  mes_keycache_free(sj->keys); /* likewise */
  free(sj);
}

void mes_subjects_forget(struct mes_subjects *sj, const struct mes_subject *s) {
  mes_subjmap_forget(sj->map, s->pn);
  if (s->row.id > 0)
    mes_keycache_forget(sj->keys, s->row.id);
}

/* Makes, wraps and durably stores the key of a subject row just created. */
static int make_key(struct mes_subjects *sj, int64_t sid) {
  uint8_t key[MES_KEY_BYTES];
  uint8_t wrapped[MES_WRAPPED_KEY_BYTES];
  mes_subject_key_new(key);
  int rc = mes_subject_key_wrap(sj->master, sid, key, wrapped);
  if (rc == MES_OK)
    rc = mes_store_key_put(sj->store, sid, wrapped, sizeof wrapped);
  if (rc == MES_OK)
    kc_put(sj->keys, sid, key, false, 0);
  mes_wipe(key, sizeof key);
  return rc;
}

void mes_subject_pseudonymize(const struct mes_subjects *sj, enum mes_subject_ns ns, const char *id, size_t len,
                              struct mes_subject *out) {
  memset(out, 0, sizeof *out);
  mes_pseudonym(sj->master, ns == MES_NS_ANON ? "anon" : "subject", id, len, out->pn);
  mes_pseudonym_hex(out->pn, out->pn_hex);
}

int mes_subject_resolve(struct mes_subjects *sj, const struct mes_req *c, enum mes_subject_ns ns, const char *id,
                        size_t len, bool create, struct mes_subject *out) {
  mes_subject_pseudonymize(sj, ns, id, len, out);
  int rc = mes_store_subject_find(sj->store, out->pn, &out->row);
  if (rc == MES_OK || rc != MES_ENOT_FOUND || !create) {
    if (rc != MES_OK)
      memset(&out->row, 0, sizeof out->row);
    return rc;
  }
  /* A transaction of our own (nested in the caller's, if any) makes "find,
   * create, make the key" one step: no other writer, in this process or
   * another, can create the same subject in between and have its key
   * overwritten by ours. */
  rc = mes_store_tx_begin(sj->store);
  if (rc != MES_OK)
    return rc;
  rc = mes_store_subject_find(sj->store, out->pn, &out->row);
  if (rc == MES_ENOT_FOUND) {
    rc = mes_store_subject_ensure(sj->store, out->pn, c->now_ms, &out->row);
    if (rc == MES_OK)
      rc = make_key(sj, out->row.id);
  }
  if (rc == MES_OK) {
    uint64_t ticket;
    rc = mes_store_tx_commit(sj->store, &ticket);
  } else {
    mes_store_tx_rollback(sj->store);
  }
  if (rc != MES_OK)
    memset(&out->row, 0, sizeof out->row);
  else
    mes_log(sj->log, MES_LOG_DEBUG, "subject %s stored as %lld", out->pn_hex, (long long)out->row.id);
  return rc;
}

/* sid's key from the keystore, unwrapped. */
static int key_read(struct mes_subjects *sj, int64_t sid, uint8_t key[MES_KEY_BYTES]) {
  uint8_t wrapped[MES_WRAPPED_KEY_BYTES];
  size_t len = 0;
  int rc = mes_store_key_get(sj->store, sid, wrapped, sizeof wrapped, &len);
  if (rc != MES_OK)
    return rc;
  if (mes_subject_key_unwrap(sj->master, sid, wrapped, len, key) != MES_OK) {
    mes_log(sj->log, MES_LOG_ERROR, "the stored key of subject %lld does not unwrap", (long long)sid);
    return MES_ECRYPTO;
  }
  return MES_OK;
}

int mes_subject_key(struct mes_subjects *sj, int64_t sid, uint8_t key[MES_KEY_BYTES]) {
  if (kc_get(sj->keys, sid, key))
    return MES_OK;
  uint64_t epoch = kc_epoch(sj->keys);
  int rc = key_read(sj, sid, key);
  if (rc != MES_OK)
    return rc;
  kc_put(sj->keys, sid, key, true, epoch);
  return MES_OK;
}

int mes_subject_key_stored(struct mes_subjects *sj, int64_t sid, uint8_t key[MES_KEY_BYTES]) {
  return key_read(sj, sid, key);
}

int mes_subject_shred(struct mes_subjects *sj, int64_t sid) {
  int rc = mes_store_key_delete(sj->store, sid);
  /* Forget even when the keystore failed: better a cache miss than a key
   * that outlives its shredding. */
  mes_keycache_forget(sj->keys, sid);
  return rc;
}

/* Associated data of a sealed record: kind, NUL, sid big-endian. */
#define AD_KIND_MAX 47
static int seal_ad(const char *kind, int64_t sid, uint8_t ad[AD_KIND_MAX + 9], size_t *ad_len) {
  size_t n = strlen(kind);
  if (n > AD_KIND_MAX)
    return MES_EINTERNAL;
  memcpy(ad, kind, n);
  ad[n] = 0;
  uint64_t u = (uint64_t)sid;
  for (int i = 0; i < 8; i++)
    ad[n + 1 + (size_t)i] = (uint8_t)(u >> (56 - 8 * i));
  *ad_len = n + 9;
  return MES_OK;
}

int mes_subject_seal_key(const uint8_t key[MES_KEY_BYTES], int64_t sid, const char *kind, const void *pt, size_t len,
                         uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  uint8_t ad[AD_KIND_MAX + 9];
  size_t ad_len;
  int rc = seal_ad(kind, sid, ad, &ad_len);
  if (rc != MES_OK)
    return rc;
  if (len > SIZE_MAX - MES_SEAL_OVERHEAD)
    return MES_ENOMEM;
  uint8_t *buf = malloc(len + MES_SEAL_OVERHEAD);
  if (!buf)
    return MES_ENOMEM;
  rc = mes_seal(key, ad, ad_len, pt, len, buf);
  if (rc != MES_OK) {
    free(buf);
    return rc;
  }
  *out = buf;
  *out_len = len + MES_SEAL_OVERHEAD;
  return MES_OK;
}

int mes_subject_seal(struct mes_subjects *sj, int64_t sid, const char *kind, const void *pt, size_t len,
                     uint8_t **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  uint8_t key[MES_KEY_BYTES];
  int rc = mes_subject_key(sj, sid, key);
  if (rc != MES_OK)
    return rc;
  rc = mes_subject_seal_key(key, sid, kind, pt, len, out, out_len);
  mes_wipe(key, sizeof key);
  return rc;
}

int mes_subject_unseal(struct mes_subjects *sj, int64_t sid, const char *kind, const uint8_t *ct, size_t len,
                       char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  uint8_t ad[AD_KIND_MAX + 9];
  size_t ad_len;
  uint8_t key[MES_KEY_BYTES];
  int rc = seal_ad(kind, sid, ad, &ad_len);
  if (rc != MES_OK)
    return rc;
  if (len < MES_SEAL_OVERHEAD)
    return MES_ECRYPTO;
  rc = mes_subject_key(sj, sid, key);
  if (rc != MES_OK)
    return rc;
  size_t n = len - MES_SEAL_OVERHEAD;
  char *buf = malloc(n + 1);
  if (!buf) {
    rc = MES_ENOMEM;
  } else if ((rc = mes_unseal(key, ad, ad_len, ct, len, (uint8_t *)buf)) != MES_OK) {
    free(buf);
  } else {
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
  }
  mes_wipe(key, sizeof key);
  return rc;
}

int mes_subject_unseal_key(const uint8_t key[MES_KEY_BYTES], int64_t sid, const char *kind, const uint8_t *ct,
                           size_t len, uint8_t *out) {
  uint8_t ad[AD_KIND_MAX + 9];
  size_t ad_len;
  int rc = seal_ad(kind, sid, ad, &ad_len);
  if (rc != MES_OK)
    return rc;
  if (len < MES_SEAL_OVERHEAD)
    return MES_ECRYPTO;
  return mes_unseal(key, ad, ad_len, ct, len, out);
}
