#include "net/server_socket.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/reactor_read.h"

namespace pgmux::net {

namespace asio = boost::asio;
using asio::ip::tcp;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::string unix_socket_path(const config::Endpoint& endpoint) {
    std::string path = endpoint.host;
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    return path + "/.s.PGSQL." + std::to_string(endpoint.port);
}

asio::awaitable<boost::system::error_code> connect_to_server(tcp::socket& socket,
                                                             const config::Endpoint& endpoint,
                                                             std::string& what) {
    if (is_unix_socket_host(endpoint.host)) {
        what = unix_socket_path(endpoint);
        asio::local::stream_protocol::socket unix_socket(socket.get_executor());
        auto [ec] = co_await unix_socket.async_connect(asio::local::stream_protocol::endpoint(what),
                                                       use_nothrow);
        if (ec) co_return ec;
        // The protocol given to assign() only picks the address family Asio
        // would use for endpoint calls, which are never made on this socket.
        const int fd = unix_socket.release(ec);
        if (ec) co_return ec;
        socket.assign(tcp::v4(), fd, ec);
        co_return ec;
    }
    what = endpoint.host + ":" + std::to_string(endpoint.port);
    tcp::resolver resolver(socket.get_executor());
    auto [rec, endpoints] =
        co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), use_nothrow);
    if (rec) co_return rec;
    auto [cec, ep] = co_await asio::async_connect(socket, endpoints, use_nothrow);
    if (cec) co_return cec;
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    enable_read_drained_hint(socket);
    // Asio registered the descriptor for writability to wait for the
    // connect and keeps that registration for good. epoll then reports a
    // reply that a read already took as "writable" (edge-triggered: the
    // arrival woke it), each report a useless pass of the event loop. A
    // fresh registration is for reading only; a blocked write adds
    // writability again when it needs it.
    const auto protocol = ep.protocol();
    const int fd = socket.release(ignored);
    if (ignored) co_return ignored;
    socket.assign(protocol, fd, ignored);
    co_return ignored;
}

}  // namespace pgmux::net
