// Opening the socket to a PostgreSQL server, reading `host` the way libpq
// does: a host name or address means TCP; a value starting with '/' is the
// directory of PostgreSQL's Unix-domain socket `<host>/.s.PGSQL.<port>`.
//
// Either way the result is an asio tcp::socket. For a Unix-domain socket it
// wraps the AF_UNIX descriptor: everything pgmux does with a server socket
// (recv, send, readiness waits, shutdown, close) is the same syscall on both,
// and one socket type keeps the relay, the outbox and TLS code unchanged.
// TCP-only calls (endpoints, TCP_NODELAY) must not be made on it; see
// is_unix_socket_host().
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "config/config.h"

namespace pgmux::net {

[[nodiscard]] inline bool is_unix_socket_host(std::string_view host) noexcept {
    return !host.empty() && host.front() == '/';
}

// "<dir>/.s.PGSQL.<port>", the name PostgreSQL gives its socket.
[[nodiscard]] std::string unix_socket_path(const config::Endpoint& endpoint);

// Connects `socket` (closed) to the server. TCP sockets get TCP_NODELAY.
// Returns the error, or a default error_code on success; `what` then says
// which address or path failed, for the message shown to the client.
boost::asio::awaitable<boost::system::error_code> connect_to_server(
    boost::asio::ip::tcp::socket& socket, const config::Endpoint& endpoint, std::string& what);

}  // namespace pgmux::net
