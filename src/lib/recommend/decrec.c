/*
 * recommend/decrec — the codec of stored decision records (decrec.h).
 */
#include "recommend/decrec.h"

#include <stdlib.h>

#include "base/json.h"
#include "crypto/crypto.h"

#define KIND "decision" /* associated data of a sealed record (mes_subject_seal) */

int mes_decrec_seal(struct mes_subjects *sj, int64_t sid, char *text, size_t len, uint8_t **out, size_t *out_len) {
  if (!sid) {
    *out = (uint8_t *)text;
    *out_len = len;
    return MES_OK;
  }
  *out = NULL;
  *out_len = 0;
  int rc = mes_subject_seal(sj, sid, KIND, text, len, out, out_len);
  mes_wipe(text, len);
  free(text);
  return rc;
}

int mes_decrec_open(struct mes_subjects *sj, const struct mes_decision_row *row, json_t **out) {
  *out = NULL;
  if (!row->sid) {
    json_t *rec = mes_json_load_parts((const char *)row->doc, row->len);
    *out = rec;
    return rec ? MES_OK : MES_ESTORE;
  }
  char *plain = NULL;
  size_t len = 0;
  int rc = mes_subject_unseal(sj, row->sid, KIND, row->doc, row->len, &plain, &len);
  if (rc)
    return rc;
  json_t *rec = mes_json_load_parts(plain, len);
  mes_wipe(plain, len);
  free(plain);
  if (!rec)
    return MES_ENOMEM;
  *out = rec;
  return MES_OK;
}
