/*
 * policy/schema — the one declaration of mesura.yaml's keys.
 *
 * Each row says where a key may appear, what it accepts, its default and what
 * it means. The loader (policy.c) is driven by these rows, docs/config.md's
 * reference table is printed from them, and the example mesura.yaml
 * (example.c) is tested against them, so the three cannot drift apart.
 * Defaults here must match the comments in policy.h.
 */
#include "policy/policy_int.h"

#include <stddef.h>
#include <stdio.h>

const char *const mes__channel_names[MES_CH_N + 1] = {"web", "app", "email", "ads", "store", NULL};
const char *const mes__lang_names[MES_LANG_N + 1] = {"en", "es", "pl", NULL};
const char *const mes__source_names[MES_SRC_N + 1] = {"first_party", "zero_party", "third_party", NULL};

static const char *const gpc_choices[] = {"ignored", "honored", NULL};                /* enum mes_gpc */
static const char *const lifecycle_choices[] = {"ordinary", "repeat", "once", NULL};  /* enum mes_lifecycle */
static const char *const third_party_choices[] = {"reject", "accept", NULL};          /* index = accept */
static const char *const model_choices[] = {"auto", "cooc", "ease", "popular", NULL}; /* mes_model_kind */

#define POL(m) .off = offsetof(struct mes_policy, m), .size = sizeof(((struct mes_policy *)0)->m)
#define PUR(m) .off = offsetof(struct mes_purpose, m), .size = sizeof(((struct mes_purpose *)0)->m)
#define EVT(m) .off = offsetof(struct mes_event_type, m), .size = sizeof(((struct mes_event_type *)0)->m)
#define CAT(m) .off = offsetof(struct mes_category, m), .size = sizeof(((struct mes_category *)0)->m)

static const struct mes__pfield purpose_fields[] = {
    {.name = "description",
     .kind = MES_PK_TEXT,
     .off = offsetof(struct mes_purpose, description),
     .type_doc = "text, or {en: ..., es: ..., pl: ...}",
     .default_doc = "the purpose's name",
     .doc = "What the purpose does, in words a shopper understands. Shown in the privacy notice and the "
            "consent dialog; a plain text is English."},
    {.name = "gpc",
     .kind = MES_PK_CHOICE,
     .choices = gpc_choices,
     .dflt = MES_GPC_IGNORED,
     PUR(gpc),
     .doc = "`honored`: a browser sending Global Privacy Control (`Sec-GPC: 1`) counts as a refusal of "
            "this purpose. Use it for selling or sharing data, such as ads on other sites."},
    {.name = "channels",
     .kind = MES_PK_CHOICES,
     .choices = mes__channel_names,
     PUR(channels),
     .default_doc = "none",
     .doc = "Channels on which a personal answer needs this purpose. A channel that no purpose names needs "
            "`personalization`."},
    {0}};

static const struct mes__pfield event_type_fields[] = {
    {.name = "purposes",
     .kind = MES_PK_REFS,
     .required = true,
     EVT(purposes),
     .type_doc = "list of purpose names",
     .doc = "The purposes this kind of event serves. An event is stored only when its person has granted at "
            "least one of them."},
    {.name = "retention_days",
     .kind = MES_PK_INT,
     .required = true,
     .max = 36500,
     EVT(retention_days),
     .doc = "How many days an event of this type is kept; older ones are erased."},
    {.name = "properties",
     .kind = MES_PK_NAMES,
     EVT(properties),
     .off_count = offsetof(struct mes_event_type, n_properties),
     .type_doc = "list of names",
     .default_doc = "none",
     .doc = "The properties an event of this type may carry. Any other property is dropped on arrival "
            "(data minimisation). At most 256."},
    {0}};

