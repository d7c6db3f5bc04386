#include "session/client_auth.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

#include "pgmux/auth/auth_messages.hpp"
#include "pgmux/auth/cleartext_auth.hpp"
#include "pgmux/auth/md5_auth.hpp"
#include "pgmux/auth/scram_server.hpp"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace pgmux::session {

namespace asio = boost::asio;
using auth::AuthError;
using config::AuthType;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

const char* to_string(ClientAuthResult r) noexcept {
    switch (r) {
        case ClientAuthResult::kOk:
            return "ok";
        case ClientAuthResult::kRejected:
            return "rejected";
        case ClientAuthResult::kProtocolError:
            return "protocol_error";
        case ClientAuthResult::kClientGone:
            return "client_gone";
        case ClientAuthResult::kInternalError:
            return "internal_error";
    }
    return "unknown";
}

namespace {

// One exchange. Every failure goes through fail(), which sends the
// ErrorResponse: the 28P01 text is the same for every way of getting the
// password wrong, including users that do not exist.
class Exchange {
  public:
    Exchange(ClientAuthIo io, const ClientAuthRequest& request) : io_(io), request_(request) {}

    asio::awaitable<ClientAuthOutcome> run() {
        outcome_.method_used = request_.method;
        switch (request_.method) {
            case AuthType::kTrust:
                outcome_.result = ClientAuthResult::kOk;
                break;
            case AuthType::kCleartext:
                co_await cleartext();
                break;
            case AuthType::kMd5:
                // As PostgreSQL: a SCRAM verifier cannot check an MD5 response,
                // so such users are asked for SCRAM instead.
                if (request_.secret != nullptr &&
                    request_.secret->kind() == auth::SecretKind::scram_sha_256) {
                    outcome_.method_used = AuthType::kScramSha256;
                    co_await scram();
                } else {
                    co_await md5();
                }
                break;
            case AuthType::kScramSha256:
                co_await scram();
                break;
        }
        co_return std::move(outcome_);
    }

  private:
    void send(const auth::Bytes& message) { io_.out.send(auth::as_text(message)); }

    void fail(AuthError error) {
        outcome_.error = error;
        std::string e;
        if (error == AuthError::authentication_failed) {
            outcome_.result = ClientAuthResult::kRejected;
            const std::string message =
                "password authentication failed for user \"" + std::string(request_.user) + "\"";
            protocol::append_error_response(e, {"FATAL", "28P01", message});
        } else {
            const auto state = auth::sqlstate(error);
            outcome_.result = state == "08P01" ? ClientAuthResult::kProtocolError
                                               : ClientAuthResult::kInternalError;
            protocol::append_error_response(e, {"FATAL", state, auth::describe(error)});
        }
        io_.out.send(e);
    }

    void protocol_error(std::string message) {
        outcome_.error = AuthError::malformed_message;
        outcome_.result = ClientAuthResult::kProtocolError;
        std::string e;
        protocol::append_error_response(e, {"FATAL", "08P01", message});
        io_.out.send(e);
    }

    // Reads the client's next message, which must be a PasswordMessage-type
    // ('p') frame; returns its payload. nullopt when the exchange is over
    // (the outcome says why).
    asio::awaitable<std::optional<std::string>> read_response() {
        for (;;) {
            auto r = protocol::decode_frame(io_.in.view(), auth::kMaxAuthPayload);
            if (r.status == protocol::DecodeStatus::kFrame) {
                const char type = r.frame.type;
                std::string body(r.frame.body);
                io_.in.consume(r.consumed);
                if (type == protocol::msg::kPassword) co_return body;
                if (type == protocol::msg::kTerminate) {
                    outcome_.result = ClientAuthResult::kClientGone;
                    co_return std::nullopt;
                }
                protocol_error("expected password response, got message type " +
                               std::to_string(static_cast<int>(type)));
                co_return std::nullopt;
            }
            if (r.status != protocol::DecodeStatus::kNeedMore) {
                protocol_error("invalid password packet size");
                co_return std::nullopt;
            }
            char* p = io_.in.prepare(512);
            auto [ec, n] =
                co_await net::async_read_some(io_.socket, io_.tls, p, io_.in.free_space());
            if (ec) {
                // EOF (libpq without a password hangs up here) or the login
                // timeout closed the socket.
                outcome_.result = ClientAuthResult::kClientGone;
                co_return std::nullopt;
            }
            io_.in.commit(n);
        }
    }

