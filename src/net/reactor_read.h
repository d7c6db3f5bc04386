// A read of a plain (not TLS) socket queued directly on Asio's epoll reactor,
// which skips the recv() that would find nothing.
//
// Asio 1.81 tries every read at once (a "speculative" recv) unless its last
// read on that descriptor returned 0 bytes. For a proxy that forwards a
// request and then reads the reply, that first recv nearly always fails with
// EAGAIN: a wasted system call per request. Asio's readiness wait
// (async_wait) costs one too: it re-arms the descriptor with epoll_ctl.
//
// This read uses the kernel's TCP_INQ (enable_read_drained_hint()): with each
// recvmsg the kernel says how many bytes are left, and counts a received FIN
// as one. Zero left means the socket is drained, and the read tells Asio so
// (the status its perform() returns, as Asio's own reads do after EOF). The
// reactor then queues the next read without trying it and performs it when
// epoll reports bytes. That is safe: the reactor is edge-triggered and
// records every edge, so bytes or a FIN that arrive after the drained read
// raise a new one, and an edge seen while no read was queued makes the next
// read try at once again. Without TCP_INQ (Unix-domain sockets) the read
// behaves like Asio's.
//
// Must be started on the socket's own io_context thread (one thread per
// io_context in pgmux) with that context's reactor.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

// Asio's public headers first: its detail headers assume them.
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
// clang-format off
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
// clang-format on
#include <boost/version.hpp>
#include <cerrno>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "net/syscalls.h"

// Asio's reactor is not a public interface: this file was written against
// Boost 1.81 (Debian 12's libboost1.81-dev) and must be checked again for
// another version (Asio 1.29, in Boost 1.84, changed start_op()).
#if BOOST_VERSION / 100 != 1081
#error "net/reactor_read.h uses Boost 1.81's Asio reactor internals; review it for this Boost"
#endif

namespace pgmux::net {

using Reactor = boost::asio::detail::reactor;
static_assert(std::is_same_v<Reactor, boost::asio::detail::epoll_reactor>,
              "the reactor read needs Asio's epoll reactor");

// The reactor of `socket`'s io_context (a service lookup: cache it).
Reactor& reactor_of(boost::asio::ip::tcp::socket& socket);

// Asks the kernel to report, with each read, the bytes left (TCP_INQ; Linux
// 4.18). Harmless where unsupported: reads then never count as drained.
void enable_read_drained_hint(boost::asio::ip::tcp::socket& socket);

// True when the reactor has recorded no readiness of `socket` since one of
// these reads found it drained: no byte and no FIN has arrived since, as far
// as the reactor has been told (the kernel's news reaches it at its next
// epoll_wait). False when unknown: the last read did not drain it (or had no
// TCP_INQ), or the socket was registered since. Call on the socket's own
// io_context thread.
bool quiet_since_drained(boost::asio::ip::tcp::socket& socket) noexcept;

namespace detail {

// Asio keeps a socket's reactor registration in a protected member; a
// pointer to member named through a derived class reaches it legally.
struct SocketInternals : boost::asio::ip::tcp::socket {
    static auto& of(boost::asio::ip::tcp::socket& socket) {
        return (socket.*&SocketInternals::impl_).get_implementation();
    }
};

// One recvmsg; `drained` tells whether the kernel reported nothing left.
inline ssize_t receive(int fd, std::span<char> into, bool& drained) {
    iovec iov{into.data(), into.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg_no_cancel(fd, &msg);
    drained = false;
    if (n <= 0) return n;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
            int left = 0;
            std::memcpy(&left, CMSG_DATA(c), sizeof(left));
            drained = left == 0;
        }
    }
    return n;
}

// Reader provides:
//   std::span<char> buffer();         where to receive (called in perform)
//   void received(std::size_t n);     after n > 0 bytes, still in perform
//   void operator()(error_code, std::size_t n);   the completion
template <class Reader>
class ReactorReadOp final : public boost::asio::detail::reactor_op {
  public:
    static ReactorReadOp* create(int fd, Reader reader) {
        return new (FreeList::local().take()) ReactorReadOp(fd, std::move(reader));
    }

  private:
    ReactorReadOp(int fd, Reader reader)
        : reactor_op(boost::system::error_code(), &do_perform, &do_complete),
          fd_(fd),
          reader_(std::move(reader)) {}

    // Freed operations of this type are kept per thread for the next read,
    // as Asio keeps its own (whose cache of two blocks this and the other
    // reads would keep evicting): a transaction would otherwise cost two
    // malloc/free pairs.
    class FreeList {
      public:
        static FreeList& local() {
            thread_local FreeList list;
            return list;
        }
        void* take() {
            if (count_ == 0) return ::operator new(sizeof(ReactorReadOp));
            return blocks_[--count_];
        }
        void give(void* block) {
            if (count_ == kCapacity) return ::operator delete(block);
            blocks_[count_++] = block;
        }
        ~FreeList() {
            while (count_ > 0) ::operator delete(blocks_[--count_]);
        }

      private:
        static constexpr std::size_t kCapacity = 16;
        void* blocks_[kCapacity];
        std::size_t count_ = 0;
    };

    static void destroy(ReactorReadOp* op) {
        op->~ReactorReadOp();
        FreeList::local().give(op);
    }

    static status do_perform(reactor_op* base) {
        auto* op = static_cast<ReactorReadOp*>(base);
        for (;;) {
            bool drained = false;
            const ssize_t n = receive(op->fd_, op->reader_.buffer(), drained);
            if (n > 0) {
                op->bytes_transferred_ = static_cast<std::size_t>(n);
                op->reader_.received(op->bytes_transferred_);
                return drained ? done_and_exhausted : done;
            }
            if (n == 0) {
                op->ec_ = boost::asio::error::eof;
                return done_and_exhausted;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
            op->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
            return done;
        }
    }

    // owner is null when the io_context is destroyed with the read queued.
    static void do_complete(void* owner, boost::asio::detail::operation* base,
                            const boost::system::error_code&, std::size_t) {
        auto* op = static_cast<ReactorReadOp*>(base);
        Reader reader(std::move(op->reader_));
        const boost::system::error_code ec = op->ec_;
        const std::size_t n = op->bytes_transferred_;
        destroy(op);
        if (owner) reader(ec, n);
    }

    int fd_;
    Reader reader_;
};

}  // namespace detail

template <class Reader>
void start_reactor_read(Reactor& reactor, boost::asio::ip::tcp::socket& socket, Reader reader) {
    auto& impl = detail::SocketInternals::of(socket);
    auto* op = detail::ReactorReadOp<Reader>::create(impl.socket_, std::move(reader));
    namespace ops = boost::asio::detail::socket_ops;
    if ((impl.state_ & ops::non_blocking) == 0 &&
        !ops::set_internal_non_blocking(impl.socket_, impl.state_, true, op->ec_)) {
        reactor.post_immediate_completion(op, false);
        return;
    }
    reactor.start_op(Reactor::read_op, impl.socket_, impl.reactor_data_, op, false, true);
}

}  // namespace pgmux::net
