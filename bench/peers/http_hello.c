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

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain;charset=UTF-8\r\n"
    "content-length: 13\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

typedef struct {
  int fd;
  unsigned match; // how much of "\r\n\r\n" the previous bytes matched
} conn_t;

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
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
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return 2;
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(lfd, 4096) < 0) { perror("listen"); return 1; }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  char hostbuf[64];
  inet_ntop(AF_INET, &addr.sin_addr, hostbuf, sizeof hostbuf);
  printf("listening on %s:%d\n", hostbuf, ntohs(addr.sin_port));
  fflush(stdout);

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
          int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
