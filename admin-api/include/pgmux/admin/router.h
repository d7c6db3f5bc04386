// Routing of the admin API as a pure function: request in, response out.
// The only side effects are the ControlPlane calls the route asks for, so
// every route and every error is unit tested with a fake ControlPlane.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgmux/admin/control_plane.h"
#include "pgmux/admin/http_types.h"

namespace pgmux::admin {

inline constexpr std::size_t kDefaultMaxBodyBytes = 64 * 1024;
// List endpoints return at most this many items unless ?limit= asks for
// fewer (or more, up to kMaxListLimit), so a response stays bounded.
inline constexpr std::size_t kDefaultListLimit = 1000;
inline constexpr std::size_t kMaxListLimit = 100000;

struct RouterOptions {
    // When set, /api/* and /metrics need "Authorization: Bearer <token>".
    // /, /healthz and /readyz never need it (probes, and the dashboard page
    // which asks for the token itself).
    std::optional<std::string> bearer_token;
    std::size_t max_body_bytes = kDefaultMaxBodyBytes;
};

class Router {
  public:
    Router(ControlPlane& control, RouterOptions options);

    // `now` is when the request is served; ages and pin durations are
    // computed against it.
    [[nodiscard]] HttpResponse handle(const HttpRequest& request, WallTime now) const;
    [[nodiscard]] HttpResponse handle(const HttpRequest& request) const {
        return handle(request, std::chrono::system_clock::now());
    }

    [[nodiscard]] const RouterOptions& options() const { return options_; }

  private:
    ControlPlane& control_;
    RouterOptions options_;
};

// One route of the API, for docs checks and tooling. `pattern` uses
// "{name}" for a path parameter; GET routes also answer HEAD.
struct RouteInfo {
    std::string_view pattern;
    std::string_view method;
    bool needs_token;  // when a token is configured
};

[[nodiscard]] std::vector<RouteInfo> route_table();

// {"error": {"code": code, "message": message}} with the given status.
[[nodiscard]] HttpResponse make_error(unsigned status, std::string_view code,
                                      std::string_view message);

// Compares in time independent of where the strings differ.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace pgmux::admin
