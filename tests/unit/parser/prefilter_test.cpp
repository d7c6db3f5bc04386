#include "pgmux/parser/prefilter.hpp"

#include <gtest/gtest.h>

namespace pgmux::parser {
namespace {

TEST(Prefilter, OrdinaryStatementsPassStraightThrough) {
    for (const char* sql : {
             "SELECT a, b FROM t WHERE id = $1",
             "select * from accounts where name = 'SET search_path'",
             "INSERT INTO t (a) VALUES (1) RETURNING id",
             "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 5",
             "DELETE FROM t WHERE reset = true",
             "WITH x AS (SELECT 1) SELECT * FROM x",
             "  /* comment */ SELECT 1 -- set_config\n",
             "SELECT $$ LISTEN x; SET a = 1 $$",
             "(SELECT 1) UNION (SELECT 2)",
             "SHOW search_path",
             "COPY t FROM STDIN",
             "SELECT 1; SELECT 2;",
             "VALUES (1), (2)",
             "TABLE t",
             "SELECT current_setting('search_path')",
         }) {
        EXPECT_FALSE(may_affect_session_state(sql)) << sql;
    }
}

TEST(Prefilter, StateChangingStatementsAreCandidates) {
    for (const char* sql : {
             "SET search_path TO a",
             "set local x = 1",
             "RESET ALL",
             "reset role",
             "SET ROLE admin",
             "SET SESSION AUTHORIZATION bob",
             "SELECT set_config('search_path', '', false)",
             "SELECT pg_catalog.set_config('a', 'b', false)",
             "select \"set_config\"('a','b',false)",
             "DISCARD ALL",
             "PREPARE p AS SELECT 1",
             "EXECUTE p",
             "DEALLOCATE p",
             "CREATE TEMP TABLE t (a int)",
             "CREATE TABLE pg_temp.t (a int)",
             "SELECT 1 INTO TEMP t",
             "select * into t from s",
             "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
             "CLOSE c",
             "LISTEN ch",
             "UNLISTEN *",
             "SELECT pg_advisory_lock(1)",
             "SELECT pg_try_advisory_lock_shared(1)",
             "SELECT pg_advisory_unlock_all()",
             "LOAD 'auto_explain'",
             "BEGIN",
             "start transaction",
             "COMMIT",
             "END",
             "ROLLBACK",
             "ABORT",
             "SAVEPOINT s",
             "RELEASE s",
             "PREPARE TRANSACTION 'x'",
             "DROP TABLE t",
             "DO $$BEGIN PERFORM set_config('a','b',false); END$$",
             "CALL p()",
             "SELECT nextval('s')",
             "SELECT setseed(0.5)",
             "SELECT 1; SET x = 1",
             "SELECT 'a' /* ; */ ; reset all",
             "SELECT 'unterminated",
             "SELECT 'a\\'; SET x = 1; --'",
             "EXPLAIN ANALYZE SELECT 1",
             "-- only a comment\nSET x = 1",
             "WITH a AS (SELECT 1) SELECT * INTO t FROM a",
         }) {
        EXPECT_TRUE(may_affect_session_state(sql)) << sql;
    }
}

TEST(Prefilter, StatementsThatMayDrawFromSequences) {
    EXPECT_TRUE(may_draw_from_sequences("INSERT INTO t(v) VALUES (1)"));
    EXPECT_TRUE(may_draw_from_sequences("  -- note\n /* c */ insert into t default values"));
    EXPECT_TRUE(may_draw_from_sequences("COPY t FROM STDIN"));
    EXPECT_TRUE(
        may_draw_from_sequences("MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED "
                                "THEN INSERT (v) VALUES (s.v)"));
    EXPECT_TRUE(may_draw_from_sequences("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x"));
    EXPECT_TRUE(may_draw_from_sequences("SELECT 1; INSERT INTO t VALUES (2)"));
    EXPECT_FALSE(may_draw_from_sequences("SELECT abalance FROM pgbench_accounts WHERE aid = 1"));
    EXPECT_FALSE(may_draw_from_sequences("UPDATE t SET v = 1 WHERE id = 2"));
    EXPECT_FALSE(may_draw_from_sequences("SELECT insert_date FROM t"));
    EXPECT_FALSE(may_draw_from_sequences("SELECT abalance FROM a WHERE aid = $1; \n"));
    EXPECT_TRUE(may_draw_from_sequences("SELECT 1; insert into t values (1);"));
    EXPECT_FALSE(may_draw_from_sequences(""));
}

}  // namespace
}  // namespace pgmux::parser
