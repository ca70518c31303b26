/*
 * fuzz_eval — libFuzzer target for the readers of `mesura eval` and
 * `mesura eval-convert` (src/eval): the interactions CSV, the four
 * dataset formats (MovieLens u.data and ratings.csv, Amazon JSON lines, The
 * Complete Journey's receipt lines) and The Complete Journey's products.csv
 * (the catalog converter).
 *
 * The first byte picks the reader, the rest is the file. Properties:
 *   - the CSV reader either reads the file or refuses it with
 *     MES_EBAD_INPUT and the number of the line at fault (or MES_ENOMEM);
 *     a file it reads runs the whole protocol with MostPopular, which either
 *     gives figures in [0, 1] or finds no user to evaluate;
 *   - a converter either converts or refuses with MES_EBAD_INPUT; whatever
 *     it writes, the CSV reader reads back, with one row per interaction;
 *   - the catalog converter either converts or refuses with MES_EBAD_INPUT;
 *     each line it writes is an item line of `mesura import` that the
 *     catalog accepts, one per product.
 * Seeds: fuzz/corpus/eval/.
 *
 *   ./fuzz_eval fuzz/corpus/eval
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "eval/eval.h"
#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS_RUN 2000 /* the protocol runs on files up to this many rows (speed) */

static void check_metrics(const struct mes_eval_metrics *m) {
  const double v[] = {m->recall10, m->recall20, m->ndcg10, m->mrr10, m->coverage10};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (!(v[i] >= 0 && v[i] <= 1.0 + 1e-9))
      abort();
  if (m->recall20 + 1e-12 < m->recall10 || !(m->pop_ratio10 >= 0))
    abort();
}

/* Reads csv (len bytes) as `mesura eval` does; returns the rows read, or
 * -1 when refused. */
static long read_csv(const char *csv, size_t len, bool run) {
  FILE *f = fmemopen((void *)csv, len, "r");
  if (!f)
    return -1;
  struct mes_eval_data *d = NULL;
  size_t line = 0;
  struct mes_err err = {0};
  int rc = mes_eval_data_read(f, &d, &line, &err);
  fclose(f);
  if (rc != MES_OK) {
    if (d || (rc != MES_EBAD_INPUT && rc != MES_ENOMEM) || (rc == MES_EBAD_INPUT && line == 0))
      abort();
    return -1;
  }
  long rows = (long)mes_eval_data_rows(d);
  if (run && rows <= MAX_ROWS_RUN) {
    struct mes_eval_opts o = {.model = "popular"};
    struct mes_eval_result r;
    rc = mes_eval_run(d, &o, &r, &err);
    if (rc == MES_OK)
      check_metrics(&r.test);
    else if (rc != MES_EBAD_INPUT && rc != MES_ENOMEM)
      abort();
  }
  mes_eval_data_free(d);
  return rows;
}

/* Every line of buf an item line the catalog takes; returns how many, or -1. */
static long read_items(const char *buf, size_t len) {
  long n = 0;
  for (size_t at = 0; at < len;) {
    const char *nl = memchr(buf + at, '\n', len - at);
    if (!nl)
      return -1; /* every line ends */
    enum mes_import_kind kind;
    json_t *item = NULL;
    char *doc = NULL;
    struct mes_err err = {0};
    bool ok = mes_import_parse_jsonl(buf + at, (size_t)(nl - (buf + at)), &kind, &item, &err) == MES_OK &&
              kind == MES_IMPORT_ITEM && mes_catalog_validate(item, true, "", &doc, &err) == MES_OK;
    json_decref(item);
    free(doc);
    if (!ok)
      return -1;
    n++;
    at = (size_t)(nl - buf) + 1;
  }
  return n;
}

static void catalog(const char *body, size_t len) {
  FILE *in = fmemopen((void *)body, len, "r");
  char *out_buf = NULL;
  size_t out_len = 0;
  FILE *out = open_memstream(&out_buf, &out_len);
  if (in && out) {
    size_t n = 0;
    struct mes_err err = {0};
    int rc = mes_eval_convert_catalog("completejourney-sample", in, out, &n, &err);
    fclose(out);
    out = NULL;
    if (rc != MES_OK && rc != MES_EBAD_INPUT && rc != MES_ENOMEM)
      abort();
    if (rc == MES_OK && read_items(out_buf, out_len) != (long)n)
      abort();
  }
  if (in)
    fclose(in);
  if (out)
    fclose(out);
  free(out_buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* pick 3 is the CSV reader, 5 the catalog converter, the others a converter */
  static const char *const datasets[] = {"ml-100k", "ml-latest-small", "amazon", NULL, "completejourney-sample"};
  if (size < 1)
    return 0;
  unsigned pick = data[0] % 6;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  if (pick == 5) {
    catalog(body, len);
    return 0;
  }
  if (pick == 3) {
    (void)read_csv(body, len, true);
    return 0;
  }
  FILE *in = fmemopen((void *)body, len, "r");
  char *out_buf = NULL;
  size_t out_len = 0;
  FILE *out = open_memstream(&out_buf, &out_len);
  if (!in || !out) {
    if (in)
      fclose(in);
    if (out)
      fclose(out);
    free(out_buf);
    return 0;
  }
  size_t kept = 0, skipped = 0;
  struct mes_err err = {0};
  int rc = mes_eval_convert(datasets[pick], in, out, &kept, &skipped, &err);
  fclose(in);
  fclose(out);
  if (rc != MES_OK) {
    if (rc != MES_EBAD_INPUT && rc != MES_ENOMEM)
      abort();
  } else {
    /* What a converter accepts, eval reads: every interaction, one row each. */
    long rows = read_csv(out_buf, out_len, false);
    if (rows < 0 || (size_t)rows != kept)
      abort();
  }
  free(out_buf);
  return 0;
}
