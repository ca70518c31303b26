/*
 * http/ratelimit — a token bucket per API key (or per subject token), kept in
 * a small chained hash table under one mutex: a request costs one hash, one
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

#include "http/http_int.h"

#define N_HEADS 256u
#define MAX_BUCKETS 8192u
#define KEY_CAP 96

struct bucket {
  struct bucket *next;
  uint64_t last_ns; /* when tokens was last brought up to date */
  double tokens;
  char key[KEY_CAP];
};

struct mes__ratelimit {
  double rps, burst;
  pthread_mutex_t mu;
  struct bucket *heads[N_HEADS];
  size_t n_buckets;
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
  *out = rl;
  return MES_OK;
}

void mes__ratelimit_free(struct mes__ratelimit *rl) {
  if (!rl)
    return;
  for (size_t h = 0; h < N_HEADS; h++) {
    struct bucket *b = rl->heads[h];
    while (b) {
      struct bucket *next = b->next;
      free(b);
      b = next;
    }
  }
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

/* Drops every bucket that is full again. Under rl->mu. */
static void sweep(struct mes__ratelimit *rl, uint64_t now_ns) {
  for (size_t h = 0; h < N_HEADS; h++) {
    for (struct bucket **pp = &rl->heads[h]; *pp;) {
      struct bucket *b = *pp;
      refill(rl, b, now_ns);
      if (b->tokens >= rl->burst) {
        *pp = b->next;
        free(b);
        rl->n_buckets--;
      } else {
        pp = &b->next;
      }
    }
  }
}

static size_t head_of(const char *key) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = key; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h & (N_HEADS - 1);
}

bool mes__ratelimit_take(struct mes__ratelimit *rl, const char *key, uint64_t now_ns, int *retry_after_s) {
  size_t h = head_of(key);
  bool allowed = true;
  pthread_mutex_lock(&rl->mu);
  struct bucket *b = rl->heads[h];
  while (b && strcmp(b->key, key) != 0)
    b = b->next;
  if (!b) {
    if (rl->n_buckets >= MAX_BUCKETS)
      sweep(rl, now_ns);
    b = rl->n_buckets < MAX_BUCKETS ? calloc(1, sizeof *b) : NULL;
    if (!b)
      goto out; /* full table or no memory: let it through */
    size_t n = strnlen(key, KEY_CAP - 1);
    memcpy(b->key, key, n);
    b->tokens = rl->burst;
    b->last_ns = now_ns;
    b->next = rl->heads[h];
    rl->heads[h] = b;
    rl->n_buckets++;
  }
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
