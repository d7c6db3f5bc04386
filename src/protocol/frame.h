// Framing of the PostgreSQL v3 protocol: a typed message is one type byte,
// a 4-byte length that counts itself, and the body. The decoder never does
// I/O: it is handed bytes and answers "need more", "frame ready" or "error".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgmux::protocol {

// Messages larger than this are refused unless configured otherwise. PgBouncer
// and PostgreSQL itself accept up to 1 GB for some messages; a proxy must be
// bounded, so the limit is configurable (max_message_bytes).
inline constexpr std::size_t kDefaultMaxMessageBytes = 64u * 1024u * 1024u;
// A startup packet is refused past this size (PostgreSQL uses 10000 bytes).
inline constexpr std::size_t kMaxStartupPacketBytes = 10000;
inline constexpr std::size_t kHeaderBytes = 5;

struct Frame {
    char type = 0;
    std::string_view body;  // without type byte and length
    std::string_view raw;   // the whole message as it was on the wire
};

enum class DecodeStatus { kFrame, kNeedMore, kMalformedLength, kTooLarge };

struct DecodeResult {
    DecodeStatus status;
    Frame frame;           // valid when status == kFrame
    std::size_t consumed;  // bytes of input the frame occupied (0 unless kFrame)
};

// Decodes the first typed message in `input`.
[[nodiscard]] DecodeResult decode_frame(std::string_view input, std::size_t max_bytes) noexcept;

// Decodes an untyped startup-phase packet (StartupMessage, SSLRequest,
// GSSENCRequest, CancelRequest): 4-byte length, then the body.
struct StartupDecodeResult {
    DecodeStatus status;
    std::string_view body;  // after the length word
    std::size_t consumed;
};
[[nodiscard]] StartupDecodeResult decode_startup_packet(std::string_view input) noexcept;

}  // namespace pgmux::protocol
