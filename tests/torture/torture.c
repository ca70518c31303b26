/*
 * torture — the allocation hooks, the run loop and the shop of the
 * allocation-failure tests (see torture.h).
 *
 * The hooks. The executable is linked with -Wl,--wrap=malloc (and calloc,
 * realloc, strdup, strndup, aligned_alloc): the linker sends every call to
 * malloc made by an object file of this link (the tests and the static
 * mes_* libraries) to __wrap_malloc below, and __real_malloc to the real
 * one. Shared libraries are not relinked, so jansson and SQLite are routed
 * through their own allocator settings, and jansson's parser is wrapped
 * (below). Memory is never freed through a hook: free() stays the C
 * library's (or the sanitizer's), which is why SQLite's allocator keeps
 * each block's size in a header of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>
#include <sqlite3.h>

#ifdef MESURA_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#include "torture.h"

#include "../unit/world.h"

#include "base/alloc.h"
#include "base/mtime.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "store/store.h"

/* ---------------------------------------------------------------- hooks */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);

/* Called at each refusal: `break mes_torture_refused` in gdb, with
 * MES_TORTURE_FIRST set to the allocation number a failure message names,
 * stops where that allocation was asked for. */
void mes_torture_refused(void);
__attribute__((noinline)) void mes_torture_refused(void) { __asm__ volatile(""); }

static bool refuse(void) {
  if (!mes_alloc_refuse())
    return false;
  mes_torture_refused();
  errno = ENOMEM;
  return true;
}

#define REFUSE_OR(call) return refuse() ? NULL : (call)

void *__wrap_malloc(size_t n) { REFUSE_OR(__real_malloc(n)); }
void *__wrap_calloc(size_t n, size_t size) { REFUSE_OR(__real_calloc(n, size)); }
void *__wrap_realloc(void *p, size_t n) { REFUSE_OR(__real_realloc(p, n)); }
char *__wrap_strdup(const char *s) { REFUSE_OR(__real_strdup(s)); }
char *__wrap_strndup(const char *s, size_t n) { REFUSE_OR(__real_strndup(s, n)); }
void *__wrap_aligned_alloc(size_t align, size_t n) { REFUSE_OR(__real_aligned_alloc(align, n)); }

/* jansson takes a malloc and a free; every json_t, string and dump.
 *
 * Except inside its parser. jansson 2.14 ignores a failed allocation while
 * it grows the buffer of the token being read (lex_save; jansson issue
 * #362): the lexer then asserts, or walks past the buffer's end. So a parse
 * is one allocation point of its own, asked at its entry (below: json_loadb
 * and json_loads are wrapped too), and what the parser allocates inside is
 * neither counted nor refused. A refused parse fails as jansson's does when
 * its first allocation fails: NULL, the error initialised but its code not
 * set (so the caller's json_error_t keeps whatever code it held). */
static _Thread_local int in_parser;

static void *json_alloc(size_t n) { return in_parser ? __real_malloc(n) : __wrap_malloc(n); }

json_t *__real_json_loadb(const char *buffer, size_t len, size_t flags, json_error_t *error);
json_t *__real_json_loads(const char *input, size_t flags, json_error_t *error);
json_t *__wrap_json_loadb(const char *buffer, size_t len, size_t flags, json_error_t *error);
json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error);

static json_t *parse_refused(json_error_t *error, const char *source) {
  if (error) {
    error->text[0] = '\0';
    error->line = -1;
    error->column = -1;
    error->position = 0;
    snprintf(error->source, sizeof error->source, "%s", source);
  }
  return NULL;
}

json_t *__wrap_json_loadb(const char *buffer, size_t len, size_t flags, json_error_t *error) {
  if (refuse())
    return parse_refused(error, "<buffer>");
  in_parser++;
  json_t *v = __real_json_loadb(buffer, len, flags, error);
  in_parser--;
  return v;
}

json_t *__wrap_json_loads(const char *input, size_t flags, json_error_t *error) {
  if (refuse())
    return parse_refused(error, "<string>");
  in_parser++;
  json_t *v = __real_json_loads(input, flags, error);
  in_parser--;
  return v;
}

