#include "pgmux/auth/saslprep.hpp"

#include <algorithm>
#include <optional>

#include "pgmux/auth/crypto.hpp"
#include "unicode_data.hpp"

namespace pgmux::auth {

namespace {

using unicode::CodepointRange;

bool in_table(char32_t code, std::span<const CodepointRange> table) {
    auto it = std::upper_bound(table.begin(), table.end(), code,
                               [](char32_t c, const CodepointRange& r) { return c < r.first; });
    return it != table.begin() && code <= std::prev(it)->last;
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
std::optional<std::u32string> decode_utf8(std::string_view input) {
    std::u32string out;
    out.reserve(input.size());
    std::size_t i = 0;
    while (i < input.size()) {
        const auto b0 = static_cast<unsigned char>(input[i]);
        int length = 0;
        char32_t code = 0;
        char32_t minimum = 0;
        if (b0 < 0x80) {
            length = 1, code = b0;
        } else if ((b0 & 0xE0) == 0xC0) {
            length = 2, code = b0 & 0x1F, minimum = 0x80;
        } else if ((b0 & 0xF0) == 0xE0) {
            length = 3, code = b0 & 0x0F, minimum = 0x800;
        } else if ((b0 & 0xF8) == 0xF0) {
            length = 4, code = b0 & 0x07, minimum = 0x10000;
        } else {
            return std::nullopt;
        }
        if (i + length > input.size()) return std::nullopt;
        for (int k = 1; k < length; ++k) {
            const auto b = static_cast<unsigned char>(input[i + k]);
            if ((b & 0xC0) != 0x80) return std::nullopt;
            code = (code << 6) | (b & 0x3F);
        }
        if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return std::nullopt;
        }
        out.push_back(code);
        i += length;
    }
    return out;
}

void append_utf8(std::string& out, char32_t code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

// Hangul syllables decompose and compose algorithmically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

std::uint8_t combining_class(char32_t code) {
    const auto table = unicode::combining_classes;
    auto it =
        std::lower_bound(table.begin(), table.end(), code,
                         [](const unicode::CombiningClass& e, char32_t c) { return e.code < c; });
    return it != table.end() && it->code == code ? it->value : 0;
}

void decompose(char32_t code, std::u32string& out) {
    if (code >= kSBase && code < kSBase + kSCount) {
        const char32_t index = code - kSBase;
        out.push_back(kLBase + index / kNCount);
        out.push_back(kVBase + (index % kNCount) / kTCount);
        if (index % kTCount != 0) out.push_back(kTBase + index % kTCount);
        return;
    }
    const auto table = unicode::decompositions;
    auto it =
        std::lower_bound(table.begin(), table.end(), code,
                         [](const unicode::Decomposition& e, char32_t c) { return e.code < c; });
    if (it == table.end() || it->code != code) {
        out.push_back(code);
        return;
    }
    const auto data = unicode::decomposition_data.subspan(it->offset, it->length);
    out.append(data.begin(), data.end());
}

std::optional<char32_t> compose_pair(char32_t first, char32_t second) {
    if (first >= kLBase && first < kLBase + kLCount && second >= kVBase &&
        second < kVBase + kVCount) {
        return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
    }
    if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
        second > kTBase && second < kTBase + kTCount) {
        return first + (second - kTBase);
    }
    const auto table = unicode::compositions;
    auto it = std::lower_bound(table.begin(), table.end(), std::pair{first, second},
                               [](const unicode::Composition& e, std::pair<char32_t, char32_t> k) {
                                   return std::pair{e.first, e.second} < k;
                               });
    if (it != table.end() && it->first == first && it->second == second) return it->composed;
    return std::nullopt;
}

void canonical_reorder(std::u32string& text) {
    std::size_t i = 0;
    while (i < text.size()) {
        if (combining_class(text[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < text.size() && combining_class(text[end]) != 0) ++end;
        std::stable_sort(text.begin() + i, text.begin() + end, [](char32_t a, char32_t b) {
            return combining_class(a) < combining_class(b);
        });
        i = end;
    }
}

std::u32string canonical_compose(const std::u32string& text) {
    std::u32string out;
    if (text.empty()) return out;
    out.push_back(text[0]);
    std::size_t starter_pos = 0;
    int last_class = combining_class(text[0]) == 0 ? 0 : 256;
    for (std::size_t i = 1; i < text.size(); ++i) {
        const char32_t code = text[i];
        const int code_class = combining_class(code);
        const auto composite =
            last_class == 256 ? std::nullopt : compose_pair(out[starter_pos], code);
        if (composite && (last_class < code_class || last_class == 0)) {
            out[starter_pos] = *composite;
            continue;
        }
        if (code_class == 0) starter_pos = out.size();
        last_class = code_class;
        out.push_back(code);
    }
    return out;
}

}  // namespace

std::u32string nfkc(std::u32string_view input) {
    std::u32string decomposed;
    decomposed.reserve(input.size());
    for (char32_t code : input) decompose(code, decomposed);
    canonical_reorder(decomposed);
    return canonical_compose(decomposed);
}

SaslprepOutcome saslprep(std::string_view input) {
    const bool ascii = std::all_of(input.begin(), input.end(),
                                   [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) return {SaslprepStatus::ok, std::string(input)};

    auto decoded = decode_utf8(input);
    if (!decoded) return {SaslprepStatus::invalid_utf8, {}};

    // 1) Map.
    std::u32string mapped;
    mapped.reserve(decoded->size());
    for (char32_t code : *decoded) {
        if (in_table(code, unicode::non_ascii_space)) {
            mapped.push_back(U' ');
        } else if (!in_table(code, unicode::mapped_to_nothing)) {
            mapped.push_back(code);
        }
    }
    crypto::cleanse(decoded->data(), decoded->size() * sizeof(char32_t));
    if (mapped.empty()) return {SaslprepStatus::prohibited, {}};  // no empty passwords

    // 2) Normalise.
    std::u32string normalised = nfkc(mapped);

    // 3) Prohibit and 4) bidi, on the mapped input as PostgreSQL does.
    SaslprepStatus status = SaslprepStatus::ok;
    bool has_rand_al = false;
    for (char32_t code : mapped) {
        if (in_table(code, unicode::prohibited_output) || in_table(code, unicode::unassigned)) {
            status = SaslprepStatus::prohibited;
        }
        has_rand_al = has_rand_al || in_table(code, unicode::rand_al_cat);
    }
    if (status == SaslprepStatus::ok && has_rand_al) {
        const bool any_l = std::any_of(mapped.begin(), mapped.end(),
                                       [](char32_t c) { return in_table(c, unicode::l_cat); });
        if (any_l || !in_table(mapped.front(), unicode::rand_al_cat) ||
            !in_table(mapped.back(), unicode::rand_al_cat)) {
            status = SaslprepStatus::prohibited;
        }
    }

    SaslprepOutcome outcome{status, {}};
    if (status == SaslprepStatus::ok) {
        for (char32_t code : normalised) append_utf8(outcome.text, code);
    }
    crypto::cleanse(mapped.data(), mapped.size() * sizeof(char32_t));
    crypto::cleanse(normalised.data(), normalised.size() * sizeof(char32_t));
    return outcome;
}

std::string saslprep_or_raw(std::string_view password) {
    auto outcome = saslprep(password);
    if (outcome.status == SaslprepStatus::ok) return std::move(outcome.text);
    return std::string(password);
}

}  // namespace pgmux::auth
