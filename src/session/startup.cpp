// The client login handshake: startup packet, SSL/GSS negotiation, cancel
// requests, authentication, and the first server round trip that validates
// the database and the client's startup parameters.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "net/server_socket.h"
#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"

namespace pgmux::session {

namespace asio = boost::asio;
namespace msg = protocol::msg;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<bool> ClientSession::login() {
    // The whole login is bounded: a slow or silent client cannot hold a slot.
    asio::steady_timer deadline(
        socket_.get_executor(),
        std::chrono::duration_cast<std::chrono::milliseconds>(config_->client_login_timeout));
    deadline.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;  // cancelled: login finished in time
        if (auto self = weak.lock()) {
            self->close_reason_ = CloseReason::kLoginTimeout;
            boost::system::error_code ignored;
            self->socket_.close(ignored);
        }
    });
    bool ok = false;
    bool cancel_request = false;
    bool said_nothing = false;  // closed before sending a single byte
    bool saw_packet = false;
    for (;;) {
        auto body = co_await read_startup_packet();
        if (!body) {
            // A TCP health check or port scan is no failed login.
            said_nothing = !saw_packet && in_.empty() && !close_reason_;
            if (said_nothing) close_reason_ = CloseReason::kClientEof;
            break;
        }
        saw_packet = true;
        auto packet = protocol::parse_startup_packet(*body);
        if (!packet) {
            send_error("FATAL", "08P01", "invalid startup packet layout");
            break;
        }
        if (packet->code == protocol::kSslRequestCode ||
            packet->code == protocol::kGssEncRequestCode) {
            if (!in_.empty()) {  // bytes after the request would bypass TLS
                send_error("FATAL", "08P01", "received unencrypted data after SSL request");
                break;
            }
            auto context =
                packet->code == protocol::kSslRequestCode && !tls_ ? config_->client_tls : nullptr;
            if (!context) {
                out_.send("N");
                continue;
            }
            if (!co_await start_client_tls(std::move(context))) break;
            continue;
        }
        if (packet->code == protocol::kCancelRequestCode) {
            if (auto target = proxy_.cancels.find({packet->cancel_pid, packet->cancel_secret})) {
                asio::post(target->socket_.get_executor(),
                           [target] { target->cancel_current_query(); });
            }
            close_reason_ = CloseReason::kCancelRequest;
            cancel_request = true;
            break;  // a cancel connection never gets a reply
        }
        ok = co_await handle_startup(*packet);
        break;
    }
    deadline.cancel();
    if (!ok && !cancel_request && !said_nothing) {
        proxy_.counters.login_failures.fetch_add(1, std::memory_order_relaxed);
        if (!close_reason_) close_reason_ = CloseReason::kLoginFailed;
    }
    co_return ok&& socket_.is_open();
}

asio::awaitable<bool> ClientSession::start_client_tls(
    std::shared_ptr<const net::TlsContext> context) {
    out_.send("S");
    auto tls = std::make_unique<net::TlsStream>(std::move(context), net::TlsStream::Role::kServer,
                                                socket_.native_handle());
    if (!tls->valid()) co_return false;
    if (auto ec = co_await tls->handshake(socket_)) {
        // Nothing can be said to the client: the channel is not established.
        if (close_reason_ != CloseReason::kLoginTimeout) {
            LOG_INFO << "client C" << id_ << " " << peer() << ": " << tls->error_text();
        }
        co_return false;
    }
    tls_ = std::move(tls);
    out_.use_tls(tls_.get());
    LOG_DEBUG << "client C" << id_ << " " << peer() << " uses " << tls_->description();
    co_return true;
}

asio::awaitable<std::optional<std::string>> ClientSession::read_startup_packet() {
    for (;;) {
        auto r = protocol::decode_startup_packet(in_.view());
        if (r.status == protocol::DecodeStatus::kFrame) {
            std::string body(r.body);
            in_.consume(r.consumed);
            co_return body;
        }
        if (r.status != protocol::DecodeStatus::kNeedMore) {
            send_error("FATAL", "08P01", "invalid length of startup packet");
            co_return std::nullopt;
        }
        char* p = in_.prepare(1024);
        auto [ec, n] = co_await net::async_read_some(socket_, tls_.get(), p, in_.free_space());
        if (ec) co_return std::nullopt;
        in_.commit(n);
    }
}