static const struct mes__pfield category_fields[] = {
    {.name = "sensitive",
     .kind = MES_PK_BOOL,
     .dflt = 0,
     CAT(sensitive),
     .doc = "Items of a sensitive category (health, pregnancy, ...) are never explained with personal reasons "
            "unless the person told us the interest; see also `guardrails.shared_device.hide_sensitive`."},
    {.name = "lifecycle",
     .kind = MES_PK_CHOICE,
     .choices = lifecycle_choices,
     .dflt = MES_LIFECYCLE_ORDINARY,
     CAT(lifecycle),
     .doc = "`ordinary`: an item the person bought is never offered to them again. `repeat`: consumables "
            "(groceries, coffee, ink): an item the person bought may come back, on channels where they are "
            "personalized, as \"buy again\" (reason `buy_again`), ranked by how often and how recently they "
            "bought it. `once`: people buy it once (a wedding dress), so after a purchase in it no item of the "
            "category is offered to the buyer, on any channel, for `guardrails.post_purchase_suppression_days`."},
    {.name = "label",
     .kind = MES_PK_TEXT,
     .off = offsetof(struct mes_category, label),
     .type_doc = "text, or {en: ..., es: ..., pl: ...}",
     .default_doc = "the category's name",
     .doc = "The category's name as people read it."},
    {0}};

static const struct mes__pfield event_weight_fields[] = {
    {.name = "view",
     .kind = MES_PK_INT,
     .dflt = 1,
     .max = 1000,
     .zero_ok = true,
     POL(model.weight_view),
     .doc = "How much one view counts; 0: views are not learnt from."},
    {.name = "click",
     .kind = MES_PK_INT,
     .dflt = 2,
     .max = 1000,
     .zero_ok = true,
     POL(model.weight_click),
     .doc = "How much one click counts."},
    {.name = "add_to_cart",
     .kind = MES_PK_INT,
     .dflt = 4,
     .max = 1000,
     .zero_ok = true,
     POL(model.weight_cart),
     .doc = "How much one add to cart counts."},
    {.name = "purchase",
     .kind = MES_PK_INT,
     .dflt = 8,
     .max = 1000,
     POL(model.weight_purchase),
     .doc = "How much one purchase counts."},
    {0}};

static const struct mes__pfield frequency_cap_fields[] = {
    {.name = "max_impressions",
     .kind = MES_PK_INT,
     .dflt = 3,
     .max = 1000000,
     POL(guardrails.frequency_cap_max_impressions),
     .doc = "How many times the same item may be shown to the same person within the window, on all channels "
            "together; then it is not shown again until older showings leave the window."},
    {.name = "window_hours",
     .kind = MES_PK_INT,
     .dflt = 72,
     .max = 87600,
     POL(guardrails.frequency_cap_window_hours),
     .doc = "The window of the frequency cap, in hours."},
    {0}};

static const struct mes__pfield shared_device_fields[] = {
    {.name = "hide_history",
     .kind = MES_PK_BOOL,
     .dflt = 1,
     POL(guardrails.shared_device_hide_history),
     .doc = "On a shared or signed-out device, nothing drawn from the person's history or preferences is "
            "recommended."},
    {.name = "hide_sensitive",
     .kind = MES_PK_BOOL,
     .dflt = 1,
     POL(guardrails.shared_device_hide_sensitive),
     .doc = "On a shared or signed-out device, items of sensitive categories are not recommended at all."},
    {0}};

static const struct mes__pfield guardrail_fields[] = {
    {.name = "frequency_cap",
     .kind = MES_PK_MAP,
     .fields = frequency_cap_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "Limits how often one item is shown to one person."},
    {.name = "retargeting_window_days",
     .kind = MES_PK_INT,
     .dflt = 14,
     .max = 3650,
     POL(guardrails.retargeting_window_days),
     .doc = "For how many days what a person viewed (or clicked, or put in a cart) but did not buy keeps "
            "driving their recommendations, on every channel. Older views stop counting and are never cited."},
    {.name = "post_purchase_suppression_days",
     .kind = MES_PK_INT,
     .dflt = 365,
     .max = 36500,
     POL(guardrails.post_purchase_suppression_days),
     .doc = "For how many days after a purchase in a `lifecycle: once` category no item of that category is "
            "offered to the buyer."},
    {.name = "cross_channel_after_purchase",
     .kind = MES_PK_BOOL,
     .dflt = 0,
     POL(guardrails.cross_channel_after_purchase),
     .doc = "`false`: after a purchase, answers for `ads` and `email` never hold the bought item, its "
            "substitutes (similar items of the same category) or, within the suppression window, its "
            "`lifecycle: once` category, personal answer or not. `true`: follow-ups may reach the buyer there; "
            "the bought item itself is never offered again anywhere."},
    {.name = "shared_device",
     .kind = MES_PK_MAP,
     .fields = shared_device_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "What changes when a request says the device is shared (`context.device_shared: true`) or that "
            "nobody is signed in (`context.authenticated: false`)."},
    {.name = "third_party_data",
     .kind = MES_PK_CHOICE,
     .choices = third_party_choices,
     .dflt = 0,
     POL(guardrails.third_party_accept),
     .doc = "Whether events with `source: third_party` (bought or shared by others) are stored. Accepted, they "
            "may rank recommendations but never appear in a reason."},
    {0}};

