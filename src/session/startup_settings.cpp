#include "session/startup_settings.h"

#include <cctype>

namespace pgmux::session {
namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Splits libpq's `options` string the way the server does: whitespace
// separates words, a backslash escapes the next character.
std::vector<std::string> split_options(const std::string& options) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    for (std::size_t i = 0; i < options.size(); ++i) {
        const char c = options[i];
        if (c == '\\' && i + 1 < options.size()) {
            cur.push_back(options[++i]);
            in_word = true;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_word) words.push_back(std::move(cur));
            cur.clear();
            in_word = false;
        } else {
            cur.push_back(c);
            in_word = true;
        }
    }
    if (in_word) words.push_back(std::move(cur));
    return words;
}

}  // namespace

std::pair<StartupSettings, std::string> StartupSettings::from_startup(
    const std::vector<std::pair<std::string, std::string>>& params) {
    StartupSettings s;
    for (const auto& [name, value] : params) {
        if (name == "user" || name == "database" || name == "replication" ||
            name.rfind("_pq_.", 0) == 0) {
            continue;
        }
        if (name != "options") {
            s.values[lower(name)] = value;
            continue;
        }
        const auto words = split_options(value);
        for (std::size_t i = 0; i < words.size(); ++i) {
            std::string pair;
            if (words[i] == "-c" && i + 1 < words.size()) {
                pair = words[++i];
            } else if (words[i].rfind("-c", 0) == 0 && words[i].size() > 2) {
                pair = words[i].substr(2);
            } else if (words[i].rfind("--", 0) == 0) {
                pair = words[i].substr(2);
            } else {
                return {s, "invalid command-line argument for server process: " + words[i]};
            }
            const auto eq = pair.find('=');
            if (eq == std::string::npos) {
                return {s, "invalid command-line argument for server process: " + pair};
            }
            std::string key = lower(pair.substr(0, eq));
            for (auto& c : key) {
                if (c == '-') c = '_';
            }
            s.values[key] = pair.substr(eq + 1);
        }
    }
    return {s, ""};
}

std::string quote_literal(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('\'');
    for (char c : s) {
        if (c == '\'') out.push_back('\'');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

std::string quote_identifier(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string replay_sql(const AppliedSettings& wanted, const AppliedSettings& server) {
    std::string sets;
    std::string resets;
    for (const auto& [name, value] : wanted) {
        auto it = server.find(name);
        if (it != server.end() && it->second == value) continue;
        sets += sets.empty() ? "SELECT " : ", ";
        sets += "pg_catalog.set_config(" + quote_literal(name) + ", " + quote_literal(value) +
                ", false)";
    }
    for (const auto& [name, value] : server) {
        if (wanted.contains(name)) continue;
        resets += "RESET " + quote_identifier(name) + ";";
    }
    if (sets.empty()) return resets;
    return resets + sets;
}

}  // namespace pgmux::session
