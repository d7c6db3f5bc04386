#pragma once
// Pin decisions as pure functions: state in, decision and reason out.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pgmux/parser/statement.hpp"
#include "pgmux/pinning/pin_reason.hpp"
#include "pgmux/pinning/replay.hpp"
#include "pgmux/pinning/session_state.hpp"

namespace pgmux::pinning {

// Per-pool policy for statements that would pin.
enum class OnPin : std::uint8_t { allow, warn, reject };
[[nodiscard]] std::string_view to_string(OnPin policy) noexcept;
[[nodiscard]] std::optional<OnPin> on_pin_from_string(std::string_view name) noexcept;

// The pin `stmt` would start for this client if it succeeds (nullopt: none, or the client
// already holds that reason).
[[nodiscard]] std::optional<PinReason> predicted_pin(const parser::Statement& stmt,
                                                     const SessionState& client);

struct PinDecision {
    enum class Action : std::uint8_t { allow, warn, reject };
    Action action = Action::allow;
    std::optional<PinReason> reason;  // the new pin (for warn/reject; also under allow)
    std::size_t statement_index = 0;  // the statement of the Query that would pin
};

// Decided before a Query/Parse is forwarded. Under `reject` the whole Query is refused when
// any of its statements would start a new pin.
[[nodiscard]] PinDecision decide_pin(const SessionState& client, OnPin policy,
                                     const parser::Classification& query);

struct PinRejection {
    std::string_view sqlstate = "0A000";  // feature_not_supported
    std::string message;
    std::string hint;
};
// The ErrorResponse fields for a rejected statement.
[[nodiscard]] PinRejection rejection_for(PinReason reason);

struct ReleaseDecision {
    enum class Action : std::uint8_t {
        keep,                // the client stays on this server
        release,             // back to the pool as is
        reset_then_release,  // send `reset` (swallow replies), then pool it; close on error
        close,               // close the server connection
    };
    Action action = Action::release;
    ReplayPlan reset;      // for reset_then_release; apply it to ServerSettings on success
    std::string_view why;  // short reason, for logs
};

// At ReadyForQuery 'I' with nothing outstanding (after server.adopt(client)): may the server
// go back to the pool? keep while pinned, verifying or inside a block; close when the
// backend got a pg_temp schema.
[[nodiscard]] ReleaseDecision decide_release(const SessionState& client,
                                             const ServerSettings& server);

// The client disconnected (or was disconnected) while holding this server. The server never
// returns to the pool dirty: pins are cleaned up (ROLLBACK, CLOSE ALL, UNLISTEN *, advisory
// unlock, settings and identity reset) or, where that is impossible (LOAD, unknown changes,
// temp schema), the server is closed.
[[nodiscard]] ReleaseDecision decide_after_disconnect(const SessionState& client,
                                                      const ServerSettings& server);

}  // namespace pgmux::pinning
