/*
 * crypto — the libsodium wrappers behind crypto.h.
 *
 * The master key file holds 32 random bytes, the root, and after a rotation
 * 32 more, the wrapping seed. Nothing uses either directly: subkeys are
 * derived from them with crypto_kdf, so that a leak of one use's key tells
 * nothing about the others. From the root, under the context "mesura01":
 * the pseudonym key, event-id key, Ed25519 seed and key-check key, which
 * never change for a data directory (they name its rows and sign its
 * receipts), and, in a file without a wrapping seed, the wrapping key and
 * its check. From the wrapping seed, under "mesuraw1": the wrapping key and
 * its check. A rotation (subject/rotate.h) writes a file with the same root
 * and a new seed, so only the wrapping key changes. Changing a subkey id or
 * a context changes every pseudonym and makes every wrapped key unreadable:
 * they are part of the on-disk format.
 */
#include "crypto/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Part of the on-disk format: never change. */
static const char kdf_context[crypto_kdf_CONTEXTBYTES + 1] = "mesura01";
static const char wrap_context[crypto_kdf_CONTEXTBYTES + 1] = "mesuraw1";
enum {
  SUBKEY_WRAP = 1,
  SUBKEY_PSEUDONYM = 2,
  SUBKEY_EVENT_ID = 3,
  SUBKEY_SIGN_SEED = 4,
  SUBKEY_CHECK = 5,
  SUBKEY_WRAP_CHECK = 6
};
/* Under wrap_context, from the wrapping seed. */
enum { SEED_WRAP = 1, SEED_WRAP_CHECK = 2 };
/* What the key checks authenticate; part of the on-disk format too. */
static const char check_label[] = "mesura master key check v1";
static const char wrap_check_label[] = "mesura wrapping key check v1";

struct mes_master {
  uint8_t root[MES_KEY_BYTES]; /* kept to write a rotated file with it */
  bool rotated;                /* the file carries a wrapping seed */
  uint8_t wrap[MES_KEY_BYTES];
  uint8_t wrap_check[MES_KEY_CHECK_BYTES]; /* public, like check */
  uint8_t pseudonym[crypto_generichash_KEYBYTES];
  uint8_t event_id[crypto_generichash_KEYBYTES];
  uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
  uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];
  uint8_t check[MES_KEY_CHECK_BYTES]; /* public: see mes_master_check_hex */
};

_Static_assert(MES_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "subject key size");
_Static_assert(MES_SEAL_OVERHEAD == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                                        crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "seal overhead");
_Static_assert(MES_SIG_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(MES_SIGN_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "public key size");
_Static_assert(MES_KEY_BYTES == crypto_kdf_KEYBYTES, "master key size");

/* Nonces come from a per-thread pool of kernel randomness refilled 4 KiB at
 * a time: one getrandom(2) per seal costs 6 % of a bare insert loop. Nonces
 * are public (stored beside the ciphertext); what matters is that they never
 * repeat, which 192 random bits from the kernel's CSPRNG ensure whether they
 * are drawn one by one or in bulk. A forked child must never use bytes its
 * parent may also use: fork bumps a generation that empties every pool. */
#define NONCE_POOL 4096
struct nonce_pool {
  uint8_t b[NONCE_POOL];
  size_t pos;    /* next unused byte; NONCE_POOL when empty */
  unsigned gen;  /* fork_gen when filled */
  bool filled;
};
static _Thread_local struct nonce_pool nonce_pool;
static volatile unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void) { fork_gen++; }
static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

static void nonce_new(uint8_t *out, size_t n) {
  struct nonce_pool *p = &nonce_pool;
  if (!p->filled || p->gen != fork_gen || NONCE_POOL - p->pos < n) {
    pthread_once(&atfork_once, register_atfork); /* also when nobody called mes_crypto_init */
    randombytes_buf(p->b, sizeof p->b);
    p->pos = 0;
    p->gen = fork_gen;
    p->filled = true;
  }
  memcpy(out, p->b + p->pos, n);
  sodium_memzero(p->b + p->pos, n); /* a nonce is handed out once */
  p->pos += n;
}

