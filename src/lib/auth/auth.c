/*
 * auth — API keys and subject tokens.
 *
 * Keys: the store holds each key's hash, name, scopes and revocation time;
 * the secret itself is shown once at creation and never kept. A lookup
 * caches its answer (found or not) for MES_AUTH_TTL_MS in a small table
 * indexed by the hash, so that a busy key costs one store read a second.
 *
 * Tokens: minted here, stored as hashes beside the keys (so that they work
 * on every server sharing the store and after a restart), looked up through
 * the same cache; the "mst_" prefix tells them from keys before any lookup.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "crypto/crypto.h"
#include "store/store.h"

/* The key cache is a direct-mapped cache, not a table: a slot is picked by
 * the hash's first byte and a miss simply overwrites it, so it holds at most
 * AUTH_CACHE_SLOTS answers, needs no eviction and never fails for want of
 * room; losing an entry only costs one store read. base/htab would keep
 * every key it was given (and refuse, or grow, past its cap). */
#define AUTH_CACHE_SLOTS 64

struct auth_slot {
  uint8_t hash[32];
  struct mes_principal who;
  int64_t fetched_ms;  /* 0: empty */
  int64_t expires_ms;  /* a token's expiry (checked at every use); 0 for keys */
  int rc;              /* the answer: MES_OK, MES_EUNAUTHORIZED */
};

struct mes_auth {
  struct mes_store *store; /* borrowed */
  pthread_mutex_t mu;      /* guards the cache */
  struct auth_slot keys[AUTH_CACHE_SLOTS];
};

int mes_auth_new(struct mes_store *st, struct mes_auth **out) {
  *out = NULL;
  struct mes_auth *a = calloc(1, sizeof *a);
  if (!a)
    return MES_ENOMEM;
  a->store = st;
  pthread_mutex_init(&a->mu, NULL);
  *out = a;
  return MES_OK;
}

void mes_auth_free(struct mes_auth *a) {
  if (!a)
    return;
  pthread_mutex_destroy(&a->mu);
  mes_wipe(a->keys, sizeof a->keys);
  free(a);
}

/* ---------------------------------------------------------------- scopes */

static const char *scope_names[] = {"ingest", "consent", "catalog", "recommend", "subjects", "audit", "admin"};
#define N_SCOPES (sizeof scope_names / sizeof scope_names[0])

int mes_scope_parse(const char *list, uint32_t *mask, struct mes_err *err) {
  *mask = 0;
  const char *p = list;
  while (p && *p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    size_t i;
    for (i = 0; i < N_SCOPES; i++)
      if (strlen(scope_names[i]) == len && strncmp(scope_names[i], p, len) == 0)
        break;
    if (i == N_SCOPES)
      return mes_err_set(err, MES_EINVALID_VALUE, NULL,
                         "Unknown scope; scopes are ingest, consent, catalog, recommend, subjects, audit, admin.");
    *mask |= 1u << i;
    p = comma ? comma + 1 : NULL;
  }
  if (!*mask)
    return mes_err_set(err, MES_EINVALID_VALUE, NULL, "Name at least one scope.");
  return MES_OK;
}

void mes_scope_format(uint32_t mask, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < N_SCOPES; i++) {
    if (!(mask & (1u << i)))
      continue;
    int n = snprintf(out + o, cap - o, "%s%s", o ? "," : "", scope_names[i]);
    if (n < 0 || (size_t)n >= cap - o)
      return;
    o += (size_t)n;
  }
}

bool mes_scope_allows(uint32_t have, uint32_t need) {
  if (need == 0)
    return true;
  if (have & MES_SCOPE_ADMIN)
    return true;
  return (have & need) != 0;
}

uint32_t mes_token_scopes(enum mes_token_use use) {
  /* A browser token stays within what a page's script may do for the person
   * in front of it; the rights that reveal or destroy everything held
   * (profile, export, erasure, access log) need the dashboard. */
  return use == MES_TOKEN_BROWSER ? MES_SCOPE_CONSENT | MES_SCOPE_INGEST | MES_SCOPE_RECOMMEND
                                  : MES_SCOPE_SUBJECTS | MES_SCOPE_CONSENT;
}

/* ---------------------------------------------------------------- lookup */

/* Forgets every cached answer: this process sees a revocation at once. */
static void cache_clear(struct mes_auth *a) {
  pthread_mutex_lock(&a->mu);
  mes_wipe(a->keys, sizeof a->keys);
  pthread_mutex_unlock(&a->mu);
}


