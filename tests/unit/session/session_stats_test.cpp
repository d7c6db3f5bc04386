// Per-worker query latencies, disconnect reasons and the stamps that pair a
// client's requests with their ReadyForQuery (session/session_stats.h).
#include "session/session_stats.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace pgmux::session {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

TimePoint at(std::chrono::microseconds us) {
    return TimePoint{} + us;
}

TEST(LatencyBuckets, ValuesLandInTheFirstBucketWhoseBoundHoldsThem) {
    LatencyBuckets b;
    b.record(0);       // first bucket
    b.record(0.0001);  // exactly on the first bound: still the first bucket
    b.record(0.00011);
    b.record(0.3);   // <= 0.5
    b.record(10);    // the last finite bound
    b.record(10.5);  // +Inf
    EXPECT_EQ(b.buckets[0], 2u);
    EXPECT_EQ(b.buckets[1], 1u);
    EXPECT_EQ(b.buckets[11], 1u);
    EXPECT_EQ(b.buckets[15], 1u);
    EXPECT_EQ(b.buckets.back(), 1u);
    EXPECT_EQ(b.count(), 6u);
    EXPECT_NEAR(b.seconds_total, 20.80021, 1e-9);
}

TEST(SessionStats, ServerLatencyExcludesWhatCameBeforeForwarding) {
    SessionStats s;
    // Received at 0, forwarded after a 300 ms borrow wait, answered at 302 ms.
    s.record(at(0us), at(300000us), at(302000us));
    EXPECT_EQ(s.server.count(), 1u);
    EXPECT_EQ(s.client.count(), 1u);
    EXPECT_NEAR(s.server.seconds_total, 0.002, 1e-9);
    EXPECT_NEAR(s.client.seconds_total, 0.302, 1e-9);
    EXPECT_EQ(s.server.buckets[4], 1u);   // <= 2.5 ms
    EXPECT_EQ(s.client.buckets[11], 1u);  // <= 500 ms
}

TEST(SessionStats, AClockThatWentBackRecordsZero) {
    SessionStats s;
    s.record(at(500us), at(500us), at(100us));
    EXPECT_EQ(s.server.buckets[0], 1u);
    EXPECT_EQ(s.server.seconds_total, 0);
    EXPECT_EQ(s.client.seconds_total, 0);
}

TEST(SessionStats, MergeAddsEverything) {
    SessionStats a, b;
    a.record(at(0us), at(0us), at(1000us));
    b.record(at(0us), at(1000us), at(3000us));
    a.disconnected(CloseReason::kClientEof);
    b.disconnected(CloseReason::kClientEof);
    b.disconnected(CloseReason::kAdminDisconnect);
    a.logins = 2;
    b.logins = 3;
    a.merge(b);
    EXPECT_EQ(a.server.count(), 2u);
    EXPECT_NEAR(a.server.seconds_total, 0.003, 1e-9);
    EXPECT_NEAR(a.client.seconds_total, 0.004, 1e-9);
    EXPECT_EQ(a.disconnects[static_cast<std::size_t>(CloseReason::kClientEof)], 2u);
    EXPECT_EQ(a.disconnects[static_cast<std::size_t>(CloseReason::kAdminDisconnect)], 1u);
    EXPECT_EQ(a.logins, 5u);
}

TEST(CloseReason, NamesAreDistinctSnakeCaseLabels) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
        const std::string name = to_string(static_cast<CloseReason>(i));
        EXPECT_NE(name, "unknown") << i;  // kCloseReasonCount matches the enum
        for (char c : name) EXPECT_TRUE(std::islower(c) || c == '_') << name;
        names.insert(name);
    }
    EXPECT_EQ(names.size(), kCloseReasonCount);
    EXPECT_STREQ(to_string(CloseReason::kClientTerminate), "client_close");
    EXPECT_STREQ(to_string(CloseReason::kClientEof), "client_eof");
    EXPECT_STREQ(to_string(CloseReason::kTooManyClients), "max_client_conn");
    EXPECT_STREQ(to_string(static_cast<CloseReason>(kCloseReasonCount)), "unknown");
}

TEST(RequestTimes, RepliesTakeTheStampsInOrder) {
    RequestTimes t;
    EXPECT_TRUE(t.empty());
    EXPECT_FALSE(t.pop());  // a reply nobody stamped (nothing outstanding)
    t.push({at(1us), at(2us)});
    t.push({at(3us), at(4us)});
    auto first = t.pop();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->received, at(1us));
    EXPECT_EQ(first->forwarded, at(2us));
    t.push({at(5us), at(6us)});
    EXPECT_EQ(t.pop()->received, at(3us));
    EXPECT_EQ(t.pop()->received, at(5us));
    EXPECT_TRUE(t.empty());
}

TEST(RequestTimes, WrapsAroundWithoutLosingOrder) {
    RequestTimes t;
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 5; ++i) t.push({at(std::chrono::microseconds(round * 10 + i)), {}});
        for (int i = 0; i < 5; ++i) {
            auto s = t.pop();
            ASSERT_TRUE(s);
            EXPECT_EQ(s->received, at(std::chrono::microseconds(round * 10 + i)));
        }
    }
    EXPECT_TRUE(t.empty());
}

TEST(RequestTimes, PipelinedRequestsBeyondCapacityGoUnmeasuredButStayPaired) {
    RequestTimes t;
    const auto n = RequestTimes::kCapacity + 3;
    for (std::uint32_t i = 0; i < n; ++i) t.push({at(std::chrono::microseconds(i)), {}});
    // The first kCapacity replies get their own stamps...
    for (std::uint32_t i = 0; i < RequestTimes::kCapacity; ++i) {
        auto s = t.pop();
        ASSERT_TRUE(s) << i;
        EXPECT_EQ(s->received, at(std::chrono::microseconds(i)));
    }
    // ...a request sent now queues behind the unmeasured ones, unmeasured too,
    t.push({at(100us), {}});
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(t.pop()) << i;
    EXPECT_TRUE(t.empty());
    // ...and once they are answered, measuring resumes.
    t.push({at(200us), {}});
    EXPECT_EQ(t.pop()->received, at(200us));
}

TEST(RequestTimes, ClearForgetsEverything) {
    RequestTimes t;
    for (std::uint32_t i = 0; i < RequestTimes::kCapacity + 2; ++i) t.push({});
    t.clear();
    EXPECT_TRUE(t.empty());
    EXPECT_FALSE(t.pop());
    t.push({at(7us), {}});
    EXPECT_EQ(t.pop()->received, at(7us));
}

}  // namespace
}  // namespace pgmux::session
