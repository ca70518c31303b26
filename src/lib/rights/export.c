/*
 * rights/export — the profile summary and the data-subject export (contract
 * §7). The summary reads only clear columns; the export unseals through the
 * owning modules (ingest for events, consent for the ledger and preferences)
 * and adds what mesura derived from them, labelled as derived.
 */
#include "rights/rights.h"

#include <stdlib.h>
#include <string.h>

#include "base/mtime.h"
#include "catalog/catalog.h"
#include "consent/consent.h"
#include "ingest/ingest.h"
#include "recommend/decrec.h"
#include "rights/rights_int.h"
#include "store/store.h"

#define MAX_ITEM_CATEGORIES 64

/* ---------------------------------------------------------------- summary */

struct tally {
  const struct mes_policy *policy;
  int64_t total;
  int64_t first_ms, last_ms; /* 0 when no event */
  int64_t *by_type;          /* n_event_types counters */
};

static int tally_cb(void *ud, const struct mes_event_row *row) {
  struct tally *t = ud;
  t->total++;
  if (row->type >= 0 && (size_t)row->type < t->policy->n_event_types)
    t->by_type[row->type]++;
  if (!t->first_ms || row->ts_ms < t->first_ms)
    t->first_ms = row->ts_ms;
  if (row->ts_ms > t->last_ms)
    t->last_ms = row->ts_ms;
  return 0;
}

static json_t *ts_or_null(int64_t ms) {
  if (!ms)
    return json_null();
  char ts[32];
  mes_time_format(ms, ts);
  return json_string(ts);
}

int mes_rights_summary(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                       const struct mes_subject *s, json_t **out, struct mes_err *err) {
  *out = NULL;
  const struct mes_policy *p = c->policy;
  struct tally t = {.policy = p, .by_type = calloc(p->n_event_types + 1, sizeof(int64_t))};
  json_t *o = NULL, *by_type = NULL, *granted = NULL;
  int rc;
  if (!t.by_type) {
    rc = MES_ENOMEM;
    goto error;
  }
  rc = mes_store_event_list(rt->store, s->row.id, tally_cb, &t);
  if (rc)
    goto error;
  by_type = json_object();
  granted = json_array();
  if (!by_type || !granted) {
    rc = MES_ENOMEM;
    goto error;
  }
  for (size_t i = 0; i < p->n_event_types; i++)
    if (t.by_type[i] && json_object_set_new(by_type, p->event_types[i].name, json_integer(t.by_type[i]))) {
      rc = MES_ENOMEM;
      goto error;
    }
  for (size_t i = 0; i < p->n_purposes && i < MES_MAX_PURPOSES; i++)
    if ((s->row.granted & (1u << i)) && json_array_append_new(granted, json_string(p->purposes[i].name))) {
      rc = MES_ENOMEM;
      goto error;
    }
  int64_t first = s->row.created_ms;
  if (t.first_ms && (!first || t.first_ms < first))
    first = t.first_ms;
  o = json_pack("{s:s%, s:o, s:o, s:{s:I, s:o}, s:o, s:b}", "subject", subject_id, id_len, "first_seen",
                ts_or_null(first), "last_seen", ts_or_null(t.last_ms), "events", "total", (json_int_t)t.total,
                "by_type", by_type, "purposes_granted", granted, "restricted", s->row.restricted);
  by_type = granted = NULL; /* stolen by json_pack, on failure too */
  if (!o) {
    rc = MES_ENOMEM;
    goto error;
  }
  free(t.by_type);
  *out = o;
  return MES_OK;
error:
  free(t.by_type);
  json_decref(by_type);
  json_decref(granted);
  return mes_err_set(err, rc, NULL, NULL);
}

/* ---------------------------------------------------------------- export */

/* Event types whose items say what a person is interested in. */
static const char *const interest_types[] = {"view", "add_to_cart", "purchase"};
#define N_INTEREST_TYPES (sizeof interest_types / sizeof interest_types[0])

