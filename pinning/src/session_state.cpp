// Settings and transactions: the part of SessionState that mirrors PostgreSQL's GUC rules.
// Pins live in session_pins.cpp.

#include <algorithm>
#include <atomic>

#include "pgmux/parser/sql_quote.hpp"
#include "pgmux/pinning/session_state.hpp"

namespace pgmux::pinning {
namespace {

std::atomic<std::uint64_t> g_next_session_id{1};

using parser::StatementKind;

// Reported by the server but not settable, or (session_authorization) only changed by
// statements pgmux tracks itself: a stray report must never turn into a replayed
// SET SESSION AUTHORIZATION, which only superusers may run.
bool is_ignored_report(std::string_view name) {
    return name == "server_version" || name == "server_encoding" || name == "integer_datetimes" ||
           name == "is_superuser" || name == "in_hot_standby" || name == "session_authorization";
}

std::optional<std::string_view> bound(BindValues params, std::uint16_t number) {
    if (number == 0 || number > params.size()) return std::nullopt;
    return params[number - 1];
}

}  // namespace

SessionState::SessionState(const StartupParameters& startup)
    : baseline_(parse_startup_parameters(startup)),
      id_(g_next_session_id.fetch_add(1, std::memory_order_relaxed)) {
    tx_.settings = baseline_.settings;
}

// --- transaction levels ------------------------------------------------------------------

SessionState::TxState& SessionState::mutable_tx() {
    ensure_level();
    if (!levels_.back().saved) levels_.back().saved = tx_;
    return tx_;
}

void SessionState::ensure_level() {
    if (levels_.empty()) levels_.push_back(Level{Level::Kind::implicit, {}, std::nullopt});
}

void SessionState::ensure_block() {
    if (levels_.empty()) {
        levels_.push_back(Level{Level::Kind::block, {}, std::nullopt});
    } else if (levels_.front().kind == Level::Kind::implicit) {
        // BEGIN inside a multi-statement Query: the statements before it join the block.
        levels_.front().kind = Level::Kind::block;
    }
}

bool SessionState::in_transaction_block() const noexcept {
    return !levels_.empty() && levels_.front().kind == Level::Kind::block;
}

void SessionState::commit_all() {
    levels_.clear();
    failed_ = false;
}

void SessionState::rollback_from(std::size_t level) {
    for (std::size_t i = level; i < levels_.size(); ++i) {
        if (levels_[i].saved) {
            tx_ = std::move(*levels_[i].saved);
            ++settings_version_;
            break;
        }
    }
    levels_.resize(level);
}

void SessionState::release_from(std::size_t level) {
    if (level == 0) return;
    Level& outer = levels_[level - 1];
    for (std::size_t i = level; i < levels_.size() && !outer.saved; ++i) {
        if (levels_[i].saved) outer.saved = std::move(levels_[i].saved);
    }
    levels_.resize(level);
}

std::optional<std::size_t> SessionState::find_savepoint(std::string_view name) const {
    for (std::size_t i = levels_.size(); i-- > 0;) {
        if (levels_[i].kind == Level::Kind::savepoint && levels_[i].savepoint == name) return i;
    }
    return std::nullopt;
}

void SessionState::apply_transaction_control(const parser::Statement& stmt) {
    switch (stmt.kind) {
        case StatementKind::begin:
            ensure_block();  // BEGIN inside a block is a warning and a no-op
            break;
        case StatementKind::commit:
        case StatementKind::prepare_transaction:
            // COMMIT of an aborted block answers ROLLBACK; PREPARE TRANSACTION keeps GUC
            // changes like COMMIT does.
            if (failed_) {
                rollback_from(0);
            } else {
                commit_all();
            }
            failed_ = false;
            if (stmt.chain) ensure_block();
            break;
        case StatementKind::rollback:
            rollback_from(0);
            failed_ = false;
            if (stmt.chain) ensure_block();
            break;
        case StatementKind::savepoint:
            ensure_block();
            levels_.push_back(Level{Level::Kind::savepoint, stmt.name, std::nullopt});
            break;
        case StatementKind::release_savepoint:
            if (auto i = find_savepoint(stmt.name)) release_from(*i);
            break;
        case StatementKind::rollback_to_savepoint:
            if (auto i = find_savepoint(stmt.name)) {
                rollback_from(*i);
                levels_.push_back(Level{Level::Kind::savepoint, stmt.name, std::nullopt});
                failed_ = false;
            }
            break;
        default:
            break;
    }
}

// --- settings ----------------------------------------------------------------------------

void SessionState::touch(std::string_view name) {
    if (std::find(touched_.begin(), touched_.end(), name) == touched_.end()) {
        touched_.emplace_back(name);
    }
}

void SessionState::reset_role_after_authorization_change() {
    // SET SESSION AUTHORIZATION logically resets the role to NONE.
    touch("role");
    TxState& tx = mutable_tx();
    if (auto b = baseline_.settings.find("role"); b != baseline_.settings.end()) {
        tx.settings.insert_or_assign("role", value_from_string("role", "none"));
    } else {
        tx.settings.erase("role");
    }
}

void SessionState::set_setting(const std::string& name, SettingValue value) {
    touch(name);
    TxState& tx = mutable_tx();
    ++settings_version_;
    if (name == "role" && value.value == "none" &&
        baseline_.settings.find("role") == baseline_.settings.end()) {
        tx.settings.erase(name);  // SET ROLE NONE == the server's default
        return;
    }
    tx.settings.insert_or_assign(name, std::move(value));
    if (name == "session_authorization") reset_role_after_authorization_change();
}

namespace {
// Custom settings ("myapp.tenant") are placeholders PostgreSQL creates on
// first use in a backend.
bool is_placeholder(std::string_view name) {
    return name.find('.') != std::string_view::npos;
}
}  // namespace

void SessionState::reset_setting(const std::string& name) {
    touch(name);
    if (server_resets_.names.size() < 64) {
        server_resets_.names.push_back(name);
    } else {
        server_resets_.all = true;  // bounded: as good as all of them
    }
    TxState& tx = mutable_tx();
    ++settings_version_;
    if (auto b = baseline_.settings.find(name); b != baseline_.settings.end()) {
        tx.settings.insert_or_assign(name, b->second);
    } else if (is_placeholder(name)) {
        // A custom (dotted) setting stays defined after RESET, as an empty
        // string; on a backend that never saw it, SHOW would fail instead.
        tx.settings.insert_or_assign(name, value_from_string(name, ""));
    } else {
        tx.settings.erase(name);
    }
    if (name == "session_authorization") reset_role_after_authorization_change();
}

void SessionState::reset_all_settings() {
    touched_all_ = true;
    server_resets_.all = true;
    TxState& tx = mutable_tx();
    ++settings_version_;
    SettingsMap next;
    for (const auto& [name, value] : baseline_.settings) {
        if (!survives_reset_all(name)) next.emplace(name, value);
    }
    for (auto& [name, value] : tx.settings) {
        if (survives_reset_all(name)) {
            next.insert_or_assign(name, std::move(value));
        } else if (is_placeholder(name) && !next.contains(name)) {
            next.emplace(name, value_from_string(name, ""));  // see reset_setting
        }
    }
    tx.settings = std::move(next);
}

void SessionState::apply_settings(const parser::Statement& stmt, BindValues params) {
    for (const parser::SettingChange& change : stmt.settings) {
        if (change.op == parser::SettingChange::Op::reset) {
            reset_setting(change.name);
            continue;
        }
        if (change.name_param == 0 && change.value_param == 0) {
            set_setting(change.name, SettingValue{change.value, change.replay_sql});
            continue;
        }
        // set_config($1, $2, false): the values come from Bind.
        std::optional<std::string_view> name =
            change.name_param ? bound(params, change.name_param) : std::string_view(change.name);
        std::optional<std::string_view> value =
            change.value_param ? bound(params, change.value_param) : std::string_view(change.value);
        if (!name || !value) {
            unknown_change(stmt);
            continue;
        }
        std::string lower = parser::ascii_lower(*name);
        if (lower == "transaction_isolation" || lower == "transaction_read_only" ||
            lower == "transaction_deferrable") {
            continue;  // transaction-scoped
        }
        set_setting(lower, value_from_string(lower, *value));
    }
    if (stmt.kind == StatementKind::reset_all) reset_all_settings();
}

std::optional<std::string> SessionState::on_parameter_status(std::string_view name,
                                                             std::string_view value) {
    std::string lower = parser::ascii_lower(name);
    if (is_ignored_report(lower)) return std::nullopt;
    auto it = tx_.settings.find(lower);
    if (it != tx_.settings.end() && it->second.value == value) return std::nullopt;
    const bool reset_by_server = (server_resets_.all && !survives_reset_all(lower)) ||
                                 std::find(server_resets_.names.begin(), server_resets_.names.end(),
                                           lower) != server_resets_.names.end();
    if (reset_by_server && it != tx_.settings.end()) return it->second.value;
    const bool touched =
        touched_all_ || std::find(touched_.begin(), touched_.end(), lower) != touched_.end();
    // A statement pgmux saw set it: the server's report is the exact result
    // (SET DateStyle TO ymd only changes the field order and keeps the
    // output style, so replaying the SET text alone would be wrong).
    if (touched && it == tx_.settings.end()) return std::nullopt;  // RESET to the server's default
    // Otherwise something pgmux did not see (a function, a procedure)
    // changed a reported setting.
    set_setting(lower, value_from_string(lower, value));
    return std::nullopt;
}

// --- driving -----------------------------------------------------------------------------

void SessionState::on_statement_succeeded(const parser::Statement& stmt, BindValues params) {
    apply_transaction_control(stmt);
    apply_settings(stmt, params);
    apply_pins(stmt);
    apply_functions(stmt);
}

void SessionState::on_statement_failed() noexcept {
    if (in_transaction_block()) {
        failed_ = true;
    } else if (!levels_.empty()) {
        rollback_from(0);  // the implicit transaction of this Query/Sync aborts
    }
}

void SessionState::on_ready_for_query(char status) {
    switch (status) {
        case 'I':
            if (!levels_.empty()) {
                if (failed_) {
                    rollback_from(0);  // e.g. COMMIT failed (deferred constraint, serialization)
                } else {
                    const bool unseen_end =
                        in_transaction_block() &&
                        std::any_of(levels_.begin(), levels_.end(),
                                    [](const Level& l) { return l.saved.has_value(); });
                    commit_all();
                    if (unseen_end) {
                        // The block ended without a COMMIT/ROLLBACK pgmux saw: whether its
                        // changes were kept is unknown.
                        parser::Statement s;
                        s.text = "(transaction ended by a statement pgmux did not classify)";
                        unknown_change(s);
                    }
                }
            }
            failed_ = false;
            needs_verification_ =
                temp_uncertain_ || cursor_uncertain_ || advisory_uncertain_ || listen_uncertain_;
            break;
        case 'T':
            ensure_block();
            failed_ = false;
            break;
        case 'E':
            ensure_block();
            failed_ = true;
            break;
        default:
            break;
    }
    touched_.clear();
    touched_all_ = false;
}

}  // namespace pgmux::pinning
