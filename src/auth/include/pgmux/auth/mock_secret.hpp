#pragma once

// PostgreSQL's "mock authentication": for a user that does not exist (or has
// no usable SCRAM secret) the server still runs a full SCRAM exchange with a
// salt derived from the user name and a per-process random nonce, so the salt
// a probing client sees is stable per user name and indistinguishable from a
// real one, and the exchange fails only at the proof.

#include <string_view>

#include "pgmux/auth/secret.hpp"

namespace pgmux::auth {

class MockScramSecrets {
  public:
    // Draws the process-wide random nonce; create once at startup and share
    // (read-only, safe across threads).
    [[nodiscard]] static Result<MockScramSecrets> create();

    // A verifier no password matches: salt = first 16 bytes of
    // SHA-256(user || nonce) (PostgreSQL's scram_mock_salt), random keys.
    [[nodiscard]] Result<ScramVerifier> verifier_for(std::string_view user) const;

  private:
    MockScramSecrets() = default;
    Sha256Digest nonce_{};
};

}  // namespace pgmux::auth
