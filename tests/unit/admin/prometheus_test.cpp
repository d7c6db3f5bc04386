// Metric values and their rendering in the Prometheus text format.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "pgmux/admin/metrics.h"

namespace pgmux::admin {
namespace {

std::vector<std::string> lines_of(const std::string& text, std::string_view prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(prefix)) out.push_back(line);
    }
    return out;
}

TEST(MetricDefinitions, EveryNameIsUniqueAndPrefixed) {
    std::set<std::string_view> names;
    for (const auto& def : metric_definitions()) {
        EXPECT_TRUE(def.name.starts_with("pgmux_")) << def.name;
        EXPECT_TRUE(names.insert(def.name).second) << "duplicate " << def.name;
        EXPECT_FALSE(def.help.empty()) << def.name;
        EXPECT_EQ(def.name.ends_with("_total"), def.type == MetricType::kCounter) << def.name;
    }
    // The names the issue and the RDS Proxy mapping rely on.
    for (std::string_view required : {"pgmux_client_connections",
                                      "pgmux_server_connections",
                                      "pgmux_pins_total",
                                      "pgmux_unpins_total",
                                      "pgmux_pinned_clients",
                                      "pgmux_pinned_seconds_total",
                                      "pgmux_borrow_wait_seconds",
                                      "pgmux_transactions_total",
                                      "pgmux_queries_total",
                                      "pgmux_query_duration_seconds",
                                      "pgmux_replays_total",
                                      "pgmux_set_replayed_total",
                                      "pgmux_sequence_state_risk_total",
                                      "pgmux_prepared_statement_cache_hits_total",
                                      "pgmux_prepared_statement_cache_misses_total",
                                      "pgmux_prepared_statement_cache_evictions_total",
                                      "pgmux_parses_saved_total",
                                      "pgmux_reprepares_total",
                                      "pgmux_server_parses_total",
                                      "pgmux_plan_invalidations_total",
                                      "pgmux_plan_invalidation_retries_total",
                                      "pgmux_client_login_failures_total",
                                      "pgmux_server_connect_errors_total",
                                      "pgmux_disconnects_total",
                                      "pgmux_unparsed_statements_total"}) {
        EXPECT_TRUE(names.contains(required)) << required;
    }
}

TEST(PrometheusRender, EveryMetricHasHelpAndTypeOnce) {
    const std::string text = render_prometheus(MetricsSnapshot{});
    for (const auto& def : metric_definitions()) {
        const auto help = lines_of(text, "# HELP " + std::string(def.name) + " ");
        const auto type = lines_of(text, "# TYPE " + std::string(def.name) + " ");
        ASSERT_EQ(help.size(), 1u) << def.name;
        ASSERT_EQ(type.size(), 1u) << def.name;
        EXPECT_EQ(type[0],
                  "# TYPE " + std::string(def.name) + " " + std::string(to_string(def.type)));
    }
}

TEST(PrometheusRender, ScalarsAndLabels) {
    MetricsSnapshot m;
    m.transactions_total = 42;
    m.pinned_seconds_total.set({"temp_object"}, 1.5);
    m.pins_total.add({"listen"}, 2);
    m.pins_total.add({"listen"}, 3);  // workers add up
    m.pins_total.add({"advisory_lock"}, 1);
    const std::string text = render_prometheus(m);
    EXPECT_NE(text.find("\npgmux_transactions_total 42\n"), std::string::npos);
    EXPECT_NE(text.find("\npgmux_pinned_seconds_total{reason=\"temp_object\"} 1.5\n"),
              std::string::npos);
    // Sorted by label values, so the output is deterministic.
    EXPECT_EQ(lines_of(text, "pgmux_pins_total{"),
              (std::vector<std::string>{"pgmux_pins_total{reason=\"advisory_lock\"} 1",
                                        "pgmux_pins_total{reason=\"listen\"} 5"}));
    EXPECT_NE(text.find("\npgmux_queries_total 0\n"), std::string::npos);
}

TEST(PrometheusRender, LabelValuesAreEscaped) {
    MetricsSnapshot m;
    m.pool_size.set({"we\\ird\"db\nx", "\xff"}, 3);
    const std::string text = render_prometheus(m);
    EXPECT_NE(text.find(R"(pgmux_pool_size{database="we\\ird\"db\nx",user="�"} 3)"),
              std::string::npos)
        << text;
}

TEST(PrometheusRender, WrongLabelCountIsDroppedAsComment) {
    MetricsSnapshot m;
    m.pool_size.set({"only-database"}, 3);
    const std::string text = render_prometheus(m);
    EXPECT_TRUE(lines_of(text, "pgmux_pool_size{").empty());
    EXPECT_EQ(lines_of(text, "# pgmux: dropped a pgmux_pool_size series").size(), 1u);
}

