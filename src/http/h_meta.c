/*
 * http/h_meta — the endpoints about the service itself rather than anyone's
 * data: health, metrics, the GPC well-known file (contract §5), the receipt
 * public key (§5) and the privacy notice (§9).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/proc.h"
#include "http/endpoints.h"
#include "http/http_int.h"

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTML_TYPE "text/html; charset=utf-8"

/* True while the store refuses writes for a full disk. Asked only after a
 * write was refused so (the server's flag), since it takes the store's
 * write lock for a moment: a store that lost a group commit to the full disk
 * refuses every transaction until it is reopened; one that only refused a
 * statement takes a transaction again once there is room. */
static bool still_full(struct mes_http_req *req) {
  struct mes__server *srv = req->srv;
  if (!atomic_load_explicit(&srv->storage_full, memory_order_relaxed))
    return false;
  if (mes_engine_writable(mes_http_req_engine(req)) == MES_ESTORAGE_FULL)
    return true;
  if (atomic_exchange(&srv->storage_full, false))
    mes_log(srv->log, MES_LOG_INFO, "the data store takes writes again");
  return false;
}

/* 200 {"status": "ok"}, or 503 {"status": "degraded", "reason", "message"}
 * while the disk is full: GET requests are still answered, but every write
 * is refused, which a monitor should page someone about. */
