// The dashboard page's script, run by node against a live AdminServer
// (dashboard_harness.js supplies a fake DOM). Needs node (Debian nodejs); a
// missing node is a failure, not a skip.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace pgmux::admin {
namespace {

using nlohmann::json;
using testing::run_command;

bool have_node() {
    return run_command("command -v node").second == 0;
}

json run_harness(const std::string& base, const std::string& token = "") {
    const auto [output, code] = run_command("node " PGMUX_ADMIN_TEST_DIR "/dashboard_harness.js " +
                                            base + (token.empty() ? "" : " " + token) + " 2>&1");
    EXPECT_EQ(code, 0) << output;
    return json::parse(output, nullptr, false);
}

class DashboardTest : public ::testing::Test {
  protected:
    DashboardTest() {
        testing::populate(control);
        // Markup in a statement must come out as text.
        control.client_list[0].pins[1].statement = "LISTEN \"<img src=x onerror=alert(1)>\"";
        config.listen = "127.0.0.1:0";
    }
    testing::FakeControlPlane control;
    AdminConfig config;
};

TEST_F(DashboardTest, RendersPoolsPinsAndCounters) {
    ASSERT_TRUE(have_node()) << "node not found: install Debian's nodejs package";
    testing::RunningServer server(config, control);
    const json result = run_harness(server.url(""));
    ASSERT_FALSE(result.is_discarded());
    EXPECT_EQ(result["missingIds"], json::array()) << "script uses ids the page lacks";
    EXPECT_EQ(result["loginShownFirst"], false);
    EXPECT_EQ(result["ready"], "ready");
    EXPECT_EQ(result["error"], "");

    ASSERT_EQ(result["pools"].size(), 2u);
    EXPECT_EQ(result["pools"][0][0], "app");
    EXPECT_EQ(result["pools"][0][4], "1 / 0 / 1");
    EXPECT_EQ(result["pools"][0][5], "0 / 1 / 1 / 0");
    EXPECT_EQ(result["pools"][0][8], "running");

    // Client 7 holds two pins: one row per reason, with its cause.
    ASSERT_EQ(result["pinned"].size(), 2u) << result.dump();
    EXPECT_EQ(result["pinned"][0][0], "7");
    EXPECT_EQ(result["pinned"][0][1], "alice@app");
    EXPECT_EQ(result["pinned"][0][5], "temp_object");
    EXPECT_EQ(result["pinned"][0][7], "CREATE TEMP TABLE t (a int)");
    EXPECT_EQ(result["pinned"][1][5], "listen");
    EXPECT_EQ(result["pinned"][1][7], "LISTEN \"<img src=x onerror=alert(1)>\"");

    ASSERT_EQ(result["reasons"].size(), 2u);
    EXPECT_EQ(result["reasons"][0][0], "temp_object");
    ASSERT_EQ(result["causes"].size(), 2u);
    EXPECT_EQ(result["causes"][0][0], "3");

    bool saw_cache_rate = false;
    for (const auto& card : result["counters"]) {
        if (card.get<std::string>().find("statement cache hit rate") != std::string::npos) {
            saw_cache_rate = true;
            EXPECT_EQ(card.get<std::string>(), "93.9 %statement cache hit rate");
        }
    }
    EXPECT_TRUE(saw_cache_rate);
    EXPECT_EQ(result["timers"], json::array({3000}));  // refreshes every 3 s

    EXPECT_EQ(result["afterClick"], json::array({"POST /api/v1/clients/7/disconnect"}));
    EXPECT_EQ(control.recorded(), std::vector<std::string>{"disconnect 7"});
}

TEST_F(DashboardTest, AsksForTheTokenAndKeepsIt) {
    ASSERT_TRUE(have_node()) << "node not found: install Debian's nodejs package";
    config.bearer_token = "dash-token";
    testing::RunningServer server(config, control);
    const json result = run_harness(server.url(""), "dash-token");
    ASSERT_FALSE(result.is_discarded());
    EXPECT_EQ(result["loginShownFirst"], true);
    EXPECT_EQ(result["tokenStored"], "dash-token");
    EXPECT_EQ(result["loginShown"], false);
    EXPECT_EQ(result["pools"].size(), 2u);
    EXPECT_EQ(result["pinned"].size(), 2u);
    EXPECT_EQ(control.recorded(), std::vector<std::string>{"disconnect 7"});
}

TEST_F(DashboardTest, EmptyProxyShowsPlaceholders) {
    ASSERT_TRUE(have_node()) << "node not found: install Debian's nodejs package";
    testing::FakeControlPlane empty;
    testing::RunningServer server(config, empty);
    const json result = run_harness(server.url(""));
    ASSERT_FALSE(result.is_discarded());
    EXPECT_EQ(result["pinned"], json::array({json::array({"no client is pinned"})}));
    EXPECT_EQ(result["pools"], json::array({json::array({"no pools yet"})}));
    EXPECT_EQ(result["error"], "");
}

}  // namespace
}  // namespace pgmux::admin
