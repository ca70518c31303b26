/*
 * engine/api_access — the access log's verbs of mesura.h: a person's log
 * (contract §7), its verification and the incident list of the command
 * line. The log itself is the recommender's (recommend/access.c), whose
 * writer thread already writes what each request leaves behind.
 */
#include <string.h>

#include "engine/engine_int.h"
#include "recommend/recommend.h"

int mes_engine_access_log(struct mes_engine *e, struct mes_call *call, const char *subject, size_t subject_len,
                          json_t **out, struct mes_err *err) {
  MES__CLEAR(out);
  struct mes__call k;
  struct mes_subject s;
  mes__call_begin(&k, e, call);
  json_t *entries = NULL;
  bool intact = false;
  int rc = mes__call_subject(&k, subject, subject_len, false, &s, err);
  if (!rc) {
    mes_recommender_flush(e->rec); /* the reads noted until now are in it */
    rc = mes_recommend_access_log(e->rec, s.row.id, k.lang, &entries, &intact, err);
  }
  mes__call_end(&k);
  if (rc)
    return rc;
  *out = json_pack("{s:o, s:b}", "entries", entries, "intact", intact);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

int mes_engine_access_verify(struct mes_engine *e, struct mes_access_verdict *out, struct mes_err *err) {
  memset(out, 0, sizeof *out);
  struct mes_access_check c;
  int rc = mes_recommend_access_verify(e->rec, &c, err);
  if (rc)
    return rc;
  *out = (struct mes_access_verdict){c.intact, c.subjects, c.entries, c.bad_sid, c.bad_seq, c.problem};
  return MES_OK;
}

int mes_engine_incident(struct mes_engine *e, const char *key_name, int64_t since_ms, bool reveal, mes_incident_cb cb,
                        void *ud, struct mes_err *err) {
  if (!key_name || !*key_name || !cb)
    return mes_err_set(err, MES_EUSAGE, NULL, "Name the key with --key.");
  return mes_recommend_access_incident(e->rec, key_name, since_ms, reveal, cb, ud, err);
}
