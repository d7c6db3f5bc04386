// The client-facing authentication exchange (pgmux is the server): asks the
// client for a password, an MD5 response or a SCRAM-SHA-256 proof and checks
// it against the stored secret. Runs inside the login, after the startup
// packet and before the first server round trip; the caller's login timeout
// bounds it (it closes the socket, which ends any read here).
//
// Unknown users (secret == nullptr) go through exactly the same exchange as
// known ones (a mock SCRAM exchange, or hashing a stand-in secret) and fail
// with the same ErrorResponse as a wrong password.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "net/outbox.h"
#include "net/read_buffer.h"
#include "net/tls.h"
#include "pgmux/auth/auth_error.hpp"
#include "pgmux/auth/mock_secret.hpp"
#include "pgmux/auth/scram_types.hpp"
#include "pgmux/auth/secret.hpp"
#include "pgmux/auth/verifier_cache.hpp"

namespace pgmux::session {

// The client connection, as the login owns it.
struct ClientAuthIo {
    boost::asio::ip::tcp::socket& socket;
    net::TlsStream* tls;  // nullptr: plain TCP; else SCRAM-SHA-256-PLUS is offered
    net::Outbox& out;
    net::ReadBuffer& in;  // may already hold bytes after the startup packet
};

struct ClientAuthRequest {
    config::AuthType method = config::AuthType::kTrust;
    std::string_view user;
    const auth::Secret* secret = nullptr;  // nullptr: no such user
    const auth::MockScramSecrets* mocks = nullptr;
    auth::VerifierCache* verifier_cache = nullptr;  // for plaintext secrets under SCRAM
};

enum class ClientAuthResult {
    kOk,             // authenticated; AuthenticationOk is still to be sent
    kRejected,       // wrong password or unknown user: 28P01 was sent
    kProtocolError,  // the client broke the protocol: an 08P01 error was sent
    kClientGone,     // the client closed the connection (e.g. psql asking for a password)
    kInternalError,  // pgmux could not run the exchange (crypto failure): XX000 was sent
};

struct ClientAuthOutcome {
    ClientAuthResult result = ClientAuthResult::kInternalError;
    config::AuthType method_used = config::AuthType::kTrust;  // md5 may turn into SCRAM
    std::optional<auth::AuthError> error;                     // why, when not kOk
    // Set when the client proved a SCRAM verifier from the auth file or
    // auth_query: what SCRAM pass-through needs to log in to the server.
    std::optional<auth::ScramPassThroughKeys> pass_through_keys;
    bool channel_binding = false;  // the client used SCRAM-SHA-256-PLUS
};

[[nodiscard]] const char* to_string(ClientAuthResult r) noexcept;

// Runs the exchange for request.method (trust returns kOk at once).
boost::asio::awaitable<ClientAuthOutcome> authenticate_client(ClientAuthIo io,
                                                              ClientAuthRequest request);

}  // namespace pgmux::session
