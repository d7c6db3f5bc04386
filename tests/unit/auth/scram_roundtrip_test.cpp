// Full ScramClient <-> ScramServer exchanges: plaintext and verifier-only
// secrets, with and without channel binding, pass-through and failures.

#include <gtest/gtest.h>

#include "pgmux/auth/scram_client.hpp"
#include "pgmux/auth/scram_server.hpp"
#include "test_support.hpp"

namespace pgmux::auth {
namespace {

using testing::bytes_of;
using testing::run_exchange;

MockScramSecrets mocks() {
    auto m = MockScramSecrets::create();
    EXPECT_TRUE(m);
    return *m;
}

ScramVerifier verifier_for(std::string_view password) {
    auto v = build_scram_verifier_random_salt(password);
    EXPECT_TRUE(v);
    return *v;
}

TEST(ScramRoundTrip, VerifierOnlySecret) {
    auto server = ScramServer::for_verifier(verifier_for("s3cret"));
    auto client = ScramClient::with_password("s3cret");
    auto outcome = run_exchange(client, server);
    EXPECT_EQ(outcome.mechanism, kScramSha256);
    EXPECT_FALSE(outcome.server_error);
    EXPECT_FALSE(outcome.client_error);
    EXPECT_TRUE(outcome.client_verified_server);
    EXPECT_TRUE(server.authenticated());
    EXPECT_FALSE(server.used_channel_binding());
}

TEST(ScramRoundTrip, PlaintextSecretDerivesAVerifier) {
    const Secret secret = Secret::plaintext("plain pw");
    const auto m = mocks();
    auto server = ScramServer::for_secret(&secret, "alice", m);
    ASSERT_TRUE(server);
    auto client = ScramClient::with_password("plain pw");
    auto outcome = run_exchange(client, *server);
    EXPECT_FALSE(outcome.server_error);
    EXPECT_TRUE(outcome.client_verified_server);
}

TEST(ScramRoundTrip, WrongPasswordFailsWithAuthenticationFailed) {
    auto server = ScramServer::for_verifier(verifier_for("right"));
    auto client = ScramClient::with_password("wrong");
    auto outcome = run_exchange(client, server);
    ASSERT_TRUE(outcome.server_error);
    EXPECT_EQ(*outcome.server_error, AuthError::authentication_failed);
    EXPECT_EQ(sqlstate(*outcome.server_error), "28P01");
    EXPECT_FALSE(server.authenticated());
    EXPECT_FALSE(server.pass_through_keys());
}

TEST(ScramRoundTrip, UnknownUserLooksLikeAWrongPassword) {
    const auto m = mocks();
    auto mock = ScramServer::for_secret(nullptr, "nobody", m);
    ASSERT_TRUE(mock);
    auto client = ScramClient::with_password("anything");
    auto outcome = run_exchange(client, *mock);
    ASSERT_TRUE(outcome.server_error);
    EXPECT_EQ(*outcome.server_error, AuthError::authentication_failed);
    EXPECT_EQ(outcome.mechanism, kScramSha256);  // same mechanism list as a real user

    // The mock salt is stable per user name (a prober sees no difference
    // between two attempts) and differs between user names.
    auto first = m.verifier_for("nobody");
    auto again = m.verifier_for("nobody");
    auto other = m.verifier_for("somebody");
    ASSERT_TRUE(first && again && other);
    EXPECT_EQ(first->salt, again->salt);
    EXPECT_NE(first->salt, other->salt);
    EXPECT_EQ(first->salt.size(), kDefaultSaltLength);
    EXPECT_EQ(first->iterations, kDefaultScramIterations);
}

TEST(ScramRoundTrip, Md5SecretRunsAMockExchange) {
    // PostgreSQL cannot run SCRAM for a user with an MD5 hash; it fails the
    // exchange at the proof, exactly like a wrong password.
    const Secret secret = Secret::md5("md5277a6b25477915df34bd74cd39325bbe");
    const auto m = mocks();
    auto server = ScramServer::for_secret(&secret, "md5_user", m);
    ASSERT_TRUE(server);
    auto client = ScramClient::with_password("pw");
    auto outcome = run_exchange(client, *server);
    ASSERT_TRUE(outcome.server_error);
    EXPECT_EQ(*outcome.server_error, AuthError::authentication_failed);
}

TEST(ScramRoundTrip, ChannelBindingSelectsPlus) {
    const Bytes binding = bytes_of("0123456789abcdef0123456789abcdef");
    ScramServerOptions server_options;
    server_options.channel_binding_data = binding;
    auto server = ScramServer::for_verifier(verifier_for("pw"), server_options);
    ASSERT_EQ(server.mechanisms().size(), 2u);
    EXPECT_EQ(server.mechanisms()[0], kScramSha256Plus);

    ScramClientOptions client_options;
    client_options.channel_binding_data = binding;
    auto client = ScramClient::with_password("pw", client_options);
    auto outcome = run_exchange(client, server);
    EXPECT_EQ(outcome.mechanism, kScramSha256Plus);
    EXPECT_FALSE(outcome.server_error);
    EXPECT_TRUE(outcome.client_verified_server);
    EXPECT_TRUE(server.used_channel_binding());
}

TEST(ScramRoundTrip, ChannelBindingDataMismatchIsRejected) {
    // A man in the middle terminates TLS with its own certificate: the
    // client's binding data (its view of the certificate) differs.
    ScramServerOptions server_options;
    server_options.channel_binding_data = bytes_of("real certificate hash");
    auto server = ScramServer::for_verifier(verifier_for("pw"), server_options);
    ScramClientOptions client_options;
    client_options.channel_binding_data = bytes_of("attacker certificate hash");
    auto client = ScramClient::with_password("pw", client_options);
    auto outcome = run_exchange(client, server);
    ASSERT_TRUE(outcome.server_error);
    EXPECT_EQ(*outcome.server_error, AuthError::channel_binding_mismatch);
}

TEST(ScramRoundTrip, ClientWithBindingAgainstServerWithoutUsesY) {
    auto server = ScramServer::for_verifier(verifier_for("pw"));
    ScramClientOptions client_options;
    client_options.channel_binding_data = bytes_of("hash");
    auto client = ScramClient::with_password("pw", client_options);
    auto first = client.start(testing::mechanism_list(server));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->mechanism, kScramSha256);
    EXPECT_EQ(first->message.substr(0, 3), "y,,");
    auto server_first = server.handle_client_first(first->mechanism, first->message);
    ASSERT_TRUE(server_first);
    auto client_final = client.handle_server_first(*server_first);
    ASSERT_TRUE(client_final);
    EXPECT_EQ(client_final->substr(0, 7), "c=eSws,");  // base64("y,,")
    auto server_final = server.handle_client_final(*client_final);
    ASSERT_TRUE(server_final);
    EXPECT_TRUE(client.handle_server_final(*server_final));
}

TEST(ScramRoundTrip, DowngradeToYWhenServerOfferedPlusIsRejected) {
    ScramServerOptions server_options;
    server_options.channel_binding_data = bytes_of("hash");
    auto server = ScramServer::for_verifier(verifier_for("pw"), server_options);
    // An attacker strips PLUS from the list the client sees.
    ScramClientOptions client_options;
    client_options.channel_binding_data = bytes_of("hash");
    auto client = ScramClient::with_password("pw", client_options);
    const std::vector<std::string> stripped{"SCRAM-SHA-256"};
    auto first = client.start(stripped);
    ASSERT_TRUE(first);
    auto server_first = server.handle_client_first(first->mechanism, first->message);
    ASSERT_FALSE(server_first);
    EXPECT_EQ(server_first.error(), AuthError::channel_binding_mismatch);
}

TEST(ScramRoundTrip, RequiredChannelBindingWithoutPlusFails) {
    auto server = ScramServer::for_verifier(verifier_for("pw"));
    ScramClientOptions client_options;
    client_options.require_channel_binding = true;
    auto client = ScramClient::with_password("pw", client_options);
    auto outcome = run_exchange(client, server);
    ASSERT_TRUE(outcome.client_error);
    EXPECT_EQ(*outcome.client_error, AuthError::channel_binding_unavailable);
}

TEST(ScramRoundTrip, PassThroughLogsInWithoutThePassword) {
    // The auth file holds only the verifier; the real server holds the same.
    const ScramVerifier verifier = verifier_for("only the client knows");
    auto front = ScramServer::for_verifier(verifier);
    auto user_client = ScramClient::with_password("only the client knows");
    ASSERT_FALSE(run_exchange(user_client, front).server_error);
    auto keys = front.pass_through_keys();
    ASSERT_TRUE(keys);

    for (bool binding : {false, true}) {
        SCOPED_TRACE(binding);
        ScramServerOptions server_options;
        ScramClientOptions client_options;
        if (binding) {
            server_options.channel_binding_data = bytes_of("server cert hash");
            client_options.channel_binding_data = bytes_of("server cert hash");
        }
        auto backend = ScramServer::for_verifier(verifier, server_options);
        auto proxy_client = ScramClient::with_keys(*keys, client_options);
        auto outcome = run_exchange(proxy_client, backend);
        EXPECT_FALSE(outcome.server_error);
        EXPECT_FALSE(outcome.client_error);
        EXPECT_TRUE(outcome.client_verified_server);
        EXPECT_TRUE(backend.authenticated());
    }
}

TEST(ScramRoundTrip, PassThroughKeysRefuseADifferentVerifier) {
    const ScramVerifier verifier = verifier_for("pw");
    auto front = ScramServer::for_verifier(verifier);
    auto user_client = ScramClient::with_password("pw");
    ASSERT_FALSE(run_exchange(user_client, front).server_error);
    auto keys = front.pass_through_keys();
    ASSERT_TRUE(keys);

    // Same password, but the server's verifier has another salt.
    auto backend = ScramServer::for_verifier(verifier_for("pw"));
    auto proxy_client = ScramClient::with_keys(*keys);
    auto outcome = run_exchange(proxy_client, backend);
    ASSERT_TRUE(outcome.client_error);
    EXPECT_EQ(*outcome.client_error, AuthError::secret_unusable);
}

TEST(ScramRoundTrip, WrongKeysAreRejectedByTheServer) {
    const ScramVerifier verifier = verifier_for("pw");
    ScramPassThroughKeys keys;
    keys.iterations = verifier.iterations;
    keys.salt = verifier.salt;
    keys.client_key.fill(7);
    keys.server_key = verifier.server_key;
    auto backend = ScramServer::for_verifier(verifier);
    auto proxy_client = ScramClient::with_keys(keys);
    auto outcome = run_exchange(proxy_client, backend);
    ASSERT_TRUE(outcome.server_error);
    EXPECT_EQ(*outcome.server_error, AuthError::authentication_failed);
}

TEST(ScramRoundTrip, ClientDetectsAServerThatDoesNotKnowTheVerifier) {
    // A fake server with the right salt but a made-up ServerKey accepts any
    // proof (it cannot check it) but cannot sign: the client must notice.
    ScramVerifier verifier = verifier_for("pw");
    auto client = ScramClient::with_password("pw");
    auto server = ScramServer::for_verifier(verifier);
    auto first = client.start(testing::mechanism_list(server));
    ASSERT_TRUE(first);
    auto server_first = server.handle_client_first(first->mechanism, first->message);
    ASSERT_TRUE(server_first);
    ASSERT_TRUE(client.handle_server_first(*server_first));
    auto result = client.handle_server_final("v=" + base64_encode(Sha256Digest{}));
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), AuthError::server_signature_mismatch);
    EXPECT_FALSE(client.server_verified());
}

TEST(ScramRoundTrip, NonAsciiPasswordsAreSaslpreppedOnBothSides) {
    // Fullwidth letters normalise to ASCII under NFKC: a client typing the
    // ASCII form logs in against a verifier made from the fullwidth form.
    auto server = ScramServer::for_verifier(verifier_for("\uFF50\uFF57\u00A0x"));
    auto client = ScramClient::with_password("pw x");
    auto outcome = run_exchange(client, server);
    EXPECT_FALSE(outcome.server_error);
    EXPECT_TRUE(outcome.client_verified_server);
}

}  // namespace
}  // namespace pgmux::auth
