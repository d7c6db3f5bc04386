#include "backend/server_connection.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/reactor_read.h"
#include "net/server_socket.h"
#include "net/tcp_options.h"
#include "pgmux/auth/crypto.hpp"
#include "protocol/frame.h"
#include "protocol/wire.h"
#include "runtime/log.h"

namespace pgmux::backend {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

// Reads until one complete typed frame is buffered; nullopt on EOF, error or
// a malformed frame. Used only during login, never on the relay path.
asio::awaitable<std::optional<protocol::Frame>> read_frame(tcp::socket& socket, net::TlsStream* tls,
                                                           net::ReadBuffer& in,
                                                           std::size_t max_bytes) {
    for (;;) {
        auto r = protocol::decode_frame(in.view(), max_bytes);
        if (r.status == protocol::DecodeStatus::kFrame) co_return r.frame;
        if (r.status != protocol::DecodeStatus::kNeedMore) co_return std::nullopt;
        char* p = in.prepare(4096);
        auto [ec, n] = co_await net::async_read_some(socket, tls, p, in.free_space());
        if (ec) co_return std::nullopt;
        in.commit(n);
    }
}

}  // namespace

ServerConnection::ServerConnection(tcp::socket socket, std::uint64_t id, config::Endpoint endpoint)
    : socket_(std::move(socket)),
      home_(context_of(socket_.get_executor())),
      out_(socket_),
      id_(id),
      endpoint_(std::move(endpoint)) {}

const asio::execution_context* ServerConnection::context_of(const asio::any_io_executor& executor) {
    return &asio::query(executor, asio::execution::context);
}

ServerConnection::~ServerConnection() {
    close();
    if (tls_) ServerTlsStats::open.fetch_sub(1, std::memory_order_relaxed);
}

asio::awaitable<ServerConnection::ConnectResult> ServerConnection::connect(
    asio::any_io_executor executor, ServerTarget target, std::uint64_t id) {
    tcp::socket socket(executor);
    asio::steady_timer deadline(executor, target.connect_timeout);
    std::string where;
    // Racing the timer is safe: a cancelled connect leaves only a closed socket.
    auto raced = co_await (net::connect_to_server(socket, target.endpoint, where) ||
                           deadline.async_wait(use_nothrow));
    if (raced.index() == 1) co_return ConnectError{"timeout connecting to " + where, {}};
    if (auto ec = std::get<0>(raced)) {
        co_return ConnectError{"cannot connect to " + where + ": " + ec.message(), {}};
    }
    socket.non_blocking(true);
    net::apply_tcp_options_if_tcp(socket, target.tcp);
    auto conn = std::make_unique<ServerConnection>(std::move(socket), id, target.endpoint);

    deadline.expires_after(target.connect_timeout);
    auto login_raced = co_await (conn->login(target) || deadline.async_wait(use_nothrow));
    if (login_raced.index() == 1) {
        co_return ConnectError{"timeout logging in to " + target.endpoint.host + ":" +
                                   std::to_string(target.endpoint.port),
                               {}};
    }
    if (auto err = std::get<0>(std::move(login_raced))) co_return std::move(*err);
    co_return std::move(conn);
}

asio::awaitable<boost::system::error_code> ServerConnection::write_all(std::string_view bytes) {
    out_.send(bytes);
    if (out_.queued() > 0) co_await out_.drain();
    co_return out_.error();
}

