/* Unit tests of src/subject: resolving ids, subject keys, sealing bound to
 * subject and kind, crypto-shredding, the key cache, and what reaches disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "subject/subject.h"

struct fx {
  char dir[64];
  struct mes_master *master;
  struct mes_store *store;
  size_t cache_entries;
  struct mes_subjects *sj; /* the registry under test, with a key cache of cache_entries */
  struct mes_req req;
};

/* (Re)makes the registry over f->store (after the store was reopened). */
static void registry(struct fx *f) {
  mes_subjects_free(f->sj);
  assert_int_equal(mes_subjects_new(f->store, f->master, NULL, f->cache_entries, 0, &f->sj), MES_OK);
}

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

static int setup_n(void **state, size_t cache_entries) {
  struct fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/mes-subject-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  char path[128];
  snprintf(path, sizeof path, "%s/master.key", f->dir);
  struct mes_err err = {0};
  assert_int_equal(mes_master_create(path, &err), MES_OK);
  assert_int_equal(mes_master_load(path, &f->master, &err), MES_OK);
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, true, &f->store, &err), MES_OK);
  f->cache_entries = cache_entries;
  registry(f);
  f->req = (struct mes_req){.now_ms = 1700000000000, .actor = "test"};
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_n(state, 64); }
static int setup_tiny_cache(void **state) { return setup_n(state, 2); }
static int setup_no_cache(void **state) { return setup_n(state, 0); }

static int teardown(void **state) {
  struct fx *f = *state;
  mes_subjects_free(f->sj);
  mes_store_close(f->store);
  mes_master_free(f->master);
  rm_tree(f->dir);
  free(f);
  return 0;
}

static int64_t resolve(struct fx *f, const char *id) {
  struct mes_subject s;
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, id, strlen(id), true, &s), MES_OK);
  assert_true(s.row.id > 0);
  return s.row.id;
}

static void seal_str(struct fx *f, int64_t sid, const char *kind, const char *msg, uint8_t **ct, size_t *len) {
  assert_int_equal(mes_subject_seal(f->sj, sid, kind, msg, strlen(msg), ct, len), MES_OK);
  assert_int_equal(*len, strlen(msg) + MES_SEAL_OVERHEAD);
}

/* --- resolving --- */

static void test_resolve(void **state) {
  struct fx *f = *state;
  struct mes_subject s, again, anon;
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, "u42", 3, false, &s), MES_ENOT_FOUND);
  assert_int_equal(s.row.id, 0);
  uint8_t pn[MES_PSEUDONYM_BYTES];
  memcpy(pn, s.pn, sizeof pn); /* filled even when unknown */

  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, "u42", 3, true, &s), MES_OK);
  assert_true(s.row.id > 0);
  assert_memory_equal(s.pn, pn, sizeof pn);
  assert_int_equal(strlen(s.pn_hex), 16);
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, "u42", 3, false, &again), MES_OK);
  assert_int_equal(again.row.id, s.row.id);

  /* An anonymous id equal to a subject id is another person. */
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_ANON, "u42", 3, true, &anon), MES_OK);
  assert_int_not_equal(anon.row.id, s.row.id);
  assert_memory_not_equal(anon.pn, s.pn, sizeof pn);

  /* Its key exists from the start, durably: a read straight from the
   * keystore finds it. */
  mes_subjects_forget(f->sj, &s);
  uint8_t k1[MES_KEY_BYTES], k2[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(f->sj, s.row.id, k1), MES_OK);
  assert_int_equal(mes_subject_key_stored(f->sj, s.row.id, k2), MES_OK);
  assert_memory_equal(k1, k2, sizeof k1);
  assert_int_equal(mes_subject_key(f->sj, 12345, k1), MES_ENOT_FOUND);
}

/* --- sealing --- */

