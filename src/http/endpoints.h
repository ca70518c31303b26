/*
 * http/endpoints — the handlers that routes.c puts in its table, one block
 * per h_*.c file. Each follows the contract of mes_http_handler (handler.h).
 */
#ifndef MES_HTTP_ENDPOINTS_H
#define MES_HTTP_ENDPOINTS_H

#include "http/handler.h"

/* h_meta.c — health, metrics, GPC, receipt key, privacy notice. */
void mes__h_healthz(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_metrics(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_gpc(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_public_key(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_privacy_notice(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_consent.c — consents and preferences (contract §5). */
void mes__h_consent_put(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_consent_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_preferences_put(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_preferences_patch(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_preferences_get(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_events.c — events in (contract §4) and one event forgotten (§7). */
void mes__h_events_post(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_event_delete(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_items.c — the catalog (contract §3). */
void mes__h_items_put(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_items_post(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_items_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_items_delete(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_items_list(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_subjects.c — profile summary, export and dashboard token (contract §7). */
void mes__h_subject_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_export(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_access_log(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_token(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_tokens_revoke(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_restriction(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_erase(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_visitors.c — an anonymous visitor's consents and token, and linking at login (contract §4). */
void mes__h_visitor_consent_put(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_visitor_consent_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_visitor_token(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_link(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_recs.c — recommendations, decision records and "why" (contract §6). */
void mes__h_recs_post(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_recs_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_subject_why(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_admin.c — the brand's console: keys, the overview, the latest audits. */
void mes__h_admin_keys_list(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_admin_keys_post(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_admin_keys_delete(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_admin_overview(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_audits_list(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_audit.c — the attribute vault and fairness audits (contract §8). */
void mes__h_audit_attrs_put(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_audit_attrs_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_audit_attrs_delete(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_audits_post(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_audits_get(struct mes_http_req *req, struct mes_http_resp *resp);
void mes__h_audits_report(struct mes_http_req *req, struct mes_http_resp *resp);

/* h_static.c — the pages under web/ (/me), compiled into the binary. */
void mes__h_static(struct mes_http_req *req, struct mes_http_resp *resp);

#endif
