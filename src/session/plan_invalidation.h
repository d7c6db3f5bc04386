// PostgreSQL refuses to run a prepared statement whose result columns changed
// since it was prepared ("cached plan must not change result type", SQLSTATE
// 0A000, raised in RevalidateCachedQuery), and keeps refusing until the
// statement is prepared again. These pure checks decide whether pgmux may run
// the failed request again itself; the session does the rest
// (plan_retry.cpp). See docs/prepared-statements.md for the reasoning.
#pragma once

#include <cstddef>
#include <string_view>

namespace pgmux::session {

// Most bytes of client messages kept to run a batch again: batches are a
// Bind, a Describe, an Execute and a Sync, a few hundred bytes at most for
// ordinary parameters; anything larger is not retried.
inline constexpr std::size_t kMaxRetryBatch = 8 * 1024;

// The ErrorResponse body is PostgreSQL's plan-invalidation error. Told by
// SQLSTATE and source routine, not by the (localised) message, as asyncpg does.
[[nodiscard]] bool is_plan_invalidation(std::string_view error_body) noexcept;

// Whether the client messages `batch` (complete frames, from the Bind of the
// statement whose plan was invalidated up to and including Sync) can be sent
// again once the statement is prepared anew, with the client decoding the
// new rows correctly:
// - only Bind, Describe, Execute, Flush, Sync and Parse of the unnamed
//   statement, ending with one Sync;
// - the first Bind asks for one result format for all columns (or none):
//   per-column formats were chosen for the old columns;
// - its binary parameters all have a type given in the Parse
//   (`param_types`: int16 count, then OIDs): an unspecified type is inferred
//   again when the statement is prepared again and could change;
// - its portal is described (Describe portal) before it is executed, so the
//   client takes the row shape from the new RowDescription.
[[nodiscard]] bool batch_can_rerun(std::string_view batch, std::string_view param_types) noexcept;

// Whether a client whose statement's result type changed since it described
// the statement may still run this Bind (`bind_body`), followed by the
// messages `following` (the rest of what it sent so far): under the same
// conditions for the Bind as above, and only when it describes the portal
// before executing it (psycopg and node-postgres do, every time).
[[nodiscard]] bool bind_learns_new_shape(std::string_view bind_body, std::string_view param_types,
                                         std::string_view following) noexcept;

}  // namespace pgmux::session
