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

}  // namespace
}  // namespace pgmux::statements
