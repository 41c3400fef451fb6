// A single-threaded epoll echo server: the physical-limit proxy for the peer
// benchmark (what a loop with no runtime around it costs on this box).
//
// Usage: epoll_echo [--hostname 127.0.0.1] [--port 0]
// Prints `listening on HOST:PORT` as its first stdout line, exits 0 on
// SIGINT/SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536
#define MAX_EVENTS 256

// Bytes read but not yet written back, per connection (only when the peer's
// receive window is full; otherwise echo is immediate from a shared buffer).
typedef struct {
  int fd;
  char *pending;
  size_t pending_len;
  size_t pending_off;
} conn_t;

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void conn_close(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pending);
  free(c);
}

// Writes what is pending; returns 0 when drained, 1 when blocked, -1 on error.
static int flush_pending(conn_t *c) {
  while (c->pending_off < c->pending_len) {
    ssize_t n = write(c->fd, c->pending + c->pending_off,
                      c->pending_len - c->pending_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
      return -1;
    }
    c->pending_off += (size_t)n;
  }
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_off = 0;
  return 0;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc) host = argv[++i];
    else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) { perror("socket"); return 1; }
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "bad hostname: %s\n", host);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(lfd, 4096) < 0) { perror("listen"); return 1; }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  char hostbuf[64];
  inet_ntop(AF_INET, &addr.sin_addr, hostbuf, sizeof hostbuf);
  printf("listening on %s:%d\n", hostbuf, ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.ptr = NULL; // NULL marks the listener
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  static char buf[BUF_SIZE];
  struct epoll_event events[MAX_EVENTS];

  while (!stop_flag) {
    int n = epoll_wait(ep, events, MAX_EVENTS, 500);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      break;
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (c == NULL) {
        for (;;) {
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break; // EAGAIN, or EMFILE: retried on the next wakeup
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event cev;
          cev.events = EPOLLIN | EPOLLRDHUP;
          cev.data.ptr = nc;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if (c->pending) {
        int r = flush_pending(c);
        if (r < 0) { conn_close(ep, c); continue; }
        if (r > 0) continue;
        struct epoll_event cev;
        cev.events = EPOLLIN | EPOLLRDHUP;
        cev.data.ptr = c;
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          conn_close(ep, c);
          continue;
        }
        if (r < 0) continue;
        ssize_t off = 0;
        while (off < r) {
          ssize_t w = write(c->fd, buf + off, (size_t)(r - off));
          if (w < 0) {
            if (errno == EINTR) continue;
            break;
          }
          off += w;
        }
        if (off < r) {
          if (errno != EAGAIN && errno != EWOULDBLOCK) { conn_close(ep, c); continue; }
          // Peer is not reading: keep the rest, stop reading until drained.
          c->pending_len = (size_t)(r - off);
          c->pending = malloc(c->pending_len);
          memcpy(c->pending, buf + off, c->pending_len);
          c->pending_off = 0;
          struct epoll_event cev;
          cev.events = EPOLLOUT;
          cev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
        }
      }
    }
  }
  close(lfd);
  close(ep);
  return 0;
}
