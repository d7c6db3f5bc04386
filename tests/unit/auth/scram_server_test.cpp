// ScramServer against malformed, hostile and out-of-order input: every case
// must end in an error value, never a crash, and never in authentication.

#include <gtest/gtest.h>

#include "pgmux/auth/scram_server.hpp"
#include "test_support.hpp"

namespace pgmux::auth {
namespace {

using testing::bytes_of;

constexpr std::string_view kNonce = "fyko+d2lbbFgONRv9qkxdawL";
constexpr std::string_view kServerNonce = "3rfcNHYJY1ZVvWVs7j";

ScramServer make_server(bool binding = false) {
    auto verifier = build_scram_verifier("pw", bytes_of("0123456789abcdef"), 4096);
    EXPECT_TRUE(verifier);
    ScramServerOptions options;
    options.fixed_nonce = std::string(kServerNonce);
    if (binding) options.channel_binding_data = bytes_of("cert-hash");
    return ScramServer::for_verifier(*verifier, options);
}

AuthError first_error(std::string_view mechanism, std::string_view message, bool binding = false) {
    auto server = make_server(binding);
    auto result = server.handle_client_first(mechanism, message);
    EXPECT_FALSE(result) << "accepted: " << message;
    EXPECT_FALSE(server.authenticated());
    return result ? AuthError::wrong_state : result.error();
}

AuthError final_error(std::string_view client_final) {
    auto server = make_server();
    const std::string first = "n,,n=,r=" + std::string(kNonce);
    EXPECT_TRUE(server.handle_client_first(kScramSha256, first));
    auto result = server.handle_client_final(client_final);
    EXPECT_FALSE(result) << "accepted: " << client_final;
    EXPECT_FALSE(server.authenticated());
    EXPECT_FALSE(server.pass_through_keys());
    return result ? AuthError::wrong_state : result.error();
}

TEST(ScramServerInput, AcceptsWellFormedClientFirst) {
    auto server = make_server();
    auto result = server.handle_client_first(kScramSha256, "n,,n=ignored,r=abc,x=ext");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->substr(0, 2 + 3 + kServerNonce.size()), "r=abc" + std::string(kServerNonce));
}

TEST(ScramServerInput, RejectsUnknownOrUnofferedMechanisms) {
    EXPECT_EQ(first_error("SCRAM-SHA-1", "n,,n=,r=abc"), AuthError::unsupported_mechanism);
    EXPECT_EQ(first_error("", "n,,n=,r=abc"), AuthError::unsupported_mechanism);
    // PLUS is only valid when the server offered it.
    EXPECT_EQ(first_error(kScramSha256Plus, "p=tls-server-end-point,,n=,r=abc"),
              AuthError::unsupported_mechanism);
}

TEST(ScramServerInput, RejectsMalformedClientFirst) {
    EXPECT_EQ(first_error(kScramSha256, ""), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "x,,n=,r=abc"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,,r=abc"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r="), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r=a,b"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r=a,1=x"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,x,n=,r=abc"), AuthError::malformed_message);
    // Nonce characters outside printable (space, non-ASCII).
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r=a c"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r=\xc3\xa9"), AuthError::malformed_message);
    EXPECT_EQ(first_error(kScramSha256, std::string_view("n,,n=,r=a\0b", 11)),
              AuthError::malformed_message);
}

TEST(ScramServerInput, RejectsUnsupportedFeatures) {
    EXPECT_EQ(first_error(kScramSha256, "n,a=admin,n=,r=abc"), AuthError::unsupported_extension);
    EXPECT_EQ(first_error(kScramSha256, "n,,m=ext,n=,r=abc"), AuthError::unsupported_extension);
}

TEST(ScramServerInput, ChannelBindingNegotiationErrors) {
    // Binding data without having chosen PLUS.
    EXPECT_EQ(first_error(kScramSha256, "p=tls-server-end-point,,n=,r=abc", true),
              AuthError::channel_binding_mismatch);
    // PLUS chosen but the message says "no binding".
    EXPECT_EQ(first_error(kScramSha256Plus, "n,,n=,r=abc", true),
              AuthError::channel_binding_mismatch);
    // Binding types other than tls-server-end-point.
    EXPECT_EQ(first_error(kScramSha256Plus, "p=tls-unique,,n=,r=abc", true),
              AuthError::channel_binding_mismatch);
    EXPECT_EQ(first_error(kScramSha256Plus, "p=tls-server-end-point", true),
              AuthError::malformed_message);
}

