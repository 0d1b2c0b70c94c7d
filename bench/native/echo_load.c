// A native load client for the TCP streaming echo benchmark: a Deno client
// competes with the server for the same runtime costs, so the 64-stream case is
// driven from here. Each connection sends BYTES bytes of a pattern, half-closes,
// and reads everything back; every echoed byte is checked. One thread, epoll.
//
// usage: echo_load HOST PORT CONNECTIONS BYTES_PER_CONNECTION TIMEOUT_SECONDS
// prints one JSON line: {"bytes":N,"seconds":S,"megabytesPerSecond":M}
// exits 1 (with a message on stderr) on any error, mismatch or timeout.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
// Not a multiple of the chunk size, so offsets shift from chunk to chunk.
#define PERIOD (CHUNK * 3 - 4)

static uint8_t pattern[PERIOD + CHUNK];

struct conn {
  int fd;
  long long sent, received;
  int write_done, read_done;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "echo_load: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr,
            "usage: echo_load HOST PORT CONNECTIONS BYTES_PER_CONNECTION "
            "TIMEOUT_SECONDS\n");
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  int count = atoi(argv[3]);
  long long bytes = atoll(argv[4]);
  double timeout = atof(argv[5]);
  if (port <= 0 || port > 65535 || count <= 0 || bytes <= 0 || timeout <= 0) {
    fprintf(stderr, "echo_load: bad arguments\n");
    return 2;
  }
  for (int i = 0; i < PERIOD + CHUNK; i++) {
    int x = i % PERIOD;
    pattern[i] = (uint8_t)((x * 31 + (x >> 8)) & 0xff);
  }

  struct sockaddr_storage addr;
  socklen_t addrlen;
  memset(&addr, 0, sizeof addr);
  struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addrlen = sizeof *v4;
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addrlen = sizeof *v6;
  } else {
    fprintf(stderr, "echo_load: HOST must be an IP address\n");
    return 2;
  }

  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct conn *conns = calloc(count, sizeof *conns);
  double start = now();
  for (int i = 0; i < count; i++) {
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, addrlen) < 0 &&
        errno != EINPROGRESS)
      die("connect");
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  }

  static uint8_t buffer[CHUNK];
  struct epoll_event events[256];
  int open = count;
  while (open > 0) {
    double left = start + timeout - now();
    if (left <= 0) {
      fprintf(stderr, "echo_load: timed out after %.1f s\n", timeout);
      return 1;
    }
    int n = epoll_wait(ep, events, 256, (int)(left * 1000) + 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; e++) {
      struct conn *c = &conns[events[e].data.u32];
      if ((events[e].events & (EPOLLOUT | EPOLLERR)) && !c->write_done) {
        while (c->sent < bytes) {
          long long want = bytes - c->sent;
          if (want > CHUNK) want = CHUNK;
          ssize_t w = send(c->fd, pattern + c->sent % PERIOD, want,
                           MSG_NOSIGNAL);
          if (w < 0) {
            if (errno == EAGAIN) break;
            die("send");
          }
          c->sent += w;
        }
        if (c->sent == bytes) {
          if (shutdown(c->fd, SHUT_WR) < 0) die("shutdown");
          c->write_done = 1;
          struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[e].data.u32};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if ((events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->read_done) {
        while (1) {
          ssize_t r = recv(c->fd, buffer, sizeof buffer, 0);
          if (r < 0) {
            if (errno == EAGAIN) break;
            die("recv");
          }
          if (r == 0) {
            if (c->received != bytes) {
              fprintf(stderr, "echo_load: sent %lld bytes but %lld came back\n",
                      bytes, c->received);
              return 1;
            }
            c->read_done = 1;
            close(c->fd);
            open--;
            break;
          }
          if (memcmp(buffer, pattern + c->received % PERIOD, r) != 0) {
            fprintf(stderr, "echo_load: echoed bytes differ near offset %lld\n",
                    c->received);
            return 1;
          }
          c->received += r;
          if (c->received > bytes) {
            fprintf(stderr, "echo_load: more bytes came back than were sent\n");
            return 1;
          }
        }
      }
    }
  }
  double seconds = now() - start;
  long long total = bytes * count;
  printf("{\"bytes\":%lld,\"seconds\":%.6f,\"megabytesPerSecond\":%.3f}\n",
         total, seconds, total / seconds / 1e6);
  return 0;
}
