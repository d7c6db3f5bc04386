// A pool of server connections for one (database, user) pair, shared by all
// worker threads. The size limit is exact across workers: every connection,
// including one still connecting, holds a slot, and a slot is returned only
// when its connection is destroyed. Clients that find the pool full wait in
// FIFO order, bounded by query_wait_timeout.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

#include "backend/server_connection.h"
#include "config/config.h"

namespace pgmux::pool {

struct PoolKey {
    std::string database;
    std::string user;
    auto operator<=>(const PoolKey&) const = default;
};

struct PoolSettings {
    int size = 20;
    int min_size = 0;
    config::PoolMode mode = config::PoolMode::kTransaction;
    config::PinPolicy on_pin = config::PinPolicy::kAllow;
    backend::ServerTarget target;
    std::chrono::milliseconds idle_timeout{600000};
    std::chrono::milliseconds lifetime{3600000};
    std::size_t max_prepared_statements = 1024;  // per server connection
};

enum class AcquireFailure { kTimeout, kConnectFailed, kShuttingDown, kCancelled };

struct AcquireError {
    AcquireFailure kind;
    backend::ConnectError connect_error;  // for kConnectFailed
    // PostgreSQL had no slot for another connection (53300) while the pool
    // has others open: the client may wait for one of those instead.
    bool may_wait_for_release = false;
};

using AcquireResult = std::variant<std::unique_ptr<backend::ServerConnection>, AcquireError>;

struct PoolStats {
    int size = 0;
    int open = 0;  // connections existing or being connected
    int idle = 0;
    int connecting = 0;
    int waiting = 0;  // clients queued for a connection
    bool paused = false;
    // Since the pool was created: connections it tried to open, opened
    // (connected and authenticated), and failed to open.
    std::uint64_t connect_attempts = 0;
    std::uint64_t connects = 0;
    std::uint64_t connect_errors = 0;
};

// A server connection the pool holds (idle) or is opening, for the admin API.
// Connections lent to clients are described by their sessions instead.
struct PooledServer {
    std::uint64_t id = 0;
    bool connecting = false;
    config::Endpoint endpoint;
    // When it was created (for one still connecting: when the attempt began).
    std::chrono::steady_clock::time_point created_at;
    std::uint32_t prepared_statements = 0;
    std::uint64_t last_client_id = 0;  // 0: none yet
};

// Which idle server a client would rather have: the one it used last (its
// settings are already there, and its currval() lives there), and who asks
// (so a server keeping another client's sequence state is left for that one).
struct Affinity {
    std::uint64_t server = 0;  // 0: none
    std::uint64_t client = 0;
};

class Pool : public std::enable_shared_from_this<Pool> {
  public:
    Pool(PoolKey key, PoolSettings settings);
    ~Pool();

    // Gets a connection for a client on `executor`, preferring the server it
    // used last (affinity saves replays and keeps currval() working).
    boost::asio::awaitable<AcquireResult> acquire(boost::asio::any_io_executor executor,
                                                  Affinity affinity,
                                                  std::chrono::milliseconds wait_timeout,
                                                  std::uint64_t owner = 0);

    // The same for callers that are not coroutines: `done` runs on `executor`
    // (or at once, when a connection was there to take).
    using AcquireCallback = std::function<void(AcquireResult)>;
    // `owner` (a client id, 0 for none) lets cancel_wait() find the wait.
    void acquire_async(boost::asio::any_io_executor executor, Affinity affinity,
                       std::chrono::milliseconds wait_timeout, AcquireCallback done,
                       std::uint64_t owner = 0);
    // Ends `owner`'s wait in the queue, if it is still queued: its callback
    // gets kCancelled (the client's CancelRequest).
    void cancel_wait(std::uint64_t owner);

    // The same without waiting: an idle connection that looks alive, or
    // nullptr when there is none to take right now (the caller then calls
    // acquire). Never ahead of clients already waiting. `now`: the caller's
    // clock reading (see usable()).
    std::unique_ptr<backend::ServerConnection> try_acquire_idle(
        const boost::asio::any_io_executor& executor, Affinity affinity,
        std::chrono::steady_clock::time_point now);

