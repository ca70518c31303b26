/*
 * Unit tests of src/policy: loading mesura.yaml (the example, defaults, and a
 * table of broken files that must each name the right line), lookups,
 * Accept-Language negotiation and the privacy notice in every language.
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

#include "base/buf.h"
#include "policy/policy.h"
#include "policy/policy_int.h"

/* A small valid policy that cases extend. */
#define MINIMAL                                                                                                      \
  "purposes:\n"                                                                                                      \
  "  personalization: {description: \"Suggest products\"}\n"                                                         \
  "event_types:\n"                                                                                                   \
  "  view: {purposes: [personalization], retention_days: 30}\n"
#define TYPES "event_types:\n  view: {purposes: [personalization], retention_days: 30}\n"

static struct mes_policy *load_ok(const char *yaml) {
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  int rc = mes_policy_load_buf("mesura.yaml", yaml, strlen(yaml), &p, &err);
  if (rc != MES_OK)
    print_error("unexpected failure: %s\n", mes_err_text(&err));
  assert_int_equal(rc, MES_OK);
  assert_non_null(p);
  return p;
}

static bool contains(const char *hay, const char *needle) { return hay && strstr(hay, needle) != NULL; }

/* ------------------------------------------------------------------------ */

static void test_example_loads(void **state) {
  (void)state;
  struct mes_policy *p = load_ok(mes_policy_example());
  assert_string_equal(p->site, "Demo Store");
  assert_int_equal(p->languages, 7);
  assert_int_equal(p->n_purposes, 2);
  assert_int_equal(p->n_event_types, 6);
  assert_int_equal(p->n_categories, 5);
  const char *types[] = {"view", "click", "add_to_cart", "purchase", "search", "dismiss"};
  for (size_t i = 0; i < 6; i++)
    assert_true(mes_policy_event_type(p, types[i], strlen(types[i])) >= 0);
  int pers = mes_policy_purpose(p, "personalization", 15);
  int ads = mes_policy_purpose(p, "ads_retargeting", 15);
  assert_int_equal(pers, 0);
  assert_int_equal(ads, 1);
  assert_int_equal(p->purposes[ads].gpc, MES_GPC_HONORED);
  assert_int_equal(p->purposes[pers].gpc, MES_GPC_IGNORED);
  assert_string_equal(p->purposes[pers].description[MES_LANG_PL],
                      "Podpowiadanie produktów na podstawie tego, co oglądasz i kupujesz");
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_ADS), 1u << ads);
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_WEB), 1u << pers);
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_EMAIL), 1u << pers);
  int view = mes_policy_event_type(p, "view", 4);
  assert_int_equal(p->event_types[view].purposes, (1u << pers) | (1u << ads));
  assert_int_equal(p->event_types[view].retention_days, 180);
  assert_true(mes_policy_property_declared(p, view, "duration_s", 10));
  assert_false(mes_policy_property_declared(p, view, "price", 5));
  int purchase = mes_policy_event_type(p, "purchase", 8);
  assert_true(mes_policy_property_declared(p, purchase, "price", 5));
  assert_false(mes_policy_property_declared(p, 99, "price", 5));
  int dismiss = mes_policy_event_type(p, "dismiss", 7);
  assert_int_equal(p->event_types[dismiss].n_properties, 0);
  int baby = mes_policy_category(p, "baby", 4);
  assert_true(baby >= 0);
  assert_true(p->categories[baby].sensitive);
  assert_string_equal(p->categories[baby].label[MES_LANG_ES], "Bebé y embarazo");
  int dress = mes_policy_category(p, "wedding-dress", 13);
  assert_int_equal(p->categories[dress].lifecycle, MES_LIFECYCLE_ONCE);
  assert_int_equal(p->categories[mes_policy_category(p, "camping", 7)].lifecycle, MES_LIFECYCLE_ORDINARY);
  assert_int_equal(p->categories[mes_policy_category(p, "coffee", 6)].lifecycle, MES_LIFECYCLE_REPEAT);
  assert_int_equal(mes_policy_category(p, "nope", 4), -1);
  assert_int_equal(p->guardrails.frequency_cap_max_impressions, 3);
  assert_int_equal(p->model.kind, MES_MODEL_AUTO);
  assert_int_equal(strlen(p->version), 7); /* YYYY-MM: the example leaves policy_version to the default */
  mes_policy_free(p);
}

/* Every key of the schema appears, with its comment, in the example. */
static void check_keys_in(const struct mes__pfield *fields, const char *text) {
  for (const struct mes__pfield *f = fields; f->name; f++) {
    char key[80];
    snprintf(key, sizeof key, "%s:", f->name);
    if (!contains(text, key))
      print_error("the example does not mention key '%s'\n", f->name);
    assert_true(contains(text, key));
    if (f->kind == MES_PK_MAP || f->kind == MES_PK_DICT)
      check_keys_in(f->fields, text);
  }
}

static void test_example_names_every_key(void **state) {
  (void)state;
  check_keys_in(mes__policy_schema, mes_policy_example());
}

