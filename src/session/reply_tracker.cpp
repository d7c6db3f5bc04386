#include "session/reply_tracker.h"

#include <utility>

#include "protocol/messages.h"

#include "pgmux/parser/statement.hpp"

namespace pgmux::session {

namespace msg = protocol::msg;

namespace {
bool is_extended(Expect e) {
    return e == Expect::kParse || e == Expect::kBind || e == Expect::kDescribe ||
           e == Expect::kExecute || e == Expect::kClose;
}

const parser::Statement* next_statement(TrackedReply& p) {
    if (!p.classification) return nullptr;
    const auto& list = p.classification->statements;
    if (p.next_statement >= list.size()) return nullptr;
    return &list[p.next_statement];
}
}  // namespace

std::string_view Verdict::failed_client_statement() const noexcept {
    if (entry == nullptr || event.kind != ReplyEvent::Kind::kStatementFailed ||
        entry->expect != Expect::kParse) {
        return {};
    }
    return entry->client_statement();
}

std::string_view Verdict::failed_server_statement() const noexcept {
    if (entry == nullptr || event.kind != ReplyEvent::Kind::kStatementFailed) return {};
    return entry->server_statement();
}

std::string_view Verdict::parsed_server_statement() const noexcept {
    return parse_completed ? entry->parsed_name() : std::string_view();
}

void TrackedReply::assign(PendingReply&& r) {
    expect = r.expect;
    action = r.action;
    inspect = r.inspect;
    next_statement = r.next_statement;
    statement_key = r.statement_key;
    unnamed_token = r.unnamed_token;
    classification = std::move(r.classification);
    bind_values = std::move(r.bind_values);
    previous = std::move(r.previous);
    previous_token = r.previous_token;
    if (!r.synthesized.empty() || !r.client_statement.empty() || !r.server_statement.empty() ||
        !r.parsed_name.empty() || r.text_shifts || !r.error_name.empty()) {
        detail = std::make_shared<Detail>(Detail{
            std::move(r.synthesized), std::move(r.client_statement), std::move(r.server_statement),
            std::move(r.parsed_name), std::move(r.text_shifts), std::move(r.error_name)});
    } else {
        detail.reset();
    }
}

void TrackedReply::assign_plain(Expect e) noexcept {
    expect = e;
    action = Action::kForward;
    inspect = Inspect::kNone;
    next_statement = 0;
    statement_key = 0;
    unnamed_token = 0;
    previous_token = 0;
    // A slot given up by pop_into() is empty already; one emptied by pop() too.
    if (classification) classification.reset();
    if (bind_values) bind_values.reset();
    if (previous) previous.reset();
    if (detail) detail.reset();
}

TrackedReply& ReplyRing::next_slot() {
    if (count_ == slots_.size()) {
        // Copies into new slots and keeps the old ones intact until the next
        // reply: a verdict being handled may point into them.
        std::vector<TrackedReply> grown(slots_.empty() ? 4 : slots_.size() * 2);
        for (std::size_t i = 0; i < count_; ++i) {
            grown[i] = slots_[(head_ + i) & (slots_.size() - 1)];
        }
        previous_slots_.push_back(std::exchange(slots_, std::move(grown)));
        head_ = 0;
    }
    return slots_[(head_ + count_) & (slots_.size() - 1)];
}

void ReplyRing::pop_into(TrackedReply& into) noexcept {
    into = std::move(slots_[head_]);
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
}

void ReplyRing::pop() noexcept {
    TrackedReply& slot = slots_[head_];
    slot.classification.reset();
    slot.bind_values.reset();
    slot.previous.reset();
    slot.detail.reset();
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
}

void ReplyRing::clear() noexcept {
    while (count_ > 0) pop();
    head_ = 0;
}

const TrackedReply* ReplyTracker::retire_head() noexcept {
    pending_.pop_into(retired_);
    return &retired_;
}

bool ReplyTracker::head_swallows() const noexcept {
    if (pending_.empty()) return false;
    const auto a = pending_.front().action;
    return a == Action::kSwallow || a == Action::kSwallowAll || a == Action::kReplaceError;
}

bool ReplyTracker::take_synthesized(std::string& out) {
    bool any = false;
    while (!pending_.empty() && pending_.front().action == Action::kSynthesize) {
        if (const auto& d = pending_.front().detail) out += d->synthesized;
        pending_.pop();
        any = true;
    }
    return any;
}

void ReplyTracker::note_skipped(const TrackedReply& entry) {
    if (entry.expect == Expect::kParse ||
        (entry.expect == Expect::kClose &&
         (!entry.server_statement().empty() || entry.previous != nullptr))) {
        skipped_.push_back(entry);
    }
}

void ReplyTracker::fail_until_sync() {
    // After an error the server skips everything up to Sync; so do we,
    // including replies we would have synthesized.
    while (!pending_.empty() && is_extended(pending_.front().expect)) {
        note_skipped(pending_.front());
        pending_.pop();
    }
    // No Sync sent yet: what the client sends until it is skipped as well.
    skipping_ = pending_.empty();
}

void ReplyTracker::expect(Expect e) {
    if (skipping_) [[unlikely]]
        return expect(PendingReply{.expect = e});
    pending_.push_plain(e);
}

void ReplyTracker::expect(PendingReply&& reply) {
    if (skipping_) [[unlikely]] {
        if (is_extended(reply.expect)) {
            TrackedReply skipped;
            skipped.assign(std::move(reply));
            note_skipped(skipped);
            return;  // no reply will come, nothing is synthesized
        }
        skipping_ = false;  // the Sync (or a Query) that ends the skipping
    }
    pending_.push(std::move(reply));
}

Verdict ReplyTracker::on_server_message(char type, std::string_view body) {
    pending_.forget_previous_slots();
    Verdict v;
    if (pending_.empty()) return v;  // asynchronous: notices, notifications, parameter status
    TrackedReply& head = pending_.front();
    const bool swallow = head.action != Action::kForward;
    v.forward = !swallow;
    v.inspect = head.inspect;
    v.entry = &head;

    switch (type) {
        case msg::kNoticeResponse:
        case msg::kNotification:
        case msg::kParameterStatus:
            return v;  // belongs to whatever runs now; hidden while pgmux's own request runs
        case msg::kReadyForQuery:
            v.forward = head.action == Action::kForward || head.action == Action::kReplaceError;
            v.event.kind = ReplyEvent::Kind::kReadyForQuery;
            v.event.tx_status = body.empty() ? 'I' : body[0];
            v.entry = nullptr;
            // A ReadyForQuery ends the first Sync/Query/FunctionCall entry.
            while (!pending_.empty() && is_extended(pending_.front().expect)) pending_.pop();
            if (!pending_.empty()) pending_.pop();
            return v;
        case msg::kErrorResponse: {
            if (head.action == Action::kReplaceError) {
                v.forward = false;
                if (head.detail) v.replacement = std::move(head.detail->synthesized);
            } else if (head.action == Action::kSwallow && is_extended(head.expect)) {
                v.forward = true;  // a re-Parse pgmux injected failed: the client's error
            }
            v.event.kind = ReplyEvent::Kind::kStatementFailed;
            v.event.statement = next_statement(head);
            if (is_extended(head.expect)) {
                v.entry = retire_head();
                fail_until_sync();
            }
            return v;
        }
        case msg::kParseComplete:
            if (head.expect == Expect::kParse) {
                v.parse_completed = !head.parsed_name().empty();
                v.entry = retire_head();
            }
            return v;
        case msg::kBindComplete:
        case msg::kCloseComplete:
        case msg::kNoData:
            if (is_extended(head.expect)) v.entry = retire_head();
            return v;
        case msg::kRowDescription:
            if (head.expect == Expect::kDescribe) v.entry = retire_head();
            return v;
        case msg::kCommandComplete: {
            v.event.kind = ReplyEvent::Kind::kStatementDone;
            v.event.statement = next_statement(head);
            v.event.command_tag = body.empty() ? body : body.substr(0, body.size() - 1);
            if (head.expect == Expect::kExecute) {
                v.entry = retire_head();
            } else {
                ++head.next_statement;
            }
            return v;
        }
        case msg::kPortalSuspended:
            // An Execute with a row limit (asyncpg's fetchval/fetchrow,
            // JDBC's fetch size) ran the statement as far as those rows: its
            // effects happened (a lock taken, a setting set), so they count
            // now; a later Execute of the portal may count them again, which
            // errs on the side of pinning (the server's verification settles it).
            if (head.expect == Expect::kExecute) {
                v.event.kind = ReplyEvent::Kind::kStatementDone;
                v.event.statement = next_statement(head);
                v.entry = retire_head();
            }
            return v;
        case msg::kEmptyQueryResponse:
            if (head.expect == Expect::kExecute) v.entry = retire_head();
            return v;
        default:
            return v;  // rows, COPY traffic, ParameterDescription, FunctionCallResponse
    }
}

}  // namespace pgmux::session
