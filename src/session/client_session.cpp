#include "session/client_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/messages.h"
#include "runtime/log.h"

namespace pgmux::session {

namespace asio = boost::asio;
using protocol::msg::kBind;
using protocol::msg::kClose;
using protocol::msg::kCopyData;
using protocol::msg::kCopyDone;
using protocol::msg::kCopyFail;
using protocol::msg::kDescribe;
using protocol::msg::kExecute;
using protocol::msg::kFlush;
using protocol::msg::kFunctionCall;
using protocol::msg::kParse;
using protocol::msg::kQuery;
using protocol::msg::kSync;
using protocol::msg::kTerminate;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A server's output waiting for a slow peer is bounded: past the high mark
// the producer stops reading until the queue drains to the low mark.
constexpr std::size_t kHighWatermark = 1024 * 1024;
constexpr std::size_t kLowWatermark = 256 * 1024;

const char* to_string(CloseReason r) noexcept {
    switch (r) {
        case CloseReason::kClientTerminate:
            return "client_terminate";
        case CloseReason::kClientEof:
            return "client_eof";
        case CloseReason::kLoginFailed:
            return "login_failed";
        case CloseReason::kLoginTimeout:
            return "login_timeout";
        case CloseReason::kProtocolError:
            return "protocol_error";
        case CloseReason::kServerLost:
            return "server_lost";
        case CloseReason::kAdminDisconnect:
            return "admin_disconnect";
        case CloseReason::kShutdown:
            return "shutdown";
        case CloseReason::kTooManyClients:
            return "too_many_clients";
    }
    return "unknown";
}

namespace {
bool is_frontend_message(char type) {
    switch (type) {
        case kQuery:
        case kParse:
        case kBind:
        case kDescribe:
        case kExecute:
        case kClose:
        case kSync:
        case kFlush:
        case kFunctionCall:
        case kCopyData:
        case kCopyDone:
        case kCopyFail:
            return true;
        default:
            return false;
    }
}
}  // namespace

ClientSession::ClientSession(asio::ip::tcp::socket socket, ProxyContext& proxy,
                             WorkerContext& worker, std::uint64_t id)
    : socket_(std::move(socket)), out_(socket_), proxy_(proxy), worker_(worker), id_(id) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
}

ClientSession::~ClientSession() = default;

asio::awaitable<void> ClientSession::run() {
    auto self = shared_from_this();
    worker_.sessions.emplace(id_, self);
    proxy_.clients.fetch_add(1);
    proxy_.counters.clients_accepted.fetch_add(1, std::memory_order_relaxed);
    config_ = proxy_.config();
    if (co_await login()) {
        LOG_DEBUG << "client C" << id_ << " " << peer_ << " logged in as " << user_ << "@"
                  << database_;
        co_await serve();
    }
    finish();
}

void ClientSession::finish() {
    if (registered_cancel_) proxy_.cancels.remove(cancel_key_.pid);
    registered_cancel_ = false;
    closing_ = true;
    if (server_) {
        const bool idle = pending_.empty() && !unsynced_ && tx_status_ == 'I';
        if (idle && mode_ == config::PoolMode::kSession && relay_running_) {
            // Session mode: wipe the client's state before anyone else gets the
            // server; the relay releases it when DISCARD ALL completes.
            pending_.push_back(PendingReply{true});
            std::string q;
            protocol::append_query(q, "DISCARD ALL");
            server_->out().send(q);
            server_->applied_settings.clear();
        } else if (idle && mode_ == config::PoolMode::kTransaction) {
            release_server();
        } else {
            drop_server("the client left in the middle of a transaction");
        }
    }
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    proxy_.clients.fetch_sub(1);
    worker_.sessions.erase(id_);
    const auto reason = close_reason_.value_or(CloseReason::kClientEof);
    LOG_DEBUG << "client C" << id_ << " closed: " << to_string(reason);
}

