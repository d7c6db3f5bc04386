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

namespace {
// Asio records each descriptor's "try a read at once" state in a private
// member of its descriptor_state: set by every readiness edge, cleared when a
// read reports the socket exhausted (done_and_exhausted, which the reactor
// read returns when TCP_INQ says nothing is left). An explicit instantiation
// may name a private member; the friend function it defines hands the
// pointer to member out. Checked against Boost 1.81 in reactor_read.h.
using DescriptorState = Reactor::descriptor_state;
using SpeculativeFlags = bool (DescriptorState::*)[Reactor::max_ops];

struct SpeculativeFlagsTag {
    friend SpeculativeFlags member(SpeculativeFlagsTag);
};
template <SpeculativeFlags Member>
struct ExposeMember {
    friend SpeculativeFlags member(SpeculativeFlagsTag) { return Member; }
};
template struct ExposeMember<&DescriptorState::try_speculative_>;
}  // namespace

bool quiet_since_drained(boost::asio::ip::tcp::socket& socket) noexcept {
    DescriptorState* state = detail::SocketInternals::of(socket).reactor_data_;
    if (state == nullptr) return false;
    return !(state->*member(SpeculativeFlagsTag{}))[Reactor::read_op];
}

}  // namespace pgmux::net
