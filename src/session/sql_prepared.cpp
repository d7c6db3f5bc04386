// SQL-level prepared statements (PREPARE / EXECUTE / DEALLOCATE) under
// transaction pooling. A client's statement names are rewritten in the SQL
// text to the same content-addressed server names protocol-level statements
// use, and whatever the current server lacks is prepared on it first, so the
// statements work on any server connection without pinning.
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "pgmux/parser/sql_quote.hpp"
#include "pgmux/parser/statement.hpp"
#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"

namespace pgmux::session {

namespace msg = protocol::msg;

namespace {
using protocol::append_message;

struct Edit {
    std::size_t at;
    std::size_t length;
    std::string text;
};
}  // namespace

void ClientSession::inject_query(std::string_view sql, std::string& to_server, Inspect inspect,
                                 std::string creates_statement) {
    protocol::append_query(to_server, sql);
    expect(PendingReply{.expect = Expect::kQuery,
                        .action = Action::kSwallowAll,
                        .inspect = inspect,
                        .server_statement = std::move(creates_statement)});
}

namespace {
bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
}

// Case-insensitive: does `text` at `at` spell the lower-case word `word`?
bool word_at(std::string_view text, std::size_t at, std::string_view word) {
    if (at + word.size() > text.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[at + i])) != word[i]) return false;
    }
    return (at == 0 || !is_name_char(text[at - 1])) &&
           (at + word.size() == text.size() || !is_name_char(text[at + word.size()]));
}
}  // namespace

std::string ClientSession::alias_for_dynamic_sql(std::string_view sql, std::string& to_server) {
    std::string deallocates;
    std::vector<std::string> aliased;
    for (std::size_t at = 0; (at = sql.find_first_of("eE", at)) != std::string_view::npos; ++at) {
        if (!word_at(sql, at, "execute")) continue;
        std::size_t p = at + 7;
        while (p < sql.size() && std::isspace(static_cast<unsigned char>(sql[p]))) ++p;
        std::size_t end = p;
        while (end < sql.size() && is_name_char(sql[end])) ++end;
        std::string name(sql.substr(p, end - p));
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        auto it = statements_.find(name);
        if (it == statements_.end() || it->second->prepare_sql.empty()) continue;
        if (std::find(aliased.begin(), aliased.end(), name) != aliased.end()) continue;
        const auto& ps = *it->second;
        const std::size_t head = std::string_view("PREPARE ").size() + ps.server_name.size();
        inject_query("PREPARE " + parser::quote_identifier(name) + ps.prepare_sql.substr(head),
                     to_server);
        deallocates += "DEALLOCATE " + parser::quote_identifier(name) + ";";
        aliased.push_back(std::move(name));
    }
    return deallocates;
}

void ClientSession::drop_statements_at_bind(const parser::Classification& c) {
    // psycopg sends DEALLOCATE name (cache eviction) and DEALLOCATE ALL (after
    // a rollback) through the extended protocol. They run where they are
    // bound, whenever that is: that server's statements go now, the client's
    // names when the server ran them (settle_sql_statements).
    for (const auto& st : c.statements) {
        if (st.kind == parser::StatementKind::deallocate_all ||
            st.kind == parser::StatementKind::discard_all) {
            drop_all_statements();
        } else if (st.kind == parser::StatementKind::deallocate && !st.prepared_name.empty()) {
            if (auto it = statements_.find(st.prepared_name); it != statements_.end()) {
                drop_statement(it);
            }
        }
    }
}

void ClientSession::drop_all_statements() {
    // Every statement on the server goes, other clients' too (prepared again
    // when next needed); the client's names come back if the server refuses
    // it (settle_sql_statements).
    if (!unconfirmed_discard_) unconfirmed_discard_.emplace();
    for (auto& entry : statements_) unconfirmed_discard_->insert(std::move(entry));
    statements_.clear();
    server_->statements.clear();
}

void ClientSession::drop_statement(StatementMap::iterator it) {
    server_->statements.erase(it->second->server_name);
    unconfirmed_deallocates_.emplace_back(it->first, it->second);
    statements_.erase(it);
}