/* docs/config.md embeds the reference table printed from the schema. */
static void test_docs_agree_with_schema(void **state) {
  (void)state;
  char path[4096];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *cut = strstr(path, "tests/unit/policy/");
  assert_non_null(cut);
  snprintf(cut, sizeof path - (size_t)(cut - path), "docs/config.md");
  FILE *f = fopen(path, "rb");
  if (!f)
    print_error("cannot open %s\n", path);
  assert_non_null(f);
  static char doc[1 << 17];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  fclose(f);
  doc[n] = '\0';
  struct mes_buf b;
  mes_buf_init(&b, 1 << 20);
  assert_int_equal(mes__policy_schema_doc(&b), MES_OK);
  if (!contains(doc, b.data))
    print_error("docs/config.md must contain this table verbatim:\n%s\n", b.data);
  assert_true(contains(doc, b.data));
  mes_buf_release(&b);
}

/* ------------------------------------------------------------------------ */

struct bad_case {
  const char *what;
  const char *yaml;
  int line;
  const char *says; /* a piece of the sentence */
};

static const struct bad_case bad_cases[] = {
    {"unknown top-level key", MINIMAL "colour: red\n", 5, "unknown key 'colour' at the top level"},
    {"unknown nested key", MINIMAL "guardrails:\n  frequency_cap:\n    max_impresions: 3\n", 7,
     "unknown key 'max_impresions' in guardrails.frequency_cap"},
    {"unknown key in a purpose", "purposes:\n  personalization:\n    gpc: ignored\n    colour: red\n" TYPES, 4,
     "unknown key 'colour' in purposes.personalization"},
    {"undeclared purpose",
     "purposes:\n  personalization: {}\nevent_types:\n  view:\n    purposes:\n      - personalization\n"
     "      - personalisation\n    retention_days: 30\n",
     7, "event type 'view' names purpose 'personalisation', which is not declared under purposes."},
    {"negative window", MINIMAL "guardrails:\n  frequency_cap: {max_impressions: 3, window_hours: -1}\n", 6,
     "guardrails.frequency_cap.window_hours must be a positive whole number"},
    {"zero count", MINIMAL "guardrails:\n  frequency_cap:\n    max_impressions: 0\n", 7,
     "guardrails.frequency_cap.max_impressions must be a positive whole number"},
    {"zero retention", "purposes:\n  p: {}\nevent_types:\n  view:\n    purposes: [p]\n    retention_days: 0\n", 6,
     "event_types.view.retention_days must be a positive whole number"},
    {"retention as text", "purposes:\n  p: {}\nevent_types:\n  view: {purposes: [p], retention_days: \"30\"}\n", 4,
     "must be a whole number"},
    {"missing retention", "purposes:\n  p: {}\nevent_types:\n  view: {purposes: [p]}\n", 4,
     "event_types.view needs the key 'retention_days'"},
    {"no purposes served", "purposes:\n  p: {}\nevent_types:\n  view: {purposes: [], retention_days: 3}\n", 4,
     "event type 'view' must serve at least one purpose"},
    {"bad gpc value", "purposes:\n  personalization:\n    gpc: maybe\n" TYPES, 3,
     "purposes.personalization.gpc must be ignored or honored; 'maybe' is not."},
    {"bad channel", "purposes:\n  ads:\n    channels: [ads, tv]\n" TYPES, 3,
     "'tv' in purposes.ads.channels is not one of web, app, email, ads or store."},
    {"channels not a list", "purposes:\n  ads:\n    channels: ads\n" TYPES, 3, "must be a list"},
    {"bad language", "site: Shop\nlanguages:\n  - en\n  - fr\n" MINIMAL, 4,
     "'fr' in languages is not one of en, es or pl."},
    {"bad description language", "purposes:\n  p:\n    description: {en: Hi, de: Hallo}\n" TYPES, 3,
     "purposes.p.description has a text in 'de'"},
    {"duplicate purpose name",
     "purposes:\n  personalization: {}\n  ads: {}\n  personalization: {gpc: honored}\n"
     "event_types:\n  view: {purposes: [ads], retention_days: 3}\n",
     4, "purpose 'personalization' is declared twice, here and on line 2."},
    {"duplicate top-level key", MINIMAL "site: A\nsite: B\n", 6, "'site' appears twice"},
    {"duplicate property",
     "purposes:\n  p: {}\nevent_types:\n  view:\n    purposes: [p]\n    retention_days: 3\n"
     "    properties: [price,\n                 price]\n",
     8, "'price' is listed twice in event_types.view.properties"},
    {"empty file", "", 1, "the file is empty"},
    {"only comments", "# nothing here\n\n", 1, "the file is empty"},
    {"YAML syntax error", "purposes:\n  p: {}\nevent_types: [view\n", 4, "this is not valid YAML"},
    {"YAML bad indentation", "purposes:\n  p: {}\n    q: {}\nevent_types: {}\n", 3, "this is not valid YAML"},
    {"tab indentation", "purposes:\n  p: {}\nevent_types:\n\tview: {purposes: [p], retention_days: 3}\n", 4,
     "indented with a tab"},
    {"missing purposes", "event_types:\n  view: {purposes: [p], retention_days: 3}\n", 1,
     "the file needs the key 'purposes'"},
    {"empty purposes", "purposes: {}\nevent_types:\n  view: {purposes: [p], retention_days: 3}\n", 1,
     "purposes must declare at least one purpose"},
    {"missing event types", "purposes:\n  p: {}\n", 1, "the file needs the key 'event_types'"},
    {"bad purpose name", "purposes:\n  \"\": {}\n" TYPES, 2, "'' is not a valid purpose name"},
    {"root is a list", "- purposes\n- event_types\n", 1, "the file must be a mapping"},
    {"bad boolean", MINIMAL "categories:\n  baby: {sensitive: yes}\n", 6,
     "categories.baby.sensitive must be true or false"},
    {"bad lifecycle", MINIMAL "categories:\n  baby: {lifecycle: twice}\n", 6, "must be ordinary, repeat or once"},
    {"bad third_party_data", MINIMAL "guardrails:\n  third_party_data: maybe\n", 6, "must be reject or accept"},
    {"bad model kind", MINIMAL "model:\n  kind: magic\n", 6, "model.kind must be auto, cooc, ease or popular"},
    {"zero retrain", MINIMAL "model: {retrain_every_minutes: 0}\n", 5,
     "model.retrain_every_minutes must be a positive"},
    {"negative growth", MINIMAL "model: {retrain_after_events_pct: -1}\n", 5,
     "model.retrain_after_events_pct must be a non-negative whole number, such as 10; it cannot be -1."},
    {"huge growth", MINIMAL "model: {retrain_after_events_pct: 100001}\n", 5,
     "model.retrain_after_events_pct may be at most 100000"},
    {"negative memory", MINIMAL "model:\n  max_memory_mb: -5\n", 6, "model.max_memory_mb must be a positive"},
    {"negative relation half-life", MINIMAL "model: {relation_half_life_days: -30}\n", 5,
     "model.relation_half_life_days must be a non-negative whole number"},
    {"relation half-life beyond a century", MINIMAL "model: {relation_half_life_days: 36501}\n", 5,
     "model.relation_half_life_days may be at most 36500"},
    {"negative recent-items half-life", MINIMAL "model: {recent_items_half_life: -1}\n", 5,
     "model.recent_items_half_life must be a non-negative whole number"},
    {"complements beyond tenfold", MINIMAL "model: {complements_pct: 1001}\n", 5,
     "model.complements_pct may be at most 1000"},
    {"EASE without regularisation", MINIMAL "model: {ease_lambda: 0}\n", 5, "model.ease_lambda must be a positive"},
    {"a thousand and one neighbours", MINIMAL "model: {neighbors: 1001}\n", 5, "model.neighbors may be at most 1000"},
    {"history cache beyond 64 GiB", MINIMAL "serving: {history_cache_mb: 65537}\n", 5,
     "serving.history_cache_mb may be at most 65536"},
    {"negative history cache", MINIMAL "serving: {history_cache_mb: -1}\n", 5,
     "serving.history_cache_mb must be a non-negative whole number"},
    {"unknown serving key", MINIMAL "serving: {history_cache: 64}\n", 5, "history_cache"},
    {"zero decision retention", MINIMAL "decision_retention_days: 0\n", 5,
     "decision_retention_days must be a positive"},
    {"huge number", MINIMAL "decision_retention_days: 99999999999999999999\n", 5, "may be at most 36500"},
    {"token lifetime beyond a day", MINIMAL "rights: {token_minutes: 1441}\n", 5,
     "rights.token_minutes may be at most 1440"},
    {"tokens that never work", MINIMAL "rights: {token_minutes: 0}\n", 5, "rights.token_minutes must be a positive"},
    {"guardrails not a mapping", MINIMAL "guardrails: [1, 2]\n", 5, "guardrails must be a mapping"},
    {"alias", "purposes:\n  p: &x {}\n  q: *x\nevent_types:\n  view: {purposes: [p], retention_days: 3}\n", 3,
     "alias"},
    {"second document", MINIMAL "---\nsite: other\n", 6, "a second YAML document"},
    {"control character in site", MINIMAL "site: \"A\\x01B\"\n", 5, "control character"},
    {"site is a list", MINIMAL "site: [a]\n", 5, "site must be text"},
};

