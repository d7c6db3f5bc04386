#pragma once

#include <string_view>

namespace pgmux::admin::detail {

// The self-contained HTML dashboard served at GET / (no external assets).
[[nodiscard]] std::string_view dashboard_html();

}  // namespace pgmux::admin::detail
