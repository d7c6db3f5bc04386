// Encoders produce exactly PostgreSQL's layouts; decoders of inspected
// messages reject malformed bodies.
#include <gtest/gtest.h>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/wire.h"

namespace pgmux::protocol {
namespace {

TEST(Messages, ReadyForQueryBytes) {
    std::string m;
    append_ready_for_query(m, 'T');
    EXPECT_EQ(m, std::string("Z\0\0\0\5T", 6));
}

TEST(Messages, ErrorResponseRoundTrip) {
    std::string m;
    append_error_response(m, {"FATAL", "53300", "sorry, too many clients already", "detail", "hint"});
    auto r = decode_frame(m, kDefaultMaxMessageBytes);
    ASSERT_EQ(r.status, DecodeStatus::kFrame);
    EXPECT_EQ(r.frame.type, 'E');
    auto f = parse_error_fields(r.frame.body);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->severity, "FATAL");
    EXPECT_EQ(f->sqlstate, "53300");
    EXPECT_EQ(f->message, "sorry, too many clients already");
    EXPECT_NE(m.find(std::string("D") + "detail"), std::string::npos);
    EXPECT_NE(m.find(std::string("H") + "hint"), std::string::npos);
}

TEST(Messages, ErrorFieldsRejectTruncatedBodies) {
    std::string m;
    append_error_response(m, {"ERROR", "42P05", "x"});
    const std::string_view body = std::string_view(m).substr(5);
    for (std::size_t n = 0; n + 1 < body.size(); ++n) {
        EXPECT_FALSE(parse_error_fields(body.substr(0, n))) << n;
    }
    EXPECT_TRUE(parse_error_fields(body));
}

TEST(Messages, ParameterStatusAndBackendKey) {
    std::string m;
    append_parameter_status(m, "TimeZone", "UTC");
    EXPECT_EQ(m, std::string("S\0\0\0\x11TimeZone\0UTC\0", 18));
    std::string k;
    append_backend_key_data(k, 1, 2);
    EXPECT_EQ(k, std::string("K\0\0\0\x0c\0\0\0\1\0\0\0\2", 13));
}

TEST(Messages, NegotiateProtocolVersion) {
    std::string m;
    append_negotiate_protocol_version(m, 0, {"_pq_.foo"});
    auto r = decode_frame(m, kDefaultMaxMessageBytes);
    ASSERT_EQ(r.status, DecodeStatus::kFrame);
    BodyReader br(r.frame.body);
    EXPECT_EQ(br.i32(), 0);
    EXPECT_EQ(br.i32(), 1);
    EXPECT_EQ(br.cstr(), "_pq_.foo");
    EXPECT_EQ(br.remaining(), 0u);
}

TEST(Messages, QueryAndSimpleMessages) {
    std::string m;
    append_query(m, "SELECT 1");
    EXPECT_EQ(m, std::string("Q\0\0\0\x0dSELECT 1\0", 14));
    std::string t;
    append_terminate(t);
    EXPECT_EQ(t, std::string("X\0\0\0\4", 5));
}

TEST(BodyReader, NeverReadsPastTheEnd) {
    BodyReader r(std::string_view("ab", 2));
    EXPECT_FALSE(r.i32());
    EXPECT_FALSE(r.cstr());
    EXPECT_EQ(r.i16(), static_cast<std::int16_t>(('a' << 8) | 'b'));
    EXPECT_FALSE(r.byte());
    EXPECT_FALSE(r.bytes(1));
}

}  // namespace
}  // namespace pgmux::protocol