/* How "interests" was derived, in each language (enum mes_lang). */
static const char *const interest_method[MES_LANG_N] = {
    "Inferred by mesura, not told by you: for each item you viewed, added to your cart or bought, the item's "
    "catalog categories were counted once per event. Nothing else was inferred.",
    "Deducido por mesura, no indicado por ti: por cada artículo que viste, añadiste al carrito o compraste, se "
    "contaron sus categorías del catálogo una vez por evento. No se dedujo nada más.",
    "Wywnioskowane przez mesura, nie podane przez Ciebie: dla każdego produktu, który oglądałeś, dodałeś do "
    "koszyka lub kupiłeś, policzono jego kategorie z katalogu raz na zdarzenie. Nic więcej nie wywnioskowano.",
};

struct collect {
  const struct mes_policy *policy;
  json_t *events;     /* the events as the API shows them */
  json_t *seen_items; /* item -> {type: count}, for the interest types */
  bool failed;
  int rc; /* an event that could not be shown (mes_evrec_json) */
};

static int interest_type(const struct mes_policy *p, int type) {
  if (type < 0 || (size_t)type >= p->n_event_types)
    return -1;
  for (size_t i = 0; i < N_INTEREST_TYPES; i++)
    if (strcmp(p->event_types[type].name, interest_types[i]) == 0)
      return (int)i;
  return -1;
}

static int collect_cb(void *ud, const struct mes_evrec *ev) {
  struct collect *k = ud;
  json_t *shown = NULL;
  if ((k->rc = mes_evrec_json(ev, k->policy, &shown)))
    return 1;
  if (json_array_append_new(k->events, shown)) {
    k->failed = true;
    return 1;
  }
  int it = interest_type(k->policy, ev->type);
  if (it < 0 || !ev->item)
    return 0;
  json_t *counts = json_object_get(k->seen_items, ev->item);
  if (!counts) {
    counts = json_object();
    if (!counts || json_object_set_new(k->seen_items, ev->item, counts)) {
      k->failed = true;
      return 1;
    }
  }
  const char *tn = interest_types[it];
  if (json_object_set_new(counts, tn, json_integer(mes_json_int(counts, tn, 0) + 1))) {
    k->failed = true;
    return 1;
  }
  return 0;
}

/* Sorts category rows by count, then name. */
static int by_count(const void *a, const void *b) {
  const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
  int64_t cx = mes_json_int(x, "count", 0), cy = mes_json_int(y, "count", 0);
  if (cx != cy)
    return cx > cy ? -1 : 1;
  return strcmp(mes_json_str(x, "category", ""), mes_json_str(y, "category", ""));
}

/* The row of category `name` in by_name (borrowed), made on first use: a
 * category the policy declares shows its label and whether it is sensitive;
 * any other is an ordinary one, labelled by its name. NULL when out of memory. */
static json_t *interest_row(const struct mes_policy *p, json_t *by_name, const char *name, enum mes_lang lang) {
  json_t *row = json_object_get(by_name, name);
  if (row)
    return row;
  int k = mes_policy_category(p, name, strlen(name));
  const struct mes_category *cat = k >= 0 ? &p->categories[k] : NULL;
  const char *label = cat ? (cat->label[lang] ? cat->label[lang] : cat->label[MES_LANG_EN]) : NULL;
  row = json_pack("{s:s, s:s, s:b, s:I, s:{}}", "category", name, "label", label ? label : name, "sensitive",
                  cat && cat->sensitive, "count", (json_int_t)0, "by_type");
  if (!row || json_object_set_new(by_name, name, row))
    return NULL; /* json_object_set_new dropped row */
  return row;
}

/* From seen_items to the "interests" object: each item's categories in the
 * catalog, counted once per event. New reference or NULL (out of memory, or
 * the catalog could not be read). */
