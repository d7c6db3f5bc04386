#include "pool/pool.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "runtime/log.h"

namespace pgmux::pool {

namespace asio = boost::asio;
using backend::ServerConnection;
using Clock = std::chrono::steady_clock;

// After PostgreSQL refused a connection for lack of slots, how long clients
// wait for the pool's open servers before pgmux tries to open another.
constexpr auto kRefusalBackoff = std::chrono::seconds(1);

// How long after its release an idle server is handed out without asking its
// socket whether the server closed it meanwhile (see usable()).
constexpr auto kTrustedIdle = std::chrono::milliseconds(1);

// A client queued for a connection. The thread that frees a connection or a
// slot hands it over under the pool mutex and posts one handler to the
// waiter's executor, which carries on with `done` (resume_waiter). Deadlines
// (query_wait_timeout) are kept by one timer for the whole queue (see
// arm_expiry): a timer per wait would cost more than the rest of the wait.
struct Pool::Waiter {
    asio::any_io_executor executor;
    AcquireCallback done;
    Affinity affinity;  // for a second look (resume)
    Clock::time_point deadline;
    std::uint64_t owner = 0;                 // see cancel_wait()
    std::unique_ptr<ServerConnection> conn;  // handed over by release()
    bool may_connect = false;                // a slot was reserved for it
    bool retry = false;                      // the pool was resumed: look again
    bool cancelled = false;                  // its client cancelled the request
};

// A client waiting for one particular server (acquire_same): rare, so its
// own timer both bounds the wait and, cancelled, ends it.
struct Pool::SameServerWaiter {
    asio::steady_timer timer;
    std::uint64_t owner;
    std::unique_ptr<ServerConnection> conn;  // handed over by release()

    SameServerWaiter(const asio::any_io_executor& ex, Clock::time_point deadline,
                     std::uint64_t owner)
        : timer(ex, deadline), owner(owner) {}
};

Pool::Pool(PoolKey key, PoolSettings settings)
    : key_(std::move(key)), settings_(std::move(settings)) {}

Pool::~Pool() = default;

std::uint64_t Pool::next_connection_id() noexcept {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<void> Pool::make_slot() {
    return std::shared_ptr<void>(nullptr,
                                 [self = shared_from_this()](void*) { self->on_slot_freed(); });
}

void Pool::signal(const std::shared_ptr<Waiter>& w) {
    asio::post(w->executor, [self = shared_from_this(), w] { self->resume_waiter(w); });
}

void Pool::resume_waiter(const std::shared_ptr<Waiter>& w) {
    auto a = after_wake(w);
    if (a.cancelled) return w->done(AcquireError{AcquireFailure::kCancelled, {}});
    if (deliver(a, w->executor, w->affinity, w->deadline, w->done)) return;
    acquire_async_at(w->executor, w->affinity, w->deadline, std::move(w->done), w->owner);
}

bool Pool::expiry_needed_locked(const asio::any_io_executor& executor, Clock::time_point deadline) {
    if (!expiry_executor_) expiry_executor_ = executor;
    if (expiry_armed_for_ != Clock::time_point{} && expiry_armed_for_ <= deadline) return false;
    expiry_armed_for_ = deadline;
    return true;
}

void Pool::request_expiry() {
    asio::any_io_executor ex;
    {
        std::lock_guard lock(mu_);
        ex = *expiry_executor_;
    }
    asio::post(ex, [self = shared_from_this()] { self->arm_expiry(); });
}

void Pool::arm_expiry() {
    Clock::time_point first{};
    asio::any_io_executor ex;
    {
        std::lock_guard lock(mu_);
        for (const auto& w : waiters_) {
            if (first == Clock::time_point{} || w->deadline < first) first = w->deadline;
        }
        expiry_armed_for_ = first;  // zero when nobody waits: the next waiter arms it
        ex = *expiry_executor_;
    }
    // Only this executor touches the timers. The pending wait owns its timer
    // (the pool only observes it): a timer must not outlive its io_context,
    // and the pool outlives the workers' at shutdown.
    if (auto old = expiry_timer_.lock()) old->cancel();
    if (first == Clock::time_point{}) return;
    auto timer = std::make_shared<asio::steady_timer>(ex, first);
    expiry_timer_ = timer;
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code ec) {
        if (!ec) self->expire_waiters();
    });
}

