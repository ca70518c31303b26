/*
 * import — the library part of `mesura import` (contract §1).
 *
 * Two halves. The line readers turn one JSON Lines or CSV line into the API's
 * shape without touching the store (they are what fuzz/fuzz_import.c runs).
 * The stream importer batches those values and hands them to the modules
 * that own them — catalog for items, ingest for events, consent for recorded
 * consents — so an imported event passes the same consent gate and loses the
 * same undeclared properties as one sent to POST /v1/events.
 *
 * Order is kept where it matters: a consent line first flushes the events
 * read before it, so each event is judged by the consents above it.
 */
#include "import/import.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/htab.h"
#include "base/id.h"
#include "base/json.h"
#include "base/mtime.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ================================================================ line readers */

static const char *const kind_names[] = {"item", "event", "consent"}; /* enum mes_import_kind */

/* The consent line's shape (besides "kind"). */
static const struct mes_jfield consent_line_fields[] = {
    {"subject", MES_J_ID, true, 0, 0},         {"purpose", MES_J_ID, true, 0, 0},
    {"status", MES_J_STRING, true, 1, 16},     {"ts", MES_J_TS, false, 0, 0},
    {"source", MES_J_ID, false, 0, 0},         {"policy_version", MES_J_ID, false, 0, 0},
};

int mes_import_parse_jsonl(const char *line, size_t len, enum mes_import_kind *kind, json_t **out,
                           struct mes_err *err) {
  *out = NULL;
  json_error_t je;
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
  if (!o) {
    if (json_error_code(&je) == json_error_invalid_utf8)
      return mes_err_set(err, MES_EBAD_UTF8, NULL, "The line is not valid UTF-8.");
    if (json_error_code(&je) == json_error_duplicate_key)
      return mes_err_set(err, MES_EBAD_JSON, NULL, "The line names the same member twice (column %d).", je.column);
    return mes_err_set(err, MES_EBAD_JSON, NULL, "The line is not valid JSON (column %d).", je.column);
  }
  if (!json_is_object(o)) {
    json_decref(o);
    return mes_err_set(err, MES_EWRONG_TYPE, "", "A line must hold one JSON object.");
  }
  int rc;
  const json_t *k = json_object_get(o, "kind");
  if (!k) {
    json_decref(o);
    return mes_err_set(err, MES_EMISSING_FIELD, "/kind", "A line needs \"kind\": item, event or consent.");
  }
  size_t i;
  for (i = 0; i < N_OF(kind_names); i++)
    if (json_is_string(k) && strcmp(json_string_value(k), kind_names[i]) == 0 &&
        strlen(kind_names[i]) == json_string_length(k))
      break;
  if (i == N_OF(kind_names)) {
    json_decref(o);
    return mes_err_set(err, MES_EINVALID_VALUE, "/kind", "\"kind\" must be item, event or consent.");
  }
  json_object_del(o, "kind");
  *kind = (enum mes_import_kind)i;
  static const struct mes_jfield id_only[] = {{"id", MES_J_ID, true, 0, 0}};
  switch (*kind) {
  case MES_IMPORT_ITEM: {
    /* The id here; the rest of the item shape (and the policy's categories)
     * when the catalog writes it. */
    const json_t *id = json_object_get(o, "id");
    json_t *probe = json_pack("{s:O?}", "id", id);
    rc = probe ? mes_json_check(probe, id_only, 1, "", err) : mes_err_set(err, MES_ENOMEM, NULL, NULL);
    json_decref(probe);
    break;
  }
  case MES_IMPORT_CONSENT:
    rc = mes_json_check(o, consent_line_fields, N_OF(consent_line_fields), "", err);
    break;
  case MES_IMPORT_EVENT:
    rc = MES_OK; /* the event shape is ingest's: checked when the batch is written */
    break;
  }
  if (rc) {
    json_decref(o);
    return rc;
  }
  *out = o;
  return MES_OK;
}

static const char *const col_names[MES_COL_N] = {"subject", "anonymous_id", "type",   "item",
                                                 "ts",      "channel",      "source", "event_id"};

/* Splits one CSV line into cells (RFC 4180: "" inside quotes is a quote).
 * Calls cell(ud, i, text, n) for each; text is unescaped into scratch. */
typedef int (*cell_fn)(void *ud, size_t i, const char *text, size_t n, struct mes_err *err);

