/*
 * recommend/decrec — the stored form of a decision record (contract §6,
 * GET /v1/recommendations/{id}) and its one codec, for the recommender that
 * writes records and reads one back, the export and the audits of what was
 * served.
 *
 * A record is one text: the reply as it was sent, a newline, then the
 * record's own part (what the rules removed, adjusted and withheld, the
 * placement and channel), each a JSON object; read back, the members of
 * both make one object, later members replacing earlier ones. A personal
 * answer's record (sid != 0) is sealed with the subject's key (kind
 * "decision"), so that erasure shreds it; a non-personal one (sid 0) holds
 * nothing about a person and is stored as it is.
 */
#ifndef MES_RECOMMEND_DECREC_H
#define MES_RECOMMEND_DECREC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "subject/subject.h"

/* The stored bytes of the record `text` (len bytes, taken over: freed here
 * whatever happens) of an answer to subject sid (0: non-personal). *out is
 * new (caller frees): text itself when sid is 0, else its sealed form.
 * MES_OK, or the sealing's error (MES_ENOT_FOUND when sid's key is gone,
 * MES_ENOMEM, MES_ECRYPTO). */
int mes_decrec_seal(struct mes_subjects *sj, int64_t sid, char *text, size_t len, uint8_t **out, size_t *out_len);

/* Opens a stored record (row borrowed, as the store or the recommender's
 * queue hands it out): unsealed with the subject's key when personal, its
 * parts merged. *out is new (NULL on error). MES_OK; MES_ENOT_FOUND when
 * the subject's key is gone (the record is shredded); MES_ECRYPTO when it
 * does not open (damaged); MES_ENOMEM (a record that opened is what the
 * recommender wrote: only memory fails to load it); MES_ESTORE when a
 * non-personal record's text is not a record. */
int mes_decrec_open(struct mes_subjects *sj, const struct mes_decision_row *row, json_t **out);

#endif
