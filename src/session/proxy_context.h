// State shared by every session: configuration, pools, cancel keys and
// process-wide counters (ProxyContext, thread-safe), and the per-worker state
// a session may use without locks (WorkerContext, touched only on its thread).
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth_source/auth_source.h"
#include "config/config.h"
#include "pgmux/parser/classifier.hpp"
#include "pgmux/pinning/pin_stats.hpp"
#include "pool/pool.h"
#include "session/cancel_registry.h"
#include "session/session_stats.h"

namespace pgmux::session {

class ClientSession;

// Monotonic counters, readable from any thread (admin API, metrics).
struct Counters {
    std::atomic<std::uint64_t> clients_accepted{0};
    std::atomic<std::uint64_t> clients_refused{0};
    std::atomic<std::uint64_t> login_failures{0};
    std::atomic<std::uint64_t> transactions{0};
    std::atomic<std::uint64_t> queries{0};
    std::atomic<std::uint64_t> wait_timeouts{0};
    std::atomic<std::uint64_t> replays{0};
    std::atomic<std::uint64_t> cancels_forwarded{0};
    std::atomic<std::uint64_t> protocol_errors{0};
    std::atomic<std::uint64_t> servers_lost{0};
    // Prepared statements (issue: prepared statements under pooling).
    std::atomic<std::uint64_t> client_parses{0};
    std::atomic<std::uint64_t> server_parses{0};
    std::atomic<std::uint64_t> parses_saved{0};
    std::atomic<std::uint64_t> statement_cache_hits{0};
    std::atomic<std::uint64_t> statement_cache_misses{0};
    std::atomic<std::uint64_t> statement_cache_evictions{0};
    std::atomic<std::uint64_t> reprepares{0};
    std::atomic<std::uint64_t> plan_invalidations{0};
    std::atomic<std::uint64_t> plan_invalidation_retries{0};
    std::atomic<std::uint64_t> unparsed_statements{0};
};

class ProxyContext {
  public:
    explicit ProxyContext(std::shared_ptr<const config::Config> config);

    [[nodiscard]] std::shared_ptr<const config::Config> config() const;
    // Installs a reloaded configuration and applies pool settings to pools;
    // re-reads the auth file first and throws (changing nothing) when it is bad.
    void set_config(std::shared_ptr<const config::Config> config);

    // The pool for (database, user), created on first use; nullptr when no
    // configured database matches.
    [[nodiscard]] std::shared_ptr<pool::Pool> pool_for(const std::string& database,
                                                       const std::string& user);
    [[nodiscard]] std::vector<std::shared_ptr<pool::Pool>> pools() const;
    // Closes the idle server connections to `database` on the server at
    // `endpoint`, in every pool (all users): DROP DATABASE and the like
    // need it left alone.
    void close_idle_servers_of(const config::Endpoint& endpoint, const std::string& database);

    // Secrets of clients and server users: auth file and auth_query.
    auth_source::AuthSource auth;
    CancelRegistry cancels;
    Counters counters;
    std::atomic<int> clients{0};  // connected clients (max_client_conn)
    std::atomic<bool> shutting_down{false};

  private:
    [[nodiscard]] pool::PoolSettings settings_for(const config::Config& c,
                                                  const config::DatabaseConfig& db,
                                                  const std::string& database,
                                                  const std::string& user) const;

    mutable std::mutex mu_;
    std::shared_ptr<const config::Config> config_;
    std::map<pool::PoolKey, std::shared_ptr<pool::Pool>> pools_;
};

// How long clients waited for a server connection (ClientSession::link_server),
// kept per worker without locks and merged by the admin API. Buckets are
// per bucket (not cumulative); the last one is +Inf.
struct BorrowStats {
    static constexpr auto kUpperBounds = LatencyBuckets::kUpperBounds;
    // A borrow slower than this counts as having waited: an idle connection
    // is handed over in microseconds, queueing or connecting takes longer.
    static constexpr std::chrono::microseconds kWaitThreshold{1000};
    struct PoolWaits {
        std::uint64_t waits = 0;
        double seconds = 0;
    };

    std::array<std::uint64_t, kUpperBounds.size() + 1> buckets{};
    double seconds_total = 0;
    // Keyed by pool identity (pools live as long as the process); only
    // borrows that waited touch the map, so the ordinary path does not.
    std::map<const pool::Pool*, PoolWaits> waits;

    void record(const pool::Pool* pool, std::chrono::steady_clock::duration took) {
        const double s = std::chrono::duration<double>(took).count();
        std::size_t i = 0;
        while (i < kUpperBounds.size() && s > kUpperBounds[i]) ++i;
        ++buckets[i];
        seconds_total += s;
        if (took >= kWaitThreshold) {
            auto& w = waits[pool];
            ++w.waits;
            w.seconds += s;
        }
    }
};

// Owned by one worker thread; sessions on that worker share it without locks.
struct WorkerContext {
    boost::asio::any_io_executor executor;
    int index = 0;
    std::unordered_map<std::uint64_t, std::weak_ptr<ClientSession>> sessions;
    // Reads land here first so idle clients hold no buffer of their own.
    std::vector<char> scratch = std::vector<char>(64 * 1024);
    // A plain client's read may leave its bytes in `scratch` for its
    // completion, which runs later (ClientSession::claim_scratch).
    ClientSession* scratch_holder = nullptr;
    std::size_t scratch_held = 0;
    // What a client message becomes on its way to the server when it is not
    // forwarded as it is (reused: handle_client_bytes never waits meanwhile).
    std::string to_server;
    // Statement classification cache (not thread-safe: one per worker).
    parser::Classifier classifier{4096};
    // Pin statistics of this worker's clients (merged by the admin API).
    pinning::PinStats pin_stats;
    BorrowStats borrows;
    // Query latencies, logins and disconnect reasons of this worker's clients.
    SessionStats session_stats;
    // Tokens naming a client's unnamed statement generation (see ServerConnection).
    std::uint64_t next_unnamed_token = 1;
};

}  // namespace pgmux::session
