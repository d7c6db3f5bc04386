#include "json_format.h"

#include <ctime>

namespace pgmux::admin::detail {
namespace {

using Json = nlohmann::json;

double seconds_between(WallTime from, WallTime to) {
    const auto seconds = std::chrono::duration<double>(to - from).count();
    return seconds < 0 ? 0.0 : seconds;  // clocks of different threads may disagree a little
}

template <typename T>
Json optional_json(const std::optional<T>& value) {
    return value ? Json(*value) : Json(nullptr);
}

}  // namespace

std::string format_time(WallTime time) {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(millis / 1000);
    long fraction = static_cast<long>(millis % 1000);
    if (fraction < 0) {
        fraction += 1000;
        --seconds;
    }
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    char buffer[40];
    const auto length = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
    std::string out(buffer, length);
    char millis_text[8];
    std::snprintf(millis_text, sizeof millis_text, ".%03ldZ", fraction);
    return out + millis_text;
}

Json pool_json(const PoolSnapshot& pool) {
    const double average = pool.waits_total == 0
                               ? 0.0
                               : pool.wait_seconds_total / static_cast<double>(pool.waits_total);
    return Json{
        {"database", pool.database},
        {"user", pool.user},
        {"pool_mode", std::string(to_string(pool.pool_mode))},
        {"pool_size", pool.pool_size},
        {"paused", pool.paused},
        {"clients",
         {{"active", pool.clients_active},
          {"waiting", pool.clients_waiting},
          {"idle", pool.clients_idle}}},
        {"servers",
         {{"active", pool.servers_active},
          {"idle", pool.servers_idle},
          {"pinned", pool.servers_pinned},
          {"connecting", pool.servers_connecting}}},
        {"wait",
         {{"longest_seconds", pool.longest_wait_seconds},
          {"waits_total", pool.waits_total},
          {"seconds_total", pool.wait_seconds_total},
          {"average_seconds", average}}},
    };
}

Json client_json(const ClientSnapshot& client, WallTime now) {
    Json pins = Json::array();
    for (const auto& pin : client.pins) {
        pins.push_back({{"reason", pin.reason},
                        {"since", format_time(pin.since)},
                        {"seconds", seconds_between(pin.since, now)},
                        {"statement", pin.statement}});
    }
    return Json{
        {"id", client.id},
        {"address", client.address},
        {"database", client.database},
        {"user", client.user},
        {"application_name", client.application_name},
        {"state", std::string(to_string(client.state))},
        {"tls", client.tls},
        {"server_id", optional_json(client.server)},
        {"pinned", !client.pins.empty()},
        {"pins", std::move(pins)},
        {"tracked_settings", client.tracked_settings},
        {"prepared_statements", client.prepared_statements},
        {"connected_since", format_time(client.connected_since)},
        {"connected_seconds", seconds_between(client.connected_since, now)},
    };
}

Json server_json(const ServerSnapshot& server, WallTime now) {
    return Json{
        {"id", server.id},
        {"database", server.database},
        {"user", server.user},
        {"state", std::string(to_string(server.state))},
        {"address", server.address},
        {"client_id", optional_json(server.client)},
        {"pinned_to", optional_json(server.pinned_to)},
        {"prepared_statements", server.prepared_statements},
        {"connected_since", format_time(server.connected_since)},
        {"age_seconds", seconds_between(server.connected_since, now)},
    };
}

Json pinning_json(const PinningSnapshot& pinning) {
    Json reasons = Json::array();
    for (const auto& r : pinning.reasons) {
        reasons.push_back({{"reason", r.reason},
                           {"pins_started", r.pins_started},
                           {"pins_ended", r.pins_ended},
                           {"seconds_pinned", r.seconds_pinned},
                           {"clients_pinned_now", r.clients_pinned_now}});
    }
    Json top = Json::array();
    for (const auto& cause : pinning.top_statements) {
        top.push_back(
            {{"statement", cause.statement}, {"reason", cause.reason}, {"count", cause.count}});
    }
    const auto& replay = pinning.replay;
    return Json{
        {"reasons", std::move(reasons)},
        {"top_statements", std::move(top)},
        {"replay",
         {{"sets_replayed", replay.sets_replayed},
          {"replays_sent", replay.replays_sent},
          {"statements_reprepared", replay.statements_reprepared},
          {"parses_saved", replay.parses_saved}}},
        {"statement_cache",
         {{"hits", replay.statement_cache_hits},
          {"misses", replay.statement_cache_misses},
          {"evictions", replay.statement_cache_evictions}}},
    };
}

std::string dump(const Json& value) {
    return value.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace pgmux::admin::detail
