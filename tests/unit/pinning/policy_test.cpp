#include "pgmux/pinning/policy.hpp"

#include <gtest/gtest.h>

#include "test_driver.hpp"

namespace pgmux::pinning {
namespace {

using test::run;

SessionState fresh() {
    return SessionState(StartupParameters{{"user", "u"}});
}

PinDecision decide(const SessionState& s, OnPin policy, std::string_view sql) {
    return decide_pin(s, policy, parser::classify_uncached(sql));
}

TEST(Policy, NamesRoundTrip) {
    for (OnPin p : {OnPin::allow, OnPin::warn, OnPin::reject}) {
        EXPECT_EQ(on_pin_from_string(to_string(p)), p);
    }
    EXPECT_FALSE(on_pin_from_string("sometimes").has_value());
    for (PinReason r : kAllPinReasons) {
        EXPECT_EQ(pin_reason_from_string(to_string(r)), r);
        EXPECT_FALSE(advice(r).empty());
    }
}

TEST(Policy, PinningStatementsFollowThePoolPolicy) {
    SessionState s = fresh();
    PinDecision allow = decide(s, OnPin::allow, "SELECT 1; CREATE TEMP TABLE t (a int)");
    EXPECT_EQ(allow.action, PinDecision::Action::allow);
    EXPECT_EQ(allow.reason, PinReason::temp_object);
    EXPECT_EQ(allow.statement_index, 1u);
    EXPECT_EQ(decide(s, OnPin::warn, "LISTEN x").action, PinDecision::Action::warn);
    PinDecision reject = decide(s, OnPin::reject, "SELECT pg_advisory_lock(1)");
    EXPECT_EQ(reject.action, PinDecision::Action::reject);
    EXPECT_EQ(reject.reason, PinReason::advisory_lock);
    PinRejection err = rejection_for(*reject.reason);
    EXPECT_EQ(err.sqlstate, "0A000");
    EXPECT_NE(err.message.find("advisory_lock"), std::string::npos);
    EXPECT_FALSE(err.hint.empty());
}

TEST(Policy, NonPinningStatementsAreAlwaysAllowed) {
    SessionState s = fresh();
    for (const char* sql : {"SET search_path = a", "SELECT set_config('a.b', 'c', false)",
                            "CREATE TEMP TABLE t (a int) ON COMMIT DROP",
                            "DECLARE c CURSOR FOR SELECT 1", "SELECT pg_advisory_xact_lock(1)",
                            "PREPARE p AS SELECT 1", "DISCARD ALL", "SELECT * FROM t"}) {
        PinDecision d = decide(s, OnPin::reject, sql);
        EXPECT_EQ(d.action, PinDecision::Action::allow) << sql;
        EXPECT_FALSE(d.reason.has_value()) << sql;
    }
}

TEST(Policy, AReasonAlreadyHeldIsNotANewPin) {
    SessionState s = fresh();
    run(s, "LISTEN a");
    EXPECT_EQ(decide(s, OnPin::reject, "LISTEN b").action, PinDecision::Action::allow);
    EXPECT_EQ(decide(s, OnPin::reject, "LOAD 'x'").action, PinDecision::Action::reject);
}

TEST(Policy, UnparsedAndUnknownPredictions) {
    SessionState s = fresh();
    EXPECT_EQ(decide(s, OnPin::reject, "SET x = ").reason, PinReason::unparsed);
    // Unknown first word: the prefilter cannot rule out a state change, so it would pin.
    EXPECT_EQ(decide(s, OnPin::reject, "SELEC 1 FROM t").reason, PinReason::unparsed);
    EXPECT_FALSE(decide(s, OnPin::reject, "SELECT 1 FROM").reason.has_value());
    EXPECT_EQ(decide(s, OnPin::reject, "SELECT set_config('a', current_user, false)").reason,
              PinReason::unknown_state_change);
}

TEST(Release, UnpinnedIdleClientReleasesItsServer) {
    SessionState s = fresh();
    ServerSettings server;
    run(s, "SET search_path = a");
    server.adopt(s);
    EXPECT_EQ(decide_release(s, server).action, ReleaseDecision::Action::release);
}

TEST(Release, KeepWhilePinnedVerifyingOrInABlock) {
    SessionState s = fresh();
    ServerSettings server;
    run(s, "BEGIN", 'T');
    EXPECT_EQ(decide_release(s, server).action, ReleaseDecision::Action::keep);
    run(s, "COMMIT");
    run(s, "SELECT pg_try_advisory_lock(1)");
    EXPECT_EQ(decide_release(s, server).action, ReleaseDecision::Action::keep);
    s.apply_verification(VerificationResult{0, 0, 0, 0});
    EXPECT_EQ(decide_release(s, server).action, ReleaseDecision::Action::release);
}

TEST(Release, ServerWithATempSchemaIsClosed) {
    SessionState s = fresh();
    ServerSettings server;
    run(s, "BEGIN; CREATE TEMP TABLE t (a int) ON COMMIT DROP; COMMIT");
    server.adopt(s);
    EXPECT_EQ(decide_release(s, server).action, ReleaseDecision::Action::close);
}

TEST(Release, DisconnectedClientLeavesNoStateBehind) {
    SessionState s = fresh();
    ServerSettings server;
    run(s, "SET ROLE reader; SET search_path = a; LISTEN x; SELECT pg_advisory_lock(1)");
    run(s, "DECLARE c CURSOR WITH HOLD FOR SELECT 1");
    run(s, "BEGIN", 'T');
    server.adopt(s);
    ReleaseDecision d = decide_after_disconnect(s, server);
    ASSERT_EQ(d.action, ReleaseDecision::Action::reset_then_release);
    EXPECT_EQ(d.reset.sql,
              "ROLLBACK; CLOSE ALL; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all(); "
              "RESET ROLE; RESET \"search_path\"");
    EXPECT_EQ(d.reset.statements, 6u);
    server.apply(d.reset);
    EXPECT_TRUE(server.settings().empty());
    EXPECT_FALSE(server.has_identity());
}

TEST(Release, DisconnectWithUnresettableStateClosesTheServer) {
    for (const char* sql : {"LOAD 'auto_explain'", "CREATE TEMP TABLE t (a int)",
                            "SELECT set_config('a', current_user, false)"}) {
        SessionState s = fresh();
        ServerSettings server;
        run(s, sql);
        server.adopt(s);
        EXPECT_EQ(decide_after_disconnect(s, server).action, ReleaseDecision::Action::close) << sql;
    }
}

TEST(Release, CleanDisconnectReleasesAsIs) {
    SessionState s = fresh();
    ServerSettings server;
    run(s, "SELECT 1");
    server.adopt(s);
    EXPECT_EQ(decide_after_disconnect(s, server).action, ReleaseDecision::Action::release);
}

}  // namespace
}  // namespace pgmux::pinning
