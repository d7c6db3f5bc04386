// JSON shapes of the admin API (documented in docs/openapi.yaml).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "pgmux/admin/snapshots.h"

namespace pgmux::admin::detail {

// RFC 3339 in UTC with milliseconds, e.g. "2026-11-22T14:50:56.123Z".
[[nodiscard]] std::string format_time(WallTime time);

[[nodiscard]] nlohmann::json pool_json(const PoolSnapshot& pool);
[[nodiscard]] nlohmann::json client_json(const ClientSnapshot& client, WallTime now);
[[nodiscard]] nlohmann::json server_json(const ServerSnapshot& server, WallTime now);
[[nodiscard]] nlohmann::json pinning_json(const PinningSnapshot& pinning);

// Serialises with invalid UTF-8 replaced (statements come from clients).
[[nodiscard]] std::string dump(const nlohmann::json& value);

}  // namespace pgmux::admin::detail
