#pragma once

// PgBouncer's auth_file (userlist.txt): one user per line,
//     "user name" "secret"   anything after the second field is ignored
// with '"' inside a field written as '""'. Blank lines and lines starting
// with ';' (PgBouncer's comment) or '#' are skipped. The secret is a
// plaintext password, "md5" + 32 hex digits or a SCRAM-SHA-256 verifier (see
// secret.hpp). When a user appears twice, the later line wins, as in PgBouncer.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pgmux/auth/secret.hpp"

namespace pgmux::auth {

inline constexpr std::size_t kMaxUserNameLength = 127;  // PgBouncer's MAX_USERNAME - 1
inline constexpr std::size_t kMaxSecretLength = 2047;   // PgBouncer's MAX_PASSWORD - 1
inline constexpr std::size_t kMaxUserlistBytes = 64 * 1024 * 1024;

// `message` names the problem and never quotes the secret.
struct UserlistError {
    std::size_t line = 0;  // 1-based; 0 when the file could not be read
    std::string message;
};

class Userlist {
  public:
    // nullptr when the user is not listed.
    [[nodiscard]] const Secret* find(std::string_view user) const;
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

    void set(std::string user, Secret secret);

  private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, Secret, Hash, std::equal_to<>> entries_;
};

[[nodiscard]] Result<Userlist, UserlistError> parse_userlist(std::string_view text);
[[nodiscard]] Result<Userlist, UserlistError> load_userlist_file(const std::filesystem::path& path);

}  // namespace pgmux::auth
