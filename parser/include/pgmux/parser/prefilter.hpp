#pragma once
// The cheap first line of the classifier: a keyword scan (no allocation, no parse) deciding
// whether SQL text can touch session state at all. It must never say "harmless" for text
// that changes session state; when unsure it says true and the full classifier decides.

#include <string_view>

namespace pgmux::parser {

// True when any statement of `sql` may change session state (or transaction state, which
// the session model also needs to see). False only for statements that start with a
// data-manipulation or read keyword (SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE,
// SHOW, COPY, FETCH, MOVE, MERGE, NOTIFY) and contain no state-changing function name
// (set_config, advisory locks, sequence functions, setseed) and, for SELECT/WITH, no INTO.
[[nodiscard]] bool may_affect_session_state(std::string_view sql) noexcept;

}  // namespace pgmux::parser
