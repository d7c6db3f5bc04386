#include "pgmux/auth/userlist.hpp"

#include <fstream>
#include <optional>
#include <sstream>

namespace pgmux::auth {

const Secret* Userlist::find(std::string_view user) const {
    auto it = entries_.find(user);
    return it == entries_.end() ? nullptr : &it->second;
}

void Userlist::set(std::string user, Secret secret) {
    entries_.insert_or_assign(std::move(user), std::move(secret));
}

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// Reads a quoted field starting at line[pos] == '"'; leaves pos after the
// closing quote. Returns nullopt when the closing quote is missing.
std::optional<std::string> read_quoted(std::string_view line, std::size_t& pos) {
    std::string value;
    for (std::size_t i = pos + 1; i < line.size(); ++i) {
        if (line[i] != '"') {
            value += line[i];
        } else if (i + 1 < line.size() && line[i + 1] == '"') {
            value += '"';
            ++i;
        } else {
            pos = i + 1;
            return value;
        }
    }
    crypto::cleanse(value);
    return std::nullopt;
}

std::optional<std::string> parse_line(std::string_view line, Userlist& users) {
    std::size_t pos = 0;
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos == line.size() || line[pos] == ';' || line[pos] == '#') return std::nullopt;
    if (line[pos] != '"') return "expected a quoted user name";
    auto user = read_quoted(line, pos);
    if (!user) return "unterminated quoted user name";
    if (user->empty()) return "empty user name";
    if (user->size() > kMaxUserNameLength) return "user name too long";
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos == line.size()) return "missing secret after the user name";
    if (line[pos] != '"') return "expected a quoted secret after the user name";
    auto secret_text = read_quoted(line, pos);
    if (!secret_text) return "unterminated quoted secret";
    if (secret_text->size() > kMaxSecretLength) {
        crypto::cleanse(*secret_text);
        return "secret too long";
    }
    auto secret = parse_secret(*secret_text);
    crypto::cleanse(*secret_text);
    if (!secret) return "malformed SCRAM-SHA-256 secret";
    users.set(std::move(*user), std::move(*secret));
    return std::nullopt;
}

}  // namespace

Result<Userlist, UserlistError> parse_userlist(std::string_view text) {
    Userlist users;
    std::size_t line_number = 0;
    std::size_t start = 0;
    while (start < text.size()) {
        ++line_number;
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        if (auto error = parse_line(text.substr(start, end - start), users)) {
            return UserlistError{line_number, std::move(*error)};
        }
        start = end + 1;
    }
    return users;
}

Result<Userlist, UserlistError> load_userlist_file(const std::filesystem::path& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return UserlistError{0, "cannot read auth file: " + ec.message()};
    if (size > kMaxUserlistBytes) return UserlistError{0, "auth file too large"};
    std::ifstream in(path, std::ios::binary);
    if (!in) return UserlistError{0, "cannot open auth file"};
    std::ostringstream buffer;
    buffer << in.rdbuf();
    std::string text = std::move(buffer).str();
    auto result = parse_userlist(text);
    crypto::cleanse(text);
    return result;
}

}  // namespace pgmux::auth
