/* base/log — level check first, then one formatted line to the host's sink. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void mes_log(const struct mes_log *log, enum mes_log_level level, const char *fmt, ...) {
  if (!log || !log->fn || level > log->level)
    return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  log->fn(log->ud, level, line);
}

void mes_log_stderr(void *ud, enum mes_log_level level, const char *line) {
  static const char *names[] = {"error", "warn", "info", "debug"};
  char out[1100];
  int n = snprintf(out, sizeof out, "%s %s\n", names[level & 3], line);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof out)
    n = (int)sizeof out - 1;
  /* One write(2) per line keeps lines whole when threads log at once. */
  ssize_t w = write(STDERR_FILENO, out, (size_t)n);
  (void)w;
}
