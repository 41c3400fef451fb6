// A small epoll load generator for raw TCP echo servers (no Debian package
// does raw echo load). Single-threaded, so pin it to its own core.
//
// Usage: loadgen MODE --port P [--host 127.0.0.1] [--conns N] [--size S]
//                [--duration SEC] [--warmup SEC] [--pid SERVER_PID]
//                [--timeout SEC] [--rate R]
// Modes:
//   pingpong  N conns each send S bytes and wait for the echo, repeatedly;
//             per-round-trip latency histogram (p50/p99). With --rate R the
//             conns together offer R round trips/s (each waits for its next
//             slot after an echo; none is sent early): CPU per round trip at
//             a load below saturation.
//   stream    N conns each stream S-byte chunks (default 64 KiB) and read the
//             echo back, with at most 4 chunks in flight per conn; MB/s.
//   churn     N concurrent slots each connect, send S bytes (64), read the
//             echo, close; connections/s and latency per connection. With
//             --proxy-header v1|v2 a PROXY protocol header goes first.
//   idle      open N conns (each checked with a 1-byte echo), print a
//             `{"ready":N}` line, hold them until a line or EOF arrives on
//             stdin (or SIGTERM / --timeout), close them, print the result.
// When --pid is given, the server's utime+stime (from /proc/PID/stat) is read
// at the start and end of the measured window (after the warm-up) and
// reported as cpu_us; --pid may be given up to 8 times (a server made of
// several processes): cpu_us is then their sum. pingpong also reports
// sched_cpu_us: the same window from each thread's /proc/PID/task/*/schedstat
// (nanoseconds, where utime+stime count in clock ticks of 10 ms: needed when a
// slow paced run burns only tens of ms). The result is one JSON line on stdout. Every loop is
// bounded by --duration and the whole process by --timeout (alarm).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "_peer.h"

#define HIST_US 200000 // 1 µs buckets up to 200 ms, then one overflow bucket
static uint32_t hist[HIST_US + 1];
static uint64_t hist_count = 0;

static const char *host = "127.0.0.1";
static int port = 0;
static int conns = 50;
static int size = -1;
static double duration = 3.0;
static double warmup = 0.5;
static int server_pids[8];
static int server_pid_count = 0;
static int timeout_s = 60;
static double rate = 0; // pingpong: round trips/s offered over all conns; 0 = unpaced
static struct sockaddr_in addr;
static long clk_tck = 100;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hist_add(double seconds) {
  long us = (long)(seconds * 1e6 + 0.5);
  if (us < 0) us = 0;
  if (us > HIST_US) us = HIST_US;
  hist[us]++;
  hist_count++;
}

static double hist_pct(double p) {
  if (hist_count == 0) return -1;
  uint64_t want = (uint64_t)(p * (double)hist_count);
  if (want >= hist_count) want = hist_count - 1;
  uint64_t seen = 0;
  for (long i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (seen > want) return (double)i;
  }
  return HIST_US;
}

// utime+stime of one process in µs, or -1 if it cannot be read.
static double process_cpu_us(int pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  // Fields after the parenthesised command name; utime is field 14, stime 15.
  char *p = strrchr(line, ')');
  if (!p) return -1;
  p += 2;
  unsigned long long utime = 0, stime = 0;
  int field = 3;
  char *save = NULL;
  for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
    if (field == 14) utime = strtoull(tok, NULL, 10);
    if (field == 15) { stime = strtoull(tok, NULL, 10); break; }
  }
  return (double)(utime + stime) * 1e6 / (double)clk_tck;
}

