// The /metrics output of a running server must pass `promtool check metrics`
// (Debian package "prometheus"). A missing promtool is a failure, not a
// skip: this is the only independent check of the exposition format.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>

#include <cstdio>
#include <fstream>

#include "test_support.h"

namespace pgmux::admin {
namespace {

using testing::run_command;

std::string promtool_path() {
    auto [path, code] = run_command("command -v promtool");
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    return code == 0 ? path : "";
}

// promtool prints lint problems and exits non-zero on any of them.
std::pair<std::string, int> promtool_check(const std::string& exposition) {
    // One file per process: ctest runs the cases of this suite in parallel.
    const std::string file =
        ::testing::TempDir() + "pgmux_metrics_" + std::to_string(::getpid()) + ".prom";
    std::ofstream(file, std::ios::binary) << exposition;
    auto result = run_command(promtool_path() + " check metrics < " + file + " 2>&1");
    std::remove(file.c_str());
    return result;
}

// Every kind of series, including label values that need escaping.
void fill_everything(MetricsSnapshot& m) {
    m.client_connections.set({"idle"}, 3);
    m.client_connections.set({"active"}, 1);
    m.server_connections.set({"pinned"}, 1);
    m.disconnects_total.add({"client_closed"}, 10);
    m.pins_total.add({"temp_object"}, 2);
    m.unpins_total.add({"temp_object"}, 1);
    m.pinned_clients.set({"temp_object"}, 1);
    m.pinned_seconds_total.add({"temp_object"}, 12.75);
    m.pin_rejections_total.add({"listen"}, 1);
    m.transactions_total = 1000;
    m.queries_total = 2000;
    m.borrow_wait_seconds.observe(0.0003);
    m.query_duration_seconds.observe(0.002);
    m.query_duration_seconds.observe(7);
    m.client_query_duration_seconds.observe(0.01);
}

TEST(Promtool, IsInstalled) {
    ASSERT_FALSE(promtool_path().empty())
        << "promtool not found: install Debian's prometheus package (apt-get install "
           "prometheus) so the /metrics output can be validated";
}

TEST(Promtool, AcceptsServedMetrics) {
    ASSERT_FALSE(promtool_path().empty())
        << "promtool not found: install Debian's prometheus package (apt-get install prometheus)";
    testing::FakeControlPlane control;
    testing::populate(control);
    fill_everything(control.metrics_snapshot);
    PoolSnapshot odd;
    odd.database = "we\\ird \"db\"\nname";
    odd.user = "ü\xff";
    control.pool_list.push_back(odd);

    AdminConfig config;
    config.listen = "127.0.0.1:0";
    testing::RunningServer server(config, control);
    const auto result = testing::curl(server.url("/metrics"));
    ASSERT_EQ(result.status, 200);
    ASSERT_NE(result.body.find("we\\\\ird \\\"db\\\"\\nname"), std::string::npos);

    const auto [output, code] = promtool_check(result.body);
    EXPECT_EQ(code, 0) << "promtool check metrics failed:\n" << output << "\n---\n" << result.body;
}

TEST(Promtool, AcceptsEmptySnapshot) {
    ASSERT_FALSE(promtool_path().empty())
        << "promtool not found: install Debian's prometheus package (apt-get install prometheus)";
    const auto [output, code] = promtool_check(render_prometheus(MetricsSnapshot{}));
    EXPECT_EQ(code, 0) << output;
}

TEST(Promtool, CatchesABrokenExposition) {
    // Guards the test itself: promtool must reject a bad file, or the checks
    // above prove nothing.
    ASSERT_FALSE(promtool_path().empty());
    const auto [output, code] = promtool_check(
        "# HELP pgmux_x_total x\n# TYPE pgmux_x_total counter\npgmux_x_total{a=\"b} 1\n");
    EXPECT_NE(code, 0) << output;
}

}  // namespace
}  // namespace pgmux::admin
