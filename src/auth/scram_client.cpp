#include "pgmux/auth/scram_client.hpp"

#include <algorithm>
#include <charconv>

#include "pgmux/auth/scram_keys.hpp"
#include "scram_attributes.hpp"

namespace pgmux::auth {

using scram::AttributeReader;

namespace {

// saslname (RFC 5802 section 5.1): ',' and '=' are escaped.
std::string escape_sasl_name(std::string_view name) {
    std::string out;
    for (char c : name) {
        if (c == ',') {
            out += "=2C";
        } else if (c == '=') {
            out += "=3D";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

ScramClient ScramClient::with_password(std::string password, ScramClientOptions options) {
    return ScramClient(std::move(password), std::nullopt, std::move(options));
}

ScramClient ScramClient::with_keys(ScramPassThroughKeys keys, ScramClientOptions options) {
    return ScramClient({}, std::move(keys), std::move(options));
}

ScramClient::~ScramClient() {
    crypto::cleanse(password_);
    crypto::cleanse(expected_server_signature_);
}

AuthError ScramClient::fail(AuthError error) noexcept {
    state_ = State::failed;
    return error;
}

Result<ScramClientFirst> ScramClient::start(std::span<const std::string> server_mechanisms) {
    if (state_ != State::initial) return fail(AuthError::wrong_state);
    auto offered = [&](std::string_view name) {
        return std::find(server_mechanisms.begin(), server_mechanisms.end(), name) !=
               server_mechanisms.end();
    };
    const bool have_binding = !options_.channel_binding_data.empty();
    ScramClientFirst first;
    if (have_binding && offered(kScramSha256Plus)) {
        first.mechanism = kScramSha256Plus;
        gs2_header_ = "p=" + std::string(kTlsServerEndPoint) + ",,";
    } else if (options_.require_channel_binding) {
        return fail(AuthError::channel_binding_unavailable);
    } else if (offered(kScramSha256)) {
        first.mechanism = kScramSha256;
        // "y": we could bind but the server did not offer it (RFC 5802 5.1),
        // which lets a server that does support it detect a downgrade.
        gs2_header_ = have_binding ? "y,," : "n,,";
    } else {
        return fail(AuthError::unsupported_mechanism);
    }

    client_nonce_ = options_.fixed_nonce;
    if (client_nonce_.empty()) {
        std::array<std::uint8_t, scram::kRawNonceLength> raw{};
        if (auto rc = crypto::random_bytes(raw); !rc) return fail(rc.error());
        client_nonce_ = base64_encode(raw);
    } else if (!scram::is_printable(client_nonce_)) {
        return fail(AuthError::wrong_state);
    }
    // PostgreSQL ignores the SCRAM user name (it uses the startup packet's).
    client_first_bare_ = "n=" + escape_sasl_name(options_.user_name) + ",r=" + client_nonce_;
    first.message = gs2_header_ + client_first_bare_;
    state_ = State::awaiting_server_first;
    return first;
}

Result<std::string> ScramClient::handle_server_first(std::string_view server_first) {
    if (state_ != State::awaiting_server_first) return fail(AuthError::wrong_state);
    auto result = build_client_final(server_first);
    if (!result) return fail(result.error());
    state_ = State::awaiting_server_final;
    return result;
}

Result<std::string> ScramClient::build_client_final(std::string_view server_first) {
    if (server_first.size() > kMaxScramMessageLength) return AuthError::message_too_long;
    if (server_first.empty() || scram::has_nul(server_first)) return AuthError::malformed_message;
    AttributeReader reader(server_first);
    if (reader.peek() == 'm') return AuthError::unsupported_extension;
    auto nonce = reader.read('r');
    if (!nonce) return AuthError::malformed_message;
    if (nonce->size() <= client_nonce_.size() ||
        nonce->substr(0, client_nonce_.size()) != client_nonce_ ||
        nonce->size() > kMaxScramNonceLength || !scram::is_printable(*nonce)) {
        return AuthError::nonce_mismatch;
    }
    auto salt_text = reader.read('s');
    auto iterations_text = reader.read('i');
    if (!salt_text || !iterations_text) return AuthError::malformed_message;
    while (!reader.at_end()) {
        if (!reader.read_any()) return AuthError::malformed_message;
    }
    auto salt = base64_decode(*salt_text);
    if (!salt || salt->empty()) return AuthError::malformed_message;
    int iterations = 0;
    const auto* end = iterations_text->data() + iterations_text->size();
    const auto [ptr, ec] = std::from_chars(iterations_text->data(), end, iterations);
    if (ec != std::errc{} || ptr != end || iterations < 1) return AuthError::malformed_message;

    Sha256Digest client_key{};
    Sha256Digest server_key{};
    if (keys_) {
        if (keys_->iterations != iterations || keys_->salt != *salt) {
            return AuthError::secret_unusable;
        }
        client_key = keys_->client_key;
        server_key = keys_->server_key;
    } else {
        if (iterations > options_.max_iterations) return AuthError::invalid_server_parameters;
        auto salted = scram_salted_password(password_, *salt, iterations);
        if (!salted) return salted.error();
        auto ck = scram_client_key(*salted);
        auto sk = scram_server_key(*salted);
        crypto::cleanse(*salted);
        if (!ck || !sk) return AuthError::crypto_failure;
        client_key = *ck;
        server_key = *sk;
    }
    auto stored_key = scram_stored_key(client_key);
    if (!stored_key) return stored_key.error();

    std::string binding_input = gs2_header_;
    if (gs2_header_.front() == 'p') binding_input.append(as_text(options_.channel_binding_data));
    std::string final_message =
        "c=" + base64_encode(as_bytes(binding_input)) + ",r=" + std::string(*nonce);
    const std::string auth_message =
        client_first_bare_ + "," + std::string(server_first) + "," + final_message;

    auto client_signature = crypto::hmac_sha256(*stored_key, as_bytes(auth_message));
    auto server_signature = crypto::hmac_sha256(server_key, as_bytes(auth_message));
    if (!client_signature || !server_signature) return AuthError::crypto_failure;
    Sha256Digest proof = crypto::xor_digests(client_key, *client_signature);
    expected_server_signature_ = *server_signature;
    crypto::cleanse(client_key);
    crypto::cleanse(server_key);

    final_message += ",p=" + base64_encode(proof);
    return final_message;
}

Status ScramClient::handle_server_final(std::string_view server_final) {
    if (state_ != State::awaiting_server_final) return fail(AuthError::wrong_state);
    if (server_final.size() > kMaxScramMessageLength) return fail(AuthError::message_too_long);
    AttributeReader reader(server_final);
    if (reader.peek() == 'e') return fail(AuthError::server_reported_error);
    auto verifier = reader.read('v');
    if (!verifier) return fail(AuthError::malformed_message);
    while (!reader.at_end()) {
        if (!reader.read_any()) return fail(AuthError::malformed_message);
    }
    auto signature = base64_decode(*verifier);
    if (!signature || !crypto::equal_constant_time(*signature, expected_server_signature_)) {
        return fail(AuthError::server_signature_mismatch);
    }
    state_ = State::done;
    return Done{};
}

}  // namespace pgmux::auth