/* SQLite's allocator, as its mem1.c: an 8-byte header holds the size that
 * xSize must tell (SQLite asks for 8-byte alignment, which it keeps). */
static void *sq_malloc(int n) {
  if (n <= 0 || refuse())
    return NULL;
  sqlite3_int64 *p = __real_malloc((size_t)n + 8);
  if (!p)
    return NULL;
  p[0] = n;
  return p + 1;
}

static void sq_free(void *p) {
  if (p)
    free((sqlite3_int64 *)p - 1);
}

static void *sq_realloc(void *p, int n) {
  if (!p)
    return sq_malloc(n);
  if (n <= 0 || refuse())
    return NULL;
  sqlite3_int64 *q = __real_realloc((sqlite3_int64 *)p - 1, (size_t)n + 8);
  if (!q)
    return NULL;
  q[0] = n;
  return q + 1;
}

static int sq_size(void *p) { return p ? (int)((sqlite3_int64 *)p)[-1] : 0; }
static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *ud) { return SQLITE_OK; }
static void sq_shutdown(void *ud) {}

static const sqlite3_mem_methods sq_methods = {sq_malloc, sq_free,   sq_realloc,  sq_size,
                                               sq_roundup, sq_init, sq_shutdown, NULL};

void mes_torture_init(void) {
  json_set_alloc_funcs(json_alloc, free);
  /* SQLite refuses this once it has started; going on would leave its
   * allocations out of the runs without a word. */
  int rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &sq_methods);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "torture: sqlite3_config(SQLITE_CONFIG_MALLOC) refused (%d): SQLite started too early\n", rc);
    exit(EXIT_FAILURE);
  }
}

/* ---------------------------------------------------------------- the loop */

static uint64_t env_u64(const char *name, uint64_t fallback) {
  const char *v = getenv(name);
  if (!v || !*v)
    return fallback;
  char *end;
  unsigned long long n = strtoull(v, &end, 10);
  return *end || n == 0 ? fallback : (uint64_t)n;
}

static void strip(json_t *out, const char *const *keys) {
  for (size_t i = 0; keys && keys[i]; i++)
    json_object_del(out, keys[i]);
}

