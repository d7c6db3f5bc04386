// TLS towards a PostgreSQL server, negotiated as libpq does: an SSLRequest
// before the StartupMessage (or the CancelRequest), a one-byte answer, then
// the handshake on the same socket.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>

#include "config/config.h"
#include "net/tls.h"

namespace pgmux::backend {

// What a pool (or a cancel) needs to open TLS links; disable needs nothing.
struct ServerTls {
    config::ServerTlsMode mode = config::ServerTlsMode::kDisable;
    std::shared_ptr<const net::TlsContext> context;  // set unless mode is disable

    [[nodiscard]] bool enabled() const noexcept {
        return mode != config::ServerTlsMode::kDisable && context != nullptr;
    }
    // require and stronger refuse a server that answers 'N'.
    [[nodiscard]] bool mandatory() const noexcept {
        return enabled() && mode != config::ServerTlsMode::kPrefer;
    }
};

// Process-wide figures for the admin API's metrics.
struct ServerTlsStats {
    static std::atomic<std::uint64_t> attempts;  // SSLRequests sent (cancels excluded)
    static std::atomic<std::int64_t> open;       // server connections using TLS now
};

// The link's TLS stream, or nullptr when it stays plaintext (prefer and a
// server without TLS); a string says why the link must not be used.
using ServerTlsResult = std::variant<std::unique_ptr<net::TlsStream>, std::string>;

// Runs the negotiation on a connected, non-blocking socket that nothing has
// been sent on yet. `host` is what the configuration names the server by
// (checked against its certificate under verify-full). Does not time out by
// itself: callers race it against their connect deadline.
boost::asio::awaitable<ServerTlsResult> start_server_tls(boost::asio::ip::tcp::socket& socket,
                                                         const ServerTls& tls,
                                                         const std::string& host);

}  // namespace pgmux::backend
