#include "pgmux/pinning/session_state.hpp"

#include <gtest/gtest.h>

#include "test_driver.hpp"

namespace pgmux::pinning {
namespace {

using test::replay;
using test::run;
using test::value;

SessionState fresh() {
    return SessionState({{"user", "u"}, {"database", "d"}});
}

TEST(SessionSettings, SetOutsideATransactionIsKept) {
    SessionState s = fresh();
    run(s, "SET search_path TO app, public");
    EXPECT_EQ(value(s, "search_path"), "app, public");
    EXPECT_EQ(replay(s, "search_path"), "SET \"search_path\" TO 'app', 'public'");
    EXPECT_FALSE(s.pinned());
}

TEST(SessionSettings, SetThenCommitKeeps) {
    SessionState s = fresh();
    run(s, "BEGIN", 'T');
    run(s, "SET statement_timeout = 1000", 'T');
    EXPECT_EQ(value(s, "statement_timeout"), "1000");  // visible inside the transaction
    run(s, "COMMIT");
    EXPECT_EQ(value(s, "statement_timeout"), "1000");
}

TEST(SessionSettings, SetThenRollbackIsUndone) {
    SessionState s = fresh();
    run(s, "SET work_mem = '8MB'");
    run(s, "BEGIN", 'T');
    run(s, "SET work_mem = '64MB'", 'T');
    run(s, "SET search_path = x", 'T');
    run(s, "ROLLBACK");
    EXPECT_EQ(value(s, "work_mem"), "8MB");
    EXPECT_EQ(value(s, "search_path"), "<default>");
}

TEST(SessionSettings, SetInAFailedTransactionIsUndone) {
    SessionState s = fresh();
    run(s, "BEGIN", 'T');
    run(s, "SET search_path = x", 'T');
    run(s, "SELECT 1/0", 'E', 0);
    run(s, "COMMIT");  // answered ROLLBACK by the server
    EXPECT_EQ(value(s, "search_path"), "<default>");
}

TEST(SessionSettings, CommitThatFailsRollsBack) {
    SessionState s = fresh();
    run(s, "BEGIN; SET search_path = x", 'T');
    run(s, "COMMIT", 'I', 0);  // e.g. a deferred constraint fails at commit
    EXPECT_EQ(value(s, "search_path"), "<default>");
}

TEST(SessionSettings, RollbackToSavepointUndoesOnlyLaterChanges) {
    SessionState s = fresh();
    run(s, "BEGIN; SET a.x = 1; SAVEPOINT s1; SET a.x = 2; SET b.x = 2", 'T');
    EXPECT_EQ(value(s, "a.x"), "2");
    run(s, "ROLLBACK TO SAVEPOINT s1", 'T');
    EXPECT_EQ(value(s, "a.x"), "1");
    EXPECT_EQ(value(s, "b.x"), "<default>");
    run(s, "SET c.x = 3; COMMIT");
    EXPECT_EQ(value(s, "a.x"), "1");
    EXPECT_EQ(value(s, "c.x"), "3");
}

TEST(SessionSettings, RollbackToSavepointRecoversAFailedBlock) {
    SessionState s = fresh();
    run(s, "BEGIN; SET a.x = 1; SAVEPOINT s1; SET a.x = 2", 'T');
    run(s, "SELECT 1/0", 'E', 0);
    run(s, "ROLLBACK TO s1; SET b.x = 5; COMMIT");
    EXPECT_EQ(value(s, "a.x"), "1");
    EXPECT_EQ(value(s, "b.x"), "5");
}

TEST(SessionSettings, NestedSavepointsAndRelease) {
    SessionState s = fresh();
    run(s, "BEGIN; SAVEPOINT s1; SET a.x = 1; SAVEPOINT s2; SET b.x = 2; RELEASE s2", 'T');
    EXPECT_EQ(value(s, "b.x"), "2");
    run(s, "ROLLBACK TO s1", 'T');  // s2's changes were merged into s1: both undone
    EXPECT_EQ(value(s, "a.x"), "<default>");
    EXPECT_EQ(value(s, "b.x"), "<default>");
    run(s, "SAVEPOINT s3; SET c.x = 3; RELEASE SAVEPOINT s3; COMMIT");
    EXPECT_EQ(value(s, "c.x"), "3");
}

TEST(SessionSettings, ReleaseThenRollbackUndoesReleasedChanges) {
    SessionState s = fresh();
    run(s, "BEGIN; SAVEPOINT s; SET a.x = 2; RELEASE s", 'T');
    run(s, "ROLLBACK");
    EXPECT_EQ(value(s, "a.x"), "<default>");
}

TEST(SessionSettings, MultiStatementImplicitTransactionRollsBackOnError) {
    SessionState s = fresh();
    run(s, "SET a.x = 1; SET b.x = 2; SELECT 1/0; SET c.x = 3", 'I', 2);
    EXPECT_EQ(value(s, "a.x"), "<default>");
    EXPECT_EQ(value(s, "b.x"), "<default>");
    EXPECT_EQ(value(s, "c.x"), "<default>");
}

TEST(SessionSettings, CommitInsideAMultiStatementQueryKeepsTheEarlierPart) {
    SessionState s = fresh();
    run(s, "SET a.x = 1; COMMIT; SET b.x = 2; SELECT 1/0", 'I', 3);
    EXPECT_EQ(value(s, "a.x"), "1");
    EXPECT_EQ(value(s, "b.x"), "<default>");
}

TEST(SessionSettings, BeginInsideAMultiStatementQueryAbsorbsTheEarlierPart) {
    SessionState s = fresh();
    run(s, "SET a.x = 1; BEGIN; SET b.x = 2", 'T');
    run(s, "ROLLBACK");
    EXPECT_EQ(value(s, "a.x"), "<default>");
    EXPECT_EQ(value(s, "b.x"), "<default>");
}

TEST(SessionSettings, FailedAutocommitStatementChangesNothing) {
    SessionState s = fresh();
    run(s, "SET search_path = x", 'I', 0);
    EXPECT_EQ(value(s, "search_path"), "<default>");
}

TEST(SessionSettings, CommitAndChainKeepsABlockOpen) {
    SessionState s = fresh();
    run(s, "BEGIN; SET a.x = 1; COMMIT AND CHAIN; SET b.x = 2", 'T');
    EXPECT_TRUE(s.in_transaction_block());
    run(s, "ROLLBACK");
    EXPECT_EQ(value(s, "a.x"), "1");
    EXPECT_EQ(value(s, "b.x"), "<default>");
}

TEST(SessionSettings, ReadyForQueryStatusIsTheTruthForBlocks) {
    SessionState s = fresh();
    // A BEGIN pgmux never classified: ReadyForQuery 'T' opens the block anyway.
    s.on_ready_for_query('T');
    run(s, "SET a.x = 1", 'T');
    run(s, "ROLLBACK");
    EXPECT_EQ(value(s, "a.x"), "<default>");
}

TEST(SessionSettings, SetLocalAndLocalSetConfigAreNotTracked) {
    SessionState s = fresh();
    run(s, "BEGIN; SET LOCAL search_path = x; SELECT set_config('a.b', 'c', true); COMMIT");
    EXPECT_TRUE(s.settings().empty());
}

TEST(SessionSettings, ResetReturnsToTheStartupValue) {
    SessionState s({{"user", "u"}, {"TimeZone", "UTC"}, {"application_name", "app"}});
    EXPECT_EQ(value(s, "timezone"), "UTC");
    run(s, "SET TIME ZONE 'Europe/Paris'; SET statement_timeout = 10");
    EXPECT_EQ(value(s, "timezone"), "Europe/Paris");
    run(s, "RESET timezone");
    EXPECT_EQ(value(s, "timezone"), "UTC");
    EXPECT_EQ(replay(s, "timezone"), "SELECT pg_catalog.set_config('timezone', 'UTC', false)");
    run(s, "SET statement_timeout TO DEFAULT");
    EXPECT_EQ(value(s, "statement_timeout"), "<default>");
}

TEST(SessionSettings, ResetAllRestoresTheBaselineButKeepsRole) {
    SessionState s({{"user", "u"}, {"application_name", "app"}});
    run(s, "SET application_name = 'other'; SET work_mem = '1MB'; SET ROLE reader");
    run(s, "RESET ALL");
    EXPECT_EQ(value(s, "application_name"), "app");
    EXPECT_EQ(value(s, "work_mem"), "<default>");
    EXPECT_EQ(value(s, "role"), "reader");  // GUC_NO_RESET_ALL
}

TEST(SessionSettings, DiscardAllRestoresEverything) {
    SessionState s({{"user", "u"}, {"application_name", "app"}});
    run(s, "SET SESSION AUTHORIZATION alice; SET ROLE reader; SET work_mem = '1MB'");
    run(s, "DISCARD ALL");
    EXPECT_EQ(value(s, "application_name"), "app");
    EXPECT_EQ(s.settings().size(), 1u);
}

TEST(SessionSettings, RolesAndSessionAuthorization) {
    SessionState s = fresh();
    run(s, "SET ROLE reader");
    EXPECT_EQ(replay(s, "role"), "SET ROLE 'reader'");
    run(s, "SET ROLE NONE");
    EXPECT_EQ(value(s, "role"), "<default>");
    run(s, "SET ROLE reader; SET SESSION AUTHORIZATION alice");
    EXPECT_EQ(value(s, "session_authorization"), "alice");
    EXPECT_EQ(value(s, "role"), "<default>");  // SET SESSION AUTHORIZATION resets the role
    run(s, "SET ROLE writer; RESET ROLE");
    EXPECT_EQ(value(s, "role"), "<default>");
    run(s, "RESET SESSION AUTHORIZATION");
    EXPECT_EQ(value(s, "session_authorization"), "<default>");
}

TEST(SessionSettings, StartupRoleIsWhatResetRoleReturnsTo) {
    SessionState s({{"user", "u"}, {"options", "-c role=reader"}});
    EXPECT_EQ(value(s, "role"), "reader");
    run(s, "SET ROLE NONE");
    EXPECT_EQ(value(s, "role"), "none");  // explicit: differs from the startup role
    run(s, "RESET ROLE");
    EXPECT_EQ(value(s, "role"), "reader");
}

TEST(SessionSettings, SessionCharacteristics) {
    SessionState s = fresh();
    run(s, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY");
    EXPECT_EQ(value(s, "default_transaction_isolation"), "serializable");
    EXPECT_EQ(value(s, "default_transaction_read_only"), "on");
}

TEST(SessionSettings, SetConfigWithConstantsAndBindValues) {
    SessionState s = fresh();
    run(s, "SELECT pg_catalog.set_config('search_path', '', false)");
    EXPECT_EQ(value(s, "search_path"), "");
    EXPECT_EQ(replay(s, "search_path"), "SELECT pg_catalog.set_config('search_path', '', false)");

    parser::Classification c = parser::classify_uncached("SELECT set_config($1, $2, false)");
    std::optional<std::string_view> params[] = {"App.Tenant", "42"};
    s.on_statement_succeeded(c.statements[0], params);
    s.on_ready_for_query('I');
    EXPECT_EQ(value(s, "app.tenant"), "42");
    EXPECT_FALSE(s.pinned());

    std::optional<std::string_view> missing[] = {"app.tenant", std::nullopt};
    s.on_statement_succeeded(c.statements[0], missing);
    s.on_ready_for_query('I');
    EXPECT_TRUE(s.pins().contains(PinReason::unknown_state_change));
}

TEST(SessionSettings, ParameterStatusCatchesChangesPgmuxDidNotSee) {
    SessionState s = fresh();
    run(s, "SELECT my_function()");  // not classified as relevant: nothing fed
    s.on_parameter_status("TimeZone", "Asia/Tokyo");
    s.on_ready_for_query('I');
    EXPECT_EQ(replay(s, "timezone"),
              "SELECT pg_catalog.set_config('timezone', 'Asia/Tokyo', false)");
}

TEST(SessionSettings, ParameterStatusForATrackedChangeBecomesTheReplayedValue) {
    SessionState s = fresh();
    parser::Classification c = parser::classify_uncached("SET timezone = 'utc'");
    s.on_statement_succeeded(c.statements[0]);
    s.on_parameter_status("TimeZone", "UTC");
    s.on_parameter_status("is_superuser", "on");
    s.on_parameter_status("session_authorization", "postgres");
    s.on_ready_for_query('I');
    EXPECT_EQ(replay(s, "timezone"), "SELECT pg_catalog.set_config('timezone', 'UTC', false)");
    EXPECT_EQ(value(s, "is_superuser"), "<default>");
    EXPECT_EQ(value(s, "session_authorization"), "<default>");
}

TEST(SessionSettings, PartialDateStyleIsReplayedAsTheServerReportsIt) {
    // SET DateStyle TO ymd keeps the output style set before; replaying the
    // text alone on a server with another style would differ.
    SessionState s = fresh();
    s.on_statement_succeeded(parser::classify_uncached("SET datestyle TO iso").statements[0]);
    s.on_parameter_status("DateStyle", "ISO, MDY");
    s.on_ready_for_query('I');
    s.on_statement_succeeded(parser::classify_uncached("SET datestyle TO ymd").statements[0]);
    s.on_parameter_status("DateStyle", "ISO, YMD");
    s.on_ready_for_query('I');
    EXPECT_EQ(replay(s, "datestyle"),
              "SELECT pg_catalog.set_config('datestyle', 'ISO, YMD', false)");
}

TEST(SessionSettings, ParameterStatusWithTheTrackedValueChangesNothing) {
    SessionState s = fresh();
    s.on_statement_succeeded(parser::classify_uncached("SET TimeZone = 'UTC'").statements[0]);
    s.on_parameter_status("TimeZone", "UTC");
    s.on_ready_for_query('I');
    EXPECT_EQ(replay(s, "timezone"), "SET \"timezone\" TO 'UTC'");
}

TEST(SessionSettings, ParameterStatusInsideARolledBackBlockIsUndone) {
    SessionState s = fresh();
    run(s, "BEGIN", 'T');
    s.on_parameter_status("DateStyle", "German, DMY");
    s.on_ready_for_query('T');
    run(s, "ROLLBACK");
    EXPECT_EQ(value(s, "datestyle"), "<default>");
}

TEST(SessionSettings, VersionChangesWithSettings) {
    SessionState s = fresh();
    const auto v0 = s.settings_version();
    run(s, "SELECT 1");
    EXPECT_EQ(s.settings_version(), v0);
    run(s, "SET a.x = 1");
    EXPECT_GT(s.settings_version(), v0);
    SessionState other = fresh();
    EXPECT_NE(s.id(), other.id());
}

TEST(SessionSettings, ResetCustomSettingKeepsItDefinedAsEmpty) {
    SessionState s = fresh();
    s.on_statement_succeeded(parser::classify_uncached("SET custom.my_guc = 42").statements[0]);
    s.on_ready_for_query('I');
    s.on_statement_succeeded(parser::classify_uncached("RESET custom.my_guc").statements[0]);
    s.on_ready_for_query('I');
    EXPECT_EQ(replay(s, "custom.my_guc"),
              "SELECT pg_catalog.set_config('custom.my_guc', '', false)");
    s.on_statement_succeeded(parser::classify_uncached("RESET ALL").statements[0]);
    s.on_ready_for_query('I');
    EXPECT_EQ(replay(s, "custom.my_guc"),
              "SELECT pg_catalog.set_config('custom.my_guc', '', false)");
}

}  // namespace
}  // namespace pgmux::pinning
