/*
 * base/buf — a growable byte buffer with a hard cap set at creation (like
 * curl's dynbuf), and length-carrying slices. The buffer is always
 * NUL-terminated so that it can be handed to C string APIs.
 */
#ifndef MES_BASE_BUF_H
#define MES_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct mes_slice {
  const char *ptr; /* borrowed */
  size_t len;
};

struct mes_buf {
  char *data; /* owned; NULL until the first append */
  size_t len;
  size_t cap;     /* allocated */
  size_t max_len; /* hard cap; appends beyond it fail with MES_EBODY_TOO_LARGE */
};

/* Embedded lifecycle: init sets an empty buffer with the given cap. */
void mes_buf_init(struct mes_buf *b, size_t max_len);
void mes_buf_release(struct mes_buf *b);
/* Empties the buffer, keeping its memory. */
void mes_buf_reset(struct mes_buf *b);

/* Appends bytes. MES_ENOMEM or MES_EBODY_TOO_LARGE (over max_len) on failure;
 * the buffer is unchanged then. */
int mes_buf_append(struct mes_buf *b, const void *p, size_t n);
int mes_buf_puts(struct mes_buf *b, const char *s);
int mes_buf_printf(struct mes_buf *b, const char *fmt, ...) MES_PRINTF(2, 3);

/* Makes room for extra more bytes and the NUL after them, leaving the
 * content as it is: a writer may then fill data + len itself, raise len and
 * put the NUL back (base/jw.c). MES_ENOMEM or MES_EBODY_TOO_LARGE as for an
 * append of extra bytes. */
int mes_buf_reserve(struct mes_buf *b, size_t extra);

/* Takes the bytes out: returns the owned, NUL-terminated data (caller frees)
 * and leaves b empty. Never NULL unless out of memory. */
char *mes_buf_steal(struct mes_buf *b);

#endif
