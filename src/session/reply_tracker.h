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
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmux::parser {
struct Classification;
struct Statement;
}  // namespace pgmux::parser

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
    // Prepared-statement bookkeeping to undo when the server refuses a Parse.
    std::string client_statement;
    std::string server_statement;
    std::string parsed_name;  // named Parse: the server-side name, reported on success
    // Where pgmux rewrote the Query text: (offset in the rewritten text,
    // bytes added there), so error positions can be mapped back.
    std::shared_ptr<const std::vector<std::pair<std::size_t, long>>> text_shifts;
    // Text values of the Bind parameters, for statements that set settings from them.
    std::shared_ptr<const std::vector<std::optional<std::string>>> bind_values;
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
    // A Parse the server refused: the client statement to forget.
    std::string failed_client_statement;
    std::string failed_server_statement;
    std::shared_ptr<const std::vector<std::pair<std::size_t, long>>> text_shifts;
    // Keep what event.statement points into alive (the entry may be gone).
    std::shared_ptr<const parser::Classification> classification;
    std::shared_ptr<const std::vector<std::optional<std::string>>> bind_values;
    // A named Parse the server accepted (its server-side name).
    std::string parsed_server_statement;
};

class ReplyTracker {
  public:
    void expect(PendingReply reply) { pending_.push_back(std::move(reply)); }
    [[nodiscard]] bool empty() const noexcept { return pending_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return pending_.size(); }
    void clear() noexcept { pending_.clear(); }

    // Decides what to do with one server message (type byte and body).
    [[nodiscard]] Verdict on_server_message(char type, std::string_view body);

    // Appends the synthesized replies now at the head to `out` and drops them.
    // Returns true when anything was appended.
    bool take_synthesized(std::string& out);

    [[nodiscard]] bool has_synthesized_head() const noexcept {
        return !pending_.empty() && pending_.front().action == Action::kSynthesize;
    }

    // Whether the entry at the head hides its replies from the client.
    [[nodiscard]] bool head_swallows() const noexcept;

  private:
    void fail_until_sync();

    std::deque<PendingReply> pending_;
};

}  // namespace pgmux::session
