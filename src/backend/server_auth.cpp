#include "backend/server_auth.h"

#include "pgmux/auth/auth_messages.hpp"
#include "pgmux/auth/crypto.hpp"
#include "pgmux/auth/md5_auth.hpp"

namespace pgmux::backend {

namespace {

using auth::AuthRequestCode;

std::string to_message(const auth::Bytes& bytes) {
    return std::string(auth::as_text(bytes));
}

ServerAuthError failure(std::string what) {
    return ServerAuthError{std::move(what)};
}

ServerAuthError failure(std::string_view what, auth::AuthError error) {
    return ServerAuthError{std::string(what) + ": " + std::string(auth::describe(error))};
}

}  // namespace

void LearnedCredentials::set_scram_keys(const auth::ScramPassThroughKeys& keys) {
    std::lock_guard lock(mu_);
    creds_.scram_keys = keys;
}

void LearnedCredentials::set_md5_hash(const std::string& hash) {
    std::lock_guard lock(mu_);
    if (creds_.md5_hash) auth::crypto::cleanse(*creds_.md5_hash);
    creds_.md5_hash = hash;
}

ServerCredentials LearnedCredentials::snapshot() const {
    std::lock_guard lock(mu_);
    return creds_;
}

ServerAuthenticator::ServerAuthenticator(std::string user, ServerCredentials credentials,
                                         auth::Bytes channel_binding)
    : user_(std::move(user)),
      credentials_(std::move(credentials)),
      channel_binding_(std::move(channel_binding)) {}

std::variant<ServerAuthenticator::Reply, ServerAuthError> ServerAuthenticator::on_request(
    std::string_view payload) {
    auto request = auth::parse_authentication_request(auth::as_bytes(payload));
    if (!request) {
        if (request.error() == auth::AuthError::unsupported_mechanism) {
            return failure("the server asked for an authentication method pgmux does not support");
        }
        return failure("malformed authentication request from the server", request.error());
    }
    switch (request->code) {
        case AuthRequestCode::ok:
            // A server that skips SCRAM's final message has not proved it
            // knows the verifier; refuse it like libpq does.
            if (scram_ && !scram_done_) {
                return failure("the server ended SCRAM authentication without proving itself");
            }
            return Reply{{}, true};
        case AuthRequestCode::cleartext_password:
            if (!credentials_.password) {
                return failure(
                    "the server asked for a cleartext password, but pgmux has no plaintext "
                    "password for this user");
            }
            return Reply{to_message(auth::build_password_message(*credentials_.password)), false};
        case AuthRequestCode::md5_password: {
            std::optional<auth::Secret> secret;
            if (credentials_.password) {
                secret = auth::Secret::plaintext(*credentials_.password);
            } else if (credentials_.md5_hash) {
                secret = auth::Secret::md5(*credentials_.md5_hash);
            } else {
                return failure(
                    "the server asked for MD5 authentication, but pgmux has neither a plaintext "
                    "password nor an MD5 hash for this user");
            }
            auto response = auth::md5_client_response(*secret, user_, request->md5_salt);
            if (!response) return failure("cannot compute the MD5 response", response.error());
            auto message = to_message(auth::build_password_message(*response));
            auth::crypto::cleanse(*response);
            return Reply{std::move(message), false};
        }
        case AuthRequestCode::sasl:
            return start_sasl(request->mechanisms);
        case AuthRequestCode::sasl_continue: {
            if (!scram_) return failure("the server sent SASLContinue without a SASL exchange");
            auto final_message = scram_->handle_server_first(request->data);
            if (!final_message) {
                return failure("SCRAM authentication with the server failed",
                               final_message.error());
            }
            auto message = to_message(auth::build_sasl_response(*final_message));
            return Reply{std::move(message), false};
        }
        case AuthRequestCode::sasl_final: {
            if (!scram_) return failure("the server sent SASLFinal without a SASL exchange");
            auto status = scram_->handle_server_final(request->data);
            if (!status) {
                return failure("SCRAM authentication with the server failed", status.error());
            }
            scram_done_ = true;
            return Reply{{}, false};
        }
    }
    return failure("the server asked for an authentication method pgmux does not support");
}

std::variant<ServerAuthenticator::Reply, ServerAuthError> ServerAuthenticator::start_sasl(
    const std::vector<std::string>& mechanisms) {
    if (scram_) return failure("the server started a second SASL exchange");
    auth::ScramClientOptions options;
    options.channel_binding_data = channel_binding_;
    if (credentials_.password) {
        scram_ = auth::ScramClient::with_password(*credentials_.password, std::move(options));
    } else if (credentials_.scram_keys) {
        scram_ = auth::ScramClient::with_keys(*credentials_.scram_keys, std::move(options));
    } else {
        return failure(
            "the server asked for SCRAM-SHA-256, but pgmux has no plaintext password for this "
            "user and no client has logged in with SCRAM yet (pass-through keys)");
    }
    auto first = scram_->start(mechanisms);
    if (!first) return failure("SCRAM authentication with the server failed", first.error());
    mechanism_ = std::string(first->mechanism);
    return Reply{to_message(auth::build_sasl_initial_response(first->mechanism, first->message)),
                 false};
}

}  // namespace pgmux::backend