int mes_crypto_init(void) {
  pthread_once(&atfork_once, register_atfork);
  /* sodium_init is itself thread-safe and idempotent (returns 1 when done). */
  return sodium_init() < 0 ? MES_ECRYPTO : MES_OK;
}

/* ------------------------------------------------------------------------ */
/* Master key file                                                          */
/* ------------------------------------------------------------------------ */

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Syncs the directory holding path so that a new file's name is durable. */
static void sync_parent_dir(const char *path) {
  char dir[PATH_MAX];
  size_t n = strlen(path);
  if (n >= sizeof dir)
    return;
  memcpy(dir, path, n + 1);
  char *slash = strrchr(dir, '/');
  if (!slash)
    memcpy(dir, ".", 2);
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  (void)fsync(fd);
  close(fd);
}

/* Writes the n bytes of key into a new file at path, mode exactly 0600,
 * synced with its directory entry; removes what it wrote on failure. */
static int write_key_file(const char *path, const uint8_t *key, size_t n, struct mes_err *err) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return mes_err_set(err, MES_EEXISTS, NULL, "The master key file %s already exists.", path);
    return mes_err_set(err, MES_EIO, NULL, "Cannot create the master key file %s: %s.", path, strerror(errno));
  }
  /* The umask may only have removed bits; make the mode exactly 0600. */
  int bad = fchmod(fd, 0600) != 0 || write_all(fd, key, n) != 0 || fsync(fd) != 0;
  int saved = errno;
  if (close(fd) != 0 && !bad) {
    bad = 1;
    saved = errno;
  }
  if (bad) {
    unlink(path);
    return mes_err_set(err, MES_EIO, NULL, "Cannot write the master key file %s: %s.", path, strerror(saved));
  }
  sync_parent_dir(path);
  return MES_OK;
}

int mes_master_create(const char *path, struct mes_err *err) {
  if (mes_crypto_init() != MES_OK)
    return mes_err_set(err, MES_ECRYPTO, NULL, "libsodium could not be initialised.");
  uint8_t key[MES_KEY_BYTES];
  crypto_kdf_keygen(key);
  int rc = write_key_file(path, key, sizeof key, err);
  sodium_memzero(key, sizeof key);
  return rc;
}

int mes_master_create_next(const struct mes_master *m, const char *path, struct mes_err *err) {
  uint8_t key[2 * MES_KEY_BYTES];
  memcpy(key, m->root, MES_KEY_BYTES);
  crypto_kdf_keygen(key + MES_KEY_BYTES);
  int rc = write_key_file(path, key, sizeof key, err);
  sodium_memzero(key, sizeof key);
  return rc;
}

/* A MAC of a constant under a subkey used for nothing else: anyone may read
 * it in the store, and it tells them no more about the key it came from than
 * any other output of BLAKE2b under a key they do not have. */
static void check_value(uint8_t out[MES_KEY_CHECK_BYTES], const char *label, size_t label_len, uint64_t id,
                        const char *ctx, const uint8_t from[MES_KEY_BYTES]) {
  uint8_t ck[crypto_generichash_KEYBYTES];
  crypto_kdf_derive_from_key(ck, sizeof ck, id, ctx, from);
  crypto_generichash(out, MES_KEY_CHECK_BYTES, (const unsigned char *)label, label_len, ck, sizeof ck);
  sodium_memzero(ck, sizeof ck);
}

