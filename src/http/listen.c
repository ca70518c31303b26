/*
 * http/listen — what the server listens with: the listening socket (from
 * --listen's HOST:PORT), the TLS certificate and key read from PEM files,
 * and the accept thread that hands each connection to libmicrohttpd.
 * server.c starts and stops them; requests never see this file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

#define TLS_FILE_MAX ((size_t)1 << 20)

/* ------------------------------------------------------------ the socket */

/* Splits "HOST:PORT" or "[V6]:PORT". */
static int parse_listen(const char *spec, char *host, size_t host_cap, char *port, size_t port_cap,
                        struct mes_err *err) {
  const char *colon = strrchr(spec, ':');
  const char *h = spec, *h_end = colon;
  if (colon && spec[0] == '[') {
    h = spec + 1;
    h_end = colon > spec && colon[-1] == ']' ? colon - 1 : NULL;
  }
  if (!colon || !h_end || h_end <= h || (size_t)(h_end - h) >= host_cap)
    return mes_err_set(err, MES_EUSAGE, NULL, "--listen takes HOST:PORT (\"%s\" is not).", spec);
  const char *p = colon + 1;
  size_t plen = strlen(p);
  unsigned long v = 0;
  if (plen == 0 || plen >= port_cap || strspn(p, "0123456789") != plen || (v = strtoul(p, NULL, 10)) > 65535)
    return mes_err_set(err, MES_EUSAGE, NULL, "--listen needs a port from 0 to 65535 (\"%s\").", spec);
  memcpy(host, h, (size_t)(h_end - h));
  host[h_end - h] = '\0';
  memcpy(port, p, plen + 1);
  return MES_OK;
}

/* A listening socket bound to the address, O_NONBLOCK and close-on-exec. */
int mes__listen_open(const char *addr, int *fd_out, bool *ipv6, struct mes_err *err) {
  char host[256], port[8];
  int rc = parse_listen(addr, host, sizeof host, port, sizeof port, err);
  if (rc)
    return rc;
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai)
    return mes_err_set(err, MES_EUSAGE, NULL, "Cannot resolve the listen address %s: %s.", addr, gai_strerror(gai));
  int fd = -1, last_errno = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
      *ipv6 = ai->ai_family == AF_INET6;
      break;
    }
    last_errno = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot listen on %s: %s.", addr, strerror(last_errno));
  *fd_out = fd;
  return MES_OK;
}

/* "127.0.0.1:8080" or "[::1]:8080" of a bound socket. */
void mes__listen_address(int fd, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char ip[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6) {
      const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
      port = ntohs(s6->sin6_port);
      snprintf(out, cap, "[%s]:%u", ip, port);
      return;
    }
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
    port = ntohs(s4->sin_port);
  }
  snprintf(out, cap, "%s:%u", ip, port);
}

/* Reads a whole PEM file (at most TLS_FILE_MAX) into *out (new, NUL-terminated). */
int mes__pem_read(const char *path, const char *what, char **out, struct mes_err *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return mes_err_set(err, MES_EIO, NULL, "Cannot read the TLS %s %s: %s.", what, path, strerror(errno));
  struct mes_buf b;
  mes_buf_init(&b, TLS_FILE_MAX);
  char chunk[4096];
  int rc = MES_OK;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = mes_err_set(err, MES_EIO, NULL, "Cannot read the TLS %s %s: %s.", what, path, strerror(errno));
      break;
    }
    if (n == 0)
      break;
    if (mes_buf_append(&b, chunk, (size_t)n)) {
      rc = mes_err_set(err, MES_EIO, NULL, "The TLS %s %s is larger than 1 MiB.", what, path);
      break;
    }
  }
  close(fd);
  mes_wipe(chunk, sizeof chunk);
  if (!rc && (!b.data || !strstr(b.data, "-----BEGIN ")))
    rc = mes_err_set(err, MES_EIO, NULL, "The TLS %s %s is not a PEM file.", what, path);
  if (rc) {
    if (b.data)
      mes_wipe(b.data, b.len);
    mes_buf_release(&b);
    return rc;
  }
  *out = b.data;
  return MES_OK;
}

void mes__secret_free(char *s) {
  if (s) {
    mes_wipe(s, strlen(s));
    free(s);
  }
}

/* ------------------------------------------------------------ acceptor */

/* Our own accept loop, handing each connection to MHD (MHD_add_connection).
 * Left to itself, MHD's pool lets every worker poll the listening socket and
 * the one that wakes accepts up to ten connections in a row and keeps them
 * all: the two keep-alive connections of a batch client land on one worker
 * (perf sched: one worker busy 3.3 s, the others 3.4 ms together), so one
 * core parses and seals every batch while the other idles.
 * MHD_add_connection assigns a connection to worker
 * (socket number % pool size), and sockets get the lowest free numbers, so
 * consecutive connections go to different workers. */

static void *accept_main(void *arg) {
  struct mes__acceptor *a = arg;
  struct pollfd pfd[2] = {{.fd = a->wake[0], .events = POLLIN}, {.fd = a->lfd, .events = POLLIN}};
  int timeout_ms = -1;
  for (;;) {
    int n = poll(pfd, timeout_ms < 0 ? 2 : 1, timeout_ms); /* backing off: the stop pipe only */
    if (n < 0 && errno != EINTR)
      break;
    if (n > 0 && (pfd[0].revents & POLLIN))
      break;
    timeout_ms = -1;
    for (;;) {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      int cfd = accept(a->lfd, (struct sockaddr *)&ss, &sl); /* MHD makes it non-blocking */
      if (cfd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          /* Out of descriptors or memory: retry in 100 ms rather than spin
           * on a socket that stays readable. */
          mes_log(a->log, MES_LOG_WARN, "cannot accept a connection: %s", strerror(errno));
          timeout_ms = 100;
        }
        break; /* EAGAIN: all taken; ECONNABORTED, EINTR, ...: poll again */
      }
      fcntl(cfd, F_SETFD, FD_CLOEXEC);
      /* On failure MHD closes the socket itself (and has logged why). */
      MHD_add_connection(a->d, cfd, (const struct sockaddr *)&ss, sl);
    }
  }
  return NULL;
}

int mes__acceptor_start(struct mes__acceptor *a, int lfd, struct MHD_Daemon *d, const struct mes_log *log) {
  a->lfd = lfd;
  a->d = d;
  a->log = log;
  a->running = false;
  if (pipe(a->wake) != 0)
    return MES_EIO;
  fcntl(a->wake[0], F_SETFD, FD_CLOEXEC);
  fcntl(a->wake[1], F_SETFD, FD_CLOEXEC);
  /* Not mes_thread_start: started from mes_http_serve after it blocked the
   * stop signals and SIGPIPE, the acceptor inherits exactly that mask, as
   * MHD's threads do. */
  if (pthread_create(&a->thread, NULL, accept_main, a) != 0) {
    close(a->wake[0]);
    close(a->wake[1]);
    return MES_ENOMEM;
  }
  a->running = true;
  return MES_OK;
}

/* Stops accepting and closes the listening socket: new clients are refused
 * from here on, connections already handed to MHD go on. */
void mes__acceptor_stop(struct mes__acceptor *a) {
  if (a->running) {
    ssize_t w;
    do
      w = write(a->wake[1], "", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(a->thread, NULL);
    close(a->wake[0]);
    close(a->wake[1]);
    a->running = false;
  }
  if (a->lfd >= 0)
    close(a->lfd);
  a->lfd = -1;
}
