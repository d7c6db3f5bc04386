#pragma once
// Settings as pgmux models them: name -> the value and the SQL that establishes it.

#include <map>
#include <string>
#include <string_view>

namespace pgmux::pinning {

struct SettingValue {
    std::string value;       // as the server received it (for display and search_path checks)
    std::string replay_sql;  // establishes the value on another connection; also its identity
    bool operator==(const SettingValue& other) const noexcept {
        return replay_sql == other.replay_sql;
    }
};

// Sorted by name, so replays are deterministic. Absent name = the server's default.
using SettingsMap = std::map<std::string, SettingValue, std::less<>>;

// Settings that RESET ALL leaves alone (GUC_NO_RESET_ALL in PostgreSQL 15).
[[nodiscard]] bool survives_reset_all(std::string_view name) noexcept;

}  // namespace pgmux::pinning
