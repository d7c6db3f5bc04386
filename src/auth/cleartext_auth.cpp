#include "pgmux/auth/cleartext_auth.hpp"

#include "pgmux/auth/md5_auth.hpp"
#include "pgmux/auth/scram_keys.hpp"

namespace pgmux::auth {

namespace {

Result<bool> matches_scram(const ScramVerifier& verifier, std::string_view password) {
    auto salted = scram_salted_password(password, verifier.salt, verifier.iterations);
    if (!salted) return salted.error();
    auto server_key = scram_server_key(*salted);
    crypto::cleanse(*salted);
    if (!server_key) return server_key.error();
    const bool match = crypto::equal_constant_time(*server_key, verifier.server_key);
    crypto::cleanse(*server_key);
    return match;
}

Result<bool> matches(const Secret& secret, std::string_view user, std::string_view password) {
    switch (secret.kind()) {
        case SecretKind::plaintext: {
            // Compare digests so that the comparison time does not depend on
            // the stored password's length.
            auto a = crypto::sha256(as_bytes(secret.text()));
            auto b = crypto::sha256(as_bytes(password));
            if (!a || !b) return AuthError::crypto_failure;
            return crypto::equal_constant_time(*a, *b);
        }
        case SecretKind::md5: {
            auto hash = md5_password_hash(password, user);
            if (!hash) return hash.error();
            const bool match =
                crypto::equal_constant_time(as_bytes(*hash), as_bytes(secret.text()));
            crypto::cleanse(*hash);
            return match;
        }
        case SecretKind::scram_sha_256:
            return matches_scram(secret.verifier(), password);
    }
    return false;
}

}  // namespace

Status verify_cleartext(const Secret* secret, std::string_view user, std::string_view password) {
    if (secret == nullptr) {
        // Unknown user: spend comparable effort, then fail like a wrong password.
        static const Secret kStandIn = Secret::md5("md5" + std::string(32, '0'));
        (void)matches(kStandIn, user, password);
        return AuthError::authentication_failed;
    }
    auto result = matches(*secret, user, password);
    if (!result) return result.error();
    if (!*result || password.empty()) return AuthError::authentication_failed;
    return Done{};
}

}  // namespace pgmux::auth
