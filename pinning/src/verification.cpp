#include "pgmux/pinning/verification.hpp"

#include <charconv>

namespace pgmux::pinning {

std::string VerificationQuery::sql_for(PinSet reasons) {
    auto column = [&](PinReason r, std::string_view sql, std::string_view name) {
        std::string out(reasons.contains(r) ? sql : std::string_view("-1"));
        out += " AS ";
        out += name;
        return out;
    };
    return "SELECT " + column(PinReason::temp_object, temp_objects_sql, "temp_objects") + ", " +
           column(PinReason::hold_cursor, hold_cursors_sql, "hold_cursors") + ", " +
           column(PinReason::listen, listen_channels_sql, "listen_channels") + ", " +
           column(PinReason::advisory_lock, advisory_locks_sql, "advisory_locks");
}

std::string VerificationQuery::sql_all() {
    PinSet all;
    all.insert(PinReason::temp_object);
    all.insert(PinReason::hold_cursor);
    all.insert(PinReason::listen);
    all.insert(PinReason::advisory_lock);
    return sql_for(all);
}

std::optional<VerificationResult> VerificationQuery::parse_row(
    std::span<const std::optional<std::string_view>> columns) noexcept {
    if (columns.size() != column_count) return std::nullopt;
    std::int64_t values[column_count] = {};
    for (std::size_t i = 0; i < column_count; ++i) {
        if (!columns[i]) return std::nullopt;
        std::string_view text = *columns[i];
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), values[i]);
        if (ec != std::errc{} || end != text.data() + text.size() || values[i] < -1) {
            return std::nullopt;
        }
    }
    return VerificationResult{values[0], values[1], values[2], values[3]};
}

}  // namespace pgmux::pinning
