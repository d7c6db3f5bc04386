#pragma once

// Server side of PostgreSQL's "password" (cleartext) method: the client sends
// its password in a PasswordMessage and pgmux checks it against whatever
// secret it holds.

#include <string_view>

#include "pgmux/auth/secret.hpp"

namespace pgmux::auth {

// `secret` null means unknown user. Plaintext secrets compare in constant
// time, MD5 secrets by hashing with the user name, SCRAM verifiers by deriving
// the ServerKey with the verifier's salt (as PostgreSQL's
// scram_verify_plain_password). Empty passwords never match. Every failure is
// authentication_failed.
[[nodiscard]] Status verify_cleartext(const Secret* secret, std::string_view user,
                                      std::string_view password);

}  // namespace pgmux::auth
