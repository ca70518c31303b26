/*
 * catalog — the brand's items (contract §3): validation of the item shape,
 * single and batch upserts, reads, deletes and cursor pages.
 *
 * The catalog is not personal data: an item is stored in the clear as one
 * JSON document through the store's item_* ops. The document holds what the
 * client sent, normalised: {"title", "categories", "attributes", "available"}.
 * What depends on the policy (whether an item is sensitive) is computed when
 * the item is read, so that a policy reload takes effect at once.
 *
 * The catalog is a handle, struct mes_catalog: the store's items (the store
 * borrowed) and the in-memory index of them that serving reads (owned; see
 * "index" below). The engine makes one; every function takes it, and those
 * that depend on the request also take the request (struct mes_req,
 * policy/policy.h), whose policy snapshot resolves categories and whose
 * clock stamps writes. Item ids are passed as id and id_len:
 * a NUL-terminated string (borrowed) and its length, checked here by the id
 * rule (base/id.h). Errors fill err with the contract's
 * code, sentence and JSON pointer. Thread-safe as the store is.
 */
#ifndef MES_CATALOG_H
#define MES_CATALOG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/json.h"
#include "policy/policy.h"
#include "store/store.h"

#define MES_CATALOG_BATCH_MAX 10000     /* items in one POST /v1/items */
#define MES_CATALOG_MAX_ATTRIBUTES 64   /* keys of an item's "attributes" */
#define MES_CATALOG_DOC_MAX (64 * 1024) /* bytes of one stored item document */
#define MES_CATALOG_PAGE_DEFAULT 100
#define MES_CATALOG_PAGE_MAX 1000

struct mes_catalog; /* the handle (see "index" below) */

/* The field tables of the item shape (PUT /v1/items/{id}) and of the batch
 * body (POST /v1/items), for callers that parse a body before handing it
 * over (the engine's verbs). The catalog functions check them again. */
extern const struct mes_jfield mes_catalog_item_fields[];
extern const size_t mes_catalog_n_item_fields;
extern const struct mes_jfield mes_catalog_post_fields[];
extern const size_t mes_catalog_n_post_fields;

/* Checks one item object (borrowed) against the item shape. `with_id`: the
 * object must carry "id" (batch and import shapes) instead of taking it from
 * the URL. `ptr` is the object's JSON pointer ("" or "/items/3"), used in
 * err->field. On success *doc_out is a new string (caller frees): the
 * normalised document to store. Does not touch the store. */
int mes_catalog_validate(const json_t *item, bool with_id, const char *ptr, char **doc_out, struct mes_err *err);

/* PUT /v1/items/{id}: validates `body` (borrowed) and stores it under id
 * (id_len bytes, checked by the id rule), durably before returning. */
int mes_catalog_put(struct mes_catalog *cat, const struct mes_req *c, const char *id, size_t id_len, const json_t *body,
                    struct mes_err *err);

/* Upserts an array of item objects each carrying "id" (borrowed `items`,
 * at most MES_CATALOG_BATCH_MAX entries, not checked here). Valid items are
 * written in one transaction, durably; an invalid one is appended to `errors`
 * (borrowed array) as {"index": base_index + i, "error": {code, message,
 * field}} with field under `ptr` + "/i". *n_upserted gets the count written.
 * Fails only when the store does (then nothing was written). */
int mes_catalog_upsert(struct mes_catalog *cat, const struct mes_req *c, const json_t *items, const char *ptr,
                       size_t base_index, json_t *errors, size_t *n_upserted, struct mes_err *err);

/* POST /v1/items: the whole request body (borrowed) {"items": [...]}.
 * *reply is new: {"upserted": N, "errors": [...]}. MES_EBATCH_TOO_LARGE above
 * MES_CATALOG_BATCH_MAX items. */
int mes_catalog_post(struct mes_catalog *cat, const struct mes_req *c, const json_t *body, json_t **reply,
                     struct mes_err *err);

/* GET /v1/items/{id}: *out is new — the stored document plus "id" and
 * "sensitive" (true when any of its categories is sensitive in the current
 * policy). MES_ENOT_FOUND when absent. */
int mes_catalog_get(struct mes_catalog *cat, const struct mes_req *c, const char *id, size_t id_len, json_t **out,
                    struct mes_err *err);

/* DELETE /v1/items/{id}: durable before returning. MES_ENOT_FOUND when absent. */
int mes_catalog_delete(struct mes_catalog *cat, const char *id, size_t id_len, struct mes_err *err);

/* GET /v1/items?limit=N&cursor=C: `limit` 1..MES_CATALOG_PAGE_MAX (the caller
 * applies the default); `cursor` (borrowed, may be NULL) is an opaque value a
 * previous page returned. *out is new: {"items": [...], "next_cursor": C}
 * with next_cursor absent on the last page. MES_EINVALID_VALUE for a cursor
 * this server did not give out. */
