#include "pgmux/admin/snapshots.h"

namespace pgmux::admin {

std::string_view to_string(PoolMode mode) {
    switch (mode) {
        case PoolMode::kSession:
            return "session";
        case PoolMode::kTransaction:
            return "transaction";
        case PoolMode::kStatement:
            return "statement";
    }
    return "unknown";
}

std::string_view to_string(ClientState state) {
    switch (state) {
        case ClientState::kLogin:
            return "login";
        case ClientState::kIdle:
            return "idle";
        case ClientState::kWaiting:
            return "waiting";
        case ClientState::kActive:
            return "active";
    }
    return "unknown";
}

std::string_view to_string(ServerState state) {
    switch (state) {
        case ServerState::kConnecting:
            return "connecting";
        case ServerState::kIdle:
            return "idle";
        case ServerState::kActive:
            return "active";
        case ServerState::kPinned:
            return "pinned";
        case ServerState::kResetting:
            return "resetting";
    }
    return "unknown";
}

}  // namespace pgmux::admin
