// Plain snapshot values the proxy hands to the admin API. They carry no
// pointers into the proxy: a snapshot is a copy taken at one moment, so the
// admin thread can format it while the data path keeps running.
//
// States and pin reasons are the proxy's vocabulary. States are enums here
// because the API and the metric labels promise a fixed set; pin reasons are
// strings because the pin policy (pinning/) owns that list and its stable
// snake_case names, and admin-api must not depend on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmux::admin {

using ClientId = std::uint64_t;
using ServerId = std::uint64_t;
// Wall-clock time, because operators read these values. The proxy converts
// from its steady clock when it fills a snapshot.
using WallTime = std::chrono::system_clock::time_point;

enum class PoolMode { kSession, kTransaction, kStatement };

// A client is in exactly one state; the states partition all clients.
enum class ClientState {
    kLogin,    // startup/authentication not finished; not in a pool yet
    kIdle,     // between transactions, holds no server connection
    kWaiting,  // wants a server connection and is queued for one
    kActive,   // holds a server connection (in a transaction, or pinned)
};

// A server connection is in exactly one state; the states partition all
// server connections. "Borrowed" in RDS Proxy terms is kActive + kPinned.
enum class ServerState {
    kConnecting,  // TCP/TLS/authentication towards PostgreSQL in progress
    kIdle,        // in the pool, clean, ready to be handed out
    kActive,      // borrowed by a client for a transaction
    kPinned,      // held by one client because of unreplayable session state
    kResetting,   // being cleaned (DISCARD/state check) before reuse or close
};

[[nodiscard]] std::string_view to_string(PoolMode mode);
[[nodiscard]] std::string_view to_string(ClientState state);
[[nodiscard]] std::string_view to_string(ServerState state);

inline constexpr ClientState kAllClientStates[] = {ClientState::kLogin, ClientState::kIdle,
                                                   ClientState::kWaiting, ClientState::kActive};
inline constexpr ServerState kAllServerStates[] = {ServerState::kConnecting, ServerState::kIdle,
                                                   ServerState::kActive, ServerState::kPinned,
                                                   ServerState::kResetting};

struct PoolSnapshot {
    std::string database;
    std::string user;
    PoolMode pool_mode = PoolMode::kTransaction;
    bool paused = false;
    std::uint32_t pool_size = 0;  // the configured maximum of server connections

    std::uint32_t clients_active = 0;
    std::uint32_t clients_waiting = 0;
    std::uint32_t clients_idle = 0;

    std::uint32_t servers_active = 0;  // borrowed, not pinned
    std::uint32_t servers_idle = 0;
    std::uint32_t servers_pinned = 0;
    std::uint32_t servers_connecting = 0;

    // Waiting for a server connection ("borrow wait").
    double longest_wait_seconds = 0;  // the oldest client waiting right now
    std::uint64_t waits_total = 0;    // borrows that had to wait, since start
    double wait_seconds_total = 0;    // summed over those waits
};

// One reason a client is pinned right now. A client can hold several.
struct PinSnapshot {
    std::string reason;     // stable snake_case name, e.g. "temp_object"
    WallTime since;         // when this reason started
    std::string statement;  // normalised statement that caused it ($1 for literals)
};

struct ClientSnapshot {
    ClientId id = 0;
    std::string address;  // peer "ip:port" (or "unix")
    std::string database;
    std::string user;
    std::string application_name;
    ClientState state = ClientState::kIdle;
    bool tls = false;
    std::optional<ServerId> server;  // the server connection it holds now
    std::vector<PinSnapshot> pins;   // empty when not pinned
    std::uint32_t tracked_settings = 0;
    std::uint32_t prepared_statements = 0;
    WallTime connected_since;
};

struct ServerSnapshot {
    ServerId id = 0;
    std::string database;  // the pool it belongs to
    std::string user;
    ServerState state = ServerState::kIdle;
    std::string address;                // PostgreSQL "host:port"
    std::optional<ClientId> client;     // the client using it now
    std::optional<ClientId> pinned_to;  // set when state is kPinned
    std::uint32_t prepared_statements = 0;
    WallTime connected_since;
};

struct PinReasonStats {
    std::string reason;
    std::uint64_t pins_started = 0;
    std::uint64_t pins_ended = 0;
    double seconds_pinned = 0;  // finished pins plus the running ones so far
    std::uint32_t clients_pinned_now = 0;
};

// A normalised statement that caused pins, with how often it did.
struct PinCause {
    std::string statement;
    std::string reason;
    std::uint64_t count = 0;
};

struct ReplayStats {
    std::uint64_t sets_replayed = 0;          // SET statements sent to rebuild state
    std::uint64_t replays_sent = 0;           // state replays (one per checkout needing one)
    std::uint64_t statements_reprepared = 0;  // Parse re-sent on another server
    std::uint64_t parses_saved = 0;           // Parse answered from the server cache
    std::uint64_t statement_cache_hits = 0;
    std::uint64_t statement_cache_misses = 0;
    std::uint64_t statement_cache_evictions = 0;
};

struct PinningSnapshot {
    std::vector<PinReasonStats> reasons;
    std::vector<PinCause> top_statements;  // most frequent first; the proxy bounds it
    ReplayStats replay;
};

struct Readiness {
    bool ready = false;
    std::string reason;  // why not ready; empty when ready
};

enum class ActionResult { kDone, kNotFound };

struct ReloadResult {
    bool ok = false;
    std::string message;  // the error when !ok, a summary otherwise
};

}  // namespace pgmux::admin