/* What the store says of a secret's hash: *who and *expires_ms for an
 * active key or token, MES_EUNAUTHORIZED for none (unknown or revoked),
 * MES_EUNAVAILABLE when the store failed. */
static int fetch(struct mes_auth *a, const uint8_t hash[32], bool token, struct mes_principal *who,
                 int64_t *expires_ms) {
  memset(who, 0, sizeof *who);
  *expires_ms = 0;
  int frc;
  bool valid;
  if (token) {
    struct mes_token_row row;
    frc = mes_store_token_find(a->store, hash, &row);
    valid = frc == MES_OK && row.revoked_ms == 0 && mes_ct_equal(row.hash, hash, 32);
    if (valid) {
      bool browser = row.use == MES_TOKEN_BROWSER;
      snprintf(who->name, sizeof who->name, "%s", browser ? "browser-token" : "subject-token");
      who->subject_token = true;
      who->use = browser ? MES_TOKEN_BROWSER : MES_TOKEN_DASHBOARD;
      who->sid = row.sid;
      who->scopes = mes_token_scopes(who->use);
      *expires_ms = row.expires_ms;
    }
  } else {
    struct mes_apikey_row row;
    frc = mes_store_apikey_find(a->store, hash, &row);
    valid = frc == MES_OK && row.revoked_ms == 0 && mes_ct_equal(row.hash, hash, 32);
    if (valid) {
      snprintf(who->name, sizeof who->name, "%s", row.name);
      who->scopes = row.scopes;
    }
  }
  if (frc != MES_OK && frc != MES_ENOT_FOUND)
    return MES_EUNAVAILABLE;
  return valid ? MES_OK : MES_EUNAUTHORIZED;
}

/* A token past its expiry answers MES_ETOKEN_EXPIRED (while the store keeps
 * it, MES_AUTH_TOKEN_GRACE_MS), so that the client knows to ask for a new
 * one rather than doubt its key. */
static int answer(int rc, const struct mes_principal *who, int64_t expires_ms, int64_t now,
                  struct mes_principal *out) {
  if (rc != MES_OK)
    return rc;
  if (expires_ms && expires_ms <= now)
    return MES_ETOKEN_EXPIRED;
  *out = *who;
  return MES_OK;
}

int mes_auth_authenticate(struct mes_auth *a, const char *bearer, size_t len, struct mes_principal *out) {
  if (!bearer || len == 0 || len > 256)
    return MES_EUNAUTHORIZED;
  uint8_t hash[32];
  mes_apikey_hash(bearer, len, hash);
  bool token = len > 4 && memcmp(bearer, "mst_", 4) == 0;
  int64_t now = mes_now_ms();
  size_t slot = hash[0] % AUTH_CACHE_SLOTS;
  pthread_mutex_lock(&a->mu);
  struct auth_slot *s = &a->keys[slot];
  if (s->fetched_ms && now - s->fetched_ms < MES_AUTH_TTL_MS && mes_ct_equal(s->hash, hash, 32)) {
    struct auth_slot hit = *s;
    pthread_mutex_unlock(&a->mu);
    int rc = answer(hit.rc, &hit.who, hit.expires_ms, now, out);
    mes_wipe(&hit, sizeof hit);
    return rc;
  }
  pthread_mutex_unlock(&a->mu);

  struct mes_principal who;
  int64_t expires_ms;
  int rc = fetch(a, hash, token, &who, &expires_ms);
  if (rc == MES_EUNAVAILABLE)
    return rc; /* store trouble is not a wrong secret: do not cache it */
  pthread_mutex_lock(&a->mu);
  memcpy(s->hash, hash, 32);
  s->who = who;
  s->rc = rc;
  s->expires_ms = expires_ms;
  s->fetched_ms = now;
  pthread_mutex_unlock(&a->mu);
  return answer(rc, &who, expires_ms, now, out);
}

/* ---------------------------------------------------------------- keys */

