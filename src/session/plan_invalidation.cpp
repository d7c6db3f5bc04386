#include "session/plan_invalidation.h"

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/wire.h"

namespace pgmux::session {

namespace msg = protocol::msg;

bool is_plan_invalidation(std::string_view body) noexcept {
    bool state = false;
    bool routine = false;
    protocol::BodyReader r(body);
    for (;;) {
        const auto code = r.byte();
        if (!code || *code == '\0') break;
        const auto value = r.cstr();
        if (!value) return false;
        if (*code == 'C') state = *value == "0A000";
        if (*code == 'R') routine = *value == "RevalidateCachedQuery";
    }
    return state && routine;
}

namespace {
// The OID the Parse gave parameter `i` (0: unspecified).
std::uint32_t param_type(std::string_view types, std::size_t i) {
    if (types.size() < 2) return 0;
    const auto n = static_cast<std::size_t>(protocol::read_i16(types.data()));
    if (i >= n || types.size() < 2 + 4 * (i + 1)) return 0;
    return static_cast<std::uint32_t>(protocol::read_i32(types.data() + 2 + 4 * i));
}

// Checks the first Bind; sets `portal` to the portal it creates.
bool bind_can_rerun(std::string_view body, std::string_view types, std::string_view& portal) {
    protocol::BodyReader r(body);
    const auto p = r.cstr();
    const auto stmt = r.cstr();
    const auto nformats = r.i16();
    if (!p || !stmt || stmt->empty() || !nformats || *nformats < 0) return false;
    portal = *p;
    const std::optional<std::string_view> format_bytes =
        r.bytes(2 * static_cast<std::size_t>(*nformats));
    if (!format_bytes) return false;
    const auto nparams = r.i16();
    if (!nparams || *nparams < 0) return false;
    if (*nformats > 1 && *nformats != *nparams) return false;
    for (int i = 0; i < *nparams; ++i) {
        std::int16_t format = 0;  // no codes: all text; one code: for every parameter
        if (*nformats == 1) {
            format = protocol::read_i16(format_bytes->data());
        } else if (*nformats > 1) {
            format = protocol::read_i16(format_bytes->data() + 2 * i);
        }
        if (format != 0 && param_type(types, static_cast<std::size_t>(i)) == 0) return false;
        const auto len = r.i32();
        if (!len) return false;
        if (*len > 0 && !r.bytes(static_cast<std::size_t>(*len))) return false;
    }
    const auto nresult = r.i16();
    return nresult && *nresult >= 0 && *nresult <= 1;
}
}  // namespace

bool bind_learns_new_shape(std::string_view bind_body, std::string_view param_types,
                           std::string_view following) noexcept {
    std::string_view portal;
    if (!bind_can_rerun(bind_body, param_types, portal)) return false;
    std::size_t pos = 0;
    while (pos < following.size()) {
        const auto d = protocol::decode_frame(following.substr(pos), kMaxRetryBatch);
        if (d.status != protocol::DecodeStatus::kFrame) return false;
        const protocol::Frame& f = d.frame;
        pos += d.consumed;
        protocol::BodyReader r(f.body);
        switch (f.type) {
            case msg::kDescribe:
                if (r.byte() == 'P' && r.cstr() == portal) return true;
                break;
            case msg::kExecute:
            case msg::kBind:
                if (r.cstr() == portal) return false;  // run or replaced undescribed
                break;
            case msg::kFlush:
            case msg::kParse:
                break;
            default:  // Sync, Close, ...: the batch ends or changes too much to tell
                return false;
        }
    }
    return false;
}

bool batch_can_rerun(std::string_view batch, std::string_view param_types) noexcept {
    std::size_t pos = 0;
    bool first = true;
    bool described = false;  // the first Bind's portal, before its Execute
    bool settled = false;    // nothing later matters for the first portal
    std::string_view portal;
    while (pos < batch.size()) {
        const auto d = protocol::decode_frame(batch.substr(pos), kMaxRetryBatch);
        if (d.status != protocol::DecodeStatus::kFrame) return false;
        const protocol::Frame& f = d.frame;
        pos += d.consumed;
        if (first) {
            if (f.type != msg::kBind || !bind_can_rerun(f.body, param_types, portal)) return false;
            first = false;
            continue;
        }
        switch (f.type) {
            case msg::kSync:
                return pos == batch.size();
            case msg::kFlush:
                break;
            case msg::kParse:
                if (f.body.empty() || f.body[0] != '\0') return false;  // named: not twice
                break;
            case msg::kDescribe:
                if (!settled && f.body.size() == portal.size() + 2 && f.body[0] == 'P' &&
                    f.body.substr(1, portal.size()) == portal) {
                    described = true;
                }
                break;
            case msg::kExecute: {
                protocol::BodyReader r(f.body);
                const auto p = r.cstr();
                if (!p) return false;
                if (!settled && *p == portal) {
                    if (!described) return false;  // rows the client would decode blindly
                    settled = true;
                }
                break;
            }
            case msg::kBind: {
                protocol::BodyReader r(f.body);
                const auto p = r.cstr();
                if (!p) return false;
                if (*p == portal) settled = true;  // the portal is replaced
                break;
            }
            default:
                return false;
        }
    }
    return false;  // no Sync
}

}  // namespace pgmux::session
