/* base/buf — capped growable buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mes_buf_init(struct mes_buf *b, size_t max_len) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max_len = max_len;
}

void mes_buf_release(struct mes_buf *b) {
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void mes_buf_reset(struct mes_buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

int mes_buf_reserve(struct mes_buf *b, size_t extra) {
  if (extra > b->max_len || b->len > b->max_len - extra)
    return MES_EBODY_TOO_LARGE;
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return MES_OK;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need)
    ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  char *p = realloc(b->data, ncap);
  if (!p)
    return MES_ENOMEM;
  b->data = p;
  b->cap = ncap;
  return MES_OK;
}

int mes_buf_append(struct mes_buf *b, const void *p, size_t n) {
  int rc = mes_buf_reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return MES_OK;
}

int mes_buf_puts(struct mes_buf *b, const char *s) { return mes_buf_append(b, s, strlen(s)); }

int mes_buf_printf(struct mes_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return MES_EINTERNAL;
  int rc = mes_buf_reserve(b, (size_t)n);
  if (rc)
    return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return MES_OK;
}

char *mes_buf_steal(struct mes_buf *b) {
  char *p = b->data;
  if (!p) {
    p = malloc(1);
    if (p)
      p[0] = '\0';
  }
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
