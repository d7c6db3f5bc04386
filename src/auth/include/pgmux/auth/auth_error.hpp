#pragma once

#include <string_view>
#include <utility>
#include <variant>

namespace pgmux::auth {

// Every failure of the authentication code is one of these values. None of
// them carries text taken from the peer or from a secret, so they are always
// safe to log.
enum class AuthError {
    // The peer failed to prove knowledge of the password. Unknown users, wrong
    // passwords and wrong proofs all produce exactly this value (SQLSTATE 28P01).
    authentication_failed,
    // Protocol violations by the peer (SQLSTATE 08P01).
    malformed_message,
    message_too_long,
    unsupported_mechanism,
    unsupported_extension,
    channel_binding_mismatch,
    nonce_mismatch,
    // A call that does not fit the current state of the exchange (caller bug).
    wrong_state,
    // Client side: the server failed to prove it knows the verifier.
    server_signature_mismatch,
    // Client side: the server answered the SCRAM exchange with "e=...".
    server_reported_error,
    // Client side: the server sent parameters we refuse (iterations, salt).
    invalid_server_parameters,
    // Client side: channel binding was required but could not be used.
    channel_binding_unavailable,
    // The stored secret cannot serve this method (e.g. MD5 with a SCRAM verifier).
    secret_unusable,
    // A stored secret (auth file, auth_query) does not parse.
    invalid_secret,
    // OpenSSL failed (allocation, RNG); not the peer's fault.
    crypto_failure,
};

// A short, fixed English description; never includes secrets or peer data.
[[nodiscard]] std::string_view describe(AuthError error) noexcept;

// The SQLSTATE a server-side failure should be reported with:
// "28P01" (invalid_password) for authentication_failed, "08P01" (protocol
// violation) for malformed input, "XX000" for internal failures.
[[nodiscard]] std::string_view sqlstate(AuthError error) noexcept;

// Minimal expected<T, E>: errors are values on the login path.
template <typename T, typename E = AuthError>
class [[nodiscard]] Result {
  public:
    Result(T value) : storage_(std::in_place_index<0>, std::move(value)) {}
    Result(E error) : storage_(std::in_place_index<1>, std::move(error)) {}

    [[nodiscard]] bool ok() const noexcept { return storage_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    [[nodiscard]] T& value() & { return std::get<0>(storage_); }
    [[nodiscard]] const T& value() const& { return std::get<0>(storage_); }
    [[nodiscard]] T&& value() && { return std::get<0>(std::move(storage_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    [[nodiscard]] const E& error() const { return std::get<1>(storage_); }

  private:
    std::variant<T, E> storage_;
};

// Result for operations that produce nothing but may fail.
struct Done {};
using Status = Result<Done>;

}  // namespace pgmux::auth
