#include "backend/server_tls.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "protocol/messages.h"
#include "protocol/wire.h"

namespace pgmux::backend {

namespace asio = boost::asio;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::atomic<std::uint64_t> ServerTlsStats::attempts{0};
std::atomic<std::int64_t> ServerTlsStats::open{0};

asio::awaitable<ServerTlsResult> start_server_tls(asio::ip::tcp::socket& socket,
                                                  const ServerTls& tls, const std::string& host) {
    if (!tls.enabled()) co_return std::unique_ptr<net::TlsStream>{};
    std::string request;
    protocol::put_u32(request, 8);
    protocol::put_u32(request, static_cast<std::uint32_t>(protocol::kSslRequestCode));
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(request), use_nothrow);
    if (wec) co_return "cannot send SSLRequest: " + wec.message();
    // Exactly one byte: anything after it would be plaintext that an attacker
    // could have injected before the handshake (CVE-2021-23222).
    char answer = 0;
    auto [rec, rn] = co_await socket.async_read_some(asio::buffer(&answer, 1), use_nothrow);
    if (rec) co_return "the server closed the connection after SSLRequest: " + rec.message();
    if (answer == 'N') {
        if (tls.mandatory()) {
            co_return std::string("the server does not support TLS (server_tls_sslmode = ") +
                config::to_string(tls.mode) + ")";
        }
        co_return std::unique_ptr<net::TlsStream>{};
    }
    if (answer != 'S') co_return std::string("the server sent an invalid answer to SSLRequest");
    auto stream = std::make_unique<net::TlsStream>(tls.context, net::TlsStream::Role::kClient,
                                                   socket.native_handle());
    if (!stream->valid()) co_return std::string("cannot create a TLS connection (out of memory?)");
    if (tls.mode == config::ServerTlsMode::kVerifyFull && !stream->expect_host(host)) {
        co_return "cannot check the server certificate against host name \"" + host + "\"";
    }
    if (auto ec = co_await stream->handshake(socket)) {
        co_return "TLS with the server failed: " + stream->error_text();
    }
    co_return std::move(stream);
}

}  // namespace pgmux::backend