asio::awaitable<std::optional<ConnectError>> ServerConnection::login(const ServerTarget& target) {
    const std::string where = target.endpoint.host + ":" + std::to_string(target.endpoint.port);
    // PostgreSQL offers no TLS on its Unix-domain socket; like libpq, pgmux
    // does not ask there (server_tls_sslmode applies to TCP only).
    if (target.tls.enabled() && !net::is_unix_socket_host(target.endpoint.host)) {
        ServerTlsStats::attempts.fetch_add(1, std::memory_order_relaxed);
        auto tls = co_await start_server_tls(socket_, target.tls, target.endpoint.host);
        if (auto* why = std::get_if<std::string>(&tls)) {
            co_return ConnectError{"cannot connect to " + where + ": " + *why, {}};
        }
        tls_ = std::move(std::get<std::unique_ptr<net::TlsStream>>(tls));
        if (tls_) {
            ServerTlsStats::open.fetch_add(1, std::memory_order_relaxed);
            out_.use_tls(tls_.get());
            LOG_DEBUG << "server connection S" << id_ << " to " << where << " uses "
                      << tls_->description();
        }
    }
    std::string startup;
    protocol::append_startup_message(startup,
                                     {{"user", target.user}, {"database", target.database}});
    if (auto wec = co_await write_all(startup)) {
        co_return ConnectError{"cannot send startup packet: " + wec.message(), {}};
    }

    ServerCredentials credentials =
        target.learned ? target.learned->snapshot() : ServerCredentials{};
    if (target.password) credentials.password = target.password;
    if (target.md5_hash) credentials.md5_hash = target.md5_hash;
    // Over TLS, SCRAM binds itself to the server's certificate
    // (SCRAM-SHA-256-PLUS, tls-server-end-point) when the server offers it.
    ServerAuthenticator authenticator(target.user, std::move(credentials),
                                      tls_ ? tls_->peer_end_point() : auth::Bytes{});

    for (;;) {
        auto frame = co_await read_frame(socket_, tls_.get(), in_, target.max_message_bytes);
        if (!frame) co_return ConnectError{"server closed the connection during login", {}};
        const std::string_view body = frame->body;
        switch (frame->type) {
            case protocol::msg::kAuthentication: {
                auto reply = authenticator.on_request(body);
                if (auto* err = std::get_if<ServerAuthError>(&reply)) {
                    co_return ConnectError{"cannot log in to the server as \"" + target.user +
                                               "\": " + err->description,
                                           {}};
                }
                auto& r = std::get<ServerAuthenticator::Reply>(reply);
                if (!r.message.empty()) {
                    auto aec = co_await write_all(r.message);
                    auth::crypto::cleanse(r.message);
                    if (aec)
                        co_return ConnectError{"cannot send authentication: " + aec.message(), {}};
                }
                break;
            }
            case protocol::msg::kParameterStatus: {
                protocol::BodyReader r(body);
                auto name = r.cstr();
                auto value = r.cstr();
                if (name && value) parameters[std::string(*name)] = std::string(*value);
                break;
            }
            case protocol::msg::kBackendKeyData: {
                protocol::BodyReader r(body);
                backend_pid_ = r.i32().value_or(0);
                backend_secret_ = r.i32().value_or(0);
                break;
            }
            case protocol::msg::kErrorResponse: {
                auto fields = protocol::parse_error_fields(body);
                std::string text = fields ? fields->message : "malformed error";
                co_return ConnectError{"server refused login: " + text, fields};
            }
            case protocol::msg::kReadyForQuery:
                in_.consume(frame->raw.size());
                LOG_DEBUG << "server connection S" << id_ << " logged in to " << where << " as "
                          << target.user << (tls_ ? " over TLS" : "")
                          << (authenticator.sasl_mechanism().empty() ? "" : " with ")
                          << authenticator.sasl_mechanism();
                co_return std::nullopt;
            default:
                break;  // NoticeResponse, NegotiateProtocolVersion: nothing to do
        }
        in_.consume(frame->raw.size());
    }
}

bool ServerConnection::looks_alive() noexcept {
    if (!socket_.is_open()) return false;
    if (net::has_buffered_input(tls_.get())) return false;  // unsolicited bytes
    char byte;
    const auto n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // n == -1 with EAGAIN: nothing to read, the healthy case. n == 0 is EOF; any
    // byte means the server sent something while idle, typically a FATAL.
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool ServerConnection::known_quiet() noexcept {
    return !tls_ && socket_.is_open() && net::quiet_since_drained(socket_);
}

void ServerConnection::rebind(const asio::any_io_executor& executor) {
    const auto* target = context_of(executor);
    if (target == home_) return;
    home_ = target;
    boost::system::error_code ec;
    // The family only matters to endpoint calls, never made on a Unix-domain
    // server socket (see net/server_socket.h).
    const auto protocol = net::is_unix_socket_host(endpoint_.host)
                              ? tcp::v4()
                              : socket_.local_endpoint(ec).protocol();
    const int fd = socket_.release(ec);
    if (ec) {
        socket_ = tcp::socket(executor);
        return;
    }
    socket_ = tcp::socket(executor, protocol, fd);
    socket_.non_blocking(true, ec);
    out_.rebind(socket_);
}

void ServerConnection::close() noexcept {
    if (!socket_.is_open()) return;
    boost::system::error_code ec;
    if (!out_.failed() && out_.queued() == 0) {
        char terminate[5] = {protocol::msg::kTerminate, 0, 0, 0, 4};
        net::write_some(socket_, tls_.get(), terminate, 5, ec);
    }
    if (tls_) tls_->shutdown();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

}  // namespace pgmux::backend