void ClientSession::close_before_query(const std::string& server_name, std::string& to_server) {
    // A protocol Close, unlike DEALLOCATE, is no error when the statement is
    // not there (a stale or unconfirmed one may not be), so it cannot abort
    // the client's transaction; the Sync ends the extended-protocol part.
    close_on_server(server_name, to_server);
    protocol::append_simple(to_server, msg::kSync);
    expect(PendingReply{.expect = Expect::kSync, .action = Action::kSwallowAll});
}

void ClientSession::ensure_prepared_for_query(const statements::PreparedStatement& ps,
                                              std::string& to_server) {
    // In a failed transaction the Query gets 25P02 whatever it names (unless
    // it begins by leaving that state: ROLLBACK TO, see on_query); a statement
    // prepared for it would fail first, with the same error twice.
    if (tx_status_ == 'E' && !query_leaves_failed_state_) return;
    std::optional<std::string> evicted;
    bool stale = false;
    if (!server_lacks(ps, evicted, stale)) return;
    if (stale) close_before_query(ps.server_name, to_server);
    if (evicted) close_before_query(*evicted, to_server);
    if (!ps.prepare_sql.empty()) {
        inject_query(ps.prepare_sql, to_server, Inspect::kPrepareForClient, ps.server_name);
        return;
    }
    // A protocol-level statement used from SQL (EXECUTE): Parse it, Sync.
    to_server += ps.parse_message;
    expect(PendingReply{.expect = Expect::kParse,
                        .action = Action::kSwallow,
                        .server_statement = ps.server_name,
                        .parsed_name = ps.server_name});
    protocol::append_simple(to_server, msg::kSync);
    expect(PendingReply{.expect = Expect::kSync, .action = Action::kSwallowAll});
}

std::string ClientSession::rewrite_sql_prepared(std::string_view sql,
                                                const parser::Classification& c,
                                                std::string& to_server) {
    using parser::StatementKind;
    std::vector<Edit> edits;
    for (const auto& st : c.statements) {
        switch (st.kind) {
            case StatementKind::prepare: {
                if (st.name_location < 0 || st.body_length == 0) break;
                const std::string& name = st.prepared_name;
                if (auto it = statements_.find(name); it != statements_.end()) {
                    // PostgreSQL refuses a duplicate name: make the server say
                    // so about a statement it surely has (names mapped back in
                    // error messages).
                    ensure_prepared_for_query(*it->second, to_server);
                    edits.push_back({static_cast<std::size_t>(st.name_location), st.name_length,
                                     it->second->server_name});
                    break;
                }
                auto made = statements::make_sql_prepared_statement(
                    sql.substr(st.types_location, st.types_length),
                    sql.substr(st.body_location, st.body_length), st.prepared_body, search_path());
                std::const_pointer_cast<statements::PreparedStatement>(made)->client_text = sql;
                std::const_pointer_cast<statements::PreparedStatement>(made)->invalidation_epoch =
                    pool_->invalidation_epoch();
                auto ps = std::move(made);
                if (server_->statements.contains(ps->server_name) ||
                    server_->statements.take_stale(ps->server_name)) {
                    // Another client's identical statement: recreate it, so
                    // that the client's PREPARE runs (and reports) for real.
                    close_before_query(ps->server_name, to_server);
                    server_->statements.erase(ps->server_name);
                }
                if (auto evicted = server_->statements.insert(ps->server_name)) {
                    proxy_.counters.statement_cache_evictions.fetch_add(1,
                                                                        std::memory_order_relaxed);
                    close_before_query(*evicted, to_server);
                }
                proxy_.counters.client_parses.fetch_add(1, std::memory_order_relaxed);
                proxy_.counters.server_parses.fetch_add(1, std::memory_order_relaxed);
                edits.push_back(
                    {static_cast<std::size_t>(st.name_location), st.name_length, ps->server_name});
                statements_[name] = ps;
                unconfirmed_prepares_.push_back(name);
                break;
            }
            case StatementKind::deallocate_all:
            case StatementKind::discard_all:
                drop_all_statements();  // (the Query dropped the unnamed statement already)
                break;
            default: {
                // EXECUTE, DEALLOCATE, and statements embedding an EXECUTE
                // (EXPLAIN EXECUTE, CREATE TABLE ... AS EXECUTE).
                if (st.name_location < 0 || st.prepared_name.empty()) break;
                auto it = statements_.find(st.prepared_name);
                if (it == statements_.end()) break;  // the server reports the unknown name
                auto ps = it->second;
                ensure_prepared_for_query(*ps, to_server);
                edits.push_back(
                    {static_cast<std::size_t>(st.name_location), st.name_length, ps->server_name});
                if (st.kind == StatementKind::deallocate) drop_statement(it);
                break;
            }
        }
    }
    if (edits.empty()) return {};
    std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.at < b.at; });
    last_edits_.clear();
    for (const auto& e : edits) last_edits_.push_back({e.at, e.length, e.text.size()});
    std::string out(sql);
    for (auto it = edits.rbegin(); it != edits.rend(); ++it) {
        if (it->at + it->length <= out.size()) out.replace(it->at, it->length, it->text);
    }
    return out;
}

