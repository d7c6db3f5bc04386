// A bounded, write-first output queue for one socket.
//
// Bytes are written with a direct non-blocking send when nothing is queued,
// which is the common case and costs one syscall and no event-loop round trip.
// Whatever the kernel does not take is kept and written when the socket is
// writable again. Producers that can outpace the peer (relaying a large result
// to a slow client) must co_await wait_below() so the queue stays bounded.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <string>
#include <string_view>

namespace pgmux::net {

class TlsStream;

class Outbox {
  public:
    explicit Outbox(boost::asio::ip::tcp::socket& socket);
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    // Queues bytes and tries to send everything queued right away.
    void send(std::string_view bytes);
    // Queues bytes without sending; call flush() after a batch.
    void append(std::string_view bytes);
    void flush();

    [[nodiscard]] std::size_t queued() const noexcept;
    [[nodiscard]] bool failed() const noexcept;
    [[nodiscard]] boost::system::error_code error() const noexcept;

    // Suspends until fewer than `limit` bytes are queued or the socket failed.
    // Safe to cancel: nothing is lost, the queue keeps draining on its own.
    boost::asio::awaitable<void> wait_below(std::size_t limit);

    // Suspends until everything queued has been handed to the kernel.
    boost::asio::awaitable<void> drain() { return wait_below(1); }

    // Re-points the outbox at a socket that replaced the old one (same peer,
    // new executor). Only valid while nothing is queued.
    void rebind(boost::asio::ip::tcp::socket& socket);

    // From now on bytes go through `tls` (which must outlive the outbox's
    // use); set after the handshake, while nothing is queued.
    void use_tls(TlsStream* tls);

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace pgmux::net