static const struct mes__pfield model_fields[] = {
    {.name = "kind",
     .kind = MES_PK_CHOICE,
     .choices = model_choices,
     .dflt = MES_MODEL_AUTO,
     POL(model.kind),
     .doc = "The recommendation model: `cooc` (items seen together), `ease` (a linear model, better with "
            "enough data), `popular` (no personal model), `auto` (mesura chooses from the data)."},
    {.name = "retrain_every_minutes",
     .kind = MES_PK_INT,
     .dflt = 60,
     .max = 525600,
     POL(model.retrain_every_minutes),
     .doc = "How often the server rebuilds the model by itself, in minutes."},
    {.name = "retrain_after_events_pct",
     .kind = MES_PK_INT,
     .dflt = 10,
     .max = 100000,
     .zero_ok = true,
     POL(model.retrain_after_events_pct),
     .doc = "Rebuild the model sooner, once the stored events grew by this percentage since the last training "
            "(and by at least 1,000 events); 0 turns this off."},
    {.name = "max_memory_mb",
     .kind = MES_PK_INT,
     .dflt = 2048,
     .max = 1048576,
     POL(model.max_memory_mb),
     .doc = "The most memory one training run may use, in MiB."},
    {.name = "relation_half_life_days",
     .kind = MES_PK_INT,
     .dflt = 365,
     .max = 36500,
     .zero_ok = true,
     POL(model.relation_half_life_days),
     .doc = "How fast what was learnt about items going together fades: evidence this many days old counts "
            "half; 0 never fades. Popularity keeps a 60-day half-life of its own."},
    {.name = "recent_items_half_life",
     .kind = MES_PK_INT,
     .dflt = 3,
     .max = 1000,
     .zero_ok = true,
     POL(model.recent_items_half_life),
     .doc = "How much a person's latest items outweigh what they looked at before: the item this many places "
            "back in their history counts half as much as the latest one; 0 counts every recent item alike."},
    {.name = "history_half_life_days",
     .kind = MES_PK_INT,
     .dflt = 30,
     .max = 36500,
     .zero_ok = true,
     POL(model.history_half_life_days),
     .doc = "How fast a person's own events lose weight in their recommendations: an event this many days old "
            "counts half as much as one from today; 0 counts them alike at any age (a shop of regular "
            "purchases)."},
    {.name = "complements_pct",
     .kind = MES_PK_INT,
     .dflt = 150,
     .max = 1000,
     .zero_ok = true,
     POL(model.complements_pct),
     .doc = "How much what is bought together with a purchase counts, in percent of the purchase's other "
            "relations: above 100 puts what goes with a purchase first; 0 leaves it out."},
    {.name = "ease_lambda",
     .kind = MES_PK_INT,
     .dflt = 200,
     .max = 100000,
     POL(model.ease_lambda),
     .doc = "How strongly the EASE model is held back from reading much into few shoppers: larger leans on "
            "what many people take together (a shop of staples), smaller on rarer pairings."},
    {.name = "neighbors",
     .kind = MES_PK_INT,
     .dflt = 50,
     .max = 1000,
     POL(model.neighbors),
     .doc = "How many related items the model keeps per item and relation, and a person's item passes on: more "
            "reach further (a larger catalog of staples), at more memory and time per request."},
    {.name = "event_weights",
     .kind = MES_PK_MAP,
     .fields = event_weight_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "How much one event of each type counts, in what the model learns (popularity, EASE) and in a "
            "person's own history: views, clicks, carts and purchases say more or less about what a person "
            "wants. Takes effect at the next training. Searches and dismissals never count. The co-occurrence "
            "relations keep their own fixed evidence (bought together: a purchase 1, a cart 1/2; viewed "
            "together: views and clicks alike)."},
    {0}};

