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

#include "_peer.h"

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
  int lfd = start_server(argc, argv);
  if (lfd < 0) return 1;
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
          int fd = accept_nodelay(lfd);
          if (fd < 0) break;
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
