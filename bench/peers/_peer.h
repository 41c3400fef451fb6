// What the C peers of the benchmark share: the stop flag set by SIGINT and
// SIGTERM, an IPv4 address from --host/--hostname and --port, and the two
// servers' start (options, the listener and its `listening on HOST:PORT`
// first line) and accept. Header-only (static functions), so that each peer still builds
// with one `gcc -O2 -Wall -o BIN bench/peers/NAME.c`.
#ifndef MILLRACE_BENCH_PEER_H
#define MILLRACE_BENCH_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

// Set by SIGINT or SIGTERM (see stop_on_signals): every loop checks it.
static volatile sig_atomic_t stop_flag = 0;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

// SIGINT and SIGTERM set stop_flag; SIGPIPE is ignored (a write to a peer
// that has gone fails with EPIPE instead).
static inline void stop_on_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

// Fills *addr with host:port; returns -1 (with a message on stderr) when
// host is not an IPv4 address.
static inline int ipv4_address(struct sockaddr_in *addr, const char *host,
                               int port) {
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  addr->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
    fprintf(stderr, "bad host: %s\n", host);
    return -1;
  }
  return 0;
}

// A non-blocking listener on host:port (0: any free port) that prints
// `listening on HOST:PORT` as the first stdout line; returns its fd, or -1
// (with a message on stderr).
static inline int listen_announced(const char *host, int port) {
  struct sockaddr_in addr;
  if (ipv4_address(&addr, host, port) < 0) return -1;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) { perror("socket"); return -1; }
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return -1; }
  if (listen(lfd, 4096) < 0) { perror("listen"); return -1; }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  char hostbuf[64];
  inet_ntop(AF_INET, &addr.sin_addr, hostbuf, sizeof hostbuf);
  printf("listening on %s:%d\n", hostbuf, ntohs(addr.sin_port));
  fflush(stdout);
  return lfd;
}

// A server's start: its options [--hostname 127.0.0.1] [--port 0], the stop
// signals, and its announced listener; returns the listener's fd, or -1.
static inline int start_server(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
  }
  stop_on_signals();
  return listen_announced(host, port);
}

// The next pending connection, non-blocking and with TCP_NODELAY; -1 when
// there is none (EAGAIN) or accept fails (EMFILE: retried on the next
// wakeup of the listener).
static inline int accept_nodelay(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

#endif
