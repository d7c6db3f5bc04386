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

// True when `sql` may call nextval() without naming it: a column DEFAULT (serial, identity)
// fires in INSERT, COPY FROM and MERGE, and PHP's PDO::lastInsertId() (Doctrine) reads the
// value back with lastval()/currval() in the next statement. A statement starting with
// INSERT, COPY or MERGE, or any text with WITH or several statements that has one of those
// words. Errs towards true.
[[nodiscard]] bool may_draw_from_sequences(std::string_view sql) noexcept;

}  // namespace pgmux::parser
