#include "pgmux/pinning/replay.hpp"

#include <algorithm>
#include <vector>

#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::pinning {
namespace {

constexpr std::string_view kRole = "role";
constexpr std::string_view kAuthorization = "session_authorization";

bool is_identity(std::string_view name) {
    return name == kRole || name == kAuthorization;
}

const SettingValue* find(const SettingsMap& m, std::string_view name) {
    auto it = m.find(name);
    return it == m.end() ? nullptr : &it->second;
}

bool same(const SettingValue* a, const SettingValue* b) {
    if (a == nullptr || b == nullptr) return a == b;
    return *a == *b;
}

}  // namespace

ReplayPlan plan_replay(const SettingsMap& client, const SettingsMap& server) {
    // The common case: clients of a pool share their settings (those of the
    // startup packet), so the server already holds them.
    if (client == server) return {};
    std::vector<std::string> changes;
    for (const auto& [name, value] : client) {
        if (is_identity(name)) continue;
        if (!same(&value, find(server, name))) changes.push_back(value.replay_sql);
    }
    for (const auto& [name, value] : server) {
        if (!is_identity(name) && find(client, name) == nullptr) {
            changes.push_back(parser::reset_sql(name));
        }
    }
    const SettingValue* client_auth = find(client, kAuthorization);
    const SettingValue* client_role = find(client, kRole);
    const SettingValue* server_auth = find(server, kAuthorization);
    const SettingValue* server_role = find(server, kRole);
    const bool identity_equal = same(client_auth, server_auth) && same(client_role, server_role);

    ReplayPlan plan;
    if (changes.empty() && identity_equal) return plan;

    std::vector<std::string> statements;
    const bool server_has_identity = server_auth != nullptr || server_role != nullptr;
    const bool clear_identity = server_has_identity && (!identity_equal || !changes.empty());
    if (clear_identity) {
        if (server_auth != nullptr) statements.push_back(parser::reset_sql(kAuthorization));
        if (server_role != nullptr) statements.push_back(parser::reset_sql(kRole));
    }
    for (std::string& c : changes) statements.push_back(std::move(c));
    if (clear_identity || !identity_equal) {
        if (client_auth != nullptr) statements.push_back(client_auth->replay_sql);
        if (client_role != nullptr) statements.push_back(client_role->replay_sql);
    }
    for (const std::string& s : statements) {
        if (!plan.sql.empty()) plan.sql += "; ";
        plan.sql += s;
    }
    plan.statements = statements.size();
    plan.target = client;
    return plan;
}

ReplayPlan plan_reset(const ServerSettings& server) {
    return plan_replay(SettingsMap{}, server.settings());
}

void ServerSettings::apply(const ReplayPlan& plan) {
    settings_ = plan.target;
    owner_ = 0;
}

bool ServerSettings::holds(const SessionState& client) const noexcept {
    return owner_ != 0 && owner_ == client.id() && version_ == client.settings_version();
}

void ServerSettings::adopt(const SessionState& client) {
    if (client.temp_namespace_created()) temp_namespace_used_ = true;
    if (holds(client)) return;
    if (settings_ != client.settings()) settings_ = client.settings();
    owner_ = client.id();
    version_ = client.settings_version();
}

void ServerSettings::note_server_resets(const SessionState::ServerResets& resets,
                                        const SettingsMap& baseline) {
    for (const auto& entry : baseline) {
        const std::string& name = entry.first;
        const bool reset =
            (resets.all && !survives_reset_all(name)) ||
            std::find(resets.names.begin(), resets.names.end(), name) != resets.names.end();
        if (reset) settings_.erase(name);
    }
    owner_ = 0;  // the next adopt copies the client's settings again
}

bool ServerSettings::has_identity() const noexcept {
    return settings_.count(kRole) > 0 || settings_.count(kAuthorization) > 0;
}

}  // namespace pgmux::pinning
