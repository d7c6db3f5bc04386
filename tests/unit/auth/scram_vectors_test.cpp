// RFC 7677 section 3 test vector for SCRAM-SHA-256, run through both state
// machines with the nonces of the RFC.

#include <gtest/gtest.h>

#include "pgmux/auth/scram_client.hpp"
#include "pgmux/auth/scram_keys.hpp"
#include "pgmux/auth/scram_server.hpp"

namespace pgmux::auth {
namespace {

constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramVerifier rfc_verifier() {
    auto salt = base64_decode(kSalt);
    EXPECT_TRUE(salt);
    auto verifier = build_scram_verifier("pencil", *salt, 4096);
    EXPECT_TRUE(verifier);
    return *verifier;
}

TEST(ScramRfc7677, ServerProducesTheRfcMessages) {
    ScramServerOptions options;
    options.fixed_nonce = std::string(kServerNonce);
    auto server = ScramServer::for_verifier(rfc_verifier(), options);
    auto server_first = server.handle_client_first(kScramSha256, kClientFirst);
    ASSERT_TRUE(server_first) << describe(server_first.error());
    EXPECT_EQ(*server_first, kServerFirst);
    auto server_final = server.handle_client_final(kClientFinal);
    ASSERT_TRUE(server_final) << describe(server_final.error());
    EXPECT_EQ(*server_final, kServerFinal);
    EXPECT_TRUE(server.authenticated());
}

TEST(ScramRfc7677, ClientProducesTheRfcMessages) {
    ScramClientOptions options;
    options.user_name = "user";
    options.fixed_nonce = std::string(kClientNonce);
    auto client = ScramClient::with_password("pencil", options);
    const std::vector<std::string> mechanisms{"SCRAM-SHA-256"};
    auto first = client.start(mechanisms);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->mechanism, kScramSha256);
    EXPECT_EQ(first->message, kClientFirst);
    auto client_final = client.handle_server_first(kServerFirst);
    ASSERT_TRUE(client_final) << describe(client_final.error());
    EXPECT_EQ(*client_final, kClientFinal);
    EXPECT_TRUE(client.handle_server_final(kServerFinal));
    EXPECT_TRUE(client.server_verified());
}

TEST(ScramRfc7677, ServerRecoversTheClientKey) {
    ScramServerOptions options;
    options.fixed_nonce = std::string(kServerNonce);
    auto server = ScramServer::for_verifier(rfc_verifier(), options);
    ASSERT_TRUE(server.handle_client_first(kScramSha256, kClientFirst));
    ASSERT_TRUE(server.handle_client_final(kClientFinal));
    auto keys = server.pass_through_keys();
    ASSERT_TRUE(keys);

    auto salt = base64_decode(kSalt);
    auto salted = scram_salted_password("pencil", *salt, 4096);
    ASSERT_TRUE(salted);
    auto client_key = scram_client_key(*salted);
    ASSERT_TRUE(client_key);
    EXPECT_EQ(keys->client_key, *client_key);
    EXPECT_EQ(keys->server_key, rfc_verifier().server_key);
    EXPECT_EQ(keys->iterations, 4096);
    EXPECT_EQ(keys->salt, *salt);
}

TEST(ScramRfc7677, ClientRejectsATamperedServerSignature) {
    ScramClientOptions options;
    options.user_name = "user";
    options.fixed_nonce = std::string(kClientNonce);
    auto client = ScramClient::with_password("pencil", options);
    const std::vector<std::string> mechanisms{"SCRAM-SHA-256"};
    ASSERT_TRUE(client.start(mechanisms));
    ASSERT_TRUE(client.handle_server_first(kServerFirst));
    std::string tampered(kServerFinal);
    tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
    auto result = client.handle_server_final(tampered);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), AuthError::server_signature_mismatch);
    EXPECT_FALSE(client.server_verified());
}

}  // namespace
}  // namespace pgmux::auth
