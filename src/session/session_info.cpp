// ClientSession::describe(): kept apart from the data path's files because
// only the admin API needs it. Runs on the session's worker thread.
#include "session/session_info.h"

#include "session/client_session.h"

namespace pgmux::session {

SessionInfo ClientSession::describe(DescribeDetail detail) const {
    SessionInfo info;
    info.id = id_;
    info.connected_at = connected_at_;
    info.pool = pool_.get();
    info.tls = tls_ != nullptr;
    // The cancel key is registered exactly when the login reply is sent.
    if (!registered_cancel_) {
        info.phase = SessionPhase::kLogin;
    } else if (borrow_started_) {
        info.phase = SessionPhase::kWaiting;
        info.waiting_since = borrow_started_;
    } else if (server_) {
        info.phase = SessionPhase::kActive;
    } else {
        info.phase = SessionPhase::kIdle;
    }
    if (server_) {
        info.server = LinkedServerInfo{
            .id = server_->id(),
            .endpoint = server_->endpoint(),
            .connected_at = server_->created_at,
            .prepared_statements = static_cast<std::uint32_t>(server_->statements.size()),
            .in_transaction = tx_status_ != 'I',
        };
    }
    const bool full = detail == DescribeDetail::kFull;
    info.pinned = state_ && state_->pinned();
    pins_.held().for_each([&](pinning::PinReason r) {
        PinInfo pin{.reason = r, .since = pins_.since(r).value_or(connected_at_), .cause = {}};
        if (full) pin.cause = std::string(pins_.cause(r));
        info.pins.push_back(std::move(pin));
    });
    if (!full) return info;

    info.peer = peer();
    info.database = database_;
    info.user = user_;
    if (state_) {
        const auto& settings = state_->settings();
        if (auto it = settings.find("application_name"); it != settings.end()) {
            info.application_name = it->second.value;
        }
        info.tracked_settings = static_cast<std::uint32_t>(settings.size());
    }
    info.prepared_statements = static_cast<std::uint32_t>(statements_.size());
    return info;
}

}  // namespace pgmux::session
