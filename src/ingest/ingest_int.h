/*
 * ingest_int — private to src/ingest/ (and its unit tests): the sealed
 * document's format, shared by the writer (batch.c) and the reader (read.c).
 *
 * The sealed document of one event is a compact JSON object with the members
 * below, each present only when it has a value:
 *   {"item": ID, "channel": "web", "source": "first_party",
 *    "properties": {declared only}, "context": {"request_id", "placement",
 *    "authenticated", "device_shared"}, "event_id": ID, "query": TEXT}
 * Type, timestamp, purposes, source and the event_id's keyed hash are the
 * store's clear columns (struct mes_event_row).
 */
#ifndef MES_INGEST_INT_H
#define MES_INGEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"

/* Associated-data kind of a sealed event (mes_subject_seal). */
#define MES__INGEST_KIND "event"

/* Prefix of the event_id shown for events sent without one: "ev_<row id>". */
#define MES__INGEST_ROWID_PREFIX "ev_"

/* True when event type t of policy p is the one that takes a query and needs
 * no item ("search"). */
bool mes__ingest_is_search(const struct mes_policy *p, int t);

/* Makes *buf (capacity *cap) hold at least n bytes for unsealed plaintext:
 * the old buffer is wiped before it is freed, so no plaintext is left behind
 * in freed memory. MES_OK, or MES_ENOMEM with *buf unchanged. */
int mes__ingest_pt_reserve(uint8_t **buf, size_t *cap, size_t n);

#endif
