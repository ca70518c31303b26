/*
 * base/log — the library never prints; it calls a sink that the host installs.
 * Level is checked before any formatting. The sink type and the ready
 * stderr sink are public (include/mesura/log.h). Callers must not pass personal data:
 * subject ids reach logs only as pseudonyms (see crypto's mes_pseudonym_hex).
 */
#ifndef MES_BASE_LOG_H
#define MES_BASE_LOG_H

#include <mesura/log.h>

#include "base/err.h"

/* Formats and sends one line when `level` is enabled. `log` may be NULL. */
void mes_log(const struct mes_log *log, enum mes_log_level level, const char *fmt, ...) MES_PRINTF(3, 4);

#endif