static void test_seal_round_trip_and_binding(void **state) {
  struct fx *f = *state;
  int64_t a = resolve(f, "alice");
  int64_t b = resolve(f, "bob");
  uint8_t *ct = NULL;
  size_t len = 0;
  char *pt = NULL;
  size_t pt_len = 0;
  seal_str(f, a, "event", "{\"duration_s\":35}", &ct, &len);

  assert_int_equal(mes_subject_unseal(f->sj, a, "event", ct, len, &pt, &pt_len), MES_OK);
  assert_string_equal(pt, "{\"duration_s\":35}");
  assert_int_equal(pt_len, strlen(pt));
  free(pt);

  /* Table-driven: every wrong context fails the same way. */
  static const struct {
    const char *what;
    int use_b;
    const char *kind;
    size_t flip; /* byte to corrupt + 1, 0 for none */
  } bad[] = {
      {"another subject", 1, "event", 0},
      {"another kind", 0, "consent", 0},
      {"a flipped nonce byte", 0, "event", 1},
      {"a flipped ciphertext byte", 0, "event", MES_SEAL_OVERHEAD - 16 + 2},
      {"a flipped tag byte", 0, "event", 0},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, ct, len);
    if (bad[i].flip)
      copy[bad[i].flip - 1] ^= 0x80;
    if (i == 4)
      copy[len - 1] ^= 0x80;
    int rc = mes_subject_unseal(f->sj, bad[i].use_b ? b : a, bad[i].kind, copy, len, &pt, &pt_len);
    if (rc != MES_ECRYPTO)
      fail_msg("unseal with %s: %s", bad[i].what, mes_rc_code(rc));
    assert_null(pt);
    free(copy);
  }
  assert_int_equal(mes_subject_unseal(f->sj, a, "event", ct, MES_SEAL_OVERHEAD - 1, &pt, &pt_len), MES_ECRYPTO);
  free(ct);
}

/* mes_subject_seal_key (a batch seals many events of one subject with the
 * key it fetched once) writes what mes_subject_unseal reads, bound to the
 * same sid and kind as mes_subject_seal. */
static void test_seal_with_key_in_hand(void **state) {
  struct fx *f = *state;
  int64_t a = resolve(f, "alice");
  int64_t b = resolve(f, "bob");
  uint8_t key[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(f->sj, a, key), MES_OK);
  const char *msg = "{\"item\":\"i1\"}";
  uint8_t *ct = NULL;
  size_t len = 0;
  assert_int_equal(mes_subject_seal_key(key, a, "event", msg, strlen(msg), &ct, &len), MES_OK);
  assert_int_equal(len, strlen(msg) + MES_SEAL_OVERHEAD);
  char *pt = NULL;
  size_t pt_len = 0;
  assert_int_equal(mes_subject_unseal(f->sj, a, "event", ct, len, &pt, &pt_len), MES_OK);
  assert_string_equal(pt, msg);
  free(pt);
  assert_int_equal(mes_subject_unseal(f->sj, b, "event", ct, len, &pt, &pt_len), MES_ECRYPTO);
  assert_int_equal(mes_subject_unseal(f->sj, a, "consent", ct, len, &pt, &pt_len), MES_ECRYPTO);
  assert_null(pt);
  free(ct);
  /* A kind too long for the associated data is refused, and nothing is returned. */
  char kind[64];
  memset(kind, 'k', sizeof kind - 1);
  kind[sizeof kind - 1] = '\0';
  ct = (uint8_t *)"not touched";
  assert_int_equal(mes_subject_seal_key(key, a, kind, msg, strlen(msg), &ct, &len), MES_EINTERNAL);
  assert_null(ct);
  assert_int_equal(len, 0);
  mes_wipe(key, sizeof key);
}

static void test_wrong_subject_unwrap_fails(void **state) {
  struct fx *f = *state;
  int64_t a = resolve(f, "alice");
  int64_t b = resolve(f, "bob");
  /* Move alice's wrapped key into bob's slot: it must not unwrap there. */
  uint8_t wrapped[MES_WRAPPED_KEY_BYTES];
  size_t len;
  assert_int_equal(mes_store_key_get(f->store, a, wrapped, sizeof wrapped, &len), MES_OK);
  assert_int_equal(mes_store_key_put(f->store, b, wrapped, len), MES_OK);
  struct mes_subject sb;
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, "bob", 3, false, &sb), MES_OK);
  mes_subjects_forget(f->sj, &sb); /* its cached key: read from the keystore again */
  uint8_t key[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(f->sj, b, key), MES_ECRYPTO);
}