void Pool::expire_waiters() {
    std::vector<std::shared_ptr<Waiter>> expired;
    {
        std::lock_guard lock(mu_);
        const auto now = Clock::now();
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            if ((*it)->deadline <= now) {
                expired.push_back(std::move(*it));
                it = waiters_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& w : expired) {
        asio::post(w->executor, [w] { w->done(AcquireError{AcquireFailure::kTimeout, {}}); });
    }
    arm_expiry();
}

void Pool::wake_first_waiter_locked(std::vector<std::shared_ptr<Waiter>>& to_signal) {
    if (paused_ || waiters_.empty() || !may_open_locked()) return;
    auto w = waiters_.front();
    waiters_.pop_front();
    ++open_;
    ++connecting_;
    w->may_connect = true;
    to_signal.push_back(std::move(w));
}

bool Pool::may_open_locked() const {
    if (open_ >= settings_.size) return false;
    // The clock is read only after a refusal, until a connection opens.
    return refused_until_ == Clock::time_point{} || Clock::now() >= refused_until_;
}

void Pool::on_slot_freed() {
    std::vector<std::shared_ptr<Waiter>> to_signal;
    {
        std::lock_guard lock(mu_);
        --open_;
        wake_first_waiter_locked(to_signal);
    }
    for (auto& w : to_signal) signal(w);
}

std::unique_ptr<ServerConnection> Pool::take_idle_locked(const asio::any_io_executor& executor,
                                                         Affinity affinity, bool may_open) {
    if (idle_.empty()) return nullptr;
    // In order of preference: the asker's own previous server; the most
    // recently used one on the asker's thread; the most recently used one;
    // and only when every idle server keeps another client's sequence state
    // (currval/lastval) and no new one may be opened (the pool is full, or
    // the server refused the last attempt), the one whose client has been
    // away longest.
    auto pick = idle_.end();
    auto any_free = idle_.end();
    const auto* home = ServerConnection::context_of(executor);
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        auto& conn = **it;
        const bool someone_elses_sequences = conn.holds_sequences_of_another(affinity.client);
        if (conn.id() == affinity.server && !someone_elses_sequences) {
            pick = std::prev(it.base());
            break;
        }
        if (someone_elses_sequences) continue;
        if (pick == idle_.end() && conn.home() == home) {
            pick = std::prev(it.base());
        }
        if (any_free == idle_.end()) any_free = std::prev(it.base());
    }
    if (pick == idle_.end()) pick = any_free;
    if (pick == idle_.end()) {
        if (may_open && may_open_locked()) return nullptr;
        pick = idle_.begin();
    }
    auto conn = std::move(*pick);
    idle_.erase(pick);
    return conn;
}

bool Pool::usable(ServerConnection& conn, const asio::any_io_executor& executor,
                  Clock::time_point now) {
    // Asking the socket costs a system call, as much as a tenth of what
    // pgmux spends on a short transaction. Two cheaper answers come first.
    // A server given back within the last millisecond is trusted: the checks
    // that matter catch a server that died while idle (pg_terminate_backend,
    // a restart, idle_session_timeout), and those find it idle longer than
    // that. And on the thread that owns its socket, the reactor knows whether
    // anything (a FATAL, a FIN) arrived since the server's last reply was
    // read to the end; if nothing did, there is nothing for recv() to find.
    if (now - conn.last_used_at < kTrustedIdle) return true;
    if (conn.home() == ServerConnection::context_of(executor) && conn.known_quiet()) return true;
    if (conn.looks_alive()) return true;
    LOG_INFO << "server connection S" << conn.id() << " was closed while idle; replacing it";
    return false;
}

std::unique_ptr<ServerConnection> Pool::try_acquire_idle(const asio::any_io_executor& executor,
                                                         Affinity affinity, Clock::time_point now) {
    for (;;) {
        std::unique_ptr<ServerConnection> conn;
        {
            std::lock_guard lock(mu_);
            if (paused_ || !waiters_.empty()) return nullptr;
            conn = take_idle_locked(executor, affinity);
        }
        if (!conn) return nullptr;
        // A dead one is destroyed outside the lock: freeing its slot takes it.
        if (!usable(*conn, executor, now)) continue;
        conn->rebind(executor);
        return conn;
    }
}

