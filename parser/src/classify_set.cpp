// SET / RESET in all their spellings. The grammar already canonicalises the special forms:
// SET TIME ZONE -> timezone, SET NAMES -> client_encoding, SET SCHEMA -> search_path,
// SET XML OPTION -> xmloption, SET ROLE -> role, SET SESSION AUTHORIZATION ->
// session_authorization.

#include <string>
#include <vector>

#include "classify_detail.hpp"
#include "pgmux/parser/lexer.hpp"
#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::parser::detail {
namespace {

bool is_transaction_scoped(std::string_view name) {
    return name == "transaction_isolation" || name == "transaction_read_only" ||
           name == "transaction_deferrable";
}

std::string statement_slice(std::string_view sql, const Statement& st) {
    return std::string(trim_to_tokens(sql.substr(st.location, st.length)));
}

// SET SESSION CHARACTERISTICS AS TRANSACTION ...: session defaults for later transactions.
void classify_session_characteristics(const Json& stmt, std::string_view sql, Statement& st) {
    st.kind = StatementKind::set_session_characteristics;
    const Json& args = stmt.contains("args") ? stmt["args"] : Json::array();
    for (const Json& arg : args) {
        auto def = arg.find("DefElem");
        if (def == arg.end()) continue;
        std::string defname = def->value("defname", std::string{});
        SettingChange change;
        change.name = "default_" + defname;
        auto c = def->contains("arg") ? constant_value((*def)["arg"], sql) : std::nullopt;
        if (!c) {
            st.kind = StatementKind::unknown_state_change;
            st.unknown_state_change = true;
            st.unknown_reason = "unrecognised SET SESSION CHARACTERISTICS option";
            st.settings.clear();
            return;
        }
        if (defname == "transaction_isolation") {
            change.value = c->text;
        } else {
            // READ ONLY / DEFERRABLE arrive as integer constants 1/0.
            change.value = (c->text == "0" || c->text == "false") ? "off" : "on";
        }
        change.replay_sql =
            "SET " + quote_setting_name(change.name) + " TO " + quote_literal(change.value);
        st.settings.push_back(std::move(change));
    }
}

}  // namespace

void classify_variable_set(const Json& stmt, std::string_view sql, Statement& st) {
    const std::string kind = stmt.value("kind", std::string{});
    const bool is_local = stmt.value("is_local", false);
    const std::string name = ascii_lower(stmt.value("name", std::string{}));

    if (kind == "VAR_SET_MULTI") {
        if (name == "session characteristics") {
            classify_session_characteristics(stmt, sql, st);
        } else {
            st.kind = StatementKind::set_local;  // SET TRANSACTION ..., SET TRANSACTION SNAPSHOT
        }
        return;
    }
    if (is_local || is_transaction_scoped(name)) {
        st.kind = StatementKind::set_local;
        return;
    }
    if (kind == "VAR_RESET_ALL") {
        st.kind = StatementKind::reset_all;
        return;
    }
    if (name == "seed") {
        // The random sequence state cannot be rebuilt on another connection.
        st.kind = StatementKind::unknown_state_change;
        st.unknown_state_change = true;
        st.unknown_reason = "SET SEED changes the session's random number sequence";
        return;
    }
    if (kind == "VAR_SET_CURRENT") {
        st.kind = StatementKind::unknown_state_change;
        st.unknown_state_change = true;
        st.unknown_reason = "SET ... FROM CURRENT takes a value pgmux does not know";
        return;
    }

    SettingChange change;
    change.name = name;
    if (kind == "VAR_RESET" || kind == "VAR_SET_DEFAULT") {
        st.kind = name == "role"                    ? StatementKind::reset_role
                  : name == "session_authorization" ? StatementKind::reset_session_authorization
                                                    : StatementKind::reset;
        change.op = SettingChange::Op::reset;
        change.replay_sql = reset_sql(name);
        st.settings.push_back(std::move(change));
        return;
    }

    st.kind = name == "role"                    ? StatementKind::set_role
              : name == "session_authorization" ? StatementKind::set_session_authorization
                                                : StatementKind::set;
    std::string rendered;
    bool canonical = true;
    const Json& args = stmt.contains("args") ? stmt["args"] : Json::array();
    for (const Json& arg : args) {
        auto c = constant_value(arg, sql);
        if (!c) {
            canonical = false;  // e.g. SET TIME ZONE INTERVAL '...' HOUR TO MINUTE
            break;
        }
        if (!change.value.empty()) {
            change.value += ", ";
            rendered += ", ";
        }
        change.value += c->text;
        rendered += c->is_string ? quote_literal(c->text) : c->text;
    }
    if (!canonical || args.empty()) {
        change.replay_sql = statement_slice(sql, st);
        change.value = change.replay_sql;
    } else if (name == "role") {
        change.replay_sql = "SET ROLE " + rendered;
    } else if (name == "session_authorization") {
        change.replay_sql = "SET SESSION AUTHORIZATION " + rendered;
    } else {
        change.replay_sql = "SET " + quote_setting_name(name) + " TO " + rendered;
    }
    st.settings.push_back(std::move(change));
}

}  // namespace pgmux::parser::detail
