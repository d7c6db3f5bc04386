#pragma once
// Internal pieces of the classifier, shared between its translation units.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "pgmux/parser/statement.hpp"

namespace pgmux::parser::detail {

using Json = nlohmann::json;

struct Constant {
    std::string text;
    bool is_string = false;  // a string literal (or identifier), as opposed to a number/bool
};
// The value of an A_Const node, or nullopt when the node is not a constant (or is NULL).
// Integers are read back from the source text when libpg_query's JSON omits them (it prints
// zero and negative integers as an empty object).
[[nodiscard]] std::optional<Constant> constant_value(const Json& node, std::string_view sql);
// Like constant_text, but accepts 'x'::text style casts to string types.
[[nodiscard]] std::optional<std::string> constant_string(const Json& node, std::string_view sql);
// The String node's sval ("" when absent).
[[nodiscard]] std::string string_value(const Json& node);

// VariableSetStmt -> kind, settings, replay.
void classify_variable_set(const Json& stmt, std::string_view sql, Statement& st);

// Walks a node for function calls with session effects. `top_level_targets` is true for
// a plain "SELECT f(...), g(...)" whose calls certainly run once; set_config elsewhere
// becomes an unknown state change.
struct FunctionFlags {
    bool xact_advisory = false;     // pg_advisory_xact_lock* and friends were called
    bool local_set_config = false;  // set_config(..., true) was called
};
void collect_function_effects(const Json& node, std::string_view sql, Statement& st,
                              bool top_level_targets, FunctionFlags& flags);
// True for a SelectStmt of the form SELECT <targets> with no FROM/WHERE/... clauses.
[[nodiscard]] bool is_plain_select(const Json& select_stmt);

// Finds the prepared-statement name token following `keyword` in the statement's text and
// stores its location; also the body and type-list spans for PREPARE.
void locate_prepared_name(std::string_view sql, Statement& st, std::string_view keyword);

// DO block: a conservative scan of the body for anything that could change session state.
void classify_do_block(const Json& stmt, Statement& st);

}  // namespace pgmux::parser::detail