static void test_bad_files(void **state) {
  (void)state;
  size_t failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const struct bad_case *c = &bad_cases[i];
    struct mes_policy *p = (struct mes_policy *)1;
    struct mes_err err = {0};
    int rc = mes_policy_load_buf("mesura.yaml", c->yaml, strlen(c->yaml), &p, &err);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "mesura.yaml:%d: ", c->line);
    bool good = rc == MES_EBAD_POLICY && p == NULL && strncmp(err.msg, prefix, strlen(prefix)) == 0 &&
                contains(err.msg, c->says);
    size_t len = strlen(err.msg);
    good = good && len > 0 && err.msg[len - 1] == '.'; /* a sentence */
    if (!good)
      print_error("case '%s': rc %d, message \"%s\"; wanted line %d and \"%s\"\n", c->what, rc, err.msg, c->line,
                  c->says);
    failures += !good;
  }
  assert_int_equal(failures, 0); /* every failing case is printed above */
}

static void test_too_many_purposes(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 1 << 20);
  assert_int_equal(mes_buf_puts(&b, "purposes:\n"), MES_OK);
  for (int i = 0; i < 33; i++)
    assert_int_equal(mes_buf_printf(&b, "  p%d: {}\n", i), MES_OK);
  assert_int_equal(mes_buf_puts(&b, "event_types:\n  view: {purposes: [p0], retention_days: 3}\n"), MES_OK);
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_policy_load_buf("mesura.yaml", b.data, b.len, &p, &err), MES_EBAD_POLICY);
  assert_string_equal(err.msg, "mesura.yaml:34: purposes declares 33 purposes; mesura supports at most 32.");
  assert_null(p);
  mes_buf_release(&b);

  /* 32 is fine, and the 32nd purpose is bit 31. */
  mes_buf_init(&b, 1 << 20);
  assert_int_equal(mes_buf_puts(&b, "purposes:\n"), MES_OK);
  for (int i = 0; i < 32; i++)
    assert_int_equal(mes_buf_printf(&b, "  p%d: {}\n", i), MES_OK);
  assert_int_equal(mes_buf_puts(&b, "event_types:\n  view: {purposes: [p31, p0], retention_days: 3}\n"), MES_OK);
  p = load_ok(b.data);
  assert_int_equal(p->event_types[0].purposes, 0x80000001u);
  mes_policy_free(p);
  mes_buf_release(&b);
}