std::string ClientSession::rewrite_executes_for_parse(
    std::string_view sql, const parser::Classification& c,
    std::vector<std::shared_ptr<const statements::PreparedStatement>>& depends_on,
    std::string& to_server) {
    std::vector<Edit> edits;
    for (const auto& st : c.statements) {
        if (st.kind == parser::StatementKind::prepare || st.name_location < 0 ||
            st.prepared_name.empty()) {
            continue;
        }
        auto it = statements_.find(st.prepared_name);
        if (it == statements_.end()) continue;  // the server reports the unknown name
        edits.push_back(
            {static_cast<std::size_t>(st.name_location), st.name_length, it->second->server_name});
        // EXECUTE and DEALLOCATE need the statement on the server that runs
        // them (DEALLOCATE drops it there when bound: see drop_statements_at_bind).
        depends_on.push_back(it->second);
    }
    if (edits.empty()) return {};
    std::string out(sql);
    for (auto it = edits.rbegin(); it != edits.rend(); ++it) {
        if (it->at + it->length <= out.size()) out.replace(it->at, it->length, it->text);
    }
    return out;
}

void ClientSession::ensure_dependencies(const statements::PreparedStatement& ps,
                                        std::string& to_server) {
    for (const auto& dep : ps.depends_on) {
        if (dep->prepare_sql.empty()) {
            ensure_prepared(*dep, to_server);
            continue;
        }
        std::optional<std::string> evicted;
        bool stale = false;
        if (!server_lacks(*dep, evicted, stale)) continue;
        // Runs the SQL PREPARE through the unnamed statement (extended
        // protocol, so it may sit inside the client's batch); replies hidden.
        if (stale) close_on_server(dep->server_name, to_server);  // plan invalidated
        if (evicted) close_on_server(*evicted, to_server);
        append_message(
            to_server, msg::kParse,
            {std::string_view("\0", 1), dep->prepare_sql, std::string_view("\0\0\0", 3)});
        expect(PendingReply{.expect = Expect::kParse, .action = Action::kSwallow});
        append_message(to_server, msg::kBind, {std::string_view("\0\0\0\0\0\0\0\0", 8)});
        expect(PendingReply{.expect = Expect::kBind, .action = Action::kSwallow});
        append_message(to_server, msg::kExecute, {std::string_view("\0\0\0\0\0", 5)});
        expect(PendingReply{.expect = Expect::kExecute, .action = Action::kSwallow});
        server_->unnamed_owner = 0;
    }
}

std::shared_ptr<const std::vector<std::pair<std::size_t, long>>> ClientSession::take_text_shifts() {
    if (last_edits_.empty()) return nullptr;
    auto shifts = std::make_shared<std::vector<std::pair<std::size_t, long>>>();
    long moved = 0;
    for (const auto& e : last_edits_) {
        const long delta = static_cast<long>(e.new_length) - static_cast<long>(e.old_length);
        shifts->emplace_back(static_cast<std::size_t>(static_cast<long>(e.at) + moved), delta);
        moved += delta;
    }
    last_edits_.clear();
    return shifts;
}

