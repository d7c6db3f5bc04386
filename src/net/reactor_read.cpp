#include "net/reactor_read.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

namespace pgmux::net {

Reactor& reactor_of(boost::asio::ip::tcp::socket& socket) {
    auto& context = boost::asio::query(socket.get_executor(), boost::asio::execution::context);
    return boost::asio::use_service<Reactor>(context);
}

void enable_read_drained_hint(boost::asio::ip::tcp::socket& socket) {
    const int on = 1;
    // Fails on Unix-domain sockets and old kernels: reads then simply never
    // count as drained.
    (void)::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INQ, &on, sizeof(on));
}

}  // namespace pgmux::net
