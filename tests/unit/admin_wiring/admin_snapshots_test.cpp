#include "runtime/admin_snapshots.h"

#include <gtest/gtest.h>

#include <memory>

#include "session/proxy_context.h"

namespace pgmux::runtime {
namespace {

using namespace std::chrono_literals;
using session::SessionInfo;
using session::SessionPhase;

std::shared_ptr<pool::Pool> make_pool(const std::string& database, int size) {
    pool::PoolSettings settings;
    settings.size = size;
    return std::make_shared<pool::Pool>(pool::PoolKey{database, "alice"}, settings);
}

SessionInfo session(std::uint64_t id, SessionPhase phase, const pool::Pool* pool) {
    SessionInfo s;
    s.id = id;
    s.phase = phase;
    s.pool = pool;
    return s;
}

session::LinkedServerInfo server(std::uint64_t id, session::SteadyTime connected_at) {
    return {.id = id,
            .endpoint = {"127.0.0.1", 5432},
            .connected_at = connected_at,
            .prepared_statements = 3,
            .in_transaction = true};
}

TEST(BorrowStats, BucketsAreUpperBoundsAndWaitsNeedTheThreshold) {
    session::BorrowStats stats;
    const auto* pool = reinterpret_cast<const pool::Pool*>(0x10);
    stats.record(pool, 50us);   // <= 0.0001
    stats.record(pool, 100us);  // exactly on the first bound: still the first bucket
    stats.record(pool, 2ms);    // <= 0.0025, and a wait
    stats.record(pool, 20s);    // +Inf
    EXPECT_EQ(stats.buckets[0], 2u);
    EXPECT_EQ(stats.buckets[4], 1u);
    EXPECT_EQ(stats.buckets.back(), 1u);
    EXPECT_NEAR(stats.seconds_total, 20.00215, 1e-9);
    ASSERT_EQ(stats.waits.size(), 1u);
    EXPECT_EQ(stats.waits.at(pool).waits, 2u);
    EXPECT_NEAR(stats.waits.at(pool).seconds, 20.002, 1e-9);
}

TEST(AdminSnapshots, PoolsCountClientsAndServersPerPool) {
    const auto now = Now::take();
    auto app = make_pool("app", 4);
    auto other = make_pool("other", 2);
    WorkerReport w1;
    w1.sessions.push_back(session(1, SessionPhase::kLogin, app.get()));  // not counted
    w1.sessions.push_back(session(2, SessionPhase::kIdle, app.get()));
    auto waiting = session(3, SessionPhase::kWaiting, app.get());
    waiting.waiting_since = now.steady - 1500ms;
    w1.sessions.push_back(waiting);
    w1.borrows.waits[app.get()] = {.waits = 4, .seconds = 2.0};
    WorkerReport w2;
    auto active = session(4, SessionPhase::kActive, app.get());
    active.server = server(10, now.steady);
    w2.sessions.push_back(active);
    auto pinned = session(5, SessionPhase::kActive, app.get());
    pinned.server = server(11, now.steady);
    pinned.pinned = true;
    w2.sessions.push_back(pinned);
    w2.sessions.push_back(session(6, SessionPhase::kIdle, other.get()));
    w2.borrows.waits[app.get()] = {.waits = 1, .seconds = 0.5};
    app->pause();

    const auto pools = pool_snapshots({other, app}, {w1, w2}, now);
    ASSERT_EQ(pools.size(), 2u);
    const auto& p = pools[0];  // sorted by database
    EXPECT_EQ(p.database, "app");
    EXPECT_EQ(p.user, "alice");
    EXPECT_TRUE(p.paused);
    EXPECT_EQ(p.pool_size, 4u);
    EXPECT_EQ(p.clients_idle, 1u);
    EXPECT_EQ(p.clients_waiting, 1u);
    EXPECT_EQ(p.clients_active, 2u);
    EXPECT_EQ(p.servers_active, 1u);
    EXPECT_EQ(p.servers_pinned, 1u);
    EXPECT_EQ(p.servers_idle, 0u);
    EXPECT_NEAR(p.longest_wait_seconds, 1.5, 0.01);
    EXPECT_EQ(p.waits_total, 5u);
    EXPECT_DOUBLE_EQ(p.wait_seconds_total, 2.5);
    EXPECT_EQ(pools[1].database, "other");
    EXPECT_EQ(pools[1].clients_idle, 1u);
    EXPECT_FALSE(pools[1].paused);
}

TEST(AdminSnapshots, ClientsAndServersCarryPinsAndWallTimes) {
    const auto now = Now::take();
    auto app = make_pool("app", 2);
    auto s = session(7, SessionPhase::kActive, app.get());
    s.connected_at = now.steady - 10s;
    s.server = server(12, now.steady - 60s);
    s.pinned = true;
    s.pins.push_back(
        {pinning::PinReason::temp_object, now.steady - 4s, "CREATE TEMP TABLE t (a int)"});
    s.peer = "127.0.0.1:5000";
    s.database = "app";
    s.user = "alice";
    s.application_name = "psql";
    s.tracked_settings = 2;
    s.prepared_statements = 5;

    const auto c = client_snapshot(s, now);
    EXPECT_EQ(c.id, 7u);
    EXPECT_EQ(c.state, admin::ClientState::kActive);
    ASSERT_TRUE(c.server);
    EXPECT_EQ(*c.server, 12u);
    ASSERT_EQ(c.pins.size(), 1u);
    EXPECT_EQ(c.pins[0].reason, "temp_object");
    EXPECT_EQ(c.pins[0].statement, "CREATE TEMP TABLE t (a int)");
    EXPECT_EQ(c.pins[0].since, now.wall - 4s);
    EXPECT_EQ(c.connected_since, now.wall - 10s);
    EXPECT_EQ(c.application_name, "psql");
    EXPECT_EQ(c.tracked_settings, 2u);
    EXPECT_EQ(c.prepared_statements, 5u);

    const auto servers =
        server_snapshots({app}, {session(8, SessionPhase::kIdle, app.get()), s}, now);
    ASSERT_EQ(servers.size(), 1u);  // the pool holds no idle one
    EXPECT_EQ(servers[0].id, 12u);
    EXPECT_EQ(servers[0].state, admin::ServerState::kPinned);
    EXPECT_EQ(servers[0].database, "app");
    EXPECT_EQ(servers[0].address, "127.0.0.1:5432");
    EXPECT_EQ(servers[0].pinned_to, std::optional<admin::ClientId>(7));
    EXPECT_EQ(servers[0].client, std::optional<admin::ClientId>(7));
    EXPECT_EQ(servers[0].prepared_statements, 3u);
    EXPECT_EQ(servers[0].connected_since, now.wall - 60s);
}

TEST(AdminSnapshots, PinningAddsRunningPinsToFinishedOnes) {
    session::ProxyContext proxy(std::make_shared<const config::Config>());
    proxy.counters.replays = 9;
    proxy.counters.statement_cache_hits = 4;
    const auto now = Now::take();
    WorkerReport w1;
    w1.pin_stats.pin_started(pinning::PinReason::listen, "LISTEN a");
    w1.pin_stats.pin_ended(pinning::PinReason::listen, 3.0);
    w1.pin_stats.replay().statements_replayed = 6;
    WorkerReport w2;
    w2.pin_stats.pin_started(pinning::PinReason::listen, "LISTEN a");
    auto s = session(1, SessionPhase::kActive, nullptr);
    s.pins.push_back({pinning::PinReason::listen, now.steady - 2s, {}});
    w2.sessions.push_back(s);

    const auto snap = pinning_snapshot(proxy, {w1, w2}, now, 10);
    ASSERT_EQ(snap.reasons.size(), pinning::kPinReasonCount);
    const auto& listen = snap.reasons[static_cast<std::size_t>(pinning::PinReason::listen)];
    EXPECT_EQ(listen.reason, "listen");
    EXPECT_EQ(listen.pins_started, 2u);
    EXPECT_EQ(listen.pins_ended, 1u);
    EXPECT_NEAR(listen.seconds_pinned, 5.0, 0.01);
    EXPECT_EQ(listen.clients_pinned_now, 1u);
    ASSERT_EQ(snap.top_statements.size(), 1u);
    EXPECT_EQ(snap.top_statements[0].statement, "LISTEN a");
    EXPECT_EQ(snap.top_statements[0].count, 2u);
    EXPECT_EQ(snap.replay.sets_replayed, 6u);
    EXPECT_EQ(snap.replay.replays_sent, 9u);
    EXPECT_EQ(snap.replay.statement_cache_hits, 4u);
}

TEST(AdminSnapshots, MetricsCoverStatesReasonsAndBorrowWaits) {
    session::ProxyContext proxy(std::make_shared<const config::Config>());
    proxy.counters.queries = 11;
    proxy.counters.transactions = 10;
    proxy.counters.clients_accepted = 3;
    auto app = make_pool("app", 2);
    const auto now = Now::take();
    WorkerReport w;
    w.sessions.push_back(session(1, SessionPhase::kIdle, app.get()));
    auto active = session(2, SessionPhase::kActive, app.get());
    active.server = server(5, now.steady);
    w.sessions.push_back(active);
    auto pinned = session(3, SessionPhase::kActive, app.get());
    pinned.server = server(6, now.steady);
    pinned.server->in_transaction = false;
    pinned.pinned = true;
    pinned.pins.push_back({pinning::PinReason::advisory_lock, now.steady - 1s, {}});
    w.sessions.push_back(pinned);
    w.pin_stats.pin_started(pinning::PinReason::advisory_lock, "SELECT pg_advisory_lock($1)");
    w.pin_stats.rejected(pinning::PinReason::temp_object);
    w.borrows.record(app.get(), 200us);
    w.borrows.record(app.get(), 3s);

    const auto m = metrics_snapshot(proxy, {app}, {w, w}, now);  // two workers alike
    EXPECT_EQ(m.client_connections.get({"idle"}), 2);
    EXPECT_EQ(m.client_connections.get({"active"}), 4);
    EXPECT_EQ(m.client_connections.get({"login"}), 0);
    EXPECT_EQ(m.client_connections.series().size(), 4u);
    EXPECT_EQ(m.server_connections.get({"active"}), 2);
    EXPECT_EQ(m.server_connections.get({"pinned"}), 2);
    EXPECT_EQ(m.server_connections.series().size(), 5u);
    EXPECT_EQ(m.server_connections_in_transaction, 2);
    EXPECT_EQ(m.max_server_connections, 2);
    EXPECT_EQ(m.pins_total.get({"advisory_lock"}), 2);
    EXPECT_EQ(m.pinned_clients.get({"advisory_lock"}), 2);
    EXPECT_NEAR(m.pinned_seconds_total.get({"advisory_lock"}), 2.0, 0.01);
    EXPECT_EQ(m.pin_rejections_total.get({"temp_object"}), 2);
    EXPECT_EQ(m.pins_total.series().size(), pinning::kPinReasonCount);
    EXPECT_EQ(m.borrow_wait_seconds.count(), 4u);
    EXPECT_NEAR(m.borrow_wait_seconds.sum(), 6.0004, 1e-9);
    EXPECT_EQ(m.queries_total, 11);
    EXPECT_EQ(m.transactions_total, 10);
    EXPECT_EQ(m.client_connections_received_total, 3);
}

TEST(AdminSnapshots, MetricsCarryQueryLatenciesLoginsAndDisconnectReasons) {
    session::ProxyContext proxy(std::make_shared<const config::Config>());
    proxy.counters.login_failures = 2;
    const auto now = Now::take();
    const auto t0 = now.steady - 10s;
    WorkerReport w;
    w.session_stats.record(t0, t0 + 300ms, t0 + 302ms);  // waited 300 ms for a server
    w.session_stats.record(t0, t0, t0 + 50us);
    w.session_stats.logins = 4;
    w.session_stats.disconnected(session::CloseReason::kClientTerminate);
    w.session_stats.disconnected(session::CloseReason::kClientEof);
    w.session_stats.disconnected(session::CloseReason::kClientEof);

    const auto m = metrics_snapshot(proxy, {}, {w, w}, now);  // two workers alike
    EXPECT_EQ(m.query_duration_seconds.count(), 4u);
    EXPECT_NEAR(m.query_duration_seconds.sum(), 2 * 0.00205, 1e-9);
    EXPECT_EQ(m.client_query_duration_seconds.count(), 4u);
    EXPECT_NEAR(m.client_query_duration_seconds.sum(), 2 * 0.30205, 1e-9);
    // Same bounds as every other latency histogram; the 300 ms wait shows
    // only on the client's side.
    const auto bounds = m.client_query_duration_seconds.upper_bounds();
    ASSERT_EQ(bounds.size(), std::size(admin::kDefaultLatencyBuckets));
    EXPECT_EQ(m.client_query_duration_seconds.bucket_counts()[11], 2u);  // <= 0.5 s
    EXPECT_EQ(m.query_duration_seconds.bucket_counts()[4], 2u);          // <= 2.5 ms
    EXPECT_EQ(m.query_duration_seconds.bucket_counts()[0], 2u);          // <= 0.1 ms

    EXPECT_EQ(m.client_logins_total, 8);
    EXPECT_EQ(m.client_login_failures_total, 2);
    EXPECT_EQ(m.disconnects_total.get({"client_close"}), 2);
    EXPECT_EQ(m.disconnects_total.get({"client_eof"}), 4);
    EXPECT_EQ(m.disconnects_total.get({"login_timeout"}), 0);
    // Every reason is exported (at 0 until it happens), so rate() works from the start.
    EXPECT_EQ(m.disconnects_total.series().size(), session::kCloseReasonCount);
}

}  // namespace
}  // namespace pgmux::runtime
