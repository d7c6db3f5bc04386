#pragma once
// A client's startup packet -> its baseline settings, the way PostgreSQL applies them:
// first the switches in `options` (-c name=value, --name=value, backslash escapes a
// space), then every other parameter (which wins over options).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pgmux/pinning/settings.hpp"

namespace pgmux::pinning {

using StartupParameters = std::vector<std::pair<std::string, std::string>>;

struct StartupBaseline {
    SettingsMap settings;
    // Settings PostgreSQL only accepts at backend start (log_connections, ...): they cannot
    // be replayed with SET, so the proxy must put them in the server's startup packet or
    // refuse the client.
    std::vector<std::pair<std::string, std::string>> backend_only;
    // options switches other than -c / --name=value (e.g. "-e"), which pgmux does not model.
    std::vector<std::string> unsupported_options;
};

// Parameters excluded: user, database, replication and protocol-level _pq_.* options.
[[nodiscard]] StartupBaseline parse_startup_parameters(const StartupParameters& params);

// The words of an `options` value as PostgreSQL's pg_split_opts splits them.
[[nodiscard]] std::vector<std::string> split_options(std::string_view options);

// The SettingValue pgmux replays for a name/value pair given as a plain string (startup
// parameter, set_config, ParameterStatus): set_config(..., false), or the SET ROLE / SET
// SESSION AUTHORIZATION syntax for those two.
[[nodiscard]] SettingValue value_from_string(std::string_view name, std::string_view value);

}  // namespace pgmux::pinning