asio::awaitable<bool> ClientSession::handle_startup(const protocol::StartupPacket& packet) {
    const int major = packet.code >> 16;
    const int minor = packet.code & 0xffff;
    if (major != 3) {
        send_error("FATAL", "0A000",
                   "unsupported frontend protocol " + std::to_string(major) + "." +
                       std::to_string(minor) + ": server supports 3.0 to 3.0");
        co_return false;
    }
    std::vector<std::string> unsupported;
    for (const auto& [name, value] : packet.params) {
        if (name == "user")
            user_ = value;
        else if (name == "database")
            database_ = value;
        else if (name.rfind("_pq_.", 0) == 0)
            unsupported.push_back(name);
        else if (name == "replication" && value != "false" && value != "0" && value != "off") {
            send_error("FATAL", "0A000", "pgmux does not support replication connections");
            co_return false;
        }
    }
    if (minor > 0 || !unsupported.empty()) {
        std::string m;
        protocol::append_negotiate_protocol_version(m, 0, unsupported);
        out_.send(m);
    }
    if (user_.empty()) {
        send_error("FATAL", "28000", "no PostgreSQL user name specified in startup packet");
        co_return false;
    }
    if (database_.empty()) database_ = user_;
    if (!tls_ && config_->client_tls_sslmode == config::ClientTlsMode::kRequire) {
        // PostgreSQL's words for a hostssl-only pg_hba.conf, and the same SQLSTATE.
        LOG_INFO << "client C" << id_ << " " << peer() << ": refused without TLS (" << user_ << "@"
                 << database_ << ")";
        send_error("FATAL", "28000",
                   "pgmux: TLS is required: no connection allowed for host \"" +
                       peer_.address().to_string() + "\", user \"" + user_ + "\", database \"" +
                       database_ + "\", no encryption",
                   "client_tls_sslmode is require: connect with sslmode=require or stronger.");
        co_return false;
    }
    if (proxy_.clients.load() > config_->max_client_conn) {
        proxy_.counters.clients_refused.fetch_add(1, std::memory_order_relaxed);
        close_reason_ = CloseReason::kTooManyClients;
        send_error("FATAL", "53300", "sorry, too many clients already",
                   "pgmux accepts at most " + std::to_string(config_->max_client_conn) +
                       " client connections (max_client_conn).");
        co_return false;
    }
    if (proxy_.shutting_down.load()) {
        close_reason_ = CloseReason::kShutdown;
        send_error("FATAL", "57P03", "pgmux is shutting down");
        co_return false;
    }
    state_.emplace(packet.params);
    if (!state_->startup().unsupported_options.empty()) {
        send_error("FATAL", "22023",
                   "invalid command-line argument for server process: " +
                       state_->startup().unsupported_options.front(),
                   "pgmux supports only -c name=value and --name=value in options.");
        co_return false;
    }
    if (!state_->startup().backend_only.empty()) {
        send_error("FATAL", "0A000",
                   "pgmux cannot apply parameter \"" +
                       state_->startup().backend_only.front().first + "\" for a pooled connection",
                   "It can only be set when a server process starts.");
        co_return false;
    }
    if (!co_await authenticate()) co_return false;
    pool_ = proxy_.pool_for(database_, user_);
    if (!pool_) {
        send_error("FATAL", "3D000", "database \"" + database_ + "\" does not exist",
                   "pgmux has no [databases] entry for it.");
        co_return false;
    }
    mode_ = pool_->settings().mode;
    state_->set_session_mode(mode_ == config::PoolMode::kSession);
    switch (pool_->settings().on_pin) {
        case config::PinPolicy::kAllow:
            on_pin_ = pinning::OnPin::allow;
            break;
        case config::PinPolicy::kWarn:
            on_pin_ = pinning::OnPin::warn;
            break;
        case config::PinPolicy::kReject:
            on_pin_ = pinning::OnPin::reject;
            break;
    }
    share_server_credentials();
    co_return co_await finish_login();
}

