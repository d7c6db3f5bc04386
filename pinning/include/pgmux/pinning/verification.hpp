#pragma once
// Asking the server whether pinned state is still there. The parser only predicts; when a
// statement that could END a pin succeeded (DROP, CLOSE, unlock, try-lock ...) the proxy
// runs this query at the next idle ReadyForQuery, swallows its replies, and feeds the one
// result row back with SessionState::apply_verification. Never on the ordinary path.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace pgmux::pinning {

struct VerificationResult {
    std::int64_t temp_objects = 0;     // objects in pg_my_temp_schema()
    std::int64_t hold_cursors = 0;     // pg_cursors WHERE is_holdable
    std::int64_t listen_channels = 0;  // pg_listening_channels()
    std::int64_t advisory_locks = 0;   // pg_locks advisory rows of pg_backend_pid()
};

struct VerificationQuery {
    // One SELECT returning a single row of four bigint columns, in the order of
    // VerificationResult. Read-only; safe to run as its own transaction at idle.
    static constexpr std::string_view sql =
        "SELECT "
        "(SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_proc WHERE pronamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_type WHERE typnamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_operator WHERE oprnamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_collation WHERE collnamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_conversion WHERE connamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_ts_config WHERE cfgnamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " + (SELECT count(*) FROM pg_catalog.pg_ts_dict WHERE dictnamespace = "
        "pg_catalog.pg_my_temp_schema())"
        " AS temp_objects, "
        "(SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable) AS hold_cursors, "
        "(SELECT count(*) FROM pg_catalog.pg_listening_channels()) AS listen_channels, "
        "(SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' "
        "AND pid = pg_catalog.pg_backend_pid() AND granted) AS advisory_locks";
    static constexpr std::size_t column_count = 4;

    // The DataRow's text values (nullopt = NULL). nullopt when the row is not what the query
    // returns (wrong column count, non-numeric text).
    [[nodiscard]] static std::optional<VerificationResult> parse_row(
        std::span<const std::optional<std::string_view>> columns) noexcept;
};

}  // namespace pgmux::pinning
