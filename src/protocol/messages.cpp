#include "protocol/messages.h"

#include "protocol/wire.h"

namespace pgmux::protocol {
namespace {

// Starts a typed message and returns the offset of its length word, which
// finish_message() patches once the body is written.
std::size_t begin_message(std::string& out, char type) {
    out.push_back(type);
    const auto at = out.size();
    out.append(4, '\0');
    return at;
}

void finish_message(std::string& out, std::size_t length_at) {
    const auto len = static_cast<std::uint32_t>(out.size() - length_at);
    out[length_at] = static_cast<char>(len >> 24);
    out[length_at + 1] = static_cast<char>(len >> 16);
    out[length_at + 2] = static_cast<char>(len >> 8);
    out[length_at + 3] = static_cast<char>(len);
}

void append_fields(std::string& out, char type, const NoticeSpec& e) {
    const auto at = begin_message(out, type);
    out.push_back('S');
    put_cstr(out, e.severity);
    out.push_back('V');
    put_cstr(out, e.severity);
    out.push_back('C');
    put_cstr(out, e.sqlstate);
    out.push_back('M');
    put_cstr(out, e.message);
    if (!e.detail.empty()) {
        out.push_back('D');
        put_cstr(out, e.detail);
    }
    if (!e.hint.empty()) {
        out.push_back('H');
        put_cstr(out, e.hint);
    }
    out.push_back('\0');
    finish_message(out, at);
}

}  // namespace

std::optional<ErrorFields> parse_error_fields(std::string_view body) {
    ErrorFields f;
    BodyReader r(body);
    for (;;) {
        auto code = r.byte();
        if (!code) return std::nullopt;
        if (*code == '\0') break;
        auto value = r.cstr();
        if (!value) return std::nullopt;
        switch (*code) {
            case 'V':
                f.severity.assign(*value);
                break;
            case 'S':
                if (f.severity.empty()) f.severity.assign(*value);
                break;
            case 'C':
                f.sqlstate.assign(*value);
                break;
            case 'M':
                f.message.assign(*value);
                break;
            default:
                break;
        }
    }
    return f;
}

void append_error_response(std::string& out, const NoticeSpec& e) {
    append_fields(out, 'E', e);
}
void append_notice_response(std::string& out, const NoticeSpec& e) {
    append_fields(out, 'N', e);
}

void append_parameter_status(std::string& out, std::string_view name, std::string_view value) {
    const auto at = begin_message(out, msg::kParameterStatus);
    put_cstr(out, name);
    put_cstr(out, value);
    finish_message(out, at);
}

void append_ready_for_query(std::string& out, char status) {
    const char m[6] = {msg::kReadyForQuery, 0, 0, 0, 5, status};
    out.append(m, 6);
}

void append_authentication(std::string& out, std::int32_t code, std::string_view data) {
    const auto at = begin_message(out, msg::kAuthentication);
    put_i32(out, code);
    out.append(data);
    finish_message(out, at);
}

void append_backend_key_data(std::string& out, std::int32_t pid, std::int32_t secret) {
    const auto at = begin_message(out, msg::kBackendKeyData);
    put_i32(out, pid);
    put_i32(out, secret);
    finish_message(out, at);
}

void append_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                       const std::vector<std::string>& unsupported) {
    const auto at = begin_message(out, msg::kNegotiateProtocolVersion);
    put_i32(out, newest_minor);
    put_i32(out, static_cast<std::int32_t>(unsupported.size()));
    for (const auto& o : unsupported) put_cstr(out, o);
    finish_message(out, at);
}

void append_query(std::string& out, std::string_view sql) {
    const auto at = begin_message(out, msg::kQuery);
    put_cstr(out, sql);
    finish_message(out, at);
}

void append_terminate(std::string& out) {
    append_simple(out, msg::kTerminate);
}

void append_simple(std::string& out, char type) {
    const char m[5] = {type, 0, 0, 0, 4};
    out.append(m, 5);
}

void append_message(std::string& out, char type, std::initializer_list<std::string_view> parts) {
    std::size_t len = 4;
    for (auto p : parts) len += p.size();
    out.reserve(out.size() + 1 + len);  // one allocation, not one per part
    out.push_back(type);
    put_u32(out, static_cast<std::uint32_t>(len));
    for (auto p : parts) out.append(p);
}

void append_password(std::string& out, std::string_view data) {
    const auto at = begin_message(out, msg::kPassword);
    out.append(data);
    finish_message(out, at);
}

void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data) {
    const auto at = begin_message(out, msg::kPassword);
    put_cstr(out, mechanism);
    put_i32(out, static_cast<std::int32_t>(data.size()));
    out.append(data);
    finish_message(out, at);
}

void append_startup_message(std::string& out,
                            const std::vector<std::pair<std::string, std::string>>& params) {
    const auto at = out.size();
    out.append(4, '\0');
    put_i32(out, kProtocolV3);
    for (const auto& [k, v] : params) {
        put_cstr(out, k);
        put_cstr(out, v);
    }
    out.push_back('\0');
    const auto len = static_cast<std::uint32_t>(out.size() - at);
    out[at] = static_cast<char>(len >> 24);
    out[at + 1] = static_cast<char>(len >> 16);
    out[at + 2] = static_cast<char>(len >> 8);
    out[at + 3] = static_cast<char>(len);
}

void append_cancel_request(std::string& out, std::int32_t pid, std::int32_t secret) {
    put_i32(out, 16);
    put_i32(out, kCancelRequestCode);
    put_i32(out, pid);
    put_i32(out, secret);
}

std::optional<StartupPacket> parse_startup_packet(std::string_view body) {
    BodyReader r(body);
    auto code = r.i32();
    if (!code) return std::nullopt;
    StartupPacket p;
    p.code = *code;
    if (p.code == kCancelRequestCode) {
        auto pid = r.i32();
        auto secret = r.i32();
        if (!pid || !secret) return std::nullopt;
        p.cancel_pid = *pid;
        p.cancel_secret = *secret;
        return p;
    }
    if (p.code == kSslRequestCode || p.code == kGssEncRequestCode) return p;
    if ((p.code >> 16) != 3) return p;  // the caller rejects other major versions
    for (;;) {
        auto name = r.cstr();
        if (!name) return std::nullopt;
        if (name->empty()) break;
        auto value = r.cstr();
        if (!value) return std::nullopt;
        p.params.emplace_back(std::string(*name), std::string(*value));
    }
    if (r.remaining() != 0) return std::nullopt;
    return p;
}

}  // namespace pgmux::protocol
