#pragma once
// Asking the server whether pinned state is still there. The parser only predicts; when a
// statement that could END a pin succeeded (DROP, CLOSE of an unknown cursor, unlock,
// try-lock ...) the proxy runs SessionState::verification_sql() at the next idle
// ReadyForQuery, swallows its replies, and feeds the one result row back with
// SessionState::apply_verification. Never on the ordinary path.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgmux/pinning/pin_reason.hpp"

namespace pgmux::pinning {

// -1 in a field: that state was not checked (the prediction stands).
struct VerificationResult {
    std::int64_t temp_objects = -1;     // objects in pg_my_temp_schema() (pg_depend)
    std::int64_t hold_cursors = -1;     // pg_cursors WHERE is_holdable
    std::int64_t listen_channels = -1;  // pg_listening_channels()
    std::int64_t advisory_locks = -1;   // pg_locks advisory rows of pg_backend_pid()
};

struct VerificationQuery {
    // Each check as a scalar subquery. Temp objects are counted through pg_depend's index
    // (every object in a schema depends on it), which is far cheaper than scanning pg_class,
    // pg_proc, pg_type ... for pg_my_temp_schema().
    static constexpr std::string_view temp_objects_sql =
        "(SELECT count(*) FROM pg_catalog.pg_depend WHERE refclassid = "
        "'pg_catalog.pg_namespace'::pg_catalog.regclass AND refobjid = "
        "pg_catalog.pg_my_temp_schema() AND refobjsubid = 0)";
    static constexpr std::string_view hold_cursors_sql =
        "(SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable)";
    static constexpr std::string_view listen_channels_sql =
        "(SELECT count(*) FROM pg_catalog.pg_listening_channels())";
    static constexpr std::string_view advisory_locks_sql =
        "(SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = "
        "pg_catalog.pg_backend_pid() AND granted)";
    static constexpr std::size_t column_count = 4;

    // One read-only SELECT returning a single row of four bigint columns in the order of
    // VerificationResult; columns for reasons not in `reasons` are the constant -1 (so the
    // expensive pg_locks scan only runs when advisory locks are in doubt).
    [[nodiscard]] static std::string sql_for(PinSet reasons);
    // Everything checked.
    [[nodiscard]] static std::string sql_all();

    // The DataRow's text values (nullopt = NULL). nullopt when the row is not what the query
    // returns (wrong column count, non-numeric text).
    [[nodiscard]] static std::optional<VerificationResult> parse_row(
        std::span<const std::optional<std::string_view>> columns) noexcept;
};

}  // namespace pgmux::pinning
