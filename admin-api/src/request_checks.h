// Checks a request must pass before it reaches a handler: the bearer token,
// and, for an API without a token, protection against other web pages
// reaching the loopback listener through the operator's browser.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pgmux/admin/http_types.h"

namespace pgmux::admin::detail {

enum class TokenCheck { kOk, kMissing, kWrong };

// Authorization: Bearer <token> (scheme case-insensitive).
[[nodiscard]] TokenCheck check_bearer_token(const std::optional<std::string>& authorization,
                                            std::string_view expected);

// True for "localhost", 127.0.0.0/8 and ::1, with or without a port. Without
// a token this defeats DNS rebinding: a hostile page's name resolving to
// 127.0.0.1 still sends its own name in Host.
[[nodiscard]] bool is_loopback_host(std::string_view host_header);

// A browser sends Origin on cross-site POSTs; refusing a foreign one stops
// a web page from triggering actions (CSRF) on a tokenless loopback API.
[[nodiscard]] bool is_same_origin(const std::optional<std::string>& origin,
                                  const std::optional<std::string>& host);

}  // namespace pgmux::admin::detail
