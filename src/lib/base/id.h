/*
 * base/id — the contract's rule for ids (subject, item, category, purpose,
 * event_id): 1 to 128 bytes of valid UTF-8 without control characters.
 */
#ifndef MES_BASE_ID_H
#define MES_BASE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define MES_ID_MAX 128

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool mes_utf8_valid(const char *s, size_t len);

/* MES_OK, MES_EINVALID_ID (length or control characters) or MES_EBAD_UTF8. */
int mes_id_check(const char *s, size_t len);

/* Decodes %XX escapes of a URL path segment into out (cap bytes incl. NUL).
 * Returns the decoded length, or -1 on a bad escape, an embedded NUL or when
 * out is too small. */
long mes_url_decode(const char *s, size_t len, char *out, size_t cap);

#endif
