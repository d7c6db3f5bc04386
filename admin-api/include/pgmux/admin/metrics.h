// Prometheus metrics of pgmux. Every metric is declared exactly once, in
// PGMUX_ADMIN_METRICS below (the Envoy habit): the snapshot struct's fields,
// the definition table and the renderer are all expanded from that list, so a
// metric cannot exist in one place and be missing in another.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "pgmux/admin/snapshots.h"

namespace pgmux::admin {

// COUNTER(field, "label,names", help) / GAUGE(...) / HISTOGRAM(field, help).
// The metric name is "pgmux_" + field. An empty label list makes the field a
// plain double; a non-empty one makes it LabeledValues. Label lists are
// comma-separated without spaces. Counter names must end in _total.
// Metrics marked "(filled by admin-api)" come from ControlPlane::pools(); the
// proxy leaves them empty.
// clang-format off
#define PGMUX_ADMIN_METRICS(COUNTER, GAUGE, HISTOGRAM)                                            \
    GAUGE(client_connections, "state",                                                            \
          "Client connections by state (login, idle, waiting, active).")                          \
    GAUGE(client_connections_tls, "", "Client connections using TLS.")                            \
    COUNTER(client_connections_received_total, "", "Client connections accepted.")                \
    COUNTER(client_logins_total, "", "Client connections that completed startup and authentication.") \
    COUNTER(client_login_failures_total, "", "Client connections refused at startup or authentication.") \
    COUNTER(disconnects_total, "reason", "Client connections closed, by reason.")                 \
    GAUGE(server_connections, "state",                                                            \
          "Server connections by state (connecting, idle, active, pinned, resetting).")           \
    GAUGE(server_connections_tls, "", "Server connections using TLS.")                            \
    GAUGE(server_connections_in_transaction, "", "Server connections inside a transaction block.") \
    GAUGE(max_server_connections, "", "Server connections allowed in total (the global cap).")    \
    COUNTER(server_connect_attempts_total, "", "Server connections pgmux tried to open.")         \
    COUNTER(server_connect_tls_attempts_total, "", "Server connections pgmux tried to open with TLS.") \
    COUNTER(server_connects_total, "", "Server connections opened and authenticated.")            \
    COUNTER(server_connect_errors_total, "", "Server connections that failed to open or authenticate.") \
    COUNTER(pins_total, "reason", "Pins started, by reason.")                                     \
    COUNTER(unpins_total, "reason", "Pins ended, by reason.")                                     \
    GAUGE(pinned_clients, "reason", "Clients pinned now, by reason (a client can hold several).") \
    COUNTER(pinned_seconds_total, "reason", "Seconds clients spent pinned, by reason.")           \
    COUNTER(pin_rejections_total, "reason", "Statements refused because the pool has on_pin=reject.") \
    COUNTER(unparsed_statements_total, "", "Statements the parser could not classify.")           \
    HISTOGRAM(borrow_wait_seconds, "Time a client waited to get a server connection.")            \
    COUNTER(transactions_total, "", "Transactions completed (explicit blocks and autocommit statements).") \
    COUNTER(queries_total, "", "Queries received from clients (a multi-statement Query counts once, so does each extended-protocol Execute).") \
    COUNTER(queries_tls_total, "", "Queries received from clients connected with TLS (counted like queries_total).")           \
    HISTOGRAM(query_duration_seconds,                                                             \
              "Server response latency: request (Query, Sync) forwarded to a server until its ReadyForQuery.") \
    HISTOGRAM(client_query_duration_seconds,                                                      \
              "Client-seen latency: request received from a client until its ReadyForQuery is sent back (includes the borrow wait).") \
    COUNTER(replays_total, "", "Session state replays sent to a server before a client's transaction.") \
    COUNTER(set_replayed_total, "", "SET statements sent as part of replays.")                    \
    COUNTER(sequence_state_risk_total, "", "Transactions reading currval()/lastval() that could not get the server holding the client's sequence state (the value may be another session's).") \
    COUNTER(reprepares_total, "", "Prepared statements parsed again on another server.")          \
    COUNTER(parses_saved_total, "", "Parse messages not sent because the server had the statement.") \
    COUNTER(client_parses_total, "", "Parse messages (named or unnamed) and SQL PREPAREs received from clients.") \
    COUNTER(server_parses_total, "", "Named statements pgmux prepared on servers (Parse, PREPARE).") \
    COUNTER(plan_invalidations_total, "", "Statements a server found invalidated (cached plan must not change result type); prepared again.") \
    COUNTER(plan_invalidation_retries_total, "", "Requests pgmux ran again transparently after a plan invalidation.") \
    COUNTER(prepared_statement_cache_hits_total, "", "Server prepared-statement cache hits.")      \
    COUNTER(prepared_statement_cache_misses_total, "", "Server prepared-statement cache misses.")  \
    COUNTER(prepared_statement_cache_evictions_total, "", "Server prepared-statement cache evictions.") \
    GAUGE(pool_size, "database,user", "Configured pool size (filled by admin-api).")              \
    GAUGE(pool_paused, "database,user", "1 when the pool is paused (filled by admin-api).")       \
    GAUGE(pool_clients, "database,user,state", "Clients per pool and state (filled by admin-api).") \
    GAUGE(pool_servers, "database,user,state", "Server connections per pool and state (filled by admin-api).")
// clang-format on

enum class MetricType { kCounter, kGauge, kHistogram };

[[nodiscard]] std::string_view to_string(MetricType type);

struct MetricDefinition {
    std::string_view name;  // full name, "pgmux_..."
    MetricType type;
    std::string_view labels;  // comma-separated label names, empty for none
    std::string_view help;
};

// Series of one labelled metric, keyed by label values in the order of the
// metric's label names. Ordered so the exposition is deterministic.
class LabeledValues {
  public:
    using Series = std::map<std::vector<std::string>, double>;

