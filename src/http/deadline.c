/*
 * http/deadline — total deadlines for slow clients.
 *
 * libmicrohttpd's connection timeout counts idleness only: every byte
 * restarts it, so a client that sends its headers or body a byte at a time
 * holds a connection (and its memory pool) for as long as it likes. Here
 * each connection carries a deadline on the monotonic clock, set by the
 * server as a request moves on (its head due from the connection's start,
 * its body due from the head, the next head due from the previous reply)
 * and cleared while the server itself is working on the request. One thread
 * looks over the connections four times a second and shuts down the socket
 * of any that is past its deadline; libmicrohttpd then sees the connection
 * end and closes it as it would a client that hung up.
 *
 * The request path only stores into an atomic; the list is locked when a
 * connection opens or closes and by the sweep. libmicrohttpd reports a
 * connection closed before it closes the socket, and that report takes the
 * same lock as the sweep, so a socket number is never shut down after it was
 * closed and handed to another connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "base/mtime.h"
#include "base/thread.h"
#include "http/http_int.h"

#define SWEEP_EVERY_NS 250000000ull

static const char *const phase_label[] = {"head", "body", "next_head"};

static void *sweep_main(void *arg) {
  struct mes__deadlines *dl = arg;
  pthread_mutex_lock(&dl->mu);
  while (!dl->stop) {
    if (dl->conns.next == &dl->conns) {
      pthread_cond_wait(&dl->cv, &dl->mu); /* no connection: nothing can be late */
      continue;
    }
    uint64_t now = mes_mono_ns();
    for (struct mes__conn *c = dl->conns.next; c != &dl->conns; c = c->next) {
      uint64_t due = atomic_load_explicit(&c->due_ns, memory_order_relaxed);
      if (due == 0 || due > now)
        continue;
      atomic_store_explicit(&c->due_ns, 0, memory_order_relaxed);
      shutdown(c->fd, SHUT_RDWR);
      int phase = atomic_load_explicit(&c->phase, memory_order_relaxed);
      if (dl->metrics && phase >= 0 && phase < (int)(sizeof phase_label / sizeof phase_label[0]))
        mes_metrics_add1(dl->metrics, "mesura_http_deadline_closed_total", "phase", phase_label[phase], 1);
    }
    uint64_t wake = now + SWEEP_EVERY_NS;
    struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000ull), .tv_nsec = (long)(wake % 1000000000ull)};
    pthread_cond_timedwait(&dl->cv, &dl->mu, &ts);
  }
  pthread_mutex_unlock(&dl->mu);
  return NULL;
}

int mes__deadlines_start(struct mes__deadlines *dl, struct mes_metrics *metrics) {
  dl->metrics = metrics;
  dl->conns.next = dl->conns.prev = &dl->conns;
  dl->stop = false;
  dl->running = false;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&dl->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&dl->mu, NULL);
  int prc = mes_thread_start(&dl->thread, sweep_main, dl);
  if (prc) {
    pthread_cond_destroy(&dl->cv);
    pthread_mutex_destroy(&dl->mu);
    return MES_ENOMEM;
  }
  dl->running = true;
  return MES_OK;
}

void mes__deadlines_stop(struct mes__deadlines *dl) {
  if (!dl->running)
    return;
  pthread_mutex_lock(&dl->mu);
  dl->stop = true;
  pthread_cond_signal(&dl->cv);
  pthread_mutex_unlock(&dl->mu);
  pthread_join(dl->thread, NULL);
  /* MHD has stopped: every connection was reported closed, the list is empty. */
  pthread_cond_destroy(&dl->cv);
  pthread_mutex_destroy(&dl->mu);
  dl->running = false;
}

struct mes__conn *mes__conn_open(struct mes__deadlines *dl, int fd, uint64_t due_ns) {
  struct mes__conn *c = malloc(sizeof *c);
  if (!c)
    return NULL; /* the connection goes on, with the idle timeout only */
  c->fd = fd;
  atomic_init(&c->due_ns, due_ns);
  atomic_init(&c->phase, MES__PHASE_HEAD);
  pthread_mutex_lock(&dl->mu);
  bool was_empty = dl->conns.next == &dl->conns;
  c->next = &dl->conns;
  c->prev = dl->conns.prev;
  dl->conns.prev->next = c;
  dl->conns.prev = c;
  if (was_empty)
    pthread_cond_signal(&dl->cv);
  pthread_mutex_unlock(&dl->mu);
  return c;
}

void mes__conn_close(struct mes__deadlines *dl, struct mes__conn *c) {
  if (!c)
    return;
  pthread_mutex_lock(&dl->mu);
  c->prev->next = c->next;
  c->next->prev = c->prev;
  pthread_mutex_unlock(&dl->mu);
  free(c);
}

void mes__conn_due(struct mes__conn *c, enum mes__phase phase, uint64_t due_ns) {
  if (!c)
    return;
  atomic_store_explicit(&c->phase, (int)phase, memory_order_relaxed);
  atomic_store_explicit(&c->due_ns, due_ns, memory_order_relaxed);
}