void Pool::dispose(std::unique_ptr<ServerConnection> conn) {
    if (!conn) return;
    // Destroy on the connection's own executor: its socket belongs there.
    auto ex = conn->socket().get_executor();
    asio::post(ex, [c = std::move(conn)]() mutable { c.reset(); });
}

Pool::Attempt Pool::take_or_queue(const asio::any_io_executor& executor, Affinity affinity,
                                  Clock::time_point deadline, std::uint64_t owner,
                                  AcquireCallback& done) {
    Attempt a;
    std::lock_guard lock(mu_);
    if (!paused_ && waiters_.empty()) {
        a.conn = take_idle_locked(executor, affinity);
        if (!a.conn && may_open_locked()) {
            ++open_;
            ++connecting_;
            a.connect = true;
        }
    }
    if (!a.conn && !a.connect) {
        // Complete before it is queued: another thread may wake it at once.
        a.waiter = std::make_shared<Waiter>(Waiter{.executor = executor,
                                                   .done = std::move(done),
                                                   .affinity = affinity,
                                                   .deadline = deadline,
                                                   .owner = owner});
        waiters_.push_back(a.waiter);
        a.arm_expiry = expiry_needed_locked(executor, deadline);
    }
    return a;
}

Pool::Attempt Pool::after_wake(const std::shared_ptr<Waiter>& waiter) {
    Attempt a;
    std::lock_guard lock(mu_);
    if (waiter->conn) {
        a.conn = std::move(waiter->conn);
    } else if (waiter->may_connect) {
        a.connect = true;
    } else if (waiter->cancelled) {
        a.cancelled = true;  // already out of the queue
    }
    return a;  // else: retry (resume)
}

