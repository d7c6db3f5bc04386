// The floor for any proxy's cost: a forwarder that does nothing but copy
// bytes between each client and its own server connection (one upstream
// connection per client, no parsing, no pooling), with the fewest syscalls an
// epoll loop can make: epoll_wait, recv, send. bench.py runs it as the
// "forwarder" target, so every benchmark shows how far pgmux and PgBouncer
// are from what the extra network hop alone costs on this machine.
//
//   floor_forwarder LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT
//   (an UPSTREAM_HOST starting with '/' is PostgreSQL's socket directory)
//
// A benchmark tool, not a product: a send that would block waits in poll()
// for that one socket (pgbench's messages are small, so it never does).
#define _GNU_SOURCE  // accept4
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { kMaxFd = 1 << 16 };
static int peer_of[kMaxFd];
static const char* upstream_host;
static int upstream_port;

static int connect_upstream(void) {
    int fd;
    if (upstream_host[0] == '/') {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.%d", upstream_host, upstream_port);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr*)&a, sizeof a) == 0) return fd;
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(upstream_port)};
        inet_pton(AF_INET, upstream_host, &a.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fd >= 0 && connect(fd, (struct sockaddr*)&a, sizeof a) == 0) return fd;
    }
    if (fd >= 0) close(fd);
    return -1;
}

static void watch(int epoll_fd, int fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

static void close_pair(int fd) {
    int other = peer_of[fd];
    close(fd);  // also leaves the epoll set
    if (other >= 0) close(other);
    peer_of[fd] = -1;
    if (other >= 0) peer_of[other] = -1;
}

static int send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, -1);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT\n", argv[0]);
        return 2;
    }
    upstream_host = argv[2];
    upstream_port = atoi(argv[3]);
    for (int i = 0; i < kMaxFd; ++i) peer_of[i] = -1;

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr*)&at, sizeof at) != 0 || listen(listener, 1024) != 0) {
        perror("listen");
        return 1;
    }
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    watch(epoll_fd, listener);

    static char buffer[64 * 1024];
    struct epoll_event events[128];
    for (;;) {
        int ready = epoll_wait(epoll_fd, events, 128, -1);
        for (int i = 0; i < ready; ++i) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
                if (client < 0) continue;
                int server = connect_upstream();
                if (server < 0 || client >= kMaxFd || server >= kMaxFd) {
                    close(client);
                    if (server >= 0) close(server);
                    continue;
                }
                setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                peer_of[client] = server;
                peer_of[server] = client;
                watch(epoll_fd, client);
                watch(epoll_fd, server);
                continue;
            }
            if (peer_of[fd] < 0) continue;  // closed earlier in this batch
            ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0 || send_all(peer_of[fd], buffer, (size_t)n) != 0) close_pair(fd);
        }
    }
}
