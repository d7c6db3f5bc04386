#pragma once

// PostgreSQL's MD5 password method: the stored hash is
// "md5" + md5(password || user), the wire response for a 4-byte salt is
// "md5" + md5(hex_of_stored_hash || salt).

#include <array>
#include <string>
#include <string_view>

#include "pgmux/auth/secret.hpp"

namespace pgmux::auth {

using Md5Salt = std::array<std::uint8_t, 4>;

[[nodiscard]] Result<Md5Salt> generate_md5_salt();

// "md5" + md5(password || user), what CREATE ROLE stores under md5 encryption.
[[nodiscard]] Result<std::string> md5_password_hash(std::string_view password,
                                                    std::string_view user);
// The response for a stored hash ("md5" + 32 hex digits) and salt.
[[nodiscard]] Result<std::string> md5_salted_response(std::string_view md5_hash,
                                                      const Md5Salt& salt);

// Client side: the PasswordMessage contents from a plaintext or MD5 secret.
// A SCRAM verifier cannot produce one (secret_unusable).
[[nodiscard]] Result<std::string> md5_client_response(const Secret& secret, std::string_view user,
                                                      const Md5Salt& salt);

// Server side. `secret` null means unknown user. Returns Done only for a
// correct response; every other case, including unknown users and SCRAM
// secrets (PostgreSQL switches such users to SCRAM; do that before calling),
// is authentication_failed after the same amount of hashing.
[[nodiscard]] Status verify_md5_response(const Secret* secret, std::string_view user,
                                         const Md5Salt& salt, std::string_view response);

}  // namespace pgmux::auth