void mes__h_healthz(struct mes_http_req *req, struct mes_http_resp *resp) {
  if (still_full(req)) {
    const char *lang = mes_engine_error_lang(mes_http_req_header(req, "Accept-Language"));
    mes_http_reply_json(resp, 503,
                        json_pack("{s:s, s:s, s:s}", "status", "degraded", "reason", mes_rc_code(MES_ESTORAGE_FULL),
                                  "message", mes_rc_message_in(MES_ESTORAGE_FULL, lang)));
    return;
  }
  mes_http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

void mes__h_metrics(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_buf out;
  mes_buf_init(&out, MES_HTTP_BODY_MAX);
  struct mes_engine_stats st;
  mes_engine_stats(mes_http_req_engine(req), &st);
  int rc = mes_metrics_render(req->srv->metrics, &out);
  if (!rc) {
    /* The live model, as gauges: a retrain or a `mesura train` shows here
     * the moment it is swapped in (0 while there is none). */
    rc = mes_buf_printf(&out,
                        "# HELP mesura_model_id Store id of the live recommendation model (0: none).\n"
                        "# TYPE mesura_model_id gauge\nmesura_model_id %lld\n"
                        "# HELP mesura_model_items Items the live model knows.\n"
                        "# TYPE mesura_model_items gauge\nmesura_model_items %zu\n"
                        "# HELP mesura_model_memory_bytes Resident bytes of the live model.\n"
                        "# TYPE mesura_model_memory_bytes gauge\nmesura_model_memory_bytes %zu\n",
                        (long long)st.model_id, st.model_items, st.model_memory_bytes);
  }
  if (!rc) {
    /* The process as a whole, and the one queue whose size depends on load
     * (decision records waiting for the writer; bounded, see recommend.h). */
    size_t rss = 0, peak = 0;
    mes_proc_memory(&rss, &peak);
    rc = mes_buf_printf(&out,
                        "# HELP mesura_process_resident_memory_bytes Resident memory of the server now.\n"
                        "# TYPE mesura_process_resident_memory_bytes gauge\n"
                        "mesura_process_resident_memory_bytes %zu\n"
                        "# HELP mesura_process_peak_resident_memory_bytes Highest resident memory since start.\n"
                        "# TYPE mesura_process_peak_resident_memory_bytes gauge\n"
                        "mesura_process_peak_resident_memory_bytes %zu\n"
                        "# HELP mesura_decision_queue_entries Decision records and impressions waiting to be written.\n"
                        "# TYPE mesura_decision_queue_entries gauge\nmesura_decision_queue_entries %zu\n"
                        "# HELP mesura_decision_queue_bytes Memory they hold (bounded at 64 MiB).\n"
                        "# TYPE mesura_decision_queue_bytes gauge\nmesura_decision_queue_bytes %zu\n"
                        "# HELP mesura_decision_records_dropped_total Decision records dropped because the writer "
                        "fell behind.\n"
                        "# TYPE mesura_decision_records_dropped_total counter\n"
                        "mesura_decision_records_dropped_total %zu\n",
                        rss, peak, st.decision_queue_entries, st.decision_queue_bytes, st.decision_records_dropped);
  }
  if (!rc) /* the history cache of active shoppers: hits, misses, stale reads, memory */
    rc = mes_metrics_render_histcache(&st, &out);
  if (!rc) /* ingestion's subject rows in memory */
    rc = mes_metrics_render_subjmap(&st, &out);
  if (!rc) { /* the newest fairness audit, for alerts on drift */
    json_t *ratios = NULL;
    struct mes_err aerr;
    mes_err_clear(&aerr);
    rc = mes_engine_audit_ratios(mes_http_req_engine(req), &ratios, &aerr);
    if (!rc)
      rc = mes_metrics_render_audit(ratios, &out);
    json_decref(ratios);
  }
  if (rc) {
    mes_buf_release(&out);
    struct mes_err err;
    mes_err_set(&err, rc == MES_ENOMEM ? MES_ENOMEM : MES_EINTERNAL, NULL, NULL);
    mes_http_reply_error(resp, &err);
    return;
  }
  size_t len = out.len;
  mes_http_reply_take(resp, 200, METRICS_TYPE, mes_buf_steal(&out), len);
}

void mes__h_gpc(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  if (mes_engine_gpc(mes_http_req_engine(req), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

void mes__h_public_key(struct mes_http_req *req, struct mes_http_resp *resp) {
  struct mes_err err;
  mes_err_clear(&err);
  json_t *out = NULL;
  if (mes_engine_receipt_key(mes_http_req_engine(req), &out, &err)) {
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, out);
}

/* The q-value that an Accept header gives to exactly `type` (0 when absent). */
static double accept_q(const char *accept, const char *type) {
  size_t tlen = strlen(type);
  for (const char *p = accept; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    size_t elen = strcspn(p, ","), mlen = strcspn(p, ";,");
    size_t m = mlen;
    while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t'))
      m--;
    if (m == tlen && strncasecmp(p, type, tlen) == 0) {
      double q = 1.0;
      for (const char *a = p + mlen; a < p + elen; a++) {
        if (*a == ';') {
          const char *v = a + 1;
          while (*v == ' ')
            v++;
          if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=')
            q = strtod(v + 2, NULL);
        }
      }
      return q;
    }
    p += elen;
  }
  return 0;
}

void mes__h_privacy_notice(struct mes_http_req *req, struct mes_http_resp *resp) {
  const char *accept = mes_http_req_header(req, "Accept");
  double q_html = accept ? accept_q(accept, "text/html") : 0;
  bool html = q_html > 0 && q_html > accept_q(accept, "application/json");
  struct mes_notice_right rights[MES_HTTP_RIGHTS_MAX];
  size_t n_rights = mes_http_served_rights(rights, MES_HTTP_RIGHTS_MAX);
  struct mes_err err;
  mes_err_clear(&err);
  json_t *json = NULL;
  char *page = NULL;
  const char *lang = "en";
  int rc = mes_engine_privacy_notice(mes_http_req_engine(req), mes_http_req_call(req), rights, n_rights, html, &json,
                                     &page, &lang, &err);
  mes_http_resp_header(resp, "Content-Language", lang);
  mes_http_resp_header(resp, "Vary", "Accept, Accept-Language");
  if (rc)
    mes_http_reply_error(resp, &err);
  else if (html)
    mes_http_reply_take(resp, 200, HTML_TYPE, page, strlen(page));
  else
    mes_http_reply_json(resp, 200, json);
}
