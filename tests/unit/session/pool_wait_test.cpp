// Waiting for a pooled connection without a coroutine (Pool::acquire_async),
// with real loopback sockets standing in for server connections: an idle one
// is handed over at once, a full pool queues clients in FIFO order until a
// release, and a wait past its timeout ends with kTimeout.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "pool/pool.h"

namespace pgmux::pool {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using asio::ip::tcp;
using backend::ServerConnection;

// A connected socket whose peer stays open and silent: it looks alive.
struct FakeServer {
    tcp::acceptor acceptor;
    tcp::socket peer;
    explicit FakeServer(asio::io_context& io)
        : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}), peer(io) {}

    std::unique_ptr<ServerConnection> connect(asio::io_context& io, std::uint64_t id) {
        tcp::socket s(io);
        s.connect(acceptor.local_endpoint());
        acceptor.accept(peer);
        return std::make_unique<ServerConnection>(std::move(s), id,
                                                  config::Endpoint{"127.0.0.1", 1});
    }
};

std::shared_ptr<Pool> make_pool(int size) {
    PoolSettings settings;
    settings.size = size;
    return std::make_shared<Pool>(PoolKey{"app", "alice"}, settings);
}

// What a callback received: the connection's id, or the failure.
struct Outcome {
    std::optional<std::uint64_t> server;
    std::optional<AcquireFailure> failure;
    int calls = 0;
};

Pool::AcquireCallback record(Outcome& out) {
    return [&out](AcquireResult r) {
        ++out.calls;
        if (auto* conn = std::get_if<std::unique_ptr<ServerConnection>>(&r)) {
            out.server = (*conn)->id();
        } else {
            out.failure = std::get<AcquireError>(r).kind;
        }
    };
}

TEST(PoolAcquireAsync, AnIdleConnectionIsHandedOverAtOnce) {
    asio::io_context io;
    FakeServer fake(io);
    auto pool = make_pool(1);
    pool->release(fake.connect(io, 7));
    Outcome out;
    pool->acquire_async(io.get_executor(), {}, 1s, record(out));
    EXPECT_EQ(out.calls, 1);  // no need to run the io_context
    EXPECT_EQ(out.server, 7u);
}

TEST(PoolAcquireAsync, AFullPoolQueuesClientsInOrderUntilARelease) {
    asio::io_context io;
    FakeServer fake(io);
    auto pool = make_pool(0);  // no room to open one: everyone waits
    Outcome first, second;
    pool->acquire_async(io.get_executor(), {}, 5s, record(first));
    pool->acquire_async(io.get_executor(), {}, 5s, record(second));
    io.run_for(20ms);
    EXPECT_EQ(first.calls, 0);
    EXPECT_EQ(pool->stats().waiting, 2);

    pool->release(fake.connect(io, 1));
    io.run_for(20ms);
    EXPECT_EQ(first.server, 1u);
    EXPECT_EQ(second.calls, 0);
    EXPECT_EQ(pool->stats().waiting, 1);
}

TEST(PoolAcquireAsync, AWaitPastItsTimeoutFailsWithTimeout) {
    asio::io_context io;
    auto pool = make_pool(0);
    Outcome out;
    pool->acquire_async(io.get_executor(), {}, 30ms, record(out));
    io.run_for(300ms);
    EXPECT_EQ(out.calls, 1);
    EXPECT_EQ(out.failure, AcquireFailure::kTimeout);
    EXPECT_EQ(pool->stats().waiting, 0);  // it left the queue
}

TEST(PoolAcquireAsync, ADeadIdleConnectionIsSkipped) {
    asio::io_context io;
    FakeServer fake(io);
    auto pool = make_pool(0);
    pool->release(fake.connect(io, 1));
    fake.peer.close();  // the server went away while the connection was idle
    // Idle long enough to be asked (one released within the last
    // millisecond is handed out without the system call: see Pool::usable).
    std::this_thread::sleep_for(5ms);
    Outcome out;
    pool->acquire_async(io.get_executor(), {}, 50ms, record(out));
    io.run_for(300ms);
    EXPECT_EQ(out.failure, AcquireFailure::kTimeout);  // never handed the dead one
}

}  // namespace
}  // namespace pgmux::pool
