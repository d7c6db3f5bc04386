// Prometheus text exposition format, version 0.0.4.
#include <charconv>
#include <cmath>
#include <cstdint>

#include "pgmux/admin/metrics.h"
#include "text_util.h"

namespace pgmux::admin {
namespace {

void append_number(std::string& out, double value) {
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "+Inf" : "-Inf";
    } else if (value == std::trunc(value) && std::fabs(value) < 1e15) {
        out += std::to_string(static_cast<std::int64_t>(value));
    } else {
        char buffer[32];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
        out.append(buffer, end);
    }
}

// HELP text escapes backslash and newline.
void append_help(std::string& out, std::string_view help) {
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

// Label values escape backslash, double quote and newline, and must be UTF-8.
void append_label_value(std::string& out, std::string_view value) {
    std::string valid;
    detail::append_utf8(valid, value);
    for (char c : valid) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

void append_header(std::string& out, const MetricDefinition& def) {
    out += "# HELP ";
    out += def.name;
    out += ' ';
    append_help(out, def.help);
    out += "\n# TYPE ";
    out += def.name;
    out += ' ';
    out += to_string(def.type);
    out += '\n';
}

void render_samples(std::string& out, const MetricDefinition& def, double value) {
    out += def.name;
    out += ' ';
    append_number(out, value);
    out += '\n';
}

void render_samples(std::string& out, const MetricDefinition& def, const LabeledValues& values) {
    const auto names = detail::split(def.labels, ',');
    for (const auto& [label_values, value] : values.series()) {
        if (label_values.size() != names.size()) {
            // A programming error in the proxy; a comment keeps the rest of
            // the exposition valid and leaves a trace for whoever looks.
            out += "# pgmux: dropped a ";
            out += def.name;
            out += " series with " + std::to_string(label_values.size()) +
                   " label values, expected " + std::to_string(names.size()) + "\n";
            continue;
        }
        out += def.name;
        out += '{';
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i > 0) out += ',';
            out += names[i];
            out += "=\"";
            append_label_value(out, label_values[i]);
            out += '"';
        }
        out += "} ";
        append_number(out, value);
        out += '\n';
    }
}

void render_samples(std::string& out, const MetricDefinition& def, const Histogram& histogram) {
    const auto bounds = histogram.upper_bounds();
    const auto counts = histogram.bucket_counts();
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += counts[i];
        out += def.name;
        out += "_bucket{le=\"";
        if (i < bounds.size()) {
            append_number(out, bounds[i]);
        } else {
            out += "+Inf";
        }
        out += "\"} ";
        out += std::to_string(cumulative);
        out += '\n';
    }
    out += def.name;
    out += "_sum ";
    append_number(out, histogram.sum());
    out += '\n';
    out += def.name;
    out += "_count ";
    out += std::to_string(histogram.count());
    out += '\n';
}

}  // namespace

std::string render_prometheus(const MetricsSnapshot& metrics) {
    std::string out;
    out.reserve(16 * 1024);
    const auto definitions = metric_definitions();
    std::size_t index = 0;
    // Expands in the same order as the definition table, so definitions[i]
    // belongs to the i-th field.
#define PGMUX_ADMIN_RENDER(field, ...)                      \
    append_header(out, definitions[index]);                 \
    render_samples(out, definitions[index], metrics.field); \
    ++index;
    PGMUX_ADMIN_METRICS(PGMUX_ADMIN_RENDER, PGMUX_ADMIN_RENDER, PGMUX_ADMIN_RENDER)
#undef PGMUX_ADMIN_RENDER
    return out;
}

}  // namespace pgmux::admin