/* master: the root; wrap_seed: NULL for a file without one. */
static void derive(struct mes_master *m, const uint8_t master[MES_KEY_BYTES], const uint8_t *wrap_seed) {
  uint8_t seed[crypto_sign_SEEDBYTES];
  memcpy(m->root, master, MES_KEY_BYTES);
  m->rotated = wrap_seed != NULL;
  if (wrap_seed) {
    crypto_kdf_derive_from_key(m->wrap, sizeof m->wrap, SEED_WRAP, wrap_context, wrap_seed);
    check_value(m->wrap_check, wrap_check_label, sizeof wrap_check_label, SEED_WRAP_CHECK, wrap_context, wrap_seed);
  } else {
    crypto_kdf_derive_from_key(m->wrap, sizeof m->wrap, SUBKEY_WRAP, kdf_context, master);
    check_value(m->wrap_check, wrap_check_label, sizeof wrap_check_label, SUBKEY_WRAP_CHECK, kdf_context, master);
  }
  crypto_kdf_derive_from_key(m->pseudonym, sizeof m->pseudonym, SUBKEY_PSEUDONYM, kdf_context, master);
  crypto_kdf_derive_from_key(m->event_id, sizeof m->event_id, SUBKEY_EVENT_ID, kdf_context, master);
  crypto_kdf_derive_from_key(seed, sizeof seed, SUBKEY_SIGN_SEED, kdf_context, master);
  crypto_sign_seed_keypair(m->sign_pk, m->sign_sk, seed);
  sodium_memzero(seed, sizeof seed);
  check_value(m->check, check_label, sizeof check_label, SUBKEY_CHECK, kdf_context, master);
}

int mes_master_load(const char *path, struct mes_master **out, struct mes_err *err) {
  *out = NULL;
  if (mes_crypto_init() != MES_OK)
    return mes_err_set(err, MES_ECRYPTO, NULL, "libsodium could not be initialised.");
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot open the master key file %s: %s.", path, strerror(errno));

  int rc = MES_OK;
  uint8_t key[2 * MES_KEY_BYTES + 1];
  struct mes_master *m = NULL;
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    rc = mes_err_set(err, MES_EIO, NULL, "Cannot read the master key file %s: %s.", path, strerror(errno));
    goto done;
  }
  if (!S_ISREG(sb.st_mode)) {
    rc = mes_err_set(err, MES_EIO, NULL, "The master key %s is not a regular file.", path);
    goto done;
  }
  if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
    rc = mes_err_set(err, MES_EIO, NULL,
                     "The master key file %s can be read by other users; run `chmod 600 %s` first.", path, path);
    goto done;
  }
  /* Read one byte more than expected to notice a file of the wrong size. */
  size_t got = 0;
  while (got < sizeof key) {
    ssize_t r = read(fd, key + got, sizeof key - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      rc = mes_err_set(err, MES_EIO, NULL, "Cannot read the master key file %s: %s.", path, strerror(errno));
      goto done;
    }
    if (r == 0)
      break;
    got += (size_t)r;
  }
  if (got != MES_KEY_BYTES && got != 2 * MES_KEY_BYTES) {
    rc = mes_err_set(err, MES_ECRYPTO, NULL, "The master key file %s is not a 32- or 64-byte key.", path);
    goto done;
  }
  m = malloc(sizeof *m);
  if (!m) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  derive(m, key, got == 2 * MES_KEY_BYTES ? key + MES_KEY_BYTES : NULL);
  *out = m;
done:
  sodium_memzero(key, sizeof key);
  close(fd);
  return rc;
}

void mes_master_free(struct mes_master *m) {
  if (!m)
    return;
  sodium_memzero(m, sizeof *m);
  free(m);
}

void mes_master_check_hex(const struct mes_master *m, char out[MES_KEY_CHECK_HEX]) {
  sodium_bin2hex(out, MES_KEY_CHECK_HEX, m->check, sizeof m->check);
}

static int hex_matches(const uint8_t want[MES_KEY_CHECK_BYTES], const char *stored, size_t len) {
  uint8_t got[MES_KEY_CHECK_BYTES];
  size_t n = 0;
  const char *end = NULL;
  if (!stored || len != 2 * sizeof got ||
      sodium_hex2bin(got, sizeof got, stored, len, NULL, &n, &end) != 0 || n != sizeof got || end != stored + len)
    return 0;
  return sodium_memcmp(got, want, sizeof got) == 0;
}