// CPU time of every live thread of the server's processes in µs, from
// schedstat's first field (ns); -1 without --pid. A thread that exits inside
// the window takes its time with it, so a caller compares it with cpu_us.
static double server_sched_us(void) {
  if (server_pid_count == 0) return -1;
  double sum = 0;
  for (int i = 0; i < server_pid_count; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", server_pids[i]);
    DIR *dir = opendir(path);
    if (!dir) return -1;
    struct dirent *d;
    while ((d = readdir(dir)) != NULL) {
      if (d->d_name[0] == '.') continue;
      char file[400];
      snprintf(file, sizeof file, "%s/%s/schedstat", path, d->d_name);
      FILE *f = fopen(file, "r");
      if (!f) continue; // exited meanwhile
      unsigned long long ns = 0;
      if (fscanf(f, "%llu", &ns) == 1) sum += (double)ns / 1000.0;
      fclose(f);
    }
    closedir(dir);
  }
  return sum;
}
static double sched_cpu_us = -1;

// utime+stime of the server's processes in µs, or -1 without --pid.
static double server_cpu_us(void) {
  if (server_pid_count == 0) return -1;
  double sum = 0;
  for (int i = 0; i < server_pid_count; i++) {
    double one = process_cpu_us(server_pids[i]);
    if (one < 0) return -1;
    sum += one;
  }
  return sum;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "loadgen: --timeout reached, exiting\n";
  if (write(2, msg, sizeof msg - 1) < 0) {}
  _exit(3);
}

static int connect_blocking(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Writes all of a small buffer to a non-blocking socket (spins on EAGAIN,
// which a 64 B message on loopback practically never meets).
static int write_all(int fd, const char *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    off += (size_t)w;
  }
  return 0;
}

static void print_result(const char *mode, double secs, uint64_t ops, uint64_t bytes,
                         uint64_t errors, double cpu_us, int extra_conns) {
  printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%d,\"seconds\":%.4f,\"ops\":%llu,"
         "\"bytes\":%llu,\"ops_per_s\":%.1f,\"mb_per_s\":%.3f,\"p50_us\":%.0f,"
         "\"p99_us\":%.0f,\"errors\":%llu,\"cpu_us\":%.0f,\"sched_cpu_us\":%.0f,"
         "\"open\":%d}\n",
         mode, conns, size, secs, (unsigned long long)ops, (unsigned long long)bytes,
         secs > 0 ? (double)ops / secs : 0, secs > 0 ? (double)bytes / secs / 1e6 : 0,
         hist_pct(0.50), hist_pct(0.99), (unsigned long long)errors, cpu_us, sched_cpu_us,
         extra_conns);
  fflush(stdout);
}

typedef struct {
  int fd;
  size_t got;      // bytes of the current echo received
  uint64_t sent;   // stream: bytes sent
  uint64_t recv;   // stream: bytes received
  double t0;       // start of the current round trip / connection
  int state;       // churn: 0 connecting, 1 waiting echo
  int want_out;    // stream: EPOLLOUT currently registered
  double due;      // pingpong --rate: when the next message may go (0: sent)
} slot_t;

static void close_slots(slot_t *s) {
  for (int i = 0; i < conns; i++)
    if (s[i].fd >= 0) close(s[i].fd);
}

// The server CPU µs between two readings, or -1 when either failed.
static double cpu_between(double cpu0, double cpu1) {
  return (cpu0 >= 0 && cpu1 >= 0) ? cpu1 - cpu0 : -1;
}

// The measured window of a run: it opens --warmup s after the run starts
// (the server's CPU is read then) and ends --duration s later.
typedef struct {
  double opens, ends; // now_s() times
  int open;           // opened: what happens now is counted
  int with_sched;     // also read the server threads' schedstat (pingpong)
  double real0, cpu0, sched0;
} window_t;

static window_t window_from(double start, int with_sched) {
  window_t w = {.opens = start + warmup, .ends = start + warmup + duration,
                .open = 0, .with_sched = with_sched,
                .real0 = 0, .cpu0 = -1, .sched0 = -1};
  return w;
}

// At loop time t: opens the window once it is due; 1 once it has ended.
static int window_ended(window_t *w, double t) {
  if (!w->open && t >= w->opens) {
    w->open = 1;
    w->cpu0 = server_cpu_us();
    if (w->with_sched) w->sched0 = server_sched_us();
    w->real0 = t;
  }
  return t >= w->ends;
}

