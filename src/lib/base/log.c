/* base/log — level check first, then one formatted line to the host's sink. */
#include "base/log.h"
#include "base/thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* The stderr sink buffers info and debug lines (the access log: one line per
 * request, a write(2) each was a measurable share of a small request's cost,
 * bench/README.md) and writes them in one go when the buffer fills, when a
 * warning or error is logged (so lines stay in order and problems show at
 * once), every FLUSH_EVERY_MS from a small thread, and at exit(). A kill -9
 * loses at most the last FLUSH_EVERY_MS of info lines. */
#define LOG_BUF_BYTES 65536
#define FLUSH_EVERY_MS 100

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static bool log_buffered; /* false until the flusher runs: then every line is written at once */
static char log_buf[LOG_BUF_BYTES];
static size_t log_len;

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* stderr is gone: nothing better to do with a log line */
    p += w;
    n -= (size_t)w;
  }
}

static void flush_locked(void) {
  write_all(log_buf, log_len);
  log_len = 0;
}

static void *flusher_main(void *arg) {
  (void)arg;
  struct timespec ts = {.tv_sec = 0, .tv_nsec = FLUSH_EVERY_MS * 1000000L};
  for (;;) {
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&log_mu);
    if (log_len)
      flush_locked();
    pthread_mutex_unlock(&log_mu);
  }
  return NULL;
}

static void flush_at_exit(void) {
  pthread_mutex_lock(&log_mu);
  flush_locked();
  log_buffered = false; /* lines logged by other threads from now on go out at once */
  pthread_mutex_unlock(&log_mu);
}

/* The flusher takes none of the process's signals (base/thread.h): the first
 * info line may be logged by the server's own thread before it blocks its
 * stop signals, and a signal meant for the server must not land here. */
static void start_flusher(void) {
  pthread_t t;
  if (atexit(flush_at_exit) == 0 && mes_thread_start(&t, flusher_main, NULL) == 0) {
    pthread_detach(t);  /* it runs until the process exits */
    log_buffered = true; /* without the thread or the exit hook, lines stay unbuffered */
  }
}

void mes_log_flush(void) {
  pthread_mutex_lock(&log_mu);
  flush_locked();
  pthread_mutex_unlock(&log_mu);
}

void mes_log_stderr(void *ud, enum mes_log_level level, const char *line) {
  (void)ud;
  static const char *names[] = {"error", "warn", "info", "debug"};
  char out[1100];
  int n = snprintf(out, sizeof out, "%s %s\n", names[level & 3], line);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof out) {
    n = (int)sizeof out - 1;
    out[n - 1] = '\n';
  }
  if (level >= MES_LOG_INFO)
    pthread_once(&log_once, start_flusher);
  pthread_mutex_lock(&log_mu);
  if (!log_buffered || level < MES_LOG_INFO) {
    flush_locked(); /* what was buffered first, then this line */
    write_all(out, (size_t)n);
  } else {
    if (log_len + (size_t)n > sizeof log_buf)
      flush_locked();
    memcpy(log_buf + log_len, out, (size_t)n);
    log_len += (size_t)n;
  }
  pthread_mutex_unlock(&log_mu);
}
