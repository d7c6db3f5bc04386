#include "session/reply_tracker.h"

#include "protocol/messages.h"

#include "pgmux/parser/statement.hpp"

namespace pgmux::session {

namespace msg = protocol::msg;

namespace {
bool is_extended(Expect e) {
    return e == Expect::kParse || e == Expect::kBind || e == Expect::kDescribe ||
           e == Expect::kExecute || e == Expect::kClose;
}

const parser::Statement* next_statement(PendingReply& p) {
    if (!p.classification) return nullptr;
    const auto& list = p.classification->statements;
    if (p.next_statement >= list.size()) return nullptr;
    return &list[p.next_statement];
}
}  // namespace

bool ReplyTracker::head_swallows() const noexcept {
    if (pending_.empty()) return false;
    const auto a = pending_.front().action;
    return a == Action::kSwallow || a == Action::kSwallowAll || a == Action::kReplaceError;
}

bool ReplyTracker::take_synthesized(std::string& out) {
    bool any = false;
    while (!pending_.empty() && pending_.front().action == Action::kSynthesize) {
        out += pending_.front().synthesized;
        pending_.pop_front();
        any = true;
    }
    return any;
}

void ReplyTracker::fail_until_sync() {
    // After an error the server skips everything up to Sync; so do we,
    // including replies we would have synthesized.
    while (!pending_.empty() && is_extended(pending_.front().expect)) pending_.pop_front();
}

Verdict ReplyTracker::on_server_message(char type, std::string_view body) {
    Verdict v;
    if (pending_.empty()) return v;  // asynchronous: notices, notifications, parameter status
    PendingReply& head = pending_.front();
    const bool swallow = head.action != Action::kForward;
    v.forward = !swallow;
    v.inspect = head.inspect;

    switch (type) {
        case msg::kNoticeResponse:
        case msg::kNotification:
        case msg::kParameterStatus:
            return v;  // belongs to whatever runs now; hidden while pgmux's own request runs
        case msg::kReadyForQuery:
            v.forward = head.action == Action::kForward || head.action == Action::kReplaceError;
            v.event.kind = ReplyEvent::Kind::kReadyForQuery;
            v.event.tx_status = body.empty() ? 'I' : body[0];
            // A ReadyForQuery ends the first Sync/Query/FunctionCall entry.
            while (!pending_.empty() && is_extended(pending_.front().expect)) pending_.pop_front();
            if (!pending_.empty()) pending_.pop_front();
            return v;
        case msg::kErrorResponse: {
            if (head.action == Action::kReplaceError) {
                v.forward = false;
                v.replacement = std::move(head.synthesized);
            } else if (head.action == Action::kSwallow && is_extended(head.expect)) {
                v.forward = true;  // a re-Parse pgmux injected failed: the client's error
            }
            v.event.kind = ReplyEvent::Kind::kStatementFailed;
            v.event.statement = next_statement(head);
            v.classification = head.classification;
            v.text_shifts = head.text_shifts;
            if (head.expect == Expect::kParse && !head.client_statement.empty()) {
                v.failed_client_statement = head.client_statement;
            }
            // The statement a failed request was to create is not there.
            v.failed_server_statement = head.server_statement;
            if (is_extended(head.expect)) fail_until_sync();
            return v;
        }
        case msg::kParseComplete:
            if (head.expect == Expect::kParse) {
                v.parsed_server_statement = std::move(head.parsed_name);
                pending_.pop_front();
            }
            return v;
        case msg::kBindComplete:
        case msg::kCloseComplete:
        case msg::kNoData:
            if (is_extended(head.expect)) pending_.pop_front();
            return v;
        case msg::kRowDescription:
            if (head.expect == Expect::kDescribe) pending_.pop_front();
            return v;
        case msg::kCommandComplete: {
            v.event.kind = ReplyEvent::Kind::kStatementDone;
            v.event.statement = next_statement(head);
            v.classification = head.classification;
            // The entry stays alive until the caller is done with the verdict:
            // keep the values in the verdict rather than pointing into it.
            v.bind_values = head.bind_values;
            v.event.command_tag = body.empty() ? body : body.substr(0, body.size() - 1);
            if (head.expect == Expect::kExecute) {
                pending_.pop_front();
            } else {
                ++head.next_statement;
            }
            return v;
        }
        case msg::kEmptyQueryResponse:
        case msg::kPortalSuspended:
            if (head.expect == Expect::kExecute) pending_.pop_front();
            return v;
        default:
            return v;  // rows, COPY traffic, ParameterDescription, FunctionCallResponse
    }
}

}  // namespace pgmux::session