static int csv_split(const char *line, size_t len, char *scratch, cell_fn cell, void *ud, size_t *n_cells,
                     struct mes_err *err) {
  size_t i = 0, idx = 0;
  for (;;) {
    size_t o = 0;
    if (i < len && line[i] == '"') {
      i++;
      for (;;) {
        if (i >= len)
          return mes_err_set(err, MES_EINVALID_VALUE, NULL, "Column %zu opens a quote that is never closed.",
                             idx + 1);
        if (line[i] == '"') {
          if (i + 1 < len && line[i + 1] == '"') {
            scratch[o++] = '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        scratch[o++] = line[i++];
      }
      if (i < len && line[i] != ',')
        return mes_err_set(err, MES_EINVALID_VALUE, NULL, "Column %zu has text after its closing quote.", idx + 1);
    } else {
      while (i < len && line[i] != ',') {
        if (line[i] == '"')
          return mes_err_set(err, MES_EINVALID_VALUE, NULL, "Column %zu has a quote inside an unquoted value.",
                             idx + 1);
        scratch[o++] = line[i++];
      }
    }
    int rc = cell(ud, idx, scratch, o, err);
    if (rc)
      return rc;
    idx++;
    if (i >= len)
      break;
    i++; /* the comma */
  }
  *n_cells = idx;
  return MES_OK;
}

static int header_cell(void *ud, size_t i, const char *text, size_t n, struct mes_err *err) {
  struct mes_import_csv *h = ud;
  while (n && (text[0] == ' ' || text[0] == '\t')) {
    text++;
    n--;
  }
  while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
    n--;
  if (i >= MES_COL_N)
    return mes_err_set(err, MES_EINVALID_VALUE, NULL, "A CSV event file has at most %d columns.", MES_COL_N);
  int k;
  for (k = 0; k < MES_COL_N; k++)
    if (strlen(col_names[k]) == n && memcmp(col_names[k], text, n) == 0)
      break;
  if (k == MES_COL_N)
    return mes_err_set(err, MES_EINVALID_VALUE, NULL,
                       "Column %zu of the header is not one of subject, anonymous_id, type, item, ts, channel, "
                       "source, event_id.",
                       i + 1);
  for (size_t j = 0; j < i; j++)
    if (h->col[j] == k)
      return mes_err_set(err, MES_EINVALID_VALUE, NULL, "The header names column %s twice.", col_names[k]);
  h->col[i] = k;
  return MES_OK;
}

int mes_import_parse_csv_header(const char *line, size_t len, struct mes_import_csv *h, struct mes_err *err) {
  memset(h, 0, sizeof *h);
  char *scratch = malloc(len + 1);
  if (!scratch)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t n = 0;
  int rc = csv_split(line, len, scratch, header_cell, h, &n, err);
  free(scratch);
  if (rc)
    return rc;
  h->n_cols = n;
  bool has[MES_COL_N] = {false};
  for (size_t i = 0; i < n; i++)
    has[h->col[i]] = true;
  if (!has[MES_COL_TYPE] || !(has[MES_COL_SUBJECT] || has[MES_COL_ANONYMOUS_ID]))
    return mes_err_set(err, MES_EMISSING_FIELD, NULL,
                       "A CSV event file needs a header with type and subject (or anonymous_id) columns.");
  return MES_OK;
}

struct csv_row {
  const struct mes_import_csv *h;
  json_t *ev;
};

static bool all_digits(const char *s, size_t n) {
  if (n == 0 || n > 18)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

static int row_cell(void *ud, size_t i, const char *text, size_t n, struct mes_err *err) {
  struct csv_row *r = ud;
  if (i >= r->h->n_cols)
    return mes_err_set(err, MES_EINVALID_VALUE, NULL, "The line has more columns than the header.");
  if (n == 0)
    return MES_OK; /* an empty cell is an absent field */
  int col = r->h->col[i];
  char ptr[40];
  mes_json_ptr_join(ptr, sizeof ptr, "", col_names[col]);
  if (!mes_utf8_valid(text, n))
    return mes_err_set(err, MES_EBAD_UTF8, ptr, "The column is not valid UTF-8.");
  json_t *v;
  if (col == MES_COL_TS && all_digits(text, n)) {
    json_int_t ms = 0;
    for (size_t k = 0; k < n; k++)
      ms = ms * 10 + (text[k] - '0');
    v = json_integer(ms);
  } else {
    v = json_stringn(text, n);
  }
  if (!v || json_object_set_new(r->ev, col_names[col], v))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  return MES_OK;
}

int mes_import_parse_csv(const struct mes_import_csv *h, const char *line, size_t len, json_t **out,
                         struct mes_err *err) {
  *out = NULL;
  struct csv_row r = {.h = h, .ev = json_object()};
  char *scratch = malloc(len + 1);
  int rc;
  size_t n = 0;
  if (!r.ev || !scratch) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  rc = csv_split(line, len, scratch, row_cell, &r, &n, err);
  if (rc)
    goto error;
  if (n != h->n_cols) {
    rc = mes_err_set(err, MES_EINVALID_VALUE, NULL, "The line has %zu columns; the header has %zu.", n, h->n_cols);
    goto error;
  }
  free(scratch);
  *out = r.ev;
  return MES_OK;
error:
  free(scratch);
  json_decref(r.ev);
  return rc;
}

/* ================================================================ the stream */

struct pending {
  json_t *values;   /* array of items, events or consents */
  int64_t *line_no; /* line of each value */
};

struct importer {
  struct mes_catalog *catalog;
  struct mes_ledger *ledger;
  struct mes_ingester *ingester;
  const struct mes_req *c;
  const struct mes_import_opts *o;
  struct mes_import_counts *n;
  struct pending items, events, consents;
};

static void report(struct importer *im, int64_t line_no, const struct mes_err *why) {
  im->n->bad_lines++;
  if (im->o->bad_line)
    im->o->bad_line(im->o->ud, line_no, why);
}

/* Removes the first `segments` tokens of a JSON pointer, in place:
 * "/events/3/ts" less 2 is "/ts". */
static void ptr_drop(char *field, int segments) {
  char *p = field;
  for (int i = 0; i < segments && *p == '/'; i++) {
    p++;
    p += strcspn(p, "/");
  }
  memmove(field, p, strlen(p) + 1);
}

/* Reports the "errors" entries of a batch reply as bad lines. */
static void report_errors(struct importer *im, const struct pending *pd, const json_t *errors, int segments) {
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    int64_t idx = mes_json_int(e, "index", -1);
    if (idx < 0 || (size_t)idx >= json_array_size(pd->values))
      continue;
    const json_t *eo = json_object_get(e, "error");
    struct mes_err why;
    mes_err_clear(&why);
    const char *code = mes_json_str(eo, "code", "");
    why.rc = MES_EBAD_INPUT;
    for (int rc = 0; rc < MES_E_COUNT_; rc++)
      if (strcmp(mes_rc_code(rc), code) == 0)
        why.rc = rc;
    snprintf(why.msg, sizeof why.msg, "%s", mes_json_str(eo, "message", ""));
    snprintf(why.field, sizeof why.field, "%s", mes_json_str(eo, "field", ""));
    ptr_drop(why.field, segments);
    report(im, pd->line_no[idx], &why);
  }
}

static void pending_clear(struct pending *pd) { json_array_clear(pd->values); }

/* A fresh clock per batch: an import may run for minutes. */
static void batch_ctx(const struct importer *im, struct mes_req *cc) {
  *cc = *im->c;
  cc->now_ms = mes_now_ms();
}

/* Writes the pending events (one transaction, through ingest). Returns a
 * store-level error; per-event failures become bad lines. */
static int flush_events(struct importer *im, struct mes_err *err) {
  struct pending *pd = &im->events;
  if (json_array_size(pd->values) == 0)
    return MES_OK;
  struct mes_req cc;
  batch_ctx(im, &cc);
  json_t *body = json_pack("{s:O}", "events", pd->values), *reply = NULL;
  if (!body)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  struct mes_err be;
  mes_err_clear(&be);
  int rc = mes_ingest_batch(im->ingester, &cc, body, &reply, &be);
  json_decref(body);
  if (rc) {
    if (mes_rc_status(rc) >= 500) {
      *err = be;
      return rc;
    }
    /* A batch-level refusal of valid lines: every line of it is bad. */
    for (size_t i = 0; i < json_array_size(pd->values); i++)
      report(im, pd->line_no[i], &be);
    pending_clear(pd);
    return MES_OK;
  }
  const json_t *ns = json_object_get(reply, "not_stored");
  int64_t not_stored = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)ns, k, v) {
    not_stored += json_integer_value(v);
  }
  im->n->events += mes_json_int(reply, "accepted", 0);
  im->n->events_stored += mes_json_int(reply, "stored", 0);
  im->n->events_not_stored += not_stored;
  im->n->no_consent += mes_json_int(ns, "no_consent", 0);
  report_errors(im, pd, json_object_get(reply, "errors"), 2);
  json_decref(reply);
  pending_clear(pd);
  return MES_OK;
}

