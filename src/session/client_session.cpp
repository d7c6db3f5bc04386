#include "session/client_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/tcp_options.h"
#include "protocol/messages.h"
#include "runtime/log.h"

namespace pgmux::session {

namespace asio = boost::asio;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A server's output waiting for a slow peer is bounded: past the high mark
// the producer stops reading until the queue drains to the low mark.
constexpr std::size_t kHighWatermark = 1024 * 1024;
constexpr std::size_t kLowWatermark = 256 * 1024;

ClientSession::ClientSession(asio::ip::tcp::socket socket, asio::ip::tcp::endpoint peer,
                             ProxyContext& proxy, WorkerContext& worker, std::uint64_t id)
    : socket_(std::move(socket)),
      out_(socket_),
      reactor_(net::reactor_of(socket_)),
      proxy_(proxy),
      worker_(worker),
      id_(id),
      peer_(peer) {
    boost::system::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
    net::enable_read_drained_hint(socket_);
}

std::string ClientSession::peer() const {
    return peer_.address().to_string() + ":" + std::to_string(peer_.port());
}

ClientSession::~ClientSession() {
    // A read that parked bytes in the scratch buffer and was destroyed
    // without completing (the io_context went first).
    if (worker_.scratch_holder == this) worker_.scratch_holder = nullptr;
}

asio::awaitable<void> ClientSession::run() {
    auto self = shared_from_this();
    worker_.sessions.emplace(id_, self);
    proxy_.clients.fetch_add(1);
    proxy_.counters.clients_accepted.fetch_add(1, std::memory_order_relaxed);
    config_ = proxy_.config();
    net::apply_tcp_options(socket_, config_->tcp);
    const bool logged_in = co_await login();
    in_.release_if_empty();  // an idle client holds no read buffer
    if (!logged_in) {
        finish();
        co_return;
    }
    ++worker_.session_stats.logins;
    LOG_DEBUG << "client C" << id_ << " " << peer() << " logged in as " << user_ << "@"
              << database_;
    // From here on the session lives in its handlers (see wait_for_client).
    wait_for_client();
}

void ClientSession::finish() {
    if (registered_cancel_) proxy_.cancels.remove(cancel_key_.pid);
    registered_cancel_ = false;
    closing_ = true;
    if (state_) {
        for (const auto& e : pins_.end_all(std::chrono::steady_clock::now(), worker_.pin_stats)) {
            log_pin_event(e);
        }
    }
    if (server_) hand_back_server_at_disconnect();
    boost::system::error_code ec;
    if (tls_) tls_->shutdown();
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    proxy_.clients.fetch_sub(1);
    worker_.sessions.erase(id_);
    const auto reason = close_reason_.value_or(CloseReason::kClientEof);
    worker_.session_stats.disconnected(reason);
    LOG_DEBUG << "client C" << id_ << " closed: " << to_string(reason);
}

// Reads a plain-TCP client into the worker's scratch buffer. The bytes stay
// there for the completion unless another read needs the buffer first (Asio
// may post a completion instead of running it at once): claim_scratch()
// then moves them to the session's own buffer. Bytes that complete a partial
// frame go to the session's buffer at once.
struct ClientSession::ClientReader {
    std::shared_ptr<ClientSession> self;

