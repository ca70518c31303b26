/*
 * base/thread — starting the library's own long-lived threads (the store's
 * commit flusher, the recommender's record writer, the engine's background
 * work, the server's deadline sweeper).
 *
 * Such a thread must never take the process's signals: the server blocks
 * SIGINT, SIGTERM and SIGHUP and sigwait()s for them in one thread, and a
 * signal the kernel handed to a thread that does not block it would be
 * handled there instead (or kill the process mid-commit). A thread inherits
 * its creator's signal mask, so the starter blocks every signal around
 * pthread_create, whatever thread it is called from and whenever.
 */
#ifndef MES_BASE_THREAD_H
#define MES_BASE_THREAD_H

#include <pthread.h>

/* Starts fn(arg) on a new joinable thread, *t, with every signal blocked;
 * the calling thread's mask is the same afterwards. Returns 0, or
 * pthread_create's error number (EAGAIN, ...) with *t unset. */
int mes_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
