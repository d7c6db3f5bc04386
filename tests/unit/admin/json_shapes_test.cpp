// The JSON documents of /api/v1/* (the contract in docs/openapi.yaml).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "fake_control_plane.h"
#include "pgmux/admin/router.h"

namespace pgmux::admin {
namespace {

using nlohmann::json;

std::set<std::string> keys(const json& object) {
    std::set<std::string> out;
    for (const auto& [key, value] : object.items()) out.insert(key);
    return out;
}

class JsonShapesTest : public ::testing::Test {
  protected:
    JsonShapesTest() { testing::populate(control); }

    json get(const std::string& target) {
        HttpRequest r;
        r.method = "GET";
        r.target = target;
        const auto response = Router(control, {}).handle(r, testing::at_seconds(1100));
        EXPECT_EQ(response.status, 200u) << target << ": " << response.body;
        return json::parse(response.body);
    }

    testing::FakeControlPlane control;
};

TEST_F(JsonShapesTest, Pools) {
    const auto body = get("/api/v1/pools");
    ASSERT_EQ(keys(body), std::set<std::string>{"pools"});
    ASSERT_EQ(body["pools"].size(), 2u);
    const auto& pool = body["pools"][0];
    EXPECT_EQ(keys(pool), (std::set<std::string>{"database", "user", "pool_mode", "pool_size",
                                                 "paused", "clients", "servers", "wait"}));
    EXPECT_EQ(pool["database"], "app");
    EXPECT_EQ(pool["user"], "alice");
    EXPECT_EQ(pool["pool_mode"], "transaction");
    EXPECT_EQ(pool["pool_size"], 2);
    EXPECT_EQ(pool["paused"], false);
    EXPECT_EQ(pool["clients"], json({{"active", 1}, {"waiting", 0}, {"idle", 1}}));
    EXPECT_EQ(pool["servers"],
              json({{"active", 0}, {"idle", 1}, {"pinned", 1}, {"connecting", 0}}));
    EXPECT_EQ(pool["wait"], json({{"longest_seconds", 0.25},
                                  {"waits_total", 4},
                                  {"seconds_total", 1.0},
                                  {"average_seconds", 0.25}}));
    EXPECT_EQ(body["pools"][1]["user"], "b\"ob");
}

TEST_F(JsonShapesTest, ClientWithPins) {
    const auto client = get("/api/v1/clients/7");
    EXPECT_EQ(keys(client), (std::set<std::string>{
                                "id", "address", "database", "user", "application_name", "state",
                                "tls", "server_id", "pinned", "pins", "tracked_settings",
                                "prepared_statements", "connected_since", "connected_seconds"}));
    EXPECT_EQ(client["id"], 7);
    EXPECT_EQ(client["address"], "127.0.0.1:50000");
    EXPECT_EQ(client["application_name"], "psql");
    EXPECT_EQ(client["state"], "active");
    EXPECT_EQ(client["server_id"], 3);
    EXPECT_EQ(client["pinned"], true);
    EXPECT_EQ(client["tracked_settings"], 2);
    EXPECT_EQ(client["prepared_statements"], 5);
    EXPECT_EQ(client["connected_since"], "1970-01-01T00:15:00.000Z");
    EXPECT_EQ(client["connected_seconds"], 200.0);
    ASSERT_EQ(client["pins"].size(), 2u);
    EXPECT_EQ(client["pins"][0], json({{"reason", "temp_object"},
                                       {"since", "1970-01-01T00:16:40.000Z"},
                                       {"seconds", 100.0},
                                       {"statement", "CREATE TEMP TABLE t (a int)"}}));
    EXPECT_EQ(client["pins"][1]["reason"], "listen");
}

TEST_F(JsonShapesTest, IdleClientHasNullServerAndNoPins) {
    const auto client = get("/api/v1/clients/8");
    EXPECT_TRUE(client["server_id"].is_null());
    EXPECT_EQ(client["pinned"], false);
    EXPECT_EQ(client["pins"], json::array());
    EXPECT_EQ(client["state"], "idle");
}

TEST_F(JsonShapesTest, Servers) {
    const auto body = get("/api/v1/servers");
    EXPECT_EQ(keys(body), (std::set<std::string>{"servers", "total", "truncated"}));
    ASSERT_EQ(body["servers"].size(), 2u);
    const auto& server = body["servers"][0];
    EXPECT_EQ(keys(server), (std::set<std::string>{"id", "database", "user", "state", "address",
                                                   "client_id", "pinned_to", "prepared_statements",
                                                   "connected_since", "age_seconds"}));
    EXPECT_EQ(server["state"], "pinned");
    EXPECT_EQ(server["pinned_to"], 7);
    EXPECT_EQ(server["client_id"], 7);
    EXPECT_EQ(server["age_seconds"], 300.0);
    EXPECT_TRUE(body["servers"][1]["pinned_to"].is_null());
    EXPECT_EQ(body["servers"][1]["state"], "idle");
}

TEST_F(JsonShapesTest, Pinning) {
    const auto body = get("/api/v1/pinning");
    EXPECT_EQ(keys(body),
              (std::set<std::string>{"reasons", "top_statements", "replay", "statement_cache"}));
    EXPECT_EQ(body["reasons"][0], json({{"reason", "temp_object"},
                                        {"pins_started", 3},
                                        {"pins_ended", 2},
                                        {"seconds_pinned", 12.5},
                                        {"clients_pinned_now", 1}}));
    EXPECT_EQ(body["top_statements"][1],
              json({{"statement", "LISTEN jobs"}, {"reason", "listen"}, {"count", 1}}));
    EXPECT_EQ(body["replay"], json({{"sets_replayed", 10},
                                    {"replays_sent", 4},
                                    {"statements_reprepared", 2},
                                    {"parses_saved", 30}}));
    EXPECT_EQ(body["statement_cache"], json({{"hits", 31}, {"misses", 2}, {"evictions", 1}}));
}

TEST_F(JsonShapesTest, InvalidUtf8IsReplacedNotFatal) {
    control.client_list[0].pins[0].statement = "SELECT '\xff\xfe'";
    const auto client = get("/api/v1/clients/7");
    EXPECT_EQ(client["pins"][0]["statement"], "SELECT '\xEF\xBF\xBD\xEF\xBF\xBD'");
}

TEST_F(JsonShapesTest, ClockSkewNeverGivesNegativeAges) {
    control.client_list[0].connected_since = testing::at_seconds(5000);  // after "now"
    EXPECT_EQ(get("/api/v1/clients/7")["connected_seconds"], 0.0);
}

}  // namespace
}  // namespace pgmux::admin
