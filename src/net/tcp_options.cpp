#include "net/tcp_options.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace pgmux::net {

namespace {
void set_int(int fd, int level, int name, int value) {
    // Best effort: an option the kernel refuses leaves its default.
    (void)::setsockopt(fd, level, name, &value, sizeof value);
}
}  // namespace

void apply_tcp_options_if_tcp(boost::asio::ip::tcp::socket& socket,
                              const config::TcpOptions& options) {
    if (!socket.is_open()) return;
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    if (::getsockname(socket.native_handle(), reinterpret_cast<sockaddr*>(&local), &length) != 0) {
        return;
    }
    if (local.ss_family == AF_INET || local.ss_family == AF_INET6) {
        apply_tcp_options(socket, options);
    }
}

void apply_tcp_options(boost::asio::ip::tcp::socket& socket, const config::TcpOptions& options) {
    if (!socket.is_open()) return;
    const int fd = socket.native_handle();
    set_int(fd, SOL_SOCKET, SO_KEEPALIVE, options.keepalive ? 1 : 0);
    if (options.keepalive) {
        if (options.keepidle > 0) set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, options.keepidle);
        if (options.keepintvl > 0) set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, options.keepintvl);
        if (options.keepcnt > 0) set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, options.keepcnt);
    }
    if (options.user_timeout_ms > 0) {
        set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, options.user_timeout_ms);
    }
}

}  // namespace pgmux::net
