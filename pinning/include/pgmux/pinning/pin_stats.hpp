#pragma once
// Pin statistics as plain values (no I/O, no clock of its own): one PinStats per worker,
// merged by the admin API; one ClientPins per client, turning SessionState's pin
// transitions into timed pins, log events and counter updates.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pgmux/pinning/pin_reason.hpp"
#include "pgmux/pinning/session_state.hpp"

namespace pgmux::pinning {

struct ReasonStats {
    std::uint64_t started = 0;
    std::uint64_t ended = 0;
    double seconds_pinned = 0;  // summed over ended pins
    std::int64_t pinned_now = 0;
    std::uint64_t warned = 0;    // on_pin = warn let a pinning statement through
    std::uint64_t rejected = 0;  // on_pin = reject refused one
};

struct StatementStat {
    std::string normalized;
    PinReason reason = PinReason::unknown_state_change;
    std::uint64_t count = 0;
};

// Tracked-state counters that are not pins.
struct ReplayStats {
    std::uint64_t replays = 0;              // replay plans sent
    std::uint64_t statements_replayed = 0;  // SET/RESET statements in them
    std::uint64_t resets = 0;               // reset plans sent before handing a server over
    std::uint64_t verifications = 0;        // VerificationQuery runs
    std::uint64_t sequence_state_risk = 0;  // currval/lastval run away from the nextval server
};

class PinStats {
  public:
    // top_capacity: how many distinct normalised statements are remembered (space-saving:
    // when full, the least counted one is replaced and its count inherited).
    explicit PinStats(std::size_t top_capacity = 100);

    void pin_started(PinReason reason, std::string_view normalized_statement);
    void pin_ended(PinReason reason, double seconds);
    void client_pinned(bool now_pinned) noexcept { clients_pinned_now_ += now_pinned ? 1 : -1; }
    void warned(PinReason reason) noexcept { at(reason).warned++; }
    void rejected(PinReason reason) noexcept { at(reason).rejected++; }
    ReplayStats& replay() noexcept { return replay_; }

    [[nodiscard]] const ReasonStats& reason(PinReason r) const noexcept {
        return reasons_[static_cast<std::size_t>(r)];
    }
    [[nodiscard]] std::int64_t clients_pinned_now() const noexcept { return clients_pinned_now_; }
    [[nodiscard]] const ReplayStats& replay() const noexcept { return replay_; }
    // Most frequent first.
    [[nodiscard]] std::vector<StatementStat> top_statements(std::size_t limit) const;

    // Adds another worker's figures (for the admin API's totals).
    void merge(const PinStats& other);

  private:
    ReasonStats& at(PinReason r) noexcept { return reasons_[static_cast<std::size_t>(r)]; }
    void count_statement(std::string_view normalized, PinReason reason, std::uint64_t n);

    std::array<ReasonStats, kPinReasonCount> reasons_{};
    std::int64_t clients_pinned_now_ = 0;
    ReplayStats replay_;
    std::size_t top_capacity_;
    std::unordered_map<std::string, StatementStat> top_;
};

// One pin start or end, for the pin log line.
struct PinEvent {
    bool started = true;
    PinReason reason = PinReason::unknown_state_change;
    std::string normalized_statement;  // what caused it (libpg_query normalize)
    double seconds = 0;                // for ended pins: how long it lasted
};

class ClientPins {
  public:
    using Clock = std::chrono::steady_clock;

    // Applies SessionState::take_pin_transitions(): timestamps, statistics, log events.
    std::vector<PinEvent> update(const PinTransitions& transitions, Clock::time_point now,
                                 PinStats& stats);
    // The client is gone: ends every pin it held.
    std::vector<PinEvent> end_all(Clock::time_point now, PinStats& stats);

    [[nodiscard]] PinSet held() const noexcept { return held_; }
    [[nodiscard]] std::optional<Clock::time_point> since(PinReason r) const noexcept;
    [[nodiscard]] std::string_view cause(PinReason r) const noexcept { return causes_.get(r); }

  private:
    PinEvent end(PinReason r, Clock::time_point now, PinStats& stats);

    PinSet held_;
    std::array<Clock::time_point, kPinReasonCount> since_{};
    PinCauses causes_;
};

}  // namespace pgmux::pinning
