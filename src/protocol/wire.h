// Byte-level helpers for the PostgreSQL v3 wire format (big-endian integers,
// NUL-terminated strings). No I/O and no allocation beyond the caller's buffers.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace pgmux::protocol {

[[nodiscard]] inline std::uint32_t read_u32(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
           std::uint32_t{u[3]};
}
[[nodiscard]] inline std::int32_t read_i32(const char* p) noexcept {
    return static_cast<std::int32_t>(read_u32(p));
}
[[nodiscard]] inline std::int16_t read_i16(const char* p) noexcept {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return static_cast<std::int16_t>((u[0] << 8) | u[1]);
}

inline void put_u32(std::string& out, std::uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
}
inline void put_i32(std::string& out, std::int32_t v) {
    put_u32(out, static_cast<std::uint32_t>(v));
}
inline void put_i16(std::string& out, std::int16_t v) {
    const char b[2] = {static_cast<char>(static_cast<std::uint16_t>(v) >> 8), static_cast<char>(v)};
    out.append(b, 2);
}
inline void put_cstr(std::string& out, std::string_view s) {
    out.append(s);
    out.push_back('\0');
}

// Sequential reader over a message body. Every accessor fails softly: a
// malformed body yields std::nullopt instead of reading out of bounds.
class BodyReader {
  public:
    explicit BodyReader(std::string_view body) noexcept : data_(body) {}

    [[nodiscard]] std::optional<std::string_view> cstr() noexcept {
        const auto end = data_.find('\0', pos_);
        if (end == std::string_view::npos) return std::nullopt;
        auto s = data_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return s;
    }
    [[nodiscard]] std::optional<std::int32_t> i32() noexcept {
        if (remaining() < 4) return std::nullopt;
        auto v = read_i32(data_.data() + pos_);
        pos_ += 4;
        return v;
    }
    [[nodiscard]] std::optional<std::int16_t> i16() noexcept {
        if (remaining() < 2) return std::nullopt;
        auto v = read_i16(data_.data() + pos_);
        pos_ += 2;
        return v;
    }
    [[nodiscard]] std::optional<char> byte() noexcept {
        if (remaining() < 1) return std::nullopt;
        return data_[pos_++];
    }
    [[nodiscard]] std::optional<std::string_view> bytes(std::size_t n) noexcept {
        if (remaining() < n) return std::nullopt;
        auto s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - pos_; }
    [[nodiscard]] std::size_t position() const noexcept { return pos_; }

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

}  // namespace pgmux::protocol
