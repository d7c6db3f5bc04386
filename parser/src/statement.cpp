#include "pgmux/parser/statement.hpp"

namespace pgmux::parser {

std::string_view to_string(StatementKind kind) noexcept {
    switch (kind) {
        case StatementKind::other:
            return "other";
        case StatementKind::unparsed:
            return "unparsed";
        case StatementKind::set:
            return "set";
        case StatementKind::set_local:
            return "set_local";
        case StatementKind::reset:
            return "reset";
        case StatementKind::reset_all:
            return "reset_all";
        case StatementKind::set_role:
            return "set_role";
        case StatementKind::reset_role:
            return "reset_role";
        case StatementKind::set_session_authorization:
            return "set_session_authorization";
        case StatementKind::reset_session_authorization:
            return "reset_session_authorization";
        case StatementKind::set_session_characteristics:
            return "set_session_characteristics";
        case StatementKind::set_config:
            return "set_config";
        case StatementKind::set_config_local:
            return "set_config_local";
        case StatementKind::unknown_state_change:
            return "unknown_state_change";
        case StatementKind::discard_all:
            return "discard_all";
        case StatementKind::discard_plans:
            return "discard_plans";
        case StatementKind::discard_temp:
            return "discard_temp";
        case StatementKind::discard_sequences:
            return "discard_sequences";
        case StatementKind::begin:
            return "begin";
        case StatementKind::commit:
            return "commit";
        case StatementKind::rollback:
            return "rollback";
        case StatementKind::savepoint:
            return "savepoint";
        case StatementKind::release_savepoint:
            return "release_savepoint";
        case StatementKind::rollback_to_savepoint:
            return "rollback_to_savepoint";
        case StatementKind::prepare_transaction:
            return "prepare_transaction";
        case StatementKind::commit_prepared:
            return "commit_prepared";
        case StatementKind::rollback_prepared:
            return "rollback_prepared";
        case StatementKind::prepare:
            return "prepare";
        case StatementKind::execute:
            return "execute";
        case StatementKind::deallocate:
            return "deallocate";
        case StatementKind::deallocate_all:
            return "deallocate_all";
        case StatementKind::create_temp:
            return "create_temp";
        case StatementKind::create_unqualified:
            return "create_unqualified";
        case StatementKind::drop:
            return "drop";
        case StatementKind::declare_cursor:
            return "declare_cursor";
        case StatementKind::close_cursor:
            return "close_cursor";
        case StatementKind::close_all:
            return "close_all";
        case StatementKind::listen:
            return "listen";
        case StatementKind::unlisten:
            return "unlisten";
        case StatementKind::unlisten_all:
            return "unlisten_all";
        case StatementKind::advisory_lock:
            return "advisory_lock";
        case StatementKind::advisory_unlock:
            return "advisory_unlock";
        case StatementKind::advisory_unlock_all:
            return "advisory_unlock_all";
        case StatementKind::advisory_xact_lock:
            return "advisory_xact_lock";
        case StatementKind::load:
            return "load";
        case StatementKind::copy:
            return "copy";
    }
    return "other";
}

bool Statement::changes_session_state() const noexcept {
    switch (kind) {
        case StatementKind::other:
        case StatementKind::copy:
        case StatementKind::set_local:
        case StatementKind::set_config_local:
        case StatementKind::advisory_xact_lock:
        case StatementKind::commit_prepared:
        case StatementKind::rollback_prepared:
        case StatementKind::discard_plans:
        case StatementKind::begin:
        case StatementKind::commit:
        case StatementKind::rollback:
        case StatementKind::savepoint:
        case StatementKind::release_savepoint:
        case StatementKind::rollback_to_savepoint:
        case StatementKind::prepare_transaction:
        // A plain CREATE only matters when search_path starts with pg_temp; a plain DECLARE
        // (no HOLD) lives only as long as its transaction.
        case StatementKind::create_unqualified:
            break;
        case StatementKind::declare_cursor:
            if (hold) return true;
            break;
        case StatementKind::unparsed:
            return may_affect_state;
        default:
            return true;
    }
    return !settings.empty() || advisory_locks > 0 || advisory_unlocks > 0 || advisory_unlock_all ||
           sequence_write || unknown_state_change;
}

bool Statement::is_session_relevant() const noexcept {
    switch (kind) {
        case StatementKind::other:
        case StatementKind::copy:
        case StatementKind::set_local:
        case StatementKind::set_config_local:
        case StatementKind::advisory_xact_lock:
        case StatementKind::commit_prepared:
        case StatementKind::rollback_prepared:
        case StatementKind::discard_plans:
            break;
        case StatementKind::unparsed:
            return may_affect_state;
        default:
            return true;
    }
    return !settings.empty() || advisory_locks > 0 || advisory_unlocks > 0 || advisory_unlock_all ||
           sequence_write || sequence_read || unknown_state_change || name_location >= 0 ||
           !exclusive_database.empty();
}

}  // namespace pgmux::parser
