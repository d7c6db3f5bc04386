// The server-to-client half of a session: reads what the linked server sends,
// forwards it (or swallows replies to pgmux's own injected queries), tracks
// ReadyForQuery and gives the server back to the pool when the transaction
// is over.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"

namespace pgmux::session {

namespace asio = boost::asio;
namespace msg = protocol::msg;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kClientHighWatermark = 1024 * 1024;
constexpr std::size_t kClientLowWatermark = 256 * 1024;

asio::awaitable<void> ClientSession::relay(std::shared_ptr<ClientSession> self,
                                           backend::ServerConnection* server) {
    while (server_.get() == server) {
        auto [wec] =
            co_await server->socket().async_wait(asio::socket_base::wait_read, use_nothrow);
        if (server_.get() != server) break;  // released or dropped meanwhile
        boost::system::error_code ec;
        std::size_t n = 0;
        if (!wec) {
            auto& in = server->in();
            char* p = in.prepare(kReadChunk);
            n = server->socket().read_some(asio::buffer(p, in.free_space()), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
            if (!ec) in.commit(n);
        }
        if (wec || ec) {
            proxy_.counters.servers_lost.fetch_add(1, std::memory_order_relaxed);
            LOG_WARN << "server connection S" << server->id() << " of client C" << id_
                     << " was lost: " << (wec ? wec.message() : ec.message());
            const bool client_waiting = !tracker_.empty() || tx_status_ != 'I' || unsynced_ ||
                                        mode_ == config::PoolMode::kSession;
            drop_server("the server connection was lost");
            if (!closing_ && client_waiting) {
                if (!fatal_forwarded_) {
                    send_error("FATAL", "08006", "server closed the connection unexpectedly",
                               "The server connection pgmux was using for this session ended.");
                }
                close_client(CloseReason::kServerLost);
            }
            break;
        }
        auto [consumed, release] = handle_server_bytes(server->in().view());
        if (server_.get() != server) break;  // a protocol error dropped it
        server->in().consume(consumed);
        out_.flush();
        const bool between_transactions = tracker_.empty() && !unsynced_ && tx_status_ == 'I';
        const bool shutdown_now = proxy_.shutting_down.load() && !closing_ && between_transactions;
        if (release || shutdown_now) {
            if (release && server->in().empty()) {
                release_server();
            } else if (release) {
                drop_server("unexpected bytes after ReadyForQuery");
            }
            if (shutdown_now) {
                send_error("FATAL", "57P01", "terminating connection due to administrator command");
                close_client(CloseReason::kShutdown);
            }
            if (!server_ || server_.get() != server) break;
        }
        if (out_.queued() > kClientHighWatermark) {
            co_await out_.wait_below(kClientLowWatermark);
        }
    }
    relay_running_ = false;
}

std::pair<std::size_t, bool> ClientSession::handle_server_bytes(std::string_view data) {
    std::size_t pos = 0;
    std::size_t forward_from = std::string_view::npos;
    bool release = false;
    auto forward_pending = [&] {
        if (forward_from != std::string_view::npos && !closing_) {
            out_.append(data.substr(forward_from, pos - forward_from));
        }
        forward_from = std::string_view::npos;
    };
    while (pos < data.size()) {
        const auto r = protocol::decode_frame(data.substr(pos), config_->max_message_bytes);
        if (r.status == protocol::DecodeStatus::kNeedMore) break;
        if (r.status != protocol::DecodeStatus::kFrame) {
            forward_pending();
            LOG_ERROR << "server connection S" << server_->id() << " sent a malformed message";
            drop_server("protocol error from server");
            send_error("FATAL", "08P01", "pgmux: protocol error in the server's response");
            close_client(CloseReason::kProtocolError);
            return {pos, false};
        }
        const protocol::Frame& f = r.frame;
        Verdict v = tracker_.on_server_message(f.type, f.body);
        on_server_message_seen(f, v);
        if (!v.replacement.empty()) {
            forward_pending();
            if (!closing_) out_.append(v.replacement);
        } else if (!v.forward) {
            forward_pending();
        } else if (forward_from == std::string_view::npos) {
            forward_from = pos;
        }
        pos += r.consumed;
        if (v.event.kind == ReplyEvent::Kind::kReadyForQuery) release = may_release_server();
        if (tracker_.has_synthesized_head()) {
            forward_pending();
            std::string bytes;
            tracker_.take_synthesized(bytes);
            if (!closing_) out_.append(bytes);
        }
    }
    forward_pending();
    return {pos, release};
}

void ClientSession::on_server_message_seen(const protocol::Frame& f, const Verdict& v) {
    switch (f.type) {
        case msg::kParameterStatus: {
            protocol::BodyReader br(f.body);
            auto name = br.cstr();
            auto value = br.cstr();
            if (name && value) server_->parameters[std::string(*name)] = std::string(*value);
            break;
        }
        case msg::kErrorResponse:
            if (!v.forward && v.replacement.empty()) {
                auto fields = protocol::parse_error_fields(f.body);
                LOG_WARN << "a request pgmux made for client C" << id_ << " on server S"
                         << server_->id() << " failed: "
                         << (fields ? fields->sqlstate + " " + fields->message : "?");
            } else if (auto fields = protocol::parse_error_fields(f.body);
                       fields && (fields->severity == "FATAL" || fields->severity == "PANIC")) {
                fatal_forwarded_ = true;
            }
            if (!v.failed_client_statement.empty()) {
                auto it = statements_.find(v.failed_client_statement);
                if (it != statements_.end() &&
                    (v.failed_server_statement.empty() ||
                     it->second->server_name == v.failed_server_statement)) {
                    statements_.erase(it);
                }
            }
            if (!v.failed_server_statement.empty()) {
                server_->statements.erase(v.failed_server_statement);
            }
            break;
        case msg::kParseComplete:
            if (!v.parsed_server_statement.empty()) {
                pool_->remember_statement(v.parsed_server_statement);
            }
            break;
        case msg::kDataRow:
            if (v.inspect == Inspect::kTempSchemaCheck) {
                // One boolean column: "t" when the backend has a pg_temp schema.
                protocol::BodyReader br(f.body);
                auto columns = br.i16();
                auto len = br.i32();
                auto value =
                    len && *len > 0 ? br.bytes(static_cast<std::size_t>(*len)) : std::nullopt;
                if (columns && *columns == 1 && value && *value == "t") {
                    server_->discard_on_release = true;
                }
            }
            break;
        default:
            break;
    }
    if (v.event.kind == ReplyEvent::Kind::kReadyForQuery) {
        tx_status_ = v.event.tx_status;
        if (tx_status_ == 'I') {
            portals_.clear();
            if (v.forward) proxy_.counters.transactions.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

bool ClientSession::may_release_server() const noexcept {
    if (!tracker_.empty() || unsynced_ || tx_status_ != 'I') return false;
    return mode_ == config::PoolMode::kTransaction || closing_;
}

void ClientSession::release_server() {
    if (server_->discard_on_release) {
        drop_server("the backend has a pg_temp schema another client could observe");
        return;
    }
    server_->last_client_id = id_;
    pool_->release(std::move(server_));
    tracker_.clear();
    unsynced_ = false;
}

void ClientSession::drop_server(const char* why) {
    if (!server_) return;
    LOG_INFO << "closing server connection S" << server_->id() << " of client C" << id_ << ": "
             << why;
    server_->close();
    server_.reset();
    tracker_.clear();
    unsynced_ = false;
    tx_status_ = 'I';
}

}  // namespace pgmux::session
