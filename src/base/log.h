/*
 * base/log — the library never prints; it calls a sink that the host installs.
 * Level is checked before any formatting. Callers must not pass personal data:
 * subject ids reach logs only as pseudonyms (see crypto's mes_pseudonym_hex).
 */
#ifndef MES_BASE_LOG_H
#define MES_BASE_LOG_H

#include "base/err.h"

enum mes_log_level { MES_LOG_ERROR = 0, MES_LOG_WARN = 1, MES_LOG_INFO = 2, MES_LOG_DEBUG = 3 };

typedef void (*mes_log_fn)(void *ud, enum mes_log_level level, const char *line);

struct mes_log {
  mes_log_fn fn; /* NULL: discard everything */
  void *ud;
  enum mes_log_level level;
};

/* Formats and sends one line when `level` is enabled. `log` may be NULL. */
void mes_log(const struct mes_log *log, enum mes_log_level level, const char *fmt, ...) MES_PRINTF(3, 4);

/* A ready sink writing "LEVEL line\n" to stderr (thread-safe; lines stay
 * whole and in order). Info and debug lines are buffered and written at least
 * every 100 ms, before any warning or error, and at exit(); warnings and
 * errors are written at once. */
void mes_log_stderr(void *ud, enum mes_log_level level, const char *line);

/* Writes out what mes_log_stderr buffered (e.g. before a process replaces or
 * kills itself without exit()). Thread-safe. */
void mes_log_flush(void);

#endif
