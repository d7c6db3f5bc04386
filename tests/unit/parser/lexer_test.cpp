#include "pgmux/parser/lexer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgmux::parser {
namespace {

std::vector<std::string> words(std::string_view sql) {
    Lexer lex(sql);
    std::vector<std::string> out;
    for (Token t = lex.next(); t.type != TokenType::end; t = lex.next()) {
        if (t.type == TokenType::error) {
            out.push_back("<error>");
            break;
        }
        out.emplace_back(lex.text_of(t));
    }
    return out;
}

TEST(Lexer, SkipsCommentsIncludingNestedBlockComments) {
    EXPECT_EQ(words("SELECT /* a /* nested */ still */ 1 -- tail\n, 2"),
              (std::vector<std::string>{"SELECT", "1", ",", "2"}));
}

TEST(Lexer, StringsAndQuotedIdentifiersAreSingleTokens) {
    EXPECT_EQ(words("SELECT 'it''s; SET x', \"a\"\"b\", E'\\'; SET', $$ SET $$, $t$ $x$ $t$"),
              (std::vector<std::string>{"SELECT", "'it''s; SET x'", ",", "\"a\"\"b\"", ",",
                                        "E'\\'; SET'", ",", "$$ SET $$", ",", "$t$ $x$ $t$"}));
}

TEST(Lexer, DollarInIdentifierIsNotAQuote) {
    EXPECT_EQ(words("SELECT a$b$ FROM t"),
              (std::vector<std::string>{"SELECT", "a$b$", "FROM", "t"}));
    EXPECT_EQ(words("SELECT $1, $2"), (std::vector<std::string>{"SELECT", "$1", ",", "$2"}));
}

TEST(Lexer, UnterminatedLiteralIsAnError) {
    EXPECT_EQ(words("SELECT 'abc"), (std::vector<std::string>{"SELECT", "<error>"}));
    EXPECT_EQ(words("SELECT /* abc"), (std::vector<std::string>{"SELECT", "<error>"}));
    EXPECT_EQ(words("SELECT $q$ abc $Q$"), (std::vector<std::string>{"SELECT", "<error>"}));
}

TEST(Lexer, PlainLiteralWithBackslashIsFlagged) {
    Lexer lex("'a\\b' E'a\\b'");
    Token plain = lex.next();
    Token escaped = lex.next();
    EXPECT_TRUE(plain.flag);
    EXPECT_FALSE(escaped.flag);
}

TEST(Lexer, TrimToTokensDropsSurroundingComments) {
    EXPECT_EQ(trim_to_tokens("  -- lead\n SET x = 1 /* trail */ -- more"), "SET x = 1");
    EXPECT_EQ(trim_to_tokens(" /* only */ "), "");
}

}  // namespace
}  // namespace pgmux::parser
