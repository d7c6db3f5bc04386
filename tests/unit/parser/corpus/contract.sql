-- Representative statements for every row of the session-state contract table.
-- Each entry: a line "-- expect: <kind> [<kind> ...] [| fast]" then the SQL text (possibly
-- several statements, one Query). "| fast" means the prefilter must let it through.

-- expect: set
SET search_path TO app, public;
-- expect: set
set Search_Path = "App", 'x y';
-- expect: set
SET SESSION statement_timeout = '5s';
-- expect: set
SET TIME ZONE 'Europe/Berlin';
-- expect: set
SET NAMES 'LATIN1';
-- expect: set
SET application_name = $q$it's "mine"$q$;
-- expect: reset
RESET search_path;
-- expect: reset
SET DateStyle TO DEFAULT;
-- expect: reset_all
RESET ALL;
-- expect: set_config
SELECT pg_catalog.set_config('search_path', '', false);
-- expect: set_config
select set_config('app.user_id', '42', FALSE);
-- expect: set_local
SET LOCAL search_path = x;
-- expect: set_local
SET TRANSACTION READ ONLY;
-- expect: set_config_local
SELECT set_config('app.user_id', '42', true);
-- expect: set_role
SET ROLE reporting;
-- expect: set_role
SET SESSION ROLE NONE;
-- expect: reset_role
RESET ROLE;
-- expect: set_session_authorization
SET SESSION AUTHORIZATION 'alice';
-- expect: reset_session_authorization
SET SESSION AUTHORIZATION DEFAULT;
-- expect: set_session_characteristics
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE;
-- expect: prepare
PREPARE get_user (int) AS SELECT * FROM users WHERE id = $1;
-- expect: execute
EXECUTE get_user(1);
-- expect: deallocate
DEALLOCATE get_user;
-- expect: deallocate_all
DEALLOCATE ALL;
-- expect: discard_all
DISCARD ALL;
-- expect: discard_plans
DISCARD PLANS;
-- expect: discard_temp
DISCARD TEMP;
-- expect: discard_sequences
DISCARD SEQUENCES;
-- expect: create_temp
CREATE TEMP TABLE scratch (id int PRIMARY KEY, v text);
-- expect: create_temp
CREATE LOCAL TEMPORARY VIEW tv AS SELECT 1 AS one;
-- expect: create_temp
CREATE TEMP SEQUENCE ts;
-- expect: begin create_temp commit
BEGIN; CREATE TEMP TABLE t_ocd (a int) ON COMMIT DROP; COMMIT;
-- expect: drop
DROP TABLE scratch;
-- expect: declare_cursor
DECLARE big CURSOR WITH HOLD FOR SELECT * FROM generate_series(1, 10);
-- expect: begin declare_cursor other close_cursor commit
BEGIN; DECLARE c CURSOR FOR SELECT 1; FETCH 1 FROM c; CLOSE c; COMMIT;
-- expect: close_all
CLOSE ALL;
-- expect: listen
LISTEN jobs;
-- expect: unlisten
UNLISTEN jobs;
-- expect: unlisten_all
UNLISTEN *;
-- expect: advisory_lock
SELECT pg_advisory_lock(42);
-- expect: advisory_lock
SELECT pg_try_advisory_lock(1, 2) AS got;
-- expect: advisory_unlock
SELECT pg_advisory_unlock(42);
-- expect: advisory_unlock_all
SELECT pg_advisory_unlock_all();
-- expect: advisory_xact_lock
SELECT pg_advisory_xact_lock(42);
-- expect: load
LOAD 'auto_explain';
-- expect: other
SELECT nextval('orders_id_seq');
-- expect: other
SELECT currval('orders_id_seq');
-- expect: other | fast
SELECT repeat('x', 20000) AS big_statement_text;
-- expect: unparsed
SELECT FROM WHERE;
-- expect: unknown_state_change
SELECT set_config('search_path', current_setting('search_path') || ',x', false);
-- expect: prepare_transaction
PREPARE TRANSACTION 'tx-1';
-- expect: copy | fast
COPY accounts TO STDOUT;
-- expect: other | fast
NOTIFY jobs, 'payload';
-- expect: begin other rollback
BEGIN; SELECT 1; ROLLBACK;
-- expect: savepoint rollback_to_savepoint release_savepoint
SAVEPOINT a; ROLLBACK TO SAVEPOINT a; RELEASE a;

-- Tricky text.
-- expect: other | fast
SELECT 'SET search_path = evil; RESET ALL' AS s, "set" FROM t;
-- expect: other | fast
SELECT $body$ LISTEN x; SELECT pg_advisory_lock(1) $body$;
-- expect: other | fast
/* SET x = 1; */ SELECT 1 -- ; SET y = 2
;
-- expect: other set other
SELECT 1; /* ; */ SeT "Search_Path" TO "a;b"; SELECT ';';
-- expect: other | fast
SELECT E'\';SET x=1;--' AS e;
-- expect: set
  -- leading comment
  SET work_mem = '64MB' -- trailing comment
;
-- expect: other | fast
UPDATE t SET reset = 1, "set" = 2 WHERE discard = true;
-- expect: create_temp
SELECT * INTO TEMPORARY snapshot FROM accounts;
-- expect: create_unqualified
SELECT * INTO snapshot2 FROM accounts;
-- expect: other | fast
WITH x AS (SELECT 1 AS a) SELECT a FROM x;