asio::awaitable<void> ClientSession::serve() {
    auto& scratch = worker_.scratch;
    while (!closing_) {
        auto [wec] = co_await socket_.async_wait(asio::socket_base::wait_read, use_nothrow);
        if (wec || closing_) break;
        boost::system::error_code ec;
        const std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        if (ec) {
            if (!close_reason_) close_reason_ = CloseReason::kClientEof;
            break;
        }
        // The scratch buffer is shared by every session of this worker, so
        // bytes that must outlive a suspension (waiting for a server) move to
        // the session's own buffer first.
        const bool need_server = !server_;
        std::string_view data;
        if (in_.empty() && !need_server) {
            data = {scratch.data(), n};
        } else {
            in_.append({scratch.data(), n});
            data = in_.view();
        }
        const bool from_scratch = data.data() == scratch.data();
        auto used = co_await handle_client_bytes(data);
        if (!used) break;
        if (from_scratch) {
            if (*used < n) in_.append(data.substr(*used));
        } else {
            in_.consume(*used);
        }
        if (in_.empty()) in_.release_if_empty();
        if (server_ && server_->out().queued() > kHighWatermark) {
            co_await server_->out().wait_below(kLowWatermark);
        }
    }
}

asio::awaitable<std::optional<std::size_t>> ClientSession::handle_client_bytes(
    std::string_view data) {
    std::size_t pos = 0;
    std::size_t forward_from = std::string_view::npos;
    auto forward_pending = [&] {
        if (forward_from != std::string_view::npos && server_) {
            server_->out().append(data.substr(forward_from, pos - forward_from));
        }
        forward_from = std::string_view::npos;
    };
    while (pos < data.size()) {
        const auto r = protocol::decode_frame(data.substr(pos), config_->max_message_bytes);
        if (r.status == protocol::DecodeStatus::kNeedMore) break;
        if (r.status != protocol::DecodeStatus::kFrame) {
            forward_pending();
            proxy_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
            send_error("FATAL", "08P01",
                       r.status == protocol::DecodeStatus::kTooLarge
                           ? "message too large (max_message_bytes is " +
                                 std::to_string(config_->max_message_bytes) + ")"
                           : "invalid message length");
            close_reason_ = CloseReason::kProtocolError;
            co_return std::nullopt;
        }
        const protocol::Frame& f = r.frame;
        if (f.type == kTerminate) {
            forward_pending();
            if (server_) server_->out().flush();
            close_reason_ = CloseReason::kClientTerminate;
            co_return std::nullopt;
        }
        if (!is_frontend_message(f.type)) {
            forward_pending();
            proxy_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
            send_error("FATAL", "08P01",
                       "invalid frontend message type " + std::to_string(int(f.type)));
            close_reason_ = CloseReason::kProtocolError;
            co_return std::nullopt;
        }
        if (discard_until_sync_) {
            // A failure was already reported; like the server, skip to Sync.
            if (f.type == kSync) {
                discard_until_sync_ = false;
                std::string rfq;
                protocol::append_ready_for_query(rfq, tx_status_);
                out_.send(rfq);
            }
            pos += r.consumed;
            continue;
        }
        if (!server_) {
            if (!co_await link_server()) {
                if (closing_) co_return std::nullopt;
                // The failure was sent as an ErrorResponse; finish the cycle
                // the way the server would have.
                if (f.type == kQuery) {
                    std::string rfq;
                    protocol::append_ready_for_query(rfq, tx_status_);
                    out_.send(rfq);
                    pos += r.consumed;
                } else {
                    discard_until_sync_ = true;
                }
                continue;
            }
        }
        switch (f.type) {
            case kQuery:
                pending_.push_back(PendingReply{});
                proxy_.counters.queries.fetch_add(1, std::memory_order_relaxed);
                break;
            case kSync:
                pending_.push_back(PendingReply{});
                unsynced_ = false;
                break;
            case kFunctionCall:
                pending_.push_back(PendingReply{});
                break;
            case kExecute:
                proxy_.counters.queries.fetch_add(1, std::memory_order_relaxed);
                unsynced_ = true;
                break;
            case kParse:
            case kBind:
            case kDescribe:
            case kClose:
            case kFlush:
                unsynced_ = true;
                break;
            default:
                break;  // COPY data flows through untouched
        }
        if (forward_from == std::string_view::npos) forward_from = pos;
        pos += r.consumed;
    }
    forward_pending();
    if (server_) server_->out().flush();
    co_return pos;
}