asio::awaitable<bool> ClientSession::finish_login() {
    // One server round trip validates what only the server can judge (the
    // database exists, the user may connect, the startup parameters are
    // valid) and yields the ParameterStatus set this client must see.
    std::string settings_key;
    for (const auto& [name, value] : state_->settings()) {
        settings_key.append(name).push_back('\0');
        settings_key.append(value.replay_sql).push_back('\0');
    }
    if (mode_ == config::PoolMode::kTransaction) {
        if (auto known = pool_->cached_login(settings_key)) {
            send_login_reply(*known);
            co_return true;
        }
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_->query_wait_timeout);
    auto result = co_await pool_->acquire(socket_.get_executor(), {}, wait);
    if (auto* err = std::get_if<pool::AcquireError>(&result)) {
        if (err->kind == pool::AcquireFailure::kConnectFailed && err->connect_error.server_error) {
            const auto& se = *err->connect_error.server_error;
            send_error("FATAL", se.sqlstate, se.message);
        } else if (err->kind == pool::AcquireFailure::kTimeout) {
            send_error("FATAL", "53300",
                       "pgmux: no server connection became free within query_wait_timeout");
        } else {
            send_error("FATAL", "08006",
                       "pgmux: could not connect to the server: " + err->connect_error.description);
        }
        co_return false;
    }
    auto server = std::move(std::get<std::unique_ptr<backend::ServerConnection>>(result));

    std::optional<protocol::ErrorFields> failure;
    const auto plan = pinning::plan_replay(*state_, server->settings);
    if (!plan.empty()) {
        std::string q;
        protocol::append_query(q, plan.sql);
        server->out().send(q);
        bool done = false;
        while (!done) {
            auto r = protocol::decode_frame(server->in().view(), config_->max_message_bytes);
            if (r.status == protocol::DecodeStatus::kNeedMore) {
                char* p = server->in().prepare(4096);
                auto [ec, n] = co_await net::async_read_some(server->socket(), server->tls(), p,
                                                             server->in().free_space());
                if (ec) {
                    send_error("FATAL", "08006", "server closed the connection unexpectedly");
                    co_return false;  // the connection is destroyed with `server`
                }
                server->in().commit(n);
                continue;
            }
            if (r.status != protocol::DecodeStatus::kFrame) {
                send_error("FATAL", "08P01", "pgmux: protocol error in the server's response");
                co_return false;
            }
            const auto& f = r.frame;
            if (f.type == msg::kParameterStatus) {
                protocol::BodyReader br(f.body);
                auto name = br.cstr();
                auto value = br.cstr();
                if (name && value) server->parameters[std::string(*name)] = std::string(*value);
            } else if (f.type == msg::kErrorResponse) {
                failure = protocol::parse_error_fields(f.body);
            } else if (f.type == msg::kReadyForQuery) {
                done = true;
            }
            server->in().consume(r.consumed);
        }
        // The replay runs as one implicit transaction: on failure nothing of it stays.
        if (!failure) server->settings.apply(plan);
    }
    if (failure) {
        pool_->release(std::move(server));
        send_error("FATAL", failure->sqlstate, failure->message);
        co_return false;
    }

    auto parameters = std::make_shared<std::string>();
    for (const auto& [name, value] : server->parameters) {
        protocol::append_parameter_status(*parameters, name, value);
    }
    pool_->remember_login(settings_key, parameters);
    send_login_reply(*parameters);
    last_server_id_ = server->id();
    if (mode_ == config::PoolMode::kSession) {
        server_ = std::move(server);
        start_relay();
    } else {
        server->last_client_id = id_;
        pool_->release(std::move(server));
    }
    co_return true;
}

void ClientSession::send_login_reply(std::string_view parameter_statuses) {
    cancel_key_ = proxy_.cancels.add(shared_from_this());
    registered_cancel_ = true;
    std::string hello;
    hello.reserve(parameter_statuses.size() +
                  64);  // and AuthenticationOk, BackendKeyData, ReadyForQuery
    protocol::append_authentication(hello, 0);
    hello.append(parameter_statuses);
    protocol::append_backend_key_data(hello, cancel_key_.pid, cancel_key_.secret);
    protocol::append_ready_for_query(hello, 'I');
    out_.send(hello);
}

void ClientSession::cancel_current_query() {
    if (!server_) {
        // Queued for a server: the request ends here. Idle: nothing runs.
        if (borrow_started_ && pool_) pool_->cancel_wait(id_);
        return;
    }
    proxy_.counters.cancels_forwarded.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(
        socket_.get_executor(),
        forward_cancel(socket_.get_executor(), server_->endpoint(), pool_->settings().target.tls,
                       server_->backend_pid(), server_->backend_secret()),
        asio::detached);
}

asio::awaitable<void> ClientSession::forward_cancel(asio::any_io_executor executor,
                                                    config::Endpoint server, backend::ServerTls tls,
                                                    std::int32_t pid, std::int32_t secret) {
    asio::ip::tcp::socket socket(executor);
    std::string where;
    const auto connect_error = co_await net::connect_to_server(socket, server, where);
    if (connect_error) co_return;
    // PostgreSQL takes a CancelRequest after an SSLRequest handshake too, which
    // is the only way to reach a server that accepts nothing but TLS.
    std::unique_ptr<net::TlsStream> stream;
    if (tls.enabled() && !net::is_unix_socket_host(server.host)) {
        socket.non_blocking(true);
        auto negotiated = co_await backend::start_server_tls(socket, tls, server.host);
        if (auto* why = std::get_if<std::string>(&negotiated)) {
            LOG_WARN << "cannot forward a cancel request to " << server.host << ":" << server.port
                     << ": " << *why;
            co_return;
        }
        stream = std::move(std::get<std::unique_ptr<net::TlsStream>>(negotiated));
    }
    std::string packet;
    protocol::append_cancel_request(packet, pid, secret);
    LOG_DEBUG << "forwarding a cancel request to " << server.host << ":" << server.port
              << (stream ? " over TLS" : "");
    if (stream) {
        net::Outbox out(socket);
        out.use_tls(stream.get());
        out.send(packet);
        co_await out.drain();
    } else {
        co_await asio::async_write(socket, asio::buffer(packet), use_nothrow);
    }
    // The server closes the connection once it has read the request.
    char byte;
    co_await net::async_read_some(socket, stream.get(), &byte, 1);
}

}  // namespace pgmux::session