TEST(ScramServerInput, RejectsOversizedMessages) {
    const std::string huge_nonce(kMaxScramMessageLength, 'a');
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r=" + huge_nonce), AuthError::message_too_long);
    const std::string long_nonce(kMaxScramNonceLength + 1, 'a');
    EXPECT_EQ(first_error(kScramSha256, "n,,n=,r=" + long_nonce), AuthError::malformed_message);
    EXPECT_EQ(final_error("c=biws,r=x,p=" + std::string(kMaxScramMessageLength, 'A')),
              AuthError::message_too_long);
}

TEST(ScramServerInput, RejectsMalformedClientFinal) {
    const std::string nonce = std::string(kNonce) + std::string(kServerNonce);
    const std::string proof = "p=" + base64_encode(Sha256Digest{});
    EXPECT_EQ(final_error(""), AuthError::malformed_message);
    EXPECT_EQ(final_error("r=" + nonce + "," + proof), AuthError::malformed_message);
    EXPECT_EQ(final_error("c=biws," + proof), AuthError::malformed_message);
    EXPECT_EQ(final_error("c=biws,r=" + nonce), AuthError::malformed_message);
    EXPECT_EQ(final_error("c=biws,r=" + nonce + ",p=short"), AuthError::malformed_message);
    EXPECT_EQ(
        final_error("c=biws,r=" + nonce + ",p=" + base64_encode(as_bytes("16 bytes only!!!"))),
        AuthError::malformed_message);
    EXPECT_EQ(final_error("c=biws,r=" + nonce + "," + proof + ",x=trailing"),
              AuthError::malformed_message);
    EXPECT_EQ(final_error("c=biws,r=" + nonce + "," + proof + ","), AuthError::malformed_message);
    EXPECT_EQ(final_error("c=!!!!,r=" + nonce + "," + proof), AuthError::malformed_message);
}

TEST(ScramServerInput, RejectsWrongBindingOrNonceInClientFinal) {
    const std::string nonce = std::string(kNonce) + std::string(kServerNonce);
    const std::string proof = "p=" + base64_encode(Sha256Digest{});
    // "eSws" is "y,,", but the client said "n".
    EXPECT_EQ(final_error("c=eSws,r=" + nonce + "," + proof), AuthError::channel_binding_mismatch);
    EXPECT_EQ(final_error("c=biws,r=" + std::string(kNonce) + "," + proof),
              AuthError::nonce_mismatch);
    EXPECT_EQ(final_error("c=biws,r=" + nonce + "X," + proof), AuthError::nonce_mismatch);
}

TEST(ScramServerInput, ExtensionsBeforeTheProofAreIgnored) {
    // A wrong proof after an extension still reaches proof checking.
    const std::string nonce = std::string(kNonce) + std::string(kServerNonce);
    EXPECT_EQ(final_error("c=biws,r=" + nonce + ",x=ext,p=" + base64_encode(Sha256Digest{})),
              AuthError::authentication_failed);
}

TEST(ScramServerInput, CallsOutOfOrderFail) {
    auto server = make_server();
    auto early = server.handle_client_final("c=biws,r=x,p=x");
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error(), AuthError::wrong_state);

    auto again = make_server();
    ASSERT_TRUE(again.handle_client_first(kScramSha256, "n,,n=,r=abc"));
    auto twice = again.handle_client_first(kScramSha256, "n,,n=,r=abc");
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error(), AuthError::wrong_state);
}

TEST(ScramServerInput, AFailedExchangeStaysFailed) {
    auto server = make_server();
    ASSERT_FALSE(server.handle_client_first(kScramSha256, "garbage"));
    auto next = server.handle_client_first(kScramSha256, "n,,n=,r=abc");
    ASSERT_FALSE(next);
    EXPECT_EQ(next.error(), AuthError::wrong_state);
}

TEST(ScramServerInput, ErrorsCarryNoPeerData) {
    for (auto error : {AuthError::authentication_failed, AuthError::malformed_message,
                       AuthError::channel_binding_mismatch, AuthError::nonce_mismatch}) {
        EXPECT_FALSE(describe(error).empty());
        EXPECT_EQ(describe(error).find("pw"), std::string_view::npos);
    }
    EXPECT_EQ(sqlstate(AuthError::authentication_failed), "28P01");
    EXPECT_EQ(sqlstate(AuthError::malformed_message), "08P01");
}

}  // namespace
}  // namespace pgmux::auth
