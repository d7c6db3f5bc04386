#include "pgmux/pinning/startup.hpp"

#include <gtest/gtest.h>

namespace pgmux::pinning {
namespace {

TEST(Startup, ExcludesConnectionAndProtocolParameters) {
    StartupBaseline b = parse_startup_parameters({{"user", "u"},
                                                  {"database", "d"},
                                                  {"replication", "false"},
                                                  {"_pq_.compression", "on"},
                                                  {"application_name", "psql"},
                                                  {"client_encoding", "UTF8"}});
    EXPECT_EQ(b.settings.size(), 2u);
    EXPECT_EQ(b.settings.at("application_name").replay_sql,
              "SELECT pg_catalog.set_config('application_name', 'psql', false)");
    EXPECT_EQ(b.settings.at("client_encoding").value, "UTF8");
}

TEST(Startup, NamesAreCaseInsensitive) {
    StartupBaseline b = parse_startup_parameters({{"TimeZone", "UTC"}, {"DateStyle", "ISO"}});
    EXPECT_EQ(b.settings.at("timezone").value, "UTC");
    EXPECT_EQ(b.settings.at("datestyle").value, "ISO");
}

TEST(Startup, OptionsAreParsedLikePostgres) {
    StartupBaseline b = parse_startup_parameters(
        {{"options",
          "-c statement_timeout=5s  --search-path=a\\ b -cgeqo=off -c work_mem=1MB -e"}});
    EXPECT_EQ(b.settings.at("statement_timeout").value, "5s");
    EXPECT_EQ(b.settings.at("search_path").value, "a b");
    EXPECT_EQ(b.settings.at("geqo").value, "off");
    EXPECT_EQ(b.settings.at("work_mem").value, "1MB");
    EXPECT_EQ(b.unsupported_options, (std::vector<std::string>{"-e"}));
}

TEST(Startup, PlainParametersWinOverOptions) {
    StartupBaseline b = parse_startup_parameters(
        {{"search_path", "direct"}, {"options", "-c search_path=from_options"}});
    EXPECT_EQ(b.settings.at("search_path").value, "direct");
}

TEST(Startup, BackendOnlyParametersAreNotReplayable) {
    StartupBaseline b = parse_startup_parameters({{"options", "-c log_connections=on"}});
    EXPECT_TRUE(b.settings.empty());
    ASSERT_EQ(b.backend_only.size(), 1u);
    EXPECT_EQ(b.backend_only[0].first, "log_connections");
}

TEST(Startup, SplitOptionsHandlesEscapes) {
    EXPECT_EQ(split_options("  -c a=b\\ c\\\\d  -x "),
              (std::vector<std::string>{"-c", "a=b c\\d", "-x"}));
}

TEST(Startup, RoleValuesReplayAsSetRole) {
    EXPECT_EQ(value_from_string("role", "o'neil").replay_sql, "SET ROLE 'o''neil'");
    EXPECT_EQ(value_from_string("a.b", "x\\y").replay_sql,
              "SELECT pg_catalog.set_config('a.b', E'x\\\\y', false)");
}

}  // namespace
}  // namespace pgmux::pinning
