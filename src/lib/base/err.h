/*
 * base/err — filling struct mes_err (the table itself is public, in
 * include/mesura/error.h).
 */
#ifndef MES_BASE_ERR_H
#define MES_BASE_ERR_H

#include <mesura/error.h>

#if defined(__GNUC__)
#define MES_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MES_PRINTF(a, b)
#endif

/* Sets err (when non-NULL) to rc with an optional JSON pointer `field` (NULL
 * for none) and a printf-style sentence (NULL fmt: the table's default).
 * Both are cut to their buffers, never inside a UTF-8 character: they are
 * valid UTF-8 whenever their sources are, so a reply can always carry them.
 * Returns rc so that callers can `return mes_err_set(...)`. */
int mes_err_set(struct mes_err *err, int rc, const char *field, const char *fmt, ...) MES_PRINTF(4, 5);

/* Clears err to MES_OK. NULL-safe. */
void mes_err_clear(struct mes_err *err);

/* The message to show: err->msg, or the table's default when empty. */
const char *mes_err_text(const struct mes_err *err);

#endif
