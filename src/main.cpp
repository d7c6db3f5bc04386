// pgmux: a PostgreSQL connection proxy with transaction pooling that keeps
// session state correct. See README.md and docs/.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/log.h"
#include "runtime/proxy.h"

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    std::optional<pgmux::config::Config> config;
    try {
        config = pgmux::config::parse_command_line(argc, argv);
    } catch (const pgmux::config::ConfigError& e) {
        std::fprintf(stderr, "pgmux: %s\n", e.what());
        return 2;
    }
    if (!config) return 0;  // --help
    pgmux::log::set_level(static_cast<pgmux::log::Level>(config->log_level));
    try {
        pgmux::runtime::Proxy proxy(std::move(*config),
                                    std::vector<std::string>(argv + 1, argv + argc));
        return proxy.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pgmux: %s\n", e.what());
        return 1;
    }
}