static char *show(const json_t *v) {
  return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* Unarmed, between runs: a leak shows here, among the runs since the last
 * check, not at exit. A check stops the world and scans the heap (tens of
 * milliseconds under load), hence one every MES_TORTURE_LEAK_EVERY runs.
 * Once one leaked, every later check would report it again: only the first
 * is told. */
#ifdef MESURA_SANITIZED
static bool leaked;

static bool leak_found(void) {
  if (!leaked && __lsan_do_recoverable_leak_check())
    return leaked = true;
  return false;
}
#else
static bool leak_found(void) { return false; }
#endif

struct tally {
  uint64_t runs, nomem, store_err, absorbed, out_of_place;
};

struct loop;
static void out_of_place(const struct loop *l, struct tally *t, const char *mode, uint64_t nth, uint64_t count,
                         const char *what);

struct loop {
  const struct mes_torture_op *op;
  const json_t *ref;
  bool verbose, keep_going;
  uint64_t leak_every;
  uint64_t unchecked_from; /* the first allocation number run since the last leak check; 0: none */
};

/* Checks for leaks now, naming the runs since the last check. */
static void leak_check(struct loop *l, struct tally *t, const char *mode, uint64_t nth) {
  if (!l->unchecked_from)
    return;
  if (leak_found()) {
    char what[160];
    snprintf(what, sizeof what,
             "a run from allocation %llu to this one leaked (LeakSanitizer's report above; "
             "MES_TORTURE_LEAK_EVERY=1 names the run)",
             (unsigned long long)l->unchecked_from);
    out_of_place(l, t, mode, nth, nth, what);
  }
  l->unchecked_from = 0;
}

/* A run out of place: fails the test, or with MES_TORTURE_KEEP_GOING only
 * says so and counts it (to list every failing allocation in one go). */
static void out_of_place(const struct loop *l, struct tally *t, const char *mode, uint64_t nth, uint64_t count,
                         const char *what) {
  t->out_of_place++;
  if (!l->keep_going)
    fail_msg("torture %s: mode %s, allocation %llu of %llu refused: %s", l->op->name, mode, (unsigned long long)nth,
             (unsigned long long)count, what);
  fprintf(stderr, "OUT OF PLACE torture %s: mode %s, allocation %llu of %llu refused: %s\n", l->op->name, mode,
          (unsigned long long)nth, (unsigned long long)count, what);
}

/* One run with allocation `nth` refused; true when it refused something. */
static bool run_once(struct loop *l, uint64_t nth, enum mes_alloc_mode mode, struct tally *t) {
  const struct mes_torture_op *op = l->op;
  const char *mode_name = mode == MES_ALLOC_FAIL_ONE ? "one" : "from";
  if (op->before)
    op->before(op->ud);
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  mes_alloc_fail_at(nth, mode);
  int rc = op->run(op->ud, &out, &err);
  uint64_t refused = mes_alloc_refused(), count = mes_alloc_count();
  mes_alloc_disarm();
  t->runs++;
  if (l->verbose && refused)
    fprintf(stderr, "torture %s: mode %s, allocation %llu of %llu refused: %s%s%s\n", op->name, mode_name,
            (unsigned long long)nth, (unsigned long long)count, mes_rc_code(rc), rc ? " - " : "",
            rc ? mes_err_text(&err) : "");
  char what[4096];
  what[0] = '\0';
  if (rc == MES_OK) {
    if (!out) {
      snprintf(what, sizeof what, "MES_OK without a result");
    } else {
      strip(out, op->volatile_keys);
      if (!json_equal(out, l->ref)) {
        /* The first top-level member that differs, when both are objects. */
        const char *key = "";
        const json_t *got = out, *want = l->ref;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)l->ref, k, v) {
          if (!json_equal(json_object_get(out, k), v)) {
            key = k;
            got = json_object_get(out, k);
            want = v;
            break;
          }
        }
        char *a = got ? show(got) : NULL, *b = show(want);
        snprintf(what, sizeof what, "MES_OK with another result%s%s:\n  got  %s\n  want %s", *key ? " in " : "", key,
                 a ? a : "(absent)", b ? b : "?");
        free(a);
        free(b);
      }
    }
    json_decref(out);
    if (refused)
      t->absorbed++;
  } else {
    bool with_result = out != NULL;
    json_decref(out);
    if (!refused)
      snprintf(what, sizeof what, "none refused, yet %s (%s)", mes_rc_code(rc), mes_err_text(&err));
    else if (with_result)
      snprintf(what, sizeof what, "%s with a result", mes_rc_code(rc));
    else if (err.rc != rc)
      snprintf(what, sizeof what, "returned %s, err says %s", mes_rc_code(rc), mes_rc_code(err.rc));
    else if (rc == MES_ENOMEM)
      t->nomem++;
    else if (rc == MES_ESTORE)
      t->store_err++;
    else
      snprintf(what, sizeof what, "%s (%s), not out_of_memory", mes_rc_code(rc), mes_err_text(&err));
  }
  if (what[0])
    out_of_place(l, t, mode_name, nth, count, what);
  if (op->after) {
    const char *left = op->after(op->ud, rc);
    if (left)
      out_of_place(l, t, mode_name, nth, count, left);
  }
  if (!l->unchecked_from)
    l->unchecked_from = nth;
  if (t->runs % l->leak_every == 0 || !refused)
    leak_check(l, t, mode_name, nth);
  return refused != 0;
}

