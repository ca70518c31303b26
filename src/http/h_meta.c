/*
 * http/h_meta — the endpoints about the service itself rather than anyone's
 * data: health, metrics, the GPC well-known file (contract §5), the receipt
 * public key (§5) and the privacy notice (§9).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/mtime.h"
#include "base/path.h"
#include "base/proc.h"
#include "crypto/crypto.h"
#include "http/endpoints.h"
#include "http/http_int.h"
#include "model/model.h"
#include "recommend/recommend.h"
#include "store/store.h"

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
  struct mes_store *st = mes_engine_store(mes_http_req_engine(req));
  int rc = mes_store_tx_begin(st);
  if (rc == MES_OK)
    mes_store_tx_rollback(st);
  if (rc == MES_ESTORAGE_FULL)
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
    const char *lang = mes_lang_name(mes_lang_negotiate(NULL, mes_http_req_header(req, "Accept-Language")));
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
  int rc = mes_metrics_render(req->srv->metrics, &out);
  if (!rc) {
    /* The live model, as gauges: a retrain or a `mesura train` shows here
     * the moment it is swapped in (0 while there is none). */
    struct mes_model *m = mes_engine_model(mes_http_req_engine(req));
    rc = mes_buf_printf(&out,
                        "# HELP mesura_model_id Store id of the live recommendation model (0: none).\n"
                        "# TYPE mesura_model_id gauge\nmesura_model_id %lld\n"
                        "# HELP mesura_model_items Items the live model knows.\n"
                        "# TYPE mesura_model_items gauge\nmesura_model_items %zu\n"
                        "# HELP mesura_model_memory_bytes Resident bytes of the live model.\n"
                        "# TYPE mesura_model_memory_bytes gauge\nmesura_model_memory_bytes %zu\n",
                        (long long)mes_model_id(m), mes_model_n_items(m), mes_model_memory(m));
    mes_model_unref(m);
  }
  if (!rc) {
    /* The process as a whole, and the one queue whose size depends on load
     * (decision records waiting for the writer; bounded, see recommend.h). */
    size_t rss = 0, peak = 0;
    mes_proc_memory(&rss, &peak);
    struct mes_recommender_stats q;
    mes_recommender_stats(mes_engine_recommender(mes_http_req_engine(req)), &q);
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
                        rss, peak, q.queued, q.bytes, q.dropped);
  }
  if (!rc) /* the history cache of active shoppers: hits, misses, stale reads, memory */
    rc = mes_metrics_render_histcache(mes_engine_histcache(mes_http_req_engine(req)), &out);
  if (!rc) /* ingestion's subject rows in memory */
    rc = mes_metrics_render_subjmap(mes_engine_subjmap(mes_http_req_engine(req)), &out);
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
  /* lastUpdate: when the policy that says how GPC is honoured last changed. */
  char path[4096], date[11];
  struct stat sb;
  int64_t ms = mes_now_ms();
  if (mes_path_join(path, sizeof path, mes_engine_dir(mes_http_req_engine(req)), "mesura.yaml") == MES_OK &&
      stat(path, &sb) == 0)
    ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
  mes_time_format_date(ms, date);
  mes_http_reply_json(resp, 200, json_pack("{s:b,s:s}", "gpc", 1, "lastUpdate", date));
}

void mes__h_public_key(struct mes_http_req *req, struct mes_http_resp *resp) {
  uint8_t pk[MES_SIGN_PK_BYTES];
  char b64[64];
  mes_engine_sign_public_key(mes_http_req_engine(req), pk);
  if (!mes_base64(pk, sizeof pk, b64, sizeof b64)) {
    struct mes_err err;
    mes_err_set(&err, MES_EINTERNAL, NULL, NULL);
    mes_http_reply_error(resp, &err);
    return;
  }
  mes_http_reply_json(resp, 200, json_pack("{s:s,s:s}", "alg", "Ed25519", "public_key", b64));
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
  const struct mes_ctx *c = mes_http_req_ctx(req);
  enum mes_lang lang = mes_http_req_lang(req);
  const char *accept = mes_http_req_header(req, "Accept");
  double q_html = accept ? accept_q(accept, "text/html") : 0;
  bool html = q_html > 0 && q_html > accept_q(accept, "application/json");
  mes_http_resp_header(resp, "Content-Language", mes_lang_name(lang));
  mes_http_resp_header(resp, "Vary", "Accept, Accept-Language");
  struct mes_served_right rights[MES_RIGHT_N];
  size_t n_rights = mes_http_served_rights(rights, MES_RIGHT_N);
  if (html) {
    char *page = mes_policy_notice_html(c->policy, rights, n_rights, lang);
    mes_http_reply_take(resp, 200, HTML_TYPE, page, page ? strlen(page) : 0);
  } else {
    mes_http_reply_json(resp, 200, mes_policy_notice_json(c->policy, rights, n_rights, lang));
  }
}
