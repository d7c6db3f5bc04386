// Prepared statements under transaction pooling. A client's statement names
// are its own; on servers every statement is named after its content (query
// text and parameter types), so identical statements from different clients
// share one server-side statement, and any server can be given it lazily.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgmux::parser {
struct Classification;
struct Statement;
}  // namespace pgmux::parser

namespace pgmux::statements {

struct PreparedStatement {
    std::string server_name;  // "pgmux_" + content hash
    std::uint64_t key = 0;    // statement_key(server_name): names it in reply-tracker entries
    std::string query;
    std::string param_types;    // the Parse message's raw int16 count + int32 OIDs
    std::string parse_message;  // a complete Parse message naming server_name
    std::shared_ptr<const parser::Classification> classification;
    // SQL-level statements (PREPARE name AS ...): the PREPARE that creates it
    // on a server under server_name, and what executing it does.
    std::string prepare_sql;
    std::shared_ptr<const parser::Statement> sql_body;
    // SQL statements this one EXECUTEs (Parse of "EXECUTE name"): the server
    // must hold them before this one runs.
    std::vector<std::shared_ptr<const PreparedStatement>> depends_on;
    // What pg_prepared_statements.statement shows the client (its own text).
    std::string client_text;
    // The pool's plan-invalidation epoch when the client prepared it: if its
    // text's result type changed since, PostgreSQL fails the client's
    // statement (the client's driver described the old row shape).
    std::uint64_t invalidation_epoch = 0;
};

// Builds the statement from a client's Parse fields. The name is derived from
// a cryptographic hash so that no client can make its statement collide with
// another client's. `search_path` is the client's when it is not the server's
// default: one text names other tables under another search_path (schema per
// tenant), so only clients with the same one share a server statement.
[[nodiscard]] std::shared_ptr<const PreparedStatement> make_prepared_statement(
    std::string_view query, std::string_view param_types,
    std::shared_ptr<const parser::Classification> classification,
    std::string_view search_path = {});

// The client's unnamed statement: kept only to re-Parse it on another
// server, so no content name and no Parse message are built (this runs for
// every extended-protocol query of drivers that never name statements).
[[nodiscard]] std::shared_ptr<PreparedStatement> make_unnamed_statement(
    std::string_view query, std::string_view param_types,
    std::shared_ptr<const parser::Classification> classification);

// A statement created by SQL `PREPARE name [(types)] AS body`; `types` is
// the parenthesised list as written (may be empty).
[[nodiscard]] std::shared_ptr<const PreparedStatement> make_sql_prepared_statement(
    std::string_view types, std::string_view body,
    std::shared_ptr<const parser::Statement> sql_body, std::string_view search_path = {});

// The first 64 bits of a server statement's content hash (0 for names that
// are not pgmux's): small enough to keep in every reply-tracker entry, and
// enough to find the name again among one server's statements.
[[nodiscard]] std::uint64_t statement_key(std::string_view server_name) noexcept;

// The server-side statements one server connection holds, least recently used
// first out. Bounded: adding past the capacity evicts, and the caller must
// Close the evicted statement on the server.
class ServerStatementCache {
  public:
    explicit ServerStatementCache(std::size_t capacity) : capacity_(capacity) {}

    // Whether the server holds the statement in a usable state.
    [[nodiscard]] bool contains(const std::string& name) const {
        const auto it = index_.find(name);
        return it != index_.end() && !it->second.doubtful();
    }
    // Marks a statement as just used (no-op when absent).
    void touch(const std::string& name);
    // Records a statement; returns the statement evicted to make room, if any
    // (stale ones included: the server still holds them).
    [[nodiscard]] std::optional<std::string> insert(const std::string& name);
    void erase(const std::string& name);
    void clear();
    [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
    void set_capacity(std::size_t capacity) noexcept { capacity_ = capacity; }

    // A statement the server still holds but cannot execute any more (its
    // cached plan would change result type): contains() is false from now
    // on, and whoever prepares it again must Close it first. Returns false
    // when the cache does not know the statement.
    bool mark_stale(const std::string& name);
    void mark_all_stale();
    // A Parse pgmux sent for the statement went out in a batch that is over
    // (its Sync was sent) and is not acknowledged yet: if the server skipped
    // that batch after an error, the statement does not exist. Until
    // confirm(), contains() is false and take_stale() true: Close, then Parse
    // again, is right either way.
    void mark_unconfirmed(const std::string& name);
    // Its ParseComplete arrived (no-op for statements not in doubt).
    void confirm(const std::string& name);
    // Before preparing `name` again: true (and forgets it) when it is stale
    // or unconfirmed, so the caller must Close it on the server first. Costs
    // nothing while no statement is in doubt.
    [[nodiscard]] bool take_stale(const std::string& name);
    // Statements stale or unconfirmed.
    [[nodiscard]] std::size_t stale_count() const noexcept { return doubtful_count_; }
    // The statement whose statement_key() is `key`, if this server holds it.
    [[nodiscard]] std::optional<std::string> find_by_key(std::uint64_t key) const;

  private:
    struct Entry {
        std::list<std::string>::iterator at;
        bool stale = false;
        bool unconfirmed = false;
        [[nodiscard]] bool doubtful() const noexcept { return stale || unconfirmed; }
    };
    void drop(std::unordered_map<std::string, Entry>::iterator it);
    // Sets one of an entry's doubt flags, keeping doubtful_count_.
    void set_doubt(Entry& entry, bool Entry::*flag, bool value);

    std::size_t capacity_;
    std::size_t doubtful_count_ = 0;
    std::list<std::string> order_;  // front = most recently used
    std::unordered_map<std::string, Entry> index_;
};

}  // namespace pgmux::statements