namespace {
bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
           static_cast<unsigned char>(c) >= 0x80;
}

// After the view's name: does the client give it an alias of its own?
bool followed_by_alias(std::string_view rest) {
    std::size_t i = 0;
    while (i < rest.size() && std::isspace(static_cast<unsigned char>(rest[i]))) ++i;
    std::size_t j = i;
    while (j < rest.size() && word_char(rest[j])) ++j;
    if (j == i) return false;  // punctuation or the end
    const std::string word = parser::ascii_lower(rest.substr(i, j - i));
    static const char* const kClauses[] = {
        "where",  "order",  "group", "limit",   "offset", "join",      "left",       "right",
        "inner",  "full",   "cross", "natural", "on",     "union",     "except",     "intersect",
        "having", "window", "fetch", "for",     "using",  "returning", "tablesample"};
    for (const char* k : kClauses) {
        if (word == k) return false;
    }
    return true;  // AS or a bare alias
}
}  // namespace

std::string ClientSession::rewrite_prepared_statements_view(std::string_view sql,
                                                            std::string& to_server) {
    // pg_prepared_statements on the server lists pgmux's content-addressed
    // statements (other clients' too). Clients see their own statements under
    // their own names instead: the view is replaced by a join with the names.
    static constexpr std::string_view kView = "pg_prepared_statements";
    const std::string lower = parser::ascii_lower(sql);
    if (lower.find(kView) == std::string::npos) return {};
    std::string rows;
    for (const auto& [name, ps] : statements_) {
        ensure_prepared_for_query(*ps, to_server);
        rows += rows.empty() ? "" : ", ";
        const std::string& text = ps->client_text.empty() ? ps->query : ps->client_text;
        rows += "(" + parser::quote_literal(ps->server_name) + ", " + parser::quote_literal(name) +
                ", " + parser::quote_literal(text) + ")";
    }
    const std::string relation =
        rows.empty() ? "(SELECT p.* FROM pg_catalog.pg_prepared_statements p WHERE false)"
                     : "(SELECT m.n AS name, m.s AS statement, p.prepare_time, p.parameter_types, "
                       "p.from_sql, p.generic_plans, p.custom_plans FROM "
                       "pg_catalog.pg_prepared_statements p JOIN (VALUES " +
                           rows + ") AS m(sn, n, s) ON p.name = m.sn)";
    std::string out;
    std::size_t from = 0;
    for (std::size_t at = lower.find(kView); at != std::string::npos;
         at = lower.find(kView, at + kView.size())) {
        const std::size_t end = at + kView.size();
        if ((at > 0 && word_char(lower[at - 1])) || (end < lower.size() && word_char(lower[end]))) {
            continue;
        }
        std::size_t start = at;
        static constexpr std::string_view kSchema = "pg_catalog.";
        if (start >= kSchema.size() &&
            lower.compare(start - kSchema.size(), kSchema.size(), kSchema) == 0) {
            start -= kSchema.size();
        }
        out.append(sql.substr(from, start - from));
        out += relation;
        if (!followed_by_alias(sql.substr(end))) out += " AS pg_prepared_statements";
        from = end;
    }
    if (from == 0) return {};
    out.append(sql.substr(from));
    return out;
}

