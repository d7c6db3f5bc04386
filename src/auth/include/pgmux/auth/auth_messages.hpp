#pragma once

// The PostgreSQL v3 authentication messages, as bytes. Builders return whole
// messages (type byte, Int32 length, payload) ready to send; parsers take the
// payload only (what follows the type byte and length), as the protocol
// codec delivers it.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgmux/auth/md5_auth.hpp"

namespace pgmux::auth {

enum class AuthRequestCode : std::int32_t {
    ok = 0,
    cleartext_password = 3,
    md5_password = 5,
    sasl = 10,
    sasl_continue = 11,
    sasl_final = 12,
};

// Upper bound on any authentication payload we parse (PostgreSQL's
// PG_MAX_AUTH_TOKEN_LENGTH is 65535; ours is tighter, SCRAM needs < 2 KiB).
inline constexpr std::size_t kMaxAuthPayload = 8192;
inline constexpr std::size_t kMaxMechanisms = 8;

// Backend 'R' messages (pgmux -> client).
[[nodiscard]] Bytes build_authentication_ok();
[[nodiscard]] Bytes build_authentication_cleartext_password();
[[nodiscard]] Bytes build_authentication_md5_password(const Md5Salt& salt);
[[nodiscard]] Bytes build_authentication_sasl(std::span<const std::string_view> mechanisms);
[[nodiscard]] Bytes build_authentication_sasl_continue(std::string_view data);
[[nodiscard]] Bytes build_authentication_sasl_final(std::string_view data);

// Frontend 'p' messages (pgmux -> server).
[[nodiscard]] Bytes build_password_message(std::string_view password);
[[nodiscard]] Bytes build_sasl_initial_response(std::string_view mechanism, std::string_view data);
[[nodiscard]] Bytes build_sasl_response(std::string_view data);

// An 'R' payload received from a server.
struct AuthenticationRequest {
    AuthRequestCode code = AuthRequestCode::ok;
    Md5Salt md5_salt{};                   // md5_password
    std::vector<std::string> mechanisms;  // sasl
    std::string data;                     // sasl_continue, sasl_final
};
// Codes pgmux does not implement (Kerberos, GSSAPI, SSPI) are
// unsupported_mechanism.
[[nodiscard]] Result<AuthenticationRequest> parse_authentication_request(ByteView payload);

// 'p' payloads received from a client. Which one it is depends on what pgmux
// asked for, exactly as in PostgreSQL.
struct SaslInitialResponse {
    std::string mechanism;
    std::string data;  // the client-first-message
};
[[nodiscard]] Result<SaslInitialResponse> parse_sasl_initial_response(ByteView payload);
// SASLResponse: the payload is the message itself; this only bounds it.
[[nodiscard]] Result<std::string> parse_sasl_response(ByteView payload);
// PasswordMessage: a NUL-terminated string filling the payload exactly.
[[nodiscard]] Result<std::string> parse_password_message(ByteView payload);

}  // namespace pgmux::auth
