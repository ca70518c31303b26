/*
 * fuzz_import — libFuzzer target for the line readers of `mesura import`
 * (src/lib/import/import.c): each input is a small file; its first line is tried
 * as a CSV header, and every line is read both as JSON Lines
 * (mes_import_parse_jsonl) and, when the header was valid, as a CSV event line
 * (mes_import_parse_csv). No store is involved: the readers are pure.
 *
 * Checked on every line: a reader either succeeds with a JSON object of the
 * promised shape (no "kind" member left; a known kind; for CSV only header
 * columns, strings except an integer "ts") or fails with a 4xx code, a
 * non-empty sentence and no value. Leaks and overflows are the sanitizers'.
 * Seeds: fuzz/corpus/import/, dictionary: fuzz/import.dict.
 *
 *   ./fuzz_import -dict=fuzz/import.dict fuzz/corpus/import
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const col_names[MES_COL_N] = {"subject", "anonymous_id", "type",   "item",
                                                 "ts",      "channel",      "source", "event_id"};

static void check_failure(int rc, const json_t *out, const struct mes_err *err) {
  if (out)
    abort(); /* a value on failure */
  int status = mes_rc_status(rc);
  if (status < 400 || status >= 500 || mes_err_text(err)[0] == '\0')
    abort();
}

static void check_csv_event(const struct mes_import_csv *h, const json_t *ev) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)ev, k, v) {
    size_t i;
    for (i = 0; i < h->n_cols; i++)
      if (strcmp(col_names[h->col[i]], k) == 0)
        break;
    if (i == h->n_cols)
      abort(); /* a member that is no column of the header */
    if (!(json_is_string(v) || (json_is_integer(v) && strcmp(k, "ts") == 0)))
      abort();
  }
}

static void one_line(const char *line, size_t len, const struct mes_import_csv *h) {
  struct mes_err err;
  mes_err_clear(&err);
  enum mes_import_kind kind = MES_IMPORT_EVENT;
  json_t *out = NULL;
  int rc = mes_import_parse_jsonl(line, len, &kind, &out, &err);
  if (rc == MES_OK) {
    if (!json_is_object(out) || json_object_get(out, "kind") || kind > MES_IMPORT_CONSENT)
      abort();
    json_decref(out);
  } else if (rc != MES_ENOMEM) {
    check_failure(rc, out, &err);
  }
  if (!h)
    return;
  mes_err_clear(&err);
  out = NULL;
  rc = mes_import_parse_csv(h, line, len, &out, &err);
  if (rc == MES_OK) {
    check_csv_event(h, out);
    json_decref(out);
  } else if (rc != MES_ENOMEM) {
    check_failure(rc, out, &err);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = (const char *)data, *end = p + size;
  struct mes_import_csv h;
  bool have_header = false;
  bool first = true;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (first) {
      struct mes_err err;
      mes_err_clear(&err);
      have_header = mes_import_parse_csv_header(p, len, &h, &err) == MES_OK;
      if (have_header && (h.n_cols == 0 || h.n_cols > MES_COL_N))
        abort();
      first = false;
    }
    one_line(p, len, have_header ? &h : NULL);
    p += len + (nl ? 1 : 0);
  }
  return 0;
}
