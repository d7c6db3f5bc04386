#include "pgmux/auth/auth_messages.hpp"

#include <algorithm>

namespace pgmux::auth {

namespace {

class MessageWriter {
  public:
    explicit MessageWriter(char type) {
        bytes_.push_back(static_cast<std::uint8_t>(type)), int32(0);
    }
    MessageWriter& int32(std::int32_t value) {
        const auto v = static_cast<std::uint32_t>(value);
        for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back((v >> shift) & 0xff);
        return *this;
    }
    MessageWriter& raw(std::string_view text) {
        bytes_.insert(bytes_.end(), text.begin(), text.end());
        return *this;
    }
    MessageWriter& raw(ByteView data) {
        bytes_.insert(bytes_.end(), data.begin(), data.end());
        return *this;
    }
    MessageWriter& cstring(std::string_view text) {
        raw(text);
        bytes_.push_back(0);
        return *this;
    }
    Bytes finish() {
        const auto length = static_cast<std::uint32_t>(bytes_.size() - 1);
        for (int i = 0; i < 4; ++i) bytes_[1 + i] = (length >> (24 - 8 * i)) & 0xff;
        return std::move(bytes_);
    }

  private:
    Bytes bytes_;
};

Bytes authentication(AuthRequestCode code, std::string_view data = {}) {
    return MessageWriter('R').int32(static_cast<std::int32_t>(code)).raw(data).finish();
}

class PayloadReader {
  public:
    explicit PayloadReader(ByteView payload) : payload_(payload) {}
    bool int32(std::int32_t& out) {
        if (payload_.size() - position_ < 4) return false;
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = (v << 8) | payload_[position_ + i];
        position_ += 4;
        out = static_cast<std::int32_t>(v);
        return true;
    }
    bool cstring(std::string& out) {
        const auto rest = payload_.subspan(position_);
        const auto nul = std::find(rest.begin(), rest.end(), std::uint8_t{0});
        if (nul == rest.end()) return false;
        out.assign(rest.begin(), nul);
        position_ += out.size() + 1;
        return true;
    }
    bool bytes(std::size_t count, std::string& out) {
        if (payload_.size() - position_ < count) return false;
        out = std::string(as_text(payload_.subspan(position_, count)));
        position_ += count;
        return true;
    }
    [[nodiscard]] std::string rest() {
        std::string out(as_text(payload_.subspan(position_)));
        position_ = payload_.size();
        return out;
    }
    [[nodiscard]] bool at_end() const { return position_ == payload_.size(); }

  private:
    ByteView payload_;
    std::size_t position_ = 0;
};

}  // namespace

Bytes build_authentication_ok() {
    return authentication(AuthRequestCode::ok);
}
Bytes build_authentication_cleartext_password() {
    return authentication(AuthRequestCode::cleartext_password);
}
Bytes build_authentication_md5_password(const Md5Salt& salt) {
    return authentication(AuthRequestCode::md5_password, as_text(salt));
}
Bytes build_authentication_sasl(std::span<const std::string_view> mechanisms) {
    MessageWriter writer('R');
    writer.int32(static_cast<std::int32_t>(AuthRequestCode::sasl));
    for (auto mechanism : mechanisms) writer.cstring(mechanism);
    return writer.cstring({}).finish();
}
Bytes build_authentication_sasl_continue(std::string_view data) {
    return authentication(AuthRequestCode::sasl_continue, data);
}
Bytes build_authentication_sasl_final(std::string_view data) {
    return authentication(AuthRequestCode::sasl_final, data);
}

Bytes build_password_message(std::string_view password) {
    return MessageWriter('p').cstring(password).finish();
}
Bytes build_sasl_initial_response(std::string_view mechanism, std::string_view data) {
    return MessageWriter('p')
        .cstring(mechanism)
        .int32(static_cast<std::int32_t>(data.size()))
        .raw(data)
        .finish();
}
Bytes build_sasl_response(std::string_view data) {
    return MessageWriter('p').raw(data).finish();
}

Result<AuthenticationRequest> parse_authentication_request(ByteView payload) {
    if (payload.size() > kMaxAuthPayload) return AuthError::message_too_long;
    PayloadReader reader(payload);
    std::int32_t code = 0;
    if (!reader.int32(code)) return AuthError::malformed_message;
    AuthenticationRequest request;
    request.code = static_cast<AuthRequestCode>(code);
    switch (request.code) {
        case AuthRequestCode::ok:
        case AuthRequestCode::cleartext_password:
            if (!reader.at_end()) return AuthError::malformed_message;
            return request;
        case AuthRequestCode::md5_password: {
            std::string salt;
            if (!reader.bytes(4, salt) || !reader.at_end()) return AuthError::malformed_message;
            std::copy(salt.begin(), salt.end(), request.md5_salt.begin());
            return request;
        }
        case AuthRequestCode::sasl: {
            std::string mechanism;
            while (true) {
                if (!reader.cstring(mechanism)) return AuthError::malformed_message;
                if (mechanism.empty()) break;
                if (request.mechanisms.size() == kMaxMechanisms)
                    return AuthError::malformed_message;
                request.mechanisms.push_back(std::move(mechanism));
            }
            if (!reader.at_end() || request.mechanisms.empty()) return AuthError::malformed_message;
            return request;
        }
        case AuthRequestCode::sasl_continue:
        case AuthRequestCode::sasl_final:
            request.data = reader.rest();
            return request;
    }
    return AuthError::unsupported_mechanism;
}

Result<SaslInitialResponse> parse_sasl_initial_response(ByteView payload) {
    if (payload.size() > kMaxAuthPayload) return AuthError::message_too_long;
    PayloadReader reader(payload);
    SaslInitialResponse response;
    std::int32_t length = 0;
    if (!reader.cstring(response.mechanism) || !reader.int32(length)) {
        return AuthError::malformed_message;
    }
    // -1 ("no initial response") is legal SASL, but no PostgreSQL client
    // sends it for SCRAM; treat it as malformed rather than add a round trip.
    if (length < 0 || !reader.bytes(static_cast<std::size_t>(length), response.data) ||
        !reader.at_end()) {
        return AuthError::malformed_message;
    }
    return response;
}

Result<std::string> parse_sasl_response(ByteView payload) {
    if (payload.size() > kMaxAuthPayload) return AuthError::message_too_long;
    return std::string(as_text(payload));
}

Result<std::string> parse_password_message(ByteView payload) {
    if (payload.size() > kMaxAuthPayload) return AuthError::message_too_long;
    PayloadReader reader(payload);
    std::string password;
    if (!reader.cstring(password) || !reader.at_end()) return AuthError::malformed_message;
    return password;
}

}  // namespace pgmux::auth
