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
    // Needs no action inside a statement: blanks, digits and every operator or punctuation
    // byte other than the ones that can open a comment, a literal or a quoted name, or end
    // the statement.
    kInert = 16,
    // Letters that start a word that matters after a statement's first word: the state
    // functions (setval, nextval, currval, lastval, set_config, pg_advisory_*) and INTO.
    kKeyStart = 32,
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
        const bool opens_something =
            c == '-' || c == '/' || c == '\'' || c == '"' || c == '$' || c == ';';
        if (!letter && !opens_something) t[c] |= kInert;
        const int l = c | 0x20;
        if (letter && c < 0x80 &&
            (l == 's' || l == 'n' || l == 'c' || l == 'l' || l == 'p' || l == 'i')) {
            t[c] |= kKeyStart;
        }
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

// Case-insensitive comparison of [p, p + lit.size()) with a lower-case literal of letters
// and '_'. Setting bit 0x20 folds ASCII letters to lower case; the only other byte it makes
// equal to a literal's byte is DEL (as '_'), which no unquoted word holds and which at worst
// makes a quoted name a candidate: safe.
inline bool eq(const char* p, std::string_view lit) noexcept {
    for (std::size_t i = 0; i < lit.size(); ++i) {
        if ((static_cast<unsigned char>(p[i]) | 0x20) !=
            (static_cast<unsigned char>(lit[i]) | 0x20)) {
            return false;
        }
    }
    return true;
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

// What a statement's first word says. Statements starting with a harmless word change no
// session state by themselves; select-like ones create a table when they hold INTO.
enum class Opening { kNone, kHarmless, kSelectLike, kCandidate };

Opening judge_first_word(const char* w, std::size_t n) noexcept {
    switch (n) {
        case 4:
            if (eq(w, "with")) return Opening::kSelectLike;
            return eq(w, "show") || eq(w, "copy") || eq(w, "move") ? Opening::kHarmless
                                                                   : Opening::kCandidate;
        case 5:
            if (eq(w, "table")) return Opening::kSelectLike;
            return eq(w, "fetch") || eq(w, "merge") ? Opening::kHarmless : Opening::kCandidate;
        case 6:
            if (eq(w, "select") || eq(w, "values")) return Opening::kSelectLike;
            return eq(w, "insert") || eq(w, "update") || eq(w, "delete") || eq(w, "notify")
                       ? Opening::kHarmless
                       : Opening::kCandidate;
        default:
            return Opening::kCandidate;  // also E'..', U&"..": a one-letter word
    }
}

// Skips blanks, comments, '(' and empty statements to the statement's first word and judges
// it; `p` moves past the word. (The scanners take positions by value and hand them back so
// that they stay in registers.)
Opening read_opening(const char*& p_out, const char* end) noexcept {
    const char* p = p_out;
    for (;;) {
        while (p < end && ((cls(*p) & kSpace) != 0 || *p == '(' || *p == ';')) ++p;
        if (p == end) return Opening::kNone;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
            p = nl ? static_cast<const char*>(nl) : end;
        } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
            p = skip_block_comment(p, end);
            if (p == nullptr) return Opening::kCandidate;
        } else {
            break;
        }
    }
    // A number, an operator, a literal or a quoted identifier: unsure.
    if ((cls(*p) & kIdentStart) == 0) return Opening::kCandidate;
    const char* w = p;
    do ++p;
    while (p < end && (cls(*p) & kIdentCont) != 0);
    p_out = p;
    return judge_first_word(w, static_cast<std::size_t>(p - w));
}

// Scans the rest of a statement after a harmless first word. Returns the position after its
// ';' (or the end), or nullptr when something in it may touch session state, or when unsure.
const char* skip_harmless_body(const char* p, const char* end, bool select_like) noexcept {
    while (p < end) {
        const unsigned char c = static_cast<unsigned char>(*p);
        const unsigned char k = kClasses[c];
        if ((k & kInert) != 0) {  // blanks, digits, most operators: the common bytes
            ++p;
            continue;
        }
        if ((k & kIdentStart) != 0) {
            const char* w = p;
            do ++p;
            while (p < end && (kClasses[static_cast<unsigned char>(*p)] & kIdentCont) != 0);
            const auto n = static_cast<std::size_t>(p - w);
            if (n >= 4) {
                // Every word that matters is 4 letters or longer ("into").
                if ((k & kKeyStart) != 0 &&
                    (state_function(w, n) || (select_like && n == 4 && eq(w, "into")))) {
                    return nullptr;
                }
            } else if (n == 1 && p < end && (*p == '\'' || *p == '&')) {
                const char l = lower(static_cast<char>(c));
                if (*p == '&') {
                    if (l == 'u') return nullptr;  // U&'...' / U&"..." with escapes: unsure
                } else if (l == 'e' || l == 'b' || l == 'x' || l == 'n') {
                    // E'..' (backslash escapes), B'..', X'..', N'..' literals.
                    bool backslash = false;
                    p = skip_literal(p + 1, end, l == 'e', backslash);
                    if (p == nullptr || (backslash && l != 'e')) return nullptr;
                }
            }
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
                    if (p == nullptr) return nullptr;
                    continue;
                }
                break;
            case '\'': {
                // With standard_conforming_strings = off a backslash would end the literal
                // elsewhere than we think: unsure.
                bool backslash = false;
                p = skip_literal(p + 1, end, false, backslash);
                if (p == nullptr || backslash) return nullptr;
                continue;
            }
            case '"': {
                const char* close = static_cast<const char*>(
                    std::memchr(p + 1, '"', static_cast<std::size_t>(end - p - 1)));
                if (close == nullptr) return nullptr;
                if (state_function(p + 1, static_cast<std::size_t>(close - p - 1))) return nullptr;
                p = close + 1;  // "a""b" reads as two identifiers here; neither matters
                continue;
            }
            case '$':
                p = skip_dollar(p, end);
                if (p == nullptr) return nullptr;
                continue;
            case ';':
                return p + 1;
            default:
                break;
        }
        ++p;
    }
    return end;
}

}  // namespace

bool may_affect_session_state(std::string_view sql) noexcept {
    const char* p = sql.data();
    const char* const end = p + sql.size();
    for (;;) {
        switch (read_opening(p, end)) {
            case Opening::kNone:
                return false;
            case Opening::kCandidate:
                return true;
            case Opening::kHarmless:
                p = skip_harmless_body(p, end, false);
                if (p == nullptr) return true;
                break;
            case Opening::kSelectLike:
                p = skip_harmless_body(p, end, true);
                if (p == nullptr) return true;
                break;
        }
    }
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