/* --- shredding --- */

static void test_shred(void **state) {
  struct fx *f = *state;
  int64_t a = resolve(f, "alice");
  uint8_t *ct = NULL;
  size_t len;
  char *pt = NULL;
  size_t pt_len;
  seal_str(f, a, "pref", "{\"interests\":[\"camping\"]}", &ct, &len);
  uint8_t key[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(f->sj, a, key), MES_OK); /* cached now */

  assert_int_equal(mes_subject_shred(f->sj, a), MES_OK);
  assert_int_equal(mes_subject_key(f->sj, a, key), MES_ENOT_FOUND);
  assert_int_equal(mes_subject_unseal(f->sj, a, "pref", ct, len, &pt, &pt_len), MES_ENOT_FOUND);
  assert_null(pt);

  /* Still gone after a restart. */
  mes_store_close(f->store);
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &f->store, &err), MES_OK);
  registry(f);
  assert_int_equal(mes_subject_key(f->sj, a, key), MES_ENOT_FOUND);
  assert_int_equal(mes_subject_shred(f->sj, a), MES_ENOT_FOUND);
  free(ct);
}

/* --- the key cache --- */

static void test_cache_eviction_keeps_keys_right(void **state) {
  struct fx *f = *state; /* a cache of 2 entries */
  enum { N = 6 };
  int64_t sid[N];
  uint8_t *ct[N];
  size_t len[N];
  char id[16], msg[32];
  for (int i = 0; i < N; i++) {
    snprintf(id, sizeof id, "shopper-%d", i);
    snprintf(msg, sizeof msg, "{\"n\":%d}", i);
    sid[i] = resolve(f, id);
    seal_str(f, sid[i], "event", msg, &ct[i], &len[i]);
  }
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) {
      char *pt = NULL;
      size_t pt_len;
      snprintf(msg, sizeof msg, "{\"n\":%d}", i);
      assert_int_equal(mes_subject_unseal(f->sj, sid[i], "event", ct[i], len[i], &pt, &pt_len), MES_OK);
      assert_string_equal(pt, msg);
      free(pt);
    }
  }
  for (int i = 0; i < N; i++)
    free(ct[i]);
}

static void test_rolled_back_subject_id_gets_a_fresh_key(void **state) {
  struct fx *f = *state;
  struct mes_subject s;
  /* The caller's transaction rolls back after the subject and its key were
   * made: the id is handed out again, and the new subject must not inherit
   * the old key (neither from the keystore nor from the cache). */
  assert_int_equal(mes_store_tx_begin(f->store), MES_OK);
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, "ghost", 5, true, &s), MES_OK);
  int64_t ghost = s.row.id;
  uint8_t ghost_key[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(f->sj, ghost, ghost_key), MES_OK);
  mes_store_tx_rollback(f->store);
  assert_int_equal(mes_subject_resolve(f->sj, &f->req, MES_NS_SUBJECT, "ghost", 5, false, &s), MES_ENOT_FOUND);

  int64_t real = resolve(f, "real");
  uint8_t key[MES_KEY_BYTES], stored[MES_KEY_BYTES];
  assert_int_equal(mes_subject_key(f->sj, real, key), MES_OK);
  assert_int_equal(mes_subject_key_stored(f->sj, real, stored), MES_OK);
  assert_memory_equal(key, stored, sizeof key);
  assert_int_equal(real, ghost); /* the id was handed out again */
  assert_memory_not_equal(key, ghost_key, sizeof key);
}

static void test_without_cache(void **state) {
  struct fx *f = *state;
  int64_t a = resolve(f, "alice");
  uint8_t *ct;
  size_t len;
  char *pt;
  size_t pt_len;
  seal_str(f, a, "consent", "receipt", &ct, &len);
  assert_int_equal(mes_subject_unseal(f->sj, a, "consent", ct, len, &pt, &pt_len), MES_OK);
  assert_string_equal(pt, "receipt");
  free(pt);
  free(ct);
  assert_int_equal(mes_subject_shred(f->sj, a), MES_OK);
}

