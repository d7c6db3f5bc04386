#include "request_checks.h"

#include <boost/asio/ip/address.hpp>
#include <cctype>

#include "pgmux/admin/router.h"

namespace pgmux::admin {

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Always walks the whole expected string `b`, so the time depends on its
    // length only, never on where a guess goes wrong.
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < b.size(); ++i) {
        const unsigned char left = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        diff |= static_cast<unsigned char>(left ^ static_cast<unsigned char>(b[i]));
    }
    return diff == 0;
}

namespace detail {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// "host:port", "[v6]:port", "host" -> host without brackets.
std::string_view host_part(std::string_view host_header) {
    host_header = trim(host_header);
    if (host_header.starts_with('[')) {
        const auto close = host_header.find(']');
        return close == std::string_view::npos ? std::string_view{}
                                               : host_header.substr(1, close - 1);
    }
    const auto colon = host_header.find(':');
    return colon == std::string_view::npos ? host_header : host_header.substr(0, colon);
}

}  // namespace

TokenCheck check_bearer_token(const std::optional<std::string>& authorization,
                              std::string_view expected) {
    if (!authorization) return TokenCheck::kMissing;
    std::string_view value = trim(*authorization);
    constexpr std::string_view kScheme = "bearer";
    if (value.size() <= kScheme.size() || !iequals(value.substr(0, kScheme.size()), kScheme) ||
        (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
        return TokenCheck::kMissing;
    }
    const std::string_view token = trim(value.substr(kScheme.size()));
    return constant_time_equal(token, expected) ? TokenCheck::kOk : TokenCheck::kWrong;
}

bool is_loopback_host(std::string_view host_header) {
    const std::string_view host = host_part(host_header);
    if (iequals(host, "localhost")) return true;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(host), ec);
    return !ec && address.is_loopback();
}

bool is_same_origin(const std::optional<std::string>& origin,
                    const std::optional<std::string>& host) {
    if (!origin) return true;  // not a browser, or a same-origin GET
    if (!host) return false;
    const std::string_view value = trim(*origin);
    const std::string_view expected_host = trim(*host);
    for (std::string_view scheme : {"http://", "https://"}) {
        if (value.size() == scheme.size() + expected_host.size() &&
            iequals(value.substr(0, scheme.size()), scheme) &&
            iequals(value.substr(scheme.size()), expected_host)) {
            return true;
        }
    }
    return false;
}

}  // namespace detail
}  // namespace pgmux::admin
