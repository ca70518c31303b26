/*
 * catalog — items (contract §3). Validation goes through one field table per
 * shape (mes_json_check) plus the few rules a table cannot say: attributes
 * are bounded, titles are bounded per translation, repeated categories are
 * kept once. A category need not be declared in the policy: mesura.yaml lists
 * only the categories that need special care, and every other one is
 * ordinary (docs/config.md). Writes use the store's group commit: one
 * transaction per request (one per batch), acknowledged once durable.
 */
#include "catalog/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/id.h"
#include "base/json.h"
#include "catalog/catalog_int.h"
#include "store/store.h"

#define TITLE_MAX 1024 /* bytes of a title, per translation */
#define LANG_TAG_MAX 35
#define CATEGORIES_MAX 64

const struct mes_jfield mes_catalog_item_fields[] = {
    {"title", MES_J_TEXT, true, 0, 0},
    {"categories", MES_J_IDS, false, 0, CATEGORIES_MAX},
    {"attributes", MES_J_OBJECT, false, 0, 0},
    {"available", MES_J_BOOL, false, 0, 0},
};

static const struct mes_jfield item_with_id_fields[] = {
    {"id", MES_J_ID, true, 0, 0},
    {"title", MES_J_TEXT, true, 0, 0},
    {"categories", MES_J_IDS, false, 0, CATEGORIES_MAX},
    {"attributes", MES_J_OBJECT, false, 0, 0},
    {"available", MES_J_BOOL, false, 0, 0},
};

