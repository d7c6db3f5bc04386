// SQL-level prepared statements (PREPARE / EXECUTE / DEALLOCATE) under
// transaction pooling. A client's statement names are rewritten in the SQL
// text to the same content-addressed server names protocol-level statements
// use, and whatever the current server lacks is prepared on it first, so the
// statements work on any server connection without pinning.
#include "pgmux/parser/statement.hpp"
#include "protocol/messages.h"
#include "protocol/wire.h"
#include "runtime/log.h"
#include "session/client_session.h"

namespace pgmux::session {

namespace msg = protocol::msg;

namespace {
struct Edit {
    std::size_t at;
    std::size_t length;
    std::string text;
};
}  // namespace

void ClientSession::inject_query(std::string_view sql, std::string& to_server) {
    protocol::append_query(to_server, sql);
    expect(PendingReply{.expect = Expect::kQuery, .action = Action::kSwallowAll});
}

void ClientSession::ensure_prepared_for_query(const statements::PreparedStatement& ps,
                                              std::string& to_server) {
    if (server_->statements.contains(ps.server_name)) {
        server_->statements.touch(ps.server_name);
        proxy_.counters.statement_cache_hits.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    proxy_.counters.statement_cache_misses.fetch_add(1, std::memory_order_relaxed);
    proxy_.counters.reprepares.fetch_add(1, std::memory_order_relaxed);
    proxy_.counters.server_parses.fetch_add(1, std::memory_order_relaxed);
    if (auto evicted = server_->statements.insert(ps.server_name)) {
        proxy_.counters.statement_cache_evictions.fetch_add(1, std::memory_order_relaxed);
        inject_query("DEALLOCATE " + *evicted, to_server);
    }
    if (!ps.prepare_sql.empty()) {
        inject_query(ps.prepare_sql, to_server);
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
                auto ps = statements::make_sql_prepared_statement(
                    sql.substr(st.types_location, st.types_length),
                    sql.substr(st.body_location, st.body_length), st.prepared_body);
                if (server_->statements.contains(ps->server_name)) {
                    // Another client's identical statement: recreate it, so
                    // that the client's PREPARE runs (and reports) for real.
                    inject_query("DEALLOCATE " + ps->server_name, to_server);
                    server_->statements.erase(ps->server_name);
                }
                if (auto evicted = server_->statements.insert(ps->server_name)) {
                    proxy_.counters.statement_cache_evictions.fetch_add(1,
                                                                        std::memory_order_relaxed);
                    inject_query("DEALLOCATE " + *evicted, to_server);
                }
                proxy_.counters.client_parses.fetch_add(1, std::memory_order_relaxed);
                proxy_.counters.server_parses.fetch_add(1, std::memory_order_relaxed);
                edits.push_back(
                    {static_cast<std::size_t>(st.name_location), st.name_length, ps->server_name});
                statements_[name] = ps;
                unconfirmed_prepares_.push_back(name);
                break;
            }
            case StatementKind::execute:
            case StatementKind::deallocate: {
                if (st.name_location < 0) break;
                auto it = statements_.find(st.prepared_name);
                if (it == statements_.end()) break;  // the server reports the unknown name
                auto ps = it->second;
                ensure_prepared_for_query(*ps, to_server);
                edits.push_back(
                    {static_cast<std::size_t>(st.name_location), st.name_length, ps->server_name});
                if (st.kind == StatementKind::deallocate) {
                    statements_.erase(it);
                    server_->statements.erase(ps->server_name);
                }
                break;
            }
            case StatementKind::deallocate_all:
            case StatementKind::discard_all:
                // Drops every statement on the server, other clients' too;
                // they are prepared again when next needed.
                statements_.clear();
                unnamed_.reset();
                server_->statements.clear();
                server_->unnamed_owner = 0;
                break;
            default:
                break;
        }
    }
    if (edits.empty()) return {};
    std::string out(sql);
    for (auto it = edits.rbegin(); it != edits.rend(); ++it) {
        if (it->at + it->length <= out.size()) out.replace(it->at, it->length, it->text);
    }
    return out;
}

void ClientSession::settle_sql_prepares(const parser::Statement* done) {
    if (done == nullptr) {
        // The Query ended: PREPAREs that never completed did not happen.
        for (const auto& name : unconfirmed_prepares_) {
            if (auto it = statements_.find(name); it != statements_.end()) {
                if (server_) server_->statements.erase(it->second->server_name);
                statements_.erase(it);
            }
        }
        unconfirmed_prepares_.clear();
        return;
    }
    if (done->kind != parser::StatementKind::prepare) return;
    for (auto it = unconfirmed_prepares_.begin(); it != unconfirmed_prepares_.end(); ++it) {
        if (*it == done->prepared_name) {
            unconfirmed_prepares_.erase(it);
            return;
        }
    }
}

std::optional<std::string> ClientSession::error_with_client_names(std::string_view body) const {
    if (body.find("pgmux_") == std::string_view::npos) return std::nullopt;
    std::string rewritten(body);
    bool changed = false;
    for (const auto& [client_name, ps] : statements_) {
        for (auto at = rewritten.find(ps->server_name); at != std::string::npos;
             at = rewritten.find(ps->server_name, at + client_name.size())) {
            rewritten.replace(at, ps->server_name.size(), client_name);
            changed = true;
        }
    }
    if (!changed) return std::nullopt;
    std::string m(1, msg::kErrorResponse);
    protocol::put_u32(m, static_cast<std::uint32_t>(rewritten.size() + 4));
    m += rewritten;
    return m;
}

}  // namespace pgmux::session