void mes_torture_run(const struct mes_torture_op *op) {
  struct loop l = {.op = op,
                   .verbose = env_u64("MES_TORTURE_VERBOSE", 0) != 0,
                   .keep_going = env_u64("MES_TORTURE_KEEP_GOING", 0) != 0,
                   .leak_every = env_u64("MES_TORTURE_LEAK_EVERY", 16)};
  const char *modes = getenv("MES_TORTURE_MODES");
  bool one = !modes || !*modes || strcmp(modes, "one") == 0 || strcmp(modes, "both") == 0;
  bool from = !modes || !*modes || strcmp(modes, "from") == 0 || strcmp(modes, "both") == 0;

  /* The reference run: nothing refused, everything counted. */
  if (op->before)
    op->before(op->ud);
  struct mes_err err;
  mes_err_clear(&err);
  json_t *ref = NULL;
  mes_alloc_fail_at(0, MES_ALLOC_FAIL_ONE);
  int rc = op->run(op->ud, &ref, &err);
  uint64_t total = mes_alloc_count();
  mes_alloc_disarm();
  if (rc)
    fail_msg("torture %s: the run without refusals failed: %s (%s)", op->name, mes_rc_code(rc), mes_err_text(&err));
  strip(ref, op->volatile_keys);
  if (l.verbose) {
    char *text = show(ref);
    fprintf(stderr, "torture %s: the result of every run: %s\n", op->name, text ? text : "?");
    free(text);
  }
  const char *left = op->after ? op->after(op->ud, rc) : NULL;
  if (left)
    fail_msg("torture %s: after the run without refusals: %s", op->name, left);
  if (leak_found())
    fail_msg("torture %s: the run without refusals leaked (report above)", op->name);
  l.ref = ref;

  uint64_t max_runs = env_u64("MES_TORTURE_MAX_RUNS", 1500);
  uint64_t stride = env_u64("MES_TORTURE_STRIDE", total > max_runs ? (total + max_runs - 1) / max_runs : 1);
  uint64_t t0 = mes_mono_ns(), bad = 0;
  for (int m = 0; m < 2; m++) {
    enum mes_alloc_mode mode = m == 0 ? MES_ALLOC_FAIL_ONE : MES_ALLOC_FAIL_FROM;
    if ((m == 0 && !one) || (m == 1 && !from))
      continue;
    uint64_t step = stride;
    struct tally t = {0};
    uint64_t nth = env_u64("MES_TORTURE_FIRST", 1);
    while (run_once(&l, nth, mode, &t)) {
      nth += step;
      if (nth > 4 * total + 1000)
        fail_msg("torture %s: still refusing at allocation %llu of a run that made %llu: each run allocates more",
                 op->name, (unsigned long long)nth, (unsigned long long)total);
    }
    printf("torture %s: %llu allocations; mode %s, every %llu: %llu runs, %llu out_of_memory, %llu store_error, "
           "%llu absorbed (same result), %llu out of place\n",
           op->name, (unsigned long long)total, m == 0 ? "one" : "from", (unsigned long long)step,
           (unsigned long long)t.runs, (unsigned long long)t.nomem, (unsigned long long)t.store_err,
           (unsigned long long)t.absorbed, (unsigned long long)t.out_of_place);
    bad += t.out_of_place;
  }
  printf("torture %s: %.1f s\n", op->name, (double)(mes_mono_ns() - t0) / 1e9);
  json_decref(ref);
  if (bad)
    fail_msg("torture %s: %llu runs out of place (listed above)", op->name, (unsigned long long)bad);
}

/* ---------------------------------------------------------------- the shop */

#define MIN_MS 60000LL

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *v = json_loads(text, 0, &je);
  if (!v)
    fail_msg("test JSON does not parse: %s: %s", je.text, text);
  return v;
}

static void consent(struct mes_torture_shop *s, const char *subject, const char *purpose, const char *status) {
  json_t *body = json_pack("{s:s, s:s}", "status", status, "source", "banner"), *receipt = NULL;
  struct mes_err err;
  mes_err_clear(&err);
  int rc =
      mes_consent_record(s->ledger, s->req, subject, strlen(subject), purpose, strlen(purpose), body, &receipt, &err);
  if (rc)
    fail_msg("consent %s/%s: %s (%s)", subject, purpose, mes_rc_code(rc), mes_err_text(&err));
  json_decref(receipt);
  json_decref(body);
}

static void event(json_t *evs, const char *subject, const char *type, const char *item, int64_t ts_ms) {
  json_array_append_new(evs, json_pack("{s:s, s:s, s:s, s:I}", "subject", subject, "type", type, "item", item,
                                       "ts", (json_int_t)ts_ms));
}

