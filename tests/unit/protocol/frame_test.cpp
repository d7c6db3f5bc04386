// The frame decoder must find every message however the bytes are split,
// and turn truncated, oversized and malformed input into a status, never a
// crash, an out-of-bounds read or a hang.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/frame.h"
#include "protocol/messages.h"

namespace pgmux::protocol {
namespace {

std::string message(char type, std::string_view body) {
    std::string m(1, type);
    const auto len = static_cast<std::uint32_t>(body.size() + 4);
    m.push_back(static_cast<char>(len >> 24));
    m.push_back(static_cast<char>(len >> 16));
    m.push_back(static_cast<char>(len >> 8));
    m.push_back(static_cast<char>(len));
    m.append(body);
    return m;
}

// One message of every frontend and backend type pgmux handles.
std::vector<std::string> sample_stream() {
    std::vector<std::string> out;
    const std::string nul(1, '\0');
    out.push_back(message('Q', "SELECT 1" + nul));
    out.push_back(message('P', "s1" + nul + "SELECT $1" + nul + std::string("\0\1\0\0\0\x17", 6)));
    out.push_back(message('B', nul + "s1" + nul + std::string("\0\0\0\1\0\0\0\1" "7", 9) +
                                   std::string("\0\0", 2)));
    out.push_back(message('D', "S" + std::string("s1") + nul));
    out.push_back(message('E', nul + std::string("\0\0\0\0", 4)));
    out.push_back(message('C', "S" + std::string("s1") + nul));
    out.push_back(message('H', ""));
    out.push_back(message('S', ""));
    out.push_back(message('d', "1\t2\n"));
    out.push_back(message('c', ""));
    out.push_back(message('f', "oops" + nul));
    out.push_back(message('F', std::string("\0\0\0\1\0\0\0\0\0\0", 10)));
    out.push_back(message('X', ""));
    out.push_back(message('R', std::string("\0\0\0\0", 4)));
    out.push_back(message('K', std::string("\0\0\0\1\0\0\0\2", 8)));
    out.push_back(message('Z', "I"));
    out.push_back(message('T', std::string("\0\0", 2)));
    out.push_back(message('1', ""));
    out.push_back(message('2', ""));
    out.push_back(message('3', ""));
    out.push_back(message('n', ""));
    out.push_back(message('t', std::string("\0\0", 2)));
    out.push_back(message('s', ""));
    out.push_back(message('I', ""));
    out.push_back(message('G', std::string("\0\0\0", 3)));
    out.push_back(message('A', std::string("\0\0\0\1", 4) + "ch" + nul + "payload" + nul));
    out.push_back(message('V', std::string("\xff\xff\xff\xff", 4)));
    out.push_back(message('v', std::string("\0\0\0\0\0\0\0\0", 8)));
    std::string big(70000, 'x');
    out.push_back(message('D', std::string("\0\1", 2) + std::string("\0\1\x11\x70", 4) + big));
    return out;
}

TEST(FrameDecoder, DecodesEveryMessageTypeWhole) {
    for (const auto& m : sample_stream()) {
        auto r = decode_frame(m, kDefaultMaxMessageBytes);
        ASSERT_EQ(r.status, DecodeStatus::kFrame) << "type " << m[0];
        EXPECT_EQ(r.consumed, m.size());
        EXPECT_EQ(r.frame.type, m[0]);
        EXPECT_EQ(r.frame.raw, std::string_view(m));
        EXPECT_EQ(r.frame.body.size(), m.size() - 5);
    }
}

// Feeds the stream to a decoder in two pieces, split at every byte, the way
// a socket may deliver it, and checks the same messages come out.
TEST(FrameDecoder, StreamSplitAtEveryByteBoundary) {
    std::string stream;
    std::vector<std::string> expected;
    for (auto& m : sample_stream()) {
        if (m.size() > 1000) continue;  // keep the quadratic loop fast
        stream += m;
        expected.push_back(m);
    }
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        std::string buffer;
        std::vector<std::string> got;
        auto drain = [&] {
            std::size_t pos = 0;
            for (;;) {
                auto r = decode_frame(std::string_view(buffer).substr(pos), kDefaultMaxMessageBytes);
                if (r.status == DecodeStatus::kNeedMore) break;
                ASSERT_EQ(r.status, DecodeStatus::kFrame);
                got.emplace_back(r.frame.raw);
                pos += r.consumed;
            }
            buffer.erase(0, pos);
        };
        buffer.append(stream, 0, split);
        drain();
        buffer.append(stream, split);
        drain();
        ASSERT_EQ(got, expected) << "split at " << split;
        ASSERT_TRUE(buffer.empty());
    }
}

TEST(FrameDecoder, EveryPrefixOfAMessageNeedsMore) {
    for (const auto& m : sample_stream()) {
        for (std::size_t n = 0; n < m.size(); n += (m.size() > 1000 ? 997 : 1)) {
            auto r = decode_frame(std::string_view(m).substr(0, n), kDefaultMaxMessageBytes);
            ASSERT_EQ(r.status, DecodeStatus::kNeedMore) << "type " << m[0] << " prefix " << n;
            ASSERT_EQ(r.consumed, 0u);
        }
    }
}

TEST(FrameDecoder, LengthBelowFourIsMalformed) {
    for (std::uint8_t len = 0; len < 4; ++len) {
        std::string m = {'Q', 0, 0, 0, static_cast<char>(len), 'x', 'y'};
        EXPECT_EQ(decode_frame(m, kDefaultMaxMessageBytes).status, DecodeStatus::kMalformedLength);
    }
}

TEST(FrameDecoder, NegativeLengthIsMalformed) {
    std::string m = {'Q', static_cast<char>(0x80), 0, 0, 0};
    EXPECT_EQ(decode_frame(m, kDefaultMaxMessageBytes).status, DecodeStatus::kMalformedLength);
}

TEST(FrameDecoder, OversizedMessageIsRefusedBeforeItArrives) {
    // Only the header is present: the limit is enforced without buffering the body.
    std::string header = {'Q', 0, 0x10, 0, 5};  // a 1 MiB message
    EXPECT_EQ(decode_frame(header, 1024).status, DecodeStatus::kTooLarge);
    EXPECT_EQ(decode_frame(header, 2u << 20).status, DecodeStatus::kNeedMore);
    auto exact = message('Q', std::string(1024, 'a'));
    EXPECT_EQ(decode_frame(exact, 1024).status, DecodeStatus::kFrame);
    auto over = message('Q', std::string(1025, 'a'));
    EXPECT_EQ(decode_frame(over, 1024).status, DecodeStatus::kTooLarge);
}

TEST(StartupPacket, DecodesAndParsesParameters) {
    std::string m;
    append_startup_message(m, {{"user", "alice"}, {"database", "db"}, {"options", "-c a=b"}});
    for (std::size_t n = 0; n < m.size(); ++n) {
        EXPECT_EQ(decode_startup_packet(std::string_view(m).substr(0, n)).status,
                  DecodeStatus::kNeedMore);
    }
    auto r = decode_startup_packet(m);
    ASSERT_EQ(r.status, DecodeStatus::kFrame);
    EXPECT_EQ(r.consumed, m.size());
    auto p = parse_startup_packet(r.body);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->code, kProtocolV3);
    ASSERT_EQ(p->params.size(), 3u);
    EXPECT_EQ(p->params[2].second, "-c a=b");
}

