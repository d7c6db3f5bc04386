#include "pgmux/parser/lexer.hpp"

namespace pgmux::parser {
namespace {

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_ident_start(char c) noexcept {
    auto u = static_cast<unsigned char>(c);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
}
bool is_ident_cont(char c) noexcept {
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}
bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool Lexer::skip_space_and_comments() noexcept {
    const std::size_t n = text_.size();
    while (pos_ < n) {
        char c = text_[pos_];
        if (is_space(c)) {
            ++pos_;
        } else if (c == '-' && pos_ + 1 < n && text_[pos_ + 1] == '-') {
            while (pos_ < n && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
        } else if (c == '/' && pos_ + 1 < n && text_[pos_ + 1] == '*') {
            // PostgreSQL block comments nest.
            int depth = 1;
            pos_ += 2;
            while (depth > 0) {
                if (pos_ + 1 >= n) {
                    pos_ = n;
                    return false;
                }
                if (text_[pos_] == '/' && text_[pos_ + 1] == '*') {
                    ++depth;
                    pos_ += 2;
                } else if (text_[pos_] == '*' && text_[pos_ + 1] == '/') {
                    --depth;
                    pos_ += 2;
                } else {
                    ++pos_;
                }
            }
        } else {
            return true;
        }
    }
    return true;
}

Token Lexer::quoted(std::size_t start, std::size_t body, char quote,
                    bool backslash_escapes) noexcept {
    const std::size_t n = text_.size();
    bool saw_backslash = false;
    std::size_t i = body;
    while (i < n) {
        char c = text_[i];
        if (c == '\\') {
            saw_backslash = true;
            if (backslash_escapes) {
                i += 2;
                continue;
            }
        }
        if (c == quote) {
            if (i + 1 < n && text_[i + 1] == quote) {
                i += 2;
                continue;
            }
            pos_ = i + 1;
            Token t{quote == '"' ? TokenType::quoted_ident : TokenType::string,
                    static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(pos_), false};
            // Only a plain literal is ambiguous: E'..' always processes escapes.
            t.flag = quote == '\'' && saw_backslash && !backslash_escapes;
            return t;
        }
        ++i;
    }
    pos_ = n;
    return Token{TokenType::error, static_cast<std::uint32_t>(start),
                 static_cast<std::uint32_t>(n)};
}

Token Lexer::dollar(std::size_t start) noexcept {
    const std::size_t n = text_.size();
    std::size_t i = start + 1;
    if (i < n && is_digit(text_[i])) {
        while (i < n && is_digit(text_[i])) ++i;
        pos_ = i;
        return Token{TokenType::param, static_cast<std::uint32_t>(start),
                     static_cast<std::uint32_t>(i)};
    }
    // $tag$ where tag is an identifier without '$' (possibly empty).
    if (i < n && is_ident_start(text_[i])) {
        while (i < n && is_ident_start(text_[i])) ++i;
        while (i < n && (is_ident_start(text_[i]) || is_digit(text_[i]))) ++i;
    }
    if (i < n && text_[i] == '$') {
        std::string_view tag = text_.substr(start, i + 1 - start);
        std::size_t close = text_.find(tag, i + 1);
        if (close == std::string_view::npos) {
            pos_ = n;
            return Token{TokenType::error, static_cast<std::uint32_t>(start),
                         static_cast<std::uint32_t>(n)};
        }
        pos_ = close + tag.size();
        return Token{TokenType::dollar_string, static_cast<std::uint32_t>(start),
                     static_cast<std::uint32_t>(pos_)};
    }
    pos_ = start + 1;
    return Token{TokenType::op, static_cast<std::uint32_t>(start),
                 static_cast<std::uint32_t>(pos_)};
}

Token Lexer::next() noexcept {
    if (!skip_space_and_comments()) {
        return Token{TokenType::error, static_cast<std::uint32_t>(pos_),
                     static_cast<std::uint32_t>(pos_)};
    }
    const std::size_t n = text_.size();
    if (pos_ >= n) {
        return Token{TokenType::end, static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n)};
    }
    const std::size_t start = pos_;
    const char c = text_[start];
    auto single = [&](TokenType type) {
        pos_ = start + 1;
        return Token{type, static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(pos_)};
    };
    if (c == '\'') return quoted(start, start + 1, '\'', false);
    if (c == '"') return quoted(start, start + 1, '"', false);
    if (c == '$') return dollar(start);
    if (c == ';') return single(TokenType::semicolon);
    if (c == '(') return single(TokenType::open_paren);
    if (c == ')') return single(TokenType::close_paren);
    if (is_digit(c) || (c == '.' && start + 1 < n && is_digit(text_[start + 1]))) {
        std::size_t i = start;
        while (i < n && (is_digit(text_[i]) || text_[i] == '.')) ++i;
        if (i < n && (text_[i] == 'e' || text_[i] == 'E')) {
            std::size_t j = i + 1;
            if (j < n && (text_[j] == '+' || text_[j] == '-')) ++j;
            if (j < n && is_digit(text_[j])) {
                while (j < n && is_digit(text_[j])) ++j;
                i = j;
            }
        }
        pos_ = i;
        return Token{TokenType::number, static_cast<std::uint32_t>(start),
                     static_cast<std::uint32_t>(i)};
    }
    if (is_ident_start(c)) {
        // String prefixes: E'..' (backslash escapes), B'..', X'..', N'..', U&'..', U&"..".
        if (start + 1 < n && text_[start + 1] == '\'') {
            char p = lower(c);
            if (p == 'e') return quoted(start, start + 2, '\'', true);
            if (p == 'b' || p == 'x' || p == 'n') return quoted(start, start + 2, '\'', false);
        }
        if (lower(c) == 'u' && start + 2 < n && text_[start + 1] == '&' &&
            (text_[start + 2] == '\'' || text_[start + 2] == '"')) {
            Token t = quoted(start, start + 3, text_[start + 2], false);
            if (t.type == TokenType::quoted_ident) t.flag = true;
            return t;
        }
        std::size_t i = start + 1;
        while (i < n && is_ident_cont(text_[i])) ++i;
        pos_ = i;
        return Token{TokenType::word, static_cast<std::uint32_t>(start),
                     static_cast<std::uint32_t>(i)};
    }
    return single(TokenType::op);
}

std::string_view trim_to_tokens(std::string_view text) noexcept {
    Lexer lex(text);
    Token first = lex.next();
    if (first.type == TokenType::end || first.type == TokenType::error) return {};
    std::uint32_t last_end = first.end;
    for (Token t = lex.next(); t.type != TokenType::end; t = lex.next()) {
        if (t.type == TokenType::error) return text.substr(first.begin);
        last_end = t.end;
    }
    return text.substr(first.begin, last_end - first.begin);
}

std::vector<StatementSpan> split_statements(std::string_view text) {
    std::vector<StatementSpan> out;
    Lexer lex(text);
    std::size_t start = 0;
    bool has_tokens = false;
    int depth = 0;
    auto close = [&](std::size_t end) {
        if (has_tokens) {
            out.push_back(StatementSpan{static_cast<std::uint32_t>(start),
                                        static_cast<std::uint32_t>(end - start)});
        }
        has_tokens = false;
    };
    for (Token t = lex.next();; t = lex.next()) {
        if (t.type == TokenType::end) {
            close(text.size());
            break;
        }
        if (t.type == TokenType::error) {
            has_tokens = true;
            close(text.size());
            break;
        }
        if (t.type == TokenType::semicolon && depth == 0) {
            close(t.begin);
            start = t.end;
            continue;
        }
        if (t.type == TokenType::open_paren) ++depth;
        if (t.type == TokenType::close_paren && depth > 0) --depth;
        has_tokens = true;
    }
    return out;
}

}  // namespace pgmux::parser
