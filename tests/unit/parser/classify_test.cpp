#include <gtest/gtest.h>

#include "pgmux/parser/classifier.hpp"
#include "pgmux/parser/prefilter.hpp"

namespace pgmux::parser {
namespace {

Statement one(std::string_view sql) {
    Classification c = classify_uncached(sql);
    EXPECT_TRUE(c.parsed) << sql << ": " << c.error;
    EXPECT_EQ(c.statements.size(), 1u) << sql;
    return c.statements.empty() ? Statement{} : c.statements.front();
}

TEST(Classify, SetProducesCanonicalReplay) {
    Statement st = one("SET search_path TO a, \"B\"");
    EXPECT_EQ(st.kind, StatementKind::set);
    ASSERT_EQ(st.settings.size(), 1u);
    EXPECT_EQ(st.settings[0].name, "search_path");
    EXPECT_EQ(st.settings[0].value, "a, B");
    EXPECT_EQ(st.settings[0].replay_sql, "SET \"search_path\" TO 'a', 'B'");
    EXPECT_EQ(st.text, "SET search_path TO a, \"B\"");
}

TEST(Classify, SetSpellingsCanonicalise) {
    EXPECT_EQ(one("set time zone 'UTC'").settings.at(0).name, "timezone");
    EXPECT_EQ(one("SET NAMES 'UTF8'").settings.at(0).name, "client_encoding");
    EXPECT_EQ(one("SET SCHEMA 'app'").settings.at(0).name, "search_path");
    EXPECT_EQ(one("SET XML OPTION DOCUMENT").settings.at(0).name, "xmloption");
    EXPECT_EQ(one("SET \"TimeZone\" = 'UTC'").settings.at(0).name, "timezone");
    EXPECT_EQ(one("SET SESSION statement_timeout = 5000").kind, StatementKind::set);
}

TEST(Classify, NegativeAndZeroNumbersSurviveTheJsonTree) {
    EXPECT_EQ(one("SET extra_float_digits = -3").settings.at(0).replay_sql,
              "SET \"extra_float_digits\" TO -3");
    EXPECT_EQ(one("SET extra_float_digits = 0").settings.at(0).value, "0");
    EXPECT_EQ(one("SET x.y = - 1.5").settings.at(0).value, "-1.5");
    EXPECT_EQ(one("SET statement_timeout = 5000").settings.at(0).replay_sql,
              "SET \"statement_timeout\" TO 5000");
}

TEST(Classify, QuotingInReplayIsSafe) {
    EXPECT_EQ(one("SET application_name = 'it''s'").settings.at(0).replay_sql,
              "SET \"application_name\" TO 'it''s'");
    EXPECT_EQ(one("SET application_name = E'back\\\\slash'").settings.at(0).replay_sql,
              "SET \"application_name\" TO E'back\\\\slash'");
    EXPECT_EQ(one("SET myapp.\"user\" = $$x$$").settings.at(0).replay_sql,
              "SET \"myapp\".\"user\" TO 'x'");
}

TEST(Classify, UnusualSetValueFallsBackToTheStatementText) {
    Statement st = one("/* c */ SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE -- tail");
    EXPECT_EQ(st.kind, StatementKind::set);
    EXPECT_EQ(st.settings.at(0).name, "timezone");
    EXPECT_EQ(st.settings.at(0).replay_sql, "SET TIME ZONE INTERVAL '-08:00' HOUR TO MINUTE");
}

TEST(Classify, TransactionScopedSetsNeedNoTracking) {
    EXPECT_EQ(one("SET LOCAL search_path = a").kind, StatementKind::set_local);
    EXPECT_EQ(one("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").kind, StatementKind::set_local);
    EXPECT_EQ(one("SET transaction_read_only = on").kind, StatementKind::set_local);
    EXPECT_EQ(one("SET LOCAL x TO DEFAULT").kind, StatementKind::set_local);
    EXPECT_EQ(one("SELECT set_config('a.b', 'c', true)").kind, StatementKind::set_config_local);
}

TEST(Classify, ResetForms) {
    Statement r = one("RESET statement_timeout");
    EXPECT_EQ(r.kind, StatementKind::reset);
    EXPECT_EQ(r.settings.at(0).op, SettingChange::Op::reset);
    EXPECT_EQ(r.settings.at(0).name, "statement_timeout");
    EXPECT_EQ(one("SET statement_timeout TO DEFAULT").kind, StatementKind::reset);
    EXPECT_EQ(one("RESET TIME ZONE").settings.at(0).name, "timezone");
    EXPECT_EQ(one("reset all").kind, StatementKind::reset_all);
}

TEST(Classify, RoleAndSessionAuthorization) {
    Statement role = one("SET ROLE \"Admin\"");
    EXPECT_EQ(role.kind, StatementKind::set_role);
    EXPECT_EQ(role.settings.at(0).value, "Admin");
    EXPECT_EQ(role.settings.at(0).replay_sql, "SET ROLE 'Admin'");
    EXPECT_EQ(one("SET ROLE NONE").settings.at(0).value, "none");
    EXPECT_EQ(one("RESET ROLE").kind, StatementKind::reset_role);
    Statement auth = one("SET SESSION AUTHORIZATION bob");
    EXPECT_EQ(auth.kind, StatementKind::set_session_authorization);
    EXPECT_EQ(auth.settings.at(0).replay_sql, "SET SESSION AUTHORIZATION 'bob'");
    EXPECT_EQ(one("SET SESSION AUTHORIZATION DEFAULT").kind,
              StatementKind::reset_session_authorization);
    EXPECT_EQ(one("RESET SESSION AUTHORIZATION").kind, StatementKind::reset_session_authorization);
}

TEST(Classify, SessionCharacteristicsMapToDefaults) {
    Statement st = one(
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY, "
        "NOT DEFERRABLE");
    EXPECT_EQ(st.kind, StatementKind::set_session_characteristics);
    ASSERT_EQ(st.settings.size(), 3u);
    EXPECT_EQ(st.settings[0].name, "default_transaction_isolation");
    EXPECT_EQ(st.settings[0].value, "repeatable read");
    EXPECT_EQ(st.settings[0].replay_sql,
              "SET \"default_transaction_isolation\" TO 'repeatable read'");
    EXPECT_EQ(st.settings[1].name, "default_transaction_read_only");
    EXPECT_EQ(st.settings[1].value, "on");
    EXPECT_EQ(st.settings[2].name, "default_transaction_deferrable");
    EXPECT_EQ(st.settings[2].value, "off");
}

TEST(Classify, SetConfigWithConstants) {
    Statement st = one("SELECT pg_catalog.set_config('search_path', '', false)");
    EXPECT_EQ(st.kind, StatementKind::set_config);
    ASSERT_EQ(st.settings.size(), 1u);
    EXPECT_EQ(st.settings[0].name, "search_path");
    EXPECT_EQ(st.settings[0].value, "");
    EXPECT_EQ(st.settings[0].replay_sql, "SELECT pg_catalog.set_config('search_path', '', false)");
    Statement two =
        one("select set_config('A.b', 'x''y'::text, 'false'), set_config('c.d', 'z', false)");
    ASSERT_EQ(two.settings.size(), 2u);
    EXPECT_EQ(two.settings[0].name, "a.b");
    EXPECT_EQ(two.settings[0].replay_sql, "SELECT pg_catalog.set_config('a.b', 'x''y', false)");
}

TEST(Classify, SetConfigWithBindParameters) {
    Statement st = one("SELECT set_config($1, $2, false)");
    EXPECT_EQ(st.kind, StatementKind::set_config);
    ASSERT_EQ(st.settings.size(), 1u);
    EXPECT_EQ(st.settings[0].name_param, 1);
    EXPECT_EQ(st.settings[0].value_param, 2);
    EXPECT_TRUE(st.settings[0].replay_sql.empty());
}

TEST(Classify, SetConfigThatCannotBeKnownIsAnUnknownStateChange) {
    for (const char* sql : {
             "SELECT set_config('a.b', current_setting('c.d'), false)",
             "SELECT set_config('a.b', 'x', false) FROM t",
             "SELECT CASE WHEN x THEN set_config('a.b', 'x', false) END",
             "SELECT set_config('a.b', 'x', $1)",
             "SELECT setseed(0.5)",
             "SET SEED TO 0.5",
             "SET search_path FROM CURRENT",
         }) {
        Statement st = one(sql);
        EXPECT_EQ(st.kind, StatementKind::unknown_state_change) << sql;
        EXPECT_TRUE(st.unknown_state_change) << sql;
        EXPECT_FALSE(st.unknown_reason.empty()) << sql;
    }
}

TEST(Classify, UserFunctionNamedSetConfigInOtherSchemaIsNotTheBuiltin) {
    EXPECT_EQ(one("SELECT myschema.set_config('a', 'b', false)").kind, StatementKind::other);
}

TEST(Classify, Discard) {
    EXPECT_EQ(one("DISCARD ALL").kind, StatementKind::discard_all);
    EXPECT_EQ(one("discard plans").kind, StatementKind::discard_plans);
    EXPECT_EQ(one("DISCARD TEMP").kind, StatementKind::discard_temp);
    EXPECT_EQ(one("DISCARD TEMPORARY").kind, StatementKind::discard_temp);
    EXPECT_EQ(one("DISCARD SEQUENCES").kind, StatementKind::discard_sequences);
}

TEST(Classify, TransactionControl) {
    EXPECT_EQ(one("BEGIN").kind, StatementKind::begin);
    EXPECT_EQ(one("START TRANSACTION ISOLATION LEVEL SERIALIZABLE").kind, StatementKind::begin);
    EXPECT_EQ(one("COMMIT").kind, StatementKind::commit);
    EXPECT_EQ(one("END").kind, StatementKind::commit);
    EXPECT_TRUE(one("COMMIT AND CHAIN").chain);
    EXPECT_EQ(one("ROLLBACK").kind, StatementKind::rollback);
    EXPECT_EQ(one("ABORT").kind, StatementKind::rollback);
    Statement sp = one("SAVEPOINT \"My Point\"");
    EXPECT_EQ(sp.kind, StatementKind::savepoint);
    EXPECT_EQ(sp.name, "My Point");
    EXPECT_EQ(one("RELEASE SAVEPOINT s1").kind, StatementKind::release_savepoint);
    EXPECT_EQ(one("RELEASE s1").name, "s1");
    EXPECT_EQ(one("ROLLBACK TO SAVEPOINT S1").name, "s1");
    EXPECT_EQ(one("ROLLBACK TO s1").kind, StatementKind::rollback_to_savepoint);
    Statement pt = one("PREPARE TRANSACTION 'gid-1'");
    EXPECT_EQ(pt.kind, StatementKind::prepare_transaction);
    EXPECT_EQ(pt.name, "gid-1");
    EXPECT_EQ(one("COMMIT PREPARED 'g'").kind, StatementKind::commit_prepared);
    EXPECT_EQ(one("ROLLBACK PREPARED 'g'").kind, StatementKind::rollback_prepared);
}

TEST(Classify, SqlPrepareRecordsNameTypesAndBody) {
    std::string sql = "PREPARE \"Q1\" (int, text) AS SELECT $1, $2";
    Statement st = one(sql);
    EXPECT_EQ(st.kind, StatementKind::prepare);
    EXPECT_EQ(st.prepared_name, "Q1");
    ASSERT_GE(st.name_location, 0);
    EXPECT_EQ(sql.substr(st.name_location, st.name_length), "\"Q1\"");
    EXPECT_EQ(sql.substr(st.types_location, st.types_length), "(int, text)");
    EXPECT_EQ(sql.substr(st.body_location, st.body_length), "SELECT $1, $2");
    ASSERT_NE(st.prepared_body, nullptr);
    EXPECT_EQ(st.prepared_body->kind, StatementKind::other);
}

TEST(Classify, PreparedBodyEffectsBelongToExecute) {
    Statement st = one("PREPARE p AS SELECT set_config('search_path', 'x', false)");
    EXPECT_EQ(st.kind, StatementKind::prepare);
    EXPECT_TRUE(st.settings.empty());
    ASSERT_NE(st.prepared_body, nullptr);
    EXPECT_EQ(st.prepared_body->kind, StatementKind::set_config);
    EXPECT_EQ(st.prepared_body->settings.at(0).name, "search_path");
}

TEST(Classify, ExecuteAndDeallocateNameLocations) {
    std::string sql = "SELECT 1; execute  foo (1, 2); DEALLOCATE PREPARE foo; DEALLOCATE prepare";
    Classification c = classify_uncached(sql);
    ASSERT_TRUE(c.parsed);
    ASSERT_EQ(c.statements.size(), 4u);
    const Statement& ex = c.statements[1];
    EXPECT_EQ(ex.kind, StatementKind::execute);
    EXPECT_EQ(sql.substr(ex.name_location, ex.name_length), "foo");
    const Statement& de = c.statements[2];
    EXPECT_EQ(de.kind, StatementKind::deallocate);
    EXPECT_EQ(static_cast<std::size_t>(de.name_location), sql.find("foo;"));
    const Statement& de2 = c.statements[3];
    EXPECT_EQ(de2.prepared_name, "prepare");
    EXPECT_EQ(static_cast<std::size_t>(de2.name_location), sql.rfind("prepare"));
    EXPECT_EQ(one("DEALLOCATE ALL").kind, StatementKind::deallocate_all);
    EXPECT_EQ(one("DEALLOCATE PREPARE ALL").kind, StatementKind::deallocate_all);
}

TEST(Classify, WrappedExecuteNamesThePreparedStatement) {
    std::string explain = "EXPLAIN EXECUTE q(1)";
    Statement e = one(explain);
    EXPECT_EQ(e.kind, StatementKind::execute);
    EXPECT_EQ(explain.substr(e.name_location, e.name_length), "q");
    std::string ctas = "CREATE TEMP TABLE execute AS EXECUTE execute";
    Statement c = one(ctas);
    EXPECT_EQ(c.kind, StatementKind::create_temp);
    EXPECT_EQ(c.prepared_name, "execute");
    EXPECT_EQ(static_cast<std::size_t>(c.name_location), ctas.rfind("execute"));
}

TEST(Classify, TempObjects) {
    Statement t = one("CREATE TEMPORARY TABLE tmp (a int)");
    EXPECT_EQ(t.kind, StatementKind::create_temp);
    EXPECT_EQ(t.name, "tmp");
    EXPECT_FALSE(t.on_commit_drop);
    EXPECT_TRUE(one("CREATE TEMP TABLE t (a int) ON COMMIT DROP").on_commit_drop);
    EXPECT_EQ(one("CREATE TABLE pg_temp.x (a int)").kind, StatementKind::create_temp);
    EXPECT_EQ(one("CREATE TEMP VIEW v AS SELECT 1").kind, StatementKind::create_temp);
    EXPECT_EQ(one("CREATE TEMP SEQUENCE s").kind, StatementKind::create_temp);
    EXPECT_EQ(one("CREATE TEMP TABLE q AS SELECT 1").kind, StatementKind::create_temp);
    EXPECT_EQ(one("SELECT 1 AS a INTO TEMP TABLE t3").kind, StatementKind::create_temp);
    EXPECT_EQ(one("CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'select 1'").kind,
              StatementKind::create_temp);
    EXPECT_EQ(one("CREATE TABLE plain (a int)").kind, StatementKind::create_unqualified);
    EXPECT_EQ(one("CREATE TABLE public.plain (a int)").kind, StatementKind::other);
    EXPECT_EQ(one("CREATE INDEX ON t (a)").kind, StatementKind::other);
}

TEST(Classify, Drop) {
    Statement d = one("DROP TABLE IF EXISTS a, pg_temp.b CASCADE");
    EXPECT_EQ(d.kind, StatementKind::drop);
    EXPECT_EQ(d.names, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(d.temp_qualified);
    EXPECT_EQ(one("DROP FUNCTION f(int)").names, (std::vector<std::string>{"f"}));
    EXPECT_FALSE(one("DROP VIEW public.v").temp_qualified);
}

TEST(Classify, Cursors) {
    Statement hold = one("DECLARE c CURSOR WITH HOLD FOR SELECT 1");
    EXPECT_EQ(hold.kind, StatementKind::declare_cursor);
    EXPECT_TRUE(hold.hold);
    EXPECT_EQ(hold.name, "c");
    EXPECT_FALSE(one("DECLARE d SCROLL CURSOR WITHOUT HOLD FOR SELECT 1").hold);
    EXPECT_EQ(one("CLOSE c").kind, StatementKind::close_cursor);
    EXPECT_EQ(one("CLOSE ALL").kind, StatementKind::close_all);
}

TEST(Classify, ListenUnlisten) {
    Statement l = one("LISTEN \"Chan\"");
    EXPECT_EQ(l.kind, StatementKind::listen);
    EXPECT_EQ(l.name, "Chan");
    EXPECT_EQ(one("UNLISTEN chan").kind, StatementKind::unlisten);
    EXPECT_EQ(one("UNLISTEN *").kind, StatementKind::unlisten_all);
    EXPECT_EQ(one("NOTIFY chan, 'x'").kind, StatementKind::other);
}

TEST(Classify, DatabasesThatMustBeLeftAlone) {
    EXPECT_EQ(one("DROP DATABASE IF EXISTS \"Test_1\" WITH (FORCE)").exclusive_database, "Test_1");
    EXPECT_EQ(one("ALTER DATABASE old RENAME TO new").exclusive_database, "old");
    EXPECT_EQ(one("CREATE DATABASE copy TEMPLATE tpl OWNER app").exclusive_database, "tpl");
    EXPECT_EQ(one("CREATE DATABASE copy WITH TEMPLATE = Tpl").exclusive_database, "tpl");
    EXPECT_TRUE(one("DROP DATABASE x").is_session_relevant());
    EXPECT_EQ(one("CREATE DATABASE plain").exclusive_database, "");
    EXPECT_EQ(one("ALTER DATABASE d SET work_mem = '8MB'").exclusive_database, "");
    EXPECT_EQ(one("ALTER TABLE t RENAME TO u").exclusive_database, "");
}

TEST(Classify, AdvisoryLocks) {
    Statement lock = one("SELECT pg_advisory_lock(1), pg_try_advisory_lock_shared(2, 3)");
    EXPECT_EQ(lock.kind, StatementKind::advisory_lock);
    EXPECT_EQ(lock.advisory_locks, 2);
    EXPECT_EQ(lock.advisory_try_locks, 1);
    Statement unlock = one("SELECT pg_advisory_unlock(1) FROM t WHERE x");
    EXPECT_EQ(unlock.kind, StatementKind::advisory_unlock);
    EXPECT_EQ(unlock.advisory_unlocks, 1);
    EXPECT_EQ(one("SELECT pg_catalog.pg_advisory_unlock_all()").kind,
              StatementKind::advisory_unlock_all);
    Statement xact = one("SELECT pg_advisory_xact_lock(1), pg_try_advisory_xact_lock_shared(2)");
    EXPECT_EQ(xact.kind, StatementKind::advisory_xact_lock);
    EXPECT_EQ(xact.advisory_locks, 0);
    EXPECT_FALSE(xact.is_session_relevant());
    EXPECT_EQ(one("UPDATE t SET a = 1 WHERE pg_try_advisory_lock(id)").advisory_locks, 1);
}

TEST(Classify, LoadCopyAndOther) {
    Statement load = one("LOAD 'auto_explain'");
    EXPECT_EQ(load.kind, StatementKind::load);
    EXPECT_EQ(load.name, "auto_explain");
    EXPECT_EQ(one("COPY t FROM STDIN").kind, StatementKind::copy);
    EXPECT_EQ(one("SELECT * FROM t WHERE a = 1").kind, StatementKind::other);
    EXPECT_FALSE(one("SELECT * FROM t WHERE a = 1").is_session_relevant());
}

TEST(Classify, SequenceFunctions) {
    EXPECT_TRUE(one("INSERT INTO t VALUES (nextval('s'))").sequence_write);
    EXPECT_TRUE(one("SELECT currval('s')").sequence_read);
}

TEST(Classify, DefinitionsDoNotRunTheirExpressions) {
    EXPECT_EQ(one("CREATE FUNCTION f() RETURNS void LANGUAGE sql "
                  "BEGIN ATOMIC SELECT pg_advisory_lock(1); END")
                  .advisory_locks,
              0);
    EXPECT_EQ(one("CREATE VIEW public.v AS SELECT set_config('a.b', 'c', false)").kind,
              StatementKind::other);
    EXPECT_EQ(one("EXPLAIN SELECT pg_advisory_lock(1)").advisory_locks, 0);
    EXPECT_EQ(one("EXPLAIN ANALYZE SELECT pg_advisory_lock(1)").advisory_locks, 1);
}

TEST(Classify, DoBlocks) {
    EXPECT_EQ(one("DO $$BEGIN UPDATE t SET a = 1; END$$").kind, StatementKind::other);
    EXPECT_EQ(one("DO $$BEGIN PERFORM set_config('a.b', 'c', false); END$$").kind,
              StatementKind::unknown_state_change);
    EXPECT_EQ(one("DO $$BEGIN SET search_path = x; END$$").kind,
              StatementKind::unknown_state_change);
    EXPECT_EQ(one("DO $$BEGIN EXECUTE 'LISTEN x'; END$$").kind,
              StatementKind::unknown_state_change);
    EXPECT_EQ(one("DO LANGUAGE plperl $$ 1 $$").kind, StatementKind::unknown_state_change);
}

TEST(Classify, MultiStatementKeepsEveryStatementInOrder) {
    std::string sql =
        "SELECT 1; SET a.b = 'x;y' /* ; */; -- c\n SELECT 'z'; BEGIN; SET LOCAL c.d = 1; COMMIT";
    Classification c = classify_uncached(sql);
    ASSERT_TRUE(c.parsed);
    ASSERT_EQ(c.statements.size(), 6u);
    EXPECT_EQ(c.statements[0].kind, StatementKind::other);
    EXPECT_EQ(c.statements[1].kind, StatementKind::set);
    EXPECT_EQ(c.statements[1].settings[0].value, "x;y");
    EXPECT_EQ(c.statements[1].text, "SET a.b = 'x;y'");
    EXPECT_EQ(c.statements[2].kind, StatementKind::other);
    EXPECT_EQ(c.statements[3].kind, StatementKind::begin);
    EXPECT_EQ(c.statements[4].kind, StatementKind::set_local);
    EXPECT_EQ(c.statements[5].kind, StatementKind::commit);
    EXPECT_TRUE(c.relevant);
    for (const Statement& st : c.statements) {
        EXPECT_LE(st.location + st.length, sql.size());
    }
    EXPECT_EQ(sql.substr(c.statements[5].location, c.statements[5].length), " COMMIT");
}

TEST(Classify, UnparsedTextIsSplitByTheScanner) {
    Classification c = classify_uncached("SELECT 1; SET x = ; SELEC 2");
    EXPECT_FALSE(c.parsed);
    EXPECT_FALSE(c.error.empty());
    ASSERT_EQ(c.statements.size(), 3u);
    for (const Statement& st : c.statements) EXPECT_EQ(st.kind, StatementKind::unparsed);
    EXPECT_FALSE(c.statements[0].may_affect_state);
    EXPECT_TRUE(c.statements[1].may_affect_state);
    EXPECT_TRUE(c.statements[2].may_affect_state);  // unknown first word: unsure
    EXPECT_TRUE(c.relevant);
}

TEST(Classify, EmptyTextHasNoStatements) {
    Classification c = classify_uncached("  -- nothing\n ;; ");
    EXPECT_TRUE(c.parsed);
    EXPECT_TRUE(c.statements.empty());
}

}  // namespace
}  // namespace pgmux::parser
