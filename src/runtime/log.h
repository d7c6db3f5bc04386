// Minimal line logger: each line is built in memory and written with one
// fwrite, so lines from different threads never interleave. Callers must not
// pass secrets (passwords, hashes, SCRAM material) to it.
#pragma once

#include <atomic>
#include <sstream>
#include <string_view>

namespace pgmux::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;
void write(Level level, std::string_view line) noexcept;

class Line {
  public:
    explicit Line(Level level) : level_(level) {}
    ~Line() { write(level_, stream_.str()); }
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;
    template <typename T>
    Line& operator<<(const T& v) {
        stream_ << v;
        return *this;
    }

  private:
    Level level_;
    std::ostringstream stream_;
};

}  // namespace pgmux::log

#define PGMUX_LOG(level)                                      \
    if (!::pgmux::log::enabled(::pgmux::log::Level::level)) { \
    } else                                                    \
        ::pgmux::log::Line(::pgmux::log::Level::level)

#define LOG_DEBUG PGMUX_LOG(kDebug)
#define LOG_INFO PGMUX_LOG(kInfo)
#define LOG_WARN PGMUX_LOG(kWarn)
#define LOG_ERROR PGMUX_LOG(kError)
