#pragma once

// Client side of SCRAM-SHA-256(-PLUS) (pgmux logging in to a PostgreSQL
// server), from a plaintext password or from SCRAM pass-through keys.
//
//   AuthenticationSASL(mechanisms) -> auto first = client->start(mechanisms)
//                                  -> SASLInitialResponse(first->mechanism, first->message)
//   AuthenticationSASLContinue(d)  -> auto final = client->handle_server_first(d)
//                                  -> SASLResponse(*final)
//   AuthenticationSASLFinal(d)     -> client->handle_server_final(d) must succeed
//   AuthenticationOk               -> logged in (only if handle_server_final succeeded)

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgmux/auth/scram_types.hpp"

namespace pgmux::auth {

struct ScramClientOptions {
    // tls-server-end-point data (RFC 5929) of the server's certificate when the
    // server link is TLS (see channel_binding.hpp); empty otherwise.
    Bytes channel_binding_data;
    // Like libpq's channel_binding=require: refuse to log in without it.
    bool require_channel_binding = false;
    // A hostile or misconfigured server could ask for billions of PBKDF2
    // iterations; refuse more than this (only matters with a password).
    int max_iterations = 1'000'000;
    // Sent as the SCRAM user name (escaped per RFC 5802). PostgreSQL ignores
    // it and libpq sends it empty, which is the default.
    std::string user_name;
    // Tests only (known-answer vectors): use this nonce instead of a random one.
    std::string fixed_nonce;
};

struct ScramClientFirst {
    std::string_view mechanism;  // kScramSha256 or kScramSha256Plus
    std::string message;         // client-first-message for SASLInitialResponse
};

class ScramClient {
  public:
    [[nodiscard]] static ScramClient with_password(std::string password,
                                                   ScramClientOptions options = {});
    // Pass-through: works only against a server whose verifier has the
    // salt and iteration count in `keys`; anything else fails with
    // secret_unusable before a proof is sent.
    [[nodiscard]] static ScramClient with_keys(ScramPassThroughKeys keys,
                                               ScramClientOptions options = {});

    ScramClient(ScramClient&&) noexcept = default;
    ScramClient& operator=(ScramClient&&) noexcept = default;
    ~ScramClient();

    // Picks a mechanism from the server's list (PLUS when offered and binding
    // data is available) and builds the client-first-message.
    [[nodiscard]] Result<ScramClientFirst> start(std::span<const std::string> server_mechanisms);
    // server-first-message -> client-final-message (with the proof).
    [[nodiscard]] Result<std::string> handle_server_first(std::string_view server_first);
    // server-final-message: verifies the server's signature.
    [[nodiscard]] Status handle_server_final(std::string_view server_final);

    [[nodiscard]] bool server_verified() const noexcept { return state_ == State::done; }

  private:
    enum class State { initial, awaiting_server_first, awaiting_server_final, done, failed };

    ScramClient(std::string password, std::optional<ScramPassThroughKeys> keys,
                ScramClientOptions options)
        : password_(std::move(password)), keys_(std::move(keys)), options_(std::move(options)) {}

    Result<std::string> build_client_final(std::string_view server_first);
    AuthError fail(AuthError error) noexcept;

    std::string password_;
    std::optional<ScramPassThroughKeys> keys_;
    ScramClientOptions options_;
    State state_ = State::initial;
    std::string gs2_header_;
    std::string client_nonce_;
    std::string client_first_bare_;
    Sha256Digest expected_server_signature_{};
};

}  // namespace pgmux::auth
