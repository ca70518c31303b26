/*
 * http/ratelimit — a token bucket per API key (or per subject token), kept in
 * a hash table (base/htab) under one mutex: a request costs one hash, one
 * short critical section and no allocation once its key has been seen.
 *
 * The table is bounded. When it is full, buckets that have refilled to the
 * brim are dropped (an absent bucket is a full one, so nothing changes); if
 * none has, the request is let through rather than refused, because
 * refusing would punish a key for other keys' traffic.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "http/http_int.h"

#define MAX_BUCKETS 8192u
#define KEY_CAP 96

struct bucket {
  uint64_t last_ns; /* when tokens was last brought up to date */
  double tokens;
  char key[KEY_CAP];
};

struct mes__ratelimit {
  double rps, burst;
  pthread_mutex_t mu;
  struct bucket *b; /* owned: n_buckets of them, in no order; grows to MAX_BUCKETS */
  size_t n_buckets, cap;
  struct mes_htab by_key; /* tag of the key -> index in b + 1 */
};

int mes__ratelimit_new(double rps, double burst, struct mes__ratelimit **out) {
  *out = NULL;
  if (!(rps > 0) || burst < 1)
    return MES_EINVALID_VALUE;
  struct mes__ratelimit *rl = calloc(1, sizeof *rl);
  if (!rl)
    return MES_ENOMEM;
  rl->rps = rps;
  rl->burst = burst;
  pthread_mutex_init(&rl->mu, NULL);
  mes_htab_init(&rl->by_key, MAX_BUCKETS);
  *out = rl;
  return MES_OK;
}

void mes__ratelimit_free(struct mes__ratelimit *rl) {
  if (!rl)
    return;
  mes_htab_release(&rl->by_key);
  free(rl->b);
  pthread_mutex_destroy(&rl->mu);
  free(rl);
}

static void refill(const struct mes__ratelimit *rl, struct bucket *b, uint64_t now_ns) {
  if (now_ns > b->last_ns) {
    b->tokens += (double)(now_ns - b->last_ns) / 1e9 * rl->rps;
    if (b->tokens > rl->burst)
      b->tokens = rl->burst;
    b->last_ns = now_ns;
  }
}

static uint32_t tag_of(const char *key) { return mes_htab_tag(mes_hash_str(key)); }

/* Drops every bucket that is full again: the survivors move to the front of
 * the array and the table is rebuilt over their new places (it has room:
 * they are fewer than before). Under rl->mu. */
static void sweep(struct mes__ratelimit *rl, uint64_t now_ns) {
  size_t kept = 0;
  for (size_t i = 0; i < rl->n_buckets; i++) {
    refill(rl, &rl->b[i], now_ns);
    if (rl->b[i].tokens < rl->burst)
      rl->b[kept++] = rl->b[i];
  }
  rl->n_buckets = kept;
  mes_htab_clear(&rl->by_key);
  for (size_t i = 0; i < kept; i++)
    mes_htab_add(&rl->by_key, tag_of(rl->b[i].key), (uint32_t)i + 1, NULL);
}

/* A new full bucket for key; NULL when the table is full or out of memory. */
static struct bucket *add_bucket(struct mes__ratelimit *rl, const char *key, uint32_t tag, uint64_t now_ns) {
  if (rl->n_buckets >= MAX_BUCKETS)
    sweep(rl, now_ns);
  if (rl->n_buckets >= MAX_BUCKETS || mes_htab_reserve(&rl->by_key, rl->n_buckets + 1))
    return NULL;
  if (rl->n_buckets == rl->cap) {
    size_t cap = rl->cap ? rl->cap * 2 : 64;
    struct bucket *nb = realloc(rl->b, cap * sizeof *nb);
    if (!nb)
      return NULL;
    rl->b = nb;
    rl->cap = cap;
  }
  struct bucket *b = &rl->b[rl->n_buckets];
  memset(b, 0, sizeof *b);
  memcpy(b->key, key, strnlen(key, KEY_CAP - 1));
  b->tokens = rl->burst;
  b->last_ns = now_ns;
  mes_htab_add(&rl->by_key, tag, (uint32_t)++rl->n_buckets, NULL); /* reserved above */
  return b;
}

bool mes__ratelimit_take(struct mes__ratelimit *rl, const char *key, uint64_t now_ns, int *retry_after_s) {
  uint32_t tag = tag_of(key);
  bool allowed = true;
  pthread_mutex_lock(&rl->mu);
  struct bucket *b = NULL;
  struct mes_htab_slot *s;
  for (size_t pos = 0; !b && (s = mes_htab_next(&rl->by_key, tag, &pos));)
    if (strcmp(rl->b[s->val - 1].key, key) == 0)
      b = &rl->b[s->val - 1];
  if (!b && !(b = add_bucket(rl, key, tag, now_ns)))
    goto out; /* full table or no memory: let it through */
  refill(rl, b, now_ns);
  if (b->tokens >= 1) {
    b->tokens -= 1;
  } else {
    allowed = false;
    double wait_s = (1 - b->tokens) / rl->rps;
    int whole = wait_s > 3600 ? 3600 : (int)wait_s;
    if (whole < wait_s && whole < 3600)
      whole++; /* round up: retrying earlier would be refused again */
    *retry_after_s = whole < 1 ? 1 : whole;
  }
out:
  pthread_mutex_unlock(&rl->mu);
  return allowed;
}
