// The prefilter runs on every simple Query and every Parse, so it is a single hand-written
// pass over the bytes: no tokens materialised, no calls out of this file, no allocation.
// It understands exactly what can hide SQL words (comments, literals, quoted identifiers,
// dollar quotes) and gives up (returns true) on anything it is unsure about. The
// regression-corpus test checks it against the full classifier.

#include <array>
#include <cstring>

#include "pgmux/parser/prefilter.hpp"

namespace pgmux::parser {
namespace {

// Character classes in one table: the scanner's inner loops are a load and a test.
enum CharClass : unsigned char {
    kOther = 0,
    kSpace = 1,
    kIdentStart = 2,  // letters, '_', bytes >= 0x80
    kIdentCont = 4,   // kIdentStart, digits, '$'
    kDigit = 8,
};

constexpr std::array<unsigned char, 256> make_classes() {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c <= ' '; ++c) t[c] = kSpace;
    for (int c = 0; c < 256; ++c) {
        const bool letter =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        const bool digit = c >= '0' && c <= '9';
        if (letter) t[c] = kIdentStart | kIdentCont;
        if (digit) t[c] = kIdentCont | kDigit;
        if (c == '$') t[c] = kIdentCont;
    }
    return t;
}
constexpr std::array<unsigned char, 256> kClasses = make_classes();

inline unsigned char cls(char c) noexcept {
    return kClasses[static_cast<unsigned char>(c)];
}
inline bool is_ident_start(unsigned char c) noexcept {
    return (kClasses[c] & kIdentStart) != 0;
}
inline bool is_ident_cont(unsigned char c) noexcept {
    return (kClasses[c] & kIdentCont) != 0;
}
inline bool is_digit(char c) noexcept {
    return (cls(c) & kDigit) != 0;
}
inline char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// Case-insensitive comparison of [p, p + lit.size()) with a lower-case literal.
inline bool eq(const char* p, std::string_view lit) noexcept {
    for (std::size_t i = 0; i < lit.size(); ++i) {
        if (lower(p[i]) != lit[i]) return false;
    }
    return true;
}

// Statements starting with these words change no session state by themselves.
bool harmless_first_word(const char* p, std::size_t n) noexcept {
    switch (n) {
        case 4:
            return eq(p, "with") || eq(p, "show") || eq(p, "copy") || eq(p, "move");
        case 5:
            return eq(p, "table") || eq(p, "fetch") || eq(p, "merge");
        case 6:
            return eq(p, "select") || eq(p, "insert") || eq(p, "update") || eq(p, "delete") ||
                   eq(p, "values") || eq(p, "notify");
        default:
            return false;
    }
}

// Function names that change session state wherever they are called.
bool state_function(const char* p, std::size_t n) noexcept {
    const char first = lower(p[0]);
    if (n < 6 || (first != 's' && first != 'n' && first != 'c' && first != 'l' && first != 'p')) {
        return false;  // no state function is shorter or starts otherwise
    }
    switch (n) {
        case 6:
            return eq(p, "setval");
        case 7:
            return eq(p, "nextval") || eq(p, "currval") || eq(p, "lastval") || eq(p, "setseed");
        case 10:
            return eq(p, "set_config");
        default:
            // pg_advisory_lock, pg_try_advisory_lock_shared, ... (the _xact_ ones too: the
            // classifier tells them apart).
            return (n >= 11 && eq(p, "pg_advisory")) || (n >= 15 && eq(p, "pg_try_advisory"));
    }
}

// Skips a '...' literal starting after the opening quote. Returns the position after the
// closing quote, or nullptr when unterminated. `backslash` reports a backslash in the body.
const char* skip_literal(const char* p, const char* end, bool escapes, bool& backslash) noexcept {
    while (p < end) {
        const char c = *p;
        if (c == '\\') {
            backslash = true;
            if (escapes) {
                p += 2;
                continue;
            }
        } else if (c == '\'') {
            if (p + 1 < end && p[1] == '\'') {
                p += 2;
                continue;
            }
            return p + 1;
        }
        ++p;
    }
    return nullptr;
}

const char* skip_block_comment(const char* p, const char* end) noexcept {
    int depth = 1;  // PostgreSQL block comments nest
    p += 2;
    while (p + 1 < end) {
        if (p[0] == '/' && p[1] == '*') {
            ++depth;
            p += 2;
        } else if (p[0] == '*' && p[1] == '/') {
            p += 2;
            if (--depth == 0) return p;
        } else {
            ++p;
        }
    }
    return nullptr;
}

// At '$': a parameter ($1), a dollar-quoted string ($tag$...$tag$) or an operator character.
// Returns the position after it, or nullptr for an unterminated dollar quote.
const char* skip_dollar(const char* p, const char* end) noexcept {
    const char* q = p + 1;
    if (q < end && is_digit(*q)) {
        while (q < end && is_digit(*q)) ++q;
        return q;
    }
    if (q < end && is_ident_start(static_cast<unsigned char>(*q))) {
        while (q < end && (is_ident_start(static_cast<unsigned char>(*q)) || is_digit(*q))) {
            ++q;
        }
    }
    if (q >= end || *q != '$') return p + 1;
    const std::size_t tag_len = static_cast<std::size_t>(q + 1 - p);
    for (const char* s = q + 1; s + tag_len <= end; ++s) {
        s = static_cast<const char*>(std::memchr(s, '$', static_cast<std::size_t>(end - s)));
        if (s == nullptr || s + tag_len > end) return nullptr;
        if (std::memcmp(s, p, tag_len) == 0) return s + tag_len;
    }
    return nullptr;
}

}  // namespace