TEST(StartupPacket, SpecialRequests) {
    std::string cancel;
    append_cancel_request(cancel, 42, -7);
    auto r = decode_startup_packet(cancel);
    ASSERT_EQ(r.status, DecodeStatus::kFrame);
    auto p = parse_startup_packet(r.body);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->code, kCancelRequestCode);
    EXPECT_EQ(p->cancel_pid, 42);
    EXPECT_EQ(p->cancel_secret, -7);

    const std::string ssl = {0, 0, 0, 8, 0x04, static_cast<char>(0xd2), 0x16, 0x2f};
    r = decode_startup_packet(ssl);
    ASSERT_EQ(r.status, DecodeStatus::kFrame);
    p = parse_startup_packet(r.body);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->code, kSslRequestCode);
}

TEST(StartupPacket, MalformedAndOversized) {
    EXPECT_EQ(decode_startup_packet(std::string{0, 0, 0, 4}).status, DecodeStatus::kMalformedLength);
    EXPECT_EQ(decode_startup_packet(std::string{0, 0x01, 0, 0}).status, DecodeStatus::kTooLarge);
    // Parameters without their terminating empty name.
    std::string body = {0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'a', 0};
    EXPECT_FALSE(parse_startup_packet(body));
    // A name without a value.
    std::string odd = {0, 3, 0, 0, 'u', 's', 'e', 'r', 0};
    EXPECT_FALSE(parse_startup_packet(odd));
    // Trailing bytes after the terminator.
    std::string trailing = {0, 3, 0, 0, 0, 'x'};
    EXPECT_FALSE(parse_startup_packet(trailing));
    // Truncated cancel request.
    std::string short_cancel = {0x04, static_cast<char>(0xd2), 0x16, 0x2e, 0, 0};
    EXPECT_FALSE(parse_startup_packet(short_cancel));
}

}  // namespace
}  // namespace pgmux::protocol
