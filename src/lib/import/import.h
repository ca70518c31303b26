/*
 * import — the bulk importer of `mesura import` (contract §1): loads items,
 * events and recorded consents from a JSON Lines or CSV stream through the
 * same validation as the API.
 *
 * The module sits above catalog, consent and ingest and calls each through
 * its face only: items are written with mes_catalog_upsert, events with
 * mes_ingest_batch and consents with mes_consent_record, so the consent gate
 * and data minimisation hold for imported data exactly as for the API.
 *
 * The line readers are pure (no store, no clock); the stream importer takes
 * the three handles it writes through and a request (struct mes_req,
 * policy/policy.h; its clock is renewed per batch). The library never prints: the
 * importer reports bad lines and progress through callbacks. Thread-safe as
 * the store is.
 */
#ifndef MES_IMPORT_H
#define MES_IMPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mesura/mesura.h>

#include "base/err.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"

#define MES_IMPORT_LINE_MAX (1024 * 1024) /* bytes of one line; longer lines are bad lines */
#define MES_IMPORT_BATCH 5000             /* items or events written per transaction */
#define MES_IMPORT_PROGRESS_EVERY 100000  /* lines between two progress calls */

enum mes_import_kind { MES_IMPORT_ITEM = 0, MES_IMPORT_EVENT, MES_IMPORT_CONSENT };

/* The columns a CSV event file may have (header names), in this order. */
enum mes_import_col {
  MES_COL_SUBJECT = 0,
  MES_COL_ANONYMOUS_ID,
  MES_COL_TYPE,
  MES_COL_ITEM,
  MES_COL_TS,
  MES_COL_CHANNEL,
  MES_COL_SOURCE,
  MES_COL_EVENT_ID,
  MES_COL_N
};

/* A CSV file's header, mapped: col[i] is the enum mes_import_col of field i. */
struct mes_import_csv {
  int col[MES_COL_N];
  size_t n_cols;
};

/*
 * Line readers: pure parsing and shape checks, no store, no clock. They turn
 * one line into the API's shape, checked by the same field tables:
 *   item    -> {"id", "title", ...} (catalog's item shape with "id")
 *   event   -> the event object of POST /v1/events
 *   consent -> {"subject", "purpose", "status", "ts"?, "source"?,
 *               "policy_version"?}
 * The deeper rules (declared categories, event types, timestamps) are checked
 * when the value is written. `line` is len bytes, without its newline, not
 * necessarily NUL-terminated. On success *out is new.
 * Errors: MES_EBAD_JSON, MES_EBAD_UTF8, MES_EMISSING_FIELD ("kind"),
 * MES_EINVALID_VALUE (unknown kind, a CSV cell), the shapes' field errors.
 */
int mes_import_parse_jsonl(const char *line, size_t len, enum mes_import_kind *kind, json_t **out,
                           struct mes_err *err);

/* Reads a CSV header line ("subject,type,item,ts"): every name must be one of
 * the columns, at most once; type, and subject or anonymous_id, required. */
int mes_import_parse_csv_header(const char *line, size_t len, struct mes_import_csv *h, struct mes_err *err);

/* One CSV data line (RFC 4180 quoting) into an event object. Empty cells are
 * absent fields; a ts cell of digits is epoch milliseconds. */
int mes_import_parse_csv(const struct mes_import_csv *h, const char *line, size_t len, json_t **out,
                         struct mes_err *err);

/* struct mes_import_counts and struct mes_import_opts are public
 * (include/mesura/mesura.h: mes_engine_import). */

/*
 * Imports a stream (borrowed; read to its end) through the catalog, the
 * consent ledger and the ingester (borrowed). Items and events are written
 * in batches of MES_IMPORT_BATCH, in file order: a consent line first writes
 * the events read before it, so an event is gated by the consents above it
 * and not by those below. Consents are recorded with recorded_by = c->actor
 * (the CLI passes "import") and, when the line has "ts", that time.
 * Bad lines are reported and skipped. Returns MES_OK once the stream is read
 * (even with bad lines), or the store's error (what was written before it
 * stays: each batch is atomic). *counts is filled either way.
 */
int mes_import_stream(struct mes_catalog *cat, struct mes_ledger *lg, struct mes_ingester *ing,
                      const struct mes_req *c, FILE *in, const struct mes_import_opts *o,
                      struct mes_import_counts *counts, struct mes_err *err);

#endif