static json_t *derive_interests(struct mes_rights *rt, const struct mes_req *c, json_t *seen_items,
                                enum mes_lang lang) {
  json_t *by_name = json_object(), *out = NULL, *types = NULL, *cats = NULL;
  json_t **rows = NULL;
  if (!by_name)
    return NULL;
  const char *item;
  json_t *counts;
  json_object_foreach(seen_items, item, counts) {
    json_t *names = NULL;
    int rc = mes_catalog_item_categories(rt->catalog, item, &names);
    if (rc == MES_ENOT_FOUND)
      continue; /* an item since deleted from the catalog tells nothing any more */
    if (rc)
      goto done; /* skipping it would export less than is held */
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) {
      if (i >= MAX_ITEM_CATEGORIES || !json_is_string(v))
        break;
      json_t *row = interest_row(c->policy, by_name, json_string_value(v), lang);
      if (!row) {
        json_decref(names);
        goto done;
      }
      const char *tn;
      json_t *n;
      json_t *bt = json_object_get(row, "by_type");
      json_object_foreach(counts, tn, n) {
        int64_t add = json_integer_value(n);
        if (json_object_set_new(bt, tn, json_integer(mes_json_int(bt, tn, 0) + add)) ||
            json_object_set_new(row, "count", json_integer(mes_json_int(row, "count", 0) + add))) {
          json_decref(names);
          goto done;
        }
      }
    }
    json_decref(names);
  }
  size_t n_rows = 0;
  rows = calloc(json_object_size(by_name) + 1, sizeof *rows);
  if (!rows)
    goto done;
  const char *name;
  json_t *row;
  json_object_foreach(by_name, name, row)
    rows[n_rows++] = row; /* borrowed from by_name */
  qsort(rows, n_rows, sizeof *rows, by_count);
  cats = json_array();
  types = json_array();
  if (!cats || !types)
    goto done;
  for (size_t i = 0; i < N_INTEREST_TYPES; i++)
    if (json_array_append_new(types, json_string(interest_types[i])))
      goto done;
  for (size_t i = 0; i < n_rows; i++)
    if (json_array_append(cats, rows[i]))
      goto done;
  out = json_pack("{s:b, s:s, s:o, s:o}", "derived", 1, "method", interest_method[lang], "from_event_types", types,
                  "categories", cats);
  types = cats = NULL;
done:
  free(rows);
  json_decref(by_name);
  json_decref(types);
  json_decref(cats);
  return out;
}

struct imp_list {
  json_t *arr;
  bool failed;
};

static int impression_cb(void *ud, const char *item, int channel, int64_t ts_ms) {
  struct imp_list *l = ud;
  char ts[32];
  mes_time_format(ts_ms, ts);
  const char *ch = channel >= 0 && channel < MES_CH_N ? mes_channel_name((enum mes_channel)channel) : "unknown";
  json_t *o = json_pack("{s:s, s:s, s:s}", "item", item, "channel", ch, "ts", ts);
  if (!o || json_array_append_new(l->arr, o)) {
    l->failed = true;
    return 1;
  }
  return 0;
}

/* Decision records of the subject (contract §6), unsealed with their key:
 * the answers given, the placements, and what rules held back. */
struct dec_list {
  struct mes_subjects *subjects;
  json_t *arr;
  int rc;
};

