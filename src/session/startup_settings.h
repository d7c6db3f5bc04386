// The settings a client asked for in its startup packet, and the SQL that
// re-establishes them on a server connection.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pgmux::session {

using AppliedSettings = std::map<std::string, std::string, std::less<>>;

struct StartupSettings {
    // name -> value, lower-cased names, `options` expanded into its -c pairs.
    AppliedSettings values;

    // Collects GUCs from startup parameters, skipping user, database and
    // protocol options. Returns an error message for malformed `options`.
    [[nodiscard]] static std::pair<StartupSettings, std::string> from_startup(
        const std::vector<std::pair<std::string, std::string>>& params);
};

// SQL that turns `server` into `wanted` (empty when they already match).
[[nodiscard]] std::string replay_sql(const AppliedSettings& wanted, const AppliedSettings& server);

// Quotes a string as an SQL literal (standard_conforming_strings on).
[[nodiscard]] std::string quote_literal(std::string_view s);
[[nodiscard]] std::string quote_identifier(std::string_view s);

}  // namespace pgmux::session
