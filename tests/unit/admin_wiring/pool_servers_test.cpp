// What a pool tells the admin API about its own connections: the idle and
// connecting ones one by one (Pool::servers()) and the connect counters
// (PoolStats), with real sockets but no PostgreSQL: a closed port refuses,
// a listener that never answers keeps the connection "connecting".
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "pool/pool.h"
#include "runtime/admin_snapshots.h"

namespace pgmux::runtime {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::ip::tcp;

std::shared_ptr<pool::Pool> make_pool(std::uint16_t port, std::chrono::milliseconds timeout) {
    pool::PoolSettings settings;
    settings.size = 2;
    settings.target.endpoint = {"127.0.0.1", port};
    settings.target.user = "alice";
    settings.target.database = "app";
    settings.target.connect_timeout = timeout;
    return std::make_shared<pool::Pool>(pool::PoolKey{"app", "alice"}, settings);
}

std::uint16_t closed_port(asio::io_context& io) {
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();  // closed again when `a` goes
}

// Starts one acquire on `io`; `failed` tells how it ended once io has run.
void acquire(asio::io_context& io, const std::shared_ptr<pool::Pool>& pool, bool& failed) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto r = co_await pool->acquire(io.get_executor(), {}, 5s);
            failed = std::holds_alternative<pool::AcquireError>(r);
        },
        asio::detached);
}

TEST(PoolServers, ARefusedConnectCountsAnAttemptAndAnError) {
    asio::io_context io;
    auto pool = make_pool(closed_port(io), 2s);
    bool failed = false;
    acquire(io, pool, failed);
    io.run();
    EXPECT_TRUE(failed);
    const auto stats = pool->stats();
    EXPECT_EQ(stats.connect_attempts, 1u);
    EXPECT_EQ(stats.connect_errors, 1u);
    EXPECT_EQ(stats.connects, 0u);
    EXPECT_TRUE(pool->servers().empty());  // nothing left behind

    session::ProxyContext proxy(std::make_shared<const config::Config>());
    const auto m = metrics_snapshot(proxy, {pool, pool}, {}, Now::take());  // pools add up
    EXPECT_EQ(m.server_connect_attempts_total, 2);
    EXPECT_EQ(m.server_connect_errors_total, 2);
    EXPECT_EQ(m.server_connects_total, 0);
}

TEST(PoolServers, AConnectionStillLoggingInIsListedAsConnecting) {
    asio::io_context io;
    // Accepts TCP (the kernel does, from the backlog) but never answers the startup packet.
    tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    auto pool = make_pool(silent.local_endpoint().port(), 1500ms);
    bool failed = false;
    acquire(io, pool, failed);
    const auto started = std::chrono::steady_clock::now();
    std::vector<pool::PooledServer> seen;
    while (seen.empty() && std::chrono::steady_clock::now() - started < 1s) {
        io.run_for(10ms);
        seen = pool->servers();
    }
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(seen[0].connecting);
    EXPECT_NE(seen[0].id, 0u);
    EXPECT_EQ(seen[0].endpoint.port, silent.local_endpoint().port());
    EXPECT_EQ(pool->stats().connecting, 1);

    const auto servers = server_snapshots({pool}, {}, Now::take());
    ASSERT_EQ(servers.size(), 1u);
    EXPECT_EQ(servers[0].state, admin::ServerState::kConnecting);
    EXPECT_EQ(servers[0].id, seen[0].id);
    EXPECT_EQ(servers[0].database, "app");
    EXPECT_FALSE(servers[0].client);

    io.run();  // the login times out
    EXPECT_TRUE(failed);
    EXPECT_TRUE(pool->servers().empty());
    EXPECT_EQ(pool->stats().connect_errors, 1u);
}

TEST(PoolServers, IdleConnectionsAreListedWithTheirFigures) {
    asio::io_context io;
    auto pool = make_pool(5432, 1s);
    const auto now = Now::take();
    for (std::uint64_t id : {21, 22}) {
        auto conn = std::make_unique<backend::ServerConnection>(tcp::socket(io), id,
                                                                config::Endpoint{"10.0.0.9", 6432});
        conn->created_at = now.steady - std::chrono::seconds(id);
        conn->last_client_id = id * 100;
        if (id == 22) {
            (void)conn->statements.insert("s1");
            (void)conn->statements.insert("s2");
        }
        pool->release(std::move(conn));
    }
    const auto raw = pool->servers();
    ASSERT_EQ(raw.size(), 2u);
    EXPECT_EQ(raw[1].last_client_id, 2200u);

    // Server 22 was also seen linked to a client (it moved while the
    // snapshots were taken): listed once, as the pool has it. Server 30 is
    // a linked one.
    session::SessionInfo moved;
    moved.id = 7;
    moved.phase = session::SessionPhase::kActive;
    moved.pool = pool.get();
    moved.server = session::LinkedServerInfo{.id = 22, .endpoint = {"10.0.0.9", 6432}};
    session::SessionInfo linked = moved;
    linked.id = 8;
    linked.server->id = 30;
    const auto servers = server_snapshots({pool}, {moved, linked}, now);
    ASSERT_EQ(servers.size(), 3u);
    EXPECT_EQ(servers[0].id, 21u);
    EXPECT_EQ(servers[0].state, admin::ServerState::kIdle);
    EXPECT_EQ(servers[0].address, "10.0.0.9:6432");
    EXPECT_EQ(servers[0].database, "app");
    EXPECT_EQ(servers[0].user, "alice");
    EXPECT_FALSE(servers[0].client);
    EXPECT_FALSE(servers[0].pinned_to);
    EXPECT_EQ(servers[0].connected_since, now.wall - 21s);
    EXPECT_EQ(servers[1].id, 22u);
    EXPECT_EQ(servers[1].state, admin::ServerState::kIdle);
    EXPECT_EQ(servers[1].prepared_statements, 2u);
    EXPECT_EQ(servers[2].id, 30u);
    EXPECT_EQ(servers[2].state, admin::ServerState::kActive);
    EXPECT_EQ(servers[2].client, std::optional<admin::ClientId>(8));
}

}  // namespace
}  // namespace pgmux::runtime
