#pragma once
// RAII over libpg_query (PostgreSQL 15 grammar). Every result is freed by its owner; no
// libpg_query type leaks out of this header. libpg_query keeps per-thread state, so these
// functions may be called from several threads at once.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgmux::parser {

struct ParseError {
    std::string message;
    int cursor_position = 0;  // 1-based byte position, 0 when unknown
};

// The parse tree as libpg_query's JSON, or the error.
struct JsonParseResult {
    std::string json;
    std::optional<ParseError> error;
};
[[nodiscard]] JsonParseResult parse_to_json(std::string_view sql);

// Literals become $1, $2 ...; on error the input is returned unchanged.
[[nodiscard]] std::string normalize(std::string_view sql);
// libpg_query fingerprint; nullopt when the text does not parse.
[[nodiscard]] std::optional<std::uint64_t> fingerprint(std::string_view sql);

}  // namespace pgmux::parser
