// The server-to-client half of a session: reads what the linked server sends,
// forwards it (or swallows replies to pgmux's own injected queries), tracks
// ReadyForQuery and gives the server back to the pool when the transaction
// is over.
#include <algorithm>
#include <cassert>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"
#include "session/plan_invalidation.h"

namespace pgmux::session {

namespace asio = boost::asio;

namespace {
// The ErrorResponse `body` as a whole message, without its position field
// (which pointed into pgmux's own statement, not the client's).
std::string without_position(std::string_view body) {
    std::string fields;
    protocol::BodyReader r(body);
    for (;;) {
        const auto code = r.byte();
        if (!code || *code == '\0') break;
        const auto value = r.cstr();
        if (!value) break;
        if (*code == 'P') continue;
        fields.push_back(*code);
        fields.append(*value);
        fields.push_back('\0');
    }
    fields.push_back('\0');
    std::string m(1, protocol::msg::kErrorResponse);
    protocol::put_u32(m, static_cast<std::uint32_t>(fields.size() + 4));
    return m + fields;
}
}  // namespace
namespace msg = protocol::msg;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kClientHighWatermark = 1024 * 1024;
constexpr std::size_t kClientLowWatermark = 256 * 1024;

// Reads a linked plain-TCP server into its own buffer.
struct ClientSession::ServerReader {
    std::shared_ptr<ClientSession> self;
    std::uint64_t server_id;
    std::span<char> into;

    std::span<char> buffer() const { return into; }
    void received(std::size_t) const {}
    void operator()(boost::system::error_code ec, std::size_t n) const {
        self->on_server_read(server_id, ec, n);
    }
};

void ClientSession::read_server() {
    backend::ServerConnection* server = server_.get();
    auto& in = server->in();
    char* p = in.prepare(kReadChunk);
    auto* tls = server->tls();
    if (!tls) {
        // Plain TCP: a read queued on the reactor, which performs it when
        // the reply arrives. Only this session reads the server, into the
        // server's own buffer: nothing is lost. The pool moved the server
        // to this session's io_context, whose reactor that is.
        assert(server->socket().get_executor() == socket_.get_executor());
        net::start_reactor_read(
            reactor_, server->socket(),
            ServerReader{shared_from_this(), server->id(), {p, in.free_space()}});
        return;
    }
    // TLS: wait for readiness unless OpenSSL already holds decrypted bytes,
    // then read through it (see net/tls.h).
    auto read_tls = [self = shared_from_this(), id = server->id()](boost::system::error_code ec) {
        if (!self->server_ || self->server_->id() != id) {
            return self->on_server_read(id, asio::error::operation_aborted, 0);
        }
        auto& buffer = self->server_->in();
        char* at = buffer.prepare(kReadChunk);
        std::size_t n = 0;
        if (!ec) {
            n = net::read_some(self->server_->socket(), self->server_->tls(), at,
                               buffer.free_space(), ec);
        }
        self->on_server_read(id, ec, n);
    };
    if (tls->has_buffered_input()) {
        asio::post(socket_.get_executor(), [read_tls = std::move(read_tls)] { read_tls({}); });
    } else {
        server->socket().async_wait(tls->read_wait(), std::move(read_tls));
    }
}

void ClientSession::on_server_read(std::uint64_t server_id, boost::system::error_code ec,
                                   std::size_t n) {
    // Compared by id: a dropped server's successor may reuse its address.
    const auto still_linked = [&] { return server_ && server_->id() == server_id; };
    if (!still_linked()) return;  // dropped meanwhile (the read was aborted)
    backend::ServerConnection* server = server_.get();
    if (ec) [[unlikely]] {
        // Withdrawn by pgmux (a lingering server released, then linked to this
        // client again, with a read of its own posted): not a lost server.
        if (ec == asio::error::operation_aborted) return;
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            read_server();  // TLS: a record is not complete yet
            return;
        }
        proxy_.counters.servers_lost.fetch_add(1, std::memory_order_relaxed);
        LOG_WARN << "server connection S" << server->id() << " of client C" << id_
                 << " was lost: " << ec.message();
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
        return;
    }
    server->in().commit(n);
    auto [consumed, release] = handle_server_bytes(server->in().view());
    out_.flush();
    if (!still_linked()) return;  // closed while handling its messages
    server->in().consume(consumed);
    const bool between_transactions = tracker_.empty() && !unsynced_ && tx_status_ == 'I';
    const bool shutdown_now = proxy_.shutting_down.load() && !closing_ && between_transactions;
    if (release || shutdown_now) {
        if (release && server->in().empty()) {
            release_server(ready_at_);  // `release` comes from a ReadyForQuery just seen
        } else if (release) {
            drop_server("unexpected bytes after ReadyForQuery");
        }
        if (shutdown_now) {
            send_error("FATAL", "57P01", "terminating connection due to administrator command");
            close_client(CloseReason::kShutdown);
        }
    }
    if (client_half_closed_ && !closing_ && tracker_.empty() && !unsynced_) {
        return finish_half_closed();  // every request before the FIN is answered
    }
    if (!still_linked()) return;
    if (out_.queued() > kClientHighWatermark) {
        // A slow client: stop reading the server until its queue drains.
        asio::co_spawn(socket_.get_executor(),
                       read_server_when_drained(shared_from_this(), server_id), asio::detached);
        return;
    }
    read_server();
}

