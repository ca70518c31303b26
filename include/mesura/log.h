/*
 * mesura — the log sink a host installs. The library never prints: it hands
 * each line to the sink of the engine it runs for, at or below the sink's
 * level (checked before any formatting). Lines never carry personal data:
 * subject ids appear only as pseudonyms.
 */
#ifndef MESURA_LOG_H
#define MESURA_LOG_H

enum mes_log_level { MES_LOG_ERROR = 0, MES_LOG_WARN = 1, MES_LOG_INFO = 2, MES_LOG_DEBUG = 3 };

/* Receives one line (borrowed for the call, no newline). Called from any of
 * the library's threads, several at once: the sink serialises if it must. */
typedef void (*mes_log_fn)(void *ud, enum mes_log_level level, const char *line);

struct mes_log {
  mes_log_fn fn; /* NULL: discard everything */
  void *ud;      /* handed to fn */
  enum mes_log_level level;
};

/* A ready sink writing "LEVEL line\n" to stderr (thread-safe; lines stay
 * whole and in order). Info and debug lines are buffered and written at least
 * every 100 ms, before any warning or error, and at exit(); warnings and
 * errors are written at once. */
void mes_log_stderr(void *ud, enum mes_log_level level, const char *line);

/* Writes out what mes_log_stderr buffered (e.g. before a process replaces or
 * kills itself without exit()). Thread-safe. */
void mes_log_flush(void);

#endif
