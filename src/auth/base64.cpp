#include <openssl/evp.h>

#include <climits>

#include "pgmux/auth/crypto.hpp"

namespace pgmux::auth {

std::string base64_encode(ByteView data) {
    if (data.empty()) return {};
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                        static_cast<int>(data.size()));
    out.resize(written > 0 ? static_cast<std::size_t>(written) : 0);
    return out;
}

namespace {

bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

}  // namespace

std::optional<Bytes> base64_decode(std::string_view text) {
    if (text.empty()) return Bytes{};
    if (text.size() % 4 != 0 || text.size() > INT_MAX) return std::nullopt;
    // EVP_DecodeBlock skips whitespace and does not report padding; validate
    // first so that only canonical base64 is accepted.
    std::size_t padding = 0;
    if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    for (std::size_t i = 0; i < text.size() - padding; ++i) {
        if (!is_base64_char(text[i])) return std::nullopt;
    }
    Bytes out(text.size() / 4 * 3);
    const int decoded =
        EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                        static_cast<int>(text.size()));
    if (decoded < 0 || static_cast<std::size_t>(decoded) != out.size()) return std::nullopt;
    out.resize(out.size() - padding);
    return out;
}

}  // namespace pgmux::auth