static int flush_items(struct importer *im, struct mes_err *err) {
  struct pending *pd = &im->items;
  if (json_array_size(pd->values) == 0)
    return MES_OK;
  struct mes_req cc;
  batch_ctx(im, &cc);
  json_t *errors = json_array();
  if (!errors)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t n = 0;
  int rc = mes_catalog_upsert(im->catalog, &cc, pd->values, "", 0, errors, &n, err);
  if (rc) {
    json_decref(errors);
    return rc;
  }
  im->n->items += (int64_t)n;
  report_errors(im, pd, errors, 1);
  json_decref(errors);
  pending_clear(pd);
  return MES_OK;
}

/* Queues a value (taken over) with its line number; flushes a full batch. */
static int enqueue(struct importer *im, struct pending *pd, json_t *v, int64_t line_no,
                   int (*flush)(struct importer *, struct mes_err *), struct mes_err *err) {
  size_t n = json_array_size(pd->values);
  pd->line_no[n] = line_no;
  if (json_array_append_new(pd->values, v))
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  return n + 1 >= MES_IMPORT_BATCH ? flush(im, err) : MES_OK;
}

/* Records one consent line (obj borrowed) at its own time. Returns MES_OK,
 * or the error in *ce (a line error, or a store failure when its status is
 * 5xx). Called from the consent workers. */