    std::span<char> buffer() const { return self->claim_scratch(); }
    void received(std::size_t n) const {
        auto& worker = self->worker_;
        if (self->in_.empty()) {
            worker.scratch_holder = self.get();
            worker.scratch_held = n;
        } else {
            self->in_.append({worker.scratch.data(), n});
        }
    }
    void operator()(boost::system::error_code ec, std::size_t) const { self->on_client_read(ec); }
};

std::span<char> ClientSession::claim_scratch() {
    auto& scratch = worker_.scratch;
    if (ClientSession* holder = std::exchange(worker_.scratch_holder, nullptr)) {
        holder->in_.append({scratch.data(), worker_.scratch_held});
    }
    return scratch;
}

void ClientSession::wait_for_client() {
    if (closing_) return end_serving();
    if (!tls_) return net::start_reactor_read(reactor_, socket_, ClientReader{shared_from_this()});
    if (net::has_buffered_input(tls_.get())) {
        // OpenSSL already holds decrypted bytes: the socket may stay quiet.
        asio::post(socket_.get_executor(),
                   [self = shared_from_this()] { self->on_client_readable({}); });
        return;
    }
    socket_.async_wait(net::read_wait(tls_.get()),
                       [self = shared_from_this()](boost::system::error_code ec) {
                           self->on_client_readable(ec);
                       });
}

void ClientSession::on_client_readable(boost::system::error_code ec) {
    if (ec || closing_) return end_serving();
    const std::span<char> scratch = claim_scratch();
    const std::size_t n = net::read_some(socket_, tls_.get(), scratch.data(), scratch.size(), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_for_client();
    if (ec) return on_client_input_ended(ec);
    if (in_.empty()) return serve_client_bytes({scratch.data(), n}, true);
    in_.append({scratch.data(), n});
    serve_client_bytes(in_.view(), false);
}

void ClientSession::on_client_read(boost::system::error_code ec) {
    const bool in_scratch = worker_.scratch_holder == this;
    if (in_scratch) worker_.scratch_holder = nullptr;
    if (closing_ || ec) [[unlikely]] {
        // Aborted: pgmux itself withdrew the read (the session is ending).
        if (closing_ || ec == asio::error::operation_aborted) return end_serving();
        return on_client_input_ended(ec);
    }
    if (in_scratch) return serve_client_bytes({worker_.scratch.data(), worker_.scratch_held}, true);
    serve_client_bytes(in_.view(), false);
}

void ClientSession::serve_client_bytes(std::string_view data, bool from_scratch) {
    const ClientBytes handled = handle_client_bytes(data);
    if (handled.next == ClientBytes::Next::kClose) return end_serving();
    // The scratch buffer is shared by every session of this worker: what is
    // left for later (a partial frame, or frames waiting for a server) moves
    // to the session's own buffer.
    const char* const left = data.data() + handled.used;
    if (from_scratch) {
        if (handled.used < data.size()) in_.append(data.substr(handled.used));
    } else {
        in_.consume(handled.used);
    }
    if (handled.next == ClientBytes::Next::kNeedServer) {
        // The waiting frame was classified already: keep the answer for it
        // where its bytes are now.
        if (!last_classified_.empty()) {
            last_classified_ = {in_.view().data() + (last_classified_.data() - left),
                                last_classified_.size()};
        }
        return wait_for_server(handled.wants_same_server);
    }
    if (in_.empty()) in_.release_if_empty();
    if (server_ && server_->out().queued() > kHighWatermark) {
        // A slow server: stop reading the client until its queue drains.
        asio::co_spawn(socket_.get_executor(), wait_for_server_queue(shared_from_this()),
                       asio::detached);
        return;
    }
    wait_for_client();
}

void ClientSession::wait_for_server(bool wants_same_server) {
    if (needs_same_server(wants_same_server)) {
        // Waiting for one particular server (currval()) is rare: a coroutine.
        asio::co_spawn(socket_.get_executor(),
                       link_then_serve(shared_from_this(), wants_same_server), asio::detached);
        return;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_->query_wait_timeout);
    const auto started = Clock::now();
    borrow_started_ = started;
    pool_->acquire_async(
        socket_.get_executor(), affinity(), wait,
        [self = shared_from_this(), started](pool::AcquireResult result) {
            self->serve_after_link(self->finish_link(std::move(result), started));
        },
        id_);
}

asio::awaitable<void> ClientSession::link_then_serve(std::shared_ptr<ClientSession> self,
                                                     bool wants_same_server) {
    const bool linked = co_await link_server(wants_same_server);
    serve_after_link(linked);
}

void ClientSession::serve_after_link(bool linked) {
    if (!linked && closing_) return end_serving();
    if (!linked) after_failed_link();
    serve_client_bytes(in_.view(), false);  // the frames that waited, then read on
}

asio::awaitable<void> ClientSession::wait_for_server_queue(std::shared_ptr<ClientSession> self) {
    if (server_) co_await server_->out().wait_below(kLowWatermark);
    wait_for_client();
}

void ClientSession::end_serving() {
    if (finished_) return;
    finished_ = true;
    finish();
}

void ClientSession::on_client_input_ended(boost::system::error_code ec) {
    if (ec == asio::error::eof && wait_for_owed_replies()) return;
    if (!close_reason_) close_reason_ = CloseReason::kClientEof;
    end_serving();
}

bool ClientSession::wait_for_owed_replies() {
    // Without a Sync the server keeps its answers (PostgreSQL itself drops
    // them at the end of input): nothing would ever come. Requests still
    // queued for the server would be lost to the shutdown below.
    if (!server_ || tracker_.empty() || unsynced_ || server_->out().queued() > 0) return false;
    boost::system::error_code ec;
    server_->socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) return false;
    server_->discard_reason = "the client ended its input (half-close)";  // so does the backend
    client_half_closed_ = true;  // no more reads; the relay ends the session
    return true;
}

void ClientSession::finish_half_closed() {
    // The backend saw the end of input too: it rolls back what the client
    // left open and exits.
    if (server_) drop_server("the client ended its input (half-close)");
    if (!close_reason_) close_reason_ = CloseReason::kClientEof;
    if (out_.queued() == 0 || out_.failed()) return end_serving();
    asio::co_spawn(
        socket_.get_executor(),
        [self = shared_from_this()]() -> asio::awaitable<void> {
            co_await self->out_.drain();
            self->end_serving();
        },
        asio::detached);
}

void ClientSession::after_failed_link() {
    last_classified_ = {};
    last_classification_.reset();
    const auto r = protocol::decode_frame(in_.view(), config_->max_message_bytes);
    if (r.status == protocol::DecodeStatus::kFrame && r.frame.type == protocol::msg::kQuery) {
        std::string rfq;
        protocol::append_ready_for_query(rfq, tx_status_);
        out_.send(rfq);
        in_.consume(r.consumed);
    } else {
        discard_until_sync_ = true;  // like the server, skip to Sync
    }
}

bool ClientSession::needs_same_server(bool wants_same_server) const {
    return last_server_id_ != 0 && (wants_same_server || (state_ && state_->sequence_state_used()));
}

bool ClientSession::try_link_server(bool wants_same_server) {
    // Waiting for one particular server is link_server's business.
    if (needs_same_server(wants_same_server)) return false;
    const auto started = Clock::now();
    auto conn = pool_->try_acquire_idle(socket_.get_executor(), affinity(), started);
    if (!conn) return false;
    const auto linked = Clock::now();
    worker_.borrows.record(pool_.get(), linked - started);
    attach_server(std::move(conn), started, linked);
    return true;
}

asio::awaitable<bool> ClientSession::link_server(bool wants_same_server) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(config_->query_wait_timeout);
    const auto started = Clock::now();
    borrow_started_ = started;
    pool::AcquireResult result;
    if (needs_same_server(wants_same_server)) {
        // currval()/lastval() live in the backend that ran nextval(): wait a
        // little for that one rather than take another.
        constexpr auto kPatience = std::chrono::milliseconds(250);
        auto same =
            co_await pool_->acquire_same(socket_.get_executor(), last_server_id_, kPatience, id_);
        if (same) {
            result = std::move(same);
        } else {
            worker_.pin_stats.replay().sequence_state_risk++;
        }
    }
    if (!std::holds_alternative<std::unique_ptr<backend::ServerConnection>>(result) ||
        !std::get<std::unique_ptr<backend::ServerConnection>>(result)) {
        result = co_await pool_->acquire(socket_.get_executor(), affinity(), wait, id_);
    }
    co_return finish_link(std::move(result), started);
}

