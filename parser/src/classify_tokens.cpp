// Classifier steps that need token positions rather than the parse tree: where a prepared
// statement's name sits (so the proxy can rewrite it in place) and the DO-block body scan.

#include <array>
#include <string>

#include "classify_detail.hpp"
#include "pgmux/parser/lexer.hpp"
#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::parser::detail {
namespace {

// The identifier a name token denotes, as the parser folds it. nullopt for U&"..." forms.
std::optional<std::string> identifier_of(const Lexer& lex, const Token& t) {
    std::string_view text = lex.text_of(t);
    if (t.type == TokenType::word) return ascii_lower(text);
    if (t.type == TokenType::quoted_ident && !t.flag) {
        std::string out;
        for (std::size_t i = 1; i + 1 < text.size(); ++i) {
            out.push_back(text[i]);
            if (text[i] == '"') ++i;  // "" inside quotes
        }
        return out;
    }
    return std::nullopt;
}

bool is_name_token(const Token& t) {
    return t.type == TokenType::word || t.type == TokenType::quoted_ident;
}

// PREPARE name [ ( types ) ] AS query: record the type list and body spans.
void locate_prepare_parts(std::uint32_t base, Lexer& lex, Statement& st) {
    Token t = lex.next();
    if (t.type == TokenType::open_paren) {
        int depth = 1;
        const std::uint32_t open = t.begin;
        while (depth > 0) {
            t = lex.next();
            if (t.type == TokenType::end || t.type == TokenType::error) return;
            if (t.type == TokenType::open_paren) ++depth;
            if (t.type == TokenType::close_paren) --depth;
        }
        st.types_location = base + open;
        st.types_length = t.end - open;
        t = lex.next();
    }
    if (t.type != TokenType::word || !iequals(lex.text_of(t), "as")) return;
    Token body = lex.next();
    if (body.type == TokenType::end || body.type == TokenType::error) return;
    std::uint32_t last_end = body.end;
    for (Token u = lex.next(); u.type != TokenType::end && u.type != TokenType::error;
         u = lex.next()) {
        last_end = u.end;
    }
    st.body_location = base + body.begin;
    st.body_length = last_end - body.begin;
}

}  // namespace

void locate_prepared_name(std::string_view sql, Statement& st, std::string_view keyword) {
    std::string_view text = sql.substr(st.location, st.length);
    Lexer lex(text);
    for (Token t = lex.next(); t.type != TokenType::end && t.type != TokenType::error;
         t = lex.next()) {
        if (t.type != TokenType::word || !iequals(lex.text_of(t), keyword)) continue;
        // The name follows the keyword (DEALLOCATE may put PREPARE in between).
        std::size_t resume = lex.position();
        Token n = lex.next();
        if (keyword == "deallocate" && n.type == TokenType::word &&
            iequals(lex.text_of(n), "prepare")) {
            std::size_t after_prepare = lex.position();
            Token m = lex.next();
            if (is_name_token(m)) {
                n = m;
            } else {
                lex.seek(after_prepare);
            }
        }
        if (is_name_token(n)) {
            auto id = identifier_of(lex, n);
            if (!id || *id == st.prepared_name) {
                st.name_location = static_cast<std::int32_t>(st.location + n.begin);
                st.name_length = n.end - n.begin;
                if (keyword == "prepare") locate_prepare_parts(st.location, lex, st);
                return;
            }
        }
        lex.seek(resume);
    }
}

void classify_do_block(const Json& stmt, Statement& st) {
    std::string body;
    std::string language = "plpgsql";
    const Json& args = stmt.contains("args") ? stmt["args"] : Json::array();
    for (const Json& arg : args) {
        auto def = arg.find("DefElem");
        if (def == arg.end() || !def->contains("arg")) continue;
        std::string name = def->value("defname", std::string{});
        if (name == "as") body = string_value((*def)["arg"]);
        if (name == "language") language = ascii_lower(string_value((*def)["arg"]));
    }
    auto unknown = [&](std::string reason) {
        st.kind = StatementKind::unknown_state_change;
        st.unknown_state_change = true;
        st.unknown_reason = std::move(reason);
    };
    if (language != "plpgsql") {
        unknown("DO block in language " + language);
        return;
    }
    // Words that can change session state from PL/pgSQL. SET/RESET only count at the start
    // of a PL/pgSQL statement (UPDATE ... SET is harmless).
    static constexpr std::array<std::string_view, 17> kAnywhere{
        "set_config", "discard",       "listen",  "unlisten", "load",    "temp",
        "temporary",  "pg_temp",       "execute", "hold",     "prepare", "deallocate",
        "role",       "authorization", "nextval", "setval",   "setseed"};
    static constexpr std::array<std::string_view, 6> kStatementStarts{
        "begin", "then", "else", "loop", "exception", "declare"};
    Lexer lex(body);
    bool at_statement_start = true;
    for (Token t = lex.next(); t.type != TokenType::end; t = lex.next()) {
        if (t.type == TokenType::error) {
            unknown("DO block body pgmux cannot scan");
            return;
        }
        if (t.type == TokenType::semicolon) {
            at_statement_start = true;
            continue;
        }
        if (t.type != TokenType::word) {
            at_statement_start = false;
            continue;
        }
        std::string_view w = lex.text_of(t);
        if ((at_statement_start && (iequals(w, "set") || iequals(w, "reset"))) ||
            istarts_with(w, "pg_advisory") || istarts_with(w, "pg_try_advisory")) {
            unknown("DO block that may change session state");
            return;
        }
        for (auto word : kAnywhere) {
            if (iequals(w, word)) {
                unknown("DO block that may change session state");
                return;
            }
        }
        at_statement_start = false;
        for (auto s : kStatementStarts) {
            if (iequals(w, s)) at_statement_start = true;
        }
    }
}

}  // namespace pgmux::parser::detail
