/* Unit tests of src/crypto: sealing, key wrapping, signatures, pseudonyms,
 * the master key file and API keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/crypto.h"

/* --- a temporary directory per test --- */

struct fx {
  char dir[64];
  char path[128];
};

static void rm_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-crypto-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/master.key", f->dir);
  assert_int_equal(mes_crypto_init(), MES_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  rm_tree(f->dir);
  free(f);
  return 0;
}

static struct mes_master *new_master(const char *path) {
  struct mes_err err = {0};
  struct mes_master *m = NULL;
  assert_int_equal(mes_master_create(path, &err), MES_OK);
  assert_int_equal(mes_master_load(path, &m, &err), MES_OK);
  assert_non_null(m);
  return m;
}

/* --- sealing --- */

static void test_seal_round_trip_and_tamper(void **state) {
  (void)state;
  uint8_t key[MES_KEY_BYTES], other[MES_KEY_BYTES];
  mes_subject_key_new(key);
  mes_subject_key_new(other);
  static const char msg[] = "{\"duration_s\":35}";
  static const char ad[] = "event";
  size_t n = sizeof msg - 1;
  uint8_t ct[sizeof msg - 1 + MES_SEAL_OVERHEAD], ct2[sizeof ct], tmp[sizeof ct];
  uint8_t pt[sizeof msg];

  assert_int_equal(mes_seal(key, ad, 5, msg, n, ct), MES_OK);
  assert_int_equal(mes_unseal(key, ad, 5, ct, sizeof ct, pt), MES_OK);
  assert_memory_equal(pt, msg, n);

  /* A fresh nonce each time: the same message never seals the same way. */
  assert_int_equal(mes_seal(key, ad, 5, msg, n, ct2), MES_OK);
  assert_memory_not_equal(ct, ct2, sizeof ct);

  /* Flipping any bit (nonce, ciphertext, tag) is detected. */
  for (size_t i = 0; i < sizeof ct; i++) {
    memcpy(tmp, ct, sizeof ct);
    tmp[i] ^= 0x01;
    assert_int_equal(mes_unseal(key, ad, 5, tmp, sizeof tmp, pt), MES_ECRYPTO);
  }
  /* Wrong key, wrong associated data, truncated input. */
  assert_int_equal(mes_unseal(other, ad, 5, ct, sizeof ct, pt), MES_ECRYPTO);
  assert_int_equal(mes_unseal(key, "pref", 4, ct, sizeof ct, pt), MES_ECRYPTO);
  assert_int_equal(mes_unseal(key, ad, 5, ct, sizeof ct - 1, pt), MES_ECRYPTO);
  assert_int_equal(mes_unseal(key, ad, 5, ct, MES_SEAL_OVERHEAD - 1, pt), MES_ECRYPTO);

  /* The empty message seals too. */
  uint8_t empty[MES_SEAL_OVERHEAD];
  assert_int_equal(mes_seal(key, NULL, 0, "", 0, empty), MES_OK);
  assert_int_equal(mes_unseal(key, NULL, 0, empty, sizeof empty, pt), MES_OK);
}

/* Nonces are drawn from a per-thread pool: many seals never repeat one, and a
 * forked child never reuses the bytes its parent draws next (a repeated
 * nonce under one key would expose both messages). */
static void test_nonces_never_repeat(void **state) {
  (void)state;
  uint8_t key[MES_KEY_BYTES];
  mes_subject_key_new(key);
  enum { N = 600 }; /* several refills of the 4 KiB pool */
  static uint8_t nonces[N][24];
  uint8_t ct[MES_SEAL_OVERHEAD + 1];
  for (int i = 0; i < N; i++) {
    assert_int_equal(mes_seal(key, NULL, 0, "x", 1, ct), MES_OK);
    memcpy(nonces[i], ct, 24);
  }
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      assert_memory_not_equal(nonces[i], nonces[j], 24);

  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    uint8_t c[MES_SEAL_OVERHEAD + 1];
    int ok = mes_seal(key, NULL, 0, "x", 1, c) == MES_OK && write(fds[1], c, 24) == 24;
    _exit(ok ? 0 : 1);
  }
  uint8_t mine[MES_SEAL_OVERHEAD + 1], theirs[24];
  assert_int_equal(mes_seal(key, NULL, 0, "x", 1, mine), MES_OK);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(read(fds[0], theirs, 24), 24);
  close(fds[0]);
  close(fds[1]);
  assert_memory_not_equal(mine, theirs, 24);
}