/* --- nothing personal on disk --- */

static bool file_contains(const char *path, const char *needle) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return false;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
    len += n;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
  }
  fclose(fp);
  size_t nl = strlen(needle);
  bool found = false;
  for (size_t i = 0; !found && i + nl <= len; i++)
    found = memcmp(buf + i, needle, nl) == 0;
  free(buf);
  return found;
}

static void test_no_plaintext_on_disk(void **state) {
  struct fx *f = *state;
  static const char subject_id[] = "customer-8812-plaintext-id";
  static const char secret[] = "declared-expecting-baby-XYZZY";
  int64_t sid = resolve(f, subject_id);

  char props[96];
  snprintf(props, sizeof props, "{\"note\":\"%s\"}", secret);
  uint8_t *ct;
  size_t len;
  seal_str(f, sid, "event", props, &ct, &len);
  struct mes_event_row ev = {.sid = sid, .ts_ms = f->req.now_ms, .purposes = 1, .sealed = ct, .sealed_len = len};
  uint64_t ticket;
  assert_int_equal(mes_store_tx_begin(f->store), MES_OK);
  assert_int_equal(mes_store_event_insert(f->store, &ev), MES_OK);
  assert_int_equal(mes_store_pref_put(f->store, sid, ct, len), MES_OK);
  assert_int_equal(mes_store_tx_commit(f->store, &ticket), MES_OK);
  assert_int_equal(mes_store_wait_durable(f->store, ticket), MES_OK);
  free(ct);
  /* The catalog is stored in the clear: proves the search below can see. */
  assert_int_equal(mes_store_item_put(f->store, "tent", "{\"title\":\"visible-catalog-marker\"}", 1), MES_OK);

  /* Check the files both while open (WAL holds the latest pages) and after
   * close (checkpointed into the main files). */
  static const char *const files[] = {"mesura.db", "mesura.db-wal", "keys.db", "keys.db-wal"};
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      char path[128];
      snprintf(path, sizeof path, "%s/%s", f->dir, files[i]);
      if (file_contains(path, subject_id))
        fail_msg("%s holds the plaintext subject id", files[i]);
      if (file_contains(path, secret))
        fail_msg("%s holds a sealed property value in the clear", files[i]);
    }
    char db[128], wal[128];
    snprintf(db, sizeof db, "%s/mesura.db", f->dir);
    snprintf(wal, sizeof wal, "%s/mesura.db-wal", f->dir);
    assert_true(file_contains(db, "visible-catalog-marker") || file_contains(wal, "visible-catalog-marker"));
    if (pass == 0) {
      mes_store_close(f->store);
      struct mes_err err = {0};
      assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &f->store, &err), MES_OK);
      mes_store_close(f->store);
      f->store = NULL;
    }
  }
  /* The test reads what was written: the event is really there. */
  struct mes_err err = {0};
  assert_int_equal(mes_store_open(f->dir, MES_STORE_SQLITE, false, &f->store, &err), MES_OK);
  registry(f); /* over the store open now */
  assert_int_equal(mes_store_event_count(f->store), 1);
}

static void test_keycache_args(void **state) {
  (void)state;
  struct mes_keycache *kc = NULL;
  assert_int_equal(mes_keycache_new((size_t)INT32_MAX, &kc), MES_EINTERNAL);
  assert_null(kc);
  assert_int_equal(mes_keycache_new(0, &kc), MES_OK); /* keeps nothing */
  assert_non_null(kc);
  mes_keycache_forget(kc, 1);
  mes_keycache_free(kc);
  mes_keycache_free(NULL);
  mes_keycache_forget(NULL, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seal_round_trip_and_binding, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seal_with_key_in_hand, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_subject_unwrap_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shred, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_eviction_keeps_keys_right, setup_tiny_cache, teardown),
      cmocka_unit_test_setup_teardown(test_rolled_back_subject_id_gets_a_fresh_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_without_cache, setup_no_cache, teardown),
      cmocka_unit_test_setup_teardown(test_no_plaintext_on_disk, setup, teardown),
      cmocka_unit_test(test_keycache_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