asio::awaitable<bool> ClientSession::link_server() {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_->query_wait_timeout);
    auto result = co_await pool_->acquire(socket_.get_executor(), last_server_id_, wait);
    if (auto* err = std::get_if<pool::AcquireError>(&result)) {
        reply_wait_failure(*err);
        co_return false;
    }
    auto conn = std::move(std::get<std::unique_ptr<backend::ServerConnection>>(result));
    if (closing_) {
        pool_->release(std::move(conn));
        co_return false;
    }
    server_ = std::move(conn);
    last_server_id_ = server_->id();
    tx_status_ = 'I';
    append_replay(*server_);
    start_relay();
    co_return true;
}

void ClientSession::append_replay(backend::ServerConnection& server) {
    const std::string sql = replay_sql(startup_.values, server.applied_settings);
    if (sql.empty()) return;
    std::string q;
    protocol::append_query(q, sql);
    server.out().append(q);
    server.applied_settings = startup_.values;
    pending_.push_back(PendingReply{true});
    proxy_.counters.replays.fetch_add(1, std::memory_order_relaxed);
}

void ClientSession::start_relay() {
    relay_running_ = true;
    asio::co_spawn(socket_.get_executor(), relay(shared_from_this(), server_.get()),
                   asio::detached);
}

void ClientSession::reply_wait_failure(const pool::AcquireError& error) {
    switch (error.kind) {
        case pool::AcquireFailure::kTimeout:
            proxy_.counters.wait_timeouts.fetch_add(1, std::memory_order_relaxed);
            send_error("ERROR", "53300",
                       "pgmux: no server connection became free within query_wait_timeout",
                       "All " + std::to_string(pool_->stats().size) +
                           " server connections of this pool are busy.");
            break;
        case pool::AcquireFailure::kShuttingDown:
            send_error("FATAL", "57P01", "pgmux is shutting down");
            close_client(CloseReason::kShutdown);
            break;
        case pool::AcquireFailure::kConnectFailed:
            proxy_.counters.server_connect_errors.fetch_add(1, std::memory_order_relaxed);
            if (const auto& se = error.connect_error.server_error) {
                send_error("ERROR", se->sqlstate, se->message);
            } else {
                send_error(
                    "ERROR", "08006",
                    "pgmux: could not connect to the server: " + error.connect_error.description);
            }
            break;
    }
}

void ClientSession::send_error(std::string_view severity, std::string_view sqlstate,
                               std::string_view message, std::string_view detail) {
    std::string e;
    protocol::append_error_response(e, {severity, sqlstate, message, detail});
    out_.send(e);
}

void ClientSession::close_client(CloseReason reason) {
    if (!close_reason_) close_reason_ = reason;
    closing_ = true;
    boost::system::error_code ec;
    socket_.cancel(ec);  // wakes the session loop, which then finishes
}

void ClientSession::request_close(CloseReason reason) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
        if (self->closing_) return;
        const bool busy = self->server_ &&
                          (!self->pending_.empty() || self->unsynced_ || self->tx_status_ != 'I');
        if (reason == CloseReason::kShutdown && busy) return;  // closed when the transaction ends
        if (reason == CloseReason::kShutdown) {
            self->send_error("FATAL", "57P01",
                             "terminating connection due to administrator command");
        } else if (reason == CloseReason::kAdminDisconnect) {
            self->send_error("FATAL", "57P01", "pgmux: connection closed by the administrator");
        }
        self->close_client(reason);
    });
}

}  // namespace pgmux::session
