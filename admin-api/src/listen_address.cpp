#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <stdexcept>
#include <string>

#include "pgmux/admin/server.h"

namespace pgmux::admin {

boost::asio::ip::tcp::endpoint parse_listen_address(std::string_view listen) {
    const auto fail = [&](std::string_view why) {
        throw std::invalid_argument("admin listen address \"" + std::string(listen) +
                                    "\": " + std::string(why) +
                                    " (expected host:port, e.g. 127.0.0.1:9930 or [::1]:9930)");
    };
    std::string_view host;
    std::string_view port_text;
    if (listen.starts_with('[')) {
        const auto close = listen.find(']');
        if (close == std::string_view::npos || close + 1 >= listen.size() ||
            listen[close + 1] != ':') {
            fail("malformed bracketed IPv6 address");
        }
        host = listen.substr(1, close - 1);
        port_text = listen.substr(close + 2);
    } else {
        const auto colon = listen.rfind(':');
        if (colon == std::string_view::npos) fail("missing port");
        host = listen.substr(0, colon);
        port_text = listen.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) fail("IPv6 addresses need brackets");
    }
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
        port > 65535) {
        fail("port must be a number from 0 to 65535");
    }
    if (host == "localhost") host = "127.0.0.1";
    boost::system::error_code address_error;
    const auto address = boost::asio::ip::make_address(std::string(host), address_error);
    if (address_error) fail("host must be an IP address or localhost");
    return {address, static_cast<unsigned short>(port)};
}

}  // namespace pgmux::admin