static int record_consent(struct mes_ledger *lg, const struct mes_req *c, const json_t *obj, struct mes_err *ce) {
  struct mes_req cc = *c;
  cc.now_ms = mes_now_ms();
  const json_t *ts = json_object_get(obj, "ts");
  if (ts && !json_is_null(ts)) {
    int rc = mes_json_ts(ts, cc.now_ms, &cc.now_ms, "/ts", ce);
    if (rc)
      return rc;
  }
  json_t *body = json_pack("{s:O, s:s}", "status", json_object_get(obj, "status"), "source",
                           mes_json_str(obj, "source", "import"));
  const json_t *pv = json_object_get(obj, "policy_version");
  if (body && json_is_string(pv) && json_object_set(body, "policy_version", (json_t *)pv)) {
    json_decref(body);
    body = NULL;
  }
  if (!body)
    return mes_err_set(ce, MES_ENOMEM, NULL, NULL);
  const json_t *s = json_object_get(obj, "subject"), *p = json_object_get(obj, "purpose");
  json_t *receipt = NULL;
  int rc = mes_consent_record(lg, &cc, json_string_value(s), json_string_length(s), json_string_value(p),
                              json_string_length(p), body, &receipt, ce);
  json_decref(body);
  json_decref(receipt);
  if (rc == MES_EUNKNOWN_PURPOSE && !ce->field[0])
    snprintf(ce->field, sizeof ce->field, "/purpose");
  return rc;
}

/*
 * Consents are durable one by one (each is a signed receipt in its own
 * transaction), so a long run of them is recorded by several workers at once
 * and the store's group commit shares the syncs between them. A subject's
 * consents all go to the same worker, in file order, so a grant followed by
 * a withdrawal stays in that order.
 */
#define CONSENT_WORKERS 16

struct consent_job {
  struct mes_ledger *ledger;
  const struct mes_req *c;
  const struct pending *pd;
  int *rcs;               /* per consent */
  struct mes_err *errs;   /* per consent */
  unsigned worker;
};

static unsigned subject_worker(const json_t *consent) {
  return (unsigned)(mes_hash_str(mes_json_str(consent, "subject", "")) % CONSENT_WORKERS);
}

static void *consent_worker(void *arg) {
  struct consent_job *j = arg;
  size_t n = json_array_size(j->pd->values);
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(j->pd->values, i);
    if (subject_worker(v) != j->worker)
      continue;
    mes_err_clear(&j->errs[i]);
    j->rcs[i] = record_consent(j->ledger, j->c, v, &j->errs[i]);
  }
  return NULL;
}

static int flush_consents(struct importer *im, struct mes_err *err) {
  struct pending *pd = &im->consents;
  size_t n = json_array_size(pd->values);
  if (n == 0)
    return MES_OK;
  int *rcs = calloc(n, sizeof *rcs);
  struct mes_err *errs = calloc(n, sizeof *errs);
  struct consent_job jobs[CONSENT_WORKERS];
  pthread_t threads[CONSENT_WORKERS];
  bool started[CONSENT_WORKERS] = {false};
  int rc = MES_OK;
  if (!rcs || !errs) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  for (unsigned w = 0; w < CONSENT_WORKERS; w++) {
    jobs[w] = (struct consent_job){
        .ledger = im->ledger, .c = im->c, .pd = pd, .rcs = rcs, .errs = errs, .worker = w};
    /* One worker for a short run; where a thread cannot start, run its share here. */
    if (n < 16 || pthread_create(&threads[w], NULL, consent_worker, &jobs[w]) != 0)
      consent_worker(&jobs[w]);
    else
      started[w] = true;
  }
  for (unsigned w = 0; w < CONSENT_WORKERS; w++)
    if (started[w])
      pthread_join(threads[w], NULL);
  for (size_t i = 0; i < n; i++) {
    if (rcs[i] == MES_OK) {
      im->n->consents++;
    } else if (mes_rc_status(rcs[i]) >= 500) {
      if (!rc) {
        *err = errs[i];
        rc = rcs[i];
      }
    } else {
      report(im, pd->line_no[i], &errs[i]);
    }
  }
done:
  free(rcs);
  free(errs);
  pending_clear(pd);
  return rc;
}