static void test_defaults(void **state) {
  (void)state;
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  /* 2026-11-20T21:04:05Z */
  assert_int_equal(mes__policy_load_mtime("mesura.yaml", MINIMAL, strlen(MINIMAL), 1795208645000, &p, &err), MES_OK);
  assert_string_equal(p->version, "2026-11");
  assert_string_equal(p->site, "");
  assert_string_equal(p->path, "mesura.yaml");
  assert_int_equal(p->languages, 1u << MES_LANG_EN);
  assert_int_equal(p->n_categories, 0);
  assert_null(p->categories);
  assert_int_equal(p->purposes[0].gpc, MES_GPC_IGNORED);
  assert_int_equal(p->purposes[0].channels, 0);
  assert_string_equal(p->purposes[0].description[MES_LANG_EN], "Suggest products");
  assert_null(p->purposes[0].description[MES_LANG_ES]);
  assert_int_equal(p->event_types[0].n_properties, 0);
  const struct mes_guardrails *g = &p->guardrails;
  assert_int_equal(g->frequency_cap_max_impressions, 3);
  assert_int_equal(g->frequency_cap_window_hours, 72);
  assert_int_equal(g->retargeting_window_days, 14);
  assert_int_equal(g->post_purchase_suppression_days, 365);
  assert_false(g->cross_channel_after_purchase);
  assert_true(g->shared_device_hide_history);
  assert_true(g->shared_device_hide_sensitive);
  assert_false(g->third_party_accept);
  assert_int_equal(p->model.kind, MES_MODEL_AUTO);
  assert_int_equal(p->model.retrain_every_minutes, 60);
  assert_int_equal(p->model.retrain_after_events_pct, 10);
  assert_int_equal(p->model.max_memory_mb, 2048);
  assert_int_equal(p->model.relation_half_life_days, 365);
  assert_int_equal(p->model.recent_items_half_life, 3);
  assert_int_equal(p->model.history_half_life_days, 30);
  assert_int_equal(p->model.complements_pct, 150);
  assert_int_equal(p->model.ease_lambda, 200);
  assert_int_equal(p->model.neighbors, 50);
  assert_int_equal(p->serving.history_cache_mb, 64);
  assert_int_equal(p->decision_retention_days, 30);
  assert_int_equal(p->rights.token_minutes, 15);
  for (int c = 0; c < MES_CH_N; c++)
    assert_int_equal(mes_policy_channel_purposes(p, (enum mes_channel)c), 1u);
  mes_policy_free(p);

  /* Sections given partly keep the defaults of the keys left out. */
  p = load_ok(MINIMAL "guardrails:\n  frequency_cap: {window_hours: 24}\n  shared_device: {hide_history: false}\n"
                      "  third_party_data: accept\nmodel: {kind: ease}\npolicy_version: v7\nlanguages: [pl]\n"
                      "categories:\n  camping:\n");
  assert_int_equal(p->guardrails.frequency_cap_window_hours, 24);
  assert_int_equal(p->guardrails.frequency_cap_max_impressions, 3);
  assert_false(p->guardrails.shared_device_hide_history);
  assert_true(p->guardrails.shared_device_hide_sensitive);
  assert_true(p->guardrails.third_party_accept);
  assert_int_equal(p->model.kind, MES_MODEL_EASE);
  assert_int_equal(p->model.retrain_every_minutes, 60);
  assert_int_equal(p->serving.history_cache_mb, 64);
  assert_int_equal(p->model.retrain_after_events_pct, 10);
  assert_string_equal(p->version, "v7");
  assert_int_equal(p->languages, (1u << MES_LANG_EN) | (1u << MES_LANG_PL));
  assert_int_equal(p->n_categories, 1);
  assert_false(p->categories[0].sensitive);
  assert_int_equal(p->categories[0].lifecycle, MES_LIFECYCLE_ORDINARY); /* absent: ordinary */
  mes_policy_free(p);

  /* 0 is a value of retrain_after_events_pct (never), not a missing one. */
  p = load_ok(MINIMAL "model: {retrain_after_events_pct: 0}\n");
  assert_int_equal(p->model.retrain_after_events_pct, 0);
  mes_policy_free(p);
  p = load_ok(MINIMAL "rights: {token_minutes: 240}\n");
  assert_int_equal(p->rights.token_minutes, 240);
  mes_policy_free(p);
  /* Nor of history_cache_mb (the cache off). */
  p = load_ok(MINIMAL "serving: {history_cache_mb: 0}\n");
  assert_int_equal(p->serving.history_cache_mb, 0);
  mes_policy_free(p);
}

