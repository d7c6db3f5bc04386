// Small text helpers shared by the renderers (internal to admin-api).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgmux::admin::detail {

// Appends `text`, replacing invalid UTF-8 sequences with U+FFFD, because
// names and statements come from clients and Prometheus and JSON both need
// valid UTF-8.
void append_utf8(std::string& out, std::string_view text);

// Splits on `separator`; an empty input gives an empty list.
[[nodiscard]] std::vector<std::string_view> split(std::string_view text, char separator);

// Decodes %XX escapes (and nothing else: '+' stays '+', as in a path).
// Returns false on a malformed escape.
[[nodiscard]] bool percent_decode(std::string_view text, std::string& out);

}  // namespace pgmux::admin::detail
