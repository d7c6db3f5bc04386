#pragma once
// Feeds SQL through the real classifier into a SessionState as if a server ran it.

#include <string>
#include <string_view>

#include "pgmux/parser/classifier.hpp"
#include "pgmux/pinning/session_state.hpp"

namespace pgmux::pinning::test {

// Runs the statements of one Query: all succeed, except the statement at index `fail_at`
// (the rest of the Query is then skipped, as PostgreSQL does). Ends with ReadyForQuery.
inline void run(SessionState& s, std::string_view sql, char status = 'I', int fail_at = -1) {
    parser::Classification c = parser::classify_uncached(sql);
    for (std::size_t i = 0; i < c.statements.size(); ++i) {
        if (static_cast<int>(i) == fail_at) {
            s.on_statement_failed();
            break;
        }
        if (c.statements[i].is_session_relevant()) s.on_statement_succeeded(c.statements[i]);
    }
    s.on_ready_for_query(status);
}

// The value the model holds for a setting, "<default>" when it is the server's default.
inline std::string value(const SessionState& s, std::string_view name) {
    auto it = s.settings().find(name);
    return it == s.settings().end() ? "<default>" : it->second.value;
}

inline std::string replay(const SessionState& s, std::string_view name) {
    auto it = s.settings().find(name);
    return it == s.settings().end() ? "<default>" : it->second.replay_sql;
}

}  // namespace pgmux::pinning::test
