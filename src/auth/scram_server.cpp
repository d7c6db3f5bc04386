#include "pgmux/auth/scram_server.hpp"

#include "scram_attributes.hpp"

namespace pgmux::auth {

using scram::AttributeReader;

ScramServer ScramServer::for_verifier(ScramVerifier verifier, ScramServerOptions options) {
    return ScramServer(std::move(verifier), std::move(options), false);
}

Result<ScramServer> ScramServer::mock(std::string_view user, const MockScramSecrets& mocks,
                                      ScramServerOptions options) {
    auto verifier = mocks.verifier_for(user);
    if (!verifier) return verifier.error();
    return ScramServer(std::move(*verifier), std::move(options), true);
}

Result<ScramServer> ScramServer::for_secret(const Secret* secret, std::string_view user,
                                            const MockScramSecrets& mocks,
                                            ScramServerOptions options, VerifierCache* cache) {
    if (secret == nullptr || secret->kind() == SecretKind::md5) {
        return mock(user, mocks, std::move(options));
    }
    if (secret->kind() == SecretKind::scram_sha_256) {
        return for_verifier(secret->verifier(), std::move(options));
    }
    auto verifier = cache != nullptr ? cache->get_or_build(user, secret->text())
                                     : build_scram_verifier_random_salt(secret->text());
    if (!verifier) return verifier.error();
    return for_verifier(std::move(*verifier), std::move(options));
}

ScramServer::~ScramServer() {
    crypto::cleanse(client_key_);
}

std::vector<std::string_view> ScramServer::mechanisms() const {
    if (offers_channel_binding()) return {kScramSha256Plus, kScramSha256};
    return {kScramSha256};
}

AuthError ScramServer::fail(AuthError error) noexcept {
    state_ = State::failed;
    return error;
}

Result<std::string> ScramServer::handle_client_first(std::string_view mechanism,
                                                     std::string_view client_first) {
    if (state_ != State::awaiting_client_first) return fail(AuthError::wrong_state);
    auto result = parse_client_first(mechanism, client_first);
    if (!result) return fail(result.error());
    state_ = State::awaiting_client_final;
    return result;
}

Result<std::string> ScramServer::parse_client_first(std::string_view mechanism,
                                                    std::string_view message) {
    if (mechanism == kScramSha256Plus && offers_channel_binding()) {
        channel_binding_in_use_ = true;
    } else if (mechanism != kScramSha256) {
        return AuthError::unsupported_mechanism;
    }
    if (message.size() > kMaxScramMessageLength) return AuthError::message_too_long;
    if (message.empty() || scram::has_nul(message)) return AuthError::malformed_message;

    // gs2-header: cbind-flag "," [authzid] ","; `pos` ends at the authzid.
    std::size_t pos = 2;
    switch (message[0]) {
        case 'n':
            if (channel_binding_in_use_) return AuthError::channel_binding_mismatch;
            break;
        case 'y':
            // The client supports binding but thinks we do not: a downgrade
            // if we offered PLUS.
            if (offers_channel_binding()) return AuthError::channel_binding_mismatch;
            break;
        case 'p': {
            if (!channel_binding_in_use_) return AuthError::channel_binding_mismatch;
            AttributeReader reader(message);
            auto name = reader.read('p');
            if (!name) return AuthError::malformed_message;
            if (*name != kTlsServerEndPoint) return AuthError::channel_binding_mismatch;
            pos = reader.position();
            break;
        }
        default:
            return AuthError::malformed_message;
    }
    if (message[0] != 'p' && (message.size() < 2 || message[1] != ',')) {
        return AuthError::malformed_message;
    }
    if (pos >= message.size()) return AuthError::malformed_message;
    if (message[pos] == 'a') return AuthError::unsupported_extension;  // authzid
    if (message[pos] != ',') return AuthError::malformed_message;
    gs2_header_ = std::string(message.substr(0, pos + 1));
    client_first_bare_ = std::string(message.substr(pos + 1));

    AttributeReader bare(client_first_bare_);
    if (bare.peek() == 'm') return AuthError::unsupported_extension;
    // PostgreSQL ignores the user name here and uses the startup packet's.
    if (!bare.read('n')) return AuthError::malformed_message;
    auto nonce = bare.read('r');
    if (!nonce || nonce->empty()) return AuthError::malformed_message;
    if (nonce->size() > kMaxScramNonceLength || !scram::is_printable(*nonce)) {
        return AuthError::malformed_message;
    }
    client_nonce_ = std::string(*nonce);
    while (!bare.at_end()) {
        if (!bare.read_any()) return AuthError::malformed_message;
    }

    std::string server_nonce = options_.fixed_nonce;
    if (server_nonce.empty()) {
        std::array<std::uint8_t, scram::kRawNonceLength> raw{};
        if (auto rc = crypto::random_bytes(raw); !rc) return rc.error();
        server_nonce = base64_encode(raw);
    }
    combined_nonce_ = client_nonce_ + server_nonce;
    server_first_ = "r=" + combined_nonce_ + ",s=" + base64_encode(verifier_.salt) +
                    ",i=" + std::to_string(verifier_.iterations);
    return server_first_;
}

Result<std::string> ScramServer::handle_client_final(std::string_view client_final) {
    if (state_ != State::awaiting_client_final) return fail(AuthError::wrong_state);
    auto result = parse_client_final(client_final);
    if (!result) return fail(result.error());
    state_ = State::authenticated;
    return result;
}

Result<std::string> ScramServer::parse_client_final(std::string_view message) {
    if (message.size() > kMaxScramMessageLength) return AuthError::message_too_long;
    if (message.empty() || scram::has_nul(message)) return AuthError::malformed_message;

    AttributeReader reader(message);
    auto binding = reader.read('c');
    if (!binding) return AuthError::malformed_message;
    auto binding_bytes = base64_decode(*binding);
    if (!binding_bytes) return AuthError::malformed_message;
    std::string expected_binding = gs2_header_;
    if (channel_binding_in_use_) {
        expected_binding.append(as_text(options_.channel_binding_data));
    }
    if (!crypto::equal_constant_time(*binding_bytes, as_bytes(expected_binding))) {
        return AuthError::channel_binding_mismatch;
    }

    auto nonce = reader.read('r');
    if (!nonce) return AuthError::malformed_message;
    if (*nonce != combined_nonce_) return AuthError::nonce_mismatch;

    // Skip extensions up to the proof, remembering where ",p=" starts.
    std::size_t proof_start = 0;
    std::optional<std::pair<char, std::string_view>> attribute;
    do {
        proof_start = reader.position();
        attribute = reader.read_any();
        if (!attribute) return AuthError::malformed_message;
    } while (attribute->first != 'p');
    if (!reader.at_end() || proof_start == 0) return AuthError::malformed_message;
    // A trailing ',' after the proof is garbage, as in PostgreSQL.
    if (message.back() == ',') return AuthError::malformed_message;
    auto proof = base64_decode(attribute->second);
    if (!proof || proof->size() != kSha256Length) return AuthError::malformed_message;

    const std::string_view without_proof = message.substr(0, proof_start - 1);
    const std::string auth_message =
        client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);

    auto client_signature = crypto::hmac_sha256(verifier_.stored_key, as_bytes(auth_message));
    if (!client_signature) return client_signature.error();
    Sha256Digest client_proof{};
    std::copy(proof->begin(), proof->end(), client_proof.begin());
    client_key_ = crypto::xor_digests(client_proof, *client_signature);
    auto stored_key = crypto::sha256(client_key_);
    if (!stored_key) return stored_key.error();
    const bool proof_ok = crypto::equal_constant_time(*stored_key, verifier_.stored_key);
    if (!proof_ok || doomed_) {
        crypto::cleanse(client_key_);
        return AuthError::authentication_failed;
    }

    auto server_signature = crypto::hmac_sha256(verifier_.server_key, as_bytes(auth_message));
    if (!server_signature) return server_signature.error();
    return "v=" + base64_encode(*server_signature);
}

std::optional<ScramPassThroughKeys> ScramServer::pass_through_keys() const {
    if (state_ != State::authenticated) return std::nullopt;
    ScramPassThroughKeys keys;
    keys.iterations = verifier_.iterations;
    keys.salt = verifier_.salt;
    keys.client_key = client_key_;
    keys.server_key = verifier_.server_key;
    return keys;
}

}  // namespace pgmux::auth
