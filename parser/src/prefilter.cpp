#include "pgmux/parser/prefilter.hpp"

#include <array>

#include "pgmux/parser/lexer.hpp"

namespace pgmux::parser {
namespace {

// Statements starting with these words change no session state by themselves; their
// function calls are still checked below.
constexpr std::array<std::string_view, 13> kHarmlessFirstWords{
    "select", "insert", "update", "delete", "with",  "values", "table",
    "show",   "copy",   "fetch",  "move",   "merge", "notify"};

// Function names that change session state when called anywhere in a statement.
constexpr std::array<std::string_view, 6> kStateFunctions{"set_config", "nextval", "setval",
                                                          "currval",    "lastval", "setseed"};
constexpr std::array<std::string_view, 2> kStateFunctionPrefixes{"pg_advisory", "pg_try_advisory"};

bool is_harmless_first_word(std::string_view w) noexcept {
    for (auto h : kHarmlessFirstWords) {
        if (iequals(w, h)) return true;
    }
    return false;
}

bool is_state_function(std::string_view w) noexcept {
    for (auto f : kStateFunctions) {
        if (iequals(w, f)) return true;
    }
    for (auto p : kStateFunctionPrefixes) {
        if (istarts_with(w, p)) return true;
    }
    return false;
}

}  // namespace

bool may_affect_session_state(std::string_view sql) noexcept {
    Lexer lex(sql);
    bool at_start = true;      // no word seen yet in this statement
    bool select_like = false;  // SELECT / WITH / VALUES / TABLE: INTO would create a table
    for (Token t = lex.next(); t.type != TokenType::end; t = lex.next()) {
        switch (t.type) {
            case TokenType::error:
                return true;  // unterminated literal or comment: cannot tell
            case TokenType::semicolon:
                at_start = true;
                select_like = false;
                break;
            case TokenType::open_paren:
                break;  // "(SELECT ...)" starts with a parenthesis
            case TokenType::word: {
                std::string_view w = lex.text_of(t);
                if (at_start) {
                    if (!is_harmless_first_word(w)) return true;
                    select_like = iequals(w, "select") || iequals(w, "with") ||
                                  iequals(w, "values") || iequals(w, "table");
                    at_start = false;
                } else if (is_state_function(w) || (select_like && iequals(w, "into"))) {
                    return true;
                }
                break;
            }
            case TokenType::quoted_ident: {
                if (at_start || t.flag) return true;  // "SET"? U&"..." escapes: unsure
                std::string_view w = lex.text_of(t);
                w = w.substr(1, w.size() - 2);
                if (is_state_function(w)) return true;
                break;
            }
            case TokenType::string:
                // With standard_conforming_strings = off a backslash would end the literal
                // somewhere else than we think.
                if (t.flag) return true;
                [[fallthrough]];
            default:
                if (at_start) return true;  // a statement starting with a literal or operator
                break;
        }
    }
    return false;
}

}  // namespace pgmux::parser
