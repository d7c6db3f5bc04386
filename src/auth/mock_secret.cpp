#include "pgmux/auth/mock_secret.hpp"

#include <string>

namespace pgmux::auth {

Result<MockScramSecrets> MockScramSecrets::create() {
    MockScramSecrets secrets;
    if (auto rc = crypto::random_bytes(secrets.nonce_); !rc) return rc.error();
    return secrets;
}

Result<ScramVerifier> MockScramSecrets::verifier_for(std::string_view user) const {
    std::string input(user);
    input.append(reinterpret_cast<const char*>(nonce_.data()), nonce_.size());
    auto digest = crypto::sha256(as_bytes(input));
    crypto::cleanse(input);
    if (!digest) return digest.error();
    ScramVerifier verifier;
    verifier.iterations = kDefaultScramIterations;
    verifier.salt.assign(digest->begin(), digest->begin() + kDefaultSaltLength);
    // Random keys: no proof can match a StoredKey nobody knows, and the
    // ScramServer additionally refuses a mock exchange regardless.
    if (auto rc = crypto::random_bytes(verifier.stored_key); !rc) return rc.error();
    if (auto rc = crypto::random_bytes(verifier.server_key); !rc) return rc.error();
    return verifier;
}

}  // namespace pgmux::auth
