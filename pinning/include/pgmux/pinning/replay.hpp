#pragma once
// What pgmux has set on one server connection, and the SQL that makes it match a client.
//
//   auto plan = plan_replay(client, server.settings());
//   if (!plan.empty()) { send plan.sql as one Query, swallow its replies;
//                        on success server.apply(plan); on any error close the server,
//                        since its settings are then unknown }
//   client.on_attached();
//   ... client's transaction ...
//   at ReadyForQuery 'I': server.adopt(client)
//
// Order of a plan: the server's role/session authorization is cleared first (so RESET and
// superuser-only settings run as the authenticated user), then every other difference,
// then SET SESSION AUTHORIZATION, then SET ROLE. Identity is only touched when it differs
// or must be cleared around other changes.

#include <cstdint>
#include <string>

#include "pgmux/pinning/session_state.hpp"
#include "pgmux/pinning/settings.hpp"

namespace pgmux::pinning {

struct ReplayPlan {
    std::string sql;             // statements separated by "; " (empty: nothing to send)
    std::size_t statements = 0;  // replies to swallow: one CommandComplete per statement
    SettingsMap target;          // what the server holds once the plan succeeded
    [[nodiscard]] bool empty() const noexcept { return sql.empty(); }
};

class ServerSettings {
  public:
    [[nodiscard]] const SettingsMap& settings() const noexcept { return settings_; }
    // The server confirmed a plan (ReadyForQuery 'I' without an error).
    void apply(const ReplayPlan& plan);
    // After the client's transaction (ReadyForQuery 'I'): the server now carries exactly the
    // client's settings. Cheap when nothing changed since the last adopt.
    void adopt(const SessionState& client);
    // ...except where the server reset a client's startup setting (`baseline`) to its own
    // default during that transaction (after adopt): pgmux's next replay sets the client's
    // value there again. Other settings reset alike on both sides.
    void note_server_resets(const SessionState::ServerResets& resets, const SettingsMap& baseline);
    // The settings are exactly `client`'s, as adopted from it and unchanged on either side
    // since (a cheap check: no comparison).
    [[nodiscard]] bool holds(const SessionState& client) const noexcept;
    // The server's role or session authorization differs from its default: it must be reset
    // (plan_reset) before another client gets it.
    [[nodiscard]] bool has_identity() const noexcept;
    // A temp object was created on this backend: it keeps a pg_temp schema, which a later
    // client could observe; such a server is closed rather than pooled.
    [[nodiscard]] bool temp_namespace_used() const noexcept { return temp_namespace_used_; }
    void mark_temp_namespace_used() noexcept { temp_namespace_used_ = true; }

  private:
    SettingsMap settings_;
    std::uint64_t owner_ = 0;  // SessionState::id() last adopted
    std::uint64_t version_ = 0;
    bool temp_namespace_used_ = false;
};

// SQL making `server` hold exactly `client` settings; empty when they already match.
[[nodiscard]] ReplayPlan plan_replay(const SettingsMap& client, const SettingsMap& server);
[[nodiscard]] inline ReplayPlan plan_replay(const SessionState& client,
                                            const ServerSettings& server) {
    // The common case under load: a client gets back the server it just gave back.
    if (server.holds(client)) return {};
    return plan_replay(client.settings(), server.settings());
}
// SQL returning the server to its defaults (identity first), for handing it to another
// client; empty when it already is.
[[nodiscard]] ReplayPlan plan_reset(const ServerSettings& server);

}  // namespace pgmux::pinning
