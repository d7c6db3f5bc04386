#include "protocol/frame.h"

#include "protocol/wire.h"

namespace pgmux::protocol {

DecodeResult decode_frame(std::string_view input, std::size_t max_bytes) noexcept {
    if (input.size() < kHeaderBytes) return {DecodeStatus::kNeedMore, {}, 0};
    const std::uint32_t length = read_u32(input.data() + 1);
    // The length counts itself, so anything below 4 is impossible; values with
    // the top bit set are negative in PostgreSQL's int32 view.
    if (length < 4 || length > 0x7fffffffu) return {DecodeStatus::kMalformedLength, {}, 0};
    if (length - 4 > max_bytes) return {DecodeStatus::kTooLarge, {}, 0};
    const std::size_t total = std::size_t{length} + 1;
    if (input.size() < total) return {DecodeStatus::kNeedMore, {}, 0};
    Frame f{input[0], input.substr(kHeaderBytes, length - 4), input.substr(0, total)};
    return {DecodeStatus::kFrame, f, total};
}

StartupDecodeResult decode_startup_packet(std::string_view input) noexcept {
    if (input.size() < 4) return {DecodeStatus::kNeedMore, {}, 0};
    const std::uint32_t length = read_u32(input.data());
    if (length < 8) return {DecodeStatus::kMalformedLength, {}, 0};
    if (length > kMaxStartupPacketBytes) return {DecodeStatus::kTooLarge, {}, 0};
    if (input.size() < length) return {DecodeStatus::kNeedMore, {}, 0};
    return {DecodeStatus::kFrame, input.substr(4, length - 4), length};
}

}  // namespace pgmux::protocol
