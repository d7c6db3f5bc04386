#pragma once
// Builds the SQL pgmux itself sends (replays, resets). Quoting is independent of the
// server's standard_conforming_strings: a literal with a backslash uses the E'' form.

#include <string>
#include <string_view>

namespace pgmux::parser {

// 'text' with quotes doubled, or E'...' with backslashes doubled when it has any.
[[nodiscard]] std::string quote_literal(std::string_view text);
// "name" with quotes doubled (always quoted: safe for reserved words and any case).
[[nodiscard]] std::string quote_identifier(std::string_view name);
// A GUC name for SET/RESET: each dot-separated part quoted ("myapp"."user").
[[nodiscard]] std::string quote_setting_name(std::string_view name);

// SELECT pg_catalog.set_config('name', 'value', false)
[[nodiscard]] std::string set_config_sql(std::string_view name, std::string_view value);
// The canonical SQL restoring a setting to the server's default for it: RESET "name",
// RESET ROLE, or SET SESSION AUTHORIZATION DEFAULT.
[[nodiscard]] std::string reset_sql(std::string_view name);

// Lower-cases ASCII letters (GUC names are case-insensitive).
[[nodiscard]] std::string ascii_lower(std::string_view text);

}  // namespace pgmux::parser