static const struct mes__pfield serving_fields[] = {
    {.name = "history_cache_mb",
     .kind = MES_PK_INT,
     .dflt = 64,
     .max = 65536,
     .zero_ok = true,
     POL(serving.history_cache_mb),
     .doc = "Memory kept for the decoded histories of people active right now, and for what they were "
            "recently shown (for the frequency cap), in MiB, one budget for both, so that their next requests "
            "need not read and decrypt every event and every past answer again; the least recently seen leave "
            "first, every use is checked against the store, and a new answer is read alone. 0 turns it off. A "
            "reload applies a new value at once."},
    {.name = "header_timeout_s",
     .kind = MES_PK_INT,
     .dflt = 10,
     .max = 3600,
     POL(serving.header_timeout_s),
     .doc = "Seconds a client has to send a request's head (its request line and headers) in full, counted from "
            "when it connects; past that the connection is closed, however steadily bytes trickle in. The head "
            "of a later request on a kept-alive connection has 60 seconds from the previous reply. A reload "
            "applies a new value to new connections."},
    {.name = "body_timeout_s",
     .kind = MES_PK_INT,
     .dflt = 60,
     .max = 3600,
     POL(serving.body_timeout_s),
     .doc = "Seconds a client has to send a request's body in full once its head has arrived; past that the "
            "connection is closed. A reload applies a new value to later requests."},
    {0}};

static const struct mes__pfield audit_schedule_fields[] = {
    {.name = "every_days",
     .kind = MES_PK_INT,
     .dflt = 0,
     .max = 3650,
     .zero_ok = true,
     POL(audit.schedule.every_days),
     .doc = "Every how many days the server runs this audit by itself and keeps it in the audit history "
            "(`GET /v1/audits/{id}`, `requested_by: schedule`); 0 runs none."},
    {.name = "attributes",
     .kind = MES_PK_NAMES,
     POL(audit.schedule.attributes),
     .off_count = offsetof(struct mes_policy, audit.schedule.n_attributes),
     .type_doc = "list of names",
     .default_doc = "none",
     .doc = "The recorded attributes the scheduled audit compares groups by (as `attributes` of "
            "`POST /v1/audits`); a schedule without any runs nothing."},
    {.name = "placement",
     .kind = MES_PK_STR,
     POL(audit.schedule.placement),
     .type_doc = "name",
     .default_doc = "`default`",
     .doc = "The placement whose answers it replays."},
    {.name = "channel",
     .kind = MES_PK_CHOICE,
     .choices = mes__channel_names,
     .dflt = MES_CH_WEB,
     POL(audit.schedule.channel),
     .doc = "The channel whose answers it replays."},
    {0}};

static const struct mes__pfield audit_fields[] = {
    {.name = "protected",
     .kind = MES_PK_NAMES,
     POL(audit.protected_attrs),
     .off_count = offsetof(struct mes_policy, audit.n_protected),
     .type_doc = "list of names",
     .default_doc = "`[age_band, gender, ethnicity, religion, nationality]`",
     .doc = "The attributes recorded for fairness audits that are protected: audits compare what the groups "
            "they form are shown, and look for other signals that stand in for them. Any other attribute "
            "recorded (postal code, device, ...) is a candidate proxy. An empty list means the default."},
    {.name = "min_group_size",
     .kind = MES_PK_INT,
     .dflt = MES_AUDIT_MIN_GROUP_DEFAULT,
     .max = 100000,
     POL(audit.min_group_size),
     .doc = "The fewest people a group of an audit may hold to be reported with its own figures; smaller "
            "groups are merged into `other` (or withheld when even that is too small), so that an audit never "
            "singles anyone out."},
    {.name = "sync_max_subjects",
     .kind = MES_PK_INT,
     .dflt = 2000,
     .max = 10000000,
     .zero_ok = true,
     POL(audit.sync_max_subjects),
     .doc = "The most people an audit may cover and still be answered at once (`201`); a larger one runs in "
            "the background and `POST /v1/audits` answers `202` with its id, to poll at `GET /v1/audits/{id}`. "
            "0 runs every audit in the background."},
    {.name = "placements",
     .kind = MES_PK_NAMES,
     POL(audit.placements),
     .off_count = offsetof(struct mes_policy, audit.n_placements),
     .type_doc = "list of names",
     .default_doc = "none: any placement",
     .doc = "The placements of the brand's surface (`home`, `product`, `cart`, ...) that audits may name; an "
            "audit naming another is refused and nothing is stored, as a misspelt placement would otherwise "
            "audit a slot where nothing is served."},
    {.name = "schedule",
     .kind = MES_PK_MAP,
     .fields = audit_schedule_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "An audit the server runs by itself, on a schedule."},
    {0}};