TEST(PrometheusRender, SpecialValues) {
    MetricsSnapshot m;
    m.max_server_connections = std::numeric_limits<double>::infinity();
    m.server_connections_tls = std::numeric_limits<double>::quiet_NaN();
    m.client_connections_tls = 0.125;
    m.queries_total = 12345678901234.0;
    const std::string text = render_prometheus(m);
    EXPECT_NE(text.find("\npgmux_max_server_connections +Inf\n"), std::string::npos);
    EXPECT_NE(text.find("\npgmux_server_connections_tls NaN\n"), std::string::npos);
    EXPECT_NE(text.find("\npgmux_client_connections_tls 0.125\n"), std::string::npos);
    EXPECT_NE(text.find("\npgmux_queries_total 12345678901234\n"), std::string::npos);
}

TEST(PrometheusRender, HistogramIsCumulativeWithSumAndCount) {
    MetricsSnapshot m;
    m.borrow_wait_seconds = Histogram({0.001, 0.01, 0.1});
    m.borrow_wait_seconds.observe(0.0005);
    m.borrow_wait_seconds.observe(0.001);  // on the bound: le is inclusive
    m.borrow_wait_seconds.observe(0.05);
    m.borrow_wait_seconds.observe(3);
    const std::string text = render_prometheus(m);
    EXPECT_EQ(lines_of(text, "pgmux_borrow_wait_seconds"),
              (std::vector<std::string>{"pgmux_borrow_wait_seconds_bucket{le=\"0.001\"} 2",
                                        "pgmux_borrow_wait_seconds_bucket{le=\"0.01\"} 2",
                                        "pgmux_borrow_wait_seconds_bucket{le=\"0.1\"} 3",
                                        "pgmux_borrow_wait_seconds_bucket{le=\"+Inf\"} 4",
                                        "pgmux_borrow_wait_seconds_sum 3.0515",
                                        "pgmux_borrow_wait_seconds_count 4"}));
}

TEST(PrometheusRender, HelpIsEscapedAndStartsLines) {
    const std::string text = render_prometheus(MetricsSnapshot{});
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        ASSERT_FALSE(line.empty());
        EXPECT_TRUE(line.starts_with("# HELP pgmux_") || line.starts_with("# TYPE pgmux_") ||
                    line.starts_with("pgmux_"))
            << line;
    }
    EXPECT_TRUE(text.ends_with("\n"));
}

TEST(Histogram, DefaultBucketsCoverMicrosecondsToSeconds) {
    Histogram h;
    EXPECT_EQ(h.upper_bounds().size(), std::size(kDefaultLatencyBuckets));
    EXPECT_EQ(h.bucket_counts().size(), h.upper_bounds().size() + 1);
    h.observe(std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(h.count(), 0u);
    h.observe(100);
    EXPECT_EQ(h.bucket_counts().back(), 1u);
}

TEST(Histogram, RejectsBadBounds) {
    EXPECT_THROW(Histogram({0.1, 0.1}), std::invalid_argument);
    EXPECT_THROW(Histogram({0.2, 0.1}), std::invalid_argument);
    EXPECT_THROW(Histogram({std::numeric_limits<double>::infinity()}), std::invalid_argument);
    EXPECT_THROW((void)Histogram::from_buckets({1.0}, {1}, 0), std::invalid_argument);
}

TEST(Histogram, MergeAndFromBuckets) {
    Histogram a({1, 2});
    a.observe(0.5);
    const Histogram b = Histogram::from_buckets({1, 2}, {1, 2, 3}, 10);
    a.merge(b);
    EXPECT_EQ(a.count(), 7u);
    EXPECT_EQ(a.sum(), 10.5);
    EXPECT_EQ(std::vector<std::uint64_t>(a.bucket_counts().begin(), a.bucket_counts().end()),
              (std::vector<std::uint64_t>{2, 2, 3}));
    EXPECT_THROW(a.merge(Histogram({1, 3})), std::invalid_argument);
}

TEST(PoolMetrics, DerivedFromPoolSnapshots) {
    PoolSnapshot pool;
    pool.database = "app";
    pool.user = "alice";
    pool.pool_size = 2;
    pool.paused = true;
    pool.clients_waiting = 3;
    pool.servers_pinned = 1;
    MetricsSnapshot m;
    m.pool_size.set({"stale", "entry"}, 9);
    const PoolSnapshot pools[] = {pool};
    add_pool_metrics(m, pools);
    EXPECT_EQ(m.pool_size.series().size(), 1u);
    EXPECT_EQ(m.pool_size.get({"app", "alice"}), 2);
    EXPECT_EQ(m.pool_paused.get({"app", "alice"}), 1);
    EXPECT_EQ(m.pool_clients.get({"app", "alice", "waiting"}), 3);
    EXPECT_EQ(m.pool_servers.get({"app", "alice", "pinned"}), 1);
    EXPECT_EQ(m.pool_servers.series().size(), 4u);
}

}  // namespace
}  // namespace pgmux::admin
