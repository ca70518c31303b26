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