bool may_affect_session_state(std::string_view sql) noexcept {
    const char* p = sql.data();
    const char* const end = p + sql.size();
    bool at_start = true;      // no word seen yet in this statement
    bool select_like = false;  // SELECT/WITH/VALUES/TABLE: INTO would create a table
    // A word at p: true when it makes the text a candidate; p moves past it.
    const auto word_matters = [&]() {
        const char* q = p + 1;
        while (q < end && (kClasses[static_cast<unsigned char>(*q)] & kIdentCont) != 0) ++q;
        const std::size_t n = static_cast<std::size_t>(q - p);
        const char* w = p;
        p = q;
        if (at_start) {
            at_start = false;
            select_like = (n == 6 && (eq(w, "select") || eq(w, "values"))) ||
                          (n == 4 && eq(w, "with")) || (n == 5 && eq(w, "table"));
            return !harmless_first_word(w, n);
        }
        // Every word that matters is 4 letters or longer ("into").
        return n >= 4 && (state_function(w, n) || (select_like && n == 4 && eq(w, "into")));
    };

    while (p < end) {
        const unsigned char c = static_cast<unsigned char>(*p);
        const unsigned char k = kClasses[c];
        // The common bytes first: words, blanks, numbers.
        if ((k & kIdentStart) != 0 && !(p + 1 < end && (p[1] == '\'' || p[1] == '&'))) {
            if (word_matters()) return true;
            continue;
        }
        if ((k & kSpace) != 0) {
            ++p;
            continue;
        }
        if ((k & kDigit) != 0 && !at_start) {
            ++p;
            continue;
        }
        switch (c) {
            case '-':
                if (p + 1 < end && p[1] == '-') {
                    const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
                    p = nl ? static_cast<const char*>(nl) : end;
                    continue;
                }
                break;
            case '/':
                if (p + 1 < end && p[1] == '*') {
                    p = skip_block_comment(p, end);
                    if (p == nullptr) return true;
                    continue;
                }
                break;
            case '\'': {
                // With standard_conforming_strings = off a backslash would end the literal
                // elsewhere than we think: unsure.
                bool backslash = false;
                p = skip_literal(p + 1, end, false, backslash);
                if (p == nullptr || backslash || at_start) return true;
                continue;
            }
            case '"': {
                const char* close = static_cast<const char*>(
                    std::memchr(p + 1, '"', static_cast<std::size_t>(end - p - 1)));
                if (close == nullptr || at_start) return true;
                if (state_function(p + 1, static_cast<std::size_t>(close - p - 1))) return true;
                p = close + 1;  // "a""b" reads as two identifiers here; neither matters
                continue;
            }
            case '$':
                if (at_start) return true;
                p = skip_dollar(p, end);
                if (p == nullptr) return true;
                continue;
            case ';':
                at_start = true;
                select_like = false;
                ++p;
                continue;
            case '(':
                ++p;  // "(SELECT ...)"
                continue;
            default:
                break;
        }
        if (is_ident_start(c)) {
            if (p + 1 < end && p[1] == '\'') {
                // E'..' (backslash escapes), B'..', X'..', N'..' literals.
                const char l = lower(static_cast<char>(c));
                if (l == 'e' || l == 'b' || l == 'x' || l == 'n') {
                    bool backslash = false;
                    p = skip_literal(p + 2, end, l == 'e', backslash);
                    if (p == nullptr || at_start || (backslash && l != 'e')) return true;
                    continue;
                }
            }
            if (lower(static_cast<char>(c)) == 'u' && p + 1 < end && p[1] == '&') {
                return true;  // U&'...' / U&"..." with escapes: unsure
            }
            if (word_matters()) return true;
            continue;
        }
        if (at_start) return true;  // a statement starting with a number or operator
        ++p;
    }
    return false;
}

namespace {
bool draws_word(const char* w, std::size_t n) noexcept {
    return (n == 6 && eq(w, "insert")) || (n == 4 && eq(w, "copy")) || (n == 5 && eq(w, "merge"));
}
}  // namespace

bool may_draw_from_sequences(std::string_view sql) noexcept {
    const char* p = sql.data();
    const char* const end = p + sql.size();
    // The first word, after blanks and comments.
    for (;;) {
        while (p < end && (cls(*p) & kSpace) != 0) ++p;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
            p = nl ? static_cast<const char*>(nl) : end;
        } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            p = skip_block_comment(p, end);
            if (p == nullptr) return true;
        } else {
            break;
        }
    }
    const char* w = p;
    while (p < end && is_ident_cont(static_cast<unsigned char>(*p))) ++p;
    const auto n = static_cast<std::size_t>(p - w);
    if (draws_word(w, n)) return true;
    const bool with = n == 4 && eq(w, "with");
    // A trailing ';' (pgbench, psql) starts no other statement.
    const char* last = end;
    while (last > p && ((cls(last[-1]) & kSpace) != 0 || last[-1] == ';')) --last;
    if (!with && std::memchr(p, ';', static_cast<std::size_t>(last - p)) == nullptr) return false;
    // WITH ... INSERT, or several statements: any such word anywhere.
    while (p < end) {
        if (!is_ident_start(static_cast<unsigned char>(*p))) {
            ++p;
            continue;
        }
        w = p;
        while (p < end && is_ident_cont(static_cast<unsigned char>(*p))) ++p;
        if (draws_word(w, static_cast<std::size_t>(p - w))) return true;
    }
    return false;
}

}  // namespace pgmux::parser
