#include "pgmux/auth/md5_auth.hpp"

namespace pgmux::auth {

Result<Md5Salt> generate_md5_salt() {
    Md5Salt salt{};
    if (auto rc = crypto::random_bytes(salt); !rc) return rc.error();
    return salt;
}

Result<std::string> md5_password_hash(std::string_view password, std::string_view user) {
    std::string input;
    input.reserve(password.size() + user.size());
    input.append(password).append(user);
    auto hex = crypto::md5_hex(as_bytes(input));
    crypto::cleanse(input);
    if (!hex) return hex.error();
    return "md5" + *hex;
}

Result<std::string> md5_salted_response(std::string_view md5_hash, const Md5Salt& salt) {
    if (md5_hash.size() != 35 || md5_hash.substr(0, 3) != "md5") return AuthError::invalid_secret;
    std::string input(md5_hash.substr(3));
    input.append(reinterpret_cast<const char*>(salt.data()), salt.size());
    auto hex = crypto::md5_hex(as_bytes(input));
    crypto::cleanse(input);
    if (!hex) return hex.error();
    return "md5" + *hex;
}

Result<std::string> md5_client_response(const Secret& secret, std::string_view user,
                                        const Md5Salt& salt) {
    switch (secret.kind()) {
        case SecretKind::md5:
            return md5_salted_response(secret.text(), salt);
        case SecretKind::plaintext: {
            auto hash = md5_password_hash(secret.text(), user);
            if (!hash) return hash.error();
            auto response = md5_salted_response(*hash, salt);
            crypto::cleanse(*hash);
            return response;
        }
        case SecretKind::scram_sha_256:
            break;
    }
    return AuthError::secret_unusable;
}

Status verify_md5_response(const Secret* secret, std::string_view user, const Md5Salt& salt,
                           std::string_view response) {
    // Unusable secrets still hash a stand-in so the failure path costs the same.
    static const Secret kStandIn = Secret::plaintext("pgmux-md5-stand-in");
    const bool usable = secret != nullptr && secret->kind() != SecretKind::scram_sha_256;
    auto expected = md5_client_response(usable ? *secret : kStandIn, user, salt);
    if (!expected) return expected.error();
    const bool match = crypto::equal_constant_time(as_bytes(*expected), as_bytes(response));
    crypto::cleanse(*expected);
    if (!usable || !match) return AuthError::authentication_failed;
    return Done{};
}

}  // namespace pgmux::auth
