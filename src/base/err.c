/* base/err — the contract names, statuses and sentences of result codes. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *code;
  int status;
  const char *msg;
} rows[] = {
#define MES_X_ROW(e, c, s, m) {c, s, m},
    MES_ERR_MAP(MES_X_ROW)
#undef MES_X_ROW
};

static int valid(int rc) { return rc >= 0 && rc < MES_E_COUNT_; }

const char *mes_rc_code(int rc) { return valid(rc) ? rows[rc].code : "internal_error"; }
int mes_rc_status(int rc) { return valid(rc) ? rows[rc].status : 500; }
const char *mes_rc_message(int rc) { return valid(rc) ? rows[rc].msg : rows[MES_EINTERNAL].msg; }

/* Cuts a multi-byte UTF-8 character that a truncation left incomplete at the
 * end of s. The field and the sentence are cut to their buffers, and both end
 * up in JSON replies: jansson refuses a string that is not valid UTF-8, which
 * turned a client's long unknown member name into a 503 (found by fuzz_events). */
static void trim_partial_utf8(char *s) {
  size_t n = strlen(s), back = 0;
  while (back < n && back < 4 && ((unsigned char)s[n - 1 - back] & 0xC0) == 0x80)
    back++;
  if (back == n)
    return;
  unsigned char lead = (unsigned char)s[n - 1 - back];
  size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (back + 1 < need)
    s[n - 1 - back] = '\0';
}

int mes_err_set(struct mes_err *err, int rc, const char *field, const char *fmt, ...) {
  if (!err)
    return rc;
  err->rc = rc;
  err->field[0] = '\0';
  err->msg[0] = '\0';
  if (field)
    snprintf(err->field, sizeof err->field, "%s", field);
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  trim_partial_utf8(err->field);
  trim_partial_utf8(err->msg);
  return rc;
}

void mes_err_clear(struct mes_err *err) {
  if (err)
    memset(err, 0, sizeof *err);
}

const char *mes_err_text(const struct mes_err *err) {
  if (!err)
    return rows[MES_EINTERNAL].msg;
  return err->msg[0] ? err->msg : mes_rc_message(err->rc);
}
