// Transport-free HTTP request and response, so routing is a pure function
// that unit tests call without sockets or Beast.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgmux::admin {

struct HttpRequest {
    std::string method;  // "GET", "POST", ... as sent
    std::string target;  // origin-form: path plus optional ?query
    std::optional<std::string> authorization;
    std::optional<std::string> host;
    std::optional<std::string> origin;
    std::string body;
};

struct HttpResponse {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    std::string body;

    [[nodiscard]] const std::string* header(std::string_view name) const;
};

}  // namespace pgmux::admin