static void test_channel_binding(void **state) {
  (void)state;
  /* No purpose named personalization and none bound: nothing is needed... */
  struct mes_policy *p = load_ok("purposes:\n  email_recs: {channels: [email]}\n  other: {}\n"
                                 "event_types:\n  view: {purposes: [other], retention_days: 3}\n");
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_EMAIL), 1u);
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_WEB), 0);
  mes_policy_free(p);
  /* ...with one, it covers every channel no purpose binds. */
  p = load_ok("purposes:\n  personalization: {channels: [web]}\n  email_recs: {channels: [email, app]}\n"
              "event_types:\n  view: {purposes: [personalization], retention_days: 3}\n");
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_WEB), 1u);
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_EMAIL), 2u);
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_APP), 2u);
  assert_int_equal(mes_policy_channel_purposes(p, MES_CH_STORE), 1u);
  assert_int_equal(mes_policy_channel_purposes(p, (enum mes_channel)MES_CH_N), 0);
  mes_policy_free(p);
}

static void test_load_file(void **state) {
  (void)state;
  char path[] = "/tmp/mesura-policy-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *yaml = MINIMAL;
  assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
  close(fd);
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_policy_load(path, &p, &err), MES_OK);
  assert_string_equal(p->path, path);
  assert_int_equal(strlen(p->version), 7);
  assert_int_equal(p->version[4], '-');
  mes_policy_free(p);

  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  fputs(MINIMAL "bogus: 1\n", f);
  fclose(f);
  assert_int_equal(mes_policy_load(path, &p, &err), MES_EBAD_POLICY);
  char want[128];
  snprintf(want, sizeof want, "%s:5: unknown key 'bogus'", path);
  assert_true(contains(err.msg, want));
  unlink(path);

  assert_int_equal(mes_policy_load(path, &p, &err), MES_EIO);
  assert_null(p);
  assert_true(contains(err.msg, "cannot be read"));
  mes_policy_free(NULL);
}

static void test_long_names_stay_sentences(void **state) {
  (void)state;
  struct mes_buf b;
  mes_buf_init(&b, 1 << 20);
  assert_int_equal(mes_buf_puts(&b, MINIMAL), MES_OK);
  for (int i = 0; i < 300; i++)
    assert_int_equal(mes_buf_puts(&b, "k"), MES_OK);
  assert_int_equal(mes_buf_puts(&b, ": 1\n"), MES_OK);
  struct mes_policy *p = NULL;
  struct mes_err err = {0};
  assert_int_equal(mes_policy_load_buf("mesura.yaml", b.data, b.len, &p, &err), MES_EBAD_POLICY);
  assert_true(contains(err.msg, "mesura.yaml:5: unknown key 'kkkk"));
  assert_true(contains(err.msg, "k...'"));
  mes_buf_release(&b);
}

/* ------------------------------------------------------------------------ */

static void test_enums(void **state) {
  (void)state;
  assert_string_equal(mes_channel_name(MES_CH_EMAIL), "email");
  assert_int_equal(mes_channel_parse("store", 5), MES_CH_STORE);
  assert_int_equal(mes_channel_parse("stores", 6), -1);
  assert_int_equal(mes_channel_parse("we", 2), -1);
  assert_string_equal(mes_lang_name(MES_LANG_PL), "pl");
  assert_int_equal(mes_lang_parse("es", 2), MES_LANG_ES);
  assert_int_equal(mes_lang_parse("de", 2), -1);
  assert_string_equal(mes_source_name(MES_SRC_ZERO), "zero_party");
  assert_int_equal(mes_source_parse("third_party", 11), MES_SRC_THIRD);
  assert_int_equal(mes_source_parse("first", 5), -1);
}

