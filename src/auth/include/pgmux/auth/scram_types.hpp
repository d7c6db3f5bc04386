#pragma once

#include <string_view>

#include "pgmux/auth/crypto.hpp"

namespace pgmux::auth {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";
inline constexpr std::string_view kTlsServerEndPoint = "tls-server-end-point";

// Longest SCRAM message (client-first, client-final, server-first) accepted
// from a peer. Real ones are under 300 bytes; the bound keeps a hostile peer
// from making us buffer or hash arbitrary amounts.
inline constexpr std::size_t kMaxScramMessageLength = 2048;
// Longest nonce accepted (client or combined); libpq sends 24 characters.
inline constexpr std::size_t kMaxScramNonceLength = 256;

// What SCRAM pass-through needs to log in to a server as a user without the
// password: the ClientKey recovered from the client's proof and the verifier's
// ServerKey (to check the server's signature). They only work against a
// server whose verifier has the same salt and iteration count.
struct ScramPassThroughKeys {
    int iterations = 0;
    Bytes salt;
    Sha256Digest client_key{};
    Sha256Digest server_key{};

    ScramPassThroughKeys() = default;
    ScramPassThroughKeys(const ScramPassThroughKeys&) = default;
    ScramPassThroughKeys(ScramPassThroughKeys&&) noexcept = default;
    ScramPassThroughKeys& operator=(const ScramPassThroughKeys&) = default;
    ScramPassThroughKeys& operator=(ScramPassThroughKeys&&) noexcept = default;
    ~ScramPassThroughKeys() {
        crypto::cleanse(client_key);
        crypto::cleanse(server_key);
    }
};

}  // namespace pgmux::auth