void ClientSession::settle_sql_statements(const parser::Statement* done) {
    if (done == nullptr) {
        // The Query ended: PREPAREs that never completed did not happen.
        for (const auto& name : unconfirmed_prepares_) {
            if (auto it = statements_.find(name); it != statements_.end()) {
                if (server_) server_->statements.erase(it->second->server_name);
                statements_.erase(it);
            }
        }
        unconfirmed_prepares_.clear();
        // Nor did DEALLOCATEs: the statements live on, on the client's side
        // and on the server (stale there, so their next use Closes them
        // first, whether or not they are still there).
        for (auto& [name, ps] : unconfirmed_deallocates_) {
            if (server_) {
                // Evicting one to make room would leave it on the server untracked.
                if (server_->statements.insert(ps->server_name)) {
                    server_->discard_reason = kHoldsUntrackedStatements;
                }
                server_->statements.mark_stale(ps->server_name);
            }
            statements_.try_emplace(name, std::move(ps));
        }
        unconfirmed_deallocates_.clear();
        if (unconfirmed_discard_) {
            for (auto& entry : *unconfirmed_discard_) statements_.insert(std::move(entry));
            unconfirmed_discard_.reset();
            // The server keeps statements pgmux no longer tracks (other
            // clients' too): it is not pooled again.
            if (server_) {
                server_->discard_reason = kHoldsUntrackedStatements;
            }
        }
        return;
    }
    switch (done->kind) {
        case parser::StatementKind::prepare:
            for (auto it = unconfirmed_prepares_.begin(); it != unconfirmed_prepares_.end(); ++it) {
                if (*it == done->prepared_name) {
                    unconfirmed_prepares_.erase(it);
                    break;
                }
            }
            break;
        case parser::StatementKind::deallocate:
            for (auto it = unconfirmed_deallocates_.begin(); it != unconfirmed_deallocates_.end();
                 ++it) {
                if (it->first == done->prepared_name) {
                    unconfirmed_deallocates_.erase(it);
                    break;
                }
            }
            break;
        case parser::StatementKind::deallocate_all:
        case parser::StatementKind::discard_all:
            unconfirmed_discard_.reset();
            unconfirmed_deallocates_.clear();  // gone now in any case
            break;
        default:
            break;
    }
}

std::optional<std::string> ClientSession::error_with_client_names(
    std::string_view body, const std::vector<std::pair<std::size_t, long>>* shifts,
    std::string_view preferred) const {
    const bool names = body.find("pgmux_") != std::string_view::npos;
    if (!names && (shifts == nullptr || shifts->empty())) return std::nullopt;
    std::string fields;
    bool changed = false;
    protocol::BodyReader r(body);
    for (;;) {
        const auto code = r.byte();
        if (!code) return std::nullopt;
        if (*code == '\0') break;
        const auto raw = r.cstr();
        if (!raw) return std::nullopt;
        std::string value(*raw);
        if (*code == 'P' && shifts != nullptr) {
            // A character position in the rewritten text: move it back over
            // the names pgmux lengthened (names are ASCII, so bytes = chars).
            const long pos = std::atol(value.c_str());
            long back = 0;
            for (const auto& [at, delta] : *shifts) {
                if (static_cast<long>(at) < pos - 1) back += delta;
            }
            if (back != 0) {
                value = std::to_string(pos - back);
                changed = true;
            }
        } else if (names) {
            if (!preferred.empty()) {
                for (auto at = value.find(kDuplicateName); at != std::string::npos;
                     at = value.find(kDuplicateName, at + preferred.size())) {
                    value.replace(at, kDuplicateName.size(), preferred);
                    changed = true;
                }
            }
            if (auto it = statements_.find(std::string(preferred));
                !preferred.empty() && it != statements_.end()) {
                const auto& server_name = it->second->server_name;
                for (auto at = value.find(server_name); at != std::string::npos;
                     at = value.find(server_name, at + preferred.size())) {
                    value.replace(at, server_name.size(), preferred);
                    changed = true;
                }
            }
            for (const auto& [client_name, ps] : statements_) {
                for (auto at = value.find(ps->server_name); at != std::string::npos;
                     at = value.find(ps->server_name, at + client_name.size())) {
                    value.replace(at, ps->server_name.size(), client_name);
                    changed = true;
                }
            }
        }
        fields.push_back(*code);
        fields += value;
        fields.push_back('\0');
    }
    if (!changed) return std::nullopt;
    fields.push_back('\0');
    std::string m(1, msg::kErrorResponse);
    protocol::put_u32(m, static_cast<std::uint32_t>(fields.size() + 4));
    m += fields;
    return m;
}

}  // namespace pgmux::session