static void test_lang_negotiate(void **state) {
  (void)state;
  struct mes_policy *all = load_ok(mes_policy_example());
  struct mes_policy *en_es = load_ok(MINIMAL "languages: [es]\n");
  static const struct {
    const char *header;
    int all, en_es;
  } cases[] = {
      {NULL, MES_LANG_EN, MES_LANG_EN},
      {"", MES_LANG_EN, MES_LANG_EN},
      {"es", MES_LANG_ES, MES_LANG_ES},
      {"pl-PL,pl;q=0.9,en;q=0.8", MES_LANG_PL, MES_LANG_EN},
      {"es-ES,es;q=0.9", MES_LANG_ES, MES_LANG_ES},
      {"de-DE, fr;q=0.9", MES_LANG_EN, MES_LANG_EN},
      {"en;q=0.5, pl;q=0.7, es;q=0.6", MES_LANG_PL, MES_LANG_ES},
      {"es;q=0, pl;q=0.1", MES_LANG_PL, MES_LANG_EN},
      {"PL", MES_LANG_PL, MES_LANG_EN},
      {"es_MX", MES_LANG_ES, MES_LANG_ES},
      {"*", MES_LANG_EN, MES_LANG_EN},
      {"de, *;q=0.5, es;q=0.4", MES_LANG_EN, MES_LANG_EN},
      {"es;q=1.0, pl", MES_LANG_ES, MES_LANG_ES},
      {"pl;q=abc, es;q=0.2", MES_LANG_ES, MES_LANG_ES},
      {"pl ; q=0.3 , es;q=0.2", MES_LANG_PL, MES_LANG_ES},
      {"pl;q=0.9;level=1, es;q=0.95", MES_LANG_ES, MES_LANG_ES},
      {",,;q=,", MES_LANG_EN, MES_LANG_EN},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    enum mes_lang a = mes_lang_negotiate(all, cases[i].header), b = mes_lang_negotiate(en_es, cases[i].header);
    if ((int)a != cases[i].all || (int)b != cases[i].en_es)
      print_error("'%s': got %d/%d, wanted %d/%d\n", cases[i].header ? cases[i].header : "(null)", a, b, cases[i].all,
                  cases[i].en_es);
    assert_int_equal(a, cases[i].all);
    assert_int_equal(b, cases[i].en_es);
  }
  assert_int_equal(mes_lang_negotiate(NULL, "pl"), MES_LANG_PL);
  mes_policy_free(all);
  mes_policy_free(en_es);
}

/* ------------------------------------------------------------------------ */

/* Each translation keeps the English conversions in the same order. */
static void conversions(const char *s, char *out, size_t cap) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++)
    if (*s == '%' && s[1]) {
      s++;
      out[n++] = *s;
    }
  out[n] = '\0';
}

static void test_notice_translations_match(void **state) {
  (void)state;
  for (size_t i = 0; i < mes__notice_n_texts(); i++) {
    char en[16], other[16];
    assert_non_null(mes__notice_text(i, MES_LANG_EN));
    conversions(mes__notice_text(i, MES_LANG_EN), en, sizeof en);
    for (int l = 1; l < MES_LANG_N; l++) {
      assert_non_null(mes__notice_text(i, (enum mes_lang)l));
      conversions(mes__notice_text(i, (enum mes_lang)l), other, sizeof other);
      assert_string_equal(en, other);
    }
  }
  assert_null(mes__notice_text(mes__notice_n_texts(), MES_LANG_EN));
}

/* Every right, each as if served by some request: what the notice says of
 * a right, whatever serves it. */
static const struct mes_served_right all_rights[] = {
    {MES_RIGHT_WITHDRAW_CONSENT, "PUT", "/v1/subjects/{s}/consents/{purpose}"},
    {MES_RIGHT_SEE, "GET", "/v1/subjects/{s}"},
    {MES_RIGHT_EXPORT, "GET", "/v1/subjects/{s}/export"},
    {MES_RIGHT_CORRECT, "DELETE", "/v1/subjects/{s}/events/{event_id}"},
    {MES_RIGHT_RESTRICT, "PUT", "/v1/subjects/{s}/restriction"},
    {MES_RIGHT_ERASE, "DELETE", "/v1/subjects/{s}"},
    {MES_RIGHT_ACCESS_LOG, "GET", "/v1/subjects/{s}/access-log"},
    {MES_RIGHT_SEE, "GET", "/twice"}, /* a right named twice is listed once, as first named */
};
#define N_ALL_RIGHTS (sizeof all_rights / sizeof all_rights[0])