/* One non-blank line. */
static int import_line(struct importer *im, const struct mes_import_csv *csv, const char *line, size_t len,
                       int64_t line_no, struct mes_err *err) {
  struct mes_err le;
  mes_err_clear(&le);
  json_t *v = NULL;
  enum mes_import_kind kind = MES_IMPORT_EVENT;
  int rc = csv ? mes_import_parse_csv(csv, line, len, &v, &le) : mes_import_parse_jsonl(line, len, &kind, &v, &le);
  if (rc == MES_ENOMEM)
    return mes_err_set(err, rc, NULL, NULL);
  if (rc) {
    report(im, line_no, &le);
    return MES_OK;
  }
  switch (kind) {
  case MES_IMPORT_ITEM:
    return enqueue(im, &im->items, v, line_no, flush_items, err);
  case MES_IMPORT_EVENT:
    rc = flush_consents(im, err); /* the consents above an event gate it */
    if (rc) {
      json_decref(v);
      return rc;
    }
    return enqueue(im, &im->events, v, line_no, flush_events, err);
  case MES_IMPORT_CONSENT:
    rc = flush_events(im, err); /* and those below it do not */
    if (rc) {
      json_decref(v);
      return rc;
    }
    return enqueue(im, &im->consents, v, line_no, flush_consents, err);
  }
  json_decref(v);
  return MES_OK;
}

int mes_import_stream(struct mes_catalog *cat, struct mes_ledger *lg, struct mes_ingester *ing,
                      const struct mes_req *c, FILE *in, const struct mes_import_opts *o,
                      struct mes_import_counts *counts, struct mes_err *err) {
  memset(counts, 0, sizeof *counts);
  struct importer im = {.catalog = cat, .ledger = lg, .ingester = ing, .c = c, .o = o, .n = counts};
  char *line = NULL;
  size_t cap = 0;
  int rc = MES_OK;
  struct mes_import_csv csv;
  bool have_header = false;
  struct pending *all[] = {&im.items, &im.events, &im.consents};
  bool ok = true;
  for (size_t i = 0; i < N_OF(all); i++) {
    all[i]->values = json_array();
    all[i]->line_no = malloc(MES_IMPORT_BATCH * sizeof(int64_t));
    ok = ok && all[i]->values && all[i]->line_no;
  }
  if (!ok) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto done;
  }
  for (;;) {
    ssize_t got = getline(&line, &cap, in);
    if (got < 0)
      break;
    int64_t line_no = ++counts->lines;
    size_t len = (size_t)got;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      len--;
    char *text = line;
    if (line_no == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
      text += 3; /* a UTF-8 byte order mark, as spreadsheets write */
      len -= 3;
    }
    if (line_no % MES_IMPORT_PROGRESS_EVERY == 0 && o->progress)
      o->progress(o->ud, counts);
    if (strspn(text, " \t") >= len)
      continue; /* blank */
    if (len > MES_IMPORT_LINE_MAX) {
      struct mes_err le;
      mes_err_set(&le, MES_EOUT_OF_RANGE, NULL, "A line is at most %d bytes.", MES_IMPORT_LINE_MAX);
      report(&im, line_no, &le);
      continue;
    }
    if (o->csv && !have_header) {
      rc = mes_import_parse_csv_header(text, len, &csv, err);
      if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "line %lld: %s", (long long)line_no, mes_err_text(err));
        snprintf(err->msg, sizeof err->msg, "%s", msg);
        goto done;
      }
      have_header = true;
      continue;
    }
    rc = import_line(&im, o->csv ? &csv : NULL, text, len, line_no, err);
    if (rc)
      goto done;
  }
  if (ferror(in)) {
    rc = mes_err_set(err, MES_EIO, NULL, "The input could not be read to its end.");
    goto done;
  }
  rc = flush_items(&im, err);
  if (!rc)
    rc = flush_consents(&im, err);
  if (!rc)
    rc = flush_events(&im, err);
done:
  free(line);
  for (size_t i = 0; i < N_OF(all); i++) {
    json_decref(all[i]->values);
    free(all[i]->line_no);
  }
  return rc;
}
