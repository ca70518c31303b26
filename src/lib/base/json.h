/*
 * base/json — jansson helpers: parsing a request body into a clear error,
 * the declarative field-table validator every request shape goes through,
 * the contract's timestamps, and RFC 8785 canonical serialization.
 *
 * Handlers never hand-roll json_object_get chains: they declare a table of
 * struct mes_jfield and call mes_json_check, which emits the contract's error
 * (code, sentence, JSON pointer), `unknown_field` included.
 */
#ifndef MES_BASE_JSON_H
#define MES_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

enum mes_jtype {
  MES_J_ANY,    /* any JSON value */
  MES_J_STRING, /* string, max = max bytes (0: unlimited), min = min bytes */
  MES_J_ID,     /* string obeying the id rule (base/id.h) */
  MES_J_INT,    /* integer within [min, max] */
  MES_J_NUMBER, /* integer or real */
  MES_J_BOOL,
  MES_J_OBJECT,
  MES_J_ARRAY, /* max = max items (0: unlimited) */
  MES_J_IDS,   /* array of ids, max = max items */
  MES_J_TS,    /* RFC 3339 string or integer epoch ms */
  MES_J_TEXT,  /* string, or object of language -> string */
};

struct mes_jfield {
  const char *name;
  enum mes_jtype type;
  bool required;
  int64_t min;
  int64_t max;
};

/* Parses a request body that must be a JSON object. Returns a new reference
 * in *out (caller json_decref's it). Errors: MES_EEMPTY_BODY, MES_EBAD_JSON
 * (with line and column), MES_EBAD_UTF8, MES_EWRONG_TYPE (not an object). */
int mes_json_parse_object(const char *body, size_t len, json_t **out, struct mes_err *err);
/* Whether text is JSON that json_loadb would take (an object or array at
 * the top), checked without allocating: mes_json_parse_object asks it when
 * jansson fails, to tell a failed allocation from a malformed body. */
bool mes__json_syntax_ok(const char *text, size_t len);

/* Checks `obj` (borrowed) against the table: unknown members, missing
 * required ones, types and bounds. `ptr` is the JSON pointer of obj ("" at the
 * top, "/events/3" inside a batch) used in err->field. */
int mes_json_check(const json_t *obj, const struct mes_jfield *fields, size_t n_fields, const char *ptr,
                   struct mes_err *err);

/* Reads a contract timestamp (RFC 3339 string or integer epoch ms). A value
 * more than 5 minutes after now_ms is MES_ETS_IN_FUTURE. `ptr` names the field. */
int mes_json_ts(const json_t *v, int64_t now_ms, int64_t *out_ms, const char *ptr, struct mes_err *err);

/* json_dumps(v, flags) that returns NULL, never a text with a member
 * missing, when memory runs out (jansson 2.14 can: see json.c). New string
 * (caller frees) or NULL. Use it, not json_dumps, for every text that is
 * stored or sent. */
char *mes_json_dumps(const json_t *v, size_t flags);

/* RFC 8785 canonical form (sorted keys, no whitespace, UTF-8 as is) of a value
 * made of objects, arrays, strings, integers, booleans and null. Returns a
 * new string (caller frees) or NULL when out of memory. */
char *mes_json_canonical(const json_t *v);

/* JSON_COMPACT output for people and programs reading an API reply or a
 * stored record: reals with 15 significant digits, so 0.0882 reads
 * "0.0882" rather than jansson's default "0.088200000000000001". Returns a
 * new string (caller frees) or NULL when out of memory. */
char *mes_json_dump(const json_t *v);

/* One object from the members of the JSON objects written back to back in
 * s (whitespace between them), later members replacing earlier ones: a
 * record stored as parts dumped at different times (recommend/record.c).
 * New, or NULL when s is not such a sequence or out of memory. */
json_t *mes_json_load_parts(const char *s, size_t len);

/* Turns obj's member `grouped`, a list stored grouped by the members its
 * entries share, back into the flat list `flat`: each element of `grouped`
 * is an object whose array member `list` holds the entries' own values, and
 * each value becomes one object {item: value, then the group's other
 * members}, groups and values in order. jansson spends about a microsecond
 * per object it dumps, so a record's list of a few hundred alike entries
 * (recommend's decision records: "suppressed") is stored as a few groups
 * and flattened when read. MES_OK, also when obj has no member `grouped`
 * (a record stored flat: left alone); MES_EBAD_INPUT when it is not such a
 * list (obj unchanged); MES_ENOMEM. */
int mes_json_ungroup(json_t *obj, const char *grouped, const char *flat, const char *list, const char *item);

/* Shorthands that return the member as a borrowed C string / integer, or the
 * fallback when absent or of another type. */
const char *mes_json_str(const json_t *obj, const char *key, const char *fallback);
int64_t mes_json_int(const json_t *obj, const char *key, int64_t fallback);
bool mes_json_bool(const json_t *obj, const char *key, bool fallback);

/* Appends "/" + escaped token to a JSON pointer (RFC 6901: ~ -> ~0, / -> ~1). */
void mes_json_ptr_join(char *out, size_t cap, const char *base, const char *token);

#endif
