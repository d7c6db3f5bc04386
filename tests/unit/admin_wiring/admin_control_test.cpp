// AdminControl against real workers without listeners: a running worker
// answers, a worker whose thread is not running ("stuck") makes the request
// fail within the bound, and stop() ends a wait at once.
#include "runtime/admin_control.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <future>
#include <thread>

#include "runtime/worker.h"

namespace pgmux::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const config::Config> test_config() {
    config::Config c;
    config::DatabaseConfig any;
    any.name = "*";
    any.server = {"127.0.0.1", 1};
    c.databases.push_back(any);
    return std::make_shared<const config::Config>(c);
}

// An io_context on its own thread, standing in for the control thread.
struct ControlThread {
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{
        io.get_executor()};
    std::thread thread{[this] { io.run(); }};
    ~ControlThread() {
        guard.reset();
        thread.join();
    }
};

TEST(AdminControl, RunningWorkersAnswer) {
    session::ProxyContext proxy(test_config());
    Worker worker(0, proxy, /*sole=*/true);
    worker.start();  // no listener: the accept loop ends at once, the thread keeps running
    ControlThread control;
    int reloads = 0;
    AdminControl admin(
        proxy, {&worker}, control.io.get_executor(), [&]() -> std::optional<std::string> {
            return ++reloads == 1 ? std::nullopt : std::optional<std::string>("bad key");
        });

    EXPECT_TRUE(admin.readiness().ready);
    EXPECT_TRUE(admin.clients().empty());
    EXPECT_TRUE(admin.servers().empty());
    EXPECT_FALSE(admin.client(42).has_value());
    EXPECT_EQ(admin.disconnect_client(42), admin::ActionResult::kNotFound);
    const auto metrics = admin.metrics();
    EXPECT_EQ(metrics.client_connections.get({"idle"}), 0);
    EXPECT_EQ(metrics.pins_total.series().size(), pinning::kPinReasonCount);

    EXPECT_EQ(admin.pause_pool("app", "alice"), admin::ActionResult::kNotFound);
    auto pool = proxy.pool_for("app", "alice");
    ASSERT_TRUE(pool);
    EXPECT_EQ(admin.pause_pool("app", "alice"), admin::ActionResult::kDone);
    EXPECT_TRUE(pool->stats().paused);
    const auto pools = admin.pools();
    ASSERT_EQ(pools.size(), 1u);
    EXPECT_TRUE(pools[0].paused);
    EXPECT_EQ(admin.resume_pool("app", "alice"), admin::ActionResult::kDone);
    EXPECT_FALSE(pool->stats().paused);

    const auto ok = admin.reload();
    EXPECT_TRUE(ok.ok);
    const auto refused = admin.reload();
    EXPECT_FALSE(refused.ok);
    EXPECT_EQ(refused.message, "bad key");

    proxy.shutting_down = true;
    EXPECT_FALSE(admin.readiness().ready);
    EXPECT_EQ(admin.readiness().reason, "shutting down");
}

TEST(AdminControl, AStuckWorkerFailsTheRequestWithinTheBound) {
    session::ProxyContext proxy(test_config());
    Worker stuck(0, proxy, /*sole=*/true);  // never started: posted jobs are never run
    ControlThread control;
    AdminControl admin(
        proxy, {&stuck}, control.io.get_executor(), [] { return std::optional<std::string>(); },
        AdminControlOptions{.worker_timeout = 300ms});
    const auto start = Clock::now();
    EXPECT_THROW((void)admin.clients(), std::runtime_error);
    const auto took = Clock::now() - start;
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 1500ms);
    EXPECT_THROW((void)admin.metrics(), std::runtime_error);
    EXPECT_THROW((void)admin.disconnect_client(1), std::runtime_error);
}

TEST(AdminControl, StopEndsAWaitAtOnce) {
    session::ProxyContext proxy(test_config());
    Worker stuck(0, proxy, /*sole=*/true);
    ControlThread control;
    AdminControl admin(
        proxy, {&stuck}, control.io.get_executor(), [] { return std::optional<std::string>(); },
        AdminControlOptions{.worker_timeout = 30s});
    auto call = std::async(std::launch::async, [&] {
        const auto start = Clock::now();
        try {
            (void)admin.pools();
        } catch (const std::runtime_error&) {
        }
        return Clock::now() - start;
    });
    std::this_thread::sleep_for(100ms);
    admin.stop();
    EXPECT_LT(call.get(), 2s);
    EXPECT_FALSE(admin.readiness().ready);
}

}  // namespace
}  // namespace pgmux::runtime
