// What pgmux expects a server to answer, in order, and what to do with each
// answer. Every client message that the server answers gets an entry when it
// is sent; so do messages pgmux injects (replays, re-Parse, resets) and
// replies pgmux makes up itself (ParseComplete for a statement the server
// already has, CloseComplete for a Close answered locally).
//
// No I/O: the relay feeds each server message to on_server_message() and
// does what the verdict says. A server with entries outstanding is never
// given to another client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgmux::parser {
struct Classification;
struct Statement;
}  // namespace pgmux::parser
namespace pgmux::statements {
struct PreparedStatement;
}  // namespace pgmux::statements

namespace pgmux::session {

enum class Expect : std::uint8_t {
    kParse,         // ParseComplete
    kBind,          // BindComplete
    kDescribe,      // [ParameterDescription] RowDescription | NoData
    kExecute,       // rows..., CommandComplete | EmptyQuery | PortalSuspended
    kClose,         // CloseComplete
    kSync,          // ReadyForQuery
    kQuery,         // everything up to ReadyForQuery
    kFunctionCall,  // FunctionCallResponse, ReadyForQuery
};

enum class Action : std::uint8_t {
    kForward,       // the client asked for it
    kSwallow,       // pgmux's own request: hide the replies, but forward errors of
                    // extended-protocol messages (a failed re-Parse is the client's error)
    kSwallowAll,    // pgmux's own request whose errors are pgmux's business too
    kSynthesize,    // answered by pgmux: `synthesized` goes to the client in order
    kReplaceError,  // a request made to fail on purpose: the client sees `synthesized`
                    // instead of the server's error
};

// Hooks into the session for replies that matter beyond forwarding.
enum class Inspect : std::uint8_t {
    kNone,
    kTempSchemaCheck,
    kVerification,
    kReplay,
    kPrepareForClient,  // its error explains the client's next error
    kPlanRetry,         // may be run again if its statement's plan was invalidated
                        // (plan_invalidation.cpp)
};

struct PendingReply {
    Expect expect = Expect::kQuery;
    Action action = Action::kForward;
    Inspect inspect = Inspect::kNone;
    std::string synthesized;
    // What the statement does to session state (simple Query: every
    // statement, matched to CommandCompletes in order; Execute: one).
    std::shared_ptr<const parser::Classification> classification;
    std::uint32_t next_statement = 0;
    // Bind/Describe of a named statement: statements::statement_key() of the
    // server statement, to find it again if the server reports its plan invalid.
    std::uint64_t statement_key = 0;
    // Prepared-statement bookkeeping to undo when the server refuses a Parse.
    std::string client_statement;
    std::string server_statement;
    std::string parsed_name;  // named Parse: the server-side name, reported on success
    // The client name to show for a server statement this request's error
    // names (several client names may share one server statement).
    std::string error_name;
    // Parse of the unnamed statement: the claim it made on the server (see
    // ServerConnection::unnamed_owner), to withdraw if the server skips it.
    std::uint64_t unnamed_token = 0;
    // Where pgmux rewrote the Query text: (offset in the rewritten text,
    // bytes added there), so error positions can be mapped back.
    std::shared_ptr<const std::vector<std::pair<std::size_t, long>>> text_shifts;
    // Text values of the Bind parameters, for statements that set settings from them.
    std::shared_ptr<const std::vector<std::optional<std::string>>> bind_values;
    // The client's statement this request removes or replaces (a Close of
    // client_statement pgmux answered itself; the client's Parse of the
    // unnamed statement): put back if the server skips the request, since
    // PostgreSQL then keeps it.
    std::shared_ptr<const statements::PreparedStatement> previous;
    std::uint64_t previous_token = 0;  // the unnamed_token `previous` was parsed with
};

// PendingReply as the tracker keeps it: the fields every request has, and
// the rarely used ones behind one pointer, so queuing and retiring an
// ordinary request moves a few words and allocates nothing.
struct TrackedReply {
    struct Detail {
        std::string synthesized;
        std::string client_statement;
        std::string server_statement;
        std::string parsed_name;
        std::shared_ptr<const std::vector<std::pair<std::size_t, long>>> text_shifts;
        std::string error_name;
    };

    // Takes over a request (a slot is reused, not rebuilt).
    void assign(PendingReply&& r);
    // A request the client made whose replies are simply forwarded: the
    // common case, without building a PendingReply.
    void assign_plain(Expect e) noexcept;

    Expect expect = Expect::kQuery;
    Action action = Action::kForward;
    Inspect inspect = Inspect::kNone;
    std::uint32_t next_statement = 0;
    std::uint64_t statement_key = 0;
    std::uint64_t unnamed_token = 0;
    std::shared_ptr<const parser::Classification> classification;
    std::shared_ptr<const std::vector<std::optional<std::string>>> bind_values;
    std::shared_ptr<const statements::PreparedStatement> previous;  // see PendingReply
    std::uint64_t previous_token = 0;
    // Shared, so entries copy cheaply when the ring grows (see ReplyRing).
    std::shared_ptr<Detail> detail;