    // Adds to the series (created at 0): lets several workers contribute.
    void add(std::vector<std::string> label_values, double value);
    void set(std::vector<std::string> label_values, double value);
    [[nodiscard]] double get(const std::vector<std::string>& label_values) const;
    [[nodiscard]] const Series& series() const { return series_; }
    [[nodiscard]] bool empty() const { return series_.empty(); }

  private:
    Series series_;
};

// Upper bounds in seconds, from 100 us to 10 s: the proxy's own overhead is
// tens of microseconds, borrow waits and queries can take seconds.
inline constexpr double kDefaultLatencyBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                    0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                    1,      2.5,     5,      10};

// A histogram value with its invariants enforced: bounds finite and strictly
// increasing, one count per bucket plus the +Inf bucket. Not thread-safe:
// workers keep their own and the control plane merges them.
class Histogram {
  public:
    Histogram();  // kDefaultLatencyBuckets
    // Throws std::invalid_argument on bad bounds.
    explicit Histogram(std::vector<double> upper_bounds);
    // From counters kept elsewhere; bucket_counts are per bucket (not
    // cumulative) and have upper_bounds.size() + 1 entries (last is +Inf).
    // Throws std::invalid_argument when they do not fit.
    [[nodiscard]] static Histogram from_buckets(std::vector<double> upper_bounds,
                                                std::vector<std::uint64_t> bucket_counts,
                                                double sum);

    void observe(double value);
    // Throws std::invalid_argument when the bounds differ.
    void merge(const Histogram& other);

    [[nodiscard]] std::span<const double> upper_bounds() const { return upper_bounds_; }
    [[nodiscard]] std::span<const std::uint64_t> bucket_counts() const { return bucket_counts_; }
    [[nodiscard]] double sum() const { return sum_; }
    [[nodiscard]] std::uint64_t count() const { return count_; }

  private:
    std::vector<double> upper_bounds_;
    std::vector<std::uint64_t> bucket_counts_;
    double sum_ = 0;
    std::uint64_t count_ = 0;
};

namespace detail {
template <bool kScalar>
using MetricField = std::conditional_t<kScalar, double, LabeledValues>;
}  // namespace detail

// What the proxy fills for GET /metrics (ControlPlane::metrics()). Field
// names are the metric names without the "pgmux_" prefix.
struct MetricsSnapshot {
#define PGMUX_ADMIN_SCALAR_FIELD(field, labels, help) \
    detail::MetricField<std::string_view(labels).empty()> field{};
#define PGMUX_ADMIN_HISTOGRAM_FIELD(field, help) Histogram field{};
    PGMUX_ADMIN_METRICS(PGMUX_ADMIN_SCALAR_FIELD, PGMUX_ADMIN_SCALAR_FIELD,
                        PGMUX_ADMIN_HISTOGRAM_FIELD)
#undef PGMUX_ADMIN_SCALAR_FIELD
#undef PGMUX_ADMIN_HISTOGRAM_FIELD
};

// Every metric, in declaration order (for docs checks and tooling).
[[nodiscard]] std::span<const MetricDefinition> metric_definitions();

// Sets the pool_* gauges from the pools (replacing what was there).
void add_pool_metrics(MetricsSnapshot& metrics, std::span<const PoolSnapshot> pools);

// Prometheus text exposition format 0.0.4: HELP and TYPE for every metric,
// escaped label values, cumulative histogram buckets with _sum and _count.
[[nodiscard]] std::string render_prometheus(const MetricsSnapshot& metrics);

}  // namespace pgmux::admin
