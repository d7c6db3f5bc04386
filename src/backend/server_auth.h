// pgmux logging in to a PostgreSQL server: answers the server's
// Authentication requests (cleartext, MD5, SCRAM-SHA-256) from whatever
// credentials pgmux holds for the server user. Socket-free: ServerConnection
// hands it each 'R' payload and sends back what it returns.
//
// Which credential serves which request:
//   cleartext      the plaintext password
//   md5            the plaintext password, else an MD5 hash ("md5...")
//   scram-sha-256  the plaintext password, else SCRAM pass-through keys
//                  recovered from a client that logged in with SCRAM
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pgmux/auth/scram_client.hpp"
#include "pgmux/auth/scram_types.hpp"

namespace pgmux::backend {

// What pgmux may use to log in as one server user. Never logged.
struct ServerCredentials {
    std::optional<std::string> password;  // plaintext
    std::optional<std::string> md5_hash;  // "md5" + 32 hex digits
    std::optional<auth::ScramPassThroughKeys> scram_keys;

    [[nodiscard]] bool empty() const noexcept { return !password && !md5_hash && !scram_keys; }
};

// Credentials learned at run time from clients that authenticated (SCRAM
// pass-through keys, MD5 hashes returned by auth_query), shared by every
// connection attempt of one pool. Thread-safe.
class LearnedCredentials {
  public:
    // The latest client wins: keys from a client that just proved the current
    // password replace keys derived from an older verifier.
    void set_scram_keys(const auth::ScramPassThroughKeys& keys);
    void set_md5_hash(const std::string& hash);
    [[nodiscard]] ServerCredentials snapshot() const;

  private:
    mutable std::mutex mu_;
    ServerCredentials creds_;
};

// A refused or failed server login; `description` is fixed text plus method
// names, never a secret or the server's SCRAM data.
struct ServerAuthError {
    std::string description;
};

class ServerAuthenticator {
  public:
    // `channel_binding`: tls-server-end-point data of the server's certificate
    // when the link is TLS (empty otherwise); SCRAM then uses
    // SCRAM-SHA-256-PLUS if the server offers it.
    ServerAuthenticator(std::string user, ServerCredentials credentials,
                        auth::Bytes channel_binding = {});

    // One Authentication ('R') payload from the server. Returns the message to
    // send back (empty when none is due), or why the login cannot proceed.
    // AuthenticationOk is accepted only when every exchange that was started
    // has finished, so a server cannot skip SCRAM's final verification.
    struct Reply {
        std::string message;
        bool authenticated = false;  // AuthenticationOk was received
    };
    [[nodiscard]] std::variant<Reply, ServerAuthError> on_request(std::string_view payload);

    // The SASL mechanism chosen ("" when the server asked for none), for the log.
    [[nodiscard]] const std::string& sasl_mechanism() const noexcept { return mechanism_; }

  private:
    std::variant<Reply, ServerAuthError> start_sasl(const std::vector<std::string>& mechanisms);

    std::string user_;
    ServerCredentials credentials_;
    auth::Bytes channel_binding_;
    std::optional<auth::ScramClient> scram_;
    std::string mechanism_;
    bool scram_done_ = false;
};

}  // namespace pgmux::backend
