#include "runtime/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace pgmux::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

const char* name(Level l) {
    switch (l) {
        case Level::kDebug:
            return "DEBUG";
        case Level::kInfo:
            return "INFO";
        case Level::kWarn:
            return "WARN";
        case Level::kError:
            return "ERROR";
    }
    return "?";
}
}  // namespace

void set_level(Level level) noexcept {
    g_level.store(static_cast<int>(level));
}
bool enabled(Level level) noexcept {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view line) noexcept {
    using namespace std::chrono;
    const auto now = system_clock::now();
    const auto t = system_clock::to_time_t(now);
    const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    std::string out;
    out.reserve(line.size() + 48);
    out += stamp;
    out += name(level);
    out += ' ';
    out += line;
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace pgmux::log
