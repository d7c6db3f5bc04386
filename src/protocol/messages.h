// Encoders for the messages pgmux itself writes, and decoders for the few it
// must inspect. Everything else is forwarded as raw bytes and never decoded.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgmux::protocol {

// Message type bytes (frontend and backend share a few letters).
namespace msg {
// Frontend
inline constexpr char kQuery = 'Q', kParse = 'P', kBind = 'B', kDescribe = 'D', kExecute = 'E',
                      kClose = 'C', kSync = 'S', kFlush = 'H', kTerminate = 'X',
                      kFunctionCall = 'F', kCopyData = 'd', kCopyDone = 'c', kCopyFail = 'f',
                      kPassword = 'p';
// Backend
inline constexpr char kAuthentication = 'R', kBackendKeyData = 'K', kParameterStatus = 'S',
                      kReadyForQuery = 'Z', kErrorResponse = 'E', kNoticeResponse = 'N',
                      kCommandComplete = 'C', kEmptyQueryResponse = 'I', kRowDescription = 'T',
                      kDataRow = 'D', kParseComplete = '1', kBindComplete = '2',
                      kCloseComplete = '3', kNoData = 'n', kParameterDescription = 't',
                      kPortalSuspended = 's', kCopyInResponse = 'G', kCopyOutResponse = 'H',
                      kCopyBothResponse = 'W', kNotification = 'A', kFunctionCallResponse = 'V',
                      kNegotiateProtocolVersion = 'v';
}  // namespace msg

// Special protocol codes carried in the version field of untyped packets.
inline constexpr std::int32_t kProtocolV3 = 196608;  // 3.0
inline constexpr std::int32_t kSslRequestCode = 80877103;
inline constexpr std::int32_t kGssEncRequestCode = 80877104;
inline constexpr std::int32_t kCancelRequestCode = 80877102;

struct ErrorFields {
    std::string severity;  // non-localized (V) when present, else S
    std::string sqlstate;  // C
    std::string message;   // M
};

[[nodiscard]] std::optional<ErrorFields> parse_error_fields(std::string_view body);

struct NoticeSpec {
    std::string_view severity;  // ERROR, FATAL, WARNING, ...
    std::string_view sqlstate;
    std::string_view message;
    std::string_view detail = {};
    std::string_view hint = {};
};
void append_error_response(std::string& out, const NoticeSpec& e);
void append_notice_response(std::string& out, const NoticeSpec& e);
void append_parameter_status(std::string& out, std::string_view name, std::string_view value);
void append_ready_for_query(std::string& out, char status);
void append_authentication(std::string& out, std::int32_t code, std::string_view data = {});
void append_backend_key_data(std::string& out, std::int32_t pid, std::int32_t secret);
void append_negotiate_protocol_version(std::string& out, std::int32_t newest_minor,
                                       const std::vector<std::string>& unsupported);
void append_query(std::string& out, std::string_view sql);
void append_terminate(std::string& out);
void append_password(std::string& out, std::string_view data);  // PasswordMessage / SASL
void append_sasl_initial_response(std::string& out, std::string_view mechanism,
                                  std::string_view data);
void append_startup_message(std::string& out,
                            const std::vector<std::pair<std::string, std::string>>& params);
void append_cancel_request(std::string& out, std::int32_t pid, std::int32_t secret);
void append_simple(std::string& out, char type);  // a message with an empty body
// A message of `type` whose body is `parts` concatenated (for messages pgmux
// rewrites: the caller supplies NUL terminators as parts).
void append_message(std::string& out, char type, std::initializer_list<std::string_view> parts);

[[nodiscard]] inline std::string error_response(const NoticeSpec& e) {
    std::string s;
    append_error_response(s, e);
    return s;
}

// A parsed untyped startup-phase packet.
struct StartupPacket {
    std::int32_t code = 0;  // protocol version, or one of the special request codes
    std::vector<std::pair<std::string, std::string>> params;  // StartupMessage only
    std::int32_t cancel_pid = 0, cancel_secret = 0;           // CancelRequest only
};
// Returns nullopt when the body is malformed (missing terminators, odd pairs).
[[nodiscard]] std::optional<StartupPacket> parse_startup_packet(std::string_view body);

}  // namespace pgmux::protocol
