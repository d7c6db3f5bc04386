// A plain copy of what one client session looks like right now, for the admin
// API. ClientSession::describe() fills it on the session's worker thread; the
// copy then travels to the admin thread, so it holds no pointer it may follow
// (the pool pointer is an identity only: pools live as long as the process).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "pgmux/pinning/pin_reason.hpp"

namespace pgmux::pool {
class Pool;
}

namespace pgmux::session {

// The states partition all clients (admin::ClientState mirrors them).
enum class SessionPhase {
    kLogin,    // startup/authentication not finished
    kIdle,     // between transactions, no server linked
    kWaiting,  // asked its pool for a server and has none yet
    kActive,   // a server is linked (a transaction, or a pin)
};

using SteadyTime = std::chrono::steady_clock::time_point;

struct PinInfo {
    pinning::PinReason reason = pinning::PinReason::unknown_state_change;
    SteadyTime since;
    std::string cause;  // normalised statement; only with details
};

struct LinkedServerInfo {
    std::uint64_t id = 0;
    config::Endpoint endpoint;
    SteadyTime connected_at;
    std::uint32_t prepared_statements = 0;
    bool in_transaction = false;  // the last ReadyForQuery said 'T' or 'E'
};

struct SessionInfo {
    std::uint64_t id = 0;
    SessionPhase phase = SessionPhase::kLogin;
    const pool::Pool* pool = nullptr;  // identity only, never dereferenced off its thread
    SteadyTime connected_at;
    std::optional<SteadyTime> waiting_since;  // set in kWaiting
    std::optional<LinkedServerInfo> server;
    bool pinned = false;        // the session state holds a pin reason
    bool tls = false;           // the client connection uses TLS
    std::vector<PinInfo> pins;  // reasons held with since (and cause with details)

    // Filled only when details are asked for (they cost allocations).
    std::string peer;
    std::string database;
    std::string user;
    std::string application_name;
    std::uint32_t tracked_settings = 0;
    std::uint32_t prepared_statements = 0;
};

// Whether describe() copies names and statements (lists of clients) or only
// the figures that counting needs (metrics, pools).
enum class DescribeDetail { kCounts, kFull };

}  // namespace pgmux::session