static const char ITEMS[] =
    "{\"items\": ["
    "{\"id\": \"tent-2p\", \"title\": {\"en\": \"Tent 2p\", \"es\": \"Tienda 2p\"}, \"categories\": [\"camping\"]},"
    "{\"id\": \"tent-3p\", \"title\": \"Tent 3p\", \"categories\": [\"camping\"]},"
    "{\"id\": \"tent-4p\", \"title\": \"Tent 4p\", \"categories\": [\"camping\"]},"
    "{\"id\": \"sleeping-bag\", \"title\": \"Sleeping bag\", \"categories\": [\"camping\"]},"
    "{\"id\": \"camp-stove\", \"title\": \"Camp stove\", \"categories\": [\"camping\", \"kitchen\"]},"
    "{\"id\": \"kettle\", \"title\": \"Kettle\", \"categories\": [\"kitchen\"]},"
    "{\"id\": \"mug\", \"title\": \"Mug\", \"categories\": [\"kitchen\"]},"
    "{\"id\": \"vitamins\", \"title\": \"Vitamins\", \"categories\": [\"health\"]},"
    "{\"id\": \"plasters\", \"title\": \"Plasters\", \"categories\": [\"health\"]},"
    "{\"id\": \"veil\", \"title\": \"Veil\", \"categories\": [\"wedding-dress\"]},"
    "{\"id\": \"lantern\", \"title\": \"Lantern\", \"categories\": [\"camping\"]},"
    "{\"id\": \"coffee-beans\", \"title\": \"Coffee beans\", \"categories\": [\"coffee\"]},"
    "{\"id\": \"gone\", \"title\": \"Gone\", \"available\": false}]}";

static const char *const TENTS[] = {"tent-2p", "tent-3p", "tent-4p"};
static const char *const KIT[] = {"sleeping-bag", "camp-stove", "lantern"};

/* The handles over the catalog, with empty caches of the server's sizes
 * (a key cache of 64 keys, the hint map, 64 MiB of histories). */
static void shop_handles(struct mes_torture_shop *s) {
  struct mes_world *w = s->w;
  mes_world_master(w);
  assert_int_equal(mes_subjects_new(w->store, w->master, NULL, 64, MES_SUBJMAP_ENTRIES, &s->subjects), MES_OK);
  assert_int_equal(mes_ledger_new(w->store, w->master, s->subjects, NULL, &s->ledger), MES_OK);
  assert_int_equal(mes_ingester_new(w->store, w->master, s->subjects, s->ledger, 64u << 20, NULL, &s->ingester),
                   MES_OK);
  assert_int_equal(mes_recommender_new(w->store, NULL, s->subjects, s->ledger, s->ingester, s->catalog, &s->rec),
                   MES_OK);
  assert_int_equal(mes_rights_new(w->store, s->subjects, s->ledger, s->ingester, s->catalog, s->rec, &s->rights),
                   MES_OK);
}

static void shop_handles_free(struct mes_torture_shop *s) {
  mes_rights_free(s->rights); /* borrows the recommender */
  mes_recommender_free(s->rec); /* writes what is queued */
  mes_ingester_free(s->ingester);
  mes_ledger_free(s->ledger);
  mes_subjects_free(s->subjects);
  s->rec = NULL;
  s->rights = NULL;
  s->ingester = NULL;
  s->ledger = NULL;
  s->subjects = NULL;
}

