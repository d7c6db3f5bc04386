// Every pinning row of the contract table: what pins, what unpins, and verification.

#include <gtest/gtest.h>

#include "pgmux/pinning/session_state.hpp"
#include "test_driver.hpp"

namespace pgmux::pinning {
namespace {

using test::run;

SessionState fresh() {
    return SessionState(StartupParameters{{"user", "u"}});
}

VerificationResult verified(std::int64_t temp, std::int64_t cursors, std::int64_t listens,
                            std::int64_t locks) {
    return VerificationResult{temp, cursors, listens, locks};
}

TEST(Pins, OrdinaryAndTrackedStatementsNeverPin) {
    SessionState s = fresh();
    run(s, "SET search_path = a; SELECT set_config('x.y', 'z', false); RESET ALL");
    run(s, "SET ROLE r; SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY; RESET ROLE");
    run(s, "PREPARE p AS SELECT 1; EXECUTE p; DEALLOCATE p; DEALLOCATE ALL; DISCARD PLANS");
    run(s, "BEGIN; DECLARE c CURSOR FOR SELECT 1; SELECT pg_advisory_xact_lock(1); COMMIT");
    run(s, "BEGIN; CREATE TEMP TABLE t (a int) ON COMMIT DROP; COMMIT");
    run(s, "NOTIFY ch; COPY t TO STDOUT; PREPARE TRANSACTION 'x'");
    run(s, "SELECT '" + std::string(20000, 'x') + "'");
    EXPECT_FALSE(s.pinned());
    EXPECT_FALSE(s.needs_verification());
}

TEST(Pins, TempTablePinsUntilDroppedAndVerified) {
    SessionState s = fresh();
    run(s, "CREATE TEMP TABLE t (a int)");
    EXPECT_TRUE(s.pins().contains(PinReason::temp_object));
    EXPECT_TRUE(s.temp_namespace_created());
    EXPECT_FALSE(s.needs_verification());
    run(s, "DROP TABLE t");
    EXPECT_TRUE(s.needs_verification());  // the parser cannot know t was the temp table
    EXPECT_TRUE(s.pinned());              // still pinned until the server says so
    s.apply_verification(verified(0, 0, 0, 0));
    EXPECT_FALSE(s.pinned());
    EXPECT_FALSE(s.needs_verification());
}

TEST(Pins, VerificationKeepsThePinWhenObjectsRemain) {
    SessionState s = fresh();
    run(s, "CREATE TEMP TABLE a (x int); CREATE TEMP TABLE b (x int)");
    run(s, "DROP TABLE a");
    ASSERT_TRUE(s.needs_verification());
    s.apply_verification(verified(2, 0, 0, 0));  // b and its row type
    EXPECT_TRUE(s.pins().contains(PinReason::temp_object));
    EXPECT_FALSE(s.needs_verification());
}

TEST(Pins, DiscardTempAndDiscardAllUnpinWithoutAQuery) {
    SessionState s = fresh();
    run(s, "CREATE TEMP TABLE t (a int)");
    run(s, "DISCARD TEMP");
    EXPECT_FALSE(s.pinned());
    EXPECT_FALSE(s.needs_verification());
    run(s, "CREATE TEMP VIEW v AS SELECT 1; LISTEN ch; SELECT pg_advisory_lock(1)");
    run(s, "DECLARE c CURSOR WITH HOLD FOR SELECT 1");
    EXPECT_EQ(s.pins().size(), 4u);
    run(s, "DISCARD ALL");
    EXPECT_FALSE(s.pinned());
    EXPECT_FALSE(s.needs_verification());
}

TEST(Pins, TempTableCreatedInARolledBackTransactionDoesNotPin) {
    SessionState s = fresh();
    run(s, "BEGIN; CREATE TEMP TABLE t (a int)", 'T');
    EXPECT_TRUE(s.pinned());
    run(s, "ROLLBACK");
    EXPECT_FALSE(s.pinned());
    run(s, "CREATE TEMP TABLE t (a int); SELECT 1/0", 'I', 1);  // implicit transaction fails
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, UnqualifiedCreateWithPgTempFirstInSearchPathPins) {
    SessionState s = fresh();
    run(s, "CREATE TABLE plain (a int)");
    EXPECT_FALSE(s.pinned());
    run(s, "SET search_path = pg_temp, public");
    run(s, "CREATE TABLE maybe_temp (a int)");
    EXPECT_TRUE(s.pins().contains(PinReason::temp_object));
    EXPECT_TRUE(s.needs_verification());  // the server says whether it really is temporary
    s.apply_verification(verified(0, 0, 0, 0));
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, HoldCursorPinsUntilClosed) {
    SessionState s = fresh();
    run(s, "DECLARE c CURSOR WITH HOLD FOR SELECT 1");
    EXPECT_TRUE(s.pins().contains(PinReason::hold_cursor));
    run(s, "BEGIN; DECLARE plain CURSOR FOR SELECT 1; CLOSE plain; COMMIT");
    EXPECT_TRUE(s.pinned());
    run(s, "CLOSE c");
    EXPECT_FALSE(s.pinned());
    run(s, "DECLARE a CURSOR WITH HOLD FOR SELECT 1; DECLARE b CURSOR WITH HOLD FOR SELECT 2");
    run(s, "CLOSE ALL");
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, HoldCursorDeclaredInARolledBackTransactionIsGone) {
    SessionState s = fresh();
    run(s, "BEGIN; DECLARE c CURSOR WITH HOLD FOR SELECT 1", 'T');
    run(s, "ROLLBACK");
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, CloseIsNotUndoneByRollback) {
    SessionState s = fresh();
    run(s, "DECLARE c CURSOR WITH HOLD FOR SELECT 1");
    run(s, "BEGIN; CLOSE c", 'T');
    run(s, "ROLLBACK");
    EXPECT_FALSE(s.pins().contains(PinReason::hold_cursor));
}

TEST(Pins, ListenPinsUntilUnlisten) {
    SessionState s = fresh();
    run(s, "LISTEN a; LISTEN b");
    EXPECT_TRUE(s.pins().contains(PinReason::listen));
    run(s, "UNLISTEN a");
    EXPECT_TRUE(s.pinned());
    run(s, "UNLISTEN *");
    EXPECT_FALSE(s.pinned());
    run(s, "BEGIN; LISTEN c", 'T');
    run(s, "ROLLBACK");
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, SessionAdvisoryLocksAreCounted) {
    SessionState s = fresh();
    run(s, "SELECT pg_advisory_lock(1)");
    run(s, "SELECT pg_advisory_lock_shared(2)");
    EXPECT_EQ(s.advisory_locks(), 2);
    run(s, "SELECT pg_advisory_unlock(1)");
    EXPECT_TRUE(s.pins().contains(PinReason::advisory_lock));
    run(s, "SELECT pg_advisory_unlock_shared(2)");
    EXPECT_TRUE(s.needs_verification());
    s.apply_verification(verified(0, 0, 0, 0));
    EXPECT_FALSE(s.pinned());
    // Session locks survive a rollback of the transaction that took them.
    run(s, "BEGIN; SELECT pg_advisory_lock(3)", 'T');
    run(s, "ROLLBACK");
    EXPECT_TRUE(s.pins().contains(PinReason::advisory_lock));
    run(s, "SELECT pg_advisory_unlock_all()");
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, UnlockOfTheWrongKeyIsCaughtByVerification) {
    SessionState s = fresh();
    run(s, "SELECT pg_advisory_lock(1)");
    run(s, "SELECT pg_advisory_unlock(2)");  // returns false on the server
    ASSERT_TRUE(s.needs_verification());
    s.apply_verification(verified(0, 0, 0, 1));
    EXPECT_TRUE(s.pins().contains(PinReason::advisory_lock));
}

TEST(Pins, AKeyTakenTwiceStaysPinnedUntilReleasedTwice) {
    SessionState s = fresh();
    run(s, "SELECT pg_advisory_lock(1)");
    run(s, "SELECT pg_try_advisory_lock(1)");  // granted: the key is held twice
    ASSERT_TRUE(s.needs_verification());
    s.apply_verification(verified(0, 0, 0, 1));  // pg_locks: one row for the key
    run(s, "SELECT pg_advisory_unlock(1)");
    EXPECT_TRUE(s.pins().contains(PinReason::advisory_lock));
    s.apply_verification(verified(0, 0, 0, 1));  // still held once
    EXPECT_TRUE(s.pins().contains(PinReason::advisory_lock));
    run(s, "SELECT pg_advisory_unlock(1)");
    s.apply_verification(verified(0, 0, 0, 0));
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, TryLockOutcomeIsVerified) {
    SessionState s = fresh();
    run(s, "SELECT pg_try_advisory_lock(7)");
    EXPECT_TRUE(s.pinned());
    EXPECT_TRUE(s.needs_verification());
    s.apply_verification(verified(0, 0, 0, 0));  // it returned false
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, TransactionLevelAdvisoryLocksNeverPin) {
    SessionState s = fresh();
    run(s, "BEGIN; SELECT pg_advisory_xact_lock(1); SELECT pg_try_advisory_xact_lock(2); COMMIT");
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, LoadPinsForTheRestOfTheSession) {
    SessionState s = fresh();
    run(s, "LOAD 'auto_explain'");
    EXPECT_TRUE(s.pins().contains(PinReason::load));
    run(s, "DISCARD ALL");
    EXPECT_TRUE(s.pins().contains(PinReason::load));
}

TEST(Pins, UnknownStateChangePins) {
    SessionState s = fresh();
    run(s, "SELECT set_config('search_path', current_setting('search_path'), false)");
    EXPECT_TRUE(s.pins().contains(PinReason::unknown_state_change));
    run(s, "DISCARD ALL");
    EXPECT_FALSE(s.pinned());
}

TEST(Pins, UnparsedPinsOnlyWhenItSucceededAndMayHaveChangedState) {
    SessionState s = fresh();
    run(s, "SELEC 1", 'I', 0);  // syntax error on the server too
    EXPECT_FALSE(s.pinned());
    run(s, "SET search_path = ");  // pretend a newer server accepted it
    EXPECT_TRUE(s.pins().contains(PinReason::unparsed));
}

TEST(Pins, SessionModeIsAPinOfItsOwn) {
    SessionState s = fresh();
    s.set_session_mode(true);
    EXPECT_TRUE(s.pins().contains(PinReason::session_mode));
}

TEST(Pins, TransitionsReportStartAndEndWithTheCause) {
    SessionState s = fresh();
    run(s, "LISTEN jobs");
    PinTransitions t = s.take_pin_transitions();
    EXPECT_TRUE(t.started.contains(PinReason::listen));
    EXPECT_EQ(t.causes[static_cast<std::size_t>(PinReason::listen)], "LISTEN jobs");
    EXPECT_TRUE(s.take_pin_transitions().empty());
    run(s, "LISTEN other");  // already pinned for listen: not a new pin
    EXPECT_TRUE(s.take_pin_transitions().empty());
    run(s, "UNLISTEN *");
    PinTransitions e = s.take_pin_transitions();
    EXPECT_TRUE(e.ended.contains(PinReason::listen));
}

TEST(Pins, SequenceStateIsFlagged) {
    SessionState s = fresh();
    run(s, "SELECT nextval('s')");
    EXPECT_TRUE(s.sequence_state_used());
    EXPECT_FALSE(s.pinned());
    run(s, "DISCARD SEQUENCES");
    EXPECT_FALSE(s.sequence_state_used());
}

TEST(Verification, ParsesTheResultRow) {
    std::optional<std::string_view> unchecked[] = {"-1", "-1", "-1", "0"};
    auto u = VerificationQuery::parse_row(unchecked);
    ASSERT_TRUE(u.has_value());
    EXPECT_EQ(u->temp_objects, -1);
    EXPECT_EQ(u->advisory_locks, 0);
    std::optional<std::string_view> row[] = {"3", "0", "1", "2"};
    auto r = VerificationQuery::parse_row(row);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->temp_objects, 3);
    EXPECT_EQ(r->listen_channels, 1);
    EXPECT_EQ(r->advisory_locks, 2);
    std::optional<std::string_view> bad[] = {"3", "x", "1", "2"};
    EXPECT_FALSE(VerificationQuery::parse_row(bad).has_value());
    std::optional<std::string_view> short_row[] = {"3"};
    EXPECT_FALSE(VerificationQuery::parse_row(short_row).has_value());
    std::optional<std::string_view> null_row[] = {"3", std::nullopt, "1", "2"};
    EXPECT_FALSE(VerificationQuery::parse_row(null_row).has_value());
}

TEST(Verification, QueryIsOneParseableReadOnlyStatement) {
    parser::Classification c = parser::classify_uncached(VerificationQuery::sql_all());
    ASSERT_TRUE(c.parsed) << c.error;
    ASSERT_EQ(c.statements.size(), 1u);
    EXPECT_EQ(c.statements[0].kind, parser::StatementKind::other);
    EXPECT_FALSE(c.statements[0].is_session_relevant());
}

TEST(Verification, OnlyThePinsInDoubtAreChecked) {
    SessionState s = fresh();
    run(s, "CREATE TEMP TABLE t (a int); SELECT pg_advisory_lock(1)");
    run(s, "DROP TABLE t");
    const std::string sql = s.verification_sql();
    EXPECT_NE(sql.find("pg_depend"), std::string::npos);
    EXPECT_EQ(sql.find("pg_locks"), std::string::npos);  // the lock count is certain
    EXPECT_NE(sql.find("-1 AS advisory_locks"), std::string::npos);
    s.apply_verification(VerificationResult{0, -1, -1, -1});
    EXPECT_FALSE(s.pins().contains(PinReason::temp_object));
    EXPECT_TRUE(s.pins().contains(PinReason::advisory_lock));  // unchecked: prediction stands
    EXPECT_FALSE(s.needs_verification());
}

TEST(Verification, ServerCountsReplacePredictions) {
    SessionState s = fresh();
    run(s, "DECLARE a CURSOR WITH HOLD FOR SELECT 1");
    run(s, "SELECT pg_try_advisory_lock(1)");
    s.apply_verification(verified(0, 3, 1, 1));  // more than pgmux saw (e.g. a function)
    EXPECT_EQ(s.hold_cursors(), 3u);
    EXPECT_TRUE(s.pins().contains(PinReason::listen));
    run(s, "CLOSE a");
    EXPECT_EQ(s.hold_cursors(), 2u);
    run(s, "CLOSE b");  // a name pgmux never saw: only the server knows whether it was held
    EXPECT_TRUE(s.needs_verification());
}

}  // namespace
}  // namespace pgmux::pinning