// Ends a run: reads the server's CPU, closes the slots and prints the result
// of the window (0 s when it never opened).
static int end_run(const char *mode, window_t *w, slot_t *s, uint64_t ops,
                   uint64_t bytes, uint64_t errors) {
  double real1 = now_s();
  double cpu1 = server_cpu_us();
  if (w->with_sched) {
    double sched1 = server_sched_us();
    if (w->sched0 >= 0 && sched1 >= 0) sched_cpu_us = sched1 - w->sched0;
  }
  close_slots(s);
  double secs = w->open ? real1 - w->real0 : 0;
  print_result(mode, secs, ops, bytes, errors, cpu_between(w->cpu0, cpu1), 0);
  return 0;
}

static int run_pingpong(void) {
  if (size < 0) size = 64;
  char *msg = malloc((size_t)size);
  memset(msg, 'x', (size_t)size);
  char *buf = malloc(65536);
  slot_t *s = calloc((size_t)conns, sizeof *s);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < conns; i++) {
    s[i].fd = connect_blocking();
    if (s[i].fd < 0) { perror("connect"); return 1; }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
  }
  double start = now_s();
  window_t w = window_from(start, 1);
  uint64_t ops = 0, errors = 0;
  // Paced: each conn sends every `interval` s at most, staggered.
  double interval = rate > 0 ? (double)conns / rate : 0;
  for (int i = 0; i < conns; i++) {
    s[i].t0 = now_s();
    if (interval > 0) {
      s[i].due = start + interval * i / conns;
      continue;
    }
    if (write_all(s[i].fd, msg, (size_t)size) < 0) errors++;
  }
  struct epoll_event evs[256];
  int alive = conns;
  while (!stop_flag && alive > 0) {
    int wait_ms = 100;
    if (interval > 0) {
      double t = now_s();
      for (int i = 0; i < conns; i++) {
        if (s[i].fd < 0 || s[i].due == 0) continue;
        if (s[i].due <= t) {
          s[i].due = 0;
          s[i].t0 = t;
          if (write_all(s[i].fd, msg, (size_t)size) < 0) errors++;
        } else {
          int ms = (int)((s[i].due - t) * 1000) + 1;
          if (ms < wait_ms) wait_ms = ms;
        }
      }
    }
    int n = epoll_wait(ep, evs, 256, wait_ms);
    double t = now_s();
    if (window_ended(&w, t)) break;
    for (int k = 0; k < n; k++) {
      slot_t *c = &s[evs[k].data.u32];
      ssize_t r = read(c->fd, buf, 65536);
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        errors++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        alive--;
        continue;
      }
      c->got += (size_t)r;
      if (c->got >= (size_t)size) {
        c->got -= (size_t)size;
        if (w.open) {
          ops++;
          hist_add(t - c->t0);
        }
        if (interval > 0) {
          // The next slot, never in the past (no catch-up bursts).
          c->due = c->t0 + interval > t ? c->t0 + interval : t;
          continue;
        }
        c->t0 = t;
        if (write_all(c->fd, msg, (size_t)size) < 0) errors++;
      }
    }
  }
  return end_run("pingpong", &w, s, ops, ops * (uint64_t)size * 2, errors);
}

