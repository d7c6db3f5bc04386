#pragma once
// A small SQL tokenizer that knows exactly what PostgreSQL treats as comments, string
// literals and quoted identifiers. It does not allocate; tokens are offsets into the text.
// The prefilter uses it to look only at real SQL words, and the classifier uses it to find
// token boundaries (statement trimming, prepared-statement name locations).

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pgmux::parser {

enum class TokenType : std::uint8_t {
    word,           // unquoted identifier or keyword (case-insensitive)
    quoted_ident,   // "identifier" or U&"identifier"
    string,         // '...', E'...', B'...', X'...', N'...', U&'...'
    dollar_string,  // $tag$...$tag$
    number,
    param,  // $1
    semicolon,
    open_paren,
    close_paren,
    op,  // any other punctuation or operator character
    end,
    error,  // unterminated comment, string or identifier
};

struct Token {
    TokenType type = TokenType::end;
    std::uint32_t begin = 0;  // byte offset in the text
    std::uint32_t end = 0;    // one past the last byte
    // For strings: the body contains a backslash (matters when standard_conforming_strings
    // is off). For quoted identifiers: it uses the U& form.
    bool flag = false;
};

class Lexer {
  public:
    explicit Lexer(std::string_view text) noexcept : text_(text) {}

    [[nodiscard]] Token next() noexcept;
    [[nodiscard]] std::string_view text_of(const Token& t) const noexcept {
        return text_.substr(t.begin, t.end - t.begin);
    }
    [[nodiscard]] std::size_t position() const noexcept { return pos_; }
    void seek(std::size_t pos) noexcept { pos_ = pos; }

  private:
    bool skip_space_and_comments() noexcept;  // false on an unterminated comment
    Token quoted(std::size_t start, std::size_t body, char quote, bool backslash_escapes) noexcept;
    Token dollar(std::size_t start) noexcept;

    std::string_view text_;
    std::size_t pos_ = 0;
};

// ASCII case-insensitive comparison (SQL keywords are ASCII).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;
[[nodiscard]] bool istarts_with(std::string_view s, std::string_view prefix) noexcept;

// The text between the first and the last token of [begin, end) of `text`: drops leading and
// trailing whitespace and comments, so the result can be joined with ';' safely.
[[nodiscard]] std::string_view trim_to_tokens(std::string_view text) noexcept;

struct StatementSpan {
    std::uint32_t location = 0;
    std::uint32_t length = 0;
};
// Splits text at semicolons outside literals, comments and parentheses (so it tolerates
// syntax errors). Spans include leading whitespace; statements without tokens are dropped;
// an unterminated literal or comment extends to the end of the text.
[[nodiscard]] std::vector<StatementSpan> split_statements(std::string_view text);

}  // namespace pgmux::parser