asio::awaitable<AcquireResult> Pool::acquire(asio::any_io_executor executor, Affinity affinity,
                                             std::chrono::milliseconds wait_timeout,
                                             std::uint64_t owner) {
    // acquire_async() as an awaitable. The result is posted: acquire_async()
    // may finish at once, and a coroutine is not resumed from inside the
    // operation that suspends it.
    auto initiate = [self = shared_from_this(), executor, affinity, wait_timeout,
                     owner](auto handler) {
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        self->acquire_async(
            executor, affinity, wait_timeout,
            [h, executor](AcquireResult r) {
                asio::post(executor, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
            },
            owner);
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(AcquireResult)>(
        initiate, asio::use_awaitable);
}

std::unique_ptr<ServerConnection> Pool::take_kept_idle(const asio::any_io_executor& executor) {
    // Opening a server failed (the pool counted on room that PostgreSQL did
    // not have: max_connections, a role's CONNECTION LIMIT). Idle servers
    // kept for other clients' currval() were passed over for it; one of
    // them is better than an error.
    Attempt a;
    {
        std::lock_guard lock(mu_);
        if (paused_ || !waiters_.empty()) return nullptr;
        a.conn = take_idle_locked(executor, Affinity{}, /*may_open=*/false);
    }
    return take_usable(a, executor);
}

std::unique_ptr<ServerConnection> Pool::take_usable(Attempt& a,
                                                    const asio::any_io_executor& executor) {
    if (!a.conn) return nullptr;  // woken to retry (resume)
    if (!usable(*a.conn, executor)) {
        a.conn.reset();  // frees the slot, which may wake a waiter
        return nullptr;
    }
    a.conn->rebind(executor);
    return std::move(a.conn);
}

void Pool::acquire_async(asio::any_io_executor executor, Affinity affinity,
                         std::chrono::milliseconds wait_timeout, AcquireCallback done,
                         std::uint64_t owner) {
    acquire_async_at(std::move(executor), affinity, Clock::now() + wait_timeout, std::move(done),
                     owner);
}

void Pool::cancel_wait(std::uint64_t owner) {
    std::shared_ptr<Waiter> waiter;
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(waiters_.begin(), waiters_.end(),
                               [owner](const auto& w) { return w->owner == owner; });
        if (it == waiters_.end()) return;  // served meanwhile, or not waiting
        waiter = *it;
        waiters_.erase(it);
        waiter->cancelled = true;
    }
    signal(waiter);
}

void Pool::acquire_async_at(asio::any_io_executor executor, Affinity affinity,
                            Clock::time_point deadline, AcquireCallback done, std::uint64_t owner) {
    for (;;) {
        auto a = take_or_queue(executor, affinity, deadline, owner, done);
        if (a.waiter) {
            if (a.arm_expiry) request_expiry();
            return;  // signal() or expire_waiters() carries on
        }
        if (deliver(a, executor, affinity, deadline, done)) return;
    }
}

bool Pool::deliver(Attempt& a, const asio::any_io_executor& executor, Affinity affinity,
                   Clock::time_point deadline, AcquireCallback& done) {
    if (a.connect) {
        asio::co_spawn(executor, connect_new(executor),
                       [self = shared_from_this(), executor, affinity, deadline,
                        done = std::move(done)](std::exception_ptr e, AcquireResult r) mutable {
                           if (e) {
                               r = AcquireError{AcquireFailure::kConnectFailed,
                                                {"internal error while connecting", {}}};
                           }
                           if (auto* failed = std::get_if<AcquireError>(&r)) {
                               if (auto kept = self->take_kept_idle(executor)) {
                                   return done(std::move(kept));
                               }
                               if (failed->may_wait_for_release) {
                                   return self->acquire_async_at(executor, affinity, deadline,
                                                                 std::move(done));
                               }
                           }
                           done(std::move(r));
                       });
        return true;
    }
    auto conn = take_usable(a, executor);
    if (!conn) return false;
    done(std::move(conn));
    return true;
}

asio::awaitable<AcquireResult> Pool::connect_new(asio::any_io_executor executor) {
    backend::ServerTarget target;
    std::size_t max_statements = 0;
    const auto id = next_connection_id();
    {
        std::lock_guard lock(mu_);
        target = settings_.target;
        max_statements = settings_.max_prepared_statements;
        ++connect_attempts_;
        connecting_ids_.emplace_back(id, Clock::now());
    }
    auto result = co_await ServerConnection::connect(executor, target, id);
    std::vector<std::shared_ptr<Waiter>> to_signal;
    AcquireResult out;
    {
        std::lock_guard lock(mu_);
        --connecting_;
        std::erase_if(connecting_ids_, [id](const auto& c) { return c.first == id; });
        if (auto* conn = std::get_if<std::unique_ptr<ServerConnection>>(&result)) {
            ++connects_;
            refused_until_ = {};
            out = std::move(*conn);
        } else {
            ++connect_errors_;
            --open_;
            AcquireError failed{AcquireFailure::kConnectFailed,
                                std::get<backend::ConnectError>(result)};
            const auto& refusal = failed.connect_error.server_error;
            if (refusal && refusal->sqlstate == "53300" && open_ > 0) {
                // No slot for another backend (max_connections, a role's or
                // database's CONNECTION LIMIT) while others are open or being
                // opened: like PgBouncer, serve clients with those, and try
                // again in a while.
                refused_until_ = Clock::now() + kRefusalBackoff;
                failed.may_wait_for_release = true;
            } else {
                // Nothing left to wait for: the next waiter tries for itself
                // (and gets PostgreSQL's error) rather than time out.
                if (open_ == 0) refused_until_ = {};
                wake_first_waiter_locked(to_signal);
            }
            out = std::move(failed);
        }
    }
    for (auto& w : to_signal) signal(w);
    if (auto* conn = std::get_if<std::unique_ptr<ServerConnection>>(&out)) {
        (*conn)->slot = make_slot();
        (*conn)->statements.set_capacity(max_statements);
        LOG_DEBUG << "server connection S" << (*conn)->id() << " opened for " << key_.user << "@"
                  << key_.database << " (backend pid " << (*conn)->backend_pid() << ")";
    }
    co_return out;
}

asio::awaitable<std::unique_ptr<ServerConnection>> Pool::acquire_same(
    asio::any_io_executor executor, std::uint64_t server, std::chrono::milliseconds patience,
    std::uint64_t client) {
    auto waiter = std::make_shared<SameServerWaiter>(executor, Clock::now() + patience, client);
    std::unique_ptr<ServerConnection> idle;
    {
        std::lock_guard lock(mu_);
        auto it = std::find_if(idle_.begin(), idle_.end(),
                               [&](const auto& c) { return c->id() == server; });
        if (it == idle_.end()) {
            same_server_waiters_.emplace_back(server, waiter);
        } else if ((*it)->holds_sequences_of_another(client)) {
            // Another client drew from a sequence there since: what this
            // client had there is gone, and that client's is to be kept.
            co_return nullptr;
        } else {
            idle = std::move(*it);
            idle_.erase(it);
        }
    }
    if (idle) {
        // Destroyed outside the lock: freeing its slot takes the lock again.
        if (!usable(*idle, executor)) co_return nullptr;
        idle->rebind(executor);
        co_return idle;
    }
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(mu_);
    std::erase_if(same_server_waiters_, [&](const auto& w) { return w.second == waiter; });
    if (!waiter->conn) co_return nullptr;
    waiter->conn->rebind(executor);
    co_return std::move(waiter->conn);
}

void Pool::release(std::unique_ptr<ServerConnection> conn, Clock::time_point now) {
    conn->last_used_at = now;
    std::shared_ptr<SameServerWaiter> same_waiter;  // the hot path allocates nothing
    std::shared_ptr<Waiter> next_waiter;
    std::unique_ptr<ServerConnection> closing;
    {
        std::lock_guard lock(mu_);
        auto same = std::find_if(same_server_waiters_.begin(), same_server_waiters_.end(),
                                 [&](const auto& w) { return w.first == conn->id(); });
        if (same != same_server_waiters_.end()) {
            same_waiter = same->second;
            same_server_waiters_.erase(same);
            // Unless another client drew from a sequence there meanwhile: the
            // waiter's state there is gone (it looks elsewhere now), and that
            // client's is to be kept.
            if (!conn->holds_sequences_of_another(same_waiter->owner)) {
                same_waiter->conn = std::move(conn);
            }
        }
        if (conn && !paused_ && !waiters_.empty()) {
            next_waiter = waiters_.front();
            waiters_.pop_front();
            next_waiter->conn = std::move(conn);
        } else if (conn && conn->last_used_at < close_released_until_) {
            closing = std::move(conn);  // see close_idle_for()
        } else if (conn) {
            idle_.push_back(std::move(conn));
        }
    }
    if (same_waiter) {
        asio::post(same_waiter->timer.get_executor(), [w = same_waiter] { w->timer.cancel(); });
    }
    if (next_waiter) signal(next_waiter);
    dispose(std::move(closing));
}

void Pool::close_idle_for(std::chrono::milliseconds window) {
    {
        std::lock_guard lock(mu_);
        close_released_until_ = Clock::now() + window;
    }
    close_idle();
}

void Pool::maintain(const asio::any_io_executor& executor) {
    std::vector<std::unique_ptr<ServerConnection>> expired;
    int to_open = 0;
    {
        std::lock_guard lock(mu_);
        const auto now = Clock::now();
        int open_after = open_;
        for (auto it = idle_.begin(); it != idle_.end();) {
            auto& c = *it;
            const bool too_old = now - c->created_at > settings_.lifetime;
            const bool unused =
                now - c->last_used_at > settings_.idle_timeout && open_after > settings_.min_size;
            if (too_old || unused) {
                expired.push_back(std::move(c));
                it = idle_.erase(it);
                --open_after;
            } else {
                ++it;
            }
        }
        to_open = std::max(0, settings_.min_size - open_after);
        to_open = std::min(to_open, settings_.size - open_);
        to_open = may_open_locked() ? std::max(0, to_open) : 0;  // not while refused
        open_ += to_open;
        connecting_ += to_open;
    }
    for (auto& c : expired) dispose(std::move(c));
    for (int i = 0; i < to_open; ++i) {
        asio::co_spawn(
            executor,
            [self = shared_from_this(), executor]() -> asio::awaitable<void> {
                auto r = co_await self->connect_new(executor);
                if (auto* conn = std::get_if<std::unique_ptr<ServerConnection>>(&r)) {
                    self->release(std::move(*conn));
                }
            },
            asio::detached);
    }
}

void Pool::pause() {
    std::lock_guard lock(mu_);
    paused_ = true;
}

void Pool::resume() {
    std::deque<std::shared_ptr<Waiter>> woken;
    {
        std::lock_guard lock(mu_);
        paused_ = false;
        woken.swap(waiters_);
        for (auto& w : woken) w->retry = true;
    }
    for (auto& w : woken) signal(w);
}

void Pool::update_settings(const PoolSettings& settings) {
    std::vector<std::shared_ptr<Waiter>> to_signal;
    {
        std::lock_guard lock(mu_);
        settings_ = settings;
        while (!waiters_.empty() && may_open_locked()) {
            const auto before = to_signal.size();
            wake_first_waiter_locked(to_signal);
            if (to_signal.size() == before) break;
        }
    }
    for (auto& w : to_signal) signal(w);
}

void Pool::close_idle() {
    std::vector<std::unique_ptr<ServerConnection>> idle;
    {
        std::lock_guard lock(mu_);
        idle.swap(idle_);
    }
    for (auto& c : idle) dispose(std::move(c));
}

Pool::EncodedParameters Pool::cached_login(const std::string& settings_key) const {
    std::lock_guard lock(mu_);
    auto it = login_cache_.find(settings_key);
    if (it == login_cache_.end()) return nullptr;
    return it->second;
}

void Pool::remember_login(const std::string& settings_key, EncodedParameters parameters) {
    constexpr std::size_t kMaxEntries = 256;
    std::lock_guard lock(mu_);
    if (login_cache_.size() >= kMaxEntries && !login_cache_.contains(settings_key)) {
        login_cache_.erase(login_cache_.begin());
    }
    login_cache_[settings_key] = std::move(parameters);
}

bool Pool::statement_known(const std::string& server_name) const {
    std::lock_guard lock(mu_);
    return known_statements_.contains(server_name);
}

void Pool::remember_statement(const std::string& server_name) {
    constexpr std::size_t kMaxKnown = 100000;
    std::lock_guard lock(mu_);
    if (known_statements_.size() >= kMaxKnown) known_statements_.clear();
    known_statements_.insert(server_name);
}

void Pool::note_invalidated(const std::string& server_name, std::string error) {
    constexpr std::size_t kMaxRemembered = 256;
    std::lock_guard lock(mu_);
    const std::uint64_t epoch = invalidation_epoch_.load(std::memory_order_relaxed) + 1;
    if (invalidated_.size() >= kMaxRemembered) invalidated_.pop_front();
    invalidated_.push_back({epoch, server_name, std::move(error)});
    invalidation_epoch_.store(epoch, std::memory_order_release);
}

std::optional<std::string> Pool::invalidation_error(const std::string& server_name,
                                                    std::uint64_t epoch) const {
    if (epoch >= invalidation_epoch()) return std::nullopt;
    std::lock_guard lock(mu_);
    for (const auto& entry : invalidated_) {
        if (entry.epoch > epoch && entry.server_name == server_name) return entry.error;
    }
    return std::nullopt;
}

void Pool::apply_invalidations(backend::ServerConnection& server) const {
    std::lock_guard lock(mu_);
    const std::uint64_t epoch = invalidation_epoch_.load(std::memory_order_relaxed);
    if (server.invalidation_epoch >= epoch) return;
    const bool missed =
        invalidated_.empty() || invalidated_.front().epoch > server.invalidation_epoch + 1;
    if (missed) {
        server.statements.mark_all_stale();
    } else {
        for (const auto& entry : invalidated_) {
            if (entry.epoch > server.invalidation_epoch) {
                server.statements.mark_stale(entry.server_name);
            }
        }
    }
    server.invalidation_epoch = epoch;
}

PoolStats Pool::stats() const {
    std::lock_guard lock(mu_);
    return PoolStats{settings_.size,
                     open_,
                     static_cast<int>(idle_.size()),
                     connecting_,
                     static_cast<int>(waiters_.size()),
                     paused_,
                     connect_attempts_,
                     connects_,
                     connect_errors_};
}

std::vector<PooledServer> Pool::servers() const {
    std::lock_guard lock(mu_);
    std::vector<PooledServer> out;
    out.reserve(idle_.size() + connecting_ids_.size());
    // Idle connections belong to the pool alone: nothing else touches them
    // while the mutex is held.
    for (const auto& c : idle_) {
        out.push_back({.id = c->id(),
                       .connecting = false,
                       .endpoint = c->endpoint(),
                       .created_at = c->created_at,
                       .prepared_statements = static_cast<std::uint32_t>(c->statements.size()),
                       .last_client_id = c->last_client_id});
    }
    for (const auto& [id, since] : connecting_ids_) {
        out.push_back({.id = id,
                       .connecting = true,
                       .endpoint = settings_.target.endpoint,
                       .created_at = since,
                       .prepared_statements = 0,
                       .last_client_id = 0});
    }
    return out;
}

PoolSettings Pool::settings() const {
    std::lock_guard lock(mu_);
    return settings_;
}

}  // namespace pgmux::pool
