#include "pgmux/pinning/pin_stats.hpp"

#include <gtest/gtest.h>

#include "test_driver.hpp"

namespace pgmux::pinning {
namespace {

using test::run;
using Clock = ClientPins::Clock;

TEST(PinStats, ClientPinsTimeAndCountPins) {
    PinStats stats;
    ClientPins pins;
    SessionState s(StartupParameters{});
    const Clock::time_point t0{};
    run(s, "LISTEN jobs; SELECT pg_advisory_lock(42)");
    auto started = pins.update(s.take_pin_transitions(), t0, stats);
    ASSERT_EQ(started.size(), 2u);
    EXPECT_TRUE(started[0].started);
    EXPECT_EQ(started[0].reason, PinReason::listen);
    EXPECT_EQ(started[0].normalized_statement, "LISTEN jobs");
    EXPECT_EQ(started[1].reason, PinReason::advisory_lock);
    EXPECT_EQ(started[1].normalized_statement, "SELECT pg_advisory_lock($1)");
    EXPECT_EQ(stats.reason(PinReason::listen).pinned_now, 1);
    EXPECT_EQ(stats.clients_pinned_now(), 1);
    EXPECT_EQ(pins.since(PinReason::listen), t0);

    run(s, "UNLISTEN *");
    auto ended = pins.update(s.take_pin_transitions(), t0 + std::chrono::seconds(3), stats);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_FALSE(ended[0].started);
    EXPECT_DOUBLE_EQ(ended[0].seconds, 3.0);
    EXPECT_EQ(stats.reason(PinReason::listen).ended, 1u);
    EXPECT_DOUBLE_EQ(stats.reason(PinReason::listen).seconds_pinned, 3.0);
    EXPECT_EQ(stats.clients_pinned_now(), 1);  // the advisory lock is still held

    auto gone = pins.end_all(t0 + std::chrono::seconds(5), stats);
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0].reason, PinReason::advisory_lock);
    EXPECT_EQ(stats.clients_pinned_now(), 0);
    EXPECT_EQ(stats.reason(PinReason::advisory_lock).pinned_now, 0);
}

TEST(PinStats, TopStatementsAreBoundedAndOrdered) {
    PinStats stats(2);
    stats.pin_started(PinReason::temp_object, "CREATE TEMP TABLE a (x int)");
    stats.pin_started(PinReason::temp_object, "CREATE TEMP TABLE a (x int)");
    stats.pin_started(PinReason::listen, "LISTEN a");
    stats.pin_started(PinReason::load, "LOAD $1");  // evicts LISTEN a (count 1), inherits 1
    auto top = stats.top_statements(10);
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0].normalized, "CREATE TEMP TABLE a (x int)");
    EXPECT_EQ(top[0].count, 2u);
    EXPECT_EQ(top[1].normalized, "LOAD $1");
    EXPECT_EQ(top[1].count, 2u);
    EXPECT_EQ(stats.top_statements(1).size(), 1u);
}

TEST(PinStats, MergeAddsWorkers) {
    PinStats a;
    PinStats b;
    a.pin_started(PinReason::listen, "LISTEN a");
    b.pin_started(PinReason::listen, "LISTEN a");
    b.pin_ended(PinReason::listen, 2.5);
    b.rejected(PinReason::load);
    b.replay().replays = 4;
    a.merge(b);
    EXPECT_EQ(a.reason(PinReason::listen).started, 2u);
    EXPECT_EQ(a.reason(PinReason::listen).pinned_now, 1);
    EXPECT_DOUBLE_EQ(a.reason(PinReason::listen).seconds_pinned, 2.5);
    EXPECT_EQ(a.reason(PinReason::load).rejected, 1u);
    EXPECT_EQ(a.replay().replays, 4u);
    EXPECT_EQ(a.top_statements(5).at(0).count, 2u);
}

TEST(PinSetTest, SetOperations) {
    PinSet s;
    EXPECT_TRUE(s.empty());
    s.insert(PinReason::listen);
    s.insert(PinReason::load);
    EXPECT_EQ(s.size(), 2u);
    PinSet t;
    t.insert(PinReason::load);
    EXPECT_TRUE(s.minus(t).contains(PinReason::listen));
    EXPECT_FALSE(s.minus(t).contains(PinReason::load));
    s.erase(PinReason::listen);
    EXPECT_EQ(s, t);
}

}  // namespace
}  // namespace pgmux::pinning