int mes_master_check_matches(const struct mes_master *m, const char *stored, size_t len) {
  return hex_matches(m->check, stored, len);
}

void mes_master_wrap_check_hex(const struct mes_master *m, char out[MES_KEY_CHECK_HEX]) {
  sodium_bin2hex(out, MES_KEY_CHECK_HEX, m->wrap_check, sizeof m->wrap_check);
}

int mes_master_wrap_check_matches(const struct mes_master *m, const char *stored, size_t len) {
  return hex_matches(m->wrap_check, stored, len);
}

int mes_master_rotated(const struct mes_master *m) { return m->rotated; }

/* ------------------------------------------------------------------------ */
/* Pseudonyms and keyed hashes                                              */
/* ------------------------------------------------------------------------ */

void mes_pseudonym(const struct mes_master *m, const char *ns, const char *id, size_t id_len,
                   uint8_t out[MES_PSEUDONYM_BYTES]) {
  crypto_generichash_state h;
  /* The namespace and its terminating NUL come first, so "a"+"bc" and
   * "ab"+"c" cannot collide. */
  crypto_generichash_init(&h, m->pseudonym, sizeof m->pseudonym, MES_PSEUDONYM_BYTES);
  crypto_generichash_update(&h, (const unsigned char *)ns, strlen(ns) + 1);
  crypto_generichash_update(&h, (const unsigned char *)id, id_len);
  crypto_generichash_final(&h, out, MES_PSEUDONYM_BYTES);
  sodium_memzero(&h, sizeof h);
}

void mes_pseudonym_hex(const uint8_t pn[MES_PSEUDONYM_BYTES], char out[17]) {
  sodium_bin2hex(out, 17, pn, 8);
}

int64_t mes_keyed_hash64(const struct mes_master *m, const uint8_t pn[MES_PSEUDONYM_BYTES], const char *s,
                         size_t len) {
  crypto_generichash_state h;
  uint8_t d[8];
  crypto_generichash_init(&h, m->event_id, sizeof m->event_id, sizeof d);
  crypto_generichash_update(&h, pn, MES_PSEUDONYM_BYTES);
  crypto_generichash_update(&h, (const unsigned char *)s, len);
  crypto_generichash_final(&h, d, sizeof d);
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof d; i++)
    v = (v << 8) | d[i];
  v &= (uint64_t)INT64_MAX;
  return v == 0 ? 1 : (int64_t)v;
}

/* ------------------------------------------------------------------------ */
/* Subject keys and sealing                                                 */
/* ------------------------------------------------------------------------ */

void mes_subject_key_new(uint8_t key[MES_KEY_BYTES]) { crypto_aead_xchacha20poly1305_ietf_keygen(key); }

/* Associated data of a wrapped key: a label and the sid, big-endian. */
static void wrap_ad(int64_t sid, uint8_t ad[20]) {
  memcpy(ad, "mesura-skey\0", 12);
  uint64_t u = (uint64_t)sid;
  for (int i = 0; i < 8; i++)
    ad[12 + i] = (uint8_t)(u >> (56 - 8 * i));
}

int mes_subject_key_wrap(const struct mes_master *m, int64_t sid, const uint8_t key[MES_KEY_BYTES],
                         uint8_t out[MES_WRAPPED_KEY_BYTES]) {
  uint8_t ad[20];
  wrap_ad(sid, ad);
  return mes_seal(m->wrap, ad, sizeof ad, key, MES_KEY_BYTES, out);
}

int mes_subject_key_unwrap(const struct mes_master *m, int64_t sid, const uint8_t *wrapped, size_t len,
                           uint8_t key[MES_KEY_BYTES]) {
  if (len != MES_WRAPPED_KEY_BYTES)
    return MES_ECRYPTO;
  uint8_t ad[20];
  wrap_ad(sid, ad);
  return mes_unseal(m->wrap, ad, sizeof ad, wrapped, len, key);
}