static void test_wrap_is_bound_to_subject(void **state) {
  struct fx *f = *state;
  struct mes_master *m = new_master(f->path);
  uint8_t key[MES_KEY_BYTES], back[MES_KEY_BYTES], wrapped[MES_WRAPPED_KEY_BYTES];
  mes_subject_key_new(key);
  assert_int_equal(mes_subject_key_wrap(m, 7, key, wrapped), MES_OK);
  assert_int_equal(mes_subject_key_unwrap(m, 7, wrapped, sizeof wrapped, back), MES_OK);
  assert_memory_equal(key, back, sizeof key);
  assert_int_equal(mes_subject_key_unwrap(m, 8, wrapped, sizeof wrapped, back), MES_ECRYPTO);
  assert_int_equal(mes_subject_key_unwrap(m, 7, wrapped, sizeof wrapped - 1, back), MES_ECRYPTO);
  mes_master_free(m);
}

/* --- signatures --- */

static void test_signature_verifies_with_public_key(void **state) {
  struct fx *f = *state;
  struct mes_master *m = new_master(f->path);
  static const char receipt[] = "{\"purpose\":\"personalization\",\"status\":\"granted\"}";
  uint8_t sig[MES_SIG_BYTES], pk[MES_SIGN_PK_BYTES];
  mes_sign(m, receipt, sizeof receipt - 1, sig);
  mes_sign_public_key(m, pk);
  assert_int_equal(crypto_sign_verify_detached(sig, (const unsigned char *)receipt, sizeof receipt - 1, pk), 0);
  char forged[sizeof receipt];
  memcpy(forged, receipt, sizeof receipt);
  forged[30] ^= 1;
  assert_int_not_equal(crypto_sign_verify_detached(sig, (const unsigned char *)forged, sizeof forged - 1, pk), 0);

  /* The key is derived from the master: the same after a reload. */
  struct mes_master *m2 = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_master_load(f->path, &m2, &err), MES_OK);
  uint8_t pk2[MES_SIGN_PK_BYTES];
  mes_sign_public_key(m2, pk2);
  assert_memory_equal(pk, pk2, sizeof pk);
  mes_master_free(m2);
  mes_master_free(m);
}

/* --- pseudonyms --- */

static void test_pseudonyms(void **state) {
  struct fx *f = *state;
  char path2[160];
  snprintf(path2, sizeof path2, "%s/other.key", f->dir);
  struct mes_master *a = new_master(f->path);
  struct mes_master *b = new_master(path2);
  struct mes_master *a2 = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_master_load(f->path, &a2, &err), MES_OK);

  uint8_t p1[32], p2[32], p3[32], p4[32], p5[32];
  mes_pseudonym(a, "subject", "u42", 3, p1);
  mes_pseudonym(a2, "subject", "u42", 3, p2);
  mes_pseudonym(b, "subject", "u42", 3, p3);
  mes_pseudonym(a, "anon", "u42", 3, p4);
  mes_pseudonym(a, "subject", "u43", 3, p5);
  assert_memory_equal(p1, p2, 32);     /* deterministic per master */
  assert_memory_not_equal(p1, p3, 32); /* differs across masters */
  assert_memory_not_equal(p1, p4, 32); /* differs across namespaces */
  assert_memory_not_equal(p1, p5, 32);

  char hex[17];
  mes_pseudonym_hex(p1, hex);
  assert_int_equal(strlen(hex), 16);
  assert_int_equal(strspn(hex, "0123456789abcdef"), 16);

  int64_t h1 = mes_keyed_hash64(a, p1, "evt-1", 5);
  assert_true(h1 > 0);
  assert_int_equal(h1, mes_keyed_hash64(a2, p1, "evt-1", 5));
  assert_int_not_equal(h1, mes_keyed_hash64(a, p5, "evt-1", 5));
  assert_int_not_equal(h1, mes_keyed_hash64(b, p1, "evt-1", 5));
  mes_master_free(a);
  mes_master_free(a2);
  mes_master_free(b);
}