static int decision_cb(void *ud, const struct mes_decision_row *row) {
  struct dec_list *l = ud;
  json_t *rec = NULL;
  int rc = mes_decrec_open(l->subjects, row, &rec);
  if (rc == MES_ECRYPTO)
    return 0; /* a damaged record is not worth failing the whole export */
  if (rc) {
    l->rc = rc;
    return 1;
  }
  /* What the rules removed, as GET /v1/recommendations/{id} shows it. */
  if ((rc = mes_json_ungroup(rec, "suppressed_by", "suppressed", "items", "item"))) {
    json_decref(rec);
    if (rc != MES_ENOMEM)
      return 0; /* damaged, as above */
    l->rc = rc;
    return 1;
  }
  if (json_array_append_new(l->arr, rec)) {
    l->rc = MES_ENOMEM;
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------ item titles */

#define TITLE_CAP 512

/* Adds the "item" of each object of arr (borrowed, may be NULL) to `ids` as
 * a key; an object without one adds nothing. */
static int note_items(json_t *ids, const json_t *arr) {
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    const json_t *id = json_object_get(v, "item");
    if (json_is_string(id) && json_object_set_new(ids, json_string_value(id), json_null()))
      return MES_ENOMEM;
  }
  return MES_OK;
}

/* Every item the document names (its events, impressions, decisions and
 * the events a decision's reason cites) with its title in `lang`, so that a
 * person reads "Trail Tent" where the store keeps an id: {"ID": {"title":
 * T}}, T null for an item no longer in the catalog. New reference or NULL
 * (out of memory, or the catalog could not be read). */
static json_t *item_titles(struct mes_rights *rt, const json_t *doc, enum mes_lang lang) {
  json_t *ids = json_object(), *out = json_object();
  int rc = ids && out ? MES_OK : MES_ENOMEM;
  if (!rc)
    rc = note_items(ids, json_object_get(doc, "events"));
  if (!rc)
    rc = note_items(ids, json_object_get(doc, "impressions"));
  size_t i, j;
  json_t *v, *w;
  json_array_foreach(json_object_get(doc, "decisions"), i, v) {
    json_t *items = json_object_get(v, "items");
    if (!rc)
      rc = note_items(ids, items);
    json_array_foreach(items, j, w) {
      if (!rc)
        rc = note_items(ids, json_object_get(json_object_get(w, "reason"), "based_on"));
    }
  }
  const char *id;
  json_object_foreach(ids, id, v) {
    if (rc)
      break;
    char title[TITLE_CAP];
    int trc = mes_catalog_title(rt->catalog, id, strlen(id), lang, title, sizeof title);
    if (trc && trc != MES_ENOT_FOUND) {
      rc = trc;
      break;
    }
    if (json_object_set_new(out, id, json_pack("{s:o}", "title", trc ? json_null() : json_string(title))))
      rc = MES_ENOMEM;
  }
  json_decref(ids);
  if (rc) {
    json_decref(out);
    return NULL;
  }
  return out;
}

int mes_rights_export(struct mes_rights *rt, const struct mes_req *c, const char *subject_id, size_t id_len,
                      const struct mes_subject *s, enum mes_lang lang, json_t **out, struct mes_err *err) {
  *out = NULL;
  int rc;
  json_t *doc = NULL, *part = NULL;
  struct collect k = {.policy = c->policy, .events = json_array(), .seen_items = json_object()};
  struct imp_list imps = {.arr = json_array()};
  if (!k.events || !k.seen_items || !imps.arr) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  rc = mes_rights_summary(rt, c, subject_id, id_len, s, &part, err);
  if (rc)
    goto error;
  doc = json_pack("{s:s%, s:o}", "subject", subject_id, id_len, "summary", part);
  part = NULL;
  if (!doc) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  rc = mes_ingest_list(rt->ingester, c, s->row.id, collect_cb, &k, err);
  if (!rc && k.rc)
    rc = mes_err_set(err, k.rc, NULL, NULL);
  if (!rc && k.failed)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (rc)
    goto error;
  rc = json_object_set(doc, "events", k.events) ? mes_err_set(err, MES_ENOMEM, NULL, NULL) : MES_OK;
  if (rc)
    goto error;

  rc = mes_consent_get(rt->ledger, c, subject_id, id_len, &part, err);
  if (rc)
    goto error;
  rc = json_object_set_new(doc, "consents", part);
  part = NULL; /* stolen, on failure too */
  if (rc) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  rc = mes_consent_get_preferences(rt->ledger, s->row.id, &part, err);
  if (rc)
    goto error;
  rc = json_object_set_new(doc, "preferences", part);
  part = NULL;
  if (rc) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }

  rc = mes_recommender_shown_list(rt->rec, s->row.id, 0, impression_cb, &imps, err);
  if (!rc && imps.failed)
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (rc)
    goto error;
  struct dec_list decs = {.subjects = rt->subjects, .arr = json_array()};
  rc = decs.arr ? mes_store_decision_list(rt->store, s->row.id, decision_cb, &decs) : MES_ENOMEM;
  if (!rc)
    rc = decs.rc;
  if (rc) {
    json_decref(decs.arr);
    rc = mes_err_set(err, rc, NULL, NULL);
    goto error;
  }
  char now[32];
  mes_time_format(c->now_ms, now);
  bool bad = json_object_set_new(doc, "interests", derive_interests(rt, c, k.seen_items, lang)) ||
             json_object_set(doc, "impressions", imps.arr);
  bad = json_object_set_new(doc, "decisions", decs.arr) || bad; /* reached always: it takes decs.arr, failing too */
  if (bad || json_object_set_new(doc, "protected_attributes", json_object()) ||
      json_object_set_new(doc, "access_log", json_array()) ||
      json_object_set_new(doc, "exported_at", json_string(now)) ||
      json_object_set_new(doc, "items", item_titles(rt, doc, lang))) {
    rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
    goto error;
  }
  json_decref(k.events);
  json_decref(k.seen_items);
  json_decref(imps.arr);
  *out = doc;
  return MES_OK;
error:
  json_decref(part);
  json_decref(doc);
  json_decref(k.events);
  json_decref(k.seen_items);
  json_decref(imps.arr);
  return rc;
}
