/*
 * Unit tests of src/http/metrics.c: the history cache's figures as GET
 * /metrics shows them (mes_metrics_render_histcache, from the figures mes_engine_stats reads), for no cache and for
 * a cache driven through a hit, misses, a stale entry and an eviction with
 * the steps mes_ingest_history takes (ingest_int.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "http/metrics.h"
#include "ingest/histcache.h"
#include "ingest/ingest_int.h"

static char *render(struct mes_histcache *hc) {
  struct mes_buf out;
  mes_buf_init(&out, 1 << 16);
  struct mes_histcache_stats h;
  mes_histcache_stats(hc, &h);
  struct mes_engine_stats st = {.history_cache = {h.hits, h.misses, h.stale, h.shown_hits, h.shown_misses,
                                                  h.shown_stale, h.shown_appended, h.evictions, h.entries, h.bytes,
                                                  h.cap_bytes}};
  assert_int_equal(mes_metrics_render_histcache(&st, &out), MES_OK);
  char *text = strndup(out.data, out.len);
  mes_buf_release(&out);
  assert_non_null(text);
  return text;
}

static void has_line(const char *text, const char *line) {
  const char *p = text;
  size_t n = strlen(line);
  while ((p = strstr(p, line)) != NULL) {
    if ((p == text || p[-1] == '\n') && p[n] == '\n')
      return;
    p += n;
  }
  fail_msg("no line '%s' in:\n%s", line, text);
}

/* An entry of sid with one event, offered to the cache as a read would. */
static void fill(struct mes_histcache *hc, int64_t sid, int64_t id, uint64_t epoch) {
  struct mes_histcache_build b = {0};
  const struct mes_evrec ev = {
      .id = id, .sid = sid, .ts_ms = 1000, .purposes = 1, .type = 0, .channel = -1, .item = "item", .item_len = 4};
  mes_histcache_build_row(&b, id);
  assert_int_equal(mes_histcache_build_add(&b, &ev), MES_OK);
  struct mes_histcache_entry *e = NULL;
  assert_int_equal(mes__hc_build_finish(&b, sid, MES_HISTCACHE_EVENTS, &e), MES_OK);
  mes__hc_put(hc, e, epoch);
  mes__hc_release(hc, e);
}

static void test_no_cache(void **state) {
  (void)state;
  char *text = render(NULL);
  has_line(text, "# TYPE mesura_history_cache_reads_total counter");
  has_line(text, "mesura_history_cache_reads_total{outcome=\"hit\"} 0");
  has_line(text, "mesura_history_cache_reads_total{outcome=\"miss\"} 0");
  has_line(text, "mesura_history_cache_reads_total{outcome=\"stale\"} 0");
  has_line(text, "# TYPE mesura_impression_cache_reads_total counter");
  has_line(text, "mesura_impression_cache_reads_total{outcome=\"appended\"} 0");
  has_line(text, "mesura_history_cache_evictions_total 0");
  has_line(text, "# TYPE mesura_history_cache_bytes gauge");
  has_line(text, "mesura_history_cache_entries 0");
  has_line(text, "mesura_history_cache_max_bytes 0");
  free(text);
}

static void test_counts(void **state) {
  (void)state;
  struct mes_histcache *hc = NULL;
  assert_int_equal(mes_histcache_new(1 << 20, &hc), MES_OK);
  uint64_t epoch;
  assert_null(mes__hc_find(hc, 1, MES_HISTCACHE_EVENTS, &epoch)); /* miss */
  fill(hc, 1, 10, epoch);
  assert_null(mes__hc_find(hc, 2, MES_HISTCACHE_EVENTS, &epoch)); /* miss */
  fill(hc, 2, 20, epoch);
  struct mes_histcache_entry *e = mes__hc_find(hc, 1, MES_HISTCACHE_EVENTS, &epoch);
  assert_non_null(e);
  assert_true(mes__hc_fresh(hc, e, 10, 1)); /* hit */
  mes__hc_release(hc, e);
  e = mes__hc_find(hc, 2, MES_HISTCACHE_EVENTS, &epoch);
  assert_false(mes__hc_fresh(hc, e, 21, 2)); /* stale: dropped */
  mes__hc_release(hc, e);
  assert_null(mes__hc_find(hc, 1, MES_HISTCACHE_SHOWN, &epoch)); /* a miss of the other kind: counted apart */
  struct mes_histcache_stats st;
  mes_histcache_stats(hc, &st);
  char line[96];
  char *text = render(hc);
  has_line(text, "mesura_history_cache_reads_total{outcome=\"hit\"} 1");
  has_line(text, "mesura_history_cache_reads_total{outcome=\"miss\"} 2");
  has_line(text, "mesura_history_cache_reads_total{outcome=\"stale\"} 1");
  has_line(text, "mesura_impression_cache_reads_total{outcome=\"miss\"} 1");
  has_line(text, "mesura_impression_cache_reads_total{outcome=\"hit\"} 0");
  has_line(text, "mesura_history_cache_entries 1");
  snprintf(line, sizeof line, "mesura_history_cache_bytes %llu", (unsigned long long)st.bytes);
  assert_true(st.bytes > 0);
  has_line(text, line);
  has_line(text, "mesura_history_cache_max_bytes 1048576");
  free(text);
  mes_histcache_set_cap(hc, 0); /* the entry is evicted */
  text = render(hc);
  has_line(text, "mesura_history_cache_evictions_total 1");
  has_line(text, "mesura_history_cache_bytes 0");
  free(text);
  mes_histcache_free(hc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_cache),
      cmocka_unit_test(test_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