/* --- the master key file --- */

static void test_master_file_mode(void **state) {
  struct fx *f = *state;
  struct mes_err err = {0};
  struct mes_master *m = NULL;
  assert_int_equal(mes_master_create(f->path, &err), MES_OK);
  struct stat sb;
  assert_int_equal(stat(f->path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(sb.st_size, MES_KEY_BYTES);

  /* Never overwrites an existing key. */
  assert_int_equal(mes_master_create(f->path, &err), MES_EEXISTS);

  /* Refuses a key others can read. */
  assert_int_equal(chmod(f->path, 0644), 0);
  assert_int_not_equal(mes_master_load(f->path, &m, &err), MES_OK);
  assert_null(m);
  assert_int_equal(err.rc, MES_EIO);
  assert_non_null(strstr(err.msg, "chmod 600"));
  assert_int_equal(chmod(f->path, 0640), 0);
  assert_int_not_equal(mes_master_load(f->path, &m, &err), MES_OK);
  assert_int_equal(chmod(f->path, 0600), 0);
  assert_int_equal(mes_master_load(f->path, &m, &err), MES_OK);
  mes_master_free(m);
  mes_master_free(NULL);
}

static void test_master_file_wrong_size_or_missing(void **state) {
  struct fx *f = *state;
  struct mes_err err = {0};
  struct mes_master *m = NULL;
  assert_int_equal(mes_master_load(f->path, &m, &err), MES_EIO); /* missing */
  FILE *fp = fopen(f->path, "w");
  assert_non_null(fp);
  fputs("short", fp);
  fclose(fp);
  assert_int_equal(chmod(f->path, 0600), 0);
  assert_int_equal(mes_master_load(f->path, &m, &err), MES_ECRYPTO);
  assert_null(m);
}

/* --- the master key check --- */

/* Writes a master key file holding key (mode 0600) and loads it. */
static struct mes_master *master_of(const char *path, const uint8_t key[MES_KEY_BYTES]) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(key, 1, MES_KEY_BYTES, fp), MES_KEY_BYTES);
  assert_int_equal(fclose(fp), 0);
  assert_int_equal(chmod(path, 0600), 0);
  struct mes_err err = {0};
  struct mes_master *m = NULL;
  assert_int_equal(mes_master_load(path, &m, &err), MES_OK);
  return m;
}