bool ClientSession::finish_link(pool::AcquireResult result, Clock::time_point started) {
    const auto linked = Clock::now();
    borrow_started_.reset();
    worker_.borrows.record(pool_.get(), linked - started);
    if (auto* err = std::get_if<pool::AcquireError>(&result)) {
        reply_wait_failure(*err);
        return false;
    }
    auto conn = std::move(std::get<std::unique_ptr<backend::ServerConnection>>(result));
    if (closing_) {
        pool_->release(std::move(conn));
        return false;
    }
    attach_server(std::move(conn), started, linked);
    return true;
}

void ClientSession::attach_server(std::unique_ptr<backend::ServerConnection> conn,
                                  Clock::time_point asked, Clock::time_point linked) {
    server_ = std::move(conn);
    last_server_id_ = server_->id();
    tx_status_ = 'I';
    if (server_->invalidation_epoch != pool_->invalidation_epoch()) [[unlikely]] {
        pool_->apply_invalidations(*server_);  // statements other servers found invalidated
    }
    link_stamp_ = RequestTimes::Stamp{asked, linked};  // requests arrived as the borrow began
    append_replay(*server_);
    start_relay();
}

RequestTimes::Stamp ClientSession::request_stamp() {
    // The request that made link_server() borrow was received when the
    // borrow began and forwarded when it ended (the clock was read then):
    // its client-seen latency includes the wait, its server latency not.
    if (link_stamp_) return *std::exchange(link_stamp_, std::nullopt);
    const auto now = Clock::now();
    return {now, now};
}

void ClientSession::append_replay(backend::ServerConnection& server) {
    state_->on_attached();
    queue_replay(server);
}

bool ClientSession::queue_replay(backend::ServerConnection& server) {
    const auto plan = pinning::plan_replay(*state_, server.settings);
    if (plan.empty()) return false;
    std::string q;
    protocol::append_query(q, plan.sql);
    server.out().append(q);
    // Applied now: a failed replay closes the client and the server (see relay).
    server.settings.apply(plan);
    expect(PendingReply{
        .expect = Expect::kQuery, .action = Action::kSwallowAll, .inspect = Inspect::kReplay});
    proxy_.counters.replays.fetch_add(1, std::memory_order_relaxed);
    worker_.pin_stats.replay().replays++;
    worker_.pin_stats.replay().statements_replayed += plan.statements;
    return true;
}

void ClientSession::start_relay() {
    // Started before the request goes out: a plain server's last read found
    // it drained, so the reactor queues this one without trying a recv()
    // (net/reactor_read.h).
    read_server();
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
        case pool::AcquireFailure::kCancelled:
            // As PostgreSQL answers a cancelled query; this one never ran.
            send_error("ERROR", "57014", "canceling statement due to user request");
            break;
        case pool::AcquireFailure::kShuttingDown:
            send_error("FATAL", "57P01", "pgmux is shutting down");
            close_client(CloseReason::kShutdown);
            break;
        case pool::AcquireFailure::kConnectFailed:
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
    socket_.cancel(ec);  // ends a pending client wait, whose handler then finishes
    if (client_half_closed_) {
        // No client wait is pending: finish from here (after the caller).
        asio::post(socket_.get_executor(), [self = shared_from_this()] { self->end_serving(); });
    }
}

void ClientSession::request_close(CloseReason reason) {
    asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
        if (self->closing_) return;
        const bool busy = self->server_ &&
                          (!self->tracker_.empty() || self->unsynced_ || self->tx_status_ != 'I');
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
