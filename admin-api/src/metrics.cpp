// The metric definition table, the value types and the pool gauges. The
// text rendering lives in prometheus.cpp.
#include "pgmux/admin/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pgmux::admin {
namespace {

constexpr bool ends_with_total(std::string_view name) {
    return name.ends_with("_total");
}

#define PGMUX_ADMIN_COUNTER_DEF(field, labels, help) \
    MetricDefinition{"pgmux_" #field, MetricType::kCounter, labels, help},
#define PGMUX_ADMIN_GAUGE_DEF(field, labels, help) \
    MetricDefinition{"pgmux_" #field, MetricType::kGauge, labels, help},
#define PGMUX_ADMIN_HISTOGRAM_DEF(field, help) \
    MetricDefinition{"pgmux_" #field, MetricType::kHistogram, "", help},
constexpr MetricDefinition kDefinitions[] = {
    PGMUX_ADMIN_METRICS(PGMUX_ADMIN_COUNTER_DEF, PGMUX_ADMIN_GAUGE_DEF, PGMUX_ADMIN_HISTOGRAM_DEF)};
#undef PGMUX_ADMIN_COUNTER_DEF
#undef PGMUX_ADMIN_GAUGE_DEF
#undef PGMUX_ADMIN_HISTOGRAM_DEF

// Prometheus convention, checked when the list is compiled rather than by
// promtool at run time.
#define PGMUX_ADMIN_CHECK_COUNTER(field, labels, help) \
    static_assert(ends_with_total(#field), "counter names end in _total: " #field);
#define PGMUX_ADMIN_CHECK_OTHER(field, ...) \
    static_assert(!ends_with_total(#field), "only counters end in _total: " #field);
PGMUX_ADMIN_METRICS(PGMUX_ADMIN_CHECK_COUNTER, PGMUX_ADMIN_CHECK_OTHER, PGMUX_ADMIN_CHECK_OTHER)
#undef PGMUX_ADMIN_CHECK_COUNTER
#undef PGMUX_ADMIN_CHECK_OTHER

void check_bounds(const std::vector<double>& bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must be finite");
        }
        if (i > 0 && !(bounds[i - 1] < bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
        }
    }
}

}  // namespace

std::string_view to_string(MetricType type) {
    switch (type) {
        case MetricType::kCounter:
            return "counter";
        case MetricType::kGauge:
            return "gauge";
        case MetricType::kHistogram:
            return "histogram";
    }
    return "untyped";
}

std::span<const MetricDefinition> metric_definitions() {
    return kDefinitions;
}

void LabeledValues::add(std::vector<std::string> label_values, double value) {
    series_[std::move(label_values)] += value;
}

void LabeledValues::set(std::vector<std::string> label_values, double value) {
    series_[std::move(label_values)] = value;
}

double LabeledValues::get(const std::vector<std::string>& label_values) const {
    auto it = series_.find(label_values);
    return it == series_.end() ? 0.0 : it->second;
}

Histogram::Histogram()
    : Histogram(std::vector<double>(std::begin(kDefaultLatencyBuckets),
                                    std::end(kDefaultLatencyBuckets))) {}

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
    check_bounds(upper_bounds_);
    bucket_counts_.assign(upper_bounds_.size() + 1, 0);
}

Histogram Histogram::from_buckets(std::vector<double> upper_bounds,
                                  std::vector<std::uint64_t> bucket_counts, double sum) {
    Histogram histogram(std::move(upper_bounds));
    if (bucket_counts.size() != histogram.bucket_counts_.size()) {
        throw std::invalid_argument("histogram needs one count per bound plus one for +Inf");
    }
    histogram.bucket_counts_ = std::move(bucket_counts);
    for (auto count : histogram.bucket_counts_) histogram.count_ += count;
    histogram.sum_ = sum;
    return histogram;
}

void Histogram::observe(double value) {
    if (std::isnan(value)) return;  // would land in an arbitrary bucket
    // Buckets are "less than or equal": the first bound >= value.
    auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
    ++bucket_counts_[static_cast<std::size_t>(it - upper_bounds_.begin())];
    sum_ += value;
    ++count_;
}

void Histogram::merge(const Histogram& other) {
    if (other.upper_bounds_ != upper_bounds_) {
        throw std::invalid_argument("cannot merge histograms with different buckets");
    }
    for (std::size_t i = 0; i < bucket_counts_.size(); ++i) {
        bucket_counts_[i] += other.bucket_counts_[i];
    }
    sum_ += other.sum_;
    count_ += other.count_;
}

void add_pool_metrics(MetricsSnapshot& metrics, std::span<const PoolSnapshot> pools) {
    metrics.pool_size = {};
    metrics.pool_paused = {};
    metrics.pool_clients = {};
    metrics.pool_servers = {};
    for (const auto& pool : pools) {
        const auto& db = pool.database;
        const auto& user = pool.user;
        metrics.pool_size.add({db, user}, pool.pool_size);
        metrics.pool_paused.add({db, user}, pool.paused ? 1 : 0);
        metrics.pool_clients.add({db, user, "active"}, pool.clients_active);
        metrics.pool_clients.add({db, user, "waiting"}, pool.clients_waiting);
        metrics.pool_clients.add({db, user, "idle"}, pool.clients_idle);
        metrics.pool_servers.add({db, user, "active"}, pool.servers_active);
        metrics.pool_servers.add({db, user, "idle"}, pool.servers_idle);
        metrics.pool_servers.add({db, user, "pinned"}, pool.servers_pinned);
        metrics.pool_servers.add({db, user, "connecting"}, pool.servers_connecting);
    }
}

}  // namespace pgmux::admin