static void test_master_check(void **state) {
  struct fx *f = *state;
  uint8_t key[MES_KEY_BYTES], ones[MES_KEY_BYTES];
  for (int i = 0; i < MES_KEY_BYTES; i++)
    key[i] = (uint8_t)i;
  memset(ones, 0xff, sizeof ones);
  /* Known answers, computed outside libsodium (Python's hashlib.blake2b:
   * the kdf subkey 5 of context "mesura01", then BLAKE2b of the label under
   * it). They pin the on-disk format: every stored check is one of these. */
  const struct {
    const uint8_t *key;
    const char *hex;
  } rows[] = {
      {key, "f40daed73e5fa345b36ac88ca758b9e2bd9156d706469c5834243f44aee9ebc1"},
      {ones, "c6ef18fcfabeff70210aa1d056737d58d9be4c19dfd3d0dcf410092bb0a69c34"},
  };
  char hex[MES_KEY_CHECK_HEX], key_hex[2 * MES_KEY_BYTES + 1];
  struct mes_master *m[2];
  for (int r = 0; r < 2; r++) {
    m[r] = master_of(f->path, rows[r].key);
    mes_master_check_hex(m[r], hex);
    assert_string_equal(hex, rows[r].hex);
    assert_true(mes_master_check_matches(m[r], hex, strlen(hex)));
    /* The check is not the key, nor holds it. */
    sodium_bin2hex(key_hex, sizeof key_hex, rows[r].key, MES_KEY_BYTES);
    assert_string_not_equal(hex, key_hex);
  }
  /* Another key's check does not match; nor does anything malformed. */
  mes_master_check_hex(m[1], hex);
  assert_false(mes_master_check_matches(m[0], hex, strlen(hex)));
  mes_master_check_hex(m[0], hex);
  char bad[MES_KEY_CHECK_HEX + 1];
  memcpy(bad, hex, sizeof hex);
  bad[10] = bad[10] == '0' ? '1' : '0';
  assert_false(mes_master_check_matches(m[0], bad, strlen(bad)));
  assert_false(mes_master_check_matches(m[0], hex, strlen(hex) - 1)); /* cut short */
  memcpy(bad, hex, sizeof hex);
  bad[5] = 'g';
  assert_false(mes_master_check_matches(m[0], bad, strlen(bad))); /* not hex */
  memcpy(bad, hex, sizeof hex - 1);
  bad[sizeof hex - 1] = 'a';
  bad[sizeof hex] = '\0';
  assert_false(mes_master_check_matches(m[0], bad, strlen(bad))); /* one digit too many */
  assert_false(mes_master_check_matches(m[0], "", 0));
  assert_false(mes_master_check_matches(m[0], NULL, 0));
  mes_master_free(m[0]);
  mes_master_free(m[1]);
}

/* --- API keys, encodings --- */

