/*
 * Unit tests of the preferences' codec (consent/prefrec.c):
 *   - documents as stores hold them (the two core lists and "declared"
 *     always, do_not_use_items only when not empty, keys sorted, declared
 *     values of every kind) decode into the struct and encode back to the
 *     same bytes, so that what is stored stays readable and keeps its shape;
 *   - a PUT body keeps the first occurrence of each entry in the order
 *     given, and shows declared facts in the order given while the stored
 *     document sorts them;
 *   - a PATCH removes first and adds after, keeps a re-declared fact in its
 *     place with its new value, and refuses a list past its cap, naming it;
 *   - what a stored document cannot mean (non-string entries, unknown
 *     members) is ignored; a document that is not an object is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "consent/prefrec.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void assert_ids(const struct mes_prefs_ids *l, const char *const *want, size_t n) {
  assert_int_equal(l->n, n);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(l->v[i], want[i]);
    assert_int_equal(l->len[i], strlen(want[i]));
  }
}

static json_t *parse(const char *text) {
  json_t *v = json_loads(text, 0, NULL);
  assert_non_null(v);
  return v;
}

/* Stored documents, byte for byte as write_doc has always written them. */
static void test_stored_round_trips(void **state) {
  (void)state;
  static const char *const docs[] = {
      "{\"declared\":{},\"exclude_categories\":[],\"interests\":[]}",
      "{\"declared\":{},\"do_not_use_items\":[\"sku-1\"],\"exclude_categories\":[\"baby\"],\"interests\":[]}",
      "{\"declared\":{\"age\":34,\"diet\":\"vegan\",\"height_m\":1.75,\"pregnant\":false,\"vip\":true},"
      "\"do_not_use_items\":[\"a\",\"b\"],\"exclude_categories\":[\"health\"],\"interests\":[\"camping\",\"tea\"]}",
      "{\"declared\":{\"note\":\"\xc3\xb3 \\\"q\\\"\"},\"exclude_categories\":[],"
      "\"interests\":[\"\xc5\x82\xc3\xb3" "d\xc5\xba\"]}",
  };
  for (size_t d = 0; d < N_OF(docs); d++) {
    struct mes_prefs p;
    assert_int_equal(mes_prefs_decode(docs[d], strlen(docs[d]), &p), MES_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(mes_prefs_encode(&p, &text, &len), MES_OK);
    assert_string_equal(text, docs[d]);
    assert_int_equal(len, strlen(docs[d]));
    free(text);
    mes_prefs_release(&p);
  }
  struct mes_prefs p;
  assert_int_equal(mes_prefs_decode(docs[2], strlen(docs[2]), &p), MES_OK);
  assert_ids(&p.interests, (const char *const[]){"camping", "tea"}, 2);
  assert_ids(&p.exclude_categories, (const char *const[]){"health"}, 1);
  assert_ids(&p.do_not_use_items, (const char *const[]){"a", "b"}, 2);
  assert_int_equal(p.n_declared, 5);
  assert_string_equal(p.declared[0].name, "age");
  assert_int_equal(p.declared[0].kind, MES_PREFS_INT);
  assert_int_equal(p.declared[0].i, 34);
  assert_int_equal(p.declared[1].kind, MES_PREFS_TEXT);
  assert_string_equal(p.declared[1].text, "vegan");
  assert_int_equal(p.declared[2].kind, MES_PREFS_REAL);
  assert_true(p.declared[2].r == 1.75);
  assert_int_equal(p.declared[3].kind, MES_PREFS_BOOL);
  assert_false(p.declared[3].b);
  assert_true(p.declared[4].b);
  mes_prefs_release(&p);
}

/* A body: repeats kept once, in first-seen order; declared in the order
 * given in the reply, sorted in the stored document. */
static void test_body_order(void **state) {
  (void)state;
  json_t *body = parse("{\"interests\":[\"tea\",\"camping\",\"tea\"],\"exclude_categories\":[\"baby\",\"baby\"],"
                       "\"declared\":{\"zeta\":1,\"alpha\":\"x\"}}");
  struct mes_prefs p;
  assert_int_equal(mes_prefs_from_json(body, &p), MES_OK);
  json_decref(body);
  assert_ids(&p.interests, (const char *const[]){"tea", "camping"}, 2);
  assert_ids(&p.exclude_categories, (const char *const[]){"baby"}, 1);
  assert_int_equal(p.do_not_use_items.n, 0);
  json_t *shown = NULL;
  assert_int_equal(mes_prefs_json(&p, &shown), MES_OK);
  char *text = json_dumps(shown, JSON_COMPACT);
  assert_string_equal(text, "{\"declared\":{\"zeta\":1,\"alpha\":\"x\"},\"interests\":[\"tea\",\"camping\"],"
                            "\"exclude_categories\":[\"baby\"]}");
  free(text);
  json_decref(shown);
  size_t len;
  assert_int_equal(mes_prefs_encode(&p, &text, &len), MES_OK);
  assert_string_equal(text, "{\"declared\":{\"alpha\":\"x\",\"zeta\":1},\"exclude_categories\":[\"baby\"],"
                            "\"interests\":[\"tea\",\"camping\"]}");
  free(text);
  mes_prefs_release(&p);
}

static void test_patch(void **state) {
  (void)state;
  static const char stored[] = "{\"declared\":{\"a\":1,\"b\":2,\"c\":3},\"do_not_use_items\":[\"x\"],"
                               "\"exclude_categories\":[\"baby\"],\"interests\":[\"tea\",\"camping\"]}";
  struct mes_prefs p;
  assert_int_equal(mes_prefs_decode(stored, sizeof stored - 1, &p), MES_OK);
  json_t *add = parse("{\"interests\":[\"tea\",\"books\"],\"exclude_categories\":[\"health\"],"
                      "\"declared\":{\"b\":\"two\",\"d\":true}}");
  json_t *remove = parse("{\"interests\":[\"tea\"],\"do_not_use_items\":[\"x\"],\"declared\":[\"a\",\"zz\"]}");
  const char *full = "unset";
  assert_int_equal(mes_prefs_patch(&p, add, remove, 256, &full), MES_OK);
  assert_null(full);
  /* tea removed, then added again at the end: present */
  assert_ids(&p.interests, (const char *const[]){"camping", "tea", "books"}, 3);
  assert_ids(&p.exclude_categories, (const char *const[]){"baby", "health"}, 2);
  assert_int_equal(p.do_not_use_items.n, 0);
  assert_int_equal(p.n_declared, 3);
  assert_string_equal(p.declared[0].name, "b"); /* a removed; b kept in place with its new value */
  assert_int_equal(p.declared[0].kind, MES_PREFS_TEXT);
  assert_string_equal(p.declared[0].text, "two");
  assert_string_equal(p.declared[1].name, "c");
  assert_string_equal(p.declared[2].name, "d");
  char *text;
  size_t len;
  assert_int_equal(mes_prefs_encode(&p, &text, &len), MES_OK);
  /* an emptied do_not_use_items leaves the document, as it always has */
  assert_string_equal(text, "{\"declared\":{\"b\":\"two\",\"c\":3,\"d\":true},\"exclude_categories\":[\"baby\","
                            "\"health\"],\"interests\":[\"camping\",\"tea\",\"books\"]}");
  free(text);
  json_decref(add);
  json_decref(remove);

  /* Past the cap, the list is named, whichever list it is. */
  static const char *const lists[] = {"interests", "exclude_categories", "do_not_use_items"};
  for (size_t i = 0; i < N_OF(lists); i++) {
    add = json_pack("{s:[s,s,s,s]}", lists[i], "n1", "n2", "n3", "n4");
    assert_int_equal(mes_prefs_patch(&p, add, NULL, 4, &full), MES_EOUT_OF_RANGE);
    assert_string_equal(full, lists[i]);
    json_decref(add);
    mes_prefs_release(&p);
    assert_int_equal(mes_prefs_decode(stored, sizeof stored - 1, &p), MES_OK);
  }
  mes_prefs_release(&p);
}

static void test_odd_documents(void **state) {
  (void)state;
  static const char odd[] = "{\"interests\":[\"tea\",7,null,\"tea\"],\"future\":{\"x\":1},\"declared\":{\"k\":[1]}}";
  struct mes_prefs p;
  assert_int_equal(mes_prefs_decode(odd, sizeof odd - 1, &p), MES_OK);
  assert_ids(&p.interests, (const char *const[]){"tea"}, 1);
  assert_int_equal(p.exclude_categories.n, 0);
  assert_int_equal(p.n_declared, 0);
  mes_prefs_release(&p);
  assert_int_equal(mes_prefs_decode("[]", 2, &p), MES_EINTERNAL);
  mes_prefs_release(&p);
  /* An empty struct shows as the empty document. */
  mes_prefs_init(&p);
  json_t *shown;
  assert_int_equal(mes_prefs_json(&p, &shown), MES_OK);
  char *text = json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(text, "{\"declared\":{},\"exclude_categories\":[],\"interests\":[]}");
  free(text);
  json_decref(shown);
  mes_prefs_release(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stored_round_trips),
      cmocka_unit_test(test_body_order),
      cmocka_unit_test(test_patch),
      cmocka_unit_test(test_odd_documents),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
