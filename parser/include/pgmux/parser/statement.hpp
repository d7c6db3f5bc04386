#pragma once
// What one raw SQL statement does to session state, as plain values. The parser predicts;
// the pinning layer applies a Statement only once the server confirmed it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgmux::parser {

enum class StatementKind : std::uint8_t {
    other,                      // no session effect of its own (function effects may apply)
    unparsed,                   // the PG15 grammar rejected the text; see may_affect_state
    set,                        // SET [SESSION] name ... (settings[0])
    set_local,                  // SET LOCAL, SET TRANSACTION, SET transaction_*: no session effect
    reset,                      // RESET name, SET name TO DEFAULT (settings[0], op reset)
    reset_all,                  // RESET ALL
    set_role,                   // SET ROLE x / SET ROLE NONE
    reset_role,                 // RESET ROLE, SET ROLE DEFAULT
    set_session_authorization,  // SET SESSION AUTHORIZATION x
    reset_session_authorization,  // RESET SESSION AUTHORIZATION, SET ... DEFAULT
    set_session_characteristics,  // SET SESSION CHARACTERISTICS AS TRANSACTION ... (1-3 settings)
    set_config,                   // SELECT set_config(const, const, false) [, ...]
    set_config_local,             // SELECT set_config(..., true): transaction-scoped
    unknown_state_change,         // set_config with non-constant args, DO with state words, ...
    discard_all,
    discard_plans,
    discard_temp,
    discard_sequences,
    begin,                  // BEGIN / START TRANSACTION
    commit,                 // COMMIT / END (chain flag)
    rollback,               // ROLLBACK / ABORT (chain flag)
    savepoint,              // name
    release_savepoint,      // name
    rollback_to_savepoint,  // name
    prepare_transaction,    // name = gid
    commit_prepared,        // name = gid
    rollback_prepared,      // name = gid
    prepare,                // SQL PREPARE name (name_location, prepared_body)
    execute,                // EXECUTE name (also EXPLAIN/CREATE TABLE AS EXECUTE)
    deallocate,             // DEALLOCATE [PREPARE] name
    deallocate_all,
    create_temp,         // CREATE TEMP table/view/sequence/..., pg_temp.x (on_commit_drop)
    create_unqualified,  // CREATE of a schema object without schema: temp if the
                         // session's search_path starts with pg_temp
    drop,                // names; temp_qualified when any is pg_temp.*
    declare_cursor,      // name, hold
    close_cursor,        // name
    close_all,
    listen,    // name = channel
    unlisten,  // name = channel
    unlisten_all,
    advisory_lock,        // SELECT with session advisory lock calls (see counters)
    advisory_unlock,      // SELECT with session advisory unlock calls
    advisory_unlock_all,  // SELECT pg_advisory_unlock_all()
    advisory_xact_lock,   // SELECT pg_advisory_xact_lock*: transaction-scoped, no pin
    load,                 // LOAD 'file' (name = file)
    copy,                 // COPY
};

[[nodiscard]] std::string_view to_string(StatementKind kind) noexcept;

// One setting a statement establishes or resets.
struct SettingChange {
    enum class Op : std::uint8_t { set, reset };
    Op op = Op::set;
    std::string name;        // canonical lower-case GUC name ("timezone", "client_encoding")
    std::string value;       // the value text as the server receives it (empty for reset)
    std::string replay_sql;  // SQL re-establishing exactly this value on another connection
    // set_config($1, $2, false) in an extended-protocol statement: the name and/or value come
    // from Bind parameters (1-based index, 0 = constant). replay_sql is then empty and the
    // pinning layer builds it from the bound values.
    std::uint16_t name_param = 0;
    std::uint16_t value_param = 0;
};

struct Statement {
    StatementKind kind = StatementKind::other;
    std::uint32_t location = 0;  // byte offset of the statement in the classified text
    std::uint32_t length = 0;    // byte length (includes leading whitespace/comments)

    // Settings established (set, set_config, session characteristics, role, session
    // authorization) or reset (reset, reset_role, reset_session_authorization).
    std::vector<SettingChange> settings;

    // Savepoint, cursor, channel, prepared statement, gid or LOAD file name (identifiers
    // are already case-folded as PostgreSQL does).
    std::string name;
    // DROP: the dropped object names (last component, case-folded).
    std::vector<std::string> names;

    // The SQL prepared statement a statement names: PREPARE / EXECUTE / DEALLOCATE name, and
    // also EXPLAIN [ANALYZE] EXECUTE name and CREATE TABLE ... AS EXECUTE name. name_location
    // is where the name token sits in the classified text (including quotes, so it can be
    // replaced in place); -1 when the statement names no prepared statement.
    std::string prepared_name;
    std::int32_t name_location = -1;
    std::uint32_t name_length = 0;
    // SQL PREPARE: the prepared query and the parenthesised parameter type list in the text
    // (types_length 0 when there is none), and the prepared query's own effects (which
    // happen on EXECUTE, not on PREPARE).
    std::uint32_t body_location = 0;
    std::uint32_t body_length = 0;
    std::uint32_t types_location = 0;
    std::uint32_t types_length = 0;
    std::shared_ptr<const Statement> prepared_body;

    // DROP DATABASE x, ALTER DATABASE x RENAME, CREATE DATABASE ... TEMPLATE x: the database
    // PostgreSQL requires no other session to be connected to (a pooler's idle server
    // connections count).
    std::string exclusive_database;

    bool chain = false;             // COMMIT/ROLLBACK AND CHAIN
    bool hold = false;              // DECLARE ... WITH HOLD
    bool on_commit_drop = false;    // CREATE TEMP TABLE ... ON COMMIT DROP
    bool temp_qualified = false;    // DROP of a pg_temp.* name
    bool may_affect_state = false;  // unparsed: the prefilter's verdict for this statement

    // Effects of function calls anywhere in the statement. Locks/unlocks count session-level
    // calls only (pg_advisory_lock, pg_advisory_lock_shared, pg_try_advisory_lock[_shared],
    // pg_advisory_unlock[_shared]); the _xact_ variants never count.
    std::uint16_t advisory_locks = 0;
    std::uint16_t advisory_try_locks = 0;  // subset of advisory_locks whose outcome is unknown
    std::uint16_t advisory_unlocks = 0;
    bool advisory_unlock_all = false;
    bool sequence_write = false;        // nextval / setval: currval/lastval state
    bool sequence_read = false;         // currval / lastval
    bool unknown_state_change = false;  // an effect pgmux cannot know (see unknown_reason)
    std::string unknown_reason;

    // The statement's own text, trimmed of surrounding whitespace and comments. Filled for
    // session-relevant statements only (used for pin logs and normalisation).
    std::string text;

    // True when applying this statement to a session model can change anything: transaction
    // control, settings, pins, prepared-statement names, function effects.
    [[nodiscard]] bool is_session_relevant() const noexcept;
    // True when the statement itself changes session state (transaction control excluded):
    // what the prefilter must never miss.
    [[nodiscard]] bool changes_session_state() const noexcept;
};

struct Classification {
    bool parsed = false;    // false: the PG15 grammar rejected the text (statements are then
                            // split by the scanner and all have kind unparsed)
    bool relevant = false;  // any statement is_session_relevant()
    std::string error;      // the parser's message when !parsed
    std::vector<Statement> statements;  // every raw statement, in order
};

}  // namespace pgmux::parser