int mes_seal(const uint8_t key[MES_KEY_BYTES], const void *ad, size_t ad_len, const void *pt, size_t len,
             uint8_t *out) {
  uint8_t *nonce = out;
  nonce_new(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long clen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, pt,
                                                 len, ad, ad_len, NULL, nonce, key) != 0)
    return MES_ECRYPTO;
  return MES_OK;
}

int mes_unseal(const uint8_t key[MES_KEY_BYTES], const void *ad, size_t ad_len, const uint8_t *ct, size_t len,
               uint8_t *out) {
  if (len < MES_SEAL_OVERHEAD)
    return MES_ECRYPTO;
  unsigned long long plen = 0;
  const uint8_t *nonce = ct;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &plen, NULL, ct + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                                 len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad, ad_len,
                                                 nonce, key) != 0)
    return MES_ECRYPTO;
  return MES_OK;
}

/* ------------------------------------------------------------------------ */
/* Signatures, API keys, encodings                                          */
/* ------------------------------------------------------------------------ */

void mes_sign(const struct mes_master *m, const void *msg, size_t len, uint8_t sig[MES_SIG_BYTES]) {
  crypto_sign_detached(sig, NULL, msg, len, m->sign_sk);
}

void mes_sign_public_key(const struct mes_master *m, uint8_t pk[MES_SIGN_PK_BYTES]) {
  memcpy(pk, m->sign_pk, MES_SIGN_PK_BYTES);
}

void mes_apikey_generate(char out[64]) {
  uint8_t raw[32];
  randombytes_buf(raw, sizeof raw);
  memcpy(out, "mes_", 4);
  /* 32 bytes -> 43 base64url characters + NUL = 44 bytes, fits in 60. */
  sodium_bin2base64(out + 4, 60, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
}

void mes_apikey_hash(const char *key, size_t len, uint8_t out[32]) {
  /* API keys carry 256 bits of entropy, so a fast unkeyed hash is enough;
   * the label separates this use from every other hash. */
  crypto_generichash_state h;
  static const char label[] = "mesura-apikey";
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const unsigned char *)label, sizeof label);
  crypto_generichash_update(&h, (const unsigned char *)key, len);
  crypto_generichash_final(&h, out, 32);
}

int mes_ct_equal(const void *a, const void *b, size_t len) { return sodium_memcmp(a, b, len) == 0; }

char *mes_base64(const uint8_t *bin, size_t len, char *out, size_t cap) {
  if (cap < sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL))
    return NULL;
  return sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

void mes_random_bytes(void *out, size_t n) { randombytes_buf(out, n); }

uint64_t mes_shorthash(const uint8_t key[16], const void *in, size_t len) {
  _Static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8, "SipHash-2-4 sizes");
  uint8_t h[crypto_shorthash_BYTES];
  crypto_shorthash(h, in, len, key);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | h[i];
  return v;
}

void mes_random_token(char *out, size_t cap, size_t n_bytes) {
  uint8_t raw[64];
  if (cap == 0)
    return;
  if (n_bytes > sizeof raw)
    n_bytes = sizeof raw;
  while (n_bytes > 0 && sodium_base64_ENCODED_LEN(n_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > cap)
    n_bytes--;
  if (n_bytes == 0) {
    out[0] = '\0';
    return;
  }
  randombytes_buf(raw, n_bytes);
  sodium_bin2base64(out, cap, raw, n_bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, n_bytes);
}

void mes_wipe(void *p, size_t len) {
  if (p)
    sodium_memzero(p, len);
}

int mes_pt_reserve(uint8_t **buf, size_t *cap, size_t n) {
  if (n <= *cap)
    return MES_OK;
  size_t ncap = n < 4096 ? 4096 : n;
  uint8_t *np = malloc(ncap);
  if (!np)
    return MES_ENOMEM;
  if (*buf) {
    mes_wipe(*buf, *cap);
    free(*buf);
  }
  *buf = np;
  *cap = ncap;
  return MES_OK;
}
