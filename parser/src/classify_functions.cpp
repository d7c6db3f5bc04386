// Function calls with session effects, found anywhere in a statement's parse tree.

#include <array>
#include <string>

#include "classify_detail.hpp"
#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::parser::detail {
namespace {

// Definitions whose expressions are stored, not run, when the statement executes.
constexpr std::array<std::string_view, 12> kNotExecuted{
    "CreateFunctionStmt", "ViewStmt",         "RuleStmt",          "CreateTrigStmt",
    "CreateStmt",         "CreatePolicyStmt", "CreateDomainStmt",  "AlterDomainStmt",
    "PrepareStmt",        "DoStmt",           "AlterFunctionStmt", "CreateEventTrigStmt"};

bool not_executed(std::string_view key) {
    for (auto k : kNotExecuted) {
        if (k == key) return true;
    }
    return false;
}

void mark_unknown(Statement& st, std::string reason) {
    if (!st.unknown_state_change) st.unknown_reason = std::move(reason);
    st.unknown_state_change = true;
}

void saturating_increment(std::uint16_t& v) {
    if (v < UINT16_MAX) ++v;
}

// is_local argument: true/false, or nullopt when not a constant.
std::optional<bool> constant_bool(const Json& node, std::string_view sql) {
    auto c = constant_value(node, sql);
    if (!c) return std::nullopt;
    std::string v = ascii_lower(c->text);
    if (v == "true" || v == "t" || v == "on" || v == "yes" || v == "y" || v == "1") return true;
    if (v == "false" || v == "f" || v == "off" || v == "no" || v == "n" || v == "0") return false;
    return std::nullopt;
}

std::uint16_t param_number(const Json& node) {
    auto p = node.find("ParamRef");
    if (p == node.end()) return 0;
    int n = p->value("number", 0);
    return n > 0 && n <= UINT16_MAX ? static_cast<std::uint16_t>(n) : 0;
}

void handle_set_config(const Json& call, std::string_view sql, Statement& st, bool tracked,
                       FunctionFlags& flags) {
    const Json& args = call.contains("args") ? call["args"] : Json::array();
    if (args.size() != 3) {
        mark_unknown(st, "set_config with unexpected arguments");
        return;
    }
    std::optional<bool> is_local = constant_bool(args[2], sql);
    if (is_local && *is_local) {
        flags.local_set_config = true;  // transaction-scoped: nothing to track
        return;
    }
    if (!is_local) {
        mark_unknown(st, "set_config with a non-constant is_local argument");
        return;
    }
    if (!tracked) {
        mark_unknown(st, "set_config inside an expression that may not run exactly once");
        return;
    }
    SettingChange change;
    auto name = constant_string(args[0], sql);
    auto value = constant_string(args[1], sql);
    if (!name) change.name_param = param_number(args[0]);
    if (!value) change.value_param = param_number(args[1]);
    if ((!name && change.name_param == 0) || (!value && change.value_param == 0)) {
        mark_unknown(st, "set_config with non-constant arguments");
        return;
    }
    if (name) {
        change.name = ascii_lower(*name);
        if (change.name == "transaction_isolation" || change.name == "transaction_read_only" ||
            change.name == "transaction_deferrable") {
            flags.local_set_config = true;
            return;
        }
        if (change.name == "seed") {
            mark_unknown(st, "set_config('seed') changes the session's random number sequence");
            return;
        }
    }
    if (value) change.value = *value;
    if (name && value) {
        if (change.name == "role") {
            change.replay_sql = "SET ROLE " + quote_literal(change.value);
        } else if (change.name == "session_authorization") {
            change.replay_sql = "SET SESSION AUTHORIZATION " + quote_literal(change.value);
        } else {
            change.replay_sql = set_config_sql(change.name, change.value);
        }
    }
    st.settings.push_back(std::move(change));
}

void handle_call(const Json& call, std::string_view sql, Statement& st, bool tracked,
                 FunctionFlags& flags) {
    const Json& names = call.contains("funcname") ? call["funcname"] : Json::array();
    if (!names.is_array() || names.empty()) return;
    if (names.size() == 2 && string_value(names[0]) != "pg_catalog") return;  // not the builtin
    if (names.size() > 2) return;
    const std::string fn = string_value(names.back());
    if (fn == "set_config") {
        handle_set_config(call, sql, st, tracked, flags);
    } else if (fn == "pg_advisory_lock" || fn == "pg_advisory_lock_shared") {
        saturating_increment(st.advisory_locks);
    } else if (fn == "pg_try_advisory_lock" || fn == "pg_try_advisory_lock_shared") {
        saturating_increment(st.advisory_locks);
        saturating_increment(st.advisory_try_locks);
    } else if (fn == "pg_advisory_unlock" || fn == "pg_advisory_unlock_shared") {
        saturating_increment(st.advisory_unlocks);
    } else if (fn == "pg_advisory_unlock_all") {
        st.advisory_unlock_all = true;
    } else if (fn.rfind("pg_advisory_xact_", 0) == 0 || fn.rfind("pg_try_advisory_xact_", 0) == 0) {
        flags.xact_advisory = true;
    } else if (fn == "nextval" || fn == "setval") {
        st.sequence_write = true;
    } else if (fn == "currval" || fn == "lastval") {
        st.sequence_read = true;
    } else if (fn == "setseed") {
        mark_unknown(st, "setseed() changes the session's random number sequence");
    }
}

void walk(const Json& node, std::string_view sql, Statement& st, FunctionFlags& flags) {
    if (node.is_array()) {
        for (const Json& child : node) walk(child, sql, st, flags);
        return;
    }
    if (!node.is_object()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
        if (not_executed(it.key())) continue;
        if (it.key() == "FuncCall") handle_call(it.value(), sql, st, false, flags);
        if (it.value().is_structured()) walk(it.value(), sql, st, flags);
    }
}

}  // namespace

bool is_plain_select(const Json& select) {
    for (auto it = select.begin(); it != select.end(); ++it) {
        const std::string& key = it.key();
        if (key == "targetList" || key == "limitOption") continue;
        if (key == "op" && it.value() == "SETOP_NONE") continue;
        return false;
    }
    return select.contains("targetList");
}

void collect_function_effects(const Json& node, std::string_view sql, Statement& st,
                              bool top_level_targets, FunctionFlags& flags) {
    if (top_level_targets) {
        // node is the SelectStmt body: "SELECT f(...), g(...)" runs each call exactly once.
        for (const Json& target : node["targetList"]) {
            const Json* val = nullptr;
            if (auto rt = target.find("ResTarget"); rt != target.end() && rt->contains("val")) {
                val = &(*rt)["val"];
            }
            if (val != nullptr && val->contains("FuncCall")) {
                const Json& call = (*val)["FuncCall"];
                handle_call(call, sql, st, true, flags);
                if (call.contains("args")) walk(call["args"], sql, st, flags);
            } else {
                walk(target, sql, st, flags);
            }
        }
        return;
    }
    walk(node, sql, st, flags);
}

}  // namespace pgmux::parser::detail
