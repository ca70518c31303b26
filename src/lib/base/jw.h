/*
 * base/jw — a streaming JSON writer: values written one call each, straight
 * into a capped buffer (base/buf.h), for the replies of the hot path, where
 * building a json_t tree and dumping it cost more than the work behind the
 * answer (jansson spends about a microsecond per object it dumps).
 *
 * What it writes is what mes_json_dump (JSON_COMPACT) writes for the same
 * values, byte for byte: strings escaped as jansson escapes them (\" \\ \b
 * \f \n \r \t, other control characters as \u00XX, everything else, '/'
 * and non-ASCII included, as it is), reals as jansson prints them at a given
 * precision. A string or key that is not valid UTF-8 fails, as it fails in
 * jansson (json_string and json_pack refuse it, json_dumps fails on it),
 * before any of it is written. fuzz/fuzz_jw.c checks that jansson parses
 * back every text to the value it describes.
 *
 * Errors are sticky: the first failure is kept and every later call does
 * nothing, so a writer can be driven through a whole document and checked
 * once, with mes_jw_finish. Each call also returns the writer's state
 * (MES_OK or that first failure). After a failure the bytes written to the
 * buffer since mes_jw_init are not JSON: callers drop them.
 *
 * Failures: MES_ENOMEM, MES_EBODY_TOO_LARGE (the buffer's cap),
 * MES_EBAD_UTF8 (a string or key), MES_EINTERNAL (a call out of place: a
 * key in an array, a value where a key is due, an unbalanced close, nesting
 * deeper than MES_JW_DEPTH_MAX, a NULL string, a real that is not finite
 * or a precision outside 0 to 31).
 *
 * Memory: nothing is allocated but the buffer's growth. Thread-safety: none;
 * one writer per buffer.
 */
#ifndef MES_BASE_JW_H
#define MES_BASE_JW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define MES_JW_DEPTH_MAX 64
/* mes_json_dump's JSON_REAL_PRECISION: mes_jw_real(w, v, MES_JW_REAL_PRECISION)
 * writes the text it writes for v (tests/unit/base/test_jw.c holds the two
 * together). */
#define MES_JW_REAL_PRECISION 15

struct mes_jw {
  struct mes_buf *b; /* borrowed: the text is appended to it */
  int rc;            /* the first failure, or MES_OK */
  unsigned depth;    /* open objects and arrays */
  uint64_t objects;  /* bit d set: the container at depth d + 1 is an object */
  bool comma;        /* the next value or key follows another one at its level */
  bool key_done;     /* in an object: a key was written, its value is due */
  bool done;         /* the top-level value is complete */
};

/* Starts one JSON value at the end of b (borrowed; its cap bounds the text). */
void mes_jw_init(struct mes_jw *w, struct mes_buf *b);

/* Containers. */
int mes_jw_object(struct mes_jw *w);
int mes_jw_object_end(struct mes_jw *w);
int mes_jw_array(struct mes_jw *w);
int mes_jw_array_end(struct mes_jw *w);

/* A member's key (NUL-terminated, or len bytes that may hold NULs); the
 * value follows with one of the value calls. */
int mes_jw_key(struct mes_jw *w, const char *key);
int mes_jw_keyn(struct mes_jw *w, const char *key, size_t len);

/* Values. s is NUL-terminated for mes_jw_string; mes_jw_stringn takes len
 * bytes (a NUL among them is written \u0000). precision is jansson's
 * JSON_REAL_PRECISION: significant digits, 1 to 31, or 0 for its default
 * (17). */
int mes_jw_string(struct mes_jw *w, const char *s);
int mes_jw_stringn(struct mes_jw *w, const char *s, size_t len);
int mes_jw_integer(struct mes_jw *w, int64_t v);
int mes_jw_real(struct mes_jw *w, double v, int precision);
int mes_jw_bool(struct mes_jw *w, bool v);
int mes_jw_null(struct mes_jw *w);

/* MES_OK when one complete value was written and nothing failed; else the
 * first failure (MES_EINTERNAL for a value left incomplete). */
int mes_jw_finish(const struct mes_jw *w);

#endif