static int run_stream(void) {
  if (size < 0) size = 65536;
  const uint64_t window = (uint64_t)size * 4;
  char *msg = malloc((size_t)size);
  memset(msg, 'y', (size_t)size);
  char *buf = malloc(262144);
  slot_t *s = calloc((size_t)conns, sizeof *s);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < conns; i++) {
    s[i].fd = connect_blocking();
    if (s[i].fd < 0) { perror("connect"); return 1; }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    s[i].want_out = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
  }
  window_t w = window_from(now_s(), 0);
  uint64_t bytes = 0, errors = 0;
  struct epoll_event evs[256];
  int alive = conns;
  while (!stop_flag && alive > 0) {
    int n = epoll_wait(ep, evs, 256, 100);
    double t = now_s();
    if (window_ended(&w, t)) break;
    for (int k = 0; k < n; k++) {
      slot_t *c = &s[evs[k].data.u32];
      if (c->fd < 0) continue;
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, buf, 262144);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          errors++;
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          c->fd = -1;
          alive--;
          continue;
        }
        if (r > 0) {
          c->recv += (uint64_t)r;
          if (w.open) bytes += (uint64_t)r;
        }
      }
      // Send while fewer than `window` bytes are unechoed.
      while (c->sent - c->recv < window) {
        size_t off = (size_t)(c->sent % (uint64_t)size);
        ssize_t w = write(c->fd, msg + off, (size_t)size - off);
        if (w <= 0) break;
        c->sent += (uint64_t)w;
      }
      int want = (c->sent - c->recv < window);
      if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
                                 .data.u32 = evs[k].data.u32};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
      }
    }
  }
  // ops = echoed chunks, so cpu_us/ops is µs per 64 KiB echoed.
  return end_run("stream", &w, s, bytes / (uint64_t)size, bytes, errors);
}

// churn --proxy-header v1|v2: each connection first sends a PROXY protocol
// header (as a separate write, as HAProxy does), fixed addresses.
static char proxy_hdr[64];
static size_t proxy_len = 0;

static void set_proxy_header(const char *version) {
  if (strcmp(version, "v1") == 0) {
    const char *line = "PROXY TCP4 192.0.2.7 198.51.100.1 51234 443\r\n";
    proxy_len = strlen(line);
    memcpy(proxy_hdr, line, proxy_len);
  } else if (strcmp(version, "v2") == 0) {
    static const unsigned char v2[28] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
        0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 192,  0,    2,    7,
        198,  51,   100,  1,    0xc8, 0x22, 0x01, 0xbb};
    proxy_len = sizeof v2;
    memcpy(proxy_hdr, v2, proxy_len);
  }
}

static int churn_start(int ep, slot_t *c, uint32_t idx) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->t0 = now_s();
  c->got = 0;
  c->state = 0;
  int r = connect(c->fd, (struct sockaddr *)&addr, sizeof addr);
  if (r < 0 && errno != EINPROGRESS) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = idx};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  return 0;
}

static int run_churn(void) {
  if (size < 0) size = 64;
  char *msg = malloc((size_t)size);
  memset(msg, 'z', (size_t)size);
  char buf[65536];
  slot_t *s = calloc((size_t)conns, sizeof *s);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  uint64_t ops = 0, errors = 0;
  for (int i = 0; i < conns; i++)
    if (churn_start(ep, &s[i], (uint32_t)i) < 0) errors++;
  window_t w = window_from(now_s(), 0);
  struct epoll_event evs[256];
  while (!stop_flag) {
    int n = epoll_wait(ep, evs, 256, 100);
    double t = now_s();
    if (window_ended(&w, t)) break;
    for (int k = 0; k < n; k++) {
      uint32_t idx = evs[k].data.u32;
      slot_t *c = &s[idx];
      if (c->fd < 0) continue;
      int fail = 0, done = 0;
      if (c->state == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0 ||
            (proxy_len > 0 && write_all(c->fd, proxy_hdr, proxy_len) < 0) ||
            write_all(c->fd, msg, (size_t)size) < 0) {
          fail = 1;
        } else {
          c->state = 1;
          struct epoll_event ev = {.events = EPOLLIN, .data.u32 = idx};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      } else {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r <= 0) fail = 1;
        else {
          c->got += (size_t)r;
          if (c->got >= (size_t)size) done = 1;
        }
      }
      if (fail || done) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        if (fail) errors++;
        else if (w.open) {
          ops++;
          hist_add(t - c->t0);
        }
        if (churn_start(ep, c, idx) < 0) {
          errors++;
          if (errors > 100000) stop_flag = 1; // give up on a broken setup
        }
      }
    }
    // Slots whose socket() or connect() failed outright are retried here.
    for (int i = 0; i < conns; i++)
      if (s[i].fd < 0 && churn_start(ep, &s[i], (uint32_t)i) < 0) errors++;
  }
  return end_run("churn", &w, s, ops, ops * (uint64_t)size * 2, errors);
}

