#include "runtime/admin_snapshots.h"

#include "backend/server_tls.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>
#include <unordered_set>

namespace pgmux::runtime {

using session::SessionInfo;
using session::SessionPhase;

namespace {

admin::ClientState client_state(SessionPhase phase) {
    switch (phase) {
        case SessionPhase::kLogin:
            return admin::ClientState::kLogin;
        case SessionPhase::kIdle:
            return admin::ClientState::kIdle;
        case SessionPhase::kWaiting:
            return admin::ClientState::kWaiting;
        case SessionPhase::kActive:
            return admin::ClientState::kActive;
    }
    return admin::ClientState::kIdle;
}

admin::PoolMode pool_mode(config::PoolMode mode) {
    return mode == config::PoolMode::kSession ? admin::PoolMode::kSession
                                              : admin::PoolMode::kTransaction;
}

// Sessions name their pool by address; only pools in `pools` are looked at
// (a session that logged in before its pool was listed is skipped).
const pool::Pool* known_pool(const PoolList& pools, const pool::Pool* p) {
    for (const auto& pool : pools) {
        if (pool.get() == p) return p;
    }
    return nullptr;
}

std::string address_of(const config::Endpoint& endpoint) {
    const bool v6 = endpoint.host.find(':') != std::string::npos;
    return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

// Seconds of pins still running, per reason (the finished ones are in PinStats).
std::array<double, pinning::kPinReasonCount> running_pin_seconds(
    const std::vector<WorkerReport>& reports, const Now& now) {
    std::array<double, pinning::kPinReasonCount> out{};
    for (const auto& report : reports) {
        for (const auto& s : report.sessions) {
            for (const auto& pin : s.pins) {
                out[static_cast<std::size_t>(pin.reason)] += now.seconds_since(pin.since);
            }
        }
    }
    return out;
}

std::array<std::uint32_t, pinning::kPinReasonCount> pinned_clients(
    const std::vector<WorkerReport>& reports) {
    std::array<std::uint32_t, pinning::kPinReasonCount> out{};
    for (const auto& report : reports) {
        for (const auto& s : report.sessions) {
            for (const auto& pin : s.pins) ++out[static_cast<std::size_t>(pin.reason)];
        }
    }
    return out;
}

pinning::PinStats merged_pin_stats(const std::vector<WorkerReport>& reports) {
    pinning::PinStats total;
    for (const auto& report : reports) total.merge(report.pin_stats);
    return total;
}

admin::Histogram histogram_of(const session::LatencyBuckets& b) {
    const auto& bounds = session::LatencyBuckets::kUpperBounds;
    return admin::Histogram::from_buckets({bounds.begin(), bounds.end()},
                                          {b.buckets.begin(), b.buckets.end()}, b.seconds_total);
}

}  // namespace

Now Now::take() {
    return {std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

admin::WallTime Now::wall_of(session::SteadyTime t) const {
    return wall - std::chrono::duration_cast<admin::WallTime::duration>(steady - t);
}

double Now::seconds_since(session::SteadyTime t) const {
    return std::max(0.0, std::chrono::duration<double>(steady - t).count());
}

admin::ClientSnapshot client_snapshot(const SessionInfo& info, const Now& now) {
    admin::ClientSnapshot c;
    c.id = info.id;
    c.address = info.peer;
    c.database = info.database;
    c.user = info.user;
    c.application_name = info.application_name;
    c.tls = info.tls;
    c.state = client_state(info.phase);
    if (info.server) c.server = info.server->id;
    for (const auto& pin : info.pins) {
        c.pins.push_back(
            {std::string(pinning::to_string(pin.reason)), now.wall_of(pin.since), pin.cause});
    }
    c.tracked_settings = info.tracked_settings;
    c.prepared_statements = info.prepared_statements;
    c.connected_since = now.wall_of(info.connected_at);
    return c;
}

std::vector<admin::PoolSnapshot> pool_snapshots(const PoolList& pools,
                                                const std::vector<WorkerReport>& reports,
                                                const Now& now) {
    std::vector<admin::PoolSnapshot> out;
    for (const auto& pool : pools) {
        const auto stats = pool->stats();
        admin::PoolSnapshot p;
        p.database = pool->key().database;
        p.user = pool->key().user;
        p.pool_mode = pool_mode(pool->settings().mode);
        p.paused = stats.paused;
        p.pool_size = static_cast<std::uint32_t>(std::max(0, stats.size));
        p.servers_idle = static_cast<std::uint32_t>(std::max(0, stats.idle));
        p.servers_connecting = static_cast<std::uint32_t>(std::max(0, stats.connecting));
        for (const auto& report : reports) {
            for (const auto& s : report.sessions) {
                if (s.pool != pool.get()) continue;
                switch (s.phase) {
                    case SessionPhase::kLogin:
                        break;  // not a pool client yet
                    case SessionPhase::kIdle:
                        ++p.clients_idle;
                        break;
                    case SessionPhase::kWaiting:
                        ++p.clients_waiting;
                        p.longest_wait_seconds =
                            std::max(p.longest_wait_seconds, now.seconds_since(*s.waiting_since));
                        break;
                    case SessionPhase::kActive:
                        ++p.clients_active;
                        break;
                }
                if (s.server) ++(s.pinned ? p.servers_pinned : p.servers_active);
            }
            if (auto it = report.borrows.waits.find(pool.get()); it != report.borrows.waits.end()) {
                p.waits_total += it->second.waits;
                p.wait_seconds_total += it->second.seconds;
            }
        }
        out.push_back(std::move(p));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.database, a.user) < std::tie(b.database, b.user);
    });
    return out;
}

std::vector<admin::ServerSnapshot> server_snapshots(const PoolList& pools,
                                                    const std::vector<SessionInfo>& sessions,
                                                    const Now& now) {
    std::vector<admin::ServerSnapshot> out;
    std::unordered_set<std::uint64_t> pooled;
    for (const auto& pool : pools) {
        for (const auto& c : pool->servers()) {
            admin::ServerSnapshot v;
            v.id = c.id;
            v.database = pool->key().database;
            v.user = pool->key().user;
            v.state = c.connecting ? admin::ServerState::kConnecting : admin::ServerState::kIdle;
            v.address = address_of(c.endpoint);
            v.prepared_statements = c.prepared_statements;
            v.connected_since = now.wall_of(c.created_at);
            pooled.insert(c.id);
            out.push_back(std::move(v));
        }
    }
    for (const auto& s : sessions) {
        if (!s.server || pooled.contains(s.server->id)) continue;
        admin::ServerSnapshot v;
        v.id = s.server->id;
        if (const auto* pool = known_pool(pools, s.pool)) {
            v.database = pool->key().database;
            v.user = pool->key().user;
        }
        v.state = s.pinned ? admin::ServerState::kPinned : admin::ServerState::kActive;
        v.address = address_of(s.server->endpoint);
        v.client = s.id;
        if (s.pinned) v.pinned_to = s.id;
        v.prepared_statements = s.server->prepared_statements;
        v.connected_since = now.wall_of(s.server->connected_at);
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

admin::PinningSnapshot pinning_snapshot(const session::ProxyContext& proxy,
                                        const std::vector<WorkerReport>& reports, const Now& now,
                                        std::size_t top_statements) {
    const auto total = merged_pin_stats(reports);
    const auto running = running_pin_seconds(reports, now);
    const auto pinned_now = pinned_clients(reports);
    admin::PinningSnapshot out;
    for (auto reason : pinning::kAllPinReasons) {
        const auto i = static_cast<std::size_t>(reason);
        const auto& r = total.reason(reason);
        out.reasons.push_back({std::string(pinning::to_string(reason)), r.started, r.ended,
                               r.seconds_pinned + running[i], pinned_now[i]});
    }
    for (const auto& st : total.top_statements(top_statements)) {
        out.top_statements.push_back(
            {st.normalized, std::string(pinning::to_string(st.reason)), st.count});
    }
    const auto& c = proxy.counters;
    out.replay.sets_replayed = total.replay().statements_replayed;
    out.replay.replays_sent = c.replays.load();
    out.replay.statements_reprepared = c.reprepares.load();
    out.replay.parses_saved = c.parses_saved.load();
    out.replay.statement_cache_hits = c.statement_cache_hits.load();
    out.replay.statement_cache_misses = c.statement_cache_misses.load();
    out.replay.statement_cache_evictions = c.statement_cache_evictions.load();
    return out;
}

admin::MetricsSnapshot metrics_snapshot(const session::ProxyContext& proxy, const PoolList& pools,
                                        const std::vector<WorkerReport>& reports, const Now& now) {
    admin::MetricsSnapshot m;
    const auto& c = proxy.counters;
    auto counter = [](const std::atomic<std::uint64_t>& v) {
        return static_cast<double>(v.load());
    };

    // Clients and their servers, from the sessions.
    std::map<admin::ClientState, double> clients;
    for (auto state : admin::kAllClientStates) clients[state] = 0;
    double active = 0, pinned = 0, in_transaction = 0, clients_tls = 0;
    for (const auto& report : reports) {
        for (const auto& s : report.sessions) {
            clients[client_state(s.phase)] += 1;
            if (s.tls) clients_tls += 1;
            if (!s.server) continue;
            (s.pinned ? pinned : active) += 1;
            if (s.server->in_transaction) in_transaction += 1;
        }
    }
    for (const auto& [state, n] : clients)
        m.client_connections.set({std::string(to_string(state))}, n);
    m.client_connections_tls = clients_tls;
    session::SessionStats sessions;
    for (const auto& report : reports) sessions.merge(report.session_stats);
    m.client_connections_received_total = counter(c.clients_accepted);
    m.client_logins_total = static_cast<double>(sessions.logins);
    m.client_login_failures_total = counter(c.login_failures);
    for (std::size_t i = 0; i < session::kCloseReasonCount; ++i) {
        const auto reason = static_cast<session::CloseReason>(i);
        m.disconnects_total.set({session::to_string(reason)},
                                static_cast<double>(sessions.disconnects[i]));
    }

    double idle = 0, connecting = 0, cap = 0;
    std::uint64_t attempts = 0, connects = 0, connect_errors = 0;
    for (const auto& pool : pools) {
        const auto stats = pool->stats();
        idle += stats.idle;
        connecting += stats.connecting;
        cap += stats.size;
        attempts += stats.connect_attempts;
        connects += stats.connects;
        connect_errors += stats.connect_errors;
    }
    using admin::ServerState;
    m.server_connections.set({std::string(to_string(ServerState::kConnecting))}, connecting);
    m.server_connections.set({std::string(to_string(ServerState::kIdle))}, idle);
    m.server_connections.set({std::string(to_string(ServerState::kActive))}, active);
    m.server_connections.set({std::string(to_string(ServerState::kPinned))}, pinned);
    m.server_connections.set({std::string(to_string(ServerState::kResetting))}, 0);
    m.server_connections_in_transaction = in_transaction;
    m.max_server_connections = cap;  // the sum of the pools' sizes: no global cap exists
    m.server_connect_attempts_total = static_cast<double>(attempts);
    m.server_connects_total = static_cast<double>(connects);
    m.server_connect_errors_total = static_cast<double>(connect_errors);
    m.server_connections_tls = static_cast<double>(backend::ServerTlsStats::open.load());
    m.server_connect_tls_attempts_total =
        static_cast<double>(backend::ServerTlsStats::attempts.load());

    // Pins.
    const auto total = merged_pin_stats(reports);
    const auto running = running_pin_seconds(reports, now);
    const auto pinned_now = pinned_clients(reports);
    for (auto reason : pinning::kAllPinReasons) {
        const auto i = static_cast<std::size_t>(reason);
        const std::vector<std::string> label{std::string(pinning::to_string(reason))};
        const auto& r = total.reason(reason);
        m.pins_total.set(label, static_cast<double>(r.started));
        m.unpins_total.set(label, static_cast<double>(r.ended));
        m.pinned_clients.set(label, pinned_now[i]);
        m.pinned_seconds_total.set(label, r.seconds_pinned + running[i]);
        m.pin_rejections_total.set(label, static_cast<double>(r.rejected));
    }
    m.unparsed_statements_total = counter(c.unparsed_statements);

    // Borrow waits: the workers' bucket counts added up.
    std::vector<std::uint64_t> buckets(session::BorrowStats::kUpperBounds.size() + 1, 0);
    double borrow_seconds = 0;
    for (const auto& report : reports) {
        for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += report.borrows.buckets[i];
        borrow_seconds += report.borrows.seconds_total;
    }
    m.borrow_wait_seconds = admin::Histogram::from_buckets(
        {session::BorrowStats::kUpperBounds.begin(), session::BorrowStats::kUpperBounds.end()},
        std::move(buckets), borrow_seconds);

    m.transactions_total = counter(c.transactions);
    m.queries_total = counter(c.queries);
    m.query_duration_seconds = histogram_of(sessions.server);
    m.client_query_duration_seconds = histogram_of(sessions.client);
    m.replays_total = counter(c.replays);
    m.set_replayed_total = static_cast<double>(total.replay().statements_replayed);
    m.sequence_state_risk_total = static_cast<double>(total.replay().sequence_state_risk);
    m.reprepares_total = counter(c.reprepares);
    m.parses_saved_total = counter(c.parses_saved);
    m.client_parses_total = counter(c.client_parses);
    m.server_parses_total = counter(c.server_parses);
    m.plan_invalidations_total = counter(c.plan_invalidations);
    m.plan_invalidation_retries_total = counter(c.plan_invalidation_retries);
    m.prepared_statement_cache_hits_total = counter(c.statement_cache_hits);
    m.prepared_statement_cache_misses_total = counter(c.statement_cache_misses);
    m.prepared_statement_cache_evictions_total = counter(c.statement_cache_evictions);
    return m;
}

}  // namespace pgmux::runtime
