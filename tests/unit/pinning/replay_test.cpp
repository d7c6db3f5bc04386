#include "pgmux/pinning/replay.hpp"

#include <gtest/gtest.h>

#include "test_driver.hpp"

namespace pgmux::pinning {
namespace {

using test::run;

TEST(Replay, EmptyWhenServerAlreadyMatches) {
    SessionState s(StartupParameters{{"application_name", "app"}});
    ServerSettings server;
    ReplayPlan first = plan_replay(s, server);
    EXPECT_EQ(first.sql, "SELECT pg_catalog.set_config('application_name', 'app', false)");
    EXPECT_EQ(first.statements, 1u);
    server.apply(first);
    EXPECT_TRUE(plan_replay(s, server).empty());
}

TEST(Replay, SendsOnlyTheDifference) {
    SessionState a({});
    run(a, "SET search_path = x; SET work_mem = '4MB'; SET statement_timeout = 100");
    ServerSettings server;
    server.apply(plan_replay(a, server));

    SessionState b({});
    run(b, "SET search_path = x; SET work_mem = '8MB'; SET lock_timeout = 5");
    ReplayPlan plan = plan_replay(b, server);
    EXPECT_EQ(plan.sql,
              "SET \"lock_timeout\" TO 5; SET \"work_mem\" TO '8MB'; RESET \"statement_timeout\"");
    EXPECT_EQ(plan.statements, 3u);
    server.apply(plan);
    EXPECT_EQ(server.settings(), b.settings());
}

TEST(Replay, IdentityIsClearedFirstAndSetLast) {
    SessionState a({});
    run(a, "SET SESSION AUTHORIZATION alice; SET ROLE reader; SET search_path = a");
    ServerSettings server;
    ReplayPlan plan = plan_replay(a, server);
    EXPECT_EQ(plan.sql,
              "SET \"search_path\" TO 'a'; SET SESSION AUTHORIZATION 'alice'; SET ROLE 'reader'");
    server.apply(plan);

    // Same identity, another setting differs: identity is unwrapped around it.
    run(a, "SET work_mem = '1MB'");
    EXPECT_EQ(plan_replay(a, server).sql,
              "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; SET \"work_mem\" TO '1MB'; "
              "SET SESSION AUTHORIZATION 'alice'; SET ROLE 'reader'");
}

TEST(Replay, OnlyRoleDiffers) {
    SessionState a({});
    run(a, "SET ROLE writer");
    ServerSettings server;
    EXPECT_EQ(plan_replay(a, server).sql, "SET ROLE 'writer'");
    server.apply(plan_replay(a, server));
    run(a, "RESET ROLE");
    EXPECT_EQ(plan_replay(a, server).sql, "RESET ROLE");
}

TEST(Replay, ResetPlanNeverLeavesARole) {
    SessionState a({});
    run(a, "SET ROLE reader; SET search_path = a");
    ServerSettings server;
    server.adopt(a);
    EXPECT_TRUE(server.has_identity());
    ReplayPlan reset = plan_reset(server);
    EXPECT_EQ(reset.sql, "RESET ROLE; RESET \"search_path\"");
    server.apply(reset);
    EXPECT_FALSE(server.has_identity());
    EXPECT_TRUE(server.settings().empty());
    EXPECT_TRUE(plan_reset(server).empty());
}

TEST(Replay, AdoptMirrorsTheClientAfterItsTransaction) {
    SessionState a({});
    ServerSettings server;
    server.adopt(a);
    run(a, "SET search_path = a");
    EXPECT_FALSE(plan_replay(a, server).empty());
    server.adopt(a);
    EXPECT_TRUE(plan_replay(a, server).empty());
    run(a, "CREATE TEMP TABLE t (x int) ON COMMIT DROP");
    server.adopt(a);
    EXPECT_TRUE(server.temp_namespace_used());
}

TEST(Replay, ServerHoldsTheClientItAdoptedUntilEitherSideChanges) {
    SessionState a(StartupParameters{{"application_name", "app"}});
    SessionState b(StartupParameters{{"application_name", "app"}});
    ServerSettings server;
    EXPECT_FALSE(server.holds(a));
    server.adopt(a);
    EXPECT_TRUE(server.holds(a));
    EXPECT_FALSE(server.holds(b)) << "equal settings, but adopted from another client";
    EXPECT_TRUE(plan_replay(b, server).empty());  // found equal by comparing

    run(a, "SET search_path = a");
    EXPECT_FALSE(server.holds(a));
    EXPECT_EQ(plan_replay(a, server).sql, "SET \"search_path\" TO 'a'");
    server.adopt(a);
    EXPECT_TRUE(server.holds(a));

    // Replaying for another client makes the server that client's.
    server.apply(plan_replay(b, server));
    EXPECT_FALSE(server.holds(a));
    EXPECT_EQ(plan_replay(a, server).sql, "SET \"search_path\" TO 'a'");

    // The server reset a startup setting in the client's transaction: the
    // next replay sets it again, even though the client's settings did not
    // change after the adopt.
    server.adopt(a);
    SessionState::ServerResets resets;
    resets.names.push_back("application_name");
    server.note_server_resets(resets, a.baseline());
    EXPECT_FALSE(server.holds(a));
    EXPECT_EQ(plan_replay(a, server).sql,
              "SELECT pg_catalog.set_config('application_name', 'app', false)");

    // The same for a client that never changed a setting (its version is 0).
    SessionState c(StartupParameters{{"application_name", "app"}});
    server.adopt(c);
    EXPECT_TRUE(server.holds(c));
    server.note_server_resets(resets, c.baseline());
    EXPECT_FALSE(server.holds(c));
    server.adopt(c);
    EXPECT_TRUE(plan_replay(c, server).empty());
}

TEST(Replay, ReplayedValuesRoundTripThroughTheClassifier) {
    // Whatever pgmux sends must mean, to PostgreSQL's grammar, exactly the client's setting.
    SessionState a(StartupParameters{{"application_name", "it's \\ odd"}});
    run(a, "SET search_path TO \"My Schema\", public; SET ROLE \"Odd'Role\"");
    ReplayPlan plan = plan_replay(a, ServerSettings{});
    SessionState replayed({});
    run(replayed, plan.sql);
    EXPECT_EQ(replayed.settings().at("application_name").value, "it's \\ odd");
    EXPECT_EQ(replayed.settings().at("search_path").value, "My Schema, public");
    EXPECT_EQ(replayed.settings().at("role").value, "Odd'Role");
}

}  // namespace
}  // namespace pgmux::pinning