static const struct mes__pfield rights_fields[] = {
    {.name = "token_minutes",
     .kind = MES_PK_INT,
     .dflt = 15,
     .max = 1440,
     POL(rights.token_minutes),
     .doc = "How many minutes a token minted for a person (`POST /v1/subjects/{s}/tokens`, for their dashboard "
            "or their browser) works. Keep it short: a token is a bearer secret held by a browser, and the "
            "brand's backend can mint a new one whenever the person comes back."},
    {.name = "access_log_retention_days",
     .kind = MES_PK_INT,
     .dflt = 365,
     .max = 36500,
     POL(rights.access_log_retention_days),
     .doc = "How many days each entry of a person's access log (who read their data, when, what for) is kept. "
            "A year by default: the log exists so that a person, or a regulator asking about them, can see "
            "every read of the past year, and a read outlives the data it read by at most that long."},
    {0}};

static const struct mes__pfield cors_fields[] = {
    {.name = "allowed_origins",
     .kind = MES_PK_ORIGINS,
     POL(cors.allowed_origins),
     .off_count = offsetof(struct mes_policy, cors.n_allowed_origins),
     .type_doc = "list of origins (`https://host[:port]`)",
     .default_doc = "`[]`",
     .doc = "The web origins whose pages may call the API from a browser (CORS): a reply to a request that "
            "carries one of them in `Origin` names it in `Access-Control-Allow-Origin`, and a preflight "
            "(`OPTIONS`) from it is answered `204` with the methods and headers the API takes. Any other "
            "origin is named nowhere, so a browser keeps its pages from reading replies. Empty: the pages "
            "mesura serves itself (`/me`) are the only ones that can. List only your own sites; the "
            "credential still comes from a person's token (or a key, which never belongs in a browser)."},
    {0}};

const struct mes__pfield mes__policy_schema[] = {
    {.name = "site",
     .kind = MES_PK_STR,
     POL(site),
     .type_doc = "text",
     .default_doc = "none",
     .doc = "The brand's name, as the privacy notice names who is responsible."},
    {.name = "languages",
     .kind = MES_PK_CHOICES,
     .choices = mes__lang_names,
     POL(languages),
     .default_doc = "`[en]`",
     .doc = "The languages offered to people; English is always offered."},
    {.name = "purposes",
     .kind = MES_PK_DICT,
     .required = true,
     .max = MES_MAX_PURPOSES,
     .fields = purpose_fields,
     POL(purposes),
     .off_count = offsetof(struct mes_policy, n_purposes),
     .elem_size = sizeof(struct mes_purpose),
     .noun = "purpose",
     .type_doc = "mapping of names to settings",
     .doc = "Why personal data is used, each named (`personalization`, ...). Each purpose is asked for "
            "separately and is off until the person grants it. At most 32."},
    {.name = "event_types",
     .kind = MES_PK_DICT,
     .required = true,
     .max = 256,
     .fields = event_type_fields,
     POL(event_types),
     .off_count = offsetof(struct mes_policy, n_event_types),
     .elem_size = sizeof(struct mes_event_type),
     .noun = "event type",
     .type_doc = "mapping of names to settings",
     .doc = "The kinds of events accepted (`view`, `purchase`, ...). Any other type is refused. At most 256."},
    {.name = "categories",
     .kind = MES_PK_DICT,
     .max = 1000,
     .fields = category_fields,
     POL(categories),
     .off_count = offsetof(struct mes_policy, n_categories),
     .elem_size = sizeof(struct mes_category),
     .noun = "category",
     .distinct_case = true,
     .type_doc = "mapping of names to settings",
     .default_doc = "none",
     .doc = "Catalog categories that need special care. Categories not listed here are ordinary. At most 1000. "
            "Each is declared once, with all its settings: the same name twice, or two names that differ only "
            "in letter case (`Baby`, `baby`), is refused, as the category would be flagged two ways."},
    {.name = "guardrails",
     .kind = MES_PK_MAP,
     .fields = guardrail_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "Rules that hold on every recommendation, personal or not."},
    {.name = "model",
     .kind = MES_PK_MAP,
     .fields = model_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "How recommendations are computed."},
    {.name = "serving",
     .kind = MES_PK_MAP,
     .fields = serving_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "How the server uses memory to answer faster, and how long it waits for slow clients."},
    {.name = "audit",
     .kind = MES_PK_MAP,
     .fields = audit_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "Fairness audits (`POST /v1/audits`). Attributes are recorded only for people who granted a purpose "
            "named `audit`: declare one to enable audits."},
    {.name = "rights",
     .kind = MES_PK_MAP,
     .fields = rights_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "How people reach their own data and choices themselves (contract §7)."},
    {.name = "cors",
     .kind = MES_PK_MAP,
     .fields = cors_fields,
     .type_doc = "mapping",
     .default_doc = "see its keys",
     .doc = "Browsers on other origins (the brand's own pages) calling the API."},
    {.name = "decision_retention_days",
     .kind = MES_PK_INT,
     .dflt = 30,
     .max = 36500,
     POL(decision_retention_days),
     .doc = "How many days the record of each recommendation (what was shown and why) is kept."},
    {.name = "policy_version",
     .kind = MES_PK_STR,
     POL(version),
     .type_doc = "text",
     .default_doc = "the month the file was last changed (`YYYY-MM`)",
     .doc = "The version stamped on every consent receipt. Change it when the purposes change."},
    {0}};

