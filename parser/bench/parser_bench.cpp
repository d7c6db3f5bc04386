// Micro benchmark for the classification path: prefilter ns/statement, classification on a
// cache hit and on a miss (full libpg_query parse). Prints one line per figure; never fails.

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "pgmux/parser/classifier.hpp"
#include "pgmux/parser/prefilter.hpp"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double ns_per_op(std::size_t iterations, F&& f) {
    const auto start = Clock::now();
    for (std::size_t i = 0; i < iterations; ++i) f(i);
    const auto elapsed = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    return elapsed / static_cast<double>(iterations);
}

std::size_t g_sink = 0;

// Keeps the optimiser from dropping the measured work.
void consume(std::size_t v) {
    g_sink += v;
    asm volatile("" : : "r"(g_sink) : "memory");
}

}  // namespace

int main() {
    using namespace pgmux::parser;
    const std::vector<std::string> ordinary = {
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
        "CURRENT_TIMESTAMP)",
        "SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.email "
        "= 'someone@example.com' AND o.created_at > now() - interval '7 days' ORDER BY o.total "
        "DESC LIMIT 20",
    };
    const std::vector<std::string> candidates = {
        "SET search_path TO app, public",
        "SELECT pg_catalog.set_config('search_path', '', false)",
        "BEGIN",
        "SELECT pg_advisory_lock(42)",
    };

    constexpr std::size_t kPrefilterIterations = 2'000'000;
    for (const std::string& sql : ordinary) {
        double ns = ns_per_op(kPrefilterIterations,
                              [&](std::size_t) { consume(may_affect_session_state(sql) ? 1 : 0); });
        std::printf("prefilter (ordinary, %zu bytes): %.1f ns/statement\n", sql.size(), ns);
    }
    for (const std::string& sql : candidates) {
        double ns = ns_per_op(kPrefilterIterations,
                              [&](std::size_t) { consume(may_affect_session_state(sql) ? 1 : 0); });
        std::printf("prefilter (candidate \"%s\"): %.1f ns/statement\n", sql.c_str(), ns);
    }

    Classifier classifier(4096);
    constexpr std::size_t kHitIterations = 1'000'000;
    for (const std::string& sql : candidates) {
        (void)classifier.classify(sql);
        double ns = ns_per_op(kHitIterations, [&](std::size_t) {
            consume(classifier.classify(sql)->statements.size());
        });
        std::printf("classify cache hit (\"%s\"): %.1f ns\n", sql.c_str(), ns);
    }

    constexpr std::size_t kMissIterations = 20'000;
    for (const std::string& sql : candidates) {
        double ns = ns_per_op(kMissIterations, [&](std::size_t) {
            consume(classify_uncached(sql).statements.size());
        });
        std::printf("classify miss (\"%s\"): %.2f us\n", sql.c_str(), ns / 1000.0);
    }
    // A miss through the cache: distinct texts, so every call parses.
    Classifier cold(1024);
    double ns = ns_per_op(kMissIterations, [&](std::size_t i) {
        consume(cold.classify("SET application_name = 'app" + std::to_string(i) + "'")
                    ->statements.size());
    });
    std::printf("classify miss through the LRU cache (distinct SET texts): %.2f us\n", ns / 1000.0);
    return g_sink == 0xFFFFFFFF ? 1 : 0;
}