asio::awaitable<void> ClientSession::read_server_when_drained(std::shared_ptr<ClientSession> self,
                                                              std::uint64_t server_id) {
    co_await out_.wait_below(kClientLowWatermark);
    if (server_ && server_->id() == server_id) read_server();
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
        // An error made the server skip to Sync (also before a rerun).
        if (tracker_.has_skipped()) [[unlikely]]
            undo_skipped();
        if (f.type == msg::kErrorResponse && v.forward &&
            v.event.kind == ReplyEvent::Kind::kStatementFailed && is_plan_invalidation(f.body) &&
            on_plan_invalidated(v, f.raw)) [[unlikely]] {
            forward_pending();  // the request runs again: its error is not the client's
            pos += r.consumed;
            continue;
        }
        on_server_message_seen(f, v);
        if (!parameter_status_for_client_.empty()) [[unlikely]] {
            v.replacement = std::move(parameter_status_for_client_);
            parameter_status_for_client_.clear();
        }
        if (f.type == msg::kErrorResponse && v.forward && !substitute_error_.empty()) {
            v.replacement = std::move(substitute_error_);
            substitute_error_.clear();
        } else if (f.type == msg::kErrorResponse && v.forward &&
                   (!statements_.empty() || v.text_shifts())) {
            const auto preferred = v.entry != nullptr ? v.entry->error_name() : std::string_view();
            if (auto named = error_with_client_names(f.body, v.text_shifts(), preferred)) {
                v.replacement = std::move(*named);
            }
        }
        if (!v.replacement.empty()) {
            forward_pending();
            if (!closing_) out_.append(v.replacement);
        } else if (!v.forward) {
            forward_pending();
        } else if (forward_from == std::string_view::npos) {
            forward_from = pos;
        }
        pos += r.consumed;
        if (v.event.kind == ReplyEvent::Kind::kReadyForQuery && tracker_.empty() && !unsynced_) {
            forward_pending();                 // anything sent while deciding goes after this cycle
            server_->parsed_in_batch.clear();  // every Parse has its answer now
            switch (on_idle()) {
                case IdleAction::kKeep:
                    break;
                case IdleAction::kRelease:
                    release = true;
                    break;
                case IdleAction::kClose:
                    drop_server("its session state cannot be handed to another client");
                    return {pos, false};
            }
        }
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

void ClientSession::undo_skipped() {
    // Latest first: a Parse and a later Close of the same name, both skipped,
    // leave the name as it was before the Parse.
    auto skipped = tracker_.take_skipped();
    for (auto it = skipped.rbegin(); it != skipped.rend(); ++it) undo_skipped(*it);
}

void ClientSession::undo_skipped(const TrackedReply& parse) {
    if (parse.expect == Expect::kClose && parse.previous) {
        // The server skipped the client's Close, so on a direct connection the
        // statement would live on. (A name the client prepared again
        // meanwhile keeps its new statement.)
        if (const auto name = parse.client_statement(); !name.empty()) {
            statements_.try_emplace(std::string(name), parse.previous);  // answered by pgmux
        } else if (!unnamed_) {
            unnamed_ = parse.previous;
            unnamed_token_ = parse.previous_token;
        }
        return;
    }
    if (parse.expect == Expect::kClose) {
        // pgmux's own Close (of a stale or evicted statement): the server
        // still holds the statement. Stale, it is closed before its next use;
        // evicted, pgmux no longer tracks it, so this backend is not reused.
        if (!server_->statements.mark_stale(std::string(parse.server_statement()))) {
            server_->discard_reason = kHoldsUntrackedStatements;
        }
        return;
    }
    // The server never ran this Parse: nothing it was to create exists.
    if (parse.unnamed_token != 0) {
        if (server_->unnamed_owner == parse.unnamed_token) server_->unnamed_owner = 0;
        // The client's own Parse (not one pgmux injected): like a direct
        // connection after the skip, it keeps the unnamed statement it had,
        // which a later Bind parses again wherever it runs.
        if (parse.action == Action::kForward && unnamed_token_ == parse.unnamed_token) {
            unnamed_ = parse.previous;
            unnamed_token_ = parse.previous_token;  // undoing an earlier skipped Parse matches it
        }
        return;
    }
    if (const auto server_name = parse.server_statement(); !server_name.empty()) {
        // Whether the server holds it is unknown now (an older, stale copy
        // may be there): stale makes its next use Close it, then Parse it.
        server_->statements.mark_stale(std::string(server_name));
    }
    if (const auto client_name = parse.client_statement(); !client_name.empty()) {
        auto it = statements_.find(std::string(client_name));
        if (it != statements_.end() && it->second->server_name == parse.parsed_name()) {
            statements_.erase(it);
        }
    }
}

void ClientSession::on_server_message_seen(const protocol::Frame& f, const Verdict& v) {
    switch (f.type) {
        case msg::kParameterStatus: {
            protocol::BodyReader br(f.body);
            auto name = br.cstr();
            auto value = br.cstr();
            if (name && value) {
                server_->parameters[std::string(*name)] = std::string(*value);
                if (v.forward && state_) {
                    if (auto client_value = state_->on_parameter_status(*name, *value)) {
                        protocol::append_parameter_status(parameter_status_for_client_, *name,
                                                          *client_value);
                    }
                }
            }
            break;
        }
        case msg::kErrorResponse:
            if (!v.forward && v.replacement.empty()) {
                auto fields = protocol::parse_error_fields(f.body);
                const std::string text = fields ? fields->sqlstate + " " + fields->message : "?";
                LOG_WARN << "a request pgmux made for client C" << id_ << " on server S"
                         << server_->id() << " failed: " << text;
                if (v.inspect == Inspect::kPrepareForClient) {
                    substitute_error_ = without_position(f.body);
                    server_->statements.erase(std::string(v.failed_server_statement()));
                    break;
                }
                // Its outcome is unknown now: never pool this backend again.
                server_->discard_reason = "a request pgmux made on it failed";
                if (v.inspect == Inspect::kReplay && !closing_) {
                    send_error("FATAL", "XX000",
                               "pgmux could not restore this session's settings on a server "
                               "connection: " +
                                   text);
                    close_client(CloseReason::kServerError);
                }
            } else if (auto fields = protocol::parse_error_fields(f.body);
                       fields && (fields->severity == "FATAL" || fields->severity == "PANIC")) {
                fatal_forwarded_ = true;
            }
            if (const auto client_name = v.failed_client_statement(); !client_name.empty()) {
                auto it = statements_.find(std::string(client_name));
                if (it != statements_.end() &&
                    (v.failed_server_statement().empty() ||
                     it->second->server_name == v.failed_server_statement())) {
                    statements_.erase(it);
                }
            }
            if (const auto server_name = v.failed_server_statement(); !server_name.empty()) {
                server_->statements.erase(std::string(server_name));
            }
            if (v.entry != nullptr && v.entry->expect == Expect::kParse &&
                v.entry->unnamed_token != 0) {
                // PostgreSQL drops the unnamed statement before it parses the
                // new one: after a failed Parse there is none, on the server
                // and, when the Parse was the client's own, for the client.
                if (server_->unnamed_owner == v.entry->unnamed_token) server_->unnamed_owner = 0;
                if (v.entry->action == Action::kForward &&
                    unnamed_token_ == v.entry->unnamed_token) {
                    unnamed_.reset();
                }
            }
            break;
        case msg::kParseComplete:
            if (const auto name = v.parsed_server_statement(); !name.empty()) {
                std::string server_name(name);
                server_->statements.confirm(server_name);
                // Acknowledged before its batch's Sync was even sent (Flush):
                // nothing to doubt at the Sync.
                auto& pending = server_->parsed_in_batch;
                if (auto it = std::find(pending.begin(), pending.end(), server_name);
                    it != pending.end()) {
                    pending.erase(it);
                }
                pool_->remember_statement(std::move(server_name));
            }
            if (v.entry != nullptr && v.entry->unnamed_token != 0 &&
                v.entry->unnamed_token == server_->unnamed_owner) {
                server_->unnamed_confirmed = true;
            }
            break;
        case msg::kDataRow:
            if (v.inspect == Inspect::kVerification && state_) {
                apply_verification_row(f.body);
            } else if (v.inspect == Inspect::kTempSchemaCheck) {
                // One boolean column: "t" when the backend has a pg_temp schema.
                protocol::BodyReader br(f.body);
                auto columns = br.i16();
                auto len = br.i32();
                auto value =
                    len && *len > 0 ? br.bytes(static_cast<std::size_t>(*len)) : std::nullopt;
                if (columns && *columns == 1 && value && *value == "t") {
                    server_->discard_reason =
                        "the backend has a pg_temp schema another client could observe";
                }
            }
            break;
        default:
            break;
    }
    const bool clients_own = v.forward || !v.replacement.empty();
    if (state_ && clients_own) {
        switch (v.event.kind) {
            case ReplyEvent::Kind::kStatementDone:
                if (v.event.statement) settle_sql_statements(v.event.statement);
                if (v.event.statement &&
                    v.event.statement->kind == parser::StatementKind::execute) {
                    // EXECUTE does what the prepared statement's body does.
                    auto it = statements_.find(v.event.statement->prepared_name);
                    if (it != statements_.end() && it->second->sql_body &&
                        it->second->sql_body->is_session_relevant()) {
                        state_->on_statement_succeeded(*it->second->sql_body);
                    }
                }
                if (v.event.statement && v.event.statement->is_session_relevant()) {
                    std::vector<std::optional<std::string_view>> values;
                    if (const auto* bind_values = v.bind_values()) {
                        for (const auto& b : *bind_values) {
                            values.push_back(b ? std::optional<std::string_view>(*b)
                                               : std::nullopt);
                        }
                    }
                    state_->on_statement_succeeded(*v.event.statement, values);
                }
                break;
            case ReplyEvent::Kind::kStatementFailed:
                state_->on_statement_failed();
                break;
            case ReplyEvent::Kind::kReadyForQuery:
                substitute_error_.clear();
                if (!unconfirmed_prepares_.empty() || !unconfirmed_deallocates_.empty() ||
                    unconfirmed_discard_) {
                    settle_sql_statements(nullptr);
                }
                state_->on_ready_for_query(v.event.tx_status);
                note_pin_transitions();
                break;
            default:
                break;
        }
    }
    if (v.event.kind == ReplyEvent::Kind::kReadyForQuery) {
        tx_status_ = v.event.tx_status;
        // The client's request is answered: one clock read per ReadyForQuery,
        // for the latency metrics and for the server's release.
        ready_at_ = Clock::now();
        if (v.forward) {
            if (const auto stamp = request_times_.pop()) {
                worker_.session_stats.record(stamp->received, stamp->forwarded, ready_at_);
            }
        }
        if (tracker_.empty()) request_times_.clear();  // keeps stamps and replies paired
        if (tx_status_ == 'I') {
            if (!portals_.empty()) portals_.clear();  // clear() zeroes every bucket
            if (v.forward) proxy_.counters.transactions.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

ClientSession::IdleAction ClientSession::on_idle() {
    // The client left: finish() queued the clean-up; hand the server back
    // (release_server closes it if anything went wrong on the way).
    if (closing_) return IdleAction::kRelease;
    if (!state_ || tx_status_ != 'I') return IdleAction::kKeep;
    if (state_->needs_verification() && !verifying_) {
        // A pin may have ended: ask the server, then decide at the next idle.
        std::string q;
        protocol::append_query(q, state_->verification_sql());
        expect(PendingReply{.expect = Expect::kQuery,
                            .action = Action::kSwallowAll,
                            .inspect = Inspect::kVerification});
        server_->out().send(q);
        verifying_ = true;
        worker_.pin_stats.replay().verifications++;
        return IdleAction::kKeep;
    }
    verifying_ = false;
    adopt_client_settings();
    if (state_->temp_namespace_created()) server_->settings.mark_temp_namespace_used();
    note_pin_transitions();
    if (mode_ == config::PoolMode::kSession) {
        replay_onto_kept_server();
        return IdleAction::kKeep;
    }
    const auto d = pinning::decide_release(*state_, server_->settings);
    switch (d.action) {
        case pinning::ReleaseDecision::Action::keep:
            replay_onto_kept_server();
            return IdleAction::kKeep;
        case pinning::ReleaseDecision::Action::release:
            return linger_for_sequence_read() ? IdleAction::kKeep : IdleAction::kRelease;
        case pinning::ReleaseDecision::Action::close:
            LOG_DEBUG << "server S" << server_->id() << " of client C" << id_
                      << " closed: " << d.why;
            return IdleAction::kClose;
        case pinning::ReleaseDecision::Action::reset_then_release: {
            std::string q;
            protocol::append_query(q, d.reset.sql);
            expect(PendingReply{.expect = Expect::kQuery, .action = Action::kSwallowAll});
            server_->out().send(q);
            server_->settings.apply(d.reset);
            return IdleAction::kKeep;
        }
    }
    return IdleAction::kKeep;
}

void ClientSession::adopt_client_settings() {
    server_->settings.adopt(*state_);
    if (state_->has_server_resets()) {
        server_->settings.note_server_resets(state_->take_server_resets(), state_->baseline());
    }
}

void ClientSession::replay_onto_kept_server() {
    // After a RESET the server holds its own defaults where the client's
    // startup values belong; a client that keeps the server (pinned, session
    // mode) gets them back now, before its next statement.
    if (queue_replay(*server_)) server_->out().flush();
}

void ClientSession::apply_verification_row(std::string_view body) {
    protocol::BodyReader br(body);
    const auto count = br.i16();
    if (!count || *count < 0) return;
    std::vector<std::optional<std::string_view>> columns;
    for (int i = 0; i < *count; ++i) {
        const auto len = br.i32();
        if (!len) return;
        if (*len < 0) {
            columns.emplace_back(std::nullopt);
            continue;
        }
        const auto value = br.bytes(static_cast<std::size_t>(*len));
        if (!value) return;
        columns.emplace_back(*value);
    }
    if (auto result = pinning::VerificationQuery::parse_row(columns)) {
        state_->apply_verification(*result);
    }
}

void ClientSession::note_pin_transitions() {
    if (!state_->pins_changed()) return;
    auto transitions = state_->take_pin_transitions();
    if (transitions.empty()) return;
    for (const auto& e :
         pins_.update(transitions, std::chrono::steady_clock::now(), worker_.pin_stats)) {
        log_pin_event(e);
    }
}

void ClientSession::log_pin_event(const pinning::PinEvent& e) {
    const std::string server = server_ ? "S" + std::to_string(server_->id()) : "-";
    if (e.started) {
        LOG_INFO << "client C" << id_ << " pinned to server " << server
                 << " reason=" << pinning::to_string(e.reason) << " statement=\""
                 << e.normalized_statement << "\" advice: " << pinning::advice(e.reason);
    } else {
        LOG_INFO << "client C" << id_ << " unpinned from server " << server
                 << " reason=" << pinning::to_string(e.reason) << " after " << e.seconds << "s";
    }
}

void ClientSession::hand_back_server_at_disconnect() {
    if (!tracker_.empty() || unsynced_ || !state_) {
        drop_server("the client left in the middle of a request");
        return;
    }
    adopt_client_settings();
    if (state_->temp_namespace_created()) server_->settings.mark_temp_namespace_used();
    const auto d = pinning::decide_after_disconnect(*state_, server_->settings);
    if (d.action == pinning::ReleaseDecision::Action::close) {
        drop_server(std::string(d.why).c_str());
        return;
    }
    // The server was this client's for a while (session mode or a pin):
    // functions may have created temp objects the parser never saw, so the
    // server itself says whether it has a pg_temp schema; then clean up.
    std::string q;
    protocol::append_query(q, "SELECT pg_catalog.pg_my_temp_schema() <> 0");
    expect(PendingReply{.expect = Expect::kQuery,
                        .action = Action::kSwallowAll,
                        .inspect = Inspect::kTempSchemaCheck});
    if (mode_ == config::PoolMode::kSession) {
        // The session had the server to itself, names and all: wipe it
        // completely (DISCARD ALL refuses to run inside a transaction block).
        if (tx_status_ != 'I') {
            protocol::append_query(q, "ROLLBACK");
            expect(PendingReply{.expect = Expect::kQuery, .action = Action::kSwallowAll});
        }
        protocol::append_query(q, "DISCARD ALL");
        expect(PendingReply{.expect = Expect::kQuery, .action = Action::kSwallowAll});
        server_->settings = pinning::ServerSettings{};
        server_->statements.clear();
        server_->unnamed_owner = 0;
    } else if (d.action == pinning::ReleaseDecision::Action::reset_then_release &&
               !d.reset.empty()) {
        protocol::append_query(q, d.reset.sql);
        expect(PendingReply{.expect = Expect::kQuery, .action = Action::kSwallowAll});
        server_->settings.apply(d.reset);
    }
    server_->out().send(q);
}

bool ClientSession::linger_for_sequence_read() {
    if (!sequence_draws_.linger_after_transaction()) return false;
    // PDO::lastInsertId() (Doctrine) reads lastval()/currval() in the next
    // statement, a moment after the INSERT's transaction: on another backend,
    // or after another client's INSERT on this one, it reads another id.
    constexpr auto kLinger = std::chrono::milliseconds(50);
    if (!linger_timer_)
        linger_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    const auto generation = ++linger_generation_;
    lingering_ = true;
    linger_timer_->expires_after(kLinger);
    linger_timer_->async_wait([self = shared_from_this(), generation](boost::system::error_code) {
        // Not when the client went on meanwhile (or a later linger replaced this one).
        if (!self->lingering_ || self->linger_generation_ != generation) return;
        self->lingering_ = false;
        const bool idle = self->server_ && !self->closing_ && self->tracker_.empty() &&
                          !self->unsynced_ && self->tx_status_ == 'I';
        if (!idle) return;
        // The relay's read of this server is pending: it is withdrawn (its
        // handler sees the server gone) before another client gets it.
        boost::system::error_code ignored;
        self->server_->socket().cancel(ignored);
        self->release_server();
    });
    return true;
}

void ClientSession::release_server(Clock::time_point now) {
    if (server_->discard_reason) {
        drop_server(server_->discard_reason);
        return;
    }
    server_->last_client_id = id_;
    // A client that reads what an INSERT drew (or may: not yet seen not to)
    // keeps this backend's lastval()/currval() until it read them.
    if (sequence_draws_.keeps_server() || (state_ && state_->sequence_state_used())) {
        server_->sequence_owner = id_;
        server_->sequence_owner_alive = weak_from_this();
    } else if (server_->sequence_owner == id_) {
        server_->sequence_owner = 0;  // DISCARD SEQUENCES / ALL
    }
    pool_->release(std::move(server_), now);
    tracker_.clear();
    request_times_.clear();
    unsynced_ = false;
}

void ClientSession::drop_server(const char* why) {
    if (!server_) return;
    LOG_INFO << "closing server connection S" << server_->id() << " of client C" << id_ << ": "
             << why;
    server_->close();
    server_.reset();
    tracker_.clear();
    request_times_.clear();
    unsynced_ = false;
    tx_status_ = 'I';
}

}  // namespace pgmux::session
