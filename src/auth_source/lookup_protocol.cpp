#include "auth_source/lookup_protocol.h"

#include "protocol/wire.h"

namespace pgmux::auth_source {

namespace msg = protocol::msg;

namespace {

void append_message(std::string& out, char type, const std::string& body) {
    out.push_back(type);
    protocol::put_i32(out, static_cast<std::int32_t>(body.size() + 4));
    out.append(body);
}

}  // namespace

std::string build_lookup_request(std::string_view query, std::string_view user) {
    std::string out;
    std::string body;
    // Parse: unnamed statement, no parameter types (the server infers $1).
    protocol::put_cstr(body, "");
    protocol::put_cstr(body, query);
    protocol::put_i16(body, 0);
    append_message(out, msg::kParse, body);
    // Bind: unnamed portal; one parameter in text format; text results.
    body.clear();
    protocol::put_cstr(body, "");
    protocol::put_cstr(body, "");
    protocol::put_i16(body, 0);
    protocol::put_i16(body, 1);
    protocol::put_i32(body, static_cast<std::int32_t>(user.size()));
    body.append(user);
    protocol::put_i16(body, 0);
    append_message(out, msg::kBind, body);
    // Execute all rows (a lookup returns one), then Sync.
    body.clear();
    protocol::put_cstr(body, "");
    protocol::put_i32(body, 0);
    append_message(out, msg::kExecute, body);
    append_message(out, msg::kSync, {});
    return out;
}

LookupReply::Progress LookupReply::feed(const protocol::Frame& frame) {
    switch (frame.type) {
        case msg::kParseComplete:
        case msg::kBindComplete:
        case msg::kCommandComplete:
        case msg::kEmptyQueryResponse:
        case msg::kPortalSuspended:
        case msg::kNoticeResponse:
        case msg::kParameterStatus:
        case msg::kNotification:
            return Progress::kMore;
        case msg::kErrorResponse:
            error_ = protocol::parse_error_fields(frame.body);
            if (!error_) error_ = protocol::ErrorFields{"ERROR", "XX000", "malformed error"};
            return Progress::kMore;
        case msg::kDataRow: {
            ++rows_;
            if (rows_ > 1) return Progress::kMore;
            protocol::BodyReader r(frame.body);
            const auto columns = r.i16();
            if (!columns || *columns < 2) {
                malformed_row_ = true;
                return Progress::kMore;
            }
            for (int column = 0; column < 2; ++column) {
                const auto length = r.i32();
                if (!length) {
                    malformed_row_ = true;
                    return Progress::kMore;
                }
                if (*length < 0) {
                    if (column == 1) secret_.reset();
                    continue;
                }
                auto value = r.bytes(static_cast<std::size_t>(*length));
                if (!value) {
                    malformed_row_ = true;
                    return Progress::kMore;
                }
                if (column == 1) secret_ = std::string(*value);
            }
            return Progress::kMore;
        }
        case msg::kReadyForQuery:
            return Progress::kDone;
        default:
            // COPY, RowDescription from a query that is not a lookup, or
            // anything else: the connection is in a state we did not plan for.
            return Progress::kBroken;
    }
}

}  // namespace pgmux::auth_source
