#include "pgmux/pinning/policy.hpp"

#include <vector>

namespace pgmux::pinning {
namespace {

using parser::StatementKind;

bool search_path_mentions_pg_temp(const SessionState& client) {
    auto it = client.settings().find("search_path");
    return it != client.settings().end() && it->second.value.find("pg_temp") != std::string::npos;
}

std::optional<PinReason> raw_pin(const parser::Statement& stmt, const SessionState& client) {
    switch (stmt.kind) {
        case StatementKind::create_temp:
            if (!stmt.on_commit_drop) return PinReason::temp_object;
            break;
        case StatementKind::create_unqualified:
            if (search_path_mentions_pg_temp(client)) return PinReason::temp_object;
            break;
        case StatementKind::declare_cursor:
            if (stmt.hold) return PinReason::hold_cursor;
            break;
        case StatementKind::listen:
            return PinReason::listen;
        case StatementKind::load:
            return PinReason::load;
        case StatementKind::unparsed:
            if (stmt.may_affect_state) return PinReason::unparsed;
            break;
        default:
            break;
    }
    if (stmt.unknown_state_change) return PinReason::unknown_state_change;
    if (stmt.advisory_locks > 0) return PinReason::advisory_lock;
    return std::nullopt;
}

}  // namespace

std::string_view to_string(OnPin policy) noexcept {
    switch (policy) {
        case OnPin::allow:
            return "allow";
        case OnPin::warn:
            return "warn";
        case OnPin::reject:
            return "reject";
    }
    return "allow";
}

std::optional<OnPin> on_pin_from_string(std::string_view name) noexcept {
    for (OnPin p : {OnPin::allow, OnPin::warn, OnPin::reject}) {
        if (to_string(p) == name) return p;
    }
    return std::nullopt;
}

std::optional<PinReason> predicted_pin(const parser::Statement& stmt, const SessionState& client) {
    std::optional<PinReason> reason = raw_pin(stmt, client);
    if (reason && client.pins().contains(*reason)) return std::nullopt;
    return reason;
}

PinDecision decide_pin(const SessionState& client, OnPin policy,
                       const parser::Classification& query) {
    PinDecision d;
    for (std::size_t i = 0; i < query.statements.size(); ++i) {
        std::optional<PinReason> reason = predicted_pin(query.statements[i], client);
        if (!reason) continue;
        d.reason = reason;
        d.statement_index = i;
        d.action = policy == OnPin::reject ? PinDecision::Action::reject
                   : policy == OnPin::warn ? PinDecision::Action::warn
                                           : PinDecision::Action::allow;
        return d;
    }
    return d;
}

PinRejection rejection_for(PinReason reason) {
    PinRejection r;
    r.message = "pgmux: this statement would pin the session to one server connection (reason: " +
                std::string(to_string(reason)) + "), and this pool has on_pin = reject";
    r.hint = std::string(advice(reason));
    return r;
}

ReleaseDecision decide_release(const SessionState& client, const ServerSettings& server) {
    ReleaseDecision d;
    if (client.pinned()) {
        d.action = ReleaseDecision::Action::keep;
        d.why = "client is pinned";
    } else if (client.needs_verification()) {
        d.action = ReleaseDecision::Action::keep;
        d.why = "pin verification pending";
    } else if (client.in_transaction_block()) {
        d.action = ReleaseDecision::Action::keep;
        d.why = "transaction block open";
    } else if (server.temp_namespace_used() || client.temp_namespace_created()) {
        d.action = ReleaseDecision::Action::close;
        d.why = "backend has a pg_temp schema";
    } else {
        d.why = "no session state left on the server";
    }
    return d;
}

ReleaseDecision decide_after_disconnect(const SessionState& client, const ServerSettings& server) {
    ReleaseDecision d;
    const PinSet pins = client.pins();
    if (pins.contains(PinReason::load) || pins.contains(PinReason::unknown_state_change) ||
        pins.contains(PinReason::unparsed) || pins.contains(PinReason::temp_object)) {
        d.action = ReleaseDecision::Action::close;
        d.why = "session state that cannot be reset reliably";
        return d;
    }
    if (server.temp_namespace_used() || client.temp_namespace_created()) {
        d.action = ReleaseDecision::Action::close;
        d.why = "backend has a pg_temp schema";
        return d;
    }
    std::vector<std::string_view> cleanup;
    if (client.in_transaction_block()) cleanup.push_back("ROLLBACK");
    if (client.hold_cursors() > 0 || client.needs_verification()) cleanup.push_back("CLOSE ALL");
    if (pins.contains(PinReason::listen) || client.needs_verification()) {
        cleanup.push_back("UNLISTEN *");
    }
    if (pins.contains(PinReason::advisory_lock) || client.needs_verification()) {
        cleanup.push_back("SELECT pg_catalog.pg_advisory_unlock_all()");
    }
    // The server holds the client's settings as of its last idle point (adopt), which is
    // also what a ROLLBACK leaves.
    ReplayPlan reset = plan_reset(server);
    std::string sql;
    for (std::string_view s : cleanup) {
        if (!sql.empty()) sql += "; ";
        sql += s;
    }
    if (!reset.empty()) {
        if (!sql.empty()) sql += "; ";
        sql += reset.sql;
    }
    if (sql.empty()) {
        d.why = "no session state left on the server";
        return d;
    }
    d.action = ReleaseDecision::Action::reset_then_release;
    d.reset.sql = std::move(sql);
    d.reset.statements = cleanup.size() + reset.statements;
    d.why = "client left session state behind";
    return d;
}

}  // namespace pgmux::pinning
