// A minimal single-threaded epoll HTTP/1.1 hello server: the C reference
// row of the HTTP table (what answering a request costs with no runtime).
// It counts request ends (CRLF CRLF) and answers each with a fixed
// keep-alive response; it is NOT a real HTTP parser (no bodies, no
// validation) and exists only as a lower bound for wrk's GET load.
//
// Usage: http_hello [--hostname 127.0.0.1] [--port 0]
// Prints `listening on HOST:PORT` as its first stdout line, exits 0 on
// SIGINT/SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\n"
    "content-length: 13\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

typedef struct {
  int fd;
  unsigned match; // how much of "\r\n\r\n" the previous bytes matched
} conn_t;

int main(int argc, char **argv) {
  int lfd = start_server(argc, argv);
  if (lfd < 0) return 1;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  static char buf[65536];
  static char out[RESPONSE_LEN * 256];
  struct epoll_event events[256];
  static const char END[] = "\r\n\r\n";
  while (!stop_flag) {
    int n = epoll_wait(ep, events, 256, 500);
    if (n < 0) {
      if (errno == EINTR) continue;
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
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        free(c);
        continue;
      }
      if (r < 0) continue;
      size_t requests = 0;
      for (ssize_t k = 0; k < r; k++) {
        if (buf[k] == END[c->match]) {
          if (++c->match == 4) {
            requests++;
            c->match = 0;
          }
        } else {
          c->match = buf[k] == '\r' ? 1 : 0;
        }
      }
      while (requests > 0) {
        size_t batch = requests < 256 ? requests : 256;
        for (size_t k = 0; k < batch; k++) memcpy(out + k * RESPONSE_LEN, RESPONSE, RESPONSE_LEN);
        size_t len = batch * RESPONSE_LEN, off = 0;
        while (off < len) {
          ssize_t w = write(c->fd, out + off, len - off);
          if (w < 0) {
            if (errno == EINTR || errno == EAGAIN) continue; // wrk reads: short spin
            break;
          }
          off += (size_t)w;
        }
        requests -= batch;
      }
    }
  }
  close(lfd);
  close(ep);
  return 0;
}
