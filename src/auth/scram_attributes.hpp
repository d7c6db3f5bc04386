#pragma once

// Reading SCRAM messages: comma-separated "a=value" attributes (RFC 5802 section 7).

#include <optional>
#include <string_view>
#include <utility>

namespace pgmux::auth::scram {

inline constexpr std::size_t kRawNonceLength = 18;  // as PostgreSQL and libpq

class AttributeReader {
  public:
    explicit AttributeReader(std::string_view message) : message_(message) {}

    // Reads "<name>=<value>" and the ',' after it (or the end of the message).
    [[nodiscard]] std::optional<std::string_view> read(char name);
    // Reads any attribute whose name is an ASCII letter.
    [[nodiscard]] std::optional<std::pair<char, std::string_view>> read_any();

    [[nodiscard]] bool at_end() const noexcept { return position_ >= message_.size(); }
    [[nodiscard]] char peek() const noexcept { return at_end() ? '\0' : message_[position_]; }
    [[nodiscard]] std::size_t position() const noexcept { return position_; }

  private:
    std::string_view message_;
    std::size_t position_ = 0;
};

// printable = %x21-2B / %x2D-7E (RFC 5802): visible ASCII except ','.
[[nodiscard]] bool is_printable(std::string_view text) noexcept;

// Rejects messages that no legitimate peer sends: NUL bytes or non-ASCII
// control characters would be cut or misread by PostgreSQL's C-string parser.
[[nodiscard]] bool has_nul(std::string_view text) noexcept;

}  // namespace pgmux::auth::scram
