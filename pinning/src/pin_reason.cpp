#include "pgmux/pinning/pin_reason.hpp"

#include <bit>

namespace pgmux::pinning {

std::string_view to_string(PinReason reason) noexcept {
    switch (reason) {
        case PinReason::temp_object:
            return "temp_object";
        case PinReason::hold_cursor:
            return "hold_cursor";
        case PinReason::listen:
            return "listen";
        case PinReason::advisory_lock:
            return "advisory_lock";
        case PinReason::load:
            return "load";
        case PinReason::unknown_state_change:
            return "unknown_state_change";
        case PinReason::unparsed:
            return "unparsed";
        case PinReason::session_mode:
            return "session_mode";
    }
    return "unknown";
}

std::optional<PinReason> pin_reason_from_string(std::string_view name) noexcept {
    for (PinReason r : kAllPinReasons) {
        if (to_string(r) == name) return r;
    }
    return std::nullopt;
}

std::string_view advice(PinReason reason) noexcept {
    switch (reason) {
        case PinReason::temp_object:
            return "use a temporary table with ON COMMIT DROP inside a transaction, or a regular "
                   "table; DROP the temporary objects or run DISCARD TEMP to unpin";
        case PinReason::hold_cursor:
            return "use a cursor without HOLD inside a transaction; CLOSE the cursor to unpin";
        case PinReason::listen:
            return "run UNLISTEN * when notifications are no longer needed, or listen on a "
                   "dedicated direct connection";
        case PinReason::advisory_lock:
            return "use transaction-level locks (pg_advisory_xact_lock); release session locks "
                   "with pg_advisory_unlock or pg_advisory_unlock_all to unpin";
        case PinReason::load:
            return "load the library with session_preload_libraries instead of LOAD";
        case PinReason::unknown_state_change:
            return "call set_config with constant arguments (or SET) so pgmux can replay the "
                   "setting";
        case PinReason::unparsed:
            return "the statement is not PostgreSQL 15 syntax; keep session-state changes in "
                   "plain SET statements";
        case PinReason::session_mode:
            return "the pool runs in session mode; use transaction mode to share connections";
    }
    return "";
}

std::size_t PinSet::size() const noexcept {
    return static_cast<std::size_t>(std::popcount(bits_));
}

}  // namespace pgmux::pinning