    asio::awaitable<void> cleartext() {
        send(auth::build_authentication_cleartext_password());
        auto payload = co_await read_response();
        if (!payload) co_return;
        auto password = auth::parse_password_message(auth::as_bytes(*payload));
        auth::crypto::cleanse(*payload);
        if (!password) co_return fail(password.error());
        auto status = auth::verify_cleartext(request_.secret, request_.user, *password);
        auth::crypto::cleanse(*password);
        if (!status) co_return fail(status.error());
        outcome_.result = ClientAuthResult::kOk;
    }

    asio::awaitable<void> md5() {
        auto salt = auth::generate_md5_salt();
        if (!salt) co_return fail(salt.error());
        send(auth::build_authentication_md5_password(*salt));
        auto payload = co_await read_response();
        if (!payload) co_return;
        auto response = auth::parse_password_message(auth::as_bytes(*payload));
        if (!response) co_return fail(response.error());
        auto status = auth::verify_md5_response(request_.secret, request_.user, *salt, *response);
        if (!status) co_return fail(status.error());
        outcome_.result = ClientAuthResult::kOk;
    }

    asio::awaitable<void> scram() {
        // Over TLS, SCRAM-SHA-256-PLUS is offered, bound to the certificate
        // pgmux presented on this connection (tls-server-end-point).
        auth::ScramServerOptions options;
        if (io_.tls != nullptr) options.channel_binding_data = io_.tls->own_end_point();
        auto server = auth::ScramServer::for_secret(request_.secret, request_.user, *request_.mocks,
                                                    std::move(options), request_.verifier_cache);
        if (!server) co_return fail(server.error());
        const auto mechanisms = server->mechanisms();
        send(auth::build_authentication_sasl(mechanisms));

        auto payload = co_await read_response();
        if (!payload) co_return;
        auto initial = auth::parse_sasl_initial_response(auth::as_bytes(*payload));
        if (!initial) co_return fail(initial.error());
        auto server_first = server->handle_client_first(initial->mechanism, initial->data);
        if (!server_first) co_return fail(server_first.error());
        send(auth::build_authentication_sasl_continue(*server_first));

        payload = co_await read_response();
        if (!payload) co_return;
        auto client_final = auth::parse_sasl_response(auth::as_bytes(*payload));
        if (!client_final) co_return fail(client_final.error());
        auto server_final = server->handle_client_final(*client_final);
        if (!server_final) co_return fail(server_final.error());
        send(auth::build_authentication_sasl_final(*server_final));
        outcome_.result = ClientAuthResult::kOk;
        outcome_.channel_binding = server->used_channel_binding();
        // Only a verifier the server may share is worth passing through; a
        // verifier derived here from a plaintext password has its own salt
        // (and the plaintext already serves the server login).
        if (request_.secret != nullptr &&
            request_.secret->kind() == auth::SecretKind::scram_sha_256) {
            outcome_.pass_through_keys = server->pass_through_keys();
        }
    }

    ClientAuthIo io_;
    const ClientAuthRequest& request_;
    ClientAuthOutcome outcome_;
};

}  // namespace

asio::awaitable<ClientAuthOutcome> authenticate_client(ClientAuthIo io, ClientAuthRequest request) {
    Exchange exchange(io, request);
    co_return co_await exchange.run();
}

}  // namespace pgmux::session
