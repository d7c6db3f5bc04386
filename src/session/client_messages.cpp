// The client-to-server half of a session: splits what the client sent into
// messages, keeps most of them byte for byte, rewrites the ones that name
// prepared statements, injects what the server lacks, and records which
// replies to expect.
#include "pgmux/parser/prefilter.hpp"
#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"
#include "session/plan_invalidation.h"

namespace pgmux::session {

namespace asio = boost::asio;
namespace msg = protocol::msg;

namespace {

using protocol::append_message;

bool is_frontend_message(char type) {
    switch (type) {
        case msg::kQuery:
        case msg::kParse:
        case msg::kBind:
        case msg::kDescribe:
        case msg::kExecute:
        case msg::kClose:
        case msg::kSync:
        case msg::kFlush:
        case msg::kFunctionCall:
        case msg::kCopyData:
        case msg::kCopyDone:
        case msg::kCopyFail:
            return true;
        default:
            return false;
    }
}

std::string one_byte_message(char type) {
    std::string m;
    protocol::append_simple(m, type);
    return m;
}

// The Parse message's parameter-type section must be an int16 count and that
// many OIDs; anything else goes to the server untouched, which rejects it.
bool valid_param_types(std::string_view types) {
    if (types.size() < 2) return false;
    const auto n = protocol::read_i16(types.data());
    return n >= 0 && types.size() == 2 + 4 * static_cast<std::size_t>(n);
}

// True when a statement takes a setting's name or value from a Bind
// parameter (set_config($1, $2, false)), so the values must be kept.
bool uses_bind_values(const parser::Classification* c) {
    if (c == nullptr) return false;
    for (const auto& st : c->statements) {
        for (const auto& s : st.settings) {
            if (s.name_param != 0 || s.value_param != 0) return true;
        }
    }
    return false;
}

// Whether parameter `i`'s binary format is its text: the Parse left its type
// to the server (set_config's arguments are text, so PostgreSQL infers
// text) or named a string type. asyncpg sends every parameter in binary.
bool binary_is_text(std::string_view param_types, int i) {
    if (param_types.size() < 2) return true;
    const auto n = protocol::read_i16(param_types.data());
    if (i >= n || param_types.size() < 2 + 4 * static_cast<std::size_t>(i + 1)) return true;
    switch (protocol::read_u32(param_types.data() + 2 + 4 * i)) {
        case 0:     // unspecified
        case 19:    // name
        case 25:    // text
        case 705:   // unknown
        case 1042:  // bpchar
        case 1043:  // varchar
            return true;
        default:
            return false;
    }
}

// The parameter values of a Bind body (after portal and statement names) as
// text; NULL values and binary values of other types are unknown (nullopt).
std::shared_ptr<const std::vector<std::optional<std::string>>> text_bind_values(
    std::string_view rest, std::string_view param_types) {
    protocol::BodyReader r(rest);
    const auto nformats = r.i16();
    if (!nformats || *nformats < 0) return nullptr;
    std::vector<std::int16_t> formats;
    for (int i = 0; i < *nformats; ++i) {
        const auto f = r.i16();
        if (!f) return nullptr;
        formats.push_back(*f);
    }
    const auto nparams = r.i16();
    if (!nparams || *nparams < 0) return nullptr;
    // One format for all, or one each (else the server refuses the Bind).
    if (formats.size() > 1 && formats.size() != static_cast<std::size_t>(*nparams)) return nullptr;
    auto values = std::make_shared<std::vector<std::optional<std::string>>>();
    for (int i = 0; i < *nparams; ++i) {
        const auto len = r.i32();
        if (!len) return nullptr;
        std::optional<std::string> value;
        if (*len >= 0) {
            const auto bytes = r.bytes(static_cast<std::size_t>(*len));
            if (!bytes) return nullptr;
            const std::int16_t format =
                formats.empty() ? 0
                                : formats[formats.size() == 1 ? 0 : static_cast<std::size_t>(i)];
            if (format == 0 || binary_is_text(param_types, i)) value.emplace(*bytes);
        }
        values->push_back(std::move(value));
    }
    return values;
}

}  // namespace

std::shared_ptr<const parser::Classification> ClientSession::classify(std::string_view sql) {
    if (sql.data() == last_classified_.data() && sql.size() == last_classified_.size()) {
        // The same bytes as a moment ago (reads_sequence_state, then on_query).
        last_classified_ = {};
        return std::move(last_classification_);
    }
    if (!parser::may_affect_session_state(sql)) return nullptr;
    auto c = worker_.classifier.classify(sql);
    if (!c->parsed) proxy_.counters.unparsed_statements.fetch_add(1, std::memory_order_relaxed);
    for (const auto& st : c->statements) {
        if (!st.exclusive_database.empty() && pool_) [[unlikely]] {
            // PostgreSQL refuses while any session is connected to that
            // database (the app that used it is gone, pgmux's idle servers
            // are not): they go now, when the statement is first seen.
            proxy_.close_idle_servers_of(pool_->settings().target.endpoint, st.exclusive_database);
        }
    }
    return c->relevant || !c->parsed ? c : nullptr;
}

void ClientSession::expect(PendingReply&& reply) {
    const bool synthesized = reply.action == Action::kSynthesize;
    tracker_.expect(std::move(reply));
    if (tracker_.has_skipped()) [[unlikely]]
        undo_skipped();  // sent while the server skips
    if (synthesized) emit_synthesized();
}

void ClientSession::expect(Expect plain) {
    tracker_.expect(plain);
    if (tracker_.has_skipped()) [[unlikely]]
        undo_skipped();
}

void ClientSession::emit_synthesized() {
    std::string bytes;
    if (tracker_.take_synthesized(bytes)) out_.send(bytes);
}

ClientSession::ClientBytes ClientSession::handle_client_bytes(std::string_view data) {
    using Next = ClientBytes::Next;
    std::size_t pos = 0;
    // Consecutive messages that go to the server unchanged are appended as
    // one range; anything rewritten or injected first closes the range.
    std::size_t verbatim_from = std::string_view::npos;
    std::string& rewritten = worker_.to_server;
    // When this batch's requests arrived and went to the server (latency metrics).
    std::optional<RequestTimes::Stamp> stamp;
    auto flush_verbatim = [&] {
        if (verbatim_from != std::string_view::npos && server_) {
            server_->out().append(data.substr(verbatim_from, pos - verbatim_from));
        }
        verbatim_from = std::string_view::npos;
    };
    while (pos < data.size()) {
        const auto r = protocol::decode_frame(data.substr(pos), config_->max_message_bytes);
        if (r.status == protocol::DecodeStatus::kNeedMore) break;
        if (r.status != protocol::DecodeStatus::kFrame) {
            flush_verbatim();
            proxy_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
            send_error("FATAL", "08P01",
                       r.status == protocol::DecodeStatus::kTooLarge
                           ? "message too large (max_message_bytes is " +
                                 std::to_string(config_->max_message_bytes) + ")"
                           : "invalid message length");
            close_reason_ = CloseReason::kProtocolError;
            return {pos, Next::kClose};
        }
        const protocol::Frame& f = r.frame;
        if (f.type == msg::kTerminate) {
            flush_verbatim();
            if (server_) server_->out().flush();
            close_reason_ = CloseReason::kClientTerminate;
            return {pos, Next::kClose};
        }
        if (!is_frontend_message(f.type)) {
            flush_verbatim();
            proxy_.counters.protocol_errors.fetch_add(1, std::memory_order_relaxed);
            send_error("FATAL", "08P01",
                       "invalid frontend message type " + std::to_string(int(f.type)));
            close_reason_ = CloseReason::kProtocolError;
            return {pos, Next::kClose};
        }
        if (discard_until_sync_) {
            // A failure was already reported; like the server, skip to Sync.
            if (f.type == msg::kSync) {
                discard_until_sync_ = false;
                std::string rfq;
                protocol::append_ready_for_query(rfq, tx_status_);
                out_.send(rfq);
            }
            pos += r.consumed;
            continue;
        }
        if (!server_) {
            const bool answerable =
                f.type == msg::kParse || f.type == msg::kClose || f.type == msg::kSync;
            if (auto answered = answerable ? answer_without_server(data.substr(pos)) : 0) {
                flush_verbatim();
                pos += answered;
                continue;
            }
            const bool wants_same_server = reads_sequence_state(f);
            if (!try_link_server(wants_same_server)) {
                // No idle server: wait_for_server() waits for one, then comes
                // back (the classification is kept; see serve_client_bytes).
                flush_verbatim();
                return {pos, Next::kNeedServer, wants_same_server};
            }
        }
        if (lingering_) [[unlikely]] {
            // The lingering server serves the client's next transaction, and
            // shows whether the client reads what its INSERT drew.
            lingering_ = false;
            if (sequence_draws_.probing()) sequence_draws_.on_probe_answer(reads_sequence_state(f));
        }
        rewritten.clear();
        forward_verbatim_ = false;
        following_ = data.substr(pos + r.consumed);
        dispatch_client_message(f, rewritten);
        following_ = {};
        if (retry_recording_ == RetryRecording::kRecording) record_for_retry(f);
        if (!last_classified_.empty()) {  // only ever for the message just handled
            last_classified_ = {};
            last_classification_.reset();
        }
        if (f.type == msg::kQuery || f.type == msg::kSync || f.type == msg::kFunctionCall) {
            if (!stamp) stamp = request_stamp();
            request_times_.push(*stamp);
        }
        if (forward_verbatim_) {
            if (verbatim_from == std::string_view::npos) verbatim_from = pos;
        } else {
            flush_verbatim();
            if (!rewritten.empty()) server_->out().append(rewritten);
        }
        pos += r.consumed;
    }
    flush_verbatim();
    if (server_) server_->out().flush();
    if (rewritten.capacity() > 64 * 1024) std::string().swap(rewritten);  // after a huge message
    return {pos};
}

void ClientSession::dispatch_client_message(const protocol::Frame& f, std::string& to_server) {
    if (mode_ == config::PoolMode::kSession && forward_in_session_mode(f)) {
        forward_as_is(f, to_server);  // the session owns its server: names need no mapping
    } else {
        switch (f.type) {
            case msg::kQuery:
                on_query(f, to_server);
                break;
            case msg::kParse:
                on_parse(f, to_server);
                break;
            case msg::kBind:
                on_bind(f, to_server);
                break;
            case msg::kDescribe:
                on_describe(f, to_server);
                break;
            case msg::kClose:
                on_close(f, to_server);
                break;
            case msg::kExecute:
                on_execute(f, to_server);
                break;
            case msg::kSync:
                expect(Expect::kSync);
                unsynced_ = false;
                batch_bound_ = false;
                unnamed_parsed_in_batch_ = false;
                for (const auto& name : server_->parsed_in_batch) {
                    server_->statements.mark_unconfirmed(name);
                }
                server_->parsed_in_batch.clear();
                forward_as_is(f, to_server);
                break;
            case msg::kFunctionCall:
                expect(Expect::kFunctionCall);
                forward_as_is(f, to_server);
                break;
            case msg::kFlush:
                unsynced_ = true;
                forward_as_is(f, to_server);
                break;
            default:  // COPY data flows through untouched
                forward_as_is(f, to_server);
                break;
        }
    }
}

std::size_t ClientSession::answer_without_server(std::string_view data) {
    // Only a batch of Parse (of statements a server of this pool accepted
    // before) and Close of statements, ended by Sync, qualifies: everything
    // in it would succeed on the server and leave it as it was. This spares
    // a server round trip for drivers that prepare at connection start, and
    // keeps clients that prepare synchronously (pgbench -M prepared) from
    // waiting for a server while a transaction elsewhere holds it.
    if (tx_status_ != 'I') return 0;
    std::size_t pos = 0;
    std::string replies;
    // In message order: (name, statement) for a Parse, (name, nullptr) for a Close.
    std::vector<std::pair<std::string, std::shared_ptr<const statements::PreparedStatement>>> ops;
    std::size_t parses = 0;
    for (;;) {
        const auto r = protocol::decode_frame(data.substr(pos), config_->max_message_bytes);
        if (r.status != protocol::DecodeStatus::kFrame) return 0;
        const auto& f = r.frame;
        pos += r.consumed;
        protocol::BodyReader br(f.body);
        if (f.type == msg::kSync) break;
        if (f.type == msg::kClose) {
            const auto kind = br.byte();
            const auto name = br.cstr();
            if (!kind || !name || *kind != 'S' || name->empty()) return 0;
            ops.emplace_back(std::string(*name), nullptr);
            replies += one_byte_message(msg::kCloseComplete);
            continue;
        }
        if (f.type != msg::kParse) return 0;
        const auto name = br.cstr();
        if (!name || name->empty()) return 0;  // the unnamed statement runs at once
        const auto query = br.cstr();
        const auto types = br.bytes(br.remaining());
        if (!query || !types || !valid_param_types(*types)) return 0;
        std::string client_name(*name);
        auto ps = statements::make_prepared_statement(*query, *types, nullptr, search_path());
        if (!pool_->statement_known(ps->server_name)) return 0;
        // Whether the name is taken when this Parse runs (the server's 42P05).
        bool taken = statements_.contains(client_name);
        for (const auto& [n, p] : ops) {
            if (n == client_name) taken = p != nullptr;
        }
        if (taken) return 0;
        if (!sequence_draws_.may_hold_values()) note_sequence_draw(*query, false);
        auto made = std::const_pointer_cast<statements::PreparedStatement>(
            statements::make_prepared_statement(*query, *types, classify(*query), search_path()));
        made->invalidation_epoch = pool_->invalidation_epoch();
        ps = std::move(made);
        ops.emplace_back(std::move(client_name), std::move(ps));
        replies += one_byte_message(msg::kParseComplete);
        ++parses;
    }
    // In message order: a Close may name a statement parsed before it, and
    // the other way round.
    for (auto& [name, ps] : ops) {
        if (ps) {
            statements_[name] = std::move(ps);
        } else {
            statements_.erase(name);
        }
    }
    proxy_.counters.client_parses.fetch_add(parses, std::memory_order_relaxed);
    proxy_.counters.parses_saved.fetch_add(parses, std::memory_order_relaxed);
    protocol::append_ready_for_query(replies, tx_status_);
    out_.send(replies);
    return pos;
}

void ClientSession::note_sequence_draw(std::string_view sql, bool runs) {
    if (parser::may_draw_from_sequences(sql)) sequence_draws_.on_possible_draw(runs);
}

bool ClientSession::reads_sequence_state(const protocol::Frame& f) {
    // A Query is classified here for on_query (the answer is kept): free.
    // Parse and Bind are looked at only by clients with sequence state.
    if (f.type != msg::kQuery && !sequence_draws_.may_hold_values() &&
        !(state_ && state_->sequence_state_used())) {
        return false;
    }
    std::shared_ptr<const parser::Classification> c;
    if (f.type == msg::kQuery || f.type == msg::kParse) {
        protocol::BodyReader r(f.body);
        if (f.type == msg::kParse && !r.cstr()) return false;  // the statement name
        const auto sql = r.cstr();
        if (!sql) return false;
        if (f.type == msg::kParse && unnamed_ && unnamed_->query == *sql) {
            c = unnamed_->classification;  // parsed again (on_parse skips classifying it)
        } else {
            c = classify(*sql);
            // on_query / on_parse classify the same bytes next: keep the answer for them.
            last_classified_ = *sql;
            last_classification_ = c;
        }
    } else if (f.type == msg::kBind) {
        // PDO's lastInsertId(name): SELECT CURRVAL($1), prepared earlier.
        protocol::BodyReader r(f.body);
        const auto portal = r.cstr();
        const auto name = portal ? r.cstr() : std::nullopt;
        if (!name) return false;
        if (name->empty()) {
            if (unnamed_) c = unnamed_->classification;
        } else if (auto it = statements_.find(std::string(*name)); it != statements_.end()) {
            c = it->second->classification;
        }
    }
    if (!c) return false;
    for (const auto& st : c->statements) {
        if (st.sequence_read) {
            sequence_draws_.on_read();  // where it runs is link_server's business
            return true;
        }
    }
    return false;
}

bool ClientSession::forward_in_session_mode(const protocol::Frame& f) {
    // A session-mode client keeps one server: its statement names are its own
    // there, so Parse/Bind/Describe/Close and SQL PREPARE/EXECUTE pass as they
    // are (pgmux only records which replies to expect).
    switch (f.type) {
        case msg::kParse:
            expect(Expect::kParse);
            break;
        case msg::kBind:
            expect(Expect::kBind);
            break;
        case msg::kDescribe:
            expect(Expect::kDescribe);
            break;
        case msg::kClose:
            expect(Expect::kClose);
            break;
        case msg::kExecute:
            proxy_.counters.queries.fetch_add(1, std::memory_order_relaxed);
            expect(Expect::kExecute);
            break;
        case msg::kQuery: {
            proxy_.counters.queries.fetch_add(1, std::memory_order_relaxed);
            const std::string_view sql =
                f.body.empty() ? f.body : f.body.substr(0, f.body.size() - 1);
            expect(PendingReply{.expect = Expect::kQuery, .classification = classify(sql)});
            return true;
        }
        default:
            return false;
    }
    unsynced_ = true;
    return true;
}

void ClientSession::on_query(const protocol::Frame& f, std::string& to_server) {
    proxy_.counters.queries.fetch_add(1, std::memory_order_relaxed);
    const std::string_view sql = f.body.empty() ? f.body : f.body.substr(0, f.body.size() - 1);
    // A simple Query destroys the unnamed statement, on the server as for the client.
    unnamed_.reset();
    server_->unnamed_owner = 0;
    if (!sequence_draws_.may_hold_values() || sequence_draws_.watching()) {
        note_sequence_draw(sql, true);
    }
    auto classification = classify(sql);
    if (classification && !pin_policy_allows(*classification, true, to_server)) return;
    // ROLLBACK [TO SAVEPOINT] first: what follows runs even in a failed transaction.
    query_leaves_failed_state_ =
        classification && classification->parsed && !classification->statements.empty() &&
        (classification->statements.front().kind == parser::StatementKind::rollback_to_savepoint ||
         classification->statements.front().kind == parser::StatementKind::rollback);
    std::string rewritten;
    if (classification && classification->parsed) {
        rewritten = rewrite_sql_prepared(sql, *classification, to_server);
    }
    if (sql.find("prepared_statements") != std::string_view::npos ||
        sql.find("PREPARED_STATEMENTS") != std::string_view::npos) {
        auto shown =
            rewrite_prepared_statements_view(rewritten.empty() ? sql : rewritten, to_server);
        if (!shown.empty()) {
            rewritten = std::move(shown);
            last_edits_.clear();  // positions no longer map simply
        }
    }
    std::string deallocates;
    if (!statements_.empty()) {
        deallocates = alias_for_dynamic_sql(rewritten.empty() ? sql : rewritten, to_server);
    }
    // SQL EXECUTE is never retried after a plan invalidation: PostgreSQL
    // refuses it on a direct connection (its regress file plancache expects
    // the error), so pgmux passes the error on and re-prepares afterwards.
    expect(PendingReply{.expect = Expect::kQuery,
                        .classification = std::move(classification),
                        .text_shifts = rewritten.empty() ? nullptr : take_text_shifts()});
    if (rewritten.empty()) {
        forward_as_is(f, to_server);
    } else {
        protocol::append_query(to_server, rewritten);
    }
    if (!deallocates.empty()) inject_query(deallocates, to_server);
}

bool ClientSession::pin_policy_allows(const parser::Classification& c, bool simple_query,
                                      std::string& to_server) {
    const auto d = pinning::decide_pin(*state_, on_pin_, c);
    if (!d.reason || d.action == pinning::PinDecision::Action::allow) return true;
    if (d.action == pinning::PinDecision::Action::warn) {
        worker_.pin_stats.warned(*d.reason);
        LOG_WARN << "client C" << id_ << " runs a statement that pins it ("
                 << pinning::to_string(*d.reason) << "); on_pin = warn lets it through";
        return true;
    }
    worker_.pin_stats.rejected(*d.reason);
    const auto rejection = pinning::rejection_for(*d.reason);
    std::string error;
    protocol::append_error_response(
        error, {"ERROR", rejection.sqlstate, rejection.message, {}, rejection.hint});
    if (simple_query) {
        // Fails on the server so that an open transaction block aborts, as
        // it would have if the statement itself had failed.
        protocol::append_query(to_server, "pgmux: statement rejected");
        expect(PendingReply{.expect = Expect::kQuery,
                            .action = Action::kReplaceError,
                            .synthesized = std::move(error)});
    } else {
        append_message(to_server, msg::kParse,
                       {std::string_view("\0", 1), "pgmux: statement rejected",
                        std::string_view("\0\0\0", 3)});
        server_->unnamed_owner = 0;
        expect(PendingReply{.expect = Expect::kParse,
                            .action = Action::kReplaceError,
                            .synthesized = std::move(error)});
    }
    return false;
}

namespace {
// DEALLOCATE name / ALL, DISCARD ALL: statements on the server go.
bool drops_statements(const parser::Classification& c) {
    return std::any_of(c.statements.begin(), c.statements.end(), [](const parser::Statement& st) {
        return st.kind == parser::StatementKind::deallocate ||
               st.kind == parser::StatementKind::deallocate_all ||
               st.kind == parser::StatementKind::discard_all;
    });
}

// PostgreSQL's IsTransactionExitStmt: accepted even in a failed transaction.
bool ends_transaction(const statements::PreparedStatement& ps) {
    const auto* c = ps.classification.get();
    if (c == nullptr || !c->parsed || c->statements.size() != 1) return false;
    using parser::StatementKind;
    switch (c->statements.front().kind) {
        case StatementKind::commit:
        case StatementKind::rollback:
        case StatementKind::rollback_to_savepoint:
        case StatementKind::prepare_transaction:
            return true;
        default:
            return false;
    }
}
}  // namespace

void ClientSession::on_parse(const protocol::Frame& f, std::string& to_server) {
    proxy_.counters.client_parses.fetch_add(1, std::memory_order_relaxed);
    unsynced_ = true;
    protocol::BodyReader r(f.body);
    const auto name = r.cstr();
    const auto query = r.cstr();
    const auto types = r.bytes(r.remaining());
    if (!name || !query || !types || !valid_param_types(*types)) {
        expect(Expect::kParse);
        forward_as_is(f, to_server);  // malformed: the server reports it
        return;
    }
    if (name->empty() && unnamed_ && !unnamed_->classification && unnamed_->depends_on.empty() &&
        unnamed_->query == *query && unnamed_->param_types == *types) {
        // The same unnamed statement again (drivers re-Parse it for every
        // execution): nothing to classify or copy.
        forward_unnamed_parse(f, to_server, unnamed_);
        return;
    }
    if (!sequence_draws_.may_hold_values()) note_sequence_draw(*query, false);
    auto classification = classify(*query);
    if (classification && !pin_policy_allows(*classification, false, to_server)) return;
    std::vector<std::shared_ptr<const statements::PreparedStatement>> depends_on;
    std::string rewritten;
    if (classification && classification->parsed && !statements_.empty()) {
        rewritten = rewrite_executes_for_parse(*query, *classification, depends_on, to_server);
    }
    const std::string_view text = rewritten.empty() ? *query : std::string_view(rewritten);
    std::shared_ptr<statements::PreparedStatement> ps =
        name->empty() ? statements::make_unnamed_statement(text, *types, std::move(classification))
                      : std::const_pointer_cast<statements::PreparedStatement>(
                            statements::make_prepared_statement(
                                text, *types, std::move(classification), search_path()));
    ps->depends_on = std::move(depends_on);
    if (name->empty()) {
        ensure_dependencies(*ps, to_server);
        auto previous = std::exchange(unnamed_, ps);
        if (rewritten.empty()) {
            forward_unnamed_parse(f, to_server, std::move(previous));
        } else {
            const auto previous_token = unnamed_token_;
            claim_unnamed();
            expect(PendingReply{.expect = Expect::kParse,
                                .unnamed_token = unnamed_token_,
                                .previous = std::move(previous),
                                .previous_token = previous_token});
            append_message(
                to_server, msg::kParse,
                {std::string_view("\0", 1), ps->query, std::string_view("\0", 1), *types});
        }
        return;
    }
    std::string client_name(*name);
    if (auto existing = statements_.find(client_name); existing != statements_.end()) {
        // PostgreSQL checks the name last (after the transaction state, the
        // syntax and the analysis of the new text). The server runs the Parse
        // under a name of pgmux's own that it has just created, so every error
        // comes in PostgreSQL's order (42P05 shows the client's name, see
        // error_with_client_names). Never under a shared statement's name: if
        // the server lacked that one, the Parse would replace it for everyone.
        static constexpr std::string_view kZero("\0", 1);
        append_message(to_server, msg::kClose, {"S", kDuplicateName, kZero});
        expect(PendingReply{.expect = Expect::kClose, .action = Action::kSwallow});
        if (tx_status_ != 'E') {  // a failed transaction refuses it, and the next Parse alike
            append_message(to_server, msg::kParse,
                           {kDuplicateName, kZero, "SELECT 1", kZero, {"\0\0", 2}});
            expect(PendingReply{.expect = Expect::kParse, .action = Action::kSwallow});
        }
        append_message(to_server, msg::kParse, {kDuplicateName, kZero, text, kZero, *types});
        expect(PendingReply{.expect = Expect::kParse, .error_name = client_name});
        return;
    }
    ps->invalidation_epoch = pool_->invalidation_epoch();
    statements_[client_name] = ps;
    // In a failed transaction PostgreSQL refuses every Parse but of COMMIT,
    // ROLLBACK and their kin (drivers prepare those too): those it accepts,
    // the others go to the server to fail there.
    if (server_->statements.contains(ps->server_name) &&
        (tx_status_ != 'E' || ends_transaction(*ps))) {
        server_->statements.touch(ps->server_name);
        proxy_.counters.parses_saved.fetch_add(1, std::memory_order_relaxed);
        proxy_.counters.statement_cache_hits.fetch_add(1, std::memory_order_relaxed);
        expect(PendingReply{.expect = Expect::kParse,
                            .action = Action::kSynthesize,
                            .synthesized = one_byte_message(msg::kParseComplete),
                            .client_statement = client_name,
                            .parsed_name = ps->server_name});
        return;
    }
    const bool added = !server_->statements.contains(ps->server_name);
    if (added) {
        proxy_.counters.statement_cache_misses.fetch_add(1, std::memory_order_relaxed);
        if (server_->statements.take_stale(ps->server_name)) {
            close_on_server(ps->server_name, to_server);  // its plan was invalidated
        }
        if (auto evicted = server_->statements.insert(ps->server_name)) {
            proxy_.counters.statement_cache_evictions.fetch_add(1, std::memory_order_relaxed);
            close_on_server(*evicted, to_server);
        }
    }
    proxy_.counters.server_parses.fetch_add(1, std::memory_order_relaxed);
    ensure_dependencies(*ps, to_server);
    to_server += ps->parse_message;
    server_->parsed_in_batch.push_back(ps->server_name);
    expect(PendingReply{.expect = Expect::kParse,
                        .client_statement = client_name,
                        .server_statement = added ? ps->server_name : std::string(),
                        .parsed_name = ps->server_name});
}

std::string_view ClientSession::search_path() const {
    if (!state_) return {};
    const auto& settings = state_->settings();
    const auto it = settings.find("search_path");
    return it == settings.end() ? std::string_view() : std::string_view(it->second.value);
}

void ClientSession::claim_unnamed() {
    unnamed_token_ = (std::uint64_t(worker_.index) << 56) | worker_.next_unnamed_token++;
    mark_unnamed_parsed();
}

void ClientSession::mark_unnamed_parsed() {
    server_->unnamed_owner = unnamed_token_;
    server_->unnamed_confirmed = false;
    unnamed_parsed_in_batch_ = true;
}

void ClientSession::forward_unnamed_parse(
    const protocol::Frame& f, std::string& to_server,
    std::shared_ptr<const statements::PreparedStatement> previous) {
    const auto previous_token = unnamed_token_;
    claim_unnamed();
    expect(PendingReply{.expect = Expect::kParse,
                        .unnamed_token = unnamed_token_,
                        .previous = std::move(previous),
                        .previous_token = previous_token});
    forward_as_is(f, to_server);
}

void ClientSession::forward_as_is(const protocol::Frame& f, std::string& to_server) {
    // Alone, the message joins the verbatim range of its batch (no copy);
    // after injected messages it has to follow them.
    if (to_server.empty()) {
        forward_verbatim_ = true;
    } else {
        to_server += f.raw;
    }
}

void ClientSession::close_on_server(const std::string& name, std::string& to_server) {
    append_message(to_server, msg::kClose, {"S", name, std::string_view("\0", 1)});
    expect(PendingReply{
        .expect = Expect::kClose, .action = Action::kSwallow, .server_statement = name});
}

bool ClientSession::server_lacks(const statements::PreparedStatement& ps,
                                 std::optional<std::string>& evicted, bool& stale) {
    if (server_->statements.contains(ps.server_name)) {
        server_->statements.touch(ps.server_name);
        proxy_.counters.statement_cache_hits.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    proxy_.counters.statement_cache_misses.fetch_add(1, std::memory_order_relaxed);
    proxy_.counters.reprepares.fetch_add(1, std::memory_order_relaxed);
    proxy_.counters.server_parses.fetch_add(1, std::memory_order_relaxed);
    stale = server_->statements.take_stale(ps.server_name);
    evicted = server_->statements.insert(ps.server_name);
    if (evicted) proxy_.counters.statement_cache_evictions.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void ClientSession::ensure_prepared(const statements::PreparedStatement& ps,
                                    std::string& to_server) {
    ensure_dependencies(ps, to_server);
    std::optional<std::string> evicted;
    bool stale = false;
    if (!server_lacks(ps, evicted, stale)) return;
    if (stale) close_on_server(ps.server_name, to_server);  // its plan was invalidated
    if (evicted) close_on_server(*evicted, to_server);
    if (ps.parse_message.empty()) return inject_sql_prepare(ps, to_server);
    to_server += ps.parse_message;
    server_->parsed_in_batch.push_back(ps.server_name);
    expect(PendingReply{.expect = Expect::kParse,
                        .action = Action::kSwallow,
                        .server_statement = ps.server_name,
                        .parsed_name = ps.server_name});
}

void ClientSession::inject_sql_prepare(const statements::PreparedStatement& ps,
                                       std::string& to_server) {
    // A statement the client made with SQL PREPARE has no Parse message (its
    // parameter types are type names, not OIDs): its PREPARE runs here as an
    // extended-protocol statement and portal of pgmux's own, replies hidden.
    // If the server skips it, the statement becomes stale (see undo_skipped);
    // if the PREPARE fails, the client sees the error and the cache forgets it.
    static constexpr std::string_view kName = "pgmux_sql_prepare";
    static constexpr std::string_view kZero = std::string_view("\0", 1);
    static constexpr std::string_view kNoParamsNoFormats = std::string_view("\0\0\0\0\0\0", 6);
    // Left behind if an earlier injected PREPARE failed (its Closes skipped).
    append_message(to_server, msg::kClose, {"S", kName, kZero});
    expect(PendingReply{.expect = Expect::kClose, .action = Action::kSwallow});
    append_message(to_server, msg::kParse, {kName, kZero, ps.prepare_sql, kZero, {"\0\0", 2}});
    expect(PendingReply{
        .expect = Expect::kParse, .action = Action::kSwallow, .server_statement = ps.server_name});
    append_message(to_server, msg::kBind, {kName, kZero, kName, kZero, kNoParamsNoFormats});
    expect(PendingReply{.expect = Expect::kBind, .action = Action::kSwallow});
    append_message(to_server, msg::kExecute, {kName, kZero, {"\0\0\0\0", 4}});
    expect(PendingReply{.expect = Expect::kExecute,
                        .action = Action::kSwallow,
                        .server_statement = ps.server_name});
    append_message(to_server, msg::kClose, {"S", kName, kZero});
    expect(PendingReply{.expect = Expect::kClose, .action = Action::kSwallow});
    append_message(to_server, msg::kClose, {"P", kName, kZero});
    expect(PendingReply{.expect = Expect::kClose, .action = Action::kSwallow});
}

bool ClientSession::ensure_unnamed(std::string& to_server) {
    if (!unnamed_) return false;
    ensure_dependencies(*unnamed_, to_server);
    // Ours, and either acknowledged or parsed in this very batch (if the
    // server skips that Parse, it skips this message too).
    if (server_->unnamed_owner == unnamed_token_ &&
        (server_->unnamed_confirmed || unnamed_parsed_in_batch_)) {
        return true;
    }
    // The unnamed statement was parsed on another server connection, or
    // replaced since, or its Parse in an earlier batch is not acknowledged
    // yet (an error there makes the server skip it): parse it again here,
    // replies hidden.
    std::string m;
    append_message(m, msg::kParse,
                   {std::string_view("\0", 1), unnamed_->query, std::string_view("\0", 1),
                    unnamed_->param_types});
    to_server += m;
    expect(PendingReply{
        .expect = Expect::kParse, .action = Action::kSwallow, .unnamed_token = unnamed_token_});
    mark_unnamed_parsed();
    proxy_.counters.reprepares.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void ClientSession::fail_on_server(std::string_view sqlstate, std::string message,
                                   std::string& to_server) {
    std::string error;
    protocol::append_error_response(error, {"ERROR", sqlstate, message});
    fail_on_server(std::move(error), to_server);
}

void ClientSession::fail_on_server(std::string error, std::string& to_server) {
    // A Parse the server must reject: it aborts the implicit or explicit
    // transaction and skips to Sync, exactly as if our error were its own.
    static constexpr std::string_view kInvalid = "pgmux: rejected message";
    append_message(to_server, msg::kParse,
                   {std::string_view("\0", 1), kInvalid, std::string_view("\0\0\0", 3)});
    server_->unnamed_owner = 0;
    expect(PendingReply{.expect = Expect::kParse,
                        .action = Action::kReplaceError,
                        .synthesized = std::move(error)});
}

void ClientSession::on_bind(const protocol::Frame& f, std::string& to_server) {
    unsynced_ = true;
    protocol::BodyReader r(f.body);
    const auto portal = r.cstr();
    const auto stmt = r.cstr();
    if (!portal || !stmt) {
        expect(Expect::kBind);
        forward_as_is(f, to_server);
        return;
    }
    const std::string_view rest = f.body.substr(r.position());
    if (stmt->empty()) {
        if (!ensure_unnamed(to_server)) {
            fail_on_server("26000", "unnamed prepared statement does not exist", to_server);
            return;
        }
        remember_portal(*portal, unnamed_->classification, rest, unnamed_->param_types);
        if (sequence_draws_.watching()) note_sequence_draw(unnamed_->query, true);
        batch_bound_ = true;
        expect(Expect::kBind);
        forward_as_is(f, to_server);
        if (unnamed_->classification && drops_statements(*unnamed_->classification)) {
            drop_statements_at_bind(*unnamed_->classification);
        }
        return;
    }
    auto it = statements_.find(std::string(*stmt));
    if (it == statements_.end()) {
        fail_on_server("26000", "prepared statement \"" + std::string(*stmt) + "\" does not exist",
                       to_server);
        return;
    }
    const auto held = it->second;  // the statement lives on if the Bind drops it (DEALLOCATE)
    const auto& ps = *held;
    if (ps.invalidation_epoch < pool_->invalidation_epoch()) [[unlikely]] {
        auto error = pool_->invalidation_error(ps.server_name, ps.invalidation_epoch);
        if (error && !bind_learns_new_shape(f.body, ps.param_types, following_)) {
            // DDL changed what the statement returns since the client
            // prepared (and described) it: PostgreSQL fails it from now on,
            // with this very error (drivers such as JDBC and postgres.js
            // prepare again when they see its routine), until the client
            // prepares it again. Never may rows of the new shape reach a
            // driver that decodes them by the old description; a client
            // that describes the portal first takes the new shape from it.
            fail_on_server(std::move(*error), to_server);
            return;
        }
        if (!error) {
            // Not invalidated since: no need to look again at every Bind
            // (a lookup takes the pool's lock).
            auto renewed = std::make_shared<statements::PreparedStatement>(ps);
            renewed->invalidation_epoch = pool_->invalidation_epoch();
            it->second = std::move(renewed);
        }
    }
    if (sequence_draws_.watching()) note_sequence_draw(ps.query, true);  // PDO's INSERT
    ensure_prepared(ps, to_server);
    remember_portal(*portal, ps.classification, rest, ps.param_types);
    append_message(
        to_server, msg::kBind,
        {*portal, std::string_view("\0", 1), ps.server_name, std::string_view("\0", 1), rest});
    PendingReply reply{.expect = Expect::kBind, .statement_key = ps.key};
    if (!batch_bound_ && tx_status_ == 'I' && !rerunning_) {
        // The first Bind of a batch that begins an implicit transaction: keep
        // the batch's messages in case the statement's plan was invalidated
        // and the batch can run again (plan_retry.cpp).
        reply.inspect = Inspect::kPlanRetry;
        retry_batch_.clear();
        retry_recording_ = RetryRecording::kRecording;
    }
    batch_bound_ = true;
    expect(std::move(reply));
    if (ps.classification && drops_statements(*ps.classification)) {
        drop_statements_at_bind(*ps.classification);
    }
}

void ClientSession::on_describe(const protocol::Frame& f, std::string& to_server) {
    unsynced_ = true;
    protocol::BodyReader r(f.body);
    const auto kind = r.byte();
    const auto name = r.cstr();
    if (!kind || !name || *kind != 'S') {
        expect(Expect::kDescribe);
        forward_as_is(f, to_server);
        return;
    }
    if (name->empty()) {
        if (!ensure_unnamed(to_server)) {
            fail_on_server("26000", "unnamed prepared statement does not exist", to_server);
            return;
        }
        expect(Expect::kDescribe);
        forward_as_is(f, to_server);
        return;
    }
    auto it = statements_.find(std::string(*name));
    if (it == statements_.end()) {
        fail_on_server("26000", "prepared statement \"" + std::string(*name) + "\" does not exist",
                       to_server);
        return;
    }
    ensure_prepared(*it->second, to_server);
    append_message(to_server, msg::kDescribe,
                   {"S", it->second->server_name, std::string_view("\0", 1)});
    expect(PendingReply{.expect = Expect::kDescribe, .statement_key = it->second->key});
}

void ClientSession::on_close(const protocol::Frame& f, std::string& to_server) {
    unsynced_ = true;
    protocol::BodyReader r(f.body);
    const auto kind = r.byte();
    const auto name = r.cstr();
    if (kind && name && *kind == 'S' && !name->empty()) {
        // The server statement stays cached for whoever needs it next; the
        // client's name is all that goes away. Closing an unknown name is
        // not an error in PostgreSQL either.
        PendingReply reply{.expect = Expect::kClose,
                           .action = Action::kSynthesize,
                           .synthesized = one_byte_message(msg::kCloseComplete)};
        if (auto it = statements_.find(std::string(*name)); it != statements_.end()) {
            reply.client_statement = it->first;
            reply.previous = std::move(it->second);
            statements_.erase(it);
        }
        expect(std::move(reply));
        return;
    }
    PendingReply reply{.expect = Expect::kClose};
    if (kind && name && *kind == 'S') {
        reply.previous = std::exchange(unnamed_, nullptr);  // restored if the server skips it
        reply.previous_token = unnamed_token_;
    }
    expect(std::move(reply));
    forward_as_is(f, to_server);
}

void ClientSession::remember_portal(std::string_view portal,
                                    std::shared_ptr<const parser::Classification> classification,
                                    std::string_view bind_rest, std::string_view param_types) {
    if (!classification) {
        portals_.erase(std::string(portal));  // the portal runs nothing pgmux tracks
        return;
    }
    PortalInfo info{classification, nullptr};
    if (uses_bind_values(classification.get())) {
        info.bind_values = text_bind_values(bind_rest, param_types);
    }
    portals_[std::string(portal)] = std::move(info);
}

void ClientSession::on_execute(const protocol::Frame& f, std::string& to_server) {
    unsynced_ = true;
    batch_bound_ = true;
    proxy_.counters.queries.fetch_add(1, std::memory_order_relaxed);
    protocol::BodyReader r(f.body);
    PendingReply reply{.expect = Expect::kExecute};
    if (auto portal = r.cstr()) {
        if (auto it = portals_.find(std::string(*portal)); it != portals_.end()) {
            reply.classification = it->second.classification;
            reply.bind_values = it->second.bind_values;
        }
    }
    expect(std::move(reply));
    forward_as_is(f, to_server);
}

}  // namespace pgmux::session
