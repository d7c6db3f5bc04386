// ServerAuthenticator (pgmux logging in to a server) against the server side
// of pgmux_auth playing PostgreSQL: every method, pass-through keys, and the
// ways a server can misbehave.
#include "backend/server_auth.h"

#include <gtest/gtest.h>

#include "pgmux/auth/auth_messages.hpp"
#include "pgmux/auth/md5_auth.hpp"
#include "pgmux/auth/scram_server.hpp"

namespace pgmux::backend {
namespace {

using auth::as_bytes;
using auth::as_text;

constexpr std::string_view kUser = "alice";
constexpr std::string_view kPassword = "correct horse";

// The payload of a whole 'R' message (what ServerConnection hands over).
std::string payload_of(const auth::Bytes& message) {
    return std::string(as_text(message).substr(5));
}

// The payload of a 'p' message the authenticator produced.
std::string frontend_payload(const std::string& message) {
    EXPECT_GE(message.size(), 5u);
    EXPECT_EQ(message[0], 'p');
    return message.substr(5);
}

ServerAuthenticator::Reply expect_reply(
    std::variant<ServerAuthenticator::Reply, ServerAuthError> r) {
    if (auto* e = std::get_if<ServerAuthError>(&r)) {
        ADD_FAILURE() << "unexpected error: " << e->description;
        return {};
    }
    return std::get<ServerAuthenticator::Reply>(std::move(r));
}

std::string expect_error(std::variant<ServerAuthenticator::Reply, ServerAuthError> r) {
    if (auto* e = std::get_if<ServerAuthError>(&r)) return e->description;
    ADD_FAILURE() << "expected an error";
    return {};
}

auth::ScramVerifier verifier(std::string_view password) {
    auto v = auth::build_scram_verifier_random_salt(password);
    EXPECT_TRUE(v);
    return *v;
}

ServerCredentials with_password(std::string_view password = kPassword) {
    ServerCredentials c;
    c.password = std::string(password);
    return c;
}

// Drives a SCRAM login of `client` against `server` as PostgreSQL would.
// Returns the authenticator's error, or "" when it logged in.
std::string scram_login(ServerAuthenticator& client, auth::ScramServer& server) {
    auto mechanisms = server.mechanisms();
    auto r = client.on_request(payload_of(auth::build_authentication_sasl(mechanisms)));
    if (auto* e = std::get_if<ServerAuthError>(&r)) return e->description;
    auto initial = auth::parse_sasl_initial_response(
        as_bytes(frontend_payload(std::get<ServerAuthenticator::Reply>(r).message)));
    EXPECT_TRUE(initial);
    auto server_first = server.handle_client_first(initial->mechanism, initial->data);
    EXPECT_TRUE(server_first);
    r = client.on_request(payload_of(auth::build_authentication_sasl_continue(*server_first)));
    if (auto* e = std::get_if<ServerAuthError>(&r)) return e->description;
    auto server_final = server.handle_client_final(
        frontend_payload(std::get<ServerAuthenticator::Reply>(r).message));
    if (!server_final) return "server rejected the proof";
    r = client.on_request(payload_of(auth::build_authentication_sasl_final(*server_final)));
    if (auto* e = std::get_if<ServerAuthError>(&r)) return e->description;
    EXPECT_TRUE(std::get<ServerAuthenticator::Reply>(r).message.empty());
    r = client.on_request(payload_of(auth::build_authentication_ok()));
    if (auto* e = std::get_if<ServerAuthError>(&r)) return e->description;
    EXPECT_TRUE(std::get<ServerAuthenticator::Reply>(r).authenticated);
    return "";
}

TEST(ServerAuth, TrustIsJustOk) {
    ServerAuthenticator a(std::string(kUser), {});
    auto reply = expect_reply(a.on_request(payload_of(auth::build_authentication_ok())));
    EXPECT_TRUE(reply.authenticated);
    EXPECT_TRUE(reply.message.empty());
}

TEST(ServerAuth, CleartextSendsThePassword) {
    ServerAuthenticator a(std::string(kUser), with_password());
    auto reply =
        expect_reply(a.on_request(payload_of(auth::build_authentication_cleartext_password())));
    EXPECT_EQ(reply.message, std::string(as_text(auth::build_password_message(kPassword))));
}

TEST(ServerAuth, CleartextNeedsAPlaintextPassword) {
    ServerCredentials c;
    c.md5_hash = *auth::md5_password_hash(kPassword, kUser);
    ServerAuthenticator a(std::string(kUser), c);
    auto error =
        expect_error(a.on_request(payload_of(auth::build_authentication_cleartext_password())));
    EXPECT_NE(error.find("cleartext"), std::string::npos);
}

TEST(ServerAuth, Md5FromPasswordOrHashPassesTheServerCheck) {
    const auth::Md5Salt salt{1, 2, 3, 4};
    const auto stored = auth::Secret::md5(*auth::md5_password_hash(kPassword, kUser));
    ServerCredentials hash_only;
    hash_only.md5_hash = stored.text();
    for (const auto& creds : {with_password(), hash_only}) {
        ServerAuthenticator a(std::string(kUser), creds);
        auto reply =
            expect_reply(a.on_request(payload_of(auth::build_authentication_md5_password(salt))));
        auto response = auth::parse_password_message(as_bytes(frontend_payload(reply.message)));
        ASSERT_TRUE(response);
        EXPECT_TRUE(auth::verify_md5_response(&stored, kUser, salt, *response));
    }
}

TEST(ServerAuth, Md5WithoutUsableCredentialsFails) {
    ServerAuthenticator a(std::string(kUser), {});
    auto error = expect_error(
        a.on_request(payload_of(auth::build_authentication_md5_password({9, 9, 9, 9}))));
    EXPECT_NE(error.find("MD5"), std::string::npos);
}

TEST(ServerAuth, ScramWithPassword) {
    auto server = auth::ScramServer::for_verifier(verifier(kPassword));
    ServerAuthenticator a(std::string(kUser), with_password());
    EXPECT_EQ(scram_login(a, server), "");
    EXPECT_TRUE(server.authenticated());
}

TEST(ServerAuth, ScramWithWrongPasswordIsRejectedByTheServer) {
    auto server = auth::ScramServer::for_verifier(verifier(kPassword));
    ServerAuthenticator a(std::string(kUser), with_password("wrong"));
    EXPECT_EQ(scram_login(a, server), "server rejected the proof");
}

// What a client-facing ScramServer recovers when a client proves `password`.
auth::ScramPassThroughKeys keys_from_client_login(const auth::ScramVerifier& v,
                                                  std::string_view password) {
    auto front = auth::ScramServer::for_verifier(v);
    ServerAuthenticator client(std::string(kUser), with_password(password));
    EXPECT_EQ(scram_login(client, front), "");
    auto keys = front.pass_through_keys();
    EXPECT_TRUE(keys);
    return *keys;
}

TEST(ServerAuth, ScramPassThroughWithTheServersVerifier) {
    const auto v = verifier(kPassword);
    ServerCredentials c;
    c.scram_keys = keys_from_client_login(v, kPassword);
    auto real_server = auth::ScramServer::for_verifier(v);
    ServerAuthenticator a(std::string(kUser), c);
    EXPECT_EQ(scram_login(a, real_server), "");
    EXPECT_TRUE(real_server.authenticated());
}

// Over TLS the server offers SCRAM-SHA-256-PLUS bound to its certificate's
// hash; pgmux must pick it, and the binding must match on both sides.
TEST(ServerAuth, ScramOverTlsUsesChannelBinding) {
    const auth::Bytes binding{1, 2, 3, 4, 5, 6, 7, 8};
    const auto v = verifier(kPassword);
    for (bool pass_through : {false, true}) {
        auth::ScramServerOptions options;
        options.channel_binding_data = binding;
        auto server = auth::ScramServer::for_verifier(v, options);
        ServerCredentials c = with_password();
        if (pass_through) {
            c = {};
            c.scram_keys = keys_from_client_login(v, kPassword);
        }
        ServerAuthenticator a(std::string(kUser), c, binding);
        EXPECT_EQ(scram_login(a, server), "");
        EXPECT_TRUE(server.used_channel_binding());
        EXPECT_EQ(a.sasl_mechanism(), "SCRAM-SHA-256-PLUS");
    }
}

TEST(ServerAuth, ChannelBindingToAnotherCertificateFails) {
    auth::ScramServerOptions options;
    options.channel_binding_data = auth::Bytes{1, 2, 3};
    auto server = auth::ScramServer::for_verifier(verifier(kPassword), options);
    ServerAuthenticator a(std::string(kUser), with_password(), auth::Bytes{9, 9, 9});
    EXPECT_EQ(scram_login(a, server), "server rejected the proof");
}

TEST(ServerAuth, PlainLinkUsesPlainScram) {
    auth::ScramServerOptions options;
    options.channel_binding_data = auth::Bytes{1, 2, 3};  // the server could bind
    auto server = auth::ScramServer::for_verifier(verifier(kPassword), options);
    ServerAuthenticator a(std::string(kUser), with_password());  // pgmux cannot
    EXPECT_EQ(scram_login(a, server), "");
    EXPECT_FALSE(server.used_channel_binding());
    EXPECT_EQ(a.sasl_mechanism(), "SCRAM-SHA-256");
}

TEST(ServerAuth, ScramPassThroughNeedsTheSameSaltAndIterations) {
    ServerCredentials c;
    c.scram_keys = keys_from_client_login(verifier(kPassword), kPassword);
    auto other_salt = auth::ScramServer::for_verifier(verifier(kPassword));
    ServerAuthenticator a(std::string(kUser), c);
    auto error = scram_login(a, other_salt);
    EXPECT_NE(error.find("SCRAM authentication with the server failed"), std::string::npos)
        << error;
    EXPECT_FALSE(other_salt.authenticated());
}

TEST(ServerAuth, ScramWithoutCredentialsExplainsPassThrough) {
    ServerAuthenticator a(std::string(kUser), {});
    std::vector<std::string_view> mechanisms{auth::kScramSha256};
    auto error =
        expect_error(a.on_request(payload_of(auth::build_authentication_sasl(mechanisms))));
    EXPECT_NE(error.find("pass-through"), std::string::npos);
}

TEST(ServerAuth, OkBeforeScramFinalIsRefused) {
    auto server = auth::ScramServer::for_verifier(verifier(kPassword));
    ServerAuthenticator a(std::string(kUser), with_password());
    auto mechanisms = server.mechanisms();
    expect_reply(a.on_request(payload_of(auth::build_authentication_sasl(mechanisms))));
    auto error = expect_error(a.on_request(payload_of(auth::build_authentication_ok())));
    EXPECT_NE(error.find("without proving itself"), std::string::npos);
}

TEST(ServerAuth, ForgedServerSignatureIsRefused) {
    auto server = auth::ScramServer::for_verifier(verifier(kPassword));
    ServerAuthenticator a(std::string(kUser), with_password());
    auto mechanisms = server.mechanisms();
    auto r = expect_reply(a.on_request(payload_of(auth::build_authentication_sasl(mechanisms))));
    auto initial = auth::parse_sasl_initial_response(as_bytes(frontend_payload(r.message)));
    auto server_first = server.handle_client_first(initial->mechanism, initial->data);
    expect_reply(a.on_request(payload_of(auth::build_authentication_sasl_continue(*server_first))));
    const std::string forged = "v=" + auth::base64_encode(auth::Bytes(32, 0x42));
    auto error =
        expect_error(a.on_request(payload_of(auth::build_authentication_sasl_final(forged))));
    EXPECT_NE(error.find("SCRAM authentication with the server failed"), std::string::npos);
}

TEST(ServerAuth, UnsupportedMethodsAndGarbage) {
    ServerAuthenticator a(std::string(kUser), with_password());
    std::string gss("\0\0\0\x07", 4);  // AuthenticationGSS
    EXPECT_NE(expect_error(a.on_request(gss)).find("does not support"), std::string::npos);
    EXPECT_NE(expect_error(a.on_request(std::string("\0\0", 2))).find("malformed"),
              std::string::npos);
    std::string continue_without_sasl("\0\0\0\x0b", 4);
    continue_without_sasl += "r=abc";
    EXPECT_NE(expect_error(a.on_request(continue_without_sasl)).find("without a SASL exchange"),
              std::string::npos);
}

TEST(ServerAuth, ErrorsNeverQuoteSecrets) {
    // Every failure description is fixed text: nothing from the password or the
    // server's SCRAM data can end up in a log line.
    auto server = auth::ScramServer::for_verifier(verifier(kPassword));
    ServerAuthenticator a(std::string(kUser), with_password("wrong-but-secret"));
    const auto error = scram_login(a, server);
    EXPECT_EQ(error.find("wrong-but-secret"), std::string::npos);
}

TEST(LearnedCredentials, LatestKeysWin) {
    LearnedCredentials learned;
    EXPECT_TRUE(learned.snapshot().empty());
    auth::ScramPassThroughKeys first;
    first.iterations = 4096;
    first.client_key[0] = 1;
    auth::ScramPassThroughKeys second = first;
    second.client_key[0] = 2;
    learned.set_scram_keys(first);
    learned.set_scram_keys(second);
    learned.set_md5_hash("md5" + std::string(32, 'a'));
    const auto snap = learned.snapshot();
    ASSERT_TRUE(snap.scram_keys);
    EXPECT_EQ(snap.scram_keys->client_key[0], 2);
    EXPECT_EQ(*snap.md5_hash, "md5" + std::string(32, 'a'));
    EXPECT_FALSE(snap.password);
}

}  // namespace
}  // namespace pgmux::backend
