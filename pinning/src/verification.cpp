#include "pgmux/pinning/verification.hpp"

#include <charconv>

namespace pgmux::pinning {

std::optional<VerificationResult> VerificationQuery::parse_row(
    std::span<const std::optional<std::string_view>> columns) noexcept {
    if (columns.size() != column_count) return std::nullopt;
    std::int64_t values[column_count] = {};
    for (std::size_t i = 0; i < column_count; ++i) {
        if (!columns[i]) return std::nullopt;
        std::string_view text = *columns[i];
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), values[i]);
        if (ec != std::errc{} || end != text.data() + text.size() || values[i] < 0) {
            return std::nullopt;
        }
    }
    return VerificationResult{values[0], values[1], values[2], values[3]};
}

}  // namespace pgmux::pinning
