// Route table and dispatch. Order of checks for every request: path (404),
// token (401), method (405), origin/host (403), body size (413), path
// parameters (400), then the handler.
#include "pgmux/admin/router.h"

#include <charconv>
#include <exception>
#include <span>

#include "dashboard.h"
#include "json_format.h"
#include "request_checks.h"
#include "text_util.h"

namespace pgmux::admin {
namespace {

using Json = nlohmann::json;
using Params = std::vector<std::string>;

struct Query {
    std::optional<std::string> limit;
    std::optional<std::string> pinned;
};

struct Context {
    ControlPlane& control;
    WallTime now;
    const Query& query;
};

using Handler = HttpResponse (*)(const Context&, const Params&);

enum class Access { kPublic, kToken };

struct Route {
    std::string_view pattern;  // "{name}" segments capture a percent-decoded value
    std::string_view method;
    Access access;
    Handler handler;
};

constexpr std::string_view kJson = "application/json";

HttpResponse json_response(unsigned status, const Json& body) {
    HttpResponse response;
    response.status = status;
    response.content_type = kJson;
    response.body = detail::dump(body);
    return response;
}

// ---- path and query parsing -------------------------------------------

std::optional<ClientId> parse_id(std::string_view text) {
    ClientId id = 0;
    if (text.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return id;
}

// Matches path segments against a pattern. Returns false when the shape
// differs; sets `bad_escape` when it matches but a capture is not valid
// percent-encoding.
bool match(std::string_view pattern, std::string_view path, Params& params, bool& bad_escape) {
    const auto want = detail::split(pattern, '/');
    const auto have = detail::split(path, '/');
    if (want.size() != have.size()) return false;
    params.clear();
    bad_escape = false;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (want[i].starts_with('{')) {
            std::string value;
            if (!detail::percent_decode(have[i], value)) bad_escape = true;
            params.push_back(std::move(value));
        } else if (want[i] != have[i]) {
            return false;
        }
    }
    return true;
}

Query parse_query(std::string_view query_text) {
    Query query;
    for (auto pair : detail::split(query_text, '&')) {
        const auto equals = pair.find('=');
        const auto key = pair.substr(0, equals);
        std::string value;
        if (equals != std::string_view::npos &&
            !detail::percent_decode(pair.substr(equals + 1), value)) {
            value = "\x01";  // invalid on purpose: the handler answers 400
        }
        if (key == "limit") query.limit = value;
        if (key == "pinned") query.pinned = value;
    }
    return query;
}

// ---- handlers ----------------------------------------------------------

HttpResponse bad_request(std::string_view message) {
    return make_error(400, "bad_request", message);
}

HttpResponse dashboard(const Context&, const Params&) {
    HttpResponse response;
    response.content_type = "text/html; charset=utf-8";
    response.body = std::string(detail::dashboard_html());
    // Inline script and style only; fetches go to this origin only.
    response.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'none'; script-src 'unsafe-inline'; "
                                  "style-src 'unsafe-inline'; connect-src 'self'; "
                                  "frame-ancestors 'none'");
    return response;
}

HttpResponse healthz(const Context&, const Params&) {
    return json_response(200, {{"status", "ok"}});
}

HttpResponse readyz(const Context& ctx, const Params&) {
    const Readiness readiness = ctx.control.readiness();
    if (!readiness.ready) {
        return make_error(503, "not_ready",
                          readiness.reason.empty() ? "not ready" : readiness.reason);
    }
    return json_response(200, {{"status", "ready"}});
}

HttpResponse metrics(const Context& ctx, const Params&) {
    MetricsSnapshot snapshot = ctx.control.metrics();
    const auto pools = ctx.control.pools();
    add_pool_metrics(snapshot, pools);
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = render_prometheus(snapshot);
    return response;
}

HttpResponse pools(const Context& ctx, const Params&) {
    Json list = Json::array();
    for (const auto& pool : ctx.control.pools()) list.push_back(detail::pool_json(pool));
    return json_response(200, {{"pools", std::move(list)}});
}

// ?limit=N (1..kMaxListLimit), default kDefaultListLimit.
std::optional<std::size_t> list_limit(const Query& query) {
    if (!query.limit) return kDefaultListLimit;
    const auto value = parse_id(*query.limit);
    if (!value || *value == 0 || *value > kMaxListLimit) return std::nullopt;
    return static_cast<std::size_t>(*value);
}

template <typename Item, typename Keep, typename ToJson>
HttpResponse bounded_list(const Context& ctx, std::string_view key, const std::vector<Item>& items,
                          Keep keep, ToJson to_json) {
    const auto limit = list_limit(ctx.query);
    if (!limit) {
        return bad_request("limit must be an integer from 1 to " + std::to_string(kMaxListLimit));
    }
    Json list = Json::array();
    std::size_t total = 0;
    for (const auto& item : items) {
        if (!keep(item)) continue;
        if (total++ < *limit) list.push_back(to_json(item, ctx.now));
    }
    return json_response(200,
                         {{key, std::move(list)}, {"total", total}, {"truncated", total > *limit}});
}

HttpResponse clients(const Context& ctx, const Params&) {
    bool pinned_only = false;
    if (ctx.query.pinned) {
        if (*ctx.query.pinned == "true" || *ctx.query.pinned == "1") {
            pinned_only = true;
        } else if (*ctx.query.pinned != "false" && *ctx.query.pinned != "0") {
            return bad_request("pinned must be true or false");
        }
    }
    return bounded_list(
        ctx, "clients", ctx.control.clients(),
        [&](const ClientSnapshot& c) { return !pinned_only || !c.pins.empty(); },
        detail::client_json);
}

HttpResponse client(const Context& ctx, const Params& params) {
    const auto id = parse_id(params[0]);
    if (!id) return bad_request("client id must be a decimal integer");
    const auto snapshot = ctx.control.client(*id);
    if (!snapshot) return make_error(404, "not_found", "client " + params[0] + " not found");
    return json_response(200, detail::client_json(*snapshot, ctx.now));
}

HttpResponse servers(const Context& ctx, const Params&) {
    return bounded_list(
        ctx, "servers", ctx.control.servers(), [](const ServerSnapshot&) { return true; },
        detail::server_json);
}

HttpResponse pinning(const Context& ctx, const Params&) {
    return json_response(200, detail::pinning_json(ctx.control.pinning()));
}

HttpResponse disconnect(const Context& ctx, const Params& params) {
    const auto id = parse_id(params[0]);
    if (!id) return bad_request("client id must be a decimal integer");
    if (ctx.control.disconnect_client(*id) == ActionResult::kNotFound) {
        return make_error(404, "not_found", "client " + params[0] + " not found");
    }
    return json_response(200, {{"status", "disconnected"}, {"client_id", *id}});
}

HttpResponse pool_action(const Context& ctx, const Params& params, bool pause) {
    const auto& database = params[0];
    const auto& user = params[1];
    if (database.empty() || user.empty()) return bad_request("database and user must not be empty");
    const ActionResult result =
        pause ? ctx.control.pause_pool(database, user) : ctx.control.resume_pool(database, user);
    if (result == ActionResult::kNotFound) {
        return make_error(404, "not_found",
                          "no pool for database \"" + database + "\" and user \"" + user + "\"");
    }
    return json_response(
        200, {{"status", pause ? "paused" : "resumed"}, {"database", database}, {"user", user}});
}

HttpResponse pause(const Context& ctx, const Params& params) {
    return pool_action(ctx, params, true);
}
HttpResponse resume(const Context& ctx, const Params& params) {
    return pool_action(ctx, params, false);
}

HttpResponse reload(const Context& ctx, const Params&) {
    const ReloadResult result = ctx.control.reload();
    if (!result.ok) return make_error(500, "reload_failed", result.message);
    return json_response(200, {{"status", "reloaded"}, {"message", result.message}});
}

constexpr Route kRoutes[] = {
    {"/", "GET", Access::kPublic, dashboard},
    {"/healthz", "GET", Access::kPublic, healthz},
    {"/readyz", "GET", Access::kPublic, readyz},
    {"/metrics", "GET", Access::kToken, metrics},
    {"/api/v1/pools", "GET", Access::kToken, pools},
    {"/api/v1/clients", "GET", Access::kToken, clients},
    {"/api/v1/clients/{id}", "GET", Access::kToken, client},
    {"/api/v1/servers", "GET", Access::kToken, servers},
    {"/api/v1/pinning", "GET", Access::kToken, pinning},
    {"/api/v1/clients/{id}/disconnect", "POST", Access::kToken, disconnect},
    {"/api/v1/pools/{database}/{user}/pause", "POST", Access::kToken, pause},
    {"/api/v1/pools/{database}/{user}/resume", "POST", Access::kToken, resume},
    {"/api/v1/reload", "POST", Access::kToken, reload},
};

bool method_matches(std::string_view route_method, std::string_view method) {
    return route_method == method || (route_method == "GET" && method == "HEAD");
}

std::string allow_header(std::span<const Route* const> routes) {
    std::string allow;
    for (const Route* route : routes) {
        if (!allow.empty()) allow += ", ";
        allow += route->method;
        if (route->method == "GET") allow += ", HEAD";
    }
    return allow;
}

HttpResponse unauthorized(detail::TokenCheck check) {
    auto response = make_error(401, "unauthorized",
                               check == detail::TokenCheck::kMissing
                                   ? "missing bearer token (Authorization: Bearer <token>)"
                                   : "invalid bearer token");
    response.headers.emplace_back("WWW-Authenticate",
                                  check == detail::TokenCheck::kMissing
                                      ? R"(Bearer realm="pgmux-admin")"
                                      : R"(Bearer realm="pgmux-admin", error="invalid_token")");
    return response;
}

}  // namespace