static void test_apikeys(void **state) {
  (void)state;
  char k1[64], k2[64];
  mes_apikey_generate(k1);
  mes_apikey_generate(k2);
  assert_int_equal(strlen(k1), 47);
  assert_memory_equal(k1, "mes_", 4);
  assert_int_equal(strspn(k1 + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
  assert_string_not_equal(k1, k2);

  uint8_t h1[32], h2[32], h3[32];
  mes_apikey_hash(k1, strlen(k1), h1);
  mes_apikey_hash(k1, strlen(k1), h2);
  mes_apikey_hash(k2, strlen(k2), h3);
  assert_true(mes_ct_equal(h1, h2, 32));
  assert_false(mes_ct_equal(h1, h3, 32));
}

static void test_base64_and_tokens(void **state) {
  (void)state;
  static const struct {
    const char *in;
    const char *out;
  } rows[] = {{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"hello", "aGVsbG8="}};
  char out[16];
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    assert_non_null(mes_base64((const uint8_t *)rows[i].in, strlen(rows[i].in), out, sizeof out));
    assert_string_equal(out, rows[i].out);
  }
  assert_null(mes_base64((const uint8_t *)"hello", 5, out, 8)); /* needs 9 */

  char t1[64], t2[64];
  mes_random_token(t1, sizeof t1, 24);
  mes_random_token(t2, sizeof t2, 24);
  assert_int_equal(strlen(t1), 32);
  assert_string_not_equal(t1, t2);
  char small[9];
  mes_random_token(small, sizeof small, 24); /* shrinks to fit */
  assert_true(strlen(small) > 0 && strlen(small) < sizeof small);

  uint8_t secret[4] = {1, 2, 3, 4};
  mes_wipe(secret, sizeof secret);
  assert_int_equal(secret[0] | secret[1] | secret[2] | secret[3], 0);
}

/* --- rotation: the same root, a new wrapping key --- */

static void test_rotated_master(void **state) {
  struct fx *f = *state;
  struct mes_err err = {0};
  char p1[160], p2[160];
  snprintf(p1, sizeof p1, "%s/next1.key", f->dir);
  snprintf(p2, sizeof p2, "%s/next2.key", f->dir);
  struct mes_master *m0 = new_master(f->path), *m1 = NULL, *m2 = NULL;
  assert_int_equal(mes_master_create_next(m0, p1, &err), MES_OK);
  assert_int_equal(mes_master_create_next(m0, p1, &err), MES_EEXISTS);
  assert_int_equal(mes_master_load(p1, &m1, &err), MES_OK);
  assert_int_equal(mes_master_create_next(m1, p2, &err), MES_OK);
  assert_int_equal(mes_master_load(p2, &m2, &err), MES_OK);
  assert_int_equal(mes_master_rotated(m0), 0);
  assert_int_equal(mes_master_rotated(m1), 1);
  assert_int_equal(mes_master_rotated(m2), 1);

  struct stat sb;
  assert_int_equal(stat(p1, &sb), 0);
  assert_int_equal(sb.st_size, 2 * MES_KEY_BYTES);
  assert_int_equal(sb.st_mode & 0777, 0600);

  /* What the root gives stays. */
  uint8_t pn0[MES_PSEUDONYM_BYTES], pn2[MES_PSEUDONYM_BYTES], pk0[MES_SIGN_PK_BYTES], pk2[MES_SIGN_PK_BYTES];
  mes_pseudonym(m0, "subject", "alice", 5, pn0);
  mes_pseudonym(m2, "subject", "alice", 5, pn2);
  assert_memory_equal(pn0, pn2, sizeof pn0);
  assert_int_equal(mes_keyed_hash64(m0, pn0, "e-1", 3), mes_keyed_hash64(m2, pn2, "e-1", 3));
  mes_sign_public_key(m0, pk0);
  mes_sign_public_key(m2, pk2);
  assert_memory_equal(pk0, pk2, sizeof pk0);
  char c0[MES_KEY_CHECK_HEX], c2[MES_KEY_CHECK_HEX];
  mes_master_check_hex(m0, c0);
  mes_master_check_hex(m2, c2);
  assert_string_equal(c0, c2);

  /* The wrapping key and its check do not. */
  char w0[MES_KEY_CHECK_HEX], w1[MES_KEY_CHECK_HEX], w2[MES_KEY_CHECK_HEX];
  mes_master_wrap_check_hex(m0, w0);
  mes_master_wrap_check_hex(m1, w1);
  mes_master_wrap_check_hex(m2, w2);
  assert_string_not_equal(w0, w1);
  assert_string_not_equal(w1, w2);
  assert_string_not_equal(w0, c0);
  assert_true(mes_master_wrap_check_matches(m1, w1, strlen(w1)));
  assert_false(mes_master_wrap_check_matches(m2, w1, strlen(w1)));
  uint8_t key[MES_KEY_BYTES], wrapped[MES_WRAPPED_KEY_BYTES], back[MES_KEY_BYTES];
  mes_subject_key_new(key);
  assert_int_equal(mes_subject_key_wrap(m1, 7, key, wrapped), MES_OK);
  assert_int_equal(mes_subject_key_unwrap(m0, 7, wrapped, sizeof wrapped, back), MES_ECRYPTO);
  assert_int_equal(mes_subject_key_unwrap(m2, 7, wrapped, sizeof wrapped, back), MES_ECRYPTO);
  assert_int_equal(mes_subject_key_unwrap(m1, 7, wrapped, sizeof wrapped, back), MES_OK);
  assert_memory_equal(key, back, sizeof key);

  /* Neither size between nor beyond is a key. */
  for (size_t n = 33; n <= 65; n += 32) {
    FILE *fp = fopen(p2, "wb");
    assert_non_null(fp);
    uint8_t zeros[65] = {0};
    assert_int_equal(fwrite(zeros, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    struct mes_master *bad = NULL;
    assert_int_equal(mes_master_load(p2, &bad, &err), MES_ECRYPTO);
    assert_null(bad);
  }
  mes_master_free(m0);
  mes_master_free(m1);
  mes_master_free(m2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_seal_round_trip_and_tamper, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nonces_never_repeat, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrap_is_bound_to_subject, setup, teardown),
      cmocka_unit_test_setup_teardown(test_signature_verifies_with_public_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pseudonyms, setup, teardown),
      cmocka_unit_test_setup_teardown(test_master_file_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_master_file_wrong_size_or_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_master_check, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rotated_master, setup, teardown),
      cmocka_unit_test_setup_teardown(test_apikeys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_base64_and_tokens, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
