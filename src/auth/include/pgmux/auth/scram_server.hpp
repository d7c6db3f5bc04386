#pragma once

// Server side of SCRAM-SHA-256(-PLUS) as PostgreSQL runs it (pgmux
// authenticating a client). Socket-free: the caller moves the SCRAM messages
// between this object and the wire (see auth_messages.hpp).
//
//   auto server = ScramServer::for_secret(secret_or_null, user, mocks, options, &cache);
//   send AuthenticationSASL(server->mechanisms())
//   SASLInitialResponse -> server->handle_client_first(mechanism, data)
//                       -> AuthenticationSASLContinue(server-first-message)
//   SASLResponse        -> server->handle_client_final(data)
//                       -> AuthenticationSASLFinal(server-final-message), AuthenticationOk
//   any error           -> ErrorResponse with sqlstate(error) (28P01 for a failed proof)
//   afterwards          -> server->pass_through_keys() for SCRAM pass-through

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgmux/auth/mock_secret.hpp"
#include "pgmux/auth/scram_types.hpp"
#include "pgmux/auth/secret.hpp"
#include "pgmux/auth/verifier_cache.hpp"

namespace pgmux::auth {

struct ScramServerOptions {
    // tls-server-end-point data (RFC 5929) of the certificate pgmux presented
    // on this client connection, see channel_binding.hpp. Empty when the
    // connection is not TLS: then SCRAM-SHA-256-PLUS is not offered.
    Bytes channel_binding_data;
    // Tests only (known-answer vectors): the server's part of the nonce.
    std::string fixed_nonce;
};

class ScramServer {
  public:
    // An exchange against a real verifier.
    [[nodiscard]] static ScramServer for_verifier(ScramVerifier verifier,
                                                  ScramServerOptions options = {});
    // An exchange that runs the full message flow and always fails with
    // authentication_failed, exactly like one with a wrong password.
    [[nodiscard]] static Result<ScramServer> mock(std::string_view user,
                                                  const MockScramSecrets& mocks,
                                                  ScramServerOptions options = {});
    // The usual entry point. `secret` null means "no such user". A SCRAM
    // verifier is used as is; a plaintext password yields a derived verifier
    // (through `cache` when given, else with a fresh random salt); an MD5 hash
    // cannot serve SCRAM, so like PostgreSQL the exchange is a mock one.
    [[nodiscard]] static Result<ScramServer> for_secret(const Secret* secret, std::string_view user,
                                                        const MockScramSecrets& mocks,
                                                        ScramServerOptions options = {},
                                                        VerifierCache* cache = nullptr);

    ScramServer(ScramServer&&) noexcept = default;
    ScramServer& operator=(ScramServer&&) noexcept = default;
    ~ScramServer();

    // Mechanisms for AuthenticationSASL, in PostgreSQL's order (PLUS first).
    [[nodiscard]] std::vector<std::string_view> mechanisms() const;
    [[nodiscard]] bool offers_channel_binding() const noexcept {
        return !options_.channel_binding_data.empty();
    }

    // SASLInitialResponse: the chosen mechanism and the client-first-message.
    // Returns the server-first-message.
    [[nodiscard]] Result<std::string> handle_client_first(std::string_view mechanism,
                                                          std::string_view client_first);
    // SASLResponse: the client-final-message. Returns the server-final-message
    // ("v=..."); the client is authenticated only when this succeeds.
    [[nodiscard]] Result<std::string> handle_client_final(std::string_view client_final);

    [[nodiscard]] bool authenticated() const noexcept { return state_ == State::authenticated; }
    [[nodiscard]] bool used_channel_binding() const noexcept { return channel_binding_in_use_; }

    // After authenticated(): the keys to log in to a server as this user.
    [[nodiscard]] std::optional<ScramPassThroughKeys> pass_through_keys() const;

  private:
    enum class State { awaiting_client_first, awaiting_client_final, authenticated, failed };

    ScramServer(ScramVerifier verifier, ScramServerOptions options, bool doomed)
        : verifier_(std::move(verifier)), options_(std::move(options)), doomed_(doomed) {}

    Result<std::string> parse_client_first(std::string_view mechanism, std::string_view message);
    Result<std::string> parse_client_final(std::string_view message);
    AuthError fail(AuthError error) noexcept;

    ScramVerifier verifier_;
    ScramServerOptions options_;
    bool doomed_ = false;
    State state_ = State::awaiting_client_first;
    bool channel_binding_in_use_ = false;
    std::string gs2_header_;
    std::string client_first_bare_;
    std::string client_nonce_;
    std::string server_first_;
    std::string combined_nonce_;
    Sha256Digest client_key_{};
};

}  // namespace pgmux::auth