static void test_notice_json(void **state) {
  (void)state;
  struct mes_policy *p = load_ok(mes_policy_example());
  static const struct {
    enum mes_lang l;
    const char *code, *fixed, *description, *days, *right;
  } langs[] = {
      {MES_LANG_EN, "en", "Privacy notice", "Suggest products from what you browse and buy", "Kept for 180 days",
       "Erase it"},
      {MES_LANG_ES, "es", "Aviso de privacidad", "Sugerirte productos a partir de lo que ves y compras",
       "Conservamos estos datos durante 180 días", "Borrarlo"},
      {MES_LANG_PL, "pl", "Informacja o prywatności",
       "Podpowiadanie produktów na podstawie tego, co oglądasz i kupujesz", "Przechowujemy przez 180 dni",
       "Usunąć je"},
  };
  for (size_t k = 0; k < 3; k++) {
    json_t *n = mes_policy_notice_json(p, all_rights, N_ALL_RIGHTS, langs[k].l);
    assert_non_null(n);
    char *s = json_dumps(n, JSON_COMPACT);
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(n, "site")), "Demo Store");
    assert_string_equal(json_string_value(json_object_get(n, "language")), langs[k].code);
    assert_string_equal(json_string_value(json_object_get(n, "policy_version")), p->version);
    assert_string_equal(json_string_value(json_object_get(n, "title")), langs[k].fixed);
    assert_true(contains(s, langs[k].description));
    assert_true(contains(s, langs[k].days));
    assert_true(contains(s, langs[k].right));
    json_t *purposes = json_object_get(n, "purposes");
    assert_int_equal(json_array_size(purposes), p->n_purposes);
    for (size_t i = 0; i < p->n_purposes; i++) {
      json_t *pu = json_array_get(purposes, i);
      assert_string_equal(json_string_value(json_object_get(pu, "name")), p->purposes[i].name);
      assert_non_null(json_object_get(pu, "description"));
      assert_non_null(json_object_get(pu, "gpc_text"));
      /* every event type that serves the purpose is listed with its retention */
      size_t served = 0;
      for (size_t t = 0; t < p->n_event_types; t++)
        served += (p->event_types[t].purposes >> i) & 1u;
      assert_int_equal(json_array_size(json_object_get(pu, "data")), served);
    }
    json_t *ads = json_array_get(purposes, 1);
    assert_string_equal(json_string_value(json_object_get(ads, "gpc")), "honored");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ads, "channels"), 0)), "ads");
    json_t *pers = json_array_get(purposes, 0);
    assert_int_equal(json_array_size(json_object_get(pers, "channels")), 4); /* all but ads */
    json_t *view = json_array_get(json_object_get(pers, "data"), 0);
    assert_string_equal(json_string_value(json_object_get(view, "event_type")), "view");
    assert_int_equal(json_integer_value(json_object_get(view, "retention_days")), 180);
    assert_string_equal(json_string_value(json_array_get(json_object_get(view, "properties"), 0)), "duration_s");
    json_t *cats = json_object_get(n, "categories");
    assert_int_equal(json_array_size(cats), 2); /* the sensitive ones: baby, health */
    json_t *rights = json_object_get(n, "rights");
    const char *want[] = {"see", "export", "correct", "restrict", "erase", "access_log", "withdraw_consent"};
    assert_int_equal(json_array_size(rights), 7);
    for (size_t r = 0; r < 7; r++) {
      json_t *right = json_array_get(rights, r);
      assert_string_equal(json_string_value(json_object_get(right, "right")), want[r]);
      assert_string_equal(json_string_value(json_object_get(right, "right")), mes_right_name((enum mes_right)r));
      assert_non_null(json_string_value(json_object_get(right, "text")));
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(rights, 0), "path")), "/v1/subjects/{s}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rights, 6), "method")), "PUT");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rights, 6), "path")),
                        "/v1/subjects/{s}/consents/{purpose}");
    assert_non_null(json_object_get(n, "rights_text"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(n, "third_party_data"), "policy")),
                        "reject");
    assert_non_null(json_object_get(n, "gpc_text"));
    assert_non_null(json_object_get(n, "opt_in"));
    free(s);
    json_decref(n);
  }
  mes_policy_free(p);
}

static void test_notice_html(void **state) {
  (void)state;
  struct mes_policy *p = load_ok(mes_policy_example());
  static const struct {
    enum mes_lang l;
    const char *lang_attr, *fixed, *right;
  } langs[] = {
      {MES_LANG_EN, "<html lang=\"en\">", "Your rights", "Withdraw your consent"},
      {MES_LANG_ES, "<html lang=\"es\">", "Tus derechos", "Retirar tu consentimiento"},
      {MES_LANG_PL, "<html lang=\"pl\">", "Twoje prawa", "Wycofać zgodę"},
  };
  for (size_t k = 0; k < 3; k++) {
    char *h = mes_policy_notice_html(p, all_rights, N_ALL_RIGHTS, langs[k].l);
    assert_non_null(h);
    assert_true(contains(h, langs[k].lang_attr));
    assert_true(contains(h, langs[k].fixed));
    assert_true(contains(h, langs[k].right));
    for (size_t i = 0; i < p->n_purposes; i++)
      assert_true(contains(h, p->purposes[i].description[langs[k].l]));
    assert_true(contains(h, "Baby &amp; pregnancy") || contains(h, "Bebé y embarazo") ||
                contains(h, "Dziecko i ciąża"));
    free(h);
  }
  mes_policy_free(p);
}

/* The notice promises the rights it is told are served, and no other: in
 * each language, a right not served appears nowhere, in JSON or HTML. */