std::vector<RouteInfo> route_table() {
    std::vector<RouteInfo> table;
    for (const Route& route : kRoutes) {
        table.push_back({route.pattern, route.method, route.access == Access::kToken});
    }
    return table;
}

HttpResponse make_error(unsigned status, std::string_view code, std::string_view message) {
    return json_response(status, {{"error", {{"code", code}, {"message", message}}}});
}

const std::string* HttpResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key == name) return &value;
    }
    return nullptr;
}

Router::Router(ControlPlane& control, RouterOptions options)
    : control_(control), options_(std::move(options)) {}

HttpResponse Router::handle(const HttpRequest& request, WallTime now) const {
    std::string_view target = request.target;
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query_text =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

    // All routes whose path matches; the method decides between them.
    std::vector<const Route*> candidates;
    Params params;
    bool bad_escape = false;
    const Route* chosen = nullptr;
    Params chosen_params;
    bool chosen_bad_escape = false;
    for (const Route& route : kRoutes) {
        if (!match(route.pattern, path, params, bad_escape)) continue;
        candidates.push_back(&route);
        if (!chosen && method_matches(route.method, request.method)) {
            chosen = &route;
            chosen_params = params;
            chosen_bad_escape = bad_escape;
        }
    }
    HttpResponse response = [&]() -> HttpResponse {
        if (candidates.empty()) {
            return make_error(404, "not_found", "no such endpoint: " + std::string(path));
        }
        const bool needs_token = candidates.front()->access == Access::kToken;
        if (needs_token && options_.bearer_token) {
            const auto check =
                detail::check_bearer_token(request.authorization, *options_.bearer_token);
            if (check != detail::TokenCheck::kOk) return unauthorized(check);
        }
        if (!chosen) {
            auto error =
                make_error(405, "method_not_allowed",
                           "method " + request.method + " not allowed on " + std::string(path));
            error.headers.emplace_back("Allow", allow_header(candidates));
            return error;
        }
        if (!options_.bearer_token && request.host && !detail::is_loopback_host(*request.host)) {
            return make_error(403, "forbidden",
                              "Host header is not a loopback name; configure a bearer token to "
                              "reach the admin API under another name");
        }
        if (chosen->method == "POST" && !detail::is_same_origin(request.origin, request.host)) {
            return make_error(403, "forbidden", "cross-origin request refused");
        }
        if (request.body.size() > options_.max_body_bytes) {
            return make_error(
                413, "payload_too_large",
                "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
        }
        if (chosen_bad_escape) return bad_request("malformed percent-encoding in path");
        const Query query = parse_query(query_text);
        const Context context{control_, now, query};
        try {
            return chosen->handler(context, chosen_params);
        } catch (const std::exception& error) {
            return make_error(500, "internal_error", error.what());
        }
    }();
    response.headers.emplace_back("Cache-Control", "no-store");
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return response;
}

}  // namespace pgmux::admin
