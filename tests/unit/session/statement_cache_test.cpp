#include <gtest/gtest.h>

#include "statements/prepared_statement.h"

namespace pgmux::statements {
namespace {

TEST(ServerStatementCache, EvictsLeastRecentlyUsed) {
    ServerStatementCache c(2);
    EXPECT_FALSE(c.insert("a"));
    EXPECT_FALSE(c.insert("b"));
    c.touch("a");
    auto evicted = c.insert("c");
    ASSERT_TRUE(evicted);
    EXPECT_EQ(*evicted, "b");
    EXPECT_TRUE(c.contains("a"));
    EXPECT_TRUE(c.contains("c"));
    EXPECT_FALSE(c.contains("b"));
    EXPECT_FALSE(c.insert("a"));  // already there: no eviction
    c.erase("a");
    EXPECT_EQ(c.size(), 1u);
}

TEST(PreparedStatement, NameDependsOnTextAndTypes) {
    const std::string no_types("\0\0", 2);
    const std::string one_int("\0\1\0\0\0\x17", 6);
    auto a = make_prepared_statement("SELECT $1", no_types, nullptr);
    auto b = make_prepared_statement("SELECT $1", one_int, nullptr);
    auto c = make_prepared_statement("SELECT $1", no_types, nullptr);
    EXPECT_NE(a->server_name, b->server_name);
    EXPECT_EQ(a->server_name, c->server_name);
    EXPECT_EQ(a->server_name.rfind("pgmux_", 0), 0u);
    // The Parse message names the server statement and keeps text and types.
    EXPECT_EQ(a->parse_message[0], 'P');
    EXPECT_NE(a->parse_message.find(a->server_name + std::string(1, '\0') + "SELECT $1"),
              std::string::npos);
    EXPECT_EQ(a->parse_message.substr(a->parse_message.size() - 2), no_types);
}

TEST(ServerStatementCache, StaleStatementsAreNotUsableAndClosedOnce) {
    ServerStatementCache c(2);
    EXPECT_FALSE(c.take_stale("a"));  // nothing stale: no lookup, no effect
    EXPECT_FALSE(c.insert("a"));
    EXPECT_FALSE(c.insert("b"));
    EXPECT_FALSE(c.mark_stale("x"));  // unknown to this server
    EXPECT_TRUE(c.mark_stale("a"));
    EXPECT_TRUE(c.mark_stale("a"));
    EXPECT_EQ(c.stale_count(), 1u);
    EXPECT_FALSE(c.contains("a"));  // the server would fail it
    EXPECT_TRUE(c.contains("b"));
    EXPECT_EQ(c.size(), 2u);  // still held by the server, still takes room
    EXPECT_FALSE(c.take_stale("b"));
    EXPECT_TRUE(c.take_stale("a"));  // the caller Closes it now
    EXPECT_FALSE(c.take_stale("a"));
    EXPECT_EQ(c.stale_count(), 0u);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_FALSE(c.insert("a"));
    EXPECT_TRUE(c.contains("a"));
}

TEST(ServerStatementCache, EvictingOrErasingAStaleStatementForgetsIt) {
    ServerStatementCache c(2);
    EXPECT_FALSE(c.insert("a"));
    EXPECT_FALSE(c.insert("b"));
    c.mark_stale("a");
    auto evicted = c.insert("c");  // "a" is least recently used: Closed by the caller
    ASSERT_TRUE(evicted);
    EXPECT_EQ(*evicted, "a");
    EXPECT_EQ(c.stale_count(), 0u);
    c.mark_all_stale();
    EXPECT_EQ(c.stale_count(), 2u);
    EXPECT_FALSE(c.contains("b"));
    c.erase("b");
    EXPECT_EQ(c.stale_count(), 1u);
    c.clear();
    EXPECT_EQ(c.stale_count(), 0u);
}

TEST(ServerStatementCache, UnconfirmedStatementsAreInDoubtUntilTheirParseCompletes) {
    ServerStatementCache c(4);
    c.confirm("a");  // nothing in doubt: no effect
    EXPECT_FALSE(c.insert("a"));
    EXPECT_FALSE(c.insert("b"));
    c.mark_unconfirmed("a");  // its batch's Sync went out before the ParseComplete came
    c.mark_unconfirmed("x");  // unknown: ignored
    EXPECT_EQ(c.stale_count(), 1u);
    EXPECT_FALSE(c.contains("a"));  // the server may have skipped that Parse
    c.confirm("a");
    EXPECT_TRUE(c.contains("a"));
    EXPECT_EQ(c.stale_count(), 0u);

    c.mark_unconfirmed("b");
    c.mark_stale("b");  // both doubts count once
    EXPECT_EQ(c.stale_count(), 1u);
    c.confirm("b");  // parsed, but its plan is still invalid
    EXPECT_FALSE(c.contains("b"));
    EXPECT_TRUE(c.take_stale("b"));  // Close, then Parse again

    c.mark_unconfirmed("a");
    EXPECT_TRUE(c.take_stale("a"));  // used in a later batch: Close, then Parse again
    EXPECT_EQ(c.stale_count(), 0u);
    EXPECT_EQ(c.size(), 0u);
}

TEST(PreparedStatement, KeyFindsTheServerName) {
    const std::string no_types("\0\0", 2);
    auto a = make_prepared_statement("SELECT * FROM t", no_types, nullptr);
    auto b = make_sql_prepared_statement("", "SELECT * FROM t", nullptr);
    EXPECT_NE(a->key, 0u);
    EXPECT_NE(a->key, b->key);
    EXPECT_EQ(statement_key(a->server_name), a->key);
    EXPECT_EQ(statement_key("S_1"), 0u);
    EXPECT_EQ(statement_key("pgmux_zz"), 0u);
    ServerStatementCache c(8);
    EXPECT_FALSE(c.insert("other"));
    EXPECT_FALSE(c.find_by_key(a->key));
    EXPECT_FALSE(c.insert(a->server_name));
    EXPECT_FALSE(c.insert(b->server_name));
    EXPECT_EQ(c.find_by_key(a->key), a->server_name);
    EXPECT_EQ(c.find_by_key(b->key), b->server_name);
    EXPECT_FALSE(c.find_by_key(0));
}

}  // namespace
}  // namespace pgmux::statements
