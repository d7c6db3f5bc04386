// ScramClient against malformed or hostile server messages.

#include <gtest/gtest.h>

#include "pgmux/auth/scram_client.hpp"
#include "test_support.hpp"

namespace pgmux::auth {
namespace {

using testing::bytes_of;

constexpr std::string_view kNonce = "clientnonce";
const std::vector<std::string> kPlain{"SCRAM-SHA-256"};
const std::vector<std::string> kBoth{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};

ScramClient started_client(ScramClientOptions options = {}) {
    options.fixed_nonce = std::string(kNonce);
    auto client = ScramClient::with_password("pw", options);
    EXPECT_TRUE(client.start(kPlain));
    return client;
}

AuthError server_first_error(std::string_view server_first, ScramClientOptions options = {}) {
    auto client = started_client(std::move(options));
    auto result = client.handle_server_first(server_first);
    EXPECT_FALSE(result) << "accepted: " << server_first;
    return result ? AuthError::wrong_state : result.error();
}

TEST(ScramClientInput, ChoosesMechanisms) {
    {
        auto client = ScramClient::with_password("pw");
        auto first = client.start(kBoth);  // no binding data: plain SCRAM, flag n
        ASSERT_TRUE(first);
        EXPECT_EQ(first->mechanism, kScramSha256);
        EXPECT_EQ(first->message.substr(0, 6), "n,,n=,");
    }
    {
        ScramClientOptions options;
        options.channel_binding_data = bytes_of("hash");
        auto client = ScramClient::with_password("pw", options);
        auto first = client.start(kBoth);
        ASSERT_TRUE(first);
        EXPECT_EQ(first->mechanism, kScramSha256Plus);
        EXPECT_EQ(first->message.substr(0, 24), "p=tls-server-end-point,,");
    }
    {
        auto client = ScramClient::with_password("pw");
        const std::vector<std::string> plus_only{"SCRAM-SHA-256-PLUS"};
        auto first = client.start(plus_only);
        ASSERT_FALSE(first);
        EXPECT_EQ(first.error(), AuthError::unsupported_mechanism);
    }
    {
        auto client = ScramClient::with_password("pw");
        const std::vector<std::string> other{"OAUTHBEARER"};
        EXPECT_FALSE(client.start(other));
    }
}

TEST(ScramClientInput, EscapesTheUserName) {
    ScramClientOptions options;
    options.user_name = "a,b=c";
    options.fixed_nonce = "n";
    auto client = ScramClient::with_password("pw", options);
    auto first = client.start(kPlain);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->message, "n,,n=a=2Cb=3Dc,r=n");
}

TEST(ScramClientInput, NoncesAreRandomByDefault) {
    auto a = ScramClient::with_password("pw");
    auto b = ScramClient::with_password("pw");
    auto first_a = a.start(kPlain);
    auto first_b = b.start(kPlain);
    ASSERT_TRUE(first_a && first_b);
    EXPECT_NE(first_a->message, first_b->message);
    EXPECT_EQ(first_a->message.size(), std::string("n,,n=,r=").size() + 24);
}

TEST(ScramClientInput, RejectsBadServerFirst) {
    const std::string salt = ",s=" + base64_encode(as_bytes("salt")) + ",i=4096";
    EXPECT_EQ(server_first_error(""), AuthError::malformed_message);
    EXPECT_EQ(server_first_error("r=clientnonceSRV"), AuthError::malformed_message);
    // The server must extend our nonce, not replace or merely repeat it.
    EXPECT_EQ(server_first_error("r=othernonceSRV" + salt), AuthError::nonce_mismatch);
    EXPECT_EQ(server_first_error("r=clientnonce" + salt), AuthError::nonce_mismatch);
    EXPECT_EQ(server_first_error("r=clientnonceS V" + salt), AuthError::nonce_mismatch);
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=,i=4096"), AuthError::malformed_message);
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=***,i=4096"), AuthError::malformed_message);
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=c2FsdA==,i=0"), AuthError::malformed_message);
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=c2FsdA==,i=-1"), AuthError::malformed_message);
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=c2FsdA==,i=12x"),
              AuthError::malformed_message);
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=c2FsdA==,i=99999999999"),
              AuthError::malformed_message);
    EXPECT_EQ(server_first_error("m=ext,r=clientnonceSRV" + salt),
              AuthError::unsupported_extension);
    EXPECT_EQ(
        server_first_error("r=clientnonceSRV" + salt + std::string(kMaxScramMessageLength, 'x')),
        AuthError::message_too_long);
}

TEST(ScramClientInput, RefusesExcessiveIterations) {
    ScramClientOptions options;
    options.max_iterations = 10'000;
    EXPECT_EQ(server_first_error("r=clientnonceSRV,s=c2FsdA==,i=10001", options),
              AuthError::invalid_server_parameters);
}

TEST(ScramClientInput, ServerFinalErrors) {
    auto prepared = [] {
        auto client = started_client();
        EXPECT_TRUE(client.handle_server_first("r=clientnonceSRV,s=c2FsdA==,i=16"));
        return client;
    };
    {
        auto client = prepared();
        auto result = client.handle_server_final("e=invalid-proof");
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), AuthError::server_reported_error);
    }
    {
        auto client = prepared();
        auto result = client.handle_server_final("x=1");
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), AuthError::malformed_message);
    }
    {
        auto client = prepared();
        auto result = client.handle_server_final("v=notbase64!");
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), AuthError::server_signature_mismatch);
    }
    {
        auto client = started_client();
        auto result = client.handle_server_final("v=AAAA");
        ASSERT_FALSE(result);
        EXPECT_EQ(result.error(), AuthError::wrong_state);
    }
}

}  // namespace
}  // namespace pgmux::auth