static int run_idle(void) {
  int *fds = malloc(sizeof(int) * (size_t)conns);
  int open_count = 0;
  uint64_t errors = 0;
  const int batch = 256; // below the servers' accept backlog (511)
  char b = 'i';
  double t0 = now_s();
  while (open_count < conns && !stop_flag) {
    int first = open_count;
    int last = open_count + batch < conns ? open_count + batch : conns;
    for (int i = first; i < last; i++) {
      fds[i] = connect_blocking();
      if (fds[i] < 0) {
        perror("connect");
        print_result("idle", 0, (uint64_t)open_count, 0, 1, -1, open_count);
        return 1;
      }
      if (write_all(fds[i], &b, 1) < 0) errors++;
    }
    // Wait for each 1-byte echo: the server has accepted and served them.
    for (int i = first; i < last; i++) {
      struct pollfd pfd = {.fd = fds[i], .events = POLLIN};
      if (poll(&pfd, 1, 10000) != 1 || read(fds[i], &b, 1) != 1) errors++;
    }
    open_count = last;
  }
  double secs = now_s() - t0;
  printf("{\"ready\":%d,\"errors\":%llu,\"seconds\":%.3f}\n", open_count,
         (unsigned long long)errors, secs);
  fflush(stdout);
  // Hold until the harness says so (a line or EOF on stdin) or a signal.
  while (!stop_flag) {
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    int r = poll(&pfd, 1, 200);
    if (r > 0) break;
  }
  for (int i = 0; i < open_count; i++) close(fds[i]);
  print_result("idle", secs, (uint64_t)open_count, 0, errors, -1, open_count);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: loadgen pingpong|stream|churn|idle --port P [options]\n");
    return 2;
  }
  const char *mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) { fprintf(stderr, "missing value for %s\n", a); return 2; }
    if (strcmp(a, "--host") == 0) host = v;
    else if (strcmp(a, "--port") == 0) port = atoi(v);
    else if (strcmp(a, "--conns") == 0) conns = atoi(v);
    else if (strcmp(a, "--size") == 0) size = atoi(v);
    else if (strcmp(a, "--duration") == 0) duration = atof(v);
    else if (strcmp(a, "--warmup") == 0) warmup = atof(v);
    else if (strcmp(a, "--pid") == 0) {
      if (server_pid_count == 8) { fprintf(stderr, "at most 8 --pid\n"); return 2; }
      server_pids[server_pid_count++] = atoi(v);
    }
    else if (strcmp(a, "--timeout") == 0) timeout_s = atoi(v);
    else if (strcmp(a, "--rate") == 0) rate = atof(v);
    else if (strcmp(a, "--proxy-header") == 0) set_proxy_header(v);
    else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    i++;
  }
  if (port <= 0 || conns <= 0 || duration <= 0 || duration > 600 || timeout_s <= 0 ||
      !(rate >= 0 && rate <= 1e7)) {
    fprintf(stderr, "bad options\n");
    return 2;
  }
  clk_tck = sysconf(_SC_CLK_TCK);
  if (ipv4_address(&addr, host, port) < 0) return 2;
  stop_on_signals();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  alarm((unsigned)timeout_s);
  if (strcmp(mode, "pingpong") == 0) return run_pingpong();
  if (strcmp(mode, "stream") == 0) return run_stream();
  if (strcmp(mode, "churn") == 0) return run_churn();
  if (strcmp(mode, "idle") == 0) return run_idle();
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