const struct mes_jfield mes_catalog_post_fields[] = {
    {"items", MES_J_ARRAY, true, 0, 0}, /* the size is checked apart: 413, not 400 */
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
const size_t mes_catalog_n_item_fields = N_OF(mes_catalog_item_fields);
const size_t mes_catalog_n_post_fields = N_OF(mes_catalog_post_fields);

/* ---------------------------------------------------------------- validation */

static bool lang_tag_ok(const char *k) {
  size_t n = strlen(k);
  if (n < 2 || n > LANG_TAG_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char ch = k[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-'))
      return false;
  }
  return true;
}

static int check_title_text(const json_t *v, const char *ptr, struct mes_err *err) {
  size_t n = json_string_length(v);
  if (n == 0 || n > TITLE_MAX)
    return mes_err_set(err, MES_EOUT_OF_RANGE, ptr, "A title must be 1 to %d bytes long.", TITLE_MAX);
  if (strlen(json_string_value(v)) != n)
    return mes_err_set(err, MES_EINVALID_VALUE, ptr, "A title must not contain NUL characters.");
  return MES_OK;
}

static int check_title(const json_t *title, const char *ptr, struct mes_err *err) {
  char p[200];
  mes_json_ptr_join(p, sizeof p, ptr, "title");
  if (json_is_string(title))
    return check_title_text(title, p, err);
  const char *lang;
  json_t *v;
  json_object_foreach((json_t *)title, lang, v) {
    char lp[200];
    mes_json_ptr_join(lp, sizeof lp, p, lang);
    if (!lang_tag_ok(lang))
      return mes_err_set(err, MES_EINVALID_VALUE, lp,
                         "A title's translations are keyed by language tags such as en or es-MX.");
    int rc = check_title_text(v, lp, err);
    if (rc)
      return rc;
  }
  return MES_OK;
}

/* A new array of the categories (ids already checked by the field table),
 * without repeats, in first-seen order. */
static int dedup_categories(const json_t *cats, json_t **out, struct mes_err *err) {
  json_t *norm = json_array();
  if (!norm)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t i, j;
  json_t *v, *w;
  json_array_foreach(cats, i, v) {
    bool seen = false;
    json_array_foreach(norm, j, w) {
      if (json_equal(v, w))
        seen = true;
    }
    if (!seen && json_array_append(norm, v)) {
      json_decref(norm);
      return mes_err_set(err, MES_ENOMEM, NULL, NULL);
    }
  }
  *out = norm;
  return MES_OK;
}

int mes_catalog_validate(const json_t *item, bool with_id, const char *ptr, char **doc_out, struct mes_err *err) {
  *doc_out = NULL;
  int rc = with_id ? mes_json_check(item, item_with_id_fields, N_OF(item_with_id_fields), ptr, err)
                   : mes_json_check(item, mes_catalog_item_fields, mes_catalog_n_item_fields, ptr, err);
  if (rc)
    return rc;
  rc = check_title(json_object_get(item, "title"), ptr, err);
  if (rc)
    return rc;
  const json_t *attrs = json_object_get(item, "attributes");
  if (json_is_object(attrs) && json_object_size(attrs) > MES_CATALOG_MAX_ATTRIBUTES) {
    char p[200];
    mes_json_ptr_join(p, sizeof p, ptr, "attributes");
    return mes_err_set(err, MES_EOUT_OF_RANGE, p, "An item has at most %d attributes.", MES_CATALOG_MAX_ATTRIBUTES);
  }
  json_t *cats = NULL;
  const json_t *given = json_object_get(item, "categories");
  if (json_is_array(given)) {
    rc = dedup_categories(given, &cats, err);
    if (rc)
      return rc;
  } else {
    cats = json_array();
  }
  json_t *a = json_is_object(attrs) ? json_incref((json_t *)attrs) : json_object();
  /* "o" steals cats and a, on failure too. */
  json_t *doc = json_pack("{s:O, s:o, s:o, s:b}", "title", json_object_get(item, "title"), "categories", cats,
                          "attributes", a, "available", mes_json_bool(item, "available", true));
  if (!doc)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  char *s = mes_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(doc);
  if (!s)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  if (strlen(s) > MES_CATALOG_DOC_MAX) {
    free(s);
    return mes_err_set(err, MES_EOUT_OF_RANGE, ptr, "An item's document is at most %d bytes.", MES_CATALOG_DOC_MAX);
  }
  *doc_out = s;
  return MES_OK;
}

/* ---------------------------------------------------------------- writes */

static int check_path_id(const char *id, size_t len, struct mes_err *err) {
  int rc = mes_id_check(id, len);
  if (rc)
    return mes_err_set(err, rc, NULL, "An item id must be 1 to 128 bytes of UTF-8 without control characters.");
  if (memchr(id, '\0', len) || id[len] != '\0')
    return mes_err_set(err, MES_EINVALID_ID, NULL, "An item id must not contain NUL characters.");
  return MES_OK;
}

int64_t mes__catalog_store_version(struct mes_store *st) {
  char buf[32];
  int rc = mes_store_meta_get(st, "catalog_version", buf, sizeof buf);
  if (rc == MES_ENOT_FOUND)
    return 0;
  if (rc)
    return -1;
  char *end = NULL;
  long long v = strtoll(buf, &end, 10);
  return end != buf && *end == '\0' && v >= 0 ? (int64_t)v : -1;
}

/* Commits the open transaction and waits until it is on disk. The index
 * took the transaction's changes already (under the store's writer lock, so
 * in the store's order); when the commit fails it may hold a change the
 * store does not, so it is dropped and rebuilt on the next lookup. */
static int commit_durable(struct mes_catalog *cat, struct mes_err *err) {
  struct mes_store *st = mes__catalog_store(cat);
  uint64_t ticket = 0;
  int rc = mes_store_tx_commit(st, &ticket);
  if (!rc)
    rc = mes_store_wait_durable(st, ticket);
  if (rc)
    mes__catalog_index_invalidate(cat);
  return rc ? mes_err_set(err, rc, NULL, NULL) : MES_OK;
}

int mes_catalog_put(struct mes_catalog *cat, const struct mes_req *c, const char *id, size_t id_len, const json_t *body,
                    struct mes_err *err) {
  struct mes_store *st = mes__catalog_store(cat);
  int rc = check_path_id(id, id_len, err);
  if (rc)
    return rc;
  char *doc;
  rc = mes_catalog_validate(body, false, "", &doc, err);
  if (rc)
    return rc;
  rc = mes_store_tx_begin(st);
  if (rc) {
    free(doc);
    return mes_err_set(err, rc, NULL, NULL);
  }
  int64_t before = mes__catalog_store_version(st);
  rc = mes_store_item_put(st, id, doc, c->now_ms);
  if (!rc) {
    mes__catalog_index_apply(cat, id, doc);
    mes__catalog_index_advance(cat, before, mes__catalog_store_version(st));
  }
  free(doc);
  if (rc) {
    mes_store_tx_rollback(st);
    return mes_err_set(err, rc, NULL, NULL);
  }
  return commit_durable(cat, err);
}

static int append_error(json_t *errors, size_t index, const struct mes_err *e) {
  json_t *eo = json_pack("{s:s, s:s}", "code", mes_rc_code(e->rc), "message", mes_err_text(e));
  if (eo && e->field[0] && json_object_set_new(eo, "field", json_string(e->field))) {
    json_decref(eo);
    eo = NULL;
  }
  json_t *row = eo ? json_pack("{s:I, s:o}", "index", (json_int_t)index, "error", eo) : NULL;
  if (!row || json_array_append_new(errors, row))
    return MES_ENOMEM;
  return MES_OK;
}

int mes_catalog_upsert(struct mes_catalog *cat, const struct mes_req *c, const json_t *items, const char *ptr,
                       size_t base_index, json_t *errors, size_t *n_upserted, struct mes_err *err) {
  struct mes_store *st = mes__catalog_store(cat);
  *n_upserted = 0;
  size_t n = json_array_size(items);
  char **docs = calloc(n ? n : 1, sizeof *docs);
  if (!docs)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = MES_OK;
  size_t n_valid = 0;
  for (size_t i = 0; i < n; i++) {
    char p[200], idx[24];
    snprintf(idx, sizeof idx, "%zu", base_index + i);
    mes_json_ptr_join(p, sizeof p, ptr, idx);
    struct mes_err ie;
    mes_err_clear(&ie);
    int vrc = mes_catalog_validate(json_array_get(items, i), true, p, &docs[i], &ie);
    if (vrc == MES_ENOMEM) {
      rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
      goto done;
    }
    if (vrc) {
      if (append_error(errors, base_index + i, &ie)) {
        rc = mes_err_set(err, MES_ENOMEM, NULL, NULL);
        goto done;
      }
      continue;
    }
    n_valid++;
  }
  if (n_valid == 0)
    goto done;
  rc = mes_store_tx_begin(st);
  if (rc) {
    rc = mes_err_set(err, rc, NULL, NULL);
    goto done;
  }
  int64_t before = mes__catalog_store_version(st);
  for (size_t i = 0; i < n; i++) {
    if (!docs[i])
      continue;
    rc = mes_store_item_put(st, mes_json_str(json_array_get(items, i), "id", ""), docs[i], c->now_ms);
    if (rc) {
      mes_store_tx_rollback(st);
      rc = mes_err_set(err, rc, NULL, NULL);
      goto done;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (docs[i])
      mes__catalog_index_apply(cat, mes_json_str(json_array_get(items, i), "id", ""), docs[i]);
  mes__catalog_index_advance(cat, before, mes__catalog_store_version(st));
  rc = commit_durable(cat, err);
  if (!rc)
    *n_upserted = n_valid;
done:
  for (size_t i = 0; i < n; i++)
    free(docs[i]);
  free(docs);
  return rc;
}

int mes_catalog_post(struct mes_catalog *cat, const struct mes_req *c, const json_t *body, json_t **reply,
                     struct mes_err *err) {
  *reply = NULL;
  int rc = mes_json_check(body, mes_catalog_post_fields, mes_catalog_n_post_fields, "", err);
  if (rc)
    return rc;
  const json_t *items = json_object_get(body, "items");
  if (json_array_size(items) > MES_CATALOG_BATCH_MAX)
    return mes_err_set(err, MES_EBATCH_TOO_LARGE, "/items", "A batch holds at most %d items.", MES_CATALOG_BATCH_MAX);
  json_t *errors = json_array();
  if (!errors)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  size_t n = 0;
  rc = mes_catalog_upsert(cat, c, items, "/items", 0, errors, &n, err);
  if (rc) {
    json_decref(errors);
    return rc;
  }
  *reply = json_pack("{s:I, s:o}", "upserted", (json_int_t)n, "errors", errors);
  return *reply ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

int mes_catalog_delete(struct mes_catalog *cat, const char *id, size_t id_len, struct mes_err *err) {
  struct mes_store *st = mes__catalog_store(cat);
  int rc = check_path_id(id, id_len, err);
  if (rc)
    return rc;
  rc = mes_store_tx_begin(st);
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  int64_t before = mes__catalog_store_version(st);
  rc = mes_store_item_delete(st, id);
  if (rc) {
    mes_store_tx_rollback(st);
    if (rc == MES_ENOT_FOUND)
      return mes_err_set(err, rc, NULL, "No item has this id.");
    return mes_err_set(err, rc, NULL, NULL);
  }
  mes__catalog_index_remove(cat, id);
  mes__catalog_index_advance(cat, before, mes__catalog_store_version(st));
  return commit_durable(cat, err);
}

/* ---------------------------------------------------------------- reads */

/* Parses a stored document and adds "id" and "sensitive". New reference or NULL. */
static json_t *present(const struct mes_req *c, const char *id, const char *doc) {
  json_t *o = json_loads(doc, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return NULL;
  }
  bool sensitive = false;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(o, "categories"), i, v) {
    int k = mes_policy_category(c->policy, json_string_value(v), json_string_length(v));
    if (k >= 0 && c->policy->categories[k].sensitive)
      sensitive = true;
  }
  if (json_object_set_new(o, "id", json_string(id)) || json_object_set_new(o, "sensitive", json_boolean(sensitive))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int mes_catalog_get(struct mes_catalog *cat, const struct mes_req *c, const char *id, size_t id_len, json_t **out,
                    struct mes_err *err) {
  struct mes_store *st = mes__catalog_store(cat);
  *out = NULL;
  int rc = check_path_id(id, id_len, err);
  if (rc)
    return rc;
  char *doc = NULL;
  rc = mes_store_item_get(st, id, &doc);
  if (rc == MES_ENOT_FOUND)
    return mes_err_set(err, rc, NULL, "No item has this id.");
  if (rc)
    return mes_err_set(err, rc, NULL, NULL);
  *out = present(c, id, doc);
  free(doc);
  return *out ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

int mes_catalog_item_categories(struct mes_catalog *cat, const char *id, json_t **out) {
  struct mes_store *st = mes__catalog_store(cat);
  *out = NULL;
  char *doc = NULL;
  int rc = mes_store_item_get(st, id, &doc);
  if (rc)
    return rc;
  json_t *o = json_loads(doc, 0, NULL);
  free(doc);
  json_t *cats = json_object_get(o, "categories");
  if (!json_is_array(cats)) {
    json_decref(o);
    return MES_ESTORE;
  }
  *out = json_incref(cats);
  json_decref(o);
  return MES_OK;
}

struct page {
  const struct mes_req *c;
  json_t *items;
  int want; /* items the page shows; one more is fetched to know whether a next page exists */
  int got;
  bool more;
  bool failed;
  char last[MES_ID_MAX + 1];
};

static int page_cb(void *ud, const char *id, const char *doc) {
  struct page *pg = ud;
  if (pg->got == pg->want) {
    pg->more = true;
    return 1;
  }
  json_t *o = present(pg->c, id, doc);
  if (!o || json_array_append_new(pg->items, o)) {
    pg->failed = true;
    return 1;
  }
  snprintf(pg->last, sizeof pg->last, "%s", id);
  pg->got++;
  return 0;
}

int mes_catalog_list(struct mes_catalog *cat, const struct mes_req *c, int limit, const char *cursor, json_t **out,
                     struct mes_err *err) {
  struct mes_store *st = mes__catalog_store(cat);
  *out = NULL;
  if (limit < 1 || limit > MES_CATALOG_PAGE_MAX)
    return mes_err_set(err, MES_EOUT_OF_RANGE, "/query/limit", "limit must be between 1 and %d.", MES_CATALOG_PAGE_MAX);
  char after[MES_ID_MAX + 1];
  if (cursor) {
    long n = mes_catalog_cursor_decode(cursor, strlen(cursor), after, sizeof after);
    if (n < 0 || mes_id_check(after, (size_t)n) || strlen(after) != (size_t)n)
      return mes_err_set(err, MES_EINVALID_VALUE, "/query/cursor", "The cursor is not one this server gave out.");
  }
  struct page pg = {.c = c, .items = json_array(), .want = limit};
  if (!pg.items)
    return mes_err_set(err, MES_ENOMEM, NULL, NULL);
  int rc = mes_store_item_list(st, cursor ? after : NULL, limit + 1, page_cb, &pg);
  if (rc || pg.failed) {
    json_decref(pg.items);
    return mes_err_set(err, rc ? rc : MES_ENOMEM, NULL, NULL);
  }
  json_t *o = json_pack("{s:o}", "items", pg.items);
  if (o && pg.more) {
    char enc[((MES_ID_MAX + 2) / 3) * 4 + 1];
    mes_catalog_cursor_encode(pg.last, strlen(pg.last), enc);
    if (json_object_set_new(o, "next_cursor", json_string(enc))) {
      json_decref(o);
      o = NULL;
    }
  }
  *out = o;
  return o ? MES_OK : mes_err_set(err, MES_ENOMEM, NULL, NULL);
}

/* ---------------------------------------------------------------- cursors */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t mes_catalog_cursor_encode(const char *id, size_t len, char *out) {
  const unsigned char *s = (const unsigned char *)id;
  size_t o = 0, i = 0;
  for (; i + 2 < len; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    out[o++] = b64url[v >> 18];
    out[o++] = b64url[(v >> 12) & 63];
    out[o++] = b64url[(v >> 6) & 63];
    out[o++] = b64url[v & 63];
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    out[o++] = b64url[v >> 18];
    out[o++] = b64url[(v >> 12) & 63];
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    out[o++] = b64url[v >> 18];
    out[o++] = b64url[(v >> 12) & 63];
    out[o++] = b64url[(v >> 6) & 63];
  }
  out[o] = '\0';
  return o;
}

static int b64url_val(char ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '-')
    return 62;
  if (ch == '_')
    return 63;
  return -1;
}

long mes_catalog_cursor_decode(const char *s, size_t len, char *out, size_t cap) {
  if (len % 4 == 1)
    return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64url_val(s[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o + 1 >= cap)
        return -1;
      out[o++] = (char)((acc >> bits) & 0xFF);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return -1; /* non-canonical trailing bits */
  if (o >= cap)
    return -1;
  out[o] = '\0';
  return (long)o;
}
