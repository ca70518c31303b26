/*
 * consent/prefrec — a person's stated preferences (zero-party data,
 * contract §5): their in-memory form (struct mes_prefs) and the one codec of
 * the document sealed for them. Every reader (the recommender, the export,
 * the API's replies, a PATCH that changes them) gets this struct from
 * mes_prefs_decode, and every writer stores what mes_prefs_encode makes of
 * one, so that the document is parsed once per read and its shape is known
 * in one place.
 *
 * The stored document (sealed with the subject's key, kind "pref") is the
 * compact JSON object, keys sorted,
 *
 *   {"declared": {name: true|false|number|text, ...},
 *    "do_not_use_items": [item, ...],      (only when not empty)
 *    "exclude_categories": [category, ...],
 *    "interests": [category, ...]}
 *
 * which is what every store holds: sealed documents cannot be rewritten by
 * a schema step (the store sees only ciphertext), so this codec reads them
 * as they are and writes the same shape. The API shows the same object
 * (mes_prefs_json). Members the codec does not know, and entries of a list
 * that are not strings, are ignored when reading.
 */
#ifndef MES_CONSENT_PREFREC_H
#define MES_CONSENT_PREFREC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

/* A list of ids (categories or items), in first-seen order, without
 * repeats. Strings NUL-terminated, owned by the struct mes_prefs. */
struct mes_prefs_ids {
  const char **v;
  size_t *len;
  size_t n;
};

enum mes_prefs_kind { MES_PREFS_BOOL, MES_PREFS_INT, MES_PREFS_REAL, MES_PREFS_TEXT };

/* One declared fact: a name and a value as the person gave it. */
struct mes_prefs_fact {
  const char *name; /* NUL-terminated */
  size_t name_len;
  enum mes_prefs_kind kind;
  bool b;           /* BOOL */
  int64_t i;        /* INT */
  double r;         /* REAL */
  const char *text; /* TEXT: NUL-terminated (declared texts hold no NUL) */
  size_t text_len;
};

/* One person's preferences. Everything it points to lives in its arena:
 * release it with mes_prefs_release. A zeroed struct is empty (no
 * preferences: what a person who never stated any has). */
struct mes_prefs {
  struct mes_prefs_ids interests;          /* categories: feed personal answers */
  struct mes_prefs_ids exclude_categories; /* categories never shown to them */
  struct mes_prefs_ids do_not_use_items;   /* items whose events never drive their suggestions */
  struct mes_prefs_fact *declared;         /* in the order given (stored documents: sorted by name) */
  size_t n_declared;
  struct mes_arena arena; /* private */
};

/* Embedded lifecycle: an empty struct, ready for mes_prefs_patch; release
 * frees everything it points to (NULL-safe; *p is then zeroed). */
void mes_prefs_init(struct mes_prefs *p);
void mes_prefs_release(struct mes_prefs *p);

/* Reads a document shaped as above (doc borrowed: a stored document, or a
 * checked PUT body) into *out (new: release it). Lists keep their first
 * occurrence of each entry. MES_OK; MES_EINTERNAL when doc is not an object;
 * MES_ENOMEM. */
int mes_prefs_from_json(const json_t *doc, struct mes_prefs *out);

/* Decodes a stored document's plaintext (text, len; borrowed) into *out
 * (new). MES_OK; MES_EINTERNAL when it is JSON but not an object;
 * MES_ENOMEM, also for text that does not load (what opened under the
 * subject's key is what was written: only memory fails to load it). */
int mes_prefs_decode(const char *text, size_t len, struct mes_prefs *out);

/* The stored document of p: *out new (malloc'd, NUL-terminated), *len its
 * length. MES_OK or MES_ENOMEM. */
int mes_prefs_encode(const struct mes_prefs *p, char **out, size_t *len);

/* p as the API shows it (the stored document's object: the two core lists
 * and "declared" always, do_not_use_items when not empty). *out new. MES_OK
 * or MES_ENOMEM. */
int mes_prefs_json(const struct mes_prefs *p, json_t **out);

/* Changes p by a checked PATCH (add and remove borrowed, either may be
 * NULL; shaped as mes_consent_patch_preferences says): removals first, then
 * additions, so that a value in both ends up present; a declared name added
 * again gets its new value in its place. MES_OK; MES_EOUT_OF_RANGE when a
 * list ends up with more than max_ids entries (*full names it; p is then
 * partly changed: drop it); MES_ENOMEM. */
int mes_prefs_patch(struct mes_prefs *p, const json_t *add, const json_t *remove, size_t max_ids,
                    const char **full);

#endif
