// The pin side of SessionState: state pgmux cannot replay, counted from confirmed
// statements (the prediction) and corrected by VerificationQuery (the truth).

#include <algorithm>

#include "pgmux/pinning/session_state.hpp"

namespace pgmux::pinning {
namespace {

using parser::StatementKind;

constexpr std::string_view kUnknownName = "\x01unknown";  // a channel pgmux has no name for

bool search_path_mentions_pg_temp(const SettingsMap& settings) {
    auto it = settings.find("search_path");
    return it != settings.end() && it->second.value.find("pg_temp") != std::string::npos;
}

}  // namespace

PinSet SessionState::pins() const noexcept {
    PinSet s;
    if (tx_.temp_objects > 0) s.insert(PinReason::temp_object);
    if (!tx_.hold_cursors.empty() || unknown_hold_cursors_ > 0) s.insert(PinReason::hold_cursor);
    if (!tx_.listen_channels.empty()) s.insert(PinReason::listen);
    if (advisory_locks_ > 0) s.insert(PinReason::advisory_lock);
    if (load_) s.insert(PinReason::load);
    if (unknown_) s.insert(PinReason::unknown_state_change);
    if (unparsed_) s.insert(PinReason::unparsed);
    if (session_mode_) s.insert(PinReason::session_mode);
    return s;
}

std::size_t SessionState::hold_cursors() const noexcept {
    return tx_.hold_cursors.size() + static_cast<std::size_t>(unknown_hold_cursors_);
}

PinTransitions SessionState::take_pin_transitions() {
    PinTransitions t;
    const PinSet now = pins();
    t.started = now.minus(reported_);
    t.ended = reported_.minus(now);
    t.started.for_each(
        [&](PinReason r) { t.causes[static_cast<std::size_t>(r)] = causes_.get(r); });
    reported_ = now;
    return t;
}

void SessionState::note_cause(PinReason reason, const parser::Statement& stmt) {
    if (pins().contains(reason)) return;  // keep the statement that started the pin
    causes_.set(reason) = stmt.text.empty() ? std::string(parser::to_string(stmt.kind)) : stmt.text;
}

void SessionState::unknown_change(const parser::Statement& stmt) {
    note_cause(PinReason::unknown_state_change, stmt);
    unknown_ = true;
}

void SessionState::apply_pins(const parser::Statement& stmt) {
    switch (stmt.kind) {
        case StatementKind::create_temp:
            temp_namespace_created_ = true;
            if (!stmt.on_commit_drop) {
                note_cause(PinReason::temp_object, stmt);
                ++mutable_tx().temp_objects;
            }
            break;
        case StatementKind::create_unqualified:
            // With pg_temp first in search_path an unqualified CREATE makes a temp object;
            // pgmux cannot tell which schema won, so it pins and lets the server decide.
            if (search_path_mentions_pg_temp(tx_.settings)) {
                temp_namespace_created_ = true;
                note_cause(PinReason::temp_object, stmt);
                ++mutable_tx().temp_objects;
                temp_uncertain_ = true;
            }
            break;
        case StatementKind::drop:
            if (tx_.temp_objects > 0) temp_uncertain_ = true;  // which objects went is unknown
            break;
        case StatementKind::discard_temp:
            mutable_tx().temp_objects = 0;
            temp_uncertain_ = false;
            break;
        case StatementKind::declare_cursor:
            if (stmt.hold) {
                note_cause(PinReason::hold_cursor, stmt);
                mutable_tx().hold_cursors.insert(stmt.name);
            }
            break;
        case StatementKind::close_cursor: {
            // CLOSE is not undone by a rollback: drop the name everywhere.
            bool known = tx_.hold_cursors.erase(stmt.name) > 0;
            for (Level& level : levels_) {
                if (level.saved) known = level.saved->hold_cursors.erase(stmt.name) > 0 || known;
            }
            if (!known && unknown_hold_cursors_ > 0) cursor_uncertain_ = true;
            break;
        }
        case StatementKind::close_all:
            tx_.hold_cursors.clear();
            for (Level& level : levels_) {
                if (level.saved) level.saved->hold_cursors.clear();
            }
            unknown_hold_cursors_ = 0;
            cursor_uncertain_ = false;
            break;
        case StatementKind::listen:
            note_cause(PinReason::listen, stmt);
            mutable_tx().listen_channels.insert(stmt.name);
            break;
        case StatementKind::unlisten:
            if (tx_.listen_channels.count(stmt.name) > 0) {
                mutable_tx().listen_channels.erase(stmt.name);
            } else if (tx_.listen_channels.count(kUnknownName) > 0) {
                listen_uncertain_ = true;
            }
            break;
        case StatementKind::unlisten_all:
            if (!tx_.listen_channels.empty()) mutable_tx().listen_channels.clear();
            listen_uncertain_ = false;
            break;
        case StatementKind::load:
            note_cause(PinReason::load, stmt);
            load_ = true;
            break;
        case StatementKind::discard_sequences:
            sequence_state_used_ = false;
            break;
        case StatementKind::discard_all: {
            // SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; CLOSE ALL;
            // UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD PLANS/TEMP/SEQUENCES.
            reset_setting("session_authorization");
            reset_all_settings();
            TxState& tx = mutable_tx();
            tx.temp_objects = 0;
            tx.hold_cursors.clear();
            tx.listen_channels.clear();
            unknown_hold_cursors_ = 0;
            advisory_locks_ = 0;
            unknown_ = false;   // everything an unknown change could have touched is reset,
            unparsed_ = false;  // except a LOADed library, which stays pinned
            temp_uncertain_ = cursor_uncertain_ = advisory_uncertain_ = listen_uncertain_ = false;
            sequence_state_used_ = false;
            break;
        }
        case StatementKind::unparsed:
            if (stmt.may_affect_state) {
                note_cause(PinReason::unparsed, stmt);
                unparsed_ = true;
            }
            break;
        default:
            break;
    }
}

void SessionState::apply_functions(const parser::Statement& stmt) {
    if (stmt.advisory_unlock_all) {
        advisory_locks_ = 0;
        advisory_uncertain_ = false;
    }
    if (stmt.advisory_locks > 0) {
        note_cause(PinReason::advisory_lock, stmt);
        advisory_locks_ += stmt.advisory_locks;
        // pg_try_advisory_lock may have returned false: only the server knows.
        if (stmt.advisory_try_locks > 0) advisory_uncertain_ = true;
    }
    if (stmt.advisory_unlocks > 0 && advisory_locks_ > 0) {
        // Unlocking a key that is not held returns false and changes nothing.
        advisory_locks_ = std::max<std::int64_t>(0, advisory_locks_ - stmt.advisory_unlocks);
        advisory_uncertain_ = true;
    }
    if (stmt.sequence_write) sequence_state_used_ = true;
    if (stmt.unknown_state_change) unknown_change(stmt);
}

std::string SessionState::verification_sql() const {
    PinSet doubt;
    if (temp_uncertain_) doubt.insert(PinReason::temp_object);
    if (cursor_uncertain_) doubt.insert(PinReason::hold_cursor);
    if (listen_uncertain_) doubt.insert(PinReason::listen);
    if (advisory_uncertain_) doubt.insert(PinReason::advisory_lock);
    return VerificationQuery::sql_for(doubt);
}

void SessionState::apply_verification(const VerificationResult& result) {
    // Only run at idle, where no transaction level is open.
    if (result.temp_objects >= 0) tx_.temp_objects = result.temp_objects;
    if (result.hold_cursors == 0) {
        tx_.hold_cursors.clear();
        unknown_hold_cursors_ = 0;
    } else if (result.hold_cursors > 0) {
        const auto known = static_cast<std::int64_t>(tx_.hold_cursors.size());
        unknown_hold_cursors_ = result.hold_cursors > known ? result.hold_cursors - known : 0;
    }
    if (result.listen_channels == 0) {
        tx_.listen_channels.clear();
    } else if (result.listen_channels > 0 && tx_.listen_channels.empty()) {
        tx_.listen_channels.insert(std::string(kUnknownName));
    }
    if (result.advisory_locks == 0) {
        advisory_locks_ = 0;
    } else if (result.advisory_locks > 0) {
        // pg_locks shows a key once however often the session took it, so
        // its row count may be below what is held; the pin ends only when
        // the server shows no advisory lock at all (an overcount from a
        // failed try-lock is settled by the verification after an unlock).
        advisory_locks_ = std::max(advisory_locks_, result.advisory_locks);
    }
    temp_uncertain_ = cursor_uncertain_ = advisory_uncertain_ = listen_uncertain_ = false;
    needs_verification_ = false;
}

}  // namespace pgmux::pinning