/* ------------------------------------------------------------------------ */
/* docs/config.md reference table                                           */

/* "`a`, `b` or `c`" (or "list of `a`, `b`, `c`") from a row's choices. */
static void choice_list(const char *const *choices, bool list, char *out, size_t cap) {
  size_t at = (size_t)snprintf(out, cap, "%s", list ? "list of " : "");
  for (size_t i = 0; choices[i] && at < cap; i++) {
    const char *sep = i == 0 ? "" : (!list && !choices[i + 1]) ? " or " : ", ";
    at += (size_t)snprintf(out + at, cap - at, "%s`%s`", sep, choices[i]);
  }
}

/* What a row accepts and its default, derived from the row where it can be,
 * so that the table shows what the loader does. */
static void describe(const struct mes__pfield *f, char *type, size_t tcap, char *dflt, size_t dcap) {
  snprintf(type, tcap, "%s", f->type_doc ? f->type_doc : "");
  snprintf(dflt, dcap, "%s", f->required ? "required" : f->default_doc ? f->default_doc : "");
  switch (f->kind) {
  case MES_PK_INT:
    snprintf(type, tcap, "whole number, %d to %d", f->zero_ok ? 0 : 1, f->max);
    if (!f->required)
      snprintf(dflt, dcap, "%d", f->dflt);
    break;
  case MES_PK_BOOL:
    snprintf(type, tcap, "`true` or `false`");
    snprintf(dflt, dcap, "`%s`", f->dflt ? "true" : "false");
    break;
  case MES_PK_CHOICE:
    choice_list(f->choices, false, type, tcap);
    snprintf(dflt, dcap, "`%s`", f->choices[f->dflt]);
    break;
  case MES_PK_CHOICES:
    choice_list(f->choices, true, type, tcap);
    break;
  default:
    break;
  }
}

static int doc_rows(struct mes_buf *out, const struct mes__pfield *fields, const char *prefix) {
  for (const struct mes__pfield *f = fields; f->name; f++) {
    char type[128], dflt[128];
    describe(f, type, sizeof type, dflt, sizeof dflt);
    int rc = mes_buf_printf(out, "| `%s%s` | %s | %s | %s |\n", prefix, f->name, type, dflt, f->doc);
    if (rc)
      return rc;
    if (f->kind == MES_PK_MAP || f->kind == MES_PK_DICT) {
      char sub[128];
      snprintf(sub, sizeof sub, "%s%s.%s", prefix, f->name, f->kind == MES_PK_DICT ? "NAME." : "");
      if ((rc = doc_rows(out, f->fields, sub)))
        return rc;
    }
  }
  return MES_OK;
}

int mes__policy_schema_doc(struct mes_buf *out) {
  int rc = mes_buf_puts(out, "| key | accepts | default | meaning |\n|---|---|---|---|\n");
  return rc ? rc : doc_rows(out, mes__policy_schema, "");
}
