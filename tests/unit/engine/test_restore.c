/*
 * Unit tests of mes_engine_restore, the verb of `mesura restore`, over a real
 * data directory: a backup made before an erasure, restored, does not answer
 * for the erased person and does for everyone else; the person may come back
 * afterwards and stays; a backup of another store, or a restore while an
 * engine has the directory open, is refused with nothing changed. The
 * erasure is done as the erasure verb does it to the store (rows, key, then
 * the journal), with the pseudonym the engine gives the id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/crypto.h"
#include "engine/engine.h"
#include "store/store.h"

#include "../engine_dir.h"

struct fixture {
  char dir[64];
  char data[96];
  struct mes_engine *e;
};

static void open_engine(struct fixture *f) {
  mes_test_engine_open(f->data, &f->e);
}

static void close_engine(struct fixture *f) {
  mes_engine_close(f->e);
  f->e = NULL;
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mes_test_dir_make(f->dir, f->data, "restore");
  open_engine(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  mes_engine_close(f->e);
  mes_test_dir_remove(f->dir);
  free(f);
  return 0;
}

static void grant(struct fixture *f, const char *subject) {
  static const char body[] = "{\"status\": \"granted\"}";
  struct mes_call call = {0};
  struct mes_body b = {.text = body, .len = sizeof body - 1};
  json_t *receipt = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  if (mes_engine_consent_put(f->e, &call, subject, strlen(subject), "personalization", 15, &b, &receipt, &err))
    fail_msg("consent: %s", mes_err_text(&err));
  json_decref(receipt);
}

static bool known(struct fixture *f, const char *subject) {
  struct mes_call call = {0};
  json_t *doc = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc = mes_engine_export(f->e, &call, subject, strlen(subject), &doc, &err);
  json_decref(doc);
  assert_true(rc == MES_OK || rc == MES_ENOT_FOUND);
  return rc == MES_OK;
}

static void backup(struct fixture *f, const char *name, char *out, size_t cap) {
  struct mes_err err;
  mes_err_clear(&err);
  snprintf(out, cap, "%s/%s", f->dir, name);
  if (mes_engine_backup(f->e, out, &err))
    fail_msg("backup: %s", mes_err_text(&err));
}

/* With the engine closed: what the erasure verb leaves in the store. */
static void erase(struct fixture *f, const char *subject) {
  char key[128];
  struct mes_master *m = NULL;
  struct mes_store *st = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  snprintf(key, sizeof key, "%s/master.key", f->data);
  assert_int_equal(mes_master_load(key, &m, &err), MES_OK);
  uint8_t pn[MES_PSEUDONYM_BYTES];
  mes_pseudonym(m, "subject", subject, strlen(subject), pn);
  mes_master_free(m);
  assert_int_equal(mes_store_open(f->data, MES_STORE_SQLITE, false, &st, &err), MES_OK);
  struct mes_subject_row row;
  assert_int_equal(mes_store_subject_find(st, pn, &row), MES_OK);
  assert_int_equal(mes_store_erasure_add(st, pn, row.id, 5000), MES_OK);
  assert_int_equal(mes_store_subject_delete(st, row.id), MES_OK);
  assert_int_equal(mes_store_key_delete(st, row.id), MES_OK);
  mes_store_close(st);
}

static int restore(struct fixture *f, const char *file, int64_t *n_erased, struct mes_err *err) {
  mes_err_clear(err);
  return mes_engine_restore(f->data, file, NULL, n_erased, err);
}

static void test_restored_backup_does_not_answer_for_the_erased(void **state) {
  struct fixture *f = *state;
  char b[128];
  grant(f, "alice");
  grant(f, "bob");
  backup(f, "before.db", b, sizeof b);
  close_engine(f);
  erase(f, "alice");

  struct mes_err err;
  int64_t n = -1;
  assert_int_equal(restore(f, b, &n, &err), MES_OK);
  assert_int_equal(n, 1);
  open_engine(f);
  assert_false(known(f, "alice"));
  assert_true(known(f, "bob"));

  /* Alice comes back: new consent, kept through a restart (the journal's
   * record is older than her new row). */
  grant(f, "alice");
  close_engine(f);
  open_engine(f);
  assert_true(known(f, "alice"));
}

static void test_restore_refused_while_an_engine_is_open(void **state) {
  struct fixture *f = *state;
  char b[128];
  grant(f, "alice");
  backup(f, "before.db", b, sizeof b);
  grant(f, "carol");
  struct mes_err err;
  assert_int_equal(restore(f, b, NULL, &err), MES_ECONFLICT);
  assert_non_null(strstr(mes_err_text(&err), "in use"));
  assert_true(known(f, "carol"));
}

static void test_backup_of_another_store_is_refused(void **state) {
  struct fixture *f = *state;
  char other[128], b[160];
  struct mes_err err;
  mes_err_clear(&err);
  snprintf(other, sizeof other, "%s/other", f->dir);
  assert_int_equal(mes_engine_init_dir(other, &err), MES_OK);
  struct mes_engine *oe = NULL;
  struct mes_engine_opts o = {.dir = other};
  assert_int_equal(mes_engine_open(&o, &oe, &err), MES_OK);
  snprintf(b, sizeof b, "%s/other.db", f->dir);
  assert_int_equal(mes_engine_backup(oe, b, &err), MES_OK);
  mes_engine_close(oe);

  grant(f, "bob");
  close_engine(f);
  assert_int_equal(restore(f, b, NULL, &err), MES_ECRYPTO);
  assert_non_null(strstr(mes_err_text(&err), "nothing was changed"));
  open_engine(f);
  assert_true(known(f, "bob"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_restored_backup_does_not_answer_for_the_erased, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restore_refused_while_an_engine_is_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backup_of_another_store_is_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
