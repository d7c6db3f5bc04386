#include "pgmux/auth/scram_keys.hpp"

#include "pgmux/auth/saslprep.hpp"

namespace pgmux::auth {

Result<Sha256Digest> scram_salted_password(std::string_view password, ByteView salt,
                                           int iterations) {
    std::string prepared = saslprep_or_raw(password);
    auto salted = crypto::pbkdf2_hmac_sha256(as_bytes(prepared), salt, iterations);
    crypto::cleanse(prepared);
    return salted;
}

Result<Sha256Digest> scram_client_key(const Sha256Digest& salted_password) {
    return crypto::hmac_sha256(salted_password, as_bytes("Client Key"));
}

Result<Sha256Digest> scram_server_key(const Sha256Digest& salted_password) {
    return crypto::hmac_sha256(salted_password, as_bytes("Server Key"));
}

Result<Sha256Digest> scram_stored_key(const Sha256Digest& client_key) {
    return crypto::sha256(client_key);
}

}  // namespace pgmux::auth