int mes_auth_key_create(struct mes_auth *a, const char *name, uint32_t scopes, char key_out[64],
                        struct mes_err *err) {
  struct mes_apikey_row row;
  memset(&row, 0, sizeof row);
  size_t nlen = strlen(name);
  if (nlen == 0 || nlen >= sizeof row.name)
    return mes_err_set(err, MES_EINVALID_VALUE, NULL, "A key name is 1 to 64 characters.");
  for (size_t i = 0; i < nlen; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return mes_err_set(err, MES_EINVALID_VALUE, NULL, "A key name uses only letters, digits, '-', '_' and '.'.");
  }
  memcpy(row.name, name, nlen);
  row.scopes = scopes;
  row.created_ms = mes_now_ms();
  mes_apikey_generate(key_out);
  mes_apikey_hash(key_out, strlen(key_out), row.hash);
  int rc = mes_store_tx_begin(a->store);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  rc = mes_store_apikey_put(a->store, &row);
  if (rc) {
    mes_store_tx_rollback(a->store);
    mes_wipe(key_out, 64);
    if (rc == MES_EEXISTS)
      return mes_err_set(err, rc, NULL, "A key with this name already exists.");
    return mes_err_set(err, rc, NULL, NULL);
  }
  uint64_t ticket;
  rc = mes_store_tx_commit(a->store, &ticket);
  if (!rc)
    rc = mes_store_wait_durable(a->store, ticket);
  if (rc) {
    mes_wipe(key_out, 64);
    return mes_err_set(err, rc, NULL, NULL);
  }
  return MES_OK;
}

int mes_auth_key_revoke(struct mes_auth *a, const char *name, struct mes_err *err) {
  int rc = mes_store_tx_begin(a->store);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  rc = mes_store_apikey_revoke(a->store, name, mes_now_ms());
  if (rc) {
    mes_store_tx_rollback(a->store);
    if (rc == MES_ENOT_FOUND)
      return mes_err_set(err, rc, NULL, "No key has this name.");
    return mes_err_set(err, rc, NULL, NULL);
  }
  uint64_t ticket;
  rc = mes_store_tx_commit(a->store, &ticket);
  if (!rc)
    rc = mes_store_wait_durable(a->store, ticket);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  cache_clear(a); /* this process sees the revocation at once */
  return MES_OK;
}

/* ---------------------------------------------------------------- tokens */

int mes_auth_subject_token(struct mes_auth *a, int64_t sid, enum mes_token_use use, int ttl_s, char token_out[64],
                           int64_t *expires_ms, struct mes_err *err) {
  memcpy(token_out, "mst_", 4);
  mes_random_token(token_out + 4, 60, 32);
  struct mes_token_row row;
  memset(&row, 0, sizeof row);
  mes_apikey_hash(token_out, strlen(token_out), row.hash);
  row.sid = sid;
  row.use = (int)use;
  row.created_ms = mes_now_ms();
  row.expires_ms = row.created_ms + (int64_t)ttl_s * 1000;
  int rc = mes_store_tx_begin(a->store);
  if (rc == MES_OK) {
    rc = mes_store_token_put(a->store, &row);
    uint64_t ticket;
    if (rc != MES_OK)
      mes_store_tx_rollback(a->store);
    else if ((rc = mes_store_tx_commit(a->store, &ticket)) == MES_OK)
      rc = mes_store_wait_durable(a->store, ticket);
  }
  if (rc != MES_OK) {
    mes_wipe(token_out, 64);
    return mes_err_set(err, rc, NULL, NULL);
  }
  *expires_ms = row.expires_ms;
  return MES_OK;
}

int mes_auth_subject_revoke(struct mes_auth *a, int64_t sid, int64_t *n, struct mes_err *err) {
  *n = 0;
  int rc = mes_store_tx_begin(a->store);
  if (rc == MES_OK) {
    rc = mes_store_token_revoke_subject(a->store, sid, mes_now_ms(), n);
    uint64_t ticket;
    if (rc != MES_OK)
      mes_store_tx_rollback(a->store);
    else if ((rc = mes_store_tx_commit(a->store, &ticket)) == MES_OK)
      rc = mes_store_wait_durable(a->store, ticket);
  }
  if (rc != MES_OK) {
    *n = 0;
    return mes_err_set(err, rc, NULL, NULL);
  }
  cache_clear(a);
  return MES_OK;
}

void mes_auth_forget_cached(struct mes_auth *a) { cache_clear(a); }

int mes_auth_sweep(struct mes_auth *a, int64_t now_ms, int64_t *n) {
  return mes_store_token_sweep(a->store, now_ms - MES_AUTH_TOKEN_GRACE_MS, n);
}

void mes_auth_forget_subject(struct mes_auth *a, int64_t sid) {
  if (sid <= 0)
    return;
  pthread_mutex_lock(&a->mu);
  for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
    if (a->keys[i].fetched_ms != 0 && a->keys[i].who.subject_token && a->keys[i].who.sid == sid)
      mes_wipe(&a->keys[i], sizeof a->keys[i]); /* empty: the next use of the token reads the store */
  pthread_mutex_unlock(&a->mu);
}
