/*
 * ingest/evrec — one stored event: its in-memory form (struct mes_evrec) and
 * the one codec of the document sealed for it.
 *
 * A stored event is a store row (struct mes_event_row: id, subject, type,
 * time, purposes, source and the keyed hash of the client's event_id, in
 * clear columns for sweeps, purges and retries) and a document sealed with
 * the subject's key. Every reader of events (the history of a
 * recommendation, its cache, the training scan, exports, `why`, the link at
 * login, forgetting one event) decodes that document here, into the same
 * struct, and only exports and explanations open its cold part.
 *
 * The document, version 1 (what the ingester writes):
 *
 *   byte 0     MES_EVREC_V1
 *   byte 1     flags: MES_EVREC_F_ITEM, MES_EVREC_F_EVENT_ID, MES_EVREC_F_COLD
 *   byte 2     channel: enum mes_channel, or 0xFF when none
 *   item       when flagged: length (2 bytes, little-endian, 1..MES_EVREC_ID_MAX),
 *              the bytes, a NUL
 *   event_id   when flagged: the client's event_id, laid out as the item
 *   cold       when flagged: every byte left, a compact JSON object with the
 *              members "properties" (declared ones only), "context" and
 *              "query", each only when it has a value
 *
 * The hot fields come first and are read in place: decoding a version 1
 * document allocates nothing and copies nothing (item and event_id point
 * into the plaintext, NUL-terminated there).
 *
 * Version 0 is the compact JSON object that stores written before version
 * 1 hold: {"item", "channel", "source", "properties", "context",
 * "event_id", "query"}, each only when it has a value. Its first byte is
 * '{' (or JSON white space), never MES_EVREC_V1, so the two are told apart
 * by that byte; it stays readable here, without a migration (the store sees
 * only ciphertext, and rewriting every event under every subject's key is
 * work a schema step cannot do): item, channel and event_id are picked out
 * of it without building JSON, and the whole document is its cold part,
 * whose members "properties", "context" and "query" are the same as in
 * version 1.
 *
 * Channel numbers are stored: enum mes_channel may only grow at its end.
 */
#ifndef MES_INGEST_EVREC_H
#define MES_INGEST_EVREC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "policy/policy.h"

#define MES_EVREC_V1 0x01
#define MES_EVREC_F_ITEM 0x01
#define MES_EVREC_F_EVENT_ID 0x02
#define MES_EVREC_F_COLD 0x04
#define MES_EVREC_NO_CHANNEL 0xFF
#define MES_EVREC_ID_MAX 1024 /* bytes of an item or event_id (ids are at most 128: room to spare) */

/*
 * One stored event, as every reader of events sees it. The first group
 * comes from the store row; the rest from the sealed document. Pointers are
 * borrowed: from the plaintext or the decoder's scratch (mes_evrec_decode),
 * or from whoever hands the struct out, for as long as it says (usually a
 * callback's duration).
 */
struct mes_evrec {
  int64_t id;          /* store row id */
  int64_t sid;         /* the subject's store id (numbers are not pseudonyms: never log them) */
  int64_t ts_ms;
  int type;            /* index into the policy's event_types; -1 when the current policy lacks it (or as
                          stored, where the reader says so: mes_ingest_history_open) */
  uint32_t purposes;   /* purposes the event serves (policy bits, as stored) */
  enum mes_source source;
  int channel;         /* enum mes_channel, or -1 when none */
  const char *item;    /* NUL-terminated; NULL when the event has none (a search) */
  size_t item_len;
  const char *event_id;  /* the client's event_id, NUL-terminated; NULL when sent without one, or when the
                            reader does not carry it (say so where it is handed out) */
  size_t event_id_len;
  struct mes_slice cold; /* properties, context and query, opaque (mes_evrec_cold_open); empty (len 0)
                            when there are none or the reader does not carry them */
};

/* Reusable memory for decoding version 0 documents, whose strings may hold
 * escapes (a zeroed struct is empty). Holds plaintext: released wiped. */
struct mes_evrec_scratch {
  char *buf;
  size_t cap;
};
void mes_evrec_scratch_release(struct mes_evrec_scratch *sc);

/*
 * Writes r's sealed part (channel, item, event_id, cold) as a version 1
 * document into b, replacing what b held. r->cold, when not empty, must be a
 * JSON object's compact text with only the members above. MES_OK;
 * MES_EINTERNAL when item or event_id is empty, longer than
 * MES_EVREC_ID_MAX or holds a NUL, the channel is out of range or the cold
 * part is not an object (the writer checked all of these: a bug);
 * MES_ENOMEM or MES_EBODY_TOO_LARGE from b (b is then reset).
 */
int mes_evrec_encode(struct mes_buf *b, const struct mes_evrec *r);

/*
 * Decodes a sealed document's plaintext (pt, len; borrowed, and must
 * outlive what r points to) of either version into r's channel, item,
 * event_id and cold; r's other fields are left as they were. A version 1
 * document is read in place; a version 0 one may use sc (grown as needed).
 * MES_OK; MES_EINTERNAL when the bytes are not such a document (r's decoded
 * fields are then unspecified); MES_ENOMEM (version 0 only). Never reads
 * outside [pt, pt + len).
 */
int mes_evrec_decode(const uint8_t *pt, size_t len, struct mes_evrec_scratch *sc, struct mes_evrec *r);

/* Opens r's cold part: *out is new, an object whose members "properties",
 * "context" and "query" are the event's (other members may be present: read
 * only these three); an empty object when the cold part is empty. MES_OK,
 * MES_EINTERNAL when it is not a JSON object, MES_ENOMEM. */
int mes_evrec_cold_open(const struct mes_evrec *r, json_t **out);

/* The event_id an API reply shows for r: the client's, or "ev_<row id>"
 * (written into buf) for an event sent without one. The string returned is
 * r->event_id or buf. */
#define MES_EVREC_ROWID_PREFIX "ev_"
const char *mes_evrec_shown_id(const struct mes_evrec *r, char buf[32]);

/*
 * The event as the API shows it (contract §7): event_id (mes_evrec_shown_id),
 * type (its name in policy p, "unknown" when p lacks it), item, channel, ts
 * (RFC 3339), source, properties, context (both {} when none) and query for
 * searches. Opens the cold part. *out is new. MES_OK, MES_EINTERNAL (the cold
 * part does not parse), MES_ENOMEM.
 */
int mes_evrec_json(const struct mes_evrec *r, const struct mes_policy *p, json_t **out);

#endif
