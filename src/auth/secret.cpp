#include "pgmux/auth/secret.hpp"

#include <charconv>
#include <climits>

#include "pgmux/auth/scram_keys.hpp"

namespace pgmux::auth {

namespace {

constexpr std::string_view kScramPrefix = "SCRAM-SHA-256$";

bool is_md5_hash(std::string_view text) {
    if (text.size() != 35 || text.substr(0, 3) != "md5") return false;
    for (char c : text.substr(3)) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

// Splits `text` at the first `separator`; false if there is none.
bool split_once(std::string_view text, char separator, std::string_view& left,
                std::string_view& right) {
    const auto pos = text.find(separator);
    if (pos == std::string_view::npos) return false;
    left = text.substr(0, pos);
    right = text.substr(pos + 1);
    return true;
}

bool decode_key(std::string_view text, Sha256Digest& out) {
    auto decoded = base64_decode(text);
    if (!decoded || decoded->size() != out.size()) return false;
    std::copy(decoded->begin(), decoded->end(), out.begin());
    return true;
}

}  // namespace

Secret Secret::plaintext(std::string password) {
    return Secret(SecretKind::plaintext, std::move(password), {});
}
Secret Secret::md5(std::string hash) {
    return Secret(SecretKind::md5, std::move(hash), {});
}
Secret Secret::scram(ScramVerifier verifier) {
    return Secret(SecretKind::scram_sha_256, {}, std::move(verifier));
}

Secret::~Secret() {
    crypto::cleanse(text_);
    crypto::cleanse(verifier_.stored_key);
    crypto::cleanse(verifier_.server_key);
}

Result<ScramVerifier> parse_scram_verifier(std::string_view text) {
    if (text.substr(0, kScramPrefix.size()) != kScramPrefix) return AuthError::invalid_secret;
    std::string_view params, keys, iterations_text, salt_text, stored_text, server_text;
    if (!split_once(text.substr(kScramPrefix.size()), '$', params, keys) ||
        !split_once(params, ':', iterations_text, salt_text) ||
        !split_once(keys, ':', stored_text, server_text)) {
        return AuthError::invalid_secret;
    }
    ScramVerifier verifier;
    const auto* end = iterations_text.data() + iterations_text.size();
    const auto [ptr, ec] = std::from_chars(iterations_text.data(), end, verifier.iterations);
    if (ec != std::errc{} || ptr != end || verifier.iterations < 1)
        return AuthError::invalid_secret;
    auto salt = base64_decode(salt_text);
    if (!salt || salt->empty()) return AuthError::invalid_secret;
    verifier.salt = std::move(*salt);
    if (!decode_key(stored_text, verifier.stored_key) ||
        !decode_key(server_text, verifier.server_key)) {
        return AuthError::invalid_secret;
    }
    return verifier;
}

std::string format_scram_verifier(const ScramVerifier& verifier) {
    std::string out(kScramPrefix);
    out += std::to_string(verifier.iterations);
    out += ':';
    out += base64_encode(verifier.salt);
    out += '$';
    out += base64_encode(verifier.stored_key);
    out += ':';
    out += base64_encode(verifier.server_key);
    return out;
}

Result<Secret> parse_secret(std::string_view text) {
    if (is_md5_hash(text)) return Secret::md5(std::string(text));
    if (text.substr(0, kScramPrefix.size()) == kScramPrefix) {
        auto verifier = parse_scram_verifier(text);
        if (!verifier) return verifier.error();
        return Secret::scram(std::move(*verifier));
    }
    return Secret::plaintext(std::string(text));
}

Result<ScramVerifier> build_scram_verifier(std::string_view password, ByteView salt,
                                           int iterations) {
    if (salt.empty() || iterations < 1) return AuthError::invalid_secret;
    auto salted = scram_salted_password(password, salt, iterations);
    if (!salted) return salted.error();
    auto client_key = scram_client_key(*salted);
    auto server_key = scram_server_key(*salted);
    crypto::cleanse(*salted);
    if (!client_key || !server_key) return AuthError::crypto_failure;
    auto stored_key = scram_stored_key(*client_key);
    crypto::cleanse(*client_key);
    if (!stored_key) return stored_key.error();
    ScramVerifier verifier;
    verifier.iterations = iterations;
    verifier.salt.assign(salt.begin(), salt.end());
    verifier.stored_key = *stored_key;
    verifier.server_key = *server_key;
    return verifier;
}

Result<ScramVerifier> build_scram_verifier_random_salt(std::string_view password, int iterations) {
    Bytes salt(kDefaultSaltLength);
    if (auto rc = crypto::random_bytes(salt); !rc) return rc.error();
    return build_scram_verifier(password, salt, iterations);
}

std::string_view to_string(SecretKind kind) noexcept {
    switch (kind) {
        case SecretKind::plaintext:
            return "plaintext";
        case SecretKind::md5:
            return "md5";
        case SecretKind::scram_sha_256:
            return "scram-sha-256";
    }
    return "unknown";
}

}  // namespace pgmux::auth
