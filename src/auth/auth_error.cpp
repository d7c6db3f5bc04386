#include "pgmux/auth/auth_error.hpp"

namespace pgmux::auth {

std::string_view describe(AuthError error) noexcept {
    switch (error) {
        case AuthError::authentication_failed:
            return "authentication failed";
        case AuthError::malformed_message:
            return "malformed authentication message";
        case AuthError::message_too_long:
            return "authentication message too long";
        case AuthError::unsupported_mechanism:
            return "unsupported SASL mechanism";
        case AuthError::unsupported_extension:
            return "unsupported SCRAM extension or authorization identity";
        case AuthError::channel_binding_mismatch:
            return "SCRAM channel binding negotiation error";
        case AuthError::nonce_mismatch:
            return "SCRAM nonce does not match";
        case AuthError::wrong_state:
            return "authentication step called out of order";
        case AuthError::server_signature_mismatch:
            return "server SCRAM signature is invalid";
        case AuthError::server_reported_error:
            return "server reported a SCRAM error";
        case AuthError::invalid_server_parameters:
            return "server sent unacceptable SCRAM parameters";
        case AuthError::channel_binding_unavailable:
            return "channel binding required but not available";
        case AuthError::secret_unusable:
            return "stored secret cannot be used with this authentication method";
        case AuthError::invalid_secret:
            return "stored secret is malformed";
        case AuthError::crypto_failure:
            return "cryptographic library failure";
    }
    return "unknown authentication error";
}

std::string_view sqlstate(AuthError error) noexcept {
    switch (error) {
        case AuthError::authentication_failed:
            return "28P01";
        case AuthError::malformed_message:
        case AuthError::message_too_long:
        case AuthError::unsupported_mechanism:
        case AuthError::unsupported_extension:
        case AuthError::channel_binding_mismatch:
        case AuthError::nonce_mismatch:
        case AuthError::server_signature_mismatch:
        case AuthError::server_reported_error:
        case AuthError::invalid_server_parameters:
        case AuthError::channel_binding_unavailable:
            return "08P01";
        case AuthError::wrong_state:
        case AuthError::secret_unusable:
        case AuthError::invalid_secret:
        case AuthError::crypto_failure:
            return "XX000";
    }
    return "XX000";
}

}  // namespace pgmux::auth
