#pragma once

// Thin wrappers over OpenSSL 3 libcrypto. Nothing here implements a primitive;
// it only adapts OpenSSL's C API to spans, fixed-size arrays and error values.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgmux/auth/auth_error.hpp"

namespace pgmux::auth {

inline constexpr std::size_t kSha256Length = 32;
using Sha256Digest = std::array<std::uint8_t, kSha256Length>;
using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

[[nodiscard]] inline ByteView as_bytes(std::string_view text) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}
[[nodiscard]] inline std::string_view as_text(ByteView bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

namespace crypto {

[[nodiscard]] Result<Sha256Digest> sha256(ByteView data);
[[nodiscard]] Result<Sha256Digest> hmac_sha256(ByteView key, ByteView data);
[[nodiscard]] Result<Sha256Digest> pbkdf2_hmac_sha256(ByteView password, ByteView salt,
                                                      int iterations);
// 32 lowercase hex characters, as PostgreSQL's md5() returns them.
[[nodiscard]] Result<std::string> md5_hex(ByteView data);
// Hash of a DER buffer with the digest OpenSSL knows by `digest_name`.
[[nodiscard]] Result<Bytes> digest(std::string_view digest_name, ByteView data);

// Cryptographically secure random bytes (RAND_bytes).
[[nodiscard]] Status random_bytes(std::span<std::uint8_t> out);

// Constant-time equality (CRYPTO_memcmp); different lengths compare unequal
// without leaking where they differ.
[[nodiscard]] bool equal_constant_time(ByteView a, ByteView b) noexcept;

// Overwrite memory that held key material (OPENSSL_cleanse).
void cleanse(void* data, std::size_t length) noexcept;
inline void cleanse(std::string& text) noexcept {
    cleanse(text.data(), text.size());
}
template <std::size_t N>
void cleanse(std::array<std::uint8_t, N>& bytes) noexcept {
    cleanse(bytes.data(), bytes.size());
}
inline void cleanse(Bytes& bytes) noexcept {
    cleanse(bytes.data(), bytes.size());
}

[[nodiscard]] Sha256Digest xor_digests(const Sha256Digest& a, const Sha256Digest& b) noexcept;

}  // namespace crypto

// Standard base64 with padding (RFC 4648), via EVP_EncodeBlock/EVP_DecodeBlock.
[[nodiscard]] std::string base64_encode(ByteView data);
// Strict decoding: the alphabet, padding only at the end, length a multiple of
// four. Returns nullopt for anything else.
[[nodiscard]] std::optional<Bytes> base64_decode(std::string_view text);

}  // namespace pgmux::auth
