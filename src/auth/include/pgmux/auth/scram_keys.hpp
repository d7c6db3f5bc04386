#pragma once

// The key schedule of RFC 5802 section 3 with SHA-256 (RFC 7677):
//   SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, i)
//   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey)
//   ServerKey = HMAC(SaltedPassword, "Server Key")

#include "pgmux/auth/crypto.hpp"

namespace pgmux::auth {

[[nodiscard]] Result<Sha256Digest> scram_salted_password(std::string_view password, ByteView salt,
                                                         int iterations);
[[nodiscard]] Result<Sha256Digest> scram_client_key(const Sha256Digest& salted_password);
[[nodiscard]] Result<Sha256Digest> scram_server_key(const Sha256Digest& salted_password);
[[nodiscard]] Result<Sha256Digest> scram_stored_key(const Sha256Digest& client_key);

}  // namespace pgmux::auth