    [[nodiscard]] std::string_view client_statement() const noexcept {
        return detail ? std::string_view(detail->client_statement) : std::string_view();
    }
    [[nodiscard]] std::string_view server_statement() const noexcept {
        return detail ? std::string_view(detail->server_statement) : std::string_view();
    }
    [[nodiscard]] std::string_view parsed_name() const noexcept {
        return detail ? std::string_view(detail->parsed_name) : std::string_view();
    }
    [[nodiscard]] std::string_view error_name() const noexcept {
        return detail ? std::string_view(detail->error_name) : std::string_view();
    }
};

struct ReplyEvent {
    enum class Kind : std::uint8_t { kNone, kStatementDone, kStatementFailed, kReadyForQuery };
    Kind kind = Kind::kNone;
    const parser::Statement* statement = nullptr;  // when the entry knew it
    char tx_status = 0;                            // kReadyForQuery
    std::string_view command_tag;                  // kStatementDone
};

struct Verdict {
    bool forward = true;
    std::string replacement;  // sent instead of the message (kReplaceError)
    ReplyEvent event;
    Inspect inspect = Inspect::kNone;  // the message belongs to an inspected request
    // The request the message answers (null for asynchronous messages). It
    // stays valid until the tracker's next on_server_message(), also when
    // the message completed it; event.statement points into it.
    const TrackedReply* entry = nullptr;
    bool parse_completed = false;  // the message was the entry's ParseComplete

    // A Parse the server refused: the client statement to forget.
    [[nodiscard]] std::string_view failed_client_statement() const noexcept;
    // The server statement a failed request was to create.
    [[nodiscard]] std::string_view failed_server_statement() const noexcept;
    // A named Parse the server accepted: its server-side name.
    [[nodiscard]] std::string_view parsed_server_statement() const noexcept;
    [[nodiscard]] const std::vector<std::pair<std::size_t, long>>* text_shifts() const noexcept {
        return entry != nullptr && entry->detail ? entry->detail->text_shifts.get() : nullptr;
    }
    [[nodiscard]] const std::vector<std::optional<std::string>>* bind_values() const noexcept {
        return entry != nullptr ? entry->bind_values.get() : nullptr;
    }
};

// A FIFO of pending replies that reuses its slots: a request/reply cycle
// costs no allocation once the ring has grown to the session's pipeline depth.
class ReplyRing {
  public:
    void push(PendingReply&& r) {
        next_slot().assign(std::move(r));
        ++count_;  // counted in once filled: a throwing assign() leaves the ring as it was
    }
    void push_plain(Expect e) {
        next_slot().assign_plain(e);
        ++count_;
    }
    [[nodiscard]] TrackedReply& front() noexcept { return slots_[head_]; }
    [[nodiscard]] const TrackedReply& front() const noexcept { return slots_[head_]; }
    // Moves the head into `into` (or drops it) and advances.
    void pop_into(TrackedReply& into) noexcept;
    void pop() noexcept;
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    void clear() noexcept;
    void forget_previous_slots() noexcept {
        if (!previous_slots_.empty()) previous_slots_.clear();
    }

  private:
    // The free slot behind the last entry; grows the ring when full.
    TrackedReply& next_slot();

    std::vector<TrackedReply> slots_;  // capacity is a power of two
    // Slots replaced since the last reply (a verdict may point into them).
    std::vector<std::vector<TrackedReply>> previous_slots_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

class ReplyTracker {
  public:
    // Queues what a request sent to the server will be answered with. While
    // the server discards messages after an error (up to the client's next
    // Sync, not sent yet), extended-protocol requests get no answer: they are
    // reported as skipped instead (see take_skipped).
    void expect(PendingReply&& reply);
    // The same for PendingReply{.expect = e}, on the hot path.
    void expect(Expect e);
    [[nodiscard]] bool empty() const noexcept { return pending_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return pending_.size(); }
    void clear() noexcept {
        pending_.clear();
        skipping_ = false;
        skipped_.clear();
    }

    // Decides what to do with one server message (type byte and body).
    [[nodiscard]] Verdict on_server_message(char type, std::string_view body);

    // The Parse requests, and Closes of server statements, that the server
    // skipped after an error (it discards everything up to Sync), oldest
    // first, since the last call: what pgmux recorded when it sent or
    // answered them must be undone.
    [[nodiscard]] std::vector<TrackedReply> take_skipped() { return std::exchange(skipped_, {}); }
    [[nodiscard]] bool has_skipped() const noexcept { return !skipped_.empty(); }

    // Appends the synthesized replies now at the head to `out` and drops them.
    // Returns true when anything was appended.
    bool take_synthesized(std::string& out);

    [[nodiscard]] bool has_synthesized_head() const noexcept {
        return !pending_.empty() && pending_.front().action == Action::kSynthesize;
    }

    // Whether the entry at the head hides its replies from the client.
    [[nodiscard]] bool head_swallows() const noexcept;
    // Hides the rest of the head entry's replies (its ReadyForQuery), errors
    // included: the request is being run again.
    void swallow_head() noexcept {
        if (!pending_.empty()) pending_.front().action = Action::kSwallowAll;
    }
    [[nodiscard]] Expect head_expect() const noexcept {
        return pending_.empty() ? Expect::kQuery : pending_.front().expect;
    }

  private:
    void fail_until_sync();
    // Keeps `entry` for take_skipped() if undoing it matters.
    void note_skipped(const TrackedReply& entry);
    // Ends the head entry, keeping it readable through the verdict.
    const TrackedReply* retire_head() noexcept;

    ReplyRing pending_;
    TrackedReply retired_;  // the entry the last verdict may point to
    std::vector<TrackedReply> skipped_;
    bool skipping_ = false;  // the server discards until the client's next Sync
};

}  // namespace pgmux::session