static void test_notice_promises_only_served_rights(void **state) {
  (void)state;
  struct mes_policy *p = load_ok(mes_policy_example());
  static const struct mes_served_right some[] = {
      {MES_RIGHT_EXPORT, "GET", "/v1/subjects/{s}/export"},
      {MES_RIGHT_SEE, "GET", "/v1/subjects/{s}"},
  };
  static const struct {
    enum mes_lang l;
    const char *see, *erase, *restrict_, *rights_heading;
  } langs[] = {
      {MES_LANG_EN, "See what we hold about you.", "Erase it", "Restrict it", "Your rights"},
      {MES_LANG_ES, "Ver lo que tenemos sobre ti.", "Borrarlo", "Limitarlo", "Tus derechos"},
      {MES_LANG_PL, "Zobaczyć, co o Tobie przechowujemy.", "Usunąć je", "Ograniczyć", "Twoje prawa"},
  };
  for (size_t k = 0; k < 3; k++) {
    json_t *n = mes_policy_notice_json(p, some, 2, langs[k].l);
    assert_non_null(n);
    json_t *rights = json_object_get(n, "rights");
    assert_int_equal(json_array_size(rights), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rights, 0), "right")), "see");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rights, 0), "text")), langs[k].see);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rights, 1), "right")), "export");
    char *s = json_dumps(n, JSON_COMPACT);
    assert_false(contains(s, langs[k].erase));
    assert_false(contains(s, langs[k].restrict_));
    free(s);
    json_decref(n);
    char *h = mes_policy_notice_html(p, some, 2, langs[k].l);
    assert_true(contains(h, langs[k].see));
    assert_true(contains(h, langs[k].rights_heading));
    assert_false(contains(h, langs[k].erase));
    assert_false(contains(h, langs[k].restrict_));
    free(h);

    /* Nothing served: no rights section at all. */
    n = mes_policy_notice_json(p, NULL, 0, langs[k].l);
    assert_int_equal(json_array_size(json_object_get(n, "rights")), 0);
    assert_null(json_object_get(n, "rights_text"));
    json_decref(n);
    h = mes_policy_notice_html(p, NULL, 0, langs[k].l);
    assert_false(contains(h, langs[k].rights_heading));
    assert_false(contains(h, langs[k].see));
    free(h);
  }
  assert_null(mes_right_name(MES_RIGHT_N));
  mes_policy_free(p);
}

static void test_notice_escapes(void **state) {
  (void)state;
  struct mes_policy *p = load_ok("site: \"<script>alert('x')</script> & Co\"\n"
                                 "purposes:\n  personalization: {description: \"<b>Suggest</b> \\\"things\\\"\"}\n"
                                 "event_types:\n  view: {purposes: [personalization], retention_days: 1, "
                                 "properties: [\"<img>\"]}\n"
                                 "categories:\n  \"<x>\": {sensitive: true}\n");
  char *h = mes_policy_notice_html(p, all_rights, N_ALL_RIGHTS, MES_LANG_EN);
  assert_non_null(h);
  assert_false(contains(h, "<script>"));
  assert_false(contains(h, "<b>"));
  assert_false(contains(h, "<img>"));
  assert_false(contains(h, "<x>"));
  assert_true(contains(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
  assert_true(contains(h, "&lt;b&gt;Suggest&lt;/b&gt; &quot;things&quot;"));
  assert_true(contains(h, "Kept for 1 day."));
  free(h);
  json_t *n = mes_policy_notice_json(p, all_rights, N_ALL_RIGHTS, MES_LANG_EN);
  assert_string_equal(json_string_value(json_object_get(n, "site")), "<script>alert('x')</script> & Co");
  json_decref(n);
  mes_policy_free(p);

  /* Without a site, the notice still names someone; without a description, the purpose's name. */
  p = load_ok("purposes:\n  measure: {}\nevent_types:\n  ping: {purposes: [measure], retention_days: 2}\n");
  n = mes_policy_notice_json(p, NULL, 0, MES_LANG_PL);
  assert_string_equal(json_string_value(json_object_get(n, "who")), "Ta strona odpowiada za Twoje dane.");
  json_t *pu = json_array_get(json_object_get(n, "purposes"), 0);
  assert_string_equal(json_string_value(json_object_get(pu, "description")), "measure");
  assert_true(contains(json_string_value(json_object_get(json_array_get(json_object_get(pu, "data"), 0), "text")),
                       "Zdarzenia typu „ping”. Przechowujemy przez 2 dni."));
  assert_non_null(json_object_get(n, "categories_text"));
  json_decref(n);
  mes_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_example_loads),
      cmocka_unit_test(test_example_names_every_key),
      cmocka_unit_test(test_docs_agree_with_schema),
      cmocka_unit_test(test_bad_files),
      cmocka_unit_test(test_too_many_purposes),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_channel_binding),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_long_names_stay_sentences),
      cmocka_unit_test(test_enums),
      cmocka_unit_test(test_lang_negotiate),
      cmocka_unit_test(test_notice_translations_match),
      cmocka_unit_test(test_notice_json),
      cmocka_unit_test(test_notice_html),
      cmocka_unit_test(test_notice_promises_only_served_rights),
      cmocka_unit_test(test_notice_escapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
