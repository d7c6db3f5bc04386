#pragma once

// Stored secrets as PostgreSQL (pg_authid.rolpassword) and PgBouncer's
// auth_file keep them: a plaintext password, "md5" + 32 hex digits, or a
// SCRAM-SHA-256 verifier "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>".

#include <string>
#include <string_view>

#include "pgmux/auth/crypto.hpp"

namespace pgmux::auth {

inline constexpr int kDefaultScramIterations = 4096;   // PostgreSQL 15's fixed value
inline constexpr std::size_t kDefaultSaltLength = 16;  // PostgreSQL's SCRAM_DEFAULT_SALT_LEN

struct ScramVerifier {
    int iterations = kDefaultScramIterations;
    Bytes salt;
    Sha256Digest stored_key{};
    Sha256Digest server_key{};

    friend bool operator==(const ScramVerifier&, const ScramVerifier&) = default;
};

enum class SecretKind { plaintext, md5, scram_sha_256 };

class Secret {
  public:
    [[nodiscard]] static Secret plaintext(std::string password);
    // `hash` must already be "md5" + 32 lowercase hex digits (see parse_secret).
    [[nodiscard]] static Secret md5(std::string hash);
    [[nodiscard]] static Secret scram(ScramVerifier verifier);

    Secret(const Secret&) = default;
    Secret(Secret&&) noexcept = default;
    Secret& operator=(const Secret&) = default;
    Secret& operator=(Secret&&) noexcept = default;
    ~Secret();

    [[nodiscard]] SecretKind kind() const noexcept { return kind_; }
    // The plaintext password (kind plaintext) or "md5..." (kind md5).
    [[nodiscard]] const std::string& text() const noexcept { return text_; }
    // Only meaningful for kind scram_sha_256.
    [[nodiscard]] const ScramVerifier& verifier() const noexcept { return verifier_; }

  private:
    Secret(SecretKind kind, std::string text, ScramVerifier verifier)
        : kind_(kind), text_(std::move(text)), verifier_(std::move(verifier)) {}

    SecretKind kind_;
    std::string text_;
    ScramVerifier verifier_;
};

// Classifies a stored secret the way PostgreSQL's get_password_type does:
// "md5" + 32 lowercase hex digits is an MD5 hash, a string starting with
// "SCRAM-SHA-256$" is a verifier, anything else is a plaintext password.
// Unlike PostgreSQL, a string that starts like a verifier but does not parse
// is rejected (invalid_secret) instead of silently becoming a plaintext
// password, so that a typo in the auth file shows up at load time.
[[nodiscard]] Result<Secret> parse_secret(std::string_view text);

[[nodiscard]] Result<ScramVerifier> parse_scram_verifier(std::string_view text);
[[nodiscard]] std::string format_scram_verifier(const ScramVerifier& verifier);

// Derives a verifier from a password (SASLprep'd as PostgreSQL does) with the
// given salt and iteration count.
[[nodiscard]] Result<ScramVerifier> build_scram_verifier(std::string_view password, ByteView salt,
                                                         int iterations = kDefaultScramIterations);
// Same with a fresh random salt of kDefaultSaltLength bytes.
[[nodiscard]] Result<ScramVerifier> build_scram_verifier_random_salt(
    std::string_view password, int iterations = kDefaultScramIterations);

[[nodiscard]] std::string_view to_string(SecretKind kind) noexcept;

}  // namespace pgmux::auth
