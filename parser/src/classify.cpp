// SQL text -> Classification: parse once with libpg_query, then map every raw statement's
// parse tree to a Statement.

#include <nlohmann/json.hpp>

#include "classify_detail.hpp"
#include "pgmux/parser/classifier.hpp"
#include "pgmux/parser/lexer.hpp"
#include "pgmux/parser/pg_query.hpp"
#include "pgmux/parser/prefilter.hpp"
#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::parser {
namespace {

using detail::Json;

constexpr long kCursorOptHold = 0x0020;  // CURSOR_OPT_HOLD in PostgreSQL 15

bool is_temp_schema(std::string_view schema) {
    return schema == "pg_temp" || schema.rfind("pg_temp_", 0) == 0;
}

// CREATE of a relation given by a RangeVar: TEMP keyword, pg_temp schema, or unqualified.
void classify_create_relation(const Json& rel, Statement& st) {
    const std::string schema = rel.value("schemaname", std::string{});
    st.name = rel.value("relname", std::string{});
    if (rel.value("relpersistence", std::string{}) == "t" || is_temp_schema(schema)) {
        st.kind = StatementKind::create_temp;
    } else if (schema.empty()) {
        st.kind = StatementKind::create_unqualified;
    }
}

// CREATE of an object named by a qualified name list (functions, types, domains ...).
void classify_create_named(const Json& names, Statement& st) {
    if (!names.is_array() || names.empty()) return;
    st.name = detail::string_value(names.back());
    if (names.size() == 1) {
        st.kind = StatementKind::create_unqualified;
    } else if (is_temp_schema(detail::string_value(names[names.size() - 2]))) {
        st.kind = StatementKind::create_temp;
    }
}

void classify_drop(const Json& drop, Statement& st) {
    st.kind = StatementKind::drop;
    const Json& objects = drop.contains("objects") ? drop["objects"] : Json::array();
    for (const Json& obj : objects) {
        const Json* names = nullptr;
        if (auto l = obj.find("List"); l != obj.end() && l->contains("items")) {
            names = &(*l)["items"];
        } else if (auto f = obj.find("ObjectWithArgs"); f != obj.end() && f->contains("objname")) {
            names = &(*f)["objname"];
        } else if (auto s = obj.find("String"); s != obj.end()) {
            st.names.push_back(s->value("sval", std::string{}));
            continue;
        } else if (auto t = obj.find("TypeName"); t != obj.end() && t->contains("names")) {
            names = &(*t)["names"];
        }
        if (names == nullptr || !names->is_array() || names->empty()) continue;
        st.names.push_back(detail::string_value(names->back()));
        if (names->size() >= 2 &&
            is_temp_schema(detail::string_value((*names)[names->size() - 2]))) {
            st.temp_qualified = true;
        }
    }
}

void classify_transaction(const Json& tx, Statement& st) {
    const std::string kind = tx.value("kind", std::string{});
    st.chain = tx.value("chain", false);
    if (kind == "TRANS_STMT_BEGIN" || kind == "TRANS_STMT_START") {
        st.kind = StatementKind::begin;
    } else if (kind == "TRANS_STMT_COMMIT") {
        st.kind = StatementKind::commit;
    } else if (kind == "TRANS_STMT_ROLLBACK") {
        st.kind = StatementKind::rollback;
    } else if (kind == "TRANS_STMT_SAVEPOINT") {
        st.kind = StatementKind::savepoint;
    } else if (kind == "TRANS_STMT_RELEASE") {
        st.kind = StatementKind::release_savepoint;
    } else if (kind == "TRANS_STMT_ROLLBACK_TO") {
        st.kind = StatementKind::rollback_to_savepoint;
    } else if (kind == "TRANS_STMT_PREPARE") {
        st.kind = StatementKind::prepare_transaction;
    } else if (kind == "TRANS_STMT_COMMIT_PREPARED") {
        st.kind = StatementKind::commit_prepared;
    } else if (kind == "TRANS_STMT_ROLLBACK_PREPARED") {
        st.kind = StatementKind::rollback_prepared;
    }
    st.name = tx.value("savepoint_name", tx.value("gid", std::string{}));
}

bool explain_analyzes(const Json& explain) {
    const Json& options = explain.contains("options") ? explain["options"] : Json::array();
    for (const Json& opt : options) {
        auto def = opt.find("DefElem");
        if (def == opt.end() || def->value("defname", std::string{}) != "analyze") continue;
        if (!def->contains("arg")) return true;
        auto c = detail::constant_value((*def)["arg"], "");
        if (!c) return true;
        std::string v = ascii_lower(c->text);
        return !(v == "false" || v == "off" || v == "0" || v == "no");
    }
    return false;
}

void finalize(Statement& st, const detail::FunctionFlags& flags, std::string_view sql);

void classify_node(const Json& wrapper, std::string_view sql, Statement& st,
                   detail::FunctionFlags& flags) {
    if (!wrapper.is_object() || wrapper.empty()) return;
    const std::string& type = wrapper.begin().key();
    const Json& n = wrapper.begin().value();
    auto effects = [&](const char* key) {
        if (n.contains(key)) detail::collect_function_effects(n[key], sql, st, false, flags);
    };

    if (type == "VariableSetStmt") {
        detail::classify_variable_set(n, sql, st);
    } else if (type == "TransactionStmt") {
        classify_transaction(n, st);
    } else if (type == "DiscardStmt") {
        const std::string target = n.value("target", std::string{});
        st.kind = target == "DISCARD_ALL"     ? StatementKind::discard_all
                  : target == "DISCARD_PLANS" ? StatementKind::discard_plans
                  : target == "DISCARD_TEMP"  ? StatementKind::discard_temp
                                              : StatementKind::discard_sequences;
    } else if (type == "PrepareStmt") {
        st.kind = StatementKind::prepare;
        st.name = st.prepared_name = n.value("name", std::string{});
        detail::locate_prepared_name(sql, st, "prepare");
        if (n.contains("query") && st.body_length > 0) {
            Statement body;
            body.location = st.body_location;
            body.length = st.body_length;
            detail::FunctionFlags body_flags;
            classify_node(n["query"], sql, body, body_flags);
            finalize(body, body_flags, sql);
            st.prepared_body = std::make_shared<const Statement>(std::move(body));
        }
    } else if (type == "ExecuteStmt") {
        st.kind = StatementKind::execute;
        st.name = st.prepared_name = n.value("name", std::string{});
        detail::locate_prepared_name(sql, st, "execute");
        effects("params");
    } else if (type == "DeallocateStmt") {
        if (n.contains("name")) {
            st.kind = StatementKind::deallocate;
            st.name = st.prepared_name = n.value("name", std::string{});
            detail::locate_prepared_name(sql, st, "deallocate");
        } else {
            st.kind = StatementKind::deallocate_all;
        }
    } else if (type == "ExplainStmt") {
        if (!n.contains("query")) return;
        if (explain_analyzes(n)) {
            classify_node(n["query"], sql, st, flags);  // the statement really runs
        } else if (n["query"].contains("ExecuteStmt")) {
            // Plain EXPLAIN EXECUTE runs nothing but names the prepared statement.
            st.kind = StatementKind::execute;
            st.name = st.prepared_name = n["query"]["ExecuteStmt"].value("name", std::string{});
            detail::locate_prepared_name(sql, st, "execute");
        } else if (n["query"].contains("CreateTableAsStmt")) {
            // EXPLAIN CREATE TABLE ... AS EXECUTE name: plans, names the statement.
            const auto& ctas = n["query"]["CreateTableAsStmt"];
            if (ctas.contains("query") && ctas["query"].contains("ExecuteStmt")) {
                st.prepared_name = ctas["query"]["ExecuteStmt"].value("name", std::string{});
                detail::locate_prepared_name(sql, st, "execute");
            }
        }
    } else if (type == "CreateTableAsStmt") {
        if (n.contains("into") && n["into"].contains("rel")) {
            classify_create_relation(n["into"]["rel"], st);
            st.on_commit_drop = n["into"].value("onCommit", std::string{}) == "ONCOMMIT_DROP";
        }
        if (n.contains("query") && n["query"].contains("ExecuteStmt")) {
            st.prepared_name = n["query"]["ExecuteStmt"].value("name", std::string{});
            detail::locate_prepared_name(sql, st, "execute");
        } else if (!(n.contains("into") && n["into"].value("skipData", false))) {
            effects("query");
        }
    } else if (type == "CreateStmt") {
        if (n.contains("relation")) classify_create_relation(n["relation"], st);
        st.on_commit_drop = n.value("oncommit", std::string{}) == "ONCOMMIT_DROP";
    } else if (type == "ViewStmt") {
        if (n.contains("view")) classify_create_relation(n["view"], st);
    } else if (type == "CreateSeqStmt") {
        if (n.contains("sequence")) classify_create_relation(n["sequence"], st);
    } else if (type == "CompositeTypeStmt") {
        if (n.contains("typevar")) classify_create_relation(n["typevar"], st);
    } else if (type == "CreateFunctionStmt") {
        if (n.contains("funcname")) classify_create_named(n["funcname"], st);
    } else if (type == "CreateDomainStmt") {
        if (n.contains("domainname")) classify_create_named(n["domainname"], st);
    } else if (type == "DefineStmt") {
        if (n.contains("defnames")) classify_create_named(n["defnames"], st);
    } else if (type == "CreateEnumStmt" || type == "CreateRangeStmt") {
        if (n.contains("typeName")) classify_create_named(n["typeName"], st);
    } else if (type == "DropStmt") {
        classify_drop(n, st);
    } else if (type == "DeclareCursorStmt") {
        st.kind = StatementKind::declare_cursor;
        st.name = n.value("portalname", std::string{});
        st.hold = (n.value("options", 0L) & kCursorOptHold) != 0;
        effects("query");
    } else if (type == "ClosePortalStmt") {
        if (n.contains("portalname")) {
            st.kind = StatementKind::close_cursor;
            st.name = n.value("portalname", std::string{});
        } else {
            st.kind = StatementKind::close_all;
        }
    } else if (type == "ListenStmt") {
        st.kind = StatementKind::listen;
        st.name = n.value("conditionname", std::string{});
    } else if (type == "UnlistenStmt") {
        if (n.contains("conditionname")) {
            st.kind = StatementKind::unlisten;
            st.name = n.value("conditionname", std::string{});
        } else {
            st.kind = StatementKind::unlisten_all;
        }
    } else if (type == "DropdbStmt") {
        st.exclusive_database = n.value("dbname", std::string{});
    } else if (type == "RenameStmt") {
        if (n.value("renameType", std::string{}) == "OBJECT_DATABASE") {
            st.exclusive_database = n.value("subname", std::string{});
        }
    } else if (type == "CreatedbStmt") {
        for (const auto& option : n.value("options", Json::array())) {
            const auto& def = option.value("DefElem", Json::object());
            if (def.value("defname", std::string{}) == "template" && def.contains("arg") &&
                def["arg"].contains("String")) {
                st.exclusive_database = def["arg"]["String"].value("sval", std::string{});
            }
        }
    } else if (type == "LoadStmt") {
        st.kind = StatementKind::load;
        st.name = n.value("filename", std::string{});
    } else if (type == "CopyStmt") {
        st.kind = StatementKind::copy;
        effects("query");
    } else if (type == "DoStmt") {
        detail::classify_do_block(n, st);
    } else if (type == "SelectStmt") {
        if (n.contains("intoClause") && n["intoClause"].contains("rel")) {
            classify_create_relation(n["intoClause"]["rel"], st);
            st.on_commit_drop = n["intoClause"].value("onCommit", std::string{}) == "ONCOMMIT_DROP";
            detail::collect_function_effects(n, sql, st, false, flags);
        } else {
            detail::collect_function_effects(n, sql, st, detail::is_plain_select(n), flags);
        }
    } else {
        detail::collect_function_effects(wrapper, sql, st, false, flags);
    }
}

// Derives the kind of a statement whose only effects come from function calls, and keeps
// the text of session-relevant statements.
void finalize(Statement& st, const detail::FunctionFlags& flags, std::string_view sql) {
    if (st.kind == StatementKind::other) {
        if (st.unknown_state_change) {
            st.kind = StatementKind::unknown_state_change;
        } else if (!st.settings.empty()) {
            st.kind = StatementKind::set_config;
        } else if (st.advisory_unlock_all) {
            st.kind = StatementKind::advisory_unlock_all;
        } else if (st.advisory_locks > 0) {
            st.kind = StatementKind::advisory_lock;
        } else if (st.advisory_unlocks > 0) {
            st.kind = StatementKind::advisory_unlock;
        } else if (flags.xact_advisory) {
            st.kind = StatementKind::advisory_xact_lock;
        } else if (flags.local_set_config) {
            st.kind = StatementKind::set_config_local;
        }
    }
    if (st.is_session_relevant() && st.location <= sql.size()) {
        st.text = std::string(trim_to_tokens(sql.substr(st.location, st.length)));
    }
}

Classification classify_unparsed(std::string_view sql, ParseError error) {
    Classification c;
    c.parsed = false;
    c.error = std::move(error.message);
    std::vector<StatementSpan> spans = split_statements(sql);
    if (spans.empty() && !trim_to_tokens(sql).empty()) {
        spans.push_back(StatementSpan{0, static_cast<std::uint32_t>(sql.size())});
    }
    for (const StatementSpan& span : spans) {
        Statement st;
        st.kind = StatementKind::unparsed;
        st.location = span.location;
        st.length = span.length;
        std::string_view text = sql.substr(span.location, span.length);
        st.may_affect_state = may_affect_session_state(text);
        if (st.may_affect_state) {
            st.text = std::string(trim_to_tokens(text));
            c.relevant = true;
        }
        c.statements.push_back(std::move(st));
    }
    return c;
}

}  // namespace

Classification classify_uncached(std::string_view sql) {
    JsonParseResult parsed = parse_to_json(sql);
    if (parsed.error) return classify_unparsed(sql, std::move(*parsed.error));

    Classification c;
    c.parsed = true;
    Json tree = Json::parse(parsed.json, nullptr, /*allow_exceptions=*/false);
    if (tree.is_discarded() || !tree.contains("stmts")) return c;
    for (const Json& raw : tree["stmts"]) {
        Statement st;
        st.location = static_cast<std::uint32_t>(raw.value("stmt_location", 0L));
        long len = raw.value("stmt_len", 0L);
        st.length = len > 0 ? static_cast<std::uint32_t>(len)
                            : static_cast<std::uint32_t>(
                                  sql.size() - std::min<std::size_t>(st.location, sql.size()));
        detail::FunctionFlags flags;
        if (raw.contains("stmt")) classify_node(raw["stmt"], sql, st, flags);
        finalize(st, flags, sql);
        c.relevant = c.relevant || st.is_session_relevant();
        c.statements.push_back(std::move(st));
    }
    return c;
}

}  // namespace pgmux::parser
