// After DDL changes what a prepared statement returns (ALTER TABLE t ADD
// COLUMN under SELECT * FROM t), PostgreSQL refuses to execute it with
// "cached plan must not change result type" until it is prepared again. Its
// server statement is shared by every client that prepared the same text, so
// pgmux marks it stale on every server of the pool (each Closes and
// re-Parses it at its next use), and runs the failed request again itself
// when nothing the client could observe ran before it: see
// docs/prepared-statements.md ("Plan invalidation").
#include "pgmux/parser/statement.hpp"
#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"
#include "session/plan_invalidation.h"

namespace pgmux::session {

namespace msg = protocol::msg;

void ClientSession::record_for_retry(const protocol::Frame& f) {
    switch (f.type) {
        case msg::kBind:
        case msg::kDescribe:
        case msg::kExecute:
        case msg::kFlush:
        case msg::kSync:
            break;
        case msg::kParse:
            // The unnamed statement is simply parsed again; a named one is
            // already the client's, and a second Parse would fail.
            if (!f.body.empty() && f.body[0] == '\0') break;
            retry_recording_ = RetryRecording::kOff;
            return;
        default:  // Close, Query...: running them twice is not the same
            retry_recording_ = RetryRecording::kOff;
            return;
    }
    if (retry_batch_.size() + f.raw.size() > kMaxRetryBatch) {
        retry_recording_ = RetryRecording::kOff;
        return;
    }
    retry_batch_.append(f.raw);
    if (f.type == msg::kSync) retry_recording_ = RetryRecording::kComplete;
}

std::optional<std::string> ClientSession::invalidated_statement(const Verdict& v) const {
    if (v.entry == nullptr) return std::nullopt;
    if (v.entry->statement_key != 0) {
        return server_->statements.find_by_key(v.entry->statement_key);  // Bind, Describe
    }
    // EXECUTE in a Query, or in a Parse pgmux rewrote.
    if (v.event.statement != nullptr && !v.event.statement->prepared_name.empty()) {
        if (auto it = statements_.find(v.event.statement->prepared_name); it != statements_.end()) {
            return it->second->server_name;
        }
    }
    return std::nullopt;
}

bool ClientSession::on_plan_invalidated(const Verdict& v, std::string_view error) {
    // Session mode keeps the client's own names on its own server: the
    // client handles the error as on a direct connection.
    if (mode_ == config::PoolMode::kSession) return false;
    proxy_.counters.plan_invalidations.fetch_add(1, std::memory_order_relaxed);
    const auto name = invalidated_statement(v);
    if (!name) {
        LOG_WARN << "client C" << id_ << " on server S" << server_->id()
                 << ": a cached plan was invalidated, statement unknown; error passed on";
        return false;
    }
    // The server keeps failing with the old plan until the statement is
    // prepared again: every server holding it Closes and re-Parses it at its
    // next use, this one included.
    pool_->note_invalidated(*name, std::string(error));
    pool_->apply_invalidations(*server_);
    if (!can_rerun(v, *name)) {
        LOG_INFO << "client C" << id_ << " on server S" << server_->id() << ": the plan of "
                 << *name << " was invalidated (result type changed); error passed on, "
                 << "the statement is prepared again at its next use";
        return false;
    }
    LOG_INFO << "client C" << id_ << " on server S" << server_->id() << ": the plan of " << *name
             << " was invalidated (result type changed); preparing it again and retrying";
    // The rerun describes the new row shape to the client: its statement is
    // current again (see on_bind).
    for (auto& [client_name, ps] : statements_) {
        if (ps->server_name != *name) continue;
        auto renewed = std::make_shared<statements::PreparedStatement>(*ps);
        renewed->invalidation_epoch = pool_->invalidation_epoch();
        ps = std::move(renewed);
    }
    rerun_recorded_request();
    return true;
}

bool ClientSession::can_rerun(const Verdict& v, const std::string& server_name) const {
    // Only the request recorded for this purpose, which began an implicit
    // transaction (the last ReadyForQuery said idle), with nothing sent after
    // it: the failure rolled back whatever it did, and the rerun's replies
    // take the failed ones' place in order.
    if (v.inspect != Inspect::kPlanRetry || retry_recording_ != RetryRecording::kComplete ||
        tx_status_ != 'I' || unsynced_ || tracker_.size() != 1 || closing_) {
        return false;
    }
    // Only protocol-level batches are recorded: SQL EXECUTE gets PostgreSQL's
    // own error (see on_query).
    if (v.entry->expect != Expect::kBind || tracker_.head_expect() != Expect::kSync) return false;
    // The recorded Bind names the statement that failed; its Parse types say
    // which parameters keep their type when it is prepared again.
    const auto first = protocol::decode_frame(retry_batch_, kMaxRetryBatch);
    if (first.status != protocol::DecodeStatus::kFrame || first.frame.type != msg::kBind) {
        return false;
    }
    protocol::BodyReader r(first.frame.body);
    const auto portal = r.cstr();
    const auto stmt = r.cstr();
    if (!portal || !stmt) return false;
    const auto it = statements_.find(std::string(*stmt));
    if (it == statements_.end() || it->second->server_name != server_name) return false;
    return batch_can_rerun(retry_batch_, it->second->param_types);
}

void ClientSession::rerun_recorded_request() {
    // The failed request's ReadyForQuery is hidden; the rerun ends with its own.
    tracker_.swallow_head();
    retry_recording_ = RetryRecording::kOff;
    std::string batch;
    batch.swap(retry_batch_);
    rerunning_ = true;
    std::string to_server;
    std::string rewritten;
    std::uint64_t queries = 0;
    std::size_t pos = 0;
    while (pos < batch.size()) {
        const auto d = protocol::decode_frame(std::string_view(batch).substr(pos), kMaxRetryBatch);
        if (d.status != protocol::DecodeStatus::kFrame) break;  // recorded whole: cannot happen
        const protocol::Frame& f = d.frame;
        rewritten.clear();
        forward_verbatim_ = false;
        // The statement is stale everywhere: on_bind / on_query Close and
        // prepare it again before the client's own messages.
        dispatch_client_message(f, rewritten);
        to_server += forward_verbatim_ ? f.raw : std::string_view(rewritten);
        if (f.type == msg::kExecute) ++queries;
        pos += d.consumed;
    }
    rerunning_ = false;
    forward_verbatim_ = false;
    batch.clear();
    retry_batch_.swap(batch);                                               // keeps the buffer
    proxy_.counters.queries.fetch_sub(queries, std::memory_order_relaxed);  // counted once
    proxy_.counters.plan_invalidation_retries.fetch_add(1, std::memory_order_relaxed);
    server_->out().send(to_server);
}

}  // namespace pgmux::session