void mes_torture_shop_open(struct mes_torture_shop *s, const char *name) {
  memset(s, 0, sizeof *s);
  s->w = calloc(1, sizeof *s->w);
  assert_non_null(s->w);
  mes_world_open(s->w, name, NULL, MES_TORTURE_T0_MS, "torture");
  s->store = s->w->store;
  s->req = &s->w->req;
  s->catalog = mes_world_catalog(s->w);
  shop_handles(s);

  struct mes_err err;
  mes_err_clear(&err);
  json_t *items = parse(ITEMS), *reply = NULL;
  assert_int_equal(mes_catalog_post(s->catalog, s->req, items, &reply, &err), MES_OK);
  json_decref(items);
  json_decref(reply);

  /* Thirty shoppers who grant personalization and buy a tent with its kit
   * (some also view a health item: a sensitive category); alice, who bought
   * a tent and coffee beans twice (buy again), dismissed a mug and told her
   * interests; dana, whose history
   * holds health items she never declared; bob, who said no; carol, who
   * allows ads only. */
  const int64_t t0 = MES_TORTURE_T0_MS;
  json_t *evs = json_array();
  for (int i = 0; i < 30; i++) {
    char subject[32];
    snprintf(subject, sizeof subject, "shopper-%d", i);
    consent(s, subject, "personalization", "granted");
    int64_t t = t0 - 3 * 24 * 60 * MIN_MS + i * 10 * MIN_MS;
    for (int k = 0; k < 3; k++)
      event(evs, subject, "view", TENTS[k], t + k * MIN_MS);
    event(evs, subject, "purchase", TENTS[i % 3], t + 5 * MIN_MS);
    for (int k = 0; k < 3; k++)
      if ((i + k) % 4)
        event(evs, subject, "purchase", KIT[k], t + (6 + k) * MIN_MS);
    event(evs, subject, i % 2 ? "view" : "add_to_cart", i % 3 ? "kettle" : "mug", t + 9 * MIN_MS);
    if (i % 5 == 0)
      event(evs, subject, "view", "vitamins", t + 10 * MIN_MS);
  }
  consent(s, "alice", "personalization", "granted");
  consent(s, "alice", "ads_retargeting", "granted");
  event(evs, "alice", "view", "tent-2p", t0 - 90 * MIN_MS);
  event(evs, "alice", "view", "tent-4p", t0 - 80 * MIN_MS);
  event(evs, "alice", "purchase", "tent-2p", t0 - 60 * MIN_MS);
  event(evs, "alice", "add_to_cart", "kettle", t0 - 30 * MIN_MS);
  event(evs, "alice", "dismiss", "mug", t0 - 20 * MIN_MS);
  /* coffee is `lifecycle: repeat` in the example policy: buy again */
  event(evs, "alice", "purchase", "coffee-beans", t0 - 9 * 24 * 60 * MIN_MS);
  event(evs, "alice", "purchase", "coffee-beans", t0 - 2 * 24 * 60 * MIN_MS);
  consent(s, "dana", "personalization", "granted");
  event(evs, "dana", "view", "vitamins", t0 - 50 * MIN_MS);
  event(evs, "dana", "view", "tent-3p", t0 - 40 * MIN_MS);
  event(evs, "dana", "purchase", "plasters", t0 - 35 * MIN_MS);
  consent(s, "bob", "personalization", "denied");
  consent(s, "carol", "ads_retargeting", "granted");
  event(evs, "carol", "view", "lantern", t0 - 15 * MIN_MS);
  json_t *body = json_pack("{s:o}", "events", evs);
  assert_int_equal(mes_ingest_batch(s->ingester, s->req, body, &reply, &err), MES_OK);
  assert_int_equal(json_array_size(json_object_get(reply, "errors")), 0);
  json_decref(body);
  json_decref(reply);

  json_t *prefs = parse("{\"interests\": [\"camping\"], \"exclude_categories\": [\"wedding-dress\"],"
                        " \"declared\": {\"size\": \"m\"}}");
  assert_int_equal(mes_consent_set_preferences(s->ledger, s->req, "alice", 5, prefs, &reply, &err), MES_OK);
  json_decref(prefs);
  json_decref(reply);

  struct mes_model_params p;
  mes_model_params_default(&p);
  p.threads = 1;
  if (mes_model_train(s->ingester, s->req, NULL, &p, &s->model, &err))
    fail_msg("training: %s", mes_err_text(&err));
}

void mes_torture_shop_fresh_caches(struct mes_torture_shop *s) {
  shop_handles_free(s);
  shop_handles(s);
}

int64_t mes_torture_shop_sid(struct mes_torture_shop *s, const char *subject) {
  struct mes_subject subj;
  int rc = mes_subject_resolve(s->subjects, s->req, MES_NS_SUBJECT, subject, strlen(subject), false, &subj);
  if (rc)
    fail_msg("subject %s: %s", subject, mes_rc_code(rc));
  return subj.row.id;
}

void mes_torture_shop_close(struct mes_torture_shop *s) {
  shop_handles_free(s);
  mes_model_unref(s->model);
  mes_world_close(s->w);
  free(s->w);
  memset(s, 0, sizeof *s);
}