int mes_catalog_list(struct mes_catalog *cat, const struct mes_req *c, int limit, const char *cursor, json_t **out,
                     struct mes_err *err);

/* The categories of item `id` as the catalog holds them, declared in the
 * policy or not (an undeclared category is an ordinary one): *out is a new
 * array of their names, in the item's order. For derived data (interests).
 * MES_ENOT_FOUND when the item is absent. */
int mes_catalog_item_categories(struct mes_catalog *cat, const char *id, json_t **out);

/* ================================================================ index
 *
 * An in-memory index of the catalog, so that serving never reads an item's
 * JSON from the store per candidate: per item id its availability, its
 * category names (at most MES_CATALOG_IDX_CATS kept) and its title per
 * language. Every catalog handle has one (one handle per process: the
 * engine's); mes_catalog_put, _upsert and _delete keep it current.
 *
 * Built from the store on first lookup (lazily: a CLI command that only
 * writes items never builds it). Writes apply to it inside their store
 * transaction, so the index follows the store's order of writes; a commit
 * that fails invalidates it (rebuilt on the next lookup). Items written by
 * another process (`mesura import` while a server runs) are noticed through
 * the store's catalog version (mes_catalog_refresh) and the index is
 * rebuilt. Thread-safe: a read-write lock; lookups copy out.
 */
#define MES_CATALOG_IDX_CATS 8 /* category names kept per item */

/* What serving needs to know about one item. The category names point into
 * the index's interned names: valid until mes_catalog_free, whatever
 * happens to the item. */
struct mes_catalog_entry {
  bool available;
  size_t n_cats;
  const char *cats[MES_CATALOG_IDX_CATS];
};

/* *out is new: the catalog of st (borrowed: it must outlive the handle),
 * its index empty and unbuilt. MES_ENOMEM. */
int mes_catalog_new(struct mes_store *st, struct mes_catalog **out);
void mes_catalog_free(struct mes_catalog *cat); /* NULL-safe */

/* Looks item id (len bytes) up, building the index from the store first
 * when needed. MES_OK (out filled), MES_ENOT_FOUND (not in the catalog), or
 * the store's error when a build fails. */
int mes_catalog_lookup(struct mes_catalog *cat, const char *id, size_t len, struct mes_catalog_entry *out);

/* The same for n items under one hold of the lock, the table's memory
 * fetched ahead a few items at a time: serving looks up a few hundred
 * candidates at once, and taking the lock and waiting on the cache misses
 * of one lookup at a time would be most of that work. found[i] says
 * whether ids[i] (lens[i] bytes) is in the catalog (out[i] filled) or not.
 * MES_OK, or the store's error when a build fails. */
int mes_catalog_lookup_many(struct mes_catalog *cat, const char *const *ids, const size_t *lens, size_t n,
                            struct mes_catalog_entry *out, bool *found);

/* Copies the title of item id in language l into out (cap bytes, truncated
 * at a UTF-8 boundary): the translation for l ("es" or "es-MX"), else en,
 * else the plain string or first translation. MES_ENOT_FOUND when absent. */
int mes_catalog_title(struct mes_catalog *cat, const char *id, size_t len, enum mes_lang l, char *out, size_t cap);

/* Calls cb for up to `max` items (0: all) in no particular order, under the
 * read lock: cb must be quick, must not call the index, and copies what it
 * keeps (id is borrowed for the call). Returns what the build returned. */
typedef int (*mes_catalog_each_cb)(void *ud, const char *id, const struct mes_catalog_entry *e);
int mes_catalog_each(struct mes_catalog *cat, size_t max, mes_catalog_each_cb cb, void *ud);

/* Drops the index (rebuilt on the next lookup) when the store's catalog
 * version is ahead of the one it reflects: another process (`mesura import`)
 * changed the catalog. The server's background thread calls it every
 * second, so such changes are served within about a second. Cheap: one read
 * of a meta row. */
int mes_catalog_refresh(struct mes_catalog *cat);

/* Items held (0 when not built). */
size_t mes_catalog_size(struct mes_catalog *cat);

/* Opaque cursors: base64url (no padding) of an id. encode: out needs
 * ((len + 2) / 3) * 4 + 1 bytes; returns the length written. decode: returns
 * the decoded length, or -1 when s is not base64url or out (cap bytes,
 * including the NUL) is too small. */
size_t mes_catalog_cursor_encode(const char *id, size_t len, char *out);
long mes_catalog_cursor_decode(const char *s, size_t len, char *out, size_t cap);

#endif
