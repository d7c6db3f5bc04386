// Byte-level tests of the authentication messages.

#include <gtest/gtest.h>

#include "pgmux/auth/auth_messages.hpp"

namespace pgmux::auth {
namespace {

Bytes bytes(std::initializer_list<int> values) {
    Bytes out;
    for (int v : values) out.push_back(static_cast<std::uint8_t>(v));
    return out;
}

TEST(AuthMessages, BackendBuilders) {
    EXPECT_EQ(build_authentication_ok(), bytes({'R', 0, 0, 0, 8, 0, 0, 0, 0}));
    EXPECT_EQ(build_authentication_cleartext_password(), bytes({'R', 0, 0, 0, 8, 0, 0, 0, 3}));
    EXPECT_EQ(build_authentication_md5_password(Md5Salt{0xa6, 0x90, 0xa2, 0xb8}),
              bytes({'R', 0, 0, 0, 12, 0, 0, 0, 5, 0xa6, 0x90, 0xa2, 0xb8}));
    const std::vector<std::string_view> both{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
    const Bytes sasl = build_authentication_sasl(both);
    EXPECT_EQ(sasl.size(), 1u + 4 + 4 + 19 + 14 + 1);
    EXPECT_EQ(sasl[4], sasl.size() - 1);
    EXPECT_EQ(sasl.back(), 0);
    EXPECT_EQ(build_authentication_sasl_continue("r=x"),
              bytes({'R', 0, 0, 0, 11, 0, 0, 0, 11, 'r', '=', 'x'}));
    EXPECT_EQ(build_authentication_sasl_final("v=x"),
              bytes({'R', 0, 0, 0, 11, 0, 0, 0, 12, 'v', '=', 'x'}));
}

TEST(AuthMessages, FrontendBuilders) {
    EXPECT_EQ(build_password_message("pw"), bytes({'p', 0, 0, 0, 7, 'p', 'w', 0}));
    EXPECT_EQ(build_sasl_initial_response("M", "ab"),
              bytes({'p', 0, 0, 0, 12, 'M', 0, 0, 0, 0, 2, 'a', 'b'}));
    EXPECT_EQ(build_sasl_response("ab"), bytes({'p', 0, 0, 0, 6, 'a', 'b'}));
}

TEST(AuthMessages, ParsesRequestsFromServers) {
    auto md5 = parse_authentication_request(bytes({0, 0, 0, 5, 1, 2, 3, 4}));
    ASSERT_TRUE(md5);
    EXPECT_EQ(md5->code, AuthRequestCode::md5_password);
    EXPECT_EQ(md5->md5_salt, (Md5Salt{1, 2, 3, 4}));

    auto sasl = parse_authentication_request(bytes({0, 0, 0, 10, 'A', 0, 'B', 'C', 0, 0}));
    ASSERT_TRUE(sasl);
    EXPECT_EQ(sasl->mechanisms, (std::vector<std::string>{"A", "BC"}));

    auto cont = parse_authentication_request(bytes({0, 0, 0, 11, 'r', '=', 'x'}));
    ASSERT_TRUE(cont);
    EXPECT_EQ(cont->code, AuthRequestCode::sasl_continue);
    EXPECT_EQ(cont->data, "r=x");

    auto ok = parse_authentication_request(bytes({0, 0, 0, 0}));
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->code, AuthRequestCode::ok);
}

TEST(AuthMessages, RejectsMalformedRequests) {
    EXPECT_FALSE(parse_authentication_request(bytes({})));
    EXPECT_FALSE(parse_authentication_request(bytes({0, 0, 0})));
    EXPECT_FALSE(parse_authentication_request(bytes({0, 0, 0, 5, 1, 2, 3})));        // short salt
    EXPECT_FALSE(parse_authentication_request(bytes({0, 0, 0, 5, 1, 2, 3, 4, 5})));  // long
    EXPECT_FALSE(parse_authentication_request(bytes({0, 0, 0, 0, 1})));
    EXPECT_FALSE(parse_authentication_request(bytes({0, 0, 0, 10, 0})));       // no mechanisms
    EXPECT_FALSE(parse_authentication_request(bytes({0, 0, 0, 10, 'A', 0})));  // unterminated list
    auto gss = parse_authentication_request(bytes({0, 0, 0, 7}));
    ASSERT_FALSE(gss);
    EXPECT_EQ(gss.error(), AuthError::unsupported_mechanism);
    Bytes many{0, 0, 0, 10};
    for (int i = 0; i < 20; ++i) many.insert(many.end(), {'M', 0});
    many.push_back(0);
    EXPECT_FALSE(parse_authentication_request(many));
    Bytes huge{0, 0, 0, 11};
    huge.resize(kMaxAuthPayload + 1, 'x');
    auto too_long = parse_authentication_request(huge);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error(), AuthError::message_too_long);
}

TEST(AuthMessages, ParsesClientMessages) {
    auto initial = parse_sasl_initial_response(bytes({'M', 0, 0, 0, 0, 2, 'a', 'b'}));
    ASSERT_TRUE(initial);
    EXPECT_EQ(initial->mechanism, "M");
    EXPECT_EQ(initial->data, "ab");
    EXPECT_FALSE(parse_sasl_initial_response(bytes({'M', 0, 0, 0, 0, 3, 'a', 'b'})));
    EXPECT_FALSE(parse_sasl_initial_response(bytes({'M', 0, 0, 0, 0, 1, 'a', 'b'})));
    EXPECT_FALSE(parse_sasl_initial_response(bytes({'M', 0, 0xff, 0xff, 0xff, 0xff})));
    EXPECT_FALSE(parse_sasl_initial_response(bytes({'M', 0, 0x7f, 0xff, 0xff, 0xff})));
    EXPECT_FALSE(parse_sasl_initial_response(bytes({'M'})));

    auto password = parse_password_message(bytes({'p', 'w', 0}));
    ASSERT_TRUE(password);
    EXPECT_EQ(*password, "pw");
    EXPECT_FALSE(parse_password_message(bytes({'p', 'w'})));
    EXPECT_FALSE(parse_password_message(bytes({'p', 0, 'w', 0})));

    auto response = parse_sasl_response(bytes({'c', '='}));
    ASSERT_TRUE(response);
    EXPECT_EQ(*response, "c=");
}

TEST(AuthMessages, BuiltMessagesParseBack) {
    const Bytes built = build_sasl_initial_response("SCRAM-SHA-256", "n,,n=,r=abc");
    auto parsed = parse_sasl_initial_response(ByteView(built).subspan(5));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->mechanism, "SCRAM-SHA-256");
    EXPECT_EQ(parsed->data, "n,,n=,r=abc");
}

}  // namespace
}  // namespace pgmux::auth