    // Waits up to `patience` for exactly `server` (busy with another client)
    // to be released; nullptr when it is not (closed, still busy, or kept
    // meanwhile for another client's currval()). For `client`, whose session
    // state lives in that backend (currval()).
    boost::asio::awaitable<std::unique_ptr<backend::ServerConnection>> acquire_same(
        boost::asio::any_io_executor executor, std::uint64_t server,
        std::chrono::milliseconds patience, std::uint64_t client);

    // Returns a clean, idle connection (ReadyForQuery 'I', nothing outstanding),
    // last used `now` (a caller that has just read the clock passes its reading).
    void release(std::unique_ptr<backend::ServerConnection> conn,
                 std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

    // Closes idle connections past their idle timeout or lifetime, and opens
    // connections up to min_size on `executor`. Called periodically.
    void maintain(const boost::asio::any_io_executor& executor);

    void pause();
    void resume();
    void update_settings(const PoolSettings& settings);
    // Closes every idle connection and fails waiters (shutdown).
    void close_idle();
    // Closes the idle connections, and for `window` those released (when no
    // client waits for them): PostgreSQL's DROP DATABASE and the like wait
    // that long for other sessions of the database to end.
    void close_idle_for(std::chrono::milliseconds window);

    // ParameterStatus sets seen by earlier logins, keyed by the client's
    // startup settings: a client whose settings were already validated on
    // this pool logs in without waiting for a server (as with PgBouncer).
    // Kept encoded, as the ParameterStatus messages a login reply sends, and
    // shared: a login copies a pointer, not some fifteen pairs of strings.
    using EncodedParameters = std::shared_ptr<const std::string>;
    [[nodiscard]] EncodedParameters cached_login(const std::string& settings_key) const;
    void remember_login(const std::string& settings_key, EncodedParameters parameters);

    // Server-side statement names some server of this pool parsed without
    // error: a client's Parse of such a statement can be answered without a
    // server while the client is between transactions.
    [[nodiscard]] bool statement_known(const std::string& server_name) const;
    void remember_statement(const std::string& server_name);

    // A server reported that a statement's cached plan must not change
    // result type (DDL changed what it returns): every server of the pool
    // holding it must prepare it again. Servers learn of it when a client
    // links them (apply_invalidations), so the check costs one atomic load
    // per transaction.
    // `error`: the server's ErrorResponse message, replayed to clients whose
    // statement predates the invalidation (see invalidation_error).
    void note_invalidated(const std::string& server_name, std::string error);
    [[nodiscard]] std::uint64_t invalidation_epoch() const noexcept {
        return invalidation_epoch_.load(std::memory_order_acquire);
    }
    // The server's error for the invalidation of `server_name` after `epoch`,
    // if there was one (nullopt also when that is too long ago to tell).
    [[nodiscard]] std::optional<std::string> invalidation_error(const std::string& server_name,
                                                                std::uint64_t epoch) const;
    // Marks the statements invalidated since the server last caught up as
    // stale in its cache (all of them if it fell too far behind).
    void apply_invalidations(backend::ServerConnection& server) const;

    [[nodiscard]] PoolStats stats() const;
    // Copies of the idle and connecting connections, taken under the mutex.
    [[nodiscard]] std::vector<PooledServer> servers() const;
    [[nodiscard]] const PoolKey& key() const noexcept { return key_; }
    [[nodiscard]] PoolSettings settings() const;

    // Connections get ids unique across the process (admin API, logs).
    static std::uint64_t next_connection_id() noexcept;

  private:
    struct Waiter;
    struct SameServerWaiter;
    // One look at the pool on a client's behalf: a connection to take, a
    // slot to open one in, or a place in the queue. After the queued client
    // was woken: one of the first two, a cancellation, or none (look again).
    struct Attempt {
        std::unique_ptr<backend::ServerConnection> conn;
        bool connect = false;
        std::shared_ptr<Waiter> waiter;
        bool arm_expiry = false;  // the queue's timer must be (re)armed: request_expiry()
        bool cancelled = false;
    };
    // Queues a waiter that carries `done` (moved from) when there is nothing to take.
    Attempt take_or_queue(const boost::asio::any_io_executor& executor, Affinity affinity,
                          std::chrono::steady_clock::time_point deadline, std::uint64_t owner,
                          AcquireCallback& done);
    Attempt after_wake(const std::shared_ptr<Waiter>& waiter);
    // A queued waiter, woken by signal(), on its executor.
    void resume_waiter(const std::shared_ptr<Waiter>& waiter);
    // The queue's deadlines: one timer, on the executor of the first client
    // that waited, armed for the earliest deadline while anyone waits.
    // True when a waiter queued with `deadline` needs it armed (sooner).
    bool expiry_needed_locked(const boost::asio::any_io_executor& executor,
                              std::chrono::steady_clock::time_point deadline);
    void request_expiry();  // posts arm_expiry() to the timer's executor
    void arm_expiry();      // on the timer's executor
    void expire_waiters();  // the timer fired: kTimeout for those past their deadline
    void acquire_async_at(boost::asio::any_io_executor executor, Affinity affinity,
                          std::chrono::steady_clock::time_point deadline, AcquireCallback done,
                          std::uint64_t owner = 0);
    // The attempt's connection, moved to `executor`, if it is still alive
    // (nullptr: look again).
    std::unique_ptr<backend::ServerConnection> take_usable(
        Attempt& attempt, const boost::asio::any_io_executor& executor);
    // Hands over the attempt's connection or starts opening one; false when
    // there was nothing usable (look again).
    bool deliver(Attempt& attempt, const boost::asio::any_io_executor& executor, Affinity affinity,
                 std::chrono::steady_clock::time_point deadline, AcquireCallback& done);
    // Room for another connection: below the pool size, and PostgreSQL did
    // not just refuse one for lack of slots.
    bool may_open_locked() const;
    std::shared_ptr<void> make_slot();
    void on_slot_freed();
    void wake_first_waiter_locked(std::vector<std::shared_ptr<Waiter>>& to_signal);
    void signal(const std::shared_ptr<Waiter>& w);
    boost::asio::awaitable<AcquireResult> connect_new(boost::asio::any_io_executor executor);
    std::unique_ptr<backend::ServerConnection> take_idle_locked(
        const boost::asio::any_io_executor& executor, Affinity affinity, bool may_open = true);
    std::unique_ptr<backend::ServerConnection> take_kept_idle(
        const boost::asio::any_io_executor& executor);
    // False (after logging) for an idle connection the server closed meanwhile.
    // `executor`: the taker's, which the connection moves to next.
    static bool usable(
        backend::ServerConnection& conn, const boost::asio::any_io_executor& executor,
        std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    static void dispose(std::unique_ptr<backend::ServerConnection> conn);

    const PoolKey key_;
    mutable std::mutex mu_;
    PoolSettings settings_;
    int open_ = 0;
    int connecting_ = 0;
    // Set when PostgreSQL refused a connection with 53300: until then,
    // clients wait for the pool's open servers rather than open more.
    std::chrono::steady_clock::time_point refused_until_{};
    // See close_idle_for().
    std::chrono::steady_clock::time_point close_released_until_{};
    bool paused_ = false;
    std::uint64_t connect_attempts_ = 0;
    std::uint64_t connects_ = 0;
    std::uint64_t connect_errors_ = 0;
    // Connections being opened: id and start (bounded by the pool size).
    std::vector<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> connecting_ids_;
    std::vector<std::unique_ptr<backend::ServerConnection>> idle_;
    std::deque<std::shared_ptr<Waiter>> waiters_;
    // See arm_expiry(). The executor is set once (under mu_); the timer is
    // only touched there.
    std::optional<boost::asio::any_io_executor> expiry_executor_;
    std::weak_ptr<boost::asio::steady_timer> expiry_timer_;
    std::chrono::steady_clock::time_point expiry_armed_for_{};  // zero: not armed
    // Clients waiting for one particular server (acquire_same), served first.
    std::vector<std::pair<std::uint64_t, std::shared_ptr<SameServerWaiter>>> same_server_waiters_;
    std::map<std::string, EncodedParameters> login_cache_;  // bounded, see remember_login
    std::unordered_set<std::string> known_statements_;      // bounded, see remember_statement
    // Recently invalidated statements with their epochs (bounded, under mu_).
    struct Invalidation {
        std::uint64_t epoch;
        std::string server_name;
        std::string error;
    };
    std::deque<Invalidation> invalidated_;
    std::atomic<std::uint64_t> invalidation_epoch_{0};
};

}  // namespace pgmux::pool
