// Socket options pgmux sets on every TCP connection it serves or opens
// (config::TcpOptions: keepalive and TCP_USER_TIMEOUT).
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "config/config.h"

namespace pgmux::net {

// Applies `options` to a connected TCP socket (a client pgmux accepted). A
// failed setsockopt only loses the option, never the connection.
void apply_tcp_options(boost::asio::ip::tcp::socket& socket, const config::TcpOptions& options);

// The same for a server connection, which may be a Unix-domain socket (the
// server_socket.h wrapping): that has no TCP options and is left alone. One
// getsockname() tells them apart.
void apply_tcp_options_if_tcp(boost::asio::ip::tcp::socket& socket,
                              const config::TcpOptions& options);

}  // namespace pgmux::net
