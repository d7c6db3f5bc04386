#include "pgmux/pinning/startup.hpp"

#include <array>

#include "pgmux/parser/sql_quote.hpp"

namespace pgmux::pinning {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// PGC_BACKEND / PGC_SU_BACKEND parameters of PostgreSQL 15: settable only at backend start.
constexpr std::array<std::string_view, 6> kBackendOnly{
    "ignore_system_indexes", "post_auth_delay",       "log_connections",
    "log_disconnections",    "jit_debugging_support", "jit_profiling_support"};

bool is_backend_only(std::string_view name) {
    for (auto n : kBackendOnly) {
        if (n == name) return true;
    }
    return false;
}

// Switches of PostgreSQL's process_postgres_switches that take an argument.
bool takes_argument(char flag) {
    return std::string_view("BcCDdfhkNprStvW-").find(flag) != std::string_view::npos;
}

void add_setting(StartupBaseline& out, std::string name, std::string_view value) {
    name = parser::ascii_lower(name);
    if (is_backend_only(name)) {
        out.backend_only.emplace_back(std::move(name), std::string(value));
        return;
    }
    out.settings.insert_or_assign(name, value_from_string(name, value));
}

// "name=value" as ParseLongOption splits it ('-' in the name becomes '_').
bool add_long_option(StartupBaseline& out, std::string_view arg) {
    std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos) return false;
    std::string name(arg.substr(0, eq));
    for (char& c : name) {
        if (c == '-') c = '_';
    }
    add_setting(out, std::move(name), arg.substr(eq + 1));
    return true;
}

void parse_options(StartupBaseline& out, std::string_view options) {
    std::vector<std::string> words = split_options(options);
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.size() < 2 || w[0] != '-') {
            out.unsupported_options.push_back(w);
            continue;
        }
        const char flag = w[1];
        std::string arg;
        bool has_arg = false;
        if (takes_argument(flag)) {
            if (w.size() > 2) {
                arg = w.substr(2);
                has_arg = true;
            } else if (i + 1 < words.size()) {
                arg = words[++i];
                has_arg = true;
            }
        }
        if ((flag == 'c' || flag == '-') && has_arg && add_long_option(out, arg)) continue;
        out.unsupported_options.push_back(has_arg && w.size() == 2 ? w + " " + arg : w);
    }
}

}  // namespace

bool survives_reset_all(std::string_view name) noexcept {
    return name == "role" || name == "session_authorization" || name == "seed" ||
           name == "transaction_isolation" || name == "transaction_read_only" ||
           name == "transaction_deferrable" || name == "is_superuser";
}

std::vector<std::string> split_options(std::string_view options) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < options.size()) {
        while (i < options.size() && is_space(options[i])) ++i;
        if (i >= options.size()) break;
        std::string word;
        bool escaped = false;
        for (; i < options.size(); ++i) {
            char c = options[i];
            if (is_space(c) && !escaped) break;
            if (!escaped && c == '\\') {
                escaped = true;
            } else {
                escaped = false;
                word.push_back(c);
            }
        }
        words.push_back(std::move(word));
    }
    return words;
}

SettingValue value_from_string(std::string_view name, std::string_view value) {
    SettingValue v;
    v.value = std::string(value);
    if (name == "role") {
        v.replay_sql = "SET ROLE " + parser::quote_literal(value);
    } else if (name == "session_authorization") {
        v.replay_sql = "SET SESSION AUTHORIZATION " + parser::quote_literal(value);
    } else {
        v.replay_sql = parser::set_config_sql(name, value);
    }
    return v;
}

StartupBaseline parse_startup_parameters(const StartupParameters& params) {
    StartupBaseline out;
    // PostgreSQL applies the options switches first, then the other parameters.
    for (const auto& [name, value] : params) {
        if (parser::ascii_lower(name) == "options") parse_options(out, value);
    }
    for (const auto& [raw_name, value] : params) {
        std::string name = parser::ascii_lower(raw_name);
        if (name == "options" || name == "user" || name == "database" || name == "replication" ||
            name.rfind("_pq_.", 0) == 0) {
            continue;
        }
        add_setting(out, std::move(name), value);
    }
    return out;
}

}  // namespace pgmux::pinning
