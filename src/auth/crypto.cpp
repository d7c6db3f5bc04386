#include "pgmux/auth/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <climits>
#include <string>

namespace pgmux::auth::crypto {

namespace {

Result<Sha256Digest> one_shot_digest(const EVP_MD* md, ByteView data) {
    Sha256Digest out{};
    unsigned int length = 0;
    if (md == nullptr ||
        EVP_Digest(data.data(), data.size(), out.data(), &length, md, nullptr) != 1 ||
        length != out.size()) {
        return AuthError::crypto_failure;
    }
    return out;
}

}  // namespace

Result<Sha256Digest> sha256(ByteView data) {
    return one_shot_digest(EVP_sha256(), data);
}

Result<Sha256Digest> hmac_sha256(ByteView key, ByteView data) {
    Sha256Digest out{};
    unsigned int length = 0;
    if (key.size() > INT_MAX) return AuthError::crypto_failure;
    // HMAC() tolerates a null key pointer only with length 0; give it a valid one.
    static const std::uint8_t empty_key = 0;
    const std::uint8_t* key_data = key.empty() ? &empty_key : key.data();
    if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), data.data(), data.size(),
             out.data(), &length) == nullptr ||
        length != out.size()) {
        return AuthError::crypto_failure;
    }
    return out;
}

Result<Sha256Digest> pbkdf2_hmac_sha256(ByteView password, ByteView salt, int iterations) {
    Sha256Digest out{};
    if (iterations < 1 || password.size() > INT_MAX || salt.size() > INT_MAX) {
        return AuthError::crypto_failure;
    }
    static const char empty = 0;
    const char* pass = password.empty() ? &empty : reinterpret_cast<const char*>(password.data());
    if (PKCS5_PBKDF2_HMAC(pass, static_cast<int>(password.size()), salt.data(),
                          static_cast<int>(salt.size()), iterations, EVP_sha256(),
                          static_cast<int>(out.size()), out.data()) != 1) {
        return AuthError::crypto_failure;
    }
    return out;
}

Result<std::string> md5_hex(ByteView data) {
    std::array<std::uint8_t, 16> raw{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), raw.data(), &length, EVP_md5(), nullptr) != 1 ||
        length != raw.size()) {
        return AuthError::crypto_failure;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex(32, '0');
    for (std::size_t i = 0; i < raw.size(); ++i) {
        hex[2 * i] = kHex[raw[i] >> 4];
        hex[2 * i + 1] = kHex[raw[i] & 0x0f];
    }
    return hex;
}

Result<Bytes> digest(std::string_view digest_name, ByteView data) {
    const std::string name(digest_name);
    EVP_MD* md = EVP_MD_fetch(nullptr, name.c_str(), nullptr);
    if (md == nullptr) return AuthError::crypto_failure;
    Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
    unsigned int length = 0;
    const int rc = EVP_Digest(data.data(), data.size(), out.data(), &length, md, nullptr);
    EVP_MD_free(md);
    if (rc != 1 || length != out.size()) return AuthError::crypto_failure;
    return out;
}

Status random_bytes(std::span<std::uint8_t> out) {
    if (out.size() > INT_MAX || RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        return AuthError::crypto_failure;
    }
    return Done{};
}

bool equal_constant_time(ByteView a, ByteView b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(void* data, std::size_t length) noexcept {
    if (data != nullptr && length != 0) OPENSSL_cleanse(data, length);
}

Sha256Digest xor_digests(const Sha256Digest& a, const Sha256Digest& b) noexcept {
    Sha256Digest out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
    return out;
}

}  // namespace pgmux::auth::crypto
